"""WS302 long-function: a function longer than the limit, in lines (radon's span)."""

from __future__ import annotations

from typing import Any

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Invalid, Option, Valid
from wsrefactor.rules._extract import ExtractRule


class LongFunction(ExtractRule):
    """
    DOC
    """

    code = "WS302"
    name = "long-function"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "function is too long (more lines than the limit)"
    options = (Option("max-lines", int, 50, "Longest function allowed, in lines from `def` to its last line."),)
    metric = "lines"
    option_name = "max-lines"

    VALID: list[Any] = []
    INVALID: list[Any] = []

    def message(self, name: str, block: Any, limit: int) -> str:
        length = int(block.endline - block.lineno + 1)
        return f"function '{name}' is {length} lines long > {limit}"
