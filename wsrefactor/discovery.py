"""Which files a run looks at: walk the given paths, honour excludes and ``.gitignore``.

Globs use gitignore semantics (``build/``, ``fixtures/**``, ``*_pb2.py``) relative to the
directory of the config that governs the file (the nearest one above it, see
``wsrefactor.config.ConfigLookup``). A path named explicitly is analysed even if git ignores it,
but the config's ``exclude`` and generated-file globs still apply (pre-commit passes staged files
one by one and expects the config to hold).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pathspec

from wsrefactor.config import DEFAULT_EXCLUDE, Config, ConfigLookup


def glob_matcher(patterns: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(patterns))


@lru_cache(maxsize=64)
def _exclude_matcher(patterns: tuple[str, ...]) -> pathspec.PathSpec:
    return glob_matcher([*DEFAULT_EXCLUDE, *patterns])


def exclude_patterns(config: Config) -> tuple[str, ...]:
    """What a config keeps out of every run: ``exclude``, ``extend-exclude`` and, unless
    ``include-generated``, the ``generated-files`` globs."""
    generated = () if config.include_generated else config.generated_files
    return (*config.exclude, *config.extend_exclude, *generated)


_GENERATED = re.compile(r"@generated|do not edit", re.IGNORECASE)
_HEADER_LINES = 40
_DOCSTRING_START = re.compile(r"""^[rRuUbB]{0,2}(\"\"\"|'''|"|')""")


def generated_header(text: str) -> bool:
    """The file says it is generated: ``@generated`` or "DO NOT EDIT" in its header (the leading
    comments and the module docstring, within the first lines), as protoc, grpc, Thrift and most
    code generators write it. Text further down (a string that mentions it) does not count."""
    quote: str | None = None  # set while inside the module docstring
    for line in text.splitlines()[:_HEADER_LINES]:
        stripped = line.strip()
        in_header, quote = _header_line(stripped, quote)
        if not in_header:
            return False  # the first statement: the header is over
        if _GENERATED.search(stripped):
            return True
    return False


def _header_line(stripped: str, quote: str | None) -> tuple[bool, str | None]:
    """Whether a line still belongs to the header, and the docstring quote open after it."""
    if quote is not None:
        return True, None if quote in stripped else quote
    if not stripped or stripped.startswith("#"):
        return True, None
    m = _DOCSTRING_START.match(stripped)
    if m is None:
        return False, None
    return True, None if m.group(1) in stripped[m.end():] else m.group(1)


@dataclass
class Discovery:
    files: list[str]
    missing: list[str]  # named paths that do not exist


def _rel(path: Path, root: Path) -> str | None:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _any_pattern(spec: pathspec.PathSpec) -> re.Pattern[str] | None:
    """One regular expression matching a path when any of ``spec``'s patterns does: a path it
    does not match (most source files, against a long ``.gitignore``) is not ignored, decided in
    one scan instead of one match per pattern. ``spec.match_file`` still decides every path it
    matches (negations, directory rules). None when the patterns cannot be combined."""
    parts = []
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if getattr(pattern, "include", None) is None:
            continue  # a comment or blank line
        if not isinstance(regex, re.Pattern) or regex.flags != re.compile("").flags or "(?P=" in regex.pattern:
            return None
        parts.append(f"(?:{_NAMED_GROUP.sub('(?:', regex.pattern)})")
    try:
        return re.compile("|".join(parts)) if parts else None
    except re.error:
        return None


class _GitIgnores:
    """``.gitignore`` files from the repository root down to each walked directory."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._cache: dict[Path, pathspec.PathSpec | None] = {}
        self._chains: dict[tuple[Path, Path], tuple[tuple[Path, pathspec.PathSpec], ...]] = {}
        self._screens: dict[int, re.Pattern[str] | None] = {}

    def _spec(self, directory: Path) -> pathspec.PathSpec | None:
        if directory not in self._cache:
            file = directory / ".gitignore"
            spec = None
            if file.is_file():
                try:
                    spec = glob_matcher(file.read_text(encoding="utf-8", errors="replace").splitlines())
                except OSError:
                    spec = None
            self._cache[directory] = spec
        return self._cache[directory]

    def ignored(self, path: Path, is_dir: bool, top: Path) -> bool:
        """Ignored by a ``.gitignore`` at or below ``top`` (the directory named on the command
        line: what is above it does not hide what the user asked for)."""
        if not self.enabled:
            return False
        suffix = "/" if is_dir else ""
        for directory, spec in self._chain(path.parent, top):
            rel = path.relative_to(directory).as_posix() + suffix
            if id(spec) not in self._screens:
                self._screens[id(spec)] = _any_pattern(spec)  # the specs live as long as self
            screen = self._screens[id(spec)]
            if (screen is None or screen.match(rel)) and spec.match_file(rel):
                return True
        return False

    def _chain(self, directory: Path, top: Path) -> tuple[tuple[Path, pathspec.PathSpec], ...]:
        """The ``.gitignore`` specs that apply in ``directory``: its own, then its parents' up to
        ``top`` or the repository root (a ``.git``), computed once per directory."""
        key = (directory, top)
        if key not in self._chains:
            chain: tuple[tuple[Path, pathspec.PathSpec], ...] = ()
            if directory == top or top in directory.parents:
                spec = self._spec(directory)
                own = ((directory, spec),) if spec is not None else ()
                stop = directory == top or (directory / ".git").exists()
                chain = own if stop else own + self._chain(directory.parent, top)
            self._chains[key] = chain
        return self._chains[key]


def discover(paths: Iterable[str], config: Config, lookup: ConfigLookup | None = None) -> Discovery:
    """The Python files under ``paths``. With ``lookup``, each directory's nearest config decides
    what is excluded there (globs relative to that config's directory); without, ``config``
    governs every file."""
    gitignores = _GitIgnores(config.respect_gitignore)
    found: set[str] = set()
    missing: list[str] = []

    def governing(directory: Path) -> Config:
        return lookup.for_directory(directory) if lookup is not None else config

    roots: dict[str, Path] = {}

    def excluded(path: Path, is_dir: bool) -> bool:
        """Excluded by the config governing the directory that holds ``path``."""
        cfg = governing(path.parent)
        excludes = _exclude_matcher(exclude_patterns(cfg))
        root = roots.get(cfg.root)
        if root is None:
            root = roots[cfg.root] = Path(cfg.root).resolve()
        rel = _rel(path, root) or _rel(path, Path(cfg.root))
        suffix = "/" if is_dir else ""
        if rel is not None and rel != "." and excludes.match_file(rel + suffix):
            return True
        return excludes.match_file(path.name + suffix)

    for raw in paths:
        given = Path(raw)
        path = Path(os.path.abspath(given))
        if not os.path.lexists(path):
            missing.append(raw)
            continue
        if path.is_dir() and not path.is_symlink():
            found.update(_walk(path, excluded, gitignores))
        elif not excluded(path, is_dir=False):
            found.add(str(path))
    return Discovery(sorted(found), missing)


def _walk(top: Path, excluded: Callable[[Path, bool], bool], gitignores: _GitIgnores) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if sub.is_symlink() or excluded(sub, True) or gitignores.ignored(sub, True, top):
                # A directory that merely *ends* in .py is still just a directory to walk.
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if not name.endswith(".py"):
                continue
            file = here / name
            if excluded(file, False) or gitignores.ignored(file, False, top):
                continue
            yield str(file)
