"""Engine-owned analyses of one file, computed lazily on Python's ``ast`` and cached.

Like libcst's metadata providers: a rule asks ``ctx.analysis(SemanticModel)`` (or
``analyses(SemanticModel)`` in ``detect``); the first request computes it from the tree the engine
already parsed, later requests (from any rule of the pass) get the same object. An analysis may
ask for others, so each is computed once per file. Rules never store analyses on the context.
"""

from __future__ import annotations

import ast
import re
from typing import Any, ClassVar, Protocol, TypeVar

T = TypeVar("T", bound="Analysis")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Analysis(Protocol):
    """What ``Analyses`` can compute: a class with ``compute(analyses) -> instance``."""

    @classmethod
    def compute(cls: type[T], analyses: Analyses) -> T: ...


class Analyses:
    """The per-file cache of analyses over ``tree`` (the ``ast`` of ``text``)."""

    computed: ClassVar[int] = 0  # how many analyses were computed in this process (tests, bench)

    def __init__(self, tree: ast.Module, text: str, path: str = "<string>") -> None:
        self.tree = tree
        self.text = text
        self.path = path
        self._cache: dict[type, Any] = {}
        self._lines: list[str] | None = None

    def __call__(self, kind: type[T]) -> T:
        """The analysis ``kind`` of this file, computed on first request."""
        if kind not in self._cache:
            self._cache[kind] = kind.compute(self)
            Analyses.computed += 1
        return self._cache[kind]  # type: ignore[no-any-return]

    def release(self) -> None:
        """Forget every analysis of the file, each cutting its own cycles first (``release``).

        Call it once nothing reads the analyses any more (the runner does when it is done with the
        file). The scopes and the models point at each other and at the ``ast``; left to the
        cycle collector, every node of every file is walked on the way out (a tenth of a check's
        CPU on a 460-file repository), while cut they are freed by reference counting at once."""
        cached = list(self._cache.values())
        self._cache.clear()
        for analysis in cached:
            release = getattr(analysis, "release", None)
            if release is not None:
                release()

    @property
    def facts(self) -> Any:
        """What the rest of the project tells this file (``semantic.summary.FileFacts``: its
        parameters that receive connections, what the callables it calls do with their
        arguments); empty outside a run or for a file nothing reaches. Set by the runner."""
        from wsrefactor.semantic.summary import facts_for

        return facts_for(self.path)

    def line(self, lineno: int) -> str:
        """Line ``lineno`` (1-based) as Python numbers lines (``\\r\\n``, ``\\r`` or ``\\n``)."""
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.text)
        return self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else ""

    def char_column(self, lineno: int, byte_offset: int) -> int:
        """``ast`` columns count UTF-8 bytes; findings (and libcst) count characters."""
        line = self.line(lineno)
        if line.isascii():
            return byte_offset
        return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))

    def segment(self, node: ast.AST) -> str:
        """``node``'s own source text."""
        first, last = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        lines = [self.line(n).encode("utf-8") for n in range(first, last + 1)]
        lines[-1] = lines[-1][: node.end_col_offset]  # type: ignore[attr-defined]
        lines[0] = lines[0][node.col_offset :]  # type: ignore[attr-defined]
        return b"\n".join(lines).decode("utf-8", errors="replace")
