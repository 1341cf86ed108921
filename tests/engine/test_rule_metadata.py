"""The rule API a plugin written for the libcst-visitor days still finds, now that a rule class is no
longer a libcst visitor (``wsrefactor.lazy``): metadata providers read with ``get_metadata``, and
``fix_node_types`` given as classes as well as names."""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import PositionProvider

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module
from wsrefactor.model import Edit, FixSafety, Severity
from wsrefactor.rule import Fix, Rule, SemanticRule
from wsrefactor.semantic.detection import detect_at


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


class RenameX(SemanticRule):
    """Renames ``x`` to ``y`` (for the test); a plugin giving ``fix_node_types`` as classes."""

    code = "XT901"
    name = "rename-x"
    severity = Severity.WARNING
    fix_safety = FixSafety.SAFE
    fix_node_types = (cst.Name,)

    @classmethod
    def detect(cls, analyses, options):
        for node in ast.walk(analyses.tree):
            if isinstance(node, ast.Name) and node.id == "x":
                yield detect_at(analyses, node, "x", fixable=True)

    def fix(self, node, detection):
        return Fix(FixSafety.SAFE, "rename", replacements={node: cst.Name("y")})


def test_fix_node_types_may_be_classes_or_their_names():
    text = "x = 1\n"
    for kinds in ((cst.Name,), ("Name",)):
        rule = type("Rename", (RenameX,), {"fix_node_types": kinds})
        analysis = analyze_module("m.py", cst.parse_module(text), [rule], Config(), want_edits=True, tree=ast.parse(text), text=text)
        assert [f.fix.edits if f.fix is not None else None for f in analysis.findings] == [(Edit(1, 1, 2, 1, "y = 1\n"),)], kinds
