"""``read_only_visits``: libcst's scope analysis gives the same scopes without rebuilding the tree."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ScopeProvider

from tests.conftest import REPO
from wsrefactor.compat.libcst import read_only_visits
from wsrefactor.walk import walk

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = [*sorted(REPO.joinpath("fixtures").rglob("*.py"))[:25], STDLIB / "ast.py", STDLIB / "dataclasses.py"]


def _nodes(module: cst.Module) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    walk(module, out.append, lambda n: None)
    return out


def _described(scope: object, nodes: dict[int, int]) -> tuple[object, ...] | None:
    """A scope as comparable data: its kind, its assignments and accesses (by name and node
    index in traversal order) and what each access resolves to."""
    if scope is None:
        return None
    assignments = sorted((a.name, nodes.get(id(a.node), -1)) for a in scope.assignments)  # type: ignore[attr-defined]
    accesses = sorted(
        (a.node.value if isinstance(a.node, cst.Name) else type(a.node).__name__, nodes.get(id(a.node), -1),
         tuple(sorted(nodes.get(id(r.node), -1) for r in a.referents if hasattr(r, "node"))))
        for a in scope.accesses  # type: ignore[attr-defined]
    )
    return type(scope).__name__, tuple(assignments), tuple(accesses)


def _scopes(text: str, fast: bool) -> list[tuple[object, ...] | None]:
    module = cst.parse_module(text)
    nodes = _nodes(module)
    index = {id(n): i for i, n in enumerate(nodes)}
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    if fast:
        with read_only_visits():
            scopes = wrapper.resolve(ScopeProvider)
    else:
        scopes = wrapper.resolve(ScopeProvider)
    return [_described(scopes.get(n), index) for n in nodes]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_scopes_equal_libcst_visit(path):
    text = path.read_text(encoding="utf-8")
    assert _scopes(text, fast=True) == _scopes(text, fast=False)


def test_transformers_and_the_visit_outside_the_block_are_libcst_own():
    original = cst.CSTNode.visit

    class Rename(cst.CSTTransformer):
        def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
            return updated_node.with_changes(value=updated_node.value.upper())

    module = cst.parse_module("def f(a):\n    return f'{a!r:>{a}}' + b\n")
    with read_only_visits():
        assert cst.CSTNode.visit is not original
        assert module.visit(Rename()).code == "def F(A):\n    return f'{A!r:>{A}}' + B\n"
    assert cst.CSTNode.visit is original
