"""Latency of ``wsrefactor server``: a change on a 1,000-line file to its fresh diagnostics.

``python -m wsrefactor.server.bench [--changes N] [--jobs J]`` starts the server as an editor
would (stdio), opens a generated 1,000-line file, then N times inserts or removes a blocking call
and times each ``didChange`` until diagnostics that reflect that edit arrive. The time includes
the server's debounce (``DEBOUNCE_SECONDS``). Also prints the in-process analysis time of the
same text, so the server's own overhead can be told apart. The tests never time anything.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from lsprotocol import types

_BLOCK = textwrap.dedent(
    """\
    async def handler_{n}(ws):
        data = await ws.receive_text()
        total = 0
        for i in range(10):
            total += i
        await ws.send_text(data + str(total))

    """
)
HEADER_LINES = 4
BLOCK_LINES = 7


def thousand_lines() -> str:
    """1,000+ lines of WebSocket handlers with no finding (``select = ["WS2"]``)."""
    return "import asyncio\nimport time\n\n\n" + "".join(_BLOCK.format(n=n) for n in range(143))


def blocking_call_line(handler: int) -> int:
    """0-based line inside ``handler_<n>`` where a statement can be inserted."""
    return HEADER_LINES + handler * BLOCK_LINES + 2


def _change(uri: str, version: int, line: int, insert: bool) -> types.DidChangeTextDocumentParams:
    start = types.Position(line=line, character=0)
    end = start if insert else types.Position(line=line + 1, character=0)
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[
            types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text="    time.sleep(1)\n" if insert else "")
        ],
    )


class _Latest:
    """The newest diagnostics published per document, and a wake-up on each publication."""

    def __init__(self) -> None:
        self.by_uri: dict[str, list[types.Diagnostic]] = {}
        self.event = asyncio.Event()

    def publish(self, params: types.PublishDiagnosticsParams) -> None:
        self.by_uri[params.uri] = list(params.diagnostics)
        self.event.set()


async def _measure(root: Path, text: str, changes: int, jobs: int) -> list[float]:
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("wsrefactor-bench", "1")
    published = _Latest()
    client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(lambda ls, params: published.publish(params))
    client.feature(types.WINDOW_SHOW_MESSAGE)(lambda ls, params: print(params.message, file=sys.stderr))
    await client.start_io(sys.executable, "-m", "wsrefactor", "server", "--jobs", str(jobs))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=root.as_uri()))
    client.initialized(types.InitializedParams())
    path = root / "big.py"
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
    )
    await _until(published, uri, lambda d: True)
    timings = []
    line = blocking_call_line(70)
    for n in range(changes):
        insert = n % 2 == 0
        started = time.perf_counter()
        client.text_document_did_change(_change(uri, n + 2, line, insert))
        await _until(published, uri, lambda d, insert=insert: any(x.code == "WS201" for x in d) == insert)
        timings.append(time.perf_counter() - started)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return timings


async def _until(published: _Latest, uri: str, ok: object) -> None:
    while True:
        published.event.clear()
        if uri in published.by_uri and ok(published.by_uri[uri]):  # type: ignore[operator]
            return
        await asyncio.wait_for(published.event.wait(), 300)


def _analysis_times(root: Path) -> tuple[float, float]:
    """In-process analysis of the file without and with the blocking call (the two texts the
    benchmark alternates between)."""
    from wsrefactor.cli import Session
    from wsrefactor.inmemory import analyse_text
    from wsrefactor.runner import Job

    path = str(root / "big.py")
    session = Session([path], None, None, None)
    job = Job(session.config, session.selection)
    clean = Path(path).read_text()
    lines = clean.splitlines(keepends=True)
    lines.insert(blocking_call_line(70), "    time.sleep(1)\n")
    out = []
    for text in (clean, "".join(lines)):
        analyse_text(path, text, job)  # warm
        started = time.perf_counter()
        analyse_text(path, text, job)
        out.append(time.perf_counter() - started)
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[tool.wsrefactor]\nselect = ["WS2"]\ncache = false\n')
        (root / "big.py").write_text(thousand_lines())
        timings = asyncio.run(_measure(root, thousand_lines(), args.changes, args.jobs))
        clean, blocking = _analysis_times(root)
    lines = thousand_lines().count("\n")
    print(f"file: {lines} lines; changes: {len(timings)}")
    print("change -> fresh diagnostics: " + ", ".join(f"{t:.3f}s" for t in timings))
    print(f"median {statistics.median(timings):.3f}s, max {max(timings):.3f}s")
    print(f"analysis alone, in process: {clean:.3f}s without the call (ast only), {blocking:.3f}s with it (libcst)")


if __name__ == "__main__":
    main()
