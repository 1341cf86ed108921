"""The pure parts of ``python -m wsrefactor.proof``: what it counts and how it reports it.

The script itself runs real projects' test suites (minutes); here only its measurements are
checked, on small sources and hand-written step results.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from wsrefactor import proof

BEFORE = textwrap.dedent(
    '''
    class Client:
        def connect(self, url, *, timeout=10):
            """Open the connection."""
            return url

        def close(self):
            """Close it."""

    def handler(a, b, c, d, e, f, g, h):
        """Handle one message."""
        def inner():
            """Nested."""
    '''
)

# connect's docstring moved into a helper, close kept its own, handler lost it; three helpers added
AFTER = textwrap.dedent(
    '''
    class Client:
        def connect(self, url, *, timeout=10):
            return self._connect_part(url, timeout)

        def _connect_part(self, url, timeout):
            """Open the connection."""
            return url

        def close(self):
            """Close it."""

    def handler(a, b, c, d, e, f, g, h):
        def inner():
            """Nested."""
        return _handler_rest(a, b, c, d, e, f, g, h)

    def _handler_rest(a, b, c, d, e, f, g, h):
        return a

    def _load_user(self, *args, key, **kwargs):
        return key
    '''
)


def test_function_facts_names_methods_and_nested_functions_and_counts_parameters():
    facts = proof.function_facts(BEFORE)
    assert set(facts) == {"Client.connect", "Client.close", "handler", "handler.<locals>.inner"}
    assert facts["Client.connect"] == proof.FunctionFacts("Open the connection.", 2)  # self not counted
    assert facts["handler"].parameters == 8
    assert facts["handler.<locals>.inner"].docstring == "Nested."


def test_code_delta_counts_lost_docstrings_and_helpers_by_name_pattern():
    delta = proof.CodeDelta()
    delta.add("m.py", proof.function_facts(BEFORE), proof.function_facts(AFTER))
    assert delta.docstrings_lost == ["m.py:Client.connect", "m.py:handler"]
    assert delta.helpers == ["m.py:Client._connect_part", "m.py:_handler_rest", "m.py:_load_user"]
    assert delta.positional == ["m.py:Client._connect_part"]
    assert delta.rest == ["m.py:_handler_rest"]
    # a module-level function's first parameter named self still counts; *args/**kwargs count
    assert delta.many_parameters == ["m.py:_handler_rest"]


def test_unchanged_source_has_no_delta():
    delta = proof.CodeDelta()
    delta.add("m.py", proof.function_facts(BEFORE), proof.function_facts(BEFORE))
    assert delta == proof.CodeDelta()


def test_changed_files_and_compile_errors(tmp_path: Path):
    before, after = tmp_path / "a", tmp_path / "b"
    for root in (before, after):
        (root / "pkg" / "__pycache__").mkdir(parents=True)
        (root / "pkg" / "same.py").write_text("x = 1\n")
        (root / "pkg" / "__pycache__" / "junk.pyc").write_bytes(bytes([len(root.name)]))
    (before / "pkg" / "edited.py").write_text("x = 1\n")
    (after / "pkg" / "edited.py").write_text("x = (\n")
    (after / "pkg" / "new.py").write_text("y = 2\n")
    (before / "pkg" / "gone.py").write_text("z = 3\n")
    files = proof.changed_files(before, after)
    assert files == {"changed": ["pkg/edited.py"], "added": ["pkg/new.py"], "removed": ["pkg/gone.py"]}
    errors = proof.compile_errors(after, files["changed"] + files["added"])
    assert len(errors) == 1 and errors[0].startswith("pkg/edited.py:")
    assert proof.code_delta(before, after, ["pkg/new.py", "pkg/edited.py"]) == proof.CodeDelta()


def test_tool_output_parsers():
    mypy = "a.py:1: error: Missing return  [no-untyped-def]\na.py:1: note: see here\nb.py:2: error: x  [misc]\n"
    assert proof.parse_mypy(mypy) == 2
    ruff = "src/p/a.py:3:1: F401 [*] `os` imported but unused\nsrc/p/a.py:1:1: I001 [*] unsorted\nFound 2 errors.\n"
    assert proof.parse_ruff(ruff) == ["src/p/a.py F401", "src/p/a.py I001"]


def test_new_failures_ignore_tests_that_already_failed():
    before = {"t::a": "passed", "t::b": "failed", "t::c": "passed", "t::d": "skipped"}
    after = {"t::a": "failed", "t::b": "failed", "t::c": "passed", "t::d": "error", "t::e": "error"}
    assert proof.new_failures(before, after) == ["t::a", "t::d", "t::e"]
    assert proof.test_counts(after) == {"passed": 1, "failed": 2, "error": 2, "skipped": 0}


def _baseline() -> dict[str, object]:
    return {"project": "demo", "step": "baseline", "commit": "0123456789abcdef", "mypy": 1,
            "ruff": ["p/a.py F401"], "outcomes": {"t::a": "passed", "t::b": "passed", "t::c": "failed"},
            "seconds": 12.0}


def _extract() -> dict[str, object]:
    return {
        "project": "demo", "step": "extract", "commit": "0123456789abcdef", "fix_exit": 1,
        "fix_summary": "Fixed 7 findings in 2 file(s); 3 remaining.",
        "files": {"changed": ["p/a.py", "p/b.py"], "added": [], "removed": []}, "compile_errors": [],
        "delta": {"docstrings_lost": ["p/a.py:f"], "helpers": ["p/a.py:_f_part", "p/a.py:_f_rest", "p/b.py:_g_load"],
                  "positional": ["p/a.py:_f_part"], "rest": ["p/a.py:_f_rest"], "many_parameters": []},
        "second_exit": 1, "second_files": ["p/a.py"], "mypy": 4, "ruff": ["p/a.py F401", "p/b.py I001"],
        "outcomes": {"t::a": "passed", "t::b": "failed", "t::c": "failed"}, "new_failures": ["t::b"],
        "flaky": [], "seconds": 30.5,
    }


def test_markdown_table_shows_each_step_against_the_baseline():
    table = proof.markdown_table([_baseline(), _extract()]).splitlines()
    assert table[0].startswith("| project | step | fixed |") and len(table) == 4
    base = [c.strip() for c in table[2].strip("|").split("|")]
    step = [c.strip() for c in table[3].strip("|").split("|")]
    assert base[:2] == ["demo @ 0123456", "baseline"] and base[5] == "2 / 1" and base[9] == "1" and base[10] == "1"
    assert step[1] == "(b) WS301/WS302"
    assert step[2:8] == ["7", "2", "yes", "2 / 1 → 1 / 2", "1", "1"]
    assert step[8:14] == ["no (1 files)", "1 → 4", "1 → 2", "3", "1 / 1", "0"]


def test_details_list_what_to_chase():
    text = proof.details([_baseline(), _extract()])
    assert "demo / extract: new test failures (1): `t::b`" in text
    assert "docstrings lost (1): `p/a.py:f`" in text
    assert "second fix would change (1): `p/a.py`" in text
    assert "new ruff findings (1): `p/b.py I001`" in text
    assert proof.details([_baseline()]) == ""


def test_manifest_lists_three_projects_with_locations_and_commands_only():
    projects = proof.load_manifest(proof.MANIFEST)
    assert {p.label for p in projects} >= {"websockets", "python-socketio", "channels"}
    for project in projects:
        assert project.package and project.test and project.module and project.snapshot
    chosen = proof.select_projects(projects, ["channels"], ["channels=/elsewhere"])
    assert [(p.label, p.snapshot) for p in chosen] == [("channels", "/elsewhere")]


def test_a_new_failure_is_real_only_if_it_fails_again_and_passes_on_the_untouched_copy(tmp_path, monkeypatch):
    """Timing-sensitive tests that also fail on the untouched code are reported as flaky."""
    runs = {"extract": {"t::real": "failed", "t::flaky": "failed", "t::lucky": "passed"},
            "baseline": {"t::real": "passed", "t::flaky": "failed", "t::lucky": "passed"}}
    calls = []

    def fake_run_tests(project, tree, python, log, timeout, node_ids=()):
        calls.append((tree.parent.name, tuple(node_ids)))
        return runs[tree.parent.name], proof.Ran(1, "", "", 0.1)

    monkeypatch.setattr(proof, "run_tests", fake_run_tests)
    for step in ("extract", "baseline"):
        (tmp_path / step / "tree").mkdir(parents=True)
    result: dict[str, object] = {"step": "extract", "failed_after_fix": ["t::flaky", "t::lucky", "t::real"]}
    ctx = proof.Context(tmp_path, 1, 10, False, "")
    proof.check_failures(proof.load_manifest(proof.MANIFEST)[0], result, tmp_path, tmp_path / "python", ctx)
    assert result["new_failures"] == ["t::real"] and result["flaky"] == ["t::flaky", "t::lucky"]
    ids = ("t::flaky", "t::lucky", "t::real")
    assert calls[:2] == [("extract", ids), ("baseline", ids)] and len(calls) == 2 * proof.RERUNS
