"""Per-file work: prefilter, parse once, one batched traversal for every rule, fix until stable.

Everything here runs inside a worker process and returns only picklable results.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import gc
import hashlib
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wsrefactor.config import Config
from wsrefactor.fixes import apply_fixes, choose_compatible, text_edits, unified_diff
from wsrefactor.lazy import cst
from wsrefactor.model import Finding, FixInfo, FixSafety
from wsrefactor.positions import Positions
from wsrefactor.rule import FileContext, Fix, ProjectRule, Report, Rule
from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.detection import Detection
from wsrefactor.source import SourceError, SourceFile
from wsrefactor.walk import code_of, take_ast, walk

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

# Fixing a file is repeated until a pass changes nothing: each pass re-finds what the previous
# one left (a nested function's extraction needs its enclosing one done first, one level a pass).
# Past this many passes still changing the file (or on a pass that brings back an earlier text)
# the file is left as it was read: a partial result would be changed again by the next run.
MAX_FIX_PASSES = 32
UNSETTLED = "fixes did not settle within {passes} passes (each pass still changed the file); file left unchanged"
CYCLE = "fixes undo one another (pass {passes} brought back the text of an earlier pass); file left unchanged"


@dataclass(frozen=True)
class FixPolicy:
    """Which fixes may be applied: safe always, unsafe with ``--unsafe-fixes`` or explicit select.

    ``only`` (interactive fixing) restricts to the findings accepted one by one, identified by
    ``(path, code, line, column)`` in the text as it was read (two identical files get their own
    decisions). Accepted fixes that overlap one another are applied in later passes, found again
    by their finding's fingerprint (``_Accepted``).
    """

    unsafe: bool = False
    unsafe_codes: frozenset[str] = frozenset()
    only: frozenset[tuple[str, str, int, int]] | None = None

    def allows_finding(self, path: str, code: str, line: int, column: int, safety: FixSafety) -> bool:
        if self.only is not None and (path, code, line, column) not in self.only:
            return False
        return self.allows_project(code, safety)

    def allows_fix(self, code: str, fix: Fix) -> bool:
        """Whether a file's own fix may be applied (policies that must see the fix override this)."""
        return self.allows_project(code, fix.safety)

    def allows_project(self, code: str, safety: FixSafety) -> bool:
        if safety is FixSafety.SAFE:
            return True
        if safety is FixSafety.UNSAFE:
            return self.unsafe or code in self.unsafe_codes
        return False


class _Accepted:
    """The interactive decisions for one file, across fix passes.

    Pass one knows the accepted findings by position. A fix not applied then (it overlapped
    another accepted fix) is remembered by its finding's fingerprint (code + scope + statement
    text, whitespace-insensitive) and applied in a later pass, where positions have moved.
    """

    def __init__(self, policy: FixPolicy, path: str) -> None:
        self.policy = policy
        self.positions = {(c, ln, col) for p, c, ln, col in policy.only or () if p == path}
        self.pending: Counter[tuple[str, str]] | None = None

    def permits(self, code: str, fix: Fix, contexts: Mapping[tuple[str, int, int], str]) -> bool:
        if not self.policy.allows_fix(code, fix):
            return False
        if self.pending is None:
            return (code, *fix.at) in self.positions
        return self.pending[(code, contexts.get((code, *fix.at), ""))] > 0

    def record(
        self,
        permitted: Sequence[tuple[str, Fix]],
        chosen: Sequence[Fix],
        contexts: Mapping[tuple[str, int, int], str],
        refused: Sequence[tuple[str, Fix]] = (),
    ) -> None:
        """Remember the permitted fixes not applied yet (a refused one will never be)."""
        permitted = [cf for cf in permitted if cf not in refused]
        keys = {id(f): (c, contexts.get((c, *f.at), "")) for c, f in permitted}
        if self.pending is None:
            self.pending = Counter(keys[id(f)] for _, f in permitted if f not in chosen)
        else:
            self.pending.subtract(keys[id(f)] for f in chosen if id(f) in keys)
            self.pending = +self.pending

    @property
    def done(self) -> bool:
        return self.pending is not None and not self.pending


@dataclass
class Analysis:
    findings: list[Finding]
    facts: dict[str, list[Any]]
    fixes: list[tuple[str, Fix]]  # (code, fix) in source order
    module: cst.Module
    position: Callable[[cst.CSTNode], CodeRange]


class _Dispatch:
    """One traversal for all rules (``wsrefactor.walk``); keeps ``ctx.ancestors`` for them."""

    def __init__(self, ctx: FileContext, rules: Sequence[Rule]) -> None:
        self.ctx = ctx
        self.visits: dict[str, list[Callable[[cst.CSTNode], Any]]] = defaultdict(list)
        self.leaves: dict[str, list[Callable[[cst.CSTNode], Any]]] = defaultdict(list)
        for rule in rules:
            for name, kind, node_type in _visitor_names(type(rule)):
                (self.visits if kind == "visit" else self.leaves)[node_type].append(getattr(rule, name))

    def on_visit(self, node: cst.CSTNode) -> None:
        self.ctx.ancestors.append(node)
        for func in self.visits.get(type(node).__name__, ()):
            func(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        for func in self.leaves.get(type(original_node).__name__, ()):
            func(original_node)
        self.ctx.ancestors.pop()


_VISITOR_NAMES: dict[type, tuple[tuple[str, str, str], ...]] = {}


def _visitor_names(cls: type) -> tuple[tuple[str, str, str], ...]:
    """``visit_X``/``leave_X`` methods of a rule class, found once per class (not per file).

    Hooks a class inherits from libcst (a plugin mixing in one of its visitors inherits some 350
    no-ops) are left out: the walk would otherwise call each of them on every node of every file."""
    known = _VISITOR_NAMES.get(cls)
    if known is not None:
        return known
    out = []
    for name in dir(cls):
        kind, _, node_type = name.partition("_")
        if kind in ("visit", "leave") and node_type and "_" not in node_type and callable(getattr(cls, name)):
            owner = next(k for k in cls.__mro__ if name in vars(k))
            if not owner.__module__.startswith("libcst."):
                out.append((name, kind, node_type))
    known = _VISITOR_NAMES[cls] = tuple(out)
    return known


def parse(text: str, path: str) -> cst.Module:
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        if _ast_or_none(text) is not None:  # valid Python that libcst 1.x cannot parse
            first = "libcst cannot parse this valid Python (libcst limitation); no fix, and its libcst rules were skipped"
            raise SourceError(first, line=exc.raw_line, column=exc.raw_column + 1) from None
        raise SourceError(f"syntax error: {first}", line=exc.raw_line, column=exc.raw_column + 1) from None
    except RecursionError:
        raise SourceError("too deeply nested to parse") from None


def _context_text(module: cst.Module, report: Report) -> str:
    node = report.node
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        # A definition is identified by its name, not its (changing) body.
        return f"{report.scope}:{'class' if isinstance(node, cst.ClassDef) else 'def'} {node.name.value}"
    if isinstance(report.stmt, cst.SimpleStatementLine):
        node = report.stmt
    try:
        code = module.code_for_node(node)
    except Exception:  # noqa: BLE001 - a fingerprint must never fail the run
        code = type(node).__name__
    return f"{report.scope}:{' '.join(code.split())[:240]}"


def analyze_module(
    path: str,
    module: cst.Module,
    rules: Sequence[type[Rule]],
    config: Config,
    want_edits: bool = False,
    tree: ast.Module | None = None,
    build_fixes: bool = False,
    plan_lazy: bool = True,
    text: str | None = None,
    analyses: Analyses | None = None,
) -> Analysis:
    """Run every rule over one parsed module in a single traversal.

    ``want_edits`` computes each fix's text edits (JSON, SARIF); ``build_fixes`` builds lazy fixes
    without edits, so messages say when a fix turned out impossible (the final pass of ``fix``).
    ``plan_lazy=False`` leaves lazy fixes (``Fix.build``: extract method, generated code) unbuilt
    even when edits are wanted: the finding says *that* a fix is offered, as a plain check does,
    and its edits are planned on demand (``--fix-edits``, ``fix``, ``--diff``).
    ``text``: what ``module`` was parsed from; ``analyses``: those of ``text`` and ``tree``, if known.
    """
    ctx = FileContext(path, module, config.rule_options, config.target_version, tree, config.root, text, analyses)
    instances = [rule(ctx) for rule in rules]
    wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
    ctx.wrapper = wrapper
    for rule in instances:
        # Kept after the visit (not libcst's scoped ``resolve``): lazy fixes built later still
        # read positions and scopes of this tree. The wrapper caches, so each provider runs once.
        rule.metadata = wrapper.resolve_many(rule.metadata_dependencies())
    dispatch = _Dispatch(ctx, instances)
    walk(module, dispatch.on_visit, dispatch.on_leave)

    position = ctx.positions
    findings: list[Finding] = []
    fixes: list[tuple[str, Fix]] = []
    facts: dict[str, list[Any]] = {}
    for rule in instances:
        if isinstance(rule, ProjectRule) and rule.facts:
            facts[rule.code] = rule.facts
        for report in rule.reports:
            finding, fix = _finding(rule, report, position, want_edits, build_fixes, plan_lazy)
            findings.append(finding)
            if fix is not None:
                fixes.append((rule.code, fix))
    findings.sort(key=lambda f: f.sort_key)
    fixes.sort(key=lambda cf: cf[1].at)
    return Analysis(findings, facts, fixes, module, position)


def _finding(
    rule: Rule, report: Report, position: Positions, want_edits: bool, build_fixes: bool, plan_lazy: bool = True
) -> tuple[Finding, Fix | None]:
    if report.detection is not None:
        return _detected(rule, report, report.detection, want_edits, build_fixes)
    module = rule.ctx.module
    rng = position(report.node)
    stmt_rng = position(report.stmt) if report.stmt is not None else rng
    fix, message, info = report.fix, report.message, None
    on_demand = _on_demand(fix, build_fixes, plan_lazy)
    if fix is not None and (want_edits or build_fixes) and not on_demand and not materialize(fix):
        # A lazy fix that found nothing to do: its description says why.
        message, fix = f"{message}; {fix.description}", None
    if fix is not None:
        info = _fix_info(module, fix, want_edits, on_demand, rule.ctx.path)
        fix.at = (rng.start.line, rng.start.column + 1)
    finding = Finding(
        code=rule.code, name=rule.name, message=message, path=rule.ctx.path,
        line=rng.start.line, column=rng.start.column + 1,
        end_line=rng.end.line, end_column=rng.end.column + 1,
        severity=rule.severity, category=rule.category, fix=info,
        stmt_line=stmt_rng.start.line, stmt_end_line=stmt_rng.end.line,
        context=_context_text(module, report), extra=report.extra,
    )
    return finding, fix


def _on_demand(fix: Fix | None, build_fixes: bool, plan_lazy: bool) -> bool:
    """A lazy fix left unbuilt: offered, its edits planned only when asked for."""
    return fix is not None and fix.build is not None and not (build_fixes or plan_lazy)


def _fix_info(module: cst.Module, fix: Fix, want_edits: bool, on_demand: bool, path: str) -> FixInfo:
    """What the finding says about its fix; edits only when wanted and the fix was built."""
    if on_demand:  # offered, not planned: no edits (a plain check says the same)
        return FixInfo(fix.safety, f"{fix.description} (edits planned on demand: --fix-edits)", planned=False)
    edits = text_edits(code_of(module), code_of(apply_fixes(module, [fix], path))) if want_edits else ()
    return FixInfo(fix.safety, fix.description, edits)


def _detected(
    rule: Rule, report: Report, found: Detection, want_edits: bool, build_fixes: bool
) -> tuple[Finding, Fix | None]:
    """A ``SemanticRule`` finding: exactly its detection, with the fix built from its span."""
    fix, message, info = report.fix, report.message, None
    if fix is not None and (want_edits or build_fixes) and not materialize(fix):
        message, fix = f"{message}; {fix.description}", None
    if fix is not None:
        module = rule.ctx.module
        edits = text_edits(code_of(module), code_of(apply_fixes(module, [fix], rule.ctx.path))) if want_edits else ()
        info = FixInfo(fix.safety, fix.description, edits)
        fix.at = (found.line, found.column)
    return detection_finding(rule, rule.ctx.path, found, info, message), fix


def detection_finding(
    rule: type[Rule] | Rule, path: str, found: Detection, info: FixInfo | None, message: str | None = None
) -> Finding:
    """The finding a ``Detection`` stands for, on either path (with or without libcst)."""
    return Finding(
        code=rule.code, name=rule.name, message=message or found.message, path=path,
        line=found.line, column=found.column, end_line=found.end_line, end_column=found.end_column,
        severity=rule.severity, category=rule.category, fix=info,
        stmt_line=found.stmt_line, stmt_end_line=found.stmt_end_line, context=found.context,
    )


def materialize(fix: Fix) -> bool:
    """Build a lazy fix's edits now (once); False when it turns out there is nothing to apply."""
    if fix.build is not None:
        build, fix.build = fix.build, None
        build(fix)
    return bool(fix.replacements or fix.module_statements or fix.imports or fix.new_files)


def check_parses(text: str, path: str) -> str | None:
    """Why ``text`` is not valid Python (None when it is): fixed output must parse."""
    problem, _ = _parse_both(text, path)
    return problem


def _parse_both(text: str, path: str) -> tuple[str | None, tuple[cst.Module, ast.Module] | None]:
    """Why ``text`` is not valid Python, or its libcst and ``ast`` trees (the next fix pass
    starts from them instead of parsing the same text again)."""
    try:
        module = cst.parse_module(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = take_ast(text) or ast.parse(text, filename=path)
    except (cst.ParserSyntaxError, SyntaxError, ValueError, RecursionError) as exc:
        return (str(exc).splitlines()[0] if str(exc) else type(exc).__name__), None
    return None, (module, tree)


@dataclass
class FixOutcome:
    text: str
    # Findings resolved per code: present before the fixes and gone after (not passes applied).
    applied: dict[str, int] = field(default_factory=dict)
    new_files: list[tuple[str, str]] = field(default_factory=list)
    analysis: Analysis | None = None
    errors: list[str] = field(default_factory=list)
    before: list[Finding] | None = None  # the findings of the text as it was read
    parsed: tuple[cst.Module, ast.Module] | None = None  # ``text`` parsed by the pass that wrote it


def fix_text(
    path: str,
    text: str,
    rules: Sequence[type[Rule]],
    config: Config,
    policy: FixPolicy,
    tree: ast.Module | None = None,
    analyses: Analyses | None = None,
) -> FixOutcome:
    """Apply allowed fixes, re-parse and re-check, until a pass changes nothing: the result is a
    fixed point (a second run changes nothing), or the text as read when the passes do not settle
    within ``MAX_FIX_PASSES`` or come back to an earlier text (the findings then say why).
    ``analyses``: those of ``text`` and ``tree`` already computed (the first pass reuses them)."""
    with fewer_collections():
        return _fix_text(path, text, rules, config, policy, tree, analyses)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Fixing builds and drops many libcst trees, freed by reference counting (they hold no
    cycles); with the default thresholds the cyclic collector ran thousands of times over the
    growing heap (some 15% of a fix run's CPU). Raised while fixing, restored after; nothing
    the fixes compute depends on when cycles are collected."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 50_000), max(old[1], 20), max(old[2], 20))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _fix_text(
    path: str,
    text: str,
    rules: Sequence[type[Rule]],
    config: Config,
    policy: FixPolicy,
    tree: ast.Module | None,
    analyses: Analyses | None,
) -> FixOutcome:
    outcome = FixOutcome(text)
    accepted = _Accepted(policy, path) if policy.only is not None else None
    seen = {_digest(text)}
    for passes in range(1, MAX_FIX_PASSES + 1):
        if outcome.parsed is not None:
            tree, analyses = outcome.parsed[1], None
        step = _fix_pass(outcome, path, rules, config, policy, tree, accepted, analyses)
        if step == "done":
            break
        if accepted is not None and accepted.done:  # interactive: every accepted fix is in
            final = outcome.text
            outcome.analysis = analyze_module(
                path, parse(final, path), rules, config, tree=_ast_or_none(final), build_fixes=True, text=final
            )
            break
        digest = _digest(outcome.text)
        if digest in seen:
            return _unsettled(outcome, path, text, rules, config, policy, CYCLE.format(passes=passes))
        seen.add(digest)
    else:
        return _unsettled(outcome, path, text, rules, config, policy, UNSETTLED.format(passes=MAX_FIX_PASSES))
    _count_resolved(outcome, text)
    return outcome


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _unsettled(
    outcome: FixOutcome, path: str, text: str, rules: Sequence[type[Rule]], config: Config, policy: FixPolicy,
    reason: str,
) -> FixOutcome:
    """Fixes that keep changing the file: keep the text as read, so the next run decides exactly
    the same way (deterministic, no pass depends on time) and changes nothing either. Every
    finding whose fix the run would have applied says why it was not."""
    analysis = analyze_module(path, parse(text, path), rules, config, tree=_ast_or_none(text), text=text)
    permitted = {(c, *f.at) for c, f in analysis.fixes if policy.allows_fix(c, f)}
    analysis.findings = [
        dataclasses.replace(f, message=f"{f.message}; not fixed: {reason}", fix=None)
        if (f.code, f.line, f.column) in permitted else f
        for f in analysis.findings
    ]
    analysis.fixes = [(c, f) for c, f in analysis.fixes if (c, *f.at) not in permitted]
    return FixOutcome(text, analysis=analysis, errors=[*outcome.errors, reason], before=analysis.findings)


def _count_resolved(outcome: FixOutcome, text: str) -> None:
    if outcome.text != text and outcome.before is not None and outcome.analysis is not None:
        outcome.applied = resolved(outcome.before, outcome.analysis.findings)


def resolved(before: Sequence[Finding], after: Sequence[Finding]) -> dict[str, int]:
    """Per code, the findings present before and absent after, by fingerprint (code, scope,
    statement text) — never more than the code's net decrease, so a finding whose statement
    another fix merely reworded is not counted."""
    gone = Counter((f.code, f.context) for f in before) - Counter((f.code, f.context) for f in after)
    by_code: Counter[str] = Counter()
    for (code, _), n in gone.items():
        by_code[code] += n
    net = Counter(f.code for f in before)
    net.subtract(f.code for f in after)
    return {c: min(n, net[c]) for c, n in sorted(by_code.items()) if min(n, net[c]) > 0}


def _fix_pass(
    outcome: FixOutcome,
    path: str,
    rules: Sequence[type[Rule]],
    config: Config,
    policy: FixPolicy,
    tree: ast.Module | None,
    accepted: _Accepted | None = None,
    analyses: Analyses | None = None,
) -> str:
    """One pass: "changed" (go again) or "done" (stable; this pass's analysis stands, its lazy
    fixes that found nothing to do saying why)."""
    module = parse(outcome.text, path) if outcome.parsed is None else outcome.parsed[0]
    analysis = analyze_module(path, module, rules, config, tree=tree, text=outcome.text, analyses=analyses)
    outcome.analysis = analysis
    if outcome.before is None:
        outcome.before = analysis.findings
    contexts = _contexts(analysis.findings)
    permitted = _permitted(analysis, policy, accepted, contexts)
    chosen = choose_compatible([f for _, f in permitted], analysis.position, build=materialize)
    refused = _refused(permitted)
    if not chosen:
        _say_refused(analysis, refused)
        return "done"
    applied = [(c, f) for c, f in permitted if f in chosen]
    new_text = _apply(outcome, module, applied, path)
    if new_text is None:
        return "done"
    if accepted:
        accepted.record(permitted, chosen, contexts, refused)
    outcome.new_files.extend(_new_files(applied, path))
    outcome.text = new_text
    return "changed"


def _apply(outcome: FixOutcome, module: cst.Module, applied: Sequence[tuple[str, Fix]], path: str) -> str | None:
    """The text with the pass's fixes applied; None when the file cannot be reproduced, or the
    result does not parse (both reported) or is the same text."""
    if not _reproduces(outcome, module):
        return None
    new_text = code_of(apply_fixes(module, [f for _, f in applied], path))
    return new_text if _acceptable(outcome, new_text, applied, path) else None


def _contexts(findings: Sequence[Finding]) -> dict[tuple[str, int, int], str]:
    """Each finding's fingerprint text by (code, line, column), to recognise it in a later pass."""
    return {(f.code, f.line, f.column): f.context for f in findings}


def _refused(permitted: Sequence[tuple[str, Fix]]) -> list[tuple[str, Fix]]:
    """The fixes built in this pass that turned out to have nothing to apply (a lazy fix that
    overlapped the chosen ones was not built: it is not refused, it waits)."""
    return [(c, f) for c, f in permitted if f.build is None and not materialize(f)]


def _say_refused(analysis: Analysis, refused: Sequence[tuple[str, Fix]]) -> None:
    """Lazy fixes built in this pass that found nothing to do: their findings say why and offer
    no fix, as ``analyze_module(build_fixes=True)`` would say (without planning them again)."""
    why = {(c, *f.at): f.description for c, f in refused}
    if not why:
        return
    analysis.findings = [
        dataclasses.replace(f, message=f"{f.message}; {why[key]}", fix=None)
        if (key := (f.code, f.line, f.column)) in why else f
        for f in analysis.findings
    ]
    analysis.fixes = [(c, f) for c, f in analysis.fixes if (c, *f.at) not in why]


def _reproduces(outcome: FixOutcome, module: cst.Module) -> bool:
    """libcst 1.9 drops all but the last of several comment lines indented less than the block
    they follow at the end of a file; any fix would silently delete them: such files are not fixed."""
    if module.code == outcome.text:
        return True
    line = _first_difference(outcome.text, module.code)
    outcome.errors.append(f"libcst cannot reproduce this file byte for byte (line {line}); not fixed")
    return False


def _permitted(
    analysis: Analysis, policy: FixPolicy, accepted: _Accepted | None, contexts: Mapping[tuple[str, int, int], str]
) -> list[tuple[str, Fix]]:
    if accepted is None:
        return [(c, f) for c, f in analysis.fixes if policy.allows_fix(c, f)]
    return [(c, f) for c, f in analysis.fixes if accepted.permits(c, f, contexts)]


def _acceptable(outcome: FixOutcome, new_text: str, applied: Sequence[tuple[str, Fix]], path: str) -> bool:
    """Whether the pass's output parses and changed something (a parse failure is reported)."""
    if new_text == outcome.text:
        return False
    problem, outcome.parsed = _parse_both(new_text, path)
    if problem is not None:
        codes = ", ".join(sorted({c for c, _ in applied}))
        outcome.errors.append(f"fix by {codes} would not parse ({problem}); not applied")
        return False
    return True


def _first_difference(a: str, b: str) -> int:
    """1-based line of the first character where ``a`` and ``b`` differ."""
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return a.count("\n", 0, n) + 1


def _new_files(applied: Sequence[tuple[str, Fix]], path: str) -> list[tuple[str, str]]:
    base = os.path.dirname(os.path.abspath(path))
    return [(os.path.join(base, p), t) for _, fix in applied for p, t in fix.new_files]


def _ast_or_none(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None


def diff_for(source: SourceFile, new_text: str, display: str) -> str:
    return unified_diff(source.text, new_text, display)
