"""The whole maintainability pass on the realistic package at once: ``fix --unsafe-fixes --select
WS3`` (extract method, one serializer, one Redis-fallback decorator, Lua out of strings). The
package's behaviour tests pass before and after; afterwards the gate passes at its defaults, no
WS30x finding remains, every copy of the event dict is gone, and a second run changes nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

REALISTIC = REPO / "fixtures" / "realistic"
COPY_SHAPE = re.compile(r'"timestamp":\s*\w+\.timestamp\.isoformat\(\)')


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wsrefactor", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def _behaviour(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, WSAPP_ROOT=str(root))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "realistic")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )


@pytest.fixture(scope="module")
def fixed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("all")
    copy = tmp / "realistic"
    shutil.copytree(REALISTIC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _cli("check", "--select", "WS3", str(copy), cwd=tmp).returncode == 1
    run = _cli("fix", "--unsafe-fixes", "--select", "WS3", str(copy), cwd=tmp)
    assert run.returncode == 0, run.stdout + run.stderr
    return copy


def test_behaviour_before_and_after(fixed):
    before = _behaviour(REALISTIC)
    assert before.returncode == 0, before.stdout[-2000:]
    after = _behaviour(fixed)
    assert after.returncode == 0, after.stdout[-2000:]


def test_gate_passes_and_no_ws30x_remains(fixed):
    tmp = fixed.parent
    gate = _cli("gate", str(fixed), cwd=tmp)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    check = _cli("check", "--select", "WS3", str(fixed), cwd=tmp)
    assert check.returncode == 0, check.stdout
    again = _cli("fix", "--unsafe-fixes", "--select", "WS3", "--diff", str(fixed), cwd=tmp)
    assert again.returncode == 0 and again.stdout == "", again.stdout


def test_every_copy_of_the_event_dict_is_gone(fixed):
    texts = {p.name: p.read_text(encoding="utf-8") for p in (fixed / "wsapp").glob("*.py")}
    copies = {name: len(COPY_SHAPE.findall(t)) for name, t in texts.items() if COPY_SHAPE.search(t)}
    assert sum(copies.values()) == 1, copies  # only the generated serializer builds the dict
