"""WS103 message-not-validated: a received JSON message used as a dict with no schema validation."""

from __future__ import annotations

import ast
import keyword
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from wsrefactor.codegen import render
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._endpoint_prefilter import (
    endpoint_facts,
    method_calls,
    reached_nodes,
)
from wsrefactor.rules._endpoints import (
    Endpoint,
    EndpointModel,
    ReceiveSite,
    endpoints,
    positional_params,
    walk,
)
from wsrefactor.rules._helpers import call_name
from wsrefactor.rules._prefilter import per_tree

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
_RAW_KEYS = ("text", "bytes")
_BASEMODEL_ATTRS = frozenset({
    "copy", "dict", "json", "schema", "schema_json", "construct", "validate", "fields", "parse_obj",
    "parse_raw", "parse_file", "from_orm", "update_forward_refs", "model_config", "model_fields",
})
_PYDANTIC = ("BaseModel", "ConfigDict", "Field", "TypeAdapter", "ValidationError", "Discriminator", "Tag")
_TYPING = ("Annotated", "Any", "Literal", "Union")
_PLACEHOLDER = "__ws103_raw__"


# --------------------------------------------------------------------------------------------
# where parsed messages come from
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Parsed:
    """A parsed message: ``node`` the ``json.loads``/``receive_json`` call (reported), ``name``
    the name it is bound to in ``function`` (None when used in place), ``site`` the receive."""

    node: cst.Call
    function: cst.FunctionDef
    name: str | None
    site: ReceiveSite
    raw: cst.BaseExpression | None = None  # the json.loads argument


def _unawait(node: cst.CSTNode) -> cst.CSTNode:
    return node.expression if isinstance(node, cst.Await) else node


def _str_key(node: cst.CSTNode | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    return _str_key(node.slice[0].slice.value)


def _is_raw_expr(node: cst.CSTNode, names: set[str], sites: set[int]) -> bool:
    """The received message itself: a receive call, a name bound to one, ``raw.decode()``,
    ``message["text"]``/``message.get("bytes")`` of an ASGI ``receive()`` message."""
    node = _unawait(node)
    if id(node) in sites:
        return True
    if isinstance(node, cst.Name):
        return node.value in names
    inner = _raw_inner(node)
    return inner is not None and _is_raw_expr(inner, names, sites)


def _raw_inner(node: cst.CSTNode) -> cst.CSTNode | None:
    """``x`` of ``x.decode()``, ``x["text"]``, ``x.get("bytes")``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        attr = node.func.attr.value
        if attr == "decode" or (attr == "get" and node.args and _str_key(node.args[0].value) in _RAW_KEYS):
            return node.func.value
    if isinstance(node, cst.Subscript) and _subscript_key(node) in _RAW_KEYS:
        return node.value
    return None


def _bound_name(model: EndpointModel, node: cst.CSTNode) -> str | None:
    """``name = <node>`` (also ``name := <node>``, through ``await``)."""
    parent = model.parent(node)
    if isinstance(parent, cst.Await):
        node, parent = parent, model.parent(parent)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and parent.value is node:
        target = parent.targets[0].target
        return target.value if isinstance(target, cst.Name) else None
    if isinstance(parent, (cst.NamedExpr, cst.AnnAssign)) and parent.value is node:
        return parent.target.value if isinstance(parent.target, cst.Name) else None
    return None


def _raw_flows(model: EndpointModel, func: cst.FunctionDef, names: set[str], depth: int = 2) -> Iterator[tuple[cst.FunctionDef, set[str]]]:
    """``func`` with its raw-message names, then same-module helpers the message is passed to."""
    yield func, names
    if depth == 0 or not names:
        return
    for call, target in model.callees(func):
        bound = {model.bound_param(call, target, n) for n in names} - {None}
        if bound:
            yield from _raw_flows(model, target, bound, depth - 1)  # type: ignore[arg-type]


class _Finder:
    """Parsed messages of one endpoint."""

    def __init__(self, ctx, model: EndpointModel) -> None:  # noqa: ANN001 - FileContext
        self.ctx = ctx
        self.model = model

    def sources(self, ep: Endpoint) -> list[Parsed]:
        out: list[Parsed] = []
        seen: set[int] = set()
        for site in ep.receives:
            for parsed in self._for_site(site):
                if id(parsed.node) not in seen:
                    seen.add(id(parsed.node))
                    out.append(parsed)
        return out

    def _for_site(self, site: ReceiveSite) -> Iterator[Parsed]:
        if site.mode in ("json", "json-binary") and isinstance(site.node, cst.Call):
            yield Parsed(site.node, site.function, site.target, site)
            return
        names = {site.target} if site.target else set()
        flows = list(_raw_flows(self.model, site.function, names))
        passed = self._passed_to(site)
        if passed is not None:
            flows += list(_raw_flows(self.model, passed[0], {passed[1]}, depth=1))
        for func, raw_names in flows:
            sites = {id(site.node)} if func is site.function else set()
            yield from self._loads_in(func, raw_names, sites, site)

    def _loads_in(self, func: cst.FunctionDef, names: set[str], sites: set[int], site: ReceiveSite) -> Iterator[Parsed]:
        for node in walk(func.body, into_defs=False):
            if isinstance(node, cst.Call) and node.args and call_name(self.ctx, node) in LOADS:
                arg = node.args[0].value
                if _is_raw_expr(arg, names, sites):
                    yield Parsed(node, func, _bound_name(self.model, node), site, arg)


    def _passed_to(self, site: ReceiveSite) -> tuple[cst.FunctionDef, str] | None:
        """``helper(ws, await ws.receive_text())``: the helper and its parameter."""
        holder = self.model.parent(site.node) if site.awaited else site.node
        arg = self.model.parent(holder) if holder is not None else None
        call = self.model.parent(arg) if isinstance(arg, cst.Arg) else None
        if not isinstance(call, cst.Call) or arg.star:  # type: ignore[union-attr]
            return None
        target = self.model.resolve_call(call, site.function)
        param = _param_for(self.model, call, arg, target) if target is not None else None  # type: ignore[arg-type]
        return (target, param) if target is not None and param is not None else None


def _param_for(model: EndpointModel, call: cst.Call, arg: cst.Arg, target: cst.FunctionDef) -> str | None:
    """The parameter of ``target`` that ``arg`` of ``call`` binds."""
    if arg.keyword is not None:
        return arg.keyword.value
    params = positional_params(target)
    if params and model.class_of(target) is not None and isinstance(call.func, cst.Attribute):
        params = params[1:]
    index = [a for a in call.args if a.keyword is None].index(arg)
    return params[index].name.value if index < len(params) else None


# --------------------------------------------------------------------------------------------
# how the parsed message is used
# --------------------------------------------------------------------------------------------


def _dict_use(model: EndpointModel, node: cst.CSTNode) -> bool:
    """``node["k"]``, ``node.get(...)``, ``"k" in node``, ``{**node}``, ``f(**node)`` (f lower-case)."""
    parent = model.parent(node)
    if isinstance(parent, (cst.Subscript, cst.Attribute)) and parent.value is node:
        return isinstance(parent, cst.Subscript) or parent.attr.value in DICT_METHODS
    if isinstance(parent, cst.ComparisonTarget) and parent.comparator is node:
        return isinstance(parent.operator, (cst.In, cst.NotIn))
    if isinstance(parent, cst.Arg) and parent.star == "**":
        call = model.parent(parent)
        return isinstance(call, cst.Call) and not _class_like(call.func)
    return isinstance(parent, cst.StarredDictElement)


def _lenient_read(model: EndpointModel, use: cst.Name) -> bool:
    """``msg.get(...)``, ``"k" in msg``: reads that never raise on a dict."""
    parent = model.parent(use)
    if isinstance(parent, cst.Attribute):
        return parent.attr.value in ("get", "keys", "items", "values")
    return isinstance(parent, cst.ComparisonTarget)


_BROAD = frozenset({"builtins.Exception", "builtins.BaseException", "builtins.KeyError", "builtins.LookupError"})


def _broad_handler(ctx, handler: cst.ExceptHandler) -> bool:  # noqa: ANN001
    kinds = handler.type
    if kinds is None:
        return True
    names = [e.value for e in kinds.elements] if isinstance(kinds, cst.Tuple) else [kinds]
    return any(ctx.qualname(n) in _BROAD for n in names)


def _caught_in_place(model: EndpointModel, node: cst.CSTNode) -> bool:
    """Inside a ``try`` with a broad handler, met before any loop: the error does not end the
    connection (a callback returns, the loop goes on)."""
    ctx = model.ctx
    for anc in model.ancestors(node):
        if isinstance(anc, (cst.While, cst.For, cst.FunctionDef, cst.Lambda)):
            return False
        if isinstance(anc, cst.Try) and any(_broad_handler(ctx, h) for h in anc.handlers):
            return not any(model.parent(node) is h for h in anc.handlers) and _in_body(model, node, anc)
    return False


def _in_body(model: EndpointModel, node: cst.CSTNode, try_node: cst.Try) -> bool:
    body = try_node.body
    return any(a is body for a in model.ancestors(node))


def _class_like(func: cst.BaseExpression) -> bool:
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    return isinstance(name, str) and name[:1].isupper()


def _validated_by(ctx, model: EndpointModel, node: cst.CSTNode) -> bool:  # noqa: ANN001
    """``node`` is an argument of a schema validation (``Model.model_validate(node)``,
    ``Model(**node)``, ``jsonschema.validate(node, schema)``, ``schema.load(node)``...)."""
    arg = model.parent(node)
    call = model.parent(arg) if isinstance(arg, cst.Arg) else None
    if not isinstance(call, cst.Call):
        return False
    if _class_like(call.func) and (arg.star == "**" or len(call.args) == 1):  # type: ignore[union-attr]
        return True
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in VALIDATOR_ATTRS:
        return True
    return call_name(ctx, call) in VALIDATOR_FUNCS or (isinstance(func, cst.Name) and func.value in ("from_dict", "structure"))


def _rebinds(model: EndpointModel, node: cst.Name) -> bool:
    parent = model.parent(node)
    if isinstance(parent, (cst.AssignTarget, cst.For, cst.NamedExpr, cst.AnnAssign, cst.AsName)):
        return getattr(parent, "target", getattr(parent, "name", None)) is node
    return False


def _uses(model: EndpointModel, scope: cst.CSTNode, name: str, after: cst.CSTNode | None) -> Iterator[cst.Name]:
    """Uses of ``name`` in ``scope`` in source order, after the statement ``after``, until rebound."""
    inside = {id(n) for n in walk(after)} if after is not None else set()
    for node in _nodes_after(scope, after):
        if id(node) in inside or not _is_use(model, node, name):
            continue
        if _rebinds(model, node):
            return
        yield node


def _nodes_after(scope: cst.CSTNode, after: cst.CSTNode | None) -> Iterator[cst.CSTNode]:
    started = after is None
    for node in walk(scope):
        if started:
            yield node
        else:
            started = node is after


def _is_use(model: EndpointModel, node: cst.CSTNode, name: str) -> bool:
    """``name`` as a variable (not ``x.name``, not ``f(name=...)``)."""
    if not isinstance(node, cst.Name) or node.value != name:
        return False
    parent = model.parent(node)
    if isinstance(parent, cst.Attribute):
        return parent.attr is not node
    return not (isinstance(parent, cst.Arg) and parent.keyword is node)


class _Usage:
    """Whether a parsed message is used as a dict before any schema validation."""

    def __init__(self, ctx, model: EndpointModel) -> None:  # noqa: ANN001
        self.ctx = ctx
        self.model = model

    def verdict(self, parsed: Parsed) -> str | None:
        """``"dict"`` (flag), ``"validated"`` or None (never used as a dict, or any error is
        caught by a broad ``try`` inside the receive loop / callback)."""
        if _caught_in_place(self.model, parsed.node):
            return None
        holder = parsed.node
        if isinstance(self.model.parent(holder), cst.Await):
            holder = self.model.parent(holder)
        if parsed.name is None:
            if _validated_by(self.ctx, self.model, holder):
                return "validated"
            return "dict" if _dict_use(self.model, holder) else None
        if parsed.site.method.startswith("iter_") and parsed.site.loop is not None:
            return self.of_name(parsed.function, parsed.name, None, 3, parsed.site.loop.body)
        stmt = self.model.statement_of(parsed.node)
        return self.of_name(parsed.function, parsed.name, stmt, depth=3)

    def of_name(
        self, func: cst.FunctionDef, name: str, after: cst.CSTNode | None, depth: int, scope: cst.CSTNode | None = None
    ) -> str | None:
        guarded = False
        for use in _uses(self.model, scope or func.body, name, after):
            if _validated_by(self.ctx, self.model, use):
                return "validated"
            guarded = guarded or self._isinstance_check(use)
            if _dict_use(self.model, use) and not (guarded and _lenient_read(self.model, use)):
                return "dict"
            verdict = self._through_call(func, use, depth)
            if verdict is not None:
                return verdict
        return None

    def _isinstance_check(self, use: cst.Name) -> bool:
        """``isinstance(msg, dict)``: from here on, ``msg.get(...)`` cannot raise."""
        arg = self.model.parent(use)
        call = self.model.parent(arg) if isinstance(arg, cst.Arg) else None
        return isinstance(call, cst.Call) and self.ctx.qualname(call.func) == "builtins.isinstance"

    def _through_call(self, func: cst.FunctionDef, use: cst.Name, depth: int) -> str | None:
        arg = self.model.parent(use)
        call = self.model.parent(arg) if isinstance(arg, cst.Arg) else None
        if depth == 0 or not isinstance(call, cst.Call):
            return None
        target = self.model.resolve_call(call, func)
        param = self.model.bound_param(call, target, use.value) if target is not None else None
        if target is None or param is None or target is func:
            return None
        return self.of_name(target, param, None, depth - 1)


# --------------------------------------------------------------------------------------------
# the message shape: keys read, and the dispatch on a `type`-like key
# --------------------------------------------------------------------------------------------


def _read_of(model: EndpointModel, use: cst.Name) -> tuple[cst.BaseExpression, str, bool] | None:
    """``(expression, key, required)`` for ``msg["k"]``, ``msg.get("k")`` and ``"k" in msg``."""
    parent = model.parent(use)
    if isinstance(parent, cst.Subscript) and parent.value is use:
        expr, key, required = parent, _subscript_key(parent), True
    elif isinstance(parent, cst.Attribute) and parent.value is use and parent.attr.value == "get":
        expr, required = model.parent(parent), False
        key = _first_str_arg(expr)
    elif isinstance(parent, cst.ComparisonTarget) and isinstance(parent.operator, (cst.In, cst.NotIn)):
        expr, required = model.parent(parent), False
        key = _str_key(getattr(expr, "left", None))
    else:
        return None
    return (expr, key, required) if key is not None else None  # type: ignore[return-value]


def _first_str_arg(call: cst.CSTNode | None) -> str | None:
    return _str_key(call.args[0].value) if isinstance(call, cst.Call) and call.args else None


def _literals(node: cst.CSTNode) -> list[str] | None:
    """``"chat"`` -> ["chat"]; ``("a", "b")`` -> ["a", "b"]."""
    if _str_key(node) is not None:
        return [_str_key(node)]  # type: ignore[list-item]
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)) and node.elements:
        values = [_str_key(e.value) for e in node.elements]
        return values if all(v is not None for v in values) else None  # type: ignore[return-value]
    return None


def _compared_literals(model: EndpointModel, expr: cst.CSTNode) -> tuple[cst.If, list[str]] | None:
    """``if <expr> == "lit":`` (also ``in (...)``, ``"lit" == <expr>``, first of an ``and``)."""
    values, comparison = _comparison_values(model, expr)
    if not values or comparison is None:
        return None
    test: cst.CSTNode = comparison
    parent = model.parent(test)
    if isinstance(parent, cst.BooleanOperation) and isinstance(parent.operator, cst.And) and parent.left is test:
        test, parent = parent, model.parent(parent)
    return (parent, values) if isinstance(parent, cst.If) and parent.test is test else None


def _comparison_values(model: EndpointModel, expr: cst.CSTNode) -> tuple[list[str] | None, cst.Comparison | None]:
    """The literals ``expr`` is compared with: ``expr == "a"``, ``"a" == expr``, ``expr in ("a", "b")``."""
    up = model.parent(expr)
    comparison = model.parent(up) if isinstance(up, cst.ComparisonTarget) else up
    if not isinstance(comparison, cst.Comparison) or len(comparison.comparisons) != 1:
        return None, None
    target = comparison.comparisons[0]
    left = comparison.left is expr
    if isinstance(target.operator, cst.Equal) or (left and isinstance(target.operator, cst.In)):
        return _literals(target.comparator if left else comparison.left), comparison
    return None, None


@dataclass(eq=False)
class Shape:
    """What the code reads from one parsed message."""

    common: dict[str, bool] = field(default_factory=dict)  # key -> required
    key: str | None = None  # the dispatch key
    key_required: bool = False
    branches: dict[str, dict[str, bool]] = field(default_factory=dict)  # literal -> keys
    fallback: dict[str, bool] | None = None
    # (body node, literals or None for the fallback), for telling where a read sits
    scopes: list[tuple[cst.CSTNode, tuple[str, ...] | None]] = field(default_factory=list)
    first_dispatch: cst.CSTNode | None = None


def _merge(keys: dict[str, bool], key: str, required: bool) -> None:
    keys[key] = keys.get(key, False) or required


class _ShapeReader:
    def __init__(self, model: EndpointModel) -> None:
        self.model = model

    def read(self, func: cst.FunctionDef, name: str, after: cst.CSTNode) -> Shape:
        reads = self._reads(func, name, after)
        shape = Shape()
        dispatch = self._dispatch(func, reads)
        if dispatch:
            self._set_dispatch(shape, dispatch)
        tested = {id(e) for e, _ in dispatch}
        for expr, key, required in reads:
            if id(expr) in tested:
                shape.key_required = shape.key_required or required
            else:
                self._place(shape, expr, key, required)
        if shape.fallback is None and self._read_after(shape, reads):
            shape.fallback = {}
        return shape

    def _reads(self, func: cst.FunctionDef, name: str, after: cst.CSTNode) -> list[tuple[cst.CSTNode, str, bool]]:
        found = (_read_of(self.model, use) for use in _uses(self.model, func.body, name, after))
        return [r for r in found if r is not None]

    def _dispatch(self, func: cst.FunctionDef, reads: list) -> list[tuple[cst.CSTNode, cst.CSTNode]]:
        """``(read expression, If or Match)`` for the most used dispatch key."""
        by_key: dict[str, list[tuple[cst.CSTNode, cst.CSTNode]]] = {}
        for expr, key, _ in reads:
            for holder in self._dispatch_points(func, expr):
                by_key.setdefault(key, []).append((expr, holder))
        if not by_key:
            return []
        best = max(by_key, key=lambda k: (len(by_key[k]), k == "type"))
        return [(e, h) for e, h in by_key[best]] if best else []

    def _dispatch_points(self, func: cst.FunctionDef, expr: cst.CSTNode) -> Iterator[cst.CSTNode]:
        found = _compared_literals(self.model, expr)
        if found is not None:
            yield found[0]
        parent = self.model.parent(expr)
        if isinstance(parent, cst.Match) and parent.subject is expr:
            yield parent
        alias = _bound_name(self.model, expr)
        if alias is not None:
            stmt = self.model.statement_of(expr)
            for use in _uses(self.model, func.body, alias, stmt):
                yield from self._dispatch_points_direct(use)

    def _dispatch_points_direct(self, use: cst.Name) -> Iterator[cst.CSTNode]:
        found = _compared_literals(self.model, use)
        if found is not None:
            yield found[0]
        parent = self.model.parent(use)
        if isinstance(parent, cst.Match) and parent.subject is use:
            yield parent

    def _set_dispatch(self, shape: Shape, dispatch: list[tuple[cst.CSTNode, cst.CSTNode]]) -> None:
        self._holders = {id(h) for _, h in dispatch}
        for expr, holder in dispatch:
            key = _read_key(expr)
            shape.key = key
            if shape.first_dispatch is None:
                shape.first_dispatch = holder
            if isinstance(holder, cst.If):
                self._if_scopes(shape, holder)
            elif isinstance(holder, cst.Match):
                self._match_scopes(shape, holder)

    def _if_scopes(self, shape: Shape, node: cst.If) -> None:
        literals = self._if_literals(node)
        for lit in literals:
            shape.branches.setdefault(lit, {})
        shape.scopes.append((node.body, literals))
        orelse = node.orelse
        if isinstance(orelse, cst.Else) or (isinstance(orelse, cst.If) and not self._dispatches(orelse)):
            shape.fallback = shape.fallback if shape.fallback is not None else {}
            shape.scopes.append((orelse, None))

    def _if_literals(self, node: cst.If) -> tuple[str, ...]:
        for expr in walk(node.test):
            found = _compared_literals(self.model, expr)
            if found is not None and found[0] is node:
                return tuple(found[1])
        return ()

    def _dispatches(self, node: cst.If) -> bool:
        return id(node) in self._holders

    def _match_scopes(self, shape: Shape, node: cst.Match) -> None:
        for case in node.cases:
            literals = _case_literals(case.pattern)
            if literals is None or case.guard is not None:
                shape.fallback = shape.fallback if shape.fallback is not None else {}
                shape.scopes.append((case, None))
                continue
            for lit in literals:
                shape.branches.setdefault(lit, {})
            shape.scopes.append((case, tuple(literals)))

    def _place(self, shape: Shape, expr: cst.CSTNode, key: str, required: bool) -> None:
        scopes = {id(body): lits for body, lits in shape.scopes}
        for anc in self.model.ancestors(expr):
            if id(anc) not in scopes:
                continue
            lits = scopes[id(anc)]
            if lits is None:
                _merge(shape.fallback, key, required)  # type: ignore[arg-type]
            for lit in lits or ():
                _merge(shape.branches[lit], key, required)
            return
        _merge(shape.common, key, required)

    def _read_after(self, shape: Shape, reads: list) -> bool:
        """A read after the dispatch, outside its branches: unmatched types reach it."""
        first = shape.first_dispatch
        if first is None:
            return False
        inside = {id(n) for n in walk(first)}
        order = {id(n): i for i, n in enumerate(walk(self.model.function_of(first) or first))}
        start = order.get(id(first), 0)
        return any(id(e) not in inside and order.get(id(e), -1) > start for e, k, _ in reads if k != shape.key)


def _read_key(expr: cst.CSTNode) -> str | None:
    if isinstance(expr, cst.Subscript):
        return _subscript_key(expr)
    if isinstance(expr, cst.Call) and expr.args:
        return _str_key(expr.args[0].value)
    return None


def _case_literals(pattern: cst.MatchPattern) -> list[str] | None:
    if isinstance(pattern, cst.MatchValue) and _str_key(pattern.value) is not None:
        return [_str_key(pattern.value)]  # type: ignore[list-item]
    if isinstance(pattern, cst.MatchOr):
        values = [_case_literals(p.pattern) for p in pattern.patterns]
        if all(v is not None for v in values):
            return [x for v in values for x in v]  # type: ignore[union-attr]
    return None


# --------------------------------------------------------------------------------------------
# generated code
# --------------------------------------------------------------------------------------------


def _pystr(text: str) -> str:
    """A Python string literal, double-quoted when that needs no escaping."""
    literal = repr(text)
    if literal[0] == "'" and '"' not in text and "'" not in text:
        return '"' + literal[1:-1] + '"'
    return literal


def _tuple_code(values: list[str]) -> str:
    codes = [_pystr(v) for v in values]
    return "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"


def _camel(text: str) -> str:
    parts = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(p[:1].upper() + p[1:] for p in parts)
    return name if name[:1].isalpha() else "Type" + name


def _plain(key: str) -> bool:
    return (key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("_")
            and not key.startswith("model_") and key not in _BASEMODEL_ATTRS)


class _Namer:
    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)

    def take(self, *candidates: str) -> str:
        for name in candidates:
            if name not in self.taken:
                self.taken.add(name)
                return name
        n = 2
        while f"{candidates[-1]}{n}" in self.taken:
            n += 1
        self.taken.add(f"{candidates[-1]}{n}")
        return f"{candidates[-1]}{n}"


def _fields(keys: dict[str, bool], n: dict[str, str], first: tuple[str, str, bool] | None = None) -> list[dict]:
    """Field records: ``first`` is the dispatch key ``(key, annotation, required)``."""
    out: list[dict] = []
    used: set[str] = set()
    items = [first] if first is not None else []
    items += [(k, n["Any"], r) for k, r in keys.items() if first is None or k != first[0]]
    for key, annotation, required in items:
        name = _field_name(key, used)
        used.add(name)
        if name != key:
            default = f"{n['Field']}(alias={_pystr(key)})" if required else f"{n['Field']}(default=None, alias={_pystr(key)})"
        else:
            default = "" if required else "None"
        out.append({"name": name, "annotation": annotation, "default": default, "alias": name != key})
    return out


def _field_name(key: str, used: set[str]) -> str:
    """The key itself when it can be a field name, else ``f_<key>`` (with an alias)."""
    if _plain(key) and key not in used:
        return key
    name = "f_" + re.sub(r"\W", "_", key, flags=re.ASCII).strip("_").lower()
    while name in used or not name.isidentifier() or keyword.iskeyword(name):
        name += "_"
    return name


@dataclass(eq=False)
class Plan:
    """The generated code for one parsed message."""

    models: list[dict]
    union: str | None = None
    adapter: str | None = None
    tag_func: str | None = None
    key: str | None = None
    literals: list[str] = field(default_factory=list)
    fallback: str | None = None

    @property
    def entry(self) -> str:
        """The name the handler uses: the TypeAdapter, or the one model."""
        return self.adapter or self.models[0]["name"]

    @property
    def aliased(self) -> bool:
        return any(f["alias"] for m in self.models for f in m["fields"])

    def template_values(self) -> dict:
        return {
            "models": self.models, "union": self.union, "adapter": self.adapter, "tag_func": self.tag_func,
            "callable": bool(self.fallback) or (self.key is not None and not _plain(self.key)),
            "key_code": _pystr(self.key or ""), "literal_tuple": _tuple_code(self.literals),
            "fallback": self.fallback, "fallback_code": _pystr(self.fallback or ""),
        }


def make_plan(shape: Shape, handler: str, namer: _Namer, n: dict[str, str]) -> Plan:
    camel = _camel(handler)
    if shape.key is None or not shape.branches:
        name = namer.take(f"{camel}Message")
        return Plan([{"name": name, "tag_code": "", "fields": _fields(shape.common, n)}])
    models = []
    for lit, keys in shape.branches.items():
        name = namer.take(f"{_camel(lit)}Message", f"{camel}{_camel(lit)}Message")
        first = (shape.key, f"{n['Literal']}[{_pystr(lit)}]", True)
        models.append({"name": name, "tag_code": _pystr(lit), "fields": _fields({**shape.common, **keys}, n, first)})
    fallback = None
    if shape.fallback is not None:
        fallback = namer.take("OtherMessage", f"{camel}OtherMessage")
        keys = {**shape.common, **shape.fallback}
        required = shape.key_required or keys.get(shape.key, False)
        models.append({"name": fallback, "tag_code": _pystr(fallback), "fields": _fields(keys, n, (shape.key, n["Any"], required))})
    snake = re.sub(r"\W", "_", handler).strip("_").lower() or "handler"
    return Plan(
        models, union=namer.take(f"{camel}Message"), adapter=namer.take(f"{snake.upper()}_MESSAGE_ADAPTER"),
        tag_func=namer.take(f"_{snake}_message_tag"), key=shape.key, literals=list(shape.branches), fallback=fallback,
    )


def render_models(plans: list[Plan], n: dict[str, str], header: bool, origin: str = "") -> str:
    values = [p.template_values() for p in plans]
    body = render("ws103_models.py.jinja2", header=False, shapes=values, n=n, origin=origin)
    if not header:
        return body.strip() + "\n"
    words = set(re.findall(r"\w+", body))
    text = render(
        "ws103_models.py.jinja2", header=True, shapes=values, n=n, origin=origin,
        typing_names=[x for x in _TYPING if x in words], pydantic_names=[x for x in _PYDANTIC if x in words],
    )
    return text.strip() + "\n"


def _project_root(path: str) -> str:
    """The nearest directory above ``path`` holding pyproject.toml/setup.cfg/setup.py/.git, else the cwd."""
    here = os.path.dirname(os.path.abspath(path))
    while True:
        if any(os.path.exists(os.path.join(here, m)) for m in ("pyproject.toml", "setup.cfg", "setup.py", ".git")):
            return here
        up = os.path.dirname(here)
        if up == here:
            return os.getcwd()
        here = up


def models_target(option: str, path: str) -> tuple[str, str] | None:
    """``(absolute path, dotted module)`` for the ``models-module`` option (None: inline)."""
    option = option.strip().replace("{module}", os.path.splitext(os.path.basename(path))[0])
    if not option:
        return None
    if not option.endswith(".py"):
        option = option.replace(".", "/") + ".py"
    rel = option.replace(os.sep, "/").lstrip("/")
    dotted = rel[:-3].replace("/", ".")
    dotted = dotted[4:] if dotted.startswith("src.") else dotted
    return os.path.join(_project_root(path), rel), dotted


def _fresh(func: cst.FunctionDef, candidates: tuple[str, ...]) -> str | None:
    used = {n.value for n in walk(func) if isinstance(n, cst.Name)}
    return next((c for c in candidates if c not in used), None)


def _assignment(model: EndpointModel, parsed: Parsed) -> cst.SimpleStatementLine | None:
    """``name = <parse>`` alone on its line, in the loop that receives the message."""
    stmt = model.statement_of(parsed.node)
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    holder = model.parent(parsed.node) if parsed.raw is None else parsed.node
    if not isinstance(assign, cst.Assign) or assign.value is not holder or len(assign.targets) != 1:
        return None
    loop = model.enclosing_loop(stmt)
    return stmt if loop is not None and loop is parsed.site.loop else None


class _Swap(cst.CSTTransformer):
    """Put the updated ``json.loads`` argument where the placeholder name is."""

    def __init__(self, value: cst.BaseExpression) -> None:
        super().__init__()
        self.value = value

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.value if original_node.value == _PLACEHOLDER else updated_node


@dataclass(eq=False)
class Target:
    """Where the fix goes: the statement ``name = json.loads(raw)`` / ``name = await ws.receive_json()``."""

    statement: cst.SimpleStatementLine
    name: str
    ws: str
    kind: str
    raw_method: str | None = None  # receive_json -> receive_text / receive_bytes
    raw_name: str | None = None
    exc: str = "exc"


class MessageNotValidated(Rule):
    """
    ## What it does
    Finds a JSON message received by a WebSocket endpoint that is used as a dict (`msg["type"]`,
    `msg.get("room")`, `"text" in msg`, `{**msg}`, `f(**msg)`) before any schema validation. The
    message is parsed by `json.loads()` (also `orjson`/`ujson`/`simplejson.loads`) from what
    `receive_text()`/`receive_bytes()`/`receive()`/`iter_text()`/`recv()`/`async for` returned,
    or by `receive_json()`; in the endpoint (FastAPI/Starlette functions and `WebSocketEndpoint`
    classes, `websockets` handlers, tornado `on_message`, Channels `receive`) or in a same-module
    helper the socket or the raw message is passed to. Validation is a call that takes the message
    first: Pydantic `model_validate`/`parse_obj`/`TypeAdapter(...).validate_python`, `jsonschema
    .validate`, marshmallow `schema.load`, `dacite.from_dict`, `cattrs.structure`, `msgspec.convert`,
    or building a class from it (`Message(**msg)`). Reported on the `loads`/`receive_json` call.

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
    tokens = ("loads", "receive_json", "iter_json")
    options = (
        Option("models-module", str, "", "where the generated Pydantic models go: empty for the same module "
               "(after its imports), else a path relative to the project root (`{module}`: the file's stem)"),
    )

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """An endpoint, and a ``json.loads``-like call or an ASGI ``receive_json``/``iter_json``
        (see ``_may_report``); files without a framework import stop at once."""
        if tree is None:
            return cls.matches_text(text)
        return per_tree(_may_report, tree)

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

    def leave_Module(self, original_node: cst.Module) -> None:
        model = endpoints(self.ctx)
        if not model.endpoints:
            return
        finder, usage = _Finder(self.ctx, model), _Usage(self.ctx, model)
        imports = self.ctx.imports
        self._namer = _Namer(set(imports.aliases) | set(imports.module_bindings))
        self._plans: list[Plan] = []
        seen: set[int] = set()
        for ep in model.endpoints:
            for parsed in finder.sources(ep):
                if id(parsed.node) in seen or usage.verdict(parsed) != "dict":
                    continue
                seen.add(id(parsed.node))
                self._report(model, ep, parsed)

    def _report(self, model: EndpointModel, ep: Endpoint, parsed: Parsed) -> None:
        source = "json.loads()" if parsed.raw is not None else f"{parsed.site.method}()"
        if parsed.raw is not None:
            source = f"{call_name(self.ctx, parsed.node)}()"
        scope = ".".join(
            a.name.value for a in reversed(list(model.ancestors(parsed.node))) if isinstance(a, (cst.FunctionDef, cst.ClassDef))
        )
        self.report(
            parsed.node,
            f"message parsed by `{source}` is used as a dict without schema validation; a malformed message "
            "raises in the handler and drops the connection",
            fix=self._fix(model, ep, parsed),
            stmt=model.statement_of(parsed.node),
            scope=scope,
        )

    # -- fix ----------------------------------------------------------------------------------

    def _target(self, model: EndpointModel, ep: Endpoint, parsed: Parsed) -> Target | None:
        handler = ep.handler
        if ep.kind not in ("asgi", "websockets") or handler is None or parsed.function is not handler:
            return None
        if handler.asynchronous is None or parsed.name is None or self.ctx.target_version < (3, 9):
            return None
        stmt = _assignment(model, parsed)
        if stmt is None or model.function_of(stmt) is not handler:
            return None
        exc = _fresh(handler, ("exc", "error", "validation_error", "ws103_error"))
        target = Target(stmt, parsed.name, parsed.site.ws_name, ep.kind, exc=exc or "")
        return self._raw_parts(handler, parsed, target)

    def _raw_parts(self, handler: cst.FunctionDef, parsed: Parsed, target: Target) -> Target | None:
        if not target.exc:
            return None
        if parsed.raw is not None:
            args = parsed.node.args
            return target if len(args) == 1 and args[0].keyword is None and not args[0].star else None
        if parsed.site.method != "receive_json" or not parsed.site.awaited:
            return None
        target.raw_method = "receive_bytes" if parsed.site.mode == "json-binary" else "receive_text"
        target.raw_name = _fresh(handler, ("raw", "raw_message", f"{parsed.name}_raw"))
        return target if target.raw_name else None

    def _fix(self, model: EndpointModel, ep: Endpoint, parsed: Parsed) -> Fix | None:
        target = self._target(model, ep, parsed)
        if target is None:
            return None
        shape = _ShapeReader(model).read(parsed.function, target.name, target.statement)
        n, wanted = self._refs(file_mode=False)
        plan = make_plan(shape, parsed.function.name.value, self._namer, n)
        self._plans.append(plan)
        plans, ctx = self._plans, self.ctx
        where = models_target(str(self.opts["models-module"]), ctx.path)

        def build(fix: Fix) -> None:
            if where is None:
                text = render_models([plan], n, header=False)
                fix.module_statements = tuple(ctx.module.code_for_node(s).strip() for s in cst.parse_module(text).body)
                used = text
            else:
                text = render_models(plans, {k: k for k in (*_TYPING, *_PYDANTIC)}, header=True, origin=os.path.basename(ctx.path))
                if os.path.exists(where[0]) and open(where[0], encoding="utf-8").read() != text:
                    return  # another module's models are there: no fix after all
                fix.new_files = ((where[0], text),)
                used = ""
            code = self._handler_code(target, plan, n)
            fix.replacements = {target.statement: self._replace(target, code)}
            fix.imports = self._imports(wanted, used + code, where, plan)

        return Fix(FixSafety.UNSAFE, f"validate the message with Pydantic ({plan.entry}); answer invalid ones with "
                   "an error frame", build=build, anchors=(target.statement,))

    def _refs(self, file_mode: bool) -> tuple[dict[str, str], dict[str, tuple[str, str | None]]]:
        """How generated code names pydantic/typing things here, and the import each needs."""
        imports = self.ctx.imports
        n: dict[str, str] = {}
        wanted: dict[str, tuple[str, str | None]] = {}
        for mod, names in (("typing", _TYPING), ("pydantic", _PYDANTIC)):
            for name in names:
                bound = imports.aliases.get(name)
                if bound == f"{mod}.{name}":
                    n[name] = name
                elif bound is None and name not in imports.module_bindings and name not in self._namer.taken:
                    n[name], wanted[name] = name, (mod, name)
                else:
                    n[name], wanted[name] = f"{mod}.{name}", (mod, None)
        return n, wanted

    def _imports(self, wanted, text: str, where, plan: Plan) -> tuple[tuple[str, str | None], ...]:  # noqa: ANN001
        out = [wanted[k] for k in (*_TYPING, *_PYDANTIC) if k in wanted and re.search(
            rf"(?<![\w.]){re.escape(wanted[k][0] + '.' + k if wanted[k][1] is None else k)}\b", text)]
        if where is not None:
            out.append((where[1], plan.entry))
        if "json.dumps(" in text:
            out.append(("json", None))
        return tuple(dict.fromkeys(out))

    def _handler_code(self, target: Target, plan: Plan, n: dict[str, str]) -> str:
        method = "validate_json" if plan.adapter else "model_validate_json"
        dump = "by_alias=True, exclude_unset=True" if plan.aliased else "exclude_unset=True"
        frame = '{"error": "invalid message", "detail": ' + f"{target.exc}.errors(include_url=False, include_input=False)}}"
        send = f"send_json(\n        {frame}\n    )" if target.kind == "asgi" else f"send(\n        json.dumps({frame})\n    )"
        raw = target.raw_name or _PLACEHOLDER
        return (
            f"try:\n    {target.name} = {plan.entry}.{method}({raw}).model_dump({dump})\n"
            f"except {n['ValidationError']} as {target.exc}:\n    await {target.ws}.{send}\n    continue\n"
        )

    def _replace(self, target: Target, code: str):  # noqa: ANN202
        config = self.ctx.module.config_for_parsing
        new_try = cst.parse_statement(code, config=config)
        first = None
        if target.raw_method is not None:
            first = cst.parse_statement(f"{target.raw_name} = await {target.ws}.{target.raw_method}()\n", config=config)

        def apply(updated: cst.CSTNode) -> cst.CSTNode:
            node = new_try
            if first is None:
                node = new_try.visit(_Swap(updated.body[0].value.args[0].value))  # type: ignore[attr-defined]
            inner = node.body.body[0].with_changes(trailing_whitespace=updated.trailing_whitespace)
            node = node.with_changes(body=node.body.with_changes(body=[inner]))
            lead = getattr(updated, "leading_lines", ())
            if first is None:
                return node.with_changes(leading_lines=lead)
            return cst.FlattenSentinel([first.with_changes(leading_lines=lead), node])

        return apply


# ---- the ast prefilter (``wants``) ----------------------------------------------------------------

_JSON_RECEIVES = frozenset({"receive_json", "iter_json"})


def _may_report(tree: ast.Module) -> bool:
    """A parsed message is a JSON receive call of an ``asgi``/``asgi-class`` endpoint (the only
    kinds whose receives have a JSON mode), or a ``LOADS`` call with an argument in a function the
    message reaches; either way an endpoint of the file."""
    facts = endpoint_facts(tree)
    if facts is None or not facts.endpoints:
        return False
    if facts.of_kind("asgi", "asgi-class") and method_calls(tree, _JSON_RECEIVES):
        return True
    return any(
        (call.args or call.keywords) and facts.imports.may_be(call.func, LOADS)
        for call in reached_nodes(tree, ast.Call)
    )
