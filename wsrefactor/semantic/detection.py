"""A finding decided on the semantic model: where it is, what it says, whether a fix exists.

Both output paths build their findings from the same ``Detection`` — the plain check without
libcst, and the fix/edits path that locates the libcst node at ``start``/``end`` to build the
fix — so text, JSON and SARIF cannot disagree about what was found.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from wsrefactor.model import FixSafety
from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.model import SemanticModel


@dataclass(frozen=True)
class Detection:
    """Lines are 1-based; columns 1-based and counted in characters (as findings are)."""

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    fixable: bool
    stmt_line: int
    stmt_end_line: int
    context: str  # the fingerprint text: scope and the statement's normalised source
    data: Any = None  # what the rule's ``fix`` needs (a value, a name...), computed once here
    # The safety of this finding's fix when it differs from the rule's ``fix_safety`` (a rule with
    # safe and unsafe fixes): the plain check reports it as the fix itself will.
    fix_safety: FixSafety | None = None

    @property
    def start(self) -> tuple[int, int]:
        """(line, 0-based column): libcst's ``CodeRange.start``."""
        return self.line, self.column - 1

    @property
    def end(self) -> tuple[int, int]:
        return self.end_line, self.end_column - 1


def detect_at(
    analyses: Analyses, node: ast.AST, message: str, *, fixable: bool = False, data: Any = None,
    fix_safety: FixSafety | None = None,
) -> Detection:
    """A detection spanning ``node``; its statement and scope come from the semantic model."""
    model = analyses(SemanticModel)
    stmt = model.statement_of(node) or node
    scope = model.scope_of(stmt).qualname
    code = analyses.segment(stmt)
    line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
    return Detection(
        line=line,
        column=analyses.char_column(line, node.col_offset) + 1,  # type: ignore[attr-defined]
        end_line=end_line,
        end_column=analyses.char_column(end_line, node.end_col_offset) + 1,  # type: ignore[attr-defined]
        message=message,
        fixable=fixable,
        stmt_line=stmt.lineno,  # type: ignore[attr-defined]
        stmt_end_line=stmt.end_lineno or stmt.lineno,  # type: ignore[attr-defined]
        context=f"{scope}:{' '.join(code.split())[:240]}",
        data=data,
        fix_safety=fix_safety,
    )
