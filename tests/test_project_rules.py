"""Project rules (WS303, WS304) through the whole run: workers, facts, finalize, payloads, new files.

``wsrefactor.testing.check_source``/``fix_source`` analyse one file and never run the project phase,
so the examples of project rules are run here instead, by writing them to a temporary project and
calling ``wsrefactor.runner.execute`` exactly as the CLI does.

Fixture packages: ``fixtures/<CODE>/<case>/src/`` is a small project (findings marked with
``# expect: CODE``), ``fixtures/<CODE>/<case>/expected/`` the whole tree after
``fix --unsafe-fixes`` (new modules included), ``options.json`` optional rule options.
Regenerate expected trees with ``WSREFACTOR_REGEN=1`` (then read them critically).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, RunResult, execute
from wsrefactor.selection import Selection
from wsrefactor.testing import expected_lines

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
RULES = {c: r for c, r in load_rules(()).items() if r.is_project_rule and c in ("WS303", "WS304")}
REGEN = os.environ.get("WSREFACTOR_REGEN") == "1"


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_project(root: Path, codes, *, fix=False, options=None, diff=False) -> RunResult:
    """``wsrefactor check``/``fix --unsafe-fixes`` over ``root``, in-process, from inside it."""
    config = Config(root=str(root), rule_options=dict(options or {}), cache=False)
    selection = Selection.build(tuple(codes), (), load_rules(()).keys())
    job = Job(config, selection, fix=FixPolicy(unsafe=True) if fix else None)
    with _cwd(root):
        return execute([str(root)], job, 1, write=fix and not diff, diff=diff)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def read_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }


def findings_of(run: RunResult, code: str, root: Path) -> list[tuple[str, int]]:
    return sorted(
        (Path(f.path).resolve().relative_to(root.resolve()).as_posix(), f.line) for f in run.findings if f.code == code
    )


# ------------------------------------------------------------------------------------------------
# the rules' own VALID / INVALID examples (single-file projects)
# ------------------------------------------------------------------------------------------------

VALID = [pytest.param(r, ex, id=f"{c}-valid-{i}") for c, r in RULES.items() for i, ex in enumerate(r.VALID)]
INVALID = [pytest.param(r, ex, id=f"{c}-invalid-{i}") for c, r in RULES.items() for i, ex in enumerate(r.INVALID)]


@pytest.mark.parametrize("rule,example", VALID)
def test_valid_example_not_flagged(tmp_path, rule, example):
    write_tree(tmp_path, {"example.py": example.source})
    run = run_project(tmp_path, [rule.code], options={rule.code: dict(example.options)})
    assert findings_of(run, rule.code, tmp_path) == []


@pytest.mark.parametrize("rule,example", INVALID)
def test_invalid_example_flagged_and_fixed(tmp_path, rule, example):
    write_tree(tmp_path, {"example.py": example.source})
    options = {rule.code: dict(example.options)}
    run = run_project(tmp_path, [rule.code], options=options)
    lines = [line for _, line in findings_of(run, rule.code, tmp_path)]
    assert lines, "expected a finding"
    if example.lines:
        assert sorted(set(lines)) == sorted(example.lines)
    if example.fixed is not None:
        fixed = run_project(tmp_path, [rule.code], options=options, fix=True)
        assert fixed.messages == []
        assert (tmp_path / "example.py").read_text(encoding="utf-8") == example.fixed_source
        again = run_project(tmp_path, [rule.code], options=options)
        assert findings_of(again, rule.code, tmp_path) == []


# ------------------------------------------------------------------------------------------------
# cross-file fixture packages
# ------------------------------------------------------------------------------------------------

CASES = [
    pytest.param(code, case, id=f"{code}/{case.name}")
    for code in RULES
    for case in sorted((FIXTURES / code).iterdir()) if (FIXTURES / code).is_dir() and (case / "src").is_dir()
]


def _options(case: Path) -> dict:
    file = case / "options.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def _expected_findings(src: Path, code: str) -> list[tuple[str, int]]:
    out = []
    for path in sorted(src.rglob("*.py")):
        for line in expected_lines(path.read_text(encoding="utf-8"), code):
            out.append((path.relative_to(src).as_posix(), line))
    return out


@pytest.mark.parametrize("code,case", CASES)
def test_fixture_package(tmp_path, code, case):
    project = tmp_path / "project"
    shutil.copytree(case / "src", project, ignore=shutil.ignore_patterns("__pycache__"))
    options = _options(case)
    run = run_project(project, [code], options=options)
    assert findings_of(run, code, project) == _expected_findings(case / "src", code)
    fixed = run_project(project, [code], options=options, fix=True)
    assert fixed.messages == []
    tree = read_tree(project)
    expected_dir = case / "expected"
    if REGEN:
        shutil.rmtree(expected_dir, ignore_errors=True)
        write_tree(expected_dir, tree)
    expected = read_tree(expected_dir) if expected_dir.is_dir() else read_tree(case / "src")
    assert tree == expected
    # stable: nothing fixable is left, and a second fix changes nothing
    again = run_project(project, [code], options=options)
    assert [f for f in again.findings if f.code == code and f.fix is not None] == []
    second = run_project(project, [code], options=options, fix=True, diff=True)
    assert second.diffs == []


# ------------------------------------------------------------------------------------------------
# WS303 specifics
# ------------------------------------------------------------------------------------------------


def test_ws303_message_names_the_other_copies(tmp_path):
    shutil.copytree(FIXTURES / "WS303" / "plain" / "src", tmp_path / "p")
    run = run_project(tmp_path / "p", ["WS303"])
    messages = {f.line: f.message for f in run.findings if f.path.endswith("notify.py")}
    assert messages == {5: "`item` serialized by hand in 3 places; also at feed/timeline.py:5, feed/timeline.py:15"}
    assert all(f.fix is not None and f.fix.safety.value == "unsafe" for f in run.findings)


def test_ws303_check_only_writes_nothing(tmp_path):
    shutil.copytree(FIXTURES / "WS303" / "cycle" / "src", tmp_path / "p")
    before = read_tree(tmp_path / "p")
    run_project(tmp_path / "p", ["WS303"])
    assert read_tree(tmp_path / "p") == before


def test_ws303_safe_only_fix_does_not_apply(tmp_path):
    shutil.copytree(FIXTURES / "WS303" / "plain" / "src", tmp_path / "p")
    before = read_tree(tmp_path / "p")
    config = Config(root=str(tmp_path / "p"), cache=False)
    job = Job(config, Selection.build(("WS303",), (), load_rules(()).keys()), fix=FixPolicy(unsafe=False))
    with _cwd(tmp_path / "p"):
        execute([str(tmp_path / "p")], job, 1, write=True)
    assert read_tree(tmp_path / "p") == before


@contextmanager
def _imported(root: Path, package: str):
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]


class _Socket:
    def __init__(self):
        self.sent = []

    async def send_json(self, data):
        self.sent.append(data)


@pytest.mark.parametrize("case", ["class_module", "cycle", "prefer_method"])
def test_ws303_fixed_packages_import_and_serialize_the_same(tmp_path, case):
    """The fixed package still imports (no cycle) and every path gives the same dict."""
    from datetime import datetime, timezone

    results = []
    for variant in ("src", "expected"):
        root = FIXTURES / "WS303" / case / variant
        with _imported(root, "chat") as _:
            events = importlib.import_module("chat.events")
            history = importlib.import_module("chat.history")
            sender = importlib.import_module("chat.sender")
            event = events.ChatEvent("e1", "general", 7, datetime(2024, 1, 2, tzinfo=timezone.utc))
            ws = _Socket()
            asyncio.run(sender.send(ws, event))
            store = history.History()
            store.add(event)
            results.append((ws.sent, store.items))
    assert results[0] == results[1]
    assert results[0][0] == [{"id": "e1", "room": "general", "user_id": 7, "at": "2024-01-02T00:00:00+00:00"}]


# ------------------------------------------------------------------------------------------------
# WS304 specifics: the generated decorator behaves like the hand-written methods
# ------------------------------------------------------------------------------------------------


class FakeRedisError(Exception):
    pass


def _store_behaviour(package_root: Path) -> list:
    """Run both stores of fixtures/WS304/two_modules (sync + async) with redis up, down and absent."""
    out = []
    with _imported(package_root, "store") as _:
        errors = importlib.import_module("store.errors")
        presence = importlib.import_module("store.presence")
        sessions = importlib.import_module("store.sessions")

        class Redis:
            def __init__(self, fail):
                self.fail = fail

            def smembers(self, key):
                if self.fail:
                    raise errors.StoreError("down")
                return {"r1", "r2"}

            async def hget(self, key, field):
                if self.fail:
                    raise errors.StoreError("down")
                return f"redis:{key}:{field}"

            def get(self, key):
                if self.fail:
                    raise errors.StoreError("down")
                return "3"

        for redis in (Redis(False), Redis(True), None):
            p = presence.Presence(redis)
            s = sessions.Sessions(redis)
            out.append(
                (
                    p.members("room"),
                    p.count("room", default=1),
                    asyncio.run(s.field("u1", "name")),
                    asyncio.run(s.cached_field("u1", "name")),
                    p.members.__name__,
                )
            )
    return out


def test_ws304_decorator_keeps_sync_and_async_behaviour():
    case = FIXTURES / "WS304" / "two_modules"
    assert _store_behaviour(case / "src") == _store_behaviour(case / "expected")


def test_ws304_logs_with_the_method_name(caplog):
    import logging

    case = FIXTURES / "WS304" / "two_modules" / "expected"
    with _imported(case, "store") as _:
        errors = importlib.import_module("store.errors")
        presence = importlib.import_module("store.presence")

        class Down:
            def smembers(self, key):
                raise errors.StoreError("connection refused")

        with caplog.at_level(logging.WARNING):
            assert presence.Presence(Down()).members("room") == {"local"}
    record = caplog.records[-1]
    assert record.name == "store.presence"
    assert "Presence.members" in record.getMessage() and "connection refused" in record.getMessage()


def test_ws304_refusal_is_reported_without_fix(tmp_path):
    shutil.copytree(FIXTURES / "WS304" / "refusal" / "src", tmp_path / "p")
    run = run_project(tmp_path / "p", ["WS304"])
    by_line = {(Path(f.path).name, f.line): f for f in run.findings if f.code == "WS304"}
    refused = [f for f in by_line.values() if f.fix is None]
    assert len(refused) == 1
    assert "not fixed: its fallback is not called with the method's own arguments" in refused[0].message
    assert all(f.fix is not None for f in by_line.values() if f is not refused[0])


# ------------------------------------------------------------------------------------------------
# one decision on the ast: a plain check never parses libcst, yet every file's facts count
# ------------------------------------------------------------------------------------------------


@contextmanager
def _libcst_refused():
    """``libcst.parse_module`` raises while inside: a plain check must not need it (patched where
    the tool reads libcst, ``wsrefactor.lazy``; reading it first imports libcst)."""
    from wsrefactor import lazy

    def refuse(*args, **kwargs):
        raise AssertionError("libcst parsed during a plain check")

    original = lazy.cst.parse_module
    lazy.cst.parse_module = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        lazy.cst.parse_module = original  # type: ignore[assignment]


def test_project_rules_never_visit_libcst():
    for rule in RULES.values():
        assert not rule.wants("class A:\n    x = {'a': b.a}\n", None, {})


def test_ws303_cycle_runs_through_a_module_without_candidates(tmp_path):
    copy = 'def {name}(e):\n    return {{"id": e.id, "room": e.room, "at": e.at}}\n'
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "import pkg.mid\n\n" + copy.format(name="one") + "\n\n" + copy.format(name="two"),
        "pkg/mid.py": "from pkg import b\n\nSETTINGS = {'id': 1, 'room': 2, 'at': 3}\n",
        "pkg/b.py": copy.format(name="three"),
    }
    write_tree(tmp_path, files)
    with _libcst_refused():
        checked = run_project(tmp_path, ["WS303"])
    assert checked.messages == [] and all(r.internal_error is None for r in checked.files)
    assert findings_of(checked, "WS303", tmp_path) == [("pkg/a.py", 4), ("pkg/a.py", 8), ("pkg/b.py", 2)]
    assert all(f.fix is not None for f in checked.findings)
    run = run_project(tmp_path, ["WS303"], fix=True)
    assert run.messages == []
    # a.py has most copies, but b.py importing it would close the cycle a -> mid -> b
    assert "def serialize_e(" in (tmp_path / "pkg" / "serializers.py").read_text(encoding="utf-8")
    assert "from pkg.serializers import serialize_e" in (tmp_path / "pkg" / "a.py").read_text(encoding="utf-8")


def test_ws304_decorated_method_counts(tmp_path):
    decorated = (
        "from pkg.redis_fallback import redis_with_fallback\n\n\nclass Rooms:\n"
        "    @redis_with_fallback(\"_memory_get\")\n    def get(self, key):\n        return self.redis.get(key)\n"
    )
    remaining = (
        "class Presence:\n    def members(self, key):\n        try:\n            return self.redis.smembers(key)\n"
        "        except RedisError:\n            return self._memory_members(key)\n"
    )
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/rooms.py": decorated, "pkg/presence.py": remaining})
    with _libcst_refused():
        run = run_project(tmp_path, ["WS304"])
    found = [f for f in run.findings if f.code == "WS304"]
    assert [(Path(f.path).name, f.line) for f in found] == [("presence.py", 2)]
    assert "rooms.py (get, decorated)" in found[0].message


def test_copy_messages_name_five_places_then_count_the_rest():
    from wsrefactor.project_graph import places

    assert places(iter(["a:1", "b:2"]), 2) == "a:1, b:2"
    many = (f"m{i}.py:1" for i in range(130))
    assert places(many, 130) == "m0.py:1, m1.py:1, m2.py:1, m3.py:1, m4.py:1 and 125 more"


# ------------------------------------------------------------------------------------------------
# infrastructure lives in wsrefactor/, not in rule modules (issue #11 item 3)
# ------------------------------------------------------------------------------------------------


def _imported_modules(tree, package: str) -> set[str]:
    """Absolute names of the modules an ast imports from (relative ones resolved in ``package``)."""
    import ast

    from wsrefactor.semantic.imports import Imports

    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = Imports.absolute("." * node.level + (node.module or ""), package)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def test_no_rule_module_imports_another_rule_module():
    import ast

    rules_dir = REPO / "rules"
    rule_modules = {p.stem for p in rules_dir.glob("*.py") if not p.stem.startswith("_")}
    assert {"ws303_duplicated_serialization", "ws304_duplicated_redis_fallback"} <= rule_modules
    offenders = []
    for path in sorted(rules_dir.glob("*.py")):
        imported = _imported_modules(ast.parse(path.read_text(encoding="utf-8")), "wsrefactor.rules")
        for name in sorted(imported):
            head, _, rest = name.partition("wsrefactor.rules.")
            other = rest.split(".")[0] if not head and rest else ""
            if other in rule_modules and other != path.stem:
                offenders.append(f"{path.name} imports {name}")
    assert offenders == []


def test_the_import_check_sees_relative_and_absolute_rule_imports():
    import ast

    tree = ast.parse("from .ws305_inline_lua import render\nimport wsrefactor.rules.ws201_blocking_call\n")
    assert {"wsrefactor.rules.ws305_inline_lua", "wsrefactor.rules.ws201_blocking_call"} <= _imported_modules(
        tree, "wsrefactor.rules"
    )


def test_module_fact_reads_imports_that_run_and_every_binding(tmp_path):
    import ast

    from wsrefactor.project_graph import ImportGraph, ModuleFact
    from wsrefactor.semantic.analyses import Analyses

    text = (
        "from typing import TYPE_CHECKING\n"
        "from . import events\n"
        "if TYPE_CHECKING:\n    from .types import Hint\n"
        "if FAST:\n    import pkg.fast as impl\nelif SLOW:\n    from ..other import slow\nelse:\n    X = 1\n"
        "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n"
        "def f():\n    import inside\n"
        "class C:\n    def m(self):\n        pass\n"
    )
    write_tree(tmp_path, {"top/__init__.py": "", "top/pkg/__init__.py": "", "top/pkg/mod.py": text})
    path = str(tmp_path / "top" / "pkg" / "mod.py")
    fact = ModuleFact.compute(Analyses(ast.parse(text), text, path))
    assert (fact.module, fact.root) == ("top.pkg.mod", str(tmp_path))
    assert "top.pkg.events" in fact.imports and "top.other.slow" in fact.imports and "orjson" in fact.imports
    assert "pkg.fast" in fact.imports and not any("types" in i for i in fact.imports)
    assert {"events", "impl", "slow", "X", "orjson", "inside", "f", "C", "TYPE_CHECKING"} <= set(fact.names)
    assert fact.classes == (("C", ("m",)),)
    graph = ImportGraph({path: fact, "e": ModuleFact("e", "top.pkg.events", str(tmp_path), ("top.pkg.mod",), (), ())})
    assert graph.imports_directly("top.pkg.mod", "top.pkg.events") and graph.imports_any("top.pkg.events", ["top.pkg.mod"])
