"""WS101's unsafe fix turns origin_app.py into an app that rejects foreign origins with 1008."""

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


def test_origin_app_fixed_by_ws101(tmp_path):
    before = ac.load_app(ac.app_path("origin_app"))
    assert ac.origin_accepts_evil(before)

    after = ac.load_app(_fixed_copy(tmp_path, "origin_app", "WS101"))
    assert ac.origin_rejects_evil_with_1008(after)
    assert not ac.origin_accepts_evil(after)
    assert ac.allowed_origin_works(after)
