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
