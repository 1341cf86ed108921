"""Text, JSON and SARIF report the same findings and the same fixes (issue #11's "done when").

Run over every fixture (the realistic package included) with every default rule and bandit: the
same (file, line, column, code) in all three formats, and the fix counts of the text summary equal
to the fixes JSON and SARIF say exist, split by safety.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

FIXTURES = REPO / "fixtures"
_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) ")
_SUMMARY = re.compile(r"\((?:(?P<safe>\d+) fixable with `wsrefactor fix`)?(?:; )?"
                      r"(?:(?P<unsafe>\d+) more with `wsrefactor fix --unsafe-fixes`)?\)")


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    args = ("check", "--no-cache", "--exit-zero", "fixtures")
    out = {fmt: run_cli(*args, "--format", fmt, cwd=REPO) for fmt in ("text", "json", "sarif")}
    for fmt, proc in out.items():
        assert proc.returncode == 0, (fmt, proc.stderr[-2000:])
    return {fmt: proc.stdout for fmt, proc in out.items()}


def _text_findings(text: str) -> Counter[tuple[str, int, int, str]]:
    return Counter(
        (Path(m["path"]).as_posix(), int(m["line"]), int(m["col"]), m["code"])
        for m in map(_LINE.match, text.splitlines()) if m
    )


def test_same_findings_in_text_json_and_sarif(outputs: dict[str, str]) -> None:
    from_text = _text_findings(outputs["text"])
    from_json = Counter((f["filename"], f["line"], f["column"], f["code"]) for f in json.loads(outputs["json"]))
    results = json.loads(outputs["sarif"])["runs"][0]["results"]
    from_sarif = Counter(
        (loc["artifactLocation"]["uri"], loc["region"]["startLine"], loc["region"]["startColumn"], r["ruleId"])
        for r in results for loc in [r["locations"][0]["physicalLocation"]]
    )
    assert {code[:2] for *_, code in from_text} >= {"WS", "B1", "B6"}
    assert from_text == from_json == from_sarif
    assert sum(from_text.values()) > 300


def test_same_fixes_in_text_json_and_sarif(outputs: dict[str, str]) -> None:
    summary = _SUMMARY.search(outputs["text"].splitlines()[-1])
    assert summary, outputs["text"].splitlines()[-1]
    text_counts = {"safe": int(summary["safe"] or 0), "unsafe": int(summary["unsafe"] or 0)}
    json_counts = Counter(f["fix"]["safety"] for f in json.loads(outputs["json"]) if f["fix"])
    results = json.loads(outputs["sarif"])["runs"][0]["results"]
    sarif_counts = Counter(r["properties"]["fix"]["safety"] for r in results if "fix" in r.get("properties", {}))
    assert text_counts == dict(json_counts) == dict(sarif_counts)
    assert text_counts["safe"] and text_counts["unsafe"]
    # a planned fix carries its edits in both machine formats (cross-file fixes included)
    found = json.loads(outputs["json"])
    planned = [f for f in found if f["fix"] and f["fix"]["planned"]]
    assert all(f["fix"]["edits"] or f["fix"]["other_files"] for f in planned)
    assert len(planned) == sum(1 for r in results if r.get("fixes"))
    assert {"WS303", "WS304"} <= {f["code"] for f in planned}
