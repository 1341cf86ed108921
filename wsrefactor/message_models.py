"""What code reads from a parsed WebSocket message, and the Pydantic models generated from it
(WS103's fix). Infrastructure, not a rule: the shape is read on Python's ``ast`` (decided once,
with the finding) and the models are rendered from ``templates/ws103_models.py.jinja2``.

A *shape* is the keys read (``msg["k"]`` required, ``msg.get("k")``/``"k" in msg`` optional) and,
when the code dispatches on one key's string literals (``if msg["type"] == "chat": ... elif``,
``kind = msg.get("type")``, ``match msg["type"]: case "chat":``), the keys read in each branch.
"""

from __future__ import annotations

import ast
import keyword
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from wsrefactor.codegen import render
from wsrefactor.semantic.scopes import Scope
from wsrefactor.semantic.server import ServerModel

TYPING_NAMES = ("Annotated", "Any", "Literal", "Union")
PYDANTIC_NAMES = ("BaseModel", "ConfigDict", "Field", "TypeAdapter", "ValidationError", "Discriminator", "Tag")
_BASEMODEL_ATTRS = frozenset({
    "copy", "dict", "json", "schema", "schema_json", "construct", "validate", "fields", "parse_obj",
    "parse_raw", "parse_file", "from_orm", "update_forward_refs", "model_config", "model_fields",
})


@dataclass(eq=False)
class Shape:
    """What the code reads from one parsed message (plain data: it travels in a Detection)."""

    common: dict[str, bool] = field(default_factory=dict)  # key -> required
    key: str | None = None  # the dispatch key
    key_required: bool = False
    branches: dict[str, dict[str, bool]] = field(default_factory=dict)  # literal -> keys
    fallback: dict[str, bool] | None = None


# -- reading the shape on ast ----------------------------------------------------------------------


def str_value(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def uses_until_rebound(server: ServerModel, fn: Scope, name: str, after: ast.AST | None) -> Iterator[ast.Name]:
    """The reads of ``name`` in ``fn`` past ``after``, in source order, until it is rebound."""
    for node in server.uses_after(fn, name, after):
        if not isinstance(node.ctx, ast.Load):
            return
        yield node


def read_of(server: ServerModel, use: ast.Name) -> tuple[ast.expr, str, bool] | None:
    """``(expression, key, required)`` for ``msg["k"]``, ``msg.get("k")`` and ``"k" in msg``."""
    parent = server.parent(use)
    if isinstance(parent, ast.Subscript) and parent.value is use:
        return _keyed(parent, str_value(parent.slice), True)
    if isinstance(parent, ast.Attribute) and parent.value is use and parent.attr == "get":
        return _get_read(server, parent)
    if _membership(parent, use):
        return _keyed(parent, str_value(parent.left), False)  # type: ignore[union-attr, arg-type]
    return None


def _get_read(server: ServerModel, attr: ast.Attribute) -> tuple[ast.expr, str, bool] | None:
    """``msg.get("k")``: optional."""
    call = server.parent(attr)
    if not isinstance(call, ast.Call) or call.func is not attr:
        return None
    return _keyed(call, str_value(call.args[0]) if call.args else None, False)


def _membership(parent: ast.AST | None, use: ast.expr) -> bool:
    """``"k" in use`` / ``"k" not in use``."""
    return isinstance(parent, ast.Compare) and len(parent.ops) == 1 and isinstance(
        parent.ops[0], (ast.In, ast.NotIn)) and parent.comparators[0] is use


def _keyed(expr: ast.expr, key: str | None, required: bool) -> tuple[ast.expr, str, bool] | None:
    return (expr, key, required) if key is not None else None


def _literals(node: ast.AST) -> list[str] | None:
    """``"chat"`` -> ["chat"]; ``("a", "b")`` -> ["a", "b"]."""
    value = str_value(node)
    if value is not None:
        return [value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts:
        values = [str_value(e) for e in node.elts]
        return values if all(v is not None for v in values) else None  # type: ignore[return-value]
    return None


def _compared_with(comparison: ast.Compare, expr: ast.AST) -> list[str] | None:
    """The literals of ``expr == "a"``, ``"a" == expr``, ``expr in ("a", "b")``."""
    if len(comparison.ops) != 1:
        return None
    left = comparison.left is expr
    op = comparison.ops[0]
    if not (isinstance(op, ast.Eq) or (left and isinstance(op, ast.In))):
        return None
    if not left and comparison.comparators[0] is not expr:
        return None
    return _literals(comparison.comparators[0] if left else comparison.left)


def _case_literals(pattern: ast.pattern) -> list[str] | None:
    if isinstance(pattern, ast.MatchValue) and str_value(pattern.value) is not None:
        return [str_value(pattern.value)]  # type: ignore[list-item]
    if isinstance(pattern, ast.MatchOr):
        values = [_case_literals(p) for p in pattern.patterns]
        if all(v is not None for v in values):
            return [x for v in values for x in v]  # type: ignore[union-attr]
    return None


def _read_key(expr: ast.AST) -> str | None:
    if isinstance(expr, ast.Subscript):
        return str_value(expr.slice)
    if isinstance(expr, ast.Call) and expr.args:
        return str_value(expr.args[0])
    return None


def bound_name(server: ServerModel, node: ast.AST) -> tuple[str, ast.AST] | None:
    """``name = <node>`` (also ``name := <node>``, ``name: T = <node>``, through ``await``):
    the name and its binding statement/expression."""
    parent = server.parent(node)
    if isinstance(parent, ast.Await):
        node, parent = parent, server.parent(parent)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and parent.value is node:
        target = parent.targets[0]
        return (target.id, parent) if isinstance(target, ast.Name) else None
    if isinstance(parent, (ast.NamedExpr, ast.AnnAssign)) and parent.value is node and isinstance(parent.target, ast.Name):
        return parent.target.id, parent
    return None


class ShapeReader:
    """Reads the shape of the message bound to ``name`` in ``fn`` after ``after``."""

    def __init__(self, server: ServerModel) -> None:
        self.server = server
        self._holders: set[int] = set()
        self._scopes: dict[int, tuple[str, ...] | None] = {}  # id(statement or case) -> literals
        self._first: ast.AST | None = None

    def read(self, fn: Scope, name: str, after: ast.AST) -> Shape:
        reads = self._reads(fn, name, after)
        shape = Shape()
        dispatch = self._dispatch(fn, reads)
        if dispatch:
            shape = self._set_dispatch(shape, dispatch)
        tested = {id(e) for e, _ in dispatch}
        key_required = any(required for expr, _, required in reads if id(expr) in tested)
        for expr, key, required in reads:
            if id(expr) not in tested:
                self._place(shape, expr, key, required)
        fallback = {} if shape.fallback is None and self._read_after(shape, reads) else shape.fallback
        return Shape(shape.common, shape.key, key_required, shape.branches, fallback)

    def _reads(self, fn: Scope, name: str, after: ast.AST) -> list[tuple[ast.expr, str, bool]]:
        found = (read_of(self.server, u) for u in uses_until_rebound(self.server, fn, name, after))
        return [r for r in found if r is not None]

    def _dispatch(self, fn: Scope, reads: list[tuple[ast.expr, str, bool]]) -> list[tuple[ast.expr, ast.AST]]:
        """``(read expression, If or Match)`` for the most used dispatch key."""
        by_key: dict[str, list[tuple[ast.expr, ast.AST]]] = {}
        for expr, key, _ in reads:
            for holder in self._dispatch_points(fn, expr):
                by_key.setdefault(key, []).append((expr, holder))
        if not by_key:
            return []
        best = max(by_key, key=lambda k: (len(by_key[k]), k == "type"))
        return by_key[best] if best else []

    def _dispatch_points(self, fn: Scope, expr: ast.expr) -> Iterator[ast.AST]:
        yield from self._direct_points(expr)
        alias = bound_name(self.server, expr)
        if alias is not None:
            for use in uses_until_rebound(self.server, fn, alias[0], alias[1]):
                yield from self._direct_points(use)

    def _direct_points(self, expr: ast.expr) -> Iterator[ast.AST]:
        found = self._compared_literals(expr)
        if found is not None:
            yield found[0]
        parent = self.server.parent(expr)
        if isinstance(parent, ast.Match) and parent.subject is expr:
            yield parent

    def _compared_literals(self, expr: ast.AST) -> tuple[ast.If, list[str]] | None:
        """``if <expr> == "lit":`` (also ``in (...)``, ``"lit" == <expr>``, first of an ``and``)."""
        comparison = self.server.parent(expr)
        values = _compared_with(comparison, expr) if isinstance(comparison, ast.Compare) else None
        if not values:
            return None
        test: ast.AST = comparison  # type: ignore[assignment]
        parent = self.server.parent(test)
        if isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.And) and parent.values[0] is test:
            test, parent = parent, self.server.parent(parent)
        return (parent, values) if isinstance(parent, ast.If) and parent.test is test else None

    def _set_dispatch(self, shape: Shape, dispatch: list[tuple[ast.expr, ast.AST]]) -> Shape:
        self._holders = {id(h) for _, h in dispatch}
        key: str | None = None
        branches: dict[str, dict[str, bool]] = {}
        fallback: dict[str, bool] | None = None
        for expr, holder in dispatch:
            key = _read_key(expr)
            if self._first is None:
                self._first = holder
            if isinstance(holder, ast.If):
                fallback = self._if_scopes(holder, branches, fallback)
            elif isinstance(holder, ast.Match):
                fallback = self._match_scopes(holder, branches, fallback)
        return Shape(shape.common, key, shape.key_required, branches, fallback)

    def _scope(self, nodes: list, literals: tuple[str, ...] | None) -> None:
        for node in nodes:
            self._scopes[id(node)] = literals

    def _if_scopes(self, node: ast.If, branches: dict, fallback: dict | None) -> dict | None:
        literals = self._if_literals(node)
        for lit in literals:
            branches.setdefault(lit, {})
        self._scope(node.body, literals)
        orelse = node.orelse
        elif_ = len(orelse) == 1 and isinstance(orelse[0], ast.If)
        if orelse and not (elif_ and id(orelse[0]) in self._holders):
            fallback = fallback if fallback is not None else {}
            self._scope(orelse, None)
        return fallback

    def _if_literals(self, node: ast.If) -> tuple[str, ...]:
        for expr in ast.walk(node.test):
            found = self._compared_literals(expr)
            if found is not None and found[0] is node:
                return tuple(found[1])
        return ()

    def _match_scopes(self, node: ast.Match, branches: dict, fallback: dict | None) -> dict | None:
        for case in node.cases:
            literals = _case_literals(case.pattern)
            if literals is None or case.guard is not None:
                fallback = fallback if fallback is not None else {}
                self._scope([case], None)
                continue
            for lit in literals:
                branches.setdefault(lit, {})
            self._scope([case], tuple(literals))
        return fallback

    def _place(self, shape: Shape, expr: ast.AST, key: str, required: bool) -> None:
        current = self.server.parent(expr)
        while current is not None:
            if id(current) in self._scopes:
                lits = self._scopes[id(current)]
                if lits is None:
                    _merge(shape.fallback, key, required)  # type: ignore[arg-type]
                for lit in lits or ():
                    _merge(shape.branches[lit], key, required)
                return
            current = self.server.parent(current)
        _merge(shape.common, key, required)

    def _read_after(self, shape: Shape, reads: list[tuple[ast.expr, str, bool]]) -> bool:
        """A read after the dispatch, outside its branches: unmatched types reach it."""
        first = self._first
        if first is None:
            return False
        inside = {id(n) for n in ast.walk(first)}
        start = (first.lineno, first.col_offset)  # type: ignore[attr-defined]
        return any(
            id(e) not in inside and (e.lineno, e.col_offset) > start for e, k, _ in reads if k != shape.key
        )


def _merge(keys: dict[str, bool], key: str, required: bool) -> None:
    keys[key] = keys.get(key, False) or required


def names_used(fn: ast.AST) -> set[str]:
    """Every identifier written in ``fn`` (names, attributes, parameters, keywords, defs): a
    fresh name must differ from all of them."""
    out: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, (ast.arg, ast.keyword)) and node.arg:
            out.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.update(p for p in (node.asname or node.name).split("."))
    return out


def fresh_name(fn: ast.AST, candidates: tuple[str, ...]) -> str | None:
    used = names_used(fn)
    return next((c for c in candidates if c not in used), None)


# -- the generated models ----------------------------------------------------------------------


def pystr(text: str) -> str:
    """A Python string literal, double-quoted when that needs no escaping."""
    literal = repr(text)
    if literal[0] == "'" and '"' not in text and "'" not in text:
        return '"' + literal[1:-1] + '"'
    return literal


def _tuple_code(values: list[str]) -> str:
    codes = [pystr(v) for v in values]
    return "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"


def _camel(text: str) -> str:
    parts = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(p[:1].upper() + p[1:] for p in parts)
    return name if name[:1].isalpha() else "Type" + name


def _plain(key: str) -> bool:
    return (key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("_")
            and not key.startswith("model_") and key not in _BASEMODEL_ATTRS)


class Namer:
    """Fresh module-level names for the generated classes, shared by one file's fixes."""

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
            default = f"{n['Field']}(alias={pystr(key)})" if required else f"{n['Field']}(default=None, alias={pystr(key)})"
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
            "key_code": pystr(self.key or ""), "literal_tuple": _tuple_code(self.literals),
            "fallback": self.fallback, "fallback_code": pystr(self.fallback or ""),
        }


def make_plan(shape: Shape, handler: str, namer: Namer, n: dict[str, str]) -> Plan:
    camel = _camel(handler)
    if shape.key is None or not shape.branches:
        name = namer.take(f"{camel}Message")
        return Plan([{"name": name, "tag_code": "", "fields": _fields(shape.common, n)}])
    models = []
    for lit, keys in shape.branches.items():
        name = namer.take(f"{_camel(lit)}Message", f"{camel}{_camel(lit)}Message")
        first = (shape.key, f"{n['Literal']}[{pystr(lit)}]", True)
        models.append({"name": name, "tag_code": pystr(lit), "fields": _fields({**shape.common, **keys}, n, first)})
    fallback = None
    if shape.fallback is not None:
        fallback = namer.take("OtherMessage", f"{camel}OtherMessage")
        keys = {**shape.common, **shape.fallback}
        required = shape.key_required or keys.get(shape.key, False)
        models.append({"name": fallback, "tag_code": pystr(fallback), "fields": _fields(keys, n, (shape.key, n["Any"], required))})
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
        typing_names=[x for x in TYPING_NAMES if x in words], pydantic_names=[x for x in PYDANTIC_NAMES if x in words],
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
