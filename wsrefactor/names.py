"""Cheap qualified names: an import alias table instead of full scope analysis.

libcst's scope and qualified-name providers cost about nine times the parse itself. Most rules
only need to know that ``nap(1)`` is ``time.sleep`` because of ``from time import sleep as nap``,
so the table walks statements only (never expressions) and records what each import binds, plus
the names bound otherwise at module level (a module-level ``def open`` shadows the builtin).
"""

from __future__ import annotations

import builtins

from wsrefactor.lazy import cst

_BUILTINS = frozenset(dir(builtins))


def _dotted(node: cst.BaseExpression) -> str:
    from libcst.helpers import get_full_name_for_node

    return get_full_name_for_node(node) or ""


class ImportTable:
    """Local name -> qualified name, for every import anywhere in a module."""

    def __init__(self, module: cst.Module) -> None:
        self.aliases: dict[str, str] = {}
        self.module_bindings: set[str] = set()
        self._walk(module.body, top=True)

    def _walk(self, body: object, top: bool) -> None:
        for stmt in body:  # type: ignore[attr-defined]
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._small(small, top)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                if top:
                    self.module_bindings.add(stmt.name.value)
                self._block(stmt.body, top=False)
            elif isinstance(stmt, cst.BaseCompoundStatement):
                self._compound(stmt, top)

    def _compound(self, stmt: cst.BaseCompoundStatement, top: bool) -> None:
        if not isinstance(stmt, cst.Match):  # a match statement has only its cases
            self._block(stmt.body, top)
        for attr in ("orelse", "finalbody"):
            extra = getattr(stmt, attr, None)
            if extra is not None:
                self._block(extra.body if isinstance(extra, (cst.Else, cst.Finally)) else extra, top)
        for handler in getattr(stmt, "handlers", ()):
            self._block(handler.body, top)
        for case in getattr(stmt, "cases", ()):
            self._block(case.body, top)

    def _block(self, block: object, top: bool) -> None:
        if isinstance(block, cst.If):  # elif chain
            self._compound(block, top)
        elif isinstance(block, cst.IndentedBlock):
            self._walk(block.body, top)
        elif isinstance(block, cst.SimpleStatementSuite):
            for small in block.body:
                self._small(small, top)
        elif isinstance(block, cst.BaseSuite):
            self._walk(getattr(block, "body", ()), top)

    def _small(self, small: cst.BaseSmallStatement, top: bool) -> None:
        if isinstance(small, cst.Import):
            self._import(small)
        elif isinstance(small, cst.ImportFrom):
            self._import_from(small)
        elif top and isinstance(small, (cst.Assign, cst.AnnAssign)):
            targets = small.targets if isinstance(small, cst.Assign) else [small]
            self.module_bindings.update(
                t.target.value for t in targets if isinstance(t.target, cst.Name)
            )

    def _import(self, small: cst.Import) -> None:
        for alias in small.names:
            full = _dotted(alias.name)
            if alias.asname is not None:
                self.aliases[_dotted(alias.asname.name)] = full
            else:
                head = full.split(".")[0]
                self.aliases.setdefault(head, head)

    def _import_from(self, small: cst.ImportFrom) -> None:
        if isinstance(small.names, cst.ImportStar):
            return
        base = "." * len(small.relative) + (_dotted(small.module) if small.module else "")
        for alias in small.names:
            name = _dotted(alias.name)
            local = _dotted(alias.asname.name) if alias.asname else name
            self.aliases[local] = base + name if base.endswith(".") else f"{base}.{name}"

    def resolve(self, node: cst.BaseExpression) -> str | None:
        """The qualified name an expression refers to, or None if it is not an imported name."""
        dotted = _dotted(node)
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            base = self.aliases[head]
            return f"{base}.{rest}" if rest else base
        if head in _BUILTINS and head not in self.module_bindings:
            return f"builtins.{dotted}"
        return None

    def imports_module(self, prefix: str) -> bool:
        """Whether anything imported comes from ``prefix`` (a cheap gate for framework rules)."""
        return any(q == prefix or q.startswith(prefix + ".") for q in self.aliases.values())
