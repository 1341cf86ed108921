"""A read-only traversal of a libcst tree, in exactly the order of ``CSTNode.visit``.

libcst's own ``visit`` rebuilds every node of the tree (``_visit_and_replace_children`` followed
by the dataclass validation of the copy) even for a visitor that changes nothing: on a typical
file that costs as much as the parse. Rules only read, so the dispatcher walks the children
itself. The order of a node's children is read once per node class from libcst's own
``_visit_and_replace_children`` (the order of its ``visit_*`` calls; that private read lives in
``wsrefactor/compat/libcst.py``), so the two traversals cannot drift apart;
``tests/engine/test_walk.py`` compares their event sequences on every fixture. If the source
is not available (a stripped install), ``walk`` falls back to libcst's ``visit``.
"""

from __future__ import annotations

import ast
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar, Union

from wsrefactor.compat.libcst import child_fields
from wsrefactor.lazy import cst

__all__ = [
    "Hook", "Replacement", "child_fields", "children", "code_of", "parents", "parse_ast", "replace_nodes", "take_ast",
    "visit", "walk",
]

Hook = Callable[["cst.CSTNode"], object]


def _hooks(enter: Hook, leave: Hook) -> cst.CSTVisitor:
    """The fallback: libcst's own traversal calling the same hooks (the class is made here, on
    use: libcst is imported lazily, see ``wsrefactor.lazy``)."""

    class Hooks(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            enter(node)
            return True

        def on_leave(self, original_node: cst.CSTNode) -> None:
            leave(original_node)

    return Hooks()


def _order_known(root: cst.CSTNode) -> bool:
    return child_fields(type(root)) is not None and child_fields(cst.Name) is not None


def walk(root: cst.CSTNode, enter: Hook, leave: Hook) -> None:
    """Call ``enter(node)`` before and ``leave(node)`` after the children of every node."""
    if not _order_known(root):
        root.visit(_hooks(enter, leave))
        return
    _walk(root, enter, leave)


def _walk(node: cst.CSTNode, enter: Hook, leave: Hook) -> None:
    enter(node)
    fields = child_fields(type(node))
    # a node class whose source is missing: libcst lists this node's children
    for child in node.children if fields is None else _children(node, fields):
        _walk(child, enter, leave)
    leave(node)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``node``'s children in libcst's visiting order, read off its fields (``node.children``
    runs libcst's rebuilding traversal to list them)."""
    fields = child_fields(type(node))
    return list(node.children if fields is None else _children(node, fields))


def parents(root: cst.CSTNode) -> Mapping[cst.CSTNode, cst.CSTNode]:
    """Every node under ``root`` -> its parent: what libcst's ``ParentNodeProvider`` gives, by an
    explicit-stack walk instead of a metadata visitor pass (about 50x cheaper). Remembered for the
    last trees asked (a fix pass asks for the same module's twice: rules, then ``replace_nodes``)."""
    return _recent(_CACHED_PARENTS, root, _parents)


def _parents(root: cst.CSTNode, until: set[cst.CSTNode] | None = None) -> dict[cst.CSTNode, cst.CSTNode]:
    """Node -> parent; with ``until``, the walk may stop once it has reached all of those nodes
    (the map then covers at least them and their ancestors)."""
    out: dict[cst.CSTNode, cst.CSTNode] = {}
    missing = set(until) if until is not None else None
    stack = [root]
    while stack and (missing is None or missing):
        node = stack.pop()
        for child in children(node):
            out[child] = node
            stack.append(child)
            if missing:
                missing.discard(child)
    return out


def code_of(module: cst.Module) -> str:
    """``module.code``, remembered for the last modules asked: a fix pass and the cross-file
    payloads read the same module's code in several places (each ``.code`` generates it all)."""
    return _recent(_CODE, module, lambda m: str(m.code))


def parse_ast(text: str) -> ast.Module:
    """``ast.parse(text)``, the tree kept for one ``take_ast`` of the same string: the code a fix
    just generated is read for its names (``imports``) and then parsed again to be checked."""
    tree = ast.parse(text)
    _LAST_AST[:] = [(text, tree)]
    return tree


def take_ast(text: str) -> ast.Module | None:
    """The tree ``parse_ast`` made of this very string (same object), handed out once."""
    if _LAST_AST and _LAST_AST[0][0] is text:
        return _LAST_AST.pop()[1]
    return None


_LAST_AST: list[tuple[str, ast.Module]] = []


# Results by the identity of the tree they were computed from (libcst trees are immutable; the
# tree is kept with its result, so its id cannot be reused while the entry lives).
_CACHED_PARENTS: OrderedDict[int, tuple[cst.CSTNode, Any]] = OrderedDict()
_CODE: OrderedDict[int, tuple[cst.CSTNode, Any]] = OrderedDict()
_RECENT = 4
_R = TypeVar("_R")


def _recent(cache: OrderedDict[int, tuple[cst.CSTNode, Any]], root: cst.CSTNode, compute: Callable[[Any], _R]) -> _R:
    hit = cache.get(id(root))
    if hit is not None and hit[0] is root:
        cache.move_to_end(id(root))
        return hit[1]  # type: ignore[no-any-return]
    value = compute(root)
    cache[id(root)] = (root, value)
    if len(cache) > _RECENT:
        cache.popitem(last=False)
    return value


# A replacement is a new node, or a function of the already-updated node (so nested fixes compose).
Replacement = Union[
    "cst.CSTNode",
    "cst.RemovalSentinel",
    "cst.FlattenSentinel[cst.CSTNode]",
    Callable[["cst.CSTNode"], Any],
]


def replace_nodes(root: cst.CSTNode, replacements: Mapping[cst.CSTNode, Replacement]) -> cst.CSTNode:
    """``root`` with each node of ``replacements`` (by identity) swapped for its value, or for
    ``value(updated_node)`` when the value is a callable; what a ``CSTTransformer`` whose
    ``on_leave`` looks the node up returns, but rebuilding only the nodes on the way from a
    replaced node up to ``root`` (libcst's ``visit`` rebuilds every node of the tree). A sentinel
    (``RemoveFromParent()``, ``FlattenSentinel``) is honoured in a sequence; elsewhere, or when a
    node's child order is unknown, libcst's own transformer does the work."""
    if not replacements:
        return root
    known = _CACHED_PARENTS.get(id(root))
    up = known[1] if known is not None and known[0] is root else _parents(root, set(replacements))  # only as far as needed
    dirty: set[cst.CSTNode] = set()
    for node in replacements:
        while node is not root and node in up and node not in dirty:
            dirty.add(node)
            node = up[node]
    try:
        return _rebuilt(root, replacements, dirty)  # type: ignore[return-value]
    except _Fallback:
        return root.visit(_replacer(replacements))  # type: ignore[return-value]


class _Fallback(Exception):
    """A replacement the path rebuild does not model; libcst's transformer handles it."""


def _rebuilt(node: cst.CSTNode, replacements: Mapping[cst.CSTNode, Replacement], dirty: set[cst.CSTNode]) -> object:
    changes = _changed_fields(node, replacements, dirty)
    updated = node.with_changes(**changes) if changes else node
    return _applied(replacements.get(node), updated)


def _applied(value: Replacement | None, updated: cst.CSTNode) -> object:
    """What ``updated`` becomes: the replacement node, or a function's result on it."""
    if value is None:
        return updated
    if callable(value) and not isinstance(value, cst.CSTNode):
        return value(updated)
    return value


def _changed_fields(
    node: cst.CSTNode, replacements: Mapping[cst.CSTNode, Replacement], dirty: set[cst.CSTNode]
) -> dict[str, object]:
    """The fields of ``node`` holding a dirty child, rebuilt."""
    fields = child_fields(type(node))
    if fields is None:
        raise _Fallback
    changes: dict[str, object] = {}
    for name in fields:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode) and value in dirty:
            new = _rebuilt(value, replacements, dirty)
            if not isinstance(new, cst.CSTNode):
                raise _Fallback
            changes[name] = new
        elif isinstance(value, (tuple, list)) and any(isinstance(v, cst.CSTNode) and v in dirty for v in value):
            changes[name] = type(value)(_items(value, replacements, dirty))
    return changes


def _items(values: Iterable[object], replacements: Mapping[cst.CSTNode, Replacement], dirty: set[cst.CSTNode]) -> Iterator[object]:
    for item in values:
        if not (isinstance(item, cst.CSTNode) and item in dirty):
            yield item
            continue
        new = _rebuilt(item, replacements, dirty)
        if isinstance(new, cst.FlattenSentinel):
            yield from new.nodes
        elif not isinstance(new, cst.RemovalSentinel):
            yield new


def _replacer(replacements: Mapping[cst.CSTNode, Replacement]) -> cst.CSTTransformer:
    """libcst's own transformer applying ``replacements`` (the class is made here, on use)."""

    class Replace(cst.CSTTransformer):
        def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> object:  # type: ignore[override]
            return _applied(replacements.get(original_node), updated_node)

    return Replace()


def _children(node: cst.CSTNode, fields: tuple[str, ...]) -> Iterator[cst.CSTNode]:
    for name in fields:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


@functools.lru_cache(maxsize=None)
def _attribute_hooks(cls: type) -> bool:
    """Whether a visitor class has ``visit_Node_attr``/``leave_Node_attr`` hooks (the walk does
    not call those, so such visitors keep libcst's traversal). The no-op hooks every
    ``CSTVisitor`` inherits (libcst's generated typed-visitor bases) do not count."""
    return any(
        name.count("_") >= 2 and name.partition("_")[0] in ("visit", "leave") and callable(getattr(cls, name))
        and _owner(cls, name).__module__ != "libcst._typed_visitor"
        for name in dir(cls)
        if not name.startswith("_")
    )


def _owner(cls: type, name: str) -> type:
    return next(k for k in cls.__mro__ if name in vars(k))


def visit(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``node.visit(visitor)`` for a read-only ``CSTVisitor``, without rebuilding the tree.

    ``visit_X`` returning False skips the children, as in libcst."""
    if _attribute_hooks(type(visitor)) or not _order_known(node):
        node.visit(visitor)
        return
    _visit(node, visitor)


def _visit(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    if visitor.on_visit(node):
        fields = child_fields(type(node))
        if fields is None:
            children: Iterable[cst.CSTNode] = node.children
        else:
            children = _children(node, fields)
        for child in children:
            _visit(child, visitor)
    visitor.on_leave(node)
