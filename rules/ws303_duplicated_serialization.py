"""WS303 duplicated-event-serialization: the same object -> dict literal written out in several places."""

from __future__ import annotations

import ast
import builtins
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.names import ImportTable
from wsrefactor.rule import FileContext, Invalid, Option, ProjectEdit, ProjectFinding, ProjectRule, Valid

_BUILTINS = frozenset(dir(builtins))
_MIN_KEYS = 3
PLACEHOLDER = "obj"


# --------------------------------------------------------------------------------------------
# package layout and imports (shared with WS304)
# --------------------------------------------------------------------------------------------


def module_name(path: str) -> tuple[str, str]:
    """``(dotted module name, import root)`` of a file, walking up the ``__init__.py`` files."""
    file = Path(os.path.abspath(path))
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        if folder.parent == folder:
            break
        folder = folder.parent
    return ".".join(parts) or file.stem, str(folder)


def package_of(module: str, path: str) -> str:
    """The package a module's relative imports start from."""
    if os.path.basename(path) == "__init__.py":
        return module
    return module.rpartition(".")[0]


def absolute(name: str, module: str, path: str) -> str:
    """``.events.ChatEvent`` seen from ``wsapp.manager`` -> ``wsapp.events.ChatEvent``."""
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    base = package_of(module, path).split(".") if package_of(module, path) else []
    if level > 1:
        base = base[: len(base) - (level - 1)] if level - 1 <= len(base) else []
    rest = name[level:]
    return ".".join([*base, rest] if rest else base)


def _is_type_checking(test: cst.BaseExpression) -> bool:
    return (isinstance(test, cst.Name) and test.value == "TYPE_CHECKING") or (
        isinstance(test, cst.Attribute) and test.attr.value == "TYPE_CHECKING"
    )


def module_imports(module: cst.Module, name: str, path: str) -> tuple[str, ...]:
    """Dotted names a module imports when it is itself imported (module level, not TYPE_CHECKING).

    Every prefix is listed (``import a.b`` runs ``a`` too); ``from a import b`` lists ``a`` and
    ``a.b`` (which may be a submodule). The project phase keeps those that are project modules.
    """
    out: list[str] = []

    def add(dotted: str) -> None:
        parts = dotted.split(".")
        out.extend(".".join(parts[: i + 1]) for i in range(len(parts)) if parts[0])

    def walk(body: Iterable[cst.CSTNode]) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        for alias in small.names:
                            add(cst.helpers.get_full_name_for_node(alias.name) or "")
                    elif isinstance(small, cst.ImportFrom):
                        dotted = "." * len(small.relative) + (
                            cst.helpers.get_full_name_for_node(small.module) or "" if small.module else ""
                        )
                        base = absolute(dotted, name, path)
                        if base:
                            add(base)
                        if not isinstance(small.names, cst.ImportStar):
                            for alias in small.names:
                                sub = cst.helpers.get_full_name_for_node(alias.name) or ""
                                add(f"{base}.{sub}" if base else sub)
            elif isinstance(stmt, cst.If):
                if not _is_type_checking(stmt.test):
                    walk(stmt.body.body)
                    orelse = stmt.orelse
                    while orelse is not None:
                        walk(orelse.body.body)
                        orelse = getattr(orelse, "orelse", None)
            elif isinstance(stmt, cst.Try):
                walk(stmt.body.body)
                for handler in stmt.handlers:
                    walk(handler.body.body)
                for extra in (stmt.orelse, stmt.finalbody):
                    if extra is not None:
                        walk(extra.body.body)

    walk(module.body)
    return tuple(dict.fromkeys(d for d in out if d))


def top_level_names(module: cst.Module) -> tuple[str, ...]:
    table = ImportTable(module)
    return tuple(sorted(table.module_bindings | set(table.aliases)))


def import_cycle(graph: Mapping[str, Iterable[str]], start: str, target: str) -> bool:
    """Whether ``start`` (transitively) imports ``target``."""
    seen = {start}
    stack = [start]
    while stack:
        current = stack.pop()
        if current == target:
            return True
        for nxt in graph.get(current, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


@dataclass(frozen=True)
class ModuleFact:
    """What the project phase must know about every file: its name, imports and bindings."""

    path: str
    module: str
    root: str  # the directory the top package is imported from
    imports: tuple[str, ...]
    names: tuple[str, ...]  # top-level bindings (defs, classes, assignments, imports)
    classes: tuple[tuple[str, tuple[str, ...]], ...]  # top-level class -> its method names


def module_fact(module: cst.Module, path: str) -> ModuleFact:
    name, root = module_name(path)
    classes = tuple(
        (
            stmt.name.value,
            tuple(
                s.name.value
                for s in (stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else ())
                if isinstance(s, cst.FunctionDef)
            ),
        )
        for stmt in module.body
        if isinstance(stmt, cst.ClassDef)
    )
    return ModuleFact(path, name, root, module_imports(module, name, path), top_level_names(module), classes)


def display(path: str, root: str) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return Path(path).as_posix()


# --------------------------------------------------------------------------------------------
# the dict shape
# --------------------------------------------------------------------------------------------


class _Uses(cst.CSTVisitor):
    """Free names of an expression, and which of them are only used as ``name.attr``."""

    def __init__(self) -> None:
        super().__init__()
        self.names: Counter[str] = Counter()
        self.attr_bases: Counter[str] = Counter()
        self.bad = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if isinstance(node.value, cst.Name):
            self.attr_bases[node.value.value] += 1
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        if node.star:
            self.bad = True
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names[node.value] += 1

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(
            node,
            (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.NamedExpr,
             cst.Await, cst.Yield, cst.FormattedString),
        ):
            self.bad = True
            return False
        return super().on_visit(node)


class _Rename(cst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old, self.new = old, new

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.Attribute:
        if isinstance(updated_node.value, cst.Name) and updated_node.value.value == self.old:
            return updated_node.with_changes(value=updated_node.value.with_changes(value=self.new))
        return updated_node


@dataclass(frozen=True)
class DictShape:
    var: str
    shape: tuple[tuple[str, str], ...]  # (key, ast dump of the value over ``obj``)
    keys: tuple[str, ...]  # key source text
    values: tuple[str, ...]  # value source text over ``obj``


_EMPTY = cst.Module(body=[])


def dict_shape(node: cst.Dict, table: ImportTable) -> DictShape | None:
    """The normalised shape of ``{"k": v.attr, ...}`` over one variable ``v``, or None."""
    if len(node.elements) < _MIN_KEYS:
        return None
    allowed = {n for n in _BUILTINS if n not in table.aliases and n not in table.module_bindings}
    allowed |= {"None", "True", "False"}
    var: str | None = None
    keys: list[str] = []
    seen_keys: set[str] = set()
    shape: list[tuple[str, str]] = []
    values: list[str] = []
    for element in node.elements:
        if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
            return None
        key = element.key.evaluated_value
        if not isinstance(key, str) or key in seen_keys:
            return None
        seen_keys.add(key)
        uses = _Uses()
        element.value.visit(uses)
        if uses.bad:
            return None
        free = {n for n in uses.names if n not in allowed}
        if len(free) != 1:
            return None
        (name,) = free
        if var is None:
            var = name
        if name != var or uses.names[name] != uses.attr_bases[name]:
            return None
        keys.append(_EMPTY.code_for_node(element.key))
        renamed = element.value.visit(_Rename(var, PLACEHOLDER))
        code = _EMPTY.code_for_node(renamed).strip()
        try:
            parsed = ast.parse(f"({code})", mode="eval")
        except SyntaxError:
            return None
        shape.append((key, ast.dump(parsed.body)))
        values.append(ast.unparse(parsed.body) if "\n" in code or "#" in code else code)
    if var is None:
        return None
    return DictShape(var, tuple(shape), tuple(keys), tuple(values))


def _annotation_class(annotation: cst.BaseExpression, table: ImportTable, classes: set[str],
                      module: str, path: str) -> str | None:
    if isinstance(annotation, cst.SimpleString):
        try:
            annotation = cst.parse_expression(str(annotation.evaluated_value))
        except (cst.ParserSyntaxError, TypeError):
            return None
    if not isinstance(annotation, (cst.Name, cst.Attribute)):
        return None
    if isinstance(annotation, cst.Name) and annotation.value in classes and annotation.value not in table.aliases:
        return f"{module}.{annotation.value}"
    resolved = table.resolve(annotation)
    if resolved is None or resolved.startswith("builtins."):
        return None
    return absolute(resolved, module, path)


def class_hint(var: str, function: cst.FunctionDef | None, table: ImportTable, classes: set[str],
               module: str, path: str) -> str | None:
    if function is None:
        return None
    params = function.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == var and param.annotation is not None:
            return _annotation_class(param.annotation.annotation, table, classes, module, path)
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
    function: str
    occurrence: int  # index among dicts of this shape and variable in this scope
    var: str
    shape: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    values: tuple[str, ...]
    class_hint: str | None
    context: str


# --------------------------------------------------------------------------------------------
# positions from Python's ast (no libcst metadata needed)
# --------------------------------------------------------------------------------------------


class _AstDicts:
    """Source positions of the dict displays, in the order libcst visits them."""

    def __init__(self, tree: ast.Module, text: str) -> None:
        self.lines = text.splitlines()
        dicts = [n for n in ast.walk(tree) if isinstance(n, ast.Dict)]
        self.dicts = sorted(dicts, key=lambda n: (n.lineno, n.col_offset))
        self.stmts = sorted(
            ((n.lineno, n.end_lineno or n.lineno) for n in ast.walk(tree) if isinstance(n, ast.stmt)),
        )

    def _char(self, line: int, byte_col: int) -> int:
        if 1 <= line <= len(self.lines):
            return len(self.lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))
        return byte_col

    def position(self, index: int) -> tuple[int, int, int, int, int] | None:
        if index >= len(self.dicts):
            return None
        node = self.dicts[index]
        line, end_line = node.lineno, node.end_lineno or node.lineno
        stmt_line = line
        best = None
        for start, end in self.stmts:
            if start <= line <= end and (best is None or end - start <= best[1] - best[0]):
                best = (start, end)
        if best is not None:
            stmt_line = best[0]
        return (
            line, self._char(line, node.col_offset) + 1,
            end_line, self._char(end_line, node.end_col_offset or 0) + 1,
            stmt_line,
        )


# --------------------------------------------------------------------------------------------
# the rule
# --------------------------------------------------------------------------------------------


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


class DuplicatedEventSerialization(ProjectRule):
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
    The fix is *unsafe*: it generates one helper (`serialize_<class>` when the variable is
    annotated with a class, else `serialize_<most common variable name>`), or a `to_dict`
    method on the class when it is defined in the project and `prefer-method` is set; replaces
    every copy with a call; and adds absolute imports derived from the package layout. The helper
    goes in `helper-module`, else next to the class, else in the module with the most copies;
    if that would create an import cycle it goes in the module with the most copies or a new
    `<package>/serializers.py`.

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
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        return True  # every file: the project phase needs each module's imports and bindings

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._module = ""
        self._root = ""
        self._classes: set[str] = set()
        self._positions: _AstDicts | None = None
        self._dict_index = -1
        self._occurrences: Counter[tuple[str, tuple[tuple[str, str], ...], str]] = Counter()

    def visit_Module(self, node: cst.Module) -> None:
        fact = module_fact(node, self.ctx.path)
        self._module, self._root = fact.module, fact.root
        self._classes = {c for c, _ in fact.classes}
        self.add_fact(fact)

    def visit_Dict(self, node: cst.Dict) -> None:
        self._dict_index += 1
        if len(node.elements) < max(1, int(self.opts["min-keys"])):
            return
        shape = dict_shape(node, self.ctx.imports)
        if shape is None:
            return
        if self._positions is None:
            tree = self.ctx.tree if self.ctx.tree is not None else ast.parse(self.ctx.module.code)
            self._positions = _AstDicts(tree, self.ctx.module.code)
        position = self._positions.position(self._dict_index)
        if position is None:
            return
        scope = self.ctx.scope_name()
        key = (scope, shape.shape, shape.var)
        occurrence = self._occurrences[key]
        self._occurrences[key] += 1
        function = self.ctx.enclosing_function()
        function_def = function if isinstance(function, cst.FunctionDef) else None
        hint = class_hint(shape.var, function_def, self.ctx.imports, self._classes, self._module, self.ctx.path)
        line, column, end_line, end_column, stmt_line = position
        self.add_fact(
            DictFact(
                path=self.ctx.path, module=self._module, root=self._root, line=line, column=column,
                end_line=end_line, end_column=end_column, stmt_line=stmt_line, scope=scope,
                function=function_def.name.value if function_def else "", occurrence=occurrence,
                var=shape.var, shape=shape.shape, keys=shape.keys, values=shape.values,
                class_hint=hint, context=f"{scope}:{'|'.join(k for k, _ in shape.shape)}",
            )
        )

    # ----------------------------------------------------------------------------------------
    # project phase
    # ----------------------------------------------------------------------------------------

    @classmethod
    def finalize(
        cls, facts: Mapping[str, Sequence[Any]], options: Mapping[str, Any]
    ) -> list[ProjectFinding]:
        modules: dict[str, ModuleFact] = {}
        groups: dict[tuple[tuple[str, str], ...], list[DictFact]] = {}
        for path in sorted(facts):
            for fact in facts[path]:
                if isinstance(fact, ModuleFact):
                    modules[fact.path] = fact
                elif isinstance(fact, DictFact):
                    groups.setdefault(fact.shape, []).append(fact)
        findings: list[ProjectFinding] = []
        for shape in sorted(groups, key=lambda s: (groups[s][0].path, groups[s][0].line)):
            copies = sorted(groups[shape], key=lambda f: (f.path, f.line, f.column))
            if len(copies) < 2:
                continue
            edit = _plan(copies, modules, options)
            for i, copy in enumerate(copies):
                others = ", ".join(
                    f"{display(o.path, copy.root)}:{o.line}" for o in copies if o is not copy
                )
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

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        from wsrefactor.fixes import add_imports, add_module_statements

        if isinstance(payload, DefinePayload):
            return add_module_statements(module, [payload.source])
        if isinstance(payload, MethodPayload):
            return module.visit(_AddMethod(payload.cls, payload.source))
        if isinstance(payload, ReplacePayload):
            replacer = _Replace(payload, ImportTable(module))
            new = module.visit(replacer)
            if replacer.done and payload.import_from:
                new = add_imports(new, [(payload.import_from, payload.call)])
            return new
        return module


# --------------------------------------------------------------------------------------------
# planning the fix
# --------------------------------------------------------------------------------------------


def _graph(modules: Mapping[str, ModuleFact]) -> dict[str, set[str]]:
    known = {m.module for m in modules.values()}
    return {m.module: {i for i in m.imports if i in known and i != m.module} for m in modules.values()}


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


def _resolve_option_path(option: str, modules: Mapping[str, ModuleFact]) -> str:
    """``helper-module`` (relative to the project root) as a path the run knows, if any."""
    candidate = Path(option)
    if candidate.is_absolute():
        return str(candidate)
    roots = [Path.cwd()]
    for fact in modules.values():
        for parent in Path(fact.path).parents:
            if (parent / option).exists() or (parent / "pyproject.toml").is_file():
                roots.append(parent)
    for root in roots:
        full = os.path.abspath(root / option)
        if full in modules:
            return full
    return os.path.abspath(Path.cwd() / option)


def _plan(copies: Sequence[DictFact], modules: Mapping[str, ModuleFact], options: Mapping[str, Any]) -> ProjectEdit | None:
    from wsrefactor.rules.ws305_inline_lua import render

    by_module = Counter(c.path for c in copies)
    if any(p not in modules for p in by_module):
        return None
    graph = _graph(modules)
    by_name = {m.module: m for m in modules.values()}
    hints = {c.class_hint for c in copies if c.class_hint}
    class_qual = hints.pop() if len(hints) == 1 else None
    class_name = class_qual.rpartition(".")[2] if class_qual else None
    class_module = by_name.get(class_qual.rpartition(".")[0]) if class_qual else None
    if class_module is not None and class_name not in {c for c, _ in class_module.classes}:
        class_module = None
    first = copies[0]
    subject = _subject(copies, class_name)
    items = list(zip(first.keys, first.values))

    # the method style: no imports at all, so no cycle is possible
    if options.get("prefer-method") and class_module is not None:
        methods = dict(class_module.classes).get(class_name or "", ())
        if "to_dict" not in methods:
            method = _rebase(items, "self", "ws303_serializer_method.py.jinja2", class_name or "")
            payloads: list[tuple[str, Any]] = [(class_module.path, MethodPayload(class_name or "", method))]
            for path in sorted(by_module):
                payloads.append((path, _replace_payload(copies, path, "", None)))
            return ProjectEdit(FixSafety.UNSAFE, f"generate {class_name}.to_dict() and call it", tuple(payloads))

    most = sorted(by_module, key=lambda p: (-by_module[p], p))[0]

    def cycle_free(helper: str) -> bool:
        """No module that gains ``from helper import ...`` is (transitively) imported by helper."""
        return not any(
            import_cycle(graph, helper, modules[p].module) for p in by_module if modules[p].module != helper
        )

    candidates: list[str] = []  # paths
    option = str(options.get("helper-module") or "")
    new_file: str | None = None
    if option:
        candidates.append(_resolve_option_path(option, modules))
    if class_module is not None:
        candidates.append(class_module.path)
    candidates.append(most)
    chosen: str | None = None
    for path in candidates:
        if path in modules:
            if cycle_free(modules[path].module):
                chosen = path
                break
        elif path.endswith(".py") and not os.path.exists(path):
            chosen = new_file = path  # a new module nobody imports yet: no cycle possible
            break
    if chosen is None:
        folder = os.path.dirname(most)
        stem = "serializers"
        n = 1
        while True:
            target = os.path.join(folder, f"{stem}.py" if n == 1 else f"{stem}_{n}.py")
            if target in modules and cycle_free(modules[target].module):
                chosen = target
                break
            if not os.path.exists(target):
                chosen = new_file = target
                break
            n += 1

    if new_file is not None:
        helper_module = module_name(new_file)[0]
        taken: set[str] = set()
    else:
        helper_module = modules[chosen].module
        taken = set(modules[chosen].names)
    for path in by_module:
        if path != chosen:
            taken |= set(modules[path].names)
    base = _helper_name(copies, class_name)
    name = base
    n = 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    function = render("ws303_serializer_function.py.jinja2", name=name, subject=subject, items=items)
    payloads = []
    new_files: tuple[tuple[str, str], ...] = ()
    if new_file is not None:
        text = render("ws303_serializers_module.py.jinja2", name=name, subject=subject, items=items)
        new_files = ((new_file, text),)
    else:
        payloads.append((chosen, DefinePayload(function.strip())))
    for path in sorted(by_module):
        payloads.append((path, _replace_payload(copies, path, name, None if path == chosen else helper_module)))
    where = display(chosen, first.root)
    return ProjectEdit(
        FixSafety.UNSAFE, f"generate {name}() in {where} and call it for every copy", tuple(payloads), new_files
    )


def _rebase(items: Sequence[tuple[str, str]], var: str, template: str, subject: str) -> str:
    from wsrefactor.rules.ws305_inline_lua import render

    rebased = []
    for key, value in items:
        expr = cst.parse_expression(value).visit(_Rename(PLACEHOLDER, var))
        rebased.append((key, _EMPTY.code_for_node(expr)))
    return render(template, subject=subject, items=rebased).strip()


def _replace_payload(copies: Sequence[DictFact], path: str, call: str, import_from: str | None) -> ReplacePayload:
    mine = [c for c in copies if c.path == path]
    return ReplacePayload(mine[0].shape, tuple((c.scope, c.occurrence, c.var) for c in mine), call, import_from)


# --------------------------------------------------------------------------------------------
# applying the payloads on a fresh parse
# --------------------------------------------------------------------------------------------


class _Scoped(cst.CSTTransformer):
    def __init__(self) -> None:
        super().__init__()
        self.scope: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope.append(node.name.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.scope.pop()
        return updated_node


class _Replace(_Scoped):
    def __init__(self, payload: ReplacePayload, table: ImportTable) -> None:
        super().__init__()
        self.payload = payload
        self.table = table
        self.targets = set(payload.targets)
        self.occurrences: Counter[tuple[str, str]] = Counter()
        self.done = 0

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.scope.pop()
        return updated_node

    def leave_Dict(self, original_node: cst.Dict, updated_node: cst.BaseExpression) -> cst.BaseExpression:
        shape = dict_shape(original_node, self.table)
        if shape is None or shape.shape != self.payload.shape:
            return updated_node
        scope = ".".join(self.scope)
        key = (scope, shape.var)
        occurrence = self.occurrences[key]
        self.occurrences[key] += 1
        if (scope, occurrence, shape.var) not in self.targets:
            return updated_node
        self.done += 1
        if self.payload.call:
            new: cst.BaseExpression = cst.Call(cst.Name(self.payload.call), [cst.Arg(cst.Name(shape.var))])
        else:
            new = cst.Call(cst.Attribute(cst.Name(shape.var), cst.Name("to_dict")))
        return new.with_changes(lpar=original_node.lpar, rpar=original_node.rpar)


class _AddMethod(_Scoped):
    def __init__(self, cls: str, source: str) -> None:
        super().__init__()
        self.cls = cls
        self.source = source

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.scope.pop()
        if self.scope or updated_node.name.value != self.cls or not isinstance(updated_node.body, cst.IndentedBlock):
            return updated_node
        body = list(updated_node.body.body)
        if any(isinstance(s, cst.FunctionDef) and s.name.value == "to_dict" for s in body):
            return updated_node
        method = cst.parse_statement(self.source)
        method = method.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        return updated_node.with_changes(body=updated_node.body.with_changes(body=[*body, method]))
