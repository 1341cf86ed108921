"""The project's modules as cross-file rules see them: names, imports, bindings, the import graph.

Project rules (WS303, WS304; see ``ProjectRule`` in ``wsrefactor/rule.py``) record one
``ModuleFact`` per file in the workers and decide across files in the project phase. Where a
generated helper may go (which module may import which without a new dependency or a cycle) is
read from the ``ImportGraph`` built from those facts. This lives here, not in a rule module, so no
rule imports another (issue #11 item 3).

Module facts come from Python's ``ast`` through the engine-owned analyses (``analyses(ModuleFact)``
is computed once per file however many project rules ask): statements only, never expressions.
"""

from __future__ import annotations

import ast
import functools
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.imports import Imports

# --------------------------------------------------------------------------------------------
# package layout
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
    return Imports.absolute(name, package_of(module, path))


def _prefixes(dotted: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a submodule runs its packages too."""
    parts = dotted.split(".")
    if not parts[0]:
        return []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


# --------------------------------------------------------------------------------------------
# what a module imports when it is imported
# --------------------------------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _line_bytes(analyses: Analyses, lineno: int) -> bytes:
    """A line as ``ast`` columns count it (UTF-8 bytes)."""
    return analyses.line(lineno).encode("utf-8", "surrogatepass")


def _is_elif(analyses: Analyses, node: ast.If) -> bool:
    """An ``elif`` (not an ``if`` alone in an ``else:`` block): ``ast`` spells both alike."""
    return _line_bytes(analyses, node.lineno)[node.col_offset :].startswith(b"elif")


def _is_suite(analyses: Analyses, block: Sequence[ast.stmt]) -> bool:
    """A block written on its header's line (``try: import a``), libcst's ``SimpleStatementSuite``.
    Module imports have never been read from such blocks (kept so)."""
    return bool(block) and bool(_line_bytes(analyses, block[0].lineno)[: block[0].col_offset].strip())


def _if_blocks(analyses: Analyses, stmt: ast.If) -> list[Sequence[ast.stmt]]:
    """The bodies of an ``if`` and of its ``elif``/``else`` chain; none under ``if TYPE_CHECKING``."""
    if _is_type_checking(stmt.test):
        return []
    blocks: list[Sequence[ast.stmt]] = [stmt.body]
    orelse = stmt.orelse
    while orelse:
        nested = orelse[0]
        if len(orelse) == 1 and isinstance(nested, ast.If) and _is_elif(analyses, nested):
            blocks.append(nested.body)
            orelse = nested.orelse
        else:
            blocks.append(orelse)
            break
    return blocks


def _import_blocks(analyses: Analyses, stmt: ast.stmt) -> list[Sequence[ast.stmt]]:
    """Blocks that run when the module is imported: those of ``if`` and ``try`` (not of defs)."""
    if isinstance(stmt, ast.If):
        return _if_blocks(analyses, stmt)
    if isinstance(stmt, ast.Try):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    return []


def _import_targets(stmt: ast.stmt, name: str, path: str) -> list[str]:
    """The dotted names one ``import`` / ``from ... import`` statement may run (else none).
    ``from .a import b`` runs the package ``a`` (absolute) and ``a.b``, which may be a submodule."""
    if isinstance(stmt, ast.Import):
        return [d for alias in stmt.names for d in _prefixes(alias.name)]
    return _from_import_targets(stmt, name, path) if isinstance(stmt, ast.ImportFrom) else []


def _from_import_targets(stmt: ast.ImportFrom, name: str, path: str) -> list[str]:
    base = absolute("." * (stmt.level or 0) + (stmt.module or ""), name, path)
    out = _prefixes(base) if base else []
    for alias in stmt.names:
        if alias.name != "*":
            out.extend(_prefixes(f"{base}.{alias.name}" if base else alias.name))
    return out


def _block_imports(analyses: Analyses, body: Sequence[ast.stmt], name: str) -> Iterator[str]:
    """Import targets of a block and of the blocks nested in it, in source order."""
    for stmt in body:
        yield from _import_targets(stmt, name, analyses.path)
        for block in _import_blocks(analyses, stmt):
            if not _is_suite(analyses, block):
                yield from _block_imports(analyses, block, name)


def module_imports(analyses: Analyses, name: str) -> tuple[str, ...]:
    """Dotted names a module imports when it is itself imported (module level, not TYPE_CHECKING).

    Every prefix is listed (``import a.b`` runs ``a`` too); ``from a import b`` lists ``a`` and
    ``a.b`` (which may be a submodule). The project phase keeps those that are project modules.
    """
    return tuple(dict.fromkeys(d for d in _block_imports(analyses, analyses.tree.body, name) if d))


def top_level_names(imports: Imports) -> tuple[str, ...]:
    """Names a generated helper must not take: every imported name, and what the module level
    binds otherwise (defs, classes, assignments, also under ``if``/``try``/``with``)."""
    return tuple(sorted(set(imports.meanings) | imports.module_bindings))


# --------------------------------------------------------------------------------------------
# the fact every file records, and the graph built from all of them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleFact:
    """What the project phase must know about every file: its name, imports and bindings.

    Also an engine analysis: ``analyses(ModuleFact)`` computes it once per file for every
    project rule that records it.
    """

    path: str
    module: str
    root: str  # the directory the top package is imported from
    imports: tuple[str, ...]
    names: tuple[str, ...]  # top-level bindings (defs, classes, assignments, imports)
    classes: tuple[tuple[str, tuple[str, ...]], ...]  # top-level class -> its method names

    @classmethod
    def compute(cls, analyses: Analyses) -> ModuleFact:
        name, root = module_name(analyses.path)
        classes = tuple(
            (stmt.name, tuple(s.name for s in stmt.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))))
            for stmt in analyses.tree.body
            if isinstance(stmt, ast.ClassDef)
        )
        names = top_level_names(analyses(Imports))
        return cls(analyses.path, name, root, module_imports(analyses, name), names, classes)


def modules_by_path(facts: Mapping[str, Sequence[object]]) -> dict[str, ModuleFact]:
    """Every file's ``ModuleFact`` among a project rule's facts, by path."""
    return {f.path: f for path in sorted(facts) for f in facts[path] if isinstance(f, ModuleFact)}


class ImportGraph:
    """The project's import graph, built once per ``finalize``; each module's transitive imports
    are computed once and reused by every group (a DFS per copy per group made the project phase
    quadratic in files and in copies)."""

    def __init__(self, modules: Mapping[str, ModuleFact]) -> None:
        known = {m.module for m in modules.values()}
        self.edges: dict[str, set[str]] = {
            m.module: {i for i in m.imports if i in known and i != m.module} for m in modules.values()
        }
        self._closures: dict[str, frozenset[str]] = {}

    def imports_directly(self, importer: str, imported: str) -> bool:
        """Whether module ``importer`` imports ``imported`` itself (at module level)."""
        return imported in self.edges.get(importer, ())

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


def resolve_option_path(option: str, modules: Mapping[str, ModuleFact]) -> str:
    """A ``helper-module`` option (relative to the project root) as a path the run knows, if any."""
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


# --------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------

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
