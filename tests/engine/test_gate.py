"""Tests for wsrefactor.complexity (radon parity) and wsrefactor.gate (rules)."""

from __future__ import annotations

import ast
import json
import os
import pickle
import random
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import libcst
import pytest
import radon

from wsrefactor.complexity import Block, ComplexityError, measure, measure_file
from wsrefactor.gate import (
    BASELINE_VERSION,
    RANK_UPPER_BOUNDS,
    BaselineError,
    GateError,
    GateSettings,
    PathOverride,
    baseline_keys,
    evaluate,
    glob_match,
    load_baseline,
    make_baseline,
    parse_max_average,
    render_text,
    save_baseline,
    to_json,
    update_baseline,
)

NESTED_SOURCE = textwrap.dedent(
    '''\
    import asyncio

    def top(a, b):
        if a and b:
            return 1
        def inner(x):
            for i in x:
                if i:
                    yield i
            def deepest():
                return [y for y in range(3) if y]
            return deepest
        return inner

    class Outer:
        class Inner:
            def m(self, q):
                return q if q else None
            async def am(self):
                async for x in self.aiter():
                    pass
            class Deeper:
                def d(self):
                    def c():
                        return 1 if self else 2
                    return c
        def method(self, v):
            def helper(w):
                try:
                    return w
                except ValueError:
                    return None
                except KeyError:
                    pass
            while v:
                v -= 1
            else:
                pass
            return helper
        @staticmethod
        async def handler(ws):
            async with ws:
                match ws:
                    case 1:
                        pass
                    case _:
                        pass

    async def serve(ws):
        async def on_msg(m):
            assert m
            return m or None
        class Local:
            def hidden(self):
                return 1
        return on_msg

    def dup():
        pass

    def dup():
        return 1 if dup else 0

    lam = lambda x: x if x else None
    '''
)


# ---------------------------------------------------------------------------
# radon parity
# ---------------------------------------------------------------------------


def _radon_json(paths: list[Path], *flags: str) -> dict:
    """Run the real ``radon cc -j`` in a clean cwd (no project config)."""
    env = {k: v for k, v in os.environ.items() if k != "RADONCFG"}
    proc = subprocess.run(
        [sys.executable, "-m", "radon", "cc", "-j", *flags, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        cwd=paths[0].parent if paths[0].is_file() else paths[0],
        env=env,
    )
    return json.loads(proc.stdout)


def _radon_rows(entries: list[dict]) -> Counter:
    rows = Counter()
    for e in entries:
        name = e["name"]
        if e["type"] == "method":
            name = f"{e['classname']}.{name}"
        rows[(e["type"], name, e["lineno"], e["col_offset"], e["complexity"], e["rank"])] += 1
    return rows


def _our_rows(blocks: list[Block]) -> Counter:
    """Everything radon reports but the end line: ours is the real one (checked against ast)."""
    return Counter((b.kind, b.name, b.lineno, b.col, b.complexity, b.rank) for b in blocks)


def _ast_ends(path: Path) -> dict[tuple[int, int], int]:
    tree = ast.parse(path.read_bytes())
    return {
        (n.lineno, n.col_offset): n.end_lineno
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _site_files(package) -> list[Path]:
    root = Path(package.__file__).parent
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    nested = tmp_path_factory.mktemp("corpus") / "nested_ws.py"
    nested.write_text(NESTED_SOURCE)
    return [nested, *_site_files(radon), *_site_files(libcst)]


@pytest.mark.slow  # radon's own CLI over the corpus
@pytest.mark.parametrize("closures", [True, False])
def test_measure_matches_radon_cli(corpus: list[Path], closures: bool) -> None:
    flags = ("--show-closures",) if closures else ()
    expected = _radon_json(corpus, *flags)
    compared = 0
    for path in corpus:
        # radon omits files without any block from its JSON
        entries = expected.get(str(path), [])
        if "error" in entries:  # pragma: no cover - radon could not parse it
            with pytest.raises(ComplexityError):
                measure_file(str(path), closures=closures)
            continue
        blocks = measure_file(str(path), closures=closures)
        assert _our_rows(blocks) == _radon_rows(entries), path
        ends = _ast_ends(path)
        assert all(b.endline == ends[(b.lineno, b.col)] for b in blocks), path
        assert all(b.length == b.endline - b.lineno + 1 for b in blocks)
        compared += len(blocks)
    assert compared > 3000  # radon + libcst really were compared
    assert len(expected) > 250


def test_nested_file_block_set(corpus: list[Path]) -> None:
    blocks = measure(NESTED_SOURCE, "nested_ws.py")
    names = [(b.kind, b.name) for b in blocks]
    assert names == [
        ("function", "top"),
        ("function", "top.inner"),
        ("function", "top.inner.deepest"),
        ("class", "Outer"),
        ("class", "Outer.Inner"),
        ("method", "Outer.Inner.m"),
        ("method", "Outer.Inner.am"),
        ("class", "Outer.Inner.Deeper"),
        ("method", "Outer.Inner.Deeper.d"),
        ("function", "d.c"),
        ("method", "Outer.method"),
        ("function", "method.helper"),
        ("method", "Outer.handler"),
        ("function", "serve"),
        ("function", "serve.on_msg"),
        ("function", "dup"),
        ("function", "dup"),
    ]
    by_name = {b.name: b for b in blocks}
    assert by_name["Outer.handler"].complexity == 2  # match with wildcard
    assert by_name["method.helper"].complexity == 3  # two except handlers
    assert by_name["serve.on_msg"].complexity == 3  # assert + or
    assert measure(NESTED_SOURCE, "x.py", no_assert=True)[14].complexity == 2
    plain = {b.name for b in measure(NESTED_SOURCE, "x.py", closures=False)}
    # plain ``radon cc``: no closures, nested classes or their methods
    assert "top.inner" not in plain and "Outer.Inner.m" not in plain
    assert {"top", "Outer", "Outer.method", "Outer.handler", "serve", "dup"} == plain


def test_block_fields_and_pickle() -> None:
    (block,) = measure("def f(a):\n    if a:\n        return 1\n    return 2\n", "pkg/m.py")
    assert block == Block("pkg/m.py", "f", "function", 1, 4, 0, 2, "A")
    assert block.length == 4
    assert pickle.loads(pickle.dumps(block)) == block
    with pytest.raises(AttributeError):  # radon's blocks are namedtuples
        block.complexity = 3  # type: ignore[misc]


def test_bytes_and_bom_sources() -> None:
    src = "# -*- coding: latin-1 -*-\ndef f():\n    return 'caf\xe9'\n"
    assert measure(src.encode("latin-1"), "a.py")[0].name == "f"
    assert measure("\ufeffdef g():\n    pass\n", "b.py")[0].name == "g"


def test_syntax_error_is_complexity_error(tmp_path: Path) -> None:
    with pytest.raises(ComplexityError) as info:
        measure("def ok():\n    pass\n\ndef broken(:\n    pass\n", "bad.py")
    err = info.value
    assert err.path == "bad.py" and err.lineno == 4
    assert "bad.py:4" in str(err)
    assert pickle.loads(pickle.dumps(err)).lineno == 4
    with pytest.raises(ComplexityError):
        measure("x = 1\0", "nul.py")
    with pytest.raises(ComplexityError):
        measure_file(str(tmp_path / "missing.py"))


# ---------------------------------------------------------------------------
# gate helpers
# ---------------------------------------------------------------------------


def blk(
    name: str,
    cc: int = 1,
    length: int = 1,
    path: str = "pkg/app.py",
    lineno: int = 1,
    kind: str = "function",
) -> Block:
    return Block(path, name, kind, lineno, lineno + length - 1, 0, cc, radon.complexity.cc_rank(cc))  # type: ignore[arg-type]


def messages(result) -> list[str]:
    return [v.message for v in result.violations]


# ---------------------------------------------------------------------------
# thresholds and overrides
# ---------------------------------------------------------------------------


def test_thresholds_defaults() -> None:
    s = GateSettings()
    assert (s.max_cc, s.max_lines, s.average_limit) == (10, 50, None)
    result = evaluate(
        [blk("ok", 10, 50), blk("cc", 14, 3, lineno=60), blk("long", 2, 73, lineno=100)], s
    )
    assert not result.passed
    assert messages(result) == ["length 73 > 50", "cc 14 > 10"]
    assert result.checked == 3


def test_classes_are_not_gated_or_averaged() -> None:
    blocks = [blk("Big", 40, 500, kind="class"), blk("Big.m", 2, 3, lineno=2, kind="method")]
    result = evaluate(blocks, GateSettings(max_average="A"))
    assert result.passed and result.checked == 1 and result.average == 2.0
    assert len(result.blocks) == 2  # classes still available


def test_sorting_worst_first() -> None:
    blocks = [
        blk("a", 12, path="z.py", lineno=5),  # over by 2
        blk("b", 15, path="b.py", lineno=9),  # over by 5
        blk("c", 15, path="a.py", lineno=9),  # over by 5, same cc: path order
        blk("d", 3, 55, path="a.py", lineno=1),  # length over by 5, lower cc
        blk("e", 11, 60, path="m.py", lineno=1),  # length over by 10
    ]
    result = evaluate(blocks, GateSettings())
    order = [(v.block.name, v.metric) for v in result.violations]
    assert order == [("e", "length"), ("c", "cc"), ("b", "cc"), ("d", "length"), ("a", "cc"), ("e", "cc")]


def test_overrides_last_match_wins_per_field() -> None:
    s = GateSettings(
        overrides=[
            ("tests/**", None, 200),
            ("tests/legacy/**", 30, None),
            PathOverride("**/generated_*.py", 99, 999),
        ]
    )
    assert s.thresholds_for("src/app.py") == (10, 50)
    assert s.thresholds_for("tests/test_x.py") == (10, 200)
    assert s.thresholds_for("tests/legacy/old.py") == (30, 200)
    assert s.thresholds_for("generated_pb.py") == (99, 999)
    assert s.thresholds_for("tests/legacy/generated_x.py") == (99, 999)
    result = evaluate(
        [blk("t", 25, 150, path="tests/legacy/old.py"), blk("u", 25, 150, path="src/u.py")], s
    )
    assert [v.path for v in result.violations] == ["src/u.py", "src/u.py"]


def test_override_mapping_and_validation() -> None:
    s = GateSettings(overrides=[{"glob": "a/*", "max_cc": 3}])
    assert s.overrides == [PathOverride("a/*", 3, None)]
    with pytest.raises(GateError):
        GateSettings(overrides=[{"path": "x"}])
    with pytest.raises(GateError):
        GateSettings(max_cc=-1)
    with pytest.raises(GateError):
        GateSettings(max_average="Z")


@pytest.mark.parametrize(
    "path,pattern,expected",
    [
        ("src/a.py", "src/*.py", True),
        ("src/sub/a.py", "src/*.py", False),  # gitignore, like exclude: * stays in its directory
        ("src/sub/a.py", "src/**/*.py", True),
        ("pkg/generated_x.py", "generated_*.py", True),  # no slash: any depth
        ("pkg/tests/a.py", "/tests/", False),  # leading slash: anchored at the root
        ("tests/a.py", "/tests/", True),
        ("src/a.py", "src/**/a.py", True),  # ** matches zero dirs
        ("src/x/y/a.py", "src/**/a.py", True),
        ("a.py", "**/a.py", True),
        ("b/a.py", "**/a.py", True),
        ("src/a.py", "tests/**", False),
        ("tests/a.py", "tests/", True),
        ("./tests/a.py", "tests/*", True),
        ("tests\\a.py", "tests/*", True),
        ("src/A.py", "src/a.py", False),  # case-sensitive everywhere
        ("src/a1.py", "src/a[0-9].py", True),
        ("src/ab.py", "src/a?.py", True),
    ],
)
def test_glob_match(path: str, pattern: str, expected: bool) -> None:
    assert glob_match(path, pattern) is expected


def test_absolute_paths_relative_to_root(tmp_path: Path) -> None:
    s = GateSettings(root=str(tmp_path), overrides=[("legacy/**", 50, None)])
    block = blk("f", 30, path=str(tmp_path / "legacy" / "x.py"))
    result = evaluate([block], s)
    assert result.passed
    keys = baseline_keys([block], str(tmp_path))
    assert keys[block] == ("legacy/x.py", "f")


# ---------------------------------------------------------------------------
# average
# ---------------------------------------------------------------------------


def test_average_by_number() -> None:
    blocks = [blk("a", 4), blk("b", 8, lineno=5), blk("c", 9, lineno=9)]  # average 7.0
    assert evaluate(blocks, GateSettings(max_average=7)).passed
    result = evaluate(blocks, GateSettings(max_average=6.5))
    assert messages(result) == ["average cc 7.00 > 6.50"]
    assert result.violations[-1].block is None
    assert evaluate(blocks, GateSettings(max_average="6.9")).passed is False


@pytest.mark.parametrize(
    "letter,bound", [("A", 5), ("b", 10), ("C", 20), ("D", 30), ("E", 40), ("F", float("inf"))]
)
def test_rank_letters_map_to_radon_upper_bounds(letter: str, bound: float) -> None:
    assert parse_max_average(letter) == bound
    assert RANK_UPPER_BOUNDS[letter.upper()] == bound
    if bound != float("inf"):
        # The bound itself still has that rank; anything above has a worse one.
        assert radon.complexity.cc_rank(bound) == letter.upper()
        assert radon.complexity.cc_rank(bound + 0.01) > letter.upper()


def test_average_by_rank_letter() -> None:
    at_a = [blk("a", 5), blk("b", 5, lineno=3)]
    over_a = [blk("a", 5), blk("b", 6, lineno=3)]  # 5.5 -> rank B
    assert evaluate(at_a, GateSettings(max_average="A")).passed
    result = evaluate(over_a, GateSettings(max_average="A"))
    assert messages(result) == ["average cc 5.50 > 5"]
    assert result.average_rank == "B"
    assert evaluate(over_a, GateSettings(max_average="B")).passed
    assert evaluate([blk("x", 60)], GateSettings(max_cc=None, max_average="F")).passed


def test_average_violation_comes_last() -> None:
    result = evaluate([blk("a", 30)], GateSettings(max_average="A"))
    assert [v.metric for v in result.violations] == ["cc", "average"]


# ---------------------------------------------------------------------------
# baseline / ratchet
# ---------------------------------------------------------------------------

SETTINGS = GateSettings(max_cc=10, max_lines=50)


def _legacy() -> list[Block]:
    return [blk("legacy", 14, 73, lineno=10), blk("fine", 3, 10, lineno=100)]


def test_make_baseline_records_only_offenders() -> None:
    data = make_baseline(_legacy(), SETTINGS)
    assert data == {
        "version": BASELINE_VERSION,
        "entries": {"pkg/app.py": {"legacy": {"cc": 14, "length": 73}}},
    }


def test_ratchet_same_is_ok() -> None:
    base = make_baseline(_legacy(), SETTINGS)
    result = evaluate(_legacy(), SETTINGS, base)
    assert result.passed and result.allowed_by_baseline == 1
    assert result.baseline_outdated == ()


def test_ratchet_worse_is_violation() -> None:
    base = make_baseline(_legacy(), SETTINGS)
    worse = [blk("legacy", 16, 80, lineno=10), blk("fine", 3, 10, lineno=100)]
    result = evaluate(worse, SETTINGS, base)
    assert messages(result) == ["length 80 > baseline 73", "cc 16 > baseline 14"]
    assert {v.source for v in result.violations} == {"baseline"}


def test_ratchet_better_is_ok_and_reported_outdated() -> None:
    base = make_baseline(_legacy(), SETTINGS)
    better = [blk("legacy", 12, 60, lineno=10), blk("fine", 3, 10, lineno=100)]
    result = evaluate(better, SETTINGS, base)
    assert result.passed
    assert result.baseline_outdated == ("pkg/app.py::legacy",)


def test_ratchet_new_offender_is_violation() -> None:
    base = make_baseline(_legacy(), SETTINGS)
    grown = [blk("legacy", 14, 73, lineno=10), blk("fine", 11, 10, lineno=100)]
    result = evaluate(grown, SETTINGS, base)
    assert messages(result) == ["cc 11 > 10"]
    assert result.violations[0].source == "threshold"


def test_ratchet_metric_not_recorded_as_over_uses_threshold() -> None:
    # Recorded for length only (cc 8 was fine): cc may not go over the threshold.
    base = make_baseline([blk("f", 8, 70)], SETTINGS)
    assert messages(evaluate([blk("f", 12, 70)], SETTINGS, base)) == ["cc 12 > 10"]
    assert evaluate([blk("f", 10, 70)], SETTINGS, base).passed


def test_baseline_from_settings() -> None:
    base = make_baseline(_legacy(), SETTINGS)
    s = GateSettings(baseline=base)
    assert evaluate(_legacy(), s).passed
    assert evaluate(_legacy(), s).baseline_used


def test_baseline_keys_survive_line_shift() -> None:
    src = textwrap.dedent(
        """\
        class Server:
            def handle(self, m):
                {body}

        def handle(m):
            {body2}

        def handle(m):
            {body2}
        """
    )
    branches = "\n".join(f"        if m == {i}: return {i}" for i in range(12))
    body2 = "\n".join(f"    if m == {i}: return {i}" for i in range(11))
    code = src.replace("        {body}", branches).replace("    {body2}", body2)
    before = measure(code, "ws/server.py")
    base = make_baseline(before, SETTINGS)
    assert sorted(base["entries"]["ws/server.py"]) == ["Server.handle", "handle", "handle#2"]

    shifted = measure('"""Docstring."""\nimport os\n\n\n' + code, "ws/server.py")
    assert [b.lineno for b in shifted if b.name == "handle"] != [
        b.lineno for b in before if b.name == "handle"
    ]
    result = evaluate(shifted, SETTINGS, base)
    assert result.passed and result.allowed_by_baseline == 3
    assert make_baseline(shifted, SETTINGS) == base


def test_duplicate_ordinal_follows_source_order_not_input_order() -> None:
    a, b = blk("dup", 12, lineno=3), blk("dup", 20, lineno=30)
    keys = baseline_keys([b, a])
    assert keys[a] == ("pkg/app.py", "dup") and keys[b] == ("pkg/app.py", "dup#2")
    base = make_baseline([a, b], SETTINGS)
    result = evaluate([blk("dup", 12, lineno=5), blk("dup", 21, lineno=40)], SETTINGS, base)
    assert messages(result) == ["cc 21 > baseline 20"]


def test_update_baseline_keeps_offenders_at_lower_numbers() -> None:
    blocks = [blk("a", 14, 73), blk("b", 20, 10, lineno=100), blk("c", 12, 5, lineno=200)]
    base = make_baseline(blocks, SETTINGS)
    improved = [blk("a", 12, 60), blk("b", 9, 10, lineno=100), blk("c", 12, 5, lineno=200)]
    upd = update_baseline(improved, SETTINGS, base)
    assert upd.ok and upd.errors == ()
    assert upd.baseline == {
        "version": 1,
        "entries": {
            "pkg/app.py": {"a": {"cc": 12, "length": 60}, "c": {"cc": 12, "length": 5}}
        },
    }
    assert upd.dropped == ("pkg/app.py::b",)
    assert upd.tightened == ("pkg/app.py::a",)
    # The tightened baseline now forbids going back to the old numbers.
    assert messages(evaluate(blocks, SETTINGS, upd.baseline)) == [
        "length 73 > baseline 60",
        "cc 20 > 10",
        "cc 14 > baseline 12",
    ]


def test_update_baseline_refuses_regressions() -> None:
    base = make_baseline([blk("a", 14, 73)], SETTINGS)
    upd = update_baseline([blk("a", 15, 73)], SETTINGS, base)
    assert not upd.ok and upd.baseline is None
    assert upd.errors == ("pkg/app.py:1: a: cc 15 > baseline 14",)
    upd = update_baseline([blk("a", 14, 73), blk("new", 11, lineno=90)], SETTINGS, base)
    assert upd.baseline is None and upd.errors == ("pkg/app.py:90: new: cc 11 > 10",)


def test_update_baseline_partial_run_keeps_other_files() -> None:
    base = make_baseline([blk("a", 14, path="x.py"), blk("b", 14, path="y.py")], SETTINGS)
    upd = update_baseline([blk("a", 3, path="x.py")], SETTINGS, base, paths=["x.py"])
    assert upd.baseline == {"version": 1, "entries": {"y.py": {"b": {"cc": 14, "length": 1}}}}
    result = evaluate([blk("a", 3, path="x.py")], SETTINGS, base, paths=["x.py"])
    assert result.baseline_outdated == ("x.py::a",)


def test_save_load_roundtrip_stable_and_atomic(tmp_path: Path) -> None:
    blocks = [blk("z", 30, path="b.py"), blk("a", 11, 90, path="a.py"), blk("m", 12, path="b.py", lineno=9)]
    target = tmp_path / "gate-baseline.json"
    save_baseline(target, make_baseline(blocks, SETTINGS))
    first = target.read_text()
    assert first.endswith("\n")
    assert list(json.loads(first)) == ["entries", "version"]
    assert list(json.loads(first)["entries"]) == ["a.py", "b.py"]
    assert json.loads(first)["entries"]["b.py"] == {
        "m": {"cc": 12, "length": 1},
        "z": {"cc": 30, "length": 1},
    }
    loaded = load_baseline(target)
    assert loaded == make_baseline(blocks, SETTINGS)
    shuffled = blocks[::-1]
    save_baseline(target, make_baseline(shuffled, SETTINGS))
    assert target.read_text() == first  # byte-identical regardless of order
    assert sorted(os.listdir(tmp_path)) == ["gate-baseline.json"]  # no temp left over


def test_save_baseline_replaces_atomically(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "b.json"
    save_baseline(target, make_baseline([blk("a", 14)], SETTINGS))
    before = target.read_text()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_baseline(target, make_baseline([blk("a", 20)], SETTINGS))
    assert target.read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["b.json"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"entries": {}}',
        '{"version": 99, "entries": {}}',
        '{"version": 1, "entries": {"a.py": {"f": {"cc": "x", "length": 1}}}}',
        '{"version": 1, "entries": {"a.py": []}}',
    ],
)
def test_load_baseline_rejects_malformed(tmp_path: Path, content: str) -> None:
    target = tmp_path / "b.json"
    target.write_text(content)
    with pytest.raises(BaselineError):
        load_baseline(target)


def test_load_baseline_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_baseline(tmp_path / "nope.json")


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


def test_function_over_both_limits_is_one_offender_with_both_reasons() -> None:
    blocks = [blk("both", 14, 73, lineno=12), blk("cc_only", 20, 3, lineno=90), blk("ok", 2, 3, lineno=99)]
    result = evaluate(blocks, GateSettings())
    assert [v.metric for v in result.violations] == ["length", "cc", "cc"]  # one per broken limit
    offenders = result.offenders
    assert [(o.block.name, o.metrics, o.message) for o in offenders] == [
        ("both", ("cc", "length"), "cc 14 > 10; length 73 > 50"),  # worst violation first
        ("cc_only", ("cc",), "cc 20 > 10"),
    ]
    doc = to_json(result)
    assert [(f["name"], [r["metric"] for r in f["reasons"]]) for f in doc["functions"]] == [
        ("both", ["cc", "length"]), ("cc_only", ["cc"]),
    ]


def test_render_text() -> None:
    blocks = [blk("Server.handle", 14, 73, lineno=12, kind="method"), blk("ok", 2, 3, lineno=90)]
    text = render_text(evaluate(blocks, GateSettings(max_average=3)))
    assert text.splitlines() == [
        "pkg/app.py:12: Server.handle CC 14 (C) length 73 — cc 14 > 10; length 73 > 50",
        "average CC 8.00 (B) — average cc 8.00 > 3",
        "2 functions checked, 3 violations, average CC 8.00 (B)",
    ]
    assert render_text(evaluate([], GateSettings())) == (
        "0 functions checked, 0 violations, average CC 0.00 (A)"
    )


def test_to_json_schema_and_stability() -> None:
    blocks = [
        blk("a", 14, 73, path="x.py"),
        blk("b", 3, path="y.py"),
        blk("c", 12, path="y.py", lineno=20),
        blk("C", 5, 40, path="y.py", lineno=30, kind="class"),
    ]
    base = make_baseline(blocks[:1], SETTINGS)
    settings = GateSettings(max_average="A", baseline=base)
    first = json.dumps(to_json(evaluate(blocks, settings)), sort_keys=True)
    for seed in range(5):
        shuffled = blocks[:]
        random.Random(seed).shuffle(shuffled)
        assert json.dumps(to_json(evaluate(shuffled, settings)), sort_keys=True) == first

    doc = json.loads(first)
    assert set(doc) == {
        "version", "passed", "checked", "violation_count", "average",
        "average_rank", "thresholds", "baseline", "functions", "violations",
    }
    assert doc["version"] == 1 and doc["passed"] is False and doc["checked"] == 3
    assert doc["thresholds"] == {"max_cc": 10, "max_lines": 50, "max_average": 5.0}
    assert doc["baseline"] == {"used": True, "allowed": 1, "outdated": []}
    assert doc["violation_count"] == len(doc["violations"]) == 2
    cc_v, avg_v = doc["violations"]
    assert cc_v == {
        "metric": "cc", "value": 12, "limit": 10, "excess": 2, "source": "threshold",
        "message": "cc 12 > 10", "path": "y.py", "name": "c", "key": "c",
        "kind": "function", "lineno": 20, "endline": 20, "col": 0,
        "complexity": 12, "rank": "C", "length": 1,
    }
    assert avg_v["metric"] == "average" and avg_v["path"] is None and avg_v["name"] is None
    (func,) = doc["functions"]
    assert func["name"] == "c" and func["message"] == "cc 12 > 10"
    assert func["reasons"] == [{"metric": "cc", "value": 12, "limit": 10, "excess": 2, "source": "threshold", "message": "cc 12 > 10"}]
    assert avg_v["message"] == "average cc 9.67 > 5"
    # rank F means "no limit": must stay valid strict JSON (no Infinity)
    doc_f = to_json(evaluate(blocks, GateSettings(max_average="F")))
    json.dumps(doc_f, allow_nan=False)
    assert doc_f["thresholds"]["max_average"] is None
