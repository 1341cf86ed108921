"""WS102's unsafe fix turns size_app.py into an app that closes oversized messages with 1009."""

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


def test_size_app_fixed_by_ws102(tmp_path):
    before = ac.load_app(ac.app_path("size_app"))
    assert ac.large_message_processed(before)

    after = ac.load_app(_fixed_copy(tmp_path, "size_app", "WS102"))
    assert ac.large_message_closed_1009(after)
    assert not ac.large_message_processed(after)
    assert ac.small_message_processed(after)
