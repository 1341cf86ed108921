"""WS102 message-size-unbounded: a received WebSocket message used with no length check."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._endpoint_prefilter import (
    endpoint_facts,
    is_none,
    keyword,
    method_calls,
)
from wsrefactor.rules._endpoints import (
    ASGI_ITER_MODES,
    ASGI_RECEIVE_MODES,
    Endpoint,
    EndpointModel,
    ReceiveSite,
    ServeCall,
    endpoints,
    walk,
)
from wsrefactor.rules._prefilter import per_tree

_CHECKED_MODES = {"text", "bytes", "json", "json-binary", "message"}
_TRIVIAL_TESTS = (cst.Is, cst.IsNot)
#: Nodes through which a message value flows on unchanged enough to be measured later.
_ACCESSORS = (cst.Subscript, cst.Attribute, cst.SubscriptElement, cst.Index, cst.Arg)


def _is_type_key(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.SimpleString) and node.evaluated_value == "type"


def _is_accessor(node: cst.CSTNode | None) -> bool:
    """``msg[...]``, ``msg.attr``, ``msg.get(...)``, ``msg or default``: the value passes on."""
    if isinstance(node, _ACCESSORS):
        return True
    if isinstance(node, cst.Call):
        return isinstance(node.func, cst.Attribute) and node.func.attr.value == "get"
    return isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or)


def _tests_presence(parent: cst.CSTNode | None, node: cst.Name) -> bool:
    """``not data``, ``if data:``, ``while data:``, ``data is None``: no work done with it."""
    if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not):
        return True
    if isinstance(parent, (cst.If, cst.While)) and parent.test is node:
        return True
    return isinstance(parent, cst.Comparison) and all(isinstance(c.operator, _TRIVIAL_TESTS) for c in parent.comparisons)


def _reads_type(model: EndpointModel, parent: cst.CSTNode | None) -> bool:
    """``msg["type"]`` / ``msg.get("type")`` (ASGI message dispatch)."""
    if isinstance(parent, cst.Subscript):
        index = parent.slice[0].slice if len(parent.slice) == 1 else None
        return isinstance(index, cst.Index) and _is_type_key(index.value)
    if isinstance(parent, cst.Attribute) and parent.attr.value == "get":
        call = model.parent(parent)
        return isinstance(call, cst.Call) and bool(call.args) and _is_type_key(call.args[0].value)
    return False


@dataclass(frozen=True)
class _Rewrite:
    """How the fix rewrites ``target = await ws.receive_*()``: the name the walrus binds, the
    receive call to write, the statement after the check (``json.loads``) and its imports."""

    bound: str
    call_text: str
    after: str = ""
    imports: tuple[tuple[str, str | None], ...] = ()


class MessageSizeUnbounded(Rule):
    """
    ## What it does
    Finds messages received in a Starlette/FastAPI WebSocket endpoint (or a same-module helper
    the websocket is passed to) with `receive_text()`, `receive_bytes()`, `receive_json()`,
    `receive()`, `iter_text()`, `iter_bytes()` or `iter_json()`, whose value is used before any
    length check (`len(<message>)` compared with something). `receive_json()`/`iter_json()`
    are always reported: the message is parsed before the application can measure it. Also
    finds `websockets.serve(..., max_size=None)`. Reported on the receive call's line.

    ## Why is this bad?
    Starlette and FastAPI put no application-level bound on a message: whatever the server
    accepted is handed to the endpoint, then decoded, parsed and processed. A client can send
    megabytes per frame and make the server burn memory and CPU (and JSON parsing is
    super-linear for nested input). The first line of defence is the *server* limit, which
    rejects an oversized frame before buffering it: uvicorn `--ws-max-size` (default 16 MiB,
    far more than most protocols need) and hypercorn `websocket_max_message_size`; set them.
    The application check this rule asks for is the second line, and the only one that travels
    with the code (and that `websockets` users get by default: its `max_size` is 1 MiB, so
    `serve()` without `max_size` is fine; `max_size=None` removes the bound).

    ## Example
    ```python
    @app.websocket("/ws")
    async def upload(websocket: WebSocket):
        await websocket.accept()
        while True:
            data = await websocket.receive_text()
            await process(data)
    ```

    ## Use instead
    ```python
    MAX_MESSAGE_BYTES = 65536

    @app.websocket("/ws")
    async def upload(websocket: WebSocket):
        await websocket.accept()
        while True:
            if len(data := await websocket.receive_text()) > MAX_MESSAGE_BYTES:
                await websocket.close(code=1009)
                return
            await process(data)
    ```
    The fix is *unsafe*: an oversized message now closes the connection with 1009 (message too
    big) and ends the handler (`return`, also from inside the receive loop: that is intended).
    It rewrites `data = await websocket.receive_text()` (or `receive_bytes()`) in the endpoint
    function itself into the assignment expression above, so the bound is checked before any
    other use; `data = await websocket.receive_json()` becomes `receive_text()` (or
    `receive_bytes()` for `mode="binary"`) + the check + `data = json.loads(...)` (adding
    `import json`), exactly what Starlette does internally. For text the bound counts
    characters (`len(str)`), at most 4 bytes each; use `len(data.encode())` if the exact byte
    count matters. A `MAX_MESSAGE_BYTES` constant is added after the imports unless the module
    defines one. `serve(max_size=None)` gets `max_size=<max-message-bytes>`. No fix is offered
    for `receive()` (an ASGI message dict), the `iter_*()` iterators, annotated assignments,
    receives in helpers (a `return` there would not end the handler) or values used in place;
    add the check by hand.

    ## Options
    - `max-message-bytes` (int, default `65536`): the bound written by the fix.
    """

    code = "WS102"
    name = "message-size-unbounded"
    category = "security"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "received WebSocket message used without a length check"
    tokens = ("receive_text", "receive_bytes", "receive_json", "receive(", "iter_text", "iter_bytes",
              "iter_json", "max_size")
    options = (Option("max-message-bytes", int, 65536, "the bound written by the fix"),)

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """A Starlette/FastAPI endpoint and a receive call on a bare name, or ``serve(max_size=None)``
        (see ``_may_report``); files without a framework import stop at once."""
        if tree is None:
            return cls.matches_text(text)
        return per_tree(_may_report, tree)

    VALID = [
        Valid("""
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    data = await websocket.receive_bytes()
                    if len(data) > 4096:
                        await websocket.close(code=1009)
                        return
                    await websocket.send_bytes(data)
        """),
        Valid("""
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                async for text in websocket.iter_text():
                    if not text or len(text.encode()) > 65536:
                        break
                    print(text)
                await websocket.receive_text()
        """),
        Valid("""
            import websockets

            async def main(handler):
                async with websockets.serve(handler, "", 8765, max_size=2**20):
                    pass
                await websockets.serve(handler, "", 8766)
        """),
        Valid("""
            async def not_an_endpoint(queue):
                data = await queue.receive_text()
                print(data)
        """),
    ]
    INVALID = [
        Invalid(
            """
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    data = await websocket.receive_text()
                    await websocket.send_text(data.upper())
            """,
            """
            from fastapi import FastAPI, WebSocket

            MAX_MESSAGE_BYTES = 65536

            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    if len(data := await websocket.receive_text()) > MAX_MESSAGE_BYTES:
                        await websocket.close(code=1009)
                        return
                    await websocket.send_text(data.upper())
            """,
            lines=(9,),
        ),
        Invalid(
            """
            from starlette.routing import WebSocketRoute

            async def endpoint(ws):
                await ws.accept()
                msg = await ws.receive_json()
                await ws.send_json(msg)

            routes = [WebSocketRoute("/ws", endpoint)]
            """,
            """
            import json

            from starlette.routing import WebSocketRoute

            MAX_MESSAGE_BYTES = 1024


            async def endpoint(ws):
                await ws.accept()
                if len(raw := await ws.receive_text()) > MAX_MESSAGE_BYTES:
                    await ws.close(code=1009)
                    return
                msg = json.loads(raw)
                await ws.send_json(msg)

            routes = [WebSocketRoute("/ws", endpoint)]
            """,
            lines=(5,),
            options={"max-message-bytes": 1024},
        ),
        Invalid(
            """
            import websockets

            async def main(handler):
                await websockets.serve(handler, "", 8765, max_size=None)
            """,
            """
            import websockets

            async def main(handler):
                await websockets.serve(handler, "", 8765, max_size=65536)
            """,
            lines=(4,),
        ),
    ]

    def leave_Module(self, original_node: cst.Module) -> None:
        model = endpoints(self.ctx)
        self.limit = int(self.opts["max-message-bytes"])
        for ep in model.endpoints:
            if ep.kind in ("asgi", "asgi-class"):
                self._check_endpoint(model, ep)
        for serve in model.serve_calls:
            self._check_serve(serve)

    def _check_endpoint(self, model: EndpointModel, ep: Endpoint) -> None:
        handler = ep.handler if ep.kind == "asgi" else None  # the fix only edits function endpoints
        for site in ep.receives:
            if site.mode in _CHECKED_MODES and isinstance(site.node, cst.Call):
                self._check_receive(model, handler, site)

    def _check_serve(self, serve: ServeCall) -> None:
        arg = serve.keywords.get("max_size")
        if arg is None or not (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
            return
        self.report(
            serve.call,
            "websockets `serve(max_size=None)` accepts messages of any size",
            fix=Fix(FixSafety.UNSAFE, f"bound messages to {self.limit} bytes",
                    replacements={arg.value: cst.Integer(str(self.limit))}),
        )

    # -- receive sites ----------------------------------------------------------------------

    def _check_receive(self, model: EndpointModel, handler: cst.FunctionDef | None, site: ReceiveSite) -> None:
        call = site.node
        holder = model.parent(call) if site.awaited else call
        is_iter = site.method.startswith("iter_")
        if site.mode in ("json", "json-binary"):
            pass  # parsed before it can be measured: always reported
        elif self._len_checked_in_place(model, holder):
            return
        elif is_iter:
            if site.target is None or self._first_use_checked(model, site.loop.body, site.target, after=None):
                return
        elif site.target is not None:
            if self._first_use_checked(model, site.function, site.target, after=site.statement):
                return
        elif isinstance(model.parent(holder), (cst.Expr, cst.Return)):
            # discarded (`await websocket.receive_text()` just waits for a frame), or handed back
            # to the caller by a helper (`return await ws.receive_text()`): the caller decides
            return
        self.report(
            call,
            f"message from `{site.method}()` used without a length check; Starlette/FastAPI put no bound "
            "on message size",
            fix=self._fix(model, handler, site),
        )

    def _len_checked_in_place(self, model: EndpointModel, node: cst.CSTNode) -> bool:
        """``len(<node>)`` (possibly ``len((x := <node>).encode())``) inside a comparison."""
        seen_len = False
        for anc in model.ancestors(node):
            if isinstance(anc, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return False
            if isinstance(anc, cst.Call) and self.ctx.qualname(anc.func) == "builtins.len":
                seen_len = True
            elif seen_len and isinstance(anc, cst.Comparison):
                return True
        return False

    def _first_use_checked(
        self, model: EndpointModel, scope: cst.CSTNode, name: str, after: cst.CSTNode | None, depth: int = 3
    ) -> bool:
        """Whether the first use of ``name`` (after the statement ``after``, in source order)
        is a length check. No use at all counts as checked (nothing is done with the message).
        ``body = message.get("text") or ""`` passes the question on to ``body``."""
        for node in self._uses_after(scope, name, after):
            if self._rebinds(model, node):
                return True  # rebound before any use
            if self._harmless_use(model, node):
                continue
            alias = self._accessor_alias(model, node)
            if alias is not None and depth > 0:
                return self._first_use_checked(model, scope, alias[0], alias[1], depth - 1)
            return self._len_checked_in_place(model, node)
        return True

    @staticmethod
    def _uses_after(scope: cst.CSTNode, name: str, after: cst.CSTNode | None) -> Iterator[cst.Name]:
        """The Names ``name`` in ``scope`` past the statement ``after`` (all of them when None)."""
        started = after is None
        inside: set[int] = {id(n) for n in walk(after)} | {id(after)} if after is not None else set()
        for node in walk(scope):
            if not started:
                started = node is after
                continue
            if id(node) not in inside and isinstance(node, cst.Name) and node.value == name:
                yield node

    @staticmethod
    def _rebinds(model: EndpointModel, node: cst.Name) -> bool:
        """``node`` is the target of an assignment or a for loop."""
        parent = model.parent(node)
        return isinstance(parent, (cst.AssignTarget, cst.For)) and getattr(parent, "target", None) is node

    @staticmethod
    def _accessor_alias(model: EndpointModel, node: cst.Name) -> tuple[str, cst.CSTNode] | None:
        """``x = name["text"]`` / ``name.get("bytes") or b""`` / ``name.data``: (x, statement)."""
        cur: cst.CSTNode = node
        parent = model.parent(cur)
        while _is_accessor(parent):
            cur = parent
            parent = model.parent(cur)
        if not (isinstance(parent, cst.Assign) and parent.value is cur and len(parent.targets) == 1):
            return None
        target = parent.targets[0].target
        stmt = model.statement_of(parent)
        return (target.value, stmt) if isinstance(target, cst.Name) and stmt is not None else None

    @staticmethod
    def _harmless_use(model: EndpointModel, node: cst.Name) -> bool:
        """``if not data``, ``data is None``, ``msg["type"]``/``msg.get("type")``: no work done."""
        parent = model.parent(node)
        return _tests_presence(parent, node) or _reads_type(model, parent)

    # -- fix ------------------------------------------------------------------------------

    def _fix(self, model: EndpointModel, handler: cst.FunctionDef | None, site: ReceiveSite) -> Fix | None:
        if handler is None:
            return None
        target = self._fixable_target(model, handler, site)
        rewrite = self._rewrite(handler, site, target) if target is not None else None
        if rewrite is None:
            return None
        statements = () if "MAX_MESSAGE_BYTES" in model.module_assigns else (f"MAX_MESSAGE_BYTES = {self.limit}",)
        return Fix(
            FixSafety.UNSAFE,
            "close with 1009 when the message exceeds MAX_MESSAGE_BYTES",
            replacements={site.statement: self._check_before_use(site.ws_name, rewrite)},
            imports=rewrite.imports,
            module_statements=statements,
        )

    def _fixable_target(self, model: EndpointModel, handler: cst.FunctionDef, site: ReceiveSite) -> str | None:
        """The name in ``name = await ws.receive_text()/receive_bytes()/receive_json()`` when
        that is a statement of the endpoint function itself (a ``return`` must end the handler)."""
        if site.function is not handler or self.ctx.target_version < (3, 8):
            return None
        if site.method not in ("receive_text", "receive_bytes", "receive_json") or not site.awaited:
            return None
        stmt = site.statement
        if model.function_of(stmt) is not handler or not isinstance(stmt, cst.SimpleStatementLine):
            return None
        return self._assigned_name(model, stmt, site.node)

    @staticmethod
    def _assigned_name(model: EndpointModel, stmt: cst.SimpleStatementLine, call: cst.CSTNode) -> str | None:
        """``name = await <call>`` alone on its line: ``name``."""
        assign = stmt.body[0] if len(stmt.body) == 1 else None
        if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
            return None
        target = assign.targets[0].target
        if not isinstance(target, cst.Name) or assign.value is not model.parent(call):
            return None
        return target.value

    def _rewrite(self, handler: cst.FunctionDef, site: ReceiveSite, target: str) -> _Rewrite | None:
        """Text and bytes are measured as received; JSON is received as text (bytes for
        ``mode="binary"``), measured, then parsed: what Starlette's ``receive_json`` does."""
        if site.mode not in ("json", "json-binary"):
            return _Rewrite(target, self.ctx.module.code_for_node(site.node))
        raw = self._fresh_name(handler, ("raw", "raw_message", f"{target}_raw"))
        if raw is None:
            return None
        binary = site.mode == "json-binary"
        method = "receive_bytes" if binary else "receive_text"
        loads_arg = f'{raw}.decode("utf-8")' if binary else raw
        return _Rewrite(raw, f"{site.ws_name}.{method}()", f"{target} = json.loads({loads_arg})\n", (("json", None),))

    def _check_before_use(self, ws: str, rewrite: _Rewrite) -> Callable[[cst.CSTNode], cst.CSTNode | cst.FlattenSentinel]:
        template = (
            f"if len({rewrite.bound} := await {rewrite.call_text}) > MAX_MESSAGE_BYTES:\n"
            f"    await {ws}.close(code=1009)\n"
            "    return\n"
        )
        config = self.ctx.module.config_for_parsing
        new_if = cst.parse_statement(template, config=config)
        extra = cst.parse_statement(rewrite.after, config=config) if rewrite.after else None

        def apply(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
            first = new_if.with_changes(leading_lines=getattr(updated, "leading_lines", []))
            if isinstance(updated, cst.SimpleStatementLine):  # keep an end-of-line comment
                first = first.with_changes(body=first.body.with_changes(header=updated.trailing_whitespace))
            return first if extra is None else cst.FlattenSentinel([first, extra])

        return apply

    @staticmethod
    def _fresh_name(func: cst.FunctionDef, candidates: tuple[str, ...]) -> str | None:
        used = {n.value for n in walk(func) if isinstance(n, cst.Name)}
        return next((c for c in candidates if c not in used), None)


# ---- the ast prefilter (``wants``) ----------------------------------------------------------------

#: What the model counts as a receive on an ASGI websocket: ``<ws name>.<method>(...)``.
_RECEIVE_METHODS = frozenset(ASGI_RECEIVE_MODES) | frozenset(ASGI_ITER_MODES)


def _may_report(tree: ast.Module) -> bool:
    """Reports are receive sites of ``asgi``/``asgi-class`` endpoints that are calls (callbacks and
    ``async for`` are not checked), and ``serve()`` calls whose ``max_size`` is None."""
    facts = endpoint_facts(tree)
    if facts is None:
        return False
    if facts.of_kind("asgi", "asgi-class") and method_calls(tree, _RECEIVE_METHODS):
        return True
    return any(is_none(keyword(call, "max_size")) for call in facts.serve_calls)
