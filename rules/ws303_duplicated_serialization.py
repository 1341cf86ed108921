"""WS303 duplicated-event-serialization: the same object -> dict literal written out in several places.

Decided once, on Python's ``ast`` (``collect``: every file's ``ModuleFact`` and its candidate
dicts); libcst is used only to build the fix (``apply_payload``), which finds the dicts to
replace by running the same ``ast`` decision on the file's current text and taking the libcst
``Dict`` at each span.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, replace
from typing import Any, cast

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.positions import Positions
from wsrefactor.project_graph import (
    ImportGraph,
    ModuleFact,
    absolute,
    display,
    module_name,
    modules_by_path,
    places,
    resolve_option_path,
)
from wsrefactor.rule import (
    Invalid,
    Option,
    ProjectEdit,
    ProjectFinding,
    SemanticProjectRule,
    Valid,
)
from wsrefactor.semantic import Analyses, Imports, Scope, SemanticModel
from wsrefactor.semantic.detection import detect_at
from wsrefactor.semantic.imports import BUILTINS
from wsrefactor.semantic.nodes import NodeIndex
from wsrefactor.walk import code_of, replace_nodes

_MIN_KEYS = 3
PLACEHOLDER = "obj"


# --------------------------------------------------------------------------------------------
# the dict shape, on ast
# --------------------------------------------------------------------------------------------

# Values that are not a plain read of an object's attributes, whatever they read.
_BAD_VALUE = (
    ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr,
    ast.Await, ast.Yield, ast.YieldFrom, ast.JoinedStr,
)
_CONSTANT_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _allowed_names(imports: Imports) -> frozenset[str]:
    """Names a value may use besides its variable: the builtins the module does not shadow."""
    return frozenset(n for n in BUILTINS if n not in imports.aliases and n not in imports.module_bindings)


def _disqualifies(node: ast.AST) -> bool:
    """Code that is not a plain read of attributes: lambdas, comprehensions, ``await``,
    f-strings, ``f(*x)`` / ``f(**x)``."""
    if isinstance(node, _BAD_VALUE):
        return True
    return isinstance(node, ast.Call) and (
        any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
    )


def _value_var(value: ast.expr, allowed: frozenset[str]) -> str | None:
    """The one variable a value reads, provided it only reads it as ``var.attr``."""
    names: Counter[str] = Counter()
    bases: Counter[str] = Counter()
    for node in ast.walk(value):
        if _disqualifies(node):
            return None
        if isinstance(node, ast.Name):
            names[node.id] += 1
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            bases[node.value.id] += 1
    free = [n for n in names if n not in allowed]
    return free[0] if len(free) == 1 and names[free[0]] == bases[free[0]] else None


class _RenameAst(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.new, node.ctx) if node.id == self.old else node


def _shape_dump(value: ast.expr, var: str) -> str:
    """The value with ``var`` renamed to ``obj``, dumped: equal dumps mean equal values."""
    return ast.dump(_RenameAst(var, PLACEHOLDER).visit(deepcopy(value)))


@dataclass(frozen=True)
class _Entry:
    var: str
    key: str
    key_code: str
    value: ast.expr


def _entries(node: ast.Dict, allowed: frozenset[str], analyses: Analyses) -> list[_Entry] | None:
    """Every element as ``"str key": <attributes of one variable>``, keys distinct; else None."""
    entries: list[_Entry] = []
    seen: set[str] = set()
    for key, value in zip(node.keys, node.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or key.value in seen:
            return None
        var = _value_var(value, allowed)
        if var is None or (entries and var != entries[0].var):
            return None
        seen.add(key.value)
        entries.append(_Entry(var, key.value, analyses.segment(key), value))
    return entries


def _member_path(value: ast.expr, var: str) -> list[str] | None:
    """``["Kind", "a"]`` for ``var.Kind.a``: a pure attribute read (no call, no subscript)."""
    parts: list[str] = []
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    return list(reversed(parts)) if isinstance(value, ast.Name) and value.id == var and parts else None


def _constant_namespace(var: str, node: ast.Dict, model: SemanticModel) -> bool:
    """``var`` names a namespace of constants where the dict reads it: a class, an import, an
    enum built by a call into ``enum``, or a capitalised module-level name."""
    imports = model.imports
    if var in imports.aliases or (var in imports.module_bindings and var[:1].isupper()):
        return True
    for binding in model.lookup(var, model.scope_of(node)):
        if binding.kind in ("class", "import"):
            return True
        value = binding.value
        if isinstance(value, ast.Call) and (model.qualified_name(value.func, binding.scope) or "").startswith("enum."):
            return True
    return False


def _class_attribute_members(paths: Sequence[list[str] | None]) -> bool:
    """Every value is ``var.<Capitalised>.<member>`` with one and the same capitalised head."""
    heads = {p[0] if p is not None and len(p) == 2 else "" for p in paths}
    return len(heads) == 1 and heads.pop()[:1].isupper()


def _lookup_table(entries: Sequence[_Entry], node: ast.Dict, model: SemanticModel) -> bool:
    """A constant lookup table, not the serialization of an object (issue #12, false alarm 5):
    members of a constant namespace (``{"socks5": ProxyType.SOCKS5}``, a local ``enum.Enum(...)``,
    an import), all ``UPPER_CASE`` members, or members of one capitalised class attribute
    (``self.Kind.a``)."""
    var = entries[0].var
    if _constant_namespace(var, node, model):
        return True
    paths = [_member_path(e.value, var) for e in entries]
    if all(p is not None and len(p) == 1 and _CONSTANT_NAME.fullmatch(p[0]) for p in paths):
        return True
    return _class_attribute_members(paths)


def _min_keys(options: Mapping[str, Any]) -> int:
    """The fewest elements a dict needs to be compared (``min-keys``, never below three)."""
    try:
        return max(_MIN_KEYS, int(options.get("min-keys", _MIN_KEYS)))
    except (TypeError, ValueError):
        return _MIN_KEYS


@dataclass(frozen=True)
class Candidate:
    """A dict serializing one variable's attributes, and where it is."""

    node: ast.Dict
    var: str
    shape: tuple[tuple[str, str], ...]  # (key, ast dump of the value over ``obj``)
    keys: tuple[str, ...]  # key source text
    values: tuple[str, ...]  # value source text, over ``var``
    scope: Scope
    occurrence: int  # index among dicts of this shape and variable in this scope


def _might_be(node: ast.Dict, min_keys: int) -> bool:
    """Cheap test before the model is built: enough keys, all string literals."""
    return len(node.keys) >= min_keys and all(
        isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys
    )


def candidates(analyses: Analyses, min_keys: int = _MIN_KEYS) -> list[Candidate]:
    """The module's serialization dicts, in source order. The one decision of the rule: the
    facts are built from it, and the fix finds the dicts it replaces with it."""
    found = [n for n in analyses(NodeIndex).nodes(ast.Dict) if _might_be(n, min_keys)]
    if not found:
        return []
    allowed = _allowed_names(analyses(Imports))
    # the scopes are built only for a file holding a dict of attribute reads (most dicts of string
    # keys are literals, settings or lookup tables, decided from the dict alone)
    shaped = [(node, entries) for node in found if (entries := _entries(node, allowed, analyses))]
    if not shaped:
        return []
    model = analyses(SemanticModel)
    out: list[Candidate] = []
    occurrences: Counter[tuple[str, tuple[tuple[str, str], ...], str]] = Counter()
    for node, entries in sorted(shaped, key=lambda item: (item[0].lineno, item[0].col_offset)):
        if _lookup_table(entries, node, model):
            continue
        candidate = _candidate(analyses, node, entries, model.scope_of(node))
        key = (candidate.scope.qualname, candidate.shape, candidate.var)
        out.append(candidate if not occurrences[key] else replace(candidate, occurrence=occurrences[key]))
        occurrences[key] += 1
    return out


def _candidate(analyses: Analyses, node: ast.Dict, entries: Sequence[_Entry], scope: Scope) -> Candidate:
    """The dict as a ``Candidate`` (its occurrence is counted by the caller)."""
    var = entries[0].var
    return Candidate(
        node, var, tuple((e.key, _shape_dump(e.value, var)) for e in entries), tuple(e.key_code for e in entries),
        tuple(analyses.segment(e.value) for e in entries), scope, 0,
    )


def _annotation_class(annotation: ast.expr, model: SemanticModel, module: str, path: str) -> str | None:
    """The project class a parameter annotation names (absolute), else None."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if not isinstance(annotation, (ast.Name, ast.Attribute)):
        return None
    imports = model.imports
    if isinstance(annotation, ast.Name) and annotation.id in model.classes() and annotation.id not in imports.aliases:
        return f"{module}.{annotation.id}"
    resolved = imports.resolve(annotation)
    if resolved is None or resolved.startswith("builtins."):
        return None
    return absolute(resolved, module, path)


def class_hint(candidate: Candidate, model: SemanticModel, module: str, path: str) -> str | None:
    """The class the dict's variable is annotated with, as a parameter of the enclosing ``def``."""
    function = candidate.scope.function
    if function is None or not isinstance(function.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    args = function.node.args
    for param in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        if param.arg == candidate.var and param.annotation is not None:
            return _annotation_class(param.annotation, model, module, path)
    return None


@dataclass(frozen=True)
class DictFact:
    path: str
    module: str
    root: str
    line: int
    column: int  # 1-based, characters
    end_line: int
    end_column: int
    stmt_line: int
    scope: str  # dotted classes/functions around the dict
    occurrence: int  # index among dicts of this shape and variable in this scope
    var: str
    shape: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    values: tuple[str, ...]  # value source text over ``var``
    class_hint: str | None
    context: str


def dict_facts(analyses: Analyses, options: Mapping[str, Any]) -> Iterator[DictFact]:
    """Every candidate dict of the file as a picklable fact."""
    found = candidates(analyses, _min_keys(options)) if "{" in analyses.text else []
    if not found:
        return
    module = analyses(ModuleFact)
    model = analyses(SemanticModel)
    for c in found:
        at = detect_at(analyses, c.node, "")
        scope = c.scope.qualname
        yield DictFact(
            path=analyses.path, module=module.module, root=module.root, line=at.line, column=at.column,
            end_line=at.end_line, end_column=at.end_column, stmt_line=at.stmt_line, scope=scope,
            occurrence=c.occurrence, var=c.var, shape=c.shape, keys=c.keys, values=c.values,
            class_hint=class_hint(c, model, module.module, analyses.path),
            context=f"{scope}:{'|'.join(k for k, _ in c.shape)}",
        )


# --------------------------------------------------------------------------------------------
# generated code
# --------------------------------------------------------------------------------------------


def _renamer(old: str, new: str) -> cst.CSTTransformer:
    """``old.attr`` -> ``new.attr`` (the variable is only ever read as an attribute base). The
    class is made on use: libcst is imported lazily (``wsrefactor.lazy``)."""

    class Rename(cst.CSTTransformer):
        def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.Attribute:
            if isinstance(updated_node.value, cst.Name) and updated_node.value.value == old:
                return updated_node.with_changes(value=updated_node.value.with_changes(value=new))
            return updated_node

    return Rename()


def rename(value: str, old: str, new: str) -> str:
    """A value's source with variable ``old`` read as ``new``; multi-line or commented values are
    normalised so the generated code stays one clean line."""
    if "\n" in value or "#" in value:
        return ast.unparse(_RenameAst(old, new).visit(ast.parse(f"({value})", mode="eval").body))
    on_tokens = _renamed_on_tokens(value, old, new)
    if on_tokens is not None:
        return on_tokens
    renamed = cst.parse_expression(value).visit(_renamer(old, new))
    return cst.Module(body=[]).code_for_node(cast(cst.CSTNode, renamed)).strip()  # only renamed


def _renamed_on_tokens(value: str, old: str, new: str) -> str | None:
    """``rename`` of a one-line value on its tokens, every other character kept: the same text as
    the libcst transform where each ``old`` is a name directly followed by ``.`` (the plain
    check's case, which then never imports libcst). None where the tokens cannot tell: ``old``
    used otherwise, or inside an f-string (one token before Python 3.12)."""
    tokens = _tokens(value)
    cuts = None if tokens is None else _base_columns(tokens, old)
    if cuts is None:
        return None
    for col in reversed(cuts):
        value = value[:col] + new + value[col + len(old):]
    return value.strip()


def _base_columns(tokens: Sequence[tokenize.TokenInfo], name: str) -> list[int] | None:
    """Where ``name`` is read as an attribute base (``name.x``); None if it is read any other way."""
    cuts: list[int] = []
    for i, tok in enumerate(tokens):
        if _f_string_mentions(tok, name):
            return None
        if tok.type != tokenize.NAME or tok.string != name or (i > 0 and tokens[i - 1].string == "."):
            continue  # another name, or ``x.name``: an attribute's own name
        if i + 1 >= len(tokens) or tokens[i + 1].string != ".":
            return None
        cuts.append(tok.start[1])
    return cuts


def _tokens(value: str) -> list[tokenize.TokenInfo] | None:
    try:
        return list(tokenize.generate_tokens(io.StringIO(value).readline))
    except (tokenize.TokenError, SyntaxError):
        return None


def _f_string_mentions(tok: tokenize.TokenInfo, name: str) -> bool:
    return tok.type == tokenize.STRING and name in tok.string and "f" in tok.string.split(tok.string[-1])[0].lower()


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name).lower()


@dataclass(frozen=True)
class DefinePayload:
    """Add the generated module-level function to an existing module (after its imports)."""

    source: str


@dataclass(frozen=True)
class MethodPayload:
    cls: str
    source: str


@dataclass(frozen=True)
class ReplacePayload:
    """Replace the listed copies (scope, occurrence, var) of ``shape`` by a call of the helper."""

    shape: tuple[tuple[str, str], ...]
    targets: tuple[tuple[str, int, str], ...]
    call: str  # helper function name, or "" for the method style
    import_from: str | None  # module to import ``call`` from (None: defined here / method)


class DuplicatedEventSerialization(SemanticProjectRule):
    """
    ## What it does
    Finds dict literals with the same keys built from the attributes of one object
    (`{"id": event.id, "timestamp": event.timestamp.isoformat(), ...}`) written out in two or
    more places, in any files of the project. Copies are equal up to the variable's name: at least
    three string keys, every value an expression over that variable's attributes (and builtins).
    Each copy is reported, naming the others.

    ## Why is this bad?
    The dict is a wire format. When it is spelled out in the broadcaster, the history buffer and
    the direct send path, a field added or renamed in one place silently diverges from the others,
    and clients see different shapes of the same event depending on how it reached them.

    ## Example
    ```python
    async def publish(e):
        message = {"id": e.id, "room": e.room, "timestamp": e.timestamp.isoformat()}
        ...

    def append(msg):
        record = {"id": msg.id, "room": msg.room, "timestamp": msg.timestamp.isoformat()}
        ...
    ```

    ## Use instead
    ```python
    def serialize_event(obj):
        return {"id": obj.id, "room": obj.room, "timestamp": obj.timestamp.isoformat()}

    async def publish(e):
        message = serialize_event(e)

    def append(msg):
        record = serialize_event(msg)
    ```
    The fix is *unsafe* (the copies are judged equal by their shape, and from then on they change
    together: an endpoint that needed its own field now shares the others' helper): it generates
    one helper (`serialize_<class>` when the variable is
    annotated with a class, else `serialize_<most common variable name>`), or a `to_dict`
    method on the class when it is defined in the project and `prefer-method` is set; replaces
    every copy with a call; and adds absolute imports derived from the package layout. The helper
    goes in `helper-module`, else next to the class, else in the module with the most copies —
    but the last two only when every other module with a copy already imports that module: the fix
    never makes two modules that did not import each other depend on one another (a sync client
    importing an asyncio client); then, and when a home would create an import cycle, it goes in a
    new neutral `<package>/serializers.py`.

    Constant lookup tables are not serializations and are not reported: dicts whose values are
    members of a constant namespace where the dict reads it — an import, a class (any scope), an
    enum built by a call into `enum` (`Kind = enum.Enum(...)`), a capitalised module-level name
    (`{"socks5": ProxyType.SOCKS5, ...}`) — or all `UPPER_CASE` attributes, or members of one
    capitalised class attribute (`self.Kind.a`). Dicts with literal values read no object and are
    never compared. Decided on the semantic model (`wsrefactor.semantic`); a plain check never
    parses a file with libcst for this rule.

    ## Options
    - `helper-module` (str, default `""`): file, relative to the project root, that receives the helper.
    - `prefer-method` (bool, default `false`): generate a `to_dict` method on the project class instead.
    - `min-keys` (int, default `3`): the fewest keys a dict must have to be compared.
    """

    code = "WS303"
    name = "duplicated-event-serialization"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "the same object-to-dict serialization is written out in several places"
    options = (
        Option("helper-module", str, "", "file (relative to the project root) receiving the helper"),
        Option("prefer-method", bool, False, "generate a to_dict method on a project class instead"),
        Option("min-keys", int, 3, "fewest keys a dict must have to be compared"),
    )

    VALID = [
        # Constant lookup tables (enum members), not serializations of an object.
        Valid(
            """
            import enum

            class ProxyType(enum.Enum):
                SOCKS5 = 1
                SOCKS4 = 2
                HTTP = 3

            def parse(scheme):
                return {"socks5": ProxyType.SOCKS5, "socks4": ProxyType.SOCKS4, "http": ProxyType.HTTP}[scheme]

            def choices():
                return {"socks5": ProxyType.SOCKS5, "socks4": ProxyType.SOCKS4, "http": ProxyType.HTTP}
            """
        ),
        Valid("""
            def a(event):
                return {"id": event.id, "type": event.type, "room": event.room}

            def b(user):
                return {"id": user.id, "name": user.name, "email": user.email}
        """),
        Valid("""
            def a(event, room):
                return {"id": event.id, "type": event.type, "room": room}

            def b(event, room):
                return {"id": event.id, "type": event.type, "room": room}
        """),
        Valid("""
            def a(e):
                return {"id": e.id, "type": e.type}

            def b(e):
                return {"id": e.id, "type": e.type}
        """),
    ]
    INVALID = [
        Invalid(
            """
            def send(ws, event):
                ws.send_json({"id": event.id, "type": event.type, "at": event.at.isoformat()})

            def remember(store, evt):
                store.append({"id": evt.id, "type": evt.type, "at": evt.at.isoformat()})
            """,
            """
            def serialize_event(obj):
                \"\"\"The wire form of `event` (one serializer for every copy; generated by wsrefactor WS303).\"\"\"
                return {
                    "id": obj.id,
                    "type": obj.type,
                    "at": obj.at.isoformat(),
                }


            def send(ws, event):
                ws.send_json(serialize_event(event))

            def remember(store, evt):
                store.append(serialize_event(evt))
            """,
            lines=(2, 5),
        ),
    ]

    @classmethod
    def collect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Any]:
        """Every file's ``ModuleFact`` (the project phase needs every module's imports, for cycles,
        and bindings: the helper's home may be any module), then its candidate dicts."""
        yield analyses(ModuleFact)
        yield from dict_facts(analyses, options)

    # ----------------------------------------------------------------------------------------
    # project phase
    # ----------------------------------------------------------------------------------------

    @classmethod
    def finalize(
        cls, facts: Mapping[str, Sequence[Any]], options: Mapping[str, Any]
    ) -> list[ProjectFinding]:
        modules, groups = _collect(facts)
        project = _Project(modules, options)
        planned: list[tuple[list[DictFact], ProjectEdit | None]] = []
        for shape in sorted(groups, key=lambda s: (groups[s][0].path, groups[s][0].line)):
            copies = sorted(groups[shape], key=lambda f: (f.path, f.line, f.column))
            if len(copies) >= 2:
                planned.append((copies, _plan(copies, project)))
        findings: list[ProjectFinding] = []
        for copies, edit in planned:
            findings.extend(_copy_findings(copies, project.with_new_texts(edit)))
        return findings

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        from wsrefactor.fixes import add_imports, add_module_statements

        if isinstance(payload, DefinePayload):
            return add_module_statements(module, [payload.source], path)
        if isinstance(payload, MethodPayload):
            return module.visit(_method_adder(payload.cls, payload.source))
        if isinstance(payload, ReplacePayload):
            new, done = _replace_copies(module, payload, path)
            if done and payload.import_from:
                new = add_imports(new, [(payload.import_from, payload.call)], path)
            return new
        return module


# --------------------------------------------------------------------------------------------
# planning the fix
# --------------------------------------------------------------------------------------------


def _collect(
    facts: Mapping[str, Sequence[Any]]
) -> tuple[dict[str, ModuleFact], dict[tuple[tuple[str, str], ...], list[DictFact]]]:
    """Every module's fact by path, and the dict facts grouped by shape (in path order)."""
    groups: dict[tuple[tuple[str, str], ...], list[DictFact]] = {}
    for path in sorted(facts):
        for fact in facts[path]:
            if isinstance(fact, DictFact):
                groups.setdefault(fact.shape, []).append(fact)
    return modules_by_path(facts), groups


def _copy_findings(copies: Sequence[DictFact], edit: ProjectEdit | None) -> list[ProjectFinding]:
    """One finding per copy, naming the others; every copy carries the fix, the new files only once."""
    findings = []
    for i, copy in enumerate(copies):
        others = places((f"{display(o.path, copy.root)}:{o.line}" for o in copies if o is not copy), len(copies) - 1)
        fix = edit
        if edit is not None and i > 0:
            # the same payloads (idempotent); the new files are listed once
            fix = ProjectEdit(edit.safety, edit.description, edit.payloads, ())
        findings.append(
            ProjectFinding(
                path=copy.path, line=copy.line, column=copy.column, end_line=copy.end_line,
                end_column=copy.end_column, stmt_line=copy.stmt_line,
                message=f"`{copy.var}` serialized by hand in {len(copies)} places; also at {others}",
                fix=fix, context=copy.context,
            )
        )
    return findings


def _helper_name(copies: Sequence[DictFact], class_name: str | None) -> str:
    if class_name:
        return f"serialize_{snake(class_name)}"
    counts = Counter(c.var for c in copies)
    var = sorted(counts, key=lambda v: (-counts[v], -len(v), v))[0]
    return f"serialize_{snake(var)}"


def _subject(copies: Sequence[DictFact], class_name: str | None) -> str:
    if class_name:
        return f"a `{class_name}`"
    counts = Counter(c.var for c in copies)
    return f"`{sorted(counts, key=lambda v: (-counts[v], -len(v), v))[0]}`"


class _Project:
    """What every group's plan reads about the project, computed once per ``finalize``: the
    modules by path and by dotted name, the import graph, ``helper-module`` resolved."""

    def __init__(self, modules: Mapping[str, ModuleFact], options: Mapping[str, Any]) -> None:
        self.modules = modules
        self.options = options
        self.graph = ImportGraph(modules)
        self.by_name = {m.module: m for m in modules.values()}
        option = str(options.get("helper-module") or "")
        self.helper_path = resolve_option_path(option, modules) if option else ""
        # Helpers planned so far in this run, per home module: a later group never reuses a name
        # (two groups once both wrote ``serialize_res`` into one new ``serializers.py``).
        self.claimed: dict[str, set[str]] = {}
        # The text of each new module, grown by every group that puts its helper there.
        self.new_texts: dict[str, str] = {}

    def with_new_texts(self, edit: ProjectEdit | None) -> ProjectEdit | None:
        """``edit`` with its new modules' final text (every helper planned into them)."""
        if edit is None or not edit.new_files:
            return edit
        files = tuple((path, self.new_texts.get(path, text)) for path, text in edit.new_files)
        return replace(edit, new_files=files)


@dataclass(frozen=True)
class _Group:
    """The copies of one shape, with what the plan needs to know about the project."""

    copies: Sequence[DictFact]
    modules: Mapping[str, ModuleFact]
    by_module: Counter[str]  # path -> copies in it
    graph: ImportGraph

    @property
    def most(self) -> str:
        """The path with the most copies (the first by name on a tie)."""
        return sorted(self.by_module, key=lambda p: (-self.by_module[p], p))[0]

    def imported_by_all(self, path: str) -> bool:
        """Every other module with a copy already imports ``path``'s module: calling a helper
        there adds no new dependency between modules."""
        home = self.modules[path].module
        return all(self.graph.imports_directly(self.modules[p].module, home) for p in self.by_module if p != path)

    def cycle_free(self, helper: str) -> bool:
        """No module that gains ``from helper import ...`` is (transitively) imported by helper."""
        return not self.graph.imports_any(
            helper, (self.modules[p].module for p in self.by_module if self.modules[p].module != helper)
        )


@dataclass(frozen=True)
class _Home:
    """Where the helper goes: an existing module of the run, or a new file."""

    path: str
    new: bool


def _class_target(copies: Sequence[DictFact], by_name: Mapping[str, ModuleFact]) -> tuple[str | None, ModuleFact | None]:
    """The class all annotated copies agree on, and the project module defining it (if known)."""
    hints = {c.class_hint for c in copies if c.class_hint}
    if len(hints) != 1:
        return None, None
    module, _, class_name = hints.pop().rpartition(".")
    class_module = by_name.get(module)
    if class_module is not None and class_name not in {c for c, _ in class_module.classes}:
        class_module = None
    return class_name, class_module


def _method_edit(
    group: _Group, class_name: str, class_module: ModuleFact, items: Sequence[tuple[str, str]]
) -> ProjectEdit | None:
    """``Class.to_dict()`` and calls of it: no imports at all, so no cycle is possible."""
    if "to_dict" in dict(class_module.classes).get(class_name, ()):
        return None
    method = _rebase(items, "self", "ws303_serializer_method.py.jinja2", class_name)
    payloads: list[tuple[str, Any]] = [(class_module.path, MethodPayload(class_name, method))]
    mine = _copies_by_path(group.copies)
    payloads.extend((path, _replace_payload(mine[path], path, "", None)) for path in sorted(group.by_module))
    return ProjectEdit(FixSafety.UNSAFE, f"generate {class_name}.to_dict() and call it", tuple(payloads))


def _home_candidates(group: _Group, helper_path: str, class_module: ModuleFact | None) -> list[str]:
    """Preferred homes, best first: ``helper-module`` (the user's choice, resolved once per run),
    then the class's module and the module with most copies — those only when every other copy's
    module already imports them (no import between modules that did not import each other; else
    a new module is made)."""
    candidates = []
    if helper_path:
        candidates.append(helper_path)
    implicit = [class_module.path] if class_module is not None else []
    implicit.append(group.most)
    candidates.extend(p for p in implicit if p in group.modules and group.imported_by_all(p))
    return candidates


def _first_home(group: _Group, candidates: Sequence[str]) -> _Home | None:
    """The first candidate that can take the helper without creating an import cycle."""
    for path in candidates:
        if path in group.modules:
            if group.cycle_free(group.modules[path].module):
                return _Home(path, new=False)
        elif path.endswith(".py") and not os.path.exists(path):
            return _Home(path, new=True)  # a new module nobody imports yet: no cycle possible
    return None


def _serializers_home(group: _Group) -> _Home:
    """``serializers.py`` next to the module with most copies (``serializers_2.py``... when unusable)."""
    folder = os.path.dirname(group.most)
    n = 1
    while True:
        target = os.path.join(folder, "serializers.py" if n == 1 else f"serializers_{n}.py")
        if target in group.modules and group.cycle_free(group.modules[target].module):
            return _Home(target, new=False)
        if not os.path.exists(target):
            return _Home(target, new=True)
        n += 1


def _free_name(group: _Group, home: _Home, base: str, claimed: Mapping[str, set[str]]) -> str:
    """``base`` or ``base_2``...: no name bound in the home module, planned there by an earlier
    group, or bound in a module that imports it."""
    taken: set[str] = set() if home.new else set(group.modules[home.path].names)
    taken |= claimed.get(home.path, set())
    for path in group.by_module:
        if path != home.path:
            taken |= set(group.modules[path].names)
    name = base
    n = 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    return name


def _function_edit(
    group: _Group, home: _Home, name: str, subject: str, items: Sequence[tuple[str, str]], project: _Project
) -> ProjectEdit:
    """The helper function (in a new module or an existing one) and a call of it for every copy.
    A new module already planned by an earlier group of this run receives this helper too (that
    group's edit creates it, with every helper: ``_Project.with_new_texts``)."""
    from wsrefactor.codegen import render

    payloads: list[tuple[str, Any]] = []
    new_files: tuple[tuple[str, str], ...] = ()
    project.claimed.setdefault(home.path, set()).add(name)
    if home.new:
        helper_module = module_name(home.path)[0]
        if home.path in project.new_texts:
            function = render("ws303_serializer_function.py.jinja2", name=name, subject=subject, items=items)
            project.new_texts[home.path] = project.new_texts[home.path].rstrip("\n") + "\n\n\n" + function.strip() + "\n"
        else:
            text = render("ws303_serializers_module.py.jinja2", name=name, subject=subject, items=items)
            project.new_texts[home.path] = text
            new_files = ((home.path, text),)
    else:
        helper_module = group.modules[home.path].module
        function = render("ws303_serializer_function.py.jinja2", name=name, subject=subject, items=items)
        payloads.append((home.path, DefinePayload(function.strip())))
    mine = _copies_by_path(group.copies)
    for path in sorted(group.by_module):
        import_from = None if path == home.path else helper_module
        payloads.append((path, _replace_payload(mine[path], path, name, import_from)))
    where = display(home.path, group.copies[0].root)
    return ProjectEdit(
        FixSafety.UNSAFE, f"generate {name}() in {where} and call it for every copy", tuple(payloads), new_files
    )


def _plan(copies: Sequence[DictFact], project: _Project) -> ProjectEdit | None:
    """The fix for one group of copies: a ``to_dict`` method when preferred, else a helper function."""
    modules = project.modules
    by_module = Counter(c.path for c in copies)
    if any(p not in modules for p in by_module):
        return None
    group = _Group(copies, modules, by_module, project.graph)
    class_name, class_module = _class_target(copies, project.by_name)
    first = copies[0]
    items = [(key, rename(value, first.var, PLACEHOLDER)) for key, value in zip(first.keys, first.values)]
    if project.options.get("prefer-method") and class_module is not None and class_name is not None:
        edit = _method_edit(group, class_name, class_module, items)
        if edit is not None:
            return edit
    home = _first_home(group, _home_candidates(group, project.helper_path, class_module)) or _serializers_home(group)
    name = _free_name(group, home, _helper_name(copies, class_name), project.claimed)
    return _function_edit(group, home, name, _subject(copies, class_name), items, project)


def _rebase(items: Sequence[tuple[str, str]], var: str, template: str, subject: str) -> str:
    from wsrefactor.codegen import render

    rebased = [(key, rename(value, PLACEHOLDER, var)) for key, value in items]
    return render(template, subject=subject, items=rebased).strip()


def _replace_payload(copies: Sequence[DictFact], path: str, call: str, import_from: str | None) -> ReplacePayload:
    """``copies`` are those of ``path`` (callers group them with :func:`_copies_by_path`)."""
    mine = [c for c in copies if c.path == path]
    return ReplacePayload(mine[0].shape, tuple((c.scope, c.occurrence, c.var) for c in mine), call, import_from)


def _copies_by_path(copies: Sequence[DictFact]) -> dict[str, list[DictFact]]:
    """The copies per file, in order: one pass, not one scan of every copy per file."""
    out: dict[str, list[DictFact]] = {}
    for copy in copies:
        out.setdefault(copy.path, []).append(copy)
    return out


# --------------------------------------------------------------------------------------------
# applying the payloads on a fresh parse
# --------------------------------------------------------------------------------------------


def _replace_copies(module: cst.Module, payload: ReplacePayload, path: str) -> tuple[cst.Module, int]:
    """Replace the payload's copies by calls. Which dicts they are is decided as in ``collect``
    (``candidates`` on the ast of the text as it is now); libcst only supplies the node at each span."""
    text = code_of(module)
    analyses = Analyses(ast.parse(text), text, path)
    targets = set(payload.targets)
    chosen = [
        c for c in candidates(analyses)
        if c.shape == payload.shape and (c.scope.qualname, c.occurrence, c.var) in targets
    ]
    if not chosen:
        return module, 0
    positions = Positions(cst.MetadataWrapper(module, unsafe_skip_copy=True), text, analyses.tree)
    replacements: dict[cst.CSTNode, cst.CSTNode] = {}
    for c in chosen:
        at = detect_at(analyses, c.node, "")
        node = positions.find(at.start, at.end, (cst.Dict,))
        if not isinstance(node, cst.Dict):
            continue
        if payload.call:
            new: cst.BaseExpression = cst.Call(cst.Name(payload.call), [cst.Arg(cst.Name(c.var))])
        else:
            new = cst.Call(cst.Attribute(cst.Name(c.var), cst.Name("to_dict")))
        replacements[node] = new.with_changes(lpar=node.lpar, rpar=node.rpar)
    if not replacements:
        return module, 0
    return cst.ensure_type(replace_nodes(module, replacements), cst.Module), len(replacements)


def _method_adder(cls: str, source: str) -> cst.CSTTransformer:
    """Add the generated ``to_dict`` to the module-level class ``cls`` (unless it has one). The
    class is made on use: libcst is imported lazily (``wsrefactor.lazy``)."""

    class AddMethod(cst.CSTTransformer):
        def __init__(self, cls: str, source: str) -> None:
            super().__init__()
            self.cls = cls
            self.source = source
            self.depth = 0

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.depth += 1

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.depth += 1

        def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
            self.depth -= 1
            return updated_node

        def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
            self.depth -= 1
            if self.depth or updated_node.name.value != self.cls or not isinstance(updated_node.body, cst.IndentedBlock):
                return updated_node
            body = list(updated_node.body.body)
            if any(isinstance(s, cst.FunctionDef) and s.name.value == "to_dict" for s in body):
                return updated_node
            method = cst.parse_statement(self.source)
            method = method.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
            return updated_node.with_changes(body=updated_node.body.with_changes(body=[*body, method]))


    return AddMethod(cls, source)
