"""WS301 and WS302's common base: which functions radon finds over a limit, and the
extract-method fix offered for each.

The decision reads Python's ``ast`` and radon only (``functions_over``), for a plain check and
for the libcst pass alike. The extraction is planned in ``rules/_extract.py``, imported only when
a fix is built (with libcst itself, see ``wsrefactor.lazy``).
"""

from __future__ import annotations

import ast
import bisect
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from wsrefactor import complexity
from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety
from wsrefactor.rule import AstReport, FileContext, Fix, Option, Report, Rule
from wsrefactor.semantic.nodes import NodeIndex, per_tree

if TYPE_CHECKING:
    from wsrefactor.rules._extract import Planner


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
    functions = NodeIndex.of(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    if metric != "cc":
        return [(f.end_lineno or f.lineno) - f.lineno + 1 for f in functions]
    marks = sorted(_increment(n) for n in NodeIndex.of(tree).nodes(*_DECISIONS))
    lines = [line for line, _ in marks]
    totals = [0, *itertools.accumulate(inc for _, inc in marks)]
    return [
        1 + totals[bisect.bisect_right(lines, f.end_lineno or f.lineno)] - totals[bisect.bisect_left(lines, f.lineno)]
        for f in functions
    ]


def offending_blocks(tree: Any, metric: str, limit: int) -> bool:
    """Whether radon finds a function/method over ``limit`` in ``tree`` (Python ast)."""
    return tree is not None and bool(functions_over(tree, metric, limit))


def functions_over(tree: ast.Module, metric: str, limit: int) -> dict[int, Any]:
    """radon's blocks whose value is over ``limit``, by the function's ordinal in source order
    (libcst visits ``def``s in that order too, so the n-th ``FunctionDef`` visited is the n-th
    here), the real span as ``endline`` (``complexity.with_real_spans``). The blocks and numbers
    of radon run over the whole file (``add_inner_blocks(cc_visit_ast(tree))``; the tests hold
    them equal), but radon measures only the functions whose bound (``upper_bounds``) is over the
    limit, each on its own node: radon counts a function's own body, whatever surrounds it."""
    defs = NodeIndex.of(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    over = [d for d, bound in zip(defs, per_tree(upper_bounds, tree, metric)) if bound > limit]
    if not over:
        return {}  # no function can be over the limit: radon need not run
    blocks = per_tree(_radon_block_defs, tree)
    measured: dict[int, Any] = per_tree(_memo_of, tree)  # WS301 and WS302 measure a function once
    ordinal = per_tree(_ordinals, tree)
    out: dict[int, Any] = {}
    for node in over:
        if id(node) not in blocks:
            continue  # radon has no block for a def inside a class inside a function
        if id(node) not in measured:
            measured[id(node)] = _measure(node, tree)
        block = measured[id(node)]
        if block is not None and (block.complexity if metric == "cc" else block.endline - block.lineno + 1) > limit:
            out[ordinal[id(node)]] = block
    return dict(sorted(out.items()))


def _memo_of(tree: ast.Module) -> dict[int, Any]:
    return {}


def _ordinals(tree: ast.Module) -> dict[int, int]:
    defs = NodeIndex.of(tree).in_source_order(ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(node): i for i, node in enumerate(defs)}


def _radon_block_defs(tree: ast.Module) -> set[int]:
    """The ``def``s radon makes blocks of: every one, except those inside a
    class that is itself inside a function (radon drops such classes, methods and all)."""
    out: set[int] = set()
    todo: list[tuple[Sequence[ast.stmt], bool]] = [(tree.body, False)]  # (statements, in a function)
    while todo:
        body, in_function = todo.pop()
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.add(id(stmt))
                todo.append((stmt.body, True))
            elif isinstance(stmt, ast.ClassDef):
                if not in_function:
                    todo.append((stmt.body, False))
            else:
                todo.extend((block, in_function) for block in _statement_blocks(stmt))
    return out


def _measure(node: ast.FunctionDef | ast.AsyncFunctionDef, tree: ast.Module) -> Any:
    """radon's block for one function (its closures measured on the way), with its real span;
    None where radon gives up (too deep to visit)."""
    from radon.visitors import ComplexityVisitor

    visitor = ComplexityVisitor()
    try:
        visitor.visit(node)
    except RecursionError:
        return None
    return complexity.with_real_spans(visitor.functions, tree)[0]


def _defs_in_order(tree: ast.AST) -> list[tuple[Any, str]]:
    """Every ``def`` in source order with its dotted scope (enclosing classes/functions, itself).

    A ``def`` is a statement, so only statement blocks are walked (never expressions)."""
    out: list[tuple[Any, str]] = []
    _scan_defs(tree.body, "", out)  # type: ignore[attr-defined]
    return sorted(out, key=lambda item: (item[0].lineno, item[0].col_offset))


def _scan_defs(body: Sequence[ast.stmt], prefix: str, out: list[tuple[Any, str]]) -> None:
    # Not a recursive closure: that would be a reference cycle holding ``out`` (and the defs'
    # trees) until the cycle collector runs.
    for stmt in body:
        scope = prefix
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = f"{prefix}.{stmt.name}" if prefix else stmt.name
            if not isinstance(stmt, ast.ClassDef):
                out.append((stmt, scope))
        for block in _statement_blocks(stmt):
            _scan_defs(block, scope, out)


def _statement_blocks(stmt: ast.stmt) -> Iterator[Sequence[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list):
            yield block
    for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
        yield part.body


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
        for ordinal, block in functions_over(tree, cls.metric, limit).items():
            node, scope = defs[ordinal]
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
        self._module_types: tuple[frozenset[str], bool] | None = None
        self._ordinal = -1
        self._prefixes: dict[str, str] = {}  # top-level class name -> its method helpers' prefix

    def _over_limit(self) -> dict[int, Any]:
        """The one decision, shared with ``ast_reports``: the functions over the limit."""
        if self._radon is None:
            tree = self.ctx.tree if self.ctx.tree is not None else ast.parse(self.ctx.module.code)
            self._radon = functions_over(tree, self.metric, self.limit_from(self.opts))
        return self._radon

    def message(self, name: str, block: Any, limit: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._ordinal += 1
        block = self._over_limit().get(self._ordinal)
        if block is None:
            return
        limit = self.limit_from(self.opts)
        anc = self.ctx.ancestors
        in_class = len(anc) >= 3 and isinstance(anc[-3], cst.ClassDef)
        module_level = len(anc) == 2 and isinstance(anc[0], cst.Module)
        message = self.message(node.name.value, block, limit)
        # Planning an extraction costs far more than detection (scopes, a walk per candidate
        # block): it is done only when the fix is applied or its edits are reported.
        ancestors = tuple(anc)  # the list changes as the traversal goes on; the fix is built later
        fix = Fix(
            FixSafety.UNSAFE, "extract method",
            build=lambda f: self._plan_into(f, node, block, ancestors, in_class, module_level),
            anchors=(node,),  # what it replaces, known before it is planned (engine: plan only what can apply)
        )
        self._report(node, message, fix)

    def _planner(
        self, node: cst.FunctionDef, block: Any, anc: Sequence[cst.CSTNode], in_class: bool, module_level: bool
    ) -> Planner:
        from wsrefactor.rules._extract import (
            _CLASS_TYPES,
            Planner,
            _by_identity,
            _enclosing_names,
            _shared_names,
            class_attribute_types,
            infer_types,
            module_type_facts,
        )

        if self._names is None:
            self._names = _shared_names(self.ctx.module)
        if self._module_types is None:
            self._module_types = module_type_facts(self.ctx.module)
        classes, any_imported = self._module_types
        attributes = (
            _by_identity(_CLASS_TYPES, anc[-3], 64, class_attribute_types)  # once per class, not per method
            if in_class and isinstance(anc[-3], cst.ClassDef) else {}
        )
        return Planner(
            metric=self.metric, limit=self.limit_from(self.opts), in_class=in_class,
            module_level=module_level, taken=self._names,
            types=infer_types(node, classes, attributes, any_imported, "Any" not in self._names),
            enclosing=_enclosing_names(anc), def_col=int(getattr(block, "col_offset", 0)),
            budget=float(self.opts.get("plan-budget", BUDGET_OPTION.default)),
            match_ok=self.ctx.target_version >= (3, 10),
            prefix=self._method_prefix(anc) if in_class else "_",
        )

    def _method_prefix(self, anc: Sequence[cst.CSTNode]) -> str:
        """``_`` when every class above and below this one is known (their names are then
        taken: a helper never overrides nor is overridden), else ``__`` (class-private)."""
        from wsrefactor.rules._extract import _has_outside_bases
        from wsrefactor.rules._extract_bases import hierarchy_names

        cls = anc[-3]
        if not isinstance(cls, cst.ClassDef) or not isinstance(anc[-4], cst.Module):
            return "__" if _has_outside_bases(cls, self._module_types[0]) else "_"  # type: ignore[index]
        known = self._prefixes.get(cls.name.value)
        if known is None:  # once per class and pass: the project's files are walked for it
            tree = self.ctx.tree if self.ctx.tree is not None else ast.parse(self.ctx.module.code)
            names = hierarchy_names(self.ctx.path, tree, cls.name.value)
            if names is not None:
                self._names.update(n for n in names if n.startswith("_"))  # type: ignore[union-attr]
            known = self._prefixes[cls.name.value] = "__" if names is None else "_"
        return known

    def _plan_into(
        self, fix: Fix, node: cst.FunctionDef, block: Any, anc: Sequence[cst.CSTNode], in_class: bool,
        module_level: bool,
    ) -> None:
        from wsrefactor.rules._extract import _uses_any, run_memoised

        planner = self._planner(node, block, anc, in_class, module_level)
        taken = self._names if self._names is not None else set()  # always set by ``_planner``
        owner = getattr(self.ctx, "_options", None)  # the run's configuration: one memo per run
        result = run_memoised(
            planner, taken, node, int(block.complexity), int(block.endline - block.lineno + 1), owner
        )
        if result.func is None:
            fix.description = result.reason or "no safe extraction remains"
            return
        result = replace(result, placement=str(self.opts.get("helper-placement", "after")))
        numbers = (
            f"CC {result.before[0]} -> {result.after[0]}"
            if self.metric == "cc"
            else f"{result.before[1]} lines -> {result.after[1]}"
        )
        names = ", ".join(f"{h.name.value}()" for h in result.helpers)
        fix.description = f"extract {len(result.helpers)} helper{'s' if len(result.helpers) > 1 else ''} {names} ({numbers})"
        apply: Callable[[cst.CSTNode], Any] = result.apply  # type: ignore[assignment]  # called with ``node``
        fix.replacements = {node: apply}
        if not self._module_types[1] and _uses_any(result.helpers):  # type: ignore[index]
            fix.imports = (("typing", "Any"),)

    def _report(self, node: cst.FunctionDef, message: str, fix: Fix | None) -> None:
        # Reported on the ``def`` line; the statement (suppression comments, the span a fix may
        # touch) starts at the first decorator, where a helper placed before the function goes.
        stmt = node.decorators[0] if node.decorators else node
        self.reports.append(Report(node, message, fix, stmt=stmt, scope=self.ctx.scope_name()))


PLACEMENT_OPTION = Option(
    "helper-placement", str, "after", 'Where the extracted helpers go: "before" or "after" the function.'
)


BUDGET_OPTION = Option(
    "plan-budget", float, 5.0,
    "Seconds one function's extraction may take to plan; past it the finding says it is too large.",
)
