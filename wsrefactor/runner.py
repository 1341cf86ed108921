"""A whole run: discover, fan files out to workers, project phase, suppressions, writes.

Workers receive paths and return findings, facts and new text; CST trees never cross processes.
Results are sorted by path, so the output is identical for any number of jobs.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from wsrefactor.config import Config, ConfigLookup, ConfigMap
from wsrefactor.crossmodule import Analyse, cache_content, with_facts
from wsrefactor.discovery import discover, generated_header
from wsrefactor.engine import (
    Analysis,
    FixPolicy,
    analyze_module,
    check_parses,
    detection_finding,
    diff_for,
    fewer_collections,
    fix_text,
    materialize,
    parse,
)
from wsrefactor.imports import drop_imports_left_unused, organize_new_module
from wsrefactor.lazy import load as load_libcst
from wsrefactor.model import Finding, FixInfo, FixSafety, Severity
from wsrefactor.registry import load_rules
from wsrefactor.rule import ProjectEdit, ProjectRule, Rule, SemanticRule
from wsrefactor.selection import Selection, file_settings
from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.summary import ModuleSummary, using
from wsrefactor.source import (
    ChangedOnDisk,
    SourceError,
    SourceFile,
    decode,
    read_source,
    write_atomic,
    write_new,
)
from wsrefactor.suppressions import (
    Suppression,
    apply_suppressions,
    parse_suppressions,
    unused_suppressions,
)
from wsrefactor.walk import code_of

ENGINE_CODES = ("WS000", "WS001")
# libcst recurses per nesting level; long concatenations (pydoc_data/topics.py) need more than
# the default 1000 frames. Python 3.11 frames are cheap, so this is safe for the C stack.
_PYTHON_RECURSION_LIMIT = min(sys.getrecursionlimit(), 1000)  # CPython's default
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))


def _python_ast(text: str, path: str) -> ast.Module:
    """``ast.parse`` with Python's own recursion limit: the gate that keeps libcst safe.

    ``ast`` scales its C recursion guard with the recursion limit, so under the raised limit it
    accepts nesting (``1+1+...`` 10,000 terms) that Python itself refuses to compile and that
    crashes libcst's native parser with a segfault. With the normal limit such a file is a
    RecursionError here (WS000), and everything that passes is safe for libcst.
    """
    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(_PYTHON_RECURSION_LIMIT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=path)
    finally:
        sys.setrecursionlimit(raised)


@dataclass(frozen=True)
class Here:
    """What governs one file: its config, its selection (per-file and test-file ignores
    applied), whether it is a test file, and the fix policy that holds there."""

    config: Config
    selection: Selection
    test: bool
    fix: FixPolicy | None
    holds_unsafe: bool  # unsafe fixes the run allows are not applied here (a test file)


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, picklable (``lookup`` stays in the main process)."""

    config: Config
    selection: Selection
    fix: FixPolicy | None = None
    want_edits: bool = False
    # With ``want_edits``: also build lazy fixes (extract method...) to report their edits.
    plan_fixes: bool = True
    root_display: str = "."
    cache_key: str | None = None  # set when results may be cached (check runs only)
    # Per-file configs (the nearest config file above each file); None: ``config`` governs all.
    configs: ConfigMap | None = None
    lookup: ConfigLookup | None = field(default=None, compare=False, repr=False)
    # Cross-module facts per file (``wsrefactor/crossmodule.py``), set by ``execute``.
    xfacts: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "lookup": None}  # its loader is a closure; workers use ``configs``

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def config_for(self, path: str) -> Config:
        if self.lookup is not None:
            return self.lookup.for_path(path)
        return self.configs.for_path(path) if self.configs is not None else self.config

    def here(self, path: str) -> Here:
        config = self.config_for(path)
        base = self.selection if config == self.config else Selection.of(config, self.selection.known_codes)
        settings = file_settings(config, path)
        policy, holds = self.fix, False
        if settings.test and not config.unsafe_fixes_in_tests and policy is not None and policy.only is None:
            holds = policy.unsafe or bool(policy.unsafe_codes)
            policy = replace(policy, unsafe=False, unsafe_codes=frozenset())
        return Here(config, base.switched_off(settings.off), settings.test, policy, holds)


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    facts: dict[str, list[Any]] = field(default_factory=dict)
    evaluated: tuple[str, ...] = ()
    raw: bytes | None = None
    new_text: str | None = None
    new_bytes: bytes | None = None
    applied: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    source: SourceFile | None = None
    new_files: list[tuple[str, str]] = field(default_factory=list)
    internal_error: str | None = None
    held_unsafe: int = 0  # unsafe fixes not applied because this is a test file
    generated: bool = False  # skipped: its header says it is generated
    # set by a streaming fix run: the bytes written for the per-file fixes (what the file now
    # holds), or that the write failed (the cross-file phase then leaves the file alone)
    on_disk: bytes | None = None
    write_failed: bool = False


def parse_error(path: str, exc: SourceError) -> Finding:
    return Finding(
        code="WS000", name="parse-error", message=str(exc), path=path, line=exc.line,
        column=exc.column, end_line=exc.line, end_column=exc.column, severity=Severity.ERROR,
        category="meta", stmt_line=exc.line, context=f"parse-error:{exc}",
    )


def _rules_for(path: str, job: Job, here: Here | None = None) -> list[type[Rule]]:
    """The rules that run on ``path``: its config's selection with its per-file ignores."""
    here = here or job.here(path)
    rules = load_rules(here.config.plugins)
    return [cls for code, cls in rules.items() if code not in ENGINE_CODES and here.selection.enabled(code)]


def process_file(
    path: str, job: Job, raw: bytes | None = None, on_analyses: Callable[[Analyses], None] | None = None
) -> FileResult:
    """Analyse (or fix) one file; ``raw`` given (stdin) stands for its content, nothing is read.
    ``on_analyses`` sees the file's analyses before any rule runs (the cross-module summary is
    taken from them: one parse serves both)."""
    result = FileResult(path)
    here = job.here(path)
    rules = _rules_for(path, job, here)
    _set_evaluated(result, rules)
    try:
        source = read_source(path) if raw is None else decode(path, raw)
    except SourceError as exc:
        result.findings.append(parse_error(path, exc))
        return result
    result.raw = source.raw
    if _generated(result, source.text, here.config):
        return result
    cache = _cache(job, here.config)
    keyed = cache_content(job, path, source.raw)
    hit = cache.get(path, keyed) if cache is not None else None
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    try:
        with using(job.xfacts):  # ``analyses.facts`` of this file, on both decision paths
            result = _analyze(result, source, rules, job, here, on_analyses)
    except RecursionError:
        result.findings.append(parse_error(path, SourceError("too deeply nested to analyse")))
        return result
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one file's crash must not end the run
        result.internal_error = f"{path}: internal error while analysing: {type(exc).__name__}: {exc}"
        return result
    if cache is not None:
        cache.put(path, keyed, result)
    return result


def _set_evaluated(result: Any, rules: Any) -> None:
    result.evaluated = tuple(r.code for r in rules)


def _generated(result: FileResult, text: str, config: Config) -> bool:
    """A file whose header says it is generated is neither reported nor fixed."""
    if config.include_generated or not generated_header(text):
        return False
    result.evaluated, result.generated = (), True
    return True


def _ast_or_error(result: FileResult, text: str) -> ast.Module | None:
    """Python's ast of the file, or None with a WS000 finding recorded."""
    try:
        return _python_ast(text, result.path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        msg = getattr(exc, "msg", None) or str(exc)
        col = getattr(exc, "offset", None) or 1
        result.findings.append(parse_error(result.path, SourceError(f"syntax error: {msg}", line, col)))
    except (RecursionError, MemoryError):
        result.findings.append(parse_error(result.path, SourceError("too deeply nested to parse")))
    return None


def _analyze(
    result: FileResult, source: SourceFile, rules: list[type[Rule]], job: Job, here: Here,
    on_analyses: Callable[[Analyses], None] | None = None,
) -> FileResult:
    text = source.text
    result.suppressions = parse_suppressions(text, here.selection.known)
    tree = _ast_or_error(result, text)
    if tree is None:
        return result
    analyses = Analyses(tree, text, result.path)  # one cache of ast analyses for every rule of the file
    try:
        if on_analyses is not None:
            on_analyses(analyses)
        return _run_rules(result, source, rules, job, here, tree, analyses)
    finally:
        analyses.release()  # nothing outlives the file: findings, facts and new text are plain records


def _run_rules(
    result: FileResult, source: SourceFile, rules: list[type[Rule]], job: Job, here: Here, tree: ast.Module,
    analyses: Analyses,
) -> FileResult:
    text = source.text
    options = here.config.rule_options
    _record_ast_facts(result, rules, analyses, options)
    wanted = [r for r in rules if r.wants(text, tree, options.get(r.code, {}))]
    candidates = _decide_from_ast(result, job, tree, text, wanted, analyses)
    if candidates:
        try:
            _libcst_pass(result, source, candidates, job, here, tree, analyses)
        except SourceError as exc:
            result.findings.append(parse_error(result.path, exc))
            _without_fixes(result, candidates, tree, text, job.config.rule_options, analyses)
            return result
        except RecursionError:  # ast accepted it, but libcst's tree is too deep to walk
            result.findings.append(parse_error(result.path, SourceError("too deeply nested to analyse")))
            return result
    if here.selection.bandit:
        from wsrefactor.bandit_bridge import bandit_findings

        # bandit annotates the tree it walks: it goes last, when no rule reads the tree any more
        result.findings.extend(bandit_findings(result.path, text, here.selection, tree))
    return result


def _without_fixes(
    result: FileResult, rules: list[type[Rule]], tree: ast.Module, text: str, options: Mapping[str, Any],
    analyses: Analyses | None,
) -> None:
    """libcst could not parse the file: the rules that decide on the ``ast`` still report what a
    plain check reports (so every output format agrees), with no fix to offer."""
    before = len(result.findings)
    _semantic_only(result, rules, tree, text, options, analyses)
    result.findings[before:] = [replace(f, fix=None) for f in result.findings[before:]]


def _decide_from_ast(
    result: FileResult, job: Job, tree: ast.Module, text: str, candidates: list[type[Rule]],
    analyses: Analyses | None = None,
) -> list[type[Rule]]:
    """Let rules decide from the ``ast`` when nothing needs libcst; return those that still do."""
    options = job.config.rule_options
    if job.fix is None and not job.want_edits:
        candidates = _semantic_only(result, candidates, tree, text, options, analyses)
        return _ast_only(result, candidates, tree, text, options)
    if job.fix is None and not job.plan_fixes:
        # Edits wanted but planned on demand: a rule whose only fix is lazy (``lazy_fix``) has no
        # edits to give, so it decides from the ast exactly as a plain check does.
        lazy = [r for r in candidates if getattr(r, "lazy_fix", False)]
        rest = [r for r in candidates if r not in lazy]
        return rest + _ast_only(result, lazy, tree, text, options, planned=False)
    return candidates


def _libcst_pass(
    result: FileResult, source: SourceFile, rules: list[type[Rule]], job: Job, here: Here, tree: ast.Module,
    analyses: Analyses | None = None,
) -> None:
    """Parse once with libcst; analyse, or fix until stable when the job fixes (``analyses``: the
    file's, already computed for the ``ast`` path; the rules reuse them)."""
    path, text = result.path, source.text
    analysis: Analysis | None
    if job.fix is None or here.fix is None:
        analysis = analyze_module(
            path, parse(text, path), rules, here.config, job.want_edits, tree, plan_lazy=job.plan_fixes
        )
    else:
        outcome = fix_text(path, text, rules, here.config, here.fix, tree, analyses)
        analysis = outcome.analysis
        if here.holds_unsafe and analysis is not None:
            result.held_unsafe = _held_back(analysis.findings, job.fix)
        result.applied = outcome.applied
        result.new_files = outcome.new_files
        result.messages.extend(f"{path}: {e}" for e in outcome.errors)
        if outcome.text != text:
            result.new_text = outcome.text
            result.new_bytes = source.encode(outcome.text)
            result.source = source
    if analysis is not None:
        result.findings.extend(analysis.findings)
        for code, facts in analysis.facts.items():
            result.facts.setdefault(code, []).extend(facts)


def _held_back(findings: Iterable[Finding], policy: FixPolicy) -> int:
    """Findings left with an unsafe fix that the run's policy would have applied."""
    return sum(
        1 for f in findings
        if f.fix is not None and f.fix.safety is FixSafety.UNSAFE
        and policy.allows_finding(f.path, f.code, f.line, f.column, f.fix.safety)
    )


def _record_ast_facts(
    result: FileResult, rules: list[type[Rule]], analyses: Analyses, options: Mapping[str, Mapping[str, Any]]
) -> None:
    """Project rules' facts of every file, before any libcst pass (``ProjectRule.file_facts``)."""
    for rule in rules:
        if issubclass(rule, ProjectRule):
            facts = rule.file_facts(analyses, options.get(rule.code, {}))
            if facts:
                result.facts.setdefault(rule.code, []).extend(facts)


def _ast_only(
    result: FileResult, rules: list[type[Rule]], tree: ast.Module, text: str, options: Mapping[str, Any],
    planned: bool = True,
) -> list[type[Rule]]:
    """Let rules that can decide from the ``ast`` do so; return those that still need libcst."""
    left = []
    for rule in rules:
        reports = rule.ast_reports(tree, text, options.get(rule.code, {}))
        if reports is None:
            left.append(rule)
            continue
        for r in reports:
            result.findings.append(
                Finding(
                    code=rule.code, name=rule.name, message=r.message, path=result.path,
                    line=r.line, column=r.column, end_line=r.end_line, end_column=r.end_column,
                    severity=rule.severity, category=rule.category,
                    fix=_offered(rule, planned) if r.fixable else None,
                    stmt_line=r.stmt_line, stmt_end_line=r.stmt_end_line, context=r.context,
                )
            )
    return left


def _offered(rule: type[Rule], planned: bool) -> FixInfo:
    """The fix a finding decided from the ast offers (built only when applied or asked for)."""
    if planned:
        return FixInfo(rule.fix_safety, "fix available")
    return FixInfo(rule.fix_safety, "fix available (edits planned on demand: --fix-edits)", planned=False)


def _semantic_only(
    result: FileResult, rules: list[type[Rule]], tree: ast.Module, text: str, options: Mapping[str, Any],
    analyses: Analyses | None = None,
) -> list[type[Rule]]:
    """``SemanticRule``s decide on the ``ast`` analyses (one cache for the file); no libcst."""
    semantic = [r for r in rules if issubclass(r, SemanticRule)]
    if not semantic:
        return rules
    analyses = analyses if analyses is not None else Analyses(tree, text, result.path)
    for rule in semantic:
        for found in rule.detections(analyses, options.get(rule.code, {})):
            result.findings.append(detection_finding(rule, result.path, found, _available(rule, found)))
    return [r for r in rules if not issubclass(r, SemanticRule)]


def _available(rule: type[Rule], found: Any) -> FixInfo | None:
    """What a plain check says of a detection's fix: that it exists, with its own safety."""
    return FixInfo(found.fix_safety or rule.fix_safety, "fix available") if found.fixable else None


def _process_many(paths: Sequence[str], job: Job) -> list[FileResult]:
    return [process_file(p, job) for p in paths]


def _with_facts(
    job: Job, files: Sequence[str], jobs: int, *, fused: bool, write: bool
) -> tuple[Job, Mapping[str, FileResult]]:
    """The job with the files' cross-module facts, and (``fused``: a check, whose summaries come
    with the findings) the results the same pass already settled."""
    analyse = _fused_pass(job, files, jobs) if fused else None
    try:
        job = with_facts(job, files, jobs, analyse)
    except KeyboardInterrupt:  # a check spends most of its time here (the rounds and the pass behind them)
        raise Interrupted(0, 0, len(files), job.fix is not None and write) from None
    return job, analyse.results if analyse is not None else {}


def _fused_pass(job: Job, files: Sequence[str], jobs: int) -> Analyse:
    """How a check analyses its files alongside the cross-module rounds (``crossmodule.Analyse``):
    with two jobs or more, in one process pool shared by the rounds and the rest of the files."""
    if jobs <= 1 or len(files) < 4:
        return Analyse(_analyse_and_summarize, (job,), frozenset(files))
    from wsrefactor.parallel import SharedPool

    return Analyse(
        _analyse_and_summarize, (job,), frozenset(files), pool=SharedPool(jobs), plain=_process_many,
        cached=functools.partial(_cache_hits, job=job),
    )


def _cache_hits(paths: Sequence[str], job: Job) -> tuple[dict[str, FileResult], list[str]]:
    hits, misses = _cached(paths, job)
    return {r.path: r for r in hits}, misses


def _analyse_and_summarize(
    paths: Sequence[str], job: Job, key: str | None, tokens: tuple[str, ...] | None
) -> list[tuple[str, FileResult, ModuleSummary | None]]:
    """The first cross-module round of a check, fused with the per-file pass (``with_facts``):
    each file's summary and its findings (with no facts) from one parse."""
    from wsrefactor.crossmodule import summarize_file, summary_cache, summary_of

    root = job.config.root
    cache = summary_cache(key, root, job.config.cache_dir, tokens)
    out: list[tuple[str, FileResult, ModuleSummary | None]] = []
    for path in paths:
        taken: list[ModuleSummary | None] = []

        def take(analyses: Analyses, taken: list[ModuleSummary | None] = taken) -> None:
            taken.append(summary_of(analyses, root, tokens))

        result = process_file(path, job, on_analyses=take)
        if not taken:  # a cached result, a generated or unparsable file: summarized on its own
            out.append((path, result, summarize_file(path, root, cache, tokens)))
            continue
        if cache is not None and result.raw is not None:
            cache.put(path, result.raw, (taken[0],))
        out.append((path, result, taken[0]))
    return out


def _cache(job: Job, config: Config | None = None) -> Any:
    """The cache for files governed by ``config``: the run's key plus that config's settings, so
    editing a nested config file invalidates only what it governs."""
    if not job.cache_key or job.fix is not None:
        return None
    from wsrefactor.cache import Cache

    key = job.cache_key
    if config is not None and config != job.config:
        key = hashlib.sha256(f"{key}\0{config!r}".encode()).hexdigest()[:20]
    return Cache(Path(job.config.root) / job.config.cache_dir, key)


def _cached(paths: Sequence[str], job: Job) -> tuple[list[FileResult], list[str]]:
    """Cache hits read here, before any worker starts: a warm run of an unchanged tree (or of
    one changed file) then costs a read and a hash per file, with no process pool at all."""
    if _cache(job) is None:
        return [], list(paths)
    hits: list[FileResult] = []
    misses: list[str] = []
    for path in paths:
        cache = _cache(job, job.config_for(path))
        try:
            with open(path, "rb") as fh:
                hit = cache.get(path, cache_content(job, path, fh.read()))
        except OSError:
            hit = None
        if hit is None:
            misses.append(path)
        else:
            hits.append(hit)
    return hits, misses


def run_files(
    paths: Sequence[str],
    job: Job,
    jobs: int,
    on_done: Callable[[int], None] | None = None,
    on_part: Callable[[list[FileResult]], None] | None = None,
) -> list[FileResult]:
    """Process files, in parallel when it pays; results in path order.

    ``on_part`` sees the results as they arrive (cache hits first), ``on_done`` counts them."""
    from wsrefactor.parallel import map_chunks

    results, misses = _cached(paths, job)
    if results and on_part is not None:
        on_part(list(results))
    if results and on_done is not None:
        on_done(len(results))
    results.extend(
        map_chunks(_process_many, misses, jobs, job, on_done=on_done, on_part=on_part, one_per_chunk=job.fix is not None)
    )
    return sorted(results, key=lambda r: r.path)


@dataclass
class RunResult:
    findings: list[Finding]  # after suppressions, sorted
    files: list[FileResult]
    project_edits: list[tuple[str, ProjectEdit]] = field(default_factory=list)
    fixed: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    checked: int = 0  # files reported on (a named path that does not exist included)
    failed: bool = False  # an internal error on some file: the run still finished, exit 2
    held_in_tests: int = 0  # unsafe fixes not applied because they are in test files
    generated: int = 0  # files skipped because their header says they are generated
    timings: dict[str, float] = field(default_factory=dict)
    project_fixed: list[tuple[str, str]] = field(default_factory=list)  # (path, code) per cross-file fix
    shard: Any = None  # wsrefactor.shard.ShardState of a ``--shard K/N`` run

    def fixed_by_file(self) -> dict[str, dict[str, int]]:
        """Fixes applied (or, with ``--diff``, that would be) per file and code: ``--show-fixes``
        and ``fix --format json``. A file that could not be written counts none."""
        out: dict[str, dict[str, int]] = {}
        for result in self.files:
            for code, n in result.applied.items():
                if n:
                    out.setdefault(result.path, {})[code] = out.get(result.path, {}).get(code, 0) + n
        for path, code in self.project_fixed:
            counts = out.setdefault(path, {})
            counts[code] = counts.get(code, 0) + 1
        return dict(sorted(out.items()))


def _project_rule_codes(job: Job) -> tuple[str, ...]:
    rules = load_rules(job.config.plugins)
    return tuple(c for c, r in rules.items() if issubclass(r, ProjectRule) and job.selection.enabled(c))


def _repository_facts(given: Sequence[str], job: Job, jobs: int) -> list[FileResult]:
    """Facts of project rules from the project's other files, when the scope says so."""
    codes = _project_rule_codes(job)
    if job.config.cross_file_scope != "project" or not codes:
        return []
    others = sorted(set(discover([job.config.root], job.config, job.lookup).files) - set(given))
    configs = job.lookup.snapshot() if job.lookup is not None else job.configs
    facts_only = Job(job.config, Selection(codes, (), job.selection.known_codes), configs=configs)
    return run_files(others, facts_only, jobs)


def finalize_rule(
    cls: type[ProjectRule],
    facts: Mapping[str, Sequence[Any]],
    options: Mapping[str, Any],
    root: str = ".",
) -> list[tuple[Finding, ProjectEdit | None]]:
    """Run one project rule's cross-file decision and turn its results into findings.

    The options passed to ``finalize`` carry the project root as ``"__root__"``.
    """
    out: list[tuple[Finding, ProjectEdit | None]] = []
    merged = {o.name: o.default for o in cls.options} | dict(options) | {"__root__": root}
    for pf in cls.finalize(facts, merged):
        info = FixInfo(pf.fix.safety, pf.fix.description) if pf.fix is not None else None
        finding = Finding(
            code=cls.code, name=cls.name, message=pf.message, path=pf.path, line=pf.line,
            column=pf.column, end_line=pf.end_line, end_column=pf.end_column,
            severity=cls.severity, category=cls.category, fix=info,
            stmt_line=pf.stmt_line or pf.line, context=pf.context,
        )
        out.append((finding, pf.fix))
    return out


def project_phase(
    results: Sequence[FileResult], job: Job
) -> list[tuple[Finding, ProjectEdit | None]]:
    rules = load_rules(job.config.plugins)
    out: list[tuple[Finding, ProjectEdit | None]] = []
    for code, cls in rules.items():
        if not (issubclass(cls, ProjectRule) and job.selection.enabled(code)):
            continue
        facts = {r.path: r.facts[code] for r in results if code in r.facts}
        out.extend(finalize_rule(cls, facts, job.config.rule_options.get(code, {}), job.config.root))
    return out


def _payloads_by_path(edits: Sequence[tuple[str, ProjectEdit]]) -> dict[str, list[tuple[str, Any]]]:
    by_path: dict[str, list[tuple[str, Any]]] = {}
    for code, edit in edits:
        for path, payload in edit.payloads:
            items = by_path.setdefault(path, [])
            if (code, payload) not in items:  # the same fix is carried by every copy it removes
                items.append((code, payload))
    return by_path


def _apply_payloads(
    path: str, result: FileResult, payloads: Sequence[tuple[str, Any]], rules: Mapping[str, type[Rule]]
) -> str:
    """The file's text (already fixed by file rules, if it was) with the payloads applied."""
    source = result.source or read_source(path)
    result.source = source
    text = result.new_text if result.new_text is not None else source.text
    module = before = parse(text, path)
    for code, payload in payloads:
        rule = rules[code]
        if issubclass(rule, ProjectRule):
            module = rule.apply_payload(module, payload, path)
    module = drop_imports_left_unused(before, module)
    text = code_of(module)
    problem = check_parses(text, path)
    if problem:
        raise SourceError(f"cross-file fix would not parse ({problem}); not applied")
    return text


def project_fix_edits(
    project: list[ProjectItem], result_for: Callable[[str], FileResult | None], rules: Mapping[str, type[Rule]]
) -> list[ProjectItem]:
    """Each cross-file fix's text edits, file by file, as ``fix`` would apply that fix alone to
    the files as they are: for a report that carries edits (JSON, SARIF), from ``check`` and from
    ``merge`` alike. A fix that cannot be applied (a file missing or that would not parse) is
    reported as not planned, never with partial edits."""
    planned: dict[int, FixInfo] = {}  # the copies of one group carry the same edit
    out: list[ProjectItem] = []
    for finding, edit in project:
        if edit is None or finding.fix is None:
            out.append((finding, edit))
            continue
        if id(edit) not in planned:
            planned[id(edit)] = _plan_project_fix(finding.code, finding.fix, edit, result_for, rules)
        out.append((replace(finding, fix=_seen_from(planned[id(edit)], finding.path)), edit))
    return out


def _plan_project_fix(
    code: str, info: FixInfo, edit: ProjectEdit, result_for: Callable[[str], FileResult | None],
    rules: Mapping[str, type[Rule]],
) -> FixInfo:
    """The fix's edits in every file it touches (``other_files``); new files it would create are
    whole-file insertions."""
    from wsrefactor.fixes import text_edits
    from wsrefactor.model import Edit

    per_file: dict[str, tuple[Edit, ...]] = {}
    try:
        for path, payloads in sorted(_payloads_by_path([(code, edit)]).items()):
            result = result_for(path)
            if result is None:
                raise SourceError("not analysed in this run")
            before = (result.source or read_source(path)).text
            per_file[path] = text_edits(before, _apply_payloads(path, result, payloads, rules))
    except SourceError:
        return replace(info, planned=False)
    for path, text in edit.new_files:
        per_file[path] = (Edit(1, 1, 1, 1, text),)
    return replace(info, edits=(), other_files=tuple(sorted(per_file.items())))


def _seen_from(info: FixInfo, path: str) -> FixInfo:
    """A planned cross-file fix as the finding in ``path`` reports it: its own file's edits in
    ``edits``, the other files' in ``other_files``."""
    if not info.planned:
        return info
    own = dict(info.other_files).get(path, ())
    return replace(info, edits=own, other_files=tuple((p, e) for p, e in info.other_files if p != path))


def _apply_project_edits(
    results: Mapping[str, FileResult], edits: Sequence[tuple[str, ProjectEdit]], job: Job
) -> tuple[dict[str, str], list[str]]:
    """Apply cross-file payloads on top of each file's fixed text; returns new texts and errors."""
    rules = load_rules(job.config.plugins)
    texts: dict[str, str] = {}
    errors: list[str] = []
    with fewer_collections():  # as for the file fixes (``engine.fewer_collections``)
        for path, payloads in sorted(_payloads_by_path(edits).items()):
            result = results.get(path)
            if result is None or result.write_failed:
                continue
            try:
                texts[path] = _apply_payloads(path, result, payloads, rules)
            except SourceError as exc:
                errors.append(f"{path}: {exc}")
    return texts, errors


class _Laps:
    """Wall time per phase, for ``--verbose``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self._clock
        self._clock = now


class Interrupted(KeyboardInterrupt):
    """Ctrl-C/SIGTERM during a run, with what was finished: the one line the CLI prints."""

    def __init__(self, written: int, done: int, total: int, fixing: bool) -> None:
        super().__init__()
        self.written, self.done, self.total, self.fixing = written, done, total, fixing

    @property
    def summary(self) -> str:
        if not self.fixing:
            return f"interrupted after {self.done} of {self.total} files; nothing written"
        return (
            f"interrupted: {self.written} of {self.total} files written "
            f"({self.done} analysed); each written file is complete, the rest untouched"
        )


class _Streamer:
    """Writes each file as soon as its per-file fixes are stable (in the parent, as results
    arrive), and keeps the progress bar's counts: files done, findings fixed, files written."""

    def __init__(self, run: RunResult, write: bool, display: Callable[[str], str], fixing: bool) -> None:
        self.run, self.write, self.display, self.fixing = run, write, display, fixing
        self.done = 0
        self.fixed = 0
        self.bar: Any = None

    def part(self, results: list[FileResult]) -> None:
        for result in results:
            self.done += 1
            if self.write:
                _stream_file(self.run, result, self.display)
            if not result.write_failed:
                self.fixed += sum(result.applied.values())
        if self.bar is not None and self.fixing:
            self.bar.describe(f"fixing · {self.fixed} fixed · {len(self.run.written)} files written")


def _analyse_files(
    files: list[str], job: Job, jobs: int, progress: bool, streamer: _Streamer, done: Mapping[str, FileResult]
) -> list[FileResult]:
    """Every file's result; ``done``: the files analysed with the cross-module summaries."""
    from wsrefactor.progress import Bar

    bar = Bar(len(files), progress, label="fixing" if streamer.fixing else "checking")
    streamer.bar = bar
    try:
        streamer.part(list(done.values()))  # counted as done (the interrupt message reads it)
        bar.advance(len(done))
        rest = run_files([f for f in files if f not in done], job, jobs, bar.advance, streamer.part)
        return sorted([*rest, *done.values()], key=lambda r: r.path)
    finally:
        bar.close()


def _project_results(
    results: list[FileResult], files: list[str], by_path: Mapping[str, FileResult], job: Job, jobs: int
) -> list[tuple[Finding, ProjectEdit | None]]:
    """Cross-file findings for the files of this run (a fix only if it touches only them)."""
    context = _repository_facts(files, job, jobs)
    return confine([(f, e) for f, e in project_phase([*results, *context], job) if f.path in by_path],
                   by_path.__contains__)


def confine(project: list[ProjectItem], inside: Callable[[str], bool]) -> list[ProjectItem]:
    """A cross-file fix that would touch a file outside the run (a context file of
    ``cross-file-scope = "project"``) is not offered: ``fix`` would not apply it."""
    return [
        (f, e) if e is None or all(inside(p) for p, _ in e.payloads) else (replace(f, fix=None), None)
        for f, e in project
    ]


ProjectItem = tuple[Finding, "ProjectEdit | None"]


def _wanted_project_fixes(
    project: list[ProjectItem], job: Job, run: RunResult
) -> list[tuple[Finding, ProjectEdit]]:
    """The cross-file fixes the policy allows; an unsafe one that would touch a test file where
    unsafe fixes are held is counted, not applied."""
    policy = job.fix
    out: list[tuple[Finding, ProjectEdit]] = []
    if policy is None:
        return out
    held = functools.cache(lambda path: job.here(path).holds_unsafe)  # an edit may touch every file
    for finding, edit in project:
        if edit is None or not policy.allows_finding(
            finding.path, finding.code, finding.line, finding.column, edit.safety
        ):
            continue
        if edit.new_files and isinstance(policy, InMemoryFixPolicy):
            policy.refused.add(finding.code)
            continue
        if edit.safety is FixSafety.UNSAFE and any(held(path) for path, _ in edit.payloads):
            run.held_in_tests += 1
            continue
        out.append((finding, edit))
    return out


def _set_new_text(result: FileResult, text: str) -> None:
    result.new_text = text
    result.new_bytes = result.source.encode(text) if result.source else text.encode("utf-8")


def _fix_across_files(
    run: RunResult, project: list[ProjectItem], by_path: Mapping[str, FileResult], job: Job
) -> list[ProjectItem]:
    """Apply the allowed cross-file fixes; returns the project findings that remain."""
    wanted = _wanted_project_fixes(project, job, run) if job.fix is not None else []
    if not wanted:
        return project
    texts, errors = _apply_project_edits(by_path, [(f.code, e) for f, e in wanted], job)
    run.messages.extend(errors)
    for path, text in texts.items():
        _set_new_text(by_path[path], text)
    done = [(f, e) for f, e in wanted if set(dict(e.payloads)) <= set(texts)]
    for finding, edit in done:
        run.fixed[finding.code] = run.fixed.get(finding.code, 0) + 1
        run.project_edits.append((finding.code, edit))
        run.project_fixed.append((finding.path, finding.code))
    return [item for item in project if item not in done]


def _collect(run: RunResult, results: list[FileResult], project: list[ProjectItem], job: Job) -> None:
    """Merge file and project findings, apply suppressions, report unused ones (WS001).

    In a shard, the suppressions that could cover a cross-file finding are recorded for
    ``merge`` instead of being judged here (their WS001 depends on findings not decided yet)."""
    project_findings: dict[str, list[Finding]] = {}
    for finding, _ in project:
        project_findings.setdefault(finding.path, []).append(finding)
    for result in results:
        run.messages.extend(result.messages)
        if result.internal_error:
            run.messages.append(result.internal_error)
            run.failed = True
        for code, n in result.applied.items():
            run.fixed[code] = run.fixed.get(code, 0) + n
        run.held_in_tests += result.held_unsafe
        run.generated += result.generated
        findings = project_findings.pop(result.path, [])
        if not result.generated:
            run.findings.extend(_file_findings(run, result, findings, job.here(result.path).selection))
    for path, leftover in project_findings.items():
        selection = job.here(path).selection
        run.findings.extend(f for f in leftover if selection.enabled(f.code))
    run.findings.sort(key=lambda f: f.sort_key)


def _file_findings(run: RunResult, result: FileResult, project: list[Finding], selection: Selection) -> list[Finding]:
    """A file's findings after its suppressions and its own selection, with WS001 for the
    suppressions that suppressed nothing (in a shard, those that could cover a cross-file
    finding are left to ``merge``)."""
    kept = apply_suppressions(result.findings + project, result.suppressions)
    judged = _judged(result, selection)
    own = result.suppressions
    if run.shard is not None:
        own = _defer_to_merge(run.shard, result, judged)
    if selection.enabled("WS001"):
        kept += unused_suppressions(result.path, own, judged)
    return [f for f in kept if selection.enabled(f.code)]


def _defer_to_merge(state: Any, result: FileResult, judged: Callable[[str], bool]) -> list[Suppression]:
    """Record the file's project facts and the suppressions ``merge`` must judge; return the rest."""
    from wsrefactor.shard import could_cover, suppression_record

    deferred = _build_deferred(state, result, could_cover)
    if deferred:
        state.suppressions[result.path] = [suppression_record(s, judged) for s in deferred]
    return [s for s in result.suppressions if not any(s is d for d in deferred)]


def _build_deferred(state: Any, result: FileResult, could_cover: Any) -> list[Any]:
    for code in state.rules:
        if code in result.facts:
            state.facts.setdefault(code, {})[result.path] = result.facts[code]
    deferred = [s for s in result.suppressions if any(could_cover(c, state.rules) for c in s.codes)]
    return deferred


def _judged(result: FileResult, selection: Selection) -> Callable[[str], bool]:
    """Whether a suppressed code ran on this file (only then can its suppression be unused): a
    rule that ran, or a bandit check enabled here."""
    evaluated = set(result.evaluated) | {"WS000"}

    def judged(code: str) -> bool:
        if any(e.startswith(code) for e in evaluated):
            return True
        if not (code.startswith("B") and selection.bandit):
            return False
        # a full code must be one of bandit's (B017 is flake8-bugbear's) and enabled here
        return not code[1:].isdigit() or (selection.known(code) and selection.enabled(code))

    return judged


def execute(
    paths: Iterable[str],
    job: Job,
    jobs: int,
    write: bool = False,
    diff: bool = False,
    display: Callable[[str], str] = lambda p: p,
    progress: bool = False,
    shard: tuple[int, int] | None = None,
) -> RunResult:
    """The run behind check and fix; ``job.fix`` set means fixes are computed.

    ``shard=(K, N)`` checks only the K-th of N stable parts of the files and leaves the
    cross-file rules to ``wsrefactor merge`` (see :mod:`wsrefactor.shard`).

    A writing fix run goes in this order: (1) each file's own fixes are written as soon as its
    worker returns them (atomically, only if the file is unchanged on disk, new files it
    generates just before it); (2) once every file's facts are in, the project phase (WS303,
    WS304) plans its cross-file fixes and applies them on top of what step 1 wrote, each file
    written once more, again only if it still holds what step 1 left there. Ctrl-C or SIGTERM
    raises :class:`Interrupted` saying how many files were written; all of them are complete.
    """
    lap = _Laps()
    if job.fix is not None or job.want_edits:
        load_libcst()  # every worker will build fixes: imported once, before they fork
    found = discover(paths, job.config, job.lookup)
    files = list(found.files)
    if job.lookup is not None:
        job = replace(job, configs=job.lookup.snapshot())
    # before sharding: every shard resolves the same summaries, so each decides its files exactly
    job, done = _with_facts(job, files, jobs, fused=job.fix is None and shard is None, write=write)
    run = RunResult(findings=[], files=[], checked=len(files), timings=lap.timings)
    if shard is not None:
        run.shard = _shard_state(files, shard, job, jobs)
        files = _shard_files(files, shard, job)
        run.checked = run.shard.files = len(files)
    lap("discover")
    streamer = _Streamer(run, write and job.fix is not None, display, job.fix is not None)
    try:
        _execute(run, found.missing, files, job, jobs, streamer, lap, progress, write, diff, display, done)
    except KeyboardInterrupt:
        raise Interrupted(len(run.written), streamer.done, len(files), job.fix is not None and write) from None
    return run


def _execute(
    run: RunResult,
    missing: Sequence[str],
    files: list[str],
    job: Job,
    jobs: int,
    streamer: _Streamer,
    lap: _Laps,
    progress: bool,
    write: bool,
    diff: bool,
    display: Callable[[str], str],
    done: Mapping[str, FileResult],
) -> None:
    results = _analyse_files(files, job, jobs, progress, streamer, done)
    lap("analyse" if not streamer.write else "analyse and write")
    results += [FileResult(m, findings=[parse_error(m, SourceError("no such file or directory"))]) for m in missing]
    run.files = results
    run.checked += len(missing)  # every file reported on is counted (never "2 of 0 files")
    _conclude(run, results, files, job, jobs, lap, write, diff, display)


@dataclass(frozen=True)
class InMemoryFixPolicy(FixPolicy):
    """The policy of a fix whose text goes back to the caller (``fix -``): nothing may be written
    to disk, so a fix that would create another file (a generated module, a ``.lua`` script) is
    not applied; it stays a finding, and ``refused`` names its rule."""

    refused: set[str] = field(default_factory=set, compare=False)

    def allows_fix(self, code: str, fix: Any) -> bool:
        if not super().allows_fix(code, fix):
            return False
        if materialize(fix) and fix.new_files:
            self.refused.add(code)
            return False
        return True


def execute_stdin(
    path: str, raw: bytes, job: Job, jobs: int = 1, diff: bool = False,
    display: Callable[[str], str] = lambda p: p,
) -> RunResult:
    """``check -`` / ``fix -``: ``raw`` (read from stdin) analysed as if it were the file ``path``.

    ``path`` (``--stdin-filename``) chooses the per-file ignores and names the findings; it need
    not exist, and it is neither read nor written (nor is the cache). The fixed text, if any, is
    ``run.files[0].new_bytes``. Cross-file rules compare it with the project's other files when the
    config's ``cross-file-scope`` says so.
    """
    lap = _Laps()
    path = os.path.abspath(path)
    fix = None
    if job.fix is not None:
        fix = InMemoryFixPolicy(**{f.name: getattr(job.fix, f.name) for f in fields(job.fix)})
    if job.lookup is not None:
        job.lookup.for_path(path)  # the nearest config of the named path governs the text
    job = replace(job, fix=fix, cache_key=None)
    if job.lookup is not None:
        job = replace(job, configs=job.lookup.snapshot())
    result = process_file(path, job, raw)
    if result.source is None and result.raw is not None:
        result.source = decode(path, raw)  # a cross-file fix must apply to this text, not to the file on disk
    lap("analyse")
    run = RunResult(findings=[], files=[result], checked=1, timings=lap.timings)
    _conclude(run, [result], [path], job, jobs, lap, write=False, diff=diff, display=display)
    if fix is not None and fix.refused:
        codes = ", ".join(sorted(fix.refused))
        run.messages.append(f"{display(path)}: {codes}: a fix that creates another file is not applied to stdin")
    return run


def _conclude(
    run: RunResult, results: list[FileResult], files: list[str], job: Job, jobs: int, lap: _Laps,
    write: bool, diff: bool, display: Callable[[str], str],
) -> None:
    """Project phase, suppressions and (when fixing) diffs or the writes streaming left."""
    by_path = {r.path: r for r in results}
    project = [] if run.shard is not None else _project_results(results, files, by_path, job, jobs)
    project = _fix_across_files(run, project, by_path, job)
    if job.fix is None and job.want_edits:
        project = project_fix_edits(project, by_path.get, load_rules(job.config.plugins))
    _collect(run, results, project, job)
    lap("project phase and suppressions")
    if job.fix is not None:
        _finish_fix(run, by_path, write, diff, display)
        lap("write" if write else "diff")


def _shard_files(files: list[str], shard: tuple[int, int], job: Job) -> list[str]:
    from wsrefactor.shard import select

    return select(files, job.config.root, shard)


def _shard_state(files: list[str], shard: tuple[int, int], job: Job, jobs: int) -> Any:
    """The shard's record; shard 1 also reads the project's other files as context when the
    cross-file scope is the whole project (as an unsharded run does)."""
    from wsrefactor.shard import ShardState

    codes = _project_rule_codes(job)
    state = ShardState(
        shard[0], shard[1], 0, rules={c: dict(job.config.rule_options.get(c, {})) for c in codes},
        ws001=job.selection.enabled("WS001"), root=job.config.root,
    )
    if shard[0] == 1:
        for result in _repository_facts(files, job, jobs):
            state.context.append(result.path)
            for code in codes:
                if code in result.facts:
                    state.facts.setdefault(code, {})[result.path] = result.facts[code]
    return state


def _stream_file(run: RunResult, result: FileResult, display: Callable[[str], str]) -> None:
    """Write one file's own fixes now (its generated new files first: the code may load them)."""
    if result.new_bytes is None or result.source is None or result.new_bytes == result.raw:
        return
    for path, text in result.new_files:
        _finish_new_file(run, path, text, True, False, display)
    if _write_file(run, result.path, result.new_bytes, result.source.raw, display):
        result.on_disk = result.new_bytes
    else:
        result.write_failed = True
        result.applied = {}


def _write_file(run: RunResult, path: str, data: bytes, expected: bytes, display: Callable[[str], str]) -> bool:
    """Atomically replace ``path`` if it still holds ``expected``; a failure is a message."""
    from wsrefactor.source import _signals_deferred

    with _signals_deferred():  # an interrupt lands after the count, so "N files written" is exact
        try:
            write_atomic(path, data, expected)
        except (ChangedOnDisk, SourceError) as exc:
            run.messages.append(f"{display(path)}: {exc}")
            return False
        if path not in run.written:
            run.written.append(path)
    return True


def _finish_fix(
    run: RunResult,
    by_path: Mapping[str, FileResult],
    write: bool,
    diff: bool,
    display: Callable[[str], str],
) -> None:
    """Diffs, or the writes left after streaming: cross-file fixes and the new files they make."""
    new_files = [nf for _, e in run.project_edits for nf in e.new_files]
    if not write:
        new_files += [nf for r in by_path.values() if r.new_bytes is not None for nf in r.new_files]
    for path, result in sorted(by_path.items()):
        _finish_file(run, path, result, write, diff, display)
    for path, text in dict.fromkeys(new_files):
        _finish_new_file(run, path, text, write, diff, display)
    run.written.sort()


def _finish_file(
    run: RunResult, path: str, result: FileResult, write: bool, diff: bool, display: Callable[[str], str]
) -> None:
    source, text, data = result.source, result.new_text, result.new_bytes
    if source is None or text is None or data is None or data == result.raw or result.write_failed:
        return
    if diff:
        run.diffs.append(diff_for(source, text, display(path)))
    return _write_file_2(write, data, result, source, run, path, display)


def _write_file_2(
    write: bool,
    data: Any,
    result: FileResult,
    source: Any,
    run: RunResult,
    path: str,
    display: Callable[[str], str],
) -> None:
    if not write or data == result.on_disk:
        return  # nothing beyond what streaming wrote
    expected = result.on_disk if result.on_disk is not None else source.raw
    if not _write_file(run, path, data, expected, display) and result.on_disk is None:
        _unfix(run, result)


def _finish_new_file(
    run: RunResult, path: str, text: str, write: bool, diff: bool, display: Callable[[str], str]
) -> None:
    if path.endswith(".py"):
        text = organize_new_module(text, path)
    if os.path.exists(path) and Path(path).read_text(encoding="utf-8", errors="replace") == text:
        return  # generated earlier with the same content
    if diff:
        run.diffs.append(diff_for(SourceFile(path, b"", "", "utf-8", False), text, display(path)))
    if not write:
        return
    from wsrefactor.source import _signals_deferred

    with _signals_deferred():
        try:
            write_new(path, text.encode("utf-8"))
            run.written.append(path)
        except (ChangedOnDisk, OSError) as exc:
            run.messages.append(f"{display(path)}: {exc}")


def _unfix(run: RunResult, result: FileResult) -> None:
    for code, n in result.applied.items():
        run.fixed[code] -= n
    result.applied = {}
