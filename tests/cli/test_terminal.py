"""Terminal manners: a progress bar only on a TTY outside CI/pre-commit, colour only on a TTY
without NO_COLOR, --verbose timings, shell completion."""

from __future__ import annotations

import os
import sys

import pytest

from tests.conftest import run_cli

pexpect = pytest.importorskip("pexpect")


def _project(tmp_path, n=40):
    for i in range(n):
        (tmp_path / f"m{i}.py").write_text("import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n" * 20)
    return tmp_path


def _pty_run(tmp_path, extra_env):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm", "WSREFACTOR_PROGRESS_DELAY": "0", **extra_env}
    child = pexpect.spawn(sys.executable, ["-m", "wsrefactor", "check", ".", "-j1", "--select", "WS", "--no-cache"],
                          cwd=str(tmp_path), encoding="utf-8", timeout=120, env=env)
    child.expect(pexpect.EOF)
    return child.before


def test_progress_and_colour_on_a_tty(tmp_path):
    out = _pty_run(_project(tmp_path), {})
    assert "checking" in out  # the bar's label
    assert "\x1b[31mWS205" in out or "\x1b[1m\x1b[31mWS205" in out


def test_no_bar_in_ci_and_no_colour_with_no_color(tmp_path):
    out = _pty_run(_project(tmp_path), {"CI": "true", "NO_COLOR": "1"})
    assert "checking" not in out and "\x1b[" not in out and "WS205" in out


def test_nothing_in_pipes_and_verbose_timings(tmp_path):
    _project(tmp_path, 3)
    r = run_cli("check", ".", "--select", "WS", "--verbose", cwd=tmp_path)
    assert "\x1b[" not in r.stdout + r.stderr and "checking" not in r.stderr
    assert "wsrefactor: discover:" in r.stderr and "wsrefactor: analyse:" in r.stderr


def test_shell_completion_available(tmp_path):
    r = run_cli("--show-completion", "bash", cwd=tmp_path)
    assert r.returncode == 0 and "complete" in r.stdout
