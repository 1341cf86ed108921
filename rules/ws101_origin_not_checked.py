"""WS101 origin-not-checked: a WebSocket endpoint that accepts any Origin (cross-site WebSocket hijacking)."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._endpoints import Endpoint, EndpointModel, endpoints, walk
from wsrefactor.rules._helpers import add_arg, call_name, keyword, positional

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


def _is_origin_key(node: cst.CSTNode | None) -> bool:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return isinstance(value, str) and value.lower() == "origin"
    return False


def _is_origin_read(node: cst.CSTNode) -> bool:
    """``x.headers["origin"]``, ``x.get("Origin")``, ``dict(scope["headers"]).get(b"origin")``..."""
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        return isinstance(index, cst.Index) and _is_origin_key(index.value)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("get", "getlist"):
        first = positional(node, 0)
        return first is not None and _is_origin_key(first.value)
    return False


def _is_trivial_operand(node: cst.BaseExpression) -> bool:
    """None, '', b'' or the header name itself: comparing with these is not an allowlist check."""
    if isinstance(node, cst.Name) and node.value == "None":
        return True
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return not value or _is_origin_key(node)
    return False


class _OriginFacts:
    """Origin values and checks inside a set of functions (names flow within each function)."""

    def __init__(self, rule: OriginNotChecked) -> None:
        self.rule = rule

    def origin_names(self, func: cst.CSTNode) -> set[str]:
        names: set[str] = set()
        for _ in range(3):  # a few rounds of `a = <origin>; b = urlparse(a)` propagation
            before = len(names)
            for node in walk(func):
                if isinstance(node, (cst.Assign, cst.AnnAssign, cst.NamedExpr)) and node.value is not None:
                    if self.mentions_origin(node.value, names):
                        targets = (
                            [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                        )
                        for t in targets:
                            names.update(n.value for n in [t, *walk(t)] if isinstance(n, cst.Name))
                elif isinstance(node, cst.If) and self._key_test(node.test):
                    # for name, value in scope["headers"]: if name == b"origin": origin = value
                    for inner in walk(node.body):
                        if isinstance(inner, cst.Assign):
                            for t in inner.targets:
                                if isinstance(t.target, cst.Name):
                                    names.add(t.target.value)
            if len(names) == before:
                break
        return names

    @staticmethod
    def _key_test(test: cst.BaseExpression) -> bool:
        return isinstance(test, cst.Comparison) and any(
            _is_origin_key(test.left) or _is_origin_key(c.comparator) for c in test.comparisons
        )

    @staticmethod
    def mentions_origin(expr: cst.CSTNode, names: set[str]) -> bool:
        for node in [expr, *walk(expr)]:
            if _is_origin_read(node) or (isinstance(node, cst.Name) and node.value in names):
                return True
        return False

    def has_check(self, func: cst.CSTNode, validators: frozenset[str]) -> bool:
        ctx = self.rule.ctx
        names = self.origin_names(func)
        conditions = self._condition_nodes(func)
        for node in walk(func):
            if isinstance(node, cst.Call):
                q = call_name(ctx, node)
                if q is not None and q in validators:
                    return True
                if self._call_checks(node, names, conditions):
                    return True
            elif isinstance(node, cst.Comparison):
                if self._comparison_checks(node, names):
                    return True
        return False

    def _comparison_checks(self, node: cst.Comparison, names: set[str]) -> bool:
        left = node.left
        for comp in node.comparisons:
            right = comp.comparator
            if isinstance(comp.operator, (cst.In, cst.NotIn, cst.Equal, cst.NotEqual)):
                sides = (left, right)
                if any(self.mentions_origin(s, names) for s in sides) and not any(
                    _is_trivial_operand(s) for s in sides
                ):
                    return True
            left = right
        return False

    def _call_checks(self, node: cst.Call, names: set[str], conditions: set[int]) -> bool:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _MATCH_METHODS:
            if self.mentions_origin(func.value, names) or any(self.mentions_origin(a.value, names) for a in node.args):
                return True
        if not any(self.mentions_origin(a.value, names) for a in node.args):
            return False
        if call_name(self.rule.ctx, node) in _BENIGN_CALLS:
            return False
        if isinstance(func, cst.Attribute) and func.attr.value in _BENIGN_METHODS:
            return False
        # passed to a function whose answer decides something: `if not allowed(origin): ...`
        return id(node) in conditions

    def _condition_nodes(self, func: cst.CSTNode) -> set[int]:
        """ids of nodes whose value decides control flow (if/while/assert/ternary tests, boolean
        operands, returned values, and values assigned to names later used in such tests)."""
        tests: list[cst.CSTNode] = []
        for node in walk(func):
            if isinstance(node, (cst.If, cst.While, cst.IfExp)):
                tests.append(node.test)
            elif isinstance(node, cst.Assert):
                tests.append(node.test)
            elif isinstance(node, cst.Return) and node.value is not None:
                tests.append(node.value)
        used = {n.value for t in tests for n in [t, *walk(t)] if isinstance(n, cst.Name)}
        for node in walk(func):
            if isinstance(node, cst.Assign) and any(
                isinstance(t.target, cst.Name) and t.target.value in used for t in node.targets
            ):
                tests.append(node.value)
        return {id(n) for t in tests for n in [t, *walk(t)]}


class OriginNotChecked(Rule):
    """
    ## What it does
    Finds WebSocket endpoints that accept the handshake without comparing the `Origin` header
    against an allowlist:

    - FastAPI/Starlette endpoints (`@app.websocket`, `WebSocketRoute`, `add_api_websocket_route`,
      `WebSocketEndpoint` classes) with no origin check in the endpoint, in a same-module helper
      it calls, in a `Depends(...)` dependency, in a decorator, or in a same-module ASGI
      middleware (reported on the `def`/`class` line);
    - `websockets.serve(...)` without `origins=` (or with `origins=None`), reported on the call;
    - tornado `WebSocketHandler.check_origin` that returns `True` on every path (reported on its
      `def` line; a handler without `check_origin` is fine: tornado's default rejects
      cross-origin handshakes);
    - python-socketio servers with `cors_allowed_origins="*"`, `["*"]` or `[]` (the empty list
      disables the check; the default `None` allows the same origin only and is fine);
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
            import websockets
            import os

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
            from starlette.endpoints import WebSocketEndpoint
            from myapp.settings import ALLOWED_ORIGINS

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

    # -- visiting ---------------------------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        model = endpoints(self.ctx)
        self.origin = _OriginFacts(self)
        self.validators = frozenset(self.opts["origin-validators"])
        self.app_checked = self._middleware_checks(model)
        for ep in model.endpoints:
            if ep.kind == "asgi":
                self._check_asgi(model, ep)
            elif ep.kind == "asgi-class":
                self._check_asgi_class(model, ep)
            elif ep.kind == "tornado":
                self._check_tornado(ep)
        for serve in model.serve_calls:
            self._check_serve(model, serve)
        for srv in model.socketio_servers:
            self._check_socketio(model, srv)
        for router in model.channels_routers:
            self._check_channels(model, router)

    # -- what counts as checked ---------------------------------------------------------------

    def _checked_in(self, model: EndpointModel, funcs: Iterable[cst.FunctionDef]) -> bool:
        todo = list(funcs)
        every: list[cst.FunctionDef] = []
        for f in todo:
            for g in [f, *model.reachable(f)]:
                if not any(g is e for e in every):
                    every.append(g)
        return any(self.origin.has_check(f, self.validators) for f in every)

    def _validator_ref(self, expr: cst.BaseExpression | None) -> bool:
        return expr is not None and self.ctx.qualname(expr) in self.validators

    def _dependencies(self, model: EndpointModel, ep: Endpoint) -> tuple[list[cst.FunctionDef], bool]:
        """Same-module functions used as Depends()/decorators/route dependencies of ``ep``; and
        whether one of them is a configured origin validator."""
        funcs: list[cst.FunctionDef] = []
        validated = False
        exprs: list[cst.CSTNode] = []
        handler = ep.handler
        if handler is not None:
            exprs.extend(p.default for p in [*handler.params.params, *handler.params.kwonly_params] if p.default)
            exprs.extend(p.annotation.annotation for p in [*handler.params.params, *handler.params.kwonly_params] if p.annotation)
            for dec in handler.decorators:
                d = dec.decorator
                exprs.append(d)
                target = d.func if isinstance(d, cst.Call) else d
                validated |= self._validator_ref(target)
                f = model._func_target(target)
                if f is not None:
                    funcs.append(f)
        for expr in exprs:
            for node in [expr, *walk(expr)]:
                if isinstance(node, cst.Call) and call_name(self.ctx, node) in DEPENDS:
                    dep = positional(node, 0) or keyword(node, "dependency")
                    if dep is None:
                        continue
                    validated |= self._validator_ref(dep.value)
                    f = model._func_target(dep.value)
                    if f is not None:
                        funcs.append(f)
        # app/router-level dependencies: FastAPI(dependencies=[Depends(f)]),
        # app.include_router(router, dependencies=[Depends(f)])
        level = [v for n, v in model.module_assigns.items() if n in model.app_names]
        level += [
            n for n in walk(self.ctx.module)
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "include_router"
        ]
        for value in level:
            if isinstance(value, cst.Call):
                deps = keyword(value, "dependencies")
                if deps is not None:
                    for node in walk(deps.value):
                        if isinstance(node, cst.Call) and call_name(self.ctx, node) in DEPENDS:
                            dep = positional(node, 0)
                            if dep is not None:
                                validated |= self._validator_ref(dep.value)
                                f = model._func_target(dep.value)
                                if f is not None:
                                    funcs.append(f)
        return funcs, validated

    def _middleware_checks(self, model: EndpointModel) -> bool:
        """A same-module ASGI middleware (class or function) that checks the Origin, installed
        with ``add_middleware(X)`` or ``Middleware(X)``; or a configured validator used so."""
        for node in walk(self.ctx.module):
            if not isinstance(node, cst.Call):
                continue
            is_mw = (isinstance(node.func, cst.Attribute) and node.func.attr.value == "add_middleware") or (
                call_name(self.ctx, node) in ("starlette.middleware.Middleware", "fastapi.middleware.Middleware")
            )
            first = positional(node, 0) if is_mw else None
            if first is None:
                continue
            if self._validator_ref(first.value):
                return True
            name = first.value.value if isinstance(first.value, cst.Name) else None
            if name in model.classes:
                if self._checked_in(model, model.methods_of(model.classes[name]).values()):
                    return True
            elif name in model.functions and self._checked_in(model, [model.functions[name]]):
                return True
        return False

    # -- ASGI function endpoints ------------------------------------------------------------

    def _check_asgi(self, model: EndpointModel, ep: Endpoint) -> None:
        if not ep.accepts or self.app_checked or ep.handler is None:
            return
        deps, validated = self._dependencies(model, ep)
        if validated or self._checked_in(model, [ep.handler, *deps]):
            return
        fix = None
        anchors: list[cst.BaseStatement] = []
        for site in ep.accepts:
            if site.anchor is not None and not any(site.anchor is a for a in anchors):
                anchors.append(site.anchor)
        if anchors and ep.handler.asynchronous is not None and ep.ws_param:
            allow, imports, stmts = self._allowlist(model)
            guard = self._guard(ep.ws_param, allow)
            fix = Fix(
                FixSafety.UNSAFE,
                "close with 1008 before accepting when the Origin is not allowed",
                replacements={a: self._insert_before(guard) for a in anchors},
                imports=imports,
                module_statements=stmts,
            )
        self.report(
            ep.handler,
            f"WebSocket endpoint `{ep.handler.name.value}` accepts the handshake without checking the "
            "Origin header (cross-site WebSocket hijacking)",
            fix=fix,
        )

    def _guard(self, ws: str, allow: str) -> cst.BaseStatement:
        return cst.parse_statement(
            f'if {ws}.headers.get("origin") not in {allow}:\n'
            f"    await {ws}.close(code=1008)\n"
            "    return\n",
            config=self.ctx.module.config_for_parsing,
        )

    @staticmethod
    def _insert_before(guard: cst.BaseStatement):
        def apply(updated: cst.CSTNode) -> cst.CSTNode:
            lead = getattr(updated, "leading_lines", [])
            return cst.FlattenSentinel([
                guard.with_changes(leading_lines=lead),
                updated.with_changes(leading_lines=[]),
            ])

        return apply

    def _allowlist(self, model: EndpointModel) -> tuple[str, tuple[tuple[str, str | None], ...], tuple[str, ...]]:
        option = self.opts["allowed-origins"].strip()
        if option:
            imported = self.opts["allowed-origins-import"].strip()
            imports: tuple[tuple[str, str | None], ...] = ()
            if imported:
                mod, _, obj = imported.rpartition(".")
                imports = ((mod, obj),) if mod else ((obj, None),)
            return option, imports, ()
        cors = self._cors_allowlist(model)
        if cors is not None:
            return cors, (), ()
        return "WS_ALLOWED_ORIGINS", (("os", None),), (ENV_CONSTANT,)

    def _cors_allowlist(self, model: EndpointModel) -> str | None:
        for stmt in self.ctx.module.body:
            for node in walk(stmt) if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) else ():
                if not isinstance(node, cst.Call):
                    continue
                first = positional(node, 0)
                if first is None or self.ctx.qualname(first.value) not in CORS_MIDDLEWARE:
                    continue
                origins = keyword(node, "allow_origins")
                if origins is None:
                    continue
                value = origins.value
                if isinstance(value, cst.Name) and value.value in model.module_assigns:
                    resolved = model.module_assigns[value.value]
                    if self._has_star(resolved):
                        continue
                    return value.value
                if isinstance(value, (cst.List, cst.Tuple, cst.Set)) and not self._has_star(value) and all(
                    isinstance(e.value, cst.SimpleString) for e in value.elements
                ) and value.elements:
                    return self.ctx.module.code_for_node(value)
        return None

    @staticmethod
    def _has_star(expr: cst.CSTNode) -> bool:
        return any(isinstance(n, cst.SimpleString) and n.evaluated_value == "*" for n in [expr, *walk(expr)])

    # -- Starlette WebSocketEndpoint classes ----------------------------------------------------

    def _check_asgi_class(self, model: EndpointModel, ep: Endpoint) -> None:
        cls = ep.cls
        if cls is None or self.app_checked:
            return
        if ep.registration is None and any(
            isinstance(b.value, cst.Name) and b.value.value == cls.name.value
            for other in model.classes.values()
            for b in other.bases
        ):
            return  # an abstract base: its subclasses are the endpoints
        if self._checked_in(model, ep.handlers):
            return
        own = model.methods_of(cls, inherited=False)
        fix = None
        connect = ep.methods.get("on_connect")
        if connect is None or own.get("on_connect") is connect:
            allow, imports, stmts = self._allowlist(model)
            if connect is None:
                replacements = {cls: self._add_on_connect(allow)}
            else:
                anchors = [a.anchor for a in ep.accepts if a.anchor is not None and a.function is connect]
                if not anchors or connect.asynchronous is None or not ep.ws_param:
                    anchors = []
                replacements = {a: self._insert_before(self._guard(ep.ws_param or "websocket", allow)) for a in anchors}
            if replacements:
                fix = Fix(FixSafety.UNSAFE, "check the Origin in on_connect before accepting",
                          replacements=replacements, imports=imports, module_statements=stmts)
        elif not ep.accepts:
            return
        self.report(
            cls,
            f"WebSocketEndpoint `{cls.name.value}` accepts the handshake without checking the Origin header "
            "(cross-site WebSocket hijacking)",
            fix=fix,
        )

    def _add_on_connect(self, allow: str):
        method = cst.parse_statement(
            "async def on_connect(self, websocket):\n"
            f'    if websocket.headers.get("origin") not in {allow}:\n'
            "        await websocket.close(code=1008)\n"
            "        return\n"
            "    await websocket.accept()\n",
            config=self.ctx.module.config_for_parsing,
        )

        def apply(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.ClassDef)
            body = updated.body
            if not isinstance(body, cst.IndentedBlock):
                return updated
            stmts = list(body.body)
            index = next((i for i, s in enumerate(stmts) if isinstance(s, cst.FunctionDef)), len(stmts))
            only_pass = all(
                isinstance(s, cst.SimpleStatementLine) and all(isinstance(x, (cst.Pass, cst.Expr)) for x in s.body)
                for s in stmts
            )
            new = method.with_changes(leading_lines=[cst.EmptyLine(indent=False)] if index > 0 else [])
            if index < len(stmts):
                stmts[index] = stmts[index].with_changes(leading_lines=[cst.EmptyLine(indent=False), *[
                    ln for ln in stmts[index].leading_lines if ln.comment is not None
                ]])
            if only_pass:
                stmts = [s for s in stmts if not (isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Pass))]
                index = len(stmts)
                new = method.with_changes(leading_lines=[cst.EmptyLine(indent=False)] if stmts else [])
            stmts.insert(index, new)
            return updated.with_changes(body=body.with_changes(body=stmts))

        return apply

    # -- tornado, websockets, socketio, channels ------------------------------------------------

    def _check_tornado(self, ep: Endpoint) -> None:
        func = ep.methods.get("check_origin")
        if func is None or model_class_owner(func, ep) is False:
            return
        returns = [n for n in walk(func.body, into_defs=False) if isinstance(n, cst.Return)]
        raises = [n for n in walk(func.body, into_defs=False) if isinstance(n, cst.Raise)]
        if returns and not raises and all(
            isinstance(r.value, cst.Name) and r.value.value == "True" for r in returns
        ):
            self.report(
                func,
                "tornado `check_origin` returns True for every origin: any web page can open this socket "
                "(cross-site WebSocket hijacking)",
            )

    def _check_serve(self, model: EndpointModel, serve) -> None:
        call = serve.call
        if any(a.star == "**" for a in call.args) or {"process_request", "create_protocol", "create_connection"} & set(serve.keywords):
            if not self._serve_hook_unchecked(model, serve):
                return
        origins = serve.keywords.get("origins")
        if origins is not None and not (isinstance(origins.value, cst.Name) and origins.value.value == "None"):
            return
        if serve.handler is not None and self._checked_in(model, [serve.handler]):
            return
        allow, imports, stmts = self._allowlist(model)
        if allow == "WS_ALLOWED_ORIGINS":
            allow = "list(WS_ALLOWED_ORIGINS)"
        value = cst.parse_expression(allow)
        if origins is not None:
            replacement = lambda updated: updated.with_changes(args=[  # noqa: E731
                a.with_changes(value=value) if a.keyword is not None and a.keyword.value == "origins" else a
                for a in updated.args
            ])
        else:
            arg = cst.Arg(
                value=value, keyword=cst.Name("origins"),
                equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
            )
            replacement = lambda updated: add_arg(updated, arg)  # noqa: E731
        self.report(
            call,
            "websockets `serve()` without `origins=` accepts handshakes from any web page "
            "(cross-site WebSocket hijacking)",
            fix=Fix(FixSafety.UNSAFE, "pass origins= to serve()", replacements={call: replacement},
                    imports=imports, module_statements=stmts),
        )

    def _serve_hook_unchecked(self, model: EndpointModel, serve) -> bool:
        """With ``process_request=`` etc. or ``**kwargs``: unchecked only when every hook is a
        same-module function without an origin check (unknown hooks get the benefit of doubt)."""
        if any(a.star == "**" for a in serve.call.args):
            return False
        for key in ("process_request", "create_protocol", "create_connection"):
            arg = serve.keywords.get(key)
            if arg is None:
                continue
            if self._validator_ref(arg.value):
                return False
            f = model._func_target(arg.value)
            if f is None and isinstance(arg.value, cst.Name) and arg.value.value in model.classes:
                if self._checked_in(model, model.methods_of(model.classes[arg.value.value]).values()):
                    return False
                continue
            if f is None or self._checked_in(model, [f]):
                return False
        return True

    def _check_socketio(self, model: EndpointModel, srv) -> None:
        arg = srv.cors_allowed_origins
        if arg is None:
            return
        value = arg.value
        if isinstance(value, cst.Name) and value.value in model.module_assigns:
            value = model.module_assigns[value.value]
        star = isinstance(value, cst.SimpleString) and value.evaluated_value == "*"
        if isinstance(value, (cst.List, cst.Tuple)):
            elems = value.elements
            star = not elems or any(isinstance(e.value, cst.SimpleString) and e.value.evaluated_value == "*" for e in elems)
        if star:
            self.report(
                srv.call,
                "socketio server with `cors_allowed_origins` "
                + ("= [] (origin check disabled)" if isinstance(value, (cst.List, cst.Tuple)) and not value.elements else "allowing every origin")
                + ": any web page can connect (cross-site WebSocket hijacking)",
            )

    def _check_channels(self, model: EndpointModel, router) -> None:
        value = router.websocket
        if value is None or router.origin_validated:
            return
        if isinstance(value, cst.Name) and value.value in model.module_assigns:
            resolved = model.module_assigns[value.value]
            if any(
                isinstance(n, cst.Call) and call_name(self.ctx, n) in
                {"channels.security.websocket.OriginValidator", "channels.security.websocket.AllowedHostsOriginValidator"}
                for n in [resolved, *walk(resolved)]
            ):
                return
        if any(isinstance(n, cst.Call) and self._validator_ref(n.func) for n in [value, *walk(value)]):
            return
        self.report(
            router.call,
            "Channels websocket application not wrapped in AllowedHostsOriginValidator/OriginValidator: "
            "any web page can connect (cross-site WebSocket hijacking)",
        )


def model_class_owner(func: cst.FunctionDef, ep: Endpoint) -> bool:
    """Whether ``func`` is defined in ``ep``'s own class (inherited methods are reported there)."""
    cls = ep.cls
    return cls is not None and isinstance(cls.body, cst.IndentedBlock) and any(s is func for s in cls.body.body)
