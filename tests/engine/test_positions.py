"""Positions generated statement by statement equal libcst's full PositionProvider."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from tests.conftest import REPO
from wsrefactor.positions import Positions

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = [
    *sorted(REPO.joinpath("fixtures").rglob("*.py"))[:40],
    *(STDLIB / n for n in ("asyncio/base_events.py", "ast.py", "string.py", "textwrap.py")),
]
ODD = [
    "",
    "\n\n# only a comment\n",
    "#!/usr/bin/env python\n# header\n\nx = 1\n",
    "x = 1  # no trailing newline",
    "x = 1\r\ny = 2\r\n",
    "if a:\n\tb()\n# footer comment\n",
    "@d\n# between\n@e\nclass C:\n    def f(self): return 1\n\n\n# trailing\n",
    "a = 1; b = 2\nasync def f():\n    async with x as y:\n        await y\n",
]


def _all_nodes(module: cst.Module) -> list[cst.CSTNode]:
    nodes: list[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            nodes.append(node)
            return True

    module.visit(Collect())
    return nodes


def _same_positions(text: str, seed: int) -> None:
    module = cst.parse_module(text)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    full = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = Positions(wrapper)
    nodes = _all_nodes(module)
    random.Random(seed).shuffle(nodes)  # asked in any order, as reports come
    for node in nodes:
        assert positions(node) == full[node], (type(node).__name__, text[:60])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_positions_equal_the_full_provider(path):
    _same_positions(path.read_text(encoding="utf-8"), 1)


@pytest.mark.parametrize("text", ODD)
def test_positions_on_odd_modules(text):
    _same_positions(text, 2)


def test_a_node_near_the_top_needs_only_the_first_statement():
    module = cst.parse_module("x = 1\n" + "y = 2\n" * 500)
    positions = Positions(MetadataWrapper(module, unsafe_skip_copy=True))
    first = module.body[0]
    assert positions(first).start.line == 1
    assert positions._next == 1
    assert positions(module.body[-1]).start.line == 501


FIND_TYPES = (cst.Dict, cst.Call, cst.Name, cst.FunctionDef, cst.SimpleStatementLine, cst.BaseCompoundStatement)


def _same_finds(text: str, seed: int) -> Positions:
    """``find`` with the text and ``ast`` (one statement generated on its own) finds exactly the
    node the in-order generation finds, for nodes of every kind a fix looks for."""
    import ast

    module = cst.parse_module(text)
    full = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    fast = Positions(MetadataWrapper(module, unsafe_skip_copy=True), text, ast.parse(text))
    in_order = Positions(MetadataWrapper(module, unsafe_skip_copy=True))
    nodes = [n for n in _all_nodes(module) if isinstance(n, FIND_TYPES)]
    random.Random(seed).shuffle(nodes)
    for node in nodes[:200]:
        rng = full[node]
        span = ((rng.start.line, rng.start.column), (rng.end.line, rng.end.column))
        expected = in_order.find(*span, (type(node),))
        assert fast.find(*span, (type(node),)) is expected, (type(node).__name__, span)
        assert fast(node) == rng
    return fast


@pytest.mark.parametrize("path", SOURCES[:12] + SOURCES[-3:], ids=lambda p: p.name)
def test_find_with_the_text_equals_find_in_order(path):
    _same_finds(path.read_text(encoding="utf-8"), 3)


@pytest.mark.parametrize("text", [t for t in ODD if t.strip()] + [
    "class C:\n\n    # c\n    @d\n\n    # e\n    @f\n    def g(self):\n        return {'a': 1}\n",
    "class C:\n  def f(self):\n      pass\n  x = {1: 2}; y = f(x)\n",
    "class C:\n\tdef f(self):\n\t\treturn {1: 2}\n",
    "def f():\n    if a:\n        return {1: 2}\n    return g({3: 4})\nz = 1  # no newline",
])
def test_find_with_the_text_on_odd_modules(text):
    _same_finds(text, 4)


def test_find_with_the_text_generates_only_the_method_holding_the_span():
    import ast

    text = "class C:\n" + "".join(f"    def m{i}(self):\n        return {{'k': {i}}}\n\n" for i in range(50))
    module = cst.parse_module(text)
    positions = Positions(MetadataWrapper(module, unsafe_skip_copy=True), text, ast.parse(text))
    line = 2 + 3 * 40 + 1  # ``return {'k': 40}``
    found = positions.find((line, 15), (line, 24), (cst.Dict,))
    assert isinstance(found, cst.Dict) and cst.Module([]).code_for_node(found) == "{'k': 40}"
    assert positions._next == 0  # nothing generated in order
    assert len(positions._alone_computed) < len(_all_nodes(module)) // 40
