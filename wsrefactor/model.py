"""Plain, picklable records that cross process boundaries: findings, fixes as text edits.

CST objects never leave a worker; what leaves is what a report or a writer needs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FixSafety(str, enum.Enum):
    """How far a rule's fix may be trusted.

    ``safe`` keeps behaviour; ``unsafe`` changes it on purpose (a guard, a bound) and is applied
    only with ``--unsafe-fixes`` or when the rule is selected explicitly.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    NONE = "none"


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text between two 1-based (line, column) positions; columns count characters."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    content: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": {"line": self.start_line, "column": self.start_column},
            "end": {"line": self.end_line, "column": self.end_column},
            "content": self.content,
        }


@dataclass(frozen=True)
class FixInfo:
    """What a report says about a fix: its safety, a one-line description, and its text edits.

    ``edits`` may be empty when the run did not ask for them (text output needs only the safety).
    ``other_files`` holds edits to further files for cross-file fixes, keyed by path.
    """

    safety: FixSafety
    description: str
    edits: tuple[Edit, ...] = ()
    other_files: tuple[tuple[str, tuple[Edit, ...]], ...] = ()
    # False when the fix is offered but its edits were not planned (extract method and other lazy
    # fixes in JSON/SARIF/the dashboard without ``--fix-edits``): ``edits`` is empty for that reason.
    planned: bool = True

    def to_json(self, shown: Callable[[str], str] = str) -> dict[str, Any]:
        """``shown`` spells the other files' paths as the report spells ``filename``."""
        return {
            "safety": self.safety.value,
            "description": self.description,
            "edits": [e.to_json() for e in self.edits],
            "other_files": {shown(p): [e.to_json() for e in es] for p, es in self.other_files},
            "planned": self.planned,
        }


@dataclass(frozen=True)
class Finding:
    """One reported problem. Lines are 1-based, columns 1-based (in characters)."""

    code: str
    name: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: Severity = Severity.WARNING
    category: str = ""
    fix: FixInfo | None = None
    # First line of the logical line holding the finding: where a suppression comment may also sit.
    stmt_line: int = 0
    # Last line of the flagged statement (a whole ``def`` for function-level findings): the span
    # a fix may rewrite.
    stmt_end_line: int = 0
    # Normalised source of the flagged statement + enclosing function: a fingerprint that survives
    # lines inserted above (baseline, SARIF partialFingerprints).
    context: str = ""
    extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.column, self.code, self.message)

    def with_path(self, path: str) -> Finding:
        return replace(self, path=path)

    def to_json(self, display_path: str | None = None, shown: Callable[[str], str] = str) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "filename": display_path if display_path is not None else self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "severity": self.severity.value,
            "category": self.category,
            "fix": self.fix.to_json(shown) if self.fix else None,
        }


def count_fixable(findings: Iterable[Finding]) -> tuple[int, int]:
    """(safe, unsafe) fixable findings: the summary line, the statistics and the dashboard."""
    safe = sum(1 for f in findings if f.fix is not None and f.fix.safety is FixSafety.SAFE)
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.safety is FixSafety.UNSAFE)
    return safe, unsafe
