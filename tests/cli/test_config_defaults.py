"""Quiet defaults and ruff-like config (issue 15 items 1-6, issue 14 items 3-4): test files,
per-file ignores for bandit codes, ``[tool.bandit]``, bugbear ``# noqa``, nearest config per file,
``extend-select``/``extend-ignore``, generated code, unsafe fixes held in test files.

Runs the CLI in-process (typer's runner) on trees written here; one subprocess test checks the
real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import run_cli
from wsrefactor.cli import app
from wsrefactor.config import ConfigError, Overrides, find_config, load_file
from wsrefactor.discovery import generated_header
from wsrefactor.registry import load_rules

ASSERTS = "def test_it():\n    assert 1 + 1 == 2\n"
DANGLING = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n"
LONG = "def test_long():\n" + "".join(f"    x{i} = {i}\n" for i in range(60)) + "    return x0\n"
SLEEPY = "import time\n\n\nasync def handler():\n    time.sleep(1)\n"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, list[dict]]:
    """``wsrefactor check ARGS --format json`` in-process: exit code and findings."""
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(app, ["check", *args, "--format", "json", "--no-cache", "-j", "1"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def codes(findings: list[dict]) -> list[tuple[str, str]]:
    return sorted((f["filename"], f["code"]) for f in findings)


# 1. test files ---------------------------------------------------------------------------------


def test_b101_and_long_functions_are_off_in_test_files_by_default(tmp_path, monkeypatch):
    write(tmp_path, {
        "tests/test_a.py": ASSERTS, "tests/helpers.py": ASSERTS, "pkg/conftest.py": ASSERTS,
        "pkg/thing_test.py": ASSERTS, "test_top.py": LONG, "app.py": ASSERTS, "pkg/long.py": LONG,
    })
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B101,WS302")
    assert codes(found) == [("app.py", "B101"), ("pkg/long.py", "WS302")]


def test_test_files_and_their_ignores_are_settings(tmp_path, monkeypatch):
    write(tmp_path, {"tests/test_a.py": ASSERTS, "checks/check_a.py": ASSERTS, "test_long.py": LONG})
    write(tmp_path, {"pyproject.toml": '[tool.wsrefactor]\ntest-files = ["checks/"]\n'})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B101,WS302")
    assert codes(found) == [("test_long.py", "WS302"), ("tests/test_a.py", "B101")]
    write(tmp_path, {"pyproject.toml": '[tool.wsrefactor]\ntest-file-ignores = ["WS302"]\n'})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B101,WS302")
    assert codes(found) == [("checks/check_a.py", "B101"), ("tests/test_a.py", "B101")]


# 2. per-file-ignores with bandit codes ----------------------------------------------------------


@pytest.mark.parametrize("ignored", ['["B101"]', '["B"]', '["B1"]'])
def test_per_file_ignores_apply_to_bandit_codes(tmp_path, monkeypatch, ignored):
    write(tmp_path, {
        "pyproject.toml": f'[tool.wsrefactor]\ntest-file-ignores = []\n[tool.wsrefactor.per-file-ignores]\n"scripts/**" = {ignored}\n',
        "scripts/run.py": ASSERTS, "app.py": ASSERTS,
    })
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B101")
    assert codes(found) == [("app.py", "B101")]


def test_per_file_ignores_beat_an_explicit_select(tmp_path, monkeypatch):
    write(tmp_path, {
        "pyproject.toml": '[tool.wsrefactor.per-file-ignores]\n"gen/*" = ["B"]\n', "gen/a.py": ASSERTS,
    })
    assert run(tmp_path, monkeypatch, "gen/a.py", "--select", "B101") == (0, [])


# 3. [tool.bandit] and bugbear noqa ------------------------------------------------------------

BANDITY = "import subprocess\n\n\ndef go(cmd):\n    assert cmd\n    subprocess.call(cmd, shell=True)\n"


def test_tool_bandit_skips_tests_and_exclude_dirs(tmp_path, monkeypatch):
    write(tmp_path, {"app.py": BANDITY, "vendor/lib.py": BANDITY, "src/vendor2/lib.py": BANDITY})
    write(tmp_path, {"pyproject.toml": '[tool.bandit]\nskips = ["B101"]\nexclude_dirs = ["vendor", "./src/vendor2"]\n'})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B")
    assert codes(found) == [("app.py", "B404"), ("app.py", "B602")]
    write(tmp_path, {"pyproject.toml": '[tool.bandit]\ntests = ["B602"]\n'})
    _, found = run(tmp_path, monkeypatch, "app.py", "--select", "B")
    assert codes(found) == [("app.py", "B602")]


def test_tool_bandit_next_to_tool_wsrefactor(tmp_path, monkeypatch):
    write(tmp_path, {
        "pyproject.toml": '[tool.wsrefactor]\nselect = ["B"]\n[tool.bandit]\nskips = ["B404", "B101"]\n',
        "app.py": BANDITY,
    })
    _, found = run(tmp_path, monkeypatch, ".")
    assert codes(found) == [("app.py", "B602")]


def test_tool_bandit_with_a_bad_value_is_a_config_error(tmp_path):
    write(tmp_path, {"pyproject.toml": '[tool.bandit]\nskips = ["assert_used"]\n'})
    with pytest.raises(ConfigError, match=r"\[tool.bandit\] skips.*not a bandit test id"):
        load_file(tmp_path / "pyproject.toml", lambda plugins: load_rules(plugins))


def test_noqa_for_bugbear_is_not_ours_but_an_unused_bandit_noqa_is(tmp_path, monkeypatch):
    write(tmp_path, {"app.py": (
        "def f(h):\n"
        "    h.current_user  # noqa: B018\n"
        "    h.strip(' or ')  # noqa: B005, B950\n"
        "    x = 1  # noqa: B101\n"
        "    y = 2  # wsrefactor: ignore[B017]\n"
        "    assert x  # noqa: B101\n"
        "    return x\n"
    )})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B,WS001")
    assert [(f["code"], f["line"], f["message"]) for f in found] == [
        ("WS001", 4, "unused suppression for B101")
    ]


# 4. nearest config per file --------------------------------------------------------------------

MONOREPO = {
    "pyproject.toml": '[tool.wsrefactor]\nselect = ["WS201"]\n',
    "pkg_a/pyproject.toml": '[tool.wsrefactor]\nselect = ["WS205"]\n[tool.wsrefactor.per-file-ignores]\n"skip/*" = ["WS"]\n',
    "pkg_a/mod.py": DANGLING + "\n\n" + SLEEPY,
    "pkg_a/skip/x.py": DANGLING,
    "pkg_b/wsrefactor.toml": 'select = ["WS2"]\nexclude = ["old/"]\n',
    "pkg_b/mod.py": DANGLING + "\n\n" + SLEEPY,
    "pkg_b/old/x.py": DANGLING,
    "pkg_c/mod.py": DANGLING + "\n\n" + SLEEPY,
}


def test_each_file_is_governed_by_its_nearest_config(tmp_path, monkeypatch):
    write(tmp_path, MONOREPO)
    _, found = run(tmp_path, monkeypatch, ".")
    assert codes(found) == [
        ("pkg_a/mod.py", "WS205"),
        ("pkg_b/mod.py", "WS201"), ("pkg_b/mod.py", "WS205"),
        ("pkg_c/mod.py", "WS201"),
    ]


def test_results_never_depend_on_the_order_of_the_paths(tmp_path, monkeypatch):
    write(tmp_path, MONOREPO)
    one = run(tmp_path, monkeypatch, "pkg_a", "pkg_b", "pkg_c/mod.py")
    two = run(tmp_path, monkeypatch, "pkg_c/mod.py", "pkg_b", "pkg_a")
    assert one == two and len(one[1]) == 4
    # from inside a package, its own config governs; from another package's file, that one's
    assert codes(run(tmp_path / "pkg_a", monkeypatch, ".")[1]) == [("mod.py", "WS205")]
    assert codes(run(tmp_path, monkeypatch, "pkg_a/skip/x.py")[1]) == []


def test_worker_processes_see_each_files_config(tmp_path, monkeypatch):
    write(tmp_path, MONOREPO)
    write(tmp_path, {f"pkg_a/more{i}.py": DANGLING for i in range(4)})
    monkeypatch.chdir(tmp_path)
    outputs = []
    for jobs in ("1", "2"):
        result = CliRunner().invoke(app, ["check", ".", "--format", "json", "--no-cache", "-j", jobs])
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1] and len(outputs[1]) == 8


def test_editing_a_nested_config_invalidates_the_cache_of_its_files(tmp_path, monkeypatch):
    write(tmp_path, MONOREPO)
    monkeypatch.chdir(tmp_path)

    def cached() -> list[tuple[str, str]]:
        result = CliRunner().invoke(app, ["check", ".", "--format", "json", "-j", "1"])
        return codes(json.loads(result.stdout))

    assert ("pkg_a/mod.py", "WS205") in cached() and ("pkg_a/mod.py", "WS205") in cached()
    write(tmp_path, {"pkg_a/pyproject.toml": '[tool.wsrefactor]\nselect = ["WS201"]\n'})
    after = cached()
    assert ("pkg_a/mod.py", "WS201") in after and ("pkg_a/mod.py", "WS205") not in after


def test_config_flag_forces_one_config_for_all(tmp_path, monkeypatch):
    write(tmp_path, MONOREPO)
    write(tmp_path, {"only.toml": 'select = ["WS205"]\n'})
    _, found = run(tmp_path, monkeypatch, ".", "--config", "only.toml")
    assert {c for _, c in codes(found)} == {"WS205"}
    assert {p.split("/")[0] for p, _ in codes(found)} == {"pkg_a", "pkg_b", "pkg_c"}


def test_a_broken_nested_config_is_an_error(tmp_path, monkeypatch):
    write(tmp_path, {"a/pyproject.toml": '[tool.wsrefactor]\nbogus = 1\n', "a/x.py": DANGLING})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", ".", "--no-cache"])
    assert result.exit_code == 2 and "unknown key 'bogus'" in result.output


def test_find_config_prefers_wsrefactor_tables_over_bandit_only(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[tool.wsrefactor]\n", "sub/pyproject.toml": "[tool.bandit]\n",
        "sub/deeper/x.py": "", "other/pyproject.toml": "[tool.ruff]\n", "other/x.py": "",
    })
    assert find_config(tmp_path / "sub/deeper/x.py") == tmp_path / "pyproject.toml"
    assert find_config(tmp_path / "other/x.py") == tmp_path / "pyproject.toml"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(tmp_path / "sub/deeper/x.py") == tmp_path / "sub/pyproject.toml"


# 5. extend-select / extend-ignore -------------------------------------------------------------


@pytest.mark.parametrize("table", [
    'select = ["WS201"]\nextend-select = ["WS205"]\n',
    'extend-select = ["WS205"]\nselect = ["WS201"]\n',
])
def test_extend_select_does_not_depend_on_key_order(tmp_path, monkeypatch, table):
    write(tmp_path, {"pyproject.toml": "[tool.wsrefactor]\n" + table, "m.py": DANGLING + "\n\n" + SLEEPY})
    assert [c for _, c in codes(run(tmp_path, monkeypatch, ".")[1])] == ["WS201", "WS205"]


def test_extend_ignore_and_the_command_line_flags(tmp_path, monkeypatch):
    write(tmp_path, {
        "pyproject.toml": '[tool.wsrefactor]\nextend-ignore = ["WS205"]\nignore = ["B"]\n',
        "m.py": DANGLING + "\n\n" + SLEEPY + "assert 1\n",
    })
    assert [c for _, c in codes(run(tmp_path, monkeypatch, ".")[1])] == ["WS201"]
    assert [c for _, c in codes(run(tmp_path, monkeypatch, ".", "--extend-ignore", "WS201")[1])] == []
    assert [c for _, c in codes(run(tmp_path, monkeypatch, ".", "--extend-select", "B101")[1])] == ["B101", "WS201"]
    # --select replaces select and extend-select; --ignore replaces ignore and extend-ignore
    assert [c for _, c in codes(run(tmp_path, monkeypatch, ".", "--ignore", "WS201")[1])] == ["B101", "WS205"]
    assert [c for _, c in codes(run(tmp_path, monkeypatch, ".", "--select", "WS205")[1])] == []


def test_overrides_compose_like_ruff():
    from wsrefactor.config import Config

    cfg = Config(select=("WS",), extend_select=("B1",), ignore=("WS3",), extend_ignore=("WS2",))
    assert Overrides().apply(cfg).selected == ("WS", "B1")
    assert Overrides(select=("WS1",), extend_select=("B6",)).apply(cfg).selected == ("WS1", "B6")
    assert Overrides(extend_ignore=("B",)).apply(cfg).ignored == ("WS3", "WS2", "B")
    assert Overrides(ignore=()).apply(cfg).ignored == ()


# 6. generated code ----------------------------------------------------------------------------


def test_generated_files_are_skipped_unless_included(tmp_path, monkeypatch):
    write(tmp_path, {
        "api/chat_pb2.py": DANGLING, "api/chat_pb2_grpc.py": DANGLING,
        "app/migrations/0001_initial.py": DANGLING,
        "gen/client.py": "# Code generated by openapi-gen. DO NOT EDIT.\n" + DANGLING,
        "gen/models.py": '"""Models.\n\n@generated by tool\n"""\n' + DANGLING,
        "gen/schema.py": DANGLING, "app/views.py": DANGLING,
        "app/notes.py": DANGLING + "NOTE = 'do not edit this by hand'\n",
    })
    _, found = run(tmp_path, monkeypatch, ".", "--select", "WS205")
    assert [p for p, _ in codes(found)] == ["app/notes.py", "app/views.py", "gen/schema.py"]
    write(tmp_path, {"pyproject.toml": '[tool.wsrefactor]\ngenerated-files = ["gen/schema.py"]\n'})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "WS205")
    assert [p for p, _ in codes(found)] == [
        "api/chat_pb2.py", "api/chat_pb2_grpc.py", "app/migrations/0001_initial.py", "app/notes.py", "app/views.py",
    ]
    write(tmp_path, {"pyproject.toml": "[tool.wsrefactor]\ninclude-generated = true\n"})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "WS205")
    assert len(found) == 8
    # a generated file named explicitly (pre-commit) is skipped too
    write(tmp_path, {"pyproject.toml": "[tool.wsrefactor]\n"})
    assert run(tmp_path, monkeypatch, "api/chat_pb2.py", "gen/client.py", "--select", "WS205") == (0, [])


def test_fix_never_touches_generated_code(tmp_path, monkeypatch):
    header = "# Generated by the protocol buffer compiler.  DO NOT EDIT!\n"
    write(tmp_path, {"svc_pb2.py": DANGLING, "svc.py": header + DANGLING})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["fix", ".", "--unsafe-fixes", "--no-cache", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "svc_pb2.py").read_text() == DANGLING
    assert (tmp_path / "svc.py").read_text() == header + DANGLING


@pytest.mark.parametrize("text, expected", [
    ("# Generated by the gRPC Python protocol compiler plugin. DO NOT EDIT!\nimport grpc\n", True),
    ("#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n# @generated\nx = 1\n", True),
    ('r"""Schema.\n\nDo not edit: produced by make schema.\n"""\nx = 1\n', True),
    ('"""One line."""\n# DO NOT EDIT\nx = 1\n', True),
    ('"""One line."""\nx = "DO NOT EDIT"\n', False),
    ("import os\n# @generated\n", False),
    ("", False),
])
def test_generated_header(text, expected):
    assert generated_header(text) is expected


# 7. unsafe fixes are held in test files (issue 14 item 4) ---------------------------------------


def test_unsafe_fixes_skip_test_files_and_the_summary_says_why(tmp_path, monkeypatch):
    write(tmp_path, {"tests/test_server.py": DANGLING, "app.py": DANGLING})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["fix", ".", "--unsafe-fixes", "--select", "WS205", "--no-cache", "-j", "1"])
    assert (tmp_path / "app.py").read_text() != DANGLING
    assert (tmp_path / "tests/test_server.py").read_text() == DANGLING
    assert result.exit_code == 1
    assert "tests/test_server.py:5:5: WS205" in result.stdout
    assert "1 unsafe fix not applied in test files (set `unsafe-fixes-in-tests = true`" in result.stdout
    write(tmp_path, {"pyproject.toml": "[tool.wsrefactor]\nunsafe-fixes-in-tests = true\n"})
    result = CliRunner().invoke(app, ["fix", ".", "--unsafe-fixes", "--select", "WS205", "--no-cache", "-j", "1"])
    assert (tmp_path / "tests/test_server.py").read_text() != DANGLING
    assert result.exit_code == 0 and "not applied in test files" not in result.stdout


def test_diff_says_how_many_unsafe_fixes_it_held_in_test_files(tmp_path, monkeypatch):
    write(tmp_path, {"tests/test_a.py": DANGLING, "tests/test_b.py": DANGLING})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["fix", ".", "--unsafe-fixes", "--diff", "--no-cache", "-j", "1"])
    assert result.exit_code == 0 and "+++" not in result.output
    assert "2 unsafe fixes not applied in test files" in result.output


def test_safe_fixes_still_apply_in_test_files(tmp_path, monkeypatch):
    write(tmp_path, {"tests/test_x.py": SLEEPY})
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(app, ["fix", ".", "--select", "WS201", "--no-cache", "-j", "1"])
    assert "await asyncio.sleep(1)" in (tmp_path / "tests/test_x.py").read_text()


def test_entry_point_with_extend_flags_and_nested_configs(tmp_path):
    write(tmp_path, MONOREPO)
    a = run_cli("check", "pkg_b", "pkg_a", "--extend-ignore", "WS201", "--no-cache", cwd=tmp_path)
    b = run_cli("check", "pkg_a", "pkg_b", "--extend-ignore", "WS201", "--no-cache", cwd=tmp_path)
    assert a.returncode == b.returncode == 1 and a.stdout == b.stdout
    assert [line.split(": ")[1].split()[0] for line in a.stdout.splitlines() if ": WS" in line] == ["WS205", "WS205"]
