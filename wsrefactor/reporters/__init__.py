"""Output formats. Each reporter turns sorted findings into text; paths are shown relative to the cwd."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from wsrefactor.model import Finding


def display_path(path: str) -> str:
    """Relative to the cwd when below it, else as given (absolute)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


Reporter = Callable[[list[Finding]], str]


def statistics_rows(findings: list[Finding]) -> list[dict[str, Any]]:
    """One row per rule, most frequent first: ``--statistics`` in text and JSON (ruff's fields
    ``code``, ``name``, ``count``, ``fixable``, ``fixable_count``, plus the safe/unsafe split)."""
    counts = Counter((f.code, f.name) for f in findings)
    fixes: Counter[tuple[str, str]] = Counter()
    for f in findings:
        if f.fix:
            fixes[(f.code, f.fix.safety.value)] += 1
    rows = []
    for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        safe, unsafe = fixes[(code, "safe")], fixes[(code, "unsafe")]
        rows.append({
            "code": code, "name": name, "count": n, "fixable": bool(safe or unsafe),
            "fixable_count": safe + unsafe, "safe_fixable": safe, "unsafe_fixable": unsafe,
        })
    return rows
