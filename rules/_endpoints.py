"""The shared WebSocket endpoint model: what every handler rule (WS101-WS104, WS202) reasons about.

``endpoints(ctx)`` builds an :class:`EndpointModel` once per file (memoized on the FileContext as
``ctx._ws_endpoints``) by walking ``ctx.module``; node identity is preserved, so nodes found here
can be reported and used as fix replacement keys. Call it from any visitor method (``visit_Module``
included): it does not depend on the traversal position.

Recognized (by qualified name through the file's imports):

* FastAPI / Starlette function endpoints: ``@app.websocket(path)``, ``@router.websocket(path)``,
  ``@app.websocket_route(path)``, ``app.add_api_websocket_route(path, func)``,
  ``app.add_websocket_route(path, func)``, ``WebSocketRoute(path, func)``   (kind ``"asgi"``);
* Starlette ``WebSocketEndpoint`` subclasses (kind ``"asgi-class"``);
* ``websockets`` ``serve(handler, ...)`` in all its module paths (kind ``"websockets"``);
* tornado ``WebSocketHandler`` subclasses (kind ``"tornado"``);
* python-socketio servers and their ``@sio.event`` / ``@sio.on(...)`` handlers (kind
  ``"socketio"``);
* Django Channels consumers (kind ``"channels"``) and ``ProtocolTypeRouter`` websocket routing
  (``EndpointModel.channels_routers``).

Everything is semantic: the websocket is followed by its parameter name into the endpoint's body,
into nested closures, and into same-module helpers it is passed to (argument -> parameter binding,
several levels deep), so ``await manager.connect(ws)`` whose ``connect`` accepts counts as an
accept site of the endpoint, located at the ``manager.connect(...)`` statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from wsrefactor.rule import FileContext
from wsrefactor.rules._helpers import call_name, keyword, positional

# --------------------------------------------------------------------------------------------
# qualified names
# --------------------------------------------------------------------------------------------

ASGI_APP_CTORS = frozenset({
    "fastapi.FastAPI", "fastapi.applications.FastAPI",
    "fastapi.APIRouter", "fastapi.routing.APIRouter",
    "starlette.applications.Starlette", "starlette.routing.Router",
})
WEBSOCKET_TYPES = frozenset({
    "fastapi.WebSocket", "fastapi.websockets.WebSocket", "starlette.websockets.WebSocket",
})
WEBSOCKET_ROUTE = frozenset({"starlette.routing.WebSocketRoute", "fastapi.routing.APIWebSocketRoute"})
WEBSOCKET_ENDPOINT = frozenset({"starlette.endpoints.WebSocketEndpoint"})
WEBSOCKETS_SERVE = frozenset({
    "websockets.serve", "websockets.asyncio.server.serve", "websockets.server.serve",
    "websockets.legacy.server.serve", "websockets.sync.server.serve",
    "websockets.unix_serve", "websockets.asyncio.server.unix_serve",
    "websockets.server.unix_serve", "websockets.legacy.server.unix_serve",
    "websockets.sync.server.unix_serve",
})
TORNADO_HANDLER = frozenset({"tornado.websocket.WebSocketHandler"})
SOCKETIO_SERVERS = frozenset({
    "socketio.AsyncServer", "socketio.Server", "socketio.async_server.AsyncServer",
    "socketio.server.Server",
})
CHANNELS_CONSUMERS = frozenset({
    f"channels.generic.websocket.{n}"
    for n in ("WebsocketConsumer", "AsyncWebsocketConsumer", "JsonWebsocketConsumer", "AsyncJsonWebsocketConsumer")
})
CHANNELS_ROUTER = frozenset({"channels.routing.ProtocolTypeRouter"})
CHANNELS_ORIGIN_VALIDATORS = frozenset({
    "channels.security.websocket.OriginValidator",
    "channels.security.websocket.AllowedHostsOriginValidator",
})

#: Receive methods on a Starlette/FastAPI WebSocket, by what they return.
ASGI_RECEIVE_MODES = {
    "receive_text": "text", "receive_bytes": "bytes", "receive_json": "json", "receive": "message",
}
ASGI_ITER_MODES = {"iter_text": "text", "iter_bytes": "bytes", "iter_json": "json"}
#: Method names on a container that store their argument (registry writes).
STORE_METHODS = frozenset({"add", "append", "appendleft", "insert", "setdefault", "put_nowait"})
#: Methods of an unknown (imported) object that by convention register a connection.
REGISTER_METHODS = frozenset({"connect", "register", "join", "subscribe", "attach", "track", "add_connection"})
#: Channels / socketio "join a group/room" calls.
JOIN_METHODS = frozenset({"group_add", "enter_room"})


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Site:
    """Where something happens for an endpoint.

    ``node`` is the call (or the ``async for`` For node); ``function`` the FunctionDef it is
    written in; ``statement`` the innermost statement holding it; ``ws_name`` the name the
    websocket has there; ``via`` the chain of calls from the endpoint handler into the helper
    (empty when the site is in the handler itself); ``anchor`` the statement *in the handler*
    that holds the site or ``via[0]`` (where a guard for this site can be inserted).
    """

    node: cst.CSTNode
    function: cst.FunctionDef
    statement: cst.BaseStatement
    ws_name: str
    via: tuple[cst.Call, ...] = ()
    anchor: cst.BaseStatement | None = None


@dataclass(eq=False)
class ReceiveSite(Site):
    """A message read. ``method``: ``receive_text``/``receive_bytes``/``receive_json``/``receive``/
    ``iter_text``/``iter_bytes``/``iter_json``/``recv`` or ``async for`` / ``for``; ``mode``:
    ``text``/``bytes``/``json``/``message``/``any``; ``target``: the Name bound to the message
    (``data = await ws.receive_text()``, ``(data := await ws.receive_text())``,
    ``async for data in ws.iter_text()``), else None;
    ``loop``: the innermost ``while``/``for`` around it inside its function (for iterators, the
    For itself)."""

    method: str = ""
    mode: str = "any"
    target: str | None = None
    loop: cst.CSTNode | None = None
    awaited: bool = False


@dataclass(eq=False)
class RegistryWrite(Site):
    """A connection stored somewhere. ``kind``: ``setitem`` (``reg[k] = ws``), ``store``
    (``.add(ws)``/``.append(ws)``...), ``call`` (ws passed to a same-module helper that stores it,
    or to an unknown ``.connect/.register/.join...``), ``join`` (Channels ``group_add``, socketio
    ``enter_room``); ``container``: the container expression when known."""

    kind: str = ""
    container: cst.BaseExpression | None = None


@dataclass(eq=False)
class Endpoint:
    """One WebSocket endpoint.

    ``kind``: ``asgi`` (FastAPI/Starlette function), ``asgi-class`` (``WebSocketEndpoint``),
    ``websockets``, ``tornado``, ``socketio``, ``channels``.
    ``handler``: the main FunctionDef (asgi/websockets: the endpoint function; class kinds: None
    unless the connect method exists); ``handlers``: every FunctionDef belonging to the endpoint
    (for classes: the protocol methods by name in ``methods``); ``cls``: the ClassDef for class
    kinds; ``ws_param``: the websocket parameter name in ``handler`` (class kinds: ``"self"`` for
    Channels/tornado, the second parameter of ``on_connect`` for Starlette); ``registration``: the
    decorator / call registering it (None for classes found by base class); ``path``: the route
    string when literal; ``default_accepts``: the handshake is accepted without any code of the
    app (WebSocketEndpoint or Channels consumer without connect/on_connect, tornado, websockets).
    """

    kind: str
    handler: cst.FunctionDef | None = None
    handlers: list[cst.FunctionDef] = field(default_factory=list)
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    cls: cst.ClassDef | None = None
    ws_param: str | None = None
    registration: cst.CSTNode | None = None
    path: str | None = None
    default_accepts: bool = False
    accepts: list[Site] = field(default_factory=list)
    receives: list[ReceiveSite] = field(default_factory=list)
    registry_writes: list[RegistryWrite] = field(default_factory=list)
    #: same-module functions/methods reachable from the handlers, in BFS order
    calls: list[cst.FunctionDef] = field(default_factory=list)
    #: websockets: the serve() call; socketio: the server constructor call
    server_call: cst.Call | None = None
    #: socketio: event name -> handler
    events: dict[str, cst.FunctionDef] = field(default_factory=dict)

    @property
    def receive_loops(self) -> list[cst.CSTNode]:
        seen: list[cst.CSTNode] = []
        for r in self.receives:
            if r.loop is not None and not any(r.loop is s for s in seen):
                seen.append(r.loop)
        return seen

    @property
    def report_node(self) -> cst.CSTNode:
        """What to report an endpoint-level finding on: the def (or class) line."""
        if self.kind in ("asgi", "websockets") and self.handler is not None:
            return self.handler
        if self.cls is not None:
            return self.cls
        return self.handler or self.registration  # type: ignore[return-value]


@dataclass(eq=False)
class ServeCall:
    """A ``websockets`` serve() call: the call, its handler (if same-module), keyword arguments."""

    call: cst.Call
    qualname: str
    handler: cst.FunctionDef | None
    keywords: dict[str, cst.Arg]


@dataclass(eq=False)
class SocketIOServer:
    call: cst.Call
    name: str | None  # the module-level name it is bound to
    cors_allowed_origins: cst.Arg | None


@dataclass(eq=False)
class ChannelsRouter:
    """``ProtocolTypeRouter({...})``: ``websocket`` is the value expression for the ``"websocket"``
    key (None when absent); ``origin_validated``: it is (or wraps, at any depth) a call to
    ``OriginValidator``/``AllowedHostsOriginValidator``."""

    call: cst.Call
    websocket: cst.BaseExpression | None
    origin_validated: bool


# --------------------------------------------------------------------------------------------
# small syntax helpers
# --------------------------------------------------------------------------------------------


def _name(node: cst.CSTNode | None) -> str | None:
    return node.value if isinstance(node, cst.Name) else None


def _str(node: cst.CSTNode | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def params_of(func: cst.FunctionDef) -> list[cst.Param]:
    p = func.params
    return [*p.posonly_params, *p.params, *p.kwonly_params]


def positional_params(func: cst.FunctionDef) -> list[cst.Param]:
    return [*func.params.posonly_params, *func.params.params]


class _Parents(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.parent: dict[cst.CSTNode, cst.CSTNode] = {}
        self.stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.parent[node] = self.stack[-1]
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


def walk(node: cst.CSTNode, *, into_defs: bool = True) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (pre-order); ``into_defs=False`` skips nested defs/classes/lambdas."""
    stack = list(reversed(node.children))
    while stack:
        cur = stack.pop()
        yield cur
        if not into_defs and isinstance(cur, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(reversed(cur.children))


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------


class EndpointModel:
    """Endpoints of one module plus the same-module call graph the rules share.

    Public attributes: ``endpoints``, ``serve_calls``, ``socketio_servers``, ``channels_routers``,
    ``functions`` (module-level name -> FunctionDef), ``classes`` (name -> ClassDef),
    ``instances`` (module-level name -> class name, for ``manager = ConnectionManager()``),
    ``app_names`` (module-level names bound to FastAPI/APIRouter/Starlette/Router).
    """

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        module = ctx.module
        pv = _Parents()
        module.visit(pv)
        self._parent = pv.parent
        self.functions: dict[str, cst.FunctionDef] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        self.instances: dict[str, str] = {}
        self.app_names: set[str] = set()
        self.module_assigns: dict[str, cst.BaseExpression] = {}
        self.endpoints: list[Endpoint] = []
        self.serve_calls: list[ServeCall] = []
        self.socketio_servers: list[SocketIOServer] = []
        self.channels_routers: list[ChannelsRouter] = []
        self._index_module(module)
        self._find_endpoints(module)
        for ep in self.endpoints:
            self._analyse(ep)

    # -- structure ------------------------------------------------------------------------

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parent.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        cur = self._parent.get(node)
        while cur is not None:
            yield cur
            cur = self._parent.get(cur)

    def statement_of(self, node: cst.CSTNode) -> cst.BaseStatement | None:
        """Innermost statement (SimpleStatementLine or compound statement) holding ``node``."""
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node
        for anc in self.ancestors(node):
            if isinstance(anc, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return anc
        return None

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, cst.FunctionDef):
                return anc
        return None

    def class_of(self, func: cst.FunctionDef) -> cst.ClassDef | None:
        """The class a method is defined in directly (None for functions)."""
        parent = self.parent(func)
        if isinstance(parent, cst.IndentedBlock):
            grand = self.parent(parent)
            if isinstance(grand, cst.ClassDef):
                return grand
        return None

    def statement_in(self, node: cst.CSTNode, func: cst.FunctionDef) -> cst.BaseStatement | None:
        """The statement of ``func``'s own body (any nesting level, not inside nested defs) that
        holds ``node``: the innermost statement whose enclosing function is ``func``."""
        stmt = self.statement_of(node)
        while stmt is not None and self.function_of(stmt) is not func:
            stmt = self.statement_of(self.parent(stmt)) if self.parent(stmt) is not None else None
        return stmt

    def enclosing_loop(self, node: cst.CSTNode, func: cst.FunctionDef | None = None) -> cst.CSTNode | None:
        """Innermost ``while``/``for`` around ``node`` (not crossing a def), else None."""
        for anc in self.ancestors(node):
            if isinstance(anc, (cst.While, cst.For)):
                return anc
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                return None
        return None

    # -- indexing ---------------------------------------------------------------------------

    def _index_module(self, module: cst.Module) -> None:
        for stmt in module.body:
            if isinstance(stmt, cst.FunctionDef):
                self.functions[stmt.name.value] = stmt
            elif isinstance(stmt, cst.ClassDef):
                self.classes[stmt.name.value] = stmt
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and small.value is not None:
                        for t in small.targets:
                            if isinstance(t.target, cst.Name):
                                self._bind(t.target.value, small.value)
                    elif isinstance(small, cst.AnnAssign) and small.value is not None:
                        if isinstance(small.target, cst.Name):
                            self._bind(small.target.value, small.value)

    def _bind(self, name: str, value: cst.BaseExpression) -> None:
        self.module_assigns[name] = value
        if isinstance(value, cst.Call):
            q = call_name(self.ctx, value)
            if q in ASGI_APP_CTORS:
                self.app_names.add(name)
            elif q in SOCKETIO_SERVERS:
                self.socketio_servers.append(SocketIOServer(value, name, keyword(value, "cors_allowed_origins")))
            elif isinstance(value.func, cst.Name) and value.func.value in self.classes:
                self.instances[name] = value.func.value

    def methods_of(self, cls: cst.ClassDef, *, inherited: bool = True) -> dict[str, cst.FunctionDef]:
        """Methods by name, own first, then same-module bases' (depth-first, no cycles)."""
        out: dict[str, cst.FunctionDef] = {}
        seen: set[str] = set()

        def collect(c: cst.ClassDef) -> None:
            if c.name.value in seen:
                return
            seen.add(c.name.value)
            if isinstance(c.body, cst.IndentedBlock):
                for s in c.body.body:
                    if isinstance(s, cst.FunctionDef):
                        out.setdefault(s.name.value, s)
            if inherited:
                for base in c.bases:
                    b = _name(base.value)
                    if b in self.classes:
                        collect(self.classes[b])

        collect(cls)
        return out

    def class_bases(self, cls: cst.ClassDef) -> set[str]:
        """Qualified names of (transitive, through same-module classes) imported bases."""
        out: set[str] = set()
        seen: set[str] = set()

        def collect(c: cst.ClassDef) -> None:
            if c.name.value in seen:
                return
            seen.add(c.name.value)
            for base in c.bases:
                b = _name(base.value)
                if b in self.classes and b not in self.ctx.imports.aliases:
                    collect(self.classes[b])
                else:
                    q = self.ctx.qualname(base.value)
                    if q:
                        out.add(q)

        collect(cls)
        return out

    # -- call graph -----------------------------------------------------------------------

    def resolve_call(self, call: cst.Call, context: cst.FunctionDef | None = None) -> cst.FunctionDef | None:
        """The same-module FunctionDef a call runs, when it can be told: ``f()`` (module function
        or a def nested in ``context``), ``self.m()`` / ``cls.m()`` inside a class, ``obj.m()``
        where ``obj = SomeClass()`` at module level, ``SomeClass.m()``."""
        func = call.func
        if isinstance(func, cst.Name):
            name = func.value
            if context is not None:
                for node in walk(context.body, into_defs=False):
                    if isinstance(node, cst.FunctionDef) and node.name.value == name:
                        return node
            if name in self.ctx.imports.aliases:
                return None
            return self.functions.get(name)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            recv, attr = func.value.value, func.attr.value
            cls: cst.ClassDef | None = None
            if recv in ("self", "cls") and context is not None:
                cls = self.class_of(context)
            elif recv in self.instances:
                cls = self.classes.get(self.instances[recv])
            elif recv in self.classes:
                cls = self.classes[recv]
            if cls is not None:
                return self.methods_of(cls).get(attr)
        return None

    def callees(self, func: cst.FunctionDef) -> list[tuple[cst.Call, cst.FunctionDef]]:
        """Same-module functions/methods ``func`` calls directly (with the call nodes)."""
        out = []
        for node in walk(func.body):
            if isinstance(node, cst.Call):
                target = self.resolve_call(node, func)
                if target is not None and target is not func:
                    out.append((node, target))
        return out

    def reachable(self, func: cst.FunctionDef, depth: int = 4) -> list[cst.FunctionDef]:
        """Same-module functions reachable from ``func`` (BFS, up to ``depth`` calls deep),
        excluding ``func`` itself."""
        seen: list[cst.FunctionDef] = [func]
        frontier = [func]
        for _ in range(depth):
            nxt = []
            for f in frontier:
                for _, g in self.callees(f):
                    if not any(g is s for s in seen):
                        seen.append(g)
                        nxt.append(g)
            frontier = nxt
        return seen[1:]

    def bound_param(self, call: cst.Call, target: cst.FunctionDef, name: str) -> str | None:
        """The parameter of ``target`` that receives the bare name ``name`` passed in ``call``."""
        params = positional_params(target)
        if params and self.class_of(target) is not None and isinstance(call.func, cst.Attribute):
            if not any(_name(d.decorator) == "staticmethod" for d in target.decorators):
                params = params[1:]  # bound method: self/cls is implicit
        index = 0
        for arg in call.args:
            if arg.star:
                return None
            if arg.keyword is not None:
                if _name(arg.value) == name:
                    return arg.keyword.value
                continue
            if _name(arg.value) == name:
                return params[index].name.value if index < len(params) else None
            index += 1
        return None

    def ws_flow(
        self, func: cst.FunctionDef, ws_name: str, depth: int = 4
    ) -> list[tuple[cst.FunctionDef, str, tuple[cst.Call, ...]]]:
        """Where the websocket goes: ``(function, its name there, call chain)`` for ``func`` itself
        (empty chain) and every same-module helper it is passed to by name, ``depth`` levels."""
        out = [(func, ws_name, ())]
        frontier = [(func, ws_name, ())]
        seen = {id(func)}
        for _ in range(depth):
            nxt = []
            for f, name, chain in frontier:
                for call, g in self.callees(f):
                    if id(g) in seen:
                        continue
                    bound = self.bound_param(call, g, name)
                    if bound is None and name == "self" and self.class_of(g) is not None:
                        bound = "self" if _name(getattr(call.func, "value", None)) == "self" else None
                    if bound is not None:
                        seen.add(id(g))
                        item = (g, bound, (*chain, call))
                        out.append(item)
                        nxt.append(item)
            frontier = nxt
        return out

    # -- discovery --------------------------------------------------------------------------

    def _websocket_param(self, func: cst.FunctionDef) -> str | None:
        for p in params_of(func):
            if p.annotation is not None and self.ctx.qualname(p.annotation.annotation) in WEBSOCKET_TYPES:
                return p.name.value
        return None

    def _func_target(self, expr: cst.BaseExpression | None) -> cst.FunctionDef | None:
        if isinstance(expr, cst.Name) and expr.value not in self.ctx.imports.aliases:
            return self.functions.get(expr.value)
        return None

    def _add_function_endpoint(self, func: cst.FunctionDef, registration: cst.CSTNode, path: str | None) -> None:
        if any(ep.handler is func for ep in self.endpoints):
            return
        ws = self._websocket_param(func)
        if ws is None:
            params = positional_params(func)
            ws = params[0].name.value if params else None
        self.endpoints.append(
            Endpoint("asgi", handler=func, handlers=[func], ws_param=ws, registration=registration, path=path)
        )

    def _add_class_endpoint(self, cls: cst.ClassDef, registration: cst.CSTNode | None, path: str | None) -> None:
        for ep in self.endpoints:
            if ep.cls is cls:
                if registration is not None and ep.registration is None:
                    ep.registration, ep.path = registration, path
                return
        bases = self.class_bases(cls)
        methods = self.methods_of(cls)
        if bases & WEBSOCKET_ENDPOINT:
            names = ("on_connect", "on_receive", "on_disconnect")
            got = {n: methods[n] for n in names if n in methods}
            connect = got.get("on_connect")
            ws = None
            if connect is not None:
                ps = positional_params(connect)
                ws = ps[1].name.value if len(ps) > 1 else None
            self.endpoints.append(Endpoint(
                "asgi-class", handler=connect, handlers=list(got.values()), methods=got, cls=cls,
                ws_param=ws, registration=registration, path=path, default_accepts=connect is None,
            ))
        elif bases & TORNADO_HANDLER:
            names = ("check_origin", "open", "on_message", "on_close", "select_subprotocol", "get_compression_options")
            got = {n: methods[n] for n in names if n in methods}
            self.endpoints.append(Endpoint(
                "tornado", handler=got.get("open"), handlers=list(got.values()), methods=got, cls=cls,
                ws_param="self", registration=registration, path=path, default_accepts=True,
            ))
        elif bases & CHANNELS_CONSUMERS:
            names = ("connect", "receive", "receive_json", "disconnect", "websocket_connect", "websocket_receive")
            got = {n: methods[n] for n in names if n in methods}
            self.endpoints.append(Endpoint(
                "channels", handler=got.get("connect"), handlers=list(got.values()), methods=got, cls=cls,
                ws_param="self", registration=registration, path=path, default_accepts="connect" not in got,
            ))

    def _find_endpoints(self, module: cst.Module) -> None:
        ctx = self.ctx
        # decorated functions
        for node in walk(module):
            if isinstance(node, cst.FunctionDef):
                self._decorated(node)
            elif isinstance(node, cst.ClassDef):
                self._add_class_endpoint(node, None, None)
            elif isinstance(node, cst.Call):
                q = call_name(ctx, node)
                func = node.func
                if q in WEBSOCKETS_SERVE:
                    first = positional(node, 0)
                    handler = None
                    if first is not None:
                        inner = first.value
                        if isinstance(inner, cst.Call) and call_name(ctx, inner) == "functools.partial":
                            p0 = positional(inner, 0)
                            inner = p0.value if p0 else inner
                        handler = self._func_target(inner)
                    kws = {a.keyword.value: a for a in node.args if a.keyword is not None}
                    self.serve_calls.append(ServeCall(node, q, handler, kws))
                    if handler is not None and not any(ep.handler is handler for ep in self.endpoints):
                        ps = positional_params(handler)
                        self.endpoints.append(Endpoint(
                            "websockets", handler=handler, handlers=[handler],
                            ws_param=ps[0].name.value if ps else None, registration=node,
                            default_accepts=True, server_call=node,
                        ))
                elif q in WEBSOCKET_ROUTE:
                    path_arg = positional(node, 0) or keyword(node, "path")
                    target = positional(node, 1) or keyword(node, "endpoint")
                    path = _str(path_arg.value) if path_arg else None
                    if target is not None:
                        fn = self._func_target(target.value)
                        if fn is not None:
                            self._add_function_endpoint(fn, node, path)
                        elif _name(target.value) in self.classes:
                            self._add_class_endpoint(self.classes[_name(target.value)], node, path)
                elif q in CHANNELS_ROUTER:
                    self._channels_router(node)
                elif isinstance(func, cst.Attribute) and func.attr.value in (
                    "add_api_websocket_route", "add_websocket_route",
                ):
                    path_arg = positional(node, 0) or keyword(node, "path")
                    target = positional(node, 1) or keyword(node, "endpoint") or keyword(node, "route")
                    if target is None:
                        continue
                    fn = self._func_target(target.value)
                    if fn is None and _name(target.value) in self.classes:
                        self._add_class_endpoint(self.classes[_name(target.value)], node, _str(path_arg.value) if path_arg else None)
                    elif fn is not None and (
                        _name(func.value) in self.app_names or self._websocket_param(fn) is not None
                    ):
                        self._add_function_endpoint(fn, node, _str(path_arg.value) if path_arg else None)
                elif isinstance(func, cst.Attribute) and func.attr.value == "on" and self._is_sio(func.value):
                    # sio.on("connect", handler)
                    event = _str(positional(node, 0).value) if positional(node, 0) else None
                    handler_arg = positional(node, 1) or keyword(node, "handler")
                    fn = self._func_target(handler_arg.value) if handler_arg else None
                    if event and fn is not None:
                        self._sio_event(func.value, event, fn)
        # order endpoints by position in the file for stable reporting
        order = {id(n): i for i, n in enumerate(walk(module))}
        self.endpoints.sort(key=lambda ep: order.get(id(ep.report_node), 0))

    def _is_sio(self, expr: cst.BaseExpression) -> bool:
        name = _name(expr)
        return name is not None and any(s.name == name for s in self.socketio_servers)

    def _sio_event(self, server: cst.BaseExpression, event: str, fn: cst.FunctionDef) -> None:
        srv = next(s for s in self.socketio_servers if s.name == _name(server))
        ep = next((e for e in self.endpoints if e.kind == "socketio" and e.server_call is srv.call), None)
        if ep is None:
            ep = Endpoint("socketio", registration=srv.call, server_call=srv.call, default_accepts=True)
            self.endpoints.append(ep)
        ep.events[event] = fn
        ep.handlers.append(fn)
        if event == "connect":
            ep.handler = fn
            ep.default_accepts = False
            ps = positional_params(fn)
            ep.ws_param = ps[0].name.value if ps else None  # the sid

    def _decorated(self, func: cst.FunctionDef) -> None:
        for dec in func.decorators:
            d = dec.decorator
            call = d if isinstance(d, cst.Call) else None
            attr = (call.func if call else d)
            if not isinstance(attr, cst.Attribute):
                continue
            recv, method = attr.value, attr.attr.value
            if method in ("websocket", "websocket_route") and call is not None:
                if _name(recv) in self.app_names or self._websocket_param(func) is not None:
                    path_arg = positional(call, 0) or keyword(call, "path")
                    self._add_function_endpoint(func, dec, _str(path_arg.value) if path_arg else None)
            elif self._is_sio(recv):
                if method == "event":
                    self._sio_event(recv, func.name.value, func)
                elif method == "on" and call is not None:
                    first = positional(call, 0)
                    event = _str(first.value) if first else None
                    if event:
                        self._sio_event(recv, event, func)

    def _channels_router(self, call: cst.Call) -> None:
        first = positional(call, 0) or keyword(call, "application_mapping")
        value: cst.BaseExpression | None = None
        if first is not None and isinstance(first.value, cst.Dict):
            for el in first.value.elements:
                if isinstance(el, cst.DictElement) and _str(el.key) == "websocket":
                    value = el.value
        elif first is not None and isinstance(first.value, cst.Call) and _name(first.value.func) == "dict":
            kw = keyword(first.value, "websocket")
            value = kw.value if kw else None
        validated = value is not None and any(
            isinstance(n, cst.Call) and call_name(self.ctx, n) in CHANNELS_ORIGIN_VALIDATORS
            for n in [value, *walk(value)]
        )
        self.channels_routers.append(ChannelsRouter(call, value, validated))

    # -- per-endpoint analysis ----------------------------------------------------------------

    def _roots(self, ep: Endpoint) -> list[tuple[cst.FunctionDef, str]]:
        if ep.kind in ("asgi", "websockets") and ep.handler is not None and ep.ws_param:
            return [(ep.handler, ep.ws_param)]
        if ep.kind == "asgi-class":
            out = []
            for f in ep.handlers:
                ps = positional_params(f)
                if len(ps) > 1:
                    out.append((f, ps[1].name.value))
            return out
        if ep.kind in ("tornado", "channels"):
            return [(f, "self") for f in ep.handlers]
        if ep.kind == "socketio":
            out = []
            for f in ep.handlers:
                ps = positional_params(f)
                if ps:
                    out.append((f, ps[0].name.value))
            return out
        return []

    def _analyse(self, ep: Endpoint) -> None:
        seen_funcs: list[cst.FunctionDef] = []
        for root, ws in self._roots(ep):
            for f in [root, *self.reachable(root)]:
                if not any(f is s for s in seen_funcs) and f not in ep.handlers:
                    seen_funcs.append(f)
            for func, name, chain in self.ws_flow(root, ws):
                anchor_src = chain[0] if chain else None
                self._scan(ep, root, func, name, chain, anchor_src)
        ep.calls = [f for f in seen_funcs if not any(f is h for h in ep.handlers)]
        # receive callbacks of class-based and socketio endpoints
        if ep.kind == "asgi-class" and "on_receive" in ep.methods:
            f = ep.methods["on_receive"]
            ps = positional_params(f)
            ep.receives.append(ReceiveSite(
                f, f, f, ps[1].name.value if len(ps) > 1 else "", method="on_receive",
                mode="any", target=ps[2].name.value if len(ps) > 2 else None,
            ))
        elif ep.kind == "tornado" and "on_message" in ep.methods:
            f = ep.methods["on_message"]
            ps = positional_params(f)
            ep.receives.append(ReceiveSite(
                f, f, f, "self", method="on_message", mode="any", target=ps[1].name.value if len(ps) > 1 else None,
            ))
        elif ep.kind == "channels":
            for n in ("receive", "receive_json", "websocket_receive"):
                if n in ep.methods:
                    f = ep.methods[n]
                    ps = positional_params(f)
                    ep.receives.append(ReceiveSite(
                        f, f, f, "self", method=n, mode="json" if n == "receive_json" else "any",
                        target=ps[1].name.value if len(ps) > 1 else None,
                    ))

    def _scan(
        self,
        ep: Endpoint,
        root: cst.FunctionDef,
        func: cst.FunctionDef,
        ws: str,
        chain: tuple[cst.Call, ...],
        anchor_src: cst.Call | None,
    ) -> None:
        def anchor_for(node: cst.CSTNode) -> cst.BaseStatement | None:
            return self.statement_in(anchor_src if anchor_src is not None else node, root)

        def in_scope(node: cst.CSTNode) -> bool:
            # a nested def that rebinds the websocket name is another scope
            for anc in self.ancestors(node):
                if anc is func:
                    return True
                if isinstance(anc, (cst.FunctionDef, cst.Lambda)) and any(
                    p.name.value == ws for p in (params_of(anc) if isinstance(anc, cst.FunctionDef) else anc.params.params)
                ):
                    return False
            return True

        for node in walk(func.body):
            if isinstance(node, cst.Call) and in_scope(node):
                self._scan_call(ep, root, func, ws, chain, node, anchor_for)
            elif isinstance(node, cst.For) and in_scope(node):
                it = node.iter
                if _name(it) == ws and ws != "self":
                    ep.receives.append(ReceiveSite(
                        node, func, node, ws, chain, anchor_for(node),
                        method="async for" if node.asynchronous else "for", mode="any",
                        target=_name(node.target), loop=node,
                    ))
            elif isinstance(node, cst.Assign) and in_scope(node) and self._mentions_ws(node.value, ws):
                for t in node.targets:
                    if isinstance(t.target, cst.Subscript):
                        stmt = self.statement_of(node)
                        ep.registry_writes.append(RegistryWrite(
                            node, func, stmt, ws, chain, anchor_for(node), kind="setitem", container=t.target.value,
                        ))

    @staticmethod
    def _mentions_ws(value: cst.BaseExpression, ws: str) -> bool:
        if _name(value) == ws:
            return True
        if isinstance(value, (cst.Tuple, cst.List)):
            return any(_name(e.value) == ws for e in value.elements)
        if isinstance(value, cst.Dict):
            return any(isinstance(e, cst.DictElement) and _name(e.value) == ws for e in value.elements)
        return False

    def _scan_call(self, ep, root, func, ws, chain, node: cst.Call, anchor_for) -> None:
        f = node.func
        stmt = self.statement_of(node)
        if isinstance(f, cst.Attribute) and _name(f.value) == ws:
            method = f.attr.value
            parent = self.parent(node)
            awaited = isinstance(parent, cst.Await)
            if method == "accept":
                ep.accepts.append(Site(node, func, stmt, ws, chain, anchor_for(node)))
                return
            mode = None
            if ep.kind in ("asgi", "asgi-class") and method in ASGI_RECEIVE_MODES:
                mode = ASGI_RECEIVE_MODES[method]
                if method == "receive_json":
                    m = keyword(node, "mode") or positional(node, 0)
                    if m is not None and _str(m.value) == "binary":
                        mode = "json-binary"
            elif ep.kind in ("asgi", "asgi-class") and method in ASGI_ITER_MODES:
                mode = ASGI_ITER_MODES[method]
            elif ep.kind == "websockets" and method == "recv":
                mode = "any"
            if mode is not None:
                target = None
                loop = self.enclosing_loop(node)
                holder = parent if awaited else node
                up = self.parent(holder)
                if isinstance(up, cst.Assign) and len(up.targets) == 1:
                    target = _name(up.targets[0].target)
                elif isinstance(up, cst.AnnAssign):
                    target = _name(up.target)
                elif isinstance(up, cst.NamedExpr):
                    target = _name(up.target)
                elif isinstance(up, cst.For) and up.iter is node:
                    target = _name(up.target)
                    loop = up
                ep.receives.append(ReceiveSite(
                    node, func, stmt, ws, chain, anchor_for(node), method=method, mode=mode,
                    target=target, loop=loop, awaited=awaited,
                ))
            return
        # registry writes: ws passed as an argument
        if not any(_name(a.value) == ws for a in node.args):
            if ep.kind == "channels" and isinstance(f, cst.Attribute) and f.attr.value == "group_add":
                ep.registry_writes.append(RegistryWrite(node, func, stmt, ws, chain, anchor_for(node), kind="join",
                                                        container=f.value))
            return
        if isinstance(f, cst.Attribute):
            method = f.attr.value
            if method in STORE_METHODS:
                ep.registry_writes.append(RegistryWrite(node, func, stmt, ws, chain, anchor_for(node), kind="store",
                                                        container=f.value))
                return
            if method in JOIN_METHODS:
                ep.registry_writes.append(RegistryWrite(node, func, stmt, ws, chain, anchor_for(node), kind="join",
                                                        container=f.value))
                return
        target = self.resolve_call(node, func)
        if target is None and isinstance(f, cst.Attribute) and f.attr.value in REGISTER_METHODS:
            ep.registry_writes.append(RegistryWrite(node, func, stmt, ws, chain, anchor_for(node), kind="call",
                                                    container=f.value))
        elif target is not None and self._stores_param(target, self.bound_param(node, target, ws)):
            ep.registry_writes.append(RegistryWrite(node, func, stmt, ws, chain, anchor_for(node), kind="call",
                                                    container=f.value if isinstance(f, cst.Attribute) else None))

    def _stores_param(self, func: cst.FunctionDef, name: str | None, depth: int = 3) -> bool:
        """Whether ``func`` stores its parameter ``name`` (setitem/add/append/..., or passes it on
        to a helper that does)."""
        if name is None or depth == 0:
            return False
        for node in walk(func.body):
            if isinstance(node, cst.Assign) and self._mentions_ws(node.value, name):
                if any(isinstance(t.target, (cst.Subscript, cst.Attribute)) for t in node.targets):
                    return True
            elif isinstance(node, cst.Call) and any(_name(a.value) == name for a in node.args):
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value in STORE_METHODS | JOIN_METHODS:
                    return True
                target = self.resolve_call(node, func)
                if target is not None and target is not func and self._stores_param(
                    target, self.bound_param(node, target, name), depth - 1
                ):
                    return True
        return False


def endpoints(ctx: FileContext) -> EndpointModel:
    """The endpoint model of ``ctx``'s module, built once and cached on the context."""
    model = getattr(ctx, "_ws_endpoints", None)
    if model is None or model.ctx is not ctx:
        model = EndpointModel(ctx)
        ctx._ws_endpoints = model  # type: ignore[attr-defined]
    return model
