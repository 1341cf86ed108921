"""Issue 14 item 10: ``wsrefactor rules`` says honestly which fixes are safe, and a plain ``fix``
(safe fixes only) does useful work."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsrefactor.model import FixSafety
from wsrefactor.registry import load_rules
from wsrefactor.rule import fix_label
from wsrefactor.testing import check_source, fix_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RULES = {code: rule for code, rule in load_rules().items() if code.startswith("WS")}


def _fix_safeties(code: str) -> set[FixSafety]:
    """The safety of every fix the rule offers on its own fixtures."""
    seen: set[FixSafety] = set()
    for path in sorted((FIXTURES / code).glob("*.py")):
        if path.name.endswith(".fixed.py"):
            continue
        for finding in check_source(path.read_text(encoding="utf-8"), [code], path=str(path)):
            if finding.code == code and finding.fix is not None:
                seen.add(finding.fix.safety)
    return seen


# WS301/WS302 plan their (unsafe) fixes on demand; WS303/WS304 fix in the project phase
# (cross-file payloads), not through a finding's fix: both are covered by their own tests.
ON_DEMAND_OR_PROJECT = ("WS301", "WS302", "WS303", "WS304")


@pytest.mark.parametrize("code", sorted(c for c in RULES if (FIXTURES / c).is_dir() and c not in ON_DEMAND_OR_PROJECT))
def test_the_rules_column_matches_the_fixes_the_rule_makes(code):
    label, seen = fix_label(RULES[code]), _fix_safeties(code)
    if label == "none":
        assert not seen
    elif label == "mixed":  # some fixes keep behaviour, others do not: both kinds occur
        assert seen == {FixSafety.SAFE, FixSafety.UNSAFE}, seen
    else:
        assert seen == {FixSafety(label)}, seen


def test_a_plain_fix_resolves_findings_without_unsafe_fixes():
    source = "import time\n\n\nasync def handler(ws):\n    time.sleep(1)\n    await ws.send('x')\n"
    fixed = fix_source(source, ["WS201"], unsafe=False)
    assert "await asyncio.sleep(1)" in fixed and "import time" not in fixed
    assert not [f for f in check_source(fixed, ["WS201"]) if f.code == "WS201"]
