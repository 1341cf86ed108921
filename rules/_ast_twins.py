"""``ast`` twins of the libcst helpers the rules decide with (``_helpers.call_name``,
``int_value``, ``number_value``), for prefilters that must never lose a finding of the libcst
visit: where the two trees could disagree, the twin answers the wider way. Qualified names come
from the shared ``AstImports`` (every meaning an import gives a name).
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from wsrefactor.rules._prefilter import index, prefixes
from wsrefactor.semantic.buffers import int_literal

__all__ = ["imports_from", "int_literal", "may_call", "number_literal", "prefixes"]


def may_call(tree: ast.Module, call: ast.Call, names: Collection[str]) -> bool:
    """Whether ``call`` may call one of ``names`` (qualified)."""
    return index(tree).imports.may_be(call.func, names)


def imports_from(tree: ast.Module, prefix_set: frozenset[str]) -> bool:
    """Whether some import binds a name to one of ``prefix_set`` (built by :func:`prefixes`)."""
    return index(tree).imports.binds_any(prefix_set)




def number_literal(node: ast.expr) -> float | None:
    """``number_value``: a float literal, or what :func:`int_literal` reads."""
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return node.value
    value = int_literal(node)
    return None if value is None else float(value)
