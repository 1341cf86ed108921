"""Positions of reported nodes, generating only as much code as they need.

libcst computes positions by generating the code of the whole module while tracking lines and
columns; on a file with a finding near the top that is mostly wasted. Here the same generation
runs one top-level statement at a time, in order and on one state, and stops once every node
asked for so far has its position; a later node resumes where it stopped. Because the code
before a node is generated exactly as in the full pass, every position is identical
(``tests/engine/test_positions.py``). A node outside the statements (the module itself) falls back to
libcst's full provider. The piecewise generation reads libcst internals, all through
``wsrefactor/compat/libcst.py`` (``PositionRecorder``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from wsrefactor.compat.libcst import PositionRecorder


class Positions:
    """Node -> CodeRange, computed on first use and only up to the statement that holds it."""

    def __init__(self, wrapper: MetadataWrapper) -> None:
        self.wrapper = wrapper
        self.module = wrapper.module
        self._full: Mapping[cst.CSTNode, CodeRange] | None = None
        self._recorder: PositionRecorder | None = None
        self._next = 0  # index of the next top-level statement to generate
        # nodes by exact span, in generation order; ``find`` on a file with a thousand findings
        # must not scan every node once per finding
        self._by_span: dict[tuple[int, int, int, int], list[cst.CSTNode]] = {}
        self._indexed = 0  # how many entries of the positions computed so far are in _by_span
        self._indexed_full = False

    def _started(self) -> PositionRecorder:
        if self._recorder is None:
            self._recorder = PositionRecorder(self.module)
            for line in self.module.header:  # as Module._codegen_impl starts
                self._recorder.generate(line)
        return self._recorder

    def __call__(self, node: cst.CSTNode) -> CodeRange:
        if self._full is not None:
            return self._full[node]
        recorder = self._started()
        computed = recorder.computed
        body = self.module.body
        while node not in computed and self._next < len(body):
            recorder.generate(body[self._next])
            self._next += 1
        if node in computed:
            return computed[node]
        self._full = self.wrapper.resolve(PositionProvider)
        return self._full[node]

    def find(
        self, start: tuple[int, int], end: tuple[int, int], types: tuple[type[cst.CSTNode], ...]
    ) -> cst.CSTNode | None:
        """The node of one of ``types`` spanning exactly ``start``..``end`` ((line, 0-based
        column), as ``ast`` and ``Detection`` give them): how a fix decided on the semantic
        model finds its libcst node. Generates code only up to the statement ending past ``end``."""
        if self._full is None:
            recorder = self._started()
            computed: Mapping[cst.CSTNode, CodeRange] = recorder.computed
            body = self.module.body
            while self._next < len(body) and (
                self._next == 0 or computed[body[self._next - 1]].end.line <= end[0]
            ):
                recorder.generate(body[self._next])
                self._next += 1
        else:
            computed = self._full
        for node in self._span_index(computed).get((*start, *end), ()):
            if isinstance(node, types):
                return node
        return None

    def _span_index(self, computed: Mapping[cst.CSTNode, CodeRange]) -> dict[tuple[int, int, int, int], list[cst.CSTNode]]:
        """``_by_span`` brought up to date: the recorder only appends, so the entries not yet
        indexed are the newest ones (read from the end); the full provider is indexed once."""
        if computed is self._full:
            if not self._indexed_full:
                self._by_span = {}
                self._add(computed.items())
                self._indexed_full = True
            return self._by_span
        new = len(computed) - self._indexed
        if new > 0 and isinstance(computed, dict):
            newest = list(islice(reversed(computed.items()), new))
            self._add(reversed(newest))
            self._indexed = len(computed)
        return self._by_span

    def _add(self, items: Iterable[tuple[cst.CSTNode, CodeRange]]) -> None:
        for node, rng in items:
            key = (rng.start.line, rng.start.column, rng.end.line, rng.end.column)
            self._by_span.setdefault(key, []).append(node)
