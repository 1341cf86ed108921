"""WS301 complex-function: a function whose radon cyclomatic complexity is over the limit."""

from __future__ import annotations

from typing import Any

from radon.complexity import cc_rank

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Invalid, Option, Valid
from wsrefactor.rules._extract import ExtractRule


class ComplexFunction(ExtractRule):
    """
    DOC
    """

    code = "WS301"
    name = "complex-function"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "function is too complex (radon cyclomatic complexity over the limit)"
    options = (Option("max-cc", int, 10, "Highest radon cyclomatic complexity allowed."),)
    metric = "cc"
    option_name = "max-cc"

    VALID: list[Any] = []
    INVALID: list[Any] = []

    def message(self, name: str, block: Any, limit: int) -> str:
        cc = int(block.complexity)
        return f"function '{name}' has cyclomatic complexity {cc} (rank {cc_rank(cc)}) > {limit}"
