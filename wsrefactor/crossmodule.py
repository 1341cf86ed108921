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

A plain check does not parse a file twice for that: the files a round summarizes are analysed in
the same worker call, from the same parse and analyses, as if the project told them nothing
(``Analyse``). Once the summaries are resolved, those results stand for every file whose facts
are empty (most of them: 13 of 460 on a FastAPI repository); only the files told something are
analysed again, with their facts. A file with no facts has the same cache key either way.
With two jobs or more the rounds and the rest of the per-file pass share one process pool
(``parallel.SharedPool``): the files no round has wanted yet are analysed behind the rounds, a
few at a time, so the workers keep busy while the parent works out the next round.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wsrefactor.parallel import SharedPool
from wsrefactor.semantic.summary import (
    FileFacts,
    ModuleSummary,
    callers_wanted,
    resolve,
    root_module,
    summarize,
)

# The first round summarizes the files that can start a fact: a connection value (every framework's
# connection type, route or handler base spells "socket": WebSocket, websockets, Websocket...), a
# connection-only send (a callee's effect needs no other evidence), Channels routing, a queue (the
# module making a queue that carries client frames: ``semantic/queues.py``).
# Later rounds add the files the summarized ones hand a value to (forward) and the files that
# mention a callable known to do something with a parameter (callers), until nothing is added.
GATE = ("socket", "Socket", "send_text", "send_json", "send_bytes", "send_str", "write_message",
        "ProtocolTypeRouter", "URLRouter", "urlpatterns", "as_asgi", "Queue")


def _readers(job: Any) -> list[Any]:
    from wsrefactor.registry import load_rules

    rules = load_rules(job.config.plugins)
    return [r for c, r in rules.items() if getattr(r, "uses_project_facts", False) and job.selection.enabled(c)]


def wanted(job: Any) -> bool:
    """Whether an enabled rule reads cross-module facts."""
    return bool(_readers(job))


def gate(job: Any) -> tuple[str, ...]:
    """The tokens one of which a file must hold to be summarized in the first round."""
    return GATE


def project_facts(files: Sequence[str], job: Any, jobs: int, analyse: Analyse | None = None) -> dict[str, FileFacts]:
    """Every file's facts, from the summaries of ``files`` (and, with ``cross-file-scope =
    "project"``, of the project's other files).

    With ``analyse`` (a check, see ``with_facts``), the files of the run that must be summarized
    are analysed in the same worker pass, from the one parse and the one set of analyses, as if
    no other file told them anything; their results land in ``analyse.results``."""
    paths = _project_paths(files, job)
    where: Where = (jobs, _cache_key(job), job.config.root, job.config.cache_dir)
    pool = analyse.pool if analyse is not None else None
    try:
        found = _summaries(paths, gate(job), *where, analyse=analyse)
        _expand(found, paths, where, analyse)
        facts = resolve([s for s in found.values() if s is not None])
        if analyse is not None:
            analyse.settle(facts, replace(job, xfacts=facts))
    except BaseException:
        if pool is not None:
            pool.close(failed=True)
        raise
    if pool is not None:
        pool.close(failed=False)
    return facts


Where = tuple[int, "str | None", str, str]  # (jobs, summary cache key, root, cache directory)


@dataclass
class Analyse:
    """The per-file pass run alongside the summaries: ``worker(paths, *args, key, tokens)``
    returns ``(path, result, summary)`` for each path, analysing it with no cross-module facts.

    With a ``pool`` (two jobs or more), the files no round has summarized yet are analysed in the
    background (``plain(paths, *args)``, after ``cached`` has settled the cache hits) while the
    rounds go on, so the workers never wait for the parent between rounds; a background file a
    later round wants is taken back and analysed with its summary, or, once started, only
    summarized."""

    worker: Callable[..., list[tuple[str, Any, ModuleSummary | None]]]
    args: tuple[Any, ...]
    files: frozenset[str]
    results: dict[str, Any] = field(default_factory=dict)
    pool: SharedPool | None = None
    plain: Callable[..., list[Any]] | None = None
    cached: Callable[[Sequence[str]], tuple[dict[str, Any], list[str]]] | None = None
    behind: set[str] | None = None  # the files handed to the background batch

    def start_background(self, fused: Sequence[str]) -> None:
        """Once, with the first round: every file of the run not analysed yet nor in ``fused``."""
        if self.pool is None or self.plain is None or self.behind is not None:
            return
        chosen = set(fused)
        rest = [p for p in sorted(self.files) if p not in self.results and p not in chosen]
        hits, misses = self.cached(rest) if self.cached is not None else ({}, rest)
        self.results.update(hits)
        self.behind = set(misses)
        self.pool.background(self.plain, misses, *self.args)

    def settle(self, facts: Mapping[str, FileFacts], told_job: Any) -> None:
        """Keep the results that stand (files the project tells nothing); with a pool, analyse
        the files told something there too, with their facts, ahead of the background's tail."""
        told = [p for p in sorted(self.files) if facts.get(p)]
        done: list[Any] = []
        if self.pool is not None and self.plain is not None:
            for path in told:
                self.pool.take_back(path)  # its analysis without facts would be thrown away
            done = self.pool.map(self.plain, told, told_job)
            self.results.update(self.pool.finish())
        self.results = {p: r for p, r in self.results.items() if not facts.get(p)}
        self.results.update((r.path, r) for r in done)

    def claim(self, path: str) -> bool:
        """Whether ``path`` can still be analysed with its summary (not started in the background)."""
        return self.behind is None or path not in self.behind or self.pool is None or self.pool.take_back(path)


def _project_paths(files: Sequence[str], job: Any) -> list[str]:
    from wsrefactor.discovery import discover

    paths = list(files)
    if job.config.cross_file_scope == "project":
        paths += sorted(set(discover([job.config.root], job.config, job.lookup).files) - set(paths))
    return paths


def _expand(
    found: dict[str, ModuleSummary | None], paths: Sequence[str], where: Where, analyse: Analyse | None
) -> None:
    """Later rounds: a module that only hands a connection on (``relay.pump(ws)`` ->
    ``reader.read_all(ws)``) may hold no gate token, so the modules the summarized ones hand
    values to are summarized too, and so are the modules naming a callable known to send on a
    parameter (its callers); until nothing is added."""
    modules = _Modules(paths, where[2])
    fresh = [s for s in found.values() if s is not None]
    tried: set[str] = set()  # summarized in full already (None: not Python, unreadable)
    for _ in range(_ROUNDS):
        wanted = [p for p in _next_round(modules, fresh, found, paths) if p not in tried]
        if not wanted:
            return
        tried.update(wanted)
        more = _summaries(wanted, None, *where, analyse)
        found.update(more)
        fresh = [s for s in more.values() if s is not None]


def _summaries(
    paths: Sequence[str], tokens: tuple[str, ...] | None, jobs: int, key: str | None, root: str, cache_dir: str,
    analyse: Analyse | None = None,
) -> dict[str, ModuleSummary | None]:
    """Cached summaries and files without a gate token are settled here; only the rest go to
    workers (a warm or small run starts no process pool)."""
    cache = summary_cache(key, root, cache_dir, tokens)
    found: dict[str, ModuleSummary | None] = {}
    todo: list[str] = []
    for path in paths:
        settled, summary = _settled(path, cache, tokens)
        if settled:
            found[path] = summary
        else:
            todo.append(path)
    if analyse is not None:
        todo = _analysed(analyse, todo, found, jobs, key, tokens)
    found.update(_map(analyse, jobs, _summarize_many, todo, key, root, cache_dir, tokens))
    return {path: found[path] for path in paths}


def _map(analyse: Analyse | None, jobs: int, work: Callable[..., list[Any]], paths: Sequence[str], *args: Any) -> list[Any]:
    """``work`` over ``paths``: in the check's shared pool when it has one, else ``map_chunks``."""
    if analyse is not None and analyse.pool is not None:
        return analyse.pool.map(work, paths, *args)
    from wsrefactor.parallel import map_chunks

    return map_chunks(work, paths, jobs, *args)


def _analysed(
    analyse: Analyse, todo: Sequence[str], found: dict[str, ModuleSummary | None], jobs: int, key: str | None,
    tokens: tuple[str, ...] | None,
) -> list[str]:
    """Summarize (into ``found``) and analyse the files of the run not analysed yet; returns the
    rest of ``todo`` (context files, and files analysed in an earlier round), to summarize only."""

    both = [p for p in todo if p in analyse.files and p not in analyse.results]
    analyse.start_background(both)
    both = [p for p in both if analyse.claim(p)]
    for path, result, summary in _map(analyse, jobs, analyse.worker, both, *analyse.args, key, tokens):
        found[path] = summary
        analyse.results[path] = result
    chosen = set(both)
    return [p for p in todo if p not in chosen]


def summary_cache(key: str | None, root: str, cache_dir: str, tokens: tuple[str, ...] | None) -> Any:
    if key is None:
        return None
    from wsrefactor.cache import Cache

    return Cache(Path(root) / cache_dir, key if tokens is not None else key + "-full")


def _settled(path: str, cache: Any, tokens: tuple[str, ...] | None) -> tuple[bool, ModuleSummary | None]:
    """``(True, summary)`` when the file needs no worker: unreadable, a cache hit, or (first round)
    no gate token in its bytes (Python source encodings are ASCII-compatible, so a token absent
    from the bytes is absent from the text)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return True, None
    if cache is not None:
        hit = cache.get(path, raw)
        if hit is not None:
            return True, hit[0]
    if tokens is not None and not any(token.encode() in raw for token in tokens):
        return True, None
    return False, None


def _next_round(
    modules: _Modules, fresh: Sequence[ModuleSummary], found: Mapping[str, ModuleSummary | None], paths: Sequence[str]
) -> list[str]:
    """The files not summarized yet that the last round's summaries reach."""
    left = [p for p in paths if found.get(p) is None]
    forward = {p for s in fresh for p in modules.targets(s)}
    callers = modules.mentioning(callers_wanted(s for s in found.values() if s is not None), left)
    return sorted(p for p in forward | callers if found.get(p) is None)


_ROUNDS = 6


class _Modules:
    """The run's files by the module name a summary gives them, and by unique dotted suffix."""

    def __init__(self, paths: Sequence[str], root: str) -> None:
        self.by_name = {root_module(p, root): p for p in paths}
        self._known: dict[str, dict[str, bool]] = {}  # path -> name -> held as a word
        self.suffixes: dict[str, str | None] = {}
        for name, path in self.by_name.items():
            parts = name.split(".")
            for cut in range(1, len(parts)):
                tail = ".".join(parts[cut:])
                self.suffixes[tail] = None if tail in self.suffixes or tail in self.by_name else path

    def path_of(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            head = ".".join(parts[:cut])
            found = self.by_name.get(head) or self.suffixes.get(head)
            if found:
                return found
        return None

    def mentioning(self, names: set[str], paths: Sequence[str]) -> set[str]:
        """The files among ``paths`` whose text holds one of ``names`` as a word. The rounds ask
        about much the same few names again, so each file answers for each name once; a cheap
        substring test on the bytes settles most of them before any word boundary is looked at."""
        if not names:
            return set()
        return {path for path in paths if self._mentions(path, names)}

    def _mentions(self, path: str, names: set[str]) -> bool:
        known = self._known.setdefault(path, {})
        new = [name for name in names if name not in known]
        if new:
            try:
                with open(path, "rb") as fh:
                    raw = fh.read()
            except OSError:
                raw = b""
            text: str | None = None
            for name in new:
                found = False
                if name.encode() in raw:  # the text is read as UTF-8, so the word needs its UTF-8 bytes
                    text = raw.decode("utf-8", "replace") if text is None else text
                    found = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None
                known[name] = found
        return any(known[name] for name in names)

    def targets(self, summary: ModuleSummary) -> set[str]:
        """The files defining what ``summary``'s calls hand a connection or a parameter to."""
        out: set[str] = set()
        for target in _handed_to(summary):
            for alt in target.split("|"):
                path = self.path_of(alt)
                if path is not None and path != summary.path:
                    out.add(path)
        for _, target in summary.aliases + summary.instances:  # re-exports and instances
            path = self.path_of(target)
            if path is not None and path != summary.path:
                out.add(path)
        return out


def _handed_to(summary: ModuleSummary) -> list[str]:
    """The targets of the calls that hand a connection, a parameter or a queue on, and the classes
    wrapping a frame put on a queue."""
    edges = [*summary.passes, *(e for f in summary.functions for e in f.forwards)]
    return [e.target for e in edges] + (summary.queues.reached() if summary.queues is not None else [])


def with_facts(job: Any, files: Sequence[str], jobs: int, analyse: Analyse | None = None) -> Any:
    """``job`` carrying the files' cross-module facts (unchanged when no rule reads them).

    With ``analyse``, the files the rounds summarize are analysed in the same pass (one parse
    each, not one for the summary and one for the rules); afterwards ``analyse.results`` holds
    every final result it has: the files the project tells nothing, and, with a pool, the files
    told something analysed again with their facts (without a pool those are left to the caller)."""
    if not wanted(job):
        return job
    return replace(job, xfacts=project_facts(files, job, jobs, analyse))


def summary_of(analyses: Any, root: str, tokens: tuple[str, ...] | None) -> ModuleSummary | None:
    """The summary of a file the worker is analysing anyway (from its analyses, no second parse)."""
    if tokens is not None and not any(token in analyses.text for token in tokens):
        return None
    try:
        return summarize(analyses, root)
    except RecursionError:
        return None


def cache_content(job: Any, path: str, raw: bytes) -> bytes:
    """What a file's result-cache entry is keyed on: its bytes, plus its facts' digest when the
    project tells it anything (another file changing what it passes re-decides this one)."""
    facts = (getattr(job, "xfacts", None) or {}).get(path)
    return raw if not facts else raw + b"\0xfacts\0" + facts.digest()


def _cache_key(job: Any) -> str | None:
    """Per root and gate (module names depend on the root; a file the gate leaves out is cached as
    such, apart from the same file summarized in full because another module hands it a value)."""
    if not job.cache_key or job.fix is not None:
        return None
    from wsrefactor.cache import run_key

    return "summary-" + run_key("summary", job.config.root, gate(job))


def _summarize_many(
    paths: Sequence[str], key: str | None, root: str, cache_dir: str, tokens: tuple[str, ...] | None = GATE,
) -> list[tuple[str, ModuleSummary | None]]:
    cache = summary_cache(key, root, cache_dir, tokens)
    return [(p, summarize_file(p, root, cache, tokens)) for p in paths]


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
    analyses = Analyses(tree, text, path)
    try:
        return summary_of(analyses, root, tokens)
    finally:
        analyses.release()


def facts_of(job: Any) -> Mapping[str, FileFacts] | None:
    return getattr(job, "xfacts", None)
