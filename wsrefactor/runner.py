"""A whole run: discover, fan files out to workers, project phase, suppressions, writes.

Workers receive paths and return findings, facts and new text; CST trees never cross processes.
Results are sorted by path, so the output is identical for any number of jobs.
"""

from __future__ import annotations

import ast
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsrefactor.config import Config
from wsrefactor.discovery import discover, glob_matcher
from wsrefactor.engine import (
    FixPolicy,
    analyze_module,
    check_parses,
    detection_finding,
    diff_for,
    fix_text,
    parse,
)
from wsrefactor.model import Finding, FixInfo, Severity
from wsrefactor.registry import load_rules
from wsrefactor.rule import ProjectEdit, ProjectRule, Rule, SemanticRule
from wsrefactor.semantic.analyses import Analyses
from wsrefactor.selection import Selection
from wsrefactor.source import ChangedOnDisk, SourceError, SourceFile, read_source, write_atomic, write_new
from wsrefactor.suppressions import (
    Suppression,
    apply_suppressions,
    parse_suppressions,
    unused_suppressions,
)

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
class Job:
    """Everything a worker needs, picklable."""

    config: Config
    selection: Selection
    fix: FixPolicy | None = None
    want_edits: bool = False
    root_display: str = "."
    cache_key: str | None = None  # set when results may be cached (check runs only)


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


def parse_error(path: str, exc: SourceError) -> Finding:
    return Finding(
        code="WS000", name="parse-error", message=str(exc), path=path, line=exc.line,
        column=exc.column, end_line=exc.line, end_column=exc.column, severity=Severity.ERROR,
        category="meta", stmt_line=exc.line, context=f"parse-error:{exc}",
    )


def _rules_for(path: str, job: Job) -> list[type[Rule]]:
    rules = load_rules(job.config.plugins)
    ignored: set[str] = set()
    if job.config.per_file_ignores:
        rel = _relative(path, job.config.root)
        for glob, codes in job.config.per_file_ignores:
            if glob_matcher([glob]).match_file(rel):
                ignored.update(codes)
    return [
        cls
        for code, cls in rules.items()
        if code not in ENGINE_CODES
        and job.selection.enabled(code)
        and not any(code.startswith(i) for i in ignored)
    ]


def _relative(path: str, root: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def process_file(path: str, job: Job) -> FileResult:
    result = FileResult(path)
    rules = _rules_for(path, job)
    result.evaluated = tuple(r.code for r in rules)
    try:
        source = read_source(path)
    except SourceError as exc:
        result.findings.append(parse_error(path, exc))
        return result
    result.raw = source.raw
    cache = _cache(job)
    if cache is not None:
        hit = cache.get(path, source.raw)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
    try:
        result = _analyze(result, source, rules, job)
    except RecursionError:
        result.findings.append(parse_error(path, SourceError("too deeply nested to analyse")))
        return result
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one file's crash must not end the run
        result.internal_error = f"{path}: internal error while analysing: {type(exc).__name__}: {exc}"
        return result
    if cache is not None:
        cache.put(path, source.raw, result)
    return result


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


def _analyze(result: FileResult, source: SourceFile, rules: list[type[Rule]], job: Job) -> FileResult:
    text = source.text
    result.suppressions = parse_suppressions(text, job.selection.known)
    tree = _ast_or_error(result, text)
    if tree is None:
        return result
    options = job.config.rule_options
    _record_ast_facts(result, rules, tree, text)
    candidates = [r for r in rules if r.wants(text, tree, options.get(r.code, {}))]
    if job.fix is None and not job.want_edits:
        candidates = _semantic_only(result, candidates, tree, text, options)
        candidates = _ast_only(result, candidates, tree, text, options)
    if candidates:
        try:
            _libcst_pass(result, source, candidates, job, tree)
        except SourceError as exc:
            result.findings.append(parse_error(result.path, exc))
            return result
        except RecursionError:  # ast accepted it, but libcst's tree is too deep to walk
            result.findings.append(parse_error(result.path, SourceError("too deeply nested to analyse")))
            return result
    if job.selection.bandit:
        from wsrefactor.bandit_bridge import bandit_findings

        # bandit annotates the tree it walks: it goes last, when no rule reads the tree any more
        result.findings.extend(bandit_findings(result.path, text, job.selection, tree))
    return result


def _libcst_pass(
    result: FileResult, source: SourceFile, rules: list[type[Rule]], job: Job, tree: ast.Module
) -> None:
    """Parse once with libcst; analyse, or fix until stable when the job fixes."""
    path, text = result.path, source.text
    if job.fix is None:
        analysis = analyze_module(path, parse(text, path), rules, job.config, job.want_edits, tree)
    else:
        outcome = fix_text(path, text, rules, job.config, job.fix, tree)
        analysis = outcome.analysis
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


def _record_ast_facts(result: FileResult, rules: list[type[Rule]], tree: ast.Module, text: str) -> None:
    for rule in rules:
        if issubclass(rule, ProjectRule):
            facts = rule.ast_facts(tree, text, result.path)
            if facts:
                result.facts.setdefault(rule.code, []).extend(facts)


def _ast_only(
    result: FileResult, rules: list[type[Rule]], tree: ast.Module, text: str, options: Mapping[str, Any]
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
                    fix=FixInfo(rule.fix_safety, "fix available") if r.fixable else None,
                    stmt_line=r.stmt_line, stmt_end_line=r.stmt_end_line, context=r.context,
                )
            )
    return left


def _semantic_only(
    result: FileResult, rules: list[type[Rule]], tree: ast.Module, text: str, options: Mapping[str, Any]
) -> list[type[Rule]]:
    """``SemanticRule``s decide on the ``ast`` analyses (one cache for the file); no libcst."""
    semantic = [r for r in rules if issubclass(r, SemanticRule)]
    if not semantic:
        return rules
    analyses = Analyses(tree, text, result.path)
    for rule in semantic:
        for found in rule.detections(analyses, options.get(rule.code, {})):
            info = FixInfo(rule.fix_safety, "fix available") if found.fixable else None
            result.findings.append(detection_finding(rule, result.path, found, info))
    return [r for r in rules if not issubclass(r, SemanticRule)]


def _process_many(paths: Sequence[str], job: Job) -> list[FileResult]:
    return [process_file(p, job) for p in paths]


def _cache(job: Job) -> Any:
    if not job.cache_key or job.fix is not None:
        return None
    from wsrefactor.cache import Cache

    return Cache(Path(job.config.root) / job.config.cache_dir, job.cache_key)


def _cached(paths: Sequence[str], job: Job) -> tuple[list[FileResult], list[str]]:
    """Cache hits read here, before any worker starts: a warm run of an unchanged tree (or of
    one changed file) then costs a read and a hash per file, with no process pool at all."""
    cache = _cache(job)
    if cache is None:
        return [], list(paths)
    hits: list[FileResult] = []
    misses: list[str] = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                hit = cache.get(path, fh.read())
        except OSError:
            hit = None
        if hit is None:
            misses.append(path)
        else:
            hits.append(hit)
    return hits, misses


def run_files(
    paths: Sequence[str], job: Job, jobs: int, on_done: Callable[[int], None] | None = None
) -> list[FileResult]:
    """Process files, in parallel when it pays; results in path order."""
    from wsrefactor.parallel import map_chunks

    results, misses = _cached(paths, job)
    if results and on_done is not None:
        on_done(len(results))
    results.extend(map_chunks(_process_many, misses, jobs, job, on_done=on_done))
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
    checked: int = 0
    failed: bool = False  # an internal error on some file: the run still finished, exit 2
    timings: dict[str, float] = field(default_factory=dict)


def _project_rule_codes(job: Job) -> tuple[str, ...]:
    rules = load_rules(job.config.plugins)
    return tuple(c for c, r in rules.items() if issubclass(r, ProjectRule) and job.selection.enabled(c))


def _repository_facts(given: Sequence[str], job: Job, jobs: int) -> list[FileResult]:
    """Facts of project rules from the project's other files, when the scope says so."""
    codes = _project_rule_codes(job)
    if job.config.cross_file_scope != "project" or not codes:
        return []
    others = sorted(set(discover([job.config.root], job.config).files) - set(given))
    facts_only = Job(job.config, Selection(codes, (), job.selection.known_codes))
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
    module = parse(text, path)
    for code, payload in payloads:
        rule = rules[code]
        if issubclass(rule, ProjectRule):
            module = rule.apply_payload(module, payload, path)
    problem = check_parses(module.code, path)
    if problem:
        raise SourceError(f"cross-file fix would not parse ({problem}); not applied")
    return module.code


def _apply_project_edits(
    results: Mapping[str, FileResult], edits: Sequence[tuple[str, ProjectEdit]], job: Job
) -> tuple[dict[str, str], list[str]]:
    """Apply cross-file payloads on top of each file's fixed text; returns new texts and errors."""
    rules = load_rules(job.config.plugins)
    texts: dict[str, str] = {}
    errors: list[str] = []
    for path, payloads in sorted(_payloads_by_path(edits).items()):
        result = results.get(path)
        if result is None:
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


def _analyse_files(files: list[str], job: Job, jobs: int, progress: bool) -> list[FileResult]:
    from wsrefactor.progress import Bar

    bar = Bar(len(files), progress)
    try:
        return run_files(files, job, jobs, bar.advance)
    finally:
        bar.close()


def _project_results(
    results: list[FileResult], files: list[str], by_path: Mapping[str, FileResult], job: Job, jobs: int
) -> list[tuple[Finding, ProjectEdit | None]]:
    """Cross-file findings for the files of this run (a fix only if it touches only them)."""
    context = _repository_facts(files, job, jobs)
    return [
        (f, e if e is None or all(p in by_path for p, _ in e.payloads) else None)
        for f, e in project_phase([*results, *context], job)
        if f.path in by_path
    ]


ProjectItem = tuple[Finding, "ProjectEdit | None"]


def _wanted_project_fixes(project: list[ProjectItem], policy: FixPolicy) -> list[tuple[Finding, ProjectEdit]]:
    out = []
    for finding, edit in project:
        if edit is not None and policy.allows_finding(finding.code, finding.line, finding.column, edit.safety):
            out.append((finding, edit))
    return out


def _set_new_text(result: FileResult, text: str) -> None:
    result.new_text = text
    result.new_bytes = result.source.encode(text) if result.source else text.encode("utf-8")


def _fix_across_files(
    run: RunResult, project: list[ProjectItem], by_path: Mapping[str, FileResult], job: Job
) -> list[ProjectItem]:
    """Apply the allowed cross-file fixes; returns the project findings that remain."""
    wanted = _wanted_project_fixes(project, job.fix) if job.fix is not None else []
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
    return [item for item in project if item not in done]


def _collect(run: RunResult, results: list[FileResult], project: list[ProjectItem], job: Job) -> None:
    """Merge file and project findings, apply suppressions, report unused ones (WS001)."""
    project_findings: dict[str, list[Finding]] = {}
    for finding, _ in project:
        project_findings.setdefault(finding.path, []).append(finding)
    selection = job.selection
    for result in results:
        run.messages.extend(result.messages)
        if result.internal_error:
            run.messages.append(result.internal_error)
            run.failed = True
        for code, n in result.applied.items():
            run.fixed[code] = run.fixed.get(code, 0) + n
        findings = result.findings + project_findings.pop(result.path, [])
        kept = apply_suppressions(findings, result.suppressions)
        if selection.enabled("WS001"):
            kept += unused_suppressions(result.path, result.suppressions, _judged(result, selection))
        run.findings.extend(f for f in kept if selection.enabled(f.code))
    for leftover in project_findings.values():
        run.findings.extend(leftover)
    run.findings.sort(key=lambda f: f.sort_key)


def _judged(result: FileResult, selection: Selection) -> Callable[[str], bool]:
    """Whether a suppressed code ran on this file (only then can its suppression be unused)."""
    evaluated = set(result.evaluated) | {"WS000"}
    return lambda c: any(e.startswith(c) for e in evaluated) or (c.startswith("B") and selection.bandit)


def execute(
    paths: Iterable[str],
    job: Job,
    jobs: int,
    write: bool = False,
    diff: bool = False,
    display: Callable[[str], str] = lambda p: p,
    progress: bool = False,
) -> RunResult:
    """The run behind check and fix; ``job.fix`` set means fixes are computed."""
    lap = _Laps()
    found = discover(paths, job.config)
    files = list(found.files)
    lap("discover")
    results = _analyse_files(files, job, jobs, progress)
    lap("analyse")
    results += [
        FileResult(m, findings=[parse_error(m, SourceError("no such file or directory"))])
        for m in found.missing
    ]
    run = RunResult(findings=[], files=results, checked=len(files), timings=lap.timings)
    by_path = {r.path: r for r in results}
    project = _project_results(results, files, by_path, job, jobs)
    project = _fix_across_files(run, project, by_path, job)
    _collect(run, results, project, job)
    lap("project phase and suppressions")
    if job.fix is not None:
        _finish_fix(run, by_path, write, diff, display)
        lap("write" if write else "diff")
    return run


def _finish_fix(
    run: RunResult,
    by_path: Mapping[str, FileResult],
    write: bool,
    diff: bool,
    display: Callable[[str], str],
) -> None:
    new_files = [nf for _, e in run.project_edits for nf in e.new_files]
    new_files += [nf for r in by_path.values() if r.new_bytes is not None for nf in r.new_files]
    for path, result in sorted(by_path.items()):
        _finish_file(run, path, result, write, diff, display)
    for path, text in dict.fromkeys(new_files):
        _finish_new_file(run, path, text, write, diff, display)


def _finish_file(
    run: RunResult, path: str, result: FileResult, write: bool, diff: bool, display: Callable[[str], str]
) -> None:
    source, text, data = result.source, result.new_text, result.new_bytes
    if source is None or text is None or data is None or data == result.raw:
        return
    if diff:
        run.diffs.append(diff_for(source, text, display(path)))
    if not write:
        return
    try:
        write_atomic(path, data, source.raw)
        run.written.append(path)
    except (ChangedOnDisk, SourceError) as exc:
        run.messages.append(f"{display(path)}: {exc}")
        _unfix(run, result)


def _finish_new_file(
    run: RunResult, path: str, text: str, write: bool, diff: bool, display: Callable[[str], str]
) -> None:
    if os.path.exists(path) and Path(path).read_text(encoding="utf-8", errors="replace") == text:
        return  # generated earlier with the same content
    if diff:
        run.diffs.append(diff_for(SourceFile(path, b"", "", "utf-8", False), text, display(path)))
    if not write:
        return
    try:
        write_new(path, text.encode("utf-8"))
        run.written.append(path)
    except (ChangedOnDisk, OSError) as exc:
        run.messages.append(f"{display(path)}: {exc}")


def _unfix(run: RunResult, result: FileResult) -> None:
    for code, n in result.applied.items():
        run.fixed[code] -= n
    result.applied = {}
