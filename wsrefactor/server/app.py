"""``wsrefactor server``: a language server over stdio (pygls) with diagnostics, fixes and docs.

What it does and where the work happens:

* Diagnostics come from ``wsrefactor.inmemory.analyse_text`` on the editor's buffer (never the
  file on disk), in worker processes: the message loop only schedules, converts and publishes,
  so a slow rule or a pathological file never blocks the server. Each document has at most one
  analysis in flight; edits made meanwhile are analysed once it returns (newest text only).
* Configuration is the CLI's: ``cli.Session`` for the file's path (nearest config, plugins,
  per-file-ignores, excludes), with the workspace root as the working directory.
* Cross-file rules (WS303/WS304) see the facts of every workspace file: the open buffers' from
  their analyses, the others' from a background scan refreshed on close and on watched-file
  changes.
* Code actions and hover live in ``wsrefactor.server.actions``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from wsrefactor import __version__, inmemory, runner
from wsrefactor.engine import FixPolicy
from wsrefactor.model import Finding
from wsrefactor.runner import FileResult, Job, ProjectItem
from wsrefactor.selection import Selection
from wsrefactor.server.convert import Lines, diagnostics

log = logging.getLogger("wsrefactor.server")

DEBOUNCE_SECONDS = 0.15
SCAN_CHUNK = 16


@dataclass
class Settings:
    """The CLI's session for one directory: config, selection, rules; and the jobs built from it."""

    session: Any
    job: Job  # diagnostics: findings without edits, as ``check`` computes them

    def fix_job(self, policy: FixPolicy) -> Job:
        return replace(self.job, fix=policy)

    def facts_job(self) -> Job | None:
        """Only the project rules, for files nobody has open (``runner._repository_facts``)."""
        codes = runner._project_rule_codes(self.job)
        if not codes:
            return None
        return Job(self.job.config, Selection(codes, (), self.job.selection.known_codes))


@dataclass
class Doc:
    """An open document and what was last computed for it."""

    uri: str
    path: str
    settings: Settings | None = None
    version: int | None = None  # the analysed version
    text: str = ""
    result: FileResult | None = None
    findings: list[Finding] = field(default_factory=list)
    project: list[ProjectItem] = field(default_factory=list)
    running: bool = False
    dirty: bool = False
    fixes: dict[Any, Any] = field(default_factory=dict)  # (version, policy) -> fixed text


class Workers:
    """A process pool that is rebuilt when a worker dies (a crash in native code, a kill)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            # spawn: forking a process that runs threads (pygls reads stdin in one) is unsafe
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.pool(), fn, *args)
        except BrokenProcessPool:
            self.close()
            raise

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.kill()


_WARM_UP = "import time\n\n\nasync def handler(ws):\n    time.sleep(1)\n"


def warm() -> int:
    """Import the rule pack, libcst's parser and bandit in a worker before the first document
    arrives, by analysing a small snippet (the first analysis of a process pays for them)."""
    from wsrefactor.config import Config
    from wsrefactor.registry import load_rules

    rules = load_rules(())
    job = Job(Config(cache=False), Selection.build(("WS", "B"), (), rules))
    return len(inmemory.analyse_text("warm_up.py", _WARM_UP, job).findings)


def load_settings(path: str) -> Settings | str:
    """The CLI's session for ``path`` (nearest config), or the one-line config error."""
    from wsrefactor.cli import Session
    from wsrefactor.config import ConfigError
    from wsrefactor.registry import RegistryError

    try:
        # ``stdin=True``: the buffer's path need not exist on disk (an unsaved new file), as for `check -`
        session = Session([path], None, None, None, stdin=True)
    except (ConfigError, RegistryError) as exc:
        return f"wsrefactor: {exc}"
    return Settings(session, Job(session.config, session.selection))


def excluded(path: str, settings: Settings) -> bool:
    """The config's ``exclude`` holds in the editor as it does for a path named on the CLI."""
    from wsrefactor.discovery import discover

    return os.path.exists(path) and not discover([path], settings.job.config).files


class WsRefactorServer(LanguageServer):
    def __init__(self, jobs: int = 2) -> None:
        super().__init__("wsrefactor", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.workers = Workers(jobs)
        self.docs: dict[str, Doc] = {}
        self.disk: dict[str, FileResult] = {}  # project facts of workspace files, read from disk
        self.settings: dict[str, Settings | str] = {}
        self.settings_lock = threading.Lock()
        self.roots: list[str] = []
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.shown: set[str] = set()
        self.scan: asyncio.Task[None] | None = None
        self.project_lock = asyncio.Lock()

    # ------------------------------------------------------------------ configuration

    def settings_for(self, path: str) -> Settings | str:
        """``load_settings`` cached per directory until a config file changes. Called from
        threads: one at a time, since loading a plugin is not thread-safe (a second thread would
        see the half-imported module)."""
        directory = os.path.dirname(path)
        with self.settings_lock:
            if directory not in self.settings:
                self.settings[directory] = load_settings(path)
            return self.settings[directory]

    def forget_config(self) -> None:
        """A config file changed: re-read configuration, re-analyse, rescan."""
        with self.settings_lock:
            self.settings.clear()
        for uri in self.docs:
            self.schedule(uri, 0)
        self.start_scan()

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.warning("%s", message)
        if message not in self.shown:
            self.shown.add(message)
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    # ------------------------------------------------------------------ analysis

    def schedule(self, uri: str, delay: float) -> None:
        """Analyse ``uri`` after ``delay`` (restarted by each new edit: the debounce)."""
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._debounced(uri, delay))

    def cancel(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()

    async def _debounced(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending.pop(uri, None)  # from here on, a new edit no longer cancels this task
        await self.analyse_latest(uri)

    def current(self, uri: str) -> tuple[str, int | None] | None:
        """The buffer's text and version as the client last sent them."""
        try:
            document = self.workspace.get_text_document(uri)
        except Exception:  # noqa: BLE001 - closed meanwhile
            return None
        return document.source, document.version

    async def analyse_latest(self, uri: str) -> None:
        """Analyse the document's newest text; if it changes meanwhile, go again (one in flight)."""
        doc = self.docs.get(uri)
        if doc is None:
            return
        if doc.running:
            doc.dirty = True
            return
        doc.running = True
        try:
            while self.docs.get(uri) is doc:
                doc.dirty = False
                current = self.current(uri)
                if current is None:
                    return
                await self._analyse(doc, *current)
                now = self.current(uri)
                if not doc.dirty and (now is None or now[1] == current[1]):
                    return
        finally:
            doc.running = False

    async def _analyse(self, doc: Doc, text: str, version: int | None) -> None:
        loaded = await asyncio.to_thread(self.settings_for, doc.path)
        settings: Settings | None = None
        if isinstance(loaded, str):  # the configuration error, one line
            self.tell(loaded, types.MessageType.Error)
        else:
            settings = loaded
        doc.settings = settings
        result = None
        if settings is not None and not await asyncio.to_thread(excluded, doc.path, settings):
            result = await self._run_analysis(doc, text, settings)
        if self.docs.get(doc.uri) is not doc:
            return
        old_facts = doc.result.facts if doc.result is not None else None
        doc.result, doc.text, doc.version, doc.fixes = result, text, version, {}
        if result is None:
            doc.findings, doc.project = [], []
            self.publish(doc)
            return
        await self.refresh_project([doc], always=True)
        if result.facts != old_facts:
            await self.refresh_project([d for d in self.docs.values() if d is not doc])

    async def _run_analysis(self, doc: Doc, text: str, settings: Settings) -> FileResult:
        try:
            result: FileResult = await self.workers.run(inmemory.analyse_text, doc.path, text, settings.job)
        except BrokenProcessPool:
            result = FileResult(doc.path, internal_error=f"{doc.path}: the analysis process died")
        if result.internal_error:
            self.tell(f"wsrefactor: {result.internal_error}", types.MessageType.Error)
        return result

    def fact_results(self) -> list[FileResult]:
        """Facts of every workspace file: open buffers first, the disk for the others."""
        open_results = {d.path: d.result for d in self.docs.values() if d.result is not None}
        return [*open_results.values(), *(r for p, r in self.disk.items() if p not in open_results)]

    async def refresh_project(self, docs: list[Doc], always: bool = False) -> None:
        """Recompute cross-file findings and suppressions of ``docs`` and publish what changed
        (``always``: publish even when unchanged, for a freshly analysed version)."""
        async with self.project_lock:
            facts = self.fact_results()
            for doc in docs:
                result, settings = doc.result, doc.settings
                if result is None or settings is None:
                    continue
                items, findings = await asyncio.to_thread(project_and_collect, result, facts, settings.job)
                if self.docs.get(doc.uri) is not doc or doc.result is not result:
                    continue
                doc.project = items
                if always or findings != doc.findings:
                    doc.findings = findings
                    self.publish(doc)

    def publish(self, doc: Doc) -> None:
        lines = Lines(doc.text, self.encoding)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=doc.uri, diagnostics=diagnostics(doc.findings, lines), version=doc.version)
        )

    def analysed(self, doc: Doc) -> bool:
        current = self.current(doc.uri)
        return current is None or (current[1] == doc.version and not doc.running)

    async def up_to_date(self, doc: Doc, timeout: float = 60.0) -> None:
        """Wait until the document's newest text has been analysed (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and self.docs.get(doc.uri) is doc and not self.analysed(doc):
            if not doc.running and doc.uri not in self.pending:
                await self.analyse_latest(doc.uri)
            else:
                await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ workspace facts

    def start_scan(self) -> None:
        if self.scan is not None and not self.scan.done():
            self.scan.cancel()
        self.scan = asyncio.get_running_loop().create_task(self.scan_files(None))

    def scan_plan(self, paths: list[str] | None) -> list[tuple[Job, list[str]]]:
        """The workspace's files (or ``paths``) grouped by their facts-only job."""
        from wsrefactor.discovery import discover

        if paths is None:
            paths = []
            for root in self.roots:
                settings = self.settings_for(os.path.join(root, "__init__.py"))
                if isinstance(settings, Settings) and settings.facts_job() is not None:
                    paths.extend(discover([root], settings.job.config).files)
        groups: dict[int, tuple[Job, list[str]]] = {}
        for path in sorted(set(paths)):
            settings = self.settings_for(path)
            job = settings.facts_job() if isinstance(settings, Settings) else None
            if job is not None:
                groups.setdefault(id(settings), (job, []))[1].append(path)
        return list(groups.values())

    async def scan_files(self, paths: list[str] | None) -> None:
        """Project facts of the workspace's files (or of ``paths``), a few files per worker call
        so that buffer analyses queued meanwhile wait for one chunk at most."""
        for job, files in await asyncio.to_thread(self.scan_plan, paths):
            for i in range(0, len(files), SCAN_CHUNK):
                try:
                    results = await self.workers.run(runner._process_many, files[i : i + SCAN_CHUNK], job)
                except BrokenProcessPool:
                    continue
                self.disk.update((r.path, r) for r in results)
        await self.refresh_project(list(self.docs.values()))

    async def rescan(self, changed: list[str], deleted: list[str]) -> None:
        """Files changed on disk (not open): their facts are read again, or dropped."""
        for path in deleted:
            self.disk.pop(path, None)
        if changed:
            await self.scan_files(changed)
        elif deleted:
            await self.refresh_project(list(self.docs.values()))


def project_and_collect(result: FileResult, facts: list[FileResult], job: Job) -> tuple[list[ProjectItem], list[Finding]]:
    """The project phase over every file's facts, then this file's reported findings."""
    items = inmemory.project_items(facts, job) if runner._project_rule_codes(job) else []
    mine = [item for item in items if item[0].path == result.path]
    findings, _ = inmemory.collect(result, mine, job)
    return items, findings


# ---------------------------------------------------------------------- notifications


def initialize(ls: WsRefactorServer, params: types.InitializeParams) -> None:
    roots = [to_fs_path(f.uri) for f in params.workspace_folders or []]
    if not roots and ls.workspace.root_path:
        roots = [ls.workspace.root_path]
    ls.roots = [os.path.abspath(r) for r in roots if r]
    if ls.roots:
        os.chdir(ls.roots[0])  # the CLI run from the project root: same config root, same paths


async def initialized(ls: WsRefactorServer, params: types.InitializedParams) -> None:
    for _ in range(ls.workers.jobs):
        ls.workers.pool().submit(warm)
    ls.start_scan()
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps is not None else None
    if watched is not None and watched.dynamic_registration:
        watchers = [types.FileSystemWatcher(glob_pattern=g) for g in ("**/*.py", "**/*.toml")]
        options = types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers)
        registration = types.Registration(
            id="wsrefactor-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options
        )
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))


def did_open(ls: WsRefactorServer, params: types.DidOpenTextDocumentParams) -> None:
    uri = params.text_document.uri
    path = to_fs_path(uri)
    if path is not None:
        ls.docs[uri] = Doc(uri, os.path.abspath(path))
        ls.schedule(uri, 0)


def did_change(ls: WsRefactorServer, params: types.DidChangeTextDocumentParams) -> None:
    if params.text_document.uri in ls.docs:
        ls.schedule(params.text_document.uri, DEBOUNCE_SECONDS)


def did_save(ls: WsRefactorServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if (to_fs_path(uri) or "").endswith(".toml"):
        ls.forget_config()
    elif uri in ls.docs:
        ls.schedule(uri, 0)


async def did_close(ls: WsRefactorServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.cancel(uri)
    doc = ls.docs.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
    if doc is not None and doc.result is not None and doc.result.facts:
        # its unsaved edits are gone: the disk's facts stand again
        on_disk = os.path.isfile(doc.path)
        await ls.rescan([doc.path] if on_disk else [], [] if on_disk else [doc.path])


def _events(ls: WsRefactorServer, params: types.DidChangeWatchedFilesParams) -> tuple[bool, list[str], list[str]]:
    """(a config file changed, Python files changed or created, deleted); open ones are the
    editor's business, not the disk's."""
    open_paths = {d.path for d in ls.docs.values()}
    config = False
    changed: list[str] = []
    deleted: list[str] = []
    for event in params.changes:
        path = os.path.abspath(to_fs_path(event.uri) or "")
        config = config or path.endswith(".toml")
        if path.endswith(".py") and path not in open_paths:
            (deleted if event.type == types.FileChangeType.Deleted else changed).append(path)
    return config, changed, deleted


async def did_change_watched_files(ls: WsRefactorServer, params: types.DidChangeWatchedFilesParams) -> None:
    config, changed, deleted = _events(ls, params)
    if config:
        ls.forget_config()
    else:
        await ls.rescan(changed, deleted)


def shutdown(ls: WsRefactorServer, params: Any) -> None:
    for uri in list(ls.pending):
        ls.cancel(uri)
    if ls.scan is not None:
        ls.scan.cancel()
    ls.workers.close()


def end_process(ls: WsRefactorServer, code: int) -> None:
    """Stop the workers and end the process now.

    pygls, on its way out, joins its thread pool, where one thread is blocked reading stdin until
    the client closes it; a client that waits for the server to end first (pytest-lsp does, on
    ``exit`` and on SIGTERM) would wait forever. Nothing is left to flush but stdout.
    """
    ls.workers.close()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def exit_(ls: WsRefactorServer, params: Any) -> None:
    """``exit``: status 0 after ``shutdown``, 1 without (the protocol's rule)."""
    end_process(ls, 0 if getattr(ls.protocol, "_shutdown", False) else 1)


def build(jobs: int = 2) -> WsRefactorServer:
    from wsrefactor.server import actions

    server = WsRefactorServer(jobs)
    features: list[tuple[str, Any, Any]] = [
        (types.INITIALIZE, None, initialize),
        (types.INITIALIZED, None, initialized),
        (types.TEXT_DOCUMENT_DID_OPEN, None, did_open),
        (types.TEXT_DOCUMENT_DID_CHANGE, None, did_change),
        (types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False), did_save),
        (types.TEXT_DOCUMENT_DID_CLOSE, None, did_close),
        (types.WORKSPACE_DID_CHANGE_WATCHED_FILES, None, did_change_watched_files),
        (types.SHUTDOWN, None, shutdown),
        (types.EXIT, None, exit_),
        *actions.FEATURES,
    ]
    for method, options, handler in features:
        server.feature(method, options)(handler)
    return server


def serve(jobs: int = 2) -> None:
    """Run the server on stdin/stdout until the client says ``exit``, closes stdin, or the
    process gets SIGTERM/SIGINT."""
    import signal

    server = build(jobs)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: end_process(server, 1))
    try:
        server.start_io()
    finally:
        end_process(server, 0 if getattr(server.protocol, "_shutdown", False) else 1)
