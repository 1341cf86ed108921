"""Where a WebSocket endpoint registers its connection, on Python's ``ast`` (WS104's facts).

``Registrations`` (``analyses(Registrations)``) follows each endpoint's connection from the
handler into the same-module functions it is handed to by name (``Flow``: the function, the
connection's name there, the calls that lead there) and records, per endpoint:

- **registrations** (``Registration``): ``reg[k] = ws`` (also inside a tuple/list/dict display),
  ``coll.add(ws)``/``.append(ws)``/... (``STORE_METHODS``), joins (``group_add``/``enter_room``
  with the connection; in a Channels consumer any ``group_add``, also through
  ``async_to_sync(layer.group_add)(...)``), a call of a same-module function whose body stores
  the parameter the connection binds to (decided from the callee, never from its name; a
  constructor call is no registration), and wrappers: ``session = Session(ws, ...)`` with
  ``Session`` a class of this module, then ``sessions.append(session)`` / ``reg[k] = session``;
- **receive points**: reads from the connection (``receive_*``/``iter_*``/``recv``, ``async for
  message in ws``) with the call chain that leads to them and the loop around them.

Each registration carries its ``anchor``: the statement of the endpoint's handler that holds it
or the call leading to it (where the handler "registers").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.scopes import Scope
from wsrefactor.semantic.server import (
    SOCKETIO_SERVERS,
    STORE_METHODS,
    Endpoint,
    ServerModel,
)
from wsrefactor.semantic.summary import REGISTER, UNREGISTER, ProjectCalls

#: Channels / socket.io "join a group/room" calls (the frameworks' API names).
JOIN_METHODS = frozenset({"group_add", "enter_room"})
#: What a join's receiver may be known to hold: a socket.io server, a Channels layer.
JOIN_RECEIVERS = SOCKETIO_SERVERS | frozenset({
    "channels.layers.get_channel_layer", "channels.layers.BaseChannelLayer", "channels.layers.InMemoryChannelLayer",
    "channels_redis.core.RedisChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer",
})
ASYNC_TO_SYNC = frozenset({"asgiref.sync.async_to_sync", "channels.db.async_to_sync"})
#: Receive methods of a function endpoint's connection, by endpoint kind.
RECEIVE_METHODS = {
    "asgi": frozenset({"receive_text", "receive_bytes", "receive_json", "receive", "iter_text", "iter_bytes",
                       "iter_json"}),
    "websockets": frozenset({"recv"}),
}
FUNCTION_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass(frozen=True, eq=False)
class Flow:
    """The connection reaching ``function`` (a def) as ``name``, through the calls ``chain``."""

    function: ast.FunctionDef | ast.AsyncFunctionDef
    name: str
    chain: tuple[ast.Call, ...]


@dataclass(eq=False)
class Registration:
    """A connection stored somewhere. ``kind``: ``setitem``, ``store``, ``call`` (a same-module
    callee stores it), ``join``; ``node``: the ``Assign`` (setitem) or the call; ``function``: the
    def it is written in; ``via``: the calls from the handler to it; ``anchor``: the handler's
    statement holding it (or ``via[0]``); ``container``: the container / receiver expression."""

    kind: str
    node: ast.AST
    function: ast.FunctionDef | ast.AsyncFunctionDef
    name: str
    via: tuple[ast.Call, ...] = ()
    anchor: ast.stmt | None = None
    container: ast.expr | None = None

    @property
    def method(self) -> str:
        """The registration's name for pairing it with its undo (``__setitem__`` for ``reg[k] = ws``)."""
        if self.kind == "setitem":
            return "__setitem__"
        return callee_name(self.node)[0] or "" if isinstance(self.node, ast.Call) else ""

    @property
    def receiver(self) -> str | None:
        if self.kind == "setitem":
            return last_name(self.container)
        return callee_name(self.node)[1] if isinstance(self.node, ast.Call) else None


@dataclass(eq=False)
class ReceivePoint:
    """A read of the connection: ``node`` (the call or the ``for``), ``via`` the calls leading
    to its function from the handler, ``loop`` the innermost loop around it there."""

    node: ast.AST
    via: tuple[ast.Call, ...]
    loop: ast.AST | None


@dataclass(eq=False)
class EndpointRegistrations:
    endpoint: Endpoint
    handler: ast.FunctionDef | ast.AsyncFunctionDef | None  # function kinds: the endpoint function
    flows: list[Flow] = field(default_factory=list)
    writes: list[Registration] = field(default_factory=list)
    receives: list[ReceivePoint] = field(default_factory=list)


def last_name(expr: ast.AST | None) -> str | None:
    """The last name of ``a.b.c`` / ``a.b[k]`` (``c`` / ``b``); None for anything else."""
    if isinstance(expr, ast.Subscript):
        expr = expr.value
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else None


def callee_name(call: ast.Call) -> tuple[str | None, str | None]:
    """(name, receiver's last name) of a call; looks through ``async_to_sync(x.m)(...)``."""
    func = call.func
    if isinstance(func, ast.Call) and func.args:
        func = func.args[0]
    if isinstance(func, ast.Attribute):
        return func.attr, last_name(func.value)
    return (func.id, None) if isinstance(func, ast.Name) else (None, None)


def call_arguments(call: ast.Call) -> list[ast.expr]:
    """Positional and keyword argument values (``*args``/``**kw`` as written)."""
    return [*call.args, *(k.value for k in call.keywords)]


def _named(expr: ast.AST | None, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def mentions(value: ast.AST | None, name: str) -> bool:
    """``name`` itself, or an element of a tuple/list display or a value of a dict display."""
    if _named(value, name):
        return True
    if isinstance(value, (ast.Tuple, ast.List)):
        return any(_named(e, name) for e in value.elts)
    return isinstance(value, ast.Dict) and any(_named(v, name) for v in value.values)


def walk_own(root: ast.AST, *, into_defs: bool = False) -> Iterator[ast.AST]:
    """Every node below ``root`` in source order; without ``into_defs`` nested defs, classes and
    lambdas are yielded but not entered."""
    stack = list(reversed(list(ast.iter_child_nodes(root))))
    while stack:
        node = stack.pop()
        yield node
        if into_defs or not isinstance(node, _NESTED):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _first_parameter(node: ast.AST) -> str | None:
    if not isinstance(node, FUNCTION_DEFS):
        return None
    params = [*node.args.posonlyargs, *node.args.args]
    return params[0].arg if params else None


def _assigns_into(node: ast.Assign, name: str) -> bool:
    """``obj[key] = name`` / ``obj.attr = name`` (also inside a tuple/list/dict display)."""
    return mentions(node.value, name) and any(isinstance(t, (ast.Subscript, ast.Attribute)) for t in node.targets)


def _wrapper_store(node: ast.AST, names: set[str]) -> tuple[str, ast.expr, str] | None:
    """(kind, container, wrapper name) when ``node`` stores one of ``names``:
    ``coll.append(w)``/``.add(w)``... or ``reg[k] = w``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STORE_METHODS:
        name = next((a.id for a in call_arguments(node) if isinstance(a, ast.Name) and a.id in names), None)
        return ("store", node.func.value, name) if name is not None else None
    return _wrapper_setitem(node, names) if isinstance(node, ast.Assign) else None


def _wrapper_setitem(node: ast.Assign, names: set[str]) -> tuple[str, ast.expr, str] | None:
    if not (isinstance(node.value, ast.Name) and node.value.id in names):
        return None
    sub = next((t for t in node.targets if isinstance(t, ast.Subscript)), None)
    return ("setitem", sub.value, node.value.id) if sub is not None else None


def binds_param(node: ast.AST, name: str) -> bool:
    """``node`` is a def or lambda with a parameter ``name`` (it shadows an outer ``name``)."""
    if not isinstance(node, (*FUNCTION_DEFS, ast.Lambda)):
        return False
    a = node.args
    params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *(p for p in (a.vararg, a.kwarg) if p is not None)]
    return any(p.arg == name for p in params)


class Registrations:
    """Registrations and receive points of every endpoint of one module."""

    def __init__(self, analyses: Analyses) -> None:
        self.server: ServerModel = analyses(ServerModel)
        self.model: SemanticModel = analyses(SemanticModel)
        self.calls: ProjectCalls | None = analyses(ProjectCalls) if analyses.facts.callees else None
        self._flows: dict[tuple[int, str], list[Flow]] = {}
        self._stores: dict[tuple[int, str, int], bool] = {}
        self.endpoints = [self._endpoint(ep) for ep in self.server.endpoints]

    @classmethod
    def compute(cls, analyses: Analyses) -> Registrations:
        return cls(analyses)

    # -- structure ----------------------------------------------------------------------------

    def def_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The innermost ``def`` strictly around ``node`` (through lambdas)."""
        current = self.server.parent(node)
        while current is not None and not isinstance(current, FUNCTION_DEFS):
            current = self.server.parent(current)
        return current

    def statement_in(self, node: ast.AST, func: ast.AST) -> ast.stmt | None:
        """The innermost statement holding ``node`` that belongs to ``func``'s own body."""
        current: ast.AST | None = node
        while current is not None:
            if isinstance(current, ast.stmt) and self.def_of(current) is func:
                return current
            current = self.server.parent(current)
        return None

    def scope(self, func: ast.AST) -> Scope | None:
        return self.model.scopes.defined_by(func)

    def resolve(self, call: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The same-module def ``call`` runs (a constructor call is not followed)."""
        found = self.server.resolve(call, self.model.scope_of(call))
        node = found.node if found is not None else None
        if not isinstance(node, FUNCTION_DEFS) or node.name == "__init__":
            return None
        return node

    def bound_parameter(self, call: ast.Call, callee: ast.AST, arg: ast.expr) -> str | None:
        scope = self.scope(callee)
        return self.server.bound_parameter(call, scope, arg) if scope is not None else None

    # -- flows --------------------------------------------------------------------------------

    def flows(self, func: ast.FunctionDef | ast.AsyncFunctionDef, name: str, depth: int = 4) -> list[Flow]:
        """``func`` itself and every same-module function the connection named ``name`` is passed
        to by name (``self`` into ``self.m()``), ``depth`` calls deep."""
        key = (id(func), name)
        if key in self._flows:
            return self._flows[key]
        out = [Flow(func, name, ())]
        frontier = list(out)
        seen = {id(func)}
        for _ in range(depth):
            nxt = []
            for flow in frontier:
                for call, callee, bound in self._passes(flow):
                    if id(callee) not in seen:
                        seen.add(id(callee))
                        item = Flow(callee, bound, (*flow.chain, call))
                        out.append(item)
                        nxt.append(item)
            frontier = nxt
        self._flows[key] = out
        return out

    def _passes(self, flow: Flow) -> Iterator[tuple[ast.Call, ast.FunctionDef | ast.AsyncFunctionDef, str]]:
        for node in walk_own(flow.function, into_defs=True):
            if not isinstance(node, ast.Call):
                continue
            callee = self.resolve(node)
            bound = self._bound(flow, node, callee) if callee is not None and callee is not flow.function else None
            if callee is not None and bound is not None:
                yield node, callee, bound

    def _bound(self, flow: Flow, call: ast.Call, callee: ast.AST) -> str | None:
        """The parameter of ``callee`` the connection binds to (``self`` through ``self.m()``)."""
        arg = next((a for a in call_arguments(call) if _named(a, flow.name)), None)
        if arg is not None:
            return self.bound_parameter(call, callee, arg)
        if flow.name == "self" and self._is_method(callee) and isinstance(call.func, ast.Attribute) \
                and _named(call.func.value, "self"):
            return "self"
        return None

    def _is_method(self, func: ast.AST) -> bool:
        scope = self.scope(func)
        return scope is not None and scope.parent is not None and scope.parent.kind == "class"

    def _in_scope(self, flow: Flow, node: ast.AST) -> bool:
        """The connection's name means the connection at ``node``: a nested def or lambda with a
        parameter of that name is another scope."""
        current = self.server.parent(node)
        while current is not None and current is not flow.function:
            if binds_param(current, flow.name):
                return False
            current = self.server.parent(current)
        return True

    # -- per endpoint -------------------------------------------------------------------------

    def roots(self, ep: Endpoint) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
        """Where the connection enters: the handler's connection parameter (function kinds and
        ``WebSocketEndpoint`` methods), ``self`` (tornado, Channels), the sid (socket.io)."""
        if ep.kind in ("tornado", "channels"):
            pairs = [(h, h.self_name or "self") for h in ep.handlers]
        elif ep.kind == "socketio":
            pairs = [(h, _first_parameter(h.node) or "") for h in ep.handlers]
        else:
            pairs = list(ep.roots)
        return [(fn.node, name) for fn, name in pairs if isinstance(fn.node, FUNCTION_DEFS) and name]

    def _endpoint(self, ep: Endpoint) -> EndpointRegistrations:
        handler = ep.node if ep.kind in ("asgi", "websockets") and isinstance(ep.node, FUNCTION_DEFS) else None
        found = EndpointRegistrations(ep, handler)
        for root, name in self.roots(ep):
            for flow in self.flows(root, name):
                found.flows.append(flow)
                self._scan(found, root, flow)
                if handler is not None:
                    self._wrappers(found, root, flow)
        if ep.kind == "channels":
            self._async_to_sync_joins(found)
        return found

    def _anchor(self, root: ast.AST, flow: Flow, node: ast.AST) -> ast.stmt | None:
        return self.statement_in(flow.chain[0] if flow.chain else node, root)

    def _record(self, found: EndpointRegistrations, root: ast.AST, flow: Flow, node: ast.AST, kind: str,
                container: ast.expr | None, name: str | None = None) -> None:
        found.writes.append(Registration(kind, node, flow.function, name or flow.name, flow.chain,
                                         self._anchor(root, flow, node), container))

    def _scan(self, found: EndpointRegistrations, root: ast.AST, flow: Flow) -> None:
        kind = found.endpoint.kind
        for node in walk_own(flow.function, into_defs=True):
            if not isinstance(node, (ast.Call, ast.Assign, ast.For, ast.AsyncFor)) or not self._in_scope(flow, node):
                continue
            if isinstance(node, ast.Assign):
                self._scan_assign(found, root, flow, node)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                if _named(node.iter, flow.name) and flow.name != "self" and found.handler is not None:
                    found.receives.append(ReceivePoint(node, flow.chain, node))
            else:
                self._scan_call(found, root, flow, node, kind)

    def _scan_assign(self, found: EndpointRegistrations, root: ast.AST, flow: Flow, node: ast.Assign) -> None:
        """``reg[k] = ws`` (also inside a tuple/list/dict display)."""
        if mentions(node.value, flow.name):
            for t in node.targets:
                if isinstance(t, ast.Subscript):
                    self._record(found, root, flow, node, "setitem", t.value)

    def _scan_call(self, found: EndpointRegistrations, root: ast.AST, flow: Flow, node: ast.Call, kind: str) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and _named(func.value, flow.name):
            self._scan_receive(found, flow, node, func.attr)
            return
        method = func.attr if isinstance(func, ast.Attribute) else None
        container = func.value if isinstance(func, ast.Attribute) else None
        if any(_named(a, flow.name) for a in call_arguments(node)):
            what = self._argument_write(node, method, flow.name)
            if what is not None:
                self._record(found, root, flow, node, what, container)
        elif kind == "channels" and method == "group_add":
            self._record(found, root, flow, node, "join", container)

    def _scan_receive(self, found: EndpointRegistrations, flow: Flow, node: ast.Call, method: str) -> None:
        """``ws.receive_text()``/``ws.recv()``... on a function endpoint's connection."""
        if found.handler is not None and method in RECEIVE_METHODS.get(found.endpoint.kind, ()):
            found.receives.append(ReceivePoint(node, flow.chain, self.server.enclosing_loop(node)))

    def _argument_write(self, node: ast.Call, method: str | None, name: str) -> str | None:
        """What handing ``name`` to ``node`` is: a store, a join, a storing callee, or nothing."""
        if method in STORE_METHODS:
            return "store"
        if method in JOIN_METHODS and self._framework_join(node):
            return "join"
        return "call" if self._registers(node, name) else None

    def _framework_join(self, call: ast.Call) -> bool:
        """``x.group_add(...)``/``x.enter_room(...)`` is the framework's join unless ``x`` is known
        to hold something else (a class of this module: its body decides, as for any callee)."""
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if not isinstance(receiver, (ast.Name, ast.Attribute)):
            return True
        known = self.model.type_of(receiver, self.model.scope_of(call))
        return known is None or known in JOIN_RECEIVERS

    def _registers(self, call: ast.Call, name: str) -> bool:
        """``call`` hands ``name`` to a same-module function that stores it, or to another
        module's callable that registers it and never unregisters it (``project_registers``)."""
        callee = self.resolve(call)
        arg = next((a for a in call_arguments(call) if _named(a, name)), None)
        if arg is None:
            return False
        if callee is None:
            return self.project_registers(call, arg)
        return self.stores_parameter(callee, self.bound_parameter(call, callee, arg))

    def project_registers(self, call: ast.Call, arg: ast.expr) -> bool:
        """``call`` hands ``arg`` to a callable of another module that registers it (directly or
        through its own callees, ``analyses.facts``) and does not unregister it itself: one that
        does both (``try: reg.append(ws) ... finally: reg.remove(ws)``) cleans up after itself,
        and without the callee's body nothing is decided by name."""
        if self.calls is None:
            return False
        effects = self.calls.effects(call, self.model.scope_of(call), arg)
        return REGISTER in effects and UNREGISTER not in effects

    def project_unregisters(self, call: ast.Call) -> bool:
        """``call`` hands one of its arguments to another module's callable that unregisters it."""
        if self.calls is None:
            return False
        scope = self.model.scope_of(call)
        return any(UNREGISTER in self.calls.effects(call, scope, a) for a in call_arguments(call))

    def project_callee(self, call: ast.Call) -> bool:
        """``call`` reaches a callable of another module whose body the facts summarize."""
        return self.calls is not None and self.calls.callee(call, self.model.scope_of(call)) is not None

    def stores_parameter(self, func: ast.FunctionDef | ast.AsyncFunctionDef, name: str | None,
                         depth: int = 3) -> bool:
        """``func`` stores its parameter ``name`` (an item/attribute assignment of it, a container
        store or join with it, or a same-module callee that stores it in turn)."""
        if name is None or depth == 0:
            return False
        key = (id(func), name, depth)
        if key not in self._stores:
            self._stores[key] = False
            self._stores[key] = any(self._stores_at(func, node, name, depth)
                                    for node in walk_own(func, into_defs=True))
        return self._stores[key]

    def _stores_at(self, func: ast.AST, node: ast.AST, name: str, depth: int) -> bool:
        if isinstance(node, ast.Assign):
            return _assigns_into(node, name)
        if not isinstance(node, ast.Call):
            return False
        arg = next((a for a in call_arguments(node) if _named(a, name)), None)
        if arg is None:
            return False
        if isinstance(node.func, ast.Attribute) and node.func.attr in STORE_METHODS | JOIN_METHODS:
            return True
        return self._callee_stores(func, node, arg, depth)

    def _callee_stores(self, func: ast.AST, node: ast.Call, arg: ast.expr, depth: int) -> bool:
        callee = self.resolve(node)
        if callee is None:
            return self.project_registers(node, arg)
        return callee is not None and callee is not func and self.stores_parameter(
            callee, self.bound_parameter(node, callee, arg), depth - 1)

    def _wrappers(self, found: EndpointRegistrations, root: ast.AST, flow: Flow) -> None:
        """``session = Session(ws, ...)`` (a class of this module built with the connection among
        its arguments), then ``sessions.append(session)`` / ``by_name[k] = session``."""
        names = self._wrapper_names(flow)
        for node in walk_own(flow.function) if names else ():
            stored = _wrapper_store(node, names)
            if stored is not None:
                kind, container, name = stored
                self._record(found, root, flow, node, kind, container, name)

    def _wrapper_names(self, flow: Flow) -> set[str]:
        classes = self.model.classes()
        out = set()
        for node in walk_own(flow.function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = node.value
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in classes \
                        and any(_named(a, flow.name) for a in call_arguments(value)):
                    out.add(node.targets[0].id)
        return out

    def _async_to_sync_joins(self, found: EndpointRegistrations) -> None:
        """Sync consumers: ``async_to_sync(self.channel_layer.group_add)(...)``."""
        for handler in found.endpoint.handlers:
            func = handler.node
            if not isinstance(func, FUNCTION_DEFS):
                continue
            for node in walk_own(func):
                inner = node.func if isinstance(node, ast.Call) else None
                if not (isinstance(inner, ast.Call) and inner.args):
                    continue
                q = self.model.qualified_name(inner.func, self.model.scope_of(inner))
                if q in ASYNC_TO_SYNC and last_name(inner.args[0]) == "group_add":
                    stmt = self.model.statement_of(node)
                    found.writes.append(Registration("join", node, func, "self", (), stmt, inner.args[0]))
