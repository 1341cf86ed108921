"""Call-resolution helpers shared by rules (see ``_helpers.py`` for the basic ones)."""

from __future__ import annotations

import libcst as cst

from wsrefactor.names import ImportTable
from wsrefactor.rule import FileContext


class _MatchAwareImportTable(ImportTable):
    """``ImportTable`` that also walks ``match`` statements (their blocks sit under ``cases``)."""

    def _compound(self, stmt: cst.BaseCompoundStatement, top: bool) -> None:
        if isinstance(stmt, cst.Match):
            for case in stmt.cases:
                self._block(case.body, top)
            return
        super()._compound(stmt, top)


def import_table(ctx: FileContext) -> ImportTable:
    """The file's import table; works around the shared one failing on ``match`` statements."""
    try:
        return ctx.imports
    except AttributeError:
        return _MatchAwareImportTable(ctx.module)


def is_dotted(expr: cst.BaseExpression) -> bool:
    """Whether ``expr`` is a plain dotted name (``a.b.c``), not ``make()()`` or ``x[0].y``."""
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)
