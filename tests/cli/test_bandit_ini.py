"""A project's ``.bandit`` INI file is honoured as bandit itself honours it (skips, tests, exclude)."""

from __future__ import annotations

import pytest

from tests.cli.test_config_defaults import BANDITY, codes, run, write
from wsrefactor.config import ConfigError, load_file
from wsrefactor.registry import load_rules


def test_dot_bandit_alone_governs_the_project(tmp_path, monkeypatch):
    write(tmp_path, {"app.py": BANDITY, "tests/test_app.py": BANDITY, "vendor/lib.py": BANDITY})
    write(tmp_path, {".bandit": "[bandit]\nexclude = ./tests,vendor\nskips = B101,B404\n"})
    _, found = run(tmp_path, monkeypatch, ".", "--select", "B")
    assert codes(found) == [("app.py", "B602")]


def test_dot_bandit_bracketed_multiline_values_and_tests(tmp_path, monkeypatch):
    write(tmp_path, {"app.py": BANDITY, ".bandit": "[bandit]\ntests = [B101,\n  B602]\n"})
    _, found = run(tmp_path, monkeypatch, "app.py", "--select", "B")
    assert codes(found) == [("app.py", "B101"), ("app.py", "B602")]


def test_dot_bandit_next_to_a_wsrefactor_config(tmp_path, monkeypatch):
    write(tmp_path, {
        "pyproject.toml": '[tool.wsrefactor]\nselect = ["B"]\n',
        ".bandit": "[bandit]\nskips: B404, B101\n",
        "app.py": BANDITY,
    })
    _, found = run(tmp_path, monkeypatch, ".")
    assert codes(found) == [("app.py", "B602")]


def test_tool_bandit_wins_over_dot_bandit(tmp_path, monkeypatch):
    write(tmp_path, {
        "pyproject.toml": '[tool.wsrefactor]\nselect = ["B"]\n[tool.bandit]\nskips = ["B602"]\n',
        ".bandit": "[bandit]\nskips = B404\n",
        "app.py": BANDITY,
    })
    _, found = run(tmp_path, monkeypatch, ".")
    assert codes(found) == [("app.py", "B101"), ("app.py", "B404")]


@pytest.mark.parametrize(("text", "needle"), [
    ("[bandit]\nskips = assert_used\n", r"\.bandit: '\[bandit\] skips' has 'assert_used'"),
    ("skips = B101\n", r"\.bandit: malformed INI"),
])
def test_bad_dot_bandit_is_one_line_naming_the_file(tmp_path, text, needle):
    write(tmp_path, {".bandit": text})
    with pytest.raises(ConfigError, match=needle) as err:
        load_file(tmp_path / ".bandit", lambda plugins: load_rules(plugins))
    assert "\n" not in str(err.value)
