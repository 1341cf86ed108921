"""Client frames that flow through a queue, across modules (issue #12, WS103: "where the message
really flows").

A common server layout reads frames in a connection task and hands them to another task through
an ``asyncio.Queue``: ``await self.to_world.put(GameMessage(payload=frame, ...))`` in one module,
``message = await self.inbox.get(); json.loads(message.payload)`` in another, the queue created
in a third and passed to both constructors. Names say nothing here (the two attributes may well
be called differently, or the same name may hold different queues), so a queue is identified by
where it is *made*:

1. **summarize** (``summarize_queues``, per module, part of ``ModuleSummary``): the *slots* that
   may hold a queue — class attributes (``self.q = ...``, ``mod.Class.q``) and module globals
   (``mod.Q``) — with every binding's source: ``new`` (a queue constructed: the slot is then the
   queue's identity), ``param:<__init__>:<p>`` (the constructor parameter it is stored from),
   ``slot:<other>`` (a copy of another slot) or ``?``; the arguments of every call that are slots,
   queues made in place, or unknown values (``?``: what a parameter gets must be known at every
   call); the ``put``/``put_nowait`` calls on a slot whose value is a received frame, or an
   object built from one (``Wrapper(payload=frame)``: the wrapper's class and argument
   position); and the fields of dataclasses (a wrapper's parameter order).
2. **resolve** (``resolve_queues``): a slot's identity is the one queue all its bindings agree
   on (a constructor parameter: every call of that constructor in the project passes the same
   queue); a slot no value reaches soundly has none. A put of a frame marks its slot's queue;
   a wrapper's argument becomes the field its ``__init__`` stores the parameter in
   (``self.payload = payload``, or the dataclass field).
3. **hand back** (``FileFacts.queues``): per file, its slots whose queue carries client frames,
   with the field that holds the frame (``""``: the item is the frame). WS103 reads the items a
   ``get()``/``get_nowait()`` on such a slot returns as received frames.

Where the same queue cannot be identified soundly (a parameter with a default, a call passing
``*args``, a slot also bound to something else, a module not summarized) nothing is said.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsrefactor.semantic.nodes import NESTED_CODE, own_nodes
from wsrefactor.semantic.scopes import Scope, self_class

if TYPE_CHECKING:
    from wsrefactor.semantic.model import SemanticModel
    from wsrefactor.semantic.summary import ModuleSummary

#: Queue classes whose construction makes a queue identity.
QUEUE_TYPES = frozenset({
    "asyncio.Queue", "asyncio.LifoQueue", "asyncio.PriorityQueue", "asyncio.queues.Queue",
    "asyncio.queues.LifoQueue", "asyncio.queues.PriorityQueue",
    "queue.Queue", "queue.SimpleQueue", "queue.LifoQueue", "queue.PriorityQueue",
})
PUTS = frozenset({"put", "put_nowait"})
GETS = frozenset({"get", "get_nowait"})
UNKNOWN = "?"
_DEPTH = 8  # slot copies and constructor parameters followed to where a queue is made
OPAQUE = -2  # an argument record standing for a whole call whose arguments cannot be mapped
#: Argument expressions that are never a queue (recording them as unknown would only cost space).
_NOT_A_QUEUE = (ast.Constant, ast.JoinedStr, ast.List, ast.Dict, ast.Set, ast.Tuple, ast.Compare,
                ast.BinOp, ast.BoolOp, ast.UnaryOp, ast.Lambda, ast.ListComp, ast.DictComp, ast.SetComp)


@dataclass(frozen=True)
class QueueSummary:
    """One module's queue facts (see the module docstring)."""

    slots: tuple[tuple[str, str], ...] = ()  # (slot, source) per binding of a slot that may hold a queue
    # (target, bound, index, keyword, source, type): ``type`` is the argument's known class or ""
    args: tuple[tuple[str, bool, int, str, str, str], ...] = ()
    # (slot, wrapper target or "", bound, index, keyword, via): ``via`` is "" for a frame this module
    # knows, or ``<function>:<param>:<method>`` for ``await param.<method>()`` / ``async for`` over a
    # parameter (``__aiter__``), a frame once the project knows the parameter is a connection
    puts: tuple[tuple[str, str, bool, int, str, str], ...] = ()
    dataclasses: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (class, its fields in order)
    # ``websockets.serve(param.method, ...)``: (function, param, method) — the method of the
    # instance handed to ``param`` is a connection handler
    handlers: tuple[tuple[str, str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.slots or self.args or self.puts or self.dataclasses or self.handlers)

    def reached(self) -> list[str]:
        """The callables a queue (or what may hold one) is handed to, and the classes wrapping a
        frame put: their modules must be summarized too (they may hold no gate token)."""
        return [a[0] for a in self.args if a[4].startswith(("slot:", "new:"))] + [p[1] for p in self.puts if p[1]]


# -- step 1: one module --------------------------------------------------------------------------


def summarize_queues(summarizer: Any) -> QueueSummary:
    """The queue facts of the module a ``summary._Summarizer`` is summarizing."""
    return _QueueFacts(summarizer).summary()


class _QueueFacts:
    def __init__(self, summarizer: Any) -> None:
        self.s = summarizer
        self.model = summarizer.model
        self.module: str = summarizer.module

    def summary(self) -> QueueSummary:
        slots = sorted(set(self._slots()))
        args: list[tuple[str, bool, int, str, str, str]] = []
        puts: list[tuple[str, str, bool, int, str, str]] = []
        for call, scope in self.model.calls():
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in PUTS and len(call.args) == 1 and not call.keywords:
                slot = self.slot_of(func.value, scope)
                put = self._put(call.args[0], scope) if slot is not None else None
                if put is not None:
                    puts.append((slot, *put))  # type: ignore[arg-type]
            if call.args or call.keywords:
                args.extend(self._args(call, scope))
        return QueueSummary(tuple(slots), tuple(args), tuple(puts), tuple(self._dataclasses()),
                            tuple(self._handlers()))

    def _handlers(self) -> Iterator[tuple[str, str, str]]:
        server = self.s.server
        for call in server.serve_calls if server is not None else ():
            handler = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "handler"), None)
            scope = self.model.scope_of(call)
            fn = _function(scope)
            if fn is None or not isinstance(handler, ast.Attribute) or not isinstance(handler.value, ast.Name):
                continue
            if handler.value.id in _params(fn):
                yield f"{self.module}.{fn.qualname}", handler.value.id, handler.attr

    # -- slots --------------------------------------------------------------------------------

    def slot_of(self, expr: ast.expr, scope: Scope) -> str | None:
        found = local_slot(self.model, expr, scope)
        return f"{self.module}.{found}" if found is not None else None

    def _slots(self) -> Iterator[tuple[str, str]]:
        """Every binding of a slot that has a queue, constructor-parameter or slot-copy binding."""
        for scope in self.model.scopes.scopes:
            if scope.kind != "class":
                continue
            for attr in {*scope.attributes, *scope.bindings}:
                bindings = [*scope.bindings.get(attr, ()), *scope.attributes.get(attr, ())]
                yield from self._sources(f"{self.module}.{scope.qualname}.{attr}", bindings)
        for name, bindings in self.model.module.bindings.items():
            if all(b.kind in ("assign", "annassign") for b in bindings):
                yield from self._sources(f"{self.module}.{name}", bindings)

    def _sources(self, slot: str, bindings: Sequence[Any]) -> Iterator[tuple[str, str]]:
        sources = [self._source(b) for b in bindings]
        if any(s != UNKNOWN for s in sources):
            yield from ((slot, s) for s in sources)

    def _source(self, binding: Any) -> str:
        value = binding.value
        if binding.kind not in ("assign", "annassign", "attribute") or value is None:
            return UNKNOWN
        scope = self.model.scope_of(binding.node)
        if self._makes_queue(value, scope):
            return "new"
        if isinstance(value, ast.Name):
            param = self._init_parameter(value.id, scope)
            if param is not None:
                return param
        if binding.kind == "attribute":
            other = self.slot_of(value, scope) if isinstance(value, ast.Attribute) else None
            if other is not None:
                return f"slot:{other}"
        return UNKNOWN

    def _makes_queue(self, value: ast.expr, scope: Scope) -> bool:
        return isinstance(value, ast.Call) and self.model.qualified_name(value.func, scope) in QUEUE_TYPES

    def _init_parameter(self, name: str, scope: Scope) -> str | None:
        """``param:<mod.Class.__init__>:<name>`` (``param?:`` when it has a default) for a
        parameter of the ``__init__`` the read is in, not rebound there."""
        fn = scope.function
        if fn is None or fn.name != "__init__" or fn.method_class is None:
            return None
        bound = fn.bindings.get(name, ())
        named = _named_parameters(fn.node)
        if len(bound) != 1 or bound[0].kind != "param" or name not in named:
            return None  # rebound, or ``*args`` / ``**kwargs``
        return f"{'param?' if named[name] else 'param'}:{self.module}.{fn.qualname}:{name}"

    # -- calls --------------------------------------------------------------------------------

    def _args(self, call: ast.Call, scope: Scope) -> Iterator[tuple[str, bool, int, str, str, str]]:
        """What each argument of a call to a named callable may be: a slot, a queue made in place,
        or unknown (one ``OPAQUE`` record for ``*args``/``**kwargs``), with its known class."""
        found = self.s.target(call, scope) or self.s._self_target(call, scope) or self._typed_target(call, scope)
        if found is None:
            yield from self._super_init(call, scope)
            return
        target, bound = found
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            yield target, bound, OPAQUE, "", UNKNOWN, ""
            return
        from wsrefactor.semantic.summary import arguments

        for index, keyword, value in arguments(call):
            if not isinstance(value, _NOT_A_QUEUE):
                yield target, bound, index, keyword, self._arg_source(value, scope), self._type(value, scope)

    def _super_init(self, call: ast.Call, scope: Scope) -> Iterator[tuple[str, bool, int, str, str, str]]:
        """``super().__init__(...)``: what a base class's parameters get there is not followed, so
        each base of the class is marked as called with unknown arguments (no identity through it)."""
        from wsrefactor.semantic.summary import qualify_type

        fn = scope.function
        cls = fn.method_class if fn is not None and self._calls_super_init(call, scope) else None
        if cls is None:
            return
        for base in getattr(cls.node, "bases", ()):
            name = self.model.qualified_name(base, cls.parent or scope)
            if name is not None:
                yield qualify_type(name, self.module, self.s.path, self.s.local), True, OPAQUE, "", UNKNOWN, ""

    def _calls_super_init(self, call: ast.Call, scope: Scope) -> bool:
        func = call.func
        return (isinstance(func, ast.Attribute) and func.attr == "__init__" and isinstance(func.value, ast.Call)
                and self.model.qualified_name(func.value.func, scope) == "builtins.super")

    def _arg_source(self, value: ast.expr, scope: Scope) -> str:
        slot = self.slot_of(value, scope)
        if slot is not None:
            return f"slot:{slot}"
        if self._makes_queue(value, scope):
            return f"new:{self.module}:{value.lineno}:{value.col_offset}"
        return UNKNOWN

    def _type(self, value: ast.expr, scope: Scope) -> str:
        """The class a name or ``self.attr`` argument holds, project-absolute ("" unknown)."""
        from wsrefactor.semantic.summary import qualify_type

        typed = self.model.type_of(value, scope) if isinstance(value, (ast.Name, ast.Attribute)) else None
        return qualify_type(typed, self.module, self.s.path, self.s.local) if typed else ""

    def _typed_target(self, call: ast.Call, scope: Scope) -> tuple[str, bool] | None:
        """``obj.attr.m(...)`` where ``obj`` holds an instance of a class of this module whose
        ``attr`` has one known class (``mud.connections.start(...)``)."""
        from wsrefactor.semantic.summary import qualify_type

        func = call.func
        if not isinstance(func, ast.Attribute):
            return None
        holder = func.value
        if not isinstance(holder, ast.Attribute) or not isinstance(holder.value, (ast.Name, ast.Attribute)):
            return None
        cls = self.model.classes().get(self.model.type_of(holder.value, scope) or "")
        if cls is None:
            return None
        types = {self.model.type_of_binding(b) for b in self.model.attribute_bindings(cls, holder.attr)}
        if len(types) != 1 or None in types:
            return None
        typed = types.pop()
        if typed is None:
            return None
        return f"{qualify_type(typed, self.module, self.s.path, self.s.local)}.{func.attr}", True

    # -- puts ---------------------------------------------------------------------------------

    def _put(self, value: ast.expr, scope: Scope) -> tuple[str, bool, int, str, str] | None:
        """``(wrapper target or "", bound, index, keyword, via)`` when the value put is a received
        frame, or an object built from one (directly, or the name's nearest earlier binding)."""
        fn = _function(scope)
        if fn is None:
            return None
        frames = _Frames(self.s._frames().get(id(fn), (set(), set())), fn)
        if isinstance(value, ast.Name) and frames.via(value) is None:
            value = self._nearest_binding(value, fn)  # type: ignore[assignment]
            if value is None:
                return None
        via = frames.via(value)
        if via is not None:
            return "", False, 0, "", via
        if not isinstance(value, ast.Call):
            return None
        found = self.s.target(value, scope)
        if found is None:
            return None
        from wsrefactor.semantic.summary import arguments

        for index, keyword, arg in arguments(value):
            via = frames.via(arg)
            if via is not None:
                return found[0], found[1], index, keyword, via
        return None

    def _nearest_binding(self, name: ast.Name, fn: Scope) -> ast.expr | None:
        """The value of the last ``name = ...`` of ``fn`` written before the read."""
        best: tuple[tuple[int, int], ast.expr | None] | None = None
        for b in fn.bindings.get(name.id, ()):
            at = (getattr(b.node, "lineno", 0), getattr(b.node, "col_offset", 0))
            if at < (name.lineno, name.col_offset) and (best is None or at > best[0]):
                best = (at, b.value if b.kind in ("assign", "annassign") else None)
        return best[1] if best is not None else None

    def _dataclasses(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """Dataclasses with their fields in order (their generated ``__init__``'s parameters)."""
        for scope in self.model.scopes.scopes:
            node = scope.node
            if scope.kind == "class" and isinstance(node, ast.ClassDef) and self._is_dataclass(node, scope):
                yield f"{self.module}.{scope.qualname}", tuple(_fields(node))

    def _is_dataclass(self, node: ast.ClassDef, scope: Scope) -> bool:
        return any(self.model.qualified_name(d.func if isinstance(d, ast.Call) else d, scope) == "dataclasses.dataclass"
                   for d in node.decorator_list)


def _named_parameters(node: ast.AST) -> dict[str, bool]:
    """A def's named parameters, each with whether it has a default."""
    args = getattr(node, "args", None)
    if not isinstance(args, ast.arguments):
        return {}
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    out = {a.arg: i >= first_default for i, a in enumerate(positional)}
    out.update((a.arg, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults))
    return out


def local_slot(model: SemanticModel, expr: ast.expr, scope: Scope) -> str | None:
    """The slot ``expr`` reads, named in its module: ``self.attr`` in a method (``Class.attr``)
    or a module-level name bound only by assignments (``NAME``)."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        cls = self_class(expr.value.id, scope)
        return f"{cls.qualname}.{expr.attr}" if cls is not None else None
    if isinstance(expr, ast.Name):
        found = model.lookup(expr.id, scope)
        if found and all(b.scope is model.module and b.kind in ("assign", "annassign") for b in found):
            return expr.id
    return None


def _fields(node: ast.ClassDef) -> Iterator[str]:
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and "ClassVar" not in ast.dump(
                stmt.annotation):
            yield stmt.target.id


def _function(scope: Scope | None) -> Scope | None:
    while scope is not None and scope.kind != "function":
        scope = scope.parent
    return scope


#: Receive methods whose value is the raw frame, by connection kind; ``__aiter__``: ``async for``.
RAW_RECEIVES = {
    "asgi": frozenset({"receive_text", "receive_bytes", "iter_text", "iter_bytes"}),
    "websockets": frozenset({"recv", "__aiter__"}),
}


class _Frames:
    """The received frames of one function: those the module's ``ServerModel`` knows (names and
    receive expressions) and those read from a parameter (``await param.recv()``, ``async for m
    in param``), frames once another module is known to hand that parameter a connection."""

    def __init__(self, known: tuple[set[str], set[int]], fn: Scope) -> None:
        self.names, self.nodes = known
        self.fn = fn
        self.from_params: dict[str, str] = {}  # name -> "<param>:<method>"
        self.params = _params(fn)
        for node in own_nodes(fn.node, NESTED_CODE):
            found = self._read_from_param(node)
            if found is not None:
                self.from_params[found[0]] = found[1]
        # a name bound to anything else as well is not surely a frame
        for name in list(self.from_params):
            if len(fn.bindings.get(name, ())) != 1:
                del self.from_params[name]

    def _assigned_from_param(self, node: ast.Assign | ast.AnnAssign) -> tuple[str, str] | None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        read = _param_receive(node.value, self.params) if node.value is not None else None
        if read is not None and len(targets) == 1 and isinstance(targets[0], ast.Name):
            return targets[0].id, read
        return None

    def _read_from_param(self, node: ast.AST) -> tuple[str, str] | None:
        """``name = await param.recv()`` / ``async for name in param``: (name, ``param:method``)."""
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            return self._assigned_from_param(node)
        if isinstance(node, ast.AsyncFor) and isinstance(node.target, ast.Name):
            iterated = node.iter.id if isinstance(node.iter, ast.Name) else None
            return (node.target.id, f"{iterated}:__aiter__") if iterated in self.params else None
        return None

    def via(self, arg: ast.expr) -> str | None:
        if id(arg) in self.nodes or (isinstance(arg, ast.Name) and arg.id in self.names):
            return ""
        read = _param_receive(arg, self.params)
        if read is None and isinstance(arg, ast.Name):
            read = self.from_params.get(arg.id)
        return f"{self.fn.qualname}:{read}" if read is not None else None


def _params(fn: Scope) -> set[str]:
    return {n for n, bs in fn.bindings.items() if [b.kind for b in bs] == ["param"]}


def _param_receive(value: ast.expr, params: set[str]) -> str | None:
    """``await param.recv()`` -> ``param:recv``."""
    call = value.value if isinstance(value, ast.Await) else None
    func = call.func if isinstance(call, ast.Call) else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in params:
        if not call.args and not call.keywords:  # type: ignore[union-attr]
            return f"{func.value.id}:{func.attr}"
    return None


# -- step 2: the project ---------------------------------------------------------------------------


def resolve_queues(
    summaries: Sequence[ModuleSummary], index: Any, conn: Mapping[tuple[str, str], str]
) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per file, ``(slot qualname in its module, field)`` for its slots whose queue carries client
    frames (``field``: the attribute of the item holding the frame, ``""`` for the item itself).
    ``conn``: the connection kind of (function, parameter) pairs, from ``summary._connections``."""
    facts = [(s, s.queues) for s in summaries if s.queues]
    if not any(q.puts for _, q in facts):
        return {}
    resolver = _Resolver(facts, index)
    carried = _carried(facts, resolver, _handler_connections(facts, resolver, index, conn))
    out = {s.path: _told(s, q, resolver, carried) for s, q in facts}
    return {path: told for path, told in out.items() if told}


def _told(s: ModuleSummary, q: QueueSummary, resolver: _Resolver, carried: Mapping[str, set[str]]) -> tuple[tuple[str, str], ...]:
    """The module's slots whose queue carries frames, named in the module, with the fields."""
    slots = sorted({slot for slot, _ in q.slots})
    return tuple(sorted({(slot[len(s.module) + 1:], f) for slot in slots for f in carried.get(resolver.identity(slot) or "", ())}))


def _carried(
    facts: Sequence[tuple[ModuleSummary, QueueSummary]], resolver: _Resolver, conn: Mapping[tuple[str, str], str]
) -> dict[str, set[str]]:
    """Per queue identity, the fields of its items that hold client frames."""
    carried: dict[str, set[str]] = {}
    for s, q in facts:
        for slot, wrapper, bound, at, keyword, via in q.puts:
            if via and not _received(f"{s.module}.{via}", conn):
                continue
            queue = resolver.identity(slot)
            fields = {""} if not wrapper else resolver.fields(wrapper, bound, at, keyword)
            if queue is not None and fields:
                carried.setdefault(queue, set()).update(fields)
    return carried


def _handler_connections(
    facts: Sequence[tuple[ModuleSummary, QueueSummary]], resolver: _Resolver, index: Any,
    conn: Mapping[tuple[str, str], str],
) -> dict[tuple[str, str], str]:
    """``conn`` plus the connections of ``websockets.serve(param.method)`` handlers whose
    ``param`` is handed instances of one project class at every call, forwarded along the calls
    that hand the connection on (``summary.forward``; kept here, for queue facts only)."""
    from wsrefactor.semantic.summary import forward

    out = dict(conn)
    todo: list[tuple[str, str]] = []
    for _, q in facts:
        for fn, param, method in q.handlers:
            key = _handler_parameter(resolver, index, fn, param, method)
            if key is not None and key not in out:
                out[key] = "websockets"
                todo.append(key)
    forward(index, out, todo)
    return out


def _handler_parameter(resolver: _Resolver, index: Any, fn: str, param: str, method: str) -> tuple[str, str] | None:
    """The connection parameter of ``<instance>.method`` where every call of ``fn`` hands
    ``param`` an instance of the same project class."""
    types = resolver.types.get((fn, param), set())
    if len(types) != 1 or fn in resolver.opaque:
        return None
    cls = next(iter(types))
    found = index.function(f"{cls}.{method}") if cls in index.classes else None
    handler = found[0] if found is not None else None
    if handler is None or len(handler.params) <= handler.skip:
        return None
    return handler.name, handler.params[handler.skip]


def _received(via: str, conn: Mapping[tuple[str, str], str]) -> bool:
    """``<function>:<param>:<method>`` reads a raw frame: the parameter is handed a connection
    whose ``method`` returns one."""
    fn, param, method = via.rsplit(":", 2)
    return method in RAW_RECEIVES.get(conn.get((fn, param), ""), ())


class _Resolver:
    def __init__(self, facts: Sequence[tuple[ModuleSummary, QueueSummary]], index: Any) -> None:
        self.index = index
        self.sources: dict[str, list[str]] = {}
        self.dataclasses: dict[str, tuple[str, ...]] = {}
        self.stored: dict[str, list[str]] = {}  # "<__init__>:<param>" -> slots it is stored in
        for _, q in facts:
            self._read_slots(q)
        # what each (function, parameter) is handed at its calls, and the functions some call
        # hands ``*args``/``**kwargs`` (what their parameters get is not known)
        self.passed: dict[tuple[str, str], list[str]] = {}
        self.opaque: set[str] = set()
        self.types: dict[tuple[str, str], set[str]] = {}  # classes handed to (function, parameter)
        for _, q in facts:
            for arg in q.args:
                self._read_argument(*arg)
        self._memo: dict[str, str | None] = {}

    def _read_slots(self, q: QueueSummary) -> None:
        for slot, source in q.slots:
            self.sources.setdefault(slot, []).append(source)
            if source.startswith(("param:", "param?:")):
                self.stored.setdefault(source.partition(":")[2], []).append(slot)
        self.dataclasses.update(q.dataclasses)

    def _read_argument(self, target: str, bound: bool, at: int, keyword: str, source: str, typed: str) -> None:
        hit = self._param(target, bound, at, keyword)
        if hit is not None:
            self.passed.setdefault(hit, []).append(source)
            self.types.setdefault(hit, set()).add(typed)
        elif at == OPAQUE:
            fn = self._function(target)
            if fn is not None:
                self.opaque.add(fn[0])

    def _function(self, target: str, bound: bool = False) -> tuple[str, tuple[str, ...], int] | None:
        """``(qualified function, params, parameters the call fills implicitly)`` of a target (a
        class: its ``__init__``, or a dataclass's generated one), as ``summary._Index.param``."""
        found = self.index.function(target)
        if found is not None:
            fn, through = found
            return fn.name, fn.params, fn.skip if (bound or through) else fn.unbound_skip
        for alt in target.split("|"):
            name = self.index.canonical(alt)
            if name in self.dataclasses:
                return f"{name}.__init__", ("self", *self.dataclasses[name]), 1
        return None

    def _param(self, target: str, bound: bool, at: int, keyword: str) -> tuple[str, str] | None:
        fn = self._function(target, bound) if at != OPAQUE else None
        if fn is None:
            return None
        name, params, skip = fn
        if keyword:
            return (name, keyword) if keyword in params else None
        pos = at + skip
        return (name, params[pos]) if 0 <= pos < len(params) else None

    def identity(self, slot: str, depth: int = 0) -> str | None:
        """The one queue every binding of ``slot`` agrees on, or None."""
        if slot in self._memo:
            return self._memo[slot]
        self._memo[slot] = None  # a cycle resolves to nothing
        found: set[str | None] = set()
        for source in self.sources.get(slot, [UNKNOWN]):
            found.add(self._of_source(slot, source, depth))
        result = found.pop() if len(found) == 1 else None
        self._memo[slot] = result
        return result

    def _of_source(self, slot: str, source: str, depth: int) -> str | None:
        if source == "new":
            return slot
        if source.startswith("new:"):
            return source
        if depth >= _DEPTH:
            return None
        if source.startswith("slot:"):
            return self.identity(source[5:], depth + 1)
        if source.startswith("param:"):
            fn, _, param = source[6:].rpartition(":")
            passed = self.passed.get((fn, param))
            found = {self._of_source(slot, s, depth + 1) for s in passed or ()}
            return found.pop() if len(found) == 1 and fn not in self.opaque else None
        return None

    def fields(self, wrapper: str, bound: bool, at: int, keyword: str) -> set[str]:
        """The attributes of the object a wrapper call builds that hold the argument at ``at``/``keyword``."""
        hit = self._param(wrapper, bound, at, keyword)
        if hit is None:
            return set()
        fn, param = hit
        cls = fn.rpartition(".")[0]
        if cls in self.dataclasses and not self.index.function(wrapper):
            return {param}
        return {slot.rpartition(".")[2] for slot in self.stored.get(f"{fn}:{param}", ()) if slot.startswith(cls + ".")}

