"""Which files a run looks at: walk the given paths, honour excludes and ``.gitignore``.

Globs use gitignore semantics (``build/``, ``fixtures/**``, ``*_pb2.py``) relative to the project
root. A path named explicitly is analysed even if git ignores it, but the config's ``exclude``
still applies (pre-commit passes staged files one by one and expects the config to hold).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from wsrefactor.config import DEFAULT_EXCLUDE, Config


def glob_matcher(patterns: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(patterns))


@dataclass
class Discovery:
    files: list[str]
    missing: list[str]  # named paths that do not exist


def _rel(path: Path, root: Path) -> str | None:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


class _GitIgnores:
    """``.gitignore`` files from the repository root down to each walked directory."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._cache: dict[Path, pathspec.PathSpec | None] = {}
        self._chains: dict[tuple[Path, Path], tuple[tuple[Path, pathspec.PathSpec], ...]] = {}

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
        return any(
            spec.match_file(path.relative_to(directory).as_posix() + suffix)
            for directory, spec in self._chain(path.parent, top)
        )

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


def discover(paths: Iterable[str], config: Config) -> Discovery:
    root = Path(config.root).resolve()
    excludes = glob_matcher([*DEFAULT_EXCLUDE, *config.exclude, *config.extend_exclude])
    gitignores = _GitIgnores(config.respect_gitignore)
    found: set[str] = set()
    missing: list[str] = []

    def excluded(path: Path, is_dir: bool) -> bool:
        rel = _rel(path, root)
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


def _walk(top: Path, excluded: object, gitignores: _GitIgnores) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if sub.is_symlink() or excluded(sub, True) or gitignores.ignored(sub, True, top):  # type: ignore[operator]
                # A directory that merely *ends* in .py is still just a directory to walk.
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if not name.endswith(".py"):
                continue
            file = here / name
            if excluded(file, False) or gitignores.ignored(file, False, top):  # type: ignore[operator]
                continue
            yield str(file)
