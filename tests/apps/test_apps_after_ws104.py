"""WS104's unsafe fix turns session_app.py into an app that forgets a client on every way out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.apps import appcheck as ac


def _fixed_copy(tmp_path: Path, name: str, code: str) -> Path:
    copy = tmp_path / f"{name}.py"
    shutil.copy(ac.app_path(name), copy)
    # cwd=tmp_path: the repo's `exclude = ["fixtures/**"]` must not apply to the copy
    done = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "fix", "--unsafe-fixes", "--select", code, copy.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert copy.read_text() != ac.app_path(name).read_text(), "the fix changed nothing"
    return copy


def test_session_app_leaks_before_ws104():
    before = ac.load_app(ac.app_path("session_app"))
    assert ac.registry_tracks_connected_client(before)
    assert not ac.registry_empty_after_disconnect(before)
    assert not ac.registry_empty_after_exception(before)


def test_session_app_fixed_by_ws104(tmp_path):
    after = ac.load_app(_fixed_copy(tmp_path, "session_app", "WS104"))
    assert ac.registry_tracks_connected_client(after)
    assert ac.registry_empty_after_disconnect(after)
    assert ac.registry_empty_after_exception(after)


def test_ws104_fix_is_stable(tmp_path):
    """A second run finds nothing left to fix (the `finally` is recognized)."""
    copy = _fixed_copy(tmp_path, "session_app", "WS104")
    done = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", "--select", "WS104", copy.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
