from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | str | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m wsrefactor`` in a subprocess, as a user would."""
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "wsrefactor", *args],
        cwd=cwd, capture_output=True, text=True, env=env, input=input, timeout=300,
    )


@pytest.fixture
def cli():
    return run_cli
