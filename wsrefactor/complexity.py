"""Cyclomatic complexity of Python source, measured exactly like ``radon cc``.

The gate must never disagree with what a developer sees when running radon
by hand, so this module does not compute anything itself: it calls
:func:`radon.complexity.cc_visit` (which walks Python's ``ast``) and copies
radon's numbers into small, immutable, picklable :class:`Block` records that
can be shipped back from worker processes.

Which blocks are reported
-------------------------
:func:`measure` returns the blocks that ``radon cc --show-closures`` prints:

* module-level functions (``kind="function"``), sync and async;
* classes (``kind="class"``) with radon's class complexity (the average of
  their methods plus one, see :class:`radon.visitors.Class`);
* methods (``kind="method"``), named ``Class.method``;
* closures, i.e. functions defined in a function body (``kind="function"``),
  named ``outer.inner`` (nested deeper: ``outer.inner.deepest``).  For a
  closure defined inside a method radon drops the class: ``method.inner``;
* classes nested in classes, named ``Outer.Inner``, and their methods,
  named ``Outer.Inner.method``.

Names are radon's ``fullname`` after radon's own closure expansion
(:func:`radon.complexity.add_inner_blocks`), so they match ``radon cc -j
--show-closures`` byte for byte.  Pass ``closures=False`` to get exactly the
plain ``radon cc`` set (no closures, no nested classes).  Radon ignores
classes defined inside function bodies; so do we.

Class blocks are kept so callers can display them, but the gate
(:mod:`wsrefactor.gate`) only checks ``function`` and ``method`` blocks:
a class complexity is an average, not a path count, and the methods are
already checked individually.

Length: the real span, not radon's
----------------------------------
Complexity is radon's, but a block's ``endline`` (and so its ``length``) is
the definition's real last line from Python's ``ast`` (``end_lineno``), from
the ``def``/``class`` line, decorators excluded: :func:`span`.  radon's own
``endline`` is the line the *last statement of the body* starts on, and only
when radon's visitor records a line for it: a body ending in ``assert`` (or
a nested ``def``) leaves it at the ``def`` line, so a 142-line decorated
async test measured 1 line.  :func:`with_real_spans` is the one place that
corrects radon's blocks; the gate, WS302 and the dashboard all go through it.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, cast

from radon.complexity import add_inner_blocks, cc_rank, cc_visit_ast
from radon.visitors import Class, Function

__all__ = [
    "Block",
    "BlockKind",
    "ComplexityError",
    "definition_ends",
    "measure",
    "measure_file",
    "span",
    "with_real_spans",
]

BlockKind = Literal["function", "method", "class"]


class ComplexityError(Exception):
    """Raised when a file cannot be measured (usually a SyntaxError).

    A dedicated type lets the CLI report the file and line and carry on with
    the other files instead of crashing on a bare ``SyntaxError``.  It holds
    only plain data so it pickles across process boundaries.
    """

    def __init__(
        self,
        path: str,
        message: str,
        lineno: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__(path, message, lineno, col)
        self.path = path
        self.message = message
        self.lineno = lineno
        self.col = col

    def __str__(self) -> str:
        where = self.path if self.lineno is None else f"{self.path}:{self.lineno}"
        return f"{where}: cannot measure complexity: {self.message}"


@dataclass(frozen=True, order=False)
class Block:
    """One function, method or class as radon sees it.

    Frozen (hashable, safe to share) and made only of str/int fields so it
    pickles cheaply when measured in a worker process.
    """

    path: str
    name: str
    kind: BlockKind
    lineno: int
    endline: int
    col: int
    complexity: int
    rank: str
    #: Lines spanned, ``endline - lineno + 1`` with the real endline (see
    #: :func:`span`; derived, stored so ``dataclasses.asdict`` and JSON output include it).
    length: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", self.endline - self.lineno + 1)

    @property
    def is_function(self) -> bool:
        """True for blocks the gate checks (functions and methods)."""
        return self.kind != "class"


_Definition = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef]
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_Radon = TypeVar("_Radon", Function, Class)


def span(node: _Definition) -> tuple[int, int]:
    """``(first, last)`` line of a definition: its ``def``/``class`` line (decorators excluded,
    as in radon) to its real last line. The length of a function is ``last - first + 1``."""
    return node.lineno, node.end_lineno or node.lineno


def definition_ends(tree: ast.AST) -> dict[tuple[int, int], int]:
    """Real last line of every ``def``/``class`` of ``tree``, keyed by ``(lineno, col_offset)``
    (the position radon records for the block, which is unique per definition)."""
    from wsrefactor.semantic.nodes import NodeIndex

    # the shared one-walk index: a walk of its own per file cost about half an ``ast.parse``
    return {(n.lineno, n.col_offset): span(n)[1] for n in NodeIndex.of(cast(ast.Module, tree)).nodes(*_DEFINITIONS)}


def with_real_spans(blocks: Sequence[_Radon], tree: ast.AST) -> list[_Radon]:
    """radon's blocks with ``endline`` set to the definition's real last line (see the module
    docstring); closures and methods inside are corrected too. Complexity is untouched."""
    from wsrefactor.semantic.nodes import per_tree

    ends = per_tree(definition_ends, cast(ast.Module, tree))
    return [_with_real_end(b, ends) for b in blocks]


def _with_real_end(block: Any, ends: Mapping[tuple[int, int], int]) -> Any:
    # A module-level function, not a recursive closure: a closure calling itself is a reference
    # cycle, which would keep ``ends`` alive until the cycle collector runs.
    end = ends.get((block.lineno, block.col_offset), block.endline)
    changes: dict[str, Any] = {"endline": max(end, block.lineno)}
    if isinstance(block, Function) and block.closures:
        changes["closures"] = [_with_real_end(c, ends) for c in block.closures]
    if isinstance(block, Class):
        changes["methods"] = [_with_real_end(m, ends) for m in block.methods]
        changes["inner_classes"] = [_with_real_end(c, ends) for c in block.inner_classes]
    return block._replace(**changes)


def _to_block(obj: Function | Class, path: str) -> Block:
    """Copy one radon block into a :class:`Block`."""
    kind: BlockKind
    if isinstance(obj, Function):
        kind = "method" if obj.is_method else "function"
    else:
        kind = "class"
    complexity = int(obj.complexity)
    return Block(
        path=path,
        name=obj.fullname,
        kind=kind,
        lineno=int(obj.lineno),
        endline=int(obj.endline),
        col=int(obj.col_offset),
        complexity=complexity,
        rank=cc_rank(complexity),
    )


def _parse(source: str | bytes, path: str) -> ast.Module:
    """Parse like radon does, turning every parse failure into ComplexityError."""
    if isinstance(source, str) and source.startswith("\ufeff"):
        # A BOM is legal in a file but ast.parse rejects it in a str.
        source = source[1:]
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences etc. are not the gate's business.
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise ComplexityError(
            path, exc.msg or "invalid syntax", exc.lineno, exc.offset
        ) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError: NUL bytes / undecodable bytes; RecursionError: absurd nesting.
        raise ComplexityError(path, str(exc) or type(exc).__name__) from exc


def measure(
    source: str | bytes,
    path: str,
    *,
    closures: bool = True,
    no_assert: bool = False,
) -> list[Block]:
    """Return radon's complexity blocks for ``source``, sorted by position.

    ``path`` is only recorded in the blocks (and error messages); nothing is
    read from disk.  ``bytes`` input honours PEP 263 coding cookies and BOMs.
    ``closures`` mirrors ``radon cc --show-closures`` (on by default so nested
    handlers are gated too); ``no_assert`` mirrors ``radon cc --no-assert``.
    The result is sorted by (lineno, col, name) so it is deterministic.

    Raises :class:`ComplexityError` if the source does not parse.
    """
    tree = _parse(source, path)
    try:
        raw = cc_visit_ast(tree, no_assert=no_assert)
    except RecursionError as exc:
        raise ComplexityError(path, "code too deeply nested to analyse") from exc
    raw = with_real_spans(raw, tree)
    if closures:
        raw = add_inner_blocks(raw)
    blocks = [_to_block(obj, path) for obj in raw]
    blocks.sort(key=lambda b: (b.lineno, b.col, b.name, b.kind))
    return blocks


def measure_file(
    filename: str,
    display_path: str | None = None,
    *,
    closures: bool = True,
    no_assert: bool = False,
) -> list[Block]:
    """Read ``filename`` as bytes and :func:`measure` it.

    A module-level function (so it can be handed to a process pool).  Blocks
    carry ``display_path`` if given (e.g. the project-relative path used for
    baseline keys), else ``filename``.  Unreadable files raise
    :class:`ComplexityError` too.
    """
    shown = filename if display_path is None else display_path
    try:
        with open(filename, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ComplexityError(shown, exc.strerror or str(exc)) from exc
    return measure(data, shown, closures=closures, no_assert=no_assert)
