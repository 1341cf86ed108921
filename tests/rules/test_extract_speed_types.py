"""Extract-method: output containers the block starts empty get a container annotation
(issue 14), and plans are memoised across fix passes without changing them (issue 16)."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, fix_text
from wsrefactor.registry import load_rules
from wsrefactor.rules import _extract
from wsrefactor.rules._extract import _started_empty
from wsrefactor.testing import fix_source


def _stmts(code: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(textwrap.dedent(code)).body)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('d = {}\nd["a"] = 1\nd.get("b")\n', "dict[str, Any]"),
        ("d = dict()\nd['a'] = 1\nfor k, v in d.items():\n    pass\n", "dict[str, Any]"),
        ("d = {}\nd[1] = 'x'\n", "dict[Any, Any]"),
        ("d = {}\nd[key] = 'x'\n", "dict[Any, Any]"),
        ("d = {}\nd.update(other)\n", "dict[Any, Any]"),
        ("d = {}\nd.setdefault(k, [])\n", "dict[Any, Any]"),
        ("xs = []\nxs.append(1)\n", "list[Any]"),
        ("s = set()\ns.add(1)\n", "set[Any]"),
    ],
)
def test_started_empty_types(code: str, expected: str) -> None:
    name = code.split(" ", 1)[0]
    assert _started_empty(_stmts(code), name) == expected


@pytest.mark.parametrize(
    "code",
    [
        "d = {}\nd = load()\n",  # bound twice: whatever the second binding is
        "d = {'a': 1}\n",  # not empty: typed by inference or unknown
        "if x:\n    d = {}\n",  # bound only on one path (not a top-level statement)
        "d += []\n",  # not started here
        "for d in rows:\n    pass\n",
    ],
)
def test_started_empty_refuses(code: str) -> None:
    assert _started_empty(_stmts(code), "d") is None


SOURCE = '''
def build(env):
    conf = {}
''' + "".join(f'    conf["k{i}"] = env.get("K{i}")\n' for i in range(14)) + '''    return conf
'''


def _fix(source: str) -> str:
    return fix_source(source, ["WS302"], {"WS302": {"max-lines": 12}})


def test_output_dict_annotated() -> None:
    fixed = _fix(SOURCE)
    assert "def _build_conf(env: Any) -> dict[str, Any]:" in fixed and "conf = _build_conf(env)" in fixed


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    run = _extract.Planner.run

    def counted(self: _extract.Planner, func: cst.FunctionDef, cc: int, length: int) -> _extract.Refactoring:
        calls.append(func.name.value)
        return run(self, func, cc, length)

    monkeypatch.setattr(_extract.Planner, "run", counted)
    return calls


def _fix_with(config: Config, text: str) -> str:
    return fix_text("m.py", text, [load_rules(())["WS302"]], config, FixPolicy(unsafe=True)).text


def _config() -> Config:
    return Config(rule_options={"WS302": {"max-lines": 12}})


def test_memo_plans_once_per_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    config = _config()
    first = _fix_with(config, SOURCE)
    planned = len(calls)
    assert planned >= 1
    assert _fix_with(config, SOURCE) == first and len(calls) == planned  # every plan remembered
    assert _fix_with(_config(), SOURCE) == first and len(calls) > planned  # a new run plans afresh


def test_memo_replans_when_a_name_it_relied_on_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    config = _config()
    assert "def _build_conf(" in _fix_with(config, SOURCE)
    planned = len(calls)
    taken = SOURCE + "\n\ndef _build_conf():\n    return None\n"
    fixed = _fix_with(config, taken)
    assert len(calls) > planned and "def _compute_conf(env: Any) -> dict[str, Any]:" in fixed
    assert fixed == _fix_with(_config(), taken)
