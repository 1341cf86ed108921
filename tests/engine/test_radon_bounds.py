"""The ast-only bounds that let WS301/WS302 skip radon never fall below radon's own numbers."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO
from wsrefactor.rules._extract import radon_blocks, upper_bounds
from wsrefactor.semantic.nodes import NodeIndex

STDLIB = Path(sysconfig.get_paths()["stdlib"])
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
