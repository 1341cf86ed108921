"""``ast`` twins of the libcst helpers the rules decide with (``_helpers.call_name``,
``int_value``, ``number_value``), for prefilters that must never lose a finding of the libcst
visit: where the two trees could disagree, the twin answers the wider way.

Qualified names are judged as ``call_name`` judges them (libcst's ``get_full_name_for_node``
through the file's ``ImportTable``); two details keep the answer a superset of the libcst one: the full name looks through calls and
subscripts as libcst does (``asyncio.Queue[int]()`` and ``a.b().c`` are ``asyncio.Queue`` and
``a.b.c``), and a name imported more than once keeps *every* meaning it is given (the libcst table
keeps the last one in source order, which an ``ast`` walk does not replay).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Collection, Iterable

from wsrefactor.rules._prefilter import index, per_tree

_BUILTINS = frozenset(dir(builtins))


def full_name(expr: ast.expr) -> str | None:
    """``a.b.c`` for ``a.b.c``, ``a.b().c``, ``a[0].b.c``..., else None (the twin of libcst's
    ``get_full_name_for_node``; where that one yields ``"None.x"``, no import can match anyway)."""
    parts: list[str] = []
    while True:
        if isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        elif isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Subscript):
            expr = expr.value
        elif isinstance(expr, ast.Name):
            parts.append(expr.id)
            return ".".join(reversed(parts))
        else:
            return None


def _aliases(tree: ast.Module) -> dict[str, frozenset[str]]:
    """Local name -> every qualified name an import anywhere in the file binds it to."""
    out: dict[str, set[str]] = {}
    for stmt in index(tree).nodes(ast.Import, ast.ImportFrom):
        for local, qualified in _bindings(stmt):
            out.setdefault(local, set()).add(qualified)
    return {local: frozenset(names) for local, names in out.items()}


def _bindings(stmt: ast.Import | ast.ImportFrom) -> Iterable[tuple[str, str]]:
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            head = alias.name.split(".")[0]
            yield (alias.asname, alias.name) if alias.asname else (head, head)
        return
    base = "." * stmt.level + (stmt.module or "")
    sep = "" if base.endswith(".") else "."
    for alias in stmt.names:
        if alias.name != "*":
            yield alias.asname or alias.name, f"{base}{sep}{alias.name}"


def aliases(tree: ast.Module) -> dict[str, frozenset[str]]:
    """The file's import table (every meaning of each imported name), computed once per tree."""
    return per_tree(_aliases, tree)


def qualnames(tree: ast.Module, expr: ast.expr) -> frozenset[str]:
    """Every qualified name ``expr`` may refer to (empty: not an imported or builtin name)."""
    name = full_name(expr)
    if name is None:
        return frozenset()
    head, _, rest = name.partition(".")
    bases = aliases(tree).get(head, frozenset())
    if head in _BUILTINS:
        bases = bases | {f"builtins.{head}"}
    return frozenset(f"{base}.{rest}" if rest else base for base in bases)


def may_call(tree: ast.Module, call: ast.Call, names: Collection[str]) -> bool:
    """Whether ``call`` may call one of ``names`` (qualified)."""
    return not qualnames(tree, call.func).isdisjoint(names)


def prefixes(names: Iterable[str]) -> frozenset[str]:
    """``names`` and every module or class they live in (``a.b.c`` gives ``a``, ``a.b``, ``a.b.c``)."""
    return frozenset(n.rsplit(".", i)[0] for n in names for i in range(n.count(".") + 1))


def imports_from(tree: ast.Module, prefix_set: frozenset[str]) -> bool:
    """Whether some import binds a name to one of ``prefix_set`` (built by :func:`prefixes`): a file
    without one cannot resolve any of the names the set was built from."""
    return any(not prefix_set.isdisjoint(q) for q in aliases(tree).values())


def int_literal(node: ast.expr) -> int | None:
    """``int_value``: an integer literal, possibly negated (``True`` is a name to libcst)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_literal(node.operand)
        return None if inner is None else -inner
    return None


def number_literal(node: ast.expr) -> float | None:
    """``number_value``: a float literal, or what :func:`int_literal` reads."""
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return node.value
    value = int_literal(node)
    return None if value is None else float(value)


def source_text(text: str, node: ast.expr) -> str:
    """``node``'s own source text (libcst's ``code_for_node`` of it holds this and maybe the
    parentheses around it). ``ast.get_source_segment`` splits the whole file in Python; this
    splits in C, unless a lone carriage return makes the line numbering differ."""
    if "\r" in text and "\r" in text.replace("\r\n", "\n"):
        return ast.get_source_segment(text, node) or ""
    last = node.end_lineno or node.lineno
    lines = [line.encode() for line in text.split("\n", last)[node.lineno - 1 : last]]
    if not lines:
        return ""
    lines[-1] = lines[-1][: node.end_col_offset]
    lines[0] = lines[0][node.col_offset :]
    return b"\n".join(lines).decode(errors="replace")
