"""``wsrefactor gate`` end to end: radon parity, config, baseline ratchet, formats, exit codes."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from tests.conftest import REPO

REALISTIC = REPO / "fixtures" / "realistic"


def run_gate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsrefactor", "gate", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def gate_json(cwd: Path, *args: str) -> tuple[int, dict]:
    proc = run_gate(cwd, "--format", "json", *args)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def app_copy(tmp_path: Path) -> Path:
    """A copy of the realistic package in a directory without any pyproject (cwd for runs)."""
    shutil.copytree(REALISTIC / "wsapp", tmp_path / "wsapp")
    return tmp_path


def _ast_ends(path: Path) -> dict[tuple[int, int], int]:
    tree = ast.parse(path.read_bytes())
    return {
        (n.lineno, n.col_offset): n.end_lineno
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def _radon_blocks(path: Path, cwd: Path) -> dict[tuple[str, str], tuple[int, int, int]]:
    proc = subprocess.run(
        [sys.executable, "-m", "radon", "cc", "-j", "--show-closures", str(path)],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    out: dict[tuple[str, str], tuple[int, int, int]] = {}

    def add(file: str, block: dict, prefix: str) -> None:
        # radon's numbers, with the length of the real span (radon's end line may stop early)
        if block["type"] == "class":
            return
        name = prefix + (f"{block['classname']}." if block.get("classname") else "") + block["name"]
        end = _ast_ends(cwd / file)[(block["lineno"], block["col_offset"])]
        out[(file, name)] = (block["lineno"], block["complexity"], end - block["lineno"] + 1)
        for closure in block.get("closures", ()):
            add(file, closure, name + ".")

    for file, blocks in json.loads(proc.stdout).items():
        for block in blocks:
            add(Path(file).as_posix(), block, "")
    return out


def test_numbers_identical_to_radon_cc(app_copy: Path) -> None:
    # max 0 makes every function a violation, so the JSON lists every measured block.
    code, data = gate_json(app_copy, "wsapp", "--max-cc", "0", "--max-lines", "0")
    assert code == 1
    ours = {}
    for v in data["violations"]:
        if v["metric"] == "cc":
            ours[(v["path"], v["name"])] = (v["lineno"], v["complexity"], v["length"])
    radon = _radon_blocks(Path("wsapp"), app_copy)
    assert ours == radon
    assert ours[("wsapp/manager.py", "ConnectionManager.authenticate")] == (63, 30, 97)
    assert data["checked"] == len(radon)


def test_defaults_flag_authenticate(app_copy: Path) -> None:
    proc = run_gate(app_copy, "wsapp")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    # over both limits: listed once, with both reasons
    assert lines[:-1] == ["wsapp/manager.py:63: ConnectionManager.authenticate CC 30 (D) length 97 — cc 30 > 10; length 97 > 50"]
    assert lines[-1].startswith("27 functions checked, 2 violations")
    ok = run_gate(app_copy, "wsapp", "--max-cc", "30", "--max-lines", "97")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_json_output_schema(app_copy: Path) -> None:
    code, data = gate_json(app_copy, "wsapp", "--max-average", "A")
    assert code == 1
    assert data["version"] == 1 and data["passed"] is False
    assert data["thresholds"] == {"max_cc": 10, "max_lines": 50, "max_average": 5.0}
    assert data["violation_count"] == len(data["violations"]) == 2
    assert {v["metric"] for v in data["violations"]} == {"cc", "length"}
    assert data["errors"] == []
    code, data = gate_json(app_copy, "wsapp", "--max-average", "1.5", "--max-cc", "40", "--max-lines", "100")
    assert code == 1
    assert [v["metric"] for v in data["violations"]] == ["average"]


def test_output_file(app_copy: Path) -> None:
    proc = run_gate(app_copy, "wsapp", "--format", "json", "--output", "out/gate.json")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert json.loads((app_copy / "out" / "gate.json").read_text())["violation_count"] == 2


def _worsen(path: Path) -> None:
    text = path.read_text()
    old = "        now = self.clock()\n"
    new = old + "        if client_ip == '0.0.0.0':\n            client_ip = None\n"
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _improve(path: Path) -> None:
    text = path.read_text()
    old = '        if token.lower().startswith("bearer "):\n            token = token[7:].strip()\n'
    assert old in text
    path.write_text(text.replace(old, "        token = token.removeprefix('Bearer ').strip()\n", 1))


def test_baseline_ratchet(app_copy: Path) -> None:
    baseline = app_copy / "gate-baseline.json"
    missing = run_gate(app_copy, "wsapp", "--baseline", str(baseline))
    assert missing.returncode == 2 and "baseline file not found" in missing.stderr

    created = run_gate(app_copy, "wsapp", "--baseline", str(baseline), "--update-baseline")
    assert created.returncode == 0, created.stdout + created.stderr
    data = json.loads(baseline.read_text())
    assert data == {
        "entries": {"wsapp/manager.py": {"ConnectionManager.authenticate": {"cc": 30, "length": 97}}},
        "version": 1,
    }
    code, result = gate_json(app_copy, "wsapp", "--baseline", str(baseline))
    assert code == 0 and result["baseline"]["allowed"] == 1

    manager = app_copy / "wsapp" / "manager.py"
    original = manager.read_text()
    _worsen(manager)
    code, result = gate_json(app_copy, "wsapp", "--baseline", str(baseline))
    assert code == 1
    assert {v["message"] for v in result["violations"]} == {"cc 31 > baseline 30", "length 99 > baseline 97"}
    refused = run_gate(app_copy, "wsapp", "--baseline", str(baseline), "--update-baseline")
    assert refused.returncode == 1 and "baseline not updated" in refused.stderr
    assert json.loads(baseline.read_text()) == data  # a regression is never recorded

    manager.write_text(original)
    _improve(manager)
    code, result = gate_json(app_copy, "wsapp", "--baseline", str(baseline))
    assert code == 0
    assert result["baseline"]["outdated"] == ["wsapp/manager.py::ConnectionManager.authenticate"]
    tightened = run_gate(app_copy, "wsapp", "--baseline", str(baseline), "--update-baseline")
    assert tightened.returncode == 0, tightened.stderr
    assert json.loads(baseline.read_text())["entries"]["wsapp/manager.py"] == {
        "ConnectionManager.authenticate": {"cc": 29, "length": 96}
    }
    # the ratchet: going back to the old numbers now fails
    manager.write_text(original)
    code, result = gate_json(app_copy, "wsapp", "--baseline", str(baseline))
    assert code == 1
    assert {v["message"] for v in result["violations"]} == {"cc 30 > baseline 29", "length 97 > baseline 96"}


def _pyproject(root: Path, gate_table: str) -> None:
    (root / "pyproject.toml").write_text("[tool.wsrefactor]\n\n[tool.wsrefactor.gate]\n" + textwrap.dedent(gate_table))


def test_config_table_and_overrides(app_copy: Path) -> None:
    _pyproject(app_copy, """\
        max-cc = 6
        max-lines = 23
        baseline = "base.json"
        overrides = [{path = "wsapp/manager.py", max-cc = 30, max-lines = 97}]
    """)
    missing = run_gate(app_copy, "wsapp")
    assert missing.returncode == 2 and "base.json" in missing.stderr
    created = run_gate(app_copy, "wsapp", "--update-baseline")
    assert created.returncode == 0, created.stderr
    assert json.loads((app_copy / "base.json").read_text())["entries"] == {}
    code, data = gate_json(app_copy, "wsapp")
    assert code == 0, data
    assert data["thresholds"]["max_cc"] == 6
    # flags beat the config
    code, data = gate_json(app_copy, "wsapp", "--max-cc", "1")
    assert code == 1
    assert all(v["path"] != "wsapp/manager.py" for v in data["violations"])  # override still applies


@pytest.mark.parametrize(
    "table,needle",
    [
        ("max-cc = 'ten'\n", "'gate.max-cc' must be a non-negative integer"),
        ("max-lines = -1\n", "'gate.max-lines' must be a non-negative integer"),
        ("maxcc = 3\n", "unknown key 'gate.maxcc'"),
        ("max-average = 'Z'\n", "'gate.max-average'"),
        ("baseline = 3\n", "'gate.baseline' must be a non-empty string"),
        ("overrides = {path = 'x'}\n", "'gate.overrides' must be a list"),
        ("overrides = [{glob = 'x'}]\n", "unknown key 'gate.overrides[0].glob'"),
        ("overrides = [{max-cc = 3}]\n", "'gate.overrides[0].path' must be a non-empty glob string"),
        ("overrides = [{path = 'x', max-cc = true}]\n", "'gate.overrides[0].max-cc' must be a non-negative integer"),
    ],
)
def test_config_errors(app_copy: Path, table: str, needle: str) -> None:
    _pyproject(app_copy, table)
    proc = run_gate(app_copy, "wsapp")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "pyproject.toml" in lines[0] and needle in lines[0], lines[0]


def test_parse_errors_are_reported_and_measuring_continues(app_copy: Path) -> None:
    (app_copy / "wsapp" / "broken.py").write_text("def f(:\n    pass\n")
    code, data = gate_json(app_copy, "wsapp", "--max-cc", "30", "--max-lines", "97")
    assert code == 2  # no violation, but a file could not be measured
    assert data["errors"] == [{"path": "wsapp/broken.py", "line": 1, "message": "invalid syntax"}]
    assert data["checked"] == 27
    proc = run_gate(app_copy, "wsapp")
    assert proc.returncode == 1  # violations win
    assert proc.stderr.strip() == "wsapp/broken.py:1: cannot measure: invalid syntax"


def test_usage_errors(app_copy: Path) -> None:
    assert run_gate(app_copy, "nope").returncode == 2
    proc = run_gate(app_copy, "wsapp", "--update-baseline")
    assert proc.returncode == 2 and "--update-baseline needs --baseline" in proc.stderr
    proc = run_gate(app_copy, "wsapp", "--max-average", "Q")
    assert proc.returncode == 2 and "max_average" in proc.stderr
    (app_copy / "bad.json").write_text("{")
    proc = run_gate(app_copy, "wsapp", "--baseline", "bad.json")
    assert proc.returncode == 2 and "invalid JSON" in proc.stderr


def test_parallel_equals_sequential(tmp_path: Path) -> None:
    for i in range(30):
        body = "".join(f"    if x == {j}:\n        return {j}\n" for j in range(i % 13))
        (tmp_path / f"m{i:02d}.py").write_text(f"def f{i}(x):\n{body}    return -1\n")
    one = run_gate(tmp_path, ".", "--jobs", "1", "--format", "json")
    many = run_gate(tmp_path, ".", "--jobs", "3", "--format", "json")
    assert one.returncode == many.returncode == 1
    assert one.stdout == many.stdout
    assert json.loads(one.stdout)["checked"] == 30


def test_external_formats_missing_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from wsrefactor.cli import Failure, Format
    from wsrefactor.commands.gate import _render_external

    monkeypatch.setitem(sys.modules, "wsrefactor.reporters.junit", None)
    with pytest.raises(Failure, match="junit is not available"):
        _render_external(Format.junit, {})
    monkeypatch.setitem(sys.modules, "wsrefactor.reporters.github", types.ModuleType("wsrefactor.reporters.github"))
    with pytest.raises(Failure, match="has no render_gate"):
        _render_external(Format.github, {})
    fake = types.ModuleType("wsrefactor.reporters.github")
    fake.render_gate = lambda data: f"::error::{data['violation_count']}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wsrefactor.reporters.github", fake)
    assert _render_external(Format.github, {"violation_count": 2}) == "::error::2"
