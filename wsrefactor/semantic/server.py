"""The WebSocket server model of one module, on Python's ``ast`` (issue #11 item 1).

``ServerModel`` (``analyses(ServerModel)``) answers what the handler rules ask, from what values
*are* — qualified names through imports, annotations, constructors and data flow — never from
what they are called:

- **endpoints** of the six frameworks: FastAPI/Starlette function routes (``@app.websocket``,
  ``add_api_websocket_route``, ``WebSocketRoute``) and ``WebSocketEndpoint`` classes,
  ``websockets.serve`` handlers, tornado ``WebSocketHandler``, python-socketio and Flask-SocketIO
  event handlers, Django Channels consumers;
- **connection values**: a parameter annotated as a connection type or known to receive one (an
  endpoint's websocket, or an argument flowing into a same-module function or constructor through
  the call graph), a name copied from one, ``self`` of a tornado/Channels endpoint class, an
  attribute bound to one (``self.ws = websocket``; a dataclass field ``websocket: WebSocket``),
  seen through ``self.attr`` and ``obj.attr`` where ``obj``'s class is known, and the loop
  variable over a collection that connections are stored in;
- **sites**: accepts, receives, sends, registrations (a connection stored in a collection) and
  their undos;
- **message flow**: the value a receive yields (through ``await`` and awaited wrappers such as
  ``asyncio.wait_for``), the name it is bound to, that name's later uses, and the parameter of a
  same-module callee an argument binds to (``bound_parameter``).

Calls are resolved within the module (``resolve``: the ``CallGraph`` plus ``obj.method()`` where
``obj``'s class is a class of this module, e.g. a module-level ``manager = Manager()``).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.callgraph import CallGraph
from wsrefactor.semantic.imports import Imports
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.nodes import own_nodes
from wsrefactor.semantic.scopes import Binding, Scope, self_class

# -- data tables: the frameworks' names ----------------------------------------------------------

ASGI_APP_TYPES = frozenset({
    "fastapi.FastAPI", "fastapi.applications.FastAPI", "fastapi.APIRouter", "fastapi.routing.APIRouter",
    "starlette.applications.Starlette", "starlette.routing.Router",
})
#: Connection classes, by the framework kind their methods follow.
CONNECTION_TYPES = {
    "fastapi.WebSocket": "asgi", "fastapi.websockets.WebSocket": "asgi",
    "starlette.websockets.WebSocket": "asgi",
    "websockets.WebSocketServerProtocol": "websockets",
    "websockets.server.WebSocketServerProtocol": "websockets",
    "websockets.legacy.server.WebSocketServerProtocol": "websockets",
    "websockets.asyncio.server.ServerConnection": "websockets",
    "websockets.server.ServerConnection": "websockets",
    "websockets.ServerConnection": "websockets",
    "websockets.sync.server.ServerConnection": "websockets",
}
WEBSOCKET_ROUTES = frozenset({"starlette.routing.WebSocketRoute", "fastapi.routing.APIWebSocketRoute"})
WEBSOCKETS_SERVE = frozenset({
    f"{mod}.{fn}"
    for mod in ("websockets", "websockets.asyncio.server", "websockets.server", "websockets.legacy.server",
                "websockets.sync.server")
    for fn in ("serve", "unix_serve")
})
SOCKETIO_SERVERS = frozenset({
    "socketio.AsyncServer", "socketio.Server", "socketio.async_server.AsyncServer", "socketio.server.Server",
    "flask_socketio.SocketIO",
})
CHANNELS_CONSUMERS = frozenset(
    f"channels.generic.websocket.{n}"
    for n in ("WebsocketConsumer", "AsyncWebsocketConsumer", "JsonWebsocketConsumer", "AsyncJsonWebsocketConsumer")
)
CHANNELS_ROUTERS = frozenset({"channels.routing.ProtocolTypeRouter"})
CHANNELS_ORIGIN_VALIDATORS = frozenset({
    "channels.security.websocket.OriginValidator", "channels.security.websocket.AllowedHostsOriginValidator",
})


@dataclass(frozen=True)
class ClassKind:
    """How a framework base class makes its subclasses endpoints: the protocol methods, the one
    the framework calls with each message (and which parameter holds it), the connection's
    parameter in the protocol methods (None: it is ``self``)."""

    kind: str
    bases: frozenset[str]
    methods: tuple[str, ...]
    callbacks: tuple[tuple[str, int, str], ...]  # (method, message parameter index, mode)
    connection_param: int | None


CLASS_KINDS = (
    ClassKind("asgi-class", frozenset({"starlette.endpoints.WebSocketEndpoint"}),
              ("on_connect", "on_receive", "on_disconnect"), (("on_receive", 2, "any"),), 1),
    ClassKind("tornado", frozenset({"tornado.websocket.WebSocketHandler"}),
              ("check_origin", "open", "on_message", "on_close"), (("on_message", 1, "any"),), None),
    ClassKind("channels", CHANNELS_CONSUMERS,
              ("connect", "receive", "receive_json", "disconnect", "websocket_connect", "websocket_receive"),
              (("receive", 1, "any"), ("receive_json", 1, "json"), ("websocket_receive", 1, "message")), None),
)
#: Receive methods by framework kind, with what they yield.
RECEIVE_METHODS = {
    "asgi": {"receive_text": "text", "receive_bytes": "bytes", "receive_json": "json", "receive": "message",
             "iter_text": "text", "iter_bytes": "bytes", "iter_json": "json"},
    "websockets": {"recv": "any"},
}
SEND_METHODS = {
    "asgi": frozenset({"send", "send_text", "send_bytes", "send_json"}),
    "websockets": frozenset({"send"}),
    "tornado": frozenset({"write_message"}),
    "channels": frozenset({"send", "send_json"}),
    "asgi-class": frozenset(),
}
#: Connection classes a framework base class holds as an attribute: ``self.websocket_class(scope,
#: receive=..., send=...)`` in a ``WebSocketEndpoint`` subclass builds the connection (its ``dispatch``).
CLASS_CONNECTION_FACTORIES = {("asgi-class", "websocket_class"): "asgi"}
ACCEPT_KINDS = frozenset({"asgi", "channels"})
#: Awaitable wrappers whose awaited value is their first argument's (``asyncio.wait_for(ws.receive_json(), 5)``).
AWAIT_WRAPPERS = frozenset({"asyncio.wait_for", "asyncio.shield", "asyncio.ensure_future", "asyncio.create_task"})
STORE_METHODS = frozenset({"add", "append", "appendleft", "insert", "setdefault", "put_nowait"})
UNDO_METHODS = frozenset({"remove", "discard", "pop"})


# -- records -------------------------------------------------------------------------------------


@dataclass(eq=False)
class Endpoint:
    """One endpoint. ``node``: the def (function kinds) or class (class kinds); ``handlers``: the
    function scopes the framework calls; ``roots``: (function, its connection parameter) pairs
    the connection enters by; ``registration``: the decorator/call routing it (None for classes
    found by their base); ``server_call``: ``serve(...)`` or the socketio server constructor."""

    kind: str
    node: ast.AST
    handlers: list[Scope] = field(default_factory=list)
    roots: list[tuple[Scope, str]] = field(default_factory=list)
    registration: ast.AST | None = None
    server_call: ast.Call | None = None
    methods: dict[str, Scope] = field(default_factory=dict)


@dataclass(eq=False)
class Site:
    """A call on a connection (``kind``: accept, receive, send), or a registration/undo.
    ``function``: the def it is written in; ``statement``: its innermost statement."""

    kind: str
    node: ast.AST
    function: Scope
    statement: ast.stmt
    connection: str  # the framework kind of the connection
    method: str = ""


@dataclass(eq=False)
class Receive(Site):
    """A message read. ``holder``: the expression whose value is the message (the call, its
    ``await``, or the awaited wrapper); ``target``: the name the message is bound to, if any;
    ``loop``: the innermost loop around it in its function (for iterators: the ``for`` itself);
    ``mode``: text, bytes, json, json-binary, message or any; ``callback``: the framework hands
    the message to this parameter (``on_receive(self, ws, data)``), ``node`` is then the def."""

    mode: str = "any"
    holder: ast.expr | None = None
    target: str | None = None
    loop: ast.AST | None = None
    awaited: bool = False
    callback: bool = False


# -- the model -------------------------------------------------------------------------------


class ServerModel:
    """Endpoints, connection values and their sites in one module."""

    def __init__(self, analyses: Analyses) -> None:
        self.analyses = analyses
        self.model: SemanticModel = analyses(SemanticModel)
        self.imports: Imports = analyses(Imports)
        self.graph: CallGraph = analyses(CallGraph)
        self.endpoints: list[Endpoint] = []
        self.serve_calls: list[ast.Call] = []
        self.socketio_servers: list[ast.Call] = []
        self.channels_routers: list[ast.Call] = []
        self._classes = self.model.classes()
        self._class_kinds: dict[int, ClassKind] = {}
        self._connections: dict[int, str] = {}  # id(Binding) -> kind
        self._holders: set[tuple[int, str]] = set()  # (id(class scope), attr) holding connections
        # names (id of their Binding) and attributes (id of the class, name) holding connections
        self._collections: dict[int | tuple[int, str], str] = {}
        self._resolved: dict[int, Scope | None] = {}
        self._visiting: set[int] = set()
        self._by_function: dict[int, list[tuple[ast.Call, Scope]]] | None = None
        self._parents: dict[int, ast.AST] = _parents(analyses.tree)
        self._find_endpoints()
        self._propagate()
        self.sites: list[Site] = []
        self._find_sites()

    @classmethod
    def compute(cls, analyses: Analyses) -> ServerModel:
        return cls(analyses)

    # -- structure ----------------------------------------------------------------------------

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self._parents.get(id(node))

    def function_of(self, node: ast.AST) -> Scope | None:
        """The ``def`` scope ``node`` runs in (through lambdas/comprehensions), None at top level."""
        scope: Scope | None = self.model.scope_of(node)
        while scope is not None and scope.kind != "function":
            scope = scope.parent
        return scope

    def resolve(self, call: ast.Call, scope: Scope) -> Scope | None:
        """The function of this module ``call`` runs: the call graph's answer, or ``obj.m()``
        where ``obj`` holds an instance of a class of this module (``manager = Manager()``)."""
        key = id(call)
        if key not in self._resolved:
            found = self.graph.resolve(call, scope)
            func = call.func
            if found is None and isinstance(func, ast.Attribute):
                cls = self._classes.get(self.model.type_of(func.value, scope) or "") if isinstance(
                    func.value, (ast.Name, ast.Attribute)) else None
                found = self.graph.method(cls, func.attr) if cls is not None else None
            self._resolved[key] = found
        return self._resolved[key]

    def calls_in(self, fn: Scope) -> list[tuple[ast.Call, Scope]]:
        """The calls ``fn``'s own code makes (lambdas and comprehensions included, nested defs not)."""
        if self._by_function is None:
            self._by_function = {}
            for call, scope in self.model.calls():
                owner = self.function_of(call)
                if owner is not None:
                    self._by_function.setdefault(id(owner), []).append((call, scope))
        return self._by_function.get(id(fn), [])

    def reachable(self, fn: Scope, depth: int = 4) -> list[Scope]:
        """The same-module functions ``fn`` calls, theirs..., ``depth`` calls deep (``fn`` excluded)."""
        seen: list[Scope] = [fn]
        frontier = [fn]
        for _ in range(depth):
            nxt = []
            for current in frontier:
                for call, scope in self.calls_in(current):
                    callee = self.resolve(call, scope)
                    if callee is not None and not any(callee is s for s in seen):
                        seen.append(callee)
                        nxt.append(callee)
            frontier = nxt
        return seen[1:]

    def bound_parameter(self, call: ast.Call, callee: Scope, arg: ast.expr) -> str | None:
        """The parameter of ``callee`` that ``arg`` (an argument of ``call``) binds to."""
        node = callee.node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        for kw in call.keywords:
            if kw.value is arg:
                return kw.arg
        positional = [*node.args.posonlyargs, *node.args.args]
        if callee.self_name is not None and not self._unbound_call(call, callee):
            positional = positional[1:]
        for index, value in enumerate(call.args):
            if isinstance(value, ast.Starred):
                return None
            if value is arg:
                return positional[index].arg if index < len(positional) else None
        return None

    def _unbound_call(self, call: ast.Call, callee: Scope) -> bool:
        """``Class.method(obj, ...)``: the first argument fills ``self``."""
        func = call.func
        if not isinstance(func, ast.Attribute) or "classmethod" in callee.decorators:
            return False
        cls = self.model.class_of_receiver(func.value, self.model.scope_of(call))
        return cls is not None and isinstance(func.value, ast.Name) and self_class(
            func.value.id, self.model.scope_of(call)) is None

    def parameter_binding(self, fn: Scope, name: str) -> Binding | None:
        for b in fn.bindings.get(name, ()):
            if b.kind == "param":
                return b
        return None

    # -- endpoints ------------------------------------------------------------------------------

    def _qualified(self, expr: ast.AST | None, scope: Scope | None = None) -> str | None:
        return self.model.qualified_name(expr, scope)

    def _type(self, expr: ast.expr, scope: Scope) -> str | None:
        return self.model.type_of(expr, scope) if isinstance(expr, (ast.Name, ast.Attribute)) else None

    def _function_named(self, expr: ast.expr | None, scope: Scope) -> Scope | None:
        """The module function ``expr`` names (through ``functools.partial(f, ...)``)."""
        if isinstance(expr, ast.Call) and self._qualified(expr.func, scope) == "functools.partial" and expr.args:
            expr = expr.args[0]
        if not isinstance(expr, ast.Name):
            return None
        found = self.model.lookup(expr.id, scope)
        if len(found) != 1 or found[0].kind != "def":
            return None
        return self.model.scopes.defined_by(found[0].node)

    def _class_named(self, expr: ast.expr | None, scope: Scope) -> Scope | None:
        if not isinstance(expr, ast.Name):
            return None
        found = self.model.lookup(expr.id, scope)
        if len(found) != 1 or found[0].kind != "class":
            return None
        return self.model.scopes.defined_by(found[0].node)

    def _find_endpoints(self) -> None:
        for scope in self.model.scopes.scopes:
            if scope.kind == "class":
                self._class_endpoint(scope, None)
            elif scope.kind == "function":
                self._decorated(scope)
        for call, scope in self.model.calls():
            self._registration_call(call, scope)
        self.endpoints.sort(key=lambda ep: (getattr(ep.node, "lineno", 0), getattr(ep.node, "col_offset", 0)))

    def class_kind(self, cls: Scope) -> ClassKind | None:
        """The framework class kind of ``cls`` (through its bases of this module)."""
        if id(cls) in self._class_kinds:
            return self._class_kinds[id(cls)]
        found = None
        for current in self.model.class_chain(cls):
            for base in getattr(current.node, "bases", ()):
                q = self._qualified(base, current.parent)
                found = found or next((k for k in CLASS_KINDS if q in k.bases), None)
        self._class_kinds[id(cls)] = found  # type: ignore[assignment]
        return found

    def _class_endpoint(self, cls: Scope, registration: ast.AST | None) -> None:
        known = next((ep for ep in self.endpoints if ep.node is cls.node), None)
        if known is not None:
            known.registration = known.registration or registration
            return
        spec = self.class_kind(cls)
        if spec is None:
            return
        ep = Endpoint(spec.kind, cls.node, registration=registration)
        for name in spec.methods:
            method = self.graph.method(cls, name)
            if method is None:
                continue
            ep.methods[name] = method
            ep.handlers.append(method)
            if spec.connection_param is not None:
                param = _positional(method, spec.connection_param)
                if param is not None:
                    ep.roots.append((method, param))
        self.endpoints.append(ep)

    def _function_endpoint(self, fn: Scope, kind: str, registration: ast.AST, server: ast.Call | None = None) -> None:
        if any(ep.node is fn.node for ep in self.endpoints):
            return
        param = self._annotated_connection(fn) or _positional(fn, 0)
        ep = Endpoint(kind, fn.node, [fn], [(fn, param)] if param else [], registration, server)
        self.endpoints.append(ep)

    def _annotated_connection(self, fn: Scope) -> str | None:
        for name, bindings in fn.bindings.items():
            b = bindings[0]
            if b.kind == "param" and b.annotation is not None and self.model.type_of_binding(b) in CONNECTION_TYPES:
                return name
        return None

    def _decorated(self, fn: Scope) -> None:
        """``@app.websocket(path)`` / ``@app.websocket_route(path)``, ``@sio.event`` / ``@sio.on(...)``."""
        outer = fn.parent or self.model.module
        for dec in getattr(fn.node, "decorator_list", ()):
            attr = dec.func if isinstance(dec, ast.Call) else dec
            if isinstance(attr, ast.Attribute):
                self._decorator(fn, dec, attr, outer)

    def _decorator(self, fn: Scope, dec: ast.expr, attr: ast.Attribute, outer: Scope) -> None:
        receiver = self._type(attr.value, outer)
        if attr.attr in ("websocket", "websocket_route") and isinstance(dec, ast.Call) and (
            receiver in ASGI_APP_TYPES or self._annotated_connection(fn) is not None
        ):
            self._function_endpoint(fn, "asgi", dec)
        elif receiver in SOCKETIO_SERVERS and attr.attr in ("event", "on"):
            self._socketio_handler(fn, dec, attr.value, outer)

    def _socketio_handler(self, fn: Scope, registration: ast.AST, server: ast.expr, scope: Scope) -> None:
        binding = self.model.bindings_for(server, scope)
        ctor = binding[0].value if len(binding) == 1 and isinstance(binding[0].value, ast.Call) else None
        ep = next((e for e in self.endpoints if e.kind == "socketio" and e.server_call is ctor and ctor), None)
        if ep is None:
            ep = Endpoint("socketio", fn.node, registration=registration, server_call=ctor)
            self.endpoints.append(ep)
        ep.handlers.append(fn)

    def _registration_call(self, call: ast.Call, scope: Scope) -> None:
        q = self._qualified(call.func, scope)
        args = call.args
        if q in WEBSOCKETS_SERVE:
            self._serve(call, scope)
        elif q in SOCKETIO_SERVERS:
            self.socketio_servers.append(call)
        elif q in CHANNELS_ROUTERS:
            self.channels_routers.append(call)
        elif q in WEBSOCKET_ROUTES:
            self._route(call, args[1] if len(args) > 1 else _keyword(call, "endpoint"), scope, True)
        elif isinstance(call.func, ast.Attribute):
            self._registration_method(call, call.func, scope)

    def _registration_method(self, call: ast.Call, func: ast.Attribute, scope: Scope) -> None:
        """``app.add_api_websocket_route(path, f)`` / ``add_websocket_route``, ``sio.on("event", f)``."""
        args = call.args
        receiver = self._type(func.value, scope)
        if func.attr in ("add_api_websocket_route", "add_websocket_route"):
            target = args[1] if len(args) > 1 else _keyword(call, "endpoint") or _keyword(call, "route")
            self._route(call, target, scope, receiver in ASGI_APP_TYPES)
        elif func.attr == "on" and receiver in SOCKETIO_SERVERS and len(args) > 1:
            fn = self._function_named(args[1], scope)
            if fn is not None:
                self._socketio_handler(fn, call, func.value, scope)

    def _serve(self, call: ast.Call, scope: Scope) -> None:
        self.serve_calls.append(call)
        fn = self._function_named(call.args[0] if call.args else _keyword(call, "handler"), scope)
        if fn is not None:
            self._function_endpoint(fn, "websockets", call, call)

    def _route(self, call: ast.Call, target: ast.expr | None, scope: Scope, known_app: bool) -> None:
        fn = self._function_named(target, scope)
        if fn is not None and (known_app or self._annotated_connection(fn) is not None):
            self._function_endpoint(fn, "asgi", call)
            return
        cls = self._class_named(target, scope)
        if cls is not None:
            self._class_endpoint(cls, call)

    # -- connection values ------------------------------------------------------------------------

    def connection_kind(self, expr: ast.AST | None, scope: Scope | None = None) -> str | None:
        """The framework kind of the connection ``expr`` holds, None when not known to be one."""
        if not isinstance(expr, (ast.Name, ast.Attribute)):
            return None
        scope = scope if scope is not None else self.model.scope_of(expr)
        if isinstance(expr, ast.Name):
            owner = self_class(expr.id, scope)
            if owner is not None:
                spec = self.class_kind(owner)
                return spec.kind if spec is not None and spec.connection_param is None else None
            return self._kind_of_bindings(self.model.lookup(expr.id, scope))
        return self._kind_of_bindings(self._attribute_bindings(expr, scope))

    def _attribute_bindings(self, expr: ast.Attribute, scope: Scope) -> list[Binding]:
        """``self.x`` / ``Class.x`` / ``obj.x`` where ``obj`` holds an instance of a class of this module."""
        found = self.model.bindings_for(expr, scope)
        if found or not isinstance(expr.value, (ast.Name, ast.Attribute)):
            return found
        cls = self._classes.get(self.model.type_of(expr.value, scope) or "")
        return self.model.attribute_bindings(cls, expr.attr) if cls is not None else []

    def _kind_of_bindings(self, bindings: list[Binding]) -> str | None:
        """Every binding holds a connection (of one kind), ``= None`` placeholders aside."""
        kinds = set()
        for b in bindings:
            if isinstance(b.value, ast.Constant) and b.value.value is None and b.annotation is None:
                continue
            kind = self._binding_kind(b)
            if kind is None:
                return None
            kinds.add(kind)
        return kinds.pop() if len(kinds) == 1 else None

    def _binding_kind(self, b: Binding) -> str | None:
        if id(b) in self._connections:
            return self._connections[id(b)]
        if id(b) in self._visiting:  # ``a = b`` / ``b = a``: no connection enters the cycle
            return None
        self._visiting.add(id(b))
        try:
            return self._new_binding_kind(b)
        finally:
            self._visiting.discard(id(b))

    def _new_binding_kind(self, b: Binding) -> str | None:
        if b.annotation is not None or (b.kind != "param" and isinstance(b.value, ast.Call)):
            kind = CONNECTION_TYPES.get(self.model.type_of_binding(b) or "")
            if kind is not None:
                return kind
        if b.kind in ("assign", "annassign", "walrus", "attribute") and b.value is not None:
            if isinstance(b.value, ast.Call):
                return self._factory_kind(b.value.func, self.model.scope_of(b.value))
            return self.connection_kind(b.value, self.model.scope_of(b.value))
        return None

    def _factory_kind(self, func: ast.expr, scope: Scope) -> str | None:
        """``self.websocket_class(...)`` in a framework class that does not rebind the attribute."""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return None
        cls = self_class(func.value.id, scope)
        spec = self.class_kind(cls) if cls is not None else None
        if spec is None or cls is None:
            return None
        bound = self.model.attribute_bindings(cls, func.attr)
        if not bound:
            return CLASS_CONNECTION_FACTORIES.get((spec.kind, func.attr))
        kinds = {self._class_value_kind(b) for b in bound}
        return kinds.pop() if len(kinds) == 1 else None

    def _class_value_kind(self, b: Binding) -> str | None:
        """A binding holding a connection class: ``= WebSocket`` or annotated ``type[WebSocket]``."""
        where = b.scope
        if b.value is not None and (kind := CONNECTION_TYPES.get(self.model.qualified_name(b.value, where) or "")):
            return kind
        ann = b.annotation
        if isinstance(ann, ast.Subscript) and self.model.qualified_name(ann.value, where) in (
                "typing.Type", "builtins.type"):
            return CONNECTION_TYPES.get(self.model.qualified_name(ann.slice, where) or "")
        return None

    def _propagate(self) -> None:
        """Seed the endpoints' connection parameters, then follow arguments into same-module
        callees and constructors, and stores into collections, until nothing changes."""
        for ep in self.endpoints:
            for fn, param in ep.roots:
                b = self.parameter_binding(fn, param)
                if b is not None:
                    self._connections[id(b)] = "asgi" if ep.kind == "asgi-class" else ep.kind
        self._seed_from_project()
        for _ in range(6):
            if not self._propagate_once():
                break

    def _seed_from_project(self) -> None:
        """Parameters that other modules hand connections to (``analyses.facts``, resolved from
        every module's summary by the runner: ``wsrefactor/semantic/summary.py``)."""
        wanted = self.analyses.facts.connections
        if not wanted:
            return
        functions = {s.qualname: s for s in self.model.scopes.scopes if s.kind == "function"}
        for qualname, param, kind in wanted:
            if ":" in kind:  # a value kind of another rule (``msg:...``), not a connection
                continue
            fn = functions.get(qualname)
            b = self.parameter_binding(fn, param) if fn is not None else None
            if b is not None and id(b) not in self._connections:
                self._connections[id(b)] = kind

    def _propagate_once(self) -> bool:
        changed = False
        for call, scope in self.model.calls():
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                kind = self.connection_kind(arg, scope)
                if kind is not None:
                    changed |= self._store(call, arg, scope, kind)
                    changed |= self._pass(call, arg, scope, kind)
        for b in self._loop_bindings():
            changed |= id(b) not in self._connections and self._loop_target(b)
        return changed

    def _loop_bindings(self) -> Iterator[Binding]:
        for fn in self.model.scopes.scopes:
            for bindings in fn.bindings.values():
                yield from (b for b in bindings if b.kind == "for")

    def _pass(self, call: ast.Call, arg: ast.expr, scope: Scope, kind: str) -> bool:
        """A connection argument makes the same-module callee's parameter a connection."""
        callee = self.resolve(call, scope)
        name = self.bound_parameter(call, callee, arg) if callee is not None else None
        b = self.parameter_binding(callee, name) if callee is not None and name else None
        if b is None or id(b) in self._connections:
            return False
        self._connections[id(b)] = kind
        return True

    def _store(self, call: ast.Call, arg: ast.expr, scope: Scope, kind: str) -> bool:
        """``coll.append(conn)``: ``coll`` (a name or attribute) holds connections of ``kind``."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in STORE_METHODS and arg in call.args):
            return False
        key = self._collection_key(func.value, scope)
        if key is None or key in self._collections:
            return False
        self._collections[key] = kind
        return True

    def _collection_key(self, expr: ast.expr, scope: Scope) -> int | tuple[int, str] | None:
        if isinstance(expr, ast.Name):
            found = self.model.lookup(expr.id, scope)
            return id(found[0]) if len(found) == 1 else None
        if isinstance(expr, ast.Attribute):
            cls = self.model.class_of_receiver(expr.value, scope)
            return (id(cls), expr.attr) if cls is not None else None
        return None

    def collection_kind(self, expr: ast.expr, scope: Scope) -> str | None:
        """The kind of the connections a collection holds (``self.active.append(websocket)``),
        also seen through its ``.values()``/``.copy()``/``list(...)`` views."""
        while isinstance(expr, ast.Call):
            func = expr.func
            if isinstance(func, ast.Attribute) and func.attr in ("values", "copy") and not expr.args:
                expr = func.value
            elif self._qualified(func, scope) in ("builtins.list", "builtins.tuple", "builtins.set") and expr.args:
                expr = expr.args[0]
            else:
                return None
        key = self._collection_key(expr, scope) if isinstance(expr, (ast.Name, ast.Attribute)) else None
        return self._collections.get(key) if key is not None else None

    def _loop_target(self, b: Binding) -> bool:
        stmt = self.model.statement_of(b.node)
        if not isinstance(stmt, (ast.For, ast.AsyncFor)) or stmt.target is not b.node:
            return False
        kind = self.collection_kind(stmt.iter, b.scope)
        if kind is None:
            return False
        self._connections[id(b)] = kind
        return True

    def is_connection(self, expr: ast.AST | None, scope: Scope | None = None) -> bool:
        return self.connection_kind(expr, scope) is not None

    # -- sites ------------------------------------------------------------------------------------

    def _find_sites(self) -> None:
        for call, scope in self.model.calls():
            self._call_site(call, scope)
        for scope in self.model.scopes.scopes:
            if scope.kind == "function":
                for node in _own_statements(scope.node):
                    if isinstance(node, (ast.AsyncFor, ast.For)):
                        self._iteration_site(node, scope)
        for ep in self.endpoints:
            self._callback_sites(ep)
        self.sites.sort(key=lambda s: (getattr(s.node, "lineno", 0), getattr(s.node, "col_offset", 0)))

    def _call_site(self, call: ast.Call, scope: Scope) -> None:
        func = call.func
        fn = self.function_of(call)
        stmt = self.model.statement_of(call)
        if fn is None or stmt is None or not isinstance(func, ast.Attribute):
            return
        kind = self.connection_kind(func.value, scope)
        if kind is not None:
            self._method_site(call, func.attr, fn, stmt, kind)
        elif func.attr in STORE_METHODS | UNDO_METHODS and self._passes_connection(call, scope):
            what = "register" if func.attr in STORE_METHODS else "unregister"
            self.sites.append(Site(what, call, fn, stmt, "", func.attr))

    def _method_site(self, call: ast.Call, method: str, fn: Scope, stmt: ast.stmt, kind: str) -> None:
        """``conn.<method>(...)``: an accept, a receive or a send."""
        if method == "accept" and kind in ACCEPT_KINDS:
            self.sites.append(Site("accept", call, fn, stmt, kind, "accept"))
        elif method in RECEIVE_METHODS.get(kind, {}):
            self.sites.append(self._receive(call, fn, stmt, kind, method))
        elif method in SEND_METHODS.get(kind, ()):
            self.sites.append(Site("send", call, fn, stmt, kind, method))

    def _passes_connection(self, call: ast.Call, scope: Scope) -> bool:
        return any(self.is_connection(a, scope) for a in [*call.args, *(k.value for k in call.keywords)])

    def _receive(self, call: ast.Call, fn: Scope, stmt: ast.stmt, kind: str, method: str) -> Receive:
        mode = RECEIVE_METHODS[kind][method]
        if method == "receive_json":
            arg = call.args[0] if call.args else _keyword(call, "mode")
            if isinstance(arg, ast.Constant) and arg.value == "binary":
                mode = "json-binary"
        holder, awaited = self.message_holder(call)
        target, loop = self._received_into(holder, call)
        return Receive("receive", call, fn, stmt, kind, method, mode=mode, holder=holder, target=target,
                       loop=loop, awaited=awaited)

    def message_holder(self, call: ast.Call) -> tuple[ast.expr, bool]:
        """The expression whose value is what ``call`` receives: its ``await``, or the ``await``
        of a wrapper it is the first argument of (``await asyncio.wait_for(ws.receive_json(), 5)``)."""
        holder: ast.expr = call
        parent = self.parent(holder)
        if isinstance(parent, ast.Call) and parent.args and parent.args[0] is holder and self._qualified(
                parent.func, self.model.scope_of(parent)) in AWAIT_WRAPPERS:
            holder = parent
            parent = self.parent(holder)
        if isinstance(parent, ast.Await):
            return parent, True
        return holder, False

    def _received_into(self, holder: ast.expr, call: ast.Call) -> tuple[str | None, ast.AST | None]:
        up = self.parent(holder)
        loop = self.enclosing_loop(call)
        if isinstance(up, (ast.For, ast.AsyncFor)) and up.iter is holder:
            return (up.target.id if isinstance(up.target, ast.Name) else None), up
        if isinstance(up, ast.Assign) and len(up.targets) == 1 and isinstance(up.targets[0], ast.Name):
            return up.targets[0].id, loop
        if isinstance(up, (ast.AnnAssign, ast.NamedExpr)) and isinstance(up.target, ast.Name):
            return up.target.id, loop
        return None, loop

    def enclosing_loop(self, node: ast.AST) -> ast.AST | None:
        """The innermost ``for``/``while`` around ``node`` in its function."""
        current = self.parent(node)
        while current is not None:
            if isinstance(current, (ast.For, ast.AsyncFor, ast.While)):
                return current
            if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                return None
            current = self.parent(current)
        return None

    def _iteration_site(self, node: ast.For | ast.AsyncFor, fn: Scope) -> None:
        """``async for message in websocket``: iterating a connection receives."""
        kind = self.connection_kind(node.iter, fn)
        if kind not in ("websockets", "asgi"):
            return
        target = node.target.id if isinstance(node.target, ast.Name) else None
        self.sites.append(Receive("receive", node, fn, node, kind, "async for", target=target, loop=node))

    def _callback_sites(self, ep: Endpoint) -> None:
        cls = self.model.scopes.defined_by(ep.node)
        spec = self.class_kind(cls) if cls is not None and cls.kind == "class" else None
        for method, index, mode in spec.callbacks if spec is not None else ():
            fn = ep.methods.get(method)
            param = _positional(fn, index) if fn is not None else None
            if fn is not None and param is not None:
                self.sites.append(Receive("receive", fn.node, fn, fn.node, ep.kind, method, mode=mode,  # type: ignore[arg-type]
                                          target=param, callback=True))

    def of_kind(self, kind: str) -> list[Site]:
        return [s for s in self.sites if s.kind == kind]

    @property
    def receives(self) -> list[Receive]:
        return [s for s in self.sites if isinstance(s, Receive)]

    def accepts_reached(self, fn: Scope, depth: int = 4) -> list[tuple[Site, tuple[ast.Call, ...]]]:
        """Accepts in ``fn`` and in the same-module functions it hands a connection to (through
        the calls in the chain, outermost first)."""
        out: list[tuple[Site, tuple[ast.Call, ...]]] = []
        todo: list[tuple[Scope, tuple[ast.Call, ...]]] = [(fn, ())]
        seen = {id(fn)}
        while todo:
            current, chain = todo.pop(0)
            out.extend((s, chain) for s in self.sites if s.kind == "accept" and s.function is current)
            if len(chain) < depth:
                for call, callee in self._connection_calls(current):
                    if id(callee) not in seen:
                        seen.add(id(callee))
                        todo.append((callee, (*chain, call)))
        return out

    def _connection_calls(self, fn: Scope) -> Iterator[tuple[ast.Call, Scope]]:
        """The calls of ``fn`` that hand a connection to a same-module function, with that function."""
        for call, scope in self.calls_in(fn):
            callee = self.resolve(call, scope)
            if callee is not None and self._passes_connection(call, scope):
                yield call, callee

    # -- message flow -------------------------------------------------------------------------------

    def uses_after(self, fn: Scope, name: str, after: ast.AST | None) -> Iterator[ast.Name]:
        """The ``name`` nodes read or bound in ``fn`` (nested lambdas/comprehensions included,
        nested defs not) past the end of ``after`` (every one when None), in source order."""
        end = (after.end_lineno, after.end_col_offset) if after is not None else (0, -1)  # type: ignore[attr-defined]
        inside = {id(n) for n in ast.walk(after)} if after is not None else set()
        found = [
            n for n in own_nodes(fn.node)
            if isinstance(n, ast.Name) and n.id == name and id(n) not in inside
            and (n.lineno, n.col_offset) >= end  # type: ignore[operator]
        ]
        found.sort(key=lambda n: (n.lineno, n.col_offset))
        yield from found


def _positional(fn: Scope, index: int) -> str | None:
    node = fn.node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    params = [*node.args.posonlyargs, *node.args.args]
    return params[index].arg if len(params) > index else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    """``id(child) -> parent`` as ``ast.walk`` + ``ast.iter_child_nodes`` give it (breadth first,
    so a shared leaf such as ``Load()`` keeps the same last parent), without their generators
    (they cost a third of the model)."""
    parents: dict[int, ast.AST] = {}
    todo: deque[ast.AST] = deque([tree])
    while todo:
        node = todo.popleft()
        kind = type(node)
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = kind._fields
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for child in value:
                    if isinstance(child, ast.AST):
                        parents[id(child)] = node
                        todo.append(child)
            elif isinstance(value, ast.AST):
                parents[id(value)] = node
                todo.append(value)
    return parents


def _own_statements(fn: ast.AST) -> Iterator[ast.AST]:
    return (n for n in own_nodes(fn) if isinstance(n, ast.stmt))
