"""The run's cross-module pass: summarize the project's modules, resolve them, hand each file its
facts (``wsrefactor/semantic/summary.py`` has the model; this is the plumbing).

Before the per-file pass, when an enabled rule reads cross-module facts (``uses_project_facts``),
every file of the run, and with ``cross-file-scope = "project"`` every other file of the project,
is summarized (``ast`` only, in the workers, cached by content); the summaries are resolved in
the parent (linear in the call edges), and the run's ``Job`` carries each file's ``FileFacts``.
The per-file pass then sees them as ``analyses.facts`` (``summary.using`` around each file), in
a plain check and in a fixing pass alike.

Why before and not after: a file's findings (and its fixes) then come from one pass, so ``fix``,
``--shard K/N`` (every shard summarizes the same discovered files, so each decides its own files
exactly as an unsharded run does) and the result cache (the facts' digest is part of a file's
cache entry) need nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from wsrefactor.semantic.summary import FileFacts, ModuleSummary, resolve, summarize

# A file none of these occur in cannot send, receive, accept, register or route a connection,
# nor hand one on (the callee side); the caller side is every file a rule reading facts would
# run on, so each such rule's own ``tokens`` join the gate (a rule without tokens: no gate).
GATE = ("send", "recv", "receive", "accept", "socket", "Socket", "connect", "consumer", "Consumer",
        "Router", "urlpatterns", "append", "add(")


def _readers(job: Any) -> list[Any]:
    from wsrefactor.registry import load_rules

    rules = load_rules(job.config.plugins)
    return [r for c, r in rules.items() if getattr(r, "uses_project_facts", False) and job.selection.enabled(c)]


def wanted(job: Any) -> bool:
    """Whether an enabled rule reads cross-module facts."""
    return bool(_readers(job))


def gate(job: Any) -> tuple[str, ...] | None:
    """The tokens one of which a file must hold to be summarized (None: every file)."""
    tokens = list(GATE)
    for rule in _readers(job):
        if not rule.tokens:
            return None
        tokens.extend(rule.tokens)
    return tuple(dict.fromkeys(tokens))


def project_facts(files: Sequence[str], job: Any, jobs: int) -> dict[str, FileFacts]:
    """Every file's facts, from the summaries of ``files`` (and, with ``cross-file-scope =
    "project"``, of the project's other files)."""
    from wsrefactor.discovery import discover
    from wsrefactor.parallel import map_chunks

    paths = list(files)
    if job.config.cross_file_scope == "project":
        paths += sorted(set(discover([job.config.root], job.config, job.lookup).files) - set(paths))
    found = map_chunks(_summarize_many, paths, jobs, _cache_key(job), job.config.root, job.config.cache_dir,
                       gate(job))
    return resolve([s for s in found if s is not None])


def with_facts(job: Any, files: Sequence[str], jobs: int) -> Any:
    """``job`` carrying the files' cross-module facts (unchanged when no rule reads them)."""
    if not wanted(job):
        return job
    return replace(job, xfacts=project_facts(files, job, jobs))


def cache_content(job: Any, path: str, raw: bytes) -> bytes:
    """What a file's result-cache entry is keyed on: its bytes, plus its facts' digest when the
    project tells it anything (another file changing what it passes re-decides this one)."""
    facts = (getattr(job, "xfacts", None) or {}).get(path)
    return raw if not facts else raw + b"\0xfacts\0" + facts.digest()


def _cache_key(job: Any) -> str | None:
    if not job.cache_key or job.fix is not None:
        return None
    from wsrefactor.cache import run_key

    return "summary-" + run_key("summary", job.config.root, gate(job))


def _summarize_many(
    paths: Sequence[str], key: str | None, root: str, cache_dir: str, tokens: tuple[str, ...] | None = GATE
) -> list[ModuleSummary | None]:
    cache = None
    if key is not None:
        from wsrefactor.cache import Cache

        cache = Cache(Path(root) / cache_dir, key)
    return [summarize_file(p, root, cache, tokens) for p in paths]


def summarize_file(
    path: str, root: str = ".", cache: Any = None, tokens: tuple[str, ...] | None = GATE
) -> ModuleSummary | None:
    """One file's summary, or None (unreadable, not Python, or nothing to tell)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    if cache is not None:
        hit = cache.get(path, raw)
        if hit is not None:
            return hit[0]  # type: ignore[no-any-return]
    summary = _summarize(path, raw, root, tokens)
    if cache is not None:
        cache.put(path, raw, (summary,))
    return summary


def _summarize(path: str, raw: bytes, root: str, tokens: tuple[str, ...] | None) -> ModuleSummary | None:
    from wsrefactor.runner import _python_ast
    from wsrefactor.semantic.analyses import Analyses
    from wsrefactor.source import SourceError, decode

    try:
        text = decode(path, raw).text
    except SourceError:
        return None
    if tokens is not None and not any(token in text for token in tokens):
        return None
    try:
        tree = _python_ast(text, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        return summarize(Analyses(tree, text, path), root)
    except RecursionError:
        return None


def facts_of(job: Any) -> Mapping[str, FileFacts] | None:
    return getattr(job, "xfacts", None)
