"""Helpers for multi-file cases: a small project on disk, checked by the runner as a user runs it
(``execute``: summaries of every file, then the per-file pass with each file's facts)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, execute
from wsrefactor.selection import Selection


def project(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> source, dedented) below ``root``."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return root


def findings(
    root: Path, code: str, paths: list[str] | None = None, scope: str = "paths", cache: bool = False
) -> list[tuple[str, int, str]]:
    """``(path relative to root, line, message)`` of ``code``'s findings on ``paths`` (default:
    the whole project)."""
    config = replace(Config(), root=str(root), cross_file_scope=scope)
    key = "test-key" if cache else None
    job = Job(config, Selection((code,), (), tuple(load_rules(()))), cache_key=key)
    targets = [str(root / p) for p in paths] if paths else [str(root)]
    run = execute(targets, job, jobs=1)
    assert not run.failed, run.messages
    return [(str(Path(f.path).relative_to(root)), f.line, f.message) for f in run.findings if f.code == code]


def line_of(source: str, text: str) -> int:
    """The 1-based line of ``source`` (dedented as ``project`` writes it) holding ``text``."""
    lines = textwrap.dedent(source).lstrip("\n").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)
