"""The ``ast`` twin of the endpoint discovery in ``rules/_endpoints.py``, for the ``wants`` of the
endpoint rules (WS101-WS104): which endpoints, ``serve()`` calls, socketio servers and Channels
routers the libcst model *may* find in a file.

It follows the model's discovery rules one by one (see ``EndpointModel._find_endpoints``) but only
ever over-approximates them: every binding of an imported name instead of the last one, every
module-level def/class of a name instead of the last one, every endpoint kind a class's bases may
give. Everything the model recognises is reached through a framework import (an app constructor,
a ``WebSocket`` annotation, a base class, ``serve``, a socketio server, ``ProtocolTypeRouter``),
so a file importing none of those names stops at the first check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from wsrefactor.rules._endpoints import (
    ASGI_APP_CTORS,
    CHANNELS_CONSUMERS,
    CHANNELS_ROUTER,
    SOCKETIO_SERVERS,
    TORNADO_HANDLER,
    WEBSOCKET_ENDPOINT,
    WEBSOCKET_ROUTE,
    WEBSOCKET_TYPES,
    WEBSOCKETS_SERVE,
)
from wsrefactor.rules._prefilter import (
    AstImports,
    index,
    module_level_stmts,
    per_tree,
    prefixes,
)

_Func = ast.FunctionDef | ast.AsyncFunctionDef

#: Base classes that make a subclass an endpoint, by kind (``_CLASS_KINDS`` of the model), with
#: the protocol methods the model takes as the endpoint's handlers.
CLASS_KINDS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    ("asgi-class", WEBSOCKET_ENDPOINT, ("on_connect", "on_receive", "on_disconnect")),
    ("tornado", TORNADO_HANDLER,
     ("check_origin", "open", "on_message", "on_close", "select_subprotocol", "get_compression_options")),
    ("channels", CHANNELS_CONSUMERS,
     ("connect", "receive", "receive_json", "disconnect", "websocket_connect", "websocket_receive")),
)
_DISCOVERY = (
    ASGI_APP_CTORS | WEBSOCKET_TYPES | WEBSOCKET_ROUTE | WEBSOCKETS_SERVE | SOCKETIO_SERVERS | CHANNELS_ROUTER
    | frozenset().union(*(bases for _, bases, _ in CLASS_KINDS))
)
#: Every dotted prefix of a name the discovery resolves: an import binding none of these cannot
#: take part in finding an endpoint.
_PREFIXES = prefixes(_DISCOVERY)
_ROUTE_METHODS = ("add_api_websocket_route", "add_websocket_route")


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------


def imports_of(tree: ast.Module) -> AstImports:
    return index(tree).imports


# --------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------


def positional(call: ast.Call, i: int) -> ast.expr | None:
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    return plain[i] if i < len(plain) else None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _name(expr: ast.AST) -> str | None:
    return expr.id if isinstance(expr, ast.Name) else None


def str_value(expr: ast.AST | None) -> str | None:
    return expr.value if isinstance(expr, ast.Constant) and isinstance(expr.value, str) else None


def params(func: _Func) -> list[ast.arg]:
    """Positional-only, plain and keyword-only parameters (the model's ``params_of``)."""
    a = func.args
    return [*a.posonlyargs, *a.args, *a.kwonlyargs]


def positional_param(func: _Func, i: int) -> str | None:
    plain = [*func.args.posonlyargs, *func.args.args]
    return plain[i].arg if i < len(plain) else None


# --------------------------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class AstEndpoint:
    """One endpoint the model may find: ``kind`` as in ``Endpoint.kind``; ``roots`` the
    (function, websocket name there) pairs its analysis starts from; ``cls`` for class kinds."""

    kind: str
    roots: list[tuple[_Func, str]] = field(default_factory=list)
    cls: ast.ClassDef | None = None


@dataclass(eq=False)
class EndpointFacts:
    """What the model may find in one file."""

    imports: AstImports
    functions: dict[str, list[_Func]]
    classes: dict[str, list[ast.ClassDef]]
    module_assigns: dict[str, list[ast.expr]]
    endpoints: list[AstEndpoint] = field(default_factory=list)
    serve_calls: list[ast.Call] = field(default_factory=list)
    socketio_servers: list[ast.Call] = field(default_factory=list)
    channels_routers: list[ast.Call] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {ep.kind for ep in self.endpoints}

    def of_kind(self, *kinds: str) -> list[AstEndpoint]:
        return [ep for ep in self.endpoints if ep.kind in kinds]


def endpoint_facts(tree: ast.Module) -> EndpointFacts | None:
    """The endpoints etc. of ``tree`` (memoised per tree); None when no import can lead to one
    (most files: they stop here)."""
    return per_tree(_facts, tree)


def _facts(tree: ast.Module) -> EndpointFacts | None:
    imports = imports_of(tree)
    if not imports.binds_any(_PREFIXES):
        return None
    found = _Discovery(tree, imports)
    found.run()
    return found.facts


class _Discovery:
    """``EndpointModel._index_module`` and ``_find_endpoints`` on ``ast``."""

    def __init__(self, tree: ast.Module, imports: AstImports) -> None:
        self.tree = tree
        self.imports = imports
        self.facts = EndpointFacts(imports, {}, {}, {})
        self.app_names: set[str] = set()
        self.sio_names: set[str] = set()

    def run(self) -> None:
        self._index_module()
        idx = index(self.tree)
        for func in idx.nodes(ast.FunctionDef, ast.AsyncFunctionDef):
            for dec in func.decorator_list:
                self._decorator(func, dec)
        for cls in idx.nodes(ast.ClassDef):
            self._class(cls)
        for call in idx.nodes(ast.Call):
            self._registration_call(call)

    # -- module index -------------------------------------------------------------------------

    def _index_module(self) -> None:
        facts = self.facts
        for stmt in module_level_stmts(self.tree):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                facts.functions.setdefault(stmt.name, []).append(stmt)
            elif isinstance(stmt, ast.ClassDef):
                facts.classes.setdefault(stmt.name, []).append(stmt)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self._bind(target.id, stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                self._bind(stmt.target.id, stmt.value)

    def _bind(self, name: str, value: ast.expr) -> None:
        self.facts.module_assigns.setdefault(name, []).append(value)
        if not isinstance(value, ast.Call):
            return
        qualified = self.imports.resolve(value.func)
        if not qualified.isdisjoint(ASGI_APP_CTORS):
            self.app_names.add(name)
        if not qualified.isdisjoint(SOCKETIO_SERVERS):
            self.sio_names.add(name)
            self.facts.socketio_servers.append(value)

    def func_target(self, expr: ast.AST | None) -> list[_Func]:
        """The model's ``_func_target``: a module function named by a bare (non-imported) name."""
        if isinstance(expr, ast.Name) and expr.id not in self.imports.aliases:
            return self.facts.functions.get(expr.id, [])
        return []

    def websocket_param(self, func: _Func) -> str | None:
        for p in params(func):
            if p.annotation is not None and self.imports.may_be(p.annotation, WEBSOCKET_TYPES):
                return p.arg
        return None

    # -- function endpoints -------------------------------------------------------------------

    def _function_endpoint(self, kind: str, func: _Func, ws: str | None) -> None:
        ep = AstEndpoint(kind, [(func, ws)] if ws else [])
        self.facts.endpoints.append(ep)

    def _asgi(self, func: _Func) -> None:
        self._function_endpoint("asgi", func, self.websocket_param(func) or positional_param(func, 0))

    def _decorator(self, func: _Func, dec: ast.expr) -> None:
        """``@app.websocket(path)`` / ``@app.websocket_route(path)``, ``@sio.event``, ``@sio.on(...)``."""
        call = dec if isinstance(dec, ast.Call) else None
        attr = call.func if call is not None else dec
        if not isinstance(attr, ast.Attribute):
            return
        recv = _name(attr.value)
        if attr.attr in ("websocket", "websocket_route") and call is not None:
            if recv in self.app_names or self.websocket_param(func) is not None:
                self._asgi(func)
        elif recv in self.sio_names and _sio_decorator(attr.attr, call):
            self._socketio(func)

    def _socketio(self, func: _Func) -> None:
        ws = positional_param(func, 0)
        self.facts.endpoints.append(AstEndpoint("socketio", [(func, ws)] if ws else []))

    # -- class endpoints ------------------------------------------------------------------------

    def _class(self, cls: ast.ClassDef) -> None:
        bases = self.class_bases(cls)
        for kind, kind_bases, protocol in CLASS_KINDS:
            if bases.isdisjoint(kind_bases):
                continue
            methods = self.methods_of(cls)
            ep = AstEndpoint(kind, cls=cls)
            for func in (f for name in protocol for f in methods.get(name, ())):
                ws = "self" if kind != "asgi-class" else positional_param(func, 1)
                if ws:
                    ep.roots.append((func, ws))
            self.facts.endpoints.append(ep)

    def _base_classes(self, cls: ast.ClassDef, *, through_imports: bool) -> Iterator[tuple[ast.expr, list[ast.ClassDef]]]:
        for base in cls.bases:
            expr = base.value if isinstance(base, ast.Starred) else base
            name = _name(expr)
            local = self.facts.classes.get(name, []) if name else []
            if local and (through_imports or name not in self.imports.aliases):
                yield expr, local
            else:
                yield expr, []

    def class_bases(self, cls: ast.ClassDef) -> set[str]:
        """Qualified names of the imported bases, through same-module classes (``class_bases``)."""
        out: set[str] = set()
        for c in self._lineage(cls, through_imports=False):
            for expr, local in self._base_classes(c, through_imports=False):
                if not local:
                    out |= self.imports.resolve(expr)
        return out

    def _lineage(self, cls: ast.ClassDef, through_imports: bool) -> Iterator[ast.ClassDef]:
        """``cls`` and its same-module bases, each once (cycles of rebound names included)."""
        stack, seen = [cls], set()
        while stack:
            c = stack.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            yield c
            for _, local in self._base_classes(c, through_imports=through_imports):
                stack.extend(local)

    def methods_of(self, cls: ast.ClassDef) -> dict[str, list[_Func]]:
        """Methods by name, own and of same-module bases (every definition of a name)."""
        out: dict[str, list[_Func]] = {}
        for c in self._lineage(cls, through_imports=True):
            for stmt in c.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.setdefault(stmt.name, []).append(stmt)
        return out

    # -- registration calls -----------------------------------------------------------------

    def _registration_call(self, call: ast.Call) -> None:
        qualified = self.imports.resolve(call.func)
        if not qualified.isdisjoint(WEBSOCKETS_SERVE):
            self._serve_call(call)
        if not qualified.isdisjoint(WEBSOCKET_ROUTE):
            for func in self.func_target(positional(call, 1) or keyword(call, "endpoint")):
                self._asgi(func)
        if not qualified.isdisjoint(CHANNELS_ROUTER):
            self.facts.channels_routers.append(call)
        if isinstance(call.func, ast.Attribute):
            self._registration_method(call, call.func)

    def _serve_call(self, call: ast.Call) -> None:
        """``serve(handler, ...)``, the handler also seen through ``functools.partial(handler)``
        (any call's first argument, a superset)."""
        self.facts.serve_calls.append(call)
        first = positional(call, 0)
        candidates = [first, positional(first, 0) if isinstance(first, ast.Call) else None]
        for func in (f for expr in candidates for f in self.func_target(expr)):
            self._function_endpoint("websockets", func, positional_param(func, 0))

    def _registration_method(self, call: ast.Call, func: ast.Attribute) -> None:
        """``app.add_api_websocket_route(path, f)`` / ``add_websocket_route``, ``sio.on("ev", f)``."""
        recv = _name(func.value)
        if func.attr in _ROUTE_METHODS:
            target = positional(call, 1) or keyword(call, "endpoint") or keyword(call, "route")
            for fn in self.func_target(target):
                if recv in self.app_names or self.websocket_param(fn) is not None:
                    self._asgi(fn)
        elif func.attr == "on" and recv in self.sio_names:
            self._sio_on_call(call)

    def _sio_on_call(self, call: ast.Call) -> None:
        if str_value(positional(call, 0)):
            for fn in self.func_target(positional(call, 1) or keyword(call, "handler")):
                self._socketio(fn)


def _sio_decorator(method: str, call: ast.Call | None) -> bool:
    """``@sio.event`` (called or not), ``@sio.on("event")`` with a non-empty literal name."""
    if method == "event":
        return True
    return method == "on" and call is not None and bool(str_value(positional(call, 0)))


# --------------------------------------------------------------------------------------------
# where the analysis of an endpoint can look
# --------------------------------------------------------------------------------------------


def reached_functions(tree: ast.Module) -> list[_Func]:
    """Every function the model's per-endpoint analysis may scan: the roots of the endpoints and
    whatever they call that could be a same-module function, transitively (memoised per tree).

    The model follows the websocket into helpers (``ws_flow``, four calls deep), the helpers'
    helpers when asking whether they store it (``_stores_param``) and the rules follow a message
    or a check a few calls further: all of them only through calls ``resolve_call`` resolves, a
    bare name or ``name.method(...)``. Here any function or method of that name counts, at any
    depth (a superset)."""
    return per_tree(_reached, tree)


def _reached(tree: ast.Module) -> list[_Func]:
    facts = endpoint_facts(tree)
    if facts is None:
        return []
    by_name: dict[str, list[_Func]] = {}
    for func in index(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef):
        by_name.setdefault(func.name, []).append(func)
    todo = [func for ep in facts.endpoints for func, _ in ep.roots]
    seen: dict[int, _Func] = {}
    while todo:
        func = todo.pop()
        if id(func) in seen:
            continue
        seen[id(func)] = func
        for node in ast.walk(func):
            name = _callee_name(node)
            if name is not None:
                todo.extend(by_name.get(name, ()))
    return list(seen.values())


def _callee_name(node: ast.AST) -> str | None:
    """``f`` of ``f(...)`` / ``m`` of ``name.m(...)``: the calls ``resolve_call`` can resolve."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr
    return None


def reached_nodes(tree: ast.Module, kind: type) -> list[Any]:
    """The nodes of type ``kind`` inside the reached functions (nested defs included, as the
    model's ``walk`` of a function body enters them)."""
    return per_tree(_reached_nodes, tree, kind)


def _reached_nodes(tree: ast.Module, kind: type) -> list[Any]:
    seen: dict[int, ast.AST] = {}
    for func in reached_functions(tree):
        for node in ast.walk(func):
            if isinstance(node, kind):
                seen.setdefault(id(node), node)
    return list(seen.values())
