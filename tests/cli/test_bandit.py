"""Bandit's findings in the same report: selection, suppressions (ours and # nosec), JSON, exit code."""

from __future__ import annotations

import json

from tests.conftest import run_cli

SRC = (
    "import subprocess\n"
    "\n\n"
    "def run(cmd):\n"
    "    subprocess.call(cmd, shell=True)\n"
    "    subprocess.call(cmd, shell=True)  # nosec B602\n"
    "    subprocess.call(cmd, shell=True)  # wsrefactor: ignore[B602]\n"
    "    subprocess.call(cmd, shell=True)  # noqa: B602\n"
)


def _codes(tmp_path, *args):
    r = run_cli("check", ".", "--format", "json", *args, cwd=tmp_path)
    return r.returncode, [(f["code"], f["line"]) for f in json.loads(r.stdout)]


def test_bandit_findings_merge_and_honour_suppressions(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    rc, codes = _codes(tmp_path)
    assert rc == 1
    assert ("B602", 5) in codes and ("B404", 1) in codes
    assert not any(code == "B602" and line > 5 for code, line in codes)


def test_select_ws_leaves_bandit_out_and_ignore_b(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    assert _codes(tmp_path, "--select", "WS") == (0, [])
    rc, codes = _codes(tmp_path, "--ignore", "B4")
    assert ("B404", 1) not in codes and ("B602", 5) in codes
    rc, codes = _codes(tmp_path, "--select", "B602")
    assert codes == [("B602", 5)]


def test_bandit_json_schema_and_unused_suppression(tmp_path):
    (tmp_path / "a.py").write_text("import os\n\nx = 1  # noqa: B602\n")
    r = run_cli("check", ".", "--format", "json", cwd=tmp_path)
    data = json.loads(r.stdout)
    assert [d["code"] for d in data] == ["WS001"]
    (tmp_path / "a.py").write_text(SRC)
    item = next(d for d in json.loads(run_cli("check", ".", "--format", "json", cwd=tmp_path).stdout) if d["code"] == "B602")
    assert item["severity"] == "error" and item["category"] == "bandit" and item["fix"] is None
    assert item["name"] == "subprocess_popen_with_shell_equals_true"
