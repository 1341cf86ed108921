"""WS104's unsafe fix turns session_app.py into an app that forgets a client on every way out."""

from __future__ import annotations

import subprocess
import sys

from tests.apps import appcheck as ac


def test_session_app_leaks_before_ws104():
    before = ac.load_app(ac.app_path("session_app"))
    assert ac.registry_tracks_connected_client(before)
    assert not ac.registry_empty_after_disconnect(before)
    assert not ac.registry_empty_after_exception(before)


def test_session_app_fixed_by_ws104(tmp_path):
    after = ac.load_app(ac.fixed_copy(tmp_path, "session_app", "WS104"))
    assert ac.registry_tracks_connected_client(after)
    assert ac.registry_empty_after_disconnect(after)
    assert ac.registry_empty_after_exception(after)


def test_ws104_fix_is_stable(tmp_path):
    """A second run finds nothing left to fix (the `finally` is recognized)."""
    copy = ac.fixed_copy(tmp_path, "session_app", "WS104")
    done = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", "--select", "WS104", copy.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
