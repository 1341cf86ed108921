"""WS101 origin-not-checked: a WebSocket endpoint that accepts any Origin (cross-site WebSocket hijacking)."""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.rules._helpers import add_arg
from wsrefactor.semantic import Analyses, Scope
from wsrefactor.semantic.detection import Detection, detect_at
from wsrefactor.semantic.nodes import NESTED_CODE, own_nodes
from wsrefactor.semantic.server import (
    ASGI_APP_TYPES,
    CHANNELS_ORIGIN_VALIDATORS,
    Endpoint,
    ServerModel,
    Site,
)
from wsrefactor.semantic.summary import websocket_application

CORS_MIDDLEWARE = frozenset({"fastapi.middleware.cors.CORSMiddleware", "starlette.middleware.cors.CORSMiddleware"})
DEPENDS = frozenset({"fastapi.Depends", "fastapi.params.Depends", "fastapi.Security", "fastapi.params.Security"})
ENV_CONSTANT = 'WS_ALLOWED_ORIGINS = frozenset(o for o in os.environ.get("WS_ALLOWED_ORIGINS", "").split(",") if o)'
# Calls that merely look at or pass along a value; passing the origin to them is not a check.
_BENIGN_CALLS = frozenset({
    "builtins.print", "builtins.str", "builtins.repr", "builtins.len", "builtins.format",
    "builtins.isinstance", "builtins.bytes", "builtins.dict", "builtins.list",
})
_BENIGN_METHODS = frozenset({
    "debug", "info", "warning", "warn", "error", "exception", "critical", "log",
    "send", "send_text", "send_json", "send_bytes", "write", "write_message", "append", "add", "format",
    "encode", "decode", "lower", "upper", "strip", "rstrip", "lstrip", "get",
})
_MATCH_METHODS = frozenset({"startswith", "endswith", "match", "fullmatch", "search"})
_MIDDLEWARE_CLASSES = ("starlette.middleware.Middleware", "fastapi.middleware.Middleware")
#: serve() arguments that can run an origin check of the application's own before the handshake.
_SERVE_HOOKS = ("process_request", "create_protocol", "create_connection")

Replacement = Callable[["cst.CSTNode"], "cst.CSTNode | cst.FlattenSentinel[cst.CSTNode]"]


def _replace_origins(value: cst.BaseExpression) -> Replacement:
    """serve(..., origins=None) -> serve(..., origins=<value>)."""

    def apply(updated: cst.CSTNode) -> cst.CSTNode:
        if not isinstance(updated, cst.Call):
            return updated
        return updated.with_changes(args=[
            a.with_changes(value=value) if a.keyword is not None and a.keyword.value == "origins" else a
            for a in updated.args
        ])

    return apply


def _append_origins(value: cst.BaseExpression) -> Replacement:
    """serve(...) -> serve(..., origins=<value>)."""
    arg = cst.Arg(
        value=value, keyword=cst.Name("origins"),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
    )
    return lambda updated: add_arg(updated, arg)


def _only_pass(stmts: list[cst.BaseStatement]) -> bool:
    """A class body of ``pass`` and bare expressions (docstrings, ``...``) only."""
    return all(
        isinstance(s, cst.SimpleStatementLine) and all(isinstance(x, (cst.Pass, cst.Expr)) for x in s.body)
        for s in stmts
    )


def _is_pass_line(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Pass)


def _insert_method(stmts: list[cst.BaseStatement], method: cst.BaseStatement) -> list[cst.BaseStatement]:
    """A class body with ``method`` added: before the first method (one blank line around it), or
    at the end of a body without methods, whose ``pass`` lines it replaces."""
    if _only_pass(stmts):
        kept = [s for s in stmts if not _is_pass_line(s)]
        return [*kept, method.with_changes(leading_lines=[cst.EmptyLine(indent=False)] if kept else [])]
    return _insert_before_first_method(stmts, method)


def _insert_before_first_method(stmts: list[cst.BaseStatement], method: cst.BaseStatement) -> list[cst.BaseStatement]:
    index = next((i for i, s in enumerate(stmts) if isinstance(s, cst.FunctionDef)), len(stmts))
    out = list(stmts)
    if index < len(out):
        comments = [ln for ln in getattr(out[index], "leading_lines", ()) if ln.comment is not None]
        out[index] = out[index].with_changes(leading_lines=[cst.EmptyLine(indent=False), *comments])
    out.insert(index, method.with_changes(leading_lines=[cst.EmptyLine(indent=False)] if index > 0 else []))
    return out


class OriginNotChecked(SemanticRule):
    """
    ## What it does
    Finds WebSocket endpoints that accept the handshake without comparing the `Origin` header
    against an allowlist:

    - FastAPI/Starlette endpoints (`@app.websocket`, `WebSocketRoute`, `add_api_websocket_route`,
      `WebSocketEndpoint` classes) with no origin check in the endpoint, in a same-module helper
      it calls, in a `Depends(...)` dependency, in a decorator, or in a same-module ASGI
      middleware (reported on the `def`/`class` line). An endpoint accepts when it calls
      `accept()` itself or through a same-module helper (`await manager.connect(websocket)`),
      or when it receives or sends on its websocket (Starlette refuses both before `accept()`,
      so a manager of another module accepted it); in that last case it is reported only when
      every dependency and decorator of the endpoint is code of the same module (an imported
      `Depends(check)` may compare the Origin);
    - `websockets.serve(...)` without `origins=` (or with `origins=None`), reported on the call;
    - tornado `WebSocketHandler.check_origin` that returns `True` on every path (reported on its
      `def` line; a handler without `check_origin` is fine: tornado's default rejects
      cross-origin handshakes);
    - python-socketio and Flask-SocketIO servers with `cors_allowed_origins="*"`, `["*"]` or
      `[]` (the empty list disables the check; the default `None` allows the same origin only
      and is fine);
    - Django Channels `ProtocolTypeRouter` whose `"websocket"` application is not wrapped in
      `OriginValidator`/`AllowedHostsOriginValidator`.

    A *check* is the origin value (a `headers.get("origin")`/`headers["origin"]` read, ASGI
    `scope["headers"]` lookup, or a name assigned from one) compared with `in`, `not in`, `==`,
    `!=` against something other than `None`/`""`, matched with `.startswith`/`re.match`..., or
    passed to a function whose result decides control flow (`if not allowed(origin): ...`), or a
    call to one of the `origin-validators`. The rule does not prove that the check gates the
    `accept()`; a check after accept still counts.

    ## Why is this bad?
    Browsers do not apply the same-origin policy or CORS to WebSocket handshakes: any web page
    can open a socket to your server, and the browser attaches the victim's cookies. Without an
    Origin check, a malicious page can act as the logged-in user over the socket
    (cross-site WebSocket hijacking, CSWSH). Starlette's `CORSMiddleware` only handles HTTP
    requests and does **not** apply to WebSocket scopes: its presence is no defence.

    ## Example
    ```python
    app.add_middleware(CORSMiddleware, allow_origins=["https://good.example"])

    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket):
        await websocket.accept()
    ```

    ## Use instead
    ```python
    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket):
        if websocket.headers.get("origin") not in ["https://good.example"]:
            await websocket.close(code=1008)
            return
        await websocket.accept()
    ```
    The fix is *unsafe* (browsers from other origins get rejected with close code 1008, which
    Starlette sends as an HTTP 403 during the handshake). It inserts the guard right before the
    `accept()` statement, or before the statement calling the same-module helper that accepts
    (`await manager.connect(websocket)`); for a `WebSocketEndpoint` class it guards `on_connect`
    (adding one that accepts if the class has none). The allowlist is, in order: the
    `allowed-origins` option; the same module's `CORSMiddleware(allow_origins=...)` expression
    (unless it contains `"*"`); else a `WS_ALLOWED_ORIGINS` constant read from the environment
    variable of the same name (comma-separated), which denies every browser origin while unset.
    Note that non-browser clients usually send no `Origin` header and are rejected by the
    guard; add `None` to the allowlist if they must connect.

    For `websockets.serve()` the fix adds `origins=[...]` with the same allowlist (websockets
    rejects a missing `Origin` unless `None` is in the list). There is no fix for:
    - tornado: make `check_origin` compare `urllib.parse.urlparse(origin).netloc` with your
      allowed hosts (or delete it to keep tornado's same-origin default);
    - python-socketio: set `cors_allowed_origins=["https://your.site"]` (or leave the default
      `None` for same-origin only);
    - Channels: wrap the websocket application, e.g.
      `"websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))`.

    ## Options
    - `origin-validators` (list of qualified names, default `[]`): functions that check the
      Origin, e.g. `["pkg.security.check_origin"]`; calling one (or using it in `Depends(...)`,
      as a decorator or as middleware) counts as a check, so checks in other modules are seen.
    - `allowed-origins` (string, default `""`): a Python expression for the allowlist used by
      the fix, e.g. `"ALLOWED_ORIGINS"` or `'["https://app.example"]'`.
    - `allowed-origins-import` (string, default `""`): the qualified name the expression needs,
      e.g. `"myapp.settings.ALLOWED_ORIGINS"` adds `from myapp.settings import ALLOWED_ORIGINS`.
    """

    code = "WS101"
    name = "origin-not-checked"
    category = "security"
    severity = Severity.ERROR
    fix_safety = FixSafety.UNSAFE
    summary = "WebSocket handshake accepted without checking the Origin header (cross-site WebSocket hijacking)"
    tokens = ("websocket", "WebSocket", "websockets", "socketio", "channels")
    options = (
        Option("origin-validators", list, [], "qualified names of functions that check the Origin"),
        Option("allowed-origins", str, "", "Python expression of the allowlist used by the fix"),
        Option("allowed-origins-import", str, "", "qualified name to import for `allowed-origins`"),
    )

    requires_any_import = ("fastapi", "starlette", "websockets", "tornado", "socketio", "flask_socketio", "channels")
    uses_project_facts = True  # how other modules call this one (analyses.facts)
    fix_node_types = ("FunctionDef", "ClassDef", "Call")

    VALID = [
        Valid("""
            from fastapi import FastAPI, WebSocket

            app = FastAPI()
            ALLOWED = {"https://good.example"}

            def origin_ok(websocket):
                return websocket.headers.get("origin") in ALLOWED

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                if not origin_ok(websocket):
                    await websocket.close(code=1008)
                    return
                await websocket.accept()
        """),
        Valid("""
            from fastapi import Depends, FastAPI, WebSocket, WebSocketException

            app = FastAPI()

            async def check_origin(websocket: WebSocket):
                origin = websocket.headers.get("Origin", "")
                if not origin.startswith("https://good.example"):
                    raise WebSocketException(code=1008)

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket, _=Depends(check_origin)):
                await websocket.accept()
        """),
        Valid(
            """
            from fastapi import FastAPI, WebSocket
            from pkg import security

            app = FastAPI()

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                security.check_origin(websocket)
                await websocket.accept()
            """,
            options={"origin-validators": ["pkg.security.check_origin"]},
        ),
        Valid("""
            import websockets

            async def main(handler):
                async with websockets.serve(handler, "", 8765, origins=["https://good.example"]):
                    pass
        """),
        Valid("""
            from urllib.parse import urlparse
            import tornado.websocket

            class Chat(tornado.websocket.WebSocketHandler):
                def check_origin(self, origin):
                    return urlparse(origin).netloc in {"good.example"}

            class Default(tornado.websocket.WebSocketHandler):
                def on_message(self, message):
                    self.write_message(message)
        """),
        Valid("""
            import socketio

            sio = socketio.AsyncServer(cors_allowed_origins=["https://good.example"])
            same_origin = socketio.AsyncServer()
        """),
        Valid("""
            from channels.routing import ProtocolTypeRouter, URLRouter
            from channels.security.websocket import AllowedHostsOriginValidator

            application = ProtocolTypeRouter({"websocket": AllowedHostsOriginValidator(URLRouter([]))})
        """),
        Valid("""
            from starlette.applications import Starlette
            from starlette.routing import WebSocketRoute

            async def raw(websocket):
                headers = dict(websocket.scope["headers"])
                if headers.get(b"origin") != b"https://good.example":
                    await websocket.close(code=1008)
                    return
                await websocket.accept()

            app = Starlette(routes=[WebSocketRoute("/ws", raw)])
        """),
    ]
    INVALID = [
        Invalid(
            """
            from fastapi import FastAPI, WebSocket
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(CORSMiddleware, allow_origins=["https://good.example"])

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                origin = websocket.headers.get("origin")
                print("connect from", origin)
                await websocket.accept()
            """,
            """
            from fastapi import FastAPI, WebSocket
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(CORSMiddleware, allow_origins=["https://good.example"])

            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                origin = websocket.headers.get("origin")
                print("connect from", origin)
                if websocket.headers.get("origin") not in ["https://good.example"]:
                    await websocket.close(code=1008)
                    return
                await websocket.accept()
            """,
            lines=(8,),
        ),
        Invalid(
            """
            import websockets

            async def main(handler):
                async with websockets.serve(handler, "", 8765):
                    pass
            """,
            """
            import os

            import websockets

            WS_ALLOWED_ORIGINS = frozenset(o for o in os.environ.get("WS_ALLOWED_ORIGINS", "").split(",") if o)


            async def main(handler):
                async with websockets.serve(handler, "", 8765, origins=list(WS_ALLOWED_ORIGINS)):
                    pass
            """,
            lines=(4,),
        ),
        Invalid(
            """
            import tornado.websocket

            class Chat(tornado.websocket.WebSocketHandler):
                def check_origin(self, origin):
                    return True
            """,
            lines=(4,),
        ),
        Invalid(
            """
            import socketio

            sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
            """,
            lines=(3,),
        ),
        Invalid(
            """
            from channels.auth import AuthMiddlewareStack
            from channels.routing import ProtocolTypeRouter, URLRouter

            application = ProtocolTypeRouter({"websocket": AuthMiddlewareStack(URLRouter([]))})
            """,
            lines=(4,),
        ),
        Invalid(
            """
            from starlette.endpoints import WebSocketEndpoint

            class Echo(WebSocketEndpoint):
                encoding = "text"

                async def on_receive(self, websocket, data):
                    await websocket.send_text(data)
            """,
            """
            from myapp.settings import ALLOWED_ORIGINS
            from starlette.endpoints import WebSocketEndpoint

            class Echo(WebSocketEndpoint):
                encoding = "text"

                async def on_connect(self, websocket):
                    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
                        await websocket.close(code=1008)
                        return
                    await websocket.accept()

                async def on_receive(self, websocket, data):
                    await websocket.send_text(data)
            """,
            lines=(3,),
            options={"allowed-origins": "ALLOWED_ORIGINS", "allowed-origins-import": "myapp.settings.ALLOWED_ORIGINS"},
        ),
    ]

    # -- detection ----------------------------------------------------------------------------

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        yield from _Detector(analyses, options).run()

    # -- fixes ------------------------------------------------------------------------------------

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        plan: _Plan = detection.data
        allow, imports, stmts = plan.allow, plan.imports, plan.statements
        if plan.kind == "serve":
            return self._serve_fix(node, plan)
        if plan.kind == "on_connect":
            return Fix(FixSafety.UNSAFE, "check the Origin in on_connect before accepting",
                       replacements={node: self._add_on_connect(allow)}, imports=imports, module_statements=stmts)
        statements = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
        anchors = [self.ctx.positions.find(start, end, statements) for start, end in plan.anchors]
        if not anchors or any(a is None for a in anchors):
            return None
        guard = self._guard(plan.ws, allow)
        return Fix(
            FixSafety.UNSAFE,
            "check the Origin in on_connect before accepting" if plan.kind == "class"
            else "close with 1008 before accepting when the Origin is not allowed",
            replacements={a: self._insert_before(guard) for a in anchors},  # type: ignore[misc]
            imports=imports,
            module_statements=stmts,
        )

    @staticmethod
    def _serve_fix(node: cst.CSTNode, plan: _Plan) -> Fix:
        allow = "list(WS_ALLOWED_ORIGINS)" if plan.allow == "WS_ALLOWED_ORIGINS" else plan.allow
        value = cst.parse_expression(allow)
        has_origins = any(a.keyword is not None and a.keyword.value == "origins" for a in getattr(node, "args", ()))
        replacement = _replace_origins(value) if has_origins else _append_origins(value)
        return Fix(FixSafety.UNSAFE, "pass origins= to serve()", replacements={node: replacement},
                   imports=plan.imports, module_statements=plan.statements)

    def _guard(self, ws: str, allow: str) -> cst.BaseStatement:
        return cst.parse_statement(
            f'if {ws}.headers.get("origin") not in {allow}:\n'
            f"    await {ws}.close(code=1008)\n"
            "    return\n",
            config=self.ctx.module.config_for_parsing,
        )

    @staticmethod
    def _insert_before(guard: cst.BaseStatement) -> Replacement:
        def apply(updated: cst.CSTNode) -> cst.FlattenSentinel:
            lead = getattr(updated, "leading_lines", [])
            return cst.FlattenSentinel([
                guard.with_changes(leading_lines=lead),
                updated.with_changes(leading_lines=[]),
            ])

        return apply

    def _add_on_connect(self, allow: str) -> Replacement:
        method = cst.parse_statement(
            "async def on_connect(self, websocket):\n"
            f'    if websocket.headers.get("origin") not in {allow}:\n'
            "        await websocket.close(code=1008)\n"
            "        return\n"
            "    await websocket.accept()\n",
            config=self.ctx.module.config_for_parsing,
        )

        def apply(updated: cst.CSTNode) -> cst.CSTNode:
            # the replacement is keyed by the ClassDef; anything else is left alone
            if not isinstance(updated, cst.ClassDef) or not isinstance(updated.body, cst.IndentedBlock):
                return updated
            body = updated.body
            return updated.with_changes(body=body.with_changes(body=_insert_method(list(body.body), method)))

        return apply


Span = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class _Plan:
    """What a fix needs, decided in ``detect``: ``kind`` (function: guards before ``anchors``
    in the endpoint; class: guards in ``on_connect``; on_connect: add one; serve: ``origins=``),
    the connection's name, the allowlist expression with its imports and module statements."""

    kind: str
    allow: str
    imports: tuple[tuple[str, str | None], ...]
    statements: tuple[str, ...]
    ws: str = ""
    anchors: tuple[Span, ...] = ()


def _origin_key(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        value = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
        return value.lower() == "origin"
    return False


def _origin_read(node: ast.AST) -> bool:
    """``x.headers["origin"]``, ``x.get("Origin")``, ``dict(scope["headers"]).get(b"origin")``..."""
    if isinstance(node, ast.Subscript):
        return _origin_key(node.slice)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getlist"):
        first = next((a for a in node.args if not isinstance(a, ast.Starred)), None)
        return first is not None and _origin_key(first)
    return False


def _trivial(node: ast.AST) -> bool:
    """None, '', b'' or the header name itself: comparing with these is not an allowlist check."""
    return isinstance(node, ast.Constant) and (node.value is None or (
        isinstance(node.value, (str, bytes)) and (not node.value or _origin_key(node))))


def _star(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "*"


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _decisive(node: ast.AST) -> ast.AST | None:
    """The expression whose value decides control flow: a test, or a returned value."""
    if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
        return node.test
    if isinstance(node, ast.Return):
        return node.value
    return None


def _signature_expressions(node: ast.AST) -> list[ast.expr]:
    """A def's parameter defaults and annotations (where ``Depends(...)`` is written)."""
    args = getattr(node, "args", None)
    if args is None:
        return []
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return [d for d in [*args.defaults, *args.kw_defaults] if d is not None] + [
        a.annotation for a in every if a.annotation is not None]


def _assigned_names(body: list[ast.stmt]) -> set[str]:
    """Plain names assigned anywhere in ``body``."""
    return {t.id for stmt in body for a in ast.walk(stmt) if isinstance(a, ast.Assign)
            for t in a.targets if isinstance(t, ast.Name)}


def _assigns_any(node: ast.Assign, names: set[str]) -> bool:
    return any(isinstance(t, ast.Name) and t.id in names for t in node.targets)


def _returns_true_always(fn: ast.AST) -> bool:
    """Every ``return`` (not counting nested defs) is ``return True``, and it never raises."""
    nodes = list(own_nodes(fn, NESTED_CODE))
    returns = [n for n in nodes if isinstance(n, ast.Return)]
    if not returns or any(isinstance(n, ast.Raise) for n in nodes):
        return False
    return all(isinstance(r.value, ast.Constant) and r.value.value is True for r in returns)


def _allows_any_origin(value: ast.AST) -> bool:
    """socketio ``cors_allowed_origins``: ``"*"``, a list with ``"*"``, or ``[]`` (no check)."""
    if isinstance(value, (ast.List, ast.Tuple)):
        return not value.elts or any(_star(e) for e in value.elts)
    return _star(value)


def _literal_allowlist(value: ast.AST | None) -> bool:
    """A non-empty list/tuple/set display of plain strings, none of them ``"*"``."""
    return isinstance(value, (ast.List, ast.Tuple, ast.Set)) and bool(value.elts) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value != "*" for e in value.elts)


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _positional(call: ast.Call, index: int) -> ast.expr | None:
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    return plain[index] if index < len(plain) else None


class _Detector:
    """One file's WS101 decisions, on the server model."""

    def __init__(self, analyses: Analyses, options: Mapping[str, Any]) -> None:
        self.analyses = analyses
        self.options = options
        self.server = analyses(ServerModel)
        self.model = self.server.model
        self.validators = frozenset(options["origin-validators"])
        self._checks: dict[int, bool] = {}

    def run(self) -> Iterator[Detection]:
        app_checked = self._middleware_checks()
        for ep in self.server.endpoints:
            if ep.kind == "asgi" and not app_checked:
                yield from self._asgi(ep)
            elif ep.kind == "asgi-class" and not app_checked:
                yield from self._asgi_class(ep)
            elif ep.kind == "tornado":
                yield from self._tornado(ep)
        for call in self.server.serve_calls:
            yield from self._serve(call)
        for call in self.server.socketio_servers:
            yield from self._socketio(call)
        for call in self.server.channels_routers:
            yield from self._channels(call)
        yield from self._routed_consumers()

    # -- what counts as a check -------------------------------------------------------------------

    def _qualified(self, expr: ast.AST | None) -> str | None:
        return self.model.qualified_name(expr, self.model.scope_of(expr)) if expr is not None else None

    def _validator(self, expr: ast.AST | None) -> bool:
        return expr is not None and self._qualified(expr) in self.validators

    def checked_in(self, funcs: Iterable[Scope]) -> bool:
        every: list[Scope] = []
        for f in funcs:
            for g in [f, *self.server.reachable(f)]:
                if not any(g is s for s in every):
                    every.append(g)
        return any(self._has_check(f) for f in every)

    def _has_check(self, fn: Scope) -> bool:
        if id(fn) not in self._checks:
            self._checks[id(fn)] = self._find_check(fn.node)
        return self._checks[id(fn)]

    def _origin_names(self, fn: ast.AST) -> set[str]:
        names: set[str] = set()
        for _ in range(3):  # a few rounds of ``a = <origin>; b = urlparse(a)``
            before = len(names)
            for node in ast.walk(fn):
                names.update(self._bound_origin_names(node, names))
            if len(names) == before:
                break
        return names

    def _bound_origin_names(self, node: ast.AST, names: set[str]) -> set[str]:
        """Names ``node`` binds to an origin value (given the origin ``names`` known so far)."""
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return {n for t in targets for n in _names(t)} if self._mentions(node.value, names) else set()
        if isinstance(node, ast.If) and self._key_test(node.test):
            # for name, value in scope["headers"]: if name == b"origin": origin = value
            return _assigned_names(node.body)
        return set()

    @staticmethod
    def _key_test(test: ast.AST) -> bool:
        return isinstance(test, ast.Compare) and any(_origin_key(s) for s in [test.left, *test.comparators])

    @staticmethod
    def _mentions(expr: ast.AST, names: set[str]) -> bool:
        return any(_origin_read(n) or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(expr))

    def _find_check(self, fn: ast.AST) -> bool:
        names = self._origin_names(fn)
        conditions = self._conditions(fn)
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                if self._validator(node.func) or self._call_checks(node, names, conditions):
                    return True
            elif isinstance(node, ast.Compare) and self._comparison_checks(node, names):
                return True
        return False

    def _comparison_checks(self, node: ast.Compare, names: set[str]) -> bool:
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq)):
                sides = (left, right)
                if any(self._mentions(s, names) for s in sides) and not any(_trivial(s) for s in sides):
                    return True
            left = right
        return False

    def _call_checks(self, node: ast.Call, names: set[str], conditions: set[int]) -> bool:
        func = node.func
        args = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(func, ast.Attribute) and func.attr in _MATCH_METHODS and (
                self._mentions(func.value, names) or any(self._mentions(a, names) for a in args)):
            return True  # origin.startswith(...), re.match(pattern, origin)
        if not any(self._mentions(a, names) for a in args) or self._benign(node):
            return False
        return id(node) in conditions  # ``if not allowed(origin): ...``

    def _benign(self, node: ast.Call) -> bool:
        if self._qualified(node.func) in _BENIGN_CALLS:
            return True
        return isinstance(node.func, ast.Attribute) and node.func.attr in _BENIGN_METHODS

    @staticmethod
    def _conditions(fn: ast.AST) -> set[int]:
        tests = [t for node in ast.walk(fn) if (t := _decisive(node)) is not None]
        used = {n for t in tests for n in _names(t)}
        tests += [node.value for node in ast.walk(fn) if isinstance(node, ast.Assign) and _assigns_any(node, used)]
        return {id(n) for t in tests for n in ast.walk(t)}

    # -- dependencies and middleware -----------------------------------------------------------

    def _function(self, expr: ast.AST | None) -> Scope | None:
        if not isinstance(expr, ast.Name):
            return None
        found = self.model.lookup(expr.id, self.model.scope_of(expr))
        if len(found) != 1 or found[0].kind not in ("def", "class"):
            return None
        return self.model.scopes.defined_by(found[0].node)

    def _dependencies(self, ep: Endpoint) -> tuple[list[Scope], bool]:
        """Same-module functions used as ``Depends()``/decorators of the endpoint or of its app
        (``FastAPI(dependencies=...)``, ``include_router(..., dependencies=...)``); and whether
        one of them is a configured validator."""
        used = self._guards(ep)
        return self._functions(used), any(self._validator(e) for e in used)

    def _guards(self, ep: Endpoint) -> list[ast.expr]:
        """What runs before the endpoint's body: its decorators (the route itself aside) and the
        ``Depends(...)`` of its signature, decorators and app."""
        node = ep.node
        decorators = [d for d in getattr(node, "decorator_list", ()) if d is not ep.registration]
        exprs: list[ast.AST] = [*_signature_expressions(node), *decorators]
        used = [d.func if isinstance(d, ast.Call) else d for d in decorators]
        used += [d for e in exprs for d in self._depends(e, by_keyword=True)]
        used += [d for e in self._app_dependency_lists() for d in self._depends(e, by_keyword=False)]
        return used

    def _functions(self, exprs: list[ast.expr]) -> list[Scope]:
        """The same-module functions ``exprs`` name."""
        found = [self._function(e) for e in exprs]
        return [fn for fn in found if fn is not None and fn.kind == "function"]

    def _depends(self, expr: ast.AST, *, by_keyword: bool) -> Iterator[ast.expr]:
        for node in ast.walk(expr):
            if isinstance(node, ast.Call) and self._qualified(node.func) in DEPENDS:
                dep = _positional(node, 0) or (_keyword(node, "dependency") if by_keyword else None)
                if dep is not None:
                    yield dep

    def _app_dependency_lists(self) -> Iterator[ast.expr]:
        for call, scope in self.model.calls():
            func = call.func
            if (isinstance(func, ast.Attribute) and func.attr == "include_router") or (
                    self.model.statement_of(call) is not None and scope is self.model.module
                    and self.model.qualified_name(func, scope) in ASGI_APP_TYPES):
                deps = _keyword(call, "dependencies")
                if deps is not None:
                    yield deps

    def _middleware_checks(self) -> bool:
        """A same-module ASGI middleware (class or function) that checks the Origin, installed
        with ``add_middleware(X)`` or ``Middleware(X)``; or a configured validator used so."""
        return any(self._checks_origin(mw) for mw in self._installed_middleware())

    def _installed_middleware(self) -> Iterator[ast.expr]:
        for call, _ in self.model.calls():
            is_mw = (isinstance(call.func, ast.Attribute) and call.func.attr == "add_middleware") or (
                self._qualified(call.func) in _MIDDLEWARE_CLASSES)
            first = _positional(call, 0) if is_mw else None
            if first is not None:
                yield first

    def _checks_origin(self, expr: ast.expr) -> bool:
        """A configured validator, or a same-module function or class (its methods) with a check."""
        if self._validator(expr):
            return True
        target = self._function(expr)
        return target is not None and self.checked_in(self._code_of(target))

    def _code_of(self, target: Scope) -> list[Scope]:
        """A function itself; a class's methods (its same-module bases' included)."""
        if target.kind != "class":
            return [target]
        return [s for c in self.model.class_chain(target) for s in c.children if s.kind == "function"]

    # -- the allowlist of a fix --------------------------------------------------------------------

    def allowlist(self) -> tuple[str, tuple[tuple[str, str | None], ...], tuple[str, ...]]:
        option = str(self.options["allowed-origins"]).strip()
        if option:
            imported = str(self.options["allowed-origins-import"]).strip()
            imports: tuple[tuple[str, str | None], ...] = ()
            if imported:
                mod, _, obj = imported.rpartition(".")
                imports = ((mod, obj),) if mod else ((obj, None),)
            return option, imports, ()
        for call, scope in self.model.calls():
            first = _positional(call, 0)
            if scope is self.model.module and first is not None and self._qualified(first) in CORS_MIDDLEWARE:
                allow = self._cors_origins(call)
                if allow is not None:
                    return allow, (), ()
        return "WS_ALLOWED_ORIGINS", (("os", None),), (ENV_CONSTANT,)

    def _cors_origins(self, call: ast.Call) -> str | None:
        """``allow_origins=`` as source text: a module-level name bound once to something without
        ``"*"``, or a literal list of strings without ``"*"``."""
        value = _keyword(call, "allow_origins")
        if isinstance(value, ast.Name):
            bound = self.model.module.bindings.get(value.id, ())
            one = bound[0].value if len(bound) == 1 else None
            return value.id if one is not None and not any(_star(n) for n in ast.walk(one)) else None
        return self.analyses.segment(value) if value is not None and _literal_allowlist(value) else None

    def _span(self, node: ast.AST) -> Span:
        a = self.analyses
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return ((line, a.char_column(line, node.col_offset)),  # type: ignore[attr-defined]
                (end_line, a.char_column(end_line, node.end_col_offset or 0)))  # type: ignore[attr-defined]

    def _plan(self, kind: str, ws: str = "", anchors: tuple[Span, ...] = ()) -> _Plan:
        allow, imports, statements = self.allowlist()
        return _Plan(kind, allow, imports, statements, ws, anchors)

    # -- ASGI endpoints -----------------------------------------------------------------------------

    def _handler_statement(self, node: ast.AST, fn: Scope) -> ast.stmt | None:
        """The statement of ``fn``'s own body that holds ``node``."""
        current: ast.AST | None = node
        while current is not None:
            if isinstance(current, ast.stmt) and self.server.function_of(current) is fn:
                return current
            current = self.server.parent(current)
        return None

    def _used_in(self, fn: Scope) -> bool:
        """A receive or send on the connection in the endpoint itself: Starlette refuses both
        before ``accept()``, so the app accepted it (in code this module may not show)."""
        return any(s.function is fn and s.kind in ("receive", "send") and not getattr(s, "callback", False)
                   for s in self.server.sites)

    def _anchors(self, reached: list[tuple[Site, tuple[ast.Call, ...]]], fn: Scope) -> list[ast.stmt]:
        """The statements of ``fn`` before which a guard goes: each holding an accept, or the
        call that leads to one (``await manager.connect(websocket)``)."""
        anchors: list[ast.stmt] = []
        for site, chain in reached:
            stmt = self._handler_statement(chain[0] if chain else site.node, fn)
            if stmt is not None and not any(stmt is a for a in anchors):
                anchors.append(stmt)
        return anchors

    def _guard_plan(self, kind: str, fn: Scope, ws: str, anchors: list[ast.stmt]) -> _Plan | None:
        if not anchors or not ws or not isinstance(fn.node, ast.AsyncFunctionDef):
            return None
        return self._plan(kind, ws, tuple(self._span(a) for a in anchors))

    def _guards_visible(self, ep: Endpoint) -> bool:
        """Every dependency and decorator of the endpoint is code of this module: when the accept
        happens elsewhere, a guard elsewhere (``Depends(check_origin)`` imported) may check too."""
        return all(self._function(g) is not None for g in self._guards(ep))

    def _asgi(self, ep: Endpoint) -> Iterator[Detection]:
        fn = ep.handlers[0]
        reached = self.server.accepts_reached(fn)
        if not reached and not (self._used_in(fn) and self._guards_visible(ep)):
            return
        deps, validated = self._dependencies(ep)
        if validated or self.checked_in([fn, *deps]):
            return
        ws = ep.roots[0][1] if ep.roots else ""
        plan = self._guard_plan("function", fn, ws, self._anchors(reached, fn))
        yield detect_at(
            self.analyses, ep.node,
            f"WebSocket endpoint `{fn.name}` accepts the handshake without checking the "
            "Origin header (cross-site WebSocket hijacking)",
            fixable=plan is not None, data=plan,
        )

    def _abstract(self, ep: Endpoint, cls: Scope) -> bool:
        """A class found by its base only, that another class of the module derives from: its
        subclasses are the endpoints."""
        return ep.registration is None and any(
            isinstance(b, ast.Name) and b.id == cls.name
            for c in self.model.classes().values() for b in getattr(c.node, "bases", ()))

    def _class_accepts(self, ep: Endpoint) -> list[tuple[Site, tuple[ast.Call, ...]]]:
        return [found for h in ep.handlers for found in self.server.accepts_reached(h)]

    def _asgi_class(self, ep: Endpoint) -> Iterator[Detection]:
        cls = self.model.scopes.defined_by(ep.node)
        if cls is None or self._abstract(ep, cls) or self.checked_in(ep.handlers):
            return
        message = (f"WebSocketEndpoint `{cls.name}` accepts the handshake without checking the Origin header "
                   "(cross-site WebSocket hijacking)")
        connect = ep.methods.get("on_connect")
        if connect is None:  # the framework accepts; the fix adds an on_connect that checks
            yield detect_at(self.analyses, ep.node, message, fixable=True, data=self._plan("on_connect"))
            return
        own = connect.parent is cls  # a fix edits the class's own on_connect, not an inherited one
        accepts = self._class_accepts(ep)
        if not own and not accepts:
            return
        ws = next((p for f, p in ep.roots if f is connect), "")
        plan = self._guard_plan("class", connect, ws, self._anchors(accepts, connect)) if own else None
        yield detect_at(self.analyses, ep.node, message, fixable=plan is not None, data=plan)

    # -- tornado, websockets, socketio, channels ------------------------------------------------------

    def _tornado(self, ep: Endpoint) -> Iterator[Detection]:
        fn = ep.methods.get("check_origin")
        if fn is None or fn.parent is None or fn.parent.node is not ep.node:
            return  # an inherited check_origin is reported on its own class
        if _returns_true_always(fn.node):
            yield detect_at(self.analyses, fn.node,
                            "tornado `check_origin` returns True for every origin: any web page can open this "
                            "socket (cross-site WebSocket hijacking)")

    def _serve(self, call: ast.Call) -> Iterator[Detection]:
        origins = _keyword(call, "origins")
        if self._hooked(call) or (origins is not None and not _is_none(origins)):
            return
        handlers = [ep.handlers[0] for ep in self.server.endpoints if ep.server_call is call and ep.handlers]
        if handlers and self.checked_in(handlers[:1]):
            return
        yield detect_at(self.analyses, call,
                        "websockets `serve()` without `origins=` accepts handshakes from any web page "
                        "(cross-site WebSocket hijacking)", fixable=True, data=self._plan("serve"))

    def _hooked(self, call: ast.Call) -> bool:
        """``**kwargs`` (they may carry origins or a hook), or a ``process_request=``... hook
        that is not known to skip the check."""
        if any(k.arg is None for k in call.keywords):
            return True
        hooks = [k.value for k in call.keywords if k.arg in _SERVE_HOOKS]
        return bool(hooks) and not all(self._hook_unchecked(h) for h in hooks)

    def _hook_unchecked(self, hook: ast.expr) -> bool:
        """A hook that is a same-module function (or class) without an origin check; unknown
        hooks get the benefit of the doubt."""
        if self._validator(hook):
            return False
        target = self._function(hook)
        return target is not None and not self.checked_in(self._code_of(target))

    def _socketio(self, call: ast.Call) -> Iterator[Detection]:
        value = _keyword(call, "cors_allowed_origins")
        if value is None:
            return
        if isinstance(value, ast.Name):
            bound = self.model.lookup(value.id, self.model.scope_of(value))
            values = [b.value for b in bound if b.value is not None]
            value = values[-1] if values else value
        if not _allows_any_origin(value):
            return
        empty = isinstance(value, (ast.List, ast.Tuple)) and not value.elts
        yield detect_at(
            self.analyses, call,
            "socketio server with `cors_allowed_origins` "
            + ("= [] (origin check disabled)" if empty else "allowing every origin")
            + ": any web page can connect (cross-site WebSocket hijacking)",
        )

    def _channels(self, call: ast.Call) -> Iterator[Detection]:
        value = self._websocket_application(call)
        if value is None or self._validates(value):
            return
        if isinstance(value, ast.Name):  # application = ...; ProtocolTypeRouter({"websocket": application})
            bound = self.model.module.bindings.get(value.id, ())
            if any(b.value is not None and self._validates(b.value) for b in bound):
                return
        yield detect_at(self.analyses, call,
                        "Channels websocket application not wrapped in AllowedHostsOriginValidator/OriginValidator: "
                        "any web page can connect (cross-site WebSocket hijacking)")

    def _routed_consumers(self) -> Iterator[Detection]:
        """A consumer of this module that a ``ProtocolTypeRouter`` of another module reaches
        (through ``URLRouter`` and ``websocket_urlpatterns``) with no origin validator around it
        (``analyses.facts.routed``): reported at its ``accept`` (or the class), since that is
        where a user reads the consumer; the router itself is reported in its own file."""
        classes = {s.qualname: s for s in self.model.scopes.scopes if s.kind == "class"}
        done: set[str] = set()
        for name, router, line, names in self.analyses.facts.routed:
            cls = classes.get(name)
            ep = self._consumer(cls) if name not in done and not any(n in self.validators for n in names) else None
            if ep is None or cls is None:
                continue
            done.add(name)
            where = self._first_accept(ep, cls)
            yield detect_at(
                self.analyses, where,
                f"Channels consumer `{name}` is routed by `{os.path.basename(router)}:{line}`, whose websocket "
                "application no AllowedHostsOriginValidator/OriginValidator wraps: any web page can connect "
                "(cross-site WebSocket hijacking)",
            )

    def _consumer(self, cls: Scope | None) -> Endpoint | None:
        if cls is None:
            return None
        return next((e for e in self.server.endpoints if e.node is cls.node and e.kind == "channels"), None)

    def _first_accept(self, ep: Endpoint, cls: Scope) -> ast.AST:
        """The consumer's first ``accept`` (its own methods, through their helpers), else the class."""
        accepts = [site.node for fn in ep.methods.values() if fn.parent is cls
                   for site, _ in self.server.accepts_reached(fn)]
        return min(accepts, default=cls.node, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))

    def _websocket_application(self, call: ast.Call) -> ast.expr | None:
        return websocket_application(call, self.model)  # one reading of the router, shared with the summary

    def _validates(self, expr: ast.AST) -> bool:
        return any(isinstance(n, ast.Call) and (self._qualified(n.func) in CHANNELS_ORIGIN_VALIDATORS
                                                or self._validator(n.func)) for n in ast.walk(expr))
