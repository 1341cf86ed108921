"""WS101 origin-not-checked: a WebSocket endpoint that accepts any Origin (cross-site WebSocket hijacking)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import FileContext, Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._endpoint_prefilter import (
    EndpointFacts,
    endpoint_facts,
    is_none,
    method_calls,
    str_value,
)
from wsrefactor.rules._endpoint_prefilter import keyword as ast_keyword
from wsrefactor.rules._endpoint_prefilter import positional as ast_positional
from wsrefactor.rules._endpoints import (
    CHANNELS_ORIGIN_VALIDATORS,
    ChannelsRouter,
    Endpoint,
    EndpointModel,
    ServeCall,
    SocketIOServer,
    endpoints,
    walk,
)
from wsrefactor.rules._helpers import add_arg, call_name, keyword, positional
from wsrefactor.rules._prefilter import own_nodes, per_tree

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

Replacement = Callable[[cst.CSTNode], cst.CSTNode | cst.FlattenSentinel]


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


def _is_name(node: cst.CSTNode | None, value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value


def _is_star(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.SimpleString) and node.evaluated_value == "*"


def _names_in(node: cst.CSTNode) -> list[str]:
    """Every Name in ``node`` (itself included)."""
    return [n.value for n in [node, *walk(node)] if isinstance(n, cst.Name)]


def _decisive_expr(node: cst.CSTNode) -> cst.CSTNode | None:
    """The expression of ``node`` whose value decides control flow: an if/while/assert/ternary
    test, or a returned value (the caller decides with it)."""
    if isinstance(node, (cst.If, cst.While, cst.IfExp, cst.Assert)):
        return node.test
    if isinstance(node, cst.Return):
        return node.value
    return None


def _assigns_any(node: cst.Assign, names: set[str]) -> bool:
    """Whether ``node`` assigns one of ``names`` (as a plain-name target)."""
    return any(isinstance(t.target, cst.Name) and t.target.value in names for t in node.targets)


def _unique(nodes: Iterable[cst.CSTNode]) -> list[cst.CSTNode]:
    """``nodes`` without repeats (by identity), in order."""
    out: list[cst.CSTNode] = []
    for node in nodes:
        if not any(node is seen for seen in out):
            out.append(node)
    return out


def _module_value(model: EndpointModel, expr: cst.BaseExpression) -> cst.BaseExpression:
    """What a module-level name is assigned; any other expression as is."""
    if isinstance(expr, cst.Name) and expr.value in model.module_assigns:
        return model.module_assigns[expr.value]
    return expr


def _allows_any_origin(value: cst.BaseExpression) -> bool:
    """socketio ``cors_allowed_origins``: ``"*"``, a list with ``"*"``, or ``[]`` (no check)."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return not value.elements or any(_is_star(e.value) for e in value.elements)
    return _is_star(value)


def _returns_true_always(func: cst.FunctionDef) -> bool:
    """Every ``return`` of ``func`` (not counting nested defs) is ``return True``, and it never raises."""
    nodes = list(walk(func.body, into_defs=False))
    returns = [n for n in nodes if isinstance(n, cst.Return)]
    if not returns or any(isinstance(n, cst.Raise) for n in nodes):
        return False
    return all(_is_name(r.value, "True") for r in returns)


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
        comments = [ln for ln in out[index].leading_lines if ln.comment is not None]
        out[index] = out[index].with_changes(leading_lines=[cst.EmptyLine(indent=False), *comments])
    out.insert(index, method.with_changes(leading_lines=[cst.EmptyLine(indent=False)] if index > 0 else []))
    return out


@dataclass
class _Dependencies:
    """What an endpoint runs before its body: same-module functions, and whether one of them is a
    configured origin validator."""

    funcs: list[cst.FunctionDef] = field(default_factory=list)
    validated: bool = False


class _OriginFacts:
    """Origin values and checks inside a set of functions (names flow within each function)."""

    def __init__(self, rule: OriginNotChecked) -> None:
        self.rule = rule
        self._checks: dict[tuple[cst.CSTNode, frozenset[str]], bool] = {}

    def origin_names(self, func: cst.CSTNode) -> set[str]:
        names: set[str] = set()
        for _ in range(3):  # a few rounds of `a = <origin>; b = urlparse(a)` propagation
            before = len(names)
            for node in walk(func):
                names.update(self._bound_origin_names(node, names))
            if len(names) == before:
                break
        return names

    def _bound_origin_names(self, node: cst.CSTNode, names: set[str]) -> list[str]:
        """Names ``node`` binds to an origin value (given the origin ``names`` known so far)."""
        if isinstance(node, (cst.Assign, cst.AnnAssign, cst.NamedExpr)) and node.value is not None:
            return self._assigned_origin_names(node, names)
        if isinstance(node, cst.If) and self._key_test(node.test):
            # for name, value in scope["headers"]: if name == b"origin": origin = value
            return [
                t.target.value
                for inner in walk(node.body) if isinstance(inner, cst.Assign)
                for t in inner.targets if isinstance(t.target, cst.Name)
            ]
        return []

    def _assigned_origin_names(self, node: cst.Assign | cst.AnnAssign | cst.NamedExpr, names: set[str]) -> list[str]:
        """Every name in the targets of an assignment whose value mentions the origin."""
        if node.value is None or not self.mentions_origin(node.value, names):
            return []
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        return [name for t in targets for name in _names_in(t)]

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
        """Whether ``func`` checks the origin; memoized, as every endpoint reaching a shared
        helper asks again."""
        key = (func, validators)
        if key not in self._checks:
            self._checks[key] = self._find_check(func, validators)
        return self._checks[key]

    def _find_check(self, func: cst.CSTNode, validators: frozenset[str]) -> bool:
        ctx = self.rule.ctx
        names = self.origin_names(func)
        conditions = self._condition_nodes(func)
        for node in walk(func):
            if isinstance(node, cst.Call):
                if call_name(ctx, node) in validators or self._call_checks(node, names, conditions):
                    return True
            elif isinstance(node, cst.Comparison) and self._comparison_checks(node, names):
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
        if self._matches_origin(node, names):
            return True
        if not any(self.mentions_origin(a.value, names) for a in node.args) or self._benign(node):
            return False
        # passed to a function whose answer decides something: `if not allowed(origin): ...`
        return id(node) in conditions

    def _matches_origin(self, node: cst.Call, names: set[str]) -> bool:
        """``origin.startswith(...)``, ``re.match(pattern, origin)``..."""
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _MATCH_METHODS:
            return False
        return self.mentions_origin(func.value, names) or any(self.mentions_origin(a.value, names) for a in node.args)

    def _benign(self, node: cst.Call) -> bool:
        """A call that only looks at or passes along its arguments (logging, sending, str())."""
        if call_name(self.rule.ctx, node) in _BENIGN_CALLS:
            return True
        return isinstance(node.func, cst.Attribute) and node.func.attr.value in _BENIGN_METHODS

    def _condition_nodes(self, func: cst.CSTNode) -> set[int]:
        """ids of nodes whose value decides control flow (if/while/assert/ternary tests, boolean
        operands, returned values, and values assigned to names later used in such tests)."""
        tests = [t for node in walk(func) if (t := _decisive_expr(node)) is not None]
        used = {name for t in tests for name in _names_in(t)}
        tests += [node.value for node in walk(func) if isinstance(node, cst.Assign) and _assigns_any(node, used)]
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

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._app_calls: list[cst.Call] | None = None

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """Some endpoint, ``serve()``, socketio server or Channels router of the file can be
        reported (see ``_may_report``); files without a framework import stop at once."""
        if tree is None:
            return cls.matches_text(text)
        return per_tree(_may_report, tree)

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
        every = _unique(g for f in funcs for g in [f, *model.reachable(f)])
        return any(self.origin.has_check(f, self.validators) for f in every)

    def _validator_ref(self, expr: cst.BaseExpression | None) -> bool:
        return expr is not None and self.ctx.qualname(expr) in self.validators

    def _dependencies(self, model: EndpointModel, ep: Endpoint) -> tuple[list[cst.FunctionDef], bool]:
        """Same-module functions used as Depends()/decorators/route dependencies of ``ep``; and
        whether one of them is a configured origin validator."""
        found = _Dependencies()
        if ep.handler is not None:
            self._handler_dependencies(model, ep.handler, found)
        self._app_dependencies(model, found)
        return found.funcs, found.validated

    def _depend_on(self, model: EndpointModel, found: _Dependencies, expr: cst.BaseExpression) -> None:
        found.validated |= self._validator_ref(expr)
        func = model._func_target(expr)
        if func is not None:
            found.funcs.append(func)

    def _depends_target(self, node: cst.CSTNode, *, by_keyword: bool) -> cst.Arg | None:
        """The dependency of a ``Depends(f)`` / ``Security(f)`` call (``dependency=f`` too when
        ``by_keyword``)."""
        if not isinstance(node, cst.Call) or call_name(self.ctx, node) not in DEPENDS:
            return None
        return positional(node, 0) or (keyword(node, "dependency") if by_keyword else None)

    def _handler_dependencies(self, model: EndpointModel, handler: cst.FunctionDef, found: _Dependencies) -> None:
        """Decorators of the endpoint, and ``Depends(...)`` in its defaults, annotations
        (``Annotated[..., Depends(f)]``) and decorator arguments."""
        params = [*handler.params.params, *handler.params.kwonly_params]
        exprs: list[cst.CSTNode] = [p.default for p in params if p.default]
        exprs += [p.annotation.annotation for p in params if p.annotation]
        for dec in handler.decorators:
            d = dec.decorator
            exprs.append(d)
            self._depend_on(model, found, d.func if isinstance(d, cst.Call) else d)
        for expr in exprs:
            for node in [expr, *walk(expr)]:
                dep = self._depends_target(node, by_keyword=True)
                if dep is not None:
                    self._depend_on(model, found, dep.value)

    def _app_dependencies(self, model: EndpointModel, found: _Dependencies) -> None:
        """App/router-level dependencies: ``FastAPI(dependencies=[Depends(f)])``,
        ``app.include_router(router, dependencies=[Depends(f)])``."""
        for call in self._app_level_calls(model):
            deps = keyword(call, "dependencies")
            if deps is None:
                continue
            for node in walk(deps.value):
                dep = self._depends_target(node, by_keyword=False)
                if dep is not None:
                    self._depend_on(model, found, dep.value)

    def _app_level_calls(self, model: EndpointModel) -> list[cst.Call]:
        """The app constructors and ``include_router`` calls (the same for every endpoint of the
        module: found with one walk per file, not one per endpoint)."""
        if self._app_calls is None:
            level = [v for n, v in model.module_assigns.items() if n in model.app_names]
            level += [
                n for n in walk(self.ctx.module)
                if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
                and n.func.attr.value == "include_router"
            ]
            self._app_calls = [v for v in level if isinstance(v, cst.Call)]
        return self._app_calls

    def _middleware_checks(self, model: EndpointModel) -> bool:
        """A same-module ASGI middleware (class or function) that checks the Origin, installed
        with ``add_middleware(X)`` or ``Middleware(X)``; or a configured validator used so."""
        return any(self._middleware_checks_origin(model, mw) for mw in self._installed_middleware())

    def _installed_middleware(self) -> Iterator[cst.BaseExpression]:
        for node in walk(self.ctx.module):
            if not isinstance(node, cst.Call):
                continue
            is_mw = (isinstance(node.func, cst.Attribute) and node.func.attr.value == "add_middleware") or (
                call_name(self.ctx, node) in _MIDDLEWARE_CLASSES
            )
            first = positional(node, 0) if is_mw else None
            if first is not None:
                yield first.value

    def _middleware_checks_origin(self, model: EndpointModel, middleware: cst.BaseExpression) -> bool:
        if self._validator_ref(middleware):
            return True
        name = middleware.value if isinstance(middleware, cst.Name) else None
        if name in model.classes:
            return self._checked_in(model, model.methods_of(model.classes[name]).values())
        return name in model.functions and self._checked_in(model, [model.functions[name]])

    # -- ASGI function endpoints ------------------------------------------------------------

    def _check_asgi(self, model: EndpointModel, ep: Endpoint) -> None:
        handler = ep.handler
        if not ep.accepts or self.app_checked or handler is None:
            return
        deps, validated = self._dependencies(model, ep)
        if validated or self._checked_in(model, [handler, *deps]):
            return
        self.report(
            handler,
            f"WebSocket endpoint `{handler.name.value}` accepts the handshake without checking the "
            "Origin header (cross-site WebSocket hijacking)",
            fix=self._asgi_fix(model, ep, handler),
        )

    def _asgi_fix(self, model: EndpointModel, ep: Endpoint, handler: cst.FunctionDef) -> Fix | None:
        """The guard before each statement of the handler that accepts (or calls the helper that does)."""
        anchors = _unique(site.anchor for site in ep.accepts if site.anchor is not None)
        if not anchors or handler.asynchronous is None or not ep.ws_param:
            return None
        allow, imports, stmts = self._allowlist(model)
        guard = self._guard(ep.ws_param, allow)
        return Fix(
            FixSafety.UNSAFE,
            "close with 1008 before accepting when the Origin is not allowed",
            replacements={a: self._insert_before(guard) for a in anchors},
            imports=imports,
            module_statements=stmts,
        )

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
        """The ``allow_origins=`` of a module-level ``CORSMiddleware`` setup, as source text,
        when it is a name or a literal list of strings without ``"*"``."""
        for call in self._cors_middleware_calls():
            allow = self._cors_origins(model, call)
            if allow is not None:
                return allow
        return None

    def _cors_middleware_calls(self) -> Iterator[cst.Call]:
        """Calls given ``CORSMiddleware`` as first argument, outside functions and classes."""
        for stmt in self.ctx.module.body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            for node in walk(stmt):
                first = positional(node, 0) if isinstance(node, cst.Call) else None
                if first is not None and self.ctx.qualname(first.value) in CORS_MIDDLEWARE:
                    yield node

    def _cors_origins(self, model: EndpointModel, call: cst.Call) -> str | None:
        origins = keyword(call, "allow_origins")
        if origins is None:
            return None
        value = origins.value
        if isinstance(value, cst.Name) and value.value in model.module_assigns:
            return None if self._has_star(model.module_assigns[value.value]) else value.value
        if self._literal_allowlist(value):
            return self.ctx.module.code_for_node(value)
        return None

    @classmethod
    def _literal_allowlist(cls, value: cst.BaseExpression) -> bool:
        """A non-empty list/tuple/set display of plain strings, none of them ``"*"``."""
        return (
            isinstance(value, (cst.List, cst.Tuple, cst.Set))
            and bool(value.elements)
            and not cls._has_star(value)
            and all(isinstance(e.value, cst.SimpleString) for e in value.elements)
        )

    @staticmethod
    def _has_star(expr: cst.CSTNode) -> bool:
        return any(_is_star(n) for n in [expr, *walk(expr)])

    # -- Starlette WebSocketEndpoint classes ----------------------------------------------------

    def _check_asgi_class(self, model: EndpointModel, ep: Endpoint) -> None:
        cls = ep.cls
        if cls is None or self.app_checked:
            return
        if ep.registration is None and self._is_subclassed(model, cls):
            return  # an abstract base: its subclasses are the endpoints
        if self._checked_in(model, ep.handlers):
            return
        connect = ep.methods.get("on_connect")
        # a fix edits the class's own on_connect, or adds one; not an inherited one
        fixable = connect is None or model.methods_of(cls, inherited=False).get("on_connect") is connect
        if not fixable and not ep.accepts:
            return
        self.report(
            cls,
            f"WebSocketEndpoint `{cls.name.value}` accepts the handshake without checking the Origin header "
            "(cross-site WebSocket hijacking)",
            fix=self._asgi_class_fix(model, ep, cls, connect) if fixable else None,
        )

    @staticmethod
    def _is_subclassed(model: EndpointModel, cls: cst.ClassDef) -> bool:
        return any(_is_name(b.value, cls.name.value) for other in model.classes.values() for b in other.bases)

    def _asgi_class_fix(
        self, model: EndpointModel, ep: Endpoint, cls: cst.ClassDef, connect: cst.FunctionDef | None
    ) -> Fix | None:
        """Guard the accepts of the class's ``on_connect``, or add an ``on_connect`` that checks
        and accepts."""
        allow, imports, stmts = self._allowlist(model)
        replacements: dict[cst.CSTNode, Replacement]
        if connect is None:
            replacements = {cls: self._add_on_connect(allow)}
        else:
            replacements = self._guard_accepts_in(ep, connect, allow)
        if not replacements:
            return None
        return Fix(FixSafety.UNSAFE, "check the Origin in on_connect before accepting",
                   replacements=replacements, imports=imports, module_statements=stmts)

    def _guard_accepts_in(self, ep: Endpoint, connect: cst.FunctionDef, allow: str) -> dict[cst.CSTNode, Replacement]:
        anchors = [a.anchor for a in ep.accepts if a.anchor is not None and a.function is connect]
        ws = ep.ws_param
        if not anchors or connect.asynchronous is None or not ws:
            return {}
        return {a: self._insert_before(self._guard(ws, allow)) for a in anchors}

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

    # -- tornado, websockets, socketio, channels ------------------------------------------------

    def _check_tornado(self, ep: Endpoint) -> None:
        func = ep.methods.get("check_origin")
        if func is None or model_class_owner(func, ep) is False:
            return
        if _returns_true_always(func):
            self.report(
                func,
                "tornado `check_origin` returns True for every origin: any web page can open this socket "
                "(cross-site WebSocket hijacking)",
            )

    def _check_serve(self, model: EndpointModel, serve: ServeCall) -> None:
        if self._has_hooks(serve) and not self._serve_hook_unchecked(model, serve):
            return
        origins = serve.keywords.get("origins")
        if origins is not None and not _is_name(origins.value, "None"):
            return
        if serve.handler is not None and self._checked_in(model, [serve.handler]):
            return
        self.report(
            serve.call,
            "websockets `serve()` without `origins=` accepts handshakes from any web page "
            "(cross-site WebSocket hijacking)",
            fix=self._serve_fix(model, serve.call, origins),
        )

    @staticmethod
    def _has_hooks(serve: ServeCall) -> bool:
        return any(a.star == "**" for a in serve.call.args) or any(k in serve.keywords for k in _SERVE_HOOKS)

    def _serve_fix(self, model: EndpointModel, call: cst.Call, origins: cst.Arg | None) -> Fix:
        allow, imports, stmts = self._allowlist(model)
        if allow == "WS_ALLOWED_ORIGINS":
            allow = "list(WS_ALLOWED_ORIGINS)"
        value = cst.parse_expression(allow)
        replacement = _replace_origins(value) if origins is not None else _append_origins(value)
        return Fix(FixSafety.UNSAFE, "pass origins= to serve()", replacements={call: replacement},
                   imports=imports, module_statements=stmts)

    def _serve_hook_unchecked(self, model: EndpointModel, serve: ServeCall) -> bool:
        """With ``process_request=`` etc. or ``**kwargs``: unchecked only when every hook is a
        same-module function without an origin check (unknown hooks get the benefit of doubt)."""
        if any(a.star == "**" for a in serve.call.args):
            return False
        hooks = [serve.keywords[key].value for key in _SERVE_HOOKS if key in serve.keywords]
        return all(self._hook_unchecked(model, hook) for hook in hooks)

    def _hook_unchecked(self, model: EndpointModel, hook: cst.BaseExpression) -> bool:
        if self._validator_ref(hook):
            return False
        func = model._func_target(hook)
        if func is None and isinstance(hook, cst.Name) and hook.value in model.classes:
            return not self._checked_in(model, model.methods_of(model.classes[hook.value]).values())
        return func is not None and not self._checked_in(model, [func])

    def _check_socketio(self, model: EndpointModel, srv: SocketIOServer) -> None:
        arg = srv.cors_allowed_origins
        if arg is None:
            return
        value = _module_value(model, arg.value)
        if not _allows_any_origin(value):
            return
        empty = isinstance(value, (cst.List, cst.Tuple)) and not value.elements
        self.report(
            srv.call,
            "socketio server with `cors_allowed_origins` "
            + ("= [] (origin check disabled)" if empty else "allowing every origin")
            + ": any web page can connect (cross-site WebSocket hijacking)",
        )

    def _check_channels(self, model: EndpointModel, router: ChannelsRouter) -> None:
        value = router.websocket
        if value is None or router.origin_validated:
            return
        resolved = _module_value(model, value)  # application = ...; ProtocolTypeRouter({"websocket": application})
        if resolved is not value and self._calls_in(resolved, self._is_channels_validator):
            return
        if self._calls_in(value, lambda call: self._validator_ref(call.func)):
            return
        self.report(
            router.call,
            "Channels websocket application not wrapped in AllowedHostsOriginValidator/OriginValidator: "
            "any web page can connect (cross-site WebSocket hijacking)",
        )

    def _is_channels_validator(self, call: cst.Call) -> bool:
        return call_name(self.ctx, call) in CHANNELS_ORIGIN_VALIDATORS

    @staticmethod
    def _calls_in(expr: cst.CSTNode, wanted: Callable[[cst.Call], bool]) -> bool:
        """Whether ``expr`` is or contains a call for which ``wanted`` holds."""
        return any(isinstance(n, cst.Call) and wanted(n) for n in [expr, *walk(expr)])


def model_class_owner(func: cst.FunctionDef, ep: Endpoint) -> bool:
    """Whether ``func`` is defined in ``ep``'s own class (inherited methods are reported there)."""
    cls = ep.cls
    return cls is not None and isinstance(cls.body, cst.IndentedBlock) and any(s is func for s in cls.body.body)


# ---- the ast prefilter (``wants``) ----------------------------------------------------------------
# Each branch of ``leave_Module`` reports only on what the endpoint model found, and only in the
# shape below; every test here is implied by the corresponding check of the visitor.


def _may_report(tree: ast.Module) -> bool:
    facts = endpoint_facts(tree)
    if facts is None:
        return False
    return _endpoint_may_report(tree, facts) or _server_may_report(facts)


def _endpoint_may_report(tree: ast.Module, facts: EndpointFacts) -> bool:
    """A ``WebSocketEndpoint`` class (reported even without an accept: the fix adds
    ``on_connect``), a function endpoint that accepts, a tornado class whose own
    ``check_origin`` allows everything."""
    kinds = facts.kinds()
    if "asgi-class" in kinds:
        return True
    if "asgi" in kinds and method_calls(tree, frozenset({"accept"})):
        return True
    return any(_tornado_allows_all(ep.cls) for ep in facts.of_kind("tornado") if ep.cls is not None)


def _server_may_report(facts: EndpointFacts) -> bool:
    return (
        any(_serve_without_origins(call) for call in facts.serve_calls)
        or any(_socketio_any_origin(facts, call) for call in facts.socketio_servers)
        or any(_channels_unvalidated(facts, call) for call in facts.channels_routers)
    )


def _tornado_allows_all(cls: ast.ClassDef) -> bool:
    """The class's own ``check_origin`` returns True on every path (``_returns_true_always``);
    an inherited one is reported on its own class."""
    return any(
        isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "check_origin"
        and _ast_returns_true_always(stmt)
        for stmt in cls.body
    )


def _ast_returns_true_always(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    nodes = list(own_nodes(func))
    returns = [n for n in nodes if isinstance(n, ast.Return)]
    if not returns or any(isinstance(n, ast.Raise) for n in nodes):
        return False
    return all(isinstance(r.value, ast.Constant) and r.value.value is True for r in returns)


def _serve_without_origins(call: ast.Call) -> bool:
    """No ``**kwargs`` (they may carry origins or a hook) and no ``origins=`` other than None."""
    if any(k.arg is None for k in call.keywords):
        return False
    origins = ast_keyword(call, "origins")
    return origins is None or is_none(origins)


def _allows_any(value: ast.expr) -> bool:
    if isinstance(value, (ast.List, ast.Tuple)):
        return not value.elts or any(str_value(e) == "*" for e in value.elts)
    return str_value(value) == "*"


def _socketio_any_origin(facts: EndpointFacts, call: ast.Call) -> bool:
    """``cors_allowed_origins`` is ``"*"``, holds ``"*"`` or is empty (also through a module-level
    name, any of its assignments)."""
    value = ast_keyword(call, "cors_allowed_origins")
    if value is None:
        return False
    values = facts.module_assigns.get(value.id, [value]) if isinstance(value, ast.Name) else [value]
    return any(_allows_any(v) for v in values)


def _channels_unvalidated(facts: EndpointFacts, call: ast.Call) -> bool:
    """``ProtocolTypeRouter`` with a ``"websocket"`` application holding no call of an origin
    validator (the model's ``origin_validated``); every value of a repeated key is looked at."""
    first = ast_positional(call, 0) or ast_keyword(call, "application_mapping")
    return any(not _validated(facts, value) for value in _websocket_applications(first))


def _websocket_applications(mapping: ast.expr | None) -> list[ast.expr]:
    """The ``"websocket"`` values of ``{...}`` or ``dict(websocket=...)``."""
    if isinstance(mapping, ast.Dict):
        return [v for k, v in zip(mapping.keys, mapping.values) if str_value(k) == "websocket"]
    if isinstance(mapping, ast.Call) and isinstance(mapping.func, ast.Name) and mapping.func.id == "dict":
        return [k.value for k in mapping.keywords if k.arg == "websocket"]
    return []


def _validated(facts: EndpointFacts, value: ast.expr) -> bool:
    return any(
        isinstance(n, ast.Call) and facts.imports.surely(n.func, CHANNELS_ORIGIN_VALIDATORS) for n in ast.walk(value)
    )
