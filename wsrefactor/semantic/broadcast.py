"""Which values are WebSocket connections: the evidence a fan-out rule needs (WS203).

Decided from what a value is, never from what it is called:

- its **type**: an annotation or constructor naming a connection class (``WebSocket``,
  ``web.WebSocketResponse``...), also through container annotations (``dict[str, WebSocket]``
  read through ``.items()``, ``.values()``, ``[key]``);
- what is **done to it**: an awaited call of a connection-only API method
  (``send_text``/``send_json``/``send_bytes``/``send_str``, ``accept``...), or a send guarded by a
  WebSocket library's exception (``except ConnectionClosed``/``WebSocketDisconnect``);
- what a **callee does with it**: it is passed to a function of this module that sends on that
  parameter (or on an attribute of it: ``event.websocket.send_text``), through the ``CallGraph``;
- the **collection it comes from**: a collection connections are added to (``.append(ws)``,
  ``.add(ws)``, ``[key] = ws``) or whose elements are sent on as connections elsewhere.

This is deliberately small and local to a module; the server model of issue #11
(``wsrefactor/semantic/server.py``) is meant to replace it with connection values proper.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.callgraph import CallGraph
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.nodes import NodeIndex
from wsrefactor.semantic.scopes import Binding, Scope

# Connection classes of the frameworks (qualified as imported).
CONNECTION_TYPES = frozenset(
    """starlette.websockets.WebSocket fastapi.WebSocket fastapi.websockets.WebSocket
    aiohttp.web.WebSocketResponse aiohttp.web_ws.WebSocketResponse aiohttp.ClientWebSocketResponse
    websockets.WebSocketServerProtocol websockets.server.WebSocketServerProtocol
    websockets.legacy.server.WebSocketServerProtocol websockets.ServerConnection
    websockets.asyncio.server.ServerConnection websockets.asyncio.connection.Connection
    websockets.WebSocketCommonProtocol websockets.legacy.protocol.WebSocketCommonProtocol
    tornado.websocket.WebSocketHandler quart.websocket litestar.WebSocket
    sanic.Websocket sanic.server.websockets.impl.WebsocketImplProtocol""".split()
)
# Methods only a WebSocket connection offers (Starlette/FastAPI, aiohttp, tornado, Channels).
CONNECTION_METHODS = frozenset(
    """send_text send_json send_bytes send_str write_message accept receive_text receive_json
    receive_bytes receive_str iter_text iter_json iter_bytes""".split()
)
# Exceptions that only a WebSocket send raises.
CONNECTION_ERRORS = frozenset(
    """websockets.ConnectionClosed websockets.exceptions.ConnectionClosed
    websockets.ConnectionClosedOK websockets.exceptions.ConnectionClosedOK
    websockets.ConnectionClosedError websockets.exceptions.ConnectionClosedError
    websockets.exceptions.WebSocketException starlette.websockets.WebSocketDisconnect
    fastapi.WebSocketDisconnect fastapi.websockets.WebSocketDisconnect
    tornado.websocket.WebSocketClosedError aiohttp.ClientConnectionResetError""".split()
)
# ``<factory result>.<method>(destination, message)``: APIs whose first argument is the connection.
DESTINATION_SENDS = {
    "channels.layers.get_channel_layer": "send",
}
# ``serve(handler, ...)``: the handler's first parameter is the connection.
SERVERS = frozenset(
    """websockets.serve websockets.server.serve websockets.legacy.server.serve
    websockets.asyncio.server.serve websockets.sync.server.serve websockets.unix_serve
    websockets.asyncio.server.unix_serve""".split()
)
_ADDERS = {"append": 0, "add": 0, "appendleft": 0, "insert": 1, "setdefault": 1}
_VIEWS = {"items", "values", "keys", "copy"}
_COPIES = {"builtins.list", "builtins.tuple", "builtins.set", "builtins.sorted", "builtins.frozenset"}
_SEQUENCES = {"list", "set", "frozenset", "tuple", "List", "Set", "FrozenSet", "Tuple", "Sequence",
              "Iterable", "Iterator", "Collection", "MutableSequence", "MutableSet", "AbstractSet", "deque",
              "Deque", "WeakSet"}
_MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping", "defaultdict", "DefaultDict", "OrderedDict",
             "WeakValueDictionary", "WeakKeyDictionary"}


def send_method(name: str) -> bool:
    """A method that sends (``send``, ``send_text``, ``sendall``, ``send_personal_message``)."""
    bare = name.lstrip("_")
    return bare == "send" or bare.startswith(("send_", "send")) and not bare.startswith("sender")


def collection_key(expr: ast.expr) -> str | None:
    """Where a collection is stored, with views and copies peeled off: ``self.rooms[]`` for
    ``list(self.rooms[room].items())`` (a variable index is any key; a constant one is kept:
    ``app['websockets']``). None for anything but a name/attribute/subscript path."""
    while True:
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _VIEWS:
            expr = expr.func.value
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.args and \
                f"builtins.{expr.func.id}" in _COPIES:
            expr = expr.args[0]
        else:
            break
    return _path(expr)


def element_slot(iterable: ast.expr, target: ast.expr) -> tuple[str, str] | None:
    """``(name, "elements"|"values")``: the loop target holding an element of the collection
    (``for ws in c``/``c.copy()``: elements; ``c.values()`` or the second of ``k, ws in c.items()``:
    mapping values)."""
    view = iteration_view(iterable)
    if isinstance(target, ast.Name) and view in (None, "copy", "values"):
        return target.id, "values" if view == "values" else "elements"
    pair = target.elts if isinstance(target, ast.Tuple) else []
    if view == "items" and len(pair) == 2 and isinstance(pair[1], ast.Name):
        return pair[1].id, "values"
    return None


def iteration_view(expr: ast.expr) -> str | None:
    """``items``/``values``/``keys``/``copy`` when ``expr`` iterates such a view (copies peeled)."""
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.args and \
            f"builtins.{expr.func.id}" in _COPIES:
        expr = expr.args[0]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _VIEWS:
        return expr.func.attr
    return None


def _path(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        inner = _path(expr.value)
        return None if inner is None else f"{inner}.{expr.attr}"
    if isinstance(expr, ast.Subscript):
        inner = _path(expr.value)
        index = repr(expr.slice.value) if isinstance(expr.slice, ast.Constant) else ""
        return None if inner is None else f"{inner}[{index}]"
    return None


class Connections:
    """Connection evidence for one module (an engine-owned analysis)."""

    def __init__(self, analyses: Analyses) -> None:
        self.model: SemanticModel = analyses(SemanticModel)
        self.graph: CallGraph = analyses(CallGraph)
        self.tree = analyses.tree
        self.index: NodeIndex = analyses(NodeIndex)
        self._param_memo: dict[tuple[int, str], bool] = {}
        self.handlers = self._served_handlers()  # ids of ``websockets.serve(handler, ...)`` handlers
        # collection keys (``collection_key``) known to hold connections as elements / as values
        self.elements: set[str] = set()
        self.values: set[str] = set()
        self._find_holders()

    def _served_handlers(self) -> set[int]:
        out: set[int] = set()
        for call, scope in self.model.calls():
            handler = call.args[0] if call.args else None
            if isinstance(handler, ast.Name) and self.model.qualified_name(call.func, scope) in SERVERS:
                for binding in self.model.lookup(handler.id, scope):
                    target = self.model.scopes.defined_by(binding.node)
                    if target is not None and target.kind == "function":
                        out.add(id(target.node))
        return out

    def _find_holders(self) -> None:
        """Collections a connection is added to: ``.append(ws)``/``.add(ws)``... (elements),
        ``[key] = ws``/``.setdefault(key, ws)`` (values)."""
        for call, scope in self.model.calls():
            func = call.func
            at = _ADDERS.get(func.attr, -1) if isinstance(func, ast.Attribute) else -1
            if 0 <= at < len(call.args) and self.is_connection(call.args[at], scope):
                self._hold(func.value, self.values if func.attr == "setdefault" else self.elements)  # type: ignore[attr-defined]
        self._find_item_holders()

    def _find_item_holders(self) -> None:
        """``table[key] = ws``: the table holds connections as values."""
        for node in self.index.nodes(ast.Assign):
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
                if self.is_connection(node.value, self.model.scope_of(node)):
                    self._hold(node.targets[0].value, self.values)

    @classmethod
    def compute(cls, analyses: Analyses) -> Connections:
        return cls(analyses)

    def _hold(self, collection: ast.expr, kind: set[str]) -> None:
        key = collection_key(collection)
        if key is not None:
            kind.add(key)

    def learn(self, iterable: ast.expr, target: ast.expr, value: str) -> None:
        """A loop sends to ``value`` (a loop target) as a connection: what it iterates holds them."""
        slot, key = element_slot(iterable, target), collection_key(iterable)
        if slot is not None and key is not None and slot[0] == value:
            (self.elements if slot[1] == "elements" else self.values).add(key)

    def holds(self, iterable: ast.expr, target: ast.expr) -> str | None:
        """The loop target that is a connection because the iterated collection holds them."""
        slot, key = element_slot(iterable, target), collection_key(iterable)
        if slot is None or key is None:
            return None
        return slot[0] if key in (self.elements if slot[1] == "elements" else self.values) else None

    # -- a value ----------------------------------------------------------------------------------

    def is_connection(self, expr: ast.expr, scope: Scope) -> bool:
        """``expr`` (a name or attribute path) is known to be a connection: its type, or (a name)
        a parameter the function uses as one (awaits a connection-only method on it)."""
        if self.is_connection_type(self.annotation_of(expr, scope), scope):
            return True
        if isinstance(expr, ast.Call):
            return self.model.qualified_name(expr.func, scope) in CONNECTION_TYPES
        if isinstance(expr, ast.Name):
            for binding in self.model.lookup(expr.id, scope):
                if binding.kind == "param" and (
                    self.uses_as_connection(binding.scope, expr.id) or self._served(binding.scope, expr.id)
                ):
                    return True
                if isinstance(binding.value, ast.Call) and \
                        self.model.qualified_name(binding.value.func, binding.scope) in CONNECTION_TYPES:
                    return True
        return False

    def is_connection_type(self, ann: ast.expr | None, scope: Scope) -> bool:
        if ann is None:
            return False
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except SyntaxError:
                return False
        if isinstance(ann, ast.BinOp):  # ``WebSocket | None``
            return self.is_connection_type(ann.left, scope) or self.is_connection_type(ann.right, scope)
        if isinstance(ann, ast.Subscript) and _last(ann.value) in ("Optional", "Annotated"):
            inner = ann.slice.elts[0] if isinstance(ann.slice, ast.Tuple) else ann.slice
            return self.is_connection_type(inner, scope)
        return self.model.qualified_name(ann, scope) in CONNECTION_TYPES

    def annotation_of(self, expr: ast.expr, scope: Scope) -> ast.expr | None:
        """The annotation (an ``ast`` type expression) of a name, ``self.attr`` or ``obj.attr``
        where ``obj``'s class is of this module; through subscripts and views of containers."""
        if isinstance(expr, ast.Subscript):
            return _item_type(self.annotation_of(expr.value, scope), "value")
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _VIEWS:
            return _view(self.annotation_of(expr.func.value, scope), expr.func.attr)
        found = self.model.bindings_for(expr, scope)
        if not found and isinstance(expr, ast.Attribute):
            found = self._instance_attribute(expr, scope)
        anns = [b.annotation for b in found if b.annotation is not None]
        return anns[0] if anns else None

    def _instance_attribute(self, expr: ast.Attribute, scope: Scope) -> list[Binding]:
        """``obj.attr`` where ``obj`` is annotated with a class of this module."""
        owner = self.annotation_of(expr.value, scope)
        cls = self.model.classes().get(self.model.qualified_name(owner, scope) or "") if owner is not None else None
        return self.model.attribute_bindings(cls, expr.attr) if cls is not None else []

    def element_types(self, iterable: ast.expr, scope: Scope) -> ast.expr | None:
        """The type of what iterating ``iterable`` yields (a ``Tuple[...]`` for ``.items()``)."""
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.args and \
                f"builtins.{iterable.func.id}" in _COPIES:
            return self.element_types(iterable.args[0], scope)
        return _item_type(self.annotation_of(iterable, scope), "iter")

    def _served(self, fn: Scope, param: str) -> bool:
        """``param`` is the first parameter of a function served as a connection handler."""
        node = fn.node
        if id(node) not in self.handlers or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        params = [*node.args.posonlyargs, *node.args.args]
        return bool(params) and params[0].arg == param

    # -- what a function does with its parameter --------------------------------------------------

    def uses_as_connection(self, fn: Scope, param: str, depth: int = 0) -> bool:
        """``fn`` awaits a connection-only method on ``param`` (or on an attribute of it)."""
        for call in _awaited_calls(fn.node):
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in CONNECTION_METHODS and _root(func.value) == param:
                return True
        return False

    def sends_on_param(self, fn: Scope, index: int | None, keyword: str | None, depth: int = 0) -> bool:
        """``fn`` (a function of this module) sends on the parameter bound by the ``index``-th
        positional argument (or ``keyword``) of a call, or on an attribute of it, as a connection."""
        name = _param_name(fn, index, keyword)
        if name is None:
            return False
        key = (id(fn.node), name)
        if key not in self._param_memo:
            self._param_memo[key] = False  # recursion guard
            self._param_memo[key] = self._sends_on(fn, name, depth)
        return self._param_memo[key]

    def _sends_on(self, fn: Scope, name: str, depth: int) -> bool:
        guarded = self.guarded_calls(fn.node, fn)
        for call in _awaited_calls(fn.node):
            func = call.func
            if isinstance(func, ast.Attribute) and send_method(func.attr) and _root(func.value) == name:
                if func.attr in CONNECTION_METHODS or id(call) in guarded or self.is_connection(func.value, fn):
                    return True
            if depth < 2 and self.passes_to_sender(call, name, fn, depth + 1):
                return True
        return False

    def passes_to_sender(self, call: ast.Call, name: str, scope: Scope, depth: int = 0) -> bool:
        """``call`` hands ``name`` to a function of this module that sends on it."""
        callee = self.graph.resolve(call, scope)
        if callee is None:
            return False
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Name) and arg.id == name and self.sends_on_param(callee, i, None, depth):
                return True
        return any(
            isinstance(k.value, ast.Name) and k.value.id == name and self.sends_on_param(callee, None, k.arg, depth)
            for k in call.keywords
            if k.arg
        )

    def destination_send(self, call: ast.Call, scope: Scope) -> bool:
        """``layer.send(channel_name, ...)`` on a Channels layer: its first argument is a destination."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return False
        for binding in self.model.bindings_for(func.value, scope):
            value = binding.value
            if isinstance(value, ast.Call):
                factory = self.model.qualified_name(value.func, self.model.scope_of(value))
                if factory is not None and DESTINATION_SENDS.get(factory) == func.attr:
                    return True
        return False

    def guarded_calls(self, node: ast.AST, scope: Scope) -> set[int]:
        """Ids of the calls in a ``try`` body (under ``node``, nested scopes left out) whose
        handlers catch an exception only a WebSocket send raises."""
        out: set[int] = set()
        for current in _local(node):
            if isinstance(current, ast.Try) and self.guarded_by_connection_error(current.handlers, scope):
                out |= {id(c) for stmt in current.body for c in _local(stmt) if isinstance(c, ast.Call)}
        return out

    def guarded_by_connection_error(self, handlers: list[ast.ExceptHandler], scope: Scope) -> bool:
        """Some handler catches an exception only a WebSocket send raises."""
        for handler in handlers:
            kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            if any(k is not None and self.model.qualified_name(k, scope) in CONNECTION_ERRORS for k in kinds):
                return True
        return False


def _last(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else None


def _args(ann: ast.Subscript) -> list[ast.expr]:
    return list(ann.slice.elts) if isinstance(ann.slice, ast.Tuple) else [ann.slice]


def _item_type(ann: ast.expr | None, how: str) -> ast.expr | None:
    """The element (``iter``) or item (``value``: ``d[k]``) type of a container annotation."""
    if isinstance(ann, ast.Subscript) and _last(ann.value) in ("Optional", "Annotated"):
        return _item_type(_args(ann)[0], how)
    if not isinstance(ann, ast.Subscript):
        return None
    kind, args = _last(ann.value), _args(ann)
    if kind in _MAPPINGS and len(args) == 2:
        return args[0] if how == "iter" else args[1]
    if kind in _SEQUENCES and args:
        return args[0]
    return None


def _view(ann: ast.expr | None, view: str) -> ast.expr | None:
    """The annotation of ``d.items()``/``d.values()``/``d.keys()``/``x.copy()``, as a container."""
    if view == "copy" or not isinstance(ann, ast.Subscript) or _last(ann.value) not in _MAPPINGS:
        return ann if view == "copy" else None
    args = _args(ann)
    if len(args) != 2:
        return None
    if view == "keys":
        element: ast.expr = args[0]
    elif view == "values":
        element = args[1]
    else:
        element = ast.Subscript(ast.Name("tuple"), ast.Tuple([args[0], args[1]]))
    return ast.Subscript(ast.Name("list"), element)


def _root(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _param_name(fn: Scope, index: int | None, keyword: str | None) -> str | None:
    """The parameter a call's ``index``-th positional argument (or ``keyword``) binds in ``fn``."""
    node = fn.node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    params = _positional(fn, node)
    if keyword is not None:
        return keyword if keyword in [p.arg for p in (*params, *node.args.kwonlyargs)] else None
    return params[index].arg if index is not None and index < len(params) else None


def _positional(fn: Scope, node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """Positional parameters a caller fills (a method's ``self``/``cls`` left out)."""
    params = [*node.args.posonlyargs, *node.args.args]
    bound = fn.self_name is not None and "staticmethod" not in fn.decorators
    return params[1:] if bound and params and params[0].arg == fn.self_name else params


def _local(node: ast.AST) -> Iterator[ast.AST]:
    """``node``'s descendants (and itself), nested functions, lambdas and classes left out."""
    todo = [node]
    while todo:
        current = todo.pop()
        if current is not node and isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield current
        todo.extend(ast.iter_child_nodes(current))


def _awaited_calls(node: ast.AST) -> Iterator[ast.Call]:
    """Calls under an ``await`` in ``node``'s body, nested functions and classes left out."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        current = todo.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(current, ast.Await):
            yield from (c for c in ast.walk(current.value) if isinstance(c, ast.Call))
            continue
        todo.extend(ast.iter_child_nodes(current))
