"""pytest plugin of ``python -m wsrefactor.proof``: each test's outcome, by node id, as JSON.

Loaded with ``-p wsrefactor.proof_pytest`` into a fixed project's own test run; writes the file named
by ``WSREFACTOR_PROOF_OUTCOMES`` at the end. A collection error is recorded as an ``error`` of the
module, so a fix that breaks an import cannot make its tests silently disappear.
"""

from __future__ import annotations

import json
import os
from typing import Any

_OUTCOMES: dict[str, str] = {}
_BAD = ("failed", "error")


def pytest_runtest_logreport(report: Any) -> None:
    if report.when != "call" and report.outcome == "passed":
        return
    outcome = "error" if report.when != "call" and report.failed else report.outcome
    if _OUTCOMES.get(report.nodeid) in _BAD:
        return  # a teardown error after a failure: the failure is what matters
    _OUTCOMES[report.nodeid] = outcome


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _OUTCOMES[f"{report.nodeid}::<collection>"] = "error"


def pytest_sessionfinish(session: Any) -> None:
    target = os.environ.get("WSREFACTOR_PROOF_OUTCOMES")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(_OUTCOMES, handle, indent=0, sort_keys=True)
