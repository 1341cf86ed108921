"""The engine's contracts: parse-once analysis, suppressions, selection, config, parallel determinism,
the project phase, and byte-exact writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

DANGLING = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n"
FIXED = (
    "import asyncio\n\n_background_tasks: set[asyncio.Future] = set()\n\n\n"
    "def _keep_task(task):\n"
    '    """Hold a reference until the task is done, so it cannot be garbage-collected mid-flight."""\n'
    "    _background_tasks.add(task)\n    task.add_done_callback(_background_tasks.discard)\n    return task\n\n\n"
    "async def f(x):\n    _keep_task(asyncio.create_task(x()))\n"
)


def write(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_text_output_sorted_relative_with_summary(tmp_path):
    write(tmp_path, "b.py", DANGLING)
    write(tmp_path, "a/c.py", DANGLING)
    r = run_cli("check", ".", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "a/c.py:5:5: WS205 task result discarded; the task may be garbage-collected before it finishes"
    assert lines[1].startswith("b.py:5:5: WS205")
    assert "Found 2 findings" in lines[2] and "2 more with `wsrefactor fix --unsafe-fixes`" in lines[2]


def test_json_schema_fields(tmp_path):
    write(tmp_path, "a.py", DANGLING)
    r = run_cli("check", "a.py", "--format", "json", "--select", "WS", cwd=tmp_path)
    data = json.loads(r.stdout)
    assert r.returncode == 1 and len(data) == 1
    item = data[0]
    for key in ("code", "name", "message", "filename", "line", "column", "end_line", "end_column", "severity", "fix"):
        assert key in item
    assert item["filename"] == "a.py" and item["fix"]["safety"] == "unsafe" and item["fix"]["edits"]


def test_exit_zero_quiet_output_file_statistics(tmp_path):
    write(tmp_path, "a.py", DANGLING)
    r = run_cli("check", ".", "--exit-zero", "--quiet", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 0 and "Found" not in r.stdout and "WS205" in r.stdout
    r = run_cli("check", ".", "--statistics", "--select", "WS", cwd=tmp_path)
    assert "WS205" in r.stdout and "1 unsafe-fixable" in r.stdout
    r = run_cli("check", ".", "--format", "json", "--output", "out/r.json", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 1 and json.loads((tmp_path / "out/r.json").read_text())[0]["code"] == "WS205"


def test_clean_exit_zero(tmp_path):
    write(tmp_path, "a.py", "x = 1\n")
    r = run_cli("check", ".", cwd=tmp_path)
    assert r.returncode == 0 and "All checks passed" in r.stdout


def test_select_ignore_prefixes(tmp_path):
    write(tmp_path, "a.py", DANGLING)
    assert run_cli("check", ".", "--select", "WS2", cwd=tmp_path).returncode == 1
    assert run_cli("check", ".", "--select", "WS2", "--ignore", "WS205", cwd=tmp_path).returncode == 0
    assert run_cli("check", ".", "--select", "WS0", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    "comment,expected",
    [
        ("  # wsrefactor: ignore[WS205]", 0),
        ("  # noqa: WS205", 0),
        ("  # noqa", 1),  # another tool's bare noqa: neither honoured nor reported
        ("  # wsrefactor: ignore[WS201]", 2),  # WS205 stays, and the WS201 ignore is unused... if WS201 ran
    ],
)
def test_suppressions(tmp_path, comment, expected):
    write(tmp_path, "a.py", DANGLING.rstrip("\n") + comment + "\n")
    r = run_cli("check", ".", "--select", "WS", "--format", "json", cwd=tmp_path)
    codes = [f["code"] for f in json.loads(r.stdout)]
    if expected == 0:
        assert codes == []
    elif expected == 1:
        assert codes == ["WS205"]
    else:
        assert "WS205" in codes


def test_suppression_on_first_line_of_multiline_statement(tmp_path):
    src = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(  # wsrefactor: ignore[WS205]\n        x()\n    )\n"
    write(tmp_path, "a.py", src)
    assert run_cli("check", ".", "--select", "WS", cwd=tmp_path).returncode == 0


def test_unused_and_codeless_suppressions_reported(tmp_path):
    write(tmp_path, "a.py", "x = 1  # wsrefactor: ignore[WS205]\ny = 2  # wsrefactor: ignore\n")
    r = run_cli("check", ".", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 1
    assert "a.py:1:8: WS001 unused suppression for WS205" in r.stdout
    assert "a.py:2:8: WS001 suppression without codes" in r.stdout
    # Not judged when the suppressed rule did not run.
    r = run_cli("check", ".", "--select", "WS0,WS1", cwd=tmp_path)
    assert "WS205" not in r.stdout


def test_per_file_ignores_and_exclude(tmp_path):
    write(
        tmp_path, "pyproject.toml",
        '[tool.wsrefactor]\nselect = ["WS"]\nexclude = ["gen/**"]\n[tool.wsrefactor.per-file-ignores]\n"legacy/*.py" = ["WS205"]\n',
    )
    write(tmp_path, "legacy/a.py", DANGLING)
    write(tmp_path, "gen/b.py", DANGLING)
    write(tmp_path, "src/c.py", DANGLING)
    r = run_cli("check", ".", cwd=tmp_path)
    assert r.stdout.count("WS205") == 1 and "src/c.py" in r.stdout


def test_gitignore_and_default_dirs(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "ignored_dir/\n*_pb2.py\n")
    write(tmp_path, "ignored_dir/a.py", DANGLING)
    write(tmp_path, "x_pb2.py", DANGLING)
    write(tmp_path, ".venv/lib/a.py", DANGLING)
    write(tmp_path, "node_modules/a.py", DANGLING)
    write(tmp_path, "ok.py", DANGLING)
    r = run_cli("check", ".", "--select", "WS", cwd=tmp_path)
    assert r.stdout.count("WS205") == 1 and "ok.py" in r.stdout


@pytest.mark.parametrize(
    "config,needle",
    [
        ("[tool.wsrefactor]\nbogus = 1\n", "unknown key 'bogus'"),
        ("[tool.wsrefactor]\nselect = \"WS\"\n", "'select' must be a list of strings"),
        ("[tool.wsrefactor]\nselect = [\"WS999\"]\n", "unknown rule code 'WS999'"),
        ("[tool.wsrefactor\n", "malformed TOML"),
        ("[tool.wsrefactor.WS205]\nnope = 1\n", "unknown option 'WS205.nope'"),
        ("[tool.wsrefactor]\ntarget-version = 3\n", "'target-version' must be a string"),
    ],
)
def test_broken_config_is_one_line_exit_2(tmp_path, config, needle):
    write(tmp_path, "pyproject.toml", config)
    write(tmp_path, "a.py", "x = 1\n")
    r = run_cli("check", ".", cwd=tmp_path)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "pyproject.toml" in err[0], r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_select_on_cli_is_exit_2(tmp_path):
    write(tmp_path, "a.py", "x = 1\n")
    r = run_cli("check", ".", "--select", "WS999", cwd=tmp_path)
    assert r.returncode == 2 and "unknown rule code 'WS999'" in r.stderr


def test_explicit_config_file(tmp_path):
    write(tmp_path, "conf/custom.toml", "select = [\"WS0\"]\n")
    write(tmp_path, "a.py", DANGLING)
    assert run_cli("check", ".", "--config", "conf/custom.toml", cwd=tmp_path).returncode == 0
    r = run_cli("check", ".", "--config", "missing.toml", cwd=tmp_path)
    assert r.returncode == 2 and "missing.toml" in r.stderr


def test_output_identical_for_any_jobs(tmp_path):
    for i in range(12):
        write(tmp_path, f"m{i:02d}.py", DANGLING * (i % 3 + 1) if i % 2 else "x = 1\n")
    write(tmp_path, "broken.py", "def f(:\n")
    outs = {run_cli("check", ".", "-j", str(j), "--format", "json", cwd=tmp_path).stdout for j in (1, 2, 3)}
    assert len(outs) == 1


def test_fix_writes_and_second_run_is_noop(tmp_path):
    path = write(tmp_path, "a.py", DANGLING)
    os.chmod(path, 0o640)
    r = run_cli("fix", ".", "--unsafe-fixes", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Fixed 1 finding in 1 file(s); 0 remaining." in r.stdout
    assert path.read_text() == FIXED
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    r = run_cli("fix", ".", "--unsafe-fixes", "--select", "WS", "--diff", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""
    assert not list(tmp_path.glob(".*wsrefactor-tmp"))


def test_unsafe_fix_needs_flag_or_explicit_select(tmp_path):
    path = write(tmp_path, "a.py", DANGLING)
    r = run_cli("fix", ".", "--select", "WS", cwd=tmp_path)
    assert path.read_text() == DANGLING and r.returncode == 1
    assert "1 remaining (1 fixable with --unsafe-fixes)" in r.stdout
    run_cli("fix", ".", "--select", "WS205", cwd=tmp_path)
    assert path.read_text() == FIXED


def test_fix_diff_writes_nothing_and_exits_1(tmp_path):
    path = write(tmp_path, "a.py", DANGLING)
    r = run_cli("fix", ".", "--unsafe-fixes", "--diff", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.startswith("--- a/a.py\n+++ b/a.py\n")
    assert "+    _keep_task(asyncio.create_task(x()))" in r.stdout
    assert path.read_text() == DANGLING


@pytest.mark.parametrize(
    "encoded",
    [
        b"\xef\xbb\xbf" + DANGLING.encode(),  # BOM
        DANGLING.replace("\n", "\r\n").encode(),  # CRLF
        ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + DANGLING).encode("latin-1"),
    ],
    ids=["bom", "crlf", "latin1"],
)
def test_fix_keeps_encoding_bom_newlines(tmp_path, encoded):
    path = write(tmp_path, "a.py", encoded)
    r = run_cli("fix", ".", "--unsafe-fixes", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = path.read_bytes()
    if encoded.startswith(b"\xef\xbb\xbf"):
        assert out.startswith(b"\xef\xbb\xbf") and out.count(b"\xef\xbb\xbf") == 1
    if b"\r\n" in encoded:
        assert b"\n" not in out.replace(b"\r\n", b"")
    if b"latin-1" in encoded:
        assert b"caf\xe9" in out
        out.decode("latin-1")
    assert b"_keep_task(asyncio.create_task(x()))" in out


def test_project_rule_api_with_test_plugin(tmp_path):
    plugin = REPO / "tests" / "plugins" / "dup_names.py"
    write(tmp_path, "pyproject.toml", f'[tool.wsrefactor]\nselect = ["TST"]\nplugins = ["{plugin}"]\n')
    write(tmp_path, "pkg/alpha.py", "def helper():\n    return 1\n")
    write(tmp_path, "pkg/beta.py", "def helper():\n    return 2\n\n\ndef other():\n    return helper()\n")
    r = run_cli("check", ".", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "pkg/alpha.py:1:1: TST900 function helper also defined in beta.py" in r.stdout
    assert "pkg/beta.py:1:1: TST900 function helper also defined in alpha.py" in r.stdout
    outs = {run_cli("check", ".", "-j", str(j), cwd=tmp_path).stdout for j in (1, 2)}
    assert len(outs) == 1
    r = run_cli("fix", ".", cwd=tmp_path)
    assert (tmp_path / "pkg/beta.py").read_text().startswith("def helper_beta():")
    expected = "pkg/beta.py: helper -> helper_beta\n".replace("pkg/beta.py", str(tmp_path / "pkg/beta.py"))
    assert (tmp_path / "pkg/DUPLICATES_helper.txt").read_text() == expected
    assert run_cli("check", ".", cwd=tmp_path).returncode == 0


def test_rules_explain_version(tmp_path):
    r = run_cli("rules", "--format", "json", cwd=tmp_path)
    rows = json.loads(r.stdout)
    assert {"code", "name", "category", "fix", "enabled"} <= set(rows[0])
    assert any(row["code"] == "WS205" for row in rows)
    r = run_cli("explain", "ws205", cwd=tmp_path)
    assert r.returncode == 0 and "## Why is this bad?" in r.stdout
    r = run_cli("explain", "WS999", cwd=tmp_path)
    assert r.returncode == 2 and "unknown rule code" in r.stderr
    r = run_cli("--version", cwd=tmp_path)
    assert r.stdout.startswith("wsrefactor ")


def test_cross_file_scope_project_sees_unlisted_files(tmp_path):
    plugin = REPO / "tests" / "plugins" / "dup_names.py"
    write(tmp_path, "pkg/alpha.py", "def helper():\n    return 1\n")
    write(tmp_path, "pkg/beta.py", "def helper():\n    return 2\n")
    base = f'[tool.wsrefactor]\nselect = ["TST"]\nplugins = ["{plugin}"]\n'
    write(tmp_path, "pyproject.toml", base)
    assert run_cli("check", "pkg/beta.py", cwd=tmp_path).returncode == 0  # alone, no duplicate
    write(tmp_path, "pyproject.toml", base + 'cross-file-scope = "project"\n')
    r = run_cli("check", "pkg/beta.py", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.startswith("pkg/beta.py:1:1: TST900") and "alpha.py:" not in r.stdout


# ------------------------------------------------------------------ the fix loop reaches its fixed point


def _nested(depth: int, branches: int = 11) -> str:
    """``level0`` holding ``level1`` holding ... ``level{depth-1}``, each over WS301's CC limit:
    the extraction of a closure waits for its enclosing function's (their fixes overlap), so the
    fix loop needs one pass per level."""

    def body(level: int, pad: str) -> list[str]:
        lines = []
        for k in range(branches):
            lines += [f"{pad}if x == {k}:", f"{pad}    x = x + {k + level}", f"{pad}    print(x, {k})"]
        if level + 1 < depth:
            lines += [f"{pad}def level{level + 1}(x):", *body(level + 1, pad + "    "), f"{pad}x = level{level + 1}(x)"]
        return [*lines, f"{pad}return x"]

    return "\n".join(["def level0(x):", *body(0, "    ")]) + "\n"


def _fix(text: str, codes: tuple[str, ...], path: str = "m.py", rules: list | None = None):
    from wsrefactor.config import Config
    from wsrefactor.engine import FixPolicy, fix_text
    from wsrefactor.registry import load_rules

    known = load_rules(())
    chosen = rules if rules is not None else [known[c] for c in codes]
    return fix_text(path, text, chosen, Config(), FixPolicy(unsafe=True))


def test_fix_loop_runs_until_stable_beyond_the_old_eight_passes(monkeypatch):
    """Nine nested functions over the limit: nine passes of extractions (the loop used to stop
    after eight with one still pending, so a second run changed the file again)."""
    from wsrefactor.rules import _extract

    plans = []
    run = _extract.Planner.run
    monkeypatch.setattr(_extract.Planner, "run", lambda self, func, cc, n: plans.append(func.name.value) or run(self, func, cc, n))
    text = _nested(9)
    first = _fix(text, ("WS301",))
    assert first.errors == [] and first.applied == {"WS301": 9}
    compile(first.text, "m.py", "exec")
    assert [f.code for f in first.analysis.findings] == []
    # A lazy fix overlapping the one chosen in its pass is not planned in that pass: one plan a pass.
    assert plans == [f"level{k}" for k in range(9)]
    second = _fix(first.text, ("WS301",))
    assert second.text == first.text and second.applied == {}


def test_refusals_of_the_last_pass_are_reported_without_planning_again(monkeypatch):
    from wsrefactor.rules import _extract

    plans = []
    run = _extract.Planner.run
    monkeypatch.setattr(_extract.Planner, "run", lambda self, func, cc, n: plans.append(func.name.value) or run(self, func, cc, n))
    text = (REPO / "fixtures" / "WS301" / "refused_early_return.py").read_text()
    outcome = _fix(text, ("WS301",))
    assert outcome.text == text and outcome.errors == []
    (finding,) = outcome.analysis.findings
    assert finding.fix is None and "; no safe extraction remains" in finding.message
    assert len(plans) == 1  # the refusal found in the pass is the one reported


TOGGLE = """
import libcst as cst
from wsrefactor.model import FixSafety
from wsrefactor.rule import Fix, Rule


class Toggle(Rule):
    '''Flags every ``1`` and ``2`` and swaps them: its fixes never settle.'''

    code = "TST901"
    name = "toggle"
    category = "meta"
    fix_safety = FixSafety.SAFE
    summary = "toggled"

    def visit_Integer(self, node):
        if node.value in ("1", "2"):
            new = cst.Integer("2" if node.value == "1" else "1")
            self.report(node, fix=Fix(FixSafety.SAFE, "toggle", {node: new}))


class Count(Rule):
    '''Flags every integer and adds one: each pass changes the file, none comes back.'''

    code = "TST902"
    name = "count"
    category = "meta"
    fix_safety = FixSafety.SAFE
    summary = "counted"

    def visit_Integer(self, node):
        self.report(node, fix=Fix(FixSafety.SAFE, "count", {node: cst.Integer(str(int(node.value) + 1))}))
"""


@pytest.fixture
def never_settle(tmp_path, monkeypatch):
    write(tmp_path, "never_settle.py", TOGGLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import never_settle

    return never_settle


def test_fixes_undoing_one_another_leave_the_file_unchanged(never_settle):
    text = "x = 1\ny = 3\n"
    outcome = _fix(text, (), rules=[never_settle.Toggle])
    assert outcome.text == text and outcome.applied == {} and outcome.new_files == []
    assert outcome.errors == ["fixes undo one another (pass 2 brought back the text of an earlier pass); file left unchanged"]
    (finding,) = outcome.analysis.findings
    assert finding.fix is None and finding.message.endswith("; not fixed: " + outcome.errors[0])
    again = _fix(outcome.text, (), rules=[never_settle.Toggle])
    assert again.text == text and again.errors == outcome.errors  # the second run decides the same way


def test_fixes_that_keep_changing_the_file_stop_at_the_pass_budget(never_settle, monkeypatch):
    from wsrefactor import engine

    monkeypatch.setattr(engine, "MAX_FIX_PASSES", 5)
    text = "x = 1\n"
    outcome = _fix(text, (), rules=[never_settle.Count])
    assert outcome.text == text and outcome.applied == {}
    assert outcome.errors == [engine.UNSETTLED.format(passes=5)]
    assert [f.fix for f in outcome.analysis.findings] == [None]
    assert _fix(text, (), rules=[never_settle.Count]).errors == outcome.errors


def test_unsettled_file_is_not_written_and_the_run_says_why(tmp_path):
    write(tmp_path, "toggle.py", TOGGLE)
    write(tmp_path, "pyproject.toml", '[tool.wsrefactor]\nselect = ["TST901"]\nplugins = ["toggle.py"]\n')
    target = write(tmp_path, "src/a.py", "x = 1\n")
    r = run_cli("fix", "src", "--no-cache", "-j", "1", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert target.read_text() == "x = 1\n"
    assert "fixes undo one another" in r.stdout + r.stderr
