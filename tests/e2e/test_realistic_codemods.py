"""The proof on the realistic package: WS303 + WS304 + WS305 fixed together keep its behaviour.

A copy of ``fixtures/realistic`` is fixed by the CLI from a temporary directory (so the repository's
configuration does not apply), then the package's own behaviour tests run against the copy.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

REALISTIC = REPO / "fixtures" / "realistic"
CODES = "WS303,WS304,WS305"
# the four hand-written copies of the event dict, one per variable name
COPIES = {
    "manager.py": ("event", "evt"),
    "broadcast.py": ("e",),
    "history.py": ("msg",),
}


def _wsrefactor(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wsrefactor", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _length(node: ast.AST) -> int:
    return node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def fixed_copy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("realistic")
    copy = tmp / "realistic"
    shutil.copytree(REALISTIC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    run = _wsrefactor("fix", "--unsafe-fixes", "--select", CODES, str(copy), cwd=tmp)
    assert run.returncode == 0, run.stdout + run.stderr
    return tmp, copy, run


def test_fix_reports_what_it_did(fixed_copy):
    _, _, run = fixed_copy
    assert "Fixed 7 findings" in run.stdout, run.stdout
    assert "0 remaining" in run.stdout


def test_behaviour_tests_pass_on_the_fixed_copy(fixed_copy):
    _, copy, _ = fixed_copy
    env = {**os.environ, "WSAPP_ROOT": str(copy)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/realistic", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-4000:]
    assert re.search(r"\b66 passed\b", tests.stdout), tests.stdout[-500:]


def test_no_finding_remains(fixed_copy):
    tmp, copy, _ = fixed_copy
    check = _wsrefactor("check", "--select", CODES, str(copy), cwd=tmp)
    assert check.returncode == 0, check.stdout + check.stderr


def test_second_fix_has_an_empty_diff(fixed_copy):
    tmp, copy, _ = fixed_copy
    again = _wsrefactor("fix", "--unsafe-fixes", "--select", CODES, "--diff", str(copy), cwd=tmp)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [line for line in again.stdout.splitlines() if line.startswith(("---", "+++", "@@"))], again.stdout


def test_every_copy_of_the_dict_is_gone(fixed_copy):
    _, copy, _ = fixed_copy
    for name, variables in COPIES.items():
        text = (copy / "wsapp" / name).read_text(encoding="utf-8")
        for var in variables:
            assert f'"timestamp": {var}.timestamp.isoformat()' not in text, (name, var)
            assert f'"user_id": str({var}.user_id)' not in text, (name, var)
    every = "".join(p.read_text(encoding="utf-8") for p in (copy / "wsapp").rglob("*.py"))
    assert every.count('"timestamp": obj.timestamp.isoformat()') == 1  # the one generated serializer
    assert every.count("def serialize_event(obj):") == 1


def test_redis_fallback_methods_are_reduced(fixed_copy):
    _, copy, _ = fixed_copy
    manager = copy / "wsapp" / "manager.py"
    before, after = _functions(REALISTIC / "wsapp" / "manager.py"), _functions(manager)
    text = manager.read_text(encoding="utf-8")
    assert '@redis_with_fallback("_memory_get_presence")' in text
    assert '@redis_with_fallback("_memory_get_last_seen")' in text
    for name in ("get_presence", "get_last_seen"):
        assert _length(after[name]) < _length(before[name]) - 4
        assert not any(isinstance(n, ast.Try) for n in ast.walk(after[name]))
    # the look-alikes are untouched
    for name in ("store_session", "join_presence", "_touch_last_seen"):
        assert ast.dump(after[name]) == ast.dump(before[name])
    assert (copy / "wsapp" / "redis_fallback.py").is_file()
    assert "from wsapp.redis_fallback import redis_with_fallback" in text


def test_lua_script_is_external_and_the_method_shorter(fixed_copy):
    _, copy, _ = fixed_copy
    script = copy / "wsapp" / "lua" / "check_rate_limit_1.lua"
    assert script.is_file()
    original = {
        n.value for n in ast.walk(ast.parse((REALISTIC / "wsapp" / "manager.py").read_text(encoding="utf-8")))
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    assert script.read_bytes().decode("utf-8") in original
    before = _functions(REALISTIC / "wsapp" / "manager.py")["check_rate_limit"]
    after = _functions(copy / "wsapp" / "manager.py")["check_rate_limit"]
    assert _length(after) < _length(before)
    assert "redis.call(" not in (copy / "wsapp" / "manager.py").read_text(encoding="utf-8")
