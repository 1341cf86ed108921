"""A pre-commit-sized or warm run imports only what it uses (issue #7: startup is most of it).

bandit only when bandit runs, jinja2 only for generated code and the dashboard, rich only for a
progress bar on a terminal, multiprocessing only when a process pool really starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import atexit, json, sys\n"
    "names = ('bandit', 'jinja2', 'rich', 'multiprocessing', 'libcst')\n"
    "atexit.register(lambda: print(json.dumps([n for n in names if n in sys.modules]), file=sys.stderr))\n"
    "sys.argv = ['wsrefactor', *sys.argv[1:]]\n"
    "from wsrefactor.cli import main\n"
    "main()\n"
)


def _imported(tmp_path: Path, *args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode in (0, 1), out.stderr
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def _files(tmp_path: Path) -> list[str]:
    names = []
    for i in range(5):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n", encoding="utf-8")
        names.append(f"m{i}.py")
    return names


def test_ws_only_commit_run_imports_no_bandit_jinja_or_rich(tmp_path):
    # libcst comes with the rule pack (its modules subclass libcst's visitor)
    assert _imported(tmp_path, "check", *_files(tmp_path), "--select", "WS", "--no-cache", "-j1") == {"libcst"}


def test_bandit_is_imported_only_when_it_runs(tmp_path):
    files = _files(tmp_path)
    imported = _imported(tmp_path, "check", *files, "--no-cache", "-j1")
    assert "bandit" in imported and "jinja2" not in imported
    assert imported <= {"bandit", "rich", "libcst"}  # bandit's own package imports rich


def test_warm_run_starts_no_process_pool(tmp_path):
    files = _files(tmp_path)
    _imported(tmp_path, "check", *files, "--select", "WS", "-j2")  # fills the cache
    assert _imported(tmp_path, "check", *files, "--select", "WS", "-j2") == {"libcst"}


def test_gate_imports_no_rule_pack(tmp_path):
    """radon's numbers need no rule: the gate leaves libcst (and a pool for 5 files) alone."""
    assert _imported(tmp_path, "gate", *_files(tmp_path)) == set()
