"""A pre-commit-sized or warm run imports only what it uses (issue #7: startup is most of it).

bandit only when bandit runs, jinja2 only for generated code and the dashboard, rich only for a
progress bar on a terminal, multiprocessing only when a process pool really starts, libcst only
when a fix or its edits are built (``wsrefactor.lazy``).
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


def test_ws_only_commit_run_imports_no_bandit_jinja_rich_or_libcst(tmp_path):
    assert _imported(tmp_path, "check", *_files(tmp_path), "--select", "WS", "--no-cache", "-j1") == set()


def test_a_plain_check_of_websocket_code_never_imports_libcst(tmp_path):
    """Every packaged rule decides on the ``ast``: findings, even fixable ones, need no libcst."""
    import shutil

    from tests.conftest import REPO

    for code in ("WS101", "WS103", "WS104", "WS201", "WS203", "WS204", "WS205", "WS301", "WS303", "WS305"):
        shutil.copytree(REPO / "fixtures" / code, tmp_path / code, ignore=shutil.ignore_patterns("*.fixed.py"))
    assert "libcst" not in _imported(tmp_path, "check", ".", "--no-cache", "-j1", "--select", "WS")


def test_edits_import_libcst_when_they_are_built(tmp_path):
    files = _files(tmp_path)
    (tmp_path / "m0.py").write_text("import time\n\nasync def f():\n    time.sleep(1)\n", encoding="utf-8")
    assert "libcst" in _imported(tmp_path, "check", *files, "--select", "WS", "--no-cache", "-j1", "--format", "json")


def test_bandit_is_imported_only_when_it_runs(tmp_path):
    files = _files(tmp_path)
    imported = _imported(tmp_path, "check", *files, "--no-cache", "-j1")
    assert "bandit" in imported and "jinja2" not in imported
    assert imported <= {"bandit", "rich"}  # bandit's own package imports rich


def test_warm_run_starts_no_process_pool(tmp_path):
    files = _files(tmp_path)
    _imported(tmp_path, "check", *files, "--select", "WS", "-j2")  # fills the cache
    assert _imported(tmp_path, "check", *files, "--select", "WS", "-j2") == set()


def test_gate_imports_no_rule_pack(tmp_path):
    """radon's numbers need no rule: the gate leaves libcst (and a pool for 5 files) alone."""
    assert _imported(tmp_path, "gate", *_files(tmp_path)) == set()
