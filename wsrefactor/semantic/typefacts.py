"""What kind of object an expression holds, and whether a function is a generator.

``value_type`` extends ``SemanticModel.type_of`` from names to expressions: a constructor or
factory call (``requests.Session()``, ``redis.Redis.from_url(u)``), a method called on a value of
known type (``<type>.<method>``, e.g. ``boto3.client.get_paginator``), ``with X(...) as s``
(``__enter__`` returning the object itself, as clients and files do), ``await
asyncio.to_thread(factory, ...)`` (what ``factory`` returns), and ``pathlib.Path``
arithmetic (``p / "x"``, ``p.parent``). A caller passes ``canonical`` to fold the qualified names
it knows into one type name (``requests.sessions.Session`` -> ``requests.Session``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.scopes import Binding, Scope

PATH = "pathlib.Path"
_MAX_DEPTH = 8  # a guard against cycles (x = x / "a"), deep enough for chains of copies
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _same(name: str) -> str:
    return name


class TypeFacts:
    """``value_type`` over one module's model, with one canonical naming of types."""

    def __init__(self, model: SemanticModel, canonical: Callable[[str], str] = _same) -> None:
        self.model = model
        self.canonical = canonical

    def value_type(self, expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """The (canonical) type ``expr`` is known to hold, or None."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Call):
            return self._call_type(expr, scope, depth)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
            sides = (self.value_type(expr.left, scope, depth + 1), self.value_type(expr.right, scope, depth + 1))
            return PATH if PATH in sides else None
        if isinstance(expr, ast.Attribute) and expr.attr == "parent":
            if self.value_type(expr.value, scope, depth + 1) == PATH:
                return PATH
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self._bound_type(expr, scope, depth)
        return None

    def _call_type(self, call: ast.Call, scope: Scope, depth: int) -> str | None:
        func = call.func.value if isinstance(call.func, ast.Subscript) else call.func
        name = self.model.qualified_name(func, scope)
        if name is not None:
            return self.canonical(name)
        if isinstance(func, ast.Attribute):
            owner = self.value_type(func.value, scope, depth + 1)
            if owner is not None:
                return self.canonical(f"{owner}.{func.attr}")
        return None

    def _bound_type(self, expr: ast.expr, scope: Scope, depth: int) -> str | None:
        """Every binding with a known type agrees on it (bindings of unknown type are ignored,
        as ``SemanticModel.type_of`` does)."""
        types = {self.binding_type(b, depth + 1) for b in self.model.bindings_for(expr, scope)}
        types.discard(None)
        return types.pop() if len(types) == 1 else None

    def binding_type(self, binding: Binding, depth: int = 0) -> str | None:
        if binding.annotation is not None:
            found = self.model.type_of_binding(binding)
            return self.canonical(found) if found is not None else None
        if binding.kind == "with":
            item = with_item_of(self.model, binding)
            if item is None:
                return None
            return self.value_type(item.context_expr, self.model.scope_of(item.context_expr), depth)
        value = binding.value
        if isinstance(value, ast.Await):
            return self._offloaded_type(value.value)
        if value is None:
            return None
        return self.value_type(value, self.model.scope_of(value), depth)

    def _offloaded_type(self, awaited: ast.expr) -> str | None:
        """``await asyncio.to_thread(factory, ...)`` holds what ``factory(...)`` returns."""
        if not (isinstance(awaited, ast.Call) and awaited.args):
            return None
        scope = self.model.scope_of(awaited)
        if self.model.qualified_name(awaited.func, scope) != "asyncio.to_thread":
            return None
        name = self.model.qualified_name(awaited.args[0], scope)
        return self.canonical(name) if name is not None else None


def with_item_of(model: SemanticModel, binding: Binding) -> ast.withitem | None:
    """The ``with`` item whose ``as`` target is exactly this binding's name."""
    stmt = model.statement_of(binding.node)
    if not isinstance(stmt, (ast.With, ast.AsyncWith)):
        return None
    return next((item for item in stmt.items if item.optional_vars is binding.node), None)


def is_generator(fn: ast.AST) -> bool:
    """A ``def`` whose body yields: calling it only creates the generator, running nothing."""
    todo: list[ast.AST] = [s for s in getattr(fn, "body", ()) if not isinstance(s, _NESTED)]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        todo.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, _NESTED))
    return False
