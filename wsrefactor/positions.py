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
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from wsrefactor.compat.libcst import PositionRecorder
from wsrefactor.lazy import cst

if TYPE_CHECKING:
    from libcst.metadata import CodeRange, MetadataWrapper

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
        self._lines: tuple[list[_Lined], list[int]] | None = None  # see ``_top_level``
        # statements generated on their own, by id (kept with their nodes by span)
        self._alone: dict[int, tuple[cst.CSTNode, dict[tuple[int, int, int, int], list[cst.CSTNode]] | None]] = {}
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
        from libcst.metadata import PositionProvider

        self._full = self.wrapper.resolve(PositionProvider)
        return self._full[node]

    def find(
        self, start: tuple[int, int], end: tuple[int, int], types: tuple[type[cst.CSTNode], ...]
    ) -> cst.CSTNode | None:
        """The node of one of ``types`` spanning exactly ``start``..``end`` ((line, 0-based
        column), as ``ast`` and ``Detection`` give them): how a fix decided on the semantic
        model finds its libcst node. Generates code only up to the statement ending past ``end``
        (only the statement holding the span when the text and ``ast`` are known)."""
        alone = self._statement_index(start[0], end[0]) if self._full is None else None
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

    def _statement_index(self, first: int, last: int) -> dict[tuple[int, int, int, int], list[cst.CSTNode]] | None:
        """Nodes by span of the innermost statement holding lines ``first``..``last`` (a top-level
        one, or one in the body of a class or function in it), generated on its own (None: text or
        tree unknown, or the statement's code is not the text at its line; ``find`` then goes in
        order). A top-level statement already generated in order is found there."""
        top = self._top_level()
        if top is None:
            return None
        k = bisect.bisect_right(top[1], first) - 1
        if k < 0 or k < self._next:
            return None
        stmt, node, _ = top[0][k]
        indents: list[str] = []
        inner = _inner(stmt, node, first, last)
        while inner is not None:
            (stmt, node, _), indent = inner
            indents.append(self.module.default_indent if indent is None else indent)
            inner = _inner(stmt, node, first, last)
        if id(stmt) not in self._alone:
            self._alone[id(stmt)] = (stmt, self._generate_alone(stmt, _code_line(stmt, node), indents))
        return self._alone[id(stmt)][1]

    def _top_level(self) -> tuple[list[_Lined], list[int]] | None:
        """The top-level statements with their first ``ast`` statement, and the line of each one's
        first token (None: text or tree unknown, or the trees do not line up)."""
        if self._lines is None and self._text is not None and self._tree is not None:
            pairs = _lined_up(self.module.body, self._tree.body)
            self._lines = None if pairs is None else (pairs, [_first_line(n) for _, n, _ in pairs])
        return self._lines

    def _generate_alone(
        self, stmt: cst.BaseStatement, line: int, indents: list[str]
    ) -> dict[tuple[int, int, int, int], list[cst.CSTNode]] | None:
        recorder = PositionRecorder(self.module, line, indents)
        recorder.generate(stmt)
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


_Lined = tuple["cst.BaseStatement", ast.stmt, ast.stmt]


def _lined_up(stmts: Sequence[cst.BaseStatement], body: Sequence[ast.stmt]) -> list[_Lined] | None:
    """Each libcst statement with its first and last ``ast`` statements: a simple statement line
    holds one ``ast`` statement per small statement, a compound one exactly one. None when the
    two bodies do not line up that way."""
    out: list[_Lined] = []
    i = 0
    for stmt in stmts:
        n = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        if i + n > len(body):
            return None
        out.append((stmt, body[i], body[i + n - 1]))
        i += n
    return out if i == len(body) else None


def _first_line(node: ast.stmt) -> int:
    """The line of a statement's first token (its first decorator's)."""
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno


def _code_line(stmt: cst.BaseStatement, node: ast.stmt) -> int:
    """The line a statement's generated code starts on: its leading blank and comment lines
    (and those before its first decorator) come before its first token."""
    leading = len(getattr(stmt, "leading_lines", ()))  # every statement class has them
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.decorators:
        leading += len(stmt.decorators[0].leading_lines)
    return _first_line(node) - leading


_CONTAINERS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _inner(stmt: cst.BaseStatement, node: ast.stmt, first: int, last: int) -> tuple[_Lined, str | None] | None:
    """The statement of ``stmt``'s body (a class or function with an indented body) holding
    lines ``first``..``last``, lined up, and the body's own indentation (None: the default)."""
    if not (isinstance(stmt, (cst.ClassDef, cst.FunctionDef)) and isinstance(stmt.body, cst.IndentedBlock)
            and isinstance(node, _CONTAINERS)):
        return None
    for lined in _lined_up(stmt.body.body, node.body) or ():
        end = lined[2].end_lineno
        if _first_line(lined[1]) <= first and end is not None and last <= end:
            return lined, stmt.body.indent
    return None
