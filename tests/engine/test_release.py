"""A plain check leaves no reference cycles behind a file (``Analyses.release``).

The scopes, the models and the ``Analyses`` cache point at each other and at the file's ``ast``;
left to the cycle collector, every node of every file is walked on the way out. Released, they
are freed by reference counting as soon as the file is done. A cycle found here is a cost paid on
every file of every check, so the test names what it found.
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection
from wsrefactor.semantic import Analyses, SemanticModel

ROOT = Path(__file__).resolve().parents[2]
# Files that exercise every model: endpoints, registrations, broadcasts, queues, blocking calls.
FILES = sorted(
    p for code in ("WS101", "WS103", "WS104", "WS201", "WS203", "WS204") for p in (ROOT / "fixtures" / code).glob("*.py")
    if not p.name.endswith(".fixed.py")
)


def _left_in_cycles(run: object) -> list[str]:
    """The types of the objects ``run()`` leaves for the cycle collector (ours and the ``ast``'s)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()  # type: ignore[operator]
        gc.collect()
        found = [o for o in gc.garbage if isinstance(o, ast.AST) or type(o).__module__.startswith("wsrefactor")]
        return sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in found})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def test_fixtures_are_there():
    assert len(FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_plain_check_of_a_file_leaves_no_cycles(path):
    job = Job(Config(), Selection(("WS",), (), tuple(load_rules(()))))
    result = None

    def run() -> None:
        nonlocal result
        result = process_file(str(path), job)

    assert _left_in_cycles(run) == []
    assert result is not None and result.evaluated and not result.internal_error  # really analysed


def test_release_forgets_the_analyses_and_they_can_be_asked_again():
    text = "import asyncio\n\nclass C:\n    def m(self):\n        x = 1\n        return [x for _ in ()]\n"
    analyses = Analyses(ast.parse(text), text, "m.py")
    model = analyses(SemanticModel)
    assert model.scopes.module.children
    analyses.release()
    assert not model.scopes.module.children and not model.scopes.module.bindings
    again = analyses(SemanticModel)
    assert again is not model and [s.name for s in again.scopes.module.children] == ["C"]


def test_without_release_the_same_check_would_leave_cycles():
    """The test above can fail: building the models without releasing them leaves cycles."""
    path = next(p for p in FILES if p.parent.name == "WS104")
    text = path.read_text(encoding="utf-8")

    def run() -> None:
        analyses = Analyses(ast.parse(text), text, str(path))
        analyses(SemanticModel)

    assert "wsrefactor.semantic.scopes.Scope" in _left_in_cycles(run)
