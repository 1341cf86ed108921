"""WS104 session-not-invalidated: a registered connection is not removed on every way out of the handler."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Rule, Valid
from wsrefactor.rules._endpoint_prefilter import endpoint_facts, reached_nodes
from wsrefactor.rules._endpoints import (
    JOIN_METHODS,
    REGISTER_METHODS,
    STORE_METHODS,
    Endpoint,
    EndpointModel,
    RegistryWrite,
    endpoints,
    params_of,
    positional_params,
    walk,
)
from wsrefactor.rules._helpers import call_name, positional
from wsrefactor.rules._prefilter import per_tree

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
_ASYNC_TO_SYNC = frozenset({"asgiref.sync.async_to_sync", "channels.db.async_to_sync"})
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


def _last(expr: cst.CSTNode | None) -> str | None:
    """The last name of ``a.b.c`` / ``a.b[k]`` (``c`` / ``b``); None for anything else."""
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _stable(expr: cst.BaseExpression) -> bool:
    """Names, attributes, literals and subscripts of those: still valid in a ``finally``."""
    if isinstance(expr, (cst.Name, cst.SimpleString, cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.Attribute):
        return _stable(expr.value)
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
        return _stable(expr.value) and _stable(expr.slice[0].slice.value)
    return False


def _exits(body: cst.BaseSuite) -> bool:
    """The block ends with ``raise``/``return`` (control never falls through past the try)."""
    stmts = getattr(body, "body", ())
    last = stmts[-1] if stmts else None
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Raise, cst.Return))


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


def _callee(call: cst.Call) -> tuple[str | None, str | None]:
    """(name, receiver's last name) of a call; looks through ``async_to_sync(x.m)(...)``."""
    func = call.func
    if isinstance(func, cst.Call) and func.args:
        func = func.args[0].value
    if isinstance(func, cst.Attribute):
        return func.attr.value, _last(func.value)
    return (func.value, None) if isinstance(func, cst.Name) else (None, None)


def _reg_of(write: RegistryWrite) -> _Reg:
    if write.kind == "setitem":
        return _Reg("__setitem__", _last(write.container))
    name, recv = _callee(write.node) if isinstance(write.node, cst.Call) else (None, None)
    return _Reg(name or "", recv)


class SessionNotInvalidated(Rule):
    """
    ## What it does
    Finds WebSocket endpoints that register the connection (`clients[key] = ws`,
    `clients.add(ws)`, `clients.append(ws)`, a same-module function or method that does one of
    these with it, e.g. `await manager.connect(ws)`, Channels `group_add`; also an instance of a
    same-module class built with the connection, `session = Session(ws, name)`, stored the same
    way) where some way out of the handler leaves it registered. Whether a call registers is
    decided from the callee's body: a `connect()` that only accepts is no registration, and a
    callee whose body is not in the module (an imported manager) is not taken for one by its name
    (the rule stays silent there). A helper that undoes its own registration in a `finally` is
    no leak at its call site.

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
    imported Channels layer's `group_discard` is awaited like its `group_add`); `reg.pop(k, None)` for
    `reg[k] = ws`; `.discard(ws)` for `.add(ws)`; `.remove(ws)` for `.append(ws)`.
    An existing undo statement that would now run twice is moved into the `finally` when nothing
    runs between it and the `finally` (the last statement of an `except` body), or when it ran
    after the `try` anyway; elsewhere it is kept only if a second call is harmless (`pop(k, None)`,
    `discard`, a guarded `remove`, judged from the same-module implementation); otherwise no fix is
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

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """An endpoint, and some statement that can register a connection (see ``_may_report``);
        files without a framework import stop at once."""
        if tree is None:
            return cls.matches_text(text)
        return per_tree(_may_report, tree)

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

    # -- driver -----------------------------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        self.model = endpoints(self.ctx)
        if not self.model.endpoints:
            return
        self._order = {id(n): i for i, n in enumerate(walk(self.ctx.module))}
        self._ends: dict[int, int] = {}
        self._seen: set[int] = set()
        for ep in self.model.endpoints:
            if ep.kind in ("asgi", "websockets"):
                for writes in self._groups([*ep.registry_writes, *self._wrapper_writes(ep)]):
                    self._check_function_group(ep, writes)
            elif ep.kind in _CLOSE_METHODS:
                self._check_class_endpoint(ep)

    def _groups(self, writes: Sequence[RegistryWrite]) -> list[list[RegistryWrite]]:
        """Writes by the handler statement they happen at (a helper's write and its call). A
        call the model took for a registration only by its name (an imported ``x.connect(ws)``,
        whose body is not visible) is not one: a ``connect`` may only accept."""
        out: dict[int, list[RegistryWrite]] = {}
        for w in writes:
            if w.kind == "call" and isinstance(w.node, cst.Call) and self.model.resolve_call(w.node, w.function) is None:
                continue
            if w.anchor is not None and not (w.kind == "store" and _callee(w.node)[0] == "put_nowait"):
                out.setdefault(id(w.anchor), []).append(w)
        return list(out.values())

    def _wrapper_writes(self, ep: Endpoint) -> list[RegistryWrite]:
        """Registrations of wrappers: ``session = Session(websocket, name)`` (a class of this
        module constructed with the connection among its arguments) then
        ``sessions.append(session)`` / ``by_name[name] = session`` in the same function."""
        if ep.handler is None or not ep.ws_param:
            return []
        out: list[RegistryWrite] = []
        for func, ws, chain in self.model.ws_flow(ep.handler, ep.ws_param):
            wrappers = self._wrappers_in(func, ws)
            for node in walk(func.body, into_defs=False) if wrappers else ():
                found = _wrapper_store(node, wrappers)
                if found is not None:
                    name, kind, container = found
                    anchor = self.model.statement_in(chain[0] if chain else node, ep.handler)
                    out.append(RegistryWrite(node, func, self.model.statement_of(node), name, chain, anchor,
                                             kind=kind, container=container))
        return out

    def _wrappers_in(self, func: cst.FunctionDef, ws: str) -> set[str]:
        """Names bound in ``func`` to an instance of a same-module class built with ``ws``."""
        out = set()
        for node in walk(func.body, into_defs=False):
            if isinstance(node, cst.Assign) and len(node.targets) == 1:
                target = node.targets[0].target
                if isinstance(target, cst.Name) and self._builds_with(node.value, ws):
                    out.add(target.value)
        return out

    def _builds_with(self, value: cst.BaseExpression, ws: str) -> bool:
        """``C(..., ws, ...)`` with ``C`` a class of this module."""
        return (isinstance(value, cst.Call) and isinstance(value.func, cst.Name)
                and value.func.value in self.model.classes and _name_in(value.args, {ws}) is not None)

    def _pos(self, node: cst.CSTNode) -> int:
        return self._order.get(id(node), -1)

    def _end(self, node: cst.CSTNode) -> int:
        if id(node) not in self._ends:
            last = node
            for last in walk(node):  # noqa: B007 - keeps the walk's last node
                pass
            self._ends[id(node)] = self._pos(last)
        return self._ends[id(node)]

    def _report(self, node: cst.CSTNode, message: str, func: cst.FunctionDef | None, fix: Fix | None) -> None:
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        scope = ".".join(n.name.value for n in [*reversed(list(self.model.ancestors(node)))]
                         if isinstance(n, (cst.FunctionDef, cst.ClassDef)))
        self.report(node, message, fix=fix, stmt=func if fix is not None else None, scope=scope)

    # -- function endpoints -------------------------------------------------------------------

    def _levels(self, write: RegistryWrite) -> list[tuple[cst.FunctionDef, cst.CSTNode]]:
        """(function, registration node there), from the write itself out to the handler."""
        levels: list[tuple[cst.FunctionDef, cst.CSTNode]] = [(write.function, write.node)]
        for call in reversed(write.via):
            func = self.model.function_of(call)
            if func is not None:
                levels.append((func, call))
        return levels

    def _reads_after(self, ep: Endpoint, func: cst.FunctionDef, node: cst.CSTNode) -> bool:
        """Whether the endpoint reads from the socket in ``func`` after (or around) ``node``."""
        for site in ep.receives:
            for point in (*site.via, site.node):
                if self.model.function_of(point) is not func:
                    continue
                loop = site.loop if point is site.node else self.model.enclosing_loop(point)
                inside = loop is not None and self._pos(loop) < self._pos(node) <= self._end(loop)
                if self._pos(point) > self._pos(node) or inside:
                    return True
        return False

    def _check_function_group(self, ep: Endpoint, writes: list[RegistryWrite]) -> None:
        inner = max(writes, key=lambda w: len(w.via))
        levels = self._levels(inner)
        regs = [_reg_of(w) for w in writes]
        owner = self._owner(ep, levels, regs)
        if owner is None:
            return
        leaks = set(_ALL_PATHS)
        for func, node in levels[owner:]:
            stmt = self.model.statement_in(node, func)
            if stmt is None:
                return
            leaks &= self._leaks(func, stmt, regs)
            if not leaks:
                return
        func, node = levels[owner]
        # A call raising before a later ``try`` needs that ``try`` moved up, not a second ``finally``.
        fixable = func is ep.handler and node is levels[-1][1] and "before" not in leaks
        fix = self._fix(ep, func, node, inner, regs) if fixable else None
        self._report(node, self._message(node, leaks), ep.handler, fix)

    def _owner(self, ep: Endpoint, levels: Sequence[tuple[cst.FunctionDef, cst.CSTNode]],
               regs: Sequence[_Reg]) -> int | None:
        """The level the registration is judged at: the innermost that reads from the socket after
        it (else the handler); None when a level inside it (a helper) undoes its own registration
        on every way out of it."""
        owner = next((i for i, (f, n) in enumerate(levels) if self._reads_after(ep, f, n)), len(levels) - 1)
        if any(self._undone_within(func, node, regs) for func, node in levels[:owner]):
            return None
        return owner

    def _undone_within(self, func: cst.FunctionDef, node: cst.CSTNode, regs: Sequence[_Reg]) -> bool:
        stmt = self.model.statement_in(node, func)
        return stmt is not None and not self._leaks(func, stmt, regs)

    def _message(self, node: cst.CSTNode, leaks: set[str]) -> str:
        text = " ".join(self.ctx.module.code_for_node(node).split())
        text = text if len(text) <= 60 else text[:57] + "..."
        paths = [words for key, words in _PATHS if key in leaks]
        when = ", ".join(paths[:-1]) + (" or " if len(paths) > 1 else "") + paths[-1]
        return f"`{text}` registers the connection, but it stays registered when {when}; undo it in a `finally`"

    # -- where the undo is ------------------------------------------------------------------

    def _is_undo(self, node: cst.CSTNode, regs: Sequence[_Reg]) -> bool:
        if isinstance(node, cst.Del):
            targets = [e.value for e in node.target.elements] if isinstance(node.target, cst.Tuple) else [node.target]
            return any(isinstance(t, cst.Subscript) and r.undone_by("pop", _last(t)) for t in targets for r in regs)
        if isinstance(node, cst.Call):
            name, recv = _callee(node)
            return any(r.undone_by(name, recv) for r in regs)
        return False

    def _undoes(self, roots: Iterable[cst.CSTNode], regs: Sequence[_Reg], depth: int = 3) -> bool:
        """Whether the code under ``roots`` (or a same-module function it calls) undoes ``regs``."""
        for root in roots:
            for node in (root, *walk(root, into_defs=False)):
                if self._is_undo(node, regs):
                    return True
                if depth and isinstance(node, cst.Call):
                    target = self.model.resolve_call(node, self.model.function_of(node))
                    if target is not None and self._undoes([target.body], regs, depth - 1):
                        return True
        return False

    def _tries(self, func: cst.FunctionDef, stmt: cst.CSTNode) -> list[cst.Try]:
        """``try`` statements whose body holds ``stmt``, or that come after it."""
        out = []
        for node in walk(func.body, into_defs=False):
            if isinstance(node, (cst.Try, cst.TryStar)):
                body = node.body
                around = self._pos(body) < self._pos(stmt) <= self._end(body)
                if around or self._pos(node) > self._pos(stmt):
                    out.append(node)
        return out

    def _handler_kind(self, handler: cst.ExceptHandler) -> str | None:
        if handler.type is None:
            return "broad"
        types = [e.value for e in handler.type.elements] if isinstance(handler.type, cst.Tuple) else [handler.type]
        kinds = {self._exception_kind(t) for t in types}
        return "broad" if "broad" in kinds else ("disconnect" if "disconnect" in kinds else None)

    def _exception_kind(self, expr: cst.BaseExpression) -> str | None:
        name = self.ctx.qualname(expr) or _last(expr) or ""
        short = name.rsplit(".", 1)[-1]
        if name in _BROAD or short in ("Exception", "BaseException"):
            return "broad"
        if short.endswith("Disconnect") or short.startswith("ConnectionClosed"):
            return "disconnect"
        return None

    def _undo_after(self, func: cst.FunctionDef, node: cst.CSTNode, regs: Sequence[_Reg]) -> bool:
        end = self._end(node)
        later = [s for s in walk(func.body, into_defs=False)
                 if isinstance(s, cst.SimpleStatementLine) and self._pos(s) > end]
        return self._undoes(later, regs)

    def _handler_cover(self, func: cst.FunctionDef, node: cst.Try, regs: Sequence[_Reg]) -> set[str]:
        covered: set[str] = set()
        for handler in node.handlers:
            kind = self._handler_kind(handler)
            if kind is None:
                continue
            if self._undoes([handler.body], regs) or (
                not _exits(handler.body) and self._undo_after(func, node, regs)
            ):
                covered |= {"disconnect", "exception"} if kind == "broad" else {"disconnect"}
        return covered

    def _raises_between(self, func: cst.FunctionDef, stmt: cst.CSTNode, node: cst.Try | cst.TryStar) -> bool:
        """An ``await`` runs after ``stmt`` and before the ``try`` ``node`` starts (``stmt`` not
        inside it): the ``finally`` does not cover it. Awaits only: each is a cancellation point
        and does I/O (a dropped client, Redis down), while a sync ``log.info(...)`` there is not
        worth a report."""
        if self._pos(node) < self._pos(stmt):
            return False
        lo, hi = self._end(stmt), self._pos(node)
        return any(isinstance(n, cst.Await) and lo < self._pos(n) < hi for n in walk(func.body, into_defs=False))

    def _early_return(self, func: cst.FunctionDef, stmt: cst.CSTNode) -> bool:
        for node in walk(func.body, into_defs=False):
            if isinstance(node, cst.Return) and self._pos(node) > self._end(stmt):
                if not any(isinstance(a, cst.ExceptHandler) for a in self.model.ancestors(node)):
                    return True
        return False

    def _leaks(self, func: cst.FunctionDef, stmt: cst.CSTNode, regs: Sequence[_Reg]) -> set[str]:
        """The exit paths of ``func`` after ``stmt`` that skip every undo of ``regs``."""
        leaks = {"disconnect", "exception"}
        for node in self._tries(func, stmt):
            if node.finalbody is not None and self._undoes([node.finalbody.body], regs):
                return {"before"} if self._raises_between(func, stmt, node) else set()
            leaks -= self._handler_cover(func, node, regs)
        if self._early_return(func, stmt):
            leaks.add("return")
        return leaks

    # -- class endpoints ----------------------------------------------------------------------

    def _class_writes(self, ep: Endpoint) -> list[RegistryWrite]:
        """The model's writes plus sync Channels ``async_to_sync(layer.group_add)(...)``."""
        writes = list(ep.registry_writes)
        if ep.kind != "channels":
            return writes
        for func in ep.handlers:
            for node in walk(func.body, into_defs=False):
                if isinstance(node, cst.Call) and isinstance(node.func, cst.Call):
                    inner = node.func
                    first = positional(inner, 0)
                    if call_name(self.ctx, inner) in _ASYNC_TO_SYNC and first is not None and _last(first.value) == "group_add":
                        stmt = self.model.statement_of(node)
                        writes.append(RegistryWrite(node, func, stmt, "self", (), stmt, kind="join",
                                                    container=first.value))
        return writes

    def _close_methods(self, ep: Endpoint) -> list[cst.FunctionDef]:
        if ep.kind == "socketio":
            return [f for name, f in ep.events.items() if name == "disconnect"]
        methods = self.model.methods_of(ep.cls) if ep.cls is not None else ep.methods
        return [methods[n] for n in _CLOSE_METHODS[ep.kind] if n in methods]

    def _check_class_endpoint(self, ep: Endpoint) -> None:
        closers = self._close_methods(ep)
        for writes in self._groups(self._class_writes(ep)):
            node = writes[0].via[0] if writes[0].via else writes[0].node
            if self._class_write_ok(ep, writes, node, closers):
                continue
            where = (f"`{closers[0].name.value}` does not undo it" if closers
                     else f"the class has no `{_CLOSE_METHODS[ep.kind][0]}` method to undo it")
            text = " ".join(self.ctx.module.code_for_node(node).split())[:60]
            self._report(node, f"`{text}` registers the connection, but {where}", None, None)

    def _class_write_ok(self, ep: Endpoint, writes: Sequence[RegistryWrite], node: cst.CSTNode,
                        closers: Sequence[cst.FunctionDef]) -> bool:
        if ep.kind == "socketio" and all(w.kind == "join" for w in writes if w.kind != "call"):
            return True  # socketio leaves every room of a disconnected client itself (also through a helper)
        root = self.model.function_of(node)
        if root is None or any(root is c for c in closers):
            return True
        return self._undoes([c.body for c in closers], [_reg_of(w) for w in writes])

    # -- fix ---------------------------------------------------------------------------------

    def _fix(self, ep: Endpoint, func: cst.FunctionDef, node: cst.CSTNode, inner: RegistryWrite,
             regs: Sequence[_Reg]) -> Fix | None:
        stmt = self.model.statement_in(node, func)
        block = self._fixable_block(stmt, func)
        if block is None or block.body[-1] is stmt:
            return None
        index = next(i for i, s in enumerate(block.body) if s is stmt)
        rest = list(block.body[index + 1:])
        existing = self._undo_statements(func, stmt, regs)
        undo = self._undo_text(existing, node, func, inner)
        if undo is None:
            return None
        target = rest[0] if isinstance(rest[0], cst.Try) and not self._reads_in(ep, rest[1:]) else None
        removals = self._removals(existing, [target] if target is not None else rest, func)
        if removals is None:
            return None
        return _FixBuilder(self.model, undo, removals).build(block, index, target)

    def _fixable_block(self, stmt: cst.CSTNode | None, func: cst.FunctionDef) -> cst.IndentedBlock | None:
        """The block holding ``stmt`` if it is the handler body or a ``try`` body nested (through
        ``try`` bodies) in it."""
        block = self.model.parent(stmt) if stmt is not None else None
        if not isinstance(block, cst.IndentedBlock) or not any(s is stmt for s in block.body):
            return None
        cur = block
        while isinstance(cur, cst.IndentedBlock) and cur is not func.body:
            owner = self.model.parent(cur)
            cur = self.model.parent(owner) if isinstance(owner, cst.Try) and owner.body is cur else None
        return block if cur is func.body else None

    def _reads_in(self, ep: Endpoint, stmts: Sequence[cst.CSTNode]) -> bool:
        points = [p for site in ep.receives for p in (*site.via, site.node)]
        return any(self._pos(s) <= self._pos(p) <= self._end(s) for s in stmts for p in points)

    def _undo_statements(self, func: cst.FunctionDef, stmt: cst.CSTNode,
                         regs: Sequence[_Reg]) -> list[cst.SimpleStatementLine]:
        """Statements after ``stmt`` that are exactly an undo call (possibly awaited)."""
        out = []
        for node in walk(func.body, into_defs=False):
            if isinstance(node, cst.SimpleStatementLine) and self._pos(node) > self._end(stmt):
                small = node.body[0]
                value = small.value if isinstance(small, cst.Expr) else None
                value = value.expression if isinstance(value, cst.Await) else value
                if len(node.body) == 1 and value is not None and self._is_undo(value, regs):
                    out.append(node)
        return out

    def _removals(self, existing: Sequence[cst.SimpleStatementLine], region: Sequence[cst.CSTNode],
                  func: cst.FunctionDef) -> list[cst.SimpleStatementLine] | None:
        """Undo statements to delete (they would run twice); None when one can be neither
        deleted nor safely run twice."""
        out = []
        lo, hi = self._pos(region[0]), self._end(region[-1])
        for stmt in existing:
            inside = lo <= self._pos(stmt) <= hi
            removable = isinstance(self.model.parent(stmt), cst.IndentedBlock)
            if removable and (not inside or _at_tail(stmt, region)):
                out.append(stmt)
            elif not self._idempotent(stmt, func):
                return None
        return out

    def _idempotent(self, stmt: cst.SimpleStatementLine, func: cst.FunctionDef, depth: int = 2) -> bool:
        """A second call of this undo is harmless (judged from the same-module implementation)."""
        calls = [n for n in walk(stmt) if isinstance(n, cst.Call)]
        return bool(calls) and all(self._call_idempotent(c, func, depth) for c in calls)

    def _call_idempotent(self, call: cst.Call, func: cst.FunctionDef, depth: int) -> bool:
        target = self.model.resolve_call(call, func)
        if target is None:
            return _harmless_twice(call)
        if depth == 0:
            return False
        for node in walk(target.body, into_defs=False):
            if not isinstance(node, (cst.Del, cst.Call)) or self._guarded(node):
                continue
            if isinstance(node, cst.Del) or not self._call_idempotent(node, target, depth - 1):
                return False
        return True

    def _guarded(self, node: cst.CSTNode) -> bool:
        """Inside ``if x in ...:`` or a ``try`` with handlers."""
        for anc in self.model.ancestors(node):
            if isinstance(anc, cst.If) and any(
                isinstance(c.operator, cst.In) for n in [anc.test, *walk(anc.test)] if isinstance(n, cst.Comparison)
                for c in n.comparisons
            ):
                return True
            if isinstance(anc, cst.Try) and anc.handlers:
                return True
            if isinstance(anc, cst.FunctionDef):
                return False
        return False

    # -- the undo statement -------------------------------------------------------------------

    def _undo_text(self, existing: Sequence[cst.SimpleStatementLine], node: cst.CSTNode,
                   func: cst.FunctionDef, inner: RegistryWrite) -> str | None:
        if existing:
            return self.ctx.module.code_for_node(existing[0].body[0]).strip()
        if isinstance(node, cst.Assign):
            return self._undo_setitem(node)
        if not isinstance(node, cst.Call) or not all(_stable(a.value) for a in node.args):
            return None
        awaited = isinstance(self.model.parent(node), cst.Await)
        if inner.node is node and inner.kind == "store":
            return self._undo_store(node, _callee(node)[0] or "", inner.ws_name)
        target = self.model.resolve_call(node, func)
        if target is not None:
            return self._undo_same_module(node, target, awaited)
        return self._undo_imported(node, awaited)

    def _undo_imported(self, node: cst.Call, awaited: bool) -> str | None:
        """``x.connect(a, b)`` -> ``x.disconnect(a, b)``, awaited like the registration."""
        code = self.ctx.module.code_for_node
        undo = _PAIRS.get(_callee(node)[0] or "", (None,))[0]
        if undo is None or not isinstance(node.func, cst.Attribute):
            return None
        args = ", ".join(code(a).strip().rstrip(",") for a in node.args)
        return f"{'await ' if awaited else ''}{code(node.func.value)}.{undo}({args})"

    def _undo_setitem(self, node: cst.Assign) -> str | None:
        code = self.ctx.module.code_for_node
        for t in node.targets:
            sub = t.target
            if isinstance(sub, cst.Subscript) and len(sub.slice) == 1 and isinstance(sub.slice[0].slice, cst.Index):
                key = sub.slice[0].slice.value
                if _stable(sub.value) and _stable(key):
                    return f"{code(sub.value)}.pop({code(key)}, None)"
        return None

    def _undo_store(self, node: cst.Call, method: str, ws: str) -> str | None:
        code = self.ctx.module.code_for_node
        arg = next((a.value for a in node.args if isinstance(a.value, cst.Name) and a.value.value == ws), None)
        if arg is None or not isinstance(node.func, cst.Attribute):
            return None
        if method == "add":
            return f"{code(node.func.value)}.discard({ws})"
        if method in ("append", "appendleft", "insert"):
            return f"{code(node.func.value)}.remove({ws})"
        return None

    def _undo_same_module(self, call: cst.Call, target: cst.FunctionDef, awaited: bool) -> str | None:
        cls = self.model.class_of(target)
        pool = self.model.methods_of(cls) if cls is not None else self.model.functions
        undo = next((pool[n] for n in undo_names(target.name.value) if n in pool), None)
        if undo is None:
            return None
        args = _map_args(self.ctx.module, call, target, undo, method=cls is not None)
        if args is None:
            return None
        func = call.func
        head = self.ctx.module.code_for_node(func.value) + "." if isinstance(func, cst.Attribute) else ""
        prefix = "await " if awaited and undo.asynchronous is not None else ""
        return f"{prefix}{head}{undo.name.value}({args})"


def _map_args(module: cst.Module, call: cst.Call, reg: cst.FunctionDef, undo: cst.FunctionDef,
              method: bool) -> str | None:
    """The undo's arguments: the registration's arguments matched by parameter name."""
    bound = _bind_args(module, call, reg, method)
    if bound is None:
        return None
    out, by_keyword = [], False
    for param in params_of(undo)[1 if method else 0:]:
        name = param.name.value
        if name in bound:
            out.append(f"{name}={bound[name]}" if by_keyword else bound[name])
        elif param.default is None:
            return None
        else:
            by_keyword = True
    return ", ".join(out)


def _bind_args(module: cst.Module, call: cst.Call, func: cst.FunctionDef, method: bool) -> dict[str, str] | None:
    """Parameter name -> argument source of ``call`` to ``func``."""
    params = [p.name.value for p in positional_params(func)][int(method):]
    plain = [a for a in call.args if a.keyword is None]
    if any(a.star for a in call.args) or len(plain) > len(params):
        return None
    bound = {name: module.code_for_node(arg.value) for name, arg in zip(params, plain)}
    bound.update({a.keyword.value: module.code_for_node(a.value) for a in call.args if a.keyword is not None})
    return bound


def _harmless_twice(call: cst.Call) -> bool:
    """An imported/builtin call that may run twice: anything but ``remove(x)`` / ``pop(k)``."""
    name, _ = _callee(call)
    plain = [a for a in call.args if a.keyword is None]
    return name not in ("remove", "pop") or (name == "pop" and len(plain) >= 2)


def _at_tail(stmt: cst.CSTNode, stmts: Sequence[cst.CSTNode]) -> bool:
    """Nothing runs between ``stmt`` and the end of ``stmts`` (through ``try`` bodies/handlers)."""
    if not stmts:
        return False
    last = stmts[-1]
    if last is stmt:
        return True
    if not isinstance(last, cst.Try):
        return False
    regions = [h.body.body for h in last.handlers]
    regions.append(last.orelse.body.body if last.orelse is not None else last.body.body)
    return any(_at_tail(stmt, r) for r in regions)


def _wrapper_store(node: cst.CSTNode, wrappers: set[str]) -> tuple[str, str, cst.BaseExpression] | None:
    """(wrapper name, write kind, container) when ``node`` stores one of ``wrappers``:
    ``coll.append(w)``/``.add(w)``... or ``reg[k] = w``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in STORE_METHODS:
        name = _name_in(node.args, wrappers)
        return (name, "store", node.func.value) if name is not None else None
    if isinstance(node, cst.Assign) and _name_in([node], wrappers):
        sub = next((t.target for t in node.targets if isinstance(t.target, cst.Subscript)), None)
        return (cast(cst.Name, node.value).value, "setitem", sub.value) if sub is not None else None
    return None


def _name_in(holders: Sequence[cst.Arg | cst.Assign], names: set[str]) -> str | None:
    """The first ``.value`` among ``holders`` (call arguments, assignments) that is a bare name in ``names``."""
    return next((h.value.value for h in holders if isinstance(h.value, cst.Name) and h.value.value in names), None)


_PASS = cst.SimpleStatementLine(body=[cst.Pass()])


class _FixBuilder:
    """Builds the try/finally fix: the new ``finally`` plus removed duplicate undos."""

    def __init__(self, model: EndpointModel, undo: str, removals: Sequence[cst.SimpleStatementLine]) -> None:
        self.undo = cst.parse_statement(undo + "\n", config=model.ctx.module.config_for_parsing)
        self.removals = removals
        self.parent = model.parent

    @staticmethod
    def _filtered(body: Sequence[cst.BaseStatement], drop: set[int]) -> list[cst.BaseStatement]:
        kept = [s for i, s in enumerate(body) if i not in drop]
        return kept or [_PASS]

    def build(self, block: cst.IndentedBlock, index: int, target: cst.Try | None) -> Fix:
        drops: dict[int, tuple[cst.IndentedBlock, set[int]]] = {}
        for stmt in self.removals:
            owner = self.parent(stmt)
            entry = drops.setdefault(id(owner), (owner, set()))
            entry[1].add(next(i for i, s in enumerate(owner.body) if s is stmt))
        replacements: dict[cst.CSTNode, object] = {}
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
        old = list(updated.finalbody.body.body) if updated.finalbody is not None else []
        return updated.with_changes(finalbody=cst.Finally(body=cst.IndentedBlock(body=[self.undo, *old])))

    def _wrap(self, updated: cst.IndentedBlock, index: int, drop: set[int]) -> cst.IndentedBlock:
        head = list(updated.body[: index + 1])
        rest = [s for i, s in enumerate(updated.body) if i > index and i not in drop]
        first = rest[0]
        rest[0] = first.with_changes(leading_lines=[])
        new_try = cst.Try(
            body=cst.IndentedBlock(body=rest),
            finalbody=cst.Finally(body=cst.IndentedBlock(body=[self.undo])),
            leading_lines=first.leading_lines,
        )
        return updated.with_changes(body=[*head, new_try])


# ---- the ast prefilter (``wants``) ----------------------------------------------------------------

#: Methods whose call with the connection is a registry write (``_scan_ws_argument``).
_WRITE_METHODS = STORE_METHODS | JOIN_METHODS | REGISTER_METHODS


def _may_report(tree: ast.Module) -> bool:
    """Every report is on a registry write of an endpoint: ``reg[k] = ws`` (or, in a helper the
    connection is passed to, ``obj.attr = ws``), ``x.add(ws)``/``x.join(ws)``..., or a Channels
    ``group_add``; the connection is always a bare name there."""
    facts = endpoint_facts(tree)
    if facts is None or not facts.endpoints:
        return False
    if any(_stores_name(node) for node in reached_nodes(tree, ast.Assign)):
        return True
    if any(_writes_name(call) for call in reached_nodes(tree, ast.Call)):
        return True
    return bool(facts.of_kind("channels")) and _mentions_group_add(tree)


def _mentions_name(value: ast.expr) -> bool:
    """The model's ``_mentions_ws`` for some name: a bare name, or one in a tuple/list/dict display."""
    if isinstance(value, ast.Name):
        return True
    if isinstance(value, (ast.Tuple, ast.List)):
        return any(isinstance(e, ast.Name) for e in value.elts)
    return isinstance(value, ast.Dict) and any(isinstance(v, ast.Name) for v in value.values)


def _stores_name(node: ast.Assign) -> bool:
    return _mentions_name(node.value) and any(isinstance(t, (ast.Subscript, ast.Attribute)) for t in node.targets)


def _writes_name(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in _WRITE_METHODS:
        return False
    values = [a.value if isinstance(a, ast.Starred) else a for a in call.args] + [k.value for k in call.keywords]
    return any(isinstance(v, ast.Name) for v in values)


def _mentions_group_add(tree: ast.Module) -> bool:
    """``self.channel_layer.group_add(...)``, also as ``async_to_sync(layer.group_add)(...)``."""
    return any(a.attr == "group_add" for a in reached_nodes(tree, ast.Attribute)) or any(
        n.id == "group_add" for n in reached_nodes(tree, ast.Name)
    )
