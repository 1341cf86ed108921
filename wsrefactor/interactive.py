"""``fix --interactive``: each applicable fix shown as a diff hunk with its rule and reason, then
yes / no / all / quit. The accepted fixes are identified by (path, code, line, column) and applied by
the normal fix run; accepted fixes that overlap are applied in later passes (``engine._Accepted``)."""

from __future__ import annotations

import sys
from dataclasses import replace

from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy
from wsrefactor.model import Finding
from wsrefactor.selection import Selection

PROMPT = "Apply this fix? [y]es / [n]o / [a]ll / [q]uit: "


def _text_of(path: str, cache: dict[str, str]) -> str:
    if path not in cache:
        from wsrefactor.source import read_source

        cache[path] = read_source(path).text
    return cache[path]


def _show(finding: Finding, n: int, total: int, texts: dict[str, str]) -> None:
    from wsrefactor.fixes import apply_edits, unified_diff
    from wsrefactor.reporters import display_path

    fix = finding.fix
    if fix is None:
        return
    path = display_path(finding.path)
    sys.stdout.write(
        f"\n[{n}/{total}] {path}:{finding.line}:{finding.column}: {finding.code} {finding.message}\n"
        f"fix ({fix.safety.value}): {fix.description}\n"
    )
    if fix.edits:
        text = _text_of(finding.path, texts)
        sys.stdout.write(unified_diff(text, apply_edits(text, fix.edits), path))


def _answer() -> str:
    try:
        return input(PROMPT).strip().lower()[:1] or "n"
    except EOFError:
        return "q"


def ask_each_fix(
    paths: list[str], config: Config, selection: Selection, policy: FixPolicy, jobs: int
) -> FixPolicy:
    from wsrefactor.runner import Job, execute

    preview = execute(paths, Job(config, selection, want_edits=True), jobs)
    candidates = [
        f for f in preview.findings if f.fix is not None and policy.allows_project(f.code, f.fix.safety)
    ]
    texts: dict[str, str] = {}
    accepted: set[tuple[str, str, int, int]] = set()
    answer = "y"
    for n, finding in enumerate(candidates, start=1):
        if answer != "a":
            _show(finding, n, len(candidates), texts)
            answer = _answer()
        if answer == "q":
            break
        if answer in ("y", "a"):
            accepted.add((finding.path, finding.code, finding.line, finding.column))
    return replace(policy, only=frozenset(accepted))


