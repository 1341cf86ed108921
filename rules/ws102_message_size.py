"""WS102 message-size-unbounded: a received WebSocket message used with no length check."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.semantic import Analyses, Imports, Scope
from wsrefactor.semantic.detection import Detection, detect_at
from wsrefactor.semantic.server import Receive, ServerModel

_CHECKED_MODES = {"text", "bytes", "json", "json-binary", "message"}
_TRIVIAL_TESTS = (ast.Is, ast.IsNot)
#: Nodes through which a message value flows on unchanged enough to be measured later.
_ACCESSORS = (ast.Subscript, ast.Attribute)
_DEPTH = 3  # aliases and helper calls followed from a message to its length check


class MessageSizeUnbounded(SemanticRule):
    """
    ## What it does
    Finds messages received on a Starlette/FastAPI WebSocket with `receive_text()`,
    `receive_bytes()`, `receive_json()`, `receive()`, `iter_text()`, `iter_bytes()` or
    `iter_json()`, whose value is used before any length check. The connection is known from
    what it is, never from its name: an endpoint's websocket, a parameter annotated `WebSocket`
    (in any function or method, e.g. a manager or service), the websocket passed to a
    same-module function or constructor, an attribute holding one (`self.ws = websocket`,
    `conn.websocket` of a dataclass field `websocket: WebSocket`). A *length check* is
    `len(<message>)` (also `len(<message>.encode())`) compared with something, in place, through
    a local holding the length (`size = len(data.encode()); if size > MAX: ...`), or in a
    same-module helper the message is passed to (`if not size_ok(data): ...`), a few calls deep.
    `receive_json()`/`iter_json()` are always reported: the message is parsed before the
    application can measure it; `asyncio.wait_for(ws.receive_text(), ...)` is seen through.
    Also finds `websockets.serve(..., max_size=None)`. Reported on the receive call's line.
    A receive in another module on a parameter without annotation is not seen.

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

    requires_any_import = ("fastapi", "starlette", "websockets")
    uses_project_facts = True  # how other modules call this one (analyses.facts)
    fix_node_types = ("Call",)

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

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        server = analyses(ServerModel)
        limit = int(options["max-message-bytes"])
        check = _Check(server)
        for site in server.receives:
            if site.connection == "asgi" and site.mode in _CHECKED_MODES and isinstance(site.node, ast.Call) and (
                    check.unchecked(site)):
                rewrite = _rewrite(server, site, limit)
                yield detect_at(
                    analyses, site.node,
                    f"message from `{site.method}()` used without a length check; Starlette/FastAPI put no "
                    "bound on message size",
                    fixable=rewrite is not None, data=rewrite,
                )
        yield from _unbounded_serve(analyses, server)

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        limit = int(self.opts["max-message-bytes"])
        rewrite: _Rewrite | None = detection.data
        if rewrite is None:  # serve(max_size=None)
            arg = next((a for a in getattr(node, "args", ()) if a.keyword and a.keyword.value == "max_size"), None)
            if arg is None:
                return None
            return Fix(FixSafety.UNSAFE, f"bound messages to {limit} bytes",
                       replacements={arg.value: cst.Integer(str(limit))})
        if self.ctx.target_version < (3, 8):
            return None  # the check is an assignment expression
        stmt = self.ctx.positions.find(rewrite.stmt_start, rewrite.stmt_end, (cst.SimpleStatementLine,))
        if stmt is None:
            return None
        return Fix(
            FixSafety.UNSAFE,
            "close with 1009 when the message exceeds MAX_MESSAGE_BYTES",
            replacements={stmt: self._check_before_use(rewrite)},
            imports=rewrite.imports,
            module_statements=rewrite.module_statements,
        )

    def _check_before_use(self, rewrite: _Rewrite) -> Callable[[cst.CSTNode], cst.CSTNode | cst.FlattenSentinel]:
        template = (
            f"if len({rewrite.bound} := await {rewrite.call_text}) > MAX_MESSAGE_BYTES:\n"
            f"    await {rewrite.ws}.close(code=1009)\n"
            "    return\n"
        )
        config = self.ctx.module.config_for_parsing
        new_if = cst.parse_statement(template, config=config)
        extra = cst.parse_statement(rewrite.after, config=config) if rewrite.after else None

        def apply(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
            first = new_if.with_changes(leading_lines=getattr(updated, "leading_lines", []))
            if isinstance(updated, cst.SimpleStatementLine) and isinstance(first.body, cst.IndentedBlock):
                # keep an end-of-line comment
                first = first.with_changes(body=first.body.with_changes(header=updated.trailing_whitespace))
            return first if extra is None else cst.FlattenSentinel([first, extra])

        return apply


def _unbounded_serve(analyses: Analyses, server: ServerModel) -> Iterator[Detection]:
    """``websockets.serve(..., max_size=None)``."""
    for call in server.serve_calls:
        value = next((k.value for k in call.keywords if k.arg == "max_size"), None)
        if isinstance(value, ast.Constant) and value.value is None:
            yield detect_at(analyses, call, "websockets `serve(max_size=None)` accepts messages of any size",
                            fixable=True, data=None)


class _Check:
    """Whether a received message reaches a length check before any other use: in place
    (``len(await ws.receive_text()) > N``), at the first use of the name it is bound to, through
    accessors and aliases (``body = message.get("text") or ""``), through a local holding its
    length (``size = len(data.encode()); if size > MAX``), and through same-module helpers it is
    passed to (``if not size_ok(data): ...``), a few calls deep."""

    def __init__(self, server: ServerModel) -> None:
        self.server = server
        self.model = server.model

    def unchecked(self, site: Receive) -> bool:
        holder = site.holder if site.holder is not None else site.node
        if site.mode in ("json", "json-binary"):
            return True  # parsed before it can be measured
        if self._len_compared(holder, _DEPTH):
            return False
        if site.method.startswith("iter_"):
            loop = site.loop
            return site.target is not None and not self._first_use_checked(
                site.function, site.target, loop.iter, _DEPTH, within=loop)  # type: ignore[union-attr]
        if site.target is not None:
            after = site.statement if not _is_compound(site.statement) else self.server.parent(holder)
            return not self._first_use_checked(site.function, site.target, after, _DEPTH)
        # discarded (``await ws.receive_text()`` waits for a frame), or handed back to the caller
        # (``return await ws.receive_text()``): the caller decides
        return not isinstance(self.server.parent(holder), (ast.Expr, ast.Return))

    def _first_use_checked(self, fn: Scope, name: str, after: ast.AST | None, depth: int,
                           within: ast.AST | None = None) -> bool:
        """The first use of ``name`` in ``fn`` past ``after`` is a length check (no use: checked)."""
        inside = {id(n) for n in ast.walk(within)} if within is not None else None
        for node in self.server.uses_after(fn, name, after):
            if inside is not None and id(node) not in inside:
                continue
            if not isinstance(node.ctx, ast.Load):
                return True  # rebound before any use
            if self._harmless(node):
                continue
            return self._checked_use(fn, node, depth)
        return True

    def _checked_use(self, fn: Scope, node: ast.Name, depth: int) -> bool:
        if depth <= 0:
            return False
        if self._len_compared(node, depth):
            return True
        alias = self._alias(node)
        if alias is not None:
            return self._first_use_checked(fn, alias[0], alias[1], depth - 1)
        return self._checked_by_callee(node, depth)

    def _checked_by_callee(self, node: ast.Name, depth: int) -> bool:
        """``helper(data)`` where the same-module ``helper``'s parameter is checked first."""
        call = self.server.parent(node)
        if not isinstance(call, ast.Call) or node is call.func:
            keyword = self.server.parent(node)
            call = self.server.parent(keyword) if isinstance(keyword, ast.keyword) else None
            if not isinstance(call, ast.Call):
                return False
        callee = self.server.resolve(call, self.model.scope_of(call))
        param = self.server.bound_parameter(call, callee, node) if callee is not None else None
        return param is not None and self._first_use_checked(callee, param, None, depth - 1)  # type: ignore[arg-type]

    def _len_compared(self, node: ast.AST, depth: int) -> bool:
        """``len(<node>)`` (also ``len(<node>.encode())``) inside a comparison, or assigned to a
        local whose first use is a comparison (``size = len(data); if size > MAX``)."""
        seen_len = False
        current: ast.AST = node
        parent = self.server.parent(current)
        while isinstance(parent, (ast.expr, ast.Assign, ast.keyword)):
            if isinstance(parent, ast.Assign):
                return seen_len and depth > 0 and self._size_compared(parent, depth - 1)
            if seen_len and isinstance(parent, ast.Compare):
                return True
            seen_len = seen_len or self._measures(parent, current)
            current, parent = parent, self.server.parent(parent)
        return False

    def _measures(self, parent: ast.AST, child: ast.AST) -> bool:
        """``len(<child>)``."""
        return isinstance(parent, ast.Call) and child is not parent.func and self.model.qualified_name(
            parent.func, self.model.scope_of(parent)) == "builtins.len"

    def _size_compared(self, assign: ast.Assign, depth: int) -> bool:
        target = assign.targets[0] if len(assign.targets) == 1 else None
        fn = self.server.function_of(assign)
        if not isinstance(target, ast.Name) or fn is None:
            return False
        for use in self.server.uses_after(fn, target.id, assign):
            return isinstance(use.ctx, ast.Load) and (
                isinstance(self.server.parent(use), ast.Compare) or self._checked_by_callee(use, depth))
        return False

    def _alias(self, node: ast.Name) -> tuple[str, ast.stmt] | None:
        """``x = name["text"]`` / ``name.get("bytes") or b""`` / ``name.data``: (x, statement)."""
        current: ast.AST = node
        parent = self.server.parent(current)
        while self._accessor(parent, current):
            current = parent  # type: ignore[assignment]
            parent = self.server.parent(current)
        if not (isinstance(parent, ast.Assign) and parent.value is current and len(parent.targets) == 1):
            return None
        target = parent.targets[0]
        return (target.id, parent) if isinstance(target, ast.Name) and current is not node else None

    def _accessor(self, parent: ast.AST | None, child: ast.AST) -> bool:
        if isinstance(parent, _ACCESSORS):
            return parent.value is child  # type: ignore[union-attr]
        if isinstance(parent, ast.Call):
            return isinstance(parent.func, ast.Attribute) and parent.func.attr == "get" and child is parent.func
        return isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or)

    def _harmless(self, node: ast.Name) -> bool:
        """``if not data``, ``if data:``, ``data is None``, ``msg["type"]``/``msg.get("type")``."""
        parent = self.server.parent(node)
        return _tests_presence(parent, node) or self._reads_type(parent, node)

    def _reads_type(self, parent: ast.AST | None, node: ast.Name) -> bool:
        """``msg["type"]`` / ``msg.get("type")`` (ASGI message dispatch)."""
        if isinstance(parent, ast.Subscript) and parent.value is node:
            return _is_type_key(parent.slice)
        if isinstance(parent, ast.Attribute) and parent.attr == "get":
            call = self.server.parent(parent)
            return isinstance(call, ast.Call) and bool(call.args) and _is_type_key(call.args[0])
        return False


def _tests_presence(parent: ast.AST | None, node: ast.Name) -> bool:
    """``not data``, ``if data:``, ``while data:``, ``data is None``: no work done with it."""
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
        return True
    if isinstance(parent, (ast.If, ast.While)) and parent.test is node:
        return True
    return isinstance(parent, ast.Compare) and all(isinstance(op, _TRIVIAL_TESTS) for op in parent.ops)


def _is_type_key(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "type"


def _is_compound(stmt: ast.stmt) -> bool:
    return any(isinstance(getattr(stmt, f, None), list) for f in ("body", "orelse", "handlers"))


@dataclass(frozen=True)
class _Rewrite:
    """How the fix rewrites ``target = await ws.receive_*()`` (decided in ``detect``): the
    statement's span, the name the walrus binds, the receive call to write, the connection's
    text, the statement after the check (``json.loads``), imports and module statements."""

    stmt_start: tuple[int, int]
    stmt_end: tuple[int, int]
    bound: str
    call_text: str
    ws: str
    after: str = ""
    imports: tuple[tuple[str, str | None], ...] = ()
    module_statements: tuple[str, ...] = ()


def _rewrite(server: ServerModel, site: Receive, limit: int) -> _Rewrite | None:
    """``name = await ws.receive_text()/receive_bytes()/receive_json()`` alone on its line, in
    the body of a function endpoint itself (a ``return`` must end the handler). Text and bytes
    are measured as received; JSON is received as text (bytes for ``mode="binary"``), measured,
    then parsed: what Starlette's ``receive_json`` does."""
    if not _fixable(server, site) or site.target is None:
        return None
    call, stmt, analyses = site.node, site.statement, server.analyses
    start = (stmt.lineno, analyses.char_column(stmt.lineno, stmt.col_offset))
    end_line = stmt.end_lineno or stmt.lineno
    end = (end_line, analyses.char_column(end_line, stmt.end_col_offset or 0))
    ws = analyses.segment(call.func.value)  # type: ignore[attr-defined]
    imports = analyses(Imports)
    statements = () if "MAX_MESSAGE_BYTES" in imports.module_bindings else (f"MAX_MESSAGE_BYTES = {limit}",)
    if site.mode not in ("json", "json-binary"):
        return _Rewrite(start, end, site.target, analyses.segment(call), ws, module_statements=statements)
    return _json_rewrite(site, site.target, _Rewrite(start, end, "", "", ws, module_statements=statements))


def _json_rewrite(site: Receive, target: str, base: _Rewrite) -> _Rewrite | None:
    """Receive text (bytes for ``mode="binary"``) into a fresh name, measure, then ``json.loads``."""
    used = _names_used(site.function.node)
    raw = next((c for c in ("raw", "raw_message", f"{target}_raw") if c not in used), None)
    if raw is None:
        return None
    binary = site.mode == "json-binary"
    method = "receive_bytes" if binary else "receive_text"
    loads_arg = f'{raw}.decode("utf-8")' if binary else raw
    return replace(base, bound=raw, call_text=f"{base.ws}.{method}()",
                   after=f"{target} = json.loads({loads_arg})\n", imports=(("json", None),))


def _fixable(server: ServerModel, site: Receive) -> bool:
    """``name = await ws.receive_text()`` (bytes, json) alone on its line in a function endpoint's body."""
    if site.method not in ("receive_text", "receive_bytes", "receive_json") or not site.awaited:
        return False
    if not any(ep.kind == "asgi" and ep.node is site.function.node for ep in server.endpoints):
        return False
    stmt = site.statement
    return (
        isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Await) and stmt.value.value is site.node
        and server.function_of(stmt) is site.function and _alone_on_its_line(server.analyses, stmt)
    )


def _alone_on_its_line(analyses: Analyses, stmt: ast.Assign) -> bool:
    return len(stmt.targets) == 1 and not analyses.line(stmt.lineno)[: stmt.col_offset].strip() and (
        ";" not in analyses.segment(stmt))


def _names_used(fn: ast.AST) -> set[str]:
    """Every identifier written in ``fn`` (names, attributes, parameters, keywords, defs)."""
    out: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, (ast.arg, ast.keyword)) and node.arg:
            out.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
    return out
