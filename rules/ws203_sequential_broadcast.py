"""WS203 sequential-broadcast: a loop that awaits a send to each connection in turn."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.semantic import Analyses, Scope, SemanticModel
from wsrefactor.semantic.broadcast import (
    CONNECTION_METHODS,
    Connections,
    send_method,
)
from wsrefactor.semantic.detection import Detection, detect_at
from wsrefactor.semantic.nodes import NodeIndex
from wsrefactor.semantic.summary import SEND, ProjectCalls
from wsrefactor.walk import children

# Awaited reads: a loop that reads the reply from a shared endpoint is a conversation, not a fan-out.
_RECEIVE = re.compile(r"(?:recv|receive|read)(?:$|_|from$|line$|exactly$|[A-Z])")
# What reads right after ``for x in`` without parentheses (libcst class names: see ``wsrefactor.lazy``)
_ATOMS = (
    "Name", "Attribute", "Call", "Subscript", "List", "Dict", "Set", "ListComp", "SetComp", "DictComp", "GeneratorExp",
    "SimpleString", "ConcatenatedString",
)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class _Plan:
    """How the loop is fixed, decided on the ``ast``: ``shape`` is ``single``, ``count`` or
    ``try``; ``name`` the fresh name it introduces (``tg``, ``results``, ``_send_one``)."""

    shape: str
    name: str = ""
    params: tuple[str, ...] = ()
    nonlocals: tuple[str, ...] = ()
    var: str = "r"


# -- the decision (ast) --------------------------------------------------------------------------


def _target_names(target: ast.expr) -> list[str] | None:
    """Names bound by a loop target; None when it holds something else (attributes, stars)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names: list[str] = []
        for el in target.elts:
            inner = None if isinstance(el, ast.Starred) else _target_names(el)
            if inner is None:
                return None
            names.extend(inner)
        return names
    return None


def _local_nodes(nodes: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``nodes``, nested functions, lambdas and classes left out."""
    todo = list(reversed(nodes))
    while todo:
        node = todo.pop()
        if isinstance(node, _SCOPES):
            continue
        yield node
        todo.extend(reversed(list(ast.iter_child_nodes(node))))


def _awaited(body: Sequence[ast.stmt]) -> list[ast.Call]:
    """Calls under an ``await`` in the loop body (not in nested scopes), in source order."""
    out: list[ast.Call] = []
    for node in _local_nodes(body):
        if isinstance(node, ast.Await):
            out.extend(c for c in _local_nodes([node.value]) if isinstance(c, ast.Call))
    return list(dict.fromkeys(out))


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else None


def _root(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _passed(call: ast.Call, values: set[str]) -> list[str]:
    """The per-iteration values a call takes as plain-name arguments (positional or keyword)."""
    args = [*call.args, *(k.value for k in call.keywords)]
    return [a.id for a in args if isinstance(a, ast.Name) and a.id in values]


class _Loop:
    """One ``for`` loop: its per-iteration values and what is known about each."""

    def __init__(
        self, loop: ast.For | ast.AsyncFor, scope: Scope, conns: Connections, calls: ProjectCalls | None = None
    ) -> None:
        self.loop, self.scope, self.conns, self.calls = loop, scope, conns, calls
        self.targets = _target_names(loop.target) or []
        self.known: set[str] = set()  # per-iteration values known to be connections
        self._types(loop.target, conns.element_types(loop.iter, scope))
        self._collection()
        # ``conn = self.active.get(client_id)``: a value looked up by the loop target
        self.derived: set[str] = set()
        for node in _local_nodes(loop.body):
            if isinstance(node, ast.Assign) and _names_in(node.value) & set(self.targets):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.derived.add(target.id)

    def _types(self, target: ast.expr, ann: ast.expr | None) -> None:
        if ann is None:
            return
        if isinstance(target, ast.Name) and self.conns.is_connection_type(ann, self.scope):
            self.known.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(ann, ast.Subscript):
            args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
            if len(args) == len(target.elts):
                for el, arg in zip(target.elts, args, strict=True):
                    self._types(el, arg)

    def _collection(self) -> None:
        """The collection iterated holds connections (as elements, or as mapping values)."""
        held = self.conns.holds(self.loop.iter, self.loop.target)
        if held is not None:
            self.known.add(held)

    def sends(self) -> tuple[list[tuple[ast.Call, str]], bool]:
        """(awaited sends to a per-iteration connection with their target, a shared reply is read)."""
        found: list[tuple[ast.Call, str]] = []
        shared_reply = False
        guarded = self._guarded_calls()
        values = set(self.targets) | self.derived
        for call in _awaited(self.loop.body):
            conn = self._send_to(call, values, id(call) in guarded)
            if conn is not None:
                found.append((call, conn))
                continue
            name = _last_name(call.func)
            recv = call.func.value if isinstance(call.func, ast.Attribute) else None
            if name is not None and _RECEIVE.match(name.lstrip("_")) and (recv is None or _root(recv) not in values):
                shared_reply = True
        return found, shared_reply

    def _guarded_calls(self) -> set[int]:
        """Calls in a ``try`` body whose handlers catch an exception only a WebSocket send raises."""
        out: set[int] = set()
        for stmt in self.loop.body:
            out |= self.conns.guarded_calls(stmt, self.scope)
        return out

    def _send_to(self, call: ast.Call, values: set[str], guarded: bool) -> str | None:
        """The per-iteration value ``call`` sends to as a connection, if there is evidence."""
        return (self._method_send(call, guarded) or self._passed_send(call, values) or self._destination(call, values)
                or self._sent_elsewhere(call, values))

    def _sent_elsewhere(self, call: ast.Call, values: set[str]) -> str | None:
        """An argument built from a per-iteration value (``players[p].websocket``) handed to a
        callable of another module that sends on that parameter as a connection (its body, or
        the callables it hands it on to: ``analyses.facts``)."""
        if self.calls is None:
            return None
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            mentioned = sorted(_names_in(arg) & values)
            if mentioned and SEND in self.calls.effects(call, self.scope, arg):
                return mentioned[0]
        return None

    def _method_send(self, call: ast.Call, guarded: bool) -> str | None:
        """``value.send_text(...)``, ``value.websocket.send(...)``, ``self.active[value].send(...)``."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and send_method(func.attr)):
            return None
        mentioned = [n for n in self.targets + sorted(self.derived) if n in _names_in(func.value)]
        if not mentioned:
            return None
        direct = isinstance(func.value, ast.Name) and func.value.id in self.known
        return mentioned[0] if func.attr in CONNECTION_METHODS or guarded or direct else None

    def _passed_send(self, call: ast.Call, values: set[str]) -> str | None:
        """The value handed to a function that sends on it (or, a known connection, to a send we
        cannot see: ``await send_to(ws, msg)`` imported from elsewhere)."""
        unseen = send_method(_last_name(call.func) or "") and self.conns.graph.resolve(call, self.scope) is None
        for name in _passed(call, values):
            if self.conns.passes_to_sender(call, name, self.scope) or (unseen and name in self.known):
                return name
        return None

    def _destination(self, call: ast.Call, values: set[str]) -> str | None:
        """``layer.send(channel_name, ...)``: the value is the destination."""
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Name) and first.id in values and self.conns.destination_send(call, self.scope):
            return first.id
        return None


def _loops(analyses: Analyses) -> list[tuple[ast.For | ast.AsyncFor, Scope]]:
    """``for`` loops directly in an ``async def`` whose target binds plain names, in source order."""
    model = analyses(SemanticModel)
    out = []
    for node in analyses(NodeIndex).in_source_order(ast.For, ast.AsyncFor):
        if _target_names(node.target):
            scope = model.scope_of(node)
            if scope.kind == "function" and scope.in_async:
                out.append((node, scope))
    return out


def _fan_outs(analyses: Analyses) -> Iterator[tuple[ast.For | ast.AsyncFor, str, list[ast.Call], Scope]]:
    """Loops that await a send to each connection; a loop with evidence marks its collection as
    holding connections for the others (two rounds)."""
    conns = analyses(Connections)
    calls = analyses(ProjectCalls) if analyses.facts.callees else None
    loops = _loops(analyses)
    done: dict[int, tuple[str, list[ast.Call]]] = {}
    for _ in range(2):
        for loop, scope in loops:
            if id(loop) in done:
                continue
            sends, shared_reply = _Loop(loop, scope, conns, calls).sends()
            if sends and not shared_reply:
                done[id(loop)] = (sends[0][1], [c for c, _ in sends])
                conns.learn(loop.iter, loop.target, sends[0][1])
    for loop, scope in loops:
        if id(loop) in done:
            yield loop, *done[id(loop)], scope


# -- the fix plan (ast): which body shapes can be gathered -----------------------------------------


_NAMES_OF: dict[type, Any] = {
    ast.Name: lambda n: [n.id],
    ast.Attribute: lambda n: [n.attr],
    ast.keyword: lambda n: [n.arg] if n.arg else [],
    ast.arg: lambda n: [n.arg],
    ast.FunctionDef: lambda n: [n.name],
    ast.AsyncFunctionDef: lambda n: [n.name],
    ast.ClassDef: lambda n: [n.name],
    ast.alias: lambda n: [(n.asname or n.name).split(".")[0]],
    ast.Global: lambda n: n.names,
    ast.Nonlocal: lambda n: n.names,
    ast.ExceptHandler: lambda n: [n.name] if n.name else [],
}


def _identifiers(node: ast.AST) -> set[str]:
    """Every identifier a fresh name must avoid: names, attributes, keywords, parameters, defs."""
    out: set[str] = set()
    for n in ast.walk(node):
        names = _NAMES_OF.get(type(n))
        if names is not None:
            out.update(names(n))
    return out


def _fresh(base: str, used: set[str]) -> str:
    if base not in used:
        return base
    i = 1
    while f"{base}_{i}" in used:
        i += 1
    return f"{base}_{i}"


def _escapes(nodes: Sequence[ast.AST], in_loop: bool = False) -> bool:
    """``break``/``continue`` of the loop itself, or ``return``/``yield``/``nonlocal``/``global``.
    Nested scopes are skipped; ``break``/``continue`` in a nested loop's body are that loop's."""
    return any(_escapes_at(node, in_loop) for node in nodes)


def _escapes_at(node: ast.AST, in_loop: bool) -> bool:
    if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom, ast.Nonlocal, ast.Global)):
        return True
    if isinstance(node, (ast.Break, ast.Continue)):
        return not in_loop
    if isinstance(node, _SCOPES):
        return False
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        head = node.test if isinstance(node, ast.While) else node.iter
        return _escapes(node.body, True) or _escapes([head, *node.orelse], in_loop)
    return _escapes(list(ast.iter_child_nodes(node)), in_loop)


class _ReadAfter:
    """Whether a loop-target name is read after the loop (source order) before being rebound:
    a later ``for name in ...`` or ``name = ...`` rebinds it first, which is not a read."""

    def __init__(self, loop: ast.AST, names: Sequence[str]) -> None:
        self.loop, self.pending, self.passed = loop, set(names), False

    def reads(self, node: ast.AST) -> bool:
        if not self.pending:
            return False
        if node is self.loop:
            self.passed = True
            return False
        if self.passed and self._reads_here(node):
            return True
        return any(self.reads(child) for child in ast.iter_child_nodes(node))

    def _reads_here(self, node: ast.AST) -> bool:
        if isinstance(node, (ast.For, ast.AsyncFor)):
            value, bound = node.iter, set(_target_names(node.target) or ())
        elif isinstance(node, ast.Assign):
            value, bound = node.value, {t.id for t in node.targets if isinstance(t, ast.Name)}
        else:
            return isinstance(node, ast.Name) and node.id in self.pending
        if _names_in(value) & self.pending:
            return True
        self.pending -= bound
        return False


def _plain_send(value: ast.expr | None, sends: Sequence[ast.Call]) -> bool:
    """``await <call>`` where the call holds a send and nothing that cannot go in a genexp."""
    if not (isinstance(value, ast.Await) and isinstance(value.value, ast.Call)):
        return False
    inner = list(ast.walk(value.value))
    if not any(n in sends for n in inner):
        return False
    return not any(isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)) for n in inner)


def _is_one(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) is int and expr.value == 1


def _incremented(inc: ast.stmt) -> ast.expr | None:
    """What ``x += 1`` or ``x = x + 1`` increments, else None."""
    if isinstance(inc, ast.AugAssign):
        return inc.target if isinstance(inc.op, ast.Add) and _is_one(inc.value) else None
    if not (isinstance(inc, ast.Assign) and len(inc.targets) == 1 and isinstance(inc.value, ast.BinOp)):
        return None
    value, target = inc.value, inc.targets[0]
    same = ast.unparse(value.left) == ast.unparse(target)
    return target if isinstance(value.op, ast.Add) and _is_one(value.right) and same else None


def _counter(inc: ast.stmt) -> ast.expr | None:
    """The counter of ``count += 1`` / ``count = count + 1`` (a name or ``obj.attr``)."""
    target = _incremented(inc)
    if isinstance(target, ast.Name) or (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
        return target
    return None


_BINDS: dict[type, Any] = {
    ast.Name: lambda n: [n.id] if isinstance(n.ctx, ast.Store) else [],
    ast.alias: lambda n: [(n.asname or n.name).split(".")[0]],
    ast.arg: lambda n: [n.arg],
    ast.ExceptHandler: lambda n: [n.name] if n.name else [],
}
_OWN_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _bound_in(nodes: Sequence[ast.AST], skip: ast.AST | None = None) -> set[str]:
    """Names bound by assignment-like statements (nested scopes: only their own name)."""
    out: set[str] = set()
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if node is skip or isinstance(node, _OWN_SCOPES):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
            continue
        out.update(_BINDS.get(type(node), lambda n: [])(node))
        todo.extend(ast.iter_child_nodes(node))
    return out


def _try_nonlocals(function: ast.AST, loop: ast.AST, stmt: ast.Try, params: Sequence[str]) -> tuple[str, ...] | None:
    """The names the try statement rebinds that the new function must declare ``nonlocal``: a
    rebound name the enclosing function binds too; None (no fix) when it only reads it."""
    handler_names = {h.name for h in stmt.handlers if h.name}
    rebound = _bound_in([stmt]) - set(params) - handler_names
    args = getattr(function, "args", None)
    outer_bound = _bound_in([args] if args is not None else []) | _bound_in(getattr(function, "body", []), skip=loop)
    outside = _names_outside(function, loop)
    nonlocals = []
    for name in sorted(rebound):
        if name in outer_bound:
            nonlocals.append(name)
        elif name in outside:
            return None
    return tuple(nonlocals)


def _names_outside(function: ast.AST, loop: ast.AST) -> set[str]:
    """Every identifier of ``function`` outside ``loop``."""
    out: set[str] = set()
    todo = [function]
    while todo:
        node = todo.pop()
        if node is loop:
            continue
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _plan(loop: ast.For | ast.AsyncFor, sends: Sequence[ast.Call], function: ast.AST) -> _Plan | None:
    """The fix for the loop's body, or None when it has none."""
    if not _replaceable(loop, function):
        return None
    stmt, used = loop.body[0], _identifiers(function)
    if isinstance(stmt, ast.Expr):
        return _Plan("single", _fresh("tg", used)) if _plain_send(stmt.value, sends) else None
    if isinstance(stmt, ast.If):
        return _plan_count(stmt, sends, used)
    if isinstance(stmt, ast.Try) and stmt.handlers:
        return _plan_try(loop, stmt, sends, function, used)
    return None


def _replaceable(loop: ast.For | ast.AsyncFor, function: ast.AST) -> bool:
    """A plain ``for`` (an async iterator cannot be gathered) with one statement, no ``else``,
    whose variable is not read after it (a gathered generator does not bind it)."""
    if isinstance(loop, ast.AsyncFor) or loop.orelse or len(loop.body) != 1:
        return False
    return not _ReadAfter(loop, _target_names(loop.target) or []).reads(function)


def _plan_count(stmt: ast.If, sends: Sequence[ast.Call], used: set[str]) -> _Plan | None:
    """``if [not] await send(...): count += 1``."""
    test = stmt.test.operand if isinstance(stmt.test, ast.UnaryOp) and isinstance(stmt.test.op, ast.Not) else stmt.test
    if stmt.orelse or len(stmt.body) != 1 or not _plain_send(test, sends):
        return None
    counter = _counter(stmt.body[0])
    if counter is None:
        return None
    return _Plan("count", _fresh("results", used), var="ok" if _root(counter) == "r" else "r")


def _plan_try(
    loop: ast.For | ast.AsyncFor, stmt: ast.Try, sends: Sequence[ast.Call], function: ast.AST, used: set[str]
) -> _Plan | None:
    """``try: await send(...) except E: handler`` moved into an inner coroutine."""
    if not any(n in sends for s in stmt.body for n in ast.walk(s)) or _escapes([stmt]):
        return None
    elts = loop.target.elts if isinstance(loop.target, (ast.Tuple, ast.List)) else [loop.target]
    params = tuple(e.id for e in elts if isinstance(e, ast.Name))
    if len(params) != len(elts):
        return None
    nonlocals = _try_nonlocals(function, loop, stmt, params)
    if nonlocals is None:
        return None
    return _Plan("try", _fresh("_send_one", used), params=params, nonlocals=nonlocals)


# -- the fix (libcst), from the loop at the finding's span -----------------------------------------


def _paren(expr: cst.BaseExpression) -> cst.BaseExpression:
    """Parenthesize an iterable that would not read right after ``for x in`` of a genexp."""
    if type(expr).__name__ in _ATOMS or expr.lpar:
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _single(body: cst.BaseSuite) -> cst.CSTNode | None:
    """The one statement of a loop body (a small statement, or a compound one), else None."""
    if isinstance(body, cst.SimpleStatementSuite):
        return body.body[0] if len(body.body) == 1 else None
    if len(body.body) != 1:
        return None
    stmt = body.body[0]
    if isinstance(stmt, cst.SimpleStatementLine):
        return stmt.body[0] if len(stmt.body) == 1 else None
    return stmt


def _comments_in(body: cst.CSTNode, keep: cst.CSTNode | None) -> list[cst.Comment]:
    """The comments under ``body`` in source order, not looking inside ``keep``."""
    found: list[cst.Comment] = []
    todo = [body]
    while todo:
        node = todo.pop()
        if isinstance(node, cst.Comment):
            found.append(node)
        if node is not keep:
            todo.extend(reversed(children(node)))
    return found


def _comments(
    updated: cst.For, keep: cst.CSTNode | None
) -> tuple[list[cst.EmptyLine], cst.TrailingWhitespace | None]:
    """The comments of a loop body that is replaced (``keep`` is carried over with its own).

    The loop header's comment stays at the end of the first new line; the others become
    comment lines above it, in source order.
    """
    body = updated.body
    header = body.header if isinstance(body, cst.IndentedBlock) else cast(cst.SimpleStatementSuite, body).trailing_whitespace
    trailing = header if header.comment is not None else None
    lines = [cst.EmptyLine(comment=c) for c in _comments_in(body, keep) if trailing is None or c is not trailing.comment]
    return lines, trailing


def _line(small: cst.BaseSmallStatement, leading: Sequence[cst.EmptyLine] = (), trailing=None) -> cst.SimpleStatementLine:
    kw = {"trailing_whitespace": trailing} if trailing is not None else {}
    return cst.SimpleStatementLine(body=[small], leading_lines=list(leading), **kw)


def _gather(elt: cst.BaseExpression, target: cst.BaseAssignTargetExpression, it: cst.BaseExpression) -> cst.Await:
    gen = cst.GeneratorExp(
        elt=elt.with_changes(lpar=[], rpar=[]) if isinstance(elt, cst.Call) else elt,
        for_in=cst.CompFor(target=target, iter=_paren(it)),
    )
    return cst.Await(
        cst.Call(
            func=cst.Attribute(cst.Name("asyncio"), cst.Name("gather")),
            args=[cst.Arg(gen, star="*")],
        )
    )


_LINE_LENGTH = 88  # ruff's and black's default


def _wrap_gather(unit: str, comment: cst.TrailingWhitespace) -> cst.CSTTransformer:
    """``asyncio.gather(*(...))`` with its argument on a line of its own (the transformer's class
    is made on use: libcst is imported lazily, see ``wsrefactor.lazy``)."""

    class WrapGather(cst.CSTTransformer):
        def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
            func = updated_node.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "gather" and len(updated_node.args) == 1):
                return updated_node
            return updated_node.with_changes(
                whitespace_before_args=cst.ParenthesizedWhitespace(
                    first_line=comment, indent=True, last_line=cst.SimpleWhitespace(unit)
                ),
                args=[updated_node.args[0].with_changes(whitespace_after_arg=cst.ParenthesizedWhitespace(indent=True))],
            )

    return WrapGather()


def _fit(line: cst.SimpleStatementLine, indent: int, unit: str) -> cst.SimpleStatementLine:
    """Break a gather line that would be longer than the usual limit."""
    code = cst.Module(body=[]).code_for_node(line.with_changes(leading_lines=[], trailing_whitespace=cst.TrailingWhitespace()))
    if indent + len(code.rstrip("\n")) <= _LINE_LENGTH:
        return line
    # The loop header's comment stays on the first line, after the opening parenthesis.
    wrapped = line.with_changes(trailing_whitespace=cst.TrailingWhitespace())
    return wrapped.visit(_wrap_gather(unit, line.trailing_whitespace))  # type: ignore[return-value]


class SequentialBroadcast(SemanticRule):
    """
    ## What it does
    Finds `for` loops in `async def` functions that await a send to each connection of a
    collection in turn: a send method of the loop value (`await ws.send_text(...)`,
    `await user.websocket.send(...)`), or a call that hands the loop value to a function whose
    body sends on it (`await self.send_personal_message(msg, ws)`, `await send_to(ws, msg)`,
    `await self.send_message(event, data)` where `send_message` sends on `event.websocket`), or a
    Channels layer `send(channel_name, ...)`. Values looked up by the loop target count too
    (`for client_id in ids: conn = self.active.get(client_id); await conn.send_text(...)`).

    It reports only on evidence that the value is a connection, never on what it is called:
    its type (an annotation or constructor naming a connection class, also through containers:
    `dict[str, WebSocket]` read through `.items()`), a connection-only method (`send_text`,
    `send_json`, `send_bytes`, `send_str`, `write_message`), a `try` around the send that catches
    a WebSocket library's exception (`ConnectionClosed`, `WebSocketDisconnect`), the collection it
    comes from (connections are added to it, or another loop of the module sends to its elements
    as connections), or the callee's body. A loop sending several items over ONE connection
    (`for item in items: await ws.send_json(item)`) is not a fan-out, and a loop over values of
    unknown kind calling a generic `send()` (`for element in message.elements: await
    element.send(client)`) is left alone: where it would have to guess, the rule stays silent.
    See `wsrefactor/semantic/broadcast.py` for the evidence tables.

    ## Why is this bad?
    Each send waits for the previous client: one slow client (a full TCP buffer, a stalled
    proxy, a mobile link) delays every client after it, and the broadcast takes the *sum* of
    the clients' latencies instead of the slowest one. Sending concurrently changes how errors
    behave, which is why the fix is *unsafe*:

    - the loop stops at the first exception: later connections get nothing, and the exception
      propagates;
    - `asyncio.gather(...)` (without `return_exceptions`) propagates the first exception too,
      but the other sends have all been started and run on to completion (they are not
      cancelled, and their own errors are retrieved and dropped);
    - `asyncio.TaskGroup` (the `use-taskgroup` variant) cancels the sibling sends on the first
      failure and raises an `ExceptionGroup`, so callers that catch the plain exception around
      the broadcast need `except*` instead. `TaskGroup.create_task` needs a coroutine, where
      `gather` accepts any awaitable.

    The loop also iterates the live collection across awaits: if another task connects or
    disconnects meanwhile, a `dict` or `set` raises `RuntimeError: ... changed size during
    iteration` and a `list` silently skips a connection. Both fixed forms build every send
    coroutine (or task) before the first suspension, so the collection is read in one go.
    Counting successes (`if await send(...): count += 1`) gives the same count unless a send
    raises: the loop counted the earlier ones, the gathered form counts none.

    ## Example
    ```python
    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)
    ```

    ## Use instead
    ```python
    async def broadcast(self, message: str) -> None:
        await asyncio.gather(
            *(connection.send_text(message) for connection in self.active_connections)
        )
    ```
    The fix handles three loop bodies and adds `import asyncio`:

    - a single awaited send: it becomes one `asyncio.gather` over a generator (no fix for
      `async for`: an async iterator cannot be gathered without collecting it first);
    - `if await send(...): count += 1`: `results = await asyncio.gather(...)` then
      `count += sum(1 for r in results if r)`;
    - `try: await send(...) except E as e: handler`: the body moves into an inner
      `async def _send_one(ws)` defined right before the loop's position, gathered over the
      collection; the parameter keeps the loop variable's name, so a handler such as
      `dead.append(ws)` keeps working, and names the handler rebinds are declared `nonlocal`.
      A handler with `break`, `continue` or `return` cannot be carried over: no fix.

    Other bodies are reported without a fix, and so are loops whose variable is still used
    after the loop.

    ## Options
    - `use-taskgroup` (bool, default `false`): with `target-version` 3.11 or later, fix the
      single-send shape with `async with asyncio.TaskGroup() as tg:` and `tg.create_task(...)`
      in the loop instead of `asyncio.gather` (siblings are cancelled on the first failure).
    """

    code = "WS203"
    name = "sequential-broadcast"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "broadcast awaits each connection in turn; one slow client delays all the others"
    tokens = ("send",)
    uses_project_facts = True  # how other modules call this one (analyses.facts)
    fix_node_types = ("For",)
    options = (
        Option(
            "use-taskgroup",
            bool,
            False,
            "fix the single-send shape with asyncio.TaskGroup (target-version >= 3.11)",
        ),
    )

    VALID = [
        Valid("""
            async def stream(ws, items):
                for item in items:
                    await ws.send_json(item)
        """),
        Valid("""
            async def echo(websocket):
                async for message in websocket:
                    await websocket.send(message)
        """),
        Valid("""
            def broadcast(connections, message):
                for ws in connections:
                    ws.send(message)
        """),
        Valid("""
            import asyncio
            async def broadcast(connections, message):
                coros = []
                for ws in connections:
                    coros.append(ws.send_text(message))
                await asyncio.gather(*coros)
        """),
        Valid("""
            async def replay(self, websocket, history):
                for entry in history:
                    await self.send_personal_message(entry, websocket)
        """),
        Valid("""
            import asyncio
            async def broadcast(connections, message):
                for ws in connections:
                    asyncio.get_running_loop().call_soon(ws.close)
                    def later():
                        return ws.send(message)
        """),
    ]
    INVALID = [
        Invalid(
            """
            class ConnectionManager:
                async def broadcast(self, message: str):
                    for connection in self.active_connections:
                        await connection.send_text(message)
            """,
            """
            import asyncio


            class ConnectionManager:
                async def broadcast(self, message: str):
                    await asyncio.gather(
                        *(connection.send_text(message) for connection in self.active_connections)
                    )
            """,
            lines=(3,),
        ),
        # the callee's body says the loop target is a connection
        Invalid(
            """
            import asyncio

            class Hub:
                async def send_personal_message(self, message, websocket):
                    await websocket.send_text(message)

                async def notify(self, msg):
                    for user_id, ws in self.active.items():
                        await self.send_personal_message(msg, ws)
            """,
            """
            import asyncio

            class Hub:
                async def send_personal_message(self, message, websocket):
                    await websocket.send_text(message)

                async def notify(self, msg):
                    await asyncio.gather(
                        *(self.send_personal_message(msg, ws) for user_id, ws in self.active.items())
                    )
            """,
            lines=(8,),
        ),
        Invalid(
            """
            import asyncio
            from aiohttp import web

            async def broadcast(clients: list[web.WebSocketResponse], data):
                sent = 0
                for client in clients:
                    if await client.send_message(data):
                        sent += 1
                return sent
            """,
            """
            import asyncio
            from aiohttp import web

            async def broadcast(clients: list[web.WebSocketResponse], data):
                sent = 0
                results = await asyncio.gather(*(client.send_message(data) for client in clients))
                sent += sum(1 for r in results if r)
                return sent
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import asyncio

            async def broadcast(self, message):
                dead = []
                for ws in self.connections:
                    try:
                        await ws.send_text(message)
                    except ConnectionError:
                        dead.append(ws)
                for ws in dead:
                    self.connections.remove(ws)
            """,
            """
            import asyncio

            async def broadcast(self, message):
                dead = []
                async def _send_one(ws):
                    try:
                        await ws.send_text(message)
                    except ConnectionError:
                        dead.append(ws)
                await asyncio.gather(*(_send_one(ws) for ws in self.connections))
                for ws in dead:
                    self.connections.remove(ws)
            """,
            lines=(5,),
        ),
        Invalid(
            """
            import asyncio

            async def send_to(ws, message):
                await ws.send_json(message)

            async def broadcast(room, message):
                for ws in room.members:
                    await send_to(ws, message)
            """,
            """
            import asyncio

            async def send_to(ws, message):
                await ws.send_json(message)

            async def broadcast(room, message):
                async with asyncio.TaskGroup() as tg:
                    for ws in room.members:
                        tg.create_task(send_to(ws, message))
            """,
            lines=(7,),
            options={"use-taskgroup": True},
            target_version="py311",
        ),
        Invalid(
            """
            from websockets.asyncio.server import ServerConnection

            async def broadcast(sockets: list[ServerConnection], message):
                async for ws in sockets:
                    await ws.send(message)
                for ws in sockets:
                    if ws.open:
                        await ws.send(message)
                for ws in sockets:
                    try:
                        await ws.send(message)
                    except OSError:
                        break
            """,
            lines=(4, 6, 9),
        ),
    ]

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        for loop, conn, sends, scope in _fan_outs(analyses):
            plan = _plan(loop, sends, scope.node)
            msg = f"sequential broadcast: the send to each `{conn}` waits for the previous one; one slow client delays all the others"
            if isinstance(loop, ast.AsyncFor):
                msg += " (async for: no automatic fix)"
            yield detect_at(analyses, loop, msg, fixable=plan is not None, data=plan)

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        plan: _Plan = detection.data
        if not isinstance(node, cst.For):
            return None
        indent, unit = detection.column - 1, self.ctx.module.default_indent
        if plan.shape == "count":
            return _fix_count(node, plan, indent, unit)
        if plan.shape == "try":
            return _fix_try(node, plan, indent, unit)
        if self.opts["use-taskgroup"] and self.ctx.target_version >= (3, 11):
            return Fix(
                FixSafety.UNSAFE,
                "start every send in an asyncio.TaskGroup",
                replacements={node: lambda updated: _in_taskgroup(cast(cst.For, updated), plan.name)},
                imports=(("asyncio", None),),
            )
        return _fix_single(node, indent, unit)


def _fix_single(node: cst.For, indent: int, unit: str) -> Fix:
    def gathered(node: cst.CSTNode) -> Any:
        updated = cast(cst.For, node)
        single = _single(updated.body)
        call = single.value.expression  # type: ignore[union-attr]
        lines, trailing = _comments(updated, call)
        line = _line(
            cst.Expr(_gather(call, updated.target, updated.iter)),
            [*updated.leading_lines, *lines],
            trailing,
        )
        return _fit(line, indent, unit)

    return Fix(
        FixSafety.UNSAFE,
        "send to every connection concurrently with asyncio.gather",
        replacements={node: gathered},
        imports=(("asyncio", None),),
    )


def _fix_count(node: cst.For, plan: _Plan, indent: int, unit: str) -> Fix:
    results, var = plan.name, plan.var

    def counted(node: cst.CSTNode) -> Any:
        updated = cast(cst.For, node)
        if_stmt = _single(updated.body)
        test = if_stmt.test  # type: ignore[union-attr]
        negate = isinstance(test, cst.UnaryOperation)
        if isinstance(test, cst.UnaryOperation):
            test = test.expression
        call = test.expression  # type: ignore[attr-defined]
        inc_stmt = _single(if_stmt.body)  # type: ignore[union-attr]
        target = inc_stmt.target if isinstance(inc_stmt, cst.AugAssign) else inc_stmt.targets[0].target  # type: ignore[union-attr]
        lines, trailing = _comments(updated, call)
        cond = f"not {var}" if negate else var
        total = cst.parse_expression(f"sum(1 for {var} in {results} if {cond})")
        first = _fit(
            _line(
                cst.Assign(
                    targets=[cst.AssignTarget(cst.Name(results))],
                    value=_gather(call, updated.target, updated.iter),
                ),
                [*updated.leading_lines, *lines],
                trailing,
            ),
            indent,
            unit,
        )
        second = _line(
            cst.AugAssign(target=target.with_changes(lpar=[], rpar=[]), operator=cst.AddAssign(), value=total)
        )
        return cst.FlattenSentinel([first, second])

    return Fix(
        FixSafety.UNSAFE,
        "send concurrently with asyncio.gather and count the successful results",
        replacements={node: counted},
        imports=(("asyncio", None),),
    )


def _fix_try(node: cst.For, plan: _Plan, indent: int, unit: str) -> Fix:
    helper, params, nonlocals = plan.name, plan.params, plan.nonlocals

    def carried(node: cst.CSTNode) -> Any:
        updated = cast(cst.For, node)
        body = updated.body
        if not isinstance(body, cst.IndentedBlock):
            return updated  # not reached: a loop holding a try statement has an indented body
        inner: list[cst.BaseStatement] = []
        if nonlocals:
            inner.append(_line(cst.Nonlocal([cst.NameItem(cst.Name(n)) for n in nonlocals])))
        inner.extend(body.body)
        define = cst.FunctionDef(
            name=cst.Name(helper),
            params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in params]),
            body=body.with_changes(body=inner),
            asynchronous=cst.Asynchronous(),
            leading_lines=updated.leading_lines,
        )
        elt = cst.Call(func=cst.Name(helper), args=[cst.Arg(cst.Name(p)) for p in params])
        run = _fit(_line(cst.Expr(_gather(elt, updated.target, updated.iter))), indent, unit)
        return cst.FlattenSentinel([define, run])

    return Fix(
        FixSafety.UNSAFE,
        "move the guarded send into an inner coroutine and gather it over the connections",
        replacements={node: carried},
        imports=(("asyncio", None),),
    )


def _in_taskgroup(updated: cst.For, tg: str) -> cst.CSTNode:
    """``async with asyncio.TaskGroup() as tg:`` around the loop, each send started as a task."""

    def swap(small: cst.BaseSmallStatement) -> cst.BaseSmallStatement:
        call = small.value.expression  # type: ignore[attr-defined]
        create = cst.Call(func=cst.Attribute(cst.Name(tg), cst.Name("create_task")), args=[cst.Arg(call)])
        return small.with_changes(value=create)

    body = updated.body
    if isinstance(body, cst.SimpleStatementSuite):
        body = body.with_changes(body=[swap(body.body[0])])
    else:
        line = cast(cst.SimpleStatementLine, body.body[0])
        body = body.with_changes(body=[line.with_changes(body=[swap(line.body[0])])])
    inner = updated.with_changes(body=body, leading_lines=[])
    return cst.With(
        items=[
            cst.WithItem(
                cst.Call(func=cst.Attribute(cst.Name("asyncio"), cst.Name("TaskGroup"))),
                asname=cst.AsName(cst.Name(tg)),
            )
        ],
        body=cst.IndentedBlock(body=[inner]),
        asynchronous=cst.Asynchronous(),
        leading_lines=updated.leading_lines,
    )


