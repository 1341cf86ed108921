"""WS202 inline-pacing-sleep: a paced send loop awaited inline from a receive loop stops the reads."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, SemanticRule, Valid
from wsrefactor.semantic import Analyses, Scope
from wsrefactor.semantic.detection import Detection, detect_at
from wsrefactor.semantic.identifiers import identifiers
from wsrefactor.semantic.sends import Sends
from wsrefactor.semantic.server import Endpoint, Receive, ServerModel

_SLEEPS = frozenset({"asyncio.sleep", "asyncio.tasks.sleep", "anyio.sleep", "trio.sleep"})
# Awaiting these awaits their arguments inline.
_INLINE_WRAPPERS = frozenset({
    "asyncio.gather", "asyncio.tasks.gather", "asyncio.wait_for", "asyncio.tasks.wait_for",
    "asyncio.shield", "asyncio.tasks.shield",
})
# Callback endpoints whose next message waits for the callback (socketio runs handlers as tasks).
_CALLBACKS = frozenset({"on_receive", "on_message", "receive", "receive_json", "websocket_receive"})
# Connect callbacks of class endpoints: the framework delivers no message until they return
# (Starlette's dispatch awaits on_connect before its receive loop, Channels dispatches one message
# at a time, tornado defers on_message until a coroutine open() is done).
_CONNECT_CALLBACKS = ("on_connect", "open", "connect", "websocket_connect")
_MAX_DEPTH = 4  # awaited calls followed from a receive loop to a paced loop
_FIXABLE_KINDS = ("asgi", "websockets")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)

SPAWN_FUNC = '''def _spawn(coro, tasks):
    """Run ``coro`` as a task of one connection: kept in ``tasks`` until done, its failure logged."""
    task = asyncio.ensure_future(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    task.add_done_callback(_log_task_failure)
    return task'''
LOG_FUNC = '''def _log_task_failure(task):
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).error("connection task failed", exc_info=task.exception())'''
CANCEL_FUNC = '''def _cancel_tasks(tasks):
    """Cancel the tasks a connection started (its receive loop has ended)."""
    for task in list(tasks):
        task.cancel()'''
_HELPERS = {"_spawn": SPAWN_FUNC, "_log_task_failure": LOG_FUNC, "_cancel_tasks": CANCEL_FUNC}

Span = tuple[tuple[int, int], tuple[int, int]]  # (line, 0-based column) start and end, as libcst's


@dataclass(frozen=True)
class _Plan:
    """The fix, decided in ``detect``: the receive loop to wrap in ``try``/``finally``, the
    ``await f(...)`` expressions to turn into ``_spawn(f(...), tasks)``, the tasks' name."""

    loop: Span
    awaits: tuple[Span, ...]
    tasks: str


class InlinePacingSleep(SemanticRule):
    """
    ## What it does
    Finds `await asyncio.sleep(d)` (also `anyio.sleep`/`trio.sleep`) with `d > 0` (a positive
    literal or any non-literal expression; `sleep(0)` only yields and is not reported) inside a
    loop that sends to a client, when that loop runs *inline* in a receive loop: written inside
    it, or in a same-module function awaited from it (followed through the call graph,
    `asyncio.gather`/`wait_for`/`shield` included); a same-module async generator whose loop
    sleeps between `yield`s paces the `async for` that consumes it and sends. Receive loops are
    the loops that read a connection value (an endpoint's websocket of FastAPI/Starlette or
    `websockets`, the socket passed to a helper, a parameter annotated `WebSocket`, `self.ws = websocket`...); the
    `on_receive`/`on_message`/`receive` callbacks of `WebSocketEndpoint`, tornado and Channels
    count too, since the next message waits for them, and so do their connect callbacks
    (`on_connect`, `open`, `connect`): no message is delivered until they return. Functions
    started as tasks (`create_task`, `ensure_future`, `TaskGroup`, `add_task`), startup hooks and
    lifespans are not awaited from a receive loop and are not reported; a sleeping loop that
    sends nothing, or that is itself the receive loop (it reads on every turn), or a sleep in an
    `except` handler (a retry back-off) is not reported. Reported on the `sleep` line, naming the
    endpoint and the call chain.

    A loop *sends* when it calls any send method, decided from what the call does, not from its
    name: a same-module function or method (`send_to_session`, `send_personal_message`,
    `notify`...) sends when its body sends, itself or through its helpers a few calls deep; a
    call into another module sends when it is a send method (`send`, `send_*`,
    `write_message`) of a value known to be a connection, a method only a WebSocket connection
    offers (`send_text`, `send_json`, `send_bytes`, `send_str`, `write_message`), or `emit`/`send`
    of a socket.io server. A same-module `send_*` method that only fills a queue, and `.send()`
    on a queue, a generator or any value not known to be a connection, are not sends. Where the
    callee is in another module and the receiver is not known to be a connection
    (`await imported_manager.send_to(user, data)`), the rule cannot tell and stays silent.

    ## Why is this bad?
    `asyncio.sleep` does not block the event loop: other connections are unaffected. What it
    costs is *this* connection's reads. While the paced stream runs, the handler does not call
    `receive`, so nothing the client sends is processed: application-level pings/heartbeats go
    unanswered (the client may decide the server is dead and time out), commands such as
    "stop" or "unsubscribe" wait for the whole stream, and a close from the client is only
    noticed when the stream ends and the loop reads again (the stream keeps sending to a client
    that has left). Incoming frames pile up in the server's buffer; protocol-level ping/pong is
    usually still answered by the server library (uvicorn/websockets), until that buffer is full
    and the server stops reading the socket altogether.

    ## Example
    ```python
    async def stream_updates(websocket):
        for i in range(100):
            await websocket.send_text(f"update {i}")
            await asyncio.sleep(1)

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            if text == "stream":
                await stream_updates(websocket)
    ```

    ## Use instead
    ```python
    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        stream_tasks: set[asyncio.Task] = set()
        try:
            while True:
                text = await websocket.receive_text()
                if text == "stream":
                    _spawn(stream_updates(websocket), stream_tasks)
        finally:
            _cancel_tasks(stream_tasks)
    ```
    The fix is *unsafe*: the stream now runs concurrently with the receive loop (messages are
    answered while it runs; two streams requested back to back interleave) and is cancelled
    when the loop ends (the client left or the handler failed). It rewrites an awaited call
    statement `await f(...)` of the receive loop of a FastAPI/Starlette/`websockets` function
    endpoint into `_spawn(f(...), <tasks>)`, and adds after the imports `_spawn` (keeps a
    reference to the task until it is done, logs its exception with `logging`),
    `_log_task_failure` and `_cancel_tasks`, plus `import asyncio`/`import logging`.
    No fix is offered when the sleeping loop is written inside the receive loop itself (move it
    into a function first), when the awaited call's result is used or it is an argument of
    `gather`/`wait_for`, for callback endpoints, for a paced async generator consumed by
    `async for`, or when the module already defines one of the helper names differently.

    ## Options
    None.
    """

    code = "WS202"
    name = "inline-pacing-sleep"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "paced send loop awaited inline from a receive loop: the connection reads nothing meanwhile"
    tokens = ("sleep",)
    # Receive loops read connections of these frameworks (found by their imports).
    requires_any_import = ("fastapi", "starlette", "websockets", "tornado", "channels")
    fix_node_types = ("Call",)

    VALID = [
        Valid("""
            import asyncio
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            async def stream(websocket):
                while True:
                    await websocket.send_text("tick")
                    await asyncio.sleep(1)

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                task = asyncio.create_task(stream(websocket))
                try:
                    while True:
                        await websocket.receive_text()
                finally:
                    task.cancel()
        """),
        Valid("""
            import asyncio
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            async def drain(websocket, items):
                for item in items:
                    await websocket.send_json(item)
                    await asyncio.sleep(0)

            async def settle(items):
                for item in items:
                    item.flush()
                    await asyncio.sleep(0.5)

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    items = await websocket.receive_json()
                    await drain(websocket, items)
                    await settle(items)
        """),
    ]
    INVALID = [
        Invalid(
            """
            import asyncio
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    text = await websocket.receive_text()
                    if text == "stream":
                        await stream(websocket)

            async def stream(websocket):
                for i in range(10):
                    await websocket.send_text(str(i))
                    await asyncio.sleep(0.5)
            """,
            """
            import asyncio
            import logging
            from fastapi import FastAPI, WebSocket


            def _spawn(coro, tasks):
                \"\"\"Run ``coro`` as a task of one connection: kept in ``tasks`` until done, its failure logged.\"\"\"
                task = asyncio.ensure_future(coro)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(_log_task_failure)
                return task


            def _log_task_failure(task):
                if not task.cancelled() and task.exception() is not None:
                    logging.getLogger(__name__).error("connection task failed", exc_info=task.exception())


            def _cancel_tasks(tasks):
                \"\"\"Cancel the tasks a connection started (its receive loop has ended).\"\"\"
                for task in list(tasks):
                    task.cancel()


            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                stream_tasks: set[asyncio.Task] = set()
                try:
                    while True:
                        text = await websocket.receive_text()
                        if text == "stream":
                            _spawn(stream(websocket), stream_tasks)
                finally:
                    _cancel_tasks(stream_tasks)

            async def stream(websocket):
                for i in range(10):
                    await websocket.send_text(str(i))
                    await asyncio.sleep(0.5)
            """,
            lines=(17,),
        ),
        Invalid(
            """
            import asyncio
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            DELAY = 1

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                async for text in websocket.iter_text():
                    for part in text.split():
                        await websocket.send_text(part)
                        await asyncio.sleep(DELAY)
            """,
            lines=(13,),
        ),
    ]

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        yield from _Pacing(analyses).detections()

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        plan: _Plan | None = detection.data
        if plan is None:
            return None
        find = self.ctx.positions.find
        loop = find(*plan.loop, (cst.While, cst.For))
        awaits = [find(*span, (cst.Await,)) for span in plan.awaits]
        if loop is None or any(a is None for a in awaits):
            return None
        return _build_fix(self.ctx.module, loop, awaits, plan.tasks)  # type: ignore[arg-type]


# -- detection, on the ast server model ---------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    """A receive loop (or receive callback ``def``), the function it is written in, the names the
    message starts with (endpoint -> reading helper) and whether the fix may rewrite it."""

    node: ast.AST
    function: Scope
    names: tuple[str, ...]
    fixable: bool


@dataclass(frozen=True)
class _Hit:
    sleep: ast.Call
    # calls from the receive loop to the sleep's function: awaited, or the async generator an
    # ``async for`` consumes
    chain: tuple[ast.Call, ...]


class _Pacing:
    """The paced send loops awaited inline from the receive loops of one module."""

    def __init__(self, analyses: Analyses) -> None:
        self.analyses = analyses
        self.server: ServerModel = analyses(ServerModel)
        self.sends: Sends = analyses(Sends)
        self.model = self.server.model
        self.read_loops = {id(r.loop) for r in self.server.receives if r.loop is not None}
        self.sleeps = [call for call, scope in self.model.calls()
                       if self.model.qualified_name(call.func, scope) in _SLEEPS]

    def detections(self) -> Iterator[Detection]:
        reported: set[int] = set()
        for region in self._regions():
            hits = self._scan(region)
            plan, spawned = self._plan(region, hits)
            for hit in hits:
                if id(hit.sleep) in reported:
                    continue
                reported.add(id(hit.sleep))
                fixable = plan is not None and bool(hit.chain) and any(hit.chain[0] is c for c in spawned)
                found = detect_at(self.analyses, hit.sleep, self._message(region, hit), fixable=fixable,
                                  data=plan if fixable else None)
                if fixable:  # the fix rewrites the receive loop: its lines are the finding's statement
                    found = dataclasses.replace(found, stmt_line=region.node.lineno,  # type: ignore[attr-defined]
                                                stmt_end_line=region.node.end_lineno)  # type: ignore[attr-defined]
                yield found

    # -- receive loops --------------------------------------------------------------------------

    def _regions(self) -> Iterator[_Region]:
        """Receive loops and callbacks: those of each endpoint (its handlers and the functions
        the connection is handed to), then those of any other connection value of the module."""
        seen: set[int] = set()
        for ep in self.server.endpoints:
            if ep.kind != "socketio":
                yield from self._endpoint_regions(ep, seen)
        for site in self.server.receives:
            region = self._region_of(site)
            if region is not None and id(region) not in seen:
                seen.add(id(region))
                yield _Region(region, site.function, (site.function.name,),
                              site.connection in _FIXABLE_KINDS and not site.callback)

    def _endpoint_regions(self, ep: Endpoint, seen: set[int]) -> Iterator[_Region]:
        readers = self._readers(ep)
        fixable_kind = ep.kind in _FIXABLE_KINDS
        for site in self.server.receives:
            region = self._region_of(site) if id(site.function) in readers else None
            if region is None or id(region) in seen:
                continue
            seen.add(id(region))
            yield _Region(region, site.function, self._names(ep, site.function),
                          fixable_kind and isinstance(region, (ast.While, ast.For, ast.AsyncFor)))
        yield from self._connect_regions(ep, seen)

    @staticmethod
    def _connect_regions(ep: Endpoint, seen: set[int]) -> Iterator[_Region]:
        """The connect callback of a class endpoint: no message is delivered until it returns."""
        if not isinstance(ep.node, ast.ClassDef):
            return
        for fn in (ep.methods.get(name) for name in _CONNECT_CALLBACKS):
            if fn is not None and id(fn.node) not in seen:
                seen.add(id(fn.node))
                yield _Region(fn.node, fn, (ep.node.name, fn.name), False)

    def _readers(self, ep: Endpoint) -> set[int]:
        """Ids of the endpoint's handlers and of the same-module functions the connection is
        handed to from them (as an argument, or as the receiver ``self``), a few calls deep."""
        found = {id(fn): fn for fn in ep.handlers}
        frontier = list(ep.handlers)
        for _ in range(_MAX_DEPTH):
            nxt: list[Scope] = []
            for fn in frontier:
                for call, scope in self.server.calls_in(fn):
                    callee = self.server.resolve(call, scope)
                    if callee is not None and id(callee) not in found and self._hands_connection(call, scope):
                        found[id(callee)] = callee
                        nxt.append(callee)
            frontier = nxt
        return set(found)

    def _hands_connection(self, call: ast.Call, scope: Scope) -> bool:
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        return any(self.server.is_connection(a, scope) for a in [receiver, *call.args, *(k.value for k in call.keywords)])

    @staticmethod
    def _region_of(site: Receive) -> ast.AST | None:
        if site.loop is not None:
            return site.loop
        return site.node if site.callback and site.method in _CALLBACKS else None

    def _names(self, ep: Endpoint, reader: Scope) -> tuple[str, ...]:
        """endpoint -> reading helper (function endpoints); a class endpoint is named by its class."""
        name = getattr(ep.node, "name", "?")
        if isinstance(ep.node, ast.ClassDef) or any(reader is h for h in ep.handlers):
            return (name,)
        return (name, reader.name)

    # -- paced sends reached inline -------------------------------------------------------------

    def _scan(self, region: _Region) -> list[_Hit]:
        hits = [_Hit(s, ()) for s in self._paced_sleeps(region.node, region.function)
                if self.server.enclosing_loop(s) is not region.node]
        hits.extend(self._paced_streams(region.node, region.function, ()))
        seen = {id(region.function)}
        frontier: list[tuple[Scope, tuple[ast.Call, ...]]] = [
            (target, (call,)) for call, target in self._inline_calls(region.node, region.function)
        ]
        for _ in range(_MAX_DEPTH):
            nxt: list[tuple[Scope, tuple[ast.Call, ...]]] = []
            for target, chain in frontier:
                if id(target) in seen:
                    continue
                seen.add(id(target))
                hits.extend(_Hit(s, chain) for s in self._paced_sleeps(target.node, target))
                hits.extend(self._paced_streams(target.node, target, chain))
                nxt.extend((t, (*chain, c)) for c, t in self._inline_calls(target.node, target))
            frontier = nxt
        return hits

    def _inline_calls(self, root: ast.AST, fn: Scope) -> list[tuple[ast.Call, Scope]]:
        """Async functions of this module awaited inline under ``root`` (directly or through
        ``gather``/``wait_for``/``shield``), in source order."""
        out = []
        for call, scope in self.server.calls_in(fn):
            if _under(call, root, self.server) and self._awaited_inline(call):
                target = self.server.resolve(call, scope)
                if target is not None and target.is_async:
                    out.append((call, target))
        out.sort(key=lambda pair: (pair[0].lineno, pair[0].col_offset))
        return out

    def _awaited_inline(self, call: ast.Call) -> bool:
        parent = self.server.parent(call)
        if isinstance(parent, ast.Await):
            return True
        wrapper = self.server.parent(parent) if isinstance(parent, ast.keyword) else parent
        return (
            isinstance(wrapper, ast.Call) and wrapper is not call
            and self.model.qualified_name(wrapper.func, self.model.scope_of(wrapper)) in _INLINE_WRAPPERS
            and isinstance(self.server.parent(wrapper), ast.Await)
        )

    def _paced_sleeps(self, root: ast.AST, fn: Scope) -> list[ast.Call]:
        """Awaited positive sleeps under ``root`` in ``fn``'s own code, in a loop that sends and
        is not a receive loop, not in an ``except`` handler of that loop."""
        out = []
        for sleep in self.sleeps:
            if self.server.function_of(sleep) is not fn or not _under(sleep, root, self.server):
                continue
            loop = self.server.enclosing_loop(sleep)
            if loop is None or id(loop) in self.read_loops or not _positive_delay(sleep) or self._backoff(sleep, loop):
                continue
            if isinstance(self.server.parent(sleep), ast.Await) and self._loop_sends(loop):
                out.append(sleep)
        return out

    def _paced_streams(self, root: ast.AST, fn: Scope, chain: tuple[ast.Call, ...]) -> list[_Hit]:
        """Sleeps pacing an async generator of this module that an ``async for`` under ``root``
        consumes and sends on (``async for token in fake_stream(text): await ws.send_text(token)``)."""
        out: list[_Hit] = []
        for call, scope in self.server.calls_in(fn):
            loop = self.server.parent(call)
            if not (isinstance(loop, ast.AsyncFor) and loop.iter is call and _under(call, root, self.server)):
                continue
            generator = self.server.resolve(call, scope)
            if generator is not None and generator.is_async and self._loop_sends(loop):
                out.extend(_Hit(s, (*chain, call)) for s in self._paced_yields(generator))
        return out

    def _paced_yields(self, generator: Scope) -> list[ast.Call]:
        """Awaited positive sleeps of ``generator`` in a loop that yields (not a receive loop, not
        in an ``except`` handler of that loop)."""
        out = []
        for sleep in self.sleeps:
            loop = self.server.enclosing_loop(sleep) if self.server.function_of(sleep) is generator else None
            if loop is None or id(loop) in self.read_loops or not _positive_delay(sleep) or self._backoff(sleep, loop):
                continue
            if isinstance(self.server.parent(sleep), ast.Await) and any(isinstance(n, ast.Yield) for n in _own(loop)):
                out.append(sleep)
        return out

    def _backoff(self, sleep: ast.Call, loop: ast.AST) -> bool:
        """A sleep in an ``except`` handler inside the loop: a retry back-off, not pacing."""
        current = self.server.parent(sleep)
        while current is not None and current is not loop:
            if isinstance(current, ast.ExceptHandler):
                return True
            current = self.server.parent(current)
        return False

    def _loop_sends(self, loop: ast.AST) -> bool:
        """Some call in the loop (nested defs aside) sends to a client (``Sends``)."""
        return any(
            isinstance(node, ast.Call) and self.sends.call_sends(node, self.model.scope_of(node))
            for node in _own(loop)
        )

    # -- the message and the fix ----------------------------------------------------------------

    def _message(self, region: _Region, hit: _Hit) -> str:
        segment = self.analyses.segment
        names = [*region.names, *(segment(c.func) for c in hit.chain)]
        return (
            f"`{' '.join(segment(hit.sleep).split())}` paces a send loop awaited inline from the receive loop of "
            f"`{names[0]}` ({' -> '.join(names)}): this connection reads no message (pings and close "
            "included) until the loop ends; run it as a background task"
        )

    def _plan(self, region: _Region, hits: list[_Hit]) -> tuple[_Plan | None, list[ast.Call]]:
        """Spawn the inline calls of ``region`` that lead to its hits, when each is a whole
        ``await f(...)`` statement of the loop's own function and the helper names are free."""
        if not region.fixable or not self._helpers_free():
            return None, []
        calls: list[ast.Call] = []
        for hit in hits:
            if hit.chain and self._spawnable(hit.chain[0], region) and not any(c is hit.chain[0] for c in calls):
                calls.append(hit.chain[0])
        if not calls:
            return None, []
        awaits = tuple(self._span(self.server.parent(c)) for c in calls)  # type: ignore[arg-type]
        tasks = _fresh_name(region.function.node, "stream_tasks")
        return _Plan(self._span(region.node), awaits, tasks), calls

    def _helpers_free(self) -> bool:
        """The helper names are unbound at module level, or bound once to exactly our helpers."""
        for name, text in _HELPERS.items():
            bound = self.model.module.bindings.get(name, ())
            if bound and not (len(bound) == 1 and bound[0].kind == "def"
                              and self.analyses.segment(bound[0].node).strip() == text):
                return False
        return True

    def _spawnable(self, call: ast.Call, region: _Region) -> bool:
        """``await f(...)`` alone on its line as a whole statement, in the receive loop's own function."""
        awaited = self.server.parent(call)
        stmt = self.server.parent(awaited) if isinstance(awaited, ast.Await) else None
        if not isinstance(stmt, ast.Expr) or self.server.function_of(call) is not region.function:
            return False
        before = self.analyses.line(stmt.lineno)[: stmt.col_offset]
        after = self.analyses.line(stmt.end_lineno or stmt.lineno)[stmt.end_col_offset or 0:].strip()
        return not before.strip() and (not after or after.startswith("#"))

    def _span(self, node: ast.AST) -> Span:
        char = self.analyses.char_column
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return (line, char(line, node.col_offset)), (end_line, char(end_line, node.end_col_offset))  # type: ignore[attr-defined]


def _own(node: ast.AST) -> Iterator[ast.AST]:
    """``node``'s descendants, not entering nested defs, lambdas and classes."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        current = todo.pop()
        yield current
        if not isinstance(current, _DEFS):
            todo.extend(ast.iter_child_nodes(current))


def _under(node: ast.AST, root: ast.AST, server: ServerModel) -> bool:
    """``node`` is ``root`` or below it."""
    current: ast.AST | None = node
    while current is not None:
        if current is root:
            return True
        current = server.parent(current)
    return False


def _positive_delay(call: ast.Call) -> bool:
    """The first positional, ``delay=`` or ``seconds=``: a number literal > 0, or any expression."""
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    words = {k.arg: k.value for k in call.keywords if k.arg}
    arg = plain[0] if plain else words.get("delay", words.get("seconds"))
    if arg is None:
        return False
    value = _number(arg)
    return value is None or value > 0


def _number(node: ast.expr) -> float | None:
    """A number literal, possibly negated (``True`` is not one)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _fresh_name(fn: ast.AST, base: str) -> str:
    """``base`` with underscores appended until no identifier of ``fn`` has that name."""
    used = identifiers(fn)
    name = base
    while name in used:
        name += "_"
    return name


# -- the fix (libcst) ---------------------------------------------------------------------------


def _build_fix(module: cst.Module, loop: cst.CSTNode, awaits: list[cst.Await], tasks: str) -> Fix:
    config = module.config_for_parsing
    init = cst.parse_statement(f"{tasks}: set[asyncio.Task] = set()\n", config=config)
    cancel = cst.parse_statement(f"_cancel_tasks({tasks})\n", config=config)

    def spawn(updated: cst.Await) -> cst.Call:
        return cst.Call(func=cst.Name("_spawn"), args=[
            cst.Arg(updated.expression, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            cst.Arg(cst.Name(tasks)),
        ])

    def wrap(updated: cst.BaseCompoundStatement) -> cst.FlattenSentinel:
        new_try = cst.Try(
            body=cst.IndentedBlock(body=[updated.with_changes(leading_lines=[])]),
            finalbody=cst.Finally(body=cst.IndentedBlock(body=[cancel])),
        )
        return cst.FlattenSentinel([init.with_changes(leading_lines=updated.leading_lines), new_try])

    replacements: dict[cst.CSTNode, Any] = {a: spawn for a in awaits}
    replacements[loop] = wrap
    return Fix(
        FixSafety.UNSAFE,
        "run the paced stream as a task of the connection, cancelled when its receive loop ends",
        replacements=replacements,
        imports=(("asyncio", None), ("logging", None)),
        module_statements=(SPAWN_FUNC, LOG_FUNC, CANCEL_FUNC),
    )
