"""WS202 inline-pacing-sleep: a paced send loop awaited inline from a receive loop stops the reads."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Rule, Valid
from wsrefactor.rules._ast_twins import imports_from, may_call, number_literal, prefixes
from wsrefactor.rules._endpoints import (
    ASGI_APP_CTORS,
    CHANNELS_CONSUMERS,
    SOCKETIO_SERVERS,
    TORNADO_HANDLER,
    WEBSOCKET_ENDPOINT,
    WEBSOCKET_ROUTE,
    WEBSOCKET_TYPES,
    WEBSOCKETS_SERVE,
    Endpoint,
    EndpointModel,
    endpoints,
    walk,
)
from wsrefactor.rules._helpers import call_name, keyword, number_value, positional
from wsrefactor.rules._prefilter import index, last_name, per_tree

_SLEEPS = frozenset({"asyncio.sleep", "asyncio.tasks.sleep", "anyio.sleep", "trio.sleep"})
_SENDS = frozenset({
    "send", "send_text", "send_bytes", "send_json", "send_str", "send_message", "send_personal_message",
    "write_message", "emit", "broadcast",
})
# Awaiting these awaits their arguments inline.
_INLINE_WRAPPERS = frozenset({
    "asyncio.gather", "asyncio.tasks.gather", "asyncio.wait_for", "asyncio.tasks.wait_for",
    "asyncio.shield", "asyncio.tasks.shield",
})
# Callback endpoints whose next message waits for the callback (socketio runs handlers as tasks).
_CALLBACKS = frozenset({"on_receive", "on_message", "receive", "receive_json", "websocket_receive"})
_MAX_DEPTH = 4
# Every name the endpoint model finds an endpoint by (its app, route, base class, serve...).
_ENDPOINT_IMPORTS = prefixes(
    ASGI_APP_CTORS | WEBSOCKET_TYPES | WEBSOCKET_ROUTE | WEBSOCKET_ENDPOINT | WEBSOCKETS_SERVE
    | TORNADO_HANDLER | CHANNELS_CONSUMERS | SOCKETIO_SERVERS
)

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


@dataclass(frozen=True)
class _Hit:
    sleep: cst.Call
    chain: tuple[cst.Call, ...]  # awaited calls from the receive loop to the sleep's function


class InlinePacingSleep(Rule):
    """
    ## What it does
    Finds `await asyncio.sleep(d)` (also `anyio.sleep`/`trio.sleep`) with `d > 0` (a positive
    literal or any non-literal expression; `sleep(0)` only yields and is not reported) inside a
    loop that sends on a connection (`send*`, `write_message`, `emit`, `broadcast`, or a
    same-module function that does), when that loop runs *inline* in an endpoint's receive
    loop: written inside it, or in a same-module function awaited from it (followed through the
    call graph, `asyncio.gather`/`wait_for`/`shield` included). Receive loops are those of
    FastAPI/Starlette endpoints and `websockets` handlers (and helpers the socket is passed to);
    the `on_receive`/`on_message`/`receive` callbacks of `WebSocketEndpoint`, tornado and Channels
    count too, since the next message waits for them. Functions started as tasks
    (`create_task`, `ensure_future`, `TaskGroup`, `add_task`), startup hooks and lifespans are not
    awaited from a receive loop and are not reported; a sleeping loop that sends nothing, or that
    is itself the receive loop (it reads on every turn), or a sleep in an `except` handler (a
    retry back-off) is not reported. Reported on the
    `sleep` line, naming the endpoint and the call chain.

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
    `gather`/`wait_for`, for callback endpoints, or
    when the module already defines one of the helper names differently.

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

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """An awaited positive sleep (by qualified name) in a loop that may send, not in an
        ``except`` handler of that loop, in a file importing something endpoints are found by:
        what ``_paced_sleeps`` needs before the endpoint model is even asked."""
        if not cls.matches_text(text):
            return False
        return tree is None or _may_pace(tree)

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

    # -- finding ---------------------------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        self.model = endpoints(self.ctx)
        self._reported: set[int] = set()
        self._read_loops = {id(r.loop) for ep in self.model.endpoints for r in ep.receives if r.loop is not None}
        for ep in self.model.endpoints:
            for region, func in self._read_regions(ep):
                hits = self._scan_region(region, func)
                fix = self._fix(ep, region, func, hits)
                for hit in hits:
                    self._report(ep, hit, region, fix if hit.chain and hit.chain[0] in self._fixed else None)

    @staticmethod
    def _read_regions(ep: Endpoint) -> list[tuple[cst.CSTNode, cst.FunctionDef]]:
        """Receive loops (and receive callbacks) with the function they are written in."""
        out: list[tuple[cst.CSTNode, cst.FunctionDef]] = []
        for site in ep.receives:
            region = site.loop
            if region is None and ep.kind != "socketio" and site.method in _CALLBACKS:
                region = site.node if isinstance(site.node, cst.FunctionDef) else None
            if region is not None and not any(region is r for r, _ in out):
                out.append((region, site.function))
        return out

    def _scan_region(self, region: cst.CSTNode, func: cst.FunctionDef) -> list[_Hit]:
        hits = [_Hit(s, ()) for s in self._paced_sleeps(region, func) if self._loop_of(s) is not region]
        seen = {id(func)}
        frontier = [(call, target, (call,)) for call, target in self._inline_calls(region, func)]
        for _ in range(_MAX_DEPTH):
            nxt = []
            for _call, target, chain in frontier:
                if id(target) in seen:
                    continue
                seen.add(id(target))
                hits.extend(_Hit(s, chain) for s in self._paced_sleeps(target, target))
                nxt.extend((c, t, (*chain, c)) for c, t in self._inline_calls(target, target))
            frontier = nxt
        return hits

    def _inline_calls(self, root: cst.CSTNode, func: cst.FunctionDef) -> list[tuple[cst.Call, cst.FunctionDef]]:
        """Same-module functions awaited inline under ``root`` (directly or via gather/wait_for)."""
        out = []
        for node in walk(root, into_defs=False):
            if isinstance(node, cst.Call) and self._awaited_inline(node):
                target = self.model.resolve_call(node, func)
                if target is not None and target.asynchronous is not None:
                    out.append((node, target))
        return out

    def _awaited_inline(self, call: cst.Call) -> bool:
        parent = self.model.parent(call)
        if isinstance(parent, cst.Await):
            return True
        wrapper = self.model.parent(parent) if isinstance(parent, cst.Arg) else None
        return (
            isinstance(wrapper, cst.Call)
            and call_name(self.ctx, wrapper) in _INLINE_WRAPPERS
            and isinstance(self.model.parent(wrapper), cst.Await)
        )

    def _paced_sleeps(self, root: cst.CSTNode, func: cst.FunctionDef) -> list[cst.Call]:
        out = []
        for node in walk(root, into_defs=False):
            if not isinstance(node, cst.Call) or call_name(self.ctx, node) not in _SLEEPS:
                continue
            loop = self._loop_of(node)
            if loop is None or id(loop) in self._read_loops or not _positive_delay(node) or self._backoff(node, loop):
                continue
            if isinstance(self.model.parent(node), cst.Await) and self._sends(loop, func):
                out.append(node)
        return out

    def _backoff(self, sleep: cst.Call, loop: cst.CSTNode) -> bool:
        """A sleep in an ``except`` handler inside the loop: a retry back-off, not pacing."""
        for anc in self.model.ancestors(sleep):
            if anc is loop:
                return False
            if isinstance(anc, cst.ExceptHandler):
                return True
        return False

    def _loop_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.model.enclosing_loop(node)

    def _sends(self, root: cst.CSTNode, func: cst.FunctionDef, depth: int = 2) -> bool:
        """Whether ``root`` sends on a connection (or calls a same-module function that does)."""
        for node in walk(root, into_defs=False):
            if not isinstance(node, cst.Call):
                continue
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in _SENDS:
                return True
            target = self.model.resolve_call(node, func) if depth else None
            if target is not None and target is not func and self._sends(target.body, target, depth - 1):
                return True
        return False

    def _report(self, ep: Endpoint, hit: _Hit, region: cst.CSTNode, fix: Fix | None) -> None:
        if id(hit.sleep) in self._reported:
            return
        self._reported.add(id(hit.sleep))
        code = self.ctx.module.code_for_node
        names = self._chain_names(ep, hit, region)
        func = self.model.function_of(hit.sleep)
        message = (
            f"`{' '.join(code(hit.sleep).split())}` paces a send loop awaited inline from the receive loop of "
            f"`{names[0]}` ({' -> '.join(names)}): this connection reads no message (pings and close "
            "included) until the loop ends; run it as a background task"
        )
        scope = ".".join(
            n.name.value for n in [*reversed(list(self.model.ancestors(hit.sleep)))]
            if isinstance(n, (cst.FunctionDef, cst.ClassDef))
        )
        stmt = region if fix is not None else None
        self.report(hit.sleep, message, fix=fix, stmt=stmt, scope=scope or (func.name.value if func else ""))

    def _chain_names(self, ep: Endpoint, hit: _Hit, region: cst.CSTNode) -> list[str]:
        """endpoint -> reading helper (if any) -> awaited calls."""
        owner = ep.handler or ep.cls
        names = [owner.name.value if owner is not None else "?"]
        reader = region if isinstance(region, cst.FunctionDef) else self.model.function_of(region)
        if reader is not None and ep.handler is not None and reader is not ep.handler:
            names.append(reader.name.value)
        names.extend(self.ctx.module.code_for_node(c.func) for c in hit.chain)
        return names

    # -- fix ---------------------------------------------------------------------------------

    def _fix(self, ep: Endpoint, region: cst.CSTNode, func: cst.FunctionDef, hits: list[_Hit]) -> Fix | None:
        self._fixed: list[cst.Call] = []
        if ep.kind not in ("asgi", "websockets") or not isinstance(region, (cst.While, cst.For)):
            return None
        if not self._helpers_free():
            return None
        calls = []
        for hit in hits:
            if hit.chain and self._spawnable(hit.chain[0], region) and not any(c is hit.chain[0] for c in calls):
                calls.append(hit.chain[0])
        if not calls:
            return None
        self._fixed = calls
        return _build_fix(self.ctx.module, region, calls, _fresh_name(func, "stream_tasks"), self.model)

    def _helpers_free(self) -> bool:
        """The helper names are free, or already hold exactly our helpers."""
        code = self.ctx.module.code_for_node
        for name, text in _HELPERS.items():
            existing = self.model.functions.get(name)
            if existing is not None and code(existing).strip() != text:
                return False
        return True

    def _spawnable(self, call: cst.Call, region: cst.CSTNode) -> bool:
        """``await f(...)`` as a whole statement, in the receive loop's own function."""
        awaited = self.model.parent(call)
        expr = self.model.parent(awaited) if isinstance(awaited, cst.Await) else None
        line = self.model.parent(expr) if isinstance(expr, cst.Expr) else None
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            return False
        return self.model.function_of(call) is self.model.function_of(region)


# -- the prefilter: ``_paced_sleeps`` and ``_sends`` on Python's ast, erring towards a file ------


def _ast_paced_sleep(tree: ast.Module, value: ast.expr) -> bool:
    """An awaited ``asyncio``/``anyio``/``trio`` ``sleep`` with a delay ``_positive_delay`` takes."""
    return isinstance(value, ast.Call) and _ast_positive_delay(value) and may_call(tree, value, _SLEEPS)


def _ast_positive_delay(call: ast.Call) -> bool:
    """``_positive_delay``: the first positional, ``delay=`` or ``seconds=``; a literal > 0 or any
    expression."""
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    words = {k.arg: k.value for k in call.keywords if k.arg}
    arg = plain[0] if plain else words.get("delay", words.get("seconds"))
    if arg is None:
        return False
    value = number_literal(arg)
    return value is None or value > 0


class _Place(NamedTuple):
    """Where a node sits: its innermost def, innermost loop in that def (None: no loop), whether
    that loop is inside another loop of the def, and whether the node is in one of its handlers."""

    func: ast.AST | None
    loop: ast.AST | None
    nested: bool
    handler: bool


def _may_pace(tree: ast.Module) -> bool:
    """Cheapest first: the sleeps are few, sends and endpoint imports are sets to look up."""
    facts = index(tree)
    sleeps = [a for a in facts.nodes(ast.Await) if _ast_paced_sleep(tree, a.value)]
    if not sleeps or facts.called.isdisjoint(_SENDS) or not imports_from(tree, _ENDPOINT_IMPORTS):
        return False
    inline = per_tree(_inline_names, tree)
    return any(
        _may_read_around(place, inline) and _loop_may_send(tree, place.loop)
        for place in _sleep_places(tree, sleeps)
    )


def _may_read_around(place: _Place, inline: frozenset[str]) -> bool:
    """``_scan_region`` finds a sleep only in a loop nested in a receive loop, in a receive
    callback, or in a function awaited inline (by the name it is called by)."""
    name = getattr(place.func, "name", None)
    return place.nested or name in _CALLBACKS or name in inline


def _inline_names(tree: ast.Module) -> frozenset[str]:
    """Names called where ``_awaited_inline`` looks: ``await f()``, ``await wrapper(f(), ...)``."""
    names: set[str] = set()
    for awaited in index(tree).nodes(ast.Await):
        call = awaited.value
        if not isinstance(call, ast.Call):
            continue
        names.add(last_name(call.func))
        for arg in (*call.args, *(k.value for k in call.keywords)):
            inner = arg.value if isinstance(arg, ast.Starred) else arg
            if isinstance(inner, ast.Call):
                names.add(last_name(inner.func))
    return frozenset(names)


def _loop_may_send(tree: ast.Module, loop: ast.AST | None) -> bool:
    """``_sends``: a send in the loop, or a call of a function that may reach one."""
    if loop is None:
        return False
    if _sends_itself(loop):
        return True
    senders = per_tree(_ast_senders, tree)
    return any(isinstance(n, ast.Call) and last_name(n.func) in senders for n in ast.walk(loop))


def _sleep_places(tree: ast.Module, sleeps: list[ast.Await]) -> Iterator[_Place]:
    """Where each of ``sleeps`` is, when it is in a loop of its function (``enclosing_loop``) and
    not in an ``except`` handler inside that loop (``_backoff``)."""
    wanted = {id(a) for a in sleeps}
    stack: list[tuple[ast.AST, _Place]] = [(tree, _Place(None, None, False, False))]
    while stack:
        node, place = stack.pop()
        if id(node) in wanted and place.loop is not None and not place.handler:
            yield place
        stack.extend((child, _within(node, child, place)) for child in ast.iter_child_nodes(node))


def _within(node: ast.AST, child: ast.AST, place: _Place) -> _Place:
    """The place of ``child`` of ``node`` at ``place`` (a def or lambda starts afresh)."""
    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return _Place(child, None, False, False)
    if isinstance(child, (ast.For, ast.AsyncFor, ast.While)):
        return _Place(place.func, child, place.loop is not None, False)
    if isinstance(node, ast.Try) and not place.handler and child in node.handlers:
        return place._replace(handler=True)
    return place


def _sends_itself(node: ast.AST) -> bool:
    """A ``.send*(...)``-like call under ``node``."""
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _SENDS for n in ast.walk(node)
    )


def _ast_senders(tree: ast.Module) -> frozenset[str]:
    """Names of the functions ``_sends`` may follow a call into (two calls deep) to a send."""
    defs = index(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    direct = {d.name for d in defs if _sends_itself(d)}
    calling = {
        d.name for d in defs if any(isinstance(n, ast.Call) and last_name(n.func) in direct for n in ast.walk(d))
    }
    return frozenset(direct | calling)


def _positive_delay(call: cst.Call) -> bool:
    arg = positional(call, 0) or keyword(call, "delay") or keyword(call, "seconds")
    if arg is None:
        return False
    value = number_value(arg.value)
    return value is None or value > 0


def _fresh_name(func: cst.FunctionDef, base: str) -> str:
    used = {n.value for n in walk(func) if isinstance(n, cst.Name)}
    name = base
    while name in used:
        name += "_"
    return name


def _build_fix(module: cst.Module, loop: cst.CSTNode, calls: list[cst.Call], tasks: str,
               model: EndpointModel) -> Fix:
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

    replacements: dict[cst.CSTNode, object] = {model.parent(c): spawn for c in calls}
    replacements[loop] = wrap
    return Fix(
        FixSafety.UNSAFE,
        "run the paced stream as a task of the connection, cancelled when its receive loop ends",
        replacements=replacements,
        imports=(("asyncio", None), ("logging", None)),
        module_statements=(SPAWN_FUNC, LOG_FUNC, CANCEL_FUNC),
    )
