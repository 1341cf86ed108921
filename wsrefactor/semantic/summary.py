"""Cross-module facts for per-file semantic rules: a small summary per module, resolved over the
project, handed back to each file as ``analyses.facts`` (issue #12: "same module or another").

A per-file rule decides from one module; the server code it judges often spans several
(``await manager.handle(websocket)`` in ``api/ws.py``, the receive in ``manager.py``). Three steps:

1. **summarize** (``ModuleSummary.compute``, one per file, from the ``ast`` analyses already
   built): the module's functions with their positional parameters and what each does with a
   parameter directly (``param.send_text(...)`` -> ``send``; ``.accept()``; receives;
   ``coll.append(param)`` -> ``register``), the calls that hand a parameter on (``Edge`` from a
   parameter) or hand a *connection value* on (``Edge`` from ``conn:<kind>``, decided by
   ``ServerModel``), module-level instances (``manager = Manager()``), re-exported imports,
   module-level references (``websocket_urlpatterns = [path(..., Consumer.as_asgi())]``) and
   Channels routers whose websocket application is not origin-validated.
2. **resolve** (``resolve(summaries)``, in the parent process, linear in the edges): call
   targets to functions through imports, re-exports and instances; connection kinds flow
   *forward* along edges from the calls that pass a connection; effects flow *backward* (a
   function sends on its parameter if it hands it to one that does); Channels routes are followed
   through module-level references to consumer classes.
3. **hand back** (``FileFacts``): per file, which of its parameters receive connections from
   other code (``connections``), what the callables it calls do with each argument
   (``effects_of``), and which of its consumer classes an unvalidated router reaches
   (``routed``). ``ServerModel`` seeds its connection values from ``connections``, so every rule on
   it sees a manager method's parameter as the connection it is.

Facts are small frozen records (pickled to workers, hashed into the result cache key).
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.imports import Imports
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.nodes import NodeIndex
from wsrefactor.semantic.queues import resolve_queues, summarize_queues
from wsrefactor.semantic.scopes import Scope

if TYPE_CHECKING:
    from wsrefactor.semantic.queues import QueueSummary

#: What a callee does with a parameter, decided from its own body (evidence kept by the name).
SEND, ACCEPT, RECEIVE, REGISTER, UNREGISTER = "send", "accept", "receive", "register", "unregister"
_CONNECTION_SENDS = frozenset({"send_text", "send_json", "send_bytes", "send_str", "write_message"})
_RECEIVES = frozenset({"receive_text", "receive_json", "receive_bytes", "receive", "recv", "iter_text",
                       "iter_json", "iter_bytes"})
# the argument a store/undo method keeps or drops (``insert(i, x)``, ``setdefault(key, value)``)
_STORES = {"add": 0, "append": 0, "appendleft": 0, "insert": 1, "setdefault": 1}
_UNDOS = {"remove": 0, "discard": 0, "pop": 0}
_DEPTH = 6  # alias / reference hops followed when resolving a name
#: The value kind of a received, not yet parsed frame handed to another module (WS103 reads it
#: with ``FileFacts.connection_params``; ``ServerModel`` never takes a ``msg:`` kind for a connection).
RAW_MESSAGE = "msg:raw"


@dataclass(frozen=True)
class Edge:
    """A call handing a value to another callable: ``source`` is a parameter name of the calling
    function (forwarding) or ``conn:<kind>`` (a connection value, from ``ServerModel``).
    ``target``: the callee's qualified name(s) as the caller sees them (``|``-separated
    alternatives); ``index``/``keyword``: where the value goes; ``bound``: called through an
    instance (``obj.m()``, ``Cls()``), so ``self`` is not among the arguments."""

    source: str
    target: str
    index: int
    keyword: str
    bound: bool
    line: int


@dataclass(frozen=True)
class FunctionSummary:
    name: str  # module-qualified: ``app.manager.Manager.handle``
    params: tuple[str, ...]  # positional parameters, ``self`` included
    skip: int  # parameters a bound call fills implicitly (1 for methods and classmethods)
    unbound_skip: int  # ... and an unbound call (``Class.m(...)``): 1 for classmethods only
    effects: tuple[tuple[str, str], ...]  # (param, effect) with evidence in the body
    plain_sends: tuple[str, ...]  # params sent on by a generic ``send``: evidence if a connection
    forwards: tuple[Edge, ...]
    line: int


@dataclass(frozen=True)
class ModuleSummary:
    path: str
    module: str
    functions: tuple[FunctionSummary, ...] = ()
    classes: tuple[str, ...] = ()
    instances: tuple[tuple[str, str], ...] = ()  # module-level ``name = Class()``: (qualified, class)
    aliases: tuple[tuple[str, str], ...] = ()  # module-level imports: (qualified here, meaning)
    passes: tuple[Edge, ...] = ()  # connection values handed to callables
    calls: tuple[tuple[str, bool], ...] = ()  # every qualified call target with arguments
    references: tuple[tuple[str, tuple[str, ...]], ...] = ()  # module-level name -> names in its value
    routes: tuple[tuple[int, tuple[str, ...]], ...] = ()  # unvalidated Channels apps: (line, names)
    queues: QueueSummary | None = None  # queue slots, their arguments and frame puts (``queues.py``)

    @classmethod
    def compute(cls, analyses: Analyses) -> ModuleSummary:
        return _Summarizer(analyses, module_of(analyses.path)).summary()


def summarize(analyses: Analyses, root: str) -> ModuleSummary:
    """The summary of one module named from the project root (``src/app/x.py`` ->
    ``src.app.x``): relative imports then resolve exactly, with or without ``__init__.py`` files,
    and absolute ones (``app.x``) by their unique dotted suffix (``_Index.through``)."""
    return _Summarizer(analyses, root_module(analyses.path, root)).summary()


# -- step 1: one module --------------------------------------------------------------------------


def module_of(path: str) -> str:
    from wsrefactor.project_graph import module_name

    return module_name(path)[0]


def root_module(path: str, root: str) -> str:
    import os
    from pathlib import Path

    try:
        rel = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root)))
    except ValueError:
        return module_of(path)
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else module_of(path)


def absolute_name(name: str, module: str, path: str) -> str:
    """A qualified name as written through this module's imports, made project-absolute:
    ``.manager.X`` -> ``pkg.manager.X``; a bare module-level name -> ``module.name``."""
    if name.startswith("."):
        from wsrefactor.project_graph import absolute

        return absolute(name, module, path)
    return name


def call_target(
    model: SemanticModel, call: ast.Call, scope: Scope, module: str, path: str, local: set[str] | None = None
) -> tuple[str, bool] | None:
    """The qualified callee of ``call`` as the project resolver names it, and whether it is called
    through an instance. ``f()``, ``mod.f()``, ``obj.m()`` (obj imported, or a module-level/self
    attribute of a known class), ``Cls(...)``, ``Cls(...).m()`` and ``Cls.factory().m()``."""
    func = call.func
    local = module_locals(model) if local is None else local

    def qualify(expr: ast.expr) -> str | None:
        name = model.qualified_name(expr, scope)
        if name is None or name.startswith("builtins."):
            return None
        return qualify_type(name, module, path, local)

    if isinstance(func, ast.Attribute):
        through = _through_receiver(func, qualify)
        if through is not None:
            return through
        if isinstance(func.value, ast.Call):
            return None
        typed = model.type_of(func.value, scope) if isinstance(func.value, (ast.Name, ast.Attribute)) else None
        if typed is not None:
            return f"{qualify_type(typed, module, path, local)}.{func.attr}", True
    elif not isinstance(func, ast.Name):
        return None
    found = qualify(func)
    return (found, False) if found else None


def _through_receiver(func: ast.Attribute, qualify: Any) -> tuple[str, bool] | None:
    """``Cls(...).m()`` / ``Cls.instance().m()``: the method of the class made (or its owner's)."""
    receiver = func.value
    made = qualify(receiver.func) if isinstance(receiver, ast.Call) else None
    if made is None:
        return None
    owner = made.rpartition(".")[0]
    alts = [f"{made}.{func.attr}"] + ([f"{owner}.{func.attr}"] if owner else [])
    return "|".join(alts), True


def module_locals(model: SemanticModel) -> set[str]:
    """The module's own functions and classes (their qualified names get the module's prefix)."""
    return {b.name for bs in model.module.bindings.values() for b in bs if b.kind in ("def", "class")}


def qualify_type(name: str, module: str, path: str, local: set[str]) -> str:
    """A name as this module's model qualifies it, made project-absolute."""
    if name.split(".")[0] in local:
        return f"{module}.{name}"
    return absolute_name(name, module, path)


def arguments(call: ast.Call) -> Iterator[tuple[int, str, ast.expr]]:
    """``(index, "", value)`` per positional argument (up to a ``*args``), ``(-1, keyword, value)``
    per named one (``**kwargs`` skipped)."""
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break
        yield index, "", arg
    for kw in call.keywords:
        if kw.arg:
            yield -1, kw.arg, kw.value


def _is_frame(arg: ast.expr, names: set[str], nodes: set[int]) -> bool:
    return id(arg) in nodes or (isinstance(arg, ast.Name) and arg.id in names)


def _root(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


class _Summarizer:
    def __init__(self, analyses: Analyses, module: str) -> None:
        from wsrefactor.semantic.server import ServerModel

        self.analyses = analyses
        self.path = analyses.path
        self.module = module
        self.model = analyses(SemanticModel)
        self.local = module_locals(self.model)
        self.server = analyses(ServerModel) if self._framework() else None
        self._frames_memo: dict[int, tuple[set[str], set[int]]] | None = None

    def _framework(self) -> bool:
        """Whether connection values can occur here (``ServerModel`` is the costly part): a
        framework is imported and something spells "socket" (a connection type, a websocket route,
        a consumer base), or other modules hand this one connections."""
        text = self.analyses.text
        sockets = "socket" in text or "Socket" in text
        return (sockets and analyses_imports_any(self.analyses(Imports))) or bool(self.analyses.facts.connections)

    def target(self, call: ast.Call, scope: Scope) -> tuple[str, bool] | None:
        return call_target(self.model, call, scope, self.module, self.path, self.local)

    def summary(self) -> ModuleSummary:
        functions = self._functions()
        calls, passes = self._calls()
        return ModuleSummary(
            self.path, self.module, tuple(functions),
            classes=tuple(f"{self.module}.{s.qualname}" for s in self.model.scopes.scopes if s.kind == "class"),
            instances=tuple(self._instances()), aliases=tuple(self._aliases()), passes=tuple(passes),
            calls=tuple(sorted(calls)), references=tuple(self._references()), routes=tuple(self._routes()),
            queues=summarize_queues(self) or None,
        )

    def _calls(self) -> tuple[set[tuple[str, bool]], list[Edge]]:
        """Every qualified target called with arguments; the calls handing a connection on."""
        passes: list[Edge] = []
        calls: set[tuple[str, bool]] = set()
        for call, scope in self.model.calls():
            found = self.target(call, scope) if call.args or call.keywords else None
            if found is not None:
                calls.add(found)
                passes.extend(self._passes(call, scope, found))
        return calls, passes

    def _passes(self, call: ast.Call, scope: Scope, found: tuple[str, bool]) -> Iterator[Edge]:
        server = self.server
        if server is None or server.resolve(call, scope) is not None:
            return  # a same-module callee: ServerModel already follows the connection there
        frames = self._frames().get(id(scope))
        for index, keyword, arg in arguments(call):
            kind = server.connection_kind(arg, scope)
            if kind is not None:
                yield Edge(f"conn:{kind}", found[0], index, keyword, found[1], call.lineno)
            elif frames is not None and _is_frame(arg, *frames):
                yield Edge(RAW_MESSAGE, found[0], index, keyword, found[1], call.lineno)

    def _frames(self) -> dict[int, tuple[set[str], set[int]]]:
        """Per function scope, the names bound to a received frame that is not parsed JSON (a
        tornado ``on_message`` parameter, ``raw = await ws.recv()``) and the receive expressions
        themselves (``handle(await ws.receive_text())``)."""
        if self._frames_memo is None:
            out: dict[int, tuple[set[str], set[int]]] = {}
            for site in self.server.receives if self.server is not None else ():
                if site.mode in ("json", "json-binary"):
                    continue
                names, nodes = out.setdefault(id(site.function), (set(), set()))
                if site.target:
                    names.add(site.target)
                if not site.callback:
                    nodes.update(id(n) for n in (site.node, site.holder) if n is not None)
            self._frames_memo = out
        return self._frames_memo

    def _functions(self) -> list[FunctionSummary]:
        """Every def's summary, from one pass over the model's calls and one over the tree (a
        def's own code: comprehensions included, nested defs and lambdas not)."""
        parts: dict[int, _Parts] = {}
        for scope in self.model.scopes.scopes:
            if scope.kind == "function" and isinstance(scope.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                parts[id(scope)] = _Parts(scope, _parameters(scope.node))
        for call, scope in self.model.calls():
            own = parts.get(id(_owner(scope)))
            if own is not None:
                _call_effects(call, own.params, own.effects, own.plain)
                own.forwards.extend(self._forwards(call, scope, own.params))
        for node in self.analyses(NodeIndex).nodes(ast.AsyncFor, ast.Assign):  # effects are sets: any order
            own = parts.get(id(_owner(self.model.scope_of(node))))
            if own is not None:
                _statement_effects((node,), own.params, own.effects)
        return [self._function(p) for p in parts.values()]

    def _function(self, parts: _Parts) -> FunctionSummary:
        fn = parts.scope
        skip, unbound = _skips(fn)
        return FunctionSummary(
            f"{self.module}.{fn.qualname}", parts.names, skip, unbound, tuple(sorted(parts.effects)),
            tuple(sorted(parts.plain)), tuple(parts.forwards), getattr(fn.node, "lineno", 0),
        )

    def _forwards(self, call: ast.Call, scope: Scope, own: set[str]) -> Iterator[Edge]:
        """The call's arguments that are parameters of its def, handed to a callee it names."""
        passed = [(i, k, a.id) for i, k, a in arguments(call) if isinstance(a, ast.Name) and a.id in own]
        found = (self.target(call, scope) or self._self_target(call, scope)) if passed else None
        for index, keyword, name in passed if found else ():
            yield Edge(name, found[0], index, keyword, found[1], call.lineno)  # type: ignore[index]

    def _self_target(self, call: ast.Call, scope: Scope) -> tuple[str, bool] | None:
        """``self.m(...)`` / ``cls.m(...)`` on the method's own class (this module)."""
        fn = _owner(scope)
        func = call.func
        if fn is None or not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                              and fn.self_name == func.value.id):
            return None
        cls = fn.parent
        if cls is None or cls.kind != "class":
            return None
        return f"{self.module}.{cls.qualname}.{func.attr}", True

    def _instances(self) -> Iterator[tuple[str, str]]:
        for name, bindings in self.model.module.bindings.items():
            values = [b.value for b in bindings if b.kind in ("assign", "annassign")]
            if len(values) != 1 or not isinstance(values[0], ast.Call):
                continue
            made = self.model.qualified_name(values[0].func, self.model.module)
            if made is not None and not made.startswith("builtins."):
                yield f"{self.module}.{name}", qualify_type(made, self.module, self.path, self.local)

    def _aliases(self) -> Iterator[tuple[str, str]]:
        for name, bindings in self.model.module.bindings.items():
            meanings = {b.qualified for b in bindings if b.kind == "import" and b.qualified}
            if len(meanings) == 1 and len(bindings) == 1:
                yield f"{self.module}.{name}", absolute_name(meanings.pop(), self.module, self.path)

    def _names_in(self, expr: ast.AST) -> tuple[str, ...]:
        out: list[str] = []
        for node in ast.walk(expr):
            if isinstance(node, (ast.Name, ast.Attribute)):
                name = self.model.qualified_name(node, self.model.module)
                if name is not None and not name.startswith("builtins."):
                    out.append(qualify_type(name, self.module, self.path, self.local))
        return tuple(dict.fromkeys(out))

    def _references(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """Module-level ``name = [...]`` / ``name = f(...)``: the names its value refers to (how a
        Channels ``websocket_urlpatterns`` list reaches its consumers)."""
        for stmt in self.model.module.node.body:  # type: ignore[attr-defined]
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            if not targets or not isinstance(value, (ast.List, ast.Tuple, ast.Call, ast.BinOp)):
                continue
            names = self._names_in(value)
            for t in targets:
                if isinstance(t, ast.Name) and names:
                    yield f"{self.module}.{t.id}", names

    def _routes(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        """Channels ``ProtocolTypeRouter`` websocket applications no origin validator wraps."""
        from wsrefactor.semantic.server import CHANNELS_ORIGIN_VALIDATORS

        if self.server is None:
            return
        for call in self.server.channels_routers:
            app = websocket_application(call, self.model)
            if app is None:
                continue
            names = list(self._names_in(app))
            if isinstance(app, ast.Name):
                for b in self.model.module.bindings.get(app.id, ()):
                    if b.value is not None:
                        names.extend(self._names_in(b.value))
            if not any(n in CHANNELS_ORIGIN_VALIDATORS for n in names):
                yield call.lineno, tuple(dict.fromkeys(names))


FRAMEWORKS = ("fastapi", "starlette", "websockets", "tornado", "socketio", "flask_socketio", "channels", "aiohttp",
              "quart", "sanic", "litestar")


def analyses_imports_any(imports: Imports) -> bool:
    return imports.imports_any(FRAMEWORKS)


@dataclass
class _Parts:
    """What one def's summary is built from, gathered while walking the module once."""

    scope: Scope
    names: tuple[str, ...]
    params: set[str] = field(default_factory=set)
    effects: set[tuple[str, str]] = field(default_factory=set)
    plain: set[str] = field(default_factory=set)
    forwards: list[Edge] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.params = set(self.names)


def _owner(scope: Scope | None) -> Scope | None:
    """The def whose own code ``scope`` is (through comprehensions; a lambda is its own)."""
    while scope is not None and scope.kind == "comprehension":
        scope = scope.parent
    return scope if scope is not None and scope.kind == "function" else None


def _parameters(node: ast.AST) -> tuple[str, ...]:
    args = getattr(node, "args", None)
    if not isinstance(args, ast.arguments):
        return ()
    return tuple(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])


def _skips(fn: Scope) -> tuple[int, int]:
    """Parameters a bound call (``obj.m()``) and an unbound one (``Class.m()``) fill implicitly."""
    method = fn.self_name is not None and fn.parent is not None and fn.parent.kind == "class"
    bound = 1 if method and "staticmethod" not in fn.decorators else 0
    return bound, 1 if "classmethod" in fn.decorators else 0


def _call_effects(call: ast.Call, own: set[str], effects: set[tuple[str, str]], plain: set[str]) -> None:
    """``param.send_text(...)`` and the like; ``coll.append(param)`` / ``coll.remove(param)``."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return
    root = _root(func.value)
    if root in own:
        _method_effect(func.attr, root, effects, plain)
    at = _STORES.get(func.attr, _UNDOS.get(func.attr))
    kept = call.args[at] if at is not None and len(call.args) > at else None
    if isinstance(kept, ast.Name) and kept.id in own:
        effects.add((kept.id, REGISTER if func.attr in _STORES else UNREGISTER))


def _method_effect(method: str, root: str, effects: set[tuple[str, str]], plain: set[str]) -> None:
    from wsrefactor.semantic.broadcast import send_method

    if method in _CONNECTION_SENDS:
        effects.add((root, SEND))
    elif send_method(method):
        plain.add(root)
    elif method == "accept":
        effects.add((root, ACCEPT))
    elif method in _RECEIVES:
        effects.add((root, RECEIVE))


def _statement_effects(nodes: Sequence[ast.AST], own: set[str], effects: set[tuple[str, str]]) -> None:
    """``async for m in param`` receives; ``table[key] = param`` registers."""
    for sub in nodes:
        if isinstance(sub, ast.AsyncFor) and isinstance(sub.iter, ast.Name) and sub.iter.id in own:
            effects.add((sub.iter.id, RECEIVE))
        elif isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Name) and sub.value.id in own:
            if any(isinstance(t, ast.Subscript) for t in sub.targets):
                effects.add((sub.value.id, REGISTER))


def websocket_application(call: ast.Call, model: SemanticModel) -> ast.expr | None:
    """The ``"websocket"`` value of ``ProtocolTypeRouter({...})`` (the last one when repeated) or
    of ``ProtocolTypeRouter(dict(websocket=...))``."""
    mapping = _mapping_argument(call)
    if isinstance(mapping, ast.Dict):
        found = [v for k, v in zip(mapping.keys, mapping.values)
                 if isinstance(k, ast.Constant) and k.value == "websocket"]
        return found[-1] if found else None
    if isinstance(mapping, ast.Call) and model.qualified_name(mapping.func, model.scope_of(mapping)) == "builtins.dict":
        return next((k.value for k in mapping.keywords if k.arg == "websocket"), None)
    return None


def _mapping_argument(call: ast.Call) -> ast.expr | None:
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    if plain:
        return plain[0]
    return next((k.value for k in call.keywords if k.arg == "application_mapping"), None)


# -- step 3: what one file is told ---------------------------------------------------------------


@dataclass(frozen=True)
class Callee:
    """A resolved callable another file's calls reach, with what it does per parameter."""

    target: str  # as the calling file names it
    params: tuple[str, ...]
    skip: int
    unbound_skip: int
    effects: tuple[tuple[str, tuple[str, ...]], ...]  # param -> effects
    where: str  # "path:line" of the def (messages)

    def param_at(self, index: int, keyword: str, bound: bool) -> str | None:
        if keyword:
            return keyword if keyword in self.params else None
        at = index + (self.skip if bound else self.unbound_skip)
        return self.params[at] if 0 <= at < len(self.params) else None


@dataclass(frozen=True)
class FileFacts:
    """What the project tells one file (empty for a file no other file reaches)."""

    module: str = ""  # the module name its summary used (``call_target`` names callees with it)
    connections: tuple[tuple[str, str, str], ...] = ()  # (function qualname in module, param, kind)
    callees: tuple[Callee, ...] = ()
    routed: tuple[tuple[str, str, int, tuple[str, ...]], ...] = ()  # (class qualname, router path, line, names)
    sources: tuple[str, ...] = field(default=(), compare=False)  # "path:line" of the calls behind connections
    queues: tuple[tuple[str, str], ...] = ()  # (slot qualname in module, field): its queues carry client frames

    def __bool__(self) -> bool:
        return bool(self.connections or self.callees or self.routed or self.queues)

    def digest(self) -> bytes:
        """What the result cache adds to the file's key: any change here re-decides the file."""
        return hashlib.sha256(repr((self.module, self.connections, self.callees, self.routed,
                                    self.queues)).encode()).digest()

    def connection_params(self, qualname: str) -> dict[str, str]:
        return {p: k for q, p, k in self.connections if q == qualname}

    def callee(self, target: str) -> Callee | None:
        return next((c for c in self.callees if c.target == target), None)

    def effects_of(self, target: str, bound: bool, index: int, keyword: str = "") -> frozenset[str]:
        """What the callable named ``target`` (as ``call_target`` names it) does with the argument
        at ``index`` (or ``keyword``)."""
        callee = self.callee(target)
        param = callee.param_at(index, keyword, bound) if callee is not None else None
        if callee is None or param is None:
            return frozenset()
        return frozenset(dict(callee.effects).get(param, ()))


EMPTY = FileFacts()


class ProjectCalls:
    """What the callables a file's calls reach in other modules do with each argument
    (``analyses(ProjectCalls).effects(call, scope, arg)`` -> ``{"send", "register", ...}``): the
    caller-side view of the facts, for rules that judge a call by what its callee does."""

    def __init__(self, analyses: Analyses) -> None:
        self.facts: FileFacts = analyses.facts
        self.model = analyses(SemanticModel) if self.facts.callees else None
        self.path = analyses.path

    @classmethod
    def compute(cls, analyses: Analyses) -> ProjectCalls:
        return cls(analyses)

    def callee(self, call: ast.Call, scope: Scope) -> tuple[Callee, bool] | None:
        """The resolved callable of another module ``call`` reaches, and whether it is bound."""
        if self.model is None:
            return None
        found = call_target(self.model, call, scope, self.facts.module, self.path)
        callee = self.facts.callee(found[0]) if found is not None else None
        return (callee, found[1]) if callee is not None and found is not None else None

    def effects(self, call: ast.Call, scope: Scope, arg: ast.expr) -> frozenset[str]:
        found = self.callee(call, scope)
        if found is None:
            return frozenset()
        callee, bound = found
        for index, value in enumerate(call.args):
            if isinstance(value, ast.Starred):
                return frozenset()
            if value is arg:
                param = callee.param_at(index, "", bound)
                return frozenset(dict(callee.effects).get(param, ())) if param else frozenset()
        for kw in call.keywords:
            if kw.value is arg and kw.arg:
                return frozenset(dict(callee.effects).get(kw.arg, ()))
        return frozenset()

# The facts of the run being analysed, set by the runner around each file (``using``); read by
# ``Analyses.facts`` (engine-owned: rules never set or pass them).
_CURRENT: contextvars.ContextVar[Mapping[str, FileFacts] | None] = contextvars.ContextVar("xmodule", default=None)


@contextlib.contextmanager
def using(facts: Mapping[str, FileFacts] | None) -> Iterator[None]:
    token = _CURRENT.set(facts)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def facts_for(path: str) -> FileFacts:
    current = _CURRENT.get()
    return current.get(path, EMPTY) if current else EMPTY


# -- step 2: the project ---------------------------------------------------------------------------


class _Index:
    def __init__(self, summaries: Sequence[ModuleSummary]) -> None:
        self.functions: dict[str, tuple[ModuleSummary, FunctionSummary]] = {}
        self.classes: dict[str, str] = {}  # qualified class -> path
        self.instances: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        self.references: dict[str, tuple[str, ...]] = {}
        # every proper dotted suffix of a module name -> that module, when unique (``app.x`` for
        # ``src.app.x``): how absolute imports written from another sys.path entry resolve
        modules = {s.module for s in summaries}
        self.suffixes: dict[str, str | None] = {}
        for module in modules:
            parts = module.split(".")
            for cut in range(1, len(parts)):
                tail = ".".join(parts[cut:])
                self.suffixes[tail] = None if tail in self.suffixes or tail in modules else module
        for s in summaries:
            for f in s.functions:
                self.functions[f.name] = (s, f)
            self.classes.update((c, s.path) for c in s.classes)
            self.instances.update(s.instances)
            self.aliases.update(s.aliases)
            self.references.update(s.references)
        self._memo: dict[str, tuple[FunctionSummary, bool] | None] = {}

    def canonical(self, name: str) -> str:
        return self.through(name)[0]

    def through(self, name: str) -> tuple[str, bool]:
        """``name`` with re-exports and instance names replaced (``pkg.manager`` -> its class),
        and whether an instance was passed through (its methods are then called bound)."""
        bound = False
        for _ in range(_DEPTH):
            if name in self.functions or name in self.classes:
                break
            step = self._rewrite(name)
            if step is None:
                break
            name, through_instance = step
            bound = bound or through_instance
        return name, bound

    def _rewrite(self, name: str) -> tuple[str, bool] | None:
        """One step: the longest prefix of ``name`` that is a re-export, an instance or a unique
        module suffix, replaced by what it stands for."""
        for cut in range(name.count(".") + 1, 0, -1):
            head, _, rest = _split(name, cut)
            tail = f".{rest}" if rest else ""
            if head in self.aliases and self.aliases[head] != head:
                return self.aliases[head] + tail, False
            if head in self.instances and rest:
                return self.instances[head] + tail, True
            module = self.suffixes.get(head)
            if module:
                return module + tail, False
        return None

    def function(self, target: str) -> tuple[FunctionSummary, bool] | None:
        """The function a target names, and whether calling it so is bound (``Cls()`` constructs,
        ``manager.handle`` goes through a module-level instance)."""
        if target not in self._memo:
            found: tuple[FunctionSummary, bool] | None = None
            for alt in target.split("|"):
                name, bound = self.through(alt)
                if name in self.functions:
                    found = (self.functions[name][1], bound)
                elif name in self.classes and f"{name}.__init__" in self.functions:
                    found = (self.functions[f"{name}.__init__"][1], True)
                if found is not None:
                    break
            self._memo[target] = found
        return self._memo[target]

    def param(self, edge: Edge) -> tuple[FunctionSummary, str] | None:
        found = self.function(edge.target)
        if found is None:
            return None
        fn, bound = found
        if edge.keyword:
            return (fn, edge.keyword) if edge.keyword in fn.params else None
        at = edge.index + (fn.skip if (edge.bound or bound) else fn.unbound_skip)
        return (fn, fn.params[at]) if 0 <= at < len(fn.params) else None


def _split(name: str, cut: int) -> tuple[str, str, str]:
    parts = name.split(".")
    return ".".join(parts[:cut]), ".", ".".join(parts[cut:])


def resolve(summaries: Iterable[ModuleSummary]) -> dict[str, FileFacts]:
    """Every file's facts from every module's summary (only files with something to be told)."""
    summaries = sorted(summaries, key=lambda s: s.path)
    index = _Index(summaries)
    conn, origin = _connections(summaries, index)
    effects = _effects(index, conn)
    mine = _connections_by_file(summaries, conn)
    routed: dict[str, list[tuple[str, str, int, tuple[str, ...]]]] = {}
    for path, route in _routed(summaries, index):
        routed.setdefault(path, []).append(route)
    queues = resolve_queues(summaries, index, conn)
    facts: dict[str, FileFacts] = {}
    for s in summaries:
        told = tuple(sorted(mine.get(s.path, ())))
        callees = tuple(c for c in (_callee(index, effects, t, b) for t, b in s.calls) if c is not None)
        sources = tuple(sorted({origin[(f"{s.module}.{q}", p)] for q, p, _ in told}))
        found = FileFacts(s.module, told, callees, tuple(sorted(routed.get(s.path, ()))), sources,
                          queues=queues.get(s.path, ()))
        if found:
            facts[s.path] = found
    return facts


def _connections_by_file(
    summaries: Sequence[ModuleSummary], conn: Mapping[tuple[str, str], str]
) -> dict[str, list[tuple[str, str, str]]]:
    """(qualname in its module, param, kind) per file defining the function."""
    by_name = {f.name: s for s in summaries for f in s.functions}
    mine: dict[str, list[tuple[str, str, str]]] = {}
    for (name, param), kind in conn.items():
        owner = by_name[name]
        mine.setdefault(owner.path, []).append((name[len(owner.module) + 1:], param, kind))
    return mine


def callers_wanted(summaries: Iterable[ModuleSummary]) -> set[str]:
    """The names a caller of a callable that sends on a parameter must write (the function's, or
    for a method its class's or a module-level instance's): a module holding none of them cannot
    hand such a callable a value, so it needs no summary. Other effects (register, accept,
    receive) matter only for a value known to be a connection, which forward edges follow."""
    summaries = sorted(summaries, key=lambda s: s.path)
    index = _Index(summaries)
    conn, _ = _connections(summaries, index)
    instances: dict[str, set[str]] = {}
    for name, cls in index.instances.items():
        instances.setdefault(cls, set()).add(name.rpartition(".")[2])
    out: set[str] = set()
    for name, params in _effects(index, conn).items():
        if not any(SEND in e for e in params.values()):
            continue
        owner, _, last = name.rpartition(".")
        if owner in index.classes:
            out.add(owner.rpartition(".")[2])
            out.update(instances.get(owner, ()))
        else:
            out.add(last)
    return out


def _connections(
    summaries: Sequence[ModuleSummary], index: _Index
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    # connection kinds, forward along edges (a worklist: each (function, param) enters once)
    conn: dict[tuple[str, str], str] = {}
    origin: dict[tuple[str, str], str] = {}
    todo: list[tuple[str, str]] = []
    for s in summaries:
        for edge in s.passes:
            hit = index.param(edge)
            if hit is not None and (hit[0].name, hit[1]) not in conn:
                conn[(hit[0].name, hit[1])] = edge.source.removeprefix("conn:")  # other kinds: "msg:..."
                origin[(hit[0].name, hit[1])] = f"{s.path}:{edge.line}"
                todo.append((hit[0].name, hit[1]))
    forward(index, conn, todo, origin)
    return conn, origin


def forward(
    index: _Index, conn: dict[tuple[str, str], str], todo: list[tuple[str, str]],
    origin: dict[tuple[str, str], str] | None = None,
) -> None:
    """Hand each ``(function, param)`` of ``todo`` (already in ``conn``) on along the calls that
    pass that parameter to another function's parameter, with its kind (and ``origin``), until
    nothing is added: a worklist, each pair enters once."""
    while todo:
        name, param = todo.pop()
        _, fn = index.functions[name]
        for edge in fn.forwards:
            hit = index.param(edge) if edge.source == param else None
            if hit is not None and (hit[0].name, hit[1]) not in conn:
                conn[(hit[0].name, hit[1])] = conn[(name, param)]
                if origin is not None:
                    origin[(hit[0].name, hit[1])] = origin[(name, param)]
                todo.append((hit[0].name, hit[1]))


def _effects(index: _Index, conn: Mapping[tuple[str, str], str]) -> dict[str, dict[str, set[str]]]:
    """Per function and parameter, what it does (directly or through the functions it hands the
    parameter to), to a fixed point; a generic ``send`` counts on a known connection only."""
    out = {name: _direct_effects(name, fn, conn) for name, (_, fn) in index.functions.items()}
    # callers of each (function, parameter): a worklist pushes effects back along the edges; each
    # pair re-enters only when its effects grow (at most 5 times), so the work is linear in edges
    callers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, edge, hit in _resolved_forwards(index):
        callers.setdefault((hit[0].name, hit[1]), []).append((name, edge.source))
    todo = [(name, param) for name, params in out.items() for param in params]
    while todo:
        callee, cparam = todo.pop()
        got = out[callee][cparam]
        for name, param in callers.get((callee, cparam), ()):
            have = out[name].setdefault(param, set())
            if not got <= have:
                have |= got
                todo.append((name, param))
    return out


def _direct_effects(name: str, fn: FunctionSummary, conn: Mapping[tuple[str, str], str]) -> dict[str, set[str]]:
    mine: dict[str, set[str]] = {}
    for param, effect in fn.effects:
        mine.setdefault(param, set()).add(effect)
    for param in fn.plain_sends:
        if ":" not in conn.get((name, param), ":"):  # a connection kind, not another value's
            mine.setdefault(param, set()).add(SEND)
    return mine


def _resolved_forwards(index: _Index) -> Iterator[tuple[str, Edge, tuple[FunctionSummary, str]]]:
    for name, (_, fn) in index.functions.items():
        for edge in fn.forwards:
            hit = index.param(edge)
            if hit is not None:
                yield name, edge, hit


def _callee(index: _Index, effects: Mapping[str, Mapping[str, set[str]]], target: str, bound: bool) -> Callee | None:
    found = index.function(target)
    if found is None:
        return None
    fn, through = found
    mine = {p: tuple(sorted(e)) for p, e in effects.get(fn.name, {}).items() if e}
    if not mine:
        return None
    summary = index.functions[fn.name][0]
    unbound = fn.skip if through else fn.unbound_skip  # through an instance: always bound
    return Callee(target, fn.params, fn.skip, unbound, tuple(sorted(mine.items())), f"{summary.path}:{fn.line}")


def _routed(
    summaries: Sequence[ModuleSummary], index: _Index
) -> list[tuple[str, tuple[str, str, int, tuple[str, ...]]]]:
    """Per consumer file, the classes (relative to their module) an unvalidated Channels router of
    another module reaches through module-level references (``websocket_urlpatterns``)."""
    modules = {s.path: s.module for s in summaries}
    out = set()
    for s in summaries:
        for line, names in s.routes:
            for cls in _reached_classes(names, index):
                path = index.classes[cls]
                if path != s.path:
                    out.add((path, (cls[len(modules[path]) + 1:], s.path, line, names)))
    return sorted(out)


def _reached_classes(names: Sequence[str], index: _Index) -> Iterator[str]:
    """The project classes ``names`` refer to, directly (``Consumer.as_asgi()``) or through
    module-level values, ``_DEPTH`` references deep."""
    seen: set[str] = set()
    todo = [index.canonical(n) for n in names]
    for _ in range(_DEPTH):
        fresh = [n for n in dict.fromkeys(todo) if n not in seen]
        seen.update(fresh)
        for name in fresh:
            cls = name if name in index.classes else name.rpartition(".")[0]
            if cls in index.classes:
                yield cls
        todo = [index.canonical(r) for n in fresh for r in index.references.get(n, ())]
