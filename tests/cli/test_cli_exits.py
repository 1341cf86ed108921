"""Honest exits and messages (issue 15, items 7-9; issue 11 item 5's ``explain`` with plugins).

Each test names the behaviour a ruff user expects and that an earlier version got wrong: a typo'd
path passing green, "2 of 0 files", ``--statistics`` ignored by ``--format json``, no
``check --fix``, a fix hook failing a commit it did not change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

FLAWED = "import asyncio\nimport time\n\n\nasync def handler(ws):\n    time.sleep(1)\n    asyncio.create_task(ws.ping())\n"
# The safe fix swaps the sleep and drops `import time`, which nothing else uses (issue 14 item 1).
SAFE_FIXED = FLAWED.replace("    time.sleep(1)", "    await asyncio.sleep(1)").replace("import time\n", "")


def _project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(FLAWED)
    (tmp_path / "clean.py").write_text("x = 1\n")
    return tmp_path


# --- item 7: paths that do not exist, directories without Python files, the file count ---------

@pytest.mark.parametrize(
    "command",
    [
        ["check", "--select", "WS101"],
        ["check", "--select", "WS101", "--format", "json"],
        ["fix", "--select", "WS201"],
        ["fix", "--diff"],
        ["baseline", "-o", "b.json"],
        ["report", "--html", "r.html"],
        ["gate"],
    ],
)
def test_missing_path_is_a_usage_error_whatever_the_selection(tmp_path: Path, command: list[str]) -> None:
    _project(tmp_path)
    r = run_cli(*command, "nofile.py", cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr == "wsrefactor: nofile.py: no such file or directory\n"
    assert r.stdout == ""
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "r.html").exists()


def test_missing_path_among_real_ones_names_each_and_checks_nothing(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", "app.py", "gone/a.py", "b.py", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "wsrefactor: gone/a.py: no such file or directory",
        "wsrefactor: b.py: no such file or directory",
    ]
    assert "of 0 files" not in r.stdout and r.stdout == ""


def test_dangling_symlink_is_still_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    """lexists: a named symlink exists as a path; reading it is a WS000 finding, as before."""
    (tmp_path / "link.py").symlink_to(tmp_path / "target.py")
    r = run_cli("check", "link.py", cwd=tmp_path)
    assert r.returncode == 1 and "link.py:1:1: WS000 cannot read: file not found" in r.stdout


@pytest.mark.parametrize("command", [["check"], ["fix"], ["check", "--format", "json"]])
def test_directory_without_python_files_says_so_and_exits_0(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# docs\n")
    r = run_cli(*command, "docs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "wsrefactor: warning: no Python files found in docs (nothing checked)" in r.stderr.splitlines()
    if "json" in command:
        assert json.loads(r.stdout) == []


def test_only_excluded_files_is_nothing_checked_too(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wsrefactor]\nexclude = ["gen/"]\n')
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "x.py").write_text(FLAWED)
    r = run_cli("check", "gen", cwd=tmp_path)
    assert r.returncode == 0 and "no Python files found in gen" in r.stderr
    quiet = run_cli("check", "gen", "-q", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_file_count_covers_every_file_reported_on(tmp_path: Path) -> None:
    """The runner API still reports a missing named path (WS000); it counts it as a file, so the
    summary can never say "2 findings in 2 of 1 files"."""
    from wsrefactor.cli import Session
    from wsrefactor.reporters.text import summary
    from wsrefactor.runner import execute

    _project(tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        session = Session(["app.py"], ["WS201", "WS000"], None, None, no_cache=True)
        run = execute(["app.py", "missing.py"], session.job(), 1)
        line = summary(run.findings, run.checked)
    finally:
        os.chdir(cwd)
    assert run.checked == 2
    assert line.startswith("Found 2 findings in 2 of 2 files")


# --- item 8: --statistics with JSON, --output-format -------------------------------------------

def test_statistics_as_json(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", ".", "--select", "WS", "--statistics", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    rows = json.loads(r.stdout)
    assert rows == [
        {"code": "WS201", "name": "blocking-call-in-async", "count": 1, "fixable": True,
         "fixable_count": 1, "safe_fixable": 1, "unsafe_fixable": 0},
        {"code": "WS205", "name": "dangling-task", "count": 1, "fixable": True,
         "fixable_count": 1, "safe_fixable": 0, "unsafe_fixable": 1},
    ]
    text = run_cli("check", ".", "--select", "WS", "--statistics", cwd=tmp_path).stdout
    assert "     1  WS201  blocking-call-in-async  [1 safe-fixable]" in text


def test_statistics_with_a_format_that_cannot_carry_it_is_refused(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", ".", "--statistics", "--format", "sarif", cwd=tmp_path)
    assert r.returncode == 2 and "--statistics needs --format text or json" in r.stderr


@pytest.mark.parametrize(
    "command",
    [["check", "app.py"], ["fix", "app.py", "--diff"], ["rules"], ["gate", "app.py"]],
)
def test_output_format_is_an_alias_of_format(tmp_path: Path, command: list[str]) -> None:
    _project(tmp_path)
    if command[0] == "fix":
        # --diff prints a diff whatever the format; the alias is accepted and refused like --format
        r = run_cli(*command, "--output-format", "json", cwd=tmp_path)
        assert r.returncode == 2 and "--diff prints a unified diff" in r.stderr
        return
    a = run_cli(*command, "--output-format", "json", cwd=tmp_path)
    b = run_cli(*command, "--format", "json", cwd=tmp_path)
    assert "No such option" not in a.stderr
    assert a.returncode == b.returncode and a.stdout == b.stdout
    json.loads(a.stdout)


# --- item 9: check --fix / --diff / --unsafe-fixes, fix --exit-zero / --format json / --show-fixes

def test_check_fix_applies_then_reports_what_remains(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", ".", "--select", "WS", "--fix", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert (tmp_path / "app.py").read_text() == SAFE_FIXED
    assert r.stdout.splitlines() == [
        "app.py:6:5: WS205 task result discarded; the task may be garbage-collected before it finishes",
        "Fixed 1 finding in 1 file(s); 1 remaining (1 fixable with --unsafe-fixes).",
    ]
    r = run_cli("check", ".", "--select", "WS", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "_keep_task" in (tmp_path / "app.py").read_text()
    assert r.stdout == "Fixed 1 finding in 1 file(s); 0 remaining.\n"


def test_check_fix_json_is_the_remaining_findings(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", ".", "--select", "WS", "--fix", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1
    assert [d["code"] for d in json.loads(r.stdout)] == ["WS205"]


def test_check_fix_report_to_a_file_keeps_the_summary_on_stderr(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", ".", "--select", "WS", "--fix", "--format", "sarif", "-o", "out.sarif", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == "Fixed 1 finding in 1 file(s); 1 remaining (1 fixable with --unsafe-fixes).\n"
    results = json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["results"]
    assert [x["ruleId"] for x in results] == ["WS205"]


def test_check_diff_writes_nothing_and_exits_1(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", "app.py", "--select", "WS", "--diff", cwd=tmp_path)
    assert r.returncode == 1
    assert "-    time.sleep(1)\n+    await asyncio.sleep(1)\n" in r.stdout
    assert "_keep_task" not in r.stdout  # unsafe: only with --unsafe-fixes
    assert (tmp_path / "app.py").read_text() == FLAWED
    r = run_cli("check", "app.py", "--select", "WS", "--diff", "--unsafe-fixes", cwd=tmp_path)
    assert r.returncode == 1 and "_keep_task" in r.stdout
    clean = run_cli("check", "clean.py", "--diff", cwd=tmp_path)
    assert clean.returncode == 0 and clean.stdout == ""


def test_fix_exit_zero(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("fix", ".", "--select", "WS", "--exit-zero", cwd=tmp_path)
    assert r.returncode == 0 and "1 remaining" in r.stdout
    again = run_cli("fix", ".", "--select", "WS", "--exit-zero", cwd=tmp_path)
    assert again.returncode == 0 and "Fixed 0 findings" in again.stdout
    assert run_cli("fix", ".", "--select", "WS", cwd=tmp_path).returncode == 1  # without it: findings remain


def test_fix_json_reports_fixed_and_remaining(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("fix", ".", "--select", "WS", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["fixed"] == [{"filename": "app.py", "code": "WS201", "name": "blocking-call-in-async", "count": 1}]
    # line 6: the fix dropped `import time`, which it left unused
    assert [(d["filename"], d["code"], d["line"]) for d in data["remaining"]] == [("app.py", "WS205", 6)]
    assert data["remaining"][0]["fix"]["safety"] == "unsafe"
    assert data["written"] == ["app.py"]


def test_show_fixes_lists_fixes_applied_and_available(tmp_path: Path) -> None:
    _project(tmp_path)
    r = run_cli("check", "app.py", "--select", "WS", "--show-fixes", cwd=tmp_path)
    lines = r.stdout.splitlines()
    assert lines[:4] == [
        "app.py:6:5: WS201 blocking call time.sleep in async function",
        "    [*] safe fix: use await asyncio.sleep(...)",
        "app.py:7:5: WS205 task result discarded; the task may be garbage-collected before it finishes",
        "    [ ] unsafe fix (needs --unsafe-fixes): keep a reference to the task until it is done",
    ]
    r = run_cli("check", "app.py", "--select", "WS", "--show-fixes", "--unsafe-fixes", cwd=tmp_path)
    assert "    [*] unsafe fix: keep a reference to the task until it is done" in r.stdout
    r = run_cli("fix", "app.py", "--select", "WS", "--show-fixes", cwd=tmp_path)
    assert "Fixed 1 finding:\n- app.py:\n    1 \u00d7 WS201 (blocking-call-in-async)\n" in r.stdout


@pytest.mark.slow  # pre-commit installs the hook environment from this checkout
@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")
def test_fix_hook_that_changed_nothing_passes(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The hook is run by pre-commit itself: a file whose only finding has no safe fix is left
    unchanged, so the hook passes (the check hook is the one that reports it)."""
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")
    (tmp_path / "app.py").write_text("import asyncio\n\n\nasync def handler(ws):\n    asyncio.create_task(ws.ping())\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, env=env)
    home = tmp_path_factory.mktemp("pre-commit-home")
    r = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "wsrefactor-fix", "--all-files", "--verbose"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PRE_COMMIT_HOME=str(home), NO_COLOR="1"),
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Passed" in out and "WS205" in out  # the finding is still shown


# --- issue 11 item 5: rules and explain see the config's plugins --------------------------------

def test_rules_and_explain_include_plugin_rules(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    plugin = REPO / "tests" / "plugins" / "dup_names.py"
    (tmp_path / "pyproject.toml").write_text(f'[tool.wsrefactor]\nplugins = ["{plugin}"]\n')
    rows = json.loads(run_cli("rules", "--format", "json", cwd=tmp_path).stdout)
    assert any(row["code"] == "TST900" and row["name"] == "duplicate-top-level-function" for row in rows)
    r = run_cli("explain", "tst900", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# TST900 duplicate-top-level-function\n") and "## Why is this bad?" in r.stdout
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert run_cli("explain", "TST900", cwd=elsewhere).returncode == 2  # no config there: unknown
    r = run_cli("explain", "TST900", "--config", str(tmp_path / "pyproject.toml"), cwd=elsewhere)
    assert r.returncode == 0 and "TST900" in r.stdout
