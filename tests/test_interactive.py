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
