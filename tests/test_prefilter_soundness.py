"""A rule's ``wants`` (its ``ast`` prefilter) may keep a file away from libcst only when the full
rule would find nothing there: the prefilter is a speed-up, never a filter of findings.

Each file below is analysed by every rule with the prefilter bypassed; wherever a rule reports
(or, for a project rule, records a fact from its libcst visit), its ``wants`` must say yes. The
files: every fixture, every rule example, the realistic package, part of the standard library,
and the installed WebSocket frameworks (real code these rules were not written from).
"""

from __future__ import annotations

import ast
import importlib.util
import sysconfig
import warnings
from pathlib import Path

import pytest

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module, parse
from wsrefactor.registry import load_rules
from wsrefactor.rule import SemanticRule
from wsrefactor.source import SourceError
from wsrefactor.testing import example_options

REPO = Path(__file__).resolve().parent.parent
RULES = [r for c, r in load_rules(()).items() if c not in ("WS000", "WS001")]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
FRAMEWORKS = ["starlette", "fastapi", "websockets", "socketio", "engineio", "channels", "tornado", "uvicorn"]


def _package_files(name: str) -> list[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.py"))


def _groups() -> dict[str, list[Path]]:
    groups = {
        "fixtures": sorted(REPO.joinpath("fixtures").rglob("*.py")),
        "stdlib-asyncio": sorted(STDLIB.joinpath("asyncio").glob("*.py")),
        "stdlib-misc": [STDLIB / n for n in ("_pydecimal.py", "ast.py", "aifc.py", "asyncore.py", "asynchat.py",
                                              "cgi.py", "dataclasses.py", "subprocess.py", "shutil.py")],
    }
    for name in FRAMEWORKS:
        files = _package_files(name)
        if files:
            groups[name] = files
    return groups


def _needs(path: str, text: str, config: Config) -> dict[str, bool]:
    """Per rule: whether its libcst visit of this file reports or records anything."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    analysis = analyze_module(path, parse(text, path), RULES, config, tree=tree)
    found = {f.code for f in analysis.findings}
    return {r.code: r.code in found or bool(analysis.facts.get(r.code)) for r in RULES}


def _unsound(path: str, text: str, config: Config) -> list[str]:
    try:
        needs = _needs(path, text, config)
    except (SyntaxError, ValueError, SourceError, RecursionError):
        return []
    tree = ast.parse(text)
    return [
        f"{r.code} on {path}"
        for r in RULES
        if needs[r.code] and not r.wants(text, tree, config.rule_options.get(r.code, {}))
    ]


@pytest.mark.parametrize("group", sorted(_groups()))
def test_prefilter_keeps_every_file_a_rule_reports(group):
    files = _groups()[group]
    config = Config()
    lost = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lost.extend(_unsound(str(path), text, config))
    assert lost == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_prefilter_keeps_every_example(rule):
    lost = []
    for i, example in enumerate([*rule.INVALID, *rule.VALID]):
        config = Config(rule_options={k: dict(v) for k, v in example_options(rule, example).items()})
        lost.extend(f"example {i}: {e}" for e in _unsound("example.py", example.source, config) if e.startswith(rule.code))
    assert lost == []


@pytest.mark.parametrize("group", ["stdlib-asyncio", "stdlib-misc", "starlette", "tornado"])
def test_prefilter_sends_little_more_than_needed_to_libcst(group):
    """The other side: a file reaches libcst for a rule almost only where that rule reports
    (WS301/WS302 are decided from radon's numbers, not by libcst, on a plain check)."""
    files = _groups().get(group)
    if not files:
        pytest.skip(f"{group} is not installed")
    config = Config()
    wasted = wanted = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            needs = _needs(str(path), text, config)
        except (SyntaxError, ValueError, SourceError, RecursionError):
            continue
        tree = ast.parse(text)
        for rule in RULES:
            # a SemanticRule has no prefilter, only its declared gate (``tokens``): nothing to measure
            if rule.code not in ("WS301", "WS302") and not issubclass(rule, SemanticRule) and rule.wants(text, tree, {}):
                wanted += 1
                wasted += not needs[rule.code]
    assert wasted <= max(2, wanted // 10), (wasted, wanted)
