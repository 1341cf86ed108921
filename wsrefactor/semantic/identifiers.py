"""Every identifier written under a node: what a name a fix introduces must not collide with."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import Any

_NAMES_OF: dict[type, Callable[[Any], Iterable[str]]] = {
    ast.Name: lambda n: [n.id],
    ast.Attribute: lambda n: [n.attr],
    ast.keyword: lambda n: [n.arg] if n.arg else [],
    ast.arg: lambda n: [n.arg],
    ast.FunctionDef: lambda n: [n.name],
    ast.AsyncFunctionDef: lambda n: [n.name],
    ast.ClassDef: lambda n: [n.name],
    ast.alias: lambda n: [(n.asname or n.name).split(".")[0]],
    ast.Global: lambda n: n.names,
    ast.Nonlocal: lambda n: n.names,
    ast.ExceptHandler: lambda n: [n.name] if n.name else [],
}


def identifiers(node: ast.AST) -> set[str]:
    """Names, attributes, keywords, parameters, defs, import aliases, ``global``/``nonlocal``
    names and ``except ... as`` names under ``node`` (nested scopes included)."""
    out: set[str] = set()
    for current in ast.walk(node):
        names = _NAMES_OF.get(type(current))
        if names is not None:
            out.update(names(current))
    return out
