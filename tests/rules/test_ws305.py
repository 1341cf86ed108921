"""WS305 inline-lua-script: the scripts it writes (``Fix.new_files``) and the realistic package.

The shared golden test checks the fixed ``.py`` text of ``fixtures/WS305``; this module checks the
``.lua`` files each fix creates (``fixtures/WS305/expected_lua/<case>/``), that they hold exactly the
literal's runtime value, and that the fix keeps the realistic package's behaviour.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, fix_text
from wsrefactor.registry import load_rules
from wsrefactor.testing import check_source, fix_source

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "WS305"
EXPECTED = FIXTURES / "expected_lua"
RULE = load_rules(())["WS305"]
CASES = sorted(p for p in FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))


def _fix(path: Path, text: str | None = None, options=None):
    text = path.read_bytes().decode("utf-8") if text is None else text
    config = Config(rule_options=options or {})
    return fix_text(str(path), text, [RULE], config, FixPolicy())


def _string_constants(text: str) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_new_files_match_expected(case):
    outcome = _fix(case)
    produced = {os.path.relpath(p, case.parent): t for p, t in outcome.new_files}
    folder = EXPECTED / case.stem
    expected = {
        f.relative_to(folder).as_posix(): f.read_bytes().decode("utf-8")
        for f in sorted(folder.rglob("*.lua"))
    } if folder.is_dir() else {}
    assert produced == expected
    # every script is exactly the runtime value of a string literal of the original
    originals = _string_constants(case.read_text(encoding="utf-8"))
    for text in produced.values():
        assert text in originals
    # and the literal is gone from the fixed module
    fixed = _string_constants(outcome.text)
    assert not any(text in fixed for text in produced.values())


def test_check_reports_without_writing(tmp_path):
    src = tmp_path / "m.py"
    shutil.copy(FIXTURES / "rate_limit_method.py", src)
    findings = check_source(src.read_text(), ["WS305"], path=str(src))
    assert [f.line for f in findings] == [15]
    assert not (tmp_path / "lua").exists()


def test_fixed_module_loads_the_same_string(tmp_path):
    """Writing the new files and importing the fixed module gives back the original value."""
    src = tmp_path / "limits.py"
    src.write_text(
        "def check(r, key):\n"
        "    script = '''\n"
        "    return redis.call('INCR', KEYS[1])  -- \\t tab, é unicode\n"
        "    '''\n"
        "    return script\n",
        encoding="utf-8",
    )
    outcome = _fix(src)
    for path, text in outcome.new_files:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(text.encode("utf-8"))
    namespace: dict = {"__file__": str(src)}
    exec(compile(outcome.text, str(src), "exec"), namespace)
    original: dict = {}
    exec(compile(src.read_text(encoding="utf-8"), str(src), "exec"), original)
    assert namespace["check"](None, "k") == original["check"](None, "k")
    assert "\t" in namespace["check"](None, "k") and "é" in namespace["check"](None, "k")


def test_existing_script_file_is_not_clobbered(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def run(r):\n    return r.eval(\"return redis.call('GET', KEYS[1])\", 1, 'k')\n")
    (tmp_path / "lua").mkdir()
    (tmp_path / "lua" / "run_1.lua").write_text("-- somebody else's script")
    outcome = _fix(src)
    assert [os.path.basename(p) for p, _ in outcome.new_files] == ["run_2.lua"]
    assert "_RUN_LUA_2" in outcome.text
    # a file from an earlier run with the same content is reused
    (tmp_path / "lua" / "run_1.lua").write_text("return redis.call('GET', KEYS[1])")
    outcome = _fix(src)
    assert [os.path.basename(p) for p, _ in outcome.new_files] == ["run_1.lua"]


def test_directory_option(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def run(r):\n    return r.eval(\"return redis.call('GET', KEYS[1])\", 1, 'k')\n")
    outcome = _fix(src, options={"WS305": {"directory": "scripts/redis"}})
    assert [os.path.relpath(p, tmp_path) for p, _ in outcome.new_files] == ["scripts/redis/run_1.lua"]
    assert '(Path(__file__).parent / "scripts" / "redis" / "run_1.lua")' in outcome.text


def test_shadowed_path_uses_pathlib_module():
    text = "from os import path as Path\n\ndef run(r):\n    return r.eval(\"return redis.call('GET', KEYS[1])\", 1, 'k')\n"
    fixed = fix_source(text, ["WS305"])
    assert "import pathlib" in fixed and "pathlib.Path(__file__).parent" in fixed


def _function_length(path: Path, name: str) -> int:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.end_lineno - node.lineno + 1
    raise AssertionError(f"{name} not found in {path}")


def test_realistic_package_keeps_behaviour(tmp_path):
    copy = tmp_path / "realistic"
    shutil.copytree(REPO / "fixtures" / "realistic", copy, ignore=shutil.ignore_patterns("__pycache__"))
    manager = copy / "wsapp" / "manager.py"
    before = _function_length(manager, "check_rate_limit")
    run = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "fix", "--select", "WS305", str(copy)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    script = copy / "wsapp" / "lua" / "check_rate_limit_1.lua"
    assert script.is_file()
    original = (REPO / "fixtures" / "realistic" / "wsapp" / "manager.py").read_text(encoding="utf-8")
    assert script.read_bytes().decode("utf-8") in _string_constants(original)
    assert _function_length(manager, "check_rate_limit") < before
    assert "redis.call(" not in manager.read_text(encoding="utf-8")
    env = {**os.environ, "WSAPP_ROOT": str(copy)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/realistic", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    again = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", "--select", "WS305", str(copy)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0, again.stdout + again.stderr
