"""Extract method: the engine behind WS301 (complex-function) and WS302 (long-function).

Given one function (libcst node, with ``ScopeProvider`` and ``PositionProvider`` metadata) this
module finds the contiguous run of statements whose extraction into a helper lowers the
function's complexity (or length) most, with the fewest inputs and outputs, and that can be
moved *without changing behaviour*. It then builds the rewritten function and the helper.

Candidates
    Every contiguous run of whole statements of one indented block of the function (its body,
    or the body of an ``if``/``elif``/``else``/``for``/``while``/``with``/``try``/``except``/
    ``finally``/``case``), not descending into nested functions or classes.

Data flow (from libcst's scope analysis)
    *inputs*: names local to the function (parameters, assigned names) or to an enclosing
    function that the run reads before assigning them itself (a run assigns a name first only
    by an unconditional top-level statement that precedes every statement reading it).
    *outputs*: names the run assigns that are read after it, or anywhere in a loop that
    encloses the run (the next iteration reads them), or from a nested function outside it.
    Inputs must be bound when the helper is called: parameters, or names assigned by an
    unconditional statement before the run in an enclosing block (or the enclosing ``for``
    target / ``with ... as`` / ``except ... as``). An output the run assigns only
    conditionally is passed in as well, so the helper returns the old value on the other paths.

Refused runs (never extracted; when nothing else is left the finding says so)
    * ``return`` inside the run, unless the run is in *tail position* (a suffix of the function
      body, or of a branch of an ``if`` that is itself in tail position): the call is then
      ``return helper(...)``, which returns what any inner ``return`` returned, and ``None``
      when the run falls off its end, exactly like the function did. Generators: never.
    * ``yield``/``yield from`` (the values would go to the helper's caller);
    * ``break``/``continue`` whose loop is outside the run;
    * ``global``/``nonlocal`` statements, and writes to names the function declares
      ``global``/``nonlocal`` (they would become helper locals);
    * ``del`` of a name; walrus inside a comprehension; ``locals()``/``vars()``/``dir()``/
      ``eval``/``exec`` (they see the frame);
    * inputs that might be unbound at the call (e.g. assigned only later in a loop);
    * names shared with a nested function or lambda across the boundary (closures would see
      the helper's copy instead of the function's variable);
    * runs with outputs inside a ``try`` or ``with`` body: if the run raised halfway, the
      handler (or a suppressing context manager) would see the old values;
    * zero-argument ``super()``/``__class__`` outside an instance method or classmethod.
      Inside one they are kept working by making the helper a method of the same class:
      ``super()`` takes the class from the enclosing ``class`` block and the first argument of
      the helper, which is the same ``self``/``cls``.

Helpers
    A method whose run uses ``self`` (``cls`` in a classmethod, or zero-argument ``super()``)
    gets a private method ``_<func>_<part>`` right after it, called ``self._<func>_<part>(...)``.
    A method whose run does not use ``self`` gets a ``@staticmethod`` right after it (keeping
    the class's code together), still called through ``self``/``cls``. Other functions get a
    private function right after them, in the same block (module, or the enclosing function
    for a closure). The helper is ``async def`` and awaited when the run contains ``await``,
    ``async for``, ``async with`` or an async comprehension. Outputs are returned as a tuple
    and unpacked at the call site.

Every accepted extraction is verified with radon on the generated code: both the rewritten
function and the helper must be strictly better than the original on the rule's metric, so
repeated fixing always terminates.
"""

from __future__ import annotations

import ast
import bisect
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar

import libcst as cst
import libcst.helpers
from libcst.metadata import CodeRange, FunctionScope, PositionProvider, Scope, ScopeProvider

from wsrefactor import complexity
from wsrefactor.model import FixSafety
from wsrefactor.rule import AstReport, FileContext, Fix, Option, Report, Rule
from wsrefactor.rules._prefilter import index, per_tree
from wsrefactor.walk import visit

PENALTY_PER_NAME = 0.5  # score cost of one more input or output
VERIFY_LIMIT = 12  # candidates verified with radon before giving up
FRAME_BUILTINS = frozenset({"locals", "vars", "dir", "eval", "exec"})


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A chosen extraction: where, what flows in and out, and the resulting code."""

    container_path: tuple[tuple[str, int], ...]  # how to find the block from the function
    start: int
    stop: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    helper_name: str
    is_async: bool
    tail: bool
    kind: str  # "function" | "method" | "classmethod" | "static"
    receiver: str | None  # "self"/"cls" used to call a method helper
    module_level: bool  # the function is a module-level def (PEP 8: two blank lines)
    before: tuple[int, int]  # (cc, length) of the function
    after: tuple[int, int]  # (cc, length) of the rewritten function
    helper: tuple[int, int]  # (cc, length) of the helper
    placement: str = "before"  # helper "before" or "after" the function
    def_col: int = 0  # column of the function's ``def`` (wrapping long signatures)
    call_col: int = 0  # column of the call statement (wrapping long calls)

    def apply(self, func: cst.FunctionDef) -> cst.FlattenSentinel[cst.BaseStatement] | cst.FunctionDef:
        """Rewrite ``func`` (possibly already updated by other fixes) into function + helper."""
        result = _build(func, self)
        if result is None:
            return func
        new_func, helper = result
        if self.placement == "after":
            return cst.FlattenSentinel([new_func, helper])
        # before: the helper takes the blank lines above the function; comments stay on it
        lead = list(new_func.leading_lines)
        k = 0
        while k < len(lead) and lead[k].comment is None:
            k += 1
        blanks = lead[:k]
        gap = [cst.EmptyLine(indent=False)] * len(helper.leading_lines)
        return cst.FlattenSentinel([
            helper.with_changes(leading_lines=blanks),
            new_func.with_changes(leading_lines=[*gap, *lead[k:]]),
        ])


@dataclass
class _Candidate:
    container: cst.IndentedBlock
    path: tuple[tuple[str, int], ...]
    start: int
    stop: int
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    tail: bool = False
    is_async: bool = False
    uses_receiver: bool = False
    cc: int = 0
    lines: int = 0
    score: float = 0.0


# --------------------------------------------------------------------------
# function facts
# --------------------------------------------------------------------------


class _Indexer(cst.CSTVisitor):
    """Preorder numbering of every node of the function, plus statement/container parents."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        self.span: dict[cst.CSTNode, tuple[int, int]] = {}
        self._start: list[int] = []
        self.stmt_stack: list[cst.CSTNode] = []
        self.owner_stmt: dict[cst.CSTNode, cst.CSTNode] = {}
        self.stmt_parent: dict[cst.CSTNode, tuple[cst.IndentedBlock, int]] = {}
        self.block_owner: dict[cst.IndentedBlock, cst.CSTNode] = {}
        self.parent: dict[cst.CSTNode, cst.CSTNode] = {}
        self._stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parent[node] = self._stack[-1]
        self._stack.append(node)
        self._start.append(self.counter)
        self.counter += 1
        if self.stmt_stack:
            self.owner_stmt[node] = self.stmt_stack[-1]
        if isinstance(node, cst.IndentedBlock):
            for i, stmt in enumerate(node.body):
                self.stmt_parent[stmt] = (node, i)
            owner = self._stack[-2] if len(self._stack) >= 2 else None
            if owner is not None:
                self.block_owner[node] = owner
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            self.stmt_stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.span[original_node] = (self._start.pop(), self.counter - 1)
        if self.stmt_stack and self.stmt_stack[-1] is original_node:
            self.stmt_stack.pop()
        self._stack.pop()


@dataclass
class _Event:
    name: str
    node: cst.CSTNode
    index: int
    nested: bool = False  # happens in a nested function/lambda scope


@dataclass
class _Facts:
    func: cst.FunctionDef
    scope: FunctionScope
    index: _Indexer
    reads: list[_Event] = field(default_factory=list)
    writes: list[_Event] = field(default_factory=list)
    enclosing_reads: list[_Event] = field(default_factory=list)  # names of enclosing functions
    params: set[str] = field(default_factory=set)
    declared_outer: set[str] = field(default_factory=set)  # global / nonlocal in the function
    is_generator: bool = False
    receiver: str | None = None  # first parameter of a method
    method_kind: str | None = None  # "method" | "classmethod" | "static" | None


def _is_within(scope: Scope | None, ancestor: Scope) -> bool:
    while scope is not None:
        if scope is ancestor:
            return True
        parent = getattr(scope, "parent", None)
        if parent is scope:
            return False
        scope = parent
    return False


def _decorator_names(func: cst.FunctionDef) -> set[str]:
    out = set()
    for dec in func.decorators:
        expr = dec.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        if isinstance(expr, cst.Name):
            out.add(expr.value)
        elif isinstance(expr, cst.Attribute):
            out.add(expr.attr.value)
    return out


class _OwnScopeWalker(cst.CSTVisitor):
    """Walks a subtree without entering nested functions, lambdas or classes."""

    def __init__(self, on: Callable[[cst.CSTNode], None]) -> None:
        super().__init__()
        self.on = on
        self.root: cst.CSTNode | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is not self.root and isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return False
        self.on(node)
        return True


def _walk_own(nodes: Sequence[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    walker = _OwnScopeWalker(found.append)
    for node in nodes:
        walker.root = node
        visit(node, walker)
    return iter(found)


def _in_nested(node: cst.CSTNode, index: _Indexer, func: cst.FunctionDef) -> bool:
    """Is ``node`` inside a function or lambda nested in ``func`` (its own def excluded)?"""
    current = index.parent.get(node)
    while current is not None and current is not func:
        if isinstance(current, (cst.FunctionDef, cst.Lambda)):
            return True
        current = index.parent.get(current)
    return False


def _scope_chain_assignments(inner: Scope, outer: Scope) -> list[Any]:
    """Assignments of the scopes strictly between ``inner`` (included) and ``outer``."""
    out: list[Any] = []
    current: Scope | None = inner
    while current is not None and current is not outer:
        out.extend(current.assignments)
        parent = getattr(current, "parent", None)
        current = None if parent is current else parent
    return out


def function_facts(func: cst.FunctionDef, scopes: Any, in_class: bool) -> _Facts | None:
    """Reads, writes and shape of ``func``; ``scopes`` maps nodes to libcst scopes."""
    body_nodes = list(func.body.body) if isinstance(func.body, cst.IndentedBlock) else []
    if not body_nodes:
        return None
    scope = scopes.get(body_nodes[0])
    if not isinstance(scope, FunctionScope):
        return None
    index = _Indexer()
    visit(func, index)
    facts = _Facts(func, scope, index)
    _collect_writes(facts)
    _ReadCollector(facts, _own_names(scope, body_nodes)).collect(scopes)
    _collect_statement_facts(facts, body_nodes)
    facts.reads.sort(key=lambda e: e.index)
    facts.writes.sort(key=lambda e: e.index)
    if in_class:
        _method_shape(facts)
    return facts


def _collect_writes(facts: _Facts) -> None:
    """Parameters, and every binding of the function's names (those in nested scopes flagged)."""
    index = facts.index
    for assignment in facts.scope.assignments:
        node = assignment.node
        if isinstance(node, cst.Param):
            facts.params.add(assignment.name)
        elif node in index.span:
            nested = _in_nested(node, index, facts.func)
            facts.writes.append(_Event(assignment.name, node, index.span[node][0], nested))


def _own_names(scope: FunctionScope, body_nodes: Sequence[cst.CSTNode]) -> set[str]:
    """Names local to the function: bound in it and not declared global/nonlocal."""
    own = {a.name for a in scope.assignments}
    for node in _walk_own(body_nodes):
        if isinstance(node, (cst.Global, cst.Nonlocal)):
            own -= {n.name.value for n in node.names}
    return own


@dataclass
class _ReadCollector:
    """Sorts the name accesses in the function into its own reads and reads of enclosing functions.

    Python makes a name local to the function if it is bound anywhere in it; libcst links an
    access only to bindings before it, so a read earlier in a loop has no referents.
    """

    facts: _Facts
    own_names: set[str]

    def collect(self, scopes: Any) -> None:
        span, scope = self.facts.index.span, self.facts.scope
        inner = {s for n, s in scopes.items() if n in span and s is not None and _is_within(s, scope)}
        for sc in inner:
            nested = sc is not scope and not isinstance(sc, cst.metadata.ComprehensionScope)
            for access in sc.accesses:
                self._record(sc, access, nested)

    def _record(self, sc: Scope, access: Any, nested: bool) -> None:
        node = access.node
        span = self.facts.index.span
        if not isinstance(node, cst.Name) or node not in span:
            return
        event = _Event(node.value, node, span[node][0], nested)
        referents = access.referents
        scope = self.facts.scope
        if any(r.scope is scope for r in referents) or self._unlinked_local(sc, node.value, referents):
            self.facts.reads.append(event)
        elif any(isinstance(r.scope, FunctionScope) and not _is_within(r.scope, scope) for r in referents):
            self.facts.enclosing_reads.append(event)

    def _unlinked_local(self, sc: Scope, name: str, referents: Any) -> bool:
        """A read of a function local that libcst linked to nothing (bound only further on)."""
        if referents or name not in self.own_names:
            return False
        return name not in {a.name for a in _scope_chain_assignments(sc, self.facts.scope)}


def _collect_statement_facts(facts: _Facts, body_nodes: Sequence[cst.CSTNode]) -> None:
    """What libcst's scopes do not say: ``x += 1`` reads x; global/nonlocal; generators."""
    for node in _walk_own(body_nodes):
        if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
            facts.reads.append(_Event(node.target.value, node.target, facts.index.span[node.target][0]))
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            facts.declared_outer.update(n.name.value for n in node.names)
        elif isinstance(node, cst.Yield):
            facts.is_generator = True


def _method_shape(facts: _Facts) -> None:
    """Kind and receiver (first parameter) of a function defined in a class body."""
    func = facts.func
    decorators = _decorator_names(func)
    if "staticmethod" in decorators:
        facts.method_kind = "static"
        return
    positional = [*func.params.posonly_params, *func.params.params]
    if not positional or not isinstance(positional[0], cst.Param):
        return
    facts.method_kind = "classmethod" if "classmethod" in decorators else "method"
    receiver = positional[0].name.value
    # a function that rebinds self is never called through it
    facts.receiver = None if any(w.name == receiver for w in facts.writes) else receiver


# --------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------


_Path = tuple[tuple[str, int], ...]
_SubBlock = tuple[_Path, cst.BaseSuite, bool, tuple[cst.CSTNode, ...]]


def _containers(func: cst.FunctionDef) -> Iterator[tuple[cst.IndentedBlock, _Path, bool, list[cst.CSTNode]]]:
    """(block, path, tail, ancestors) for every indented block of the function's own code.

    ``path`` locates the block from the function (attribute names and indexes) so a plan made
    on the original tree can be applied to the updated one. ``ancestors`` are the compound
    statements around the block, outermost first.
    """
    if isinstance(func.body, cst.IndentedBlock):
        yield from _visit_block(func.body, (), True, [])


def _visit_block(
    block: cst.IndentedBlock, path: _Path, tail: bool, ancestors: list[cst.CSTNode]
) -> Iterator[tuple[cst.IndentedBlock, _Path, bool, list[cst.CSTNode]]]:
    yield block, path, tail, ancestors
    for i, stmt in enumerate(block.body):
        last = tail and i == len(block.body) - 1
        here = (*path, ("body", i))
        for steps, body, inner_tail, extra in _sub_blocks(stmt, last):
            if isinstance(body, cst.IndentedBlock):
                yield from _visit_block(body, (*here, *steps), inner_tail, [*ancestors, stmt, *extra])


def _sub_blocks(stmt: cst.CSTNode, tail: bool) -> Iterator[_SubBlock]:
    """(steps from ``stmt``, block, tail, extra ancestors) of each block a compound statement owns.

    Nested functions and classes own none: their code is not the function's.
    """
    for types, blocks in _SUB_BLOCKS:
        if isinstance(stmt, types):
            yield from blocks(stmt, tail)
            return


def _if_blocks(stmt: cst.If, tail: bool) -> Iterator[_SubBlock]:
    # every branch of an ``if`` in tail position is in tail position
    yield (("if", 0),), stmt.body, tail, ()
    orelse = stmt.orelse
    if isinstance(orelse, cst.Else):
        yield (("else", 0),), orelse.body, tail, ()
    elif isinstance(orelse, cst.If):
        for steps, body, inner_tail, extra in _if_blocks(orelse, tail):
            yield (("elif", 0), *steps), body, inner_tail, extra


def _loop_blocks(stmt: cst.For | cst.While, tail: bool) -> Iterator[_SubBlock]:
    yield (("loop", 0),), stmt.body, False, ()
    if stmt.orelse is not None:
        yield (("else", 0),), stmt.orelse.body, False, ()


def _with_blocks(stmt: cst.With, tail: bool) -> Iterator[_SubBlock]:
    yield (("with", 0),), stmt.body, False, ()


def _try_blocks(stmt: cst.Try | cst.TryStar, tail: bool) -> Iterator[_SubBlock]:
    yield (("try", 0),), stmt.body, False, ()
    for k, handler in enumerate(stmt.handlers):
        yield (("handler", k),), handler.body, False, (handler,)
    if stmt.orelse is not None:
        yield (("else", 0),), stmt.orelse.body, False, ()
    if stmt.finalbody is not None:
        yield (("finally", 0),), stmt.finalbody.body, False, ()


def _match_blocks(stmt: cst.Match, tail: bool) -> Iterator[_SubBlock]:
    for k, case in enumerate(stmt.cases):
        yield (("case", k),), case.body, False, ()


_SUB_BLOCKS: tuple[tuple[Any, Callable[[Any, bool], Iterator[_SubBlock]]], ...] = (
    (cst.If, _if_blocks),
    ((cst.For, cst.While), _loop_blocks),
    (cst.With, _with_blocks),
    ((cst.Try, cst.TryStar), _try_blocks),
    (cst.Match, _match_blocks),
)

# how each step of a container path goes from a node to the next one (``i``: the index)
_PATH_STEPS: dict[str, Callable[[Any, int], Any]] = {
    "body": lambda node, i: node.body[i],
    "if": lambda node, i: node.body,
    "loop": lambda node, i: node.body,
    "with": lambda node, i: node.body,
    "try": lambda node, i: node.body,
    "else": lambda node, i: node.orelse.body,
    "elif": lambda node, i: node.orelse,
    "handler": lambda node, i: node.handlers[i].body,
    "finally": lambda node, i: node.finalbody.body,
    "case": lambda node, i: node.cases[i].body,
}


def _resolve(func: cst.FunctionDef, path: Sequence[tuple[str, int]]) -> cst.IndentedBlock | None:
    """Follow a container path (see :func:`_containers`) in a possibly updated function."""
    node: Any = func.body
    for step, i in path:
        follow = _PATH_STEPS.get(step)
        if follow is None:
            return None
        try:
            node = follow(node, i)
        except (AttributeError, IndexError):
            return None
    return node if isinstance(node, cst.IndentedBlock) else None


_CC_CACHE: dict[int, tuple[cst.CSTNode, int]] = {}


def statement_cc(stmt: cst.BaseStatement) -> int:
    """Decision points radon counts for one statement (its share of the function's CC)."""
    cached = _CC_CACHE.get(id(stmt))
    if cached is not None and cached[0] is stmt:
        return cached[1]
    from radon.visitors import ComplexityVisitor

    code = cst.Module(body=[stmt]).code
    value = ComplexityVisitor.from_code(code).complexity - 1
    if len(_CC_CACHE) > 20000:
        _CC_CACHE.clear()
    _CC_CACHE[id(stmt)] = (stmt, value)
    return value


_FLOW_CACHE: dict[int, tuple[cst.CSTNode, tuple[str | None, bool, bool]]] = {}


def _flow_problems(stmts: Sequence[cst.BaseStatement], tail: bool, generator: bool) -> tuple[str | None, bool, bool]:
    """(refusal reason, has return, is async) for a run, looking only at its own code."""
    problem: str | None = None
    has_return = is_async = False
    for stmt in stmts:
        p, r, a = _cached_statement_flow(stmt)
        problem = problem or p
        has_return = has_return or r
        is_async = is_async or a
    if problem is None and has_return:
        problem = _return_problem(tail, generator)
    return problem, has_return, is_async


def _return_problem(tail: bool, generator: bool) -> str | None:
    """Why a run containing ``return`` cannot be extracted (None: the call can return it)."""
    if generator:
        return "return in a generator"
    if not tail:
        return "return in the middle of the function"
    return None


def _cached_statement_flow(stmt: cst.BaseStatement) -> tuple[str | None, bool, bool]:
    # runs overlap: each statement is walked once (the node is kept so its id stays valid)
    cached = _FLOW_CACHE.get(id(stmt))
    if cached is not None and cached[0] is stmt:
        return cached[1]
    if len(_FLOW_CACHE) > 20000:
        _FLOW_CACHE.clear()
    flow = _statement_flow(stmt)
    _FLOW_CACHE[id(stmt)] = (stmt, flow)
    return flow


def _statement_flow(stmt: cst.BaseStatement) -> tuple[str | None, bool, bool]:
    """(refusal reason other than return, has return, is async) for one statement."""
    walker = _FlowWalker()
    visit(stmt, walker)
    return walker.problem, walker.has_return, walker.is_async


class _FlowWalker(cst.CSTVisitor):
    """Control flow and frame access of a statement that would change meaning inside a helper.

    ``nested`` counts the functions, lambdas and classes around the current node (their
    ``return``, ``await`` and so on are their own); ``loops`` the loops inside the statement
    (a ``break`` there stays inside the run). The first problem found is kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loops = 0
        self.nested = 0
        self.comprehensions = 0
        self.problem: str | None = None
        self.has_return = False
        self.is_async = False

    def _flag(self, problem: str) -> None:
        self.problem = self.problem or problem

    def _async_here(self, marker: object | None) -> None:
        if marker is not None and not self.nested:
            self.is_async = True

    # -- scopes of their own -------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.nested += 1
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.nested -= 1

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self.nested += 1
        return True

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.nested -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.nested += 1
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.nested -= 1

    # -- loops: only their body is inside them, not their else clause --------

    def visit_For(self, node: cst.For) -> bool:
        self._async_here(node.asynchronous)
        visit(node.target, self)
        visit(node.iter, self)
        self._visit_loop_parts(node)
        return False

    def visit_While(self, node: cst.While) -> bool:
        visit(node.test, self)
        self._visit_loop_parts(node)
        return False

    def _visit_loop_parts(self, node: cst.For | cst.While) -> None:
        self.loops += 1
        visit(node.body, self)
        self.loops -= 1
        if node.orelse is not None:
            visit(node.orelse, self)

    # -- async ---------------------------------------------------------------

    def visit_With(self, node: cst.With) -> None:
        self._async_here(node.asynchronous)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._async_here(node.asynchronous)

    def visit_Await(self, node: cst.Await) -> None:
        if not self.nested:
            self.is_async = True

    # -- control flow leaving the run ----------------------------------------

    def visit_Return(self, node: cst.Return) -> None:
        if not self.nested:
            self.has_return = True

    def visit_Yield(self, node: cst.Yield) -> None:
        if not self.nested:
            self._flag("yield")

    def visit_Break(self, node: cst.Break) -> None:
        if not self.nested and not self.loops:
            self._flag("break out of an enclosing loop")

    def visit_Continue(self, node: cst.Continue) -> None:
        if not self.nested and not self.loops:
            self._flag("continue of an enclosing loop")

    # -- names and the frame -------------------------------------------------

    def visit_Global(self, node: cst.Global) -> None:
        self._flag("global statement")

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self._flag("nonlocal statement")

    def visit_Del(self, node: cst.Del) -> None:
        if not self.nested and _has_name_target(node.target):
            self._flag("del of a name")

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if self.comprehensions:
            self._flag("walrus in a comprehension")

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in FRAME_BUILTINS:
            if node.func.value != "dir" or not node.args:
                self._flag(f"{node.func.value}() sees the frame")

    # -- comprehensions (a walrus in one binds in the function) ---------------

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self.comprehensions += 1

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self.comprehensions -= 1

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self.comprehensions += 1

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self.comprehensions -= 1

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self.comprehensions += 1

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self.comprehensions -= 1

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self.comprehensions += 1

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self.comprehensions -= 1


def _has_name_target(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.Name):
        return True
    if isinstance(node, (cst.Tuple, cst.List)):
        return any(_has_name_target(e.value) for e in node.elements)
    if isinstance(node, cst.StarredElement):
        return _has_name_target(node.value)
    return False


def _stored_names(stmts: Sequence[cst.BaseStatement]) -> set[str]:
    """Every name the run binds in its own scope (any depth, nested scopes excluded)."""
    out: set[str] = set()
    for node in _walk_own(stmts):
        out |= _names_bound_by(node)
    return out


def _names_bound_by(node: cst.CSTNode) -> set[str]:
    for types, names in _BINDERS:
        if isinstance(node, types):
            return names(node)
    return set()


def _with_item_names(item: cst.WithItem) -> set[str]:
    return _target_names(item.asname.name) if item.asname is not None else set()


def _handler_names(handler: cst.ExceptHandler) -> set[str]:
    return _target_names(handler.name.name) if handler.name is not None else set()


def _import_names(line: cst.SimpleStatementLine) -> set[str]:
    out: set[str] = set()
    for small in line.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            out |= _small_defs(small)
    return out


# node types that bind names, and the names each binds
_BINDERS: tuple[tuple[Any, Callable[[Any], set[str]]], ...] = (
    (
        (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr, cst.Del),
        lambda node: _target_names(node.target),
    ),
    (cst.WithItem, _with_item_names),
    (cst.ExceptHandler, _handler_names),
    ((cst.FunctionDef, cst.ClassDef), lambda node: {node.name.value}),
    (cst.SimpleStatementLine, _import_names),
)


def _uses_super(stmts: Sequence[cst.BaseStatement]) -> bool:
    for node in _walk_own(stmts):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "super" and not node.args:
            return True
        if isinstance(node, cst.Name) and node.value == "__class__":
            return True
    return False


# --------------------------------------------------------------------------
# definite assignment (syntactic, conservative)
# --------------------------------------------------------------------------

_TOP = None  # "control never gets past this": every name counts as bound


def _target_names(node: cst.CSTNode) -> set[str]:
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, (cst.Tuple, cst.List)):
        out: set[str] = set()
        for element in node.elements:
            out |= _target_names(element.value)
        return out
    if isinstance(node, cst.StarredElement):
        return _target_names(node.value)
    return set()


def _small_defs(small: cst.BaseSmallStatement) -> set[str]:
    if isinstance(small, cst.Assign):
        return set().union(*(_target_names(target.target) for target in small.targets))
    if isinstance(small, cst.AnnAssign):
        return _target_names(small.target) if small.value is not None else set()
    if isinstance(small, cst.AugAssign):
        return _target_names(small.target)
    if isinstance(small, (cst.Import, cst.ImportFrom)):
        return _import_defs(small)
    return set()


def _import_defs(small: cst.Import | cst.ImportFrom) -> set[str]:
    if isinstance(small, cst.Import):
        return {_alias_binding(alias, top_package=True) for alias in small.names}
    if isinstance(small.names, cst.ImportStar):
        return set()
    return {_alias_binding(alias, top_package=False) for alias in small.names}


def _alias_binding(alias: cst.ImportAlias, top_package: bool) -> str:
    """The name an import alias binds: its ``as`` name, else ``import a.b`` binds ``a``."""
    if alias.asname and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    full = cst.helpers.get_full_name_for_node(alias.name)
    return full.split(".")[0] if top_package else full  # type: ignore[union-attr,return-value]


def _terminates(stmt: cst.BaseStatement) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        return bool(stmt.body) and isinstance(stmt.body[-1], (cst.Return, cst.Raise, cst.Break, cst.Continue))
    return False


def _defs(stmt: cst.BaseStatement) -> set[str] | None:
    """Names surely bound when control leaves ``stmt`` normally (None: it never does)."""
    for types, defs in _DEFS:
        if isinstance(stmt, types):
            return defs(stmt)
    return set()


def _line_defs(stmt: cst.SimpleStatementLine) -> set[str] | None:
    out: set[str] = set()
    for small in stmt.body:
        if isinstance(small, (cst.Return, cst.Raise, cst.Break, cst.Continue)):
            return _TOP
        out |= _small_defs(small)
    return out


def _if_defs(stmt: cst.If) -> set[str] | None:
    branches: list[set[str] | None] = [_seq_defs(_body(stmt.body))]
    orelse = stmt.orelse
    if orelse is None:
        branches.append(set())
    elif isinstance(orelse, cst.Else):
        branches.append(_seq_defs(_body(orelse.body)))
    else:
        branches.append(_defs(orelse))
    return _meet(branches)


def _with_defs(stmt: cst.With) -> set[str]:
    out: set[str] = set()
    for item in stmt.items:
        out |= _with_item_names(item)
    return out


def _try_defs(stmt: cst.Try | cst.TryStar) -> set[str] | None:
    body = _seq_defs([*_body(stmt.body), *(_body(stmt.orelse.body) if stmt.orelse else [])])
    result = _meet([body, *(_seq_defs(_body(h.body)) for h in stmt.handlers)])
    if stmt.finalbody is None:
        return result
    final = _seq_defs(_body(stmt.finalbody.body))
    if final is _TOP:
        return _TOP
    return final if result is _TOP else result | final  # type: ignore[operator]


_DEFS: tuple[tuple[Any, Callable[[Any], set[str] | None]], ...] = (
    (cst.SimpleStatementLine, _line_defs),
    ((cst.FunctionDef, cst.ClassDef), lambda stmt: {stmt.name.value}),
    (cst.If, _if_defs),
    (cst.With, _with_defs),
    ((cst.Try, cst.TryStar), _try_defs),
)


def _meet(branches: Sequence[set[str] | None]) -> set[str] | None:
    live = [b for b in branches if b is not _TOP]
    if not live:
        return _TOP
    out = set(live[0])
    for b in live[1:]:
        out &= b
    return out


def _body(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(block, cst.IndentedBlock):
        return list(block.body)
    return [cst.SimpleStatementLine(body=list(block.body))]  # type: ignore[attr-defined]


def _seq_defs(stmts: Sequence[cst.BaseStatement]) -> set[str] | None:
    out: set[str] = set()
    for stmt in stmts:
        d = _defs(stmt)
        if d is _TOP:
            return _TOP
        out |= d
    return out


def _binds(name: str, stmts: Sequence[cst.BaseStatement]) -> bool:
    d = _seq_defs(stmts)
    return d is _TOP or name in d


def _header_names(stmt: cst.CSTNode, inner: cst.CSTNode) -> set[str]:
    """Names a compound statement binds before running its block ``inner``."""
    if isinstance(stmt, cst.For) and inner is stmt.body:
        return _target_names(stmt.target)
    if isinstance(stmt, cst.With) and inner is stmt.body:
        return _defs(stmt) or set()
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        for handler in stmt.handlers:
            if handler.body is inner and handler.name is not None:
                return _target_names(handler.name.name)
    return set()


def _binds_at(name: str, container: cst.IndentedBlock, lo: int, pos: int, inner: cst.CSTNode | None) -> bool:
    """Do statements ``lo:pos`` of ``container`` surely bind ``name``, or the header of
    statement ``pos`` (``for`` target, ``as`` name) around its block ``inner``?
    """
    if _binds(name, container.body[lo:pos]):
        return True
    return inner is not None and name in _header_names(container.body[pos], inner)


def _outputs(reads: list[_Event], run: _Run, written: set[str]) -> list[str]:
    """Names the run assigns that code after it may read."""
    outputs: list[str] = []
    for r in reads:
        if r.name in written and r.name not in outputs and run.read_later(r):
            outputs.append(r.name)
    return outputs


def _rank(cand: _Candidate) -> tuple[Any, ...]:
    """Best first: lowest score, then most complexity moved, fewest lines, first in the code."""
    return (cand.score, -cand.cc, cand.lines, cand.path, cand.start)


@dataclass
class _Run:
    """A candidate run as a range of preorder indexes, and the loops around it."""

    stmts: list[cst.BaseStatement]
    lo: int
    hi: int
    loop_ranges: list[tuple[int, int]]

    def contains(self, event: _Event) -> bool:
        return self.lo <= event.index <= self.hi

    def in_loop(self, index: int) -> bool:
        return any(a <= index <= b for a, b in self.loop_ranges)

    def may_follow(self, index: int) -> bool:
        """May code at ``index`` (outside the run) run after it: later, or in a loop around it?"""
        return index > self.hi or self.in_loop(index)

    def read_later(self, event: _Event) -> bool:
        """May this read see what the run assigned (a closure may run at any time)?"""
        if self.contains(event):
            return False
        return event.nested or self.may_follow(event.index)


@dataclass
class _Flow:
    """What goes into and comes out of a run; the checks may still move the receiver out."""

    inputs: list[str]
    outputs: list[str]
    written: set[str]
    reads_in: list[_Event]
    uses_receiver: bool = False


class Extractor:
    """Plans one extraction for one function."""

    def __init__(
        self,
        func: cst.FunctionDef,
        scopes: Any,
        position: Callable[[cst.CSTNode], CodeRange],
        in_class: bool,
        taken_names: set[str],
        cc: int,
        length: int,
        module_level: bool = True,
    ) -> None:
        self.module_level = module_level
        self.func = func
        self.position = position
        self.in_class = in_class
        self.taken = taken_names
        self.cc = cc
        self.length = length
        self.facts = function_facts(func, scopes, in_class)
        self.refusals: dict[str, int] = {}

    # -- data flow ---------------------------------------------------------

    def _refuse(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def _chain(self, node: cst.CSTNode) -> list[tuple[cst.IndentedBlock, int, cst.CSTNode | None]]:
        """(container, index, inner container) from the statement holding ``node`` up to the body."""
        ix = self.facts.index
        stmt: cst.CSTNode | None = node if node in ix.stmt_parent else ix.owner_stmt.get(node)
        while stmt is not None and stmt not in ix.stmt_parent:
            stmt = ix.parent.get(stmt)
        chain: list[tuple[cst.IndentedBlock, int, cst.CSTNode | None]] = []
        inner: cst.CSTNode | None = None
        while stmt is not None:
            container, pos = ix.stmt_parent[stmt]
            chain.append((container, pos, inner))
            inner = container
            owner = ix.block_owner.get(container)
            while owner is not None and owner not in ix.stmt_parent and owner is not self.facts.func:
                owner = ix.parent.get(owner)
            if owner is None or owner is self.facts.func:
                break
            stmt = owner
        return chain

    def _bound_before(
        self, name: str, node: cst.CSTNode, stop: tuple[cst.IndentedBlock, int] | None = None
    ) -> bool:
        """Is ``name`` surely bound when the statement holding ``node`` runs?

        Only statements before it in its block and the enclosing blocks count (and ``for``
        targets, ``with ... as`` and ``except ... as`` around it). With ``stop`` (container,
        start), only code from statement ``start`` of that container inwards counts: "bound by
        the run itself before this read".
        """
        if stop is None and name in self._known_facts().params:
            return True
        stop_block, stop_start = stop if stop is not None else (None, 0)
        for container, pos, inner in self._chain(node):
            at_stop = container is stop_block
            if _binds_at(name, container, stop_start if at_stop else 0, pos, inner):
                return True
            if at_stop:
                return False
        return False

    def _known_facts(self) -> _Facts:
        """The facts, for code that only runs once :meth:`plan` has checked there are some."""
        if self.facts is None:
            raise RuntimeError(f"{self.func.name.value}: no function body to analyse")
        return self.facts

    def _ancestry(self, node: cst.CSTNode) -> Iterator[tuple[cst.CSTNode, cst.CSTNode | None]]:
        """(node, parent) from ``node`` up to the function's body."""
        facts = self._known_facts()
        current: cst.CSTNode | None = node
        while current is not None and current is not facts.func:
            parent = facts.index.parent.get(current)
            yield current, parent
            current = parent

    def _analyse(self, cand: _Candidate) -> str | None:
        """Why ``cand`` cannot be extracted, or None after filling in its inputs and outputs."""
        facts = self._known_facts()
        stmts = list(cand.container.body[cand.start:cand.stop])
        problem, has_return, is_async = _flow_problems(stmts, cand.tail, facts.is_generator)
        if problem:
            return problem
        cand.tail = cand.tail and has_return
        cand.is_async = is_async
        if facts.declared_outer & _stored_names(stmts):
            return "write to a global/nonlocal name"

        run = self._run(cand, stmts)
        flow = self._data_flow(cand, run)
        checks = (self._closure_problem, self._receiver_problem, self._unbound_problem, self._output_problem)
        for check in checks:
            problem = check(cand, run, flow)
            if problem:
                return problem
        cand.inputs = tuple(flow.inputs)
        cand.outputs = tuple(flow.outputs)
        cand.uses_receiver = flow.uses_receiver
        return None

    def _run(self, cand: _Candidate, stmts: list[cst.BaseStatement]) -> _Run:
        span = self._known_facts().index.span
        # loops around the run: a read anywhere in them may come after the run
        loops = [span[node] for node, _ in self._ancestry(cand.container) if isinstance(node, (cst.For, cst.While))]
        return _Run(stmts, span[stmts[0]][0], span[stmts[-1]][1], loops)

    def _data_flow(self, cand: _Candidate, run: _Run) -> _Flow:
        facts = self._known_facts()
        reads_in = [r for r in facts.reads if run.contains(r)]
        written = {w.name for w in facts.writes if run.contains(w)}
        inputs = self._inputs(cand, run, reads_in)
        # a tail call returns what the function returned: nothing flows out
        outputs = [] if cand.tail else _outputs(facts.reads, run, written)
        for name in outputs:
            if not _binds(name, run.stmts) and name not in inputs:
                inputs.append(name)  # assigned only on some paths: pass the old value in
        return _Flow(inputs, outputs, written, reads_in)

    def _inputs(self, cand: _Candidate, run: _Run, reads_in: list[_Event]) -> list[str]:
        """Names read in the run before it binds them, and names of enclosing functions."""
        stop = (cand.container, cand.start)
        inputs: list[str] = []
        for r in reads_in:
            if r.name not in inputs and not self._bound_before(r.name, r.node, stop):
                inputs.append(r.name)
        for r in self._known_facts().enclosing_reads:
            if run.contains(r) and r.name not in inputs:
                inputs.append(r.name)
        return inputs

    def _closure_problem(self, cand: _Candidate, run: _Run, flow: _Flow) -> str | None:
        """Closures must see the function's variables, not the helper's copies."""
        facts = self._known_facts()
        touched = flow.written | {x.name for x in flow.reads_in}
        if any(w.nested and w.name in touched for w in facts.writes):
            return "name rebound by a nested function (nonlocal)"
        for r in facts.reads:
            problem = self._closure_read_problem(r, run, flow) if r.nested else None
            if problem:
                return problem
        return None

    def _closure_read_problem(self, read: _Event, run: _Run, flow: _Flow) -> str | None:
        """A read in a nested function: which copy of the variable would it see?"""
        if not run.contains(read):
            return "name shared with a closure outside the block" if read.name in flow.written else None
        if self._rebound_after(read.name, run):
            return "closure in the block sees a name changed later"
        return None

    def _rebound_after(self, name: str, run: _Run) -> bool:
        writes = self._known_facts().writes
        return any(w.name == name and not run.contains(w) and run.may_follow(w.index) for w in writes)

    def _receiver_problem(self, cand: _Candidate, run: _Run, flow: _Flow) -> str | None:
        """A run using ``self``/``cls`` or ``super()`` needs a method helper called through it."""
        facts = self._known_facts()
        receiver = facts.receiver
        if receiver is not None and receiver in flow.inputs:
            flow.inputs.remove(receiver)
            flow.uses_receiver = True
        if _uses_super(run.stmts):
            if facts.method_kind not in ("method", "classmethod") or receiver is None:
                return "zero-argument super() outside a method"
            flow.uses_receiver = True
        if self.in_class and receiver is None:
            return "staticmethod, or a method that rebinds its first argument"
        return None

    def _unbound_problem(self, cand: _Candidate, run: _Run, flow: _Flow) -> str | None:
        """Each input is passed at the call, so it must surely be bound there."""
        enclosing = {e.name for e in self._known_facts().enclosing_reads}
        first = cand.container.body[cand.start]
        for name in flow.inputs:
            if name not in enclosing and not self._bound_before(name, first):
                return f"input '{name}' may be unbound"
        return None

    def _output_problem(self, cand: _Candidate, run: _Run, flow: _Flow) -> str | None:
        """If the run raised halfway, a handler or a suppressing ``with`` would see old values."""
        if not flow.outputs:
            return None
        for node, parent in self._ancestry(cand.container):
            if isinstance(parent, (cst.Try, cst.TryStar)) and node is parent.body:
                return "outputs assigned inside a try body"
            if isinstance(parent, cst.With) and node is parent.body:
                return "outputs assigned inside a with body"
        return None

    # -- search ------------------------------------------------------------

    def candidates(self, metric: str) -> list[_Candidate]:
        if self.facts is None:
            return []
        out = [
            cand
            for block, path, tail, _ancestors in _containers(self.func)
            for cand in self._block_candidates(block, path, tail, metric)
        ]
        out.sort(key=_rank)
        return out

    def _block_candidates(
        self, block: cst.IndentedBlock, path: _Path, tail: bool, metric: str
    ) -> Iterator[_Candidate]:
        """Every run of ``block`` worth extracting for ``metric``, with its estimated score."""
        body = list(block.body)
        ccs = [statement_cc(s) for s in body]
        for i in range(len(body)):
            for j in range(i + 1, len(body) + 1):
                if block is self.func.body and i == 0 and j == len(body):
                    continue  # the whole body: nothing gained
                cand = _Candidate(block, path, i, j, tail=tail and j == len(body))
                cand.cc = sum(ccs[i:j])
                cand.lines = self.position(body[j - 1]).end.line - self.position(body[i]).start.line + 1
                est = self._estimate(cand, metric)
                if est is not None:
                    cand.score = est
                    yield cand

    def _estimate(self, cand: _Candidate, metric: str) -> float | None:
        if metric == "cc":
            if cand.cc < 1:
                return None
            new_func, helper = self.cc - cand.cc, cand.cc + 1
            if not (new_func < self.cc and helper < self.cc):
                return None
            return float(max(new_func, helper))
        new_func, helper = self.length - cand.lines + 1, cand.lines + 2
        if cand.lines < 2 or not (new_func < self.length and helper < self.length):
            return None
        return float(max(new_func, helper))

    def plan(self, metric: str) -> Plan | None:
        if self.facts is None:
            return None
        ranked = self.candidates(metric)
        analysed: list[_Candidate] = []
        for cand in ranked:
            if len(analysed) >= VERIFY_LIMIT and cand.score > analysed[VERIFY_LIMIT - 1].score:
                break  # penalties only add: nothing further can rank among the best
            reason = self._analyse(cand)
            if reason is not None:
                self._refuse(reason)
                continue
            cand.score += PENALTY_PER_NAME * (len(cand.inputs) + len(cand.outputs))
            analysed.append(cand)
            analysed.sort(key=_rank)
        analysed.sort(key=_rank)
        for cand in analysed[:VERIFY_LIMIT]:
            plan = self._verify(cand, metric)
            if plan is not None:
                return plan
        return None

    def _helper_name(self, cand: _Candidate) -> str:
        base = self.func.name.value.lstrip("_") or "func"
        if cand.outputs:
            part = cand.outputs[0].lstrip("_") or "part"
        elif cand.tail:
            part = "rest"
        else:
            part = "part"
        name = f"_{base}_{part}"
        k = 2
        while name in self.taken:
            name = f"_{base}_{part}{k}"
            k += 1
        return name

    def _verify(self, cand: _Candidate, metric: str) -> Plan | None:
        """The plan for ``cand`` if radon agrees that both functions come out better."""
        shape = self._helper_shape(cand)
        if shape is None:
            return None
        kind, receiver = shape
        plan = Plan(
            container_path=cand.path, start=cand.start, stop=cand.stop,
            inputs=cand.inputs, outputs=cand.outputs, helper_name=self._helper_name(cand),
            is_async=cand.is_async, tail=cand.tail, kind=kind, receiver=receiver,
            module_level=self.module_level,
            def_col=self.position(self.func).start.column,
            call_col=self.position(cand.container.body[cand.start]).start.column,
            before=(self.cc, self.length), after=(0, 0), helper=(0, 0),
        )
        measured = self._measure(plan)
        if measured is None:
            return None
        f, h = measured
        if not self._improves(f, h, metric):
            return None
        return replace(plan, after=(f.complexity, f.length), helper=(h.complexity, h.length))

    def _helper_shape(self, cand: _Candidate) -> tuple[str, str | None] | None:
        """(helper kind, receiver to call it through); None when there is no safe way."""
        if not self.in_class:
            return "function", None
        facts = self._known_facts()
        receiver = facts.receiver if facts.method_kind != "static" else None
        if receiver is None:
            return None  # a staticmethod would need the class name: not worth the risk
        if not cand.uses_receiver:
            return "static", receiver
        return ("classmethod" if facts.method_kind == "classmethod" else "method"), receiver

    def _measure(self, plan: Plan) -> tuple[Any, Any] | None:
        """radon's blocks of the rewritten function and of the helper."""
        built = _build(self.func, plan)
        if built is None:
            return None
        new_func, helper = built
        code = cst.Module(body=[new_func.with_changes(leading_lines=[]), helper]).code
        try:
            blocks = {b.name: b for b in complexity.measure(code, "<extract>", closures=False)}
        except complexity.ComplexityError:
            return None
        f, h = blocks.get(new_func.name.value), blocks.get(plan.helper_name)
        if f is None or h is None:
            return None
        return f, h

    def _improves(self, f: Any, h: Any, metric: str) -> bool:
        """Both strictly below the original: repeated fixing always terminates."""
        if metric == "cc":
            return f.complexity < self.cc and h.complexity < self.cc
        return f.length < self.length and h.length < self.length


# --------------------------------------------------------------------------
# building the code
# --------------------------------------------------------------------------


def _name_list(names: Sequence[str]) -> cst.BaseExpression:
    if len(names) == 1:
        return cst.Name(names[0])
    return cst.Tuple([cst.Element(cst.Name(n)) for n in names], lpar=[], rpar=[])


def _strip_blank(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    out = list(lines)
    while out and out[0].comment is None:
        out.pop(0)
    return out


MAX_LINE = 99


def _wrapped_call(head: str, args: Sequence[str], col: int, tail: str = "") -> str:
    """``head(a, b)tail``, wrapped black-style when the line would pass ``MAX_LINE``."""
    one = f"{head}({', '.join(args)}){tail}"
    if col + len(one) <= MAX_LINE or not args:
        return one
    # libcst re-adds the block's indentation to continuation lines: spaces here are relative
    inner = " " * 4
    joined = ", ".join(args)
    if col + 4 + len(joined) <= MAX_LINE:
        body = inner + joined
    else:
        body = ",\n".join(inner + a for a in args) + ","
    return f"{head}(\n{body}\n){tail}"


def _build(func: cst.FunctionDef, plan: Plan) -> tuple[cst.FunctionDef, cst.FunctionDef] | None:
    """(rewritten function, helper) for ``plan``; None if its block is no longer there."""
    block = _resolve(func, plan.container_path)
    if block is None or plan.stop > len(block.body):
        return None
    stmts = list(block.body[plan.start:plan.stop])
    first = stmts[0]
    # comments above the run describe it: they stay above the call; blank lines too
    moved = [first.with_changes(leading_lines=[]), *stmts[1:]]
    if plan.outputs:
        moved.append(cst.SimpleStatementLine([cst.Return(_name_list(plan.outputs))]))
    helper = _helper_def(plan, moved)
    lead = list(first.leading_lines)
    blanks = [ln for ln in lead if ln.comment is None]
    comments = [ln for ln in lead if ln.comment is not None]
    call_stmt = _call_statement(plan, [*blanks, *comments])
    new_block = block.with_changes(body=[*block.body[:plan.start], call_stmt, *block.body[plan.stop:]])
    new_func = cst.ensure_type(func.deep_replace(block, new_block), cst.FunctionDef)
    return new_func, helper


_HELPER_DECORATOR = {"classmethod": "classmethod", "static": "staticmethod"}


def _helper_def(plan: Plan, body: list[cst.BaseStatement]) -> cst.FunctionDef:
    params = list(plan.inputs)
    if plan.kind in ("method", "classmethod"):
        if plan.receiver is None:
            raise ValueError(f"{plan.kind} helper {plan.helper_name}() needs a receiver")
        params.insert(0, plan.receiver)
    decorator = _HELPER_DECORATOR.get(plan.kind)
    head = f"{'async ' if plan.is_async else ''}def {plan.helper_name}"
    template = cst.parse_statement(_wrapped_call(head, params, plan.def_col, ":") + "\n    pass\n")
    return cst.ensure_type(template, cst.FunctionDef).with_changes(
        body=cst.IndentedBlock(body=body),
        decorators=[cst.Decorator(cst.Name(decorator))] if decorator else [],
        leading_lines=[cst.EmptyLine(indent=False)] * (2 if plan.module_level else 1),
    )


def _call_statement(plan: Plan, leading_lines: list[cst.EmptyLine]) -> cst.SimpleStatementLine:
    """``return helper(...)``, ``a, b = helper(...)`` or ``helper(...)``, awaited if async."""
    target = plan.helper_name
    if plan.receiver is not None and plan.kind != "function":
        target = f"{plan.receiver}.{plan.helper_name}"
    prefix = ""
    if plan.tail:
        prefix = "return "
    elif plan.outputs:
        prefix = ", ".join(plan.outputs) + " = "
    if plan.is_async:
        prefix += "await "
    text = _wrapped_call(prefix + target, list(plan.inputs), plan.call_col)
    parsed = cst.ensure_type(cst.parse_statement(text + "\n"), cst.SimpleStatementLine)
    return cst.SimpleStatementLine([parsed.body[0]], leading_lines=leading_lines)


def describe(plan: Plan) -> str:
    what = {"function": "function", "method": "method", "classmethod": "classmethod", "static": "staticmethod"}[plan.kind]
    return f"extract statements into {'async ' if plan.is_async else ''}{what} {plan.helper_name}()"


def collect_names(module: cst.Module) -> set[str]:
    names: set[str] = set()

    class Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.add(node.value)

    visit(module, Names())
    return names


def radon_blocks(tree: ast.Module) -> list[Any]:
    """radon's function/method blocks of ``tree`` (closures included), once per tree."""
    from radon.complexity import add_inner_blocks, cc_visit_ast
    from radon.visitors import Function

    try:
        return [b for b in add_inner_blocks(cc_visit_ast(tree)) if isinstance(b, Function)]
    except RecursionError:
        return []


_DECISIONS = (
    ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.BoolOp, ast.Match,
    ast.comprehension, ast.Assert,
)


def _increment(node: ast.AST) -> tuple[int, int]:
    """(line, at least what radon adds for ``node``) — radon's own increments, see its visitor."""
    if isinstance(node, ast.comprehension):
        return node.target.lineno, 1 + len(node.ifs)
    if isinstance(node, ast.Try):
        return node.lineno, len(node.handlers) + bool(node.orelse)
    if isinstance(node, ast.BoolOp):
        return node.lineno, len(node.values) - 1
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return node.lineno, 1 + bool(node.orelse)
    if isinstance(node, ast.Match):
        return node.lineno, len(node.cases)
    return node.lineno, 1  # type: ignore[attr-defined]


def upper_bounds(tree: ast.Module, metric: str) -> list[int]:
    """Per function, a number radon's cannot exceed, from the ``ast`` index alone: complexity is
    1 + radon's increments of every decision on the function's lines (radon counts only those
    of its body); length is its span (radon's end is the last line a body node starts on)."""
    functions = index(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    if metric != "cc":
        return [(f.end_lineno or f.lineno) - f.lineno + 1 for f in functions]
    marks = sorted(_increment(n) for n in index(tree).nodes(*_DECISIONS))
    lines = [line for line, _ in marks]
    totals = [0, *itertools.accumulate(inc for _, inc in marks)]
    return [
        1 + totals[bisect.bisect_right(lines, f.end_lineno or f.lineno)] - totals[bisect.bisect_left(lines, f.lineno)]
        for f in functions
    ]


def offending_blocks(tree: Any, metric: str, limit: int) -> bool:
    """Whether radon finds a function/method over ``limit`` in ``tree`` (Python ast)."""
    if tree is None or all(bound <= limit for bound in per_tree(upper_bounds, tree, metric)):
        return False  # no function can be over the limit: radon need not run
    for block in per_tree(radon_blocks, tree):
        value = block.complexity if metric == "cc" else block.endline - block.lineno + 1
        if value > limit:
            return True
    return False


def _defs_in_order(tree: ast.AST) -> list[tuple[Any, str]]:
    """Every ``def`` in source order with its dotted scope (enclosing classes/functions, itself).

    A ``def`` is a statement, so only statement blocks are walked (never expressions)."""
    out: list[tuple[Any, str]] = []

    def scan(body: Sequence[ast.stmt], prefix: str) -> None:
        for stmt in body:
            scope = prefix
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                scope = f"{prefix}.{stmt.name}" if prefix else stmt.name
                if not isinstance(stmt, ast.ClassDef):
                    out.append((stmt, scope))
            for block in _statement_blocks(stmt):
                scan(block, scope)

    scan(tree.body, "")  # type: ignore[attr-defined]
    return sorted(out, key=lambda item: (item[0].lineno, item[0].col_offset))


def _statement_blocks(stmt: ast.stmt) -> Iterator[Sequence[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list):
            yield block
    for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
        yield part.body


def radon_functions(tree: Any) -> dict[int, Any]:
    """radon's function/method blocks of ``tree`` keyed by the function's ordinal in source order.

    libcst visits ``def``s in source order too, so the n-th ``FunctionDef`` visited is the n-th
    here: no position metadata is needed to pair them.
    """
    if tree is None:
        return {}
    defs = index(tree).in_source_order(ast.FunctionDef, ast.AsyncFunctionDef)
    ordinal = {(n.lineno, n.col_offset): i for i, n in enumerate(defs)}
    return {
        ordinal[(b.lineno, b.col_offset)]: b
        for b in per_tree(radon_blocks, tree)
        if (b.lineno, b.col_offset) in ordinal
    }


# --------------------------------------------------------------------------
# the shared rule
# --------------------------------------------------------------------------


class ExtractRule(Rule):
    """Base of WS301/WS302: flag functions over a radon limit, fix by extracting a block."""

    metric: ClassVar[str] = "cc"
    option_name: ClassVar[str] = "max-cc"
    # Scopes and positions are resolved only when a fix is built (see ``_plan_into``).

    @classmethod
    def limit_from(cls, options: Mapping[str, Any]) -> int:
        default = next(o.default for o in cls.options if o.name == cls.option_name)
        return int(options.get(cls.option_name, default))

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        if tree is None:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError):
                return False
        return offending_blocks(tree, cls.metric, cls.limit_from(options))

    @classmethod
    def ast_reports(
        cls, tree: ast.Module, text: str, options: Mapping[str, Any]
    ) -> list[AstReport] | None:
        """A plain check needs only radon's numbers: no libcst parse, no scopes, no positions."""
        limit = cls.limit_from(options)
        defs = per_tree(_defs_in_order, tree)
        out = []
        for index, block in radon_functions(tree).items():
            value = int(block.complexity) if cls.metric == "cc" else int(block.endline - block.lineno + 1)
            if value <= limit:
                continue
            node, scope = defs[index]
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            out.append(
                AstReport(
                    line=node.lineno, column=node.col_offset + 1, end_line=end,
                    end_column=(node.end_col_offset or 0) + 1,
                    message=cls.message(cls, node.name, block, limit),  # type: ignore[arg-type]
                    fixable=True, stmt_line=first, stmt_end_line=end, context=f"{scope}:def {node.name}",
                )
            )
        return out

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._radon: dict[int, Any] | None = None
        self._names: set[str] | None = None
        self._ordinal = -1

    def _functions(self) -> dict[int, Any]:
        if self._radon is None:
            tree = self.ctx.tree if self.ctx.tree is not None else ast.parse(self.ctx.module.code)
            self._radon = radon_functions(tree)
        return self._radon

    def _value(self, block: Any) -> int:
        return int(block.complexity) if self.metric == "cc" else int(block.endline - block.lineno + 1)

    def message(self, name: str, block: Any, limit: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._ordinal += 1
        block = self._functions().get(self._ordinal)
        limit = self.limit_from(self.opts)
        if block is None or self._value(block) <= limit:
            return
        anc = self.ctx.ancestors
        in_class = len(anc) >= 3 and isinstance(anc[-3], cst.ClassDef)
        module_level = len(anc) == 2 and isinstance(anc[0], cst.Module)
        message = self.message(node.name.value, block, limit)
        # Planning an extraction costs far more than detection (scopes, a walk per candidate
        # block): it is done only when the fix is applied or its edits are reported.
        fix = Fix(
            FixSafety.UNSAFE, "extract method",
            build=lambda f: self._plan_into(f, node, block, in_class, module_level),
        )
        self._report(node, message, fix)

    def _extractor(self, node: cst.FunctionDef, block: Any, in_class: bool, module_level: bool) -> Extractor:
        if self._names is None:
            self._names = collect_names(self.ctx.module)
        positions = self.ctx.metadata_for(PositionProvider)
        return Extractor(
            node, self.ctx.metadata_for(ScopeProvider), positions.__getitem__,
            in_class, self._names, int(block.complexity), int(block.endline - block.lineno + 1),
            module_level=module_level,
        )

    def _plan_into(
        self, fix: Fix, node: cst.FunctionDef, block: Any, in_class: bool, module_level: bool
    ) -> None:
        plan = self._extractor(node, block, in_class, module_level).plan(self.metric)
        if plan is None:
            fix.description = "no safe extraction remains"
            return
        plan = replace(plan, placement=str(self.opts.get("helper-placement", "after")))
        if self._names is not None:
            self._names.add(plan.helper_name)
        numbers = (
            f"CC {plan.before[0]} -> {plan.after[0]} + helper {plan.helper[0]}"
            if self.metric == "cc"
            else f"{plan.before[1]} lines -> {plan.after[1]} + helper {plan.helper[1]}"
        )
        fix.description = f"{describe(plan)} ({numbers})"
        fix.replacements = {node: plan.apply}

    def _report(self, node: cst.FunctionDef, message: str, fix: Fix | None) -> None:
        # Reported on the ``def`` line; the statement (suppression comments, the span a fix may
        # touch) starts at the first decorator, where a helper placed before the function goes.
        stmt = node.decorators[0] if node.decorators else node
        self.reports.append(Report(node, message, fix, stmt=stmt, scope=self.ctx.scope_name()))


PLACEMENT_OPTION = Option(
    "helper-placement", str, "after", 'Where the extracted helper goes: "before" or "after" the function.'
)
