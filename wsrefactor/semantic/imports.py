"""One import resolver on ``ast``: every binding an import gives a name, anywhere in the module.

It serves both views the project has needed so far: the *last* binding in source order (what
``wsrefactor.names.ImportTable`` answers) and *every* meaning a name may have (what the
prefilters' ``AstImports`` answers), for imports at module level, under ``if``/``try``/``with``
and inside functions. Relative imports keep their dots (``..pkg.mod``) and resolve against a
package with :meth:`Imports.absolute`.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from wsrefactor.semantic.analyses import Analyses

BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class ImportBinding:
    """``local`` bound to ``qualified`` by ``node`` (at ``line``); ``top`` when not in a def/class."""

    local: str
    qualified: str
    node: ast.Import | ast.ImportFrom
    top: bool
    conditional: bool  # under an ``if``/``try``/``with``/loop rather than unconditionally

    @property
    def line(self) -> int:
        return self.node.lineno


def dotted_name(expr: ast.AST | None) -> str | None:
    """``a.b.c`` for ``a.b.c`` (also through calls and subscripts, ``a.b().c``), else None."""
    parts: list[str] = []
    while True:
        if isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        elif isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Subscript):
            expr = expr.value
        elif isinstance(expr, ast.Name):
            parts.append(expr.id)
            return ".".join(reversed(parts))
        else:
            return None


def bindings_of(stmt: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str]]:
    """(local name, qualified name) for each name one import statement binds."""
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            head = alias.name.split(".")[0]
            yield (alias.asname, alias.name) if alias.asname else (head, head)
        return
    base = "." * stmt.level + (stmt.module or "")
    sep = "" if base.endswith(".") else "."
    for alias in stmt.names:
        if alias.name != "*":
            yield alias.asname or alias.name, f"{base}{sep}{alias.name}"


def _module_level_names(stmt: ast.stmt) -> Iterator[str]:
    """Names a module-level statement binds other than by import (they shadow builtins)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield stmt.name
    elif isinstance(stmt, ast.Assign):
        yield from (t.id for t in stmt.targets if isinstance(t, ast.Name))
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        yield stmt.target.id


def _blocks(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists nested in a compound statement (``if``/``try``/``with``/loops/``match``)."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(stmt, field, None)
        if isinstance(block, list):
            yield block
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body
    for case in getattr(stmt, "cases", ()):
        yield case.body


class Imports:
    """Every import binding of a module, in source order; a name may have several meanings."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: list[ImportBinding] = []
        self.module_bindings: set[str] = set()  # names bound at module level otherwise
        self.star_imports: list[str] = []
        self._walk(tree.body, top=True, conditional=False)
        self.meanings: dict[str, tuple[str, ...]] = {}
        for b in self.bindings:
            known = self.meanings.get(b.local, ())
            if b.qualified not in known:
                self.meanings[b.local] = (*known, b.qualified)
        # the last binding of each name in source order (ImportTable's view)
        self.aliases: dict[str, str] = {b.local: b.qualified for b in self.bindings}

    @classmethod
    def compute(cls, analyses: Analyses) -> Imports:
        return cls(analyses.tree)

    def _walk(self, body: list[ast.stmt], top: bool, conditional: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt, top, conditional)
                continue
            if top:
                self.module_bindings.update(_module_level_names(stmt))
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._walk(stmt.body, top=False, conditional=conditional)
                continue
            for block in _blocks(stmt):
                self._walk(block, top, conditional=True)

    def _import(self, stmt: ast.Import | ast.ImportFrom, top: bool, conditional: bool) -> None:
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            self.star_imports.append("." * stmt.level + (stmt.module or ""))
        self.bindings.extend(
            ImportBinding(local, q, stmt, top, conditional) for local, q in bindings_of(stmt)
        )

    def resolve_all(self, expr: ast.AST | None) -> frozenset[str]:
        """Every qualified name ``expr`` may refer to (empty: not an imported or builtin name)."""
        name = dotted_name(expr)
        if name is None:
            return frozenset()
        head, _, rest = name.partition(".")
        if head in self.meanings:
            return frozenset(f"{base}.{rest}" if rest else base for base in self.meanings[head])
        if head in BUILTINS and head not in self.module_bindings:
            return frozenset((f"builtins.{name}",))
        return frozenset()

    def resolve(self, expr: ast.AST | None) -> str | None:
        """The qualified name by the last import of the head name (``ImportTable.resolve``)."""
        name = dotted_name(expr)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return f"{self.aliases[head]}.{rest}" if rest else self.aliases[head]
        if head in BUILTINS and head not in self.module_bindings:
            return f"builtins.{name}"
        return None

    def may_be(self, expr: ast.AST | None, names: Collection[str]) -> bool:
        """Some meaning of ``expr`` is one of ``names`` (a superset: to keep a candidate)."""
        return not self.resolve_all(expr).isdisjoint(names)

    def surely(self, expr: ast.AST | None, names: Collection[str]) -> bool:
        """Every meaning of ``expr`` is one of ``names`` (a subset: to rule something out)."""
        meanings = self.resolve_all(expr)
        return bool(meanings) and meanings <= frozenset(names)

    def binds_any(self, prefixes: Collection[str]) -> bool:
        """Some import binds a name to one of ``prefixes`` exactly (``AstImports.binds_any``)."""
        return any(not set(qualified).isdisjoint(prefixes) for qualified in self.meanings.values())

    def imports_module(self, prefix: str) -> bool:
        """Whether anything imported comes from ``prefix`` (or ``prefix`` itself)."""
        return any(
            q == prefix or q.startswith(prefix + ".") for qs in self.meanings.values() for q in qs
        ) or any(s == prefix or s.startswith(prefix + ".") for s in self.star_imports)

    def imports_any(self, prefixes: Collection[str]) -> bool:
        """The declared gate ``requires_any_import``: some import comes from one of ``prefixes``."""
        return any(self.imports_module(p) for p in prefixes)

    @staticmethod
    def absolute(qualified: str, package: str) -> str:
        """``..b.c`` seen from package ``a.x`` is ``a.b.c``; absolute names are returned as is."""
        if not qualified.startswith("."):
            return qualified
        level = len(qualified) - len(qualified.lstrip("."))
        parts = package.split(".") if package else []
        base = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        rest = qualified[level:]
        return ".".join([*base, rest] if rest else base)
