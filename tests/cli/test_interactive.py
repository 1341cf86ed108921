"""``fix --interactive`` in a real pseudo-terminal (pexpect), and its clean refusal without one."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import run_cli

pexpect = pytest.importorskip("pexpect")

SRC = (
    "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n\n\n"
    "async def g(x):\n    asyncio.ensure_future(x())\n"
)


def _spawn(tmp_path):
    return pexpect.spawn(
        sys.executable, ["-m", "wsrefactor", "fix", "--interactive", "--unsafe-fixes", "--select", "WS", "."],
        cwd=str(tmp_path), encoding="utf-8", timeout=60, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )


def test_yes_then_no(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    child = _spawn(tmp_path)
    child.expect(r"\[1/2\] a\.py:5:5: WS205")
    child.expect(r"\+    _keep_task\(asyncio\.create_task\(x\(\)\)\)")
    child.expect(r"\[y\]es / \[n\]o / \[a\]ll / \[q\]uit: ")
    child.sendline("y")
    child.expect(r"\[2/2\] a\.py:9:5: WS205")
    child.expect(r"\[q\]uit: ")
    child.sendline("n")
    child.expect("Fixed 1 finding in 1 file")
    child.expect(pexpect.EOF)
    text = (tmp_path / "a.py").read_text()
    assert "_keep_task(asyncio.create_task(x()))" in text
    assert "    asyncio.ensure_future(x())\n" in text


def test_quit_applies_nothing(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    child = _spawn(tmp_path)
    child.expect(r"\[q\]uit: ")
    child.sendline("q")
    child.expect("No fix applied")
    child.expect(pexpect.EOF)
    assert (tmp_path / "a.py").read_text() == SRC


def test_all(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    child = _spawn(tmp_path)
    child.expect(r"\[q\]uit: ")
    child.sendline("a")
    child.expect("Fixed 2 findings in 1 file")
    child.expect(pexpect.EOF)
    assert (tmp_path / "a.py").read_text().count("_keep_task(") == 3


def test_refuses_without_a_tty(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    r = run_cli("fix", "--interactive", ".", cwd=tmp_path, input="y\n")
    assert r.returncode == 2 and "needs a terminal" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / "a.py").read_text() == SRC


OVERLAP = (
    "from fastapi import FastAPI, WebSocket\n\napp = FastAPI()\nclients = set()\n\n\n"
    '@app.websocket("/ws")\nasync def chat(ws: WebSocket):\n    await ws.accept()\n    clients.add(ws)\n'
    "    while True:\n        text = await ws.receive_text()\n        for c in clients:\n"
    "            await c.send_text(text)\n"
)


def _spawn_select(tmp_path, select):
    return pexpect.spawn(
        sys.executable, ["-m", "wsrefactor", "fix", "-i", "--unsafe-fixes", "--no-cache", "--select", select, "."],
        cwd=str(tmp_path), encoding="utf-8", timeout=90, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )


def test_decisions_are_kept_per_file(tmp_path):
    """Two identical files: yes for the first, no for the second writes only the first."""
    (tmp_path / "a.py").write_text(SRC)
    (tmp_path / "b.py").write_text(SRC)
    child = _spawn(tmp_path)
    answers = {"a.py:5": "y", "a.py:9": "y", "b.py:5": "n", "b.py:9": "n"}
    for _ in range(4):
        child.expect(r"\] ([ab]\.py:\d+):\d+: WS205")
        where = child.match.group(1)
        child.expect(r"\[q\]uit: ")
        child.sendline(answers[where])
    child.expect("Fixed 2 findings in 1 file")
    child.expect(pexpect.EOF)
    assert (tmp_path / "a.py").read_text().count("_keep_task(") == 3
    assert (tmp_path / "b.py").read_text() == SRC


def test_accepted_fixes_that_overlap_are_both_applied(tmp_path):
    """WS104 wraps the loop that WS102's fix rewrites: the second is applied in a later pass."""
    (tmp_path / "a.py").write_text(OVERLAP)
    child = _spawn_select(tmp_path, "WS102,WS104")
    for _ in range(2):
        child.expect(r"\[q\]uit: ")
        child.sendline("y")
    child.expect("Fixed 2 findings in 1 file")
    child.expect(pexpect.EOF)
    text = (tmp_path / "a.py").read_text()
    assert "> MAX_MESSAGE_BYTES" in text and "finally:\n        clients.discard(ws)" in text


def test_a_rejected_overlapping_fix_stays_out(tmp_path):
    (tmp_path / "a.py").write_text(OVERLAP)
    child = _spawn_select(tmp_path, "WS102,WS104")
    child.expect(r"\] a\.py:10:5: WS104")
    child.expect(r"\[q\]uit: ")
    child.sendline("y")
    child.expect(r"\] a\.py:12:\d+: WS102")
    child.expect(r"\[q\]uit: ")
    child.sendline("n")
    child.expect("Fixed 1 finding in 1 file")
    child.expect(pexpect.EOF)
    text = (tmp_path / "a.py").read_text()
    assert "MAX_MESSAGE_BYTES" not in text and "clients.discard(ws)" in text
