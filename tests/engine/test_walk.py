"""The fast read-only walk visits exactly what libcst's ``visit`` visits, in the same order."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
import pytest

from tests.conftest import REPO
from wsrefactor.registry import load_rules
from wsrefactor.walk import child_fields, walk

STDLIB = Path(sysconfig.get_paths()["stdlib"])


class _Recorder(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("enter", id(node)))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


def _events_match(text: str) -> None:
    module = cst.parse_module(text)
    expected = _Recorder()
    module.visit(expected)
    got: list[tuple[str, int]] = []
    walk(module, lambda n: got.append(("enter", id(n))), lambda n: got.append(("leave", id(n))))
    assert got == expected.events


def _sources() -> list[Path]:
    files = sorted(REPO.joinpath("fixtures").rglob("*.py"))
    files += sorted(STDLIB.joinpath("asyncio").glob("*.py"))
    files += [STDLIB / n for n in ("ast.py", "typing.py", "dataclasses.py", "inspect.py", "string.py", "re/_parser.py")]
    files += sorted(STDLIB.joinpath("test").glob("test_grammar.py")) + sorted(STDLIB.joinpath("test").glob("test_fstring.py"))
    return [f for f in files if f.exists()]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_walk_order_equals_libcst_visit(path):
    text = path.read_text(encoding="utf-8")
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        pytest.skip("libcst cannot parse this file")
    _events_match(text)


def test_walk_order_on_every_rule_example():
    for rule in load_rules(()).values():
        for example in [*rule.VALID, *rule.INVALID]:
            _events_match(example.source)


@pytest.mark.parametrize(
    "snippet",
    [
        "@d1\n@d2(x)\nasync def f[T: int = str](a, /, b: int = 1, *c, d, **e) -> T:\n    return (yield)\n",
        "from .a import (b as c, d,)\nfrom . import *\nimport a.b as c\n",
        "x = f'{a!r:>{w}} {b=}' 'implicit' + rb'\\x00'\n",
        "match p:\n    case [1, *rest] | {'k': v, **kw} if v: pass\n    case C(a=1) as c: pass\n    case _: pass\n",
        "try:\n    pass\nexcept* E as e:\n    pass\nelse:\n    pass\nfinally:\n    pass\n",
        "with (a as b, c):\n    lambda x=1, *y, **z: (x := y)\n",
        "type Alias[K, *Ts, **P] = dict[K, tuple[*Ts]]\nglobal g; nonlocal_ = [i async for i in y if i]\n",
        "class C(B, metaclass=M):\n    x: int = 1\n    del a[1:2, ::3], b.c\n",
    ],
)
def test_walk_order_on_rare_syntax(snippet):
    _events_match(snippet)


def test_every_node_class_has_a_known_child_order():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    missing = [
        c.__name__ for c in subclasses(cst.CSTNode)
        if "_visit_and_replace_children" in c.__dict__ and child_fields(c) is None
    ]
    assert missing == []


class _Pruning(_Recorder):
    """Skips the bodies of functions, as a rule's finder often does (through libcst's own
    ``visit_X`` dispatch)."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        super().on_visit(node)
        return cst.CSTVisitor.on_visit(self, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


@pytest.mark.parametrize("path", _sources()[:40], ids=lambda p: p.name)
def test_visit_equals_libcst_visit_with_pruning(path):
    from wsrefactor.walk import visit

    text = path.read_text(encoding="utf-8")
    module = cst.parse_module(text)
    expected, got = _Pruning(), _Pruning()
    module.visit(expected)
    visit(module, got)
    assert got.events == expected.events
    if "def " in text:
        assert len(got.events) < len(_all_events(module))


def test_visit_keeps_libcst_only_for_attribute_hooks_of_the_visitor_itself():
    """libcst's no-op ``visit_Node_attr`` hooks (inherited by every visitor) do not send a
    visitor back to libcst's rebuilding traversal; a hook the visitor defines does."""
    from wsrefactor.walk import _attribute_hooks

    class Attr(cst.CSTVisitor):
        def visit_Call_func(self, node: cst.Call) -> None:
            pass

    from libcst.metadata.scope_provider import ScopeVisitor

    assert not _attribute_hooks(_Pruning)
    assert _attribute_hooks(Attr)
    assert _attribute_hooks(ScopeVisitor)  # libcst's own visitors count too (``visit_ClassDef_bases``)


def _all_events(module: cst.Module) -> list[tuple[str, int]]:
    recorder = _Recorder()
    module.visit(recorder)
    return recorder.events


class _LibcstReplace(cst.CSTTransformer):
    """The reference: libcst's own transformer swapping nodes by identity."""

    def __init__(self, replacements):
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):
        value = self.replacements.get(original_node)
        if value is None:
            return updated_node
        return value(updated_node) if callable(value) and not isinstance(value, cst.CSTNode) else value


def _replacements(module: cst.Module, seed: int) -> dict:
    """A mix of what fixes hand ``apply_fixes``: new names, nested callables that wrap the
    already-updated node, statements removed or flattened into two."""
    import random

    rng = random.Random(seed)
    found: list[cst.CSTNode] = []
    walk(module, found.append, lambda n: None)
    out: dict = {}
    for node in rng.sample(found, min(len(found), 12)):
        if isinstance(node, cst.Name):
            out[node] = cst.Name(node.value + "_x")
        elif isinstance(node, cst.SimpleStatementLine):
            out[node] = rng.choice(
                [cst.RemoveFromParent(), cst.FlattenSentinel([node, cst.parse_statement("pass\n")])]
            )
        elif isinstance(node, cst.BaseExpression) and not isinstance(node, (cst.BaseString, cst.Ellipsis)):
            out[node] = lambda updated: cst.Call(cst.Name("wrap"), [cst.Arg(updated)])
    return out


@pytest.mark.parametrize("path", _sources()[:60], ids=lambda p: p.name)
def test_replace_nodes_equals_libcst_transformer(path):
    from wsrefactor.walk import replace_nodes

    text = path.read_text(encoding="utf-8")
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        pytest.skip("libcst cannot parse this file")
    for seed in range(4):
        replacements = _replacements(module, seed)
        try:
            expected = module.visit(_LibcstReplace(replacements)).code
        except (TypeError, ValueError, cst.CSTValidationError):
            continue  # a combination libcst itself rejects (e.g. removing a required child)
        got = replace_nodes(module, replacements)
        assert got.code == expected
        assert module.code == text  # the input tree is untouched


def test_replace_nodes_rebuilds_only_the_path_to_a_replaced_node():
    from wsrefactor.walk import replace_nodes

    module = cst.parse_module("def f():\n    a = 1\n\ndef g():\n    b = 2\n")
    target = module.body[1].body.body[0].body[0].targets[0].target
    new = replace_nodes(module, {target: cst.Name("c")})
    assert new.code == "def f():\n    a = 1\n\ndef g():\n    c = 2\n"
    assert new.body[0] is module.body[0]  # the untouched function is the same object
    assert replace_nodes(module, {}) is module


def test_parse_ast_hands_its_tree_to_one_take_of_the_same_string():
    import ast

    from wsrefactor.walk import parse_ast, take_ast

    text = "".join(["x = 1\n", "y = x\n"])
    tree = parse_ast(text)
    equal = "x = 1\ny = x\n"
    assert equal == text and equal is not text
    assert take_ast(equal) is None  # an equal string is not the one parsed
    assert take_ast(text) is tree and ast.dump(tree) == ast.dump(ast.parse(text))
    assert take_ast(text) is None  # handed out once


def test_code_of_and_parents_are_remembered_per_tree():
    from wsrefactor.walk import code_of, parents

    module = cst.parse_module("def f(a):\n    return a + 1\n")
    assert code_of(module) == module.code and code_of(module) is code_of(module)
    assert parents(module) is parents(module)
    other = cst.parse_module("def f(a):\n    return a + 1\n")
    assert parents(other) is not parents(module) and parents(other)[other.body[0]] is other
