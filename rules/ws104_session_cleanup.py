"""WS104 session-not-invalidated: a registered connection is not removed on every way out of the handler."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, SemanticRule, Valid
from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.callgraph import CallGraph
from wsrefactor.semantic.detection import Detection
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.registrations import (
    FUNCTION_DEFS,
    EndpointRegistrations,
    Registration,
    Registrations,
    call_arguments,
    callee_name,
    last_name,
    walk_own,
)
from wsrefactor.semantic.server import ServerModel

# Undo names by registration name (explicit pairs first: the fix uses the first existing one).
_PAIRS: dict[str, tuple[str, ...]] = {
    "connect": ("disconnect",), "register": ("unregister", "deregister"), "join": ("leave",),
    "subscribe": ("unsubscribe",), "attach": ("detach",), "track": ("untrack",),
    "add_connection": ("remove_connection",), "group_add": ("group_discard",),
    "enter_room": ("leave_room",), "add": ("discard", "remove"), "append": ("remove", "discard"),
    "appendleft": ("remove", "discard"), "insert": ("remove", "discard"), "setdefault": ("pop",),
    "__setitem__": ("pop",),
}
# Word-level pairs: add_client/remove_client, register_user/unregister_user, on_join/on_leave.
_WORDS: dict[str, tuple[str, ...]] = {
    "connect": ("disconnect",), "register": ("unregister", "deregister"), "join": ("leave",),
    "subscribe": ("unsubscribe",), "add": ("remove", "discard", "del", "delete"), "attach": ("detach",),
    "track": ("untrack",), "enter": ("leave", "exit"),
}
# Cleanup-looking calls on the same receiver also count as an undo (no false alarm when the
# manager's method is called `remove`, `cleanup` or `release`).
_CLEANUP_PREFIXES = ("disconnect", "unregister", "deregister", "remove", "discard", "leave", "unsubscribe",
                     "cleanup", "clean_up", "release", "drop", "detach", "untrack")
_BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})
# Class endpoints: where connections are registered, where they must be undone.
_CLOSE_METHODS = {
    "channels": ("disconnect", "websocket_disconnect"),
    "asgi-class": ("on_disconnect",),
    "tornado": ("on_close",),
    "socketio": ("disconnect",),
}
_PATHS = (("disconnect", "the client disconnects"), ("exception", "the handler raises"),
          ("return", "the handler returns early"), ("before", "a call before the `try` raises"))
_ALL_PATHS = frozenset(key for key, _ in _PATHS)


def undo_names(method: str) -> tuple[str, ...]:
    """Names that undo a registration called ``method`` (``connect`` -> ``disconnect``...)."""
    out = list(_PAIRS.get(method, ()))
    words = method.split("_")
    for i, word in enumerate(words):
        for other in _WORDS.get(word, ()):
            out.append("_".join([*words[:i], other, *words[i + 1:]]))
    out.append("un" + method)
    return tuple(dict.fromkeys(n for n in out if n != method))


_FunctionDef = ast.FunctionDef | ast.AsyncFunctionDef
_Span = tuple[tuple[int, int], tuple[int, int]]
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.FunctionDef,
             ast.AsyncFunctionDef, ast.ClassDef, ast.Match, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
_TRIES = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


@dataclass(frozen=True)
class _Reg:
    """A registration, reduced to what pairs it with its undo."""

    method: str
    receiver: str | None

    def undone_by(self, name: str | None, recv: str | None) -> bool:
        if name is None:
            return False
        exact = recv is not None and recv == self.receiver
        if self.method in ("__setitem__", "setdefault"):
            return name == "pop" and exact
        if exact and name.startswith(_CLEANUP_PREFIXES):
            return True
        return (recv is None or self.receiver is None or exact) and name in undo_names(self.method)


def _reg_of(write: Registration) -> _Reg:
    return _Reg(write.method, write.receiver)


@dataclass(frozen=True)
class _Plan:
    """The fix decided in ``detect``: the undo statement, the registration's statement (the
    ``try`` starts after it, or the next statement is the ``try`` that gets the ``finally``), and
    the existing undo statements to delete. Spans: ((line, column), (line, column)), 0-based
    character columns as libcst's positions."""

    undo: str
    statement: _Span
    into_next_try: bool
    removals: tuple[_Span, ...]


class SessionNotInvalidated(SemanticRule):
    """
    ## What it does
    Finds WebSocket endpoints that register the connection (`clients[key] = ws`,
    `clients.add(ws)`, `clients.append(ws)`, a same-module function or method that does one of
    these with it, e.g. `await manager.connect(ws)`, Channels `group_add`; also an instance of a
    same-module class built with the connection, `session = Session(ws, name)`, stored the same
    way) where some way out of the handler leaves it registered. Whether a call registers is
    decided from the callee's body: a `connect()` that only accepts is no registration. A callee
    of another module of the project (an imported manager, `await manager.connect(ws)` with
    `manager.py`'s `connect` appending the socket) is judged from its body through the project's
    cross-module facts: it registers when it stores the connection (directly or through its own
    callees) and never removes it; a callee that also removes it (its own `try/finally`) is no
    leak at its call site, and a callee whose body is not in the project (a library, a file not
    checked) is never taken for a registration by its name (the rule stays silent there). A
    helper that undoes its own registration in a `finally` is no leak at its call site. A call
    whose callee (any module) removes the connection counts as an undo, whatever its name.

    - FastAPI/Starlette function endpoints and `websockets` handlers: the undo (paired by name:
      connect/disconnect, add/discard|remove, register/unregister, join/leave,
      subscribe/unsubscribe, group_add/group_discard, enter_room/leave_room, append/remove,
      `reg[k] = ws`/`reg.pop(k)`|`del reg[k]`, or a cleanup-named call on the same object, also
      inside a same-module helper called there) is not in a `finally`. An undo in
      `except WebSocketDisconnect:` covers a client disconnect but not an exception raised by the
      handler (a broad `except Exception:`/bare `except:` covers both) nor an early `return`;
      the message says which path leaks. A `finally` that undoes it does not cover a call made
      between the registration and its `try` (an `await` there is reported as "a call before the
      `try` raises",
      without a fix: the `try` has to start right after the registration).
    - Django Channels consumers: a `group_add` (or another registration) without its undo in
      `disconnect` (Channels calls it on close).
    - Starlette `WebSocketEndpoint`: a registration without an undo in `on_disconnect`; tornado:
      in `on_close`; python-socketio: a registration of the sid in `disconnect` (rooms are left
      by socketio itself and are not reported, directly or through a helper).

    Reported on the registration call's line.

    ## Why is this bad?
    The registry outlives the connection. A client that drops, or a handler that raises, leaves a
    dead socket behind: every broadcast tries to send to it (and may fail or slow down for
    everyone), memory grows with every lost connection, and per-user state ("is online",
    presence, room membership) becomes wrong. Only `finally` runs on every way out.

    ## Example
    ```python
    clients: dict[str, WebSocket] = {}

    @app.websocket("/ws/{client_id}")
    async def endpoint(websocket: WebSocket, client_id: str):
        await websocket.accept()
        clients[client_id] = websocket
        while True:
            text = await websocket.receive_text()
            await broadcast(text)
    ```

    ## Use instead
    ```python
    @app.websocket("/ws/{client_id}")
    async def endpoint(websocket: WebSocket, client_id: str):
        await websocket.accept()
        clients[client_id] = websocket
        try:
            while True:
                text = await websocket.receive_text()
                await broadcast(text)
        finally:
            clients.pop(client_id, None)
    ```
    The fix is *unsafe* (cleanup now runs on paths that used to skip it) and is offered for
    function endpoints when the registration is a statement of the handler body (or of a `try`
    body there). It wraps everything after the registration in `try: ... finally: <undo>`, or,
    when the rest is a `try` (typically `except WebSocketDisconnect:`), adds the `finally` to
    that `try`. The undo is the handler's own undo statement when it has one, else: the paired
    method of the same-module manager class, its arguments matched to the registration's by
    parameter name, awaited when the registration was awaited and the undo is `async def` (an
    imported Channels layer's `group_discard` is awaited like its `group_add`); for another
    module's manager only the handler's own undo statement (its undo's name and parameters are
    not in view, so none is made up); `reg.pop(k, None)` for
    `reg[k] = ws`; `.discard(ws)` for `.add(ws)`; `.remove(ws)` for `.append(ws)`.
    An existing undo statement that would now run twice is moved into the `finally` when nothing
    runs between it and the `finally` (the last statement of an `except` body), or when it ran
    after the `try` anyway; elsewhere it is kept only if a second call is harmless (`pop(k, None)`,
    `discard`, a guarded `remove`, judged from the same-module implementation; another module's
    undo is never taken for harmless twice); otherwise no fix is
    offered (e.g. `except WebSocketDisconnect: manager.disconnect(ws); await manager.broadcast(...)`
    with a `list.remove` disconnect: moving the undo after the broadcast would send to the dead
    socket). Class-based endpoints are reported without a fix.

    ## Options
    None.
    """

    code = "WS104"
    name = "session-not-invalidated"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "registered WebSocket connection is not removed on every exit path"
    tokens = ("websocket", "WebSocket", "websockets", "socketio", "channels", "tornado")
    requires_any_import = ("fastapi", "starlette", "websockets", "tornado", "socketio", "flask_socketio", "channels")
    fix_node_types = ("Call", "Assign")
    uses_project_facts = True  # what another module's manager does with the connection (analyses.facts)

    VALID = [
        Valid("""
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            clients = set()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                clients.add(websocket)
                try:
                    while True:
                        await websocket.receive_text()
                finally:
                    clients.discard(websocket)
        """),
        Valid("""
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            clients = {}

            def forget(key):
                clients.pop(key, None)

            @app.websocket("/ws/{key}")
            async def endpoint(websocket: WebSocket, key: str):
                await websocket.accept()
                clients[key] = websocket
                try:
                    async for text in websocket.iter_text():
                        print(text)
                finally:
                    forget(key)
        """),
        Valid("""
            from fastapi import FastAPI, WebSocket, WebSocketDisconnect

            app = FastAPI()
            clients = []

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                clients.append(websocket)
                try:
                    while True:
                        await websocket.receive_text()
                except Exception:
                    pass
                clients.remove(websocket)
        """),
        Valid("""
            from channels.generic.websocket import AsyncWebsocketConsumer

            class Chat(AsyncWebsocketConsumer):
                async def connect(self):
                    await self.channel_layer.group_add("chat", self.channel_name)
                    await self.accept()

                async def disconnect(self, code):
                    await self.channel_layer.group_discard("chat", self.channel_name)
        """),
    ]
    INVALID = [
        Invalid(
            """
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            clients = set()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                clients.add(websocket)
                while True:
                    await websocket.receive_text()
            """,
            """
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            clients = set()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                clients.add(websocket)
                try:
                    while True:
                        await websocket.receive_text()
                finally:
                    clients.discard(websocket)
            """,
            lines=(9,),
        ),
        Invalid(
            """
            from fastapi import FastAPI, WebSocket, WebSocketDisconnect

            app = FastAPI()

            class Manager:
                def __init__(self):
                    self.active = {}

                async def connect(self, key, websocket):
                    await websocket.accept()
                    self.active[key] = websocket

                def disconnect(self, key):
                    self.active.pop(key, None)

            manager = Manager()

            @app.websocket("/ws/{key}")
            async def endpoint(websocket: WebSocket, key: str):
                await manager.connect(key, websocket)
                try:
                    while True:
                        await websocket.receive_text()
                except WebSocketDisconnect:
                    manager.disconnect(key)
            """,
            """
            from fastapi import FastAPI, WebSocket, WebSocketDisconnect

            app = FastAPI()

            class Manager:
                def __init__(self):
                    self.active = {}

                async def connect(self, key, websocket):
                    await websocket.accept()
                    self.active[key] = websocket

                def disconnect(self, key):
                    self.active.pop(key, None)

            manager = Manager()

            @app.websocket("/ws/{key}")
            async def endpoint(websocket: WebSocket, key: str):
                await manager.connect(key, websocket)
                try:
                    while True:
                        await websocket.receive_text()
                except WebSocketDisconnect:
                    pass
                finally:
                    manager.disconnect(key)
            """,
            lines=(20,),
        ),
        Invalid(
            """
            from channels.generic.websocket import AsyncWebsocketConsumer

            class Chat(AsyncWebsocketConsumer):
                async def connect(self):
                    await self.channel_layer.group_add("chat", self.channel_name)
                    await self.accept()

                async def disconnect(self, code):
                    pass
            """,
            lines=(5,),
        ),
    ]


    # -- detect ------------------------------------------------------------------------------------

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterable[Detection]:
        if not analyses(ServerModel).endpoints:
            return []
        return _Checker(analyses).run()

    # -- fix ---------------------------------------------------------------------------------------

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        """Rebuild the planned edit: the registration's statement and the undo statements to
        delete are found by their spans, the block and the ``try`` from the statement."""
        plan = detection.data
        if not isinstance(plan, _Plan):
            return None
        positions = self.ctx.positions
        parents = self.ctx.parents
        stmt = positions.find(*plan.statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        block = parents.get(stmt) if stmt is not None else None
        if not isinstance(block, cst.IndentedBlock):
            return None
        index = next(i for i, s in enumerate(block.body) if s is stmt)
        target = block.body[index + 1] if plan.into_next_try else None
        removals = [positions.find(*span, (cst.SimpleStatementLine,)) for span in plan.removals]
        if not _located(target, plan.into_next_try, removals):
            return None
        builder = _FixBuilder(self.ctx.module, parents, plan.undo, removals)
        return builder.build(block, index, target if isinstance(target, cst.Try) else None)


def _located(target: cst.CSTNode | None, into_next_try: bool, removals: Sequence[cst.CSTNode | None]) -> bool:
    """Every node the plan names was found where ``detect`` saw it."""
    return (isinstance(target, cst.Try) or not into_next_try) and all(r is not None for r in removals)


def _start(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


def _end(node: ast.AST) -> tuple[int, int]:
    return node.end_lineno, node.end_col_offset  # type: ignore[attr-defined]


def _stable(expr: ast.expr) -> bool:
    """Names, attributes, literals and subscripts of those: still valid in a ``finally``."""
    if isinstance(expr, ast.Name) or (isinstance(expr, ast.Constant) and not isinstance(expr.value, bool)
                                      and expr.value is not None and expr.value is not Ellipsis):
        return True
    if isinstance(expr, ast.Attribute):
        return _stable(expr.value)
    if isinstance(expr, ast.Subscript) and _single_index(expr):
        return _stable(expr.value) and _stable(expr.slice)
    return False


def _single_index(sub: ast.Subscript) -> bool:
    return not isinstance(sub.slice, (ast.Slice, ast.Tuple))


def _exits(body: Sequence[ast.stmt]) -> bool:
    """The block ends with ``raise``/``return`` (control never falls through past the try)."""
    return bool(body) and isinstance(body[-1], (ast.Raise, ast.Return))


def _at_tail(stmt: ast.AST, stmts: Sequence[ast.AST]) -> bool:
    """Nothing runs between ``stmt`` and the end of ``stmts`` (through ``try`` bodies/handlers)."""
    if not stmts:
        return False
    last = stmts[-1]
    if last is stmt:
        return True
    if not isinstance(last, ast.Try):
        return False
    regions: list[Sequence[ast.AST]] = [h.body for h in last.handlers]
    regions.append(last.orelse or last.body)
    return any(_at_tail(stmt, r) for r in regions)


def _deletes(node: ast.Delete, regs: Sequence[_Reg]) -> bool:
    """``del reg[k]`` undoes a ``reg[k] = ws``."""
    targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
    return any(isinstance(t, ast.Subscript) and r.undone_by("pop", last_name(t)) for t in targets for r in regs)


def _harmless_twice(call: ast.Call) -> bool:
    """An imported/builtin call that may run twice: anything but ``remove(x)`` / ``pop(k)``."""
    name, _ = callee_name(call)
    return name not in ("remove", "pop") or (name == "pop" and len(call.args) >= 2)


class _Checker:
    """The decision for one file: every registration of every endpoint, once."""

    def __init__(self, analyses: Analyses) -> None:
        self.analyses = analyses
        self.regs: Registrations = analyses(Registrations)
        self.server: ServerModel = analyses(ServerModel)
        self.model: SemanticModel = analyses(SemanticModel)
        self.graph: CallGraph = analyses(CallGraph)
        self._seen: set[int] = set()
        self.found: list[Detection] = []

    def run(self) -> list[Detection]:
        for er in self.regs.endpoints:
            kind = er.endpoint.kind
            if kind in ("asgi", "websockets") and er.handler is not None:
                for writes in self._groups([w for w in er.writes]):
                    self._check_function_group(er, writes)
            elif kind in _CLOSE_METHODS:
                self._check_class_endpoint(er)
        return self.found

    # -- structure -------------------------------------------------------------------------------

    def _code(self, node: ast.AST) -> str:
        return self.analyses.segment(node)

    def _span(self, node: ast.AST) -> _Span:
        line, end_line = _start(node)[0], _end(node)[0]
        column = self.analyses.char_column(line, _start(node)[1])
        end_column = self.analyses.char_column(end_line, _end(node)[1])
        return (line, column), (end_line, end_column)

    def _alone(self, stmt: ast.stmt, last_stmt: ast.stmt | None = None) -> bool:
        """``stmt`` (through ``last_stmt``) has its lines to itself (libcst: a
        ``SimpleStatementLine``, or a compound statement in an indented block): nothing before it
        on its first line, nothing but a comment after it on its last."""
        end = last_stmt if last_stmt is not None else stmt
        first = self.analyses.line(stmt.lineno).encode()
        last = self.analyses.line(end.end_lineno or end.lineno).encode()
        after = last[end.end_col_offset or 0:].strip()
        return not first[: stmt.col_offset].strip() and (not after or after.startswith(b"#"))

    def _ancestors(self, node: ast.AST, stop: ast.AST | None = None) -> Iterator[ast.AST]:
        current = self.server.parent(node)
        while current is not None and current is not stop:
            yield current
            current = self.server.parent(current)

    def _report(self, node: ast.AST, message: str, func: _FunctionDef | None, plan: _Plan | None) -> None:
        """A finding on ``node``: when a fix is planned, its statement is the handler (the fix
        rewrites its body); the fingerprint is the scope and the node's own code."""
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        (line, column), (end_line, end_column) = self._span(node)
        stmt = func if plan is not None and func is not None else node
        scope = self.model.scope_of(node).qualname
        self.found.append(Detection(
            line=line, column=column + 1, end_line=end_line, end_column=end_column + 1, message=message,
            fixable=plan is not None, stmt_line=_start(stmt)[0], stmt_end_line=_end(stmt)[0],
            context=f"{scope}:{' '.join(self._code(node).split())[:240]}", data=plan,
        ))

    def _groups(self, writes: Sequence[Registration]) -> list[list[Registration]]:
        """Writes by the handler statement they happen at (a helper's write and its call);
        ``put_nowait`` hands the connection to a consumer rather than registering it."""
        out: dict[int, list[Registration]] = {}
        for w in writes:
            if w.anchor is not None and not (w.kind == "store" and w.method == "put_nowait"):
                out.setdefault(id(w.anchor), []).append(w)
        return list(out.values())

    # -- function endpoints ----------------------------------------------------------------------

    def _levels(self, write: Registration) -> list[tuple[_FunctionDef, ast.AST]]:
        """(function, registration node there), from the write itself out to the handler."""
        levels: list[tuple[_FunctionDef, ast.AST]] = [(write.function, write.node)]
        for call in reversed(write.via):
            func = self.regs.def_of(call)
            if func is not None:
                levels.append((func, call))
        return levels

    def _reads_after(self, er: EndpointRegistrations, func: ast.AST, node: ast.AST) -> bool:
        """Whether the endpoint reads from the socket in ``func`` after (or around) ``node``."""
        for site in er.receives:
            for point in (*site.via, site.node):
                if self.regs.def_of(point) is not func:
                    continue
                loop = site.loop if point is site.node else self.server.enclosing_loop(point)
                inside = loop is not None and _start(loop) < _start(node) < _end(loop)
                if _start(point) > _start(node) or inside:
                    return True
        return False

    def _check_function_group(self, er: EndpointRegistrations, writes: list[Registration]) -> None:
        inner = max(writes, key=lambda w: len(w.via))
        levels = self._levels(inner)
        regs = [_reg_of(w) for w in writes]
        owner = self._owner(er, levels, regs)
        if owner is None:
            return
        leaks = set(_ALL_PATHS)
        for func, node in levels[owner:]:
            stmt = self.regs.statement_in(node, func)
            if stmt is None:
                return
            leaks &= self._leaks(func, stmt, regs)
            if not leaks:
                return
        func, node = levels[owner]
        # A call raising before a later ``try`` needs that ``try`` moved up, not a second ``finally``.
        fixable = func is er.handler and node is levels[-1][1] and "before" not in leaks
        plan = self._plan(er, func, node, inner, regs) if fixable else None
        self._report(node, self._message(node, leaks), er.handler, plan)

    def _owner(self, er: EndpointRegistrations, levels: Sequence[tuple[_FunctionDef, ast.AST]],
               regs: Sequence[_Reg]) -> int | None:
        """The level the registration is judged at: the innermost that reads from the socket after
        it (else the handler); None when a level inside it (a helper) undoes its own registration
        on every way out of it."""
        owner = next((i for i, (f, n) in enumerate(levels) if self._reads_after(er, f, n)), len(levels) - 1)
        if any(self._undone_within(func, node, regs) for func, node in levels[:owner]):
            return None
        return owner

    def _undone_within(self, func: _FunctionDef, node: ast.AST, regs: Sequence[_Reg]) -> bool:
        stmt = self.regs.statement_in(node, func)
        return stmt is not None and not self._leaks(func, stmt, regs)

    def _message(self, node: ast.AST, leaks: set[str]) -> str:
        text = " ".join(self._code(node).split())
        text = text if len(text) <= 60 else text[:57] + "..."
        paths = [words for key, words in _PATHS if key in leaks]
        when = ", ".join(paths[:-1]) + (" or " if len(paths) > 1 else "") + paths[-1]
        return f"`{text}` registers the connection, but it stays registered when {when}; undo it in a `finally`"

    # -- where the undo is -----------------------------------------------------------------------

    def _is_undo(self, node: ast.AST, regs: Sequence[_Reg]) -> bool:
        if isinstance(node, ast.Delete):
            return _deletes(node, regs)
        if isinstance(node, ast.Call):
            name, recv = callee_name(node)
            return any(r.undone_by(name, recv) for r in regs) or self.regs.project_unregisters(node)
        return False

    def _undoes(self, roots: Iterable[ast.AST], regs: Sequence[_Reg], depth: int = 3) -> bool:
        """Whether the code under ``roots`` (or a same-module function it calls) undoes ``regs``."""
        for root in roots:
            for node in (root, *walk_own(root)):
                if self._is_undo(node, regs):
                    return True
                if depth and isinstance(node, ast.Call):
                    target = self.regs.resolve(node)
                    if target is not None and self._undoes(target.body, regs, depth - 1):
                        return True
        return False

    def _tries(self, func: _FunctionDef, stmt: ast.AST) -> list[ast.Try]:
        """``try`` statements whose body holds ``stmt``, or that come after it."""
        out = []
        for node in walk_own(func):
            if isinstance(node, _TRIES):
                body = node.body
                around = _start(body[0]) <= _start(stmt) and _end(stmt) <= _end(body[-1])
                if around or _start(node) > _start(stmt):
                    out.append(node)
        return out

    def _handler_kind(self, handler: ast.ExceptHandler) -> str | None:
        if handler.type is None:
            return "broad"
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        kinds = {self._exception_kind(t) for t in types}
        return "broad" if "broad" in kinds else ("disconnect" if "disconnect" in kinds else None)

    def _exception_kind(self, expr: ast.expr) -> str | None:
        name = self.model.qualified_name(expr, self.model.scope_of(expr)) or last_name(expr) or ""
        short = name.rsplit(".", 1)[-1]
        if name in _BROAD or short in ("Exception", "BaseException"):
            return "broad"
        if short.endswith("Disconnect") or short.startswith("ConnectionClosed"):
            return "disconnect"
        return None

    def _undo_after(self, func: _FunctionDef, node: ast.AST, regs: Sequence[_Reg]) -> bool:
        later = [s for s in walk_own(func)
                 if isinstance(s, ast.stmt) and not isinstance(s, _COMPOUND) and _start(s) >= _end(node)]
        return self._undoes(later, regs)

    def _handler_cover(self, func: _FunctionDef, node: ast.Try, regs: Sequence[_Reg]) -> set[str]:
        covered: set[str] = set()
        for handler in node.handlers:
            kind = self._handler_kind(handler)
            if kind is None:
                continue
            if self._undoes(handler.body, regs) or (not _exits(handler.body) and self._undo_after(func, node, regs)):
                covered |= {"disconnect", "exception"} if kind == "broad" else {"disconnect"}
        return covered

    def _raises_between(self, func: _FunctionDef, stmt: ast.AST, node: ast.AST) -> bool:
        """An ``await`` runs after ``stmt`` and before the ``try`` ``node`` starts (``stmt`` not
        inside it): the ``finally`` does not cover it. Awaits only: each is a cancellation point
        and does I/O (a dropped client, Redis down), while a sync ``log.info(...)`` there is not
        worth a report."""
        if _start(node) < _start(stmt):
            return False
        lo, hi = _end(stmt), _start(node)
        return any(isinstance(n, ast.Await) and lo <= _start(n) < hi for n in walk_own(func))

    def _early_return(self, func: _FunctionDef, stmt: ast.AST) -> bool:
        for node in walk_own(func):
            if isinstance(node, ast.Return) and _start(node) >= _end(stmt):
                if not any(isinstance(a, ast.ExceptHandler) for a in self._ancestors(node, func)):
                    return True
        return False

    def _leaks(self, func: _FunctionDef, stmt: ast.AST, regs: Sequence[_Reg]) -> set[str]:
        """The exit paths of ``func`` after ``stmt`` that skip every undo of ``regs``."""
        leaks = {"disconnect", "exception"}
        for node in self._tries(func, stmt):
            if node.finalbody and self._undoes(node.finalbody, regs):
                return {"before"} if self._raises_between(func, stmt, node) else set()
            leaks -= self._handler_cover(func, node, regs)
        if self._early_return(func, stmt):
            leaks.add("return")
        return leaks

    # -- class endpoints -------------------------------------------------------------------------

    def _close_methods(self, er: EndpointRegistrations) -> list[_FunctionDef]:
        ep = er.endpoint
        if ep.kind == "socketio":
            return [h.node for h in ep.handlers if isinstance(h.node, FUNCTION_DEFS) and _event(h.node) == "disconnect"]
        cls = self.model.scopes.defined_by(ep.node)
        out = []
        for name in _CLOSE_METHODS[ep.kind]:
            method = self.graph.method(cls, name) if cls is not None else None
            if method is not None and isinstance(method.node, FUNCTION_DEFS):
                out.append(method.node)
        return out

    def _check_class_endpoint(self, er: EndpointRegistrations) -> None:
        closers = self._close_methods(er)
        for writes in self._groups(er.writes):
            node = writes[0].via[0] if writes[0].via else writes[0].node
            if self._class_write_ok(er, writes, node, closers):
                continue
            where = (f"`{closers[0].name}` does not undo it" if closers
                     else f"the class has no `{_CLOSE_METHODS[er.endpoint.kind][0]}` method to undo it")
            text = " ".join(self._code(node).split())[:60]
            self._report(node, f"`{text}` registers the connection, but {where}", None, None)

    def _class_write_ok(self, er: EndpointRegistrations, writes: Sequence[Registration], node: ast.AST,
                        closers: Sequence[_FunctionDef]) -> bool:
        if er.endpoint.kind == "socketio" and _only_joins(writes):
            return True  # socketio leaves every room of a disconnected client itself (also through a helper)
        root = self.regs.def_of(node)
        if root is None or any(root is c for c in closers):
            return True
        return self._undoes([s for c in closers for s in c.body], [_reg_of(w) for w in writes])

    # -- the fix plan ----------------------------------------------------------------------------

    def _plan(self, er: EndpointRegistrations, func: _FunctionDef, node: ast.AST, inner: Registration,
              regs: Sequence[_Reg]) -> _Plan | None:
        """The fix, decided here once: ``try: <rest> finally: <undo>`` after the registration's
        statement (or a ``finally`` added to the ``try`` right after it); None when none is safe."""
        stmt = self.regs.statement_in(node, func)
        line, rest = self._rest_after(stmt, func) if stmt is not None else (None, None)
        if stmt is None or line is None or not rest:
            return None
        existing = self._undo_statements(func, stmt, regs)
        undo = self._undo_text(existing, node, inner)
        if undo is None:
            return None
        target = self._next_try(er, rest)
        removals = self._removals(existing, [target] if target is not None else rest)
        if removals is None:
            return None
        span = (self._span(line)[0], self._span(stmt)[1])
        return _Plan(undo, span, target is not None, tuple(self._span(s) for s in removals))

    def _rest_after(self, stmt: ast.stmt, func: _FunctionDef) -> tuple[ast.stmt | None, list[ast.stmt] | None]:
        """The first statement of the line ``stmt`` ends (libcst's ``SimpleStatementLine``:
        ``await ws.accept(); clients.add(ws)``) and the statements after that line in its
        fixable block; (None, None) when the block is not fixable or ``stmt`` does not end an
        indented line of its own."""
        block = self._fixable_block(stmt, func)
        if block is None:
            return None, None
        index = next(i for i, s in enumerate(block) if s is stmt)
        first = index
        while first > 0 and block[first - 1].end_lineno == block[first].lineno:
            first -= 1
        line = block[first]
        if not self._alone(line, stmt):
            return None, None
        return line, block[index + 1:]

    def _next_try(self, er: EndpointRegistrations, rest: Sequence[ast.stmt]) -> ast.Try | None:
        """The ``try`` right after the registration that takes the ``finally``, unless the handler
        still reads after it (then everything after the registration is wrapped)."""
        first = rest[0]
        if isinstance(first, ast.Try) and self._alone(first) and not self._reads_in(er, rest[1:]):
            return first
        return None

    def _fixable_block(self, stmt: ast.stmt, func: _FunctionDef) -> list[ast.stmt] | None:
        """The statements holding ``stmt`` if they are the handler body or a ``try`` body nested
        (through ``try`` bodies) in it."""
        child: ast.AST = stmt
        block: list[ast.stmt] | None = None
        while True:
            owner = self.server.parent(child)
            body = getattr(owner, "body", None)
            if not (isinstance(body, list) and any(s is child for s in body)):
                return None
            block = block if block is not None else body
            if owner is func:
                return block
            if not isinstance(owner, ast.Try):
                return None
            child = owner

    def _reads_in(self, er: EndpointRegistrations, stmts: Sequence[ast.AST]) -> bool:
        points = [p for site in er.receives for p in (*site.via, site.node)]
        return any(_start(s) <= _start(p) and _end(p) <= _end(s) for s in stmts for p in points)

    def _undo_statements(self, func: _FunctionDef, stmt: ast.AST, regs: Sequence[_Reg]) -> list[ast.Expr]:
        """Statements after ``stmt`` that are exactly an undo call (possibly awaited)."""
        out = []
        for node in walk_own(func):
            if isinstance(node, ast.Expr) and _start(node) >= _end(stmt) and self._alone(node):
                value = node.value.value if isinstance(node.value, ast.Await) else node.value
                if self._is_undo(value, regs):
                    out.append(node)
        return out

    def _removals(self, existing: Sequence[ast.Expr], region: Sequence[ast.AST]) -> list[ast.Expr] | None:
        """Undo statements to delete (they would run twice); None when one can be neither
        deleted nor safely run twice."""
        out = []
        lo, hi = _start(region[0]), _end(region[-1])
        for stmt in existing:
            inside = lo <= _start(stmt) <= hi
            if not inside or _at_tail(stmt, region):
                out.append(stmt)
            elif not self._idempotent(stmt):
                return None
        return out

    def _idempotent(self, stmt: ast.AST, depth: int = 2) -> bool:
        """A second call of this undo is harmless (judged from the same-module implementation)."""
        calls = [n for n in ast.walk(stmt) if isinstance(n, ast.Call)]
        return bool(calls) and all(self._call_idempotent(c, depth) for c in calls)

    def _call_idempotent(self, call: ast.Call, depth: int) -> bool:
        target = self.regs.resolve(call)
        if target is None:
            # another module's undo: whether a second call raises (``list.remove``) is not known
            return not self.regs.project_callee(call) and _harmless_twice(call)
        if depth == 0:
            return False
        for node in walk_own(target):
            if not isinstance(node, (ast.Delete, ast.Call)) or self._guarded(node, target):
                continue
            if isinstance(node, ast.Delete) or not self._call_idempotent(node, depth - 1):
                return False
        return True

    def _guarded(self, node: ast.AST, func: ast.AST) -> bool:
        """Inside ``if x in ...:`` or a ``try`` with handlers."""
        for anc in self._ancestors(node, func):
            if isinstance(anc, ast.If) and any(
                isinstance(n, ast.Compare) and any(isinstance(op, ast.In) for op in n.ops) for n in ast.walk(anc.test)
            ):
                return True
            if isinstance(anc, ast.Try) and anc.handlers:
                return True
        return False

    # -- the undo statement ----------------------------------------------------------------------

    def _undo_text(self, existing: Sequence[ast.Expr], node: ast.AST, inner: Registration) -> str | None:
        if existing:
            return self._code(existing[0]).strip()
        if isinstance(node, ast.Assign):
            return self._undo_setitem(node)
        if not isinstance(node, ast.Call) or not all(_stable(a) for a in call_arguments(node)):
            return None
        awaited = isinstance(self.server.parent(node), ast.Await)
        if inner.node is node and inner.kind == "store":
            return self._undo_store(node, callee_name(node)[0] or "", inner.name)
        target = self.regs.resolve(node)
        if target is not None:
            return self._undo_same_module(node, target, awaited)
        return self._undo_imported(node, awaited)

    def _arguments_text(self, call: ast.Call) -> list[str]:
        """The call's arguments as written, in source order (keywords as ``k=v``)."""
        args: list[ast.AST] = [*call.args, *call.keywords]
        return [self._code(a).strip() for a in sorted(args, key=_start)]

    def _undo_imported(self, node: ast.Call, awaited: bool) -> str | None:
        """``x.connect(a, b)`` -> ``x.disconnect(a, b)``, awaited like the registration (a
        library's API pair); None for another module's manager (its undo is not in view)."""
        if self.regs.project_callee(node):
            return None
        undo = _PAIRS.get(callee_name(node)[0] or "", (None,))[0]
        if undo is None or not isinstance(node.func, ast.Attribute):
            return None
        args = ", ".join(self._arguments_text(node))
        return f"{'await ' if awaited else ''}{self._code(node.func.value)}.{undo}({args})"

    def _undo_setitem(self, node: ast.Assign) -> str | None:
        for sub in node.targets:
            if isinstance(sub, ast.Subscript) and _single_index(sub) and _stable(sub.value) and _stable(sub.slice):
                return f"{self._code(sub.value)}.pop({self._code(sub.slice)}, None)"
        return None

    def _undo_store(self, node: ast.Call, method: str, ws: str) -> str | None:
        arg = next((a for a in call_arguments(node) if isinstance(a, ast.Name) and a.id == ws), None)
        if arg is None or not isinstance(node.func, ast.Attribute):
            return None
        if method == "add":
            return f"{self._code(node.func.value)}.discard({ws})"
        if method in ("append", "appendleft", "insert"):
            return f"{self._code(node.func.value)}.remove({ws})"
        return None

    def _undo_same_module(self, call: ast.Call, target: _FunctionDef, awaited: bool) -> str | None:
        cls = self._class_of(target)
        undo = next((d for n in undo_names(target.name) if (d := self._def_named(cls, n)) is not None), None)
        if undo is None:
            return None
        args = self._map_args(call, target, undo, method=cls is not None)
        if args is None:
            return None
        head = self._code(call.func.value) + "." if isinstance(call.func, ast.Attribute) else ""
        prefix = "await " if awaited and isinstance(undo, ast.AsyncFunctionDef) else ""
        return f"{prefix}{head}{undo.name}({args})"

    def _class_of(self, func: _FunctionDef) -> Any:
        """The class scope ``func`` is a method of (None for a function)."""
        scope = self.model.scopes.defined_by(func)
        parent = scope.parent if scope is not None else None
        return parent if parent is not None and parent.kind == "class" else None

    def _def_named(self, cls: Any, name: str) -> _FunctionDef | None:
        """A method of ``cls`` (through its same-module bases), or a module-level function."""
        if cls is not None:
            found = self.graph.method(cls, name)
            return found.node if found is not None and isinstance(found.node, FUNCTION_DEFS) else None
        for stmt in self.analyses.tree.body:
            if isinstance(stmt, FUNCTION_DEFS) and stmt.name == name:
                return stmt
        return None

    def _map_args(self, call: ast.Call, reg: _FunctionDef, undo: _FunctionDef, method: bool) -> str | None:
        """The undo's arguments: the registration's arguments matched by parameter name."""
        bound = self._bind_args(call, reg, method)
        if bound is None:
            return None
        out, by_keyword = [], False
        a = undo.args
        params = [*a.posonlyargs, *a.args, *a.kwonlyargs][1 if method else 0:]
        defaults = _defaults(undo)
        for param in params:
            name = param.arg
            if name in bound:
                out.append(f"{name}={bound[name]}" if by_keyword else bound[name])
            elif name not in defaults:
                return None
            else:
                by_keyword = True
        return ", ".join(out)

    def _bind_args(self, call: ast.Call, func: _FunctionDef, method: bool) -> dict[str, str] | None:
        """Parameter name -> argument source of ``call`` to ``func``."""
        params = [p.arg for p in [*func.args.posonlyargs, *func.args.args]][int(method):]
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords) \
                or len(call.args) > len(params):
            return None
        bound = {name: self._code(arg) for name, arg in zip(params, call.args)}
        bound.update({k.arg: self._code(k.value) for k in call.keywords if k.arg is not None})
        return bound


def _only_joins(writes: Sequence[Registration]) -> bool:
    """The real writes (the helper calls leading to them aside) are all joins."""
    return all(w.kind == "join" for w in writes if w.kind != "call")


def _defaults(func: _FunctionDef) -> set[str]:
    """The parameters of ``func`` that have a default value."""
    a = func.args
    positional = [*a.posonlyargs, *a.args]
    out = {p.arg for p in positional[len(positional) - len(a.defaults):]} if a.defaults else set()
    out |= {p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
    return out


def _event(func: _FunctionDef) -> str:
    """The socket.io event a handler serves: ``@sio.on("name")``'s name, else the function's name."""
    for dec in func.decorator_list:
        if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "on" and dec.args:
            first = dec.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
    return func.name


class _FixBuilder:
    """Builds the try/finally fix: the new ``finally`` plus removed duplicate undos."""

    def __init__(self, module: cst.Module, parents: Mapping[cst.CSTNode, cst.CSTNode], undo: str,
                 removals: Sequence[cst.SimpleStatementLine]) -> None:
        self.undo = cst.parse_statement(undo + "\n", config=module.config_for_parsing)
        self.removals = removals
        self.parents = parents

    @staticmethod
    def _filtered(body: Sequence[cst.BaseStatement], drop: set[int]) -> list[cst.BaseStatement]:
        kept = [s for i, s in enumerate(body) if i not in drop]
        return kept or [cst.SimpleStatementLine(body=[cst.Pass()])]

    def build(self, block: cst.IndentedBlock, index: int, target: cst.Try | None) -> Fix:
        drops: dict[int, tuple[cst.IndentedBlock, set[int]]] = {}
        for stmt in self.removals:
            owner = self.parents[stmt]
            if not isinstance(owner, cst.IndentedBlock):
                continue
            entry = drops.setdefault(id(owner), (owner, set()))
            entry[1].add(next(i for i, s in enumerate(owner.body) if s is stmt))
        replacements: dict[cst.CSTNode, Any] = {}
        for owner, idx in drops.values():
            if owner is not block:
                replacements[owner] = lambda u, idx=idx: u.with_changes(body=self._filtered(u.body, idx))
        own = drops.get(id(block), (block, set()))[1]
        if target is not None:
            replacements[target] = self._add_finally
            replacements[block] = lambda u: u.with_changes(body=self._filtered(u.body, own))
        else:
            replacements[block] = lambda u: self._wrap(u, index, own)
        return Fix(FixSafety.UNSAFE, "undo the registration in a `finally`", replacements=replacements)

    def _add_finally(self, updated: cst.Try) -> cst.Try:
        old: list[Any] = list(updated.finalbody.body.body) if updated.finalbody is not None else []
        return updated.with_changes(finalbody=cst.Finally(body=cst.IndentedBlock(body=[self.undo, *old])))

    def _wrap(self, updated: cst.IndentedBlock, index: int, drop: set[int]) -> cst.IndentedBlock:
        head = list(updated.body[: index + 1])
        rest = [s for i, s in enumerate(updated.body) if i > index and i not in drop]
        first: Any = rest[0]
        rest[0] = first.with_changes(leading_lines=[])
        new_try = cst.Try(
            body=cst.IndentedBlock(body=rest),
            finalbody=cst.Finally(body=cst.IndentedBlock(body=[self.undo])),
            leading_lines=first.leading_lines,
        )
        return updated.with_changes(body=[*head, new_try])
