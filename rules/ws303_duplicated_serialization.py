"""WS303 duplicated-event-serialization: the same object -> dict literal written out in several places."""

from __future__ import annotations

import ast
import builtins
import functools
import itertools
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
from wsrefactor.rule import (
    FileContext,
    Invalid,
    Option,
    ProjectEdit,
    ProjectFinding,
    ProjectRule,
    Valid,
)
from wsrefactor.rules._prefilter import index, per_tree
from wsrefactor.walk import visit

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


def _prefixes(dotted: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a submodule runs its packages too."""
    parts = dotted.split(".")
    if not parts[0]:
        return []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


# Module facts come from Python's ``ast`` (``ast_facts``, recorded for every file): statements
# only, never expressions, so they cost a fraction of the parse and no file needs libcst for them.


class _Lines:
    """The file's lines as ``ast`` numbers them (UTF-8 bytes), split only when first asked."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[bytes] | None = None

    def _line(self, lineno: int) -> bytes:
        if self._lines is None:
            self._lines = [ln.encode("utf-8", "surrogatepass") for ln in re.split(r"\r\n|\r|\n", self.text)]
        return self._lines[lineno - 1] if 1 <= lineno <= len(self._lines) else b""

    def is_elif(self, node: ast.If) -> bool:
        """An ``elif`` (not an ``if`` alone in an ``else:`` block): ``ast`` spells both alike."""
        return self._line(node.lineno)[node.col_offset:].startswith(b"elif")

    def is_suite(self, block: Sequence[ast.stmt]) -> bool:
        """A block written on its header's line (``try: import a``), which libcst calls a
        ``SimpleStatementSuite``. Module imports have never been read from such blocks (kept so)."""
        return bool(block) and bool(self._line(block[0].lineno)[: block[0].col_offset].strip())


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _from_import_targets(stmt: ast.ImportFrom, name: str, path: str) -> list[str]:
    """``from .a import b``: the package ``a`` (absolute) and ``a.b``, which may be a submodule."""
    base = absolute("." * (stmt.level or 0) + (stmt.module or ""), name, path)
    out = _prefixes(base) if base else []
    for alias in stmt.names:
        if alias.name != "*":
            out.extend(_prefixes(f"{base}.{alias.name}" if base else alias.name))
    return out


def _import_targets(stmt: ast.stmt, name: str, path: str) -> list[str]:
    """The dotted names one ``import`` / ``from ... import`` statement may run (else none)."""
    if isinstance(stmt, ast.Import):
        return [d for alias in stmt.names for d in _prefixes(alias.name)]
    if isinstance(stmt, ast.ImportFrom):
        return _from_import_targets(stmt, name, path)
    return []


def _if_blocks(stmt: ast.If, lines: _Lines) -> list[Sequence[ast.stmt]]:
    """The bodies of an ``if`` and of its ``elif``/``else`` chain; none under ``if TYPE_CHECKING``."""
    if _is_type_checking(stmt.test):
        return []
    blocks: list[Sequence[ast.stmt]] = [stmt.body]
    orelse = stmt.orelse
    while orelse:
        nested = orelse[0]
        if len(orelse) == 1 and isinstance(nested, ast.If) and lines.is_elif(nested):
            blocks.append(nested.body)
            orelse = nested.orelse
        else:
            blocks.append(orelse)
            break
    return blocks


def _nested_blocks(stmt: ast.stmt, lines: _Lines) -> list[Sequence[ast.stmt]]:
    """Blocks that run when the module is imported: those of ``if`` and ``try`` (not of defs)."""
    if isinstance(stmt, ast.If):
        return _if_blocks(stmt, lines)
    if isinstance(stmt, ast.Try):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    return []


def _block_imports(body: Sequence[ast.stmt], name: str, path: str, lines: _Lines) -> list[str]:
    """Import targets of a block and of the blocks nested in it, in source order."""
    out: list[str] = []
    for stmt in body:
        out.extend(_import_targets(stmt, name, path))
        for block in _nested_blocks(stmt, lines):
            if not lines.is_suite(block):
                out.extend(_block_imports(block, name, path, lines))
    return out


def module_imports(tree: ast.Module, text: str, name: str, path: str) -> tuple[str, ...]:
    """Dotted names a module imports when it is itself imported (module level, not TYPE_CHECKING).

    Every prefix is listed (``import a.b`` runs ``a`` too); ``from a import b`` lists ``a`` and
    ``a.b`` (which may be a submodule). The project phase keeps those that are project modules.
    """
    return tuple(dict.fromkeys(d for d in _block_imports(tree.body, name, path, _Lines(text)) if d))


def _child_blocks(stmt: ast.stmt) -> list[Sequence[ast.stmt]]:
    """Every statement block of a compound statement (bodies, ``else``, handlers, cases)."""
    blocks: list[Sequence[ast.stmt]] = [getattr(stmt, "body", []), getattr(stmt, "orelse", []),
                                        getattr(stmt, "finalbody", [])]
    blocks.extend(h.body for h in getattr(stmt, "handlers", ()))
    blocks.extend(c.body for c in getattr(stmt, "cases", ()))
    return blocks


def _imported_names(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    """The local names an import binds (as ``ImportTable`` keys them)."""
    if isinstance(stmt, ast.Import):
        return [alias.asname or alias.name.split(".")[0] for alias in stmt.names]
    return [alias.asname or alias.name for alias in stmt.names if alias.name != "*"]


def _assigned_names(stmt: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _collect_names(body: Sequence[ast.stmt], top: bool, names: set[str]) -> None:
    """What ``ImportTable`` binds: imports anywhere; defs, classes and plain assignments at module level."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update(_imported_names(stmt))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if top:
                names.add(stmt.name)
            _collect_names(stmt.body, False, names)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            if top:
                names.update(_assigned_names(stmt))
        else:
            for block in _child_blocks(stmt):
                _collect_names(block, top, names)


def top_level_names(tree: ast.Module) -> tuple[str, ...]:
    names: set[str] = set()
    _collect_names(tree.body, True, names)
    return tuple(sorted(names))


class ImportGraph:
    """The project's import graph, built once per ``finalize``; each module's transitive imports
    are computed once and reused by every group (a DFS per copy per group made the project phase
    quadratic in files and in copies)."""

    def __init__(self, modules: Mapping[str, ModuleFact]) -> None:
        self.edges = _graph(modules)
        self._closures: dict[str, frozenset[str]] = {}

    def closure(self, start: str) -> frozenset[str]:
        """``start`` and every module it imports, transitively."""
        found = self._closures.get(start)
        if found is None:
            seen = {start}
            stack = [start]
            while stack:
                for nxt in self.edges.get(stack.pop(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            found = self._closures[start] = frozenset(seen)
        return found

    def imports_any(self, start: str, targets: Iterable[str]) -> bool:
        """Whether ``start`` (transitively) imports one of ``targets`` (itself included)."""
        reach = self.closure(start)
        return any(t in reach for t in targets)


@dataclass(frozen=True)
class ModuleFact:
    """What the project phase must know about every file: its name, imports and bindings."""

    path: str
    module: str
    root: str  # the directory the top package is imported from
    imports: tuple[str, ...]
    names: tuple[str, ...]  # top-level bindings (defs, classes, assignments, imports)
    classes: tuple[tuple[str, tuple[str, ...]], ...]  # top-level class -> its method names


def module_fact(tree: ast.Module, text: str, path: str) -> ModuleFact:
    """The file's ``ModuleFact``, from Python's ``ast`` (every file gets one, via ``ast_facts``)."""
    name, root = module_name(path)
    classes = tuple(
        (stmt.name, tuple(s.name for s in stmt.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))))
        for stmt in tree.body
        if isinstance(stmt, ast.ClassDef)
    )
    return ModuleFact(path, name, root, module_imports(tree, text, name, path), top_level_names(tree), classes)


SHOWN_PLACES = 5


def places(items: Iterable[str], total: int) -> str:
    """``a, b, c`` — the first ``SHOWN_PLACES`` of ``total``, then how many more (a message that
    lists a hundred copies helps nobody, and costs a path computation per copy per copy)."""
    shown = list(itertools.islice(items, SHOWN_PLACES))
    rest = total - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest > 0 else "")


@functools.lru_cache(maxsize=4096)
def display(path: str, root: str) -> str:
    """``path`` relative to ``root`` for messages (asked for every fact of every file)."""
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
        visit(node.value, self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        if node.star:
            self.bad = True
        visit(node.value, self)
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


@dataclass(frozen=True)
class _Entry:
    """One ``"key": value`` of a candidate dict, its value rewritten over ``obj``."""

    var: str
    key: str
    key_code: str
    dump: str  # ast dump of the value over ``obj``: equal dumps mean equal values
    value_code: str


def _allowed_names(table: ImportTable) -> set[str]:
    """Names a value may use besides its variable: the builtins the module does not shadow."""
    allowed = {n for n in _BUILTINS if n not in table.aliases and n not in table.module_bindings}
    return allowed | {"None", "True", "False"}


def _value_var(value: cst.BaseExpression, allowed: set[str]) -> str | None:
    """The one variable a value reads, provided it only reads it as ``var.attr``."""
    uses = _Uses()
    visit(value, uses)
    if uses.bad:
        return None
    free = {n for n in uses.names if n not in allowed}
    if len(free) != 1:
        return None
    (name,) = free
    return name if uses.names[name] == uses.attr_bases[name] else None


def _over_placeholder(value: cst.BaseExpression, var: str) -> tuple[str, str] | None:
    """``(ast dump, source)`` of the value with ``var`` renamed to ``obj``; None if it will not parse."""
    renamed = value.visit(_Rename(var, PLACEHOLDER))
    code = _EMPTY.code_for_node(renamed).strip()
    try:
        parsed = ast.parse(f"({code})", mode="eval")
    except SyntaxError:
        return None
    # multi-line or commented values are normalised so the generated helper stays one clean line
    source = ast.unparse(parsed.body) if "\n" in code or "#" in code else code
    return ast.dump(parsed.body), source


def _entry(element: cst.BaseDictElement, allowed: set[str]) -> _Entry | None:
    """The element as an ``_Entry``, or None unless it is ``"str key": <attributes of one variable>``."""
    if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
        return None
    key = element.key.evaluated_value
    if not isinstance(key, str):
        return None
    var = _value_var(element.value, allowed)
    if var is None:
        return None
    normalised = _over_placeholder(element.value, var)
    if normalised is None:
        return None
    return _Entry(var, key, _EMPTY.code_for_node(element.key), *normalised)


_CONSTANT_VALUE = re.compile(rf"{PLACEHOLDER}\.[A-Z][A-Z0-9_]*")


def _lookup_table(entries: Sequence[_Entry], table: ImportTable) -> bool:
    """A constant lookup table, not the serialization of an object: the values are members of an
    imported name or a module-level class (``{"socks5": ProxyType.SOCKS5}``), or all constants."""
    var = entries[0].var
    if var in table.aliases or (var in table.module_bindings and var[:1].isupper()):
        return True
    return all(_CONSTANT_VALUE.fullmatch(e.value_code) for e in entries)


def _entries(node: cst.Dict, table: ImportTable) -> list[_Entry] | None:
    """Every element as an ``_Entry`` over one and the same variable, keys distinct; else None."""
    allowed = _allowed_names(table)
    entries: list[_Entry] = []
    seen_keys: set[str] = set()
    for element in node.elements:
        entry = _entry(element, allowed)
        if entry is None or entry.key in seen_keys or entry.var != (entries[0].var if entries else entry.var):
            return None
        seen_keys.add(entry.key)
        entries.append(entry)
    return entries


def dict_shape(node: cst.Dict, table: ImportTable) -> DictShape | None:
    """The normalised shape of ``{"k": v.attr, ...}`` over one variable ``v``, or None."""
    if len(node.elements) < _MIN_KEYS:
        return None
    entries = _entries(node, table)
    if entries is None or _lookup_table(entries, table):
        return None
    return DictShape(
        entries[0].var,
        tuple((e.key, e.dump) for e in entries),
        tuple(e.key_code for e in entries),
        tuple(e.value_code for e in entries),
    )


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


# The values ``dict_shape`` rejects whatever they read (libcst's ``_Uses`` marks them bad).
_AST_BAD = (
    ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr,
    ast.Await, ast.Yield, ast.YieldFrom, ast.JoinedStr,
)


def _ast_value_vars(value: ast.expr) -> set[str]:
    """Names ``dict_shape`` could take as the value's variable: read as ``name.attr``, and the
    value's only non-builtin name if it has one. Empty when libcst's test must fail."""
    bases: set[str] = set()
    free: set[str] = set()
    for node in ast.walk(value):
        if isinstance(node, _AST_BAD):
            return set()
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            bases.add(node.value.id)
        elif isinstance(node, ast.Name) and node.id not in _BUILTINS:
            free.add(node.id)
    if len(free) > 1:
        return set()
    return bases & free if free else bases


def _ast_candidate(node: ast.Dict, min_keys: int) -> bool:
    """A dict ``dict_shape`` may accept (a superset): enough distinct string keys, and one
    variable every value reads attributes of."""
    if len(node.keys) < min_keys:
        return False
    keys = [k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None for k in node.keys]
    if None in keys or len(set(keys)) != len(keys):
        return False
    common: set[str] | None = None
    for value in node.values:
        found = _ast_value_vars(value)
        common = found if common is None else common & found
        if not common:
            return False
    return True


def _min_keys(options: Mapping[str, Any]) -> int:
    """The fewest elements a dict needs to be compared (``min-keys``, never below three)."""
    try:
        return max(_MIN_KEYS, int(options.get("min-keys", _MIN_KEYS)))
    except (TypeError, ValueError):
        return _MIN_KEYS



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
    members of an imported name or of a module-level class (`{"socks5": ProxyType.SOCKS5, ...}`),
    or all `UPPER_CASE` attributes.

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
    def ast_facts(cls, tree: ast.Module, text: str, path: str) -> list[Any]:
        """Every file's ``ModuleFact``: the project phase needs every module's imports (a cycle may
        run through modules without a candidate) and bindings (the helper's home may be any module)."""
        return [per_tree(module_fact, tree, text, path)]

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """Only files with a dict ``dict_shape`` may accept reach libcst (judged from the ``ast``)."""
        if tree is None:
            return True
        min_keys = _min_keys(options)
        return any(_ast_candidate(node, min_keys) for node in index(tree).nodes(ast.Dict))

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._module = ""
        self._root = ""
        self._classes: set[str] = set()
        self._positions: _AstDicts | None = None
        self._dict_index = -1
        self._occurrences: Counter[tuple[str, tuple[tuple[str, str], ...], str]] = Counter()

    def visit_Module(self, node: cst.Module) -> None:
        # the ModuleFact comes from ``ast_facts``; the visit records the candidate dicts only
        self._module, self._root = module_name(self.ctx.path)
        self._classes = {s.name.value for s in node.body if isinstance(s, cst.ClassDef)}

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
        modules, groups = _collect(facts)
        project = _Project(modules, options)
        findings: list[ProjectFinding] = []
        for shape in sorted(groups, key=lambda s: (groups[s][0].path, groups[s][0].line)):
            copies = sorted(groups[shape], key=lambda f: (f.path, f.line, f.column))
            if len(copies) >= 2:
                findings.extend(_copy_findings(copies, _plan(copies, project)))
        return findings

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        from wsrefactor.fixes import add_imports, add_module_statements

        if isinstance(payload, DefinePayload):
            return add_module_statements(module, [payload.source], path)
        if isinstance(payload, MethodPayload):
            return module.visit(_AddMethod(payload.cls, payload.source))
        if isinstance(payload, ReplacePayload):
            replacer = _Replace(payload, ImportTable(module))
            new = module.visit(replacer)
            if replacer.done and payload.import_from:
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
    modules: dict[str, ModuleFact] = {}
    groups: dict[tuple[tuple[str, str], ...], list[DictFact]] = {}
    for path in sorted(facts):
        for fact in facts[path]:
            if isinstance(fact, ModuleFact):
                modules[fact.path] = fact
            elif isinstance(fact, DictFact):
                groups.setdefault(fact.shape, []).append(fact)
    return modules, groups


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


class _Project:
    """What every group's plan reads about the project, computed once per ``finalize``: the
    modules by path and by dotted name, the import graph, ``helper-module`` resolved."""

    def __init__(self, modules: Mapping[str, ModuleFact], options: Mapping[str, Any]) -> None:
        self.modules = modules
        self.options = options
        self.graph = ImportGraph(modules)
        self.by_name = {m.module: m for m in modules.values()}
        option = str(options.get("helper-module") or "")
        self.helper_path = _resolve_option_path(option, modules) if option else ""


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
        return all(home in self.graph.edges.get(self.modules[p].module, ()) for p in self.by_module if p != path)

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


def _free_name(group: _Group, home: _Home, base: str) -> str:
    """``base`` or ``base_2``...: no name bound in the home module or in a module that imports it."""
    taken: set[str] = set() if home.new else set(group.modules[home.path].names)
    for path in group.by_module:
        if path != home.path:
            taken |= set(group.modules[path].names)
    name = base
    n = 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    return name


def _function_edit(group: _Group, home: _Home, name: str, subject: str, items: Sequence[tuple[str, str]]) -> ProjectEdit:
    """The helper function (in a new module or an existing one) and a call of it for every copy."""
    from wsrefactor.codegen import render

    payloads: list[tuple[str, Any]] = []
    new_files: tuple[tuple[str, str], ...] = ()
    if home.new:
        helper_module = module_name(home.path)[0]
        text = render("ws303_serializers_module.py.jinja2", name=name, subject=subject, items=items)
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
    items = list(zip(copies[0].keys, copies[0].values))
    if project.options.get("prefer-method") and class_module is not None and class_name is not None:
        edit = _method_edit(group, class_name, class_module, items)
        if edit is not None:
            return edit
    home = _first_home(group, _home_candidates(group, project.helper_path, class_module)) or _serializers_home(group)
    name = _free_name(group, home, _helper_name(copies, class_name))
    return _function_edit(group, home, name, _subject(copies, class_name), items)


def _rebase(items: Sequence[tuple[str, str]], var: str, template: str, subject: str) -> str:
    from wsrefactor.codegen import render

    rebased = []
    for key, value in items:
        expr = cst.parse_expression(value).visit(_Rename(PLACEHOLDER, var))
        rebased.append((key, _EMPTY.code_for_node(expr)))
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
