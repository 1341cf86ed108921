"""WS202's unsafe fix turns pacing_app.py into an app that keeps reading while it streams."""

from __future__ import annotations

import subprocess
import sys

from tests.apps import appcheck as ac


def test_pacing_app_stalls_before_ws202():
    before = ac.load_app(ac.app_path("pacing_app"))
    assert ac.ping_pong_works(before)
    assert ac.stream_frames_delivered(before)
    assert not ac.ping_answered_before_stream_end(before)


def test_pacing_app_fixed_by_ws202(tmp_path):
    after = ac.load_app(ac.fixed_copy(tmp_path, "pacing_app", "WS202"))
    assert ac.ping_answered_before_stream_end(after)
    assert ac.stream_frames_delivered(after)
    assert ac.ping_pong_works(after)


def test_ws202_fix_is_stable(tmp_path):
    """A second run finds nothing left: the spawned stream is no longer awaited inline."""
    copy = ac.fixed_copy(tmp_path, "pacing_app", "WS202")
    done = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", "--select", "WS202,WS205", copy.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
