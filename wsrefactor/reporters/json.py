"""JSON output: a list of finding objects, the schema documented in the README.

Each object: ``code``, ``name``, ``message``, ``filename`` (relative to the cwd when below it),
``line``, ``column``, ``end_line``, ``end_column`` (1-based), ``severity`` (error/warning/info),
``category``, ``fix`` (null, or ``{"safety", "description", "edits": [{"start": {line, column},
"end": {line, column}, "content"}], "other_files": {path: [edits]}}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from wsrefactor.model import Finding
from wsrefactor.reporters import display_path, statistics_rows


def render(findings: list[Finding]) -> str:
    return json.dumps([f.to_json(display_path(f.path), display_path) for f in findings], indent=2) + "\n"


def render_statistics(findings: list[Finding]) -> str:
    """``--statistics --format json``: ``[{code, name, count, fixable, fixable_count,
    safe_fixable, unsafe_fixable}]``, most frequent first (ruff's shape, plus the safety split)."""
    return json.dumps(statistics_rows(findings), indent=2) + "\n"


def render_fix(
    remaining: list[Finding],
    fixed: Mapping[str, Mapping[str, int]],
    names: Mapping[str, str],
    written: Sequence[str],
) -> str:
    """``fix --format json``: ``{"fixed": [{filename, code, name, count}], "remaining": [finding],
    "written": [filename]}`` - what was applied per file and rule, and what is left."""
    data = {
        "fixed": [
            {"filename": display_path(path), "code": code, "name": names.get(code, ""), "count": n}
            for path, counts in fixed.items()
            for code, n in sorted(counts.items())
        ],
        "remaining": [f.to_json(display_path(f.path), display_path) for f in remaining],
        "written": [display_path(p) for p in written],
    }
    return json.dumps(data, indent=2) + "\n"
