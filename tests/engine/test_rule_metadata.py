"""A libcst-visiting rule (a plugin's, say) still declares libcst metadata providers and reads them
with ``get_metadata``, although a rule class is no longer a libcst visitor (``wsrefactor.lazy``)."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module
from wsrefactor.model import Severity
from wsrefactor.rule import Rule


class _Base(Rule):
    METADATA_DEPENDENCIES = (PositionProvider,)


class NamesOnLines(_Base):
    """Reports every name ``x``, on its line (for the test)."""

    code = "XT900"
    name = "names-on-lines"
    severity = Severity.WARNING

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "x":
            line = self.get_metadata(PositionProvider, node).start.line
            self.report(node, f"x on line {line}")


def test_declared_providers_are_resolved_and_read_with_get_metadata():
    text = "a = 1\nx = 2\nprint(a, x)\n"
    analysis = analyze_module("m.py", cst.parse_module(text), [NamesOnLines], Config())
    assert [(f.line, f.message) for f in analysis.findings] == [(2, "x on line 2"), (3, "x on line 3")]


def test_dependencies_are_inherited_and_a_missing_node_can_have_a_default():
    assert NamesOnLines.metadata_dependencies() == frozenset({PositionProvider})
    assert Rule.metadata_dependencies() == frozenset()
    rule = NamesOnLines.__new__(NamesOnLines)
    rule.metadata = {PositionProvider: {}}
    assert rule.get_metadata(PositionProvider, cst.Name("y"), None) is None
