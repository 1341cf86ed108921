"""Call-resolution helpers shared by rules (see ``_helpers.py`` for the basic ones)."""

from __future__ import annotations

from wsrefactor.lazy import cst


def is_dotted(expr: cst.BaseExpression) -> bool:
    """Whether ``expr`` is a plain dotted name (``a.b.c``), not ``make()()`` or ``x[0].y``."""
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)
