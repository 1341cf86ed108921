"""Edits planned on demand: JSON, SARIF and the dashboard say *that* an extract-method fix is
offered without planning it; ``--fix-edits`` plans it. Text and JSON agree in both modes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import wsrefactor.commands.report  # noqa: F401 - registers the command
from tests.conftest import REPO
from wsrefactor.cli import app
from wsrefactor.fixes import apply_edits

FIXTURES = REPO / "fixtures" / "WS301"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("refused_early_return.py", "sync_outputs.py"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "tasks.py").write_text("import asyncio\n\n\nasync def f():\n    asyncio.create_task(g())\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", "--no-cache", "--jobs", "1", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_text_and_json_agree_on_a_refused_extraction(work: Path) -> None:
    _, text = check("refused_early_return.py")
    assert "(1 more with `wsrefactor fix --unsafe-fixes`)" in text
    _, out = check("refused_early_return.py", "--format", "json")
    (finding,) = json.loads(out)
    assert finding["fix"]["safety"] == "unsafe" and finding["fix"]["planned"] is False
    assert finding["fix"]["edits"] == [] and "--fix-edits" in finding["fix"]["description"]
    assert "no safe extraction remains" not in finding["message"]
    # planned: both formats say there is no fix after all
    _, text = check("refused_early_return.py", "--fix-edits")
    assert "no safe extraction remains" in text and "--unsafe-fixes" not in text
    _, out = check("refused_early_return.py", "--format", "json", "--fix-edits")
    (finding,) = json.loads(out)
    assert finding["fix"] is None and "; no safe extraction remains" in finding["message"]  # with the reason after it


def test_extract_method_not_planned_unless_asked(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wsrefactor.rules import _extract

    def boom(self, metric):  # noqa: ANN001 - planning must not happen
        raise AssertionError("extract-method planned without --fix-edits")

    with monkeypatch.context() as m:
        m.setattr(_extract.Extractor, "plan", boom)
        for fmt in ("json", "sarif"):
            code, out = check("sync_outputs.py", "tasks.py", "--format", fmt)
            assert code == 1, out
    _, out = check("sync_outputs.py", "tasks.py", "--format", "json")
    by_code = {f["code"]: f for f in json.loads(out)}
    assert by_code["WS301"]["fix"]["planned"] is False
    # a cheap fix still carries its edits
    cheap = by_code["WS205"]["fix"]
    assert cheap["planned"] is True and cheap["edits"]
    # asked: the extract-method edits are there and apply
    _, out = check("sync_outputs.py", "--format", "json", "--fix-edits")
    (finding,) = [f for f in json.loads(out) if f["code"] == "WS301"]
    assert finding["fix"]["planned"] is True and finding["fix"]["edits"]
    from wsrefactor.model import Edit

    edits = [Edit(e["start"]["line"], e["start"]["column"], e["end"]["line"], e["end"]["column"], e["content"])
             for e in finding["fix"]["edits"]]
    text = Path("sync_outputs.py").read_text()
    assert "def _" in apply_edits(text, edits) and apply_edits(text, edits) != text


def test_sarif_has_no_fix_object_for_an_unplanned_fix(work: Path) -> None:
    _, out = check("sync_outputs.py", "--format", "sarif")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert "fixes" not in result
    _, out = check("sync_outputs.py", "--format", "sarif", "--fix-edits")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["fixes"][0]["artifactChanges"]


def test_dashboard_plans_on_demand(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wsrefactor.rules import _extract

    def boom(self, metric):  # noqa: ANN001
        raise AssertionError("planned")

    with monkeypatch.context() as m:
        m.setattr(_extract.Extractor, "plan", boom)
        result = CliRunner().invoke(app, ["report", "sync_outputs.py", "--html", "r.html", "--jobs", "1"])
        assert result.exit_code == 0, result.output
    page = Path("r.html").read_text()
    assert "Planned on demand" in page and "report --fix-edits" in page
    result = CliRunner().invoke(app, ["report", "sync_outputs.py", "--html", "r2.html", "--jobs", "1", "--fix-edits"])
    assert result.exit_code == 0, result.output
    page = Path("r2.html").read_text()
    assert "Planned on demand" not in page and 'class="add"' in page
