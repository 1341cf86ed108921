"""libcst internals wsrefactor relies on, behind one small interface.

Two speed-ups read libcst below its public API:

* the read-only walk (``walk.py``) takes each node class's child order from the source of its
  private ``_visit_and_replace_children`` (the order of its ``visit_*`` calls), so the walk and
  libcst's own ``visit`` cannot drift apart;
* positions computed statement by statement (``positions.py``) drive libcst's
  ``PositionProvidingCodegenState`` over one top-level statement at a time (the private
  ``CSTNode._codegen``) and read what it recorded from the provider's private ``_computed`` map.

Checked against the libcst versions in ``CHECKED``; ``pyproject.toml`` caps libcst below
``UPPER``. ``tests/engine/test_compat.py`` names the symbol and the installed version when one
of these shapes changes.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from wsrefactor.lazy import cst

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

# The libcst releases this module was checked against, and the first release it does not allow.
CHECKED = ("1.9.0",)
LOWER = "1.1"
UPPER = "1.10"


@functools.lru_cache(maxsize=None)
def child_fields(cls: type[cst.CSTNode]) -> tuple[str, ...] | None:
    """Fields holding children, in the order libcst visits them (None: order unknown, e.g. a
    stripped install without sources)."""
    try:
        method = cls._visit_and_replace_children
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    except (AttributeError, OSError, TypeError, SyntaxError):
        return None
    calls = sorted(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.startswith("visit_")
            and len(n.args) >= 2 and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str)
        ),
        key=lambda n: (n.lineno, n.col_offset),
    )
    return tuple(dict.fromkeys(str(cast(ast.Constant, n.args[1]).value) for n in calls))


class PositionRecorder:
    """libcst's position pass, run a piece at a time on one codegen state.

    ``generate(node)`` emits the code of ``node`` (a header line or a top-level statement, in
    module order) exactly as ``Module._codegen_impl`` would, recording the positions of every
    node inside it; ``computed`` holds all positions recorded so far."""

    def __init__(self, module: cst.Module, line: int = 1, indents: Sequence[str] = ()) -> None:
        """``line``: where the first generated node starts (at column 0); ``indents``: those of
        the blocks around it (none for a top-level statement)."""
        from libcst.metadata import PositionProvider
        from libcst.metadata.position_provider import PositionProvidingCodegenState

        self._provider = PositionProvider()
        self._state = PositionProvidingCodegenState(
            default_indent=module.default_indent,
            default_newline=module.default_newline,
            provider=self._provider,
            line=line,
            indent_tokens=list(indents),
        )

    @property
    def computed(self) -> dict[cst.CSTNode, CodeRange]:
        """Node -> range for every node generated so far (the provider's own map, not a copy).

        The position provider stores only ``CodeRange`` values (never lazy ones)."""
        return cast("dict[cst.CSTNode, CodeRange]", self._provider._computed)

    def generate(self, node: cst.CSTNode) -> None:
        node._codegen(self._state)

    @property
    def code(self) -> str:
        """The code generated so far."""
        return "".join(self._state.tokens)


@functools.lru_cache(maxsize=None)
def _plain_fields(cls: type[cst.CSTNode]) -> tuple[str, ...] | None:
    """``child_fields`` of a class whose ``_visit_and_replace_children`` visits every field
    unconditionally (None otherwise: an ``if`` there may skip a field's attribute hooks)."""
    fields = child_fields(cls)
    if fields is None:
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls._visit_and_replace_children)))
    except (AttributeError, OSError, TypeError, SyntaxError):
        return None
    branches = (ast.If, ast.IfExp, ast.For, ast.While, ast.comprehension, ast.Match)
    return None if any(isinstance(n, branches) for n in ast.walk(tree)) else fields


def _read_only_visit(self: cst.CSTNode, visitor: cst.CSTVisitor) -> object:
    """``CSTNode.visit`` for a read-only ``CSTVisitor``: the same calls (``on_visit``, each
    field's ``on_visit_attribute``/``on_leave_attribute`` around its children, ``on_leave``)
    without building a copy of every node. Transformers and nodes with conditional visits
    keep libcst's own ``visit``."""
    fields = _plain_fields(type(self))
    if fields is None or not isinstance(visitor, cst.CSTVisitor):
        return _LIBCST_VISIT[0](self, visitor)
    if visitor.on_visit(self):
        for name in fields:
            visitor.on_visit_attribute(self, name)
            value = getattr(self, name)
            if isinstance(value, cst.CSTNode):
                value.visit(visitor)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    item.visit(visitor)
            visitor.on_leave_attribute(self, name)
    visitor.on_leave(self)
    return self


_LIBCST_VISIT: list[Callable[..., Any]] = []  # ``CSTNode.visit`` as libcst defines it


@contextlib.contextmanager
def read_only_visits() -> Iterator[None]:
    """Within the block, ``CSTNode.visit`` with a ``CSTVisitor`` does not rebuild the tree (see
    ``_read_only_visit``): for libcst's metadata providers (scopes), whose visitors only read
    and call ``node.visit`` themselves. Outside it, libcst's own ``visit`` is back."""
    libcst_visit = cst.CSTNode.visit
    if not _LIBCST_VISIT:  # libcst's own, kept on first use (libcst is imported lazily)
        _LIBCST_VISIT.append(libcst_visit)
    cst.CSTNode.visit = _read_only_visit  # type: ignore[assignment, method-assign]
    try:
        yield
    finally:
        cst.CSTNode.visit = libcst_visit  # type: ignore[method-assign]
