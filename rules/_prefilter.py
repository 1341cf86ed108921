"""Cheap facts about a file from Python's ``ast``, computed once per file and shared by the rules'
``wants()``: which names are called, which calls stand alone as statements, whether an
``async def`` loops over something while awaiting a ``send*`` call. A rule whose shape cannot
occur in the file keeps the file away from libcst."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class AstFacts:
    called: set[str] = field(default_factory=set)  # last name of every called expression
    statement_calls: set[str] = field(default_factory=set)  # ... of calls used as statements
    has_async: bool = False
    sends_in_async_loop: bool = False


_last: tuple[int, ast.AST, AstFacts] | None = None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Subscript):
        return _name(func.value)
    return ""


def _loop_sends(loop: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Await) and isinstance(n.value, ast.Call) and _name(n.value.func).startswith("send")
        for n in ast.walk(loop)
    )


def _scan(tree: ast.AST) -> AstFacts:
    facts = AstFacts()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            facts.called.add(_name(node.func))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            facts.statement_calls.add(_name(node.value.func))
        elif isinstance(node, ast.AsyncFunctionDef):
            facts.has_async = True
        elif isinstance(node, (ast.For, ast.AsyncFor)) and not facts.sends_in_async_loop:
            facts.sends_in_async_loop = _loop_sends(node)
    return facts


def ast_facts(tree: ast.AST | None) -> AstFacts | None:
    """The facts of ``tree`` (None when there is no tree: then rules fall back to their tokens)."""
    global _last
    if tree is None:
        return None
    if _last is None or _last[0] != id(tree) or _last[1] is not tree:
        _last = (id(tree), tree, _scan(tree))
    return _last[2]
