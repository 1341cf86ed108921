"""Cheap facts about a file from Python's ``ast``, computed once per file and shared by the rules'
``wants()``. A rule whose shape cannot occur in the file keeps the file away from libcst, which
costs ten times the ``ast`` parse before any rule runs; so each ``wants`` is a *necessary*
condition of a finding, judged from one walk of the tree (``tests/test_prefilter_soundness.py``
checks that no finding of the full rule is ever lost by it).

Everything here is memoised per tree (``per_tree``): several rules ask for the same facts, and
WS301/WS302/the gate ask radon for the same numbers.
"""

from __future__ import annotations

import ast
import builtins
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import cached_property
from typing import Any, TypeVar

T = TypeVar("T")
_BUILTINS = frozenset(dir(builtins))
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)

_memo_tree: ast.AST | None = None
_memo: dict[tuple[Any, ...], Any] = {}


def per_tree(compute: Callable[..., T], tree: ast.Module, *args: Any) -> T:
    """``compute(tree, *args)``, computed once per tree (only the latest tree is remembered:
    workers handle one file at a time, and every rule asks about a file before the next)."""
    global _memo_tree
    if tree is not _memo_tree:
        _memo.clear()
        _memo_tree = tree
    key = (compute, *args)
    if key not in _memo:
        _memo[key] = compute(tree, *args)
    return _memo[key]  # type: ignore[no-any-return]


def full_name(expr: ast.AST | None) -> str | None:
    """``a.b.c`` for ``a.b.c``, ``a.b().c``, ``a[0].b.c``..., else None: libcst's
    ``get_full_name_for_node`` (what ``ImportTable.resolve`` reads), looking through calls and
    subscripts as it does."""
    parts: list[str] = []
    while True:
        if isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        elif isinstance(expr, (ast.Call, ast.Subscript)):
            expr = expr.func if isinstance(expr, ast.Call) else expr.value
        elif isinstance(expr, ast.Name):
            parts.append(expr.id)
            return ".".join(reversed(parts))
        else:
            return None


def _bound_names(stmt: ast.stmt) -> list[str]:
    """Names a module-level statement binds that shadow builtins (as ``ImportTable`` sees them)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def module_level_stmts(tree: ast.Module) -> Iterator[ast.stmt]:
    """The ast twin of ``_helpers.module_level_statements``: module statements, and those inside
    module-level ``if``/``else``, ``try`` and ``with`` blocks, in source order."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        stmt = pending.pop(0)
        yield stmt
        if isinstance(stmt, ast.If):
            nested = [*stmt.body, *stmt.orelse]
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            nested = [*stmt.body, *(s for h in stmt.handlers for s in h.body), *stmt.orelse, *stmt.finalbody]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            nested = list(stmt.body)
        else:
            nested = []
        pending[:0] = nested


def import_bindings(stmt: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str]]:
    """(local name, qualified name) for each name one import binds, as ``ImportTable`` records it."""
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


class AstImports:
    """The ``ast`` twin of ``wsrefactor.names.ImportTable``, for prefilters that must never lose a
    finding of the libcst visit. That table keeps the *last* binding of a name in source order,
    for the whole file; here a name keeps *every* meaning any import gives it, so ``resolve`` is a
    superset of what the table answers (``may_be``) and ``surely`` a subset. Imports shadow
    builtins, and so do module-level defs, classes and assignments, as in the table."""

    def __init__(self, imports: Iterable[ast.Import | ast.ImportFrom], tree: ast.Module) -> None:
        aliases: dict[str, set[str]] = {}
        for stmt in imports:
            for local, qualified in import_bindings(stmt):
                aliases.setdefault(local, set()).add(qualified)
        self.aliases: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in aliases.items()}
        self.module_bindings: set[str] = set()
        for stmt in tree.body:
            self.module_bindings.update(_bound_names(stmt))

    def resolve(self, expr: ast.AST | None) -> frozenset[str]:
        """Every qualified name ``expr`` may refer to (empty: not an imported or builtin name)."""
        name = full_name(expr)
        if name is None:
            return frozenset()
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return frozenset(f"{base}.{rest}" if rest else base for base in self.aliases[head])
        if head in _BUILTINS and head not in self.module_bindings:
            return frozenset((f"builtins.{name}",))
        return frozenset()

    def may_be(self, expr: ast.AST | None, names: Collection[str]) -> bool:
        """``expr`` may be one of ``names`` (to keep a file: a superset)."""
        return not self.resolve(expr).isdisjoint(names)

    def surely(self, expr: ast.AST | None, names: Collection[str]) -> bool:
        """Whichever binding libcst's table keeps, ``expr`` is one of ``names`` (to rule a
        finding out: a subset)."""
        qualified = self.resolve(expr)
        return bool(qualified) and all(q in names for q in qualified)

    def binds_any(self, prefixes: Collection[str]) -> bool:
        """Some import binds a name to one of ``prefixes`` (see :func:`prefixes`): without one, no
        name the set was built from can be resolved in this file."""
        return any(not qualified.isdisjoint(prefixes) for qualified in self.aliases.values())


def prefixes(names: Iterable[str]) -> frozenset[str]:
    """``names`` and every module or class they live in (``a.b.c`` gives ``a``, ``a.b``, ``a.b.c``)."""
    return frozenset(n.rsplit(".", i)[0] for n in names for i in range(n.count(".") + 1))


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _bucket(tree: ast.AST) -> dict[type, list[ast.AST]]:
    """``ast.walk``'s nodes in ``ast.walk``'s order, bucketed by type — without the ``Load``/
    ``Store`` context leaves and with the child fields read once per class (half the cost)."""
    buckets: dict[type, list[ast.AST]] = {}
    todo: deque[Any] = deque([tree])
    while todo:
        node = todo.popleft()
        if not isinstance(node, ast.AST):
            continue  # None keys of a dict, names of a global statement
        kind = type(node)
        if kind in buckets:
            buckets[kind].append(node)
        else:
            buckets[kind] = [node]
        fields = _CHILD_FIELDS.get(kind)
        if fields is None:
            fields = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f != "ctx")
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                todo.extend(value)
            elif isinstance(value, ast.AST):
                todo.append(value)
    return buckets


class AstIndex:
    """One ``ast.walk`` of the file, bucketed by node type; derived facts computed on first use."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self._buckets = _bucket(tree)

    def nodes(self, *kinds: type) -> list[Any]:
        """Every node of these types (walk order: breadth first)."""
        if len(kinds) == 1:
            return self._buckets.get(kinds[0], [])
        return [n for kind in kinds for n in self._buckets.get(kind, ())]

    def has(self, *kinds: type) -> bool:
        return any(kind in self._buckets for kind in kinds)

    def in_source_order(self, *kinds: type) -> list[Any]:
        return sorted(self.nodes(*kinds), key=lambda n: (n.lineno, n.col_offset))

    @cached_property
    def imports(self) -> AstImports:
        return AstImports(self.nodes(ast.Import, ast.ImportFrom), self.tree)

    @property
    def has_async(self) -> bool:
        return self.has(ast.AsyncFunctionDef)


def index(tree: ast.Module) -> AstIndex:
    return per_tree(AstIndex, tree)


def ast_facts(tree: ast.Module | None) -> AstIndex | None:
    """The index of ``tree`` (None when there is no tree: then rules fall back to their tokens)."""
    return None if tree is None else index(tree)


def own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body that run when it runs: nested defs, lambdas and classes
    are not entered (their bodies run when *they* are called), their decorators and defaults are."""
    stack: list[ast.AST] = list(getattr(function, "body", ()))
    if isinstance(function, ast.Lambda):
        stack = [function.body]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _FUNCTIONS):
            args = node.args
            stack.extend(d for d in (*args.defaults, *args.kw_defaults) if d is not None)
            stack.extend(getattr(node, "decorator_list", ()))
        elif isinstance(node, ast.ClassDef):
            stack.extend(node.decorator_list)
            stack.extend(node.bases)
            stack.extend(k.value for k in node.keywords)
        else:
            stack.extend(ast.iter_child_nodes(node))
