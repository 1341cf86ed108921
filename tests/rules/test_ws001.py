"""WS001 unused-suppression: a suppression comment that suppressed nothing is reported at the
comment; one that did its job, codes of rules that did not run, and other tools' codes are not."""

from __future__ import annotations

from tests.rules._semantic_paths import write
from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, execute
from wsrefactor.selection import Selection

SOURCE = """
import asyncio
import time

async def handler():
    time.sleep(1)  # wsrefactor: ignore[WS201]
    await asyncio.sleep(1)  # wsrefactor: ignore[WS201]
    x = 1  # noqa: WS203
    return x  # noqa: E501
"""


def _found(path, select: tuple[str, ...]) -> list[tuple[str, int, int, str]]:
    job = Job(Config(), Selection(select, (), tuple(load_rules(()))))
    run = execute([str(path)], job, jobs=1)
    return [(f.code, f.line, f.column, f.message) for f in run.findings]


def test_a_suppression_that_suppressed_nothing_is_reported_at_the_comment(tmp_path):
    path = write(tmp_path, SOURCE)
    assert _found(path, ("WS",)) == [
        ("WS001", 6, 29, "unused suppression for WS201"),
        ("WS001", 7, 12, "unused suppression for WS203"),
    ]


def test_codes_of_rules_that_did_not_run_are_not_judged(tmp_path):
    path = write(tmp_path, SOURCE)
    # WS203 is deselected: its ``noqa`` cannot be judged; the used WS201 one stays silent
    assert _found(path, ("WS001", "WS201")) == [("WS001", 6, 29, "unused suppression for WS201")]
