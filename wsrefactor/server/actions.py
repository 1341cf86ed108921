"""Code actions and hover of the language server.

* A quick fix per fixable diagnostic: the buffer as ``fix`` writes it when that one finding is
  accepted (``FixPolicy.only``, as ``fix --interactive`` does), so its edit is the CLI's fix of
  that finding; unsafe fixes are offered too, titled "Unsafe fix".
* ``source.fixAll.wsrefactor``: the buffer as ``fix`` writes it (safe fixes).
* "Suppress CODE on this line": ``wsrefactor.server.suppress``.
* Cross-file fixes (WS303/WS304), and any fix that creates a file, only for clients that can
  create files in a workspace edit; the edit covers every file the CLI would touch.

Edits are computed on ``codeAction/resolve`` when the client supports resolving ``edit``
(moving the cursor then costs nothing), else before answering. Fixes run in the worker pool.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

from wsrefactor import inmemory
from wsrefactor.engine import FixPolicy
from wsrefactor.model import Finding, FixSafety
from wsrefactor.rule import ProjectEdit
from wsrefactor.runner import ProjectItem
from wsrefactor.server.app import Doc, WsRefactorServer
from wsrefactor.server.convert import (
    Lines,
    diagnostics,
    finding_range,
    lsp_edits,
    overlaps,
)
from wsrefactor.server.suppress import suppressed_text

FIX_ALL = "source.fixAll.wsrefactor"
_NO_SUPPRESSION = ("WS000", "WS001")  # a parse error cannot be silenced; WS001 is about one


# ---------------------------------------------------------------------- client capabilities


def _edit_caps(ls: WsRefactorServer) -> types.WorkspaceEditClientCapabilities | None:
    ws = ls.client_capabilities.workspace
    return ws.workspace_edit if ws is not None else None


def document_changes(ls: WsRefactorServer) -> bool:
    caps = _edit_caps(ls)
    return bool(caps and caps.document_changes)


def can_create_files(ls: WsRefactorServer) -> bool:
    caps = _edit_caps(ls)
    ops = (caps.resource_operations if caps else None) or []
    return document_changes(ls) and types.ResourceOperationKind.Create in ops


def resolves_edits(ls: WsRefactorServer) -> bool:
    td = ls.client_capabilities.text_document
    support = td.code_action.resolve_support if td is not None and td.code_action is not None else None
    return bool(support and "edit" in support.properties)


# ---------------------------------------------------------------------- workspace edits


def _key(finding: Finding) -> tuple[str, str, int, int]:
    """How ``FixPolicy.only`` names a finding (the interactive fixer's key: file and position)."""
    return (finding.path, finding.code, finding.line, finding.column)


def _uri(path: str) -> str:
    return from_fs_path(path) or path


def _versions(ls: WsRefactorServer) -> dict[str, int | None]:
    return {d.path: d.version for d in ls.docs.values()}


def _creates(ls: WsRefactorServer, new_files: list[tuple[str, str]]) -> list[Any] | None:
    """CreateFile + content per new file; None when one cannot be created. A file already there
    with the same content is skipped, as the CLI skips it."""
    out: list[Any] = []
    start = types.Position(line=0, character=0)
    for path, text in dict(new_files).items():
        if os.path.exists(path):
            if Path(path).read_text(encoding="utf-8", errors="replace") == text:
                continue
            return None
        if not can_create_files(ls):
            return None
        out.append(types.CreateFile(uri=_uri(path), options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)))
        out.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=_uri(path), version=None),
                edits=[types.TextEdit(range=types.Range(start=start, end=start), new_text=text)],
            )
        )
    return out


def workspace_edit(
    ls: WsRefactorServer,
    changes: dict[str, tuple[str, str]],
    new_files: list[tuple[str, str]],
    versions: dict[str, int | None],
) -> types.WorkspaceEdit | None:
    """An edit turning each path's old text into its new one and creating ``new_files``; None
    when there is nothing to do or a file cannot be created. Reads the disk: run it in a thread,
    with the open documents' ``versions`` taken on the loop."""
    creates = _creates(ls, new_files)
    if creates is None:
        return None
    edits = {p: lsp_edits(old, new, Lines(old, ls.encoding)) for p, (old, new) in changes.items() if old != new}
    if not edits and not creates:
        return None
    if not document_changes(ls):
        return types.WorkspaceEdit(changes={_uri(p): e for p, e in edits.items()})
    text_edits = [
        types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=_uri(p), version=versions.get(p)),
            edits=list(e),
        )
        for p, e in edits.items()
    ]
    return types.WorkspaceEdit(document_changes=[*creates, *text_edits])


async def fixed(ls: WsRefactorServer, doc: Doc, policy: FixPolicy) -> tuple[str, list[tuple[str, str]]] | None:
    """The buffer as the CLI's ``fix`` would write it under ``policy``, and the files it creates."""
    key = (doc.version, policy)
    if key not in doc.fixes and doc.settings is not None:
        try:
            result = await ls.workers.run(inmemory.analyse_text, doc.path, doc.text, doc.settings.fix_job(policy))
        except BrokenProcessPool:
            return None
        for message in result.messages:
            ls.tell(message)
        doc.fixes[key] = None if result.new_text is None else (result.new_text, list(result.new_files))
    return doc.fixes.get(key)  # type: ignore[no-any-return]


async def _buffer_fix(ls: WsRefactorServer, doc: Doc, policy: FixPolicy) -> types.WorkspaceEdit | None:
    done = await fixed(ls, doc, policy)
    if done is None:
        return None
    return await asyncio.to_thread(workspace_edit, ls, {doc.path: (doc.text, done[0])}, done[1], _versions(ls))


def _project_edit(finding: Finding, project: list[ProjectItem]) -> ProjectEdit | None:
    return next((edit for item, edit in project if item == finding), None)


def _texts(buffers: dict[str, str], paths: list[str]) -> dict[str, str]:
    """Current content of each path: the open buffer, else the file."""
    from wsrefactor.source import read_source

    return {p: buffers[p] if p in buffers else read_source(p).text for p in paths}


def _project_fix(
    ls: WsRefactorServer, doc: Doc, code: str, edit: ProjectEdit, buffers: dict[str, str], versions: dict[str, int | None]
) -> types.WorkspaceEdit | str | None:
    """The cross-file fix as one workspace edit (None: not possible) or why not (str); runs in a
    thread, on the open buffers and versions taken on the loop."""
    from wsrefactor.source import SourceError

    if doc.settings is None or not can_create_files(ls):
        return None
    try:
        texts = _texts(buffers, sorted({p for p, _ in edit.payloads}))
        new = inmemory.project_fix_texts(code, edit, texts, doc.settings.job)
    except SourceError as exc:
        return f"wsrefactor: {code}: {exc}"
    return workspace_edit(ls, {p: (texts[p], new[p]) for p in new}, list(edit.new_files), versions)


async def resolve_edit(ls: WsRefactorServer, doc: Doc, data: dict[str, Any]) -> types.WorkspaceEdit | None:
    if data["action"] == "fixAll":
        return await _buffer_fix(ls, doc, FixPolicy())
    finding = next((f for f in doc.findings if list(_key(f)) == list(data["finding"])), None)
    if finding is None or doc.settings is None:
        return None
    if data["action"] == "suppress":
        new = suppressed_text(doc.text, finding, doc.settings.job.selection.known)
        return None if new is None else await asyncio.to_thread(workspace_edit, ls, {doc.path: (doc.text, new)}, [], _versions(ls))
    return await _fix_edit(ls, doc, finding)


async def _fix_edit(ls: WsRefactorServer, doc: Doc, finding: Finding) -> types.WorkspaceEdit | None:
    """The quick fix of one finding: the file's own fix, or the cross-file one."""
    edit = _project_edit(finding, doc.project)
    if edit is None:
        return await _buffer_fix(ls, doc, FixPolicy(unsafe=True, only=frozenset({_key(finding)})))
    buffers = {d.path: d.text for d in ls.docs.values()}
    complete = inmemory.complete_edit(edit, doc.project)
    out = await asyncio.to_thread(_project_fix, ls, doc, finding.code, complete, buffers, _versions(ls))
    if isinstance(out, str):
        ls.tell(out)
        return None
    return out


# ---------------------------------------------------------------------- actions


def _action(
    doc: Doc, title: str, kind: str, data: dict[str, Any], diags: list[types.Diagnostic] | None, preferred: bool = False
) -> types.CodeAction:
    return types.CodeAction(
        title=title, kind=kind, diagnostics=diags, is_preferred=preferred or None,
        data={**data, "uri": doc.uri, "version": doc.version},
    )


def _fix_title(finding: Finding) -> str:
    fix = finding.fix
    if fix is None:
        return ""
    what = "" if fix.description in ("", "fix available") else f": {fix.description}"
    return f"{'Unsafe fix' if fix.safety is FixSafety.UNSAFE else 'Fix'} {finding.code}{what}"


def finding_actions(ls: WsRefactorServer, doc: Doc, finding: Finding, lines: Lines) -> list[types.CodeAction]:
    diag = diagnostics([finding], lines)
    out = []
    cross_file = _project_edit(finding, doc.project) is not None
    if finding.fix is not None and (not cross_file or can_create_files(ls)):
        data = {"action": "fix", "finding": _key(finding)}
        safe = finding.fix.safety is FixSafety.SAFE
        out.append(_action(doc, _fix_title(finding), types.CodeActionKind.QuickFix, data, diag, preferred=safe))
    if finding.code not in _NO_SUPPRESSION:
        data = {"action": "suppress", "finding": _key(finding)}
        out.append(_action(doc, f"Suppress {finding.code} on this line", types.CodeActionKind.QuickFix, data, diag))
    return out


def _wanted(kind: str, only: Any) -> bool:
    """LSP kinds are hierarchical: asking for ``source`` includes ``source.fixAll.wsrefactor``."""
    return not only or any(kind == k or kind.startswith(f"{k}.") for k in only)


def _has_safe_file_fix(doc: Doc) -> bool:
    return any(
        f.fix is not None and f.fix.safety is FixSafety.SAFE and _project_edit(f, doc.project) is None
        for f in doc.findings
    )


def _quick_fixes(ls: WsRefactorServer, doc: Doc, where: types.Range) -> list[types.CodeAction]:
    lines = Lines(doc.text, ls.encoding)
    out: list[types.CodeAction] = []
    for finding in doc.findings:
        if overlaps(finding_range(finding, lines), where):
            out.extend(finding_actions(ls, doc, finding, lines))
    return out


async def code_actions(ls: WsRefactorServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    doc = ls.docs.get(params.text_document.uri)
    if doc is None:
        return []
    await ls.up_to_date(doc)
    if doc.settings is None or doc.result is None:
        return []
    actions: list[types.CodeAction] = []
    if _wanted(types.CodeActionKind.QuickFix, params.context.only):
        actions.extend(_quick_fixes(ls, doc, params.range))
    if _wanted(FIX_ALL, params.context.only) and _has_safe_file_fix(doc):
        actions.append(_action(doc, "wsrefactor: fix all safe fixes", FIX_ALL, {"action": "fixAll"}, None))
    return actions if resolves_edits(ls) else await _resolved(ls, actions)


async def _resolved(ls: WsRefactorServer, actions: list[types.CodeAction]) -> list[types.CodeAction]:
    """Every action with its edit, for clients that cannot resolve later; those without one go."""
    resolved = [await resolve_action(ls, a) for a in actions]
    return [a for a in resolved if a.edit is not None]


async def resolve_action(ls: WsRefactorServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    doc = ls.docs.get(data.get("uri", ""))
    if doc is not None and data.get("version") == doc.version and doc.result is not None:
        action.edit = await resolve_edit(ls, doc, data)
    return action


# ---------------------------------------------------------------------- hover


def hover(ls: WsRefactorServer, params: types.HoverParams) -> types.Hover | None:
    """The documentation of the rules reported under the cursor, as ``explain`` prints it."""
    from wsrefactor.cli import Failure, explain_text

    doc = ls.docs.get(params.text_document.uri)
    if doc is None:
        return None
    lines = Lines(doc.text, ls.encoding)
    here = types.Range(start=params.position, end=params.position)
    hit = [f for f in doc.findings if overlaps(finding_range(f, lines), here)]
    parts = []
    for code in dict.fromkeys(f.code for f in hit):
        try:
            parts.append(explain_text(code).strip())
        except Failure:  # a plugin's rule: its message is what there is
            parts.append(f"# {code}\n\n" + "\n".join(f.message for f in hit if f.code == code))
    if not parts:
        return None
    value = "\n\n---\n\n".join(parts)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=finding_range(hit[0], lines))


FEATURES: list[tuple[str, Any, Any]] = [
    (
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=True),
        code_actions,
    ),
    (types.CODE_ACTION_RESOLVE, None, resolve_action),
    (types.TEXT_DOCUMENT_HOVER, None, hover),
]
