"""Which rules run: ``select``/``ignore`` by code or prefix, the most specific entry winning; then
what a file's own settings switch off (per-file ignores, test-file ignores, bandit's settings)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsrefactor.config import Config

_BANDIT_CODE = re.compile(r"^B\d{3}$")


def _best(code: str, prefixes: Iterable[str]) -> int:
    """Length of the longest prefix matching ``code`` (-1 when none); ``ALL`` matches weakly."""
    best = -1
    for p in prefixes:
        if p == "ALL":
            best = max(best, 0)
        elif code.startswith(p):
            best = max(best, len(p))
    return best


@lru_cache(maxsize=1)
def bandit_codes() -> frozenset[str]:
    """Every id bandit can report (its plugins and its blacklists). ``B017`` or ``B950`` are
    flake8-bugbear's: a ``# noqa`` naming them is not ours. Imports bandit: asked only when a
    comment names a ``B###`` code."""
    from wsrefactor.compat import bandit

    return frozenset(bandit.plugins_by_id()) | frozenset(bandit.blacklist_by_id())


@dataclass(frozen=True)
class Selection:
    select: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    known_codes: tuple[str, ...] = ()
    # ``[tool.bandit] tests``: when set, the only bandit checks that run
    bandit_only: tuple[str, ...] = ()
    # a file's own ignores (per-file-ignores, test files): off whatever the selection says
    off: tuple[str, ...] = ()

    def enabled(self, code: str) -> bool:
        if any(o == "ALL" or code.startswith(o) for o in self.off):
            return False
        if self.bandit_only and _BANDIT_CODE.match(code) and code not in self.bandit_only:
            return False
        s = _best(code, self.select)
        return s >= 0 and s > _best(code, self.ignore)

    def explicit(self, code: str) -> bool:
        """Selected by its full code: enough to allow that rule's unsafe fixes."""
        return code in self.select and self.enabled(code)

    def known(self, code: str) -> bool:
        """A code of some wsrefactor or bandit rule (only those make a ``# noqa`` ours)."""
        return code in self.known_codes or (bool(_BANDIT_CODE.match(code)) and code in bandit_codes())

    @property
    def bandit(self) -> bool:
        """Bandit runs when any B code could be enabled."""
        if self.bandit_only:
            return any(self.enabled(c) for c in self.bandit_only)
        candidates = {"B101"} | {p for p in self.select if p.startswith("B")}
        probes = [c if _BANDIT_CODE.match(c) else "B101" for c in candidates]
        return any(self.enabled(c) for c in probes) or any(
            self.enabled(f"B{n}") for n in (101, 102, 301, 501, 601, 701)
        )

    def switched_off(self, codes: Sequence[str]) -> Selection:
        return replace(self, off=self.off + tuple(c for c in codes if c not in self.off)) if codes else self

    @classmethod
    def build(cls, select: Sequence[str], ignore: Sequence[str], known: Iterable[str]) -> Selection:
        return cls(tuple(select), tuple(ignore), tuple(sorted(known)))

    @classmethod
    def of(cls, config: Config, known: Iterable[str]) -> Selection:
        """A config's selection: ``select`` + ``extend-select`` against ``ignore`` +
        ``extend-ignore`` + bandit's ``skips``; bandit's ``tests`` as the only bandit checks."""
        return cls(config.selected, config.ignored, tuple(sorted(known)), config.bandit_tests)


def relative_path(path: str, root: str) -> str:
    """``path`` relative to a config's directory, for its globs; a file outside it is matched by
    its name only (a ``tests/`` glob must not match a directory above the project)."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(root)
    if absolute == base or not absolute.startswith(base.rstrip(os.sep) + os.sep):
        real, real_base = os.path.realpath(absolute), os.path.realpath(base)
        if not real.startswith(real_base.rstrip(os.sep) + os.sep):
            return os.path.basename(absolute)
        absolute, base = real, real_base
    return os.path.relpath(absolute, base).replace(os.sep, "/")


@dataclass(frozen=True)
class FileSettings:
    """What a file's config says about that file in particular."""

    test: bool
    off: tuple[str, ...]  # codes switched off here


@lru_cache(maxsize=64)
def _matchers(
    per_file: tuple[tuple[str, tuple[str, ...]], ...], tests: tuple[str, ...], bandit_dirs: tuple[str, ...]
) -> tuple[list[tuple[object, tuple[str, ...]]], object, object]:
    from wsrefactor.discovery import glob_matcher

    cleaned = [d.strip().removeprefix("./").strip("/") for d in bandit_dirs]
    # bandit's `exclude_dirs`: a bare name is a directory anywhere, a path is anchored at the config
    dirs = [f"/{d}/" if "/" in d else f"{d}/" for d in cleaned if d]
    return (
        [(glob_matcher([glob]), codes) for glob, codes in per_file],
        glob_matcher(tests),
        glob_matcher(dirs) if dirs else None,
    )


def file_settings(config: Config, path: str) -> FileSettings:
    """Per-file ignores, test-file ignores and bandit's ``exclude_dirs`` for ``path``."""
    rel = relative_path(path, config.root)
    per_file, tests, bandit_dirs = _matchers(config.per_file_ignores, config.test_files, config.bandit_exclude_dirs)
    off: list[str] = []
    for spec, codes in per_file:
        if spec.match_file(rel):  # type: ignore[attr-defined]
            off.extend(codes)
    is_test = bool(config.test_files) and tests.match_file(rel)  # type: ignore[attr-defined]
    if is_test:
        off.extend(config.test_file_ignores)
    if bandit_dirs is not None and bandit_dirs.match_file(rel):  # type: ignore[attr-defined]
        off.append("B")
    return FileSettings(is_test, tuple(dict.fromkeys(off)))
