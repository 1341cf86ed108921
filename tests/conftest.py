from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Whole folders and modules marked ``slow`` (``python -m pytest -m "not slow"`` leaves them out):
# end-to-end runs, behaviour tests that run real apps or fixed packages, property tests, modules
# that run another tool (ruff, bandit) on every fixture or every rule on real projects. A single
# slow test elsewhere carries ``@pytest.mark.slow`` itself. Paths: from the repository, ``/``.
SLOW_PATHS = (
    "tests/e2e/",
    "tests/apps/",
    "tests/realistic/",
    "tests/engine/test_fuzz.py",
    "tests/engine/test_fix_imports.py",
    "tests/engine/test_bandit_equivalence.py",
    "tests/cli/test_interrupt.py",
    "tests/cli/test_interactive.py",
    "tests/rules/test_ws203_behaviour.py",
    # every rule with and without its prefilter on real framework code (goes with the prefilters)
    "tests/test_prefilter_soundness.py",
)


def run_cli(*args: str, cwd: Path | str | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m wsrefactor`` in a subprocess, as a user would."""
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "wsrefactor", *args],
        cwd=cwd, capture_output=True, text=True, env=env, input=input, timeout=300,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            rel = Path(str(item.path)).resolve().relative_to(REPO).as_posix()
        except ValueError:
            continue
        if rel.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def cli():
    return run_cli
