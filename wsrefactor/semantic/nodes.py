"""One walk of a file's ``ast``, bucketed by node type, shared by every analysis that looks for
nodes of a kind (functions, dicts, decision points): a full ``ast.walk`` costs about half an
``ast.parse`` in Python, so each rule walking the tree again is what makes a check slow.

``NodeIndex.of(tree)`` (or ``analyses(NodeIndex)``) gives the same index for the same tree;
``per_tree`` memoises any other computation the same way (radon's numbers, which WS301, WS302
and the gate all ask for).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from wsrefactor.semantic.analyses import Analyses

T = TypeVar("T")

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


class NodeIndex:
    """The file's nodes by type (breadth-first, as ``ast.walk``), from one walk."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self._buckets = _bucket(tree)

    @classmethod
    def of(cls, tree: ast.Module) -> NodeIndex:
        return per_tree(cls, tree)

    @classmethod
    def compute(cls, analyses: Analyses) -> NodeIndex:
        return cls.of(analyses.tree)

    def nodes(self, *kinds: type) -> list[Any]:
        """Every node of these types (walk order: breadth first)."""
        if len(kinds) == 1:
            return self._buckets.get(kinds[0], [])
        return [n for kind in kinds for n in self._buckets.get(kind, ())]

    def has(self, *kinds: type) -> bool:
        return any(kind in self._buckets for kind in kinds)

    def in_source_order(self, *kinds: type) -> list[Any]:
        return sorted(self.nodes(*kinds), key=lambda n: (n.lineno, n.col_offset))


DEFINITIONS: tuple[type[ast.AST], ...] = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
NESTED_CODE: tuple[type[ast.AST], ...] = (*DEFINITIONS, ast.Lambda)  # what a def does not run itself


def own_nodes(fn: ast.AST, skip: tuple[type[ast.AST], ...] = DEFINITIONS) -> Iterator[ast.AST]:
    """Every node of a def's body without entering the nested definitions (``skip``: also
    lambdas, for a question about what the def itself executes)."""
    todo = list(getattr(fn, "body", ()))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, skip):
            todo.extend(ast.iter_child_nodes(node))
