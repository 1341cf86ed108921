"""The shared node index: one walk, the nodes ``ast.walk`` yields, by type and in its order."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.nodes import NodeIndex, per_tree


def test_index_is_shared_per_tree_and_renewed_for_the_next():
    first, second = ast.parse("import a"), ast.parse("import b\nimport c")
    assert NodeIndex.of(first) is NodeIndex.of(first)
    assert len(NodeIndex.of(second).nodes(ast.Import)) == 2
    assert len(NodeIndex.of(first).nodes(ast.Import)) == 1
    analyses = Analyses(first, "import a")
    assert analyses(NodeIndex) is NodeIndex.of(first)


def test_per_tree_computes_once_per_tree_and_arguments():
    calls: list[tuple[int, int]] = []

    def count(tree: ast.Module, n: int) -> int:
        calls.append((id(tree), n))
        return len(tree.body) + n

    tree = ast.parse("x = 1\ny = 2")
    assert per_tree(count, tree, 1) == 3 and per_tree(count, tree, 1) == 3 and per_tree(count, tree, 2) == 4
    assert len(calls) == 2


def test_buckets_hold_what_ast_walk_yields_in_its_order():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("ast.py", "asyncio/base_events.py", "typing.py", "_pydecimal.py"):
        tree = ast.parse((stdlib / name).read_text(encoding="utf-8"))
        expected: dict[type, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if not isinstance(node, ast.expr_context):
                expected.setdefault(type(node), []).append(node)
        idx = NodeIndex.of(tree)
        assert set(idx._buckets) == set(expected)
        for kind, nodes in expected.items():
            assert idx.nodes(kind) == nodes, kind
        functions = idx.in_source_order(ast.FunctionDef, ast.AsyncFunctionDef)
        assert functions == sorted(functions, key=lambda n: (n.lineno, n.col_offset))
        assert idx.has(ast.FunctionDef) and not idx.has(ast.Nonlocal) or name != "typing.py"
