"""Golden files: ``fixtures/<CODE>/<case>.py`` flagged exactly at its ``expect: CODE`` lines,
``<case>.fixed.py`` equal byte for byte to the fixed output, and the fix contracts on every case."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsrefactor.registry import load_rules
from wsrefactor.testing import (
    assert_fix_contracts,
    check_source,
    expected_lines,
    fix_source,
    fixture_cases,
)

ROOT = Path(__file__).resolve().parent.parent / "fixtures"
RULES = {c: r for c, r in load_rules(()).items() if c not in ("WS000", "WS001") and not r.is_project_rule}
CASES = [
    pytest.param(code, path, id=f"{code}/{path.relative_to(ROOT / code)}")
    for code in RULES
    for path in fixture_cases(ROOT, code)
]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_rule_has_golden_fixtures(code):
    cases = fixture_cases(ROOT, code)
    assert cases, f"fixtures/{code}/ is empty"
    assert any(expected_lines(_read(p), code) for p in cases), "no bad case"
    assert any(not expected_lines(_read(p), code) for p in cases), "no good case"


@pytest.mark.parametrize("code,path", CASES)
def test_findings_at_exact_lines(code, path):
    text = _read(path)
    found = sorted(f.line for f in check_source(text, [code]) if f.code == code)
    assert found == expected_lines(text, code)


@pytest.mark.parametrize("code,path", CASES)
def test_fixed_output(code, path):
    text = _read(path)
    expected = path.with_name(path.name[:-3] + ".fixed.py")
    fixed = fix_source(text, [code])
    findings = check_source(text, [code])
    if expected.exists():
        assert fixed == _read(expected)
    elif any(f.fix for f in findings):
        pytest.fail(f"{path.name} has fixable findings but no {expected.name}")
    else:
        assert fixed == text
    assert_fix_contracts(text, fixed, findings, code)
    remaining = [f for f in check_source(fixed, [code]) if f.code == code and f.fix is not None]
    assert remaining == [], "a re-check still finds fixable findings of the fixed rule"
