"""WS103 message-not-validated: a received JSON message used as a dict with no schema validation."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.message_models import (
    PYDANTIC_NAMES,
    TYPING_NAMES,
    Namer,
    Plan,
    Shape,
    ShapeReader,
    bound_name,
    fresh_name,
    make_plan,
    models_target,
    render_models,
    str_value,
)
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.semantic import Analyses, Scope
from wsrefactor.semantic.detection import Detection, detect_at
from wsrefactor.semantic.nodes import own_nodes
from wsrefactor.semantic.queues import GETS, local_slot
from wsrefactor.semantic.server import Receive, ServerModel
from wsrefactor.semantic.summary import RAW_MESSAGE

# -- data tables -----------------------------------------------------------------------------------

LOADS = frozenset({"json.loads", "orjson.loads", "ujson.loads", "simplejson.loads", "rapidjson.loads"})
#: method / function names that validate their argument against a schema
VALIDATOR_ATTRS = frozenset({
    "model_validate", "parse_obj", "validate_python", "validate", "load", "from_dict", "structure",
    "convert", "model_construct", "parse_raw", "validate_json", "iter_errors", "is_valid",
})
VALIDATOR_FUNCS = frozenset({
    "jsonschema.validate", "fastjsonschema.validate", "dacite.from_dict", "cattrs.structure", "msgspec.convert",
    "pydantic.parse_obj_as", "pydantic.tools.parse_obj_as",
})
DICT_METHODS = frozenset({"get", "pop", "setdefault", "keys", "items", "values"})
#: Exceptions whose handler catches what indexing a malformed message raises.
BROAD_EXCEPTIONS = frozenset({
    "builtins.Exception", "builtins.BaseException", "builtins.KeyError", "builtins.LookupError",
})
_RAW_KEYS = ("text", "bytes")
_PLACEHOLDER = "__ws103_raw__"
_FLOW_DEPTH = 2  # same-module calls the raw message is followed through to its ``json.loads``
_USE_DEPTH = 3  # same-module calls the parsed message is followed through to a dict use
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


# -- where parsed messages come from ------------------------------------------------------------------


@dataclass(eq=False)
class _Parsed:
    """A parsed client message. ``node``: what is reported (the ``json.loads``/``receive_json``
    call, or the callback parameter the framework hands the parsed message to); ``holder``: the
    expression whose value is the message; ``name``: what it is bound to in ``function`` (None:
    used in place), its uses counted past ``after`` and, for ``iter_json()``, inside ``within``."""

    node: ast.AST
    function: Scope
    site: Receive | None  # None: a frame another module received and handed here (no fix)
    holder: ast.AST
    name: str | None = None
    after: ast.AST | None = None
    within: ast.AST | None = None
    loads: str | None = None  # the qualified ``loads`` that parsed it


def _unawait(node: ast.AST) -> ast.AST:
    return node.value if isinstance(node, ast.Await) else node


def _raw_inner(node: ast.AST) -> ast.AST | None:
    """``x`` of ``x.decode()``, ``x["text"]``, ``x.get("bytes")``: the same frame, unwrapped."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        attr = node.func.attr
        if attr == "decode" or (attr == "get" and node.args and str_value(node.args[0]) in _RAW_KEYS):
            return node.func.value
    if isinstance(node, ast.Subscript) and str_value(node.slice) in _RAW_KEYS:
        return node.value
    return None


def _is_raw(node: ast.AST, names: set[str], sites: set[int]) -> bool:
    """The received frame itself: a receive (its call or holder), a name bound to one, or
    ``raw.decode()`` / ``message["text"]`` / ``message.get("bytes")`` of one."""
    if id(node) in sites:
        return True
    node = _unawait(node)
    if id(node) in sites:
        return True
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load) and node.id in names
    if _field_name(node) in names:
        return True
    inner = _raw_inner(node)
    return inner is not None and _is_raw(inner, names, sites)


def _carried_fields(queues: tuple[tuple[str, str], ...]) -> dict[str, set[str]]:
    """``FileFacts.queues`` by slot: the fields of its items that hold a client frame."""
    out: dict[str, set[str]] = {}
    for slot, field_name in queues:
        out.setdefault(slot, set()).add(field_name)
    return out


def _item_names(name: str, fields: set[str]) -> set[str]:
    """How the frame in an item bound to ``name`` is named: ``name`` or ``name.<field>``."""
    return {f"{name}.{f}" if f else name for f in fields}


def _field_name(node: ast.AST) -> str | None:
    """``item.payload`` -> ``"item.payload"``: how a frame held in a field of a name is named."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and isinstance(node.ctx, ast.Load):
        return f"{node.value.id}.{node.attr}"
    return None


class _Finder:
    """The parsed client messages of a module: what ``receive_json()``/``iter_json()`` return,
    what a Channels ``receive_json(self, content)`` (or a ``WebSocketEndpoint`` with ``encoding =
    "json"``) is handed, and every ``json.loads`` of a received frame — in the function that
    receives it, through names it is copied to (``text = message.get("text")``), and in the
    same-module functions and collaborator methods the frame is passed to."""

    def __init__(self, server: ServerModel) -> None:
        self.server = server
        self.model = server.model

    def parsed(self) -> list[_Parsed]:
        out: list[_Parsed] = []
        seen: set[int] = set()
        for site in self.server.receives:
            for found in self._for_site(site):
                if id(found.node) not in seen:
                    seen.add(id(found.node))
                    out.append(found)
        for found in [*self._handed_over(), *self._from_queues()]:
            if id(found.node) not in seen:
                seen.add(id(found.node))
                out.append(found)
        return out

    def _from_queues(self) -> Iterator[_Parsed]:
        """Items ``name = await q.get()`` / ``q.get_nowait()`` takes from a queue another task puts
        received frames on (``analyses.facts.queues``, decided over the project by
        ``semantic/queues.py``): the item, or its field that holds the frame (``name.payload``),
        followed like a frame received here."""
        for fn, names in self._queue_items():
            for callee, raw_names, raw_sites in self._flows(fn, names, set(), _FLOW_DEPTH, set()):
                yield from self._loads_in(callee, raw_names, raw_sites, None)

    def _queue_items(self) -> Iterator[tuple[Scope, set[str]]]:
        """``(function, names of the frame)`` per ``name = await q.get()`` on such a queue:
        ``name`` itself, or ``name.<field>`` for the fields holding the frame."""
        carried = _carried_fields(self.server.analyses.facts.queues)
        for call, scope in self.model.calls() if carried else ():
            fields = carried.get(self._queue_read(call, scope) or "")
            fn = self.server.function_of(call) if fields else None
            bound = bound_name(self.server, call) if fn is not None else None
            if fn is not None and bound is not None:
                yield fn, _item_names(bound[0], fields or set())

    def _queue_read(self, call: ast.Call, scope: Scope) -> str | None:
        """The slot (``Class.attr``, ``NAME``) ``call`` gets an item from: ``q.get()``, ``q.get_nowait()``."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in GETS or call.args or call.keywords:
            return None
        return local_slot(self.model, func.value, scope)

    def _handed_over(self) -> Iterator[_Parsed]:
        """Frames another module received and handed to a function of this one (``msg:raw`` in
        ``analyses.facts``: ``self.connection.handle_incoming_message(message)`` from a tornado
        ``on_message`` elsewhere), followed like a frame received here."""
        facts = self.server.analyses.facts
        if not facts.connections:
            return
        for scope in self.model.scopes.scopes:
            if scope.kind != "function":
                continue
            params = {p for p, kind in facts.connection_params(scope.qualname).items() if kind == RAW_MESSAGE}
            if params:
                for fn, raw_names, raw_sites in self._flows(scope, params, set(), _FLOW_DEPTH, set()):
                    yield from self._loads_in(fn, raw_names, raw_sites, None)

    def _for_site(self, site: Receive) -> Iterator[_Parsed]:
        if site.callback:
            if self._callback_mode(site) == "json":
                node = _parameter(site.function, site.target)
                if node is not None:
                    yield _Parsed(node, site.function, site, node, site.target)
                return
        elif site.mode in ("json", "json-binary") and isinstance(site.node, ast.Call):
            yield self._received_json(site)
            return
        names = {site.target} if site.target else set()
        sites = {id(site.node)} | ({id(site.holder)} if site.holder is not None else set())
        for fn, raw_names, raw_sites in self._flows(site.function, names, sites, _FLOW_DEPTH, set()):
            yield from self._loads_in(fn, raw_names, raw_sites, site)

    def _callback_mode(self, site: Receive) -> str:
        """``on_receive`` of a ``WebSocketEndpoint`` whose ``encoding = "json"`` gets parsed JSON."""
        if site.connection == "asgi-class" and site.method == "on_receive":
            cls = site.function.parent
            bound = self.model.attribute_bindings(cls, "encoding") if cls is not None else []
            if len(bound) == 1 and str_value(bound[0].value) == "json":
                return "json"
        return site.mode

    def _received_json(self, site: Receive) -> _Parsed:
        call = site.node
        holder = site.holder if site.holder is not None else call
        if site.method.startswith("iter_") and site.loop is not None:
            loop = site.loop
            return _Parsed(call, site.function, site, holder, site.target, loop.iter, loop)  # type: ignore[attr-defined]
        bound = bound_name(self.server, holder)
        name, after = bound if bound is not None else (None, None)
        return _Parsed(call, site.function, site, holder, name, after)

    def _flows(
        self, fn: Scope, names: set[str], sites: set[int], depth: int, seen: set[int]
    ) -> Iterator[tuple[Scope, set[str], set[int]]]:
        """``fn`` with the names holding the raw frame (aliases included), then the same-module
        functions and methods the frame is passed to, with their parameter."""
        names = self._aliases(fn, names, sites)
        yield fn, names, sites
        seen.add(id(fn))
        if depth == 0 or not (names or sites):
            return
        for callee, passed in self._passed_on(fn, names, sites):
            if id(callee) not in seen:
                yield from self._flows(callee, passed, set(), depth - 1, seen)

    def _passed_on(self, fn: Scope, names: set[str], sites: set[int]) -> Iterator[tuple[Scope, set[str]]]:
        """``(callee, its names of the frame)`` for each call of ``fn`` passing the frame (or an
        object holding it in a field: ``handle(item)`` with ``item.payload`` a frame) to a
        same-module function."""
        for call, scope in self.server.calls_in(fn):
            callee = self.server.resolve(call, scope)
            if callee is None:
                continue
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                fields = _fields_of(arg, names)
                if not _is_raw(arg, names, sites) and not fields:
                    continue
                param = self.server.bound_parameter(call, callee, arg)
                if param is not None:
                    yield callee, ({param} if _is_raw(arg, names, sites) else {f"{param}.{f}" for f in fields})

    def _aliases(self, fn: Scope, names: set[str], sites: set[int]) -> set[str]:
        """``text = message.get("text")``, ``raw = await ws.recv()``: more names of the frame."""
        names = set(names)
        assigns = [n for n in own_nodes(fn.node) if isinstance(n, (ast.Assign, ast.NamedExpr))]
        changed = True
        while changed:
            changed = False
            for node in assigns:
                target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else getattr(
                    node, "target", None)
                if isinstance(target, ast.Name) and target.id not in names and _is_raw(node.value, names, sites):
                    names.add(target.id)
                    changed = True
        return names

    def _loads_in(self, fn: Scope, names: set[str], sites: set[int], site: Receive | None) -> Iterator[_Parsed]:
        for call, scope in self.server.calls_in(fn):
            if not call.args or not _is_raw(call.args[0], names, sites):
                continue
            loads = self.model.qualified_name(call.func, scope)
            if loads in LOADS:
                bound = bound_name(self.server, call)
                name, after = bound if bound is not None else (None, None)
                yield _Parsed(call, fn, site, call, name, after, loads=loads)


def _fields_of(arg: ast.AST, names: set[str]) -> set[str]:
    """The fields of the name ``arg`` that hold the frame (``item`` with ``"item.payload"`` in ``names``)."""
    if not isinstance(arg, ast.Name):
        return set()
    prefix = f"{arg.id}."
    return {n[len(prefix):] for n in names if n.startswith(prefix)}


def _parameter(fn: Scope, name: str | None) -> ast.arg | None:
    args = getattr(fn.node, "args", None)
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs] if args is not None else []
    return next((p for p in params if p.arg == name), None)


# -- how the parsed message is used ------------------------------------------------------------------


def _class_like(func: ast.expr) -> bool:
    """``Message(...)``, ``schemas.Message(...)``: a class by Python's naming convention."""
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name[:1].isupper()


class _Usage:
    """Whether a parsed message is used as a dict before any schema validation."""

    def __init__(self, server: ServerModel) -> None:
        self.server = server
        self.model = server.model

    def verdict(self, parsed: _Parsed) -> str | None:
        """``"dict"`` (report), ``"validated"``, or None: never used as a dict, or every error is
        caught by a broad ``try`` whose handler lets the session go on."""
        if self._caught_in_place(parsed):
            return None
        if parsed.name is None:
            if self._validated_by(parsed.holder):
                return "validated"
            return "dict" if self._dict_use(parsed.holder) else None
        return self.of_name(parsed.function, parsed.name, parsed.after, _USE_DEPTH, parsed.within)

    def of_name(self, fn: Scope, name: str, after: ast.AST | None, depth: int, within: ast.AST | None = None) -> str | None:
        inside = {id(n) for n in ast.walk(within)} if within is not None else None
        guarded = False
        for use in self.server.uses_after(fn, name, after):
            if inside is not None and id(use) not in inside:
                continue
            if not isinstance(use.ctx, ast.Load):
                return None  # rebound: no longer the message
            guarded = guarded or self._isinstance_check(use)
            verdict = self._use_verdict(fn, use, depth, guarded)
            if verdict is not None:
                return verdict
        return None

    def _use_verdict(self, fn: Scope, use: ast.Name, depth: int, guarded: bool) -> str | None:
        """One read of the message: validated, a dict use (a lenient one after an ``isinstance``
        check is fine), or what the callee it is passed to does with it."""
        if self._validated_by(use):
            return "validated"
        if self._dict_use(use) and not (guarded and self._lenient_read(use)):
            return "dict"
        return self._through_call(fn, use, depth)

    # -- a broad ``except`` around the parse --------------------------------------------------------

    def _caught_in_place(self, parsed: _Parsed) -> bool:
        """Inside a ``try`` met before any loop, whose broad handlers (``except Exception``,
        ``KeyError``...) all let the session go on. A handler that re-raises, breaks out of the
        receive loop or returns from it ends the session on one bad frame: not a reason for silence."""
        found = self._broad_try(parsed.node)
        if found is None:
            return False
        try_node, child, broad = found
        in_body = any(child is s for s in try_node.body)  # type: ignore[attr-defined]
        return in_body and not any(self._ends_session(h, try_node) for h in broad)

    def _broad_try(self, node: ast.AST) -> tuple[ast.AST, ast.AST, list[ast.ExceptHandler]] | None:
        """The innermost ``try`` with broad handlers around ``node`` before any loop or def, the
        child of it ``node`` is in, and those handlers."""
        child: ast.AST = node
        current = self.server.parent(node)
        while current is not None and not isinstance(current, (*_LOOPS, *_DEFS)):
            handlers = getattr(current, "handlers", None) if isinstance(current, ast.stmt) else None
            broad = [h for h in handlers or () if self._broad(h)]
            if broad:
                return current, child, broad
            child, current = current, self.server.parent(current)
        return None

    def _broad(self, handler: ast.ExceptHandler) -> bool:
        kinds = handler.type
        if kinds is None:
            return True
        names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        scope = self.model.scope_of(handler)
        return any(self.model.qualified_name(n, scope) in BROAD_EXCEPTIONS for n in names)

    def _ends_session(self, handler: ast.ExceptHandler, try_node: ast.AST) -> bool:
        """The handler raises, closes the connection, breaks out of the loop around the ``try``,
        or returns from it."""
        in_loop = self.server.enclosing_loop(try_node) is not None
        for node in _handler_nodes(handler):
            if isinstance(node, ast.Raise) or (isinstance(node, ast.Break) and _leaves(handler, node, self.server)):
                return True
            if (isinstance(node, ast.Return) and in_loop) or self._closes(node):
                return True
        return False

    def _closes(self, node: ast.AST) -> bool:
        """``ws.close(...)`` / tornado's and Channels' ``self.close()`` on a known connection."""
        func = node.func if isinstance(node, ast.Call) else None
        return isinstance(func, ast.Attribute) and func.attr == "close" and self.server.is_connection(
            func.value, self.model.scope_of(node))

    # -- uses -----------------------------------------------------------------------------------

    def _validated_by(self, node: ast.AST) -> bool:
        """``node`` is an argument of a schema validation (``Model.model_validate(node)``,
        ``Model(**node)``, ``jsonschema.validate(node, schema)``, ``schema.load(node)``...)."""
        call, star = self._argument_of(node)
        if call is None:
            return False
        if _class_like(call.func) and (star or len(call.args) + len(call.keywords) == 1):
            return True
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in VALIDATOR_ATTRS:
            return True
        return self.model.qualified_name(func, self.model.scope_of(call)) in VALIDATOR_FUNCS or (
            isinstance(func, ast.Name) and func.id in ("from_dict", "structure"))

    def _argument_of(self, node: ast.AST) -> tuple[ast.Call | None, bool]:
        """The call ``node`` is an argument of (positional, keyword or ``**node``), and whether starred."""
        parent = self.server.parent(node)
        if isinstance(parent, ast.keyword):
            call = self.server.parent(parent)
            return (call, parent.arg is None) if isinstance(call, ast.Call) else (None, False)
        if isinstance(parent, ast.Call) and any(a is node for a in parent.args):
            return parent, False
        return None, False

    def _dict_use(self, node: ast.AST) -> bool:
        """``node["k"]``, ``node.get(...)``, ``"k" in node``, ``{**node}``, ``f(**node)`` (f not a class)."""
        parent = self.server.parent(node)
        if isinstance(parent, ast.keyword):
            call = self.server.parent(parent)
            return parent.arg is None and isinstance(call, ast.Call) and not _class_like(call.func)
        return _indexed(parent, node) or _tested_for_key(parent, node) or _spread_in_dict(parent, node)

    def _lenient_read(self, use: ast.Name) -> bool:
        """``msg.get(...)``, ``"k" in msg``: reads that never raise on a dict."""
        parent = self.server.parent(use)
        if isinstance(parent, ast.Attribute):
            return parent.attr in ("get", "keys", "items", "values")
        return isinstance(parent, ast.Compare)

    def _isinstance_check(self, use: ast.Name) -> bool:
        """``isinstance(msg, dict)``: from here on, ``msg.get(...)`` cannot raise."""
        call = self.server.parent(use)
        return isinstance(call, ast.Call) and any(a is use for a in call.args) and self.model.qualified_name(
            call.func, self.model.scope_of(call)) == "builtins.isinstance"

    def _through_call(self, fn: Scope, use: ast.Name, depth: int) -> str | None:
        """``handle(msg)``: how the same-module callee (or collaborator method) uses its parameter."""
        call, star = self._argument_of(use)
        if depth == 0 or call is None or star:
            return None
        callee = self.server.resolve(call, self.model.scope_of(call))
        param = self.server.bound_parameter(call, callee, use) if callee is not None else None
        if callee is None or param is None or callee is fn:
            return None
        return self.of_name(callee, param, None, depth - 1)


def _indexed(parent: ast.AST | None, node: ast.AST) -> bool:
    """``node[...]``, ``node.get(...)`` and the other dict methods."""
    if isinstance(parent, ast.Subscript):
        return parent.value is node
    return isinstance(parent, ast.Attribute) and parent.value is node and parent.attr in DICT_METHODS


def _tested_for_key(parent: ast.AST | None, node: ast.AST) -> bool:
    """``"k" in node`` / ``"k" not in node``."""
    return isinstance(parent, ast.Compare) and any(
        c is node and isinstance(op, (ast.In, ast.NotIn)) for c, op in zip(parent.comparators, parent.ops))


def _spread_in_dict(parent: ast.AST | None, node: ast.AST) -> bool:
    """``{**node}``."""
    return isinstance(parent, ast.Dict) and any(k is None and v is node for k, v in zip(parent.keys, parent.values))


def _handler_nodes(handler: ast.ExceptHandler) -> Iterator[ast.AST]:
    """The handler's own nodes (nested defs and classes excluded)."""
    return own_nodes(handler)


def _leaves(handler: ast.ExceptHandler, node: ast.Break, server: ServerModel) -> bool:
    """A ``break`` in the handler that is not inside a loop of the handler itself."""
    current = server.parent(node)
    while current is not None and current is not handler:
        if isinstance(current, _LOOPS):
            return False
        current = server.parent(current)
    return True


# -- the fix, decided with the finding ---------------------------------------------------------------


@dataclass(eq=False)
class _Rewrite:
    """How the fix rewrites ``name = json.loads(raw)`` / ``name = await ws.receive_json()``:
    the statement's span, the names, the connection's text, the framework kind, the fresh
    exception name, ``receive_json`` -> ``receive_text``/``receive_bytes`` into ``raw_name``,
    the handler's name and the message shape the models are generated from."""

    stmt_start: tuple[int, int]
    stmt_end: tuple[int, int]
    name: str
    ws: str
    kind: str
    exc: str
    handler: str
    shape: Shape
    loads: bool
    raw_method: str | None = None
    raw_name: str | None = None


def _rewrite(server: ServerModel, parsed: _Parsed) -> _Rewrite | None:
    """The fix applies to ``name = <parse>`` alone on its line, written in an async function
    endpoint (FastAPI/Starlette or ``websockets``) itself, inside the loop that receives the
    message (so ``continue`` skips to the next one)."""
    place = _fix_place(server, parsed)
    if place is None or parsed.name is None or parsed.site is None:
        return None
    kind, stmt = place
    fn, analyses = parsed.function, server.analyses
    exc = fresh_name(fn.node, ("exc", "error", "validation_error", "ws103_error"))
    ws_expr = _connection_expr(parsed.site)
    raw = _raw_receive(parsed, parsed.site, stmt)
    if exc is None or ws_expr is None or raw is None:
        return None
    end_line = stmt.end_lineno or stmt.lineno
    return _Rewrite(
        (stmt.lineno, analyses.char_column(stmt.lineno, stmt.col_offset)),
        (end_line, analyses.char_column(end_line, stmt.end_col_offset or 0)),
        parsed.name, analyses.segment(ws_expr), kind, exc, fn.name,
        ShapeReader(server).read(fn, parsed.name, stmt), parsed.loads is not None, *raw,
    )


def _fix_place(server: ServerModel, parsed: _Parsed) -> tuple[str, ast.Assign] | None:
    """The endpoint's kind and the ``name = <parse>`` statement, when the fix can go there."""
    fn = parsed.function
    kind = _async_endpoint_kind(server, fn)
    stmt = server.model.statement_of(parsed.node)
    if kind is None or not isinstance(stmt, ast.Assign) or parsed.site is None:
        return None
    loop = server.enclosing_loop(stmt)
    in_place = server.function_of(stmt) is fn and loop is not None and loop is parsed.site.loop
    return (kind, stmt) if in_place and _lone_assignment(server.analyses, stmt) else None


def _async_endpoint_kind(server: ServerModel, fn: Scope) -> str | None:
    """``asgi``/``websockets`` when ``fn`` is such an endpoint function, and async."""
    if not isinstance(fn.node, ast.AsyncFunctionDef):
        return None
    return next((ep.kind for ep in server.endpoints if ep.node is fn.node and ep.kind in ("asgi", "websockets")), None)


def _lone_assignment(analyses: Analyses, stmt: ast.Assign) -> bool:
    """``name = value`` with one target, alone on its line."""
    return len(stmt.targets) == 1 and _alone_on_its_line(analyses, stmt)


def _connection_expr(site: Receive) -> ast.expr | None:
    """``ws`` of ``ws.recv()`` / ``async for message in ws``."""
    node = site.node
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.value
    return getattr(node, "iter", None)


def _raw_receive(parsed: _Parsed, site: Receive, stmt: ast.Assign) -> tuple[str | None, str | None] | None:
    """How the fix reads the frame: ``(None, None)`` keeps ``json.loads(<one argument>)``'s
    argument; ``receive_json()`` becomes ``receive_text()``/``receive_bytes()`` into a fresh
    name; None: no fix."""
    if parsed.loads is not None:
        return (None, None) if stmt.value is parsed.node and _one_argument(parsed.node) else None
    awaited = isinstance(stmt.value, ast.Await) and stmt.value.value is site.node
    if site.method != "receive_json" or not site.awaited or not awaited:
        return None
    raw_name = fresh_name(parsed.function.node, ("raw", "raw_message", f"{parsed.name}_raw"))
    return ("receive_bytes" if site.mode == "json-binary" else "receive_text", raw_name) if raw_name else None


def _alone_on_its_line(analyses: Analyses, stmt: ast.stmt) -> bool:
    return not analyses.line(stmt.lineno)[: stmt.col_offset].strip() and ";" not in analyses.line(
        stmt.end_lineno or stmt.lineno)[stmt.end_col_offset or 0:].split("#")[0]


def _one_argument(call: ast.AST) -> bool:
    """``f(x)``: one positional argument, not starred, no keywords."""
    return isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords and not isinstance(
        call.args[0], ast.Starred)


def _message(parsed: _Parsed) -> str:
    if parsed.loads is not None:
        source = f"message parsed by `{parsed.loads}()`"
    elif parsed.site is None:
        source = "message"
    elif isinstance(parsed.node, ast.arg):
        source = f"message `{parsed.name}` handed to `{parsed.site.method}()`"
    else:
        source = f"message parsed by `{parsed.site.method}()`"
    return (f"{source} is used as a dict without schema validation; a malformed message raises in the "
            "handler and drops the connection")


class MessageNotValidated(SemanticRule):
    """
    ## What it does
    Finds a JSON message received on a WebSocket connection that is used as a dict
    (`msg["type"]`, `msg.get("room")`, `"text" in msg`, `{**msg}`, `f(**msg)`) before any schema
    validation. The message is what `receive_json()`/`iter_json()` return (also through awaited
    wrappers such as `asyncio.wait_for(ws.receive_json(), 5)`), what Channels hands to
    `(Async)JsonWebsocketConsumer.receive_json(self, content)` and a `WebSocketEndpoint` with
    `encoding = "json"` to `on_receive`, or what `json.loads()` (also `orjson`/`ujson`/
    `simplejson.loads`) makes of a received frame: what `receive_text()`/`receive_bytes()`/
    `receive()`/`iter_text()`/`recv()`/`async for` returned, a tornado `on_message` or Channels
    `receive` was handed, or a name copied from one (`text = message.get("text")`). The frame and
    the parsed message are followed into same-module functions and collaborator methods they are
    passed to (`self.connection.handle_incoming_message(message)` where `self.connection` holds an
    instance of a class of the module), and into functions of another module of the project a
    received frame is handed to (`handle(text)` with `from app.protocol import handle`, or a
    method of an imported class known from an annotation or a constructor call): the finding is
    then where the same-module case reports it, at that module's `json.loads`, without a fix.
    A collaborator whose class is not known statically (`self.connection =
    self.settings["connection_class"](...)`) is not followed. Connections are known from what they are (an endpoint's
    socket of any framework, a parameter annotated `WebSocket`, a value passed from one), never
    from a name. Validation is a call that takes the message first: Pydantic
    `model_validate`/`parse_obj`/`TypeAdapter(...).validate_python`, `jsonschema.validate`,
    marshmallow `schema.load`, `dacite.from_dict`, `cattrs.structure`, `msgspec.convert`, or
    building a class from it (`Message(**msg)`). A broad `except` (`Exception`, `KeyError`,
    bare) around the parse is *not* validation: the finding stays when its handler re-raises,
    closes the connection, `break`s out of the receive loop or `return`s from it (one bad frame
    ends the session); it is silent when the handler lets the session go on (an error reply and
    `continue`, a log line, a `return` from a per-message callback). Reported on the
    `loads`/`receive_json` call, or on the `content` parameter.

    A frame also flows through a queue: `await q.put(frame)` (or `put_nowait`) in the receive loop,
    or an object built from it (`q.put(Envelope(kind="client", payload=frame))`), makes what
    `item = await q.get()` / `q.get_nowait()` returns on the *same* queue a received frame (or
    `item.payload`, the attribute the class's `__init__` stores that argument in, or the dataclass
    field), in the same module or another, reported at that `json.loads` without a fix. A queue is
    known by where it is made (`asyncio.Queue()`/`queue.Queue()` in a module global or an
    attribute), never by its name: an attribute set from a constructor parameter holds the queue
    every call of that constructor in the project passes (`World(inbox=self.to_world)`), through
    other parameter names. A frame read from a parameter (`await websocket.recv()` in a method)
    counts when the project hands that parameter a connection (also the method of an instance passed
    to `websockets.serve(game.main)`, when every call passes an instance of the same class).

    Where the rule would have to guess it stays silent: a queue attribute a constructor parameter
    gets that is handed different queues, an unknown value, or `*args` at some call, has a
    default, or is also bound to something else, or that a subclass's `super().__init__(...)`
    fills; a queue made in a file that is not checked (the flow is followed over the files
    checked, or the whole project with `cross-file-scope = "project"`: a constructor call in a file
    outside them is not seen); a frame parsed or validated before the `put` (the item is then no frame);
    a handler that ends the session through a helper (closing the socket in a function it calls),
    and `**msg` passed to a callee whose name starts with a capital letter (taken for a class that
    validates its fields). A collaborator whose class comes from configuration (jupyter_server's
    `self.settings["kernel_websocket_connection_class"](...)`, a `traitlets.Type` whose default
    depends on runtime configuration) is not followed.

    ## Why is this bad?
    A WebSocket message is untrusted input. Invalid JSON, a list instead of an object or a missing
    key raises `JSONDecodeError`/`TypeError`/`KeyError` inside the receive loop: the exception ends
    the handler, the connection drops, and every client can kill its own session (or a shared one)
    with one frame; wrong types flow further into the application. Validating against a schema
    turns all of that into one well-defined error the handler can answer.

    ## Example
    ```python
    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        while True:
            msg = json.loads(await websocket.receive_text())
            if msg["type"] == "chat":
                await broadcast(msg["text"])
            elif msg.get("type") == "join":
                await join(websocket, msg["room"])
    ```

    ## Use instead
    ```python
    class ChatMessage(BaseModel):
        model_config = ConfigDict(extra="allow")

        type: Literal["chat"]
        text: Any


    class JoinMessage(BaseModel):
        model_config = ConfigDict(extra="allow")

        type: Literal["join"]
        room: Any


    EndpointMessage = Annotated[Union[ChatMessage, JoinMessage], Field(discriminator="type")]
    ENDPOINT_MESSAGE_ADAPTER = TypeAdapter(EndpointMessage)

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        while True:
            try:
                msg = ENDPOINT_MESSAGE_ADAPTER.validate_json(await websocket.receive_text()).model_dump(
                    exclude_unset=True
                )
            except ValidationError as exc:
                await websocket.send_json(
                    {"error": "invalid message", "detail": exc.errors(include_url=False, include_input=False)}
                )
                continue
            ...  # the dict code, unchanged
    ```
    The fix is *unsafe*: invalid messages are now answered with
    `{"error": "invalid message", "detail": [...]}` and skipped (`continue`) instead of ending the
    handler, and the message types become a closed set. It generates Pydantic v2 models (from the
    jinja2 template `ws103_models.py.jinja2`) from the keys the code reads after the parse: one
    model, or, when the code dispatches on a key's string literals (`if msg["type"] == "chat":
    ... elif ...`, `kind = msg.get("type")`, `match msg["type"]: case "chat":`), one model per
    literal with the keys read in its branch, as a discriminated union validated by a module-level
    `TypeAdapter`. `msg["k"]` makes `k` required, `msg.get("k")`/`"k" in msg` optional (default
    None); fields are `Any` (tighten them by hand), extra keys are allowed and kept. When the
    dispatch has an `else`/`case _` branch, or the message is read after the dispatch, unknown
    types go to an `OtherMessage` model (a callable `Discriminator` with `Tag`s). The handler keeps
    working on a dict: `msg = <validated>.model_dump(exclude_unset=True)`, so absent optional keys
    stay absent. `x = await ws.receive_json()` becomes `raw = await ws.receive_text()` (
    `receive_bytes()` for `mode="binary"`) and the validation; `websockets` handlers answer with
    `await ws.send(json.dumps(...))`. The fix is offered only for `name = json.loads(<one
    argument>)`/`name = await ws.receive_json()` statements written in the endpoint function
    itself, inside the loop that receives the message (so `continue` skips to the next message),
    for Python >= 3.9. Keys read in helpers the message is passed to are not modelled (extra keys
    pass through). Everything else is reported without a fix.

    ## Options
    - `models-module` (str, default `""`): where the models go. Empty: in the same module, after
      its imports. Else a path relative to the project root (the nearest directory above the file
      holding `pyproject.toml`, `setup.cfg`, `setup.py` or `.git`; else the current directory),
      like `"app/ws_models.py"` (or a dotted module name): the file is created and the fixed module
      imports from it (`from app.ws_models import ...`; a leading `src/` is dropped). `{module}`
      in the path is replaced by the fixed file's name without `.py`, so several modules do not
      compete for one file. An existing file with other content is never overwritten (no fix).
    """

    code = "WS103"
    name = "message-not-validated"
    category = "security"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "received JSON message used as a dict without schema validation"
    tokens = ("loads", "receive_json", "iter_json", "encoding")
    options = (
        Option("models-module", str, "", "where the generated Pydantic models go: empty for the same module "
               "(after its imports), else a path relative to the project root (`{module}`: the file's stem)"),
    )

    requires_any_import = ("fastapi", "starlette", "websockets", "tornado", "channels")
    uses_project_facts = True  # frames other modules receive and hand to this one, or put on a queue (analyses.facts)
    fix_node_types = ("Call",)

    VALID = [
        Valid("""
            import json
            from typing import Literal

            from fastapi import FastAPI, WebSocket
            from pydantic import BaseModel, ValidationError

            app = FastAPI()


            class Message(BaseModel):
                type: Literal["chat"]
                text: str


            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    data = json.loads(await websocket.receive_text())
                    try:
                        msg = Message.model_validate(data)
                    except ValidationError:
                        continue
                    await websocket.send_text(msg.text)
        """),
        Valid("""
            import json
            from pathlib import Path

            from fastapi import FastAPI, WebSocket

            app = FastAPI()


            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                config = json.loads(Path("config.json").read_text())
                await websocket.accept()
                raw = await websocket.receive_text()
                await websocket.send_text(raw)
                data = json.loads(raw)
                await websocket.send_json(data)
                await websocket.send_text(config["greeting"])
        """),
        Valid("""
            import json

            from fastapi import FastAPI, WebSocket
            from pydantic import TypeAdapter

            app = FastAPI()
            adapter = TypeAdapter(dict[str, int])


            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    counts = adapter.validate_python(json.loads(await websocket.receive_text()))
                    data = await websocket.receive_json()
                    jsonschema.validate(data, SCHEMA)
                    await websocket.send_json({"total": sum(counts.values()), "name": data["name"]})
        """),
        Valid("""
            import json


            async def not_an_endpoint(queue):
                msg = json.loads(await queue.receive_text())
                return msg["type"]
        """),
    ]
    INVALID = [
        Invalid(
            """
            import json

            from fastapi import FastAPI, WebSocket

            app = FastAPI()


            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    msg = json.loads(await websocket.receive_text())
                    if msg["type"] == "chat":
                        await websocket.send_text(msg["text"])
                    elif msg.get("type") == "join":
                        await websocket.send_text(msg["room"] + msg.get("nick", ""))
            """,
            """
            from typing import Annotated, Any, Literal, Union

            from fastapi import FastAPI, WebSocket
            from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


            class ChatMessage(BaseModel):
                model_config = ConfigDict(extra="allow")

                type: Literal["chat"]
                text: Any


            class JoinMessage(BaseModel):
                model_config = ConfigDict(extra="allow")

                type: Literal["join"]
                room: Any
                nick: Any = None


            EndpointMessage = Annotated[
                Union[ChatMessage, JoinMessage],
                Field(discriminator="type"),
            ]
            ENDPOINT_MESSAGE_ADAPTER = TypeAdapter(EndpointMessage)

            app = FastAPI()


            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                while True:
                    try:
                        msg = ENDPOINT_MESSAGE_ADAPTER.validate_json(await websocket.receive_text()).model_dump(exclude_unset=True)
                    except ValidationError as exc:
                        await websocket.send_json(
                            {"error": "invalid message", "detail": exc.errors(include_url=False, include_input=False)}
                        )
                        continue
                    if msg["type"] == "chat":
                        await websocket.send_text(msg["text"])
                    elif msg.get("type") == "join":
                        await websocket.send_text(msg["room"] + msg.get("nick", ""))
            """,
            lines=(12,),
        ),
        Invalid(
            """
            from starlette.routing import WebSocketRoute


            async def echo(ws):
                await ws.accept()
                while True:
                    data = await ws.receive_json()  # the request
                    await ws.send_text(data["text"] + data.get("suffix", ""))

            routes = [WebSocketRoute("/ws", echo)]
            """,
            """
            from typing import Any

            from pydantic import BaseModel, ConfigDict, ValidationError
            from starlette.routing import WebSocketRoute


            class EchoMessage(BaseModel):
                model_config = ConfigDict(extra="allow")

                text: Any
                suffix: Any = None


            async def echo(ws):
                await ws.accept()
                while True:
                    raw = await ws.receive_text()
                    try:
                        data = EchoMessage.model_validate_json(raw).model_dump(exclude_unset=True)  # the request
                    except ValidationError as exc:
                        await ws.send_json(
                            {"error": "invalid message", "detail": exc.errors(include_url=False, include_input=False)}
                        )
                        continue
                    await ws.send_text(data["text"] + data.get("suffix", ""))

            routes = [WebSocketRoute("/ws", echo)]
            """,
            lines=(7,),
        ),
        Invalid(
            """
            import json

            from fastapi import FastAPI, WebSocket

            app = FastAPI()


            async def handle(websocket, raw):
                msg = json.loads(raw)
                await websocket.send_text(msg["text"])


            @app.websocket("/ws")
            async def endpoint(websocket: WebSocket):
                await websocket.accept()
                data = await websocket.receive_text()
                await handle(websocket, data)
            """,
            lines=(9,),
        ),
    ]

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        server = analyses(ServerModel)
        usage = _Usage(server)
        for parsed in _Finder(server).parsed():
            if usage.verdict(parsed) != "dict":
                continue
            rewrite = _rewrite(server, parsed)
            yield detect_at(analyses, parsed.node, _message(parsed), fixable=rewrite is not None, data=rewrite)

    # -- fix ----------------------------------------------------------------------------------

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        rewrite: _Rewrite = detection.data
        if self.ctx.target_version < (3, 9):
            return None  # the generated models use ``dict[...]``-era typing
        stmt = self.ctx.positions.find(rewrite.stmt_start, rewrite.stmt_end, (cst.SimpleStatementLine,))
        if not isinstance(stmt, cst.SimpleStatementLine):
            return None
        if not hasattr(self, "_plans"):
            imports = self.ctx.imports
            self._namer = Namer(set(imports.aliases) | set(imports.module_bindings))
            self._plans: list[Plan] = []
        n, wanted = self._refs()
        plan = make_plan(rewrite.shape, rewrite.handler, self._namer, n)
        self._plans.append(plan)
        plans, ctx = self._plans, self.ctx
        where = models_target(str(self.opts["models-module"]), ctx.path)

        def build(fix: Fix) -> None:
            if where is None:
                text = render_models([plan], n, header=False)
                fix.module_statements = tuple(ctx.module.code_for_node(s).strip() for s in cst.parse_module(text).body)
                used = text
            else:
                text = render_models(plans, {k: k for k in (*TYPING_NAMES, *PYDANTIC_NAMES)}, header=True,
                                     origin=os.path.basename(ctx.path))
                if os.path.exists(where[0]) and open(where[0], encoding="utf-8").read() != text:
                    return  # another module's models are there: no fix after all
                fix.new_files = ((where[0], text),)
                used = ""
            code = _handler_code(rewrite, plan, n)
            fix.replacements = {stmt: self._replace(rewrite, code)}
            fix.imports = _imports(wanted, used + code, where, plan)

        return Fix(FixSafety.UNSAFE, f"validate the message with Pydantic ({plan.entry}); answer invalid ones with "
                   "an error frame", build=build, anchors=(stmt,))

    def _refs(self) -> tuple[dict[str, str], dict[str, tuple[str, str | None]]]:
        """How generated code names pydantic/typing things here, and the import each needs."""
        imports = self.ctx.imports
        n: dict[str, str] = {}
        wanted: dict[str, tuple[str, str | None]] = {}
        for mod, names in (("typing", TYPING_NAMES), ("pydantic", PYDANTIC_NAMES)):
            for name in names:
                bound = imports.aliases.get(name)
                if bound == f"{mod}.{name}":
                    n[name] = name
                elif bound is None and name not in imports.module_bindings and name not in self._namer.taken:
                    n[name], wanted[name] = name, (mod, name)
                else:
                    n[name], wanted[name] = f"{mod}.{name}", (mod, None)
        return n, wanted

    def _replace(self, rewrite: _Rewrite, code: str) -> Callable[[cst.CSTNode], cst.CSTNode | cst.FlattenSentinel]:
        config = self.ctx.module.config_for_parsing
        new_try = cst.parse_statement(code, config=config)
        first = None
        if rewrite.raw_method is not None:
            first = cst.parse_statement(f"{rewrite.raw_name} = await {rewrite.ws}.{rewrite.raw_method}()\n", config=config)

        def apply(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
            node: Any = new_try
            if first is None:
                node = new_try.visit(_swap(updated.body[0].value.args[0].value))  # type: ignore[attr-defined]
            inner = node.body.body[0].with_changes(trailing_whitespace=updated.trailing_whitespace)  # type: ignore[attr-defined]
            node = node.with_changes(body=node.body.with_changes(body=[inner]))
            lead = getattr(updated, "leading_lines", ())
            if first is None:
                return node.with_changes(leading_lines=lead)
            return cst.FlattenSentinel([first.with_changes(leading_lines=lead), node])

        return apply


def _handler_code(rewrite: _Rewrite, plan: Plan, n: dict[str, str]) -> str:
    method = "validate_json" if plan.adapter else "model_validate_json"
    dump = "by_alias=True, exclude_unset=True" if plan.aliased else "exclude_unset=True"
    frame = '{"error": "invalid message", "detail": ' + f"{rewrite.exc}.errors(include_url=False, include_input=False)}}"
    send = f"send_json(\n        {frame}\n    )" if rewrite.kind == "asgi" else f"send(\n        json.dumps({frame})\n    )"
    raw = rewrite.raw_name or _PLACEHOLDER
    return (
        f"try:\n    {rewrite.name} = {plan.entry}.{method}({raw}).model_dump({dump})\n"
        f"except {n['ValidationError']} as {rewrite.exc}:\n    await {rewrite.ws}.{send}\n    continue\n"
    )


def _imports(
    wanted: dict[str, tuple[str, str | None]], text: str, where: tuple[str, str] | None, plan: Plan
) -> tuple[tuple[str, str | None], ...]:
    out = [wanted[k] for k in (*TYPING_NAMES, *PYDANTIC_NAMES) if k in wanted and re.search(
        rf"(?<![\w.]){re.escape(wanted[k][0] + '.' + k if wanted[k][1] is None else k)}\b", text)]
    if where is not None:
        out.append((where[1], plan.entry))
    if "json.dumps(" in text:
        out.append(("json", None))
    return tuple(dict.fromkeys(out))


def _swap(value: cst.BaseExpression) -> cst.CSTTransformer:
    """Put the updated ``json.loads`` argument where the placeholder name is (the class is made
    on use: libcst is imported lazily, see ``wsrefactor.lazy``)."""

    class Swap(cst.CSTTransformer):
        def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
            return value if original_node.value == _PLACEHOLDER else updated_node

    return Swap()
