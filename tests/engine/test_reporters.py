"""SARIF, GitHub annotation and JUnit reporters, for findings and for gate results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from wsrefactor import gate
from wsrefactor.complexity import measure
from wsrefactor.model import Edit, Finding, FixInfo, FixSafety, Severity
from wsrefactor.registry import load_rules
from wsrefactor.reporters import github, junit, sarif
from wsrefactor.testing import check_source, fix_source

SCHEMA_PATH = Path(
    os.environ.get("WSREFACTOR_SARIF_SCHEMA", REPO.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json")
)

ONE_TASK = """\
import asyncio

async def on_message(ws, msg):
    asyncio.create_task(broadcast(msg))
"""

TWO_TASKS = """\
import asyncio

async def on_message(ws, msg):
    asyncio.create_task(broadcast(msg))

async def on_close(ws):
    asyncio.ensure_future(cleanup(ws))
"""

COMPLEX = "def handle(a):\n" + "".join(
    f"    if a == {i}:\n        return {i}\n" for i in range(12)
) + "    return 0\n\n\ndef small():\n    return 1\n"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"SARIF schema not found at {SCHEMA_PATH} (expected in <repo>/../shared/schemas)")
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(log: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(log, schema)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def findings_for(src: str, path: str = "example.py") -> list[Finding]:
    found = check_source(src, ["WS205"], path=path)
    assert found, "WS205 should fire on the sample"
    return sorted(found, key=lambda f: f.sort_key)


def sarif_log(findings: list[Finding]) -> dict[str, Any]:
    return json.loads(sarif.render(findings, load_rules(())))


# --------------------------------------------------------------------------
# SARIF
# --------------------------------------------------------------------------


def test_sarif_valid_and_complete(in_tmp: Path, schema: dict[str, Any]) -> None:
    findings = findings_for(TWO_TASKS, path=str(in_tmp / "pkg" / "server.py"))
    log = sarif_log(findings)
    validate(log, schema)
    assert log["version"] == "2.1.0" and log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "wsrefactor"
    from wsrefactor import __version__

    assert driver["version"] == __version__
    # wsrefactor's pyproject sets no [project.urls]: no link that points nowhere
    assert "informationUri" not in driver and "wsrefactor/wsrefactor" not in json.dumps(log)
    (rule,) = driver["rules"]
    assert rule["id"] == "WS205" and rule["name"] == "dangling-task"
    rules = load_rules(())
    assert rule["shortDescription"]["text"] == rules["WS205"].summary
    # the whole "What it does" section, joined into one paragraph: no heading, no later section
    full = rule["fullDescription"]["text"]
    assert full.startswith(
        "Finds `asyncio.create_task(...)`, `asyncio.ensure_future(...)` and `loop.create_task(...)` "
        "calls whose result is thrown away (an expression statement, or assigned to `_`)."
    )
    assert "\n" not in full and "#" not in full and "Why is this bad" not in full
    assert full == " ".join(rules["WS205"].docs().split("## What it does", 1)[1].split("##", 1)[0].split())
    assert "helpUri" not in rule and rule["help"]["markdown"] == rules["WS205"].docs()
    assert "security-severity" not in rule.get("properties", {})
    assert rule["defaultConfiguration"]["level"] == "warning"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == Path(os.getcwd()).as_uri() + "/"
    assert len(run["results"]) == 2
    for result, finding in zip(run["results"], findings):
        assert result["ruleId"] == "WS205" and result["ruleIndex"] == 0
        assert result["level"] == "warning"
        assert result["message"]["text"] == finding.message
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"] == {"uri": "pkg/server.py", "uriBaseId": "%SRCROOT%"}
        assert loc["region"] == {
            "startLine": finding.line,
            "startColumn": finding.column,
            "endLine": finding.end_line,
            "endColumn": finding.end_column,
        }
        (fix,) = result["fixes"]
        assert fix["description"]["text"] == finding.fix.description
        assert fix["artifactChanges"][0]["artifactLocation"]["uri"] == "pkg/server.py"


def test_sarif_levels_and_generated_bandit_rule(in_tmp: Path, schema: dict[str, Any]) -> None:
    base = dict(path="a.py", line=1, column=1, end_line=1, end_column=2, context="ctx")
    findings = [
        Finding(code="B101", name="assert_used", message="Use of assert", severity=Severity.INFO,
                category="bandit", **base),
        Finding(code="WS000", name="parse-error", message="syntax error", severity=Severity.ERROR, **base),
        Finding(code="WS205", name="dangling-task", message="m", severity=Severity.WARNING, **base),
    ]
    log = sarif_log(findings)
    validate(log, schema)
    run = log["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(ids) == ["B101", "WS000", "WS205"]
    bandit_rule = run["tool"]["driver"]["rules"][ids.index("B101")]
    assert bandit_rule["name"] == "assert_used"
    assert [r["level"] for r in run["results"]] == ["note", "error", "warning"]
    for r in run["results"]:
        assert ids[r["ruleIndex"]] == r["ruleId"]


def test_sarif_full_description_is_the_whole_section() -> None:
    docs = "## What it does\nFirst line\ncontinued.\n\nSecond paragraph.\n```python\ncode()\n```\nThird.\n\n## Why is this bad?\nNo."
    assert sarif.section(docs) == "First line continued.\n\nSecond paragraph.\n\nThird."


def test_sarif_project_urls_used_only_when_set(in_tmp: Path, monkeypatch: pytest.MonkeyPatch, schema: dict[str, Any]) -> None:
    monkeypatch.setattr(sarif, "project_urls", lambda: {
        "repository": "https://example.org/ws", "documentation": "https://example.org/ws/README.md",
    })
    log = sarif_log(findings_for(ONE_TASK))
    validate(log, schema)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://example.org/ws"
    assert driver["rules"][0]["helpUri"] == "https://example.org/ws/README.md#ws205-dangling-task"


def test_sarif_security_rules_carry_security_severity_tags_and_cwe(in_tmp: Path, schema: dict[str, Any]) -> None:
    rules = load_rules(())
    base = dict(path="a.py", line=1, column=1, end_line=1, end_column=2, context="ctx")
    findings = [Finding(code=c, name=rules[c].name, message="m", category=rules[c].category, **base)
                for c in ("WS101", "WS102", "WS103", "WS104", "WS205")]
    log = sarif_log(findings)
    validate(log, schema)
    by_id = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert by_id["WS101"]["properties"]["security-severity"] == "8.1"
    assert "external/cwe/cwe-1385" in by_id["WS101"]["properties"]["tags"]
    for code in ("WS101", "WS102", "WS103", "WS104"):
        props = by_id[code]["properties"]
        assert "security" in props["tags"] and 0 < float(props["security-severity"]) <= 10
        full = by_id[code]["fullDescription"]["text"]
        assert full and "\n\n" in full or len(full) > 80
    assert "security-severity" not in by_id["WS205"]["properties"]


def test_sarif_bandit_rules_from_bandit_metadata(in_tmp: Path, schema: dict[str, Any]) -> None:
    """Real bandit findings: helpUri is bandit's page for the plugin, help is its docs, the
    security-severity follows bandit's severity and confidence."""
    from typer.testing import CliRunner

    from wsrefactor.cli import app

    (in_tmp / "a.py").write_text("import hashlib, subprocess\nassert x\nhashlib.md5(b'')\nsubprocess.call(cmd, shell=True)\n")
    proc = CliRunner().invoke(app, ["check", "a.py", "--select", "B", "--no-cache", "--format", "sarif"])
    log = json.loads(proc.stdout)
    assert {"B101", "B324", "B404", "B602"} <= {r["ruleId"] for r in log["runs"][0]["results"]}
    validate(log, schema)
    by_id = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    b101 = by_id["B101"]
    assert re.fullmatch(r"https://bandit\.readthedocs\.io/en/[^/]+/plugins/b101_assert_used\.html", b101["helpUri"])
    assert b101["shortDescription"]["text"] == "Test for use of assert"
    assert "optimised byte code" in b101["fullDescription"]["text"] and "assert" in b101["help"]["text"]
    assert "security" in b101["properties"]["tags"]
    assert b101["properties"]["security-severity"] == "3.0"  # severity low, confidence high
    b602 = by_id["B602"]
    assert float(b602["properties"]["security-severity"]) >= 7.0  # high severity
    assert "external/cwe/cwe-78" in b602["properties"]["tags"]
    b404 = by_id["B404"]  # a blacklist check: bandit's blacklist page and message
    assert "blacklist_imports.html#b404-import-subprocess" in b404["helpUri"]
    assert "subprocess" in b404["fullDescription"]["text"]
    results = [r for r in log["runs"][0]["results"] if r["ruleId"] == "B602"]
    assert results[0]["properties"]["severity"] == "high"


def test_sarif_empty_run_is_valid(in_tmp: Path, schema: dict[str, Any]) -> None:
    log = sarif_log([])
    validate(log, schema)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def _fp(finding_log: dict[str, Any]) -> list[str]:
    return [r["partialFingerprints"]["wsrefactor/v1"] for r in finding_log["runs"][0]["results"]]


def test_fingerprints_survive_line_shift(in_tmp: Path) -> None:
    shifted = "# one\n# two\n# three\n# four\n# five\n" + ONE_TASK
    (before,) = findings_for(ONE_TASK)
    (after,) = findings_for(shifted)
    assert after.line == before.line + 5
    assert _fp(sarif_log([before])) == _fp(sarif_log([after]))


def test_fingerprints_differ_between_findings(in_tmp: Path) -> None:
    fps = _fp(sarif_log(findings_for(TWO_TASKS)))
    assert len(fps) == 2 and fps[0] != fps[1]
    # Same code in another file: another fingerprint.
    (a,) = findings_for(ONE_TASK, path="a.py")
    (b,) = findings_for(ONE_TASK, path="b.py")
    assert _fp(sarif_log([a])) != _fp(sarif_log([b]))


def test_fingerprints_tell_identical_statements_apart(in_tmp: Path) -> None:
    src = "import asyncio\n\nasync def f():\n    asyncio.create_task(x())\n    asyncio.create_task(x())\n"
    fps = _fp(sarif_log(findings_for(src)))
    assert len(fps) == 2 and fps[0] != fps[1]


def _offset(lines: list[str], line: int, column: int) -> int:
    return sum(len(t) for t in lines[: line - 1]) + column - 1


def apply_sarif_replacements(text: str, replacements: list[dict[str, Any]]) -> str:
    """Apply SARIF replacements (regions relative to the original text) like a SARIF consumer."""
    # SARIF line terminators: CR, LF, CRLF.
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text) + [""]
    spans = []
    for rep in replacements:
        region = rep["deletedRegion"]
        start = _offset(lines, region["startLine"], region.get("startColumn", 1))
        end = _offset(lines, region.get("endLine", region["startLine"]), region["endColumn"])
        assert 0 <= start <= end <= len(text)
        spans.append((start, end, rep.get("insertedContent", {}).get("text", "")))
    spans.sort()
    for (_, e1, _), (s2, _, _) in zip(spans, spans[1:]):
        assert e1 <= s2, "replacements overlap"
    for start, end, new in reversed(spans):
        text = text[:start] + new + text[end:]
    return text


def test_sarif_replacements_reproduce_the_fix(in_tmp: Path) -> None:
    (finding,) = findings_for(ONE_TASK)
    (result,) = sarif_log([finding])["runs"][0]["results"]
    (change,) = result["fixes"][0]["artifactChanges"]
    assert apply_sarif_replacements(ONE_TASK, change["replacements"]) == fix_source(ONE_TASK, ["WS205"])


def test_sarif_replacements_reproduce_the_fix_with_crlf(in_tmp: Path) -> None:
    src = ONE_TASK.replace("\n", "\r\n")
    (finding,) = findings_for(src)
    (result,) = sarif_log([finding])["runs"][0]["results"]
    (change,) = result["fixes"][0]["artifactChanges"]
    assert apply_sarif_replacements(src, change["replacements"]) == fix_source(src, ["WS205"])


def test_sarif_region_mapping_of_edits() -> None:
    # Insertion before line 3: a zero-length region at its first column.
    assert sarif.edit_region(Edit(3, 1, 3, 1, "x\n")) == {
        "startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 1}
    # Whole lines 4-5: the region stops before column 1 of line 6, so line 6 is kept.
    assert sarif.edit_region(Edit(4, 1, 6, 1, "")) == {
        "startLine": 4, "startColumn": 1, "endLine": 6, "endColumn": 1}
    text = "a\nb\nc\nd\ne\nf\n"
    reps = [
        {"deletedRegion": sarif.edit_region(Edit(3, 1, 3, 1, "")), "insertedContent": {"text": "X\n"}},
        {"deletedRegion": sarif.edit_region(Edit(4, 1, 6, 1, ""))},
        {"deletedRegion": sarif.edit_region(Edit(7, 1, 7, 1, "")), "insertedContent": {"text": "END\n"}},
    ]
    assert apply_sarif_replacements(text, reps) == "a\nb\nX\nc\nf\nEND\n"


def test_sarif_other_files_become_artifact_changes(in_tmp: Path, schema: dict[str, Any]) -> None:
    fix = FixInfo(
        FixSafety.SAFE,
        "move the handler",
        edits=(Edit(2, 1, 3, 1, ""),),
        other_files=(("lib/helpers.py", (Edit(1, 1, 1, 1, "def helper():\n    pass\n"),)),),
    )
    finding = Finding(code="WS205", name="dangling-task", message="m", path="app.py", line=2, column=1,
                      end_line=2, end_column=5, fix=fix, context="c")
    log = sarif_log([finding])
    validate(log, schema)
    changes = log["runs"][0]["results"][0]["fixes"][0]["artifactChanges"]
    assert [c["artifactLocation"]["uri"] for c in changes] == ["app.py", "lib/helpers.py"]
    assert "insertedContent" not in changes[0]["replacements"][0]  # a pure deletion
    assert changes[1]["replacements"][0]["insertedContent"]["text"].startswith("def helper")


def test_sarif_paths_are_encoded_posix_uris(in_tmp: Path, schema: dict[str, Any]) -> None:
    finding = Finding(code="WS205", name="dangling-task", message="m", path=str(in_tmp / "my dir" / "a#b.py"),
                      line=1, column=1, end_line=1, end_column=2, context="c")
    log = sarif_log([finding])
    validate(log, schema)
    loc = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "my%20dir/a%23b.py", "uriBaseId": "%SRCROOT%"}


# --------------------------------------------------------------------------
# GitHub annotations
# --------------------------------------------------------------------------


def test_github_annotations(in_tmp: Path) -> None:
    findings = findings_for(TWO_TASKS, path=str(in_tmp / "app.py"))
    out = github.render(findings, load_rules(()))
    lines = out.splitlines()
    assert len(lines) == 2
    f = findings[0]
    assert lines[0] == (
        f"::warning file=app.py,line={f.line},col={f.column},endLine={f.end_line},"
        f"endColumn={f.end_column},title=WS205::{f.message}"
    )


def test_github_levels_and_escaping(in_tmp: Path) -> None:
    base = dict(line=3, column=2, end_line=3, end_column=9)
    findings = [
        Finding(code="WS000", name="n", message="100% bad\r\nnext: a, b", path="dir,x/a:b.py",
                severity=Severity.ERROR, **base),
        Finding(code="B101", name="n", message="note", path="b.py", severity=Severity.INFO, **base),
    ]
    first, second = github.render(findings, {}).splitlines()
    assert first == (
        "::error file=dir%2Cx/a%3Ab.py,line=3,col=2,endLine=3,endColumn=9,title=WS000"
        "::100%25 bad%0D%0Anext: a, b"
    )
    assert second.startswith("::notice file=b.py,")
    assert github.escape_property("a%b\rc\nd:e,f") == "a%25b%0Dc%0Ad%3Ae%2Cf"
    assert github.escape_data("a%b\rc\nd:e,f") == "a%25b%0Dc%0Ad:e,f"


def test_github_empty() -> None:
    assert github.render([], {}) == ""


# --------------------------------------------------------------------------
# JUnit
# --------------------------------------------------------------------------


def test_junit_counts_and_content(in_tmp: Path) -> None:
    findings = findings_for(TWO_TASKS, path="a.py") + findings_for(ONE_TASK, path="b.py")
    findings.sort(key=lambda f: f.sort_key)
    root = ET.fromstring(junit.render(findings, load_rules(())))
    assert root.tag == "testsuite" and root.get("name") == "wsrefactor"
    cases = root.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("a.py", "a.py"), ("b.py", "b.py")]
    assert root.get("tests") == "2" and root.get("failures") == "2" and root.get("errors") == "0"
    failures = cases[0].findall("failure")
    assert len(failures) == 2 and len(cases[1].findall("failure")) == 1
    f = findings[0]
    assert failures[0].get("type") == "WS205"
    assert failures[0].get("message") == f"WS205 {f.message}"
    assert failures[0].text == f"a.py:{f.line}:{f.column}: WS205 {f.message}"


def test_junit_escaping_and_no_findings(in_tmp: Path) -> None:
    finding = Finding(code="WS000", name="n", message='<&> "q" \x00', path="a.py", line=1, column=1,
                      end_line=1, end_column=1)
    root = ET.fromstring(junit.render([finding], {}))
    assert root.find("testcase/failure").get("message").startswith('WS000 <&> "q"')
    empty = ET.fromstring(junit.render([], {}))
    (case,) = empty.findall("testcase")
    assert case.get("name") == "wsrefactor" and case.find("failure") is None
    assert empty.get("tests") == "1" and empty.get("failures") == "0" and empty.get("errors") == "0"


# --------------------------------------------------------------------------
# gate results
# --------------------------------------------------------------------------


def gate_json(**settings: Any) -> dict[str, Any]:
    result = gate.evaluate(measure(COMPLEX, "pkg/m.py"), gate.GateSettings(**settings))
    return gate.to_json(result)


def test_gate_sarif(in_tmp: Path, schema: dict[str, Any]) -> None:
    data = gate_json(max_cc=5, max_lines=10, max_average="A")
    log = json.loads(sarif.render_gate(data))
    validate(log, schema)
    run = log["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(ids) == ["GATE-AVG", "WS301"]  # handle() is over both limits: one result
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) == {"GATE-AVG", "WS301"} and len(run["results"]) == 2
    for r in run["results"]:
        assert ids[r["ruleIndex"]] == r["ruleId"] and r["level"] == "error"
    loc = by_rule["WS301"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "pkg/m.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 1 and loc["region"]["startColumn"] == 1
    assert "cc 13 > 5; length 26 > 10" in by_rule["WS301"]["message"]["text"]
    assert [r["metric"] for r in by_rule["WS301"]["properties"]["reasons"]] == ["cc", "length"]
    assert "locations" not in by_rule["GATE-AVG"]  # no location given by the caller
    # Fingerprints use the baseline key, not the line: shifting the file keeps them.
    shifted = gate.to_json(gate.evaluate(measure("\n\n\n" + COMPLEX, "pkg/m.py"), gate.GateSettings(max_cc=5)))
    fp = {r["ruleId"]: r["partialFingerprints"] for r in json.loads(sarif.render_gate(shifted))["runs"][0]["results"]}
    assert fp["WS301"] == by_rule["WS301"]["partialFingerprints"]
    # only long: WS302
    only_long = json.loads(sarif.render_gate(gate_json(max_cc=50, max_lines=10)))["runs"][0]
    assert [r["ruleId"] for r in only_long["results"]] == ["WS302"]


def test_gate_rule_names_are_the_rules_names(in_tmp: Path) -> None:
    rules = load_rules(())
    for code in ("WS301", "WS302"):
        assert sarif.gate_rule_descriptor(code)["name"] == rules[code].name
    assert {sarif.gate_rule_descriptor(c)["name"] for c in ("WS301", "WS302")} == {"complex-function", "long-function"}


def test_gate_average_result_carries_a_location(in_tmp: Path, schema: dict[str, Any]) -> None:
    from wsrefactor.commands.gate import average_location

    result = gate.evaluate(measure(COMPLEX, "pkg/m.py"), gate.GateSettings(max_cc=50, max_lines=500, max_average="A"))
    # a command-line limit: the most complex function, the first place to lower the mean
    data = {**gate.to_json(result), "average_location": average_location(result, None, from_config=False)}
    log = json.loads(sarif.render_gate(data))
    validate(log, schema)
    (avg,) = log["runs"][0]["results"]
    assert avg["ruleId"] == "GATE-AVG"
    loc = avg["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "pkg/m.py" and loc["region"]["startLine"] == 1
    # a limit from the config: the setting's line
    (in_tmp / "pyproject.toml").write_text("[tool.wsrefactor.gate]\nmax-cc = 50\nmax-average = 'A'\n")
    data["average_location"] = average_location(result, str(in_tmp / "pyproject.toml"), from_config=True)
    (avg,) = json.loads(sarif.render_gate(data))["runs"][0]["results"]
    loc = avg["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "pyproject.toml" and loc["region"]["startLine"] == 3
    assert github.render_gate(data).startswith("::error file=pyproject.toml,line=3,col=1,title=GATE-AVG::")


def test_gate_passing_sarif(in_tmp: Path, schema: dict[str, Any]) -> None:
    log = json.loads(sarif.render_gate(gate_json(max_cc=50, max_lines=500)))
    validate(log, schema)
    assert log["runs"][0]["results"] == []


def test_gate_github(in_tmp: Path) -> None:
    lines = github.render_gate(gate_json(max_cc=5, max_lines=10, max_average="A")).splitlines()
    assert len(lines) == 2  # handle() is over both limits: one annotation, both reasons
    assert lines[0].startswith("::error file=pkg/m.py,line=1,col=1,endLine=26,title=WS301::handle: cc 13 > 5; length 26 > 10")
    assert lines[-1].startswith("::error title=GATE-AVG::average cc 7.00 > 5")


def test_gate_junit(in_tmp: Path) -> None:
    root = ET.fromstring(junit.render_gate(gate_json(max_cc=5, max_lines=10, max_average="A")))
    cases = root.findall("testcase")
    assert root.get("tests") == "2" and root.get("failures") == "2" and root.get("errors") == "0"
    file_case = next(c for c in cases if c.get("name") == "pkg/m.py")
    (failure,) = file_case.findall("failure")  # one function, both reasons
    assert failure.get("type") == "WS301" and "cc 13 > 5; length 26 > 10" in failure.get("message")
    avg = next(c for c in cases if c.get("name") == "average")
    assert avg.find("failure").get("type") == "GATE-AVG"
    passing = ET.fromstring(junit.render_gate(gate_json(max_cc=50, max_lines=500)))
    assert passing.get("tests") == "1" and passing.get("failures") == "0"


# --------------------------------------------------------------------------
# end to end
# --------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", str(tmp_path), "--no-cache", "--select", "WS", *args],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )


def test_cli_sarif_end_to_end(tmp_path: Path, schema: dict[str, Any]) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "server.py").write_text(TWO_TASKS, encoding="utf-8")
    (tmp_path / "clean.py").write_text("x = 1\n", encoding="utf-8")
    proc = _cli(tmp_path, "--format", "sarif")
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    validate(log, schema)
    run = log["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["WS205", "WS205"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"pkg/server.py"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    # The fixes carried in the report reproduce `wsrefactor fix` for each finding on its own.
    for result in run["results"]:
        (change,) = result["fixes"][0]["artifactChanges"]
        fixed = apply_sarif_replacements(TWO_TASKS, change["replacements"])
        assert "_keep_task(" in fixed and fixed != TWO_TASKS


@pytest.mark.parametrize("fmt", ["github", "junit"])
def test_cli_other_formats(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "a.py").write_text(ONE_TASK, encoding="utf-8")
    proc = _cli(tmp_path, "--format", fmt)
    assert proc.returncode == 1, proc.stderr
    if fmt == "github":
        assert proc.stdout.startswith("::warning file=a.py,line=4,col=5,")
    else:
        root = ET.fromstring(proc.stdout)
        assert root.get("tests") == "1" and root.get("failures") == "1"
