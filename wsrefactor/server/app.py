"""``wsrefactor server``: a language server over stdio (pygls) with diagnostics, fixes and docs.

What it does and where the work happens:

* Diagnostics come from ``wsrefactor.inmemory.analyse_text`` on the editor's buffer (never the
  file on disk), in worker processes: the message loop only schedules, converts and publishes,
  so a slow rule or a pathological file never blocks the server. Each document has at most one
  analysis in flight; edits made meanwhile are analysed once it returns (newest text only).
* Configuration is the CLI's: ``cli.Session`` for the file's path (nearest config, plugins,
  per-file-ignores, excludes), with the workspace root as the working directory.
* Cross-file rules (WS303/WS304) see the facts of every workspace file: the open buffers' from
  their analyses, the others' from a background scan refreshed on save, close and watched-file
  changes.
* Code actions: a quick fix per fixable diagnostic (the CLI's fix of exactly that finding),
  ``source.fixAll.wsrefactor`` (the CLI's ``fix`` of the buffer), and a suppression comment.
  Their edits are computed on ``codeAction/resolve`` when the client supports it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from wsrefactor import __version__, inmemory, runner
from wsrefactor.engine import FixPolicy
from wsrefactor.model import Finding, FixSafety
from wsrefactor.rule import ProjectEdit
from wsrefactor.runner import FileResult, Job, ProjectItem
from wsrefactor.selection import Selection
from wsrefactor.server.convert import Lines, diagnostics, finding_range, lsp_edits, overlaps
from wsrefactor.server.suppress import suppressed_text

log = logging.getLogger("wsrefactor.server")

FIX_ALL = "source.fixAll.wsrefactor"
DEBOUNCE_SECONDS = 0.15
SCAN_CHUNK = 16
_NO_SUPPRESSION = ("WS000", "WS001")


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
    fixes: dict[Any, Any] = field(default_factory=dict)  # (version, key) -> computed edit


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


def _warm(plugins: tuple[str, ...]) -> int:
    """Import the rule pack in a worker before the first document arrives."""
    from wsrefactor.registry import load_rules

    return len(load_rules(plugins))


class WsRefactorServer(LanguageServer):
    def __init__(self, jobs: int = 2) -> None:
        super().__init__("wsrefactor", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.workers = Workers(jobs)
        self.docs: dict[str, Doc] = {}
        self.disk: dict[str, FileResult] = {}  # project facts of workspace files, read from disk
        self.settings: dict[str, Settings] = {}
        self.roots: list[str] = []
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.shown: set[str] = set()
        self.scan: asyncio.Task[None] | None = None
        self.project_lock = asyncio.Lock()

    # ------------------------------------------------------------------ configuration

    def settings_for(self, path: str) -> Settings | None:
        """The CLI's session for ``path`` (cached per directory until a config file changes)."""
        directory = os.path.dirname(path)
        if directory not in self.settings:
            from wsrefactor.cli import Session
            from wsrefactor.config import ConfigError
            from wsrefactor.registry import RegistryError

            try:
                session = Session([path], None, None, None)
            except (ConfigError, RegistryError) as exc:
                self.tell(f"wsrefactor: {exc}", types.MessageType.Error)
                return None
            self.settings[directory] = Settings(session, Job(session.config, session.selection))
        return self.settings[directory]

    def excluded(self, path: str, settings: Settings) -> bool:
        """The config's ``exclude`` holds in the editor as it does for a path named on the CLI."""
        from wsrefactor.discovery import discover

        return os.path.exists(path) and not discover([path], settings.job.config).files

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.warning("%s", message)
        if message not in self.shown:
            self.shown.add(message)
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # ------------------------------------------------------------------ capabilities

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def _workspace_edit_caps(self) -> types.WorkspaceEditClientCapabilities | None:
        ws = self.client_capabilities.workspace
        return ws.workspace_edit if ws is not None else None

    @property
    def document_changes(self) -> bool:
        caps = self._workspace_edit_caps()
        return bool(caps and caps.document_changes)

    @property
    def can_create_files(self) -> bool:
        caps = self._workspace_edit_caps()
        ops = (caps.resource_operations if caps else None) or []
        return self.document_changes and types.ResourceOperationKind.Create in ops

    @property
    def resolves_edits(self) -> bool:
        td = self.client_capabilities.text_document
        support = td.code_action.resolve_support if td is not None and td.code_action is not None else None
        return bool(support and "edit" in support.properties)

    # ------------------------------------------------------------------ analysis

    def schedule(self, uri: str, delay: float) -> None:
        """Analyse ``uri`` after ``delay`` (restarted by each new edit: the debounce)."""
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._debounced(uri, delay))

    async def _debounced(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending.pop(uri, None)  # from here on, a new edit no longer cancels this task
        await self.analyse_latest(uri)

    def _current(self, uri: str) -> tuple[str, int | None] | None:
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
                current = self._current(uri)
                if current is None:
                    return
                text, version = current
                await self._analyse(doc, text, version)
                now = self._current(uri)
                if not doc.dirty and (now is None or now[1] == version):
                    return
        finally:
            doc.running = False

    async def _analyse(self, doc: Doc, text: str, version: int | None) -> None:
        settings = self.settings_for(doc.path)
        doc.settings = settings
        if settings is None or self.excluded(doc.path, settings):
            doc.result, doc.findings, doc.project, doc.text, doc.version = None, [], [], text, version
            self.publish(doc)
            return
        try:
            result = await self.workers.run(inmemory.analyse_text, doc.path, text, settings.job)
        except BrokenProcessPool:
            result = FileResult(doc.path, internal_error=f"{doc.path}: the analysis process died")
        if self.docs.get(doc.uri) is not doc:
            return
        if result.internal_error:
            self.tell(f"wsrefactor: {result.internal_error}", types.MessageType.Error)
        old_facts = doc.result.facts if doc.result is not None else None
        doc.result, doc.text, doc.version = result, text, version
        doc.fixes = {}
        await self.refresh_project([doc], always=True)
        if result.facts != old_facts:
            await self.refresh_project([d for d in self.docs.values() if d is not doc and d.result is not None])

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
                if doc.result is None or doc.settings is None:
                    continue
                result, job = doc.result, doc.settings.job
                items, findings = await asyncio.to_thread(_project_and_collect, result, facts, job)
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

    async def up_to_date(self, doc: Doc, timeout: float = 60.0) -> None:
        """Wait until the document's newest text has been analysed (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and self.docs.get(doc.uri) is doc:
            current = self._current(doc.uri)
            if current is None or (current[1] == doc.version and not doc.running and doc.result is not None):
                return
            if not doc.running and doc.uri not in self.pending:
                await self.analyse_latest(doc.uri)
            else:
                await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ workspace facts

    def start_scan(self) -> None:
        if self.scan is not None and not self.scan.done():
            self.scan.cancel()
        self.scan = asyncio.get_running_loop().create_task(self._scan(None))

    async def _scan(self, paths: list[str] | None) -> None:
        """Project facts of the workspace's files (or of ``paths``), a few files per worker call
        so that buffer analyses queued meanwhile wait for one chunk at most."""
        from wsrefactor.discovery import discover

        if paths is None:
            paths = []
            for root in self.roots:
                settings = self.settings_for(os.path.join(root, "__init__.py"))
                if settings is not None and settings.facts_job() is not None:
                    paths.extend(discover([root], settings.job.config).files)
        groups: dict[int, tuple[Job, list[str]]] = {}
        for path in sorted(set(paths)):
            settings = self.settings_for(path)
            job = settings.facts_job() if settings is not None else None
            if job is not None:
                groups.setdefault(id(settings), (job, []))[1].append(path)
        for job, files in groups.values():
            for i in range(0, len(files), SCAN_CHUNK):
                chunk = files[i : i + SCAN_CHUNK]
                try:
                    results = await self.workers.run(runner._process_many, chunk, job)
                except BrokenProcessPool:
                    continue
                for result in results:
                    self.disk[result.path] = result
        await self.refresh_project([d for d in self.docs.values() if d.result is not None])

    async def rescan(self, created_or_changed: list[str], deleted: list[str]) -> None:
        for path in deleted:
            self.disk.pop(path, None)
        existing = [p for p in created_or_changed if os.path.isfile(p)]
        if existing:
            await self._scan(existing)
        elif deleted:
            await self.refresh_project([d for d in self.docs.values() if d.result is not None])

    # ------------------------------------------------------------------ code actions

    def doc_at(self, uri: str) -> Doc | None:
        return self.docs.get(uri)

    def _texts(self, paths: list[str]) -> dict[str, str]:
        from wsrefactor.source import read_source

        by_path = {d.path: d.text for d in self.docs.values()}
        return {p: by_path[p] if p in by_path else read_source(p).text for p in paths}

    def _version(self, path: str) -> int | None:
        for d in self.docs.values():
            if d.path == path:
                return d.version
        return None

    def workspace_edit(self, changes: dict[str, tuple[str, str]], new_files: list[tuple[str, str]]) -> types.WorkspaceEdit | None:
        """An edit turning each path's old text into its new one and creating ``new_files``;
        None when a new file cannot be created (client support, or another file in the way)."""
        creates: list[Any] = []
        for path, text in dict(new_files).items():
            if os.path.exists(path):
                if Path(path).read_text(encoding="utf-8", errors="replace") == text:
                    continue  # generated earlier with the same content (the CLI skips it too)
                return None
            if not self.can_create_files:
                return None
            uri = from_fs_path(path) or path
            creates.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)))
            creates.append(
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                    edits=[types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)), new_text=text)],
                )
            )
        edits = {
            path: lsp_edits(old, new, Lines(old, self.encoding)) for path, (old, new) in changes.items() if old != new
        }
        if not edits and not creates:
            return None
        if not self.document_changes:
            return types.WorkspaceEdit(changes={from_fs_path(p) or p: e for p, e in edits.items()})
        document_changes: list[Any] = [
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=from_fs_path(p) or p, version=self._version(p)),
                edits=list(e),
            )
            for p, e in edits.items()
        ]
        return types.WorkspaceEdit(document_changes=creates + document_changes)

    async def fixed(self, doc: Doc, policy: FixPolicy) -> tuple[str, list[tuple[str, str]]] | None:
        """The buffer as the CLI's ``fix`` would write it under ``policy``, and the files it creates."""
        assert doc.settings is not None
        key = (doc.version, policy)
        if key not in doc.fixes:
            try:
                result = await self.workers.run(inmemory.analyse_text, doc.path, doc.text, doc.settings.fix_job(policy))
            except BrokenProcessPool:
                return None
            for message in result.messages:
                self.tell(message)
            doc.fixes[key] = None if result.new_text is None else (result.new_text, list(result.new_files))
        return doc.fixes[key]  # type: ignore[no-any-return]

    async def resolve_edit(self, doc: Doc, data: dict[str, Any]) -> types.WorkspaceEdit | None:
        kind = data["action"]
        if kind == "fixAll":
            fixed = await self.fixed(doc, FixPolicy())
            return None if fixed is None else self.workspace_edit({doc.path: (doc.text, fixed[0])}, fixed[1])
        finding = next((f for f in doc.findings if _key(f) == tuple(data["finding"])), None)
        if finding is None or doc.settings is None:
            return None
        if kind == "suppress":
            new = suppressed_text(doc.text, finding, doc.settings.job.selection.known)
            return None if new is None else self.workspace_edit({doc.path: (doc.text, new)}, [])
        edit = _project_edit(finding, doc.project)
        if edit is not None:
            return await self._project_fix(doc, finding.code, inmemory.complete_edit(edit, doc.project))
        fixed = await self.fixed(doc, FixPolicy(unsafe=True, only=frozenset({_key(finding)})))
        return None if fixed is None else self.workspace_edit({doc.path: (doc.text, fixed[0])}, fixed[1])

    async def _project_fix(self, doc: Doc, code: str, edit: ProjectEdit) -> types.WorkspaceEdit | None:
        assert doc.settings is not None
        if not self.can_create_files:
            return None
        from wsrefactor.source import SourceError

        paths = sorted({p for p, _ in edit.payloads})
        try:
            texts = self._texts(paths)
            new = await asyncio.to_thread(inmemory.project_fix_texts, code, edit, texts, doc.settings.job)
        except (SourceError, KeyError) as exc:
            self.tell(f"wsrefactor: {code}: {exc}")
            return None
        return self.workspace_edit({p: (texts[p], new[p]) for p in new}, list(edit.new_files))

    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = self.doc_at(params.text_document.uri)
        if doc is None:
            return []
        await self.up_to_date(doc)
        if doc.settings is None or doc.result is None:
            return []
        only = params.context.only
        lines = Lines(doc.text, self.encoding)
        actions: list[types.CodeAction] = []
        if _wanted(types.CodeActionKind.QuickFix, only):
            for finding in doc.findings:
                if overlaps(finding_range(finding, lines), params.range):
                    actions.extend(self._finding_actions(doc, finding, lines))
        if _wanted(FIX_ALL, only) and any(_safe_file_fix(f, doc.project) for f in doc.findings):
            actions.append(self._action(doc, "wsrefactor: fix all safe fixes", FIX_ALL, {"action": "fixAll"}, None))
        if not self.resolves_edits:
            resolved = [await self.resolve_action(a) for a in actions]
            actions = [a for a in resolved if a.edit is not None]
        return actions

    def _finding_actions(self, doc: Doc, finding: Finding, lines: Lines) -> list[types.CodeAction]:
        diag = diagnostics([finding], lines)
        out = []
        fix = finding.fix
        project = _project_edit(finding, doc.project)
        offered = fix is not None and (project is None or self.can_create_files)
        if fix is not None and offered:
            unsafe = fix.safety is FixSafety.UNSAFE
            what = "" if fix.description in ("", "fix available") else f": {fix.description}"
            title = f"{'Unsafe fix' if unsafe else 'Fix'} {finding.code}{what}"
            out.append(self._action(doc, title, types.CodeActionKind.QuickFix, {"action": "fix", "finding": _key(finding)}, diag, preferred=not unsafe))
        if finding.code not in _NO_SUPPRESSION:
            title = f"Suppress {finding.code} on this line"
            out.append(self._action(doc, title, types.CodeActionKind.QuickFix, {"action": "suppress", "finding": _key(finding)}, diag))
        return out

    @staticmethod
    def _action(doc: Doc, title: str, kind: str, data: dict[str, Any], diags: list[types.Diagnostic] | None, preferred: bool = False) -> types.CodeAction:
        return types.CodeAction(
            title=title, kind=kind, diagnostics=diags, is_preferred=preferred or None,
            data={**data, "uri": doc.uri, "version": doc.version},
        )

    async def resolve_action(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        doc = self.doc_at(data.get("uri", ""))
        if doc is None or data.get("version") != doc.version or doc.result is None:
            return action
        action.edit = await self.resolve_edit(doc, data)
        return action

    # ------------------------------------------------------------------ hover

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        from wsrefactor.cli import Failure, explain_text

        doc = self.doc_at(params.text_document.uri)
        if doc is None:
            return None
        lines = Lines(doc.text, self.encoding)
        here = types.Range(start=params.position, end=params.position)
        hit = [f for f in doc.findings if overlaps(finding_range(f, lines), here)]
        parts = []
        for code in dict.fromkeys(f.code for f in hit):
            try:
                parts.append(explain_text(code).strip())
            except Failure:
                parts.append(f"# {code}\n\n" + "\n".join(f.message for f in hit if f.code == code))
        if not parts:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)),
            range=finding_range(hit[0], lines),
        )


def _key(finding: Finding) -> tuple[str, int, int]:
    """How ``FixPolicy.only`` names a finding (the interactive fixer's key)."""
    return (finding.code, finding.line, finding.column)


def _project_edit(finding: Finding, project: list[ProjectItem]) -> ProjectEdit | None:
    for item, edit in project:
        if item == finding:
            return edit
    return None


def _safe_file_fix(finding: Finding, project: list[ProjectItem]) -> bool:
    return (
        finding.fix is not None
        and finding.fix.safety is FixSafety.SAFE
        and not any(item == finding for item, _ in project)
    )


def _wanted(kind: str, only: Any) -> bool:
    """LSP kinds are hierarchical: asking for ``source`` includes ``source.fixAll.wsrefactor``."""
    return not only or any(kind == k or kind.startswith(f"{k}.") for k in only)


def _project_and_collect(result: FileResult, facts: list[FileResult], job: Job) -> tuple[list[ProjectItem], list[Finding]]:
    codes = runner._project_rule_codes(job)
    items = inmemory.project_items(facts, job) if codes else []
    mine = [item for item in items if item[0].path == result.path]
    findings, _ = inmemory.collect(result, mine, job)
    return items, findings


def build(jobs: int = 2) -> WsRefactorServer:
    server = WsRefactorServer(jobs)

    @server.feature(types.INITIALIZE)
    def initialize(ls: WsRefactorServer, params: types.InitializeParams) -> None:
        roots = [to_fs_path(f.uri) for f in params.workspace_folders or []]
        if not roots and ls.workspace.root_path:
            roots = [ls.workspace.root_path]
        ls.roots = [os.path.abspath(r) for r in roots if r]
        if ls.roots:
            os.chdir(ls.roots[0])  # the CLI run from the project root: same config root, same paths

    @server.feature(types.INITIALIZED)
    async def initialized(ls: WsRefactorServer, params: types.InitializedParams) -> None:
        ls.workers.pool().submit(_warm, ())
        ls.start_scan()
        caps = ls.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps is not None else None
        if watched is not None and watched.dynamic_registration:
            watchers = [types.FileSystemWatcher(glob_pattern=g) for g in ("**/*.py", "**/pyproject.toml", "**/*.toml")]
            await ls.client_register_capability_async(
                types.RegistrationParams(registrations=[
                    types.Registration(
                        id="wsrefactor-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
                    )
                ])
            )

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: WsRefactorServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = to_fs_path(uri)
        if path is None:
            return
        ls.docs[uri] = Doc(uri, os.path.abspath(path))
        ls.schedule(uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: WsRefactorServer, params: types.DidChangeTextDocumentParams) -> None:
        if params.text_document.uri in ls.docs:
            ls.schedule(params.text_document.uri, DEBOUNCE_SECONDS)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: WsRefactorServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = to_fs_path(uri) or ""
        if path.endswith(".toml"):
            ls.settings.clear()
            for doc_uri in ls.docs:
                ls.schedule(doc_uri, 0)
            ls.start_scan()
        elif uri in ls.docs:
            ls.schedule(uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: WsRefactorServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        doc = ls.docs.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        if doc is not None and doc.result is not None and doc.result.facts:
            # its unsaved edits are gone: the disk's facts stand again
            await ls.rescan([doc.path] if os.path.isfile(doc.path) else [], [] if os.path.isfile(doc.path) else [doc.path])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(ls: WsRefactorServer, params: types.DidChangeWatchedFilesParams) -> None:
        changed, deleted, config = [], [], False
        open_paths = {d.path for d in ls.docs.values()}
        for event in params.changes:
            path = os.path.abspath(to_fs_path(event.uri) or "")
            if path.endswith(".toml"):
                config = True
            elif path.endswith(".py") and path not in open_paths:
                (deleted if event.type == types.FileChangeType.Deleted else changed).append(path)
        if config:
            ls.settings.clear()
            for doc_uri in ls.docs:
                ls.schedule(doc_uri, 0)
            ls.start_scan()
        elif changed or deleted:
            await ls.rescan(changed, deleted)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=True),
    )
    async def code_action(ls: WsRefactorServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return await ls.code_actions(params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: WsRefactorServer, action: types.CodeAction) -> types.CodeAction:
        return await ls.resolve_action(action)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: WsRefactorServer, params: types.HoverParams) -> types.Hover | None:
        return ls.hover(params)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: WsRefactorServer, params: Any) -> None:
        for task in ls.pending.values():
            task.cancel()
        if ls.scan is not None:
            ls.scan.cancel()
        ls.workers.close()

    return server


def serve(jobs: int = 2) -> None:
    """Run the server on stdin/stdout until the client says ``exit``."""
    server = build(jobs)
    try:
        server.start_io()
    finally:
        server.workers.close()
