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


def test_last_binding_in_source_order_wins_like_the_import_table():
    tree = ast.parse(SOURCE)
    imports = index(tree).imports
    table = ImportTable(cst.parse_module(SOURCE))
    assert imports.aliases == table.aliases
    for expr in ("sleep", "time.sleep", "os.path.join", "sib.f", "thing", "open", "print"):
        assert imports.resolve(ast.parse(expr, mode="eval").body) == table.resolve(cst.parse_expression(expr)), expr


def test_index_is_shared_per_tree_and_renewed_for_the_next():
    first, second = ast.parse("import a"), ast.parse("import b")
    assert index(first) is index(first)
    assert index(second).imports.aliases == {"b": "b"}
    assert index(first).imports.aliases == {"a": "a"}


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
