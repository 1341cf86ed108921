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

import bisect
import keyword
import re
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Protocol

import libcst as cst
import libcst.helpers
from libcst.metadata import (
    Assignment,
    CodeRange,
    FunctionScope,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from wsrefactor import complexity
from wsrefactor.compat.libcst import read_only_visits
from wsrefactor.walk import children, visit

PENALTY_PER_NAME = 0.5  # score cost of one more input or output
PENALTY_PER_UNTYPED = 1.0  # in annotated code, an input or output whose type is not known
VERIFY_LIMIT = 12  # candidates verified with radon before giving up
ANALYSE_LIMIT = 300  # candidates analysed per step at most (keeps planning near-linear)
MAX_OUTPUTS = 3  # a helper returning more values than this is not one a reviewer would keep
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
    annotations: tuple[str | None, ...] = ()  # per input (None: unannotated)
    kwonly: frozenset[str] = frozenset()  # inputs keyword-only in the function: keyword-only here
    returns: str | None = None  # the helper's return annotation
    skips: bool = False  # the run ``continue``s its loop: the helper returns True there (dispatch)

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
    skips: bool = False  # a dispatch branch: ``continue`` of the loop around it may become ``return True``


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
    read_keys: list[int] = field(default_factory=list)  # ``reads``' indexes, for bisect
    write_keys: list[int] = field(default_factory=list)
    reads_by_name: dict[str, list[_Event]] = field(default_factory=dict)


def _between(events: list[_Event], keys: list[int], lo: int, hi: int) -> list[_Event]:
    """The events (sorted by index, ``keys`` their indexes) with ``lo <= index <= hi``."""
    return events[bisect.bisect_left(keys, lo):bisect.bisect_right(keys, hi)]


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


_NESTED_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


def _walk_own(nodes: Sequence[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    """Every node of ``nodes`` in visiting order (pre-order), without entering nested functions,
    lambdas or classes (a root is entered whatever it is). An explicit stack, no visitor: the
    planner walks each function's statements several times per step."""
    found: list[cst.CSTNode] = []
    for root in nodes:
        stack = [root]
        while stack:
            node = stack.pop()
            if node is not root and isinstance(node, _NESTED_SCOPES):
                continue
            found.append(node)
            stack.extend(reversed(children(node)))
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


def function_facts(
    func: cst.FunctionDef, scopes: Any, in_class: bool, enclosing: frozenset[str] = frozenset()
) -> _Facts | None:
    """Reads, writes and shape of ``func``; ``scopes`` maps nodes to libcst scopes.

    ``enclosing``: names local to the functions around ``func`` when ``func`` is analysed on its
    own (out of its module), where libcst cannot link its reads of them.
    """
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
    own = {a.name for a in scope.assignments}
    aug_reads = _collect_statement_facts(facts, body_nodes)  # one walk: declared_outer, yields, ``x += 1``
    _ReadCollector(facts, own - facts.declared_outer, enclosing).collect(scopes)
    facts.reads.extend(aug_reads)  # after libcst's accesses, as before (the sort below is stable)
    facts.reads.sort(key=lambda e: e.index)
    facts.writes.sort(key=lambda e: e.index)
    facts.read_keys = [e.index for e in facts.reads]
    for e in facts.reads:
        facts.reads_by_name.setdefault(e.name, []).append(e)
    facts.write_keys = [e.index for e in facts.writes]
    if in_class:
        _method_shape(facts)
    return facts


def _collect_writes(facts: _Facts) -> None:
    """Parameters, and every binding of the function's names (those in nested scopes flagged)."""
    index = facts.index
    for assignment in facts.scope.assignments:
        if not isinstance(assignment, Assignment):
            continue  # builtins: never in a function's scope
        node = assignment.node
        if isinstance(node, cst.Param):
            facts.params.add(assignment.name)
        elif node in index.span:
            nested = _in_nested(node, index, facts.func)
            facts.writes.append(_Event(assignment.name, node, index.span[node][0], nested))


@dataclass
class _ReadCollector:
    """Sorts the name accesses in the function into its own reads and reads of enclosing functions.

    Python makes a name local to the function if it is bound anywhere in it; libcst links an
    access only to bindings before it, so a read earlier in a loop has no referents.
    """

    facts: _Facts
    own_names: set[str]
    enclosing: frozenset[str] = frozenset()

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
        self._is_within_2(access, sc, node, event)

    def _is_within_2(self, access: Any, sc: Scope, node: Any, event: _Event) -> None:
        referents = access.referents
        scope = self.facts.scope
        if any(r.scope is scope for r in referents) or self._unlinked_local(sc, node.value, referents):
            self.facts.reads.append(event)
        elif any(isinstance(r.scope, FunctionScope) and not _is_within(r.scope, scope) for r in referents):
            self.facts.enclosing_reads.append(event)
        elif node.value in self.enclosing and not any(_is_within(r.scope, scope) for r in referents):
            self.facts.enclosing_reads.append(event)

    def _unlinked_local(self, sc: Scope, name: str, referents: Any) -> bool:
        """A read of a function local that libcst linked to nothing (bound only further on)."""
        if referents or name not in self.own_names:
            return False
        return name not in {a.name for a in _scope_chain_assignments(sc, self.facts.scope)}


def _collect_statement_facts(facts: _Facts, body_nodes: Sequence[cst.CSTNode]) -> list[_Event]:
    """What libcst's scopes do not say: global/nonlocal (the names the function does not own),
    generators, and (returned) ``x += 1`` reading x."""
    reads: list[_Event] = []
    for node in _walk_own(body_nodes):
        if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
            reads.append(_Event(node.target.value, node.target, facts.index.span[node.target][0]))
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            facts.declared_outer.update(n.name.value for n in node.names)
        elif isinstance(node, cst.Yield):
            facts.is_generator = True
    return reads


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
    handlers: Sequence[cst.ExceptHandler | cst.ExceptStarHandler] = stmt.handlers
    for k, handler in enumerate(handlers):
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

    code = cst.Module(body=[_as_module_statement(stmt)]).code
    value = ComplexityVisitor.from_code(code).complexity - 1
    if len(_CC_CACHE) > 20000:
        _CC_CACHE.clear()
    _CC_CACHE[id(stmt)] = (stmt, value)
    return value


@dataclass(frozen=True)
class _StatementFlow:
    """What one statement does that matters to a run holding it (computed once per statement)."""

    problem: str | None  # refusal reason other than return
    has_return: bool
    is_async: bool
    stored: frozenset[str]  # names it binds in the function's scope
    uses_super: bool  # zero-argument super() or __class__
    continues: bool = False  # ``continue`` of a loop around the statement
    besides_continue: str | None = None  # ``problem`` when such a ``continue`` is allowed


_FLOW_CACHE: dict[int, tuple[cst.CSTNode, _StatementFlow]] = {}


def _flow_problems(
    stmts: Sequence[cst.BaseStatement], tail: bool, generator: bool, skips: bool = False
) -> tuple[str | None, bool, bool]:
    """(refusal reason, has return, is async) for a run, looking only at its own code; with
    ``skips`` a ``continue`` of the loop around the run is no problem (see ``_skip_statement``)."""
    problem: str | None = None
    has_return = is_async = False
    for stmt in stmts:
        flow = _cached_statement_flow(stmt)
        problem = problem or (flow.besides_continue if skips else flow.problem)
        has_return = has_return or flow.has_return
        is_async = is_async or flow.is_async
    if problem is None and has_return:
        problem = _return_problem(tail, generator)
    return problem, has_return, is_async


def _run_stored(stmts: Sequence[cst.BaseStatement]) -> set[str]:
    """Every name the run binds in its own scope (from each statement's cached walk)."""
    out: set[str] = set()
    for stmt in stmts:
        out |= _cached_statement_flow(stmt).stored
    return out


def _run_uses_super(stmts: Sequence[cst.BaseStatement]) -> bool:
    return any(_cached_statement_flow(stmt).uses_super for stmt in stmts)


def _return_problem(tail: bool, generator: bool) -> str | None:
    """Why a run containing ``return`` cannot be extracted (None: the call can return it)."""
    if generator:
        return "return in a generator"
    if not tail:
        return "return in the middle of the function"
    return None


def _by_identity(cache: dict[int, tuple[Any, Any]], key: Any, limit: int, compute: Callable[[Any], Any]) -> Any:
    """``compute(key)`` memoized by the object's identity (the object is kept in the cache so its
    id cannot be reused by another); the cache is emptied past ``limit`` entries."""
    cached = cache.get(id(key))
    if cached is not None and cached[0] is key:
        return cached[1]
    if len(cache) > limit:
        cache.clear()
    value = compute(key)
    cache[id(key)] = (key, value)
    return value


def _cached_statement_flow(stmt: cst.BaseStatement) -> _StatementFlow:
    # runs overlap: each statement is walked once
    flow: _StatementFlow = _by_identity(_FLOW_CACHE, stmt, 20000, _statement_flow)
    return flow


def _statement_flow(stmt: cst.BaseStatement) -> _StatementFlow:
    walker = _FlowWalker()
    visit(stmt, walker)
    return _StatementFlow(
        walker.problem, walker.has_return, walker.is_async, frozenset(walker.stored), walker.uses_super,
        walker.continues, walker.besides_continue,
    )


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
        self.stored: set[str] = set()
        self.uses_super = False
        self.continues = False
        self.besides_continue: str | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if not self.nested:
            self.stored |= _names_bound_by(node)
            if isinstance(node, cst.Name) and node.value == "__class__":
                self.uses_super = True
            elif isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Name):
                self.uses_super = self.uses_super or node.func.value == "super"
        return super().on_visit(node)

    def _flag(self, problem: str, is_continue: bool = False) -> None:
        self.problem = self.problem or problem
        if not is_continue:
            self.besides_continue = self.besides_continue or problem

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
            self.continues = True
            self._flag("continue of an enclosing loop", is_continue=True)

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


_DEFS_CACHE: dict[int, tuple[cst.CSTNode, frozenset[str] | None]] = {}


def _defs(stmt: cst.BaseStatement) -> set[str] | None:
    """Names surely bound when control leaves ``stmt`` normally (None: it never does).

    Cached per statement: every candidate run asks about the same statements again."""
    cached = _DEFS_CACHE.get(id(stmt))
    if cached is not None and cached[0] is stmt:
        return set(cached[1]) if cached[1] is not None else _TOP
    if len(_DEFS_CACHE) > 20000:
        _DEFS_CACHE.clear()
    out: set[str] | None = set()
    for types, defs in _DEFS:
        if isinstance(stmt, types):
            out = defs(stmt)
            break
    _DEFS_CACHE[id(stmt)] = (stmt, frozenset(out) if out is not None else None)
    return out


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
    suite = cst.ensure_type(block, cst.SimpleStatementSuite)  # the only other suite
    return [cst.SimpleStatementLine(body=list(suite.body))]


def _as_module_statement(stmt: cst.BaseStatement) -> cst.SimpleStatementLine | cst.BaseCompoundStatement:
    """``stmt`` typed as a module accepts it (every statement is one of the two)."""
    return cst.ensure_type(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement))  # type: ignore[arg-type]


def _leading(stmt: cst.CSTNode) -> Sequence[cst.EmptyLine]:
    """The blank and comment lines above a statement (every statement kind has them)."""
    if isinstance(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return stmt.leading_lines
    return ()


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


@dataclass
class _BlockDefs:
    """For one block: which statements surely bind each name, and which never complete, so
    "do statements lo:pos bind x?" is two binary searches instead of a walk."""

    by_name: dict[str, list[int]]
    tops: list[int]

    def binds(self, name: str, lo: int, pos: int) -> bool:
        for indexes in (self.by_name.get(name, ()), self.tops):
            k = bisect.bisect_left(indexes, lo)  # type: ignore[arg-type]
            if k < len(indexes) and indexes[k] < pos:  # type: ignore[arg-type]
                return True
        return False


_BLOCK_DEFS: dict[int, tuple[cst.CSTNode, _BlockDefs]] = {}


def _block_defs(block: cst.IndentedBlock) -> _BlockDefs:
    cached = _BLOCK_DEFS.get(id(block))
    if cached is not None and cached[0] is block:
        return cached[1]
    if len(_BLOCK_DEFS) > 5000:
        _BLOCK_DEFS.clear()
    by_name: dict[str, list[int]] = {}
    tops: list[int] = []
    for i, stmt in enumerate(block.body):
        d = _defs(stmt)
        if d is _TOP:
            tops.append(i)
            continue
        for name in d:  # type: ignore[union-attr]
            by_name.setdefault(name, []).append(i)
    result = _BlockDefs(by_name, tops)
    _BLOCK_DEFS[id(block)] = (block, result)
    return result


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
    if _block_defs(container).binds(name, lo, pos):
        return True
    return inner is not None and name in _header_names(container.body[pos], inner)


def _outputs(
    reads: Mapping[str, list[_Event]], run: _Run, written: set[str], rebound: Callable[[_Event], bool]
) -> list[str]:
    """Names the run assigns that code after it may read (and that is not bound again first)."""
    first: list[tuple[int, str]] = []
    for name in written:
        for r in reads.get(name, ()):
            if run.read_later(r) and not rebound(r):
                first.append((r.index, name))
                break
    return [name for _, name in sorted(first)]


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
        taken_names: _Names,
        cc: int,
        length: int,
        module_level: bool = True,
        enclosing: frozenset[str] = frozenset(),
        budget: PlanningBudget | None = None,
        def_col: int = 0,
        types: _Types | None = None,
        prefix: str = "_",
        inherited: frozenset[str] = frozenset(),
    ) -> None:
        self.prefix = prefix
        self.inherited = inherited  # attribute chains narrowed where this (helper) function is called
        self.module_level = module_level
        self.func = func
        self.position = position
        self.in_class = in_class
        self.taken = taken_names
        self.cc = cc
        self.length = length
        self.budget = budget
        self.def_col = def_col
        self.facts = function_facts(func, scopes, in_class, enclosing)
        self.types = types if types is not None else _Types()
        self.refusals: dict[str, int] = {}
        self._narrowing: dict[str, int] | None = None  # see ``_attribute_narrowing``
        self.pinned: cst.CSTNode | None = None  # a dispatch the function keeps (see ``Planner._dispatch``)

    # -- data flow ---------------------------------------------------------

    def _refuse(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def _chain(self, node: cst.CSTNode) -> list[tuple[cst.IndentedBlock, int, cst.CSTNode | None]]:
        """(container, index, inner container) from the statement holding ``node`` up to the body."""
        facts = self._known_facts()
        ix = facts.index
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
            while owner is not None and owner not in ix.stmt_parent and owner is not facts.func:
                owner = ix.parent.get(owner)
            if owner is None or owner is facts.func:
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
        problem, has_return, is_async = _flow_problems(stmts, cand.tail, facts.is_generator, cand.skips)
        if problem:
            return problem
        cand.tail = cand.tail and has_return
        cand.is_async = is_async
        if facts.declared_outer & _run_stored(stmts):
            return "write to a global/nonlocal name"

        run = self._run(cand, stmts)
        flow = self._data_flow(cand, run)
        checks = (
            self._closure_problem, self._receiver_problem, self._unbound_problem, self._output_problem,
            self._skip_problem, self._pinned_problem,
        )
        for check in checks:
            problem = check(cand, run, flow)
            if problem:
                return problem
        if len(flow.outputs) > MAX_OUTPUTS:
            return f"more than {MAX_OUTPUTS} values to return"
        cand.inputs = tuple(flow.inputs)
        cand.outputs = tuple(flow.outputs)
        cand.uses_receiver = flow.uses_receiver
        return self._type_problem(cand)

    def _run(self, cand: _Candidate, stmts: list[cst.BaseStatement]) -> _Run:
        span = self._known_facts().index.span
        # loops around the run: a read anywhere in them may come after the run
        loops = [span[node] for node, _ in self._ancestry(cand.container) if isinstance(node, (cst.For, cst.While))]
        return _Run(stmts, span[stmts[0]][0], span[stmts[-1]][1], loops)

    def _data_flow(self, cand: _Candidate, run: _Run) -> _Flow:
        facts = self._known_facts()
        reads_in = _between(facts.reads, facts.read_keys, run.lo, run.hi)
        written = {w.name for w in _between(facts.writes, facts.write_keys, run.lo, run.hi)}
        inputs = self._inputs(cand, run, reads_in)
        # a tail call returns what the function returned: nothing flows out
        outputs = [] if cand.tail else _outputs(facts.reads_by_name, run, written, lambda r: self._rebound_first(r, cand, run))
        for name in outputs:
            if not _binds(name, run.stmts) and name not in inputs:
                inputs.append(name)  # assigned only on some paths: pass the old value in
        return _Flow(inputs, outputs, written, reads_in)

    def _rebound_first(self, read: _Event, cand: _Candidate, run: _Run) -> bool:
        """Is ``read`` surely preceded by its own binding of the name, after the run ended?

        Only the blocks around the read that do not hold the run count (e.g. a later branch
        that assigns ``peer`` before reading it), and the run's own block after the run.
        """
        if read.nested:
            return False
        before = read.index < run.lo or self._other_branch(read, cand)
        if before and self._rebound_each_iteration(read, cand):
            return True
        span = self._known_facts().index.span
        for container, pos, inner in self._chain(read.node):
            lo, hi = span[container]
            if lo <= run.lo <= hi:
                return container is cand.container and pos >= cand.stop and _binds_at(
                    read.name, container, cand.stop, pos, inner
                )
            if _binds_at(read.name, container, 0, pos, inner):
                return True
        return False

    def _other_branch(self, read: _Event, cand: _Candidate) -> bool:
        """Is ``read`` in another branch of an ``if`` the run is in (never after it in one pass)?"""
        span = self._known_facts().index.span
        for node, parent in self._ancestry(cand.container):
            if isinstance(parent, cst.If) and node is parent.body and parent.orelse is not None:
                lo, hi = span[parent.orelse]
                if lo <= read.index <= hi:
                    return True
        return False

    def _rebound_each_iteration(self, read: _Event, cand: _Candidate) -> bool:
        """A read before the run reaches the run's value only through the next iteration of the
        innermost loop around the run, whose body binds the name again first (``player = ...``
        at the top of ``while True:``, read by the dispatch test below it)."""
        loop: cst.For | cst.While | None = None
        for node, parent in self._ancestry(cand.container):
            if isinstance(parent, (cst.For, cst.While)) and node is parent.body:
                loop = parent
                break
        if loop is None:
            return False
        for container, pos, inner in self._chain(read.node):
            if container is loop.body:
                # ``for kind, value in items``: each iteration binds the target anew
                by_target = isinstance(loop, cst.For) and read.name in _target_names(loop.target)
                return by_target or _binds_at(read.name, container, 0, pos, inner)
        return False

    def _inputs(self, cand: _Candidate, run: _Run, reads_in: list[_Event]) -> list[str]:
        """Names read in the run before it binds them, and names of enclosing functions."""
        stop = (cand.container, cand.start)
        inputs: dict[str, None] = {}  # ordered set
        checked: set[tuple[str, int]] = set()
        for r in reads_in:
            if r.name in inputs:
                continue
            key = (r.name, id(self.facts.index.owner_stmt.get(r.node)))  # type: ignore[union-attr]
            if key in checked:
                continue  # same statement, same answer
            checked.add(key)
            if not self._bound_before(r.name, r.node, stop):
                inputs[r.name] = None
        for r in self._known_facts().enclosing_reads:
            if run.contains(r) and r.name not in inputs:
                inputs[r.name] = None
        return list(inputs)

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
        if _run_uses_super(run.stmts):
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

    def _skip_problem(self, cand: _Candidate, run: _Run, flow: _Flow) -> str | None:
        """A dispatch branch that ``continue``s: its handler returns True there, and nothing else."""
        cand.skips = cand.skips and any(_cached_statement_flow(s).continues for s in run.stmts)
        if cand.skips and flow.outputs:
            # at a ``continue`` the values may still be unbound: the helper could not return them
            return "continue in a branch that assigns values read later"
        return None

    def _pinned_problem(self, cand: _Candidate, run: _Run, flow: _Flow) -> str | None:
        return "the dispatch stays in the function" if self._moves_pinned(cand) else None

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
        first, ccs = self._statement_cc(body, block)
        for i in range(first, len(body)):
            self._spend(len(body) - i)
            for j in range(i + 1, len(body) + 1):
                if block is self.func.body and i == first and j == len(body):
                    continue  # the whole body: nothing gained
                if j - i == 1 and isinstance(body[i], cst.SimpleStatementLine):
                    continue  # a one-statement helper adds a call and no clarity
                cand = _Candidate(block, path, i, j, tail=tail and j == len(body))
                cand.cc = sum(ccs[i:j])
                cand.lines = self.position(body[j - 1]).end.line - self.position(body[i]).start.line + 1
                est = self._estimate(cand, metric)
                if est is not None:
                    cand.score = est
                    yield cand

    def _statement_cc(self, body: Any, block: cst.IndentedBlock) -> tuple[int, list[Any]]:
        ccs = [statement_cc(s) for s in body]
        # the docstring stays on the function (``__doc__``)
        first = 1 if block is self.func.body and _is_docstring(body[0]) else 0
        return first, ccs

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
        for tried, cand in enumerate(ranked):
            if len(analysed) >= VERIFY_LIMIT and cand.score > analysed[VERIFY_LIMIT - 1].score:
                break  # penalties only add: nothing further can rank among the best
            if tried >= ANALYSE_LIMIT and analysed:
                break  # a long flat block: the best of the first few hundred is good enough
            self._spend(1 + cand.stop - cand.start)
            reason = self._analyse(cand)
            if reason is not None:
                self._refuse(reason)
                continue
            cand.score += PENALTY_PER_NAME * (len(cand.inputs) + len(cand.outputs))
            cand.score += PENALTY_PER_UNTYPED * self._untyped(cand)
            bisect.insort(analysed, cand, key=_rank)
        analysed.sort(key=_rank)
        for cand in analysed[:VERIFY_LIMIT]:
            self._spend(4 * (1 + cand.stop - cand.start))
            plan = self._verify(cand, metric)
            if plan is not None:
                return plan
        return None

    def _moves_pinned(self, cand: _Candidate) -> bool:
        """Would the run carry the function's dispatch ``match`` (or chain) into a helper?"""
        if self.pinned is None:
            return False
        span = self._known_facts().index.span
        at = span.get(self.pinned)
        if at is None:
            return False
        lo, hi = span[cand.container.body[cand.start]][0], span[cand.container.body[cand.stop - 1]][1]
        return lo <= at[0] <= hi

    def _spend(self, units: int = 1) -> None:
        if self.budget is not None:
            self.budget.spend(units)

    def _untyped(self, cand: _Candidate) -> int:
        """Inputs and outputs without a known type, counted only in annotated code."""
        if not self.types.typed:
            return 0
        return sum(self.types.of(n) is None for n in (*cand.inputs, *cand.outputs))

    def _helper_name(self, cand: _Candidate, hint: str | None = None) -> str:
        stmts = list(cand.container.body[cand.start:cand.stop])
        choices = [hint] if hint else name_choices(stmts, cand.outputs, self.func.name.value, cand.tail)
        for words in choices[:-1]:
            if unique_name(words, self.taken, self.prefix) == f"{self.prefix}{words}":
                return f"{self.prefix}{words}"
        return unique_name(choices[0], self.taken, self.prefix)

    def _input_annotation(self, name: str, cand: _Candidate) -> str | None:
        """The input's type as mypy sees it at the run, else the fallback (``Any``)."""
        precise = self._input_type(name, cand)
        return precise if precise is not None else self.types.fallback

    def _input_type(self, name: str, cand: _Candidate) -> str | None:
        """The declared type, narrowed as it is at the run: ``T`` inside ``if isinstance(x, T):``,
        ``X`` of ``X | None`` after ``if x is None: return``; None when narrowing makes it
        unknown here (another ``isinstance`` test or rebinding before the run, a union narrowed
        otherwise)."""
        declared = self.types.of(name)
        if declared is None:
            return None
        enclosing = self._isinstance_around(name, cand)
        if enclosing is not None:
            return _narrow_to(declared, enclosing)
        if not self._narrowed_before(name, cand):
            return declared
        if self._isinstance_before(name, cand):
            return None
        return self._narrowed_union(declared, name, cand) if _is_union(declared) else declared

    def _narrowed_union(self, declared: str, name: str, cand: _Candidate) -> str | None:
        """``X`` of ``X | None`` guarded against None before the run; None for other narrowing."""
        parts = _union_parts(declared)
        if parts is None or "None" not in parts or len(parts) < 2 or not self._none_guarded(name, cand):
            return None
        rest = [p for p in parts if p != "None"]
        return rest[0] if len(rest) == 1 else " | ".join(rest)

    def _isinstance_around(self, name: str, cand: _Candidate) -> str | None:
        """``T`` (``A | B`` for a tuple) when the run sits in the body of ``if isinstance(name, T):``."""
        for node, parent in self._ancestry(cand.container):
            if isinstance(parent, cst.If) and node is parent.body:
                kind = _isinstance_type(parent.test, name)
                if kind is not None:
                    return kind
        return None

    def _isinstance_before(self, name: str, cand: _Candidate) -> bool:
        facts = self._known_facts()
        first = facts.index.span[cand.container.body[cand.start]][0]
        for read in facts.reads_by_name.get(name, ()):
            if read.index >= first:
                break
            parent = facts.index.parent.get(read.node)
            if isinstance(parent, cst.Arg):
                call = facts.index.parent.get(parent)
                if isinstance(call, cst.Call) and _is_name(call.func, "isinstance"):
                    return True
        return False

    def _type_problem(self, cand: _Candidate) -> str | None:
        """Why the helper would be typed less precisely than mypy checks the run in place:
        an attribute narrowed before the run (``if self.x is not None:``, ``self.x = ...``:
        the helper sees the declared, wider type), or, in annotated code, an input or result
        whose type is not known as the function knows it."""
        chain = self._narrowed_attribute(cand)
        if chain is not None:
            return f"'{chain}' narrowed before the block"
        subject = self._narrowing_lost_after(cand)
        if subject is not None:
            return f"'{subject}' narrowed in the block and used after it"
        empty = next((n for n in cand.inputs if n in self.types.starts_empty and self.types.of(n) is None), None)
        if empty is not None:  # in place, ``rooms.append(x)`` tells mypy what ``rooms = []`` holds
            return f"'{empty}' starts empty and gets its item type from the block"
        if self.types.typed:
            return self._unknown_type(cand)
        return _empty_attribute(cand.container.body[cand.start:cand.stop])

    def _unknown_type(self, cand: _Candidate) -> str | None:
        """In annotated code: an input or result whose type is not known as the function knows it."""
        for name in cand.inputs:
            if self._input_type(name, cand) is None:
                return f"type of '{name}' unknown at the block"
        for name in cand.outputs:
            declared = self.types.of(name)
            if declared is None or _is_union(declared):
                return f"type of '{name}' unknown after the block"
        return None

    def _narrowed_attribute(self, cand: _Candidate) -> str | None:
        facts = self._known_facts()
        narrowed = self._attribute_narrowing()
        if not narrowed:
            return None
        lo, hi = facts.index.span[cand.container.body[cand.start]][0], facts.index.span[cand.container.body[cand.stop - 1]][1]
        for node, (start, _end) in facts.index.span.items():
            if not (lo <= start <= hi) or not isinstance(node, cst.Attribute):
                continue
            chain = _attribute_chain(node, facts.index.parent.get(node))
            if chain is not None and narrowed.get(chain, hi + 1) < lo:
                return chain
        return None

    def _narrowing_lost_after(self, cand: _Candidate) -> str | None:
        """A name or attribute the run narrows for the code after it (``assert x is not None``,
        ``assert isinstance(sock, SSLSocket)``, ``if x is None: raise``) that is read after it:
        in a helper the narrowing ends at the helper's return."""
        facts = self._known_facts()
        hi = facts.index.span[cand.container.body[cand.stop - 1]][1]
        subjects = {
            subject
            for stmt in cand.container.body[cand.start:cand.stop]
            for test in _narrowing_tests(stmt)
            for subject in _test_subjects(test)
            if self._narrowing_matters(subject, facts)
        }
        if not subjects:
            return None
        for node, (start, _end) in facts.index.span.items():
            if start > hi:
                read = _read_subject(node, facts.index.parent.get(node))
                if read in subjects:
                    return read
        return None

    def _narrowing_matters(self, subject: str, facts: _Facts) -> bool:
        """A test narrows ``subject`` for mypy unless its declared type is a plain, known one
        (``raw_value: str`` stays ``str`` after ``if not raw_value: raise``)."""
        owner, _, attr = subject.rpartition(".")
        if not owner:
            kind = self.types.of(subject)
            if kind is None:
                return self.types.typed
        else:
            kind = self.types.attributes.get(attr) if owner == facts.receiver else None
            if kind is None:
                return True
        return _is_union(kind) or kind.split("[")[0].strip() in ("Any", "object", "typing.Any")

    def narrowed_at(self, plan: Plan) -> frozenset[str]:
        """Attribute chains narrowed before ``plan``'s run: still narrowed in its helper's caller
        context, so a helper of the helper must not read them either."""
        block = _resolve(self.func, plan.container_path)
        if block is None or self.facts is None:
            return frozenset(self.inherited)
        lo = self.facts.index.span[block.body[plan.start]][0]
        return frozenset(c for c, at in self._attribute_narrowing().items() if at < lo)

    def _attribute_narrowing(self) -> dict[str, int]:
        """Attribute chains (``self.request``) tested or assigned in the function -> first index;
        assigned ``self.x`` whose class annotation is not a union are left out."""
        if self._narrowing is not None:
            return self._narrowing
        facts = self._known_facts()
        out: dict[str, int] = dict.fromkeys(self.inherited, -1)  # narrowed around the helper's call
        for node, (start, _end) in facts.index.span.items():
            if not isinstance(node, cst.Attribute):
                continue
            parent = facts.index.parent.get(node)
            chain = _attribute_chain(node, parent)
            if chain is not None and start < out.get(chain, start + 1) and self._narrows(node, parent, chain):
                out[chain] = start
        self._narrowing = out
        return out

    def _narrows(self, node: cst.Attribute, parent: cst.CSTNode | None, chain: str) -> bool:
        """Assigned (unless ``self.x`` is annotated with a plain type), or tested."""
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign)) and parent.target is node:
            owner, _, attr = chain.rpartition(".")
            kind = self.types.attributes.get(attr) if owner == self._known_facts().receiver else None
            return kind is None or _is_union(kind)
        return self._narrowed_by_test(node)

    def _narrowed_by_test(self, node: cst.CSTNode) -> bool:
        """Is ``node`` the subject of a test mypy narrows on: ``if x:``, ``x is (not) None``,
        ``x == ...``, ``not x``, ``a and x``, ``isinstance(x, T)`` in an ``if``/``while``/
        ``assert``/conditional expression (``len(x) > 3`` narrows nothing)?"""
        for current, parent in self._ancestry(node):
            if parent is None or _tests_the_name(current, parent) and not isinstance(parent, cst.Call):
                return parent is not None
            if isinstance(parent, (cst.BooleanOperation, cst.UnaryOperation, cst.ComparisonTarget)):
                continue
            if isinstance(parent, cst.Comparison):
                if not _compares_with_none(parent):
                    return False  # ``x in y``, ``x > 3``, ``x != y``: no narrowing to lose
                continue
            if isinstance(parent, cst.Arg):
                return _isinstance_subject(parent, self._known_facts().index.parent.get(parent))
            return False
        return False

    def _none_guarded(self, name: str, cand: _Candidate) -> bool:
        """Is ``name`` surely not None at the run: ``if x is None: return/raise/x = ...`` or
        ``assert x is not None`` before it in an enclosing block, or the run inside ``if x:`` /
        ``if x is not None:``?"""
        first = cand.container.body[cand.start]
        for container, pos, _inner in self._chain(first):
            for stmt in container.body[:pos]:
                if _none_guard(stmt, name):
                    return True
        for node, parent in self._ancestry(cand.container):
            if isinstance(parent, cst.If) and node is parent.body and _not_none_test(parent.test, name):
                return True
        return False

    def _narrowed_before(self, name: str, cand: _Candidate) -> bool:
        """Is ``name`` tested (``if``/``while``/``assert``/``isinstance``) or rebound before the run?"""
        facts = self._known_facts()
        first = facts.index.span[cand.container.body[cand.start]][0]
        if any(w.name == name and w.index < first for w in facts.writes):
            return True
        return self._ancestry_node(facts, name, first)

    def _ancestry_node(self, facts: Any, name: str, first: Any) -> bool:
        for read in facts.reads_by_name.get(name, ()):
            if read.index >= first:
                break
            for node, parent in self._ancestry(read.node):
                if _tests_the_name(node, parent):
                    return True
                if isinstance(node, cst.BaseStatement):
                    break
        return False

    def _returns(self, cand: _Candidate) -> str | None:
        """The helper's return annotation: what the function returns for a tail call, ``None``
        without outputs, else the outputs' types (``Any`` where unknown)."""
        types = self.types
        if cand.skips:
            return "bool"
        if cand.tail:
            return types.returns or types.fallback
        if not cand.outputs:
            return "None"
        kinds = [self._output_annotation(o, cand) for o in cand.outputs]
        if any(k is None for k in kinds):
            return None
        return kinds[0] if len(kinds) == 1 else f"tuple[{', '.join(kinds)}]"  # type: ignore[arg-type]

    def _output_annotation(self, name: str, cand: _Candidate) -> str | None:
        """An output's known type; for a container the run itself starts empty (``settings = {}``
        then ``settings["host"] = ...``) the container of ``Any`` that holds whatever mypy infers
        for it; else the fallback (``Any``)."""
        if self.types.of(name) is None and self.types.fallback == "Any":
            started = _started_empty(cand.container.body[cand.start:cand.stop], name)
            if started is not None:
                return started
        return self.types.annotation(name)

    def _verify(self, cand: _Candidate, metric: str, hint: str | None = None, measure: bool = True) -> Plan | None:
        """The plan for ``cand`` if radon agrees that both functions come out better."""
        shape = self._helper_shape(cand)
        if shape is None:
            return None
        kind, receiver = shape
        plan = Plan(
            container_path=cand.path, start=cand.start, stop=cand.stop,
            inputs=cand.inputs, outputs=cand.outputs, helper_name=self._helper_name(cand, hint),
            is_async=cand.is_async, tail=cand.tail, kind=kind, receiver=receiver,
            module_level=self.module_level,
            def_col=self.def_col,
            call_col=self.def_col + self.position(cand.container.body[cand.start]).start.column,
            before=(self.cc, self.length), after=(0, 0), helper=(0, 0),
            annotations=tuple(self._input_annotation(n, cand) for n in cand.inputs),
            kwonly=self.types.kwonly & frozenset(cand.inputs),
            returns=self._returns(cand),
            skips=cand.skips,
        )
        if not measure:
            return plan
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
# what a helper is called, and the types of what flows through it
# --------------------------------------------------------------------------


class PlanningBudgetExceeded(Exception):
    """Planning one function took longer than its budget: the finding says so, the run goes on."""


# Work units (statements a candidate search, analysis or verification walks) one CPU second of
# planning covers on the reference machine: 6,200 on average over the largest functions of
# _pydecimal, argparse, typing, inspect, tarfile, email's header parser and the bench's CC-235
# setter (2-core x86_64, Python 3.11; 340 to 11,000 per function). The budget is counted in units,
# not read from a clock, so a file gets the same decision on every run and every machine: a
# second ``fix`` never plans what the first one refused for lack of time.
UNITS_PER_SECOND = 6_000


class PlanningBudget:
    """What one function's plan may still spend; shared by the extractors of that function."""

    __slots__ = ("left", "spent")

    def __init__(self, seconds: float) -> None:
        self.left = int(seconds * UNITS_PER_SECOND)
        self.spent = 0

    def spend(self, units: int) -> None:
        self.spent += units
        self.left -= units
        if self.left < 0:
            raise PlanningBudgetExceeded


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


# calls too common to say what a block does
_GENERIC_CALLS = frozenset({
    "len", "str", "int", "float", "bool", "bytes", "isinstance", "print", "get", "append", "items",
    "values", "keys", "format", "join", "strip", "getattr", "setattr", "hasattr", "list", "dict", "set",
    "tuple", "range", "enumerate", "zip", "min", "max", "sum", "sorted", "super", "type", "repr", "pop",
    "add", "update", "extend", "lower", "upper", "split", "startswith", "endswith", "replace", "encode",
    "decode", "copy", "setdefault", "time", "monotonic", "info", "debug", "warning", "error", "exception",
    "remove", "discard", "insert", "any", "all", "iter", "next", "abs", "round", "id", "hash", "callable",
    "partial", "perf_counter", "cast", "warn", "sleep", "wait_for", "create_task", "gather",
})
_PRAGMA = re.compile(r"^\s*#\s*(noqa|type:|pragma|pylint|fmt:|isort:|TODO|FIXME|XXX)", re.IGNORECASE)
MAX_NAME_WORDS = 5


def _callee(call: cst.Call) -> str | None:
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


def _slug(words: str) -> str:
    """A snake_case identifier part: camelCase split, no repeated segments, a few words at most."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words)
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text.lower()) if p]
    changed = True
    while changed:  # "invoice_response_invoice_response" -> "invoice_response"
        changed = False
        for size in range(len(parts) // 2, 0, -1):
            for i in range(len(parts) - 2 * size + 1):
                if parts[i:i + size] == parts[i + size:i + 2 * size]:
                    del parts[i + size:i + 2 * size]
                    changed = True
                    break
            if changed:
                break
    return "_".join(parts[:MAX_NAME_WORDS])


def name_for_block(
    stmts: Sequence[cst.BaseStatement], outputs: Sequence[str], func_name: str, tail: bool = False
) -> str:
    """What the run does, in words: its result, the comment above it, its dominant call, what it
    sets; else what it is to the function (``finish_f`` for the run that ends ``f``)."""
    return name_choices(stmts, outputs, func_name, tail)[0]


def name_choices(
    stmts: Sequence[cst.BaseStatement], outputs: Sequence[str], func_name: str, tail: bool = False
) -> list[str]:
    """Every fitting name, best first: when the best is taken, the next says more (what the run
    sets or ends with) rather than a number."""
    found: list[str] = []
    for source in (_result_words, _comment_words, _check_words, _call_words, _attribute_words, _computed_words):
        words = _slug(source(stmts, outputs))
        if words and not words[0].isdigit() and words not in found:
            found.append(words)
    _slug_last(stmts, found)
    found.append(_slug(f"finish_{func_name}" if tail else f"{func_name}_step") or "step")
    return found


def _slug_last(stmts: Sequence[cst.BaseStatement], found: list[str]) -> None:
    last = _slug(_attribute_words(list(stmts[-1:]), ()) or _subject(list(stmts[-1:])))
    if found and last and last not in found[0]:
        found.append(_slug(f"{found[0]}_to_{last.removeprefix('set_')}"))


def _result_words(stmts: Sequence[cst.BaseStatement], outputs: Sequence[str]) -> str:
    """``user = load(...)`` -> ``load_user``; ``user = db.fetch_user(...)`` -> ``fetch_user``."""
    if len(outputs) != 1:
        return ""
    out = outputs[0].strip("_")
    value = _last_value_of(stmts, outputs[0])
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Call):
        callee = _callee(value)
        if callee and callee not in _GENERIC_CALLS:
            return callee if out in callee else f"{callee}_{out}"
    if isinstance(value, (cst.Dict, cst.List, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)):
        return f"build_{out}"
    return ""


def _computed_words(stmts: Sequence[cst.BaseStatement], outputs: Sequence[str]) -> str:
    return "compute_" + "_and_".join(o.strip("_") for o in outputs[:2]) if outputs else ""


def _last_value_of(stmts: Sequence[cst.BaseStatement], name: str) -> cst.BaseExpression | None:
    value = None
    for node in _walk_own(stmts):
        if isinstance(node, cst.Assign) and any(
            isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets
        ):
            value = node.value
    return value


def _comment_words(stmts: Sequence[cst.BaseStatement], outputs: Sequence[str]) -> str:
    for line in _leading(stmts[0]):
        if line.comment is not None and not _PRAGMA.match(line.comment.value):
            words = re.findall(r"[A-Za-z0-9]+", line.comment.value)
            return "_".join(words) if 1 <= len(words) <= 4 else ""
    return ""


def _call_words(stmts: Sequence[cst.BaseStatement], outputs: Sequence[str]) -> str:
    """The call the run makes most (exception constructors and generic calls aside)."""
    counts: Counter[str] = Counter()
    first_arg: dict[str, str] = {}
    raised = {id(n.exc) for n in _walk_own(stmts) if isinstance(n, cst.Raise) and n.exc is not None}
    _lstrip_callee(stmts, raised, counts, first_arg)
    if not counts:
        return ""
    callee = counts.most_common(1)[0][0]
    if "_" in callee:
        return callee
    subject = _subject(stmts) or first_arg.get(callee, "")
    return f"{callee}_{subject}" if subject and subject != "self" else ""


def _lstrip_callee(
    stmts: Sequence[cst.BaseStatement],
    raised: Any,
    counts: Counter[str],
    first_arg: dict[str, str],
) -> None:
    for node in _walk_own(stmts):
        if isinstance(node, cst.Call) and id(node) not in raised:
            _lstrip_callee_to_arg(node, counts, first_arg)


def _lstrip_callee_to_arg(node: Any, counts: Counter[str], first_arg: dict[str, str]) -> None:
    callee = _callee(node)
    if callee and callee not in _GENERIC_CALLS and not callee.startswith("__"):
        counts[callee.lstrip("_")] += 1
        arg = node.args[0].value if node.args else None
        if isinstance(arg, (cst.Name, cst.Attribute)) and callee.lstrip("_") not in first_arg:
            first_arg[callee.lstrip("_")] = arg.value if isinstance(arg, cst.Name) else arg.attr.value


def _check_words(stmts: Sequence[cst.BaseStatement], outputs: Sequence[str]) -> str:
    """A run that opens with ``if <test>: raise ...`` is a check, named after what it tests."""
    for node in stmts[:2]:
        if isinstance(node, cst.If) and any(isinstance(n, cst.Raise) for n in _walk_own([node.body])):  # type: ignore[list-item]
            for sub in _walk_own([cst.Expr(node.test)]):  # type: ignore[list-item]
                if isinstance(sub, cst.Attribute):
                    return f"check_{sub.attr.value}"
                if isinstance(sub, cst.Name) and sub.value not in _GENERIC_CALLS and sub.value not in ("self", "not", "None"):
                    return f"check_{sub.value}"
    return ""


def _subject(stmts: Sequence[cst.BaseStatement]) -> str:
    """The first attribute or name the run assigns: what its call acts on."""
    for node in _walk_own(stmts):
        if isinstance(node, cst.AssignTarget):
            if isinstance(node.target, cst.Attribute):
                return node.target.attr.value
            if isinstance(node.target, cst.Name):
                return node.target.value
    return ""


def _attribute_words(stmts: Sequence[cst.BaseStatement], outputs: Sequence[str]) -> str:
    for node in _walk_own(stmts):
        if isinstance(node, (cst.AssignTarget, cst.AugAssign)) and isinstance(node.target, cst.Attribute):
            return f"set_{node.target.attr.value}"
    return ""


class _Names(Protocol):
    """The module's taken names as planning uses them: asked about, and added to."""

    def __contains__(self, name: object, /) -> bool: ...

    def add(self, name: str, /) -> None: ...


def unique_name(words: str, taken: _Names, prefix: str = "_") -> str:
    """``_words``, suffixed only when the module (or a same-module base class) has the name.

    ``prefix`` ``__`` makes a method helper class-private (Python mangles it to ``_Class__words``):
    no base or subclass in another module can override it or be overridden by it."""
    base = f"{prefix}{words}"
    name, k = base, 2
    while name in taken or keyword.iskeyword(name):
        name = f"{base}_{k}"
        k += 1
    return name


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _is_name(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _none_comparison(test: cst.BaseExpression, name: str, op: type) -> bool:
    """``name is None`` (op ``cst.Is``) or ``name is not None`` (op ``cst.IsNot``)."""
    return (
        isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and _is_name(test.left, name)
        and isinstance(test.comparisons[0].operator, op) and _is_name(test.comparisons[0].comparator, "None")
    )


def _not_none_test(test: cst.BaseExpression, name: str) -> bool:
    return _is_name(test, name) or _none_comparison(test, name, cst.IsNot)


def _none_guard(stmt: cst.BaseStatement, name: str) -> bool:
    """``if name is None:`` ending in return/raise (no else), or ``assert name is not None``."""
    if isinstance(stmt, cst.If) and stmt.orelse is None and _none_comparison(stmt.test, name, cst.Is):
        body = _body(stmt.body)
        # rebinding (``if x is None: x = klass``) narrows to what was bound, not to ``X``
        return bool(body) and _terminates(body[-1])
    if isinstance(stmt, cst.SimpleStatementLine):
        return any(isinstance(s, cst.Assert) and _not_none_test(s.test, name) for s in stmt.body)
    return False


def _union_parts(annotation: str) -> list[str] | None:
    """``A | B | None`` or ``Optional[A]`` as its members (None when not simply split)."""
    text = annotation.strip()
    match = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", text)
    if match:
        return [match.group(1).strip(), "None"]
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[("
        depth -= ch in "])"
        if ch == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts if all(parts) else None


def _attribute_chain(node: cst.Attribute, parent: cst.CSTNode | None) -> str | None:
    """``self.request.headers`` for an attribute of names only, else None (a call, a subscript,
    a method called: ``order.get(...)`` narrows nothing)."""
    if isinstance(parent, cst.Call) and parent.func is node:
        return None
    parts = [node.attr.value]
    value = node.value
    while isinstance(value, cst.Attribute):
        parts.append(value.attr.value)
        value = value.value
    if not isinstance(value, cst.Name):
        return None
    parts.append(value.value)
    return ".".join(reversed(parts))


_GENERIC_CLASSES = frozenset({
    "Iterable", "AsyncIterable", "Iterator", "AsyncIterator", "Mapping", "MutableMapping", "Sequence",
    "MutableSequence", "Collection", "Container", "Awaitable", "Coroutine", "Generator", "AsyncGenerator",
    "Callable", "dict", "list", "set", "frozenset", "tuple", "deque", "defaultdict", "OrderedDict", "Counter",
    "Set", "MutableSet", "Future", "Task", "Queue", "type",
})


def _narrow_to(declared: str, kind: str) -> str | None:
    """What ``isinstance(x, kind)`` leaves of ``declared``: the union member of that class
    (``Iterable[Data]`` of ``Data | Iterable[Data]``), else ``kind`` itself, unless it is a
    generic class whose parameters only mypy knows (None)."""
    heads = [k.strip().rpartition(".")[2] for k in kind.split("|")]
    members = _union_parts(declared) or [declared]
    picked = [m for m in members if m.split("[")[0].strip().rpartition(".")[2] in heads]
    if len(picked) == len(heads):
        return " | ".join(picked)
    return None if any(h in _GENERIC_CLASSES for h in heads) else kind


def _test_subjects(test: cst.BaseExpression) -> set[str]:
    """Names and attribute chains a test narrows: ``x``, ``self.x`` in ``x is not None``,
    ``isinstance(self.x, T)``, ``a and not b`` (never the type in ``isinstance``)."""
    parts = _test_parts(test)
    if parts is not None:
        return {s for part in parts for s in _test_subjects(part)} - {"None"}
    read = _read_subject(test, None)
    return {read} if read else set()


def _test_parts(test: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The operands a compound test narrows, or None for a leaf."""
    if isinstance(test, cst.BooleanOperation):
        return [test.left, test.right]
    if isinstance(test, cst.UnaryOperation):
        return [test.expression]
    if isinstance(test, cst.Comparison):
        return [test.left, *(t.comparator for t in test.comparisons)]
    if isinstance(test, cst.Call) and _is_name(test.func, "isinstance") and test.args:
        return [test.args[0].value]
    return None


def _read_subject(node: cst.CSTNode, parent: cst.CSTNode | None) -> str | None:
    """The name or attribute chain ``node`` reads (None for anything else)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return _attribute_chain(node, parent)
    return None


def _narrowing_tests(stmt: cst.BaseStatement) -> list[cst.BaseExpression]:
    """Tests whose narrowing holds after ``stmt``: its ``assert``s, or an ``if`` (no else) whose
    body ends the flow (``if x is None: raise``)."""
    if isinstance(stmt, cst.SimpleStatementLine):
        return [small.test for small in stmt.body if isinstance(small, cst.Assert)]
    if isinstance(stmt, cst.If) and stmt.orelse is None and _body(stmt.body) and _terminates(_body(stmt.body)[-1]):
        return [stmt.test]
    return []


def _isinstance_subject(arg: cst.Arg, call: cst.CSTNode | None) -> bool:
    return isinstance(call, cst.Call) and _is_name(call.func, "isinstance") and call.args[0] is arg


def _compares_with_none(node: cst.Comparison) -> bool:
    sides = [node.left, *(t.comparator for t in node.comparisons)]
    return any(_is_name(side, "None") for side in sides)


def _isinstance_type(test: cst.BaseExpression, name: str) -> str | None:
    """``T`` for ``isinstance(name, T)``, ``A | B`` for ``isinstance(name, (A, B))``."""
    if not (isinstance(test, cst.Call) and _is_name(test.func, "isinstance") and len(test.args) == 2):
        return None
    if not _is_name(test.args[0].value, name):
        return None
    kind = test.args[1].value
    members = [e.value for e in kind.elements] if isinstance(kind, cst.Tuple) else [kind]
    if not all(isinstance(m, (cst.Name, cst.Attribute)) for m in members):
        return None
    return " | ".join(_code(m) for m in members)


def _is_union(annotation: str) -> bool:
    parts = _union_parts(annotation)
    return bool(parts and len(parts) > 1) or annotation.strip().startswith(("Union[", "typing.Union["))


_CALL_TYPES = {"str": "str", "repr": "str", "int": "int", "len": "int", "float": "float", "bool": "bool",
               "bytes": "bytes", "isinstance": "bool", "callable": "bool", "hasattr": "bool"}
_STR_METHODS = frozenset({"strip", "lstrip", "rstrip", "lower", "upper", "format", "join", "replace", "title"})
_DICT_TYPE = re.compile(r"^(?:dict|Dict|typing\.Dict)\[\s*([^,\[\]]+?)\s*,\s*(.+)\]$")


@dataclass
class _Types:
    """Annotations for the names of one function: from its signature, local annotations, or
    obvious inference (literals, ``str(...)``, constructors of classes of the module, typed
    attributes of ``self``). ``Any`` stands in for the rest (the fix imports it when the module
    does not, unless the module uses the name ``Any`` for something else)."""

    known: dict[str, str] = field(default_factory=dict)
    kwonly: frozenset[str] = frozenset()
    returns: str | None = None
    typed: bool = False  # the function is annotated: prefer runs whose names have known types
    fallback: str | None = None  # "Any" (imported by the fix if need be), or None if unusable
    attributes: Mapping[str, str] = field(default_factory=dict)  # annotated ``self.x`` of the class
    starts_empty: frozenset[str] = frozenset()  # ``rooms = []``: mypy infers the items from later uses

    def of(self, name: str) -> str | None:
        return self.known.get(name)

    def annotation(self, name: str) -> str | None:
        """Helpers are fully annotated (``mypy --strict`` finds nothing new in them)."""
        return self.known.get(name, self.fallback)


def infer_types(
    func: cst.FunctionDef, classes: frozenset[str], attributes: Mapping[str, str], any_imported: bool,
    any_usable: bool = False,
) -> _Types:
    """The types a helper of ``func`` can annotate its parameters and results with."""
    params = func.params
    known: dict[str, str] = {}
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for p in every:
        if p.annotation is not None:
            known[p.name.value] = _code(p.annotation.annotation)
    for star, shape in ((params.star_arg, "tuple[{}, ...]"), (params.star_kwarg, "dict[str, {}]")):
        if isinstance(star, cst.Param) and star.annotation is not None:
            known[star.name.value] = shape.format(_code(star.annotation.annotation))
    typed = func.returns is not None or bool(known)
    inferred: dict[str, set[str | None]] = {}
    explicit: dict[str, str] = {}
    body = list(func.body.body) if isinstance(func.body, cst.IndentedBlock) else []
    infer = _Inference(known, inferred, classes, attributes, any_imported or any_usable)
    _target_names_to_value(body, explicit, inferred, infer)
    types = _code_returns(inferred, known, explicit, func, params, typed, any_imported, any_usable)
    return replace(types, attributes=attributes, starts_empty=_empty_containers(body))


def _empty_attribute(stmts: Sequence[cst.BaseStatement]) -> str | None:
    """``self.handlers = {}`` in an unannotated function: mypy does not check that body, but
    checks the annotated helper's, where the attribute needs an annotation (``var-annotated``)."""
    for stmt in stmts:  # runs overlap: each statement is walked once
        found: tuple[str | None] = _by_identity(_EMPTY_ATTRIBUTE_CACHE, stmt, 20000, _statement_empty_attribute)
        if found[0] is not None:
            return found[0]
    return None


_EMPTY_ATTRIBUTE_CACHE: dict[int, tuple[Any, Any]] = {}


def _statement_empty_attribute(stmt: cst.BaseStatement) -> tuple[str | None]:
    for node in _walk_own([stmt]):
        if isinstance(node, cst.Assign) and _is_empty_container(node.value):
            target = node.targets[0].target
            if isinstance(target, cst.Attribute):
                return (f"'{_code(target)}' starts empty in an unannotated function",)
    return (None,)


def _empty_containers(body: Sequence[cst.BaseStatement]) -> frozenset[str]:
    """Names bound to ``[]``/``{}``/``set()`` without an annotation."""
    out: set[str] = set()
    for node in _walk_own(body):
        if isinstance(node, cst.Assign) and _is_empty_container(node.value):
            out.update(t.target.value for t in node.targets if isinstance(t.target, cst.Name))
    return frozenset(out)


# dict methods whose first argument is a key (the others take none: ``items()``, ``copy()``)
_DICT_KEY_METHODS = frozenset({"get", "setdefault", "pop"})
_DICT_KEYLESS_METHODS = frozenset({"items", "keys", "values", "copy", "clear"})


def _started_empty(stmts: Sequence[cst.BaseStatement], name: str) -> str | None:
    """The annotation of ``name`` when the run binds it exactly once, by a top-level
    ``name = {}`` / ``[]`` / ``set()``: ``list[Any]``, ``set[Any]``, ``dict[str, Any]`` when every
    key it is used with is a string literal, else ``dict[Any, Any]`` (never narrower than what
    mypy infers from the run's uses, so returning it checks)."""
    value = _first_assigned(stmts, name)
    if value is None or not _is_empty_container(value):
        return None
    own = list(_walk_own(stmts))
    if sum(name in _names_bound_by(node) for node in own) != 1:
        return None
    kind = _container_kind(value)
    if kind != "dict":
        return f"{kind}[Any]"
    return "dict[str, Any]" if all(_string_key_use(node, name) for node in own) else "dict[Any, Any]"


def _container_kind(value: cst.BaseExpression) -> str:
    """"list", "set" or "dict" for an empty container (see ``_is_empty_container``)."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
        return value.func.value
    return "list" if isinstance(value, cst.List) else "set" if isinstance(value, cst.Set) else "dict"


def _first_assigned(stmts: Sequence[cst.BaseStatement], name: str) -> cst.BaseExpression | None:
    """The value of the first top-level ``name = value`` statement of the run."""
    for stmt in stmts:
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and _is_name(small.targets[0].target, name):
            return small.value
    return None


def _string_key_use(node: cst.CSTNode, name: str) -> bool:
    """``node`` does not give the dict ``name`` a key other than a string literal (a subscript
    or a key lookup with one, a key-less method; ``update`` and the like bring keys of their own)."""
    if isinstance(node, cst.Subscript) and _is_name(node.value, name):
        return _string_subscript(node)
    if isinstance(node, cst.Attribute) and _is_name(node.value, name):
        return node.attr.value in _DICT_KEY_METHODS | _DICT_KEYLESS_METHODS
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and _is_name(node.func.value, name):
        return node.func.attr.value not in _DICT_KEY_METHODS or _first_arg_type(node) == "str"
    return True


def _string_subscript(node: cst.Subscript) -> bool:
    index = node.slice[0].slice if len(node.slice) == 1 else None
    return isinstance(index, cst.Index) and _literal_type(index.value) == "str"


def _first_arg_type(call: cst.Call) -> str | None:
    return _literal_type(call.args[0].value) if call.args else None


def _is_empty_container(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.List, cst.Dict, cst.Set)):
        return not node.elements
    return isinstance(node, cst.Call) and not node.args and any(_is_name(node.func, n) for n in ("list", "dict", "set"))


def _target_names_to_value(
    body: Any, explicit: dict[str, str], inferred: dict[str, set[str | None]], infer: _Inference
) -> None:
    for node in _walk_own(body):
        if isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
            explicit[node.target.value] = _code(node.annotation.annotation)
        elif isinstance(node, cst.Assign):
            _expr_value(node, inferred, infer)
        elif isinstance(node, (cst.For, cst.CompFor)):
            _is_range_2(node, inferred, infer.known)
        elif isinstance(node, cst.ExceptHandler) and node.name is not None:
            _code_kind(node, inferred)
        elif isinstance(node, (cst.WithItem, cst.NamedExpr)):
            for name in _names_bound_by(node):
                inferred.setdefault(name, set()).add(None)


def _expr_value(node: Any, inferred: dict[str, set[str | None]], infer: _Inference) -> None:
    for target in node.targets:
        if isinstance(target.target, cst.Name):
            inferred.setdefault(target.target.value, set()).add(infer.expr(node.value))
        else:
            for name in _target_names(target.target):
                inferred.setdefault(name, set()).add(None)


def _is_range_2(node: Any, inferred: dict[str, set[str | None]], known: Mapping[str, str] | None = None) -> None:
    value = "int" if _is_range(node.iter) and isinstance(node.target, cst.Name) else None
    if value is None and isinstance(node.target, cst.Name) and isinstance(node.iter, cst.Name) and known:
        value = _item_type(known.get(node.iter.value))
    for name in _target_names(node.target):
        inferred.setdefault(name, set()).add(value)


_ITEMS = re.compile(
    r"^(?:typing\.|collections\.abc\.)?(?:list|List|set|Set|frozenset|FrozenSet|Sequence|Iterable|"
    r"Iterator|Collection|MutableSequence)\[\s*([^\[\],]+(?:\[.*\])?)\s*\]$"
)


def _item_type(annotation: str | None) -> str | None:
    """``X`` for ``for x in xs`` when ``xs: list[X]`` (``Sequence[X]``, ``Iterable[X]``...), as mypy
    infers it (dispatch loops: ``for msg in inbox``)."""
    match = _ITEMS.match(annotation or "")
    if match is None or _is_union(match.group(1)):
        return None
    return match.group(1).strip()


def _code_kind(node: Any, inferred: dict[str, set[str | None]]) -> None:
    kind = _code(node.type) if isinstance(node.type, (cst.Name, cst.Attribute)) else None
    for name in _target_names(node.name.name):
        inferred.setdefault(name, set()).add(kind)


def _code_returns(
    inferred: dict[str, set[str | None]],
    known: dict[str, str],
    explicit: dict[str, str],
    func: cst.FunctionDef,
    params: Any,
    typed: Any,
    any_imported: bool,
    any_usable: bool,
) -> _Types:
    for name, kinds in inferred.items():
        if name not in known and len(kinds) == 1 and None not in kinds:
            known[name] = next(iter(kinds))  # type: ignore[assignment]
    known.update(explicit)
    returns = _code(func.returns.annotation) if func.returns is not None else None
    return _Types(
        known, frozenset(p.name.value for p in params.kwonly_params), returns, typed,
        "Any" if any_imported or any_usable else None,
    )


def _is_range(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "range"


@dataclass
class _Inference:
    """The obvious type of an expression, or None."""

    known: dict[str, str]
    inferred: dict[str, set[str | None]]
    classes: frozenset[str]
    attributes: Mapping[str, str]
    any_imported: bool

    def expr(self, node: cst.BaseExpression) -> str | None:
        simple = _literal_type(node)
        if simple is not None:
            return simple
        if _is_empty_container(node):
            return None  # ``kwargs = {}``: mypy infers the item types from later uses
        if isinstance(node, (cst.Dict, cst.DictComp)) and self.any_imported:
            return "dict[str, Any]" if _string_keys(node) else None
        return self._expr_body_2(node)

    def _expr_body_2(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, (cst.List, cst.ListComp)) and self.any_imported:
            return "list[Any]"
        if isinstance(node, cst.Name):
            kinds = self.inferred.get(node.value)
            if node.value in self.known:  # a union may be narrowed where it is copied: unknown
                kind = self.known[node.value]
                return None if _is_union(kind) else kind
            return next(iter(kinds)) if kinds and len(kinds) == 1 else None
        return self._expr_body(node)

    def _expr_body(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.IfExp):
            a, b = self.expr(node.body), self.expr(node.orelse)
            return a if a is not None and a == b else None
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in ("self", "cls"):
            return self.attributes.get(node.attr.value)
        if isinstance(node, cst.Call):
            return self._call(node)
        return None

    def _call(self, node: cst.Call) -> str | None:
        func = node.func
        if isinstance(func, cst.Name):
            if func.value in _CALL_TYPES:
                return _CALL_TYPES[func.value]
            return func.value if func.value in self.classes else None
        if not isinstance(func, cst.Attribute):
            return None
        return self._expr_owner(func, node)

    def _expr_owner(self, func: Any, node: cst.Call) -> str | None:
        owner = self.expr(func.value)
        method = func.attr.value
        if owner == "str" and method in _STR_METHODS:
            return "str"
        match = _DICT_TYPE.match(owner or "")
        if match and method == "setdefault" and len(node.args) == 2:
            return match.group(2)
        if match and method == "get" and match.group(2).strip() == "Any":
            return "Any"  # ``dict[str, Any].get(...)`` is ``Any`` to mypy too
        return None


def _literal_type(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Integer):
        return "int"
    if isinstance(node, cst.Float):
        return "float"
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        prefix = node.prefix.lower() if isinstance(node, (cst.SimpleString, cst.FormattedString)) else ""
        return "bytes" if "b" in prefix else "str"
    return _finish_literal_type(node)


def _finish_literal_type(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return "bool"
    if isinstance(node, cst.Comparison) or (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)):
        return "bool"
    return None


def _string_keys(node: cst.Dict | cst.DictComp) -> bool:
    if isinstance(node, cst.DictComp):
        return _literal_type(node.key) == "str"
    return all(isinstance(e, cst.DictElement) and _literal_type(e.key) == "str" for e in node.elements)


_CLASS_TYPES: dict[int, tuple[Any, Any]] = {}


def class_attribute_types(cls: cst.ClassDef) -> dict[str, str]:
    """``x: T`` in the class body and ``self.x: T = ...`` in its methods."""
    out: dict[str, str] = {}
    for stmt in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else []:
        if isinstance(stmt, cst.FunctionDef):
            own = _walk_own(list(stmt.body.body) if isinstance(stmt.body, cst.IndentedBlock) else [])
        else:
            own = _walk_own([stmt])
        for node in own:
            if not isinstance(node, cst.AnnAssign):
                continue
            _code_target(node, stmt, out)
    return out


def _code_target(node: Any, stmt: Any, out: dict[str, str]) -> None:
    target = node.target
    if isinstance(target, cst.Name) and not isinstance(stmt, cst.FunctionDef):
        out[target.value] = _code(node.annotation.annotation)
    elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
        out[target.attr.value] = _code(node.annotation.annotation)


def module_type_facts(module: cst.Module) -> tuple[frozenset[str], bool]:
    """(classes defined at the module's top level, whether ``Any`` is imported from typing)."""
    classes = frozenset(s.name.value for s in module.body if isinstance(s, cst.ClassDef))
    any_imported = False
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                    any_imported = _get_full_name_for_node(small, any_imported)
    return classes, any_imported


def _get_full_name_for_node(small: Any, any_imported: bool) -> bool:
    mod = cst.helpers.get_full_name_for_node(small.module) if small.module else ""
    if mod in ("typing", "typing_extensions") and any(
        isinstance(a.name, cst.Name) and a.name.value == "Any" and a.asname is None
        for a in small.names
    ):
        any_imported = True
    return any_imported


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
    # comments above the run describe its code: they move with it; blank lines above stay
    lead = list(_leading(first))
    k = next((i for i, ln in enumerate(lead) if ln.comment is not None), len(lead))
    moved = [first.with_changes(leading_lines=lead[k:]), *stmts[1:]]
    if plan.outputs:
        moved.append(cst.SimpleStatementLine([cst.Return(_name_list(plan.outputs))]))
    if plan.skips:
        moved = [_as_statement(m.visit(_ContinueToReturn())) for m in moved]
        moved.append(cst.SimpleStatementLine([cst.Return(cst.Name("False"))]))
    helper = _helper_def(plan, moved)
    call_stmt: cst.BaseStatement = (
        _skip_statement(plan, lead[:k]) if plan.skips else _call_statement(plan, lead[:k])
    )
    new_block = block.with_changes(body=[*block.body[:plan.start], call_stmt, *block.body[plan.stop:]])
    new_func = cst.ensure_type(func.deep_replace(block, new_block), cst.FunctionDef)
    return new_func, helper


_HELPER_DECORATOR = {"classmethod": "classmethod", "static": "staticmethod"}


def _as_statement(node: cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[Any]) -> cst.BaseStatement:
    """A statement a transformer returned (``_ContinueToReturn`` never removes or flattens)."""
    if not isinstance(node, cst.BaseStatement):
        raise TypeError(f"expected a statement, got {type(node).__name__}")
    return node

def _helper_def(plan: Plan, body: list[cst.BaseStatement]) -> cst.FunctionDef:
    keywords, params = _compute_keywords_and_params(plan)
    if keywords:
        params += ["*", *keywords]
    if plan.kind in ("method", "classmethod"):
        if plan.receiver is None:
            raise ValueError(f"{plan.kind} helper {plan.helper_name}() needs a receiver")
        params.insert(0, plan.receiver)
    decorator = _HELPER_DECORATOR.get(plan.kind)
    head = f"{'async ' if plan.is_async else ''}def {plan.helper_name}"
    colon = f" -> {plan.returns}:" if plan.returns else ":"
    template = cst.parse_statement(_wrapped_call(head, params, plan.def_col, colon) + "\n    pass\n")
    return cst.ensure_type(template, cst.FunctionDef).with_changes(
        body=cst.IndentedBlock(body=body),
        decorators=[cst.Decorator(cst.Name(decorator))] if decorator else [],
        leading_lines=[cst.EmptyLine(indent=False)] * (2 if plan.module_level else 1),
    )


def _compute_keywords_and_params(plan: Plan) -> tuple[list[Any], list[Any]]:
    annotations = plan.annotations or (None,) * len(plan.inputs)
    typed = [f"{n}: {a}" if a else n for n, a in zip(plan.inputs, annotations)]
    params = [p for n, p in zip(plan.inputs, typed) if n not in plan.kwonly]
    keywords = [p for n, p in zip(plan.inputs, typed) if n in plan.kwonly]
    return keywords, params


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
    args = [n for n in plan.inputs if n not in plan.kwonly] + [f"{n}={n}" for n in plan.inputs if n in plan.kwonly]
    text = _wrapped_call(prefix + target, args, plan.call_col)
    parsed = cst.ensure_type(cst.parse_statement(text + "\n"), cst.SimpleStatementLine)
    return cst.SimpleStatementLine([parsed.body[0]], leading_lines=leading_lines)


def _skip_statement(plan: Plan, leading_lines: list[cst.EmptyLine]) -> cst.If:
    """``if helper(...): continue``: the helper returned True where the run ``continue``d."""
    call = _call_statement(plan, [])
    expr = cst.ensure_type(call.body[0], cst.Expr).value
    return cst.If(
        test=expr,
        body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Continue()])]),
        leading_lines=leading_lines,
    )


class _ContinueToReturn(cst.CSTTransformer):
    """``continue`` of the loop around a run -> ``return True`` (loops and scopes of the run's
    own keep theirs; a loop's ``else`` clause is outside that loop)."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_For(self, node: cst.For) -> bool:
        return False

    def visit_While(self, node: cst.While) -> bool:
        return False

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        if updated_node.orelse is None:
            return updated_node
        return updated_node.with_changes(orelse=updated_node.orelse.visit(self))

    def leave_While(self, original_node: cst.While, updated_node: cst.While) -> cst.While:
        if updated_node.orelse is None:
            return updated_node
        return updated_node.with_changes(orelse=updated_node.orelse.visit(self))

    def leave_Continue(self, original_node: cst.Continue, updated_node: cst.Continue) -> cst.Return:
        return cst.Return(cst.Name("True"), semicolon=updated_node.semicolon)


def describe(plan: Plan) -> str:
    what = {"function": "function", "method": "method", "classmethod": "classmethod", "static": "staticmethod"}[plan.kind]
    return f"extract statements into {'async ' if plan.is_async else ''}{what} {plan.helper_name}()"


_SHARED_NAMES: dict[int, tuple[cst.Module, set[str]]] = {}


def _shared_names(module: cst.Module) -> set[str]:
    """The module's names, one set for WS301 and WS302 alike: helpers planned by either rule in
    the same pass (applied together) never get the same name."""
    names: set[str] = _by_identity(_SHARED_NAMES, module, 64, collect_names)
    return names


def collect_names(module: cst.Module) -> set[str]:
    """Every ``Name`` in the module (a set: the order of the walk does not matter)."""
    names: set[str] = set()
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        if type(node) is cst.Name:
            names.add(node.value)  # its children are parentheses and whitespace
            continue
        stack.extend(children(node))
    return names


# --------------------------------------------------------------------------
# planning a whole refactoring of one function
# --------------------------------------------------------------------------

MIN_DISPATCH_BRANCHES = 2


@dataclass
class _Unit:
    """A function being refactored: the original, or one of the helpers split off it."""

    func: cst.FunctionDef
    cc: int
    length: int
    stuck: bool = False
    narrowed: frozenset[str] = frozenset()  # attribute chains narrowed where it is called

    def value(self, metric: str) -> int:
        return self.cc if metric == "cc" else self.length


@dataclass(frozen=True)
class Refactoring:
    """The function rewritten and its helpers (in call order), or why there is none."""

    original: cst.FunctionDef
    func: cst.FunctionDef | None
    helpers: tuple[cst.FunctionDef, ...]
    before: tuple[int, int]
    after: tuple[int, int]
    reason: str | None = None
    placement: str = "after"

    def apply(self, updated: cst.FunctionDef) -> cst.FlattenSentinel[cst.BaseStatement] | cst.FunctionDef:
        """Replace the function by itself and its helpers (only if no other fix changed it)."""
        if self.func is None or not updated.deep_equals(self.original):
            return updated
        if self.placement == "after":
            return cst.FlattenSentinel([self.func, *self.helpers])
        # before: the first helper takes the blank lines above the function; comments stay on it
        lead = list(self.func.leading_lines)
        k = next((i for i, ln in enumerate(lead) if ln.comment is not None), len(lead))
        first, *rest = self.helpers
        gap = [cst.EmptyLine(indent=False)] * len(first.leading_lines)
        return cst.FlattenSentinel([
            first.with_changes(leading_lines=lead[:k]), *rest,
            self.func.with_changes(leading_lines=[*gap, *lead[k:]]),
        ])


@dataclass
class Planner:
    """Splits one function into helpers until it is within the limit, all planned before
    anything is applied: the plan is kept only if the function ends within the limit (or
    clearly simpler), so a second run finds nothing new to do."""

    metric: str
    limit: int
    in_class: bool
    module_level: bool
    taken: _Names
    types: _Types
    enclosing: frozenset[str] = frozenset()
    def_col: int = 0
    budget: float = 5.0
    match_ok: bool = True  # ``match`` statements allowed (Python 3.10+)
    prefix: str = "_"  # "__" in a class with bases from other modules (see ``unique_name``)
    refusals: Counter[str] = field(default_factory=Counter)
    original: cst.FunctionDef | None = None  # the function being refactored (set by ``run``)
    dispatch_at: _Path | None = None  # where the function keeps its dispatch (``_dispatch``)

    def run(self, func: cst.FunctionDef, cc: int, length: int) -> Refactoring:
        budget = PlanningBudget(self.budget)
        self.original = func
        main = _Unit(func, cc, length)
        units = [main]
        try:
            self._dispatch(main, units, budget)
            self._split(units, budget)
        except PlanningBudgetExceeded:
            return self._refused(func, main, f"too large to plan within {self.budget:g} s")
        before = (cc, length)
        if len(units) == 1:
            return self._refused(func, main, self._why())
        over = self._build_over(units)
        start, end = before[0 if self.metric == "cc" else 1], main.value(self.metric)
        if over:
            # Only a plan that brings every function within the limit is applied: a partial one
            # would leave findings that a second run plans again (fixing twice must equal fixing once).
            what = self._compute_what()
            why = self._why()
            left = f"{what} {end}" if main in over else f"a helper at {what} {max(u.value(self.metric) for u in over)}"
            return self._refused(func, main, f"extraction would leave {left} (from {start})" + (f": {why}" if why else ""))
        helpers = _call_order(main.func, [u.func for u in units[1:]])
        return Refactoring(func, main.func, tuple(helpers), before, (main.cc, main.length))

    def memo_key(self, func: cst.FunctionDef, cc: int, length: int) -> tuple[Any, ...]:
        """Everything :meth:`run` decides from except the taken names (see ``_NameLog``): the
        function's code (positions are taken from it alone) and the planner's settings."""
        return (
            cst.Module(body=[func]).code, cc, length, self.metric, self.limit, self.in_class, self.module_level,
            repr(self.types), tuple(sorted(self.enclosing)), self.def_col, self.budget, self.match_ok, self.prefix,
        )

    def _build_over(self, units: list[Any]) -> list[Any]:
        over = [u for u in units if u.value(self.metric) > self.limit]
        return over

    def _compute_what(self) -> str:
        what = "CC" if self.metric == "cc" else "length"
        return what

    def _refused(self, func: cst.FunctionDef, main: _Unit, reason: str) -> Refactoring:
        return Refactoring(func, None, (), (main.cc, main.length), (main.cc, main.length), reason)

    def _why(self) -> str:
        if not self.refusals:
            return "no safe extraction remains"
        top = ", ".join(r for r, _ in self.refusals.most_common(2))
        return f"no safe extraction remains ({top})"

    def _extractor(self, unit: _Unit, budget: PlanningBudget) -> Extractor:
        """A fresh analysis of ``unit`` on its own (scopes of its code only: cheap, and the same
        whatever else the module holds)."""
        wrapper = cst.MetadataWrapper(cst.Module(body=[unit.func]), unsafe_skip_copy=True)
        with read_only_visits():  # libcst's scope visitors only read: no copy of every node
            scopes = wrapper.resolve(ScopeProvider)
        positions = wrapper.resolve(PositionProvider)
        return Extractor(
            unit.func, scopes, positions.__getitem__, self.in_class, self.taken, unit.cc, unit.length,
            module_level=self.module_level, enclosing=self.enclosing, budget=budget,
            def_col=self.def_col, types=self._unit_types(unit), prefix=self.prefix, inherited=unit.narrowed,
        )

    def _unit_types(self, unit: _Unit) -> _Types:
        """A helper's own signature is what its body is checked against: its parameters' (maybe
        narrowed) annotations and its return annotation, which a tail helper of it returns."""
        if unit.func is self.original:
            return self.types
        params = unit.func.params
        own = {
            p.name.value: _code(p.annotation.annotation)
            for p in (*params.params, *params.kwonly_params) if p.annotation is not None
        }
        returns = _code(unit.func.returns.annotation) if unit.func.returns is not None else None
        return replace(self.types, known={**self.types.known, **own}, returns=returns)

    def _split(self, units: list[_Unit], budget: PlanningBudget) -> None:
        self._chunk(units[0], units, budget)
        progress = True
        while progress:
            progress = False
            for unit in list(units):
                if unit.stuck or unit.value(self.metric) <= self.limit:
                    continue
                extractor = self._extractor(unit, budget)
                if unit is units[0] and self.dispatch_at is not None:
                    extractor.pinned = _statement_at(unit.func, self.dispatch_at)
                plan = extractor.plan(self.metric)
                self.refusals.update(extractor.refusals)
                built = _build(unit.func, plan) if plan is not None else None
                if plan is None or built is None:
                    unit.stuck = True
                    continue
                self.taken.add(plan.helper_name)
                unit.func, helper = built
                unit.cc, unit.length = plan.after
                units.append(_Unit(helper, *plan.helper, narrowed=unit.narrowed | extractor.narrowed_at(plan)))
                progress = True

    # -- long flat bodies: one helper per paragraph ---------------------------

    def _chunk(self, main: _Unit, units: list[_Unit], budget: PlanningBudget) -> None:
        """A body far over the limit is cut into consecutive paragraphs, each within the limit,
        all planned on one analysis (halving it step by step would analyse it again each time)."""
        if main.value(self.metric) <= CHUNK_FACTOR * self.limit or not isinstance(main.func.body, cst.IndentedBlock):
            return
        extractor = self._extractor(main, budget)
        if extractor.facts is None:
            return
        if self.dispatch_at is not None:
            extractor.pinned = _statement_at(main.func, self.dispatch_at)
        plans = self._compute_plans(main, extractor)
        if len(plans) < 2:
            return
        func = main.func
        helpers: list[cst.FunctionDef] = []
        for plan in reversed(plans):  # last first: earlier statements keep their indexes
            built = _build(func, plan)
            if built is None:
                return
            func, helper = built
            helpers.insert(0, helper)
        self._measure_into(main, func, helpers, units, [extractor.narrowed_at(p) for p in plans])

    def _compute_plans(self, main: _Unit, extractor: Any) -> list[Plan]:
        block = cst.ensure_type(main.func.body, cst.IndentedBlock)  # checked by ``_chunk``
        body: list[cst.BaseStatement] = list(block.body)
        first = self._compute_first(body)
        cap = self.limit - 1 if self.metric == "cc" else self.limit - 2
        sizes = [
            statement_cc(stmt) if self.metric == "cc" else _line_span(extractor, stmt) for stmt in body
        ]
        plans: list[Plan] = []
        for i, j in _paragraph_chunks(body, sizes, first, cap):
            extractor._spend(1 + j - i)
            if j - i < 2 and isinstance(body[i], cst.SimpleStatementLine):
                continue  # a one-statement helper adds a call and no clarity
            cand = _Candidate(block, (), i, j, tail=j == len(body))
            reason = extractor._analyse(cand)
            if reason is not None:
                self.refusals[reason] += 1
                continue
            plan = extractor._verify(cand, self.metric, measure=False)
            if plan is not None:
                self.taken.add(plan.helper_name)
                plans.append(plan)
        return plans

    @staticmethod
    def _compute_first(body: Any) -> int:
        first = 1 if body and _is_docstring(body[0]) else 0
        return first

    # -- dispatch handlers ---------------------------------------------------

    def _dispatch(self, main: _Unit, units: list[_Unit], budget: PlanningBudget) -> None:
        """``if kind == "say": ... elif kind == Kind.MOVE: ...`` (string, int or enum-member
        values, maybe guarded: ``elif player and kind == ...``): one handler per branch that is
        more than one simple statement (a one-line branch already is a call), and a ``match`` on
        the kind (3.10+, ``==`` tests only) or the same chain of calls, where the chain was (inside
        a ``try`` when it was there). A branch that ``continue``s the loop around the chain gets a
        handler returning True there: ``if self._handle_x(...): continue``."""
        if main.value(self.metric) <= self.limit:
            return
        chain = _find_dispatch(main.func)
        if chain is None:
            return
        extractor = self._extractor(main, budget)
        if extractor.facts is None:
            return
        plans, complete = self._branch_plans(chain, extractor)
        # one handler is a dispatch only when every other branch is a one-liner
        if len(plans) >= 2 or (plans and complete):
            self._apply_dispatch(main, units, chain, extractor, plans)

    def _apply_dispatch(
        self, main: _Unit, units: list[_Unit], chain: _Dispatch, extractor: Extractor, plans: list[Plan]
    ) -> None:
        built = _build_all(main.func, plans)
        if built is None:
            return
        func, helpers = built
        if self.match_ok and chain.matchable:
            func = _to_match(func, chain.path)
        if self._measure_into(main, func, helpers, units, [extractor.narrowed_at(p) for p in plans]):
            self.dispatch_at = chain.path  # the dispatch stays in the function: no later helper takes it

    def _branch_plans(self, chain: _Dispatch, extractor: Extractor) -> tuple[list[Plan], bool]:
        """(a handler plan per branch worth one, whether no such branch was refused)."""
        plans: list[Plan] = []
        complete = True
        for steps, body, words in chain.branches:
            if body is None or len(body.body) < 2 and statement_cc(body.body[0]) == 0:
                continue
            cand = _Candidate(body, (*chain.path, *steps), 0, len(body.body), tail=chain.tail, skips=True)
            reason = extractor._analyse(cand)
            if reason is not None:
                self.refusals[reason] += 1
                complete = False
                continue
            hint = _slug("handle_" + ("_or_".join(words[:2]) if words else "other"))
            plan = extractor._verify(cand, self.metric, hint=hint or None, measure=False)
            if plan is None:
                complete = False
                continue
            self.taken.add(plan.helper_name)
            plans.append(plan)
        return plans, complete

    def _measure_into(
        self, main: _Unit, func: cst.FunctionDef, helpers: list[cst.FunctionDef], units: list[_Unit],
        narrowed: list[frozenset[str]],
    ) -> bool:
        code = cst.Module(body=[func.with_changes(leading_lines=[], decorators=[]), *helpers]).code
        try:
            blocks = {b.name: b for b in complexity.measure(code, "<extract>", closures=False)}
        except complexity.ComplexityError:
            return False
        names = [func.name.value, *(h.name.value for h in helpers)]
        if any(n not in blocks for n in names):
            return False
        main.func = func
        main.cc, main.length = blocks[func.name.value].complexity, blocks[func.name.value].length
        for helper, around in zip(helpers, narrowed):
            b = blocks[helper.name.value]
            units.append(_Unit(helper, b.complexity, b.length, narrowed=main.narrowed | around))
        return True


def _build_all(func: cst.FunctionDef, plans: Sequence[Plan]) -> tuple[cst.FunctionDef, list[cst.FunctionDef]] | None:
    """The function with every plan applied (each replaces its own branch), and the helpers."""
    helpers: list[cst.FunctionDef] = []
    for plan in plans:
        built = _build(func, plan)
        if built is None:
            return None
        func, helper = built
        helpers.append(helper)
    return func, helpers


def _statement_at(func: cst.FunctionDef, path: _Path) -> cst.CSTNode | None:
    *block_path, (_, index) = path
    block = _resolve(func, block_path)
    return block.body[index] if block is not None and index < len(block.body) else None


CHUNK_FACTOR = 3  # bodies over this many times the limit are cut into paragraphs first


class _NameLog:
    """The module's taken names seen through one planning run: the answers it got about names
    it did not add itself, and the names it added. A memoised plan is reused only when every
    answer is still the same, and its additions are then made again."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.asked: dict[str, bool] = {}
        self.added: list[str] = []
        self._own: set[str] = set()

    def __contains__(self, name: object, /) -> bool:
        if not isinstance(name, str):
            return False
        if name in self._own:
            return True
        return self.asked.setdefault(name, name in self.names)

    def add(self, name: str, /) -> None:
        self._own.add(name)
        self.added.append(name)
        self.names.add(name)


# A plan depends only on the function's code, the planner's settings and the taken names it
# asked about: the same function in the next fix pass (refused, or not chosen because another
# fix overlapped it) is not planned again. Key: ``Planner.memo_key``.
# The memo belongs to one run's settings (``owner``): a new configuration starts it afresh.
_PLANS: OrderedDict[tuple[Any, ...], tuple[dict[str, bool], list[str], Refactoring]] = OrderedDict()
_PLANS_OWNER: list[object] = []
PLAN_MEMO_SIZE = 256


def run_memoised(
    planner: Planner, names: set[str], func: cst.FunctionDef, cc: int, length: int, owner: object = None
) -> Refactoring:
    """``planner.run(func, cc, length)`` (``planner.taken`` is ``names``), or the same result
    remembered from an earlier pass or file of the run (same ``owner``, the configuration's
    rule options) where it was planned with the same answers."""
    if not _PLANS_OWNER or _PLANS_OWNER[0] is not owner:
        _PLANS.clear()
        _PLANS_OWNER[:] = [owner]
    key = planner.memo_key(func, cc, length)
    hit = _PLANS.get(key)
    if hit is not None and all((name in names) == answer for name, answer in hit[0].items()):
        _PLANS.move_to_end(key)
        asked, added, result = hit
        names.update(added)
        return replace(result, original=func)
    log = _NameLog(names)
    planner.taken = log
    result = planner.run(func, cc, length)
    _PLANS[key] = (log.asked, log.added, result)
    if len(_PLANS) > PLAN_MEMO_SIZE:
        _PLANS.popitem(last=False)
    return result


def _line_span(extractor: Extractor, stmt: cst.CSTNode) -> int:
    rng = extractor.position(stmt)
    return rng.end.line - rng.start.line + 1


def _paragraph_chunks(
    body: Sequence[cst.BaseStatement], sizes: Sequence[int], first: int, cap: int
) -> list[tuple[int, int]]:
    """Consecutive runs of ``body[first:]`` whose sizes sum to at most ``cap``, cut at a blank
    line or comment (a paragraph a person wrote) when one falls in the second half of a run."""
    chunks: list[tuple[int, int]] = []
    start, total, last_break = first, 0, -1
    for k in range(first, len(body)):
        if k > start and total + sizes[k] > cap:
            end = last_break if last_break > start and (last_break - start) * 2 >= k - start else k
            chunks.append((start, end))
            start, total = end, sum(sizes[end:k])
            last_break = -1
        if k > start and _leading(body[k]):
            last_break = k
        total += sizes[k]
    if start < len(body):
        chunks.append((start, len(body)))
    return chunks


_Branch = tuple[_Path, "cst.IndentedBlock | None", tuple[str, ...]]  # (steps, body, words of its values)


@dataclass(frozen=True)
class _Dispatch:
    """An if/elif chain testing one subject against values, one branch per value (or values)."""

    path: _Path  # of the ``if`` statement
    tail: bool
    branches: list[_Branch]
    matchable: bool  # every test is ``==``/``in`` (``is`` has no ``match`` pattern)


@dataclass(frozen=True)
class _Case:
    """One test of a dispatch chain: ``subject == value`` / ``subject in (values)`` /
    ``subject is Kind.X``, with an optional guard (``guard and subject == value``)."""

    subject: str
    values: tuple[cst.BaseExpression, ...]
    words: tuple[str, ...]
    identity: bool = False
    guard: cst.BaseExpression | None = None


def _find_dispatch(func: cst.FunctionDef) -> _Dispatch | None:
    """The largest if/elif chain of the function comparing one subject with values."""
    found = [d for block, path, tail, _ancestors in _containers(func) for d in _block_dispatches(block, path, tail)]
    return max(found, key=_dispatch_weight, default=None)


def _block_dispatches(block: cst.IndentedBlock, path: _Path, tail: bool) -> Iterator[_Dispatch]:
    for i, stmt in enumerate(block.body):
        found = _dispatch_branches(stmt) if isinstance(stmt, cst.If) else None
        if found is not None:
            yield _Dispatch((*path, ("body", i)), tail and i == len(block.body) - 1, *found)


def _dispatch_weight(chain: _Dispatch) -> int:
    """How much code the chain's branches hold (the first of equals wins: ``max`` keeps it)."""
    return sum(statement_cc(s) + 1 for _, body, _ in chain.branches if body is not None for s in body.body)


def _dispatch_branches(stmt: cst.If) -> tuple[list[_Branch], bool] | None:
    subject: str | None = None
    branches: list[_Branch] = []
    node: cst.If | cst.Else | None = stmt
    steps: _Path = ()
    matchable = True
    while isinstance(node, cst.If):
        case = _case_test(node.test)
        if case is None or (subject is not None and case.subject != subject):
            return None
        subject = case.subject
        matchable = matchable and not case.identity
        body = node.body if isinstance(node.body, cst.IndentedBlock) else None
        branches.append(((*steps, ("if", 0)), body, case.words))
        steps = (*steps, ("elif", 0))
        node = node.orelse
    return _finish_dispatch_branches(node, branches, steps, matchable)


def _finish_dispatch_branches(
    node: cst.If | cst.Else | None, branches: list[_Branch], steps: _Path, matchable: bool
) -> tuple[list[_Branch], bool] | None:
    if isinstance(node, cst.Else):
        body = node.body if isinstance(node.body, cst.IndentedBlock) else None
        branches.append(((*steps[:-1], ("else", 0)), body, ()))
    if sum(1 for b in branches if b[2]) < MIN_DISPATCH_BRANCHES:
        return None
    return branches, matchable


def _case_test(test: cst.BaseExpression) -> _Case | None:
    """The dispatch test ``test`` is, if any. A guard after the comparison keeps its order as
    ``case value if guard``; one before it must be free of side effects (names, attributes,
    ``not``/``and``/``or`` of them), as ``match`` compares first."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        first = _compare_test(test.left)
        if first is not None:
            return replace(first, guard=test.right)
        last = _compare_test(test.right)
        if last is not None and _pure_guard(test.left):
            return replace(last, guard=test.left)
        return None
    return _compare_test(test)


def _compare_test(test: cst.BaseExpression) -> _Case | None:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    if isinstance(target.operator, (cst.Equal, cst.Is)):
        return _equality_case(test.left, target.comparator, isinstance(target.operator, cst.Is))
    if isinstance(target.operator, cst.In):
        return _membership_case(test.left, target.comparator)
    return None


def _equality_case(left: cst.BaseExpression, right: cst.BaseExpression, identity: bool) -> _Case | None:
    """``subject == value`` (either way round) or ``subject is Kind.X``."""
    if _case_words(left) is not None and _is_subject(right):
        left, right = right, left
    words = _case_words(right)
    if words is None or not _is_subject(left):
        return None
    if identity and not _is_constant(right):
        return None  # ``kind is "say"`` is no dispatch one should keep
    return _Case(_code(left), (right,), (words,), identity=identity)


def _membership_case(left: cst.BaseExpression, right: cst.BaseExpression) -> _Case | None:
    """``subject in ("a", "b")``."""
    if not isinstance(right, (cst.Tuple, cst.List, cst.Set)) or not right.elements or not _is_subject(left):
        return None
    values = [e.value for e in right.elements if isinstance(e, cst.Element)]
    found = [w for w in map(_case_words, values) if w is not None]
    if len(found) != len(right.elements):
        return None  # a starred element, or a value that is no literal nor constant
    return _Case(_code(left), tuple(values), tuple(found))


def _case_words(node: cst.BaseExpression) -> str | None:
    """What a handler of this value is called after, for a literal or an enum member / constant
    (``EventEnum.CONNECTION_NEW.value`` -> ``CONNECTION_NEW``); None for anything else."""
    value = _literal_value(node)
    if value is not None:
        return str(value)
    if not _is_constant(node):
        return None
    segments = _code(node).split(".")
    while len(segments) > 1 and segments[-1] in ("value", "name"):
        segments.pop()
    return segments[-1]


def _is_constant(node: cst.BaseExpression) -> bool:
    """A dotted name that names a constant: ``Kind.SAY``, ``mod.Kind.SAY.value``, ``consts.PING``
    (a class-like segment before the last, or an UPPER_CASE last one). A ``match`` value pattern."""
    segments: list[str] = []
    current: cst.BaseExpression = node
    while isinstance(current, cst.Attribute):
        segments.insert(0, current.attr.value)
        current = current.value
    if not isinstance(current, cst.Name) or not segments:
        return False
    segments.insert(0, current.value)
    last = segments[-1]
    return any(s[:1].isupper() for s in segments[:-1]) or (last.isupper() and len(last) > 1)


def _is_subject(node: cst.BaseExpression) -> bool:
    return _plain_subject(node) and not _is_constant(node)


def _pure_guard(node: cst.BaseExpression) -> bool:
    """Names, attributes and ``not``/``and``/``or`` of them: evaluating them later changes nothing."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        return _pure_guard(node.expression)
    if isinstance(node, cst.BooleanOperation):
        return _pure_guard(node.left) and _pure_guard(node.right)
    return _plain_subject(node) or _literal_value(node) is not None


def _literal_value(node: cst.BaseExpression) -> Any:
    if isinstance(node, cst.SimpleString) and "f" not in node.prefix.lower():
        return node.evaluated_value
    if isinstance(node, cst.Integer):
        return node.evaluated_value
    return None


def _plain_subject(node: cst.BaseExpression) -> bool:
    """A name, or attributes/literal subscripts of one: evaluating it once or each time is alike."""
    if isinstance(node, cst.Name):
        return True
    if isinstance(node, cst.Attribute):
        return _plain_subject(node.value)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        return isinstance(index, cst.Index) and _literal_value(index.value) is not None and _plain_subject(node.value)
    return False


def _to_match(func: cst.FunctionDef, stmt_path: _Path) -> cst.FunctionDef:
    """The dispatch chain at ``stmt_path`` as ``match subject: case "a": ...`` (comments above
    an ``elif``/``else`` stay above its ``case``)."""
    *block_path, (_, index) = stmt_path
    block = _resolve(func, block_path)
    if block is None:
        return func
    stmt = block.body[index]
    if not isinstance(stmt, cst.If):
        return func
    cases: list[cst.MatchCase] = []
    subject: cst.BaseExpression | None = None
    node: cst.If | cst.Else | None = stmt
    while isinstance(node, cst.If):
        case = _case_test(node.test)
        if case is None or case.identity:
            return func
        subject = subject or cst.parse_expression(case.subject)
        cases.append(_match_case(case, node.body, node.leading_lines if node is not stmt else []))
        node = node.orelse
    if isinstance(node, cst.Else):
        cases.append(cst.MatchCase(pattern=cst.MatchAs(), body=node.body, leading_lines=node.leading_lines))
    if subject is None:
        return func
    match = cst.Match(subject=subject, cases=cases, leading_lines=stmt.leading_lines)
    new_block = block.with_changes(body=[*block.body[:index], match, *block.body[index + 1:]])
    return cst.ensure_type(func.deep_replace(block, new_block), cst.FunctionDef)


def _match_case(case: _Case, body: cst.BaseSuite, lead: Sequence[cst.EmptyLine]) -> cst.MatchCase:
    """``case "a" | "b" if guard:`` with the branch's body (its header comment included)."""
    patterns = [cst.MatchValue(v.with_changes(lpar=[], rpar=[])) for v in case.values]
    pattern: cst.MatchPattern = patterns[0] if len(patterns) == 1 else cst.MatchOr(
        [cst.MatchOrElement(p) for p in patterns]
    )
    guard = case.guard.with_changes(lpar=[], rpar=[]) if case.guard is not None else None
    space = cst.SimpleWhitespace(" " if guard is not None else "")
    return cst.MatchCase(
        pattern=pattern, body=body, guard=guard, leading_lines=lead,
        whitespace_before_if=space, whitespace_after_if=space,
    )


def _call_order(func: cst.FunctionDef, helpers: Sequence[cst.FunctionDef]) -> list[cst.FunctionDef]:
    """Helpers in the order a reader meets their calls: depth first from the function."""
    by_name = {h.name.value: h for h in helpers}
    out: list[cst.FunctionDef] = []
    seen: set[str] = set()

    def visit_calls(node: cst.FunctionDef) -> None:
        names: list[str] = []

        class Calls(cst.CSTVisitor):
            def visit_Name(self, n: cst.Name) -> None:
                if n.value in by_name and n.value not in seen:
                    seen.add(n.value)
                    names.append(n.value)

        visit(node.body, Calls())
        for name in names:
            out.append(by_name[name])
            visit_calls(by_name[name])

    visit_calls(func)
    out.extend(h for h in helpers if h.name.value not in seen)
    return out


# --------------------------------------------------------------------------
# the shared rule
# --------------------------------------------------------------------------


def _uses_any(helpers: Sequence[cst.FunctionDef]) -> bool:
    """Does a helper's signature say ``Any`` (so the module must import it)?"""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            nonlocal found
            found = found or node.value == "Any"

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)  # ``t.Any`` is the module's own import: nothing to add
            return False

    for helper in helpers:
        visit(helper.params, Finder())
        if helper.returns is not None:
            visit(helper.returns, Finder())
    return found


# bases that define no methods a helper name could collide with
_NEUTRAL_BASES = frozenset({"object", "Generic", "Protocol", "ABC", "NamedTuple", "TypedDict"})


def _has_outside_bases(cls: cst.CSTNode, module_classes: frozenset[str]) -> bool:
    """Does the class derive from a class defined in another module (whose names we cannot see)?"""
    if not isinstance(cls, cst.ClassDef):
        return False
    for arg in cls.bases:
        base = arg.value
        if isinstance(base, cst.Subscript):
            base = base.value
        name = cst.helpers.get_full_name_for_node(base) or ""
        if name.split(".")[-1] in _NEUTRAL_BASES or name in module_classes:
            continue
        return True
    return False


def _enclosing_names(ancestors: Sequence[cst.CSTNode]) -> frozenset[str]:
    """Names local to the functions around a closure (its analysis sees only its own code)."""
    out: set[str] = set()
    for node in ancestors[:-1]:
        if isinstance(node, cst.FunctionDef) and isinstance(node.body, cst.IndentedBlock):
            params = node.params
            every = [*params.posonly_params, *params.params, *params.kwonly_params]
            every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
            out |= {p.name.value for p in every}
            out |= _stored_names(list(node.body.body))
    return frozenset(out)


def _tests_the_name(node: cst.CSTNode, parent: cst.CSTNode | None) -> bool:
    """``node`` (a read of a name) is tested: an ``if``/``while`` test, an ``assert``, a
    conditional expression or an ``isinstance`` call, which narrow its type from there on."""
    if isinstance(parent, (cst.If, cst.While)) and node is parent.test:
        return True
    if isinstance(parent, (cst.Assert, cst.IfExp)):
        return True
    return isinstance(parent, cst.Call) and isinstance(parent.func, cst.Name) and parent.func.value == "isinstance"
