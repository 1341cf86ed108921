"""Positions of reported nodes, generating only as much code as they need.

libcst computes positions by generating the code of the whole module while tracking lines and
columns; on a file with a finding near the top that is mostly wasted. Here the same generation
runs one top-level statement at a time, in order and on one state, and stops once every node
asked for so far has its position; a later node resumes where it stopped. Because the code
before a node is generated exactly as in the full pass, every position is identical
(``tests/engine/test_positions.py``). A node outside the statements (the module itself) falls back to
libcst's full provider. The piecewise generation reads libcst internals, all through
``wsrefactor/compat/libcst.py`` (``PositionRecorder``).

``find`` (a span from the ``ast``) needs even less when the module's text and ``ast`` are given:
the ``ast`` says which top-level statement holds the span and on which line that statement's code
starts, so only that statement is generated, on a state starting at that line. The statement's
code is compared with the text at that line: positions are used only when it is the same text
there (then they are exactly the full pass's); otherwise ``find`` generates in order as above.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Mapping
from itertools import islice

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from wsrefactor.compat.libcst import PositionRecorder

# How libcst's position pass counts lines (``position_provider.NEWLINE_RE``).
_NEWLINE = re.compile(r"\r\n?|\n")


class Positions:
    """Node -> CodeRange, computed on first use and only up to the statement that holds it.

    ``text`` and ``tree`` (the module's source and its ``ast``) let ``find`` generate only the
    statement holding the span (see the module docstring)."""

    def __init__(self, wrapper: MetadataWrapper, text: str | None = None, tree: ast.Module | None = None) -> None:
        self.wrapper = wrapper
        self.module = wrapper.module
        self._text = text
        self._tree = tree
        self._lines: tuple[list[int], list[int]] | None = None  # see ``_statement_lines``
        self._alone: dict[int, dict[tuple[int, int, int, int], list[cst.CSTNode]] | None] = {}
        self._alone_computed: dict[cst.CSTNode, CodeRange] = {}
        self._offsets: list[int] | None = None  # where each line of the text starts
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
        known = self._alone_computed.get(node)
        if known is not None:
            return known
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
        model finds its libcst node. Generates code only up to the statement ending past ``end``
        (only the statement holding the span when the text and ``ast`` are known)."""
        alone = self._statement_index(start[0]) if self._full is None else None
        for node in (alone or {}).get((*start, *end), ()):
            if isinstance(node, types):
                return node
        return self._find_in_order(start, end, types)

    def _find_in_order(
        self, start: tuple[int, int], end: tuple[int, int], types: tuple[type[cst.CSTNode], ...]
    ) -> cst.CSTNode | None:
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

    def _statement_index(self, line: int) -> dict[tuple[int, int, int, int], list[cst.CSTNode]] | None:
        """Nodes by span of the top-level statement whose code holds ``line``, generated on its
        own (None: unknown, or its code is not the text at its line; ``find`` then goes in order).
        A statement already generated in order is found there."""
        lines = self._statement_lines()
        if lines is None:
            return None
        k = bisect.bisect_right(lines[0], line) - 1
        if k < 0 or k < self._next:
            return None
        if k not in self._alone:
            self._alone[k] = self._generate_alone(k, lines[1][k])
        return self._alone[k]

    def _statement_lines(self) -> tuple[list[int], list[int]] | None:
        """(first token line, first line of the generated code) of each top-level statement,
        read off the ``ast`` (None: text or tree unknown, or the trees do not line up)."""
        if self._lines is None and self._text is not None and self._tree is not None:
            self._lines = _statement_lines(self.module, self._tree)
        return self._lines

    def _generate_alone(self, k: int, line: int) -> dict[tuple[int, int, int, int], list[cst.CSTNode]] | None:
        recorder = PositionRecorder(self.module, line)
        recorder.generate(self.module.body[k])
        if not self._text_at(line, recorder.code):
            return None
        computed = recorder.computed
        self._alone_computed.update(computed)
        out: dict[tuple[int, int, int, int], list[cst.CSTNode]] = {}
        for node, rng in computed.items():
            out.setdefault((rng.start.line, rng.start.column, rng.end.line, rng.end.column), []).append(node)
        return out

    def _text_at(self, line: int, code: str) -> bool:
        """Whether ``code`` is the module's text from the start of ``line`` (1-based)."""
        text = self._text or ""
        if self._offsets is None:
            self._offsets = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        return line <= len(self._offsets) and text.startswith(code, self._offsets[line - 1])

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


def _statement_lines(module: cst.Module, tree: ast.Module) -> tuple[list[int], list[int]] | None:
    """For each of ``module``'s top-level statements, the line of its first token and the line
    its generated code starts on (its leading blank and comment lines before it). A simple
    statement line holds one ``ast`` statement per small statement, a compound one exactly one.
    None when the two trees do not line up that way."""
    firsts: list[int] = []
    starts: list[int] = []
    stmts = tree.body
    i = 0
    for stmt in module.body:
        if i >= len(stmts):
            return None
        first = stmts[i]
        decorators = getattr(first, "decorator_list", None)
        line = decorators[0].lineno if decorators else first.lineno
        leading = len(stmt.leading_lines)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.decorators:
            leading += len(stmt.decorators[0].leading_lines)
        firsts.append(line)
        starts.append(line - leading)
        i += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
    return (firsts, starts) if i == len(stmts) else None
