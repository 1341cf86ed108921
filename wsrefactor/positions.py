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

from collections.abc import Mapping

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
            computed = recorder.computed
            body = self.module.body
            while self._next < len(body) and (
                self._next == 0 or computed[body[self._next - 1]].end.line <= end[0]
            ):
                recorder.generate(body[self._next])
                self._next += 1
        else:
            computed = self._full
        for node, rng in computed.items():
            if (
                isinstance(node, types)
                and (rng.start.line, rng.start.column) == start
                and (rng.end.line, rng.end.column) == end
            ):
                return node
        return None
