"""``wsrefactor server`` end to end: a real server process driven by pytest-lsp's client.

Every expectation is the CLI's own answer on the same text: diagnostics equal ``check``'s
findings, a quick fix's edit produces what ``fix`` writes for that finding, fix-all what ``fix``
writes for the file, the cross-file fix what ``fix --unsafe-fixes`` writes across the project.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from tests.conftest import REPO, run_cli  # noqa: E402
from wsrefactor.server.bench import blocking_call_line, thousand_lines  # noqa: E402
from wsrefactor.server.convert import apply_lsp_edits  # noqa: E402

FIXTURES = REPO / "fixtures"
WAIT = 120.0  # generous bound for a loaded machine: the tests assert on content, never on time

# A WS201 whose fix is safe (time.sleep -> await asyncio.sleep) and a bandit finding (B602).
APP = textwrap.dedent(
    """\
    import asyncio
    import subprocess
    import time


    async def handler(ws):
        time.sleep(1)
        subprocess.call("ls", shell=True)
        await ws.send_text("hi")
    """
)

SLOW_PLUGIN = textwrap.dedent(
    '''\
    import time

    import libcst as cst

    from wsrefactor.model import Severity
    from wsrefactor.rule import Rule


    class SlowRule(Rule):
        """A rule that takes its time on files that mention it."""

        code = "XS900"
        name = "slow-rule"
        category = "test"
        severity = Severity.INFO
        summary = "slow"
        tokens = ("SLOW_MARKER",)

        def visit_Module(self, node: cst.Module) -> None:
            time.sleep(30)
            self.report(node, "slow rule finished")
    '''
)


def _caps(create: bool = True, resolve: bool = False) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[types.ResourceOperationKind.Create] if create else [],
            ),
        ),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]) if resolve else None,
            ),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
        ),
    )


SERVER = [sys.executable, "-m", "wsrefactor", "server", "--jobs", "2"]


async def bounded(awaitable: Any) -> Any:
    """Every wait in these tests is bounded: a hang fails with a traceback instead."""
    return await asyncio.wait_for(awaitable, WAIT)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    yield
    await bounded(lsp_client.shutdown_session())


async def start(client: LanguageClient, root: Path, **caps: bool) -> None:
    params = types.InitializeParams(
        capabilities=_caps(**caps),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
    )
    await bounded(client.initialize_session(params))


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version,
                text=path.read_text(encoding="utf-8") if text is None else text,
            )
        )
    )
    return uri


async def diagnostics(
    client: LanguageClient, uri: str, ready: Callable[[list[types.Diagnostic]], bool] = lambda d: True
) -> list[types.Diagnostic]:
    """The first diagnostics published for ``uri`` that satisfy ``ready``."""

    async def poll() -> list[types.Diagnostic]:
        while True:
            found = client.diagnostics.get(uri)
            if found is not None and ready(list(found)):
                return list(found)
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), WAIT)


def cli_rows(path: Path, cwd: Path) -> list[dict[str, Any]]:
    out = run_cli("check", str(path), "--format", "json", "--no-cache", "-j1", cwd=cwd)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def cli_findings(path: Path, cwd: Path) -> list[tuple[str, int, int, int, int]]:
    return sorted((r["code"], r["line"], r["column"], r["end_line"], r["end_column"]) for r in cli_rows(path, cwd))


def cli_fixed(path: Path, cwd: Path, *flags: str) -> str:
    out = run_cli("fix", str(path), "--no-cache", "-j1", *flags, cwd=cwd)
    assert out.returncode in (0, 1), out.stderr
    return path.read_text(encoding="utf-8")


def as_findings(diags: list[types.Diagnostic]) -> list[tuple[str, int, int]]:
    return sorted((str(d.code), d.range.start.line + 1, d.range.start.character + 1) for d in diags)


def project(tmp_path: Path, files: dict[str, str], config: str = "") -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(f"[tool.wsrefactor]\ncache = false\n{config}", encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def apply_workspace_edit(edit: types.WorkspaceEdit) -> dict[str, str]:
    """What a client does with the edit, on disk; returns the new text per path touched."""
    out: dict[str, str] = {}
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            path = Path(change.uri.removeprefix("file://"))
            assert not path.exists()
            path.write_text("", encoding="utf-8")
            continue
        assert isinstance(change, types.TextDocumentEdit)
        path = Path(change.text_document.uri.removeprefix("file://"))
        new = apply_lsp_edits(path.read_text(encoding="utf-8"), change.edits)
        path.write_text(new, encoding="utf-8")
        out[str(path)] = new
    for uri, edits in (edit.changes or {}).items():
        path = Path(uri.removeprefix("file://"))
        new = apply_lsp_edits(path.read_text(encoding="utf-8"), edits)
        path.write_text(new, encoding="utf-8")
        out[str(path)] = new
    return out


async def actions_at(client: LanguageClient, uri: str, diag: types.Diagnostic, only: list[str] | None = None) -> list[types.CodeAction]:
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=diag.range,
        context=types.CodeActionContext(diagnostics=[diag], only=only),
    )
    result = await bounded(client.text_document_code_action_async(params))
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def read_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))}


# ------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_diagnostics_after_open_are_the_cli_findings(client: LanguageClient, tmp_path: Path):
    root = project(tmp_path, {"app.py": APP})
    await start(client, root)
    uri = open_doc(client, root / "app.py")
    diags = await diagnostics(client, uri, lambda d: len(d) > 0)
    ranges = sorted(
        (str(d.code), d.range.start.line + 1, d.range.start.character + 1, d.range.end.line + 1, d.range.end.character + 1)
        for d in diags
    )
    assert ranges == cli_findings(root / "app.py", root)
    by_code = {d.code: d for d in diags}
    assert {"WS201", "B602"} <= set(by_code)
    assert all(d.source == "wsrefactor" for d in diags)
    assert by_code["WS201"].severity == types.DiagnosticSeverity.Warning
    assert by_code["WS201"].code_description is None  # no invented page for wsrefactor's rules
    assert by_code["B602"].code_description is not None
    assert "b602" in by_code["B602"].code_description.href
    levels = {
        "error": types.DiagnosticSeverity.Error,
        "warning": types.DiagnosticSeverity.Warning,
        "info": types.DiagnosticSeverity.Information,
    }
    assert {r["code"]: levels[r["severity"]] for r in cli_rows(root / "app.py", root)} == {d.code: d.severity for d in diags}


@pytest.mark.asyncio
async def test_change_on_a_1000_line_file_analyses_the_unsaved_buffer(client: LanguageClient, tmp_path: Path):
    text = thousand_lines()
    assert text.count("\n") >= 1000
    root = project(tmp_path, {"big.py": text}, 'select = ["WS2"]\n')
    await start(client, root)
    uri = open_doc(client, root / "big.py")
    before = await diagnostics(client, uri)
    assert as_findings(before) == []
    # insert a blocking call into handler_70, without saving
    line = blocking_call_line(70)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
                    text="    time.sleep(1)\n",
                )
            ],
        )
    )
    after = await diagnostics(client, uri, lambda d: len(d) > 0)
    assert as_findings(after) == [("WS201", line + 1, 5)]
    # the same text checked by the CLI gives the same finding; the file on disk never changed
    lines = text.splitlines(keepends=True)
    lines.insert(line, "    time.sleep(1)\n")
    (root / "copy.py").write_text("".join(lines), encoding="utf-8")
    assert [f[:3] for f in cli_findings(root / "copy.py", root)] == as_findings(after)
    assert (root / "big.py").read_text(encoding="utf-8") == text
    # a burst of edits (typing): the diagnostics that end up published are those of the last text
    burst = [(line, line + 1, ""), (blocking_call_line(10), blocking_call_line(10), "    time.sleep(2)\n"),
             (blocking_call_line(100), blocking_call_line(100), "    time.sleep(3)\n")]
    for version, (first, last, new) in enumerate(burst, start=3):
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(line=first, character=0), end=types.Position(line=last, character=0)),
                        text=new,
                    )
                ],
            )
        )
    final = [("WS201", blocking_call_line(10) + 1, 5), ("WS201", blocking_call_line(100) + 1, 5)]
    assert as_findings(await diagnostics(client, uri, lambda d: as_findings(d) == final)) == final


@pytest.mark.asyncio
async def test_quick_fix_is_the_cli_fix_of_that_finding(client: LanguageClient, tmp_path: Path):
    # the second blocking call's fix must stay unsafe (a to_thread of subprocess.call is safe now)
    app = APP.replace('subprocess.call("ls", shell=True)', 'subprocess.Popen("ls", shell=True).communicate()')
    root = project(tmp_path, {"app.py": app})
    await start(client, root)
    uri = open_doc(client, root / "app.py")
    diags = await diagnostics(client, uri, lambda d: any(x.code == "WS201" for x in d))
    ws201 = next(d for d in diags if d.code == "WS201")
    actions = await actions_at(client, uri, ws201)
    fix = next(a for a in actions if a.title.startswith("Fix WS201"))
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    assert fix.diagnostics and fix.diagnostics[0].code == "WS201"
    new = apply_workspace_edit(fix.edit)[str(root / "app.py")]
    # the only fixable finding of the file: `fix` writes exactly this
    (root / "cli.py").write_text(app, encoding="utf-8")
    assert new == cli_fixed(root / "cli.py", root)
    assert "await asyncio.sleep(1)" in new


@pytest.mark.asyncio
async def test_unsafe_quick_fix_is_titled_so(client: LanguageClient, tmp_path: Path):
    text = (FIXTURES / "WS201" / "bad_aliased_imports.py").read_text(encoding="utf-8")
    root = project(tmp_path, {"app.py": text}, 'select = ["WS201"]\n')
    await start(client, root)
    uri = open_doc(client, root / "app.py")
    diags = await diagnostics(client, uri, lambda d: len(d) > 0)
    first = min(diags, key=lambda d: d.range.start.line)  # httpx client.get: to_thread, unsafe
    actions = await actions_at(client, uri, first)
    titles = [a.title for a in actions]
    assert any(t.startswith("Unsafe fix WS201") for t in titles), titles
    unsafe = next(a for a in actions if a.title.startswith("Unsafe fix WS201"))
    assert not unsafe.is_preferred
    new = apply_workspace_edit(unsafe.edit)[str(root / "app.py")].splitlines(keepends=True)
    old = text.splitlines(keepends=True)
    fixed = (FIXTURES / "WS201" / "bad_aliased_imports.fixed.py").read_text(encoding="utf-8").splitlines(keepends=True)
    line = first.range.start.line
    # that one line fixed, exactly as in the golden file (where imports may have moved), nothing else
    assert len(new) == len(old) and [i for i, (a, b) in enumerate(zip(old, new)) if a != b] == [line]
    assert new[line] in fixed


@pytest.mark.asyncio
async def test_fix_all_is_the_cli_fix_of_the_buffer(client: LanguageClient, tmp_path: Path):
    text = (FIXTURES / "WS201" / "bad_fastapi_handler.py").read_text(encoding="utf-8") + APP.replace("handler", "other")
    root = project(tmp_path, {"app.py": text})
    await start(client, root, resolve=True)
    uri = open_doc(client, root / "app.py")
    diags = await diagnostics(client, uri, lambda d: len(d) > 0)
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
        context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.Source]),
    )
    result = await bounded(client.text_document_code_action_async(params))
    assert [a.kind for a in result] == ["source.fixAll.wsrefactor"]
    assert result[0].edit is None  # computed on resolve, as the client said it can do
    resolved = await bounded(client.code_action_resolve_async(result[0]))
    new = apply_workspace_edit(resolved.edit)[str(root / "app.py")]
    (root / "cli.py").write_text(text, encoding="utf-8")
    assert new == cli_fixed(root / "cli.py", root)
    assert new != text and diags


@pytest.mark.asyncio
async def test_suppression_action_silences_the_finding(client: LanguageClient, tmp_path: Path):
    text = APP.replace('time.sleep(1)', 'time.sleep(1)  # wsrefactor: ignore[WS205]')
    root = project(tmp_path, {"app.py": text})
    await start(client, root)
    uri = open_doc(client, root / "app.py")
    diags = await diagnostics(client, uri, lambda d: any(x.code == "WS201" for x in d))
    ws201 = min((d for d in diags if d.code == "WS201"), key=lambda d: d.range.start.line)
    actions = await actions_at(client, uri, ws201)
    suppress = next(a for a in actions if a.title == "Suppress WS201 on this line")
    new = apply_workspace_edit(suppress.edit)[str(root / "app.py")]
    assert "time.sleep(1)  # wsrefactor: ignore[WS205, WS201]\n" in new  # merged into the comment there
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=new)],
        )
    )
    line = ws201.range.start.line
    after = await diagnostics(client, uri, lambda d: not any(x.code == "WS201" and x.range.start.line == line for x in d))
    assert any(x.code == "WS201" for x in after)  # the other one, a line below, stays
    # WS205 in that comment suppresses nothing: reported as unused (and faded out)
    unused = [d for d in after if d.code == "WS001"]
    assert unused and list(unused[0].tags) == [types.DiagnosticTag.Unnecessary]
    assert "WS205" in unused[0].message


@pytest.mark.asyncio
async def test_syntax_error_is_a_ws000_diagnostic_and_the_server_carries_on(client: LanguageClient, tmp_path: Path):
    root = project(tmp_path, {"broken.py": "async def f(:\n    pass\n", "app.py": APP})
    await start(client, root)
    broken = open_doc(client, root / "broken.py")
    diags = await diagnostics(client, broken, lambda d: len(d) > 0)
    assert [d.code for d in diags] == ["WS000"]
    assert diags[0].severity == types.DiagnosticSeverity.Error
    assert "syntax error" in diags[0].message
    # still serving: another file gets its diagnostics, and hover answers on it
    uri = open_doc(client, root / "app.py")
    ws = await diagnostics(client, uri, lambda d: any(x.code == "WS201" for x in d))
    ws201 = next(d for d in ws if d.code == "WS201")
    hover = await bounded(
        client.text_document_hover_async(types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=ws201.range.start))
    )
    assert hover is not None and hover.contents.value.startswith("# WS201 blocking-call-in-async")
    assert run_cli("explain", "WS201").stdout.strip() == hover.contents.value


@pytest.mark.asyncio
async def test_a_slow_rule_does_not_block_the_server(client: LanguageClient, tmp_path: Path):
    root = project(
        tmp_path, {"slow.py": "SLOW_MARKER = 1\n", "app.py": APP, "slow_rule.py": SLOW_PLUGIN},
        'plugins = ["slow_rule.py"]\nextend-select = ["XS"]\n',
    )
    await start(client, root)
    slow = open_doc(client, root / "slow.py")
    uri = open_doc(client, root / "app.py")
    diags = await diagnostics(client, uri, lambda d: any(x.code == "WS201" for x in d))
    actions = await actions_at(client, uri, next(d for d in diags if d.code == "WS201"))
    assert actions
    # the slow file is still being analysed (30 s): nothing was published for it yet
    assert slow not in client.diagnostics
    # ... and it does finish, with the slow rule's finding
    done = await diagnostics(client, slow, lambda d: len(d) > 0)
    assert [d.code for d in done] == ["XS900"]


@pytest.mark.asyncio
async def test_close_clears_diagnostics(client: LanguageClient, tmp_path: Path):
    root = project(tmp_path, {"app.py": APP})
    await start(client, root)
    uri = open_doc(client, root / "app.py")
    await diagnostics(client, uri, lambda d: len(d) > 0)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert await diagnostics(client, uri, lambda d: len(d) == 0) == []


def _ws303(tmp_path: Path) -> Path:
    src = FIXTURES / "WS303" / "helper_option" / "src"
    files = {str(p.relative_to(src)): p.read_text(encoding="utf-8") for p in src.rglob("*.py")}
    return project(tmp_path, files, '[tool.wsrefactor.WS303]\nhelper-module = "feed/wire.py"\n')


@pytest.mark.asyncio
async def test_cross_file_fix_creates_the_helper_like_the_cli(client: LanguageClient, tmp_path: Path):
    root = _ws303(tmp_path)
    reference = tmp_path / "reference"
    shutil.copytree(root, reference)
    await start(client, root, create=True)
    uri = open_doc(client, root / "feed" / "notify.py")
    # the other copies live in a file nobody opened: found by the workspace scan
    diags = await diagnostics(client, uri, lambda d: any(x.code == "WS303" for x in d))
    ws303 = next(d for d in diags if d.code == "WS303")
    actions = await actions_at(client, uri, ws303)
    fix = next(a for a in actions if a.title.startswith("Unsafe fix WS303"))
    assert any(isinstance(c, types.CreateFile) for c in fix.edit.document_changes)
    apply_workspace_edit(fix.edit)
    run_cli("fix", ".", "--unsafe-fixes", "--select", "WS303", "--no-cache", "-j1", cwd=reference)
    assert read_tree(root) == read_tree(reference)
    assert "feed/wire.py" in read_tree(root)


@pytest.mark.asyncio
async def test_cross_file_fix_needs_file_creation_support(client: LanguageClient, tmp_path: Path):
    root = _ws303(tmp_path)
    await start(client, root, create=False)
    uri = open_doc(client, root / "feed" / "notify.py")
    diags = await diagnostics(client, uri, lambda d: any(x.code == "WS303" for x in d))
    actions = await actions_at(client, uri, next(d for d in diags if d.code == "WS303"))
    assert [a.title for a in actions] == ["Suppress WS303 on this line"]


@pytest.mark.asyncio
async def test_project_findings_follow_changes_of_other_files(client: LanguageClient, tmp_path: Path):
    root = _ws303(tmp_path)
    await start(client, root)
    uri = open_doc(client, root / "feed" / "notify.py")
    await diagnostics(client, uri, lambda d: any(x.code == "WS303" for x in d))
    timeline = root / "feed" / "timeline.py"
    timeline.write_text("def nothing():\n    return None\n", encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(changes=[types.FileEvent(uri=timeline.as_uri(), type=types.FileChangeType.Changed)])
    )
    after = await diagnostics(client, uri, lambda d: not any(x.code == "WS303" for x in d))
    assert not any(d.code == "WS303" for d in after)


@pytest.mark.asyncio
async def test_clean_shutdown():
    """shutdown then exit: the server process ends with status 0."""
    client = await ClientServerConfig(server_command=SERVER).start()
    try:
        await bounded(client.initialize_session(types.InitializeParams(capabilities=_caps())))
        await bounded(client.shutdown_session())  # shutdown, exit, and the process ends
        assert client._server is not None
        assert client._server.returncode == 0
    finally:
        await client.stop()


# ------------------------------------------------------------------------------------------------
# positions (no server): wsrefactor's 1-based character columns, bandit's byte columns, LSP units
# ------------------------------------------------------------------------------------------------


def test_positions_count_utf16_units_and_bandit_bytes():
    from wsrefactor.model import Finding
    from wsrefactor.server.convert import Lines, finding_range

    text = 'x = "\U0001F600é"; y = 1\r\nz = 2'
    lines = Lines(text)
    # column 11 (characters) is `y`: before it, the emoji is 2 UTF-16 units (4 bytes), é 1 (2 bytes)
    assert lines.position(1, 11) == types.Position(line=0, character=11)
    assert Lines(text, types.PositionEncodingKind.Utf8).position(1, 11) == types.Position(line=0, character=14)
    assert Lines(text, types.PositionEncodingKind.Utf32).position(1, 11) == types.Position(line=0, character=10)
    # past the end of a text without a final newline: clamped to its last character
    assert lines.position(3, 1) == types.Position(line=1, character=5)
    # bandit counts bytes: `y` is at byte 15 (1-based), character 11
    bandit = Finding("B101", "b", "m", "a.py", 1, 15, 1, 16, category="bandit")
    assert finding_range(bandit, lines) == types.Range(start=types.Position(line=0, character=11), end=types.Position(line=0, character=12))


def test_lsp_edits_reproduce_the_new_text():
    from wsrefactor.server.convert import Lines, lsp_edits

    old = "a = '\U0001F600'\r\nb = 2\r\nc = 3"
    new = "a = '\U0001F600'\r\nb = 20\r\nc = 3\r\nd = 4\r\n"
    assert apply_lsp_edits(old, lsp_edits(old, new, Lines(old))) == new
