"""Helpers for the per-rule tests of SemanticRules: one file checked on the plain path and on the
edits path, and the libcst spy (a plain check must never parse libcst)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wsrefactor import lazy
from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection


def job(code: str, want_edits: bool = False, config: Config | None = None) -> Job:
    return Job(config or Config(), Selection((code,), (), tuple(load_rules(()))), want_edits=want_edits)


def write(tmp_path: Path, source: str, name: str = "case.py") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def key(findings) -> list[tuple]:
    return [
        (f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.stmt_line, f.context, f.fix is not None)
        for f in findings
    ]


def found_on_both_paths(code: str, path: Path, config: Config | None = None) -> list[tuple[int, str]]:
    """``(line, message)`` of ``code``'s findings on the plain path, after asserting the edits path
    reports them at the same spans (one decision; planning a fix may add to the message)."""
    plain = process_file(str(path), job(code, config=config))
    edits = process_file(str(path), job(code, want_edits=True, config=config))
    assert plain.internal_error is None and edits.internal_error is None
    assert [k[:5] for k in key(plain.findings)] == [k[:5] for k in key(edits.findings)]
    return [(f.line, f.message) for f in plain.findings]


def lines(code: str, path: Path, config: Config | None = None) -> list[int]:
    """Lines of ``code``'s findings on the plain path, after asserting the edits path agrees."""
    plain = process_file(str(path), job(code, config=config))
    edits = process_file(str(path), job(code, want_edits=True, config=config))
    assert plain.internal_error is None and edits.internal_error is None
    assert key(plain.findings) == key(edits.findings)
    for finding in edits.findings:
        assert finding.fix is None or finding.fix.edits, "a fixable finding carries its edits"
    return [f.line for f in plain.findings if f.code == code]


def no_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any libcst parse fail loudly. The tool reads libcst through ``wsrefactor.lazy``, which
    keeps libcst's names once imported, so the spy goes there (reading the attribute first imports
    libcst, so the patched name is the one that stays)."""

    def refuse(*args, **kwargs):
        raise AssertionError("libcst parsed during a plain check")

    monkeypatch.setattr(lazy.cst, "parse_module", refuse)
