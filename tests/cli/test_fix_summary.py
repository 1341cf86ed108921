"""``Fixed N findings`` counts findings present before the fixes and absent after, not passes."""

from __future__ import annotations

from tests.conftest import run_cli
from wsrefactor.engine import resolved
from wsrefactor.model import Finding, Severity


def _f(code: str, context: str) -> Finding:
    return Finding(
        code=code, name="x", message="m", path="a.py", line=1, column=1, end_line=1, end_column=2,
        severity=Severity.WARNING, category="c", context=context,
    )


def test_a_finding_still_present_is_not_counted() -> None:
    before = [_f("WS301", "def f"), _f("WS201", "s:time.sleep(1)"), _f("WS201", "s:requests.get(u)")]
    after = [_f("WS301", "def f"), _f("WS201", "s:requests.get(u)")]
    assert resolved(before, after) == {"WS201": 1}


def test_a_reworded_statement_is_not_a_resolved_finding() -> None:
    """The fingerprint changed but the code's count did not drop: nothing was resolved."""
    assert resolved([_f("WS102", "s:a = x")], [_f("WS102", "s:a = y")]) == {}


def test_summary_equals_findings_gone_end_to_end(tmp_path) -> None:
    src = (
        "import time\n\nimport requests\n\n\nasync def f(ws):\n    time.sleep(1)\n"
        "    requests.get('u')\n    time.sleep(2)\n"
    )
    (tmp_path / "a.py").write_text(src)
    r = run_cli("fix", "--select", "WS201", "--no-cache", ".", cwd=tmp_path)
    assert "Fixed 3 findings in 1 file(s); 0 remaining" in r.stdout, r.stdout
