"""The libcst WebSocket endpoint model the rules not yet on the semantic model (WS103, WS202) reason about.

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

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from wsrefactor.rule import FileContext
from wsrefactor.rules._helpers import (
    call_name,
    keyword,
    module_level_statements,
    positional,
)
from wsrefactor.walk import walk as walk_tree

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


def _param_name(func: cst.FunctionDef | None, index: int) -> str | None:
    """Name of ``func``'s positional parameter ``index`` (None when there is no such parameter)."""
    if func is None:
        return None
    params = positional_params(func)
    return params[index].name.value if len(params) > index else None


def _route_path(call: cst.Call) -> str | None:
    """The literal route path of ``route(path, ...)`` / ``route(path=...)``."""
    arg = positional(call, 0) or keyword(call, "path")
    return _str(arg.value) if arg else None


def _literal_dict_value(mapping: cst.Dict, key: str) -> cst.BaseExpression | None:
    """The value of the string key ``key`` in a dict display (the last one when repeated)."""
    values = [el.value for el in mapping.elements if isinstance(el, cst.DictElement) and _str(el.key) == key]
    return values[-1] if values else None


def _binds_param(node: cst.CSTNode, name: str) -> bool:
    """Whether ``node`` is a def/lambda with a parameter ``name`` (it shadows an outer ``name``)."""
    if isinstance(node, cst.FunctionDef):
        params = params_of(node)
    elif isinstance(node, cst.Lambda):
        params = list(node.params.params)
    else:
        return False
    return any(p.name.value == name for p in params)


def _receive_mode(kind: str, method: str, call: cst.Call) -> str | None:
    """What ``websocket.<method>()`` yields on this kind of endpoint; None: it is not a receive."""
    if kind == "websockets":
        return "any" if method == "recv" else None
    if kind not in ("asgi", "asgi-class"):
        return None
    if method == "receive_json":
        mode = keyword(call, "mode") or positional(call, 0)
        if mode is not None and _str(mode.value) == "binary":
            return "json-binary"
    return ASGI_RECEIVE_MODES.get(method) or ASGI_ITER_MODES.get(method)


# --------------------------------------------------------------------------------------------
# tree index and walk
# --------------------------------------------------------------------------------------------

#: Children recorded by the most recently built models. libcst's ``node.children`` runs a
#: visitor on every call, so :func:`walk` reads these instead when it can. The dicts hold the
#: nodes strongly, so identity lookups stay valid; only the last few modules are kept.
_RECENT_CHILDREN: deque[dict[cst.CSTNode, list[cst.CSTNode]]] = deque(maxlen=4)


class _TreeIndex(cst.CSTVisitor):
    """One visit of the module recording every node's parent, its children (in source order,
    as ``node.children`` gives them) and the pre-order of all nodes."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__()
        self.parent: dict[cst.CSTNode, cst.CSTNode] = {}
        self.children: dict[cst.CSTNode, list[cst.CSTNode]] = {}
        self.preorder: list[cst.CSTNode] = []
        self._stack: list[cst.CSTNode] = []
        walk_tree(module, self.on_visit, self.on_leave)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parent[node] = self._stack[-1]
            self.children[self._stack[-1]].append(node)
        self.children[node] = []
        self.preorder.append(node)
        self._stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._stack.pop()


def _children(node: cst.CSTNode) -> Sequence[cst.CSTNode]:
    for known in reversed(_RECENT_CHILDREN):
        kids = known.get(node)
        if kids is not None:
            return kids
    return node.children


def walk(node: cst.CSTNode, *, into_defs: bool = True) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (pre-order); ``into_defs=False`` skips nested defs/classes/lambdas."""
    stack = list(reversed(_children(node)))
    while stack:
        cur = stack.pop()
        yield cur
        if not into_defs and isinstance(cur, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(reversed(_children(cur)))


# --------------------------------------------------------------------------------------------
# discovery tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClassKind:
    """How a framework base class makes a subclass an endpoint: its protocol ``methods`` (in
    ``Endpoint.methods`` order), the one that is the ``handler``, the websocket name (None: the
    handler's second parameter) and whether the framework accepts even when the handler exists."""

    kind: str
    bases: frozenset[str]
    methods: tuple[str, ...]
    handler: str
    ws_param: str | None
    always_accepts: bool


_CLASS_KINDS = (
    _ClassKind("asgi-class", WEBSOCKET_ENDPOINT, ("on_connect", "on_receive", "on_disconnect"),
               "on_connect", None, False),
    _ClassKind("tornado", TORNADO_HANDLER,
               ("check_origin", "open", "on_message", "on_close", "select_subprotocol", "get_compression_options"),
               "open", "self", True),
    _ClassKind("channels", CHANNELS_CONSUMERS,
               ("connect", "receive", "receive_json", "disconnect", "websocket_connect", "websocket_receive"),
               "connect", "self", False),
)
#: Methods the framework calls with each received message, by endpoint kind.
_RECEIVE_CALLBACKS = {
    "asgi-class": ("on_receive",),
    "tornado": ("on_message",),
    "channels": ("receive", "receive_json", "websocket_receive"),
}
#: Which positional parameter of each handler is the connection, for kinds with several handlers.
_ROOT_PARAM = {"asgi-class": 1, "socketio": 0}


@dataclass(frozen=True, eq=False)
class _Flow:
    """The websocket of ``ep`` reaching ``func`` under the name ``ws``, from the handler ``root``
    through the calls ``chain``: the unit :meth:`EndpointModel._scan` works on."""

    ep: Endpoint
    root: cst.FunctionDef
    func: cst.FunctionDef
    ws: str
    chain: tuple[cst.Call, ...]


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
        tree = _TreeIndex(ctx.module)
        _RECENT_CHILDREN.append(tree.children)
        self._parent = tree.parent
        self._preorder = tree.preorder[1:]  # every node below the module, as walk(module) gives them
        self._callees: dict[cst.FunctionDef, list[tuple[cst.Call, cst.FunctionDef]]] = {}
        self._nested: dict[cst.FunctionDef, dict[str, cst.FunctionDef]] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        self.instances: dict[str, str] = {}
        self.app_names: set[str] = set()
        self.module_assigns: dict[str, cst.BaseExpression] = {}
        self.endpoints: list[Endpoint] = []
        self.serve_calls: list[ServeCall] = []
        self.socketio_servers: list[SocketIOServer] = []
        self.channels_routers: list[ChannelsRouter] = []
        self._index_module(ctx.module)
        self._find_endpoints()
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
        for stmt in module_level_statements(module):
            if isinstance(stmt, cst.FunctionDef):
                self.functions[stmt.name.value] = stmt
            elif isinstance(stmt, cst.ClassDef):
                self.classes[stmt.name.value] = stmt
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._index_assignment(small)

    def _index_assignment(self, small: cst.BaseSmallStatement) -> None:
        """Module-level ``name = value`` / ``name: T = value``, for every plain-name target."""
        if isinstance(small, cst.Assign):
            names = [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
        elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
            names = [small.target.value]
        else:
            return
        if small.value is None:
            return
        for name in names:
            self._bind(name, small.value)

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
            return self._resolve_name(func.value, context)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            cls = self._receiver_class(func.value.value, context)
            if cls is not None:
                return self.methods_of(cls).get(func.attr.value)
        return None

    def _resolve_name(self, name: str, context: cst.FunctionDef | None) -> cst.FunctionDef | None:
        """``name()``: a def nested in ``context`` first, else a module function (not an import)."""
        if context is not None:
            nested = self._nested_defs(context).get(name)
            if nested is not None:
                return nested
        if name in self.ctx.imports.aliases:
            return None
        return self.functions.get(name)

    def _nested_defs(self, func: cst.FunctionDef) -> dict[str, cst.FunctionDef]:
        """Defs written in ``func``'s body (not inside nested defs), the first one of each name;
        memoized because every call in ``func`` asks."""
        defs = self._nested.get(func)
        if defs is None:
            defs = {}
            for node in walk(func.body, into_defs=False):
                if isinstance(node, cst.FunctionDef):
                    defs.setdefault(node.name.value, node)
            self._nested[func] = defs
        return defs

    def _receiver_class(self, recv: str, context: cst.FunctionDef | None) -> cst.ClassDef | None:
        """The same-module class of ``recv`` in ``recv.m()``: the enclosing class for
        ``self``/``cls``, the class of a module-level instance, or the class itself."""
        if recv in ("self", "cls") and context is not None:
            return self.class_of(context)
        if recv in self.instances:
            return self.classes.get(self.instances[recv])
        return self.classes.get(recv)

    def callees(self, func: cst.FunctionDef) -> list[tuple[cst.Call, cst.FunctionDef]]:
        """Same-module functions/methods ``func`` calls directly (with the call nodes)."""
        known = self._callees.get(func)
        if known is None:
            known = []
            for node in walk(func.body):
                if isinstance(node, cst.Call):
                    target = self.resolve_call(node, func)
                    if target is not None and target is not func:
                        known.append((node, target))
            self._callees[func] = known
        return list(known)

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
        params = self._filled_params(call, target)
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

    def _filled_params(self, call: cst.Call, target: cst.FunctionDef) -> list[cst.Param]:
        """``target``'s positional parameters that ``call``'s arguments fill: without
        ``self``/``cls`` when a method is called through an attribute (unless a staticmethod)."""
        params = positional_params(target)
        bound = params and self.class_of(target) is not None and isinstance(call.func, cst.Attribute)
        if bound and not any(_name(d.decorator) == "staticmethod" for d in target.decorators):
            return params[1:]
        return params

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
        ws = self._websocket_param(func) or _param_name(func, 0)
        self.endpoints.append(
            Endpoint("asgi", handler=func, handlers=[func], ws_param=ws, registration=registration, path=path)
        )

    def _add_class_endpoint(self, cls: cst.ClassDef, registration: cst.CSTNode | None, path: str | None) -> None:
        if self._known_class(cls, registration, path):
            return
        bases = self.class_bases(cls)
        spec = next((k for k in _CLASS_KINDS if bases & k.bases), None)
        if spec is None:
            return
        methods = self.methods_of(cls)
        got = {n: methods[n] for n in spec.methods if n in methods}
        handler = got.get(spec.handler)
        self.endpoints.append(Endpoint(
            spec.kind, handler=handler, handlers=list(got.values()), methods=got, cls=cls,
            ws_param=spec.ws_param or _param_name(handler, 1), registration=registration, path=path,
            default_accepts=spec.always_accepts or handler is None,
        ))

    def _known_class(self, cls: cst.ClassDef, registration: cst.CSTNode | None, path: str | None) -> bool:
        """Whether ``cls`` already is an endpoint (found by its base class, or routed twice); the
        first route registering it fills in its registration and path."""
        ep = next((e for e in self.endpoints if e.cls is cls), None)
        if ep is None:
            return False
        if registration is not None and ep.registration is None:
            ep.registration, ep.path = registration, path
        return True

    def _find_endpoints(self) -> None:
        """Every registration, in source order (the order decides which one registers first)."""
        for node in self._preorder:
            if isinstance(node, cst.FunctionDef):
                self._decorated(node)
            elif isinstance(node, cst.ClassDef):
                self._add_class_endpoint(node, None, None)
            elif isinstance(node, cst.Call):
                self._registration_call(node)
        # order endpoints by position in the file for stable reporting
        order = {id(n): i for i, n in enumerate(self._preorder)}
        self.endpoints.sort(key=lambda ep: order.get(id(ep.report_node), 0))

    def _registration_call(self, call: cst.Call) -> None:
        q = call_name(self.ctx, call)
        if q in WEBSOCKETS_SERVE:
            self._serve_call(call, q)
        elif q in WEBSOCKET_ROUTE:
            self._route_object(call)
        elif q in CHANNELS_ROUTER:
            self._channels_router(call)
        elif isinstance(call.func, cst.Attribute):
            self._registration_method(call, call.func)

    def _registration_method(self, call: cst.Call, func: cst.Attribute) -> None:
        if func.attr.value in ("add_api_websocket_route", "add_websocket_route"):
            self._add_route_call(call, func)
        elif func.attr.value == "on" and self._is_sio(func.value):
            self._sio_on_call(call, func)

    def _serve_call(self, call: cst.Call, qualname: str) -> None:
        """``websockets.serve(handler, ...)``: a ServeCall, and an endpoint when the handler is
        a module function not registered yet."""
        handler = self._serve_handler(call)
        kws = {a.keyword.value: a for a in call.args if a.keyword is not None}
        self.serve_calls.append(ServeCall(call, qualname, handler, kws))
        if handler is None or any(ep.handler is handler for ep in self.endpoints):
            return
        self.endpoints.append(Endpoint(
            "websockets", handler=handler, handlers=[handler], ws_param=_param_name(handler, 0),
            registration=call, default_accepts=True, server_call=call,
        ))

    def _serve_handler(self, call: cst.Call) -> cst.FunctionDef | None:
        """The handler passed to serve(), seen through ``functools.partial(handler, ...)``."""
        first = positional(call, 0)
        if first is None:
            return None
        inner = first.value
        if isinstance(inner, cst.Call) and call_name(self.ctx, inner) == "functools.partial":
            p0 = positional(inner, 0)
            inner = p0.value if p0 else inner
        return self._func_target(inner)

    def _route_object(self, call: cst.Call) -> None:
        """``WebSocketRoute(path, endpoint)``: a function or a ``WebSocketEndpoint`` class."""
        target = positional(call, 1) or keyword(call, "endpoint")
        if target is None:
            return
        fn = self._func_target(target.value)
        cls_name = _name(target.value)
        if fn is not None:
            self._add_function_endpoint(fn, call, _route_path(call))
        elif cls_name in self.classes:
            self._add_class_endpoint(self.classes[cls_name], call, _route_path(call))

    def _add_route_call(self, call: cst.Call, func: cst.Attribute) -> None:
        """``app.add_api_websocket_route(path, endpoint)`` / ``app.add_websocket_route(...)``: a
        function counts when ``app`` is a known app or it takes a ``WebSocket`` parameter."""
        target = positional(call, 1) or keyword(call, "endpoint") or keyword(call, "route")
        if target is None:
            return
        fn = self._func_target(target.value)
        cls_name = _name(target.value)
        if fn is None and cls_name in self.classes:
            self._add_class_endpoint(self.classes[cls_name], call, _route_path(call))
        elif fn is not None and (_name(func.value) in self.app_names or self._websocket_param(fn) is not None):
            self._add_function_endpoint(fn, call, _route_path(call))

    def _sio_on_call(self, call: cst.Call, func: cst.Attribute) -> None:
        """``sio.on("connect", handler)``."""
        first = positional(call, 0)
        event = _str(first.value) if first else None
        handler_arg = positional(call, 1) or keyword(call, "handler")
        fn = self._func_target(handler_arg.value) if handler_arg else None
        if event and fn is not None:
            self._sio_event(func.value, event, fn)

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
            ep.ws_param = _param_name(fn, 0)  # the sid

    def _decorated(self, func: cst.FunctionDef) -> None:
        for dec in func.decorators:
            call = dec.decorator if isinstance(dec.decorator, cst.Call) else None
            attr = call.func if call is not None else dec.decorator
            if isinstance(attr, cst.Attribute):
                self._decorator(func, dec, attr, call)

    def _decorator(self, func: cst.FunctionDef, dec: cst.Decorator, attr: cst.Attribute, call: cst.Call | None) -> None:
        """``@app.websocket(path)`` / ``@app.websocket_route(path)``, or a socketio handler."""
        recv, method = attr.value, attr.attr.value
        if method in ("websocket", "websocket_route") and call is not None:
            if _name(recv) in self.app_names or self._websocket_param(func) is not None:
                self._add_function_endpoint(func, dec, _route_path(call))
        elif self._is_sio(recv):
            self._sio_decorator(func, recv, method, call)

    def _sio_decorator(self, func: cst.FunctionDef, recv: cst.BaseExpression, method: str, call: cst.Call | None) -> None:
        """``@sio.event`` (the function name is the event) or ``@sio.on("event")``."""
        if method == "event":
            self._sio_event(recv, func.name.value, func)
        elif method == "on" and call is not None:
            first = positional(call, 0)
            event = _str(first.value) if first else None
            if event:
                self._sio_event(recv, event, func)

    def _channels_router(self, call: cst.Call) -> None:
        value = self._websocket_application(call)
        validated = value is not None and any(
            isinstance(n, cst.Call) and call_name(self.ctx, n) in CHANNELS_ORIGIN_VALIDATORS
            for n in [value, *walk(value)]
        )
        self.channels_routers.append(ChannelsRouter(call, value, validated))

    @staticmethod
    def _websocket_application(call: cst.Call) -> cst.BaseExpression | None:
        """The ``"websocket"`` value of ``ProtocolTypeRouter({...})`` (the last one when repeated)
        or of ``ProtocolTypeRouter(dict(websocket=...))``."""
        first = positional(call, 0) or keyword(call, "application_mapping")
        mapping = first.value if first is not None else None
        if isinstance(mapping, cst.Dict):
            return _literal_dict_value(mapping, "websocket")
        if isinstance(mapping, cst.Call) and _name(mapping.func) == "dict":
            kw = keyword(mapping, "websocket")
            return kw.value if kw else None
        return None

    # -- per-endpoint analysis ----------------------------------------------------------------

    def _roots(self, ep: Endpoint) -> list[tuple[cst.FunctionDef, str]]:
        """The (function, websocket name there) pairs the analysis of ``ep`` starts from."""
        if ep.kind in ("asgi", "websockets"):
            return [(ep.handler, ep.ws_param)] if ep.handler is not None and ep.ws_param else []
        if ep.kind in ("tornado", "channels"):
            return [(f, "self") for f in ep.handlers]
        index = _ROOT_PARAM.get(ep.kind)
        if index is None:
            return []
        return [(f, ws) for f in ep.handlers if (ws := _param_name(f, index)) is not None]

    def _analyse(self, ep: Endpoint) -> None:
        roots = self._roots(ep)
        for root, ws in roots:
            for func, name, chain in self.ws_flow(root, ws):
                self._scan(_Flow(ep, root, func, name, chain))
        ep.calls = self._helpers_of(ep, roots)
        self._add_callback_receives(ep)

    def _helpers_of(self, ep: Endpoint, roots: list[tuple[cst.FunctionDef, str]]) -> list[cst.FunctionDef]:
        """Same-module functions reachable from the roots that are not handlers of ``ep``."""
        seen: list[cst.FunctionDef] = []
        for root, _ in roots:
            for f in [root, *self.reachable(root)]:
                if not any(f is s for s in seen) and not any(f is h for h in ep.handlers):
                    seen.append(f)
        return seen

    @staticmethod
    def _add_callback_receives(ep: Endpoint) -> None:
        """Receive callbacks of class-based endpoints: the framework calls them with each message
        (Starlette ``on_receive(self, websocket, data)``, ``on_message(self, message)``...)."""
        for method in _RECEIVE_CALLBACKS.get(ep.kind, ()):
            f = ep.methods.get(method)
            if f is None:
                continue
            if ep.kind == "asgi-class":
                ws, target = _param_name(f, 1) or "", _param_name(f, 2)
            else:
                ws, target = "self", _param_name(f, 1)
            mode = "json" if method == "receive_json" else "any"
            ep.receives.append(ReceiveSite(f, f, f, ws, method=method, mode=mode, target=target))

    def _scan(self, flow: _Flow) -> None:
        """Accepts and receives of the websocket in ``flow.func`` (registrations: WS104's
        ``wsrefactor/semantic/registrations.py``)."""
        for node in walk(flow.func.body):
            if not isinstance(node, (cst.Call, cst.For)) or not self._in_scope(flow, node):
                continue
            if isinstance(node, cst.Call):
                self._scan_call(flow, node)
            else:
                self._scan_for(flow, node)

    def _in_scope(self, flow: _Flow, node: cst.CSTNode) -> bool:
        """Whether the websocket name means the websocket at ``node``: a nested def or lambda
        with a parameter of that name is another scope."""
        for anc in self.ancestors(node):
            if anc is flow.func:
                return True
            if _binds_param(anc, flow.ws):
                return False
        return True

    def _anchor(self, flow: _Flow, node: cst.CSTNode) -> cst.BaseStatement | None:
        """The statement of the handler before which a guard for ``node`` can go."""
        return self.statement_in(flow.chain[0] if flow.chain else node, flow.root)

    def _scan_for(self, flow: _Flow, node: cst.For) -> None:
        """``async for message in websocket``: iterating the connection receives."""
        if _name(node.iter) != flow.ws or flow.ws == "self":
            return
        flow.ep.receives.append(ReceiveSite(
            node, flow.func, node, flow.ws, flow.chain, self._anchor(flow, node),
            method="async for" if node.asynchronous else "for", mode="any",
            target=_name(node.target), loop=node,
        ))

    def _scan_call(self, flow: _Flow, node: cst.Call) -> None:
        f = node.func
        if isinstance(f, cst.Attribute) and _name(f.value) == flow.ws:
            self._scan_ws_method(flow, node, f.attr.value)

    def _scan_ws_method(self, flow: _Flow, node: cst.Call, method: str) -> None:
        """``websocket.<method>(...)``: an accept or a receive."""
        if method == "accept":
            flow.ep.accepts.append(
                Site(node, flow.func, self.statement_of(node), flow.ws, flow.chain, self._anchor(flow, node))
            )
            return
        mode = _receive_mode(flow.ep.kind, method, node)
        if mode is None:
            return
        awaited = isinstance(self.parent(node), cst.Await)
        target, loop = self._received_into(node, awaited)
        flow.ep.receives.append(ReceiveSite(
            node, flow.func, self.statement_of(node), flow.ws, flow.chain, self._anchor(flow, node),
            method=method, mode=mode, target=target, loop=loop, awaited=awaited,
        ))

    def _received_into(self, call: cst.Call, awaited: bool) -> tuple[str | None, cst.CSTNode | None]:
        """The name a receive's result is bound to, and the loop it is received in (``for x in
        ws.iter_text()``: that For)."""
        loop = self.enclosing_loop(call)
        holder = self.parent(call) if awaited else call
        up = self.parent(holder) if holder is not None else None
        if isinstance(up, cst.Assign) and len(up.targets) == 1:
            return _name(up.targets[0].target), loop
        if isinstance(up, (cst.AnnAssign, cst.NamedExpr)):
            return _name(up.target), loop
        if isinstance(up, cst.For) and up.iter is call:
            return _name(up.target), up
        return None, loop



def endpoints(ctx: FileContext) -> EndpointModel:
    """The endpoint model of ``ctx``'s module, built once and cached on the context."""
    model = getattr(ctx, "_ws_endpoints", None)
    if model is None or model.ctx is not ctx:
        model = EndpointModel(ctx)
        ctx._ws_endpoints = model  # type: ignore[attr-defined]
    return model
