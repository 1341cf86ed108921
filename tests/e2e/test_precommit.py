"""The hooks, run by the real ``pre-commit`` tool against this checkout (``try-repo``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

FLAWED = "import asyncio\nimport time\n\n\nasync def handler(ws):\n    time.sleep(1)\n    asyncio.create_task(ws.ping())\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e"))


@pytest.fixture(scope="module")
def precommit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(project, hook, home):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--all-files", "--verbose"],
        cwd=project, capture_output=True, text=True, env=env, timeout=900,
    )


@pytest.fixture
def project(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "app.py").write_text(FLAWED)
    (tmp_path / "clean.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def test_check_hook_fails_with_findings(project, precommit_home):
    r = _try_repo(project, "wsrefactor", precommit_home)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "wsrefactor check" in out and "Failed" in out
    assert "app.py:6:5: WS201" in out or "app.py:7:5: WS205" in out, out


def test_fix_hook_rewrites_file_and_fails_commit(project, precommit_home):
    r = _try_repo(project, "wsrefactor-fix", precommit_home)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "files were modified by this hook" in out
    text = (project / "app.py").read_text()
    assert "await asyncio.sleep(1)" in text  # the safe fix; the unsafe task fix is not applied
    assert "asyncio.create_task(ws.ping())" in text and "_keep_task" not in text
