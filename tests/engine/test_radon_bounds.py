"""The ast-only bounds that let WS301/WS302 skip radon never fall below radon's own numbers."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest
from radon.complexity import add_inner_blocks, cc_visit_ast
from radon.visitors import Function

from tests.conftest import REPO
from wsrefactor import complexity
from wsrefactor.rules._function_size import functions_over, upper_bounds
from wsrefactor.semantic.nodes import NodeIndex

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def radon_blocks(tree: ast.Module) -> list[Function]:
    """The oracle: radon over the whole file, as ``radon cc --show-closures`` (functions only)."""
    return [b for b in add_inner_blocks(cc_visit_ast(tree)) if isinstance(b, Function)]


def radon_functions(tree: ast.Module) -> dict[int, Function]:
    """The oracle's blocks by the function's ordinal in source order, with real spans."""
    defs = NodeIndex.of(tree).in_source_order(ast.FunctionDef, ast.AsyncFunctionDef)
    ordinal = {(n.lineno, n.col_offset): i for i, n in enumerate(defs)}
    blocks = [b for b in radon_blocks(tree) if (b.lineno, b.col_offset) in ordinal]
    return {ordinal[(b.lineno, b.col_offset)]: b for b in complexity.with_real_spans(blocks, tree)}
FILES = [
    *sorted(REPO.joinpath("fixtures").rglob("*.py")),
    *sorted(STDLIB.joinpath("asyncio").glob("*.py")),
    *sorted(STDLIB.joinpath("email").glob("*.py")),
    *(STDLIB / n for n in ("_pydecimal.py", "argparse.py", "inspect.py", "typing.py", "dataclasses.py")),
]
EDGE = '''
def branches(a, b=1 if x else 2):
    match a:
        case 1 | 2: pass
        case {"k": v} if v: pass
        case _: pass
    try:
        pass
    except A:
        pass
    except B:
        pass
    else:
        pass
    assert a and b or c
    return [i for i in a if i if not i] + [j async for j in b]
'''


def _check(text: str) -> None:
    tree = ast.parse(text)
    blocks = {(b.lineno, b.col_offset): b for b in radon_blocks(tree)}
    functions = NodeIndex.of(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    for metric in ("cc", "lines"):
        for function, bound in zip(functions, upper_bounds(tree, metric)):
            block = blocks.get((function.lineno, function.col_offset))
            if block is None:
                continue  # radon ignores functions inside a function's class
            value = block.complexity if metric == "cc" else block.endline - block.lineno + 1
            assert value <= bound, (metric, function.name, function.lineno, value, bound)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_bounds_hold_on_real_code(path):
    _check(path.read_text(encoding="utf-8"))


def test_bounds_hold_on_every_counted_construct():
    _check(EDGE)


def test_bounds_are_tight_on_plain_code():
    """Not a vacuous bound: on plain code it is radon's number, so most files skip radon."""
    tree = ast.parse("def f(a):\n    if a and a:\n        return 1\n    for x in a:\n        pass\n")
    assert upper_bounds(tree, "cc") == [radon_blocks(tree)[0].complexity] == [4]
    assert upper_bounds(tree, "lines") == [5]


NESTING = '''
def outer(a):
    def closure(b):
        def deeper(c):
            return c if c else b
        return [deeper(x) for x in b if x]
    class Local:  # radon drops a class inside a function, methods and all
        def method(self):
            return 1 if self else 2
    return closure(a) or Local()

class Top:
    if FLAG:
        def conditional(self, x):
            try:
                return x and not x
            except ValueError:
                return None
    class Inner:
        def inner_method(self):
            while self:
                pass
            else:
                return 3
    async def run(self):
        def helper():
            return 1 if Top else 0
        async for item in self:
            assert item or not item
        return helper()
'''


def _same_numbers(tree: ast.Module, metric: str, limit: int) -> None:
    def key(block):
        return (block.lineno, block.col_offset, block.endline, block.complexity)

    value = (lambda b: b.complexity) if metric == "cc" else (lambda b: b.endline - b.lineno + 1)
    every = {o: key(b) for o, b in radon_functions(tree).items() if value(b) > limit}
    assert {o: key(b) for o, b in functions_over(tree, metric, limit).items()} == every


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_plain_check_measures_only_what_can_be_over_and_gets_radons_numbers(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for metric in ("cc", "lines"):
        for limit in (0, 2, 5, 10, 30):
            _same_numbers(tree, metric, limit)


def test_the_blocks_radon_keeps_and_drops_under_any_nesting():
    tree = ast.parse(NESTING)
    for metric in ("cc", "lines"):
        for limit in (0, 1, 2, 3):
            _same_numbers(tree, metric, limit)
    over = functions_over(tree, "cc", 0)
    names = {b.name for b in over.values()}
    assert "method" not in names and {"outer", "closure", "deeper", "conditional", "inner_method", "run"} <= names
