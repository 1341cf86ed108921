"""The shared ast index agrees with the libcst import table the rules use."""

from __future__ import annotations

import ast

import libcst as cst

from wsrefactor.names import ImportTable
from wsrefactor.rules._prefilter import index

SOURCE = '''
def setup():
    from fakeclock import sleep
    import numpy as time
from time import sleep
import time
import os.path
from . import sibling as sib
from ..pkg import thing
def open(): ...
'''


def test_every_meaning_of_a_name_is_kept_and_includes_the_import_tables():
    """libcst's table keeps the last binding in source order; the ast twin keeps them all, so
    what the table resolves is always among the twin's answers (a prefilter never loses it)."""
    tree = ast.parse(SOURCE)
    imports = index(tree).imports
    table = ImportTable(cst.parse_module(SOURCE))
    assert imports.aliases == {
        "sleep": {"fakeclock.sleep", "time.sleep"}, "time": {"numpy", "time"}, "os": {"os"},
        "sib": {".sibling"}, "thing": {"..pkg.thing"},
    }
    for expr in ("sleep", "time.sleep", "os.path.join", "sib.f", "thing", "open", "print", "make().attr", "q[0].get"):
        resolved = imports.resolve(ast.parse(expr, mode="eval").body)
        expected = table.resolve(cst.parse_expression(expr))
        assert (expected in resolved) if expected else not resolved, expr
    sleep = ast.parse("sleep", mode="eval").body
    assert imports.may_be(sleep, {"time.sleep"}) and not imports.surely(sleep, {"time.sleep"})
    assert imports.surely(sleep, {"time.sleep", "fakeclock.sleep"})
    assert imports.binds_any({"numpy"}) and not imports.binds_any({"asyncio"})


def test_index_is_shared_per_tree_and_renewed_for_the_next():
    first, second = ast.parse("import a"), ast.parse("import b")
    assert index(first) is index(first)
    assert index(second).imports.aliases == {"b": {"b"}}
    assert index(first).imports.aliases == {"a": {"a"}}


def test_buckets_hold_what_ast_walk_yields_in_its_order():
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("ast.py", "asyncio/base_events.py", "typing.py", "_pydecimal.py"):
        tree = ast.parse((stdlib / name).read_text(encoding="utf-8"))
        expected: dict[type, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if not isinstance(node, ast.expr_context):
                expected.setdefault(type(node), []).append(node)
        idx = index(tree)
        assert set(idx._buckets) == set(expected)
        for kind, nodes in expected.items():
            assert idx.nodes(kind) == nodes, kind
