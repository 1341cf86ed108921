"""Analyse a text as if it were the file at PATH: the CLI's per-file work without reading the disk.

An editor's buffer (the language server) and standard input both hold text that is not (yet) on
disk. They go through exactly the runner's per-file path (rule selection with per-file-ignores,
prefilter, one libcst pass, fixes, bandit), so the findings equal those of ``check PATH`` on the
same content; only the reading and the cache are left out. Cross-file rules and suppressions are
applied by ``collect``, again with the runner's own functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from wsrefactor import runner
from wsrefactor.model import Finding
from wsrefactor.rule import ProjectEdit
from wsrefactor.runner import FileResult, Job, ProjectItem, RunResult, parse_error
from wsrefactor.source import SourceError, SourceFile


def source_of(path: str, text: str) -> SourceFile:
    """``text`` as the decoded content of ``path`` (kept as UTF-8 when encoded back)."""
    return SourceFile(path, text.encode("utf-8", "surrogatepass"), text, "utf-8", False)


def analyse_text(path: str, text: str, job: Job) -> FileResult:
    """``process_file`` on ``text`` instead of the file's bytes (no cache: the text is transient).

    Picklable in and out, so it runs in a worker process. With ``job.fix`` set, the result's
    ``new_text`` is what ``fix PATH`` would write; with ``job.want_edits``, findings carry edits.
    """
    result = FileResult(path)
    here = job.here(path)
    rules = runner._rules_for(path, job, here)
    result.evaluated = tuple(r.code for r in rules)
    source = source_of(path, text)
    result.raw = source.raw
    if runner._generated(result, text, here.config):
        return result
    try:
        return runner._analyze(result, source, rules, job, here)
    except RecursionError:
        result.findings.append(parse_error(path, SourceError("too deeply nested to analyse")))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one buffer's crash must not end the caller
        result.internal_error = f"{path}: internal error while analysing: {type(exc).__name__}: {exc}"
    return result


def collect(result: FileResult, project: Iterable[ProjectItem], job: Job) -> tuple[list[Finding], list[str]]:
    """The findings ``check`` reports for this file: its own and its cross-file ones, after
    suppressions, plus unused suppressions (WS001); and the run's messages for it.

    May be called again on the same result with new project findings (the suppressions' use is
    recounted each time).
    """
    for sup in result.suppressions:
        sup.used.clear()
    mine = [item for item in project if item[0].path == result.path]
    run = RunResult(findings=[], files=[result])
    runner._collect(run, [result], mine, job)
    return run.findings, run.messages


def project_items(results: Sequence[FileResult], job: Job) -> list[ProjectItem]:
    """The project phase of ``check`` over these files' facts (findings with their cross-file fixes)."""
    return runner.project_phase(results, job)


def complete_edit(edit: ProjectEdit, project: Iterable[ProjectItem]) -> ProjectEdit:
    """A cross-file fix with the new files it creates: project rules list them with one copy only."""
    new_files = dict(edit.new_files)
    for _, other in project:
        if other is not None and other.payloads == edit.payloads:
            new_files.update(other.new_files)
    return ProjectEdit(edit.safety, edit.description, edit.payloads, tuple(new_files.items()))


def project_fix_texts(
    code: str, edit: ProjectEdit, texts: Mapping[str, str], job: Job
) -> dict[str, str]:
    """New text of every file a cross-file fix touches, computed from ``texts`` (path -> current
    content, e.g. editor buffers) with the runner's payload application; SourceError when a file
    would not parse."""
    rules = runner.load_rules(job.config.plugins)
    out: dict[str, str] = {}
    for path, payloads in sorted(runner._payloads_by_path([(code, edit)]).items()):
        holder = FileResult(path, source=source_of(path, texts[path]))
        out[path] = runner._apply_payloads(path, holder, payloads, rules)
    return out
