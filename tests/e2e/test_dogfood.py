"""wsrefactor's own code passes its own check and gate (and bandit's medium+ checks via check)."""

from __future__ import annotations

from tests.conftest import REPO, run_cli


def test_own_code_passes_check():
    r = run_cli("check", "wsrefactor", "rules", "--no-cache", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_own_code_passes_gate():
    r = run_cli("gate", "wsrefactor", "rules", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
