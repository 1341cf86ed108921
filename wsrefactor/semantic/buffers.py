"""How a module feeds, drains and bounds its containers (queues, deques, lists), on Python's ``ast``.

``BufferUses`` is an analysis (``analyses(BufferUses)``) computed once per file: per storage
key (``self.outbox``, ``queue``, ``self.buffers[]``) who writes into it (``put``,
``put_nowait``, ``append``...), whether a close marker or bytes go in, where its size is kept in
check by hand (a ``len(X) >= limit`` guard, a trim, a ``__len__`` exposing it), and whether a
name or private attribute is only ever read (a container nothing writes cannot grow).
Keys are textual (every subscript key is the same key) — the same approximation for every use.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.scopes import Scope

PUTS = frozenset({"put", "put_nowait"})
APPENDS = frozenset({"append", "appendleft", "extend", "extendleft", "insert"})
TRIMS = frozenset({"popleft", "pop", "clear"})
SIZE_METHODS = frozenset({"__len__", "qsize", "_qsize"})
# Methods and attributes that read a queue/deque without adding to it.
READS = frozenset({
    "get", "get_nowait", "qsize", "empty", "full", "join", "task_done", "shutdown", "maxsize",
    "popleft", "pop", "clear", "count", "index", "copy", "maxlen", "remove", "rotate",
})
BYTES_TYPES = re.compile(r"\b(bytes|bytearray|memoryview)\b")
_TRIES: tuple[type[ast.AST], ...] = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def storage_key(node: ast.AST) -> str:
    """A comparable text for a storage target: ``self.buf``, ``queue``; every subscript key
    counts as the same (``self.buffers[]``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{storage_key(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return f"{storage_key(node.value)}[]"
    return ast.unparse(node)


def int_literal(node: ast.AST | None) -> int | None:
    """An integer literal, possibly negated (``True`` is not one)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_literal(node.operand)
        return None if inner is None else -inner
    return None


def is_marker(value: ast.AST | None) -> bool:
    """A close marker: ``None``, an ALL_CAPS name, a ``*sentinel*`` name (or attribute)."""
    if isinstance(value, ast.Constant):
        return value.value is None
    if isinstance(value, ast.Attribute):
        name = value.attr
    elif isinstance(value, ast.Name):
        name = value.id
    else:
        return False
    return (name.isupper() and len(name) > 1) or "sentinel" in name.lower()


def is_bytes(value: ast.AST | None) -> bool:
    """A bytes literal or an ``.encode()`` result."""
    if isinstance(value, ast.Constant):
        return isinstance(value.value, bytes)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "encode"


@dataclass
class Producers:
    """How one container (by storage key) is fed in this module."""

    writes: int = 0  # put/put_nowait/append... calls and put_nowait references
    sentinel: bool = False  # a put of a marker, or any put in finally/except
    nowait: bool = False  # put_nowait used other than as a plain statement (a callback)
    # bytes go in: a bytes literal, an ``.encode()``, a value annotated ``bytes``, or the remainder
    # of a chunk put back in front (``d.appendleft(chunk[n:])``: a stream read partially)
    bytes_in: bool = False
    # ``q.put_nowait(x)`` statements standing alone, outside any try catching QueueFull
    nowait_statements: list[ast.Expr] = field(default_factory=list)


@dataclass
class SizeCheck:
    """``key`` is kept in check by hand in ``cls`` (None: outside any class)."""

    cls: Scope | None
    key: str


class BufferUses:
    """Producers and hand-written size checks of every container of a module."""

    def __init__(self, analyses: Analyses) -> None:
        self.analyses = analyses
        self.model = analyses(SemanticModel)
        self.producers: dict[str, Producers] = {}
        self.size_checks: list[SizeCheck] = []
        self._parents: dict[int, ast.AST] = {}
        self._walk(analyses.tree, cleanup=0, guarded=False)

    @classmethod
    def compute(cls, analyses: Analyses) -> BufferUses:
        return cls(analyses)

    def of(self, key: str) -> Producers:
        return self.producers.get(key) or Producers()

    # -- producers ------------------------------------------------------------------------

    def _walk(self, tree: ast.AST, cleanup: int, guarded: bool) -> None:
        """One pass: parents, producers (with finally/except depth and QueueFull guards), size checks."""
        todo: list[tuple[ast.AST, int, bool]] = [(tree, cleanup, guarded)]
        while todo:
            node, depth, safe = todo.pop()
            self._producer(node, depth, safe)
            self._size_check(node)
            if isinstance(node, _TRIES):
                safe = safe or _catches_full(node)
                cleanups = {id(n) for n in (*node.handlers, *node.finalbody)}  # type: ignore[attr-defined]
            else:
                cleanups = set()
            for child in ast.iter_child_nodes(node):
                self._parents[id(child)] = node
                todo.append((child, depth + 1 if id(child) in cleanups else depth, safe))

    def _producer(self, node: ast.AST, cleanup: int, guarded: bool) -> None:
        if isinstance(node, ast.Attribute) and node.attr == "put_nowait":
            self._put_nowait(node, guarded)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            self._write_call(node, node.func, cleanup)

    def _put_nowait(self, attr: ast.Attribute, guarded: bool) -> None:
        """``q.put_nowait``: a lone statement the fix can guard, or a use it cannot (a callback)."""
        uses = self._of(attr.value)
        call = self._parents.get(id(attr))
        if not (isinstance(call, ast.Call) and call.func is attr):
            uses.writes += 1  # passed as a callable: ``call_soon_threadsafe(q.put_nowait, x)``
        if guarded:
            return
        stmt = self._lone_call_statement(attr)
        if stmt is not None:
            uses.nowait_statements.append(stmt)
        else:
            uses.nowait = True

    def _write_call(self, call: ast.Call, func: ast.Attribute, cleanup: int) -> None:
        """``q.put(x)``/``d.append(x)``: a write; a marker or a put in cleanup code is a sentinel."""
        value = call.args[0] if call.args and not isinstance(call.args[0], ast.Starred) else None
        if func.attr in PUTS:
            uses = self._of(func.value)
            uses.writes += 1
            uses.sentinel = uses.sentinel or bool(cleanup) or is_marker(value)
        elif func.attr in APPENDS:
            uses = self._of(func.value)
            uses.writes += 1
            uses.bytes_in = uses.bytes_in or (func.attr != "insert" and self._bytes_value(value, func.attr))

    def _bytes_value(self, value: ast.expr | None, method: str) -> bool:
        if is_bytes(value):
            return True
        if method == "appendleft" and isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Slice):
            return True
        if not isinstance(value, ast.Name):
            return False
        annotations = [b.annotation for b in self.model.lookup(value.id, self.model.scope_of(value)) if b.annotation]
        return any(BYTES_TYPES.search(self.analyses.segment(a)) for a in annotations)

    def _of(self, receiver: ast.AST) -> Producers:
        return self.producers.setdefault(storage_key(receiver), Producers())

    def _lone_call_statement(self, attr: ast.Attribute) -> ast.Expr | None:
        """The ``q.put_nowait(x)`` statement ``attr`` heads, when it is a statement of its own."""
        call = self._parents.get(id(attr))
        if not (isinstance(call, ast.Call) and call.func is attr):
            return None
        stmt = self._parents.get(id(call))
        if not (isinstance(stmt, ast.Expr) and stmt.value is call):
            return None
        return stmt if self._alone_on_its_lines(stmt) else None

    def _alone_on_its_lines(self, stmt: ast.stmt) -> bool:
        """No other statement (``a; b``) nor block header (``if x: b``) shares its lines, so a
        fix can wrap it in a ``try`` (libcst: a ``SimpleStatementLine`` of one statement)."""
        first = self.analyses.line(stmt.lineno).encode("utf-8")
        last = self.analyses.line(stmt.end_lineno or stmt.lineno).encode("utf-8")
        after = last[stmt.end_col_offset :].strip()  # type: ignore[misc]
        return not first[: stmt.col_offset].strip() and (not after or after.startswith(b"#"))

    # -- size checks ----------------------------------------------------------------------

    def _size_check(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in SIZE_METHODS:
            for stmt in node.body:
                measured = self._len_of(stmt.value) if isinstance(stmt, ast.Return) else None
                if measured is not None:
                    self._add(measured)
        elif isinstance(node, ast.Compare):
            self._guard(node)
        elif isinstance(node, (ast.If, ast.While)):
            self._trim(node)

    def _guard(self, node: ast.Compare) -> None:
        """``len(X) > N``/``>=`` (or flipped) with a real bound ``N``: X is guarded."""
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            measured = bound = None
            if isinstance(op, (ast.Gt, ast.GtE)):
                measured, bound = self._len_of(left), right
            elif isinstance(op, (ast.Lt, ast.LtE)):
                measured, bound = self._len_of(right), left
            if measured is not None and bound is not None and not _trivial(bound, op) and not self._never_set(bound):
                self._add(measured)
            left = right

    def _trim(self, node: ast.If | ast.While) -> None:
        """``if len(X) == N: X.popleft()``: X is trimmed (``>``/``>=`` are guards already)."""
        test = node.test
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
            return
        measured = self._len_of(test.left) or self._len_of(test.comparators[0])
        if measured is not None and _pops(node.body, storage_key(measured)):
            self._add(measured)

    def _len_of(self, node: ast.AST | None) -> ast.expr | None:
        if (
            isinstance(node, ast.Call)
            and len(node.args) == 1
            and not node.keywords
            and not isinstance(node.args[0], ast.Starred)
            and self.model.qualified_name(node.func, self.model.scope_of(node)) == "builtins.len"
        ):
            return node.args[0]
        return None

    def _add(self, measured: ast.expr) -> None:
        self.size_checks.append(SizeCheck(_enclosing_class(self.model.scope_of(measured)), storage_key(measured)))

    def _never_set(self, bound: ast.expr) -> bool:
        """A limit that is only ever ``None`` in this module (``self.max_size: int | None = None``
        and nothing else sets it): a ``len(X) >= limit`` guard on it bounds nothing."""
        if isinstance(bound, ast.Attribute):
            found = [
                b
                for scope in self.model.scopes.scopes
                if scope.kind == "class"
                for b in (*scope.bindings.get(bound.attr, ()), *scope.attributes.get(bound.attr, ()))
            ]
        elif isinstance(bound, ast.Name):
            found = self.model.lookup(bound.id, self.model.scope_of(bound))
        else:
            return False
        return bool(found) and all(
            b.kind in ("assign", "annassign", "attribute") and isinstance(b.value, ast.Constant) and b.value.value is None
            for b in found
        )

    def managed(self, key: str, cls: Scope | None, class_attribute: bool) -> bool:
        """Whether ``key``'s size is kept in check by hand: a ``self.x``/``cls.x`` key in the same
        class, a class attribute as ``self.x``/``cls.x`` there or ``Class.x`` anywhere, any other
        key anywhere in the module."""
        if class_attribute and cls is not None:
            keys = {key, f"self.{key}", f"cls.{key}"}
            qualified = f"{cls.name}.{key}"
            return any((c.cls is cls and c.key in keys) or c.key == qualified for c in self.size_checks)
        if key.startswith(("self.", "cls.")):
            return any(c.cls is cls and c.key == key for c in self.size_checks)
        return any(c.key == key for c in self.size_checks)

    # -- is it only read? ------------------------------------------------------------------

    def only_read(self, uses: Iterable[ast.expr]) -> bool:
        """Every use (a load of the container) reads it: the receiver of a reading method
        (``get``, ``qsize``...), ``len(q)``, a truth test. Any other use may hand it to code that
        writes into it."""
        return all(self._reads(use) for use in uses)

    def _reads(self, use: ast.expr) -> bool:
        parent = self._parents.get(id(use))
        if isinstance(parent, ast.Attribute) and parent.value is use:
            return parent.attr in READS
        if isinstance(parent, ast.Call) and use in parent.args:
            return self._len_of(parent) is use
        if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is use:
            return True
        return isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self._parents.get(id(node))


def _pops(body: list[ast.stmt], key: str) -> bool:
    """Whether ``body`` pops from or clears the container ``key``."""
    return any(
        isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and sub.func.attr in TRIMS
        and storage_key(sub.func.value) == key
        for stmt in body
        for sub in ast.walk(stmt)
    )


def _catches_full(node: ast.AST) -> bool:
    """A ``try`` with a handler naming ``QueueFull``, or catching all (``Exception``/``BaseException``)."""
    for handler in getattr(node, "handlers", ()):
        if handler.type is None:
            continue
        text = ast.unparse(handler.type)
        if "QueueFull" in text or text in ("Exception", "BaseException"):
            return True
    return False


def _trivial(bound: ast.expr, op: ast.cmpop) -> bool:
    """``len(X) > 0`` / ``len(X) >= 1`` test for emptiness, not for a size limit."""
    value = int_literal(bound)
    if value is None:
        return False
    strict = isinstance(op, (ast.Gt, ast.Lt))
    return value < 1 if strict else value < 2


def _enclosing_class(scope: Scope | None) -> Scope | None:
    while scope is not None and scope.kind != "class":
        scope = scope.parent
    return scope
