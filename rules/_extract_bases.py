"""The names of a class's hierarchy across the modules of a project (extract-method, issue 14).

A method helper ``_handle_say`` added to ``Child`` must not override a ``_handle_say`` of a base
class, nor be overridden by a subclass: both change behaviour silently, and no test of the
module that was fixed sees it when the other class lives in another module. So before a
method helper is named, the class's bases are resolved through the module's imports to the
project's own files (``from .protocol import Protocol`` -> ``<package>/protocol.py``), each
base's names (methods, attributes, anything its body mentions) are collected, up the whole
hierarchy; the project's classes that name this class as a base contribute theirs too.

A base outside the project (a third-party or standard-library class) is read the same way
from its source in the installed packages (``sys.path``, found without importing anything),
so ``class Manager(LoggingConfigurable)`` gets plain ``_handle_x`` helpers when traitlets is
installed where wsrefactor runs. When a base cannot be resolved to Python source (not
installed, a C extension, a base computed at run time), its names are unknown:
``hierarchy_names`` answers None and the caller makes the helper class-private (``__name``,
which Python mangles per class) instead.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wsrefactor.semantic.imports import Imports, dotted_name

# bases that define no ``_private`` names a helper could collide with
NEUTRAL_BASES = frozenset({
    "object", "Generic", "Protocol", "ABC", "NamedTuple", "TypedDict", "Exception", "BaseException",
    "dict", "list", "set", "tuple", "str", "int", "bytes", "float", "frozenset",
    "typing.Generic", "typing.Protocol", "typing.NamedTuple", "typing.TypedDict", "abc.ABC",
    "typing_extensions.Protocol", "typing_extensions.TypedDict",
})
MAX_DEPTH = 12  # re-exports and base chains followed at most this deep
MAX_PROJECT_FILES = 3000  # past this the subclass scan is skipped: helpers become class-private


@dataclass
class _Module:
    path: Path
    name: str  # dotted module name ("" when the file is not in a package)
    package: str
    tree: ast.Module
    imports: Imports
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    # (last segment of a base's name, class name, every name of its body) per class deriving from
    # something: computed once per file version (``_derived``), not once per planned method
    derived: list[tuple[str, str, set[str]]] | None = None


_MODULES: dict[Path, tuple[float, _Module | None]] = {}
# root -> (every project file with its mtime, the subclass index built from exactly those)
_INDEXES: dict[Path, tuple[tuple[tuple[Path, float], ...], dict[str, list[tuple[str, set[str]]]]]] = {}


def package_root(path: Path) -> tuple[Path, str]:
    """(the directory imports start from, the file's dotted module name): up while ``__init__.py``."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def _load(path: Path) -> _Module | None:
    try:
        path = path.resolve()
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _MODULES.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    module: _Module | None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        module = None
    else:
        _root, name = package_root(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        module = _Module(path, name, package, tree, Imports(tree))
        module.classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    _MODULES[path] = (mtime, module)
    return module


def _module_file(root: Path, dotted: str) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _class_names(cls: ast.ClassDef) -> set[str]:
    """Every name a class body defines or mentions (methods, attributes, ``self.x``)."""
    names: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


class _Unresolved(Exception):
    """A base whose names cannot be known (not a class of the project's files)."""


def _find_class(module: _Module, name: str, root: Path, depth: int) -> tuple[_Module, ast.ClassDef]:
    """The class ``name`` as ``module`` sees it: defined there, or imported from a project file."""
    if depth > MAX_DEPTH:
        raise _Unresolved(name)
    head, _, rest = name.partition(".")
    if not rest and head in module.classes:
        return module, module.classes[head]
    qualified = module.imports.aliases.get(head)
    if qualified is None:
        return _from_star_imports(module, name, root, depth)
    full = Imports.absolute(f"{qualified}.{rest}" if rest else qualified, module.package)
    return _find_qualified(full, root, depth + 1)


def _from_star_imports(module: _Module, name: str, root: Path, depth: int) -> tuple[_Module, ast.ClassDef]:
    """``name`` re-exported by ``from .configurable import *`` (a package's ``__init__``)."""
    for star in module.imports.star_imports:
        try:
            return _find_qualified(f"{Imports.absolute(star, module.package)}.{name}", root, depth + 1)
        except _Unresolved:
            continue
    raise _Unresolved(name)


def _installed_file(dotted: str) -> Path | None:
    """The source file of an installed module (``traitlets.config.configurable``), found the way
    ``import`` would find it on ``sys.path`` but without running any package's code."""
    search: list[str] | None = list(sys.path)
    origin: str | None = None
    for part in dotted.split("."):
        if search is None:
            return None
        try:
            spec = importlib.machinery.PathFinder.find_spec(part, search)
        except (ImportError, ValueError, OSError):
            return None
        if spec is None:
            return None
        locations = spec.submodule_search_locations
        search = list(locations) if locations is not None else None
        origin = spec.origin
    if origin is None or not origin.endswith(".py"):
        return None
    return Path(origin)


def _find_qualified(full: str, root: Path, depth: int) -> tuple[_Module, ast.ClassDef]:
    """``pkg.mod.Class`` in the project under ``root`` (following re-exports such as a package's
    ``from .mod import Class``)."""
    mod_name, _, cls_name = full.rpartition(".")
    path = (_module_file(root, mod_name) or _installed_file(mod_name)) if mod_name else None
    target = _load(path) if path is not None else None
    if target is None:
        raise _Unresolved(full)
    return _find_class(target, cls_name, root, depth)


def _bases(module: _Module, cls: ast.ClassDef) -> Iterator[str]:
    for base in cls.bases:
        if isinstance(base, ast.Subscript):
            base = base.value
        name = dotted_name(base)
        if name is None:
            raise _Unresolved(ast.dump(base))
        resolved = module.imports.resolve(base) or name  # ``asyncio.Protocol`` is not ``typing.Protocol``
        if resolved in NEUTRAL_BASES or resolved.startswith("builtins."):
            continue
        yield name


def _ancestor_names(module: _Module, cls: ast.ClassDef, root: Path, seen: set[int], depth: int = 0) -> set[str]:
    names: set[str] = set()
    for base in _bases(module, cls):
        owner, found = _find_class(module, base, root, depth)
        if id(found) in seen:
            continue
        seen.add(id(found))
        names |= _class_names(found) | _ancestor_names(owner, found, root, seen, depth + 1)
    return names


def _project_files(root: Path) -> list[Path] | None:
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
        files.extend(Path(folder) / n for n in names if n.endswith(".py"))
        if len(files) > MAX_PROJECT_FILES:
            return None
    return files


def _subclass_index(root: Path) -> dict[str, list[tuple[str, set[str]]]] | None:
    """Last segment of a base's name -> (name, every name of the body) of each class deriving
    from it in the project (a superset: unrelated classes with a same-named base add names,
    never remove any). Files are re-read when they change (a fix run writes them): the index is
    rebuilt only when a file was added, removed or modified since the last call for ``root``
    (every method of a run asks; walking every class of the project each time was quadratic)."""
    files = _project_files(root)
    if files is None:
        return None
    stamps = tuple((path, _mtime(path)) for path in files)
    cached = _INDEXES.get(root)
    if cached is not None and cached[0] == stamps:
        return cached[1]
    index: dict[str, list[tuple[str, set[str]]]] = {}
    for path in files:
        module = _load(path)
        if module is None:
            continue
        for base, name, names in _derived(module):
            index.setdefault(base, []).append((name, names))
    _INDEXES[root] = (stamps, index)
    return index


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _derived(module: _Module) -> list[tuple[str, str, set[str]]]:
    """(base's last segment, class name, body names) for each base of each class of ``module``."""
    if module.derived is None:
        module.derived = []
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for base in node.bases:
                name = dotted_name(base.value if isinstance(base, ast.Subscript) else base)
                if name:
                    module.derived.append((name.rpartition(".")[2], node.name, _class_names(node)))
    return module.derived


def hierarchy_names(path: str, tree: ast.Module, class_name: str) -> frozenset[str] | None:
    """Names of every project class above and below the top-level class ``class_name`` of
    ``tree`` (the module being fixed, at ``path``; its own names are the caller's business).
    None when part of the hierarchy cannot be seen: a base outside the project, a file that
    does not parse, a project too large to scan for subclasses. A buffer whose path is not a
    file (stdin, tests) has no project: only bases of its own module resolve."""
    file = Path(path)
    on_disk = file.is_file()
    root, module = _module_of(file, tree, on_disk)
    if class_name not in module.classes:
        return None
    try:
        names = _ancestor_names(module, module.classes[class_name], root, set())
    except (_Unresolved, RecursionError):
        return None
    if not on_disk:
        return frozenset(names)
    below = _subclass_index(root)
    return None if below is None else frozenset(names | _subclass_names(below, class_name))


def _module_of(file: Path, tree: ast.Module, on_disk: bool) -> tuple[Path, _Module]:
    """(the project root imports start from, the module being fixed, from its current text)."""
    root, name = package_root(file.resolve()) if on_disk else (Path("/nonexistent"), file.stem)
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    module = _Module(file, name, package, tree, Imports(tree))
    module.classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    return root, module


def _subclass_names(below: dict[str, list[tuple[str, set[str]]]], class_name: str) -> set[str]:
    """Names of the subclasses of ``class_name``, and of theirs, anywhere in the project."""
    names: set[str] = set()
    todo, done = [class_name], set()
    while todo:
        current = todo.pop()
        if current in done:
            continue
        done.add(current)
        for sub, sub_names in below.get(current, ()):
            names |= sub_names
            todo.append(sub)
    return names
