"""Code read from stdin (issue 15 item 10): ``check -`` / ``fix -`` with ``--stdin-filename``.

This is how editors call a linter: the buffer goes in on stdin, the path says which config and
per-file ignores apply and names the findings; ``fix -`` answers with the fixed text on stdout and
touches nothing on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli

FLAWED = "import asyncio\nimport time\n\n\nasync def handler(ws):\n    time.sleep(1)\n    asyncio.create_task(ws.ping())\n"
# The safe fix swaps the sleep and drops `import time`, which nothing else uses (issue 14 item 1).
SAFE_FIXED = FLAWED.replace("    time.sleep(1)", "    await asyncio.sleep(1)").replace("import time\n", "")


def run_bytes(*args: str, data: bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Like ``run_cli``, with bytes in and out (encodings and line endings must survive)."""
    return subprocess.run(
        [sys.executable, "-m", "wsrefactor", *args], cwd=cwd, input=data, capture_output=True,
        env=dict(os.environ, NO_COLOR="1"), timeout=300,
    )


def _monorepo(tmp_path: Path) -> Path:
    """A root config selecting WS, and a service with its own config and per-file ignores."""
    (tmp_path / "pyproject.toml").write_text('[tool.wsrefactor]\nselect = ["WS"]\n')
    svc = tmp_path / "svc"
    (svc / "tests").mkdir(parents=True)
    (svc / "pyproject.toml").write_text(
        '[tool.wsrefactor]\nselect = ["WS2"]\n[tool.wsrefactor.per-file-ignores]\n"tests/**" = ["WS201"]\n'
    )
    return tmp_path


def test_check_stdin_uses_the_filename_for_messages_config_and_ignores(tmp_path: Path) -> None:
    _monorepo(tmp_path)
    r = run_cli("check", "-", "--stdin-filename", "svc/app.py", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[:2] == [
        "svc/app.py:6:5: WS201 blocking call time.sleep in async function",
        "svc/app.py:7:5: WS205 task result discarded; the task may be garbage-collected before it finishes",
    ]
    assert "in 1 of 1 files" in r.stdout
    r = run_cli("check", "-", "--stdin-filename", "svc/tests/test_app.py", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 1
    assert [ln.split()[1] for ln in r.stdout.splitlines()[:-1]] == ["WS205"]  # per-file ignore applied
    assert not (tmp_path / "svc" / "app.py").exists()  # the path need not exist, and is not created


def test_stdin_filename_alone_reads_stdin_and_json_names_the_path(tmp_path: Path) -> None:
    r = run_cli("check", "--stdin-filename", "pkg/mod.py", "--format", "json", "--select", "WS201", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 1, r.stderr
    assert [(d["filename"], d["code"]) for d in json.loads(r.stdout)] == [("pkg/mod.py", "WS201")]
    clean = run_cli("check", "-", cwd=tmp_path, input="x = 1\n")
    assert clean.returncode == 0 and clean.stdout == "All checks passed (1 file checked).\n"


def test_check_stdin_ignores_the_file_on_disk(tmp_path: Path) -> None:
    """The buffer is what the editor shows: the saved file (and any cache of it) plays no part."""
    (tmp_path / "app.py").write_text("x = 1\n")
    assert run_cli("check", "app.py", cwd=tmp_path).returncode == 0  # warms the cache with the clean file
    r = run_cli("check", "-", "--stdin-filename", "app.py", "--select", "WS201", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 1 and r.stdout.startswith("app.py:6:5: WS201")


def test_fix_stdin_writes_the_fixed_text_to_stdout_and_nothing_to_disk(tmp_path: Path) -> None:
    _monorepo(tmp_path)
    on_disk = tmp_path / "svc" / "app.py"
    on_disk.write_text("# the saved version\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run_cli("fix", "-", "--stdin-filename", "svc/app.py", cwd=tmp_path, input=FLAWED)
    assert r.stdout == SAFE_FIXED
    assert r.returncode == 1  # WS205's unsafe fix remains
    assert "svc/app.py:6:5: WS205" in r.stderr and "Fixed 1 finding in 1 file(s); 1 remaining" in r.stderr
    assert on_disk.read_text() == "# the saved version\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    r = run_cli("fix", "-", "--stdin-filename", "svc/app.py", "--unsafe-fixes", "--exit-zero", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 0 and "_keep_task(asyncio.create_task(ws.ping()))" in r.stdout


def test_fix_stdin_with_nothing_to_fix_echoes_the_input(tmp_path: Path) -> None:
    r = run_cli("fix", "-", cwd=tmp_path, input="x = 1\n")
    assert r.returncode == 0 and r.stdout == "x = 1\n"


def test_fix_stdin_keeps_bytes_encoding_and_line_endings(tmp_path: Path) -> None:
    data = FLAWED.replace("import time\n", "import time\n# caf\u00e9\n").replace("\n", "\r\n")
    raw = b"# -*- coding: latin-1 -*-\r\n" + data.encode("latin-1")
    r = run_bytes("fix", "-", "--stdin-filename", "m.py", "--select", "WS201", data=raw, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == raw.replace(b"    time.sleep(1)", b"    await asyncio.sleep(1)").replace(b"import time\r\n", b"")


def test_fix_stdin_diff(tmp_path: Path) -> None:
    r = run_cli("fix", "-", "--stdin-filename", "m.py", "--diff", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 1
    assert r.stdout.startswith("--- a/m.py\n+++ b/m.py\n") and "+    await asyncio.sleep(1)\n" in r.stdout
    assert not (tmp_path / "m.py").exists()


def test_check_fix_stdin_is_fix_stdin(tmp_path: Path) -> None:
    r = run_cli("check", "-", "--fix", "--select", "WS201", cwd=tmp_path, input=FLAWED)
    assert r.returncode == 0 and r.stdout == SAFE_FIXED


def test_fix_stdin_refuses_a_fix_that_creates_a_file(tmp_path: Path) -> None:
    """WS305 moves a Lua script into a new .lua file: impossible without writing to disk."""
    source = (REPO / "fixtures" / "WS305" / "rate_limit_method.py").read_text()
    r = run_cli("fix", "-", "--stdin-filename", "limits.py", "--select", "WS305", cwd=tmp_path, input=source)
    assert r.stdout == source
    assert r.returncode == 1
    assert "limits.py: WS305: a fix that creates another file is not applied to stdin" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_cross_file_rules_compare_stdin_with_the_project(tmp_path: Path) -> None:
    plugin = REPO / "tests" / "plugins" / "dup_names.py"
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.wsrefactor]\nselect = ["TST"]\nplugins = ["{plugin}"]\ncross-file-scope = "project"\n'
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "alpha.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "pkg" / "beta.py").write_text("def other():\n    return 2\n")
    buffer = "def helper():\n    return 2\n"  # the unsaved edit of beta.py
    r = run_cli("check", "-", "--stdin-filename", "pkg/beta.py", cwd=tmp_path, input=buffer)
    assert r.returncode == 1 and r.stdout.startswith("pkg/beta.py:1:1: TST900 function helper also defined in alpha.py")
    assert "alpha.py:1" not in r.stdout  # findings only for the buffer
    r = run_cli("fix", "-", "--stdin-filename", "pkg/beta.py", cwd=tmp_path, input=buffer)
    assert r.stdout == buffer  # its fix also edits alpha.py and writes DUPLICATES_helper.txt: not applied
    assert "Fixed 0 findings" in r.stderr and r.returncode == 1
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == ["alpha.py", "beta.py"]


def test_stdin_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    r = run_cli("check", "-", "a.py", cwd=tmp_path, input="x = 1\n")
    assert r.returncode == 2 and "`-` (read the code from stdin) cannot be combined with other paths" in r.stderr
    r = run_cli("check", "a.py", "--stdin-filename", "b.py", cwd=tmp_path, input="x = 1\n")
    assert r.returncode == 2 and "--stdin-filename goes with `-`" in r.stderr
    r = run_cli("check", "-", cwd=tmp_path, input="def (:\n")
    assert r.returncode == 1 and r.stdout.startswith("-:1:") and " WS000 syntax error" in r.stdout
