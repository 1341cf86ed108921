"""The semantic model of one module: imports, scopes and bindings, value and type facts.

``SemanticModel`` is an engine-owned analysis (``ctx.analysis(SemanticModel)``): computed once
per file on Python's ``ast``, shared by every rule that asks. Rules decide from it alone; libcst
is parsed only when a fix is built (see ``wsrefactor.rule.SemanticRule``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.imports import BUILTINS, Imports
from wsrefactor.semantic.scopes import Binding, Scope, ScopeTree, self_class

STRING_NODES = (ast.Constant, ast.JoinedStr)


def is_string_literal(node: ast.AST | None) -> bool:
    """A ``str``/``bytes`` literal (implicit concatenations included) or an f-string."""
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))


class SemanticModel:
    """What a module binds, where, and to what; built from one walk of its ``ast``."""

    def __init__(self, analyses: Analyses) -> None:
        self.analyses = analyses
        self.imports: Imports = analyses(Imports)
        self.scopes = ScopeTree(analyses.tree)
        self.module: Scope = self.scopes.module

    @classmethod
    def compute(cls, analyses: Analyses) -> SemanticModel:
        return cls(analyses)

    def release(self) -> None:
        self.scopes.release()

    # -- where things are --------------------------------------------------------------------

    def scope_of(self, node: ast.AST) -> Scope:
        return self.scopes.scope_of(node)

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        return self.scopes.statement_of(node)

    def calls(self) -> Iterator[tuple[ast.Call, Scope]]:
        """Every call of the module with the scope it is evaluated in."""
        for scope in self.scopes.scopes:
            for call in scope.calls:
                yield call, scope

    def classes(self) -> dict[str, Scope]:
        """Module-level classes by name (a name bound once, to a class)."""
        out = {}
        for scope in self.module.children:
            if scope.kind == "class":
                bound = self.module.bindings.get(scope.name, ())
                if len(bound) == 1 and bound[0].node is scope.node:
                    out[scope.name] = scope
        return out

    # -- names --------------------------------------------------------------------------------

    def lookup(self, name: str, scope: Scope) -> list[Binding]:
        """The bindings a name read in ``scope`` may refer to (Python's rules: enclosing class
        bodies are skipped; ``global`` goes to the module). Empty: a builtin or undefined."""
        if name in scope.globals:
            return list(self.module.bindings.get(name, ()))
        current: Scope | None = scope
        first = True
        while current is not None:
            if (first or current.kind != "class") and name in current.bindings:
                return list(current.bindings[name])
            first = False
            current = current.parent
        return []

    def qualified_name(self, expr: ast.AST | None, scope: Scope | None = None) -> str | None:
        """What a dotted name means where it is read: ``aiohttp.ClientSession`` through the
        import that binds its head in this scope, ``Limiter`` for a class of this module,
        ``builtins.open``. None when the head is bound otherwise or several ways."""
        parts: list[str] = []
        while isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        rest = ".".join(reversed(parts))
        scope = scope if scope is not None else self.scope_of(expr)
        found = self.lookup(expr.id, scope)
        if not found:
            base = f"builtins.{expr.id}" if expr.id in BUILTINS else None
        else:
            meanings = {self._meaning(b) for b in found}
            base = meanings.pop() if len(meanings) == 1 else None
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def _meaning(self, binding: Binding) -> str | None:
        if binding.kind == "import":
            return binding.qualified
        if binding.kind in ("class", "def") and binding.scope is self.module:
            return binding.name
        return None

    # -- attributes -----------------------------------------------------------------------------

    def class_of_receiver(self, expr: ast.expr, scope: Scope) -> Scope | None:
        """The class ``expr`` stands for as an attribute receiver: ``self``/``cls`` in its
        methods (and functions nested in them), or a module class named directly."""
        if not isinstance(expr, ast.Name):
            return None
        owner = self_class(expr.id, scope)
        if owner is not None:
            return owner
        found = self.lookup(expr.id, scope)
        if len(found) == 1 and found[0].kind == "class":
            return self.scopes.defined_by(found[0].node)
        return None

    def class_chain(self, cls: Scope) -> list[Scope]:
        """``cls`` then its bases defined in this module (depth first, each once)."""
        out: list[Scope] = []
        todo = [cls]
        classes = self.classes()
        while todo:
            current = todo.pop(0)
            if current in out:
                continue
            out.append(current)
            for base in getattr(current.node, "bases", ()):
                if isinstance(base, ast.Name) and base.id in classes:
                    todo.append(classes[base.id])
        return out

    def attribute_bindings(self, cls: Scope, attr: str) -> list[Binding]:
        """Where ``attr`` of instances/the class ``cls`` is bound: the class body and
        ``self.attr = ...``/``cls.attr = ...``, in the first class of its chain that binds it."""
        for current in self.class_chain(cls):
            found = [*current.bindings.get(attr, ()), *current.attributes.get(attr, ())]
            if found:
                return found
        return []

    def bindings_for(self, expr: ast.expr, scope: Scope) -> list[Binding]:
        """The bindings a name or ``receiver.attr`` read in ``scope`` may refer to."""
        if isinstance(expr, ast.Name):
            return self.lookup(expr.id, scope)
        if isinstance(expr, ast.Attribute):
            cls = self.class_of_receiver(expr.value, scope)
            if cls is not None:
                return self.attribute_bindings(cls, expr.attr)
        return []

    # -- values and types -----------------------------------------------------------------------

    def string_literal(self, expr: ast.expr, scope: Scope) -> ast.expr | None:
        """The one string literal ``expr`` holds: itself, or the literal a name or attribute is
        bound to exactly once (reassigned, a parameter, unpacked: unknown, None)."""
        if is_string_literal(expr):
            return expr
        found = self.bindings_for(expr, scope)
        if len(found) == 1 and is_string_literal(found[0].value):
            return found[0].value
        return None

    def constant_string(self, expr: ast.expr, scope: Scope) -> str | None:
        """The ``str`` value ``expr`` is known to hold (an f-string or bytes: None)."""
        literal = self.string_literal(expr, scope)
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
            return literal.value
        return None

    def type_of_binding(self, binding: Binding, depth: int = 0) -> str | None:
        """The qualified class a binding holds: its annotation (``Optional[X]``/``X | None``
        read as ``X``), else the constructor its value calls, else (one step) the type of the
        name it copies (``self.session = session`` with ``session: ClientSession``)."""
        where = binding.scope if binding.kind != "param" else (binding.scope.parent or binding.scope)
        if binding.annotation is not None:
            return self._annotation_type(binding.annotation, where)
        value = binding.value
        if isinstance(value, ast.Await):
            return None
        if isinstance(value, ast.Call):
            return self.qualified_name(value.func, self.scope_of(value))
        if isinstance(value, ast.Name) and depth < 2:
            found = self.lookup(value.id, self.scope_of(value))
            types = {self.type_of_binding(b, depth + 1) for b in found}
            return types.pop() if len(types) == 1 else None
        return None

    def type_of(self, expr: ast.expr, scope: Scope) -> str | None:
        """The qualified class ``expr`` (a name or ``self.attr``) is known to hold: every
        binding agrees (bindings without a known type are ignored only when one has a type)."""
        types = {self.type_of_binding(b) for b in self.bindings_for(expr, scope)}
        types.discard(None)
        return types.pop() if len(types) == 1 else None

    def _annotation_type(self, ann: ast.expr, scope: Scope) -> str | None:
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except SyntaxError:
                return None
            return self._annotation_type_in(ann, scope)
        return self._annotation_type_in(ann, scope)

    def _annotation_type_in(self, ann: ast.expr, scope: Scope) -> str | None:
        if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
            sides = [s for s in (ann.left, ann.right) if not _is_none(s)]
            return self._annotation_type_in(sides[0], scope) if len(sides) == 1 else None
        if isinstance(ann, ast.Subscript):
            outer = self.qualified_name(ann.value, scope)
            if outer in ("typing.Optional", "typing_extensions.Optional"):
                return self._annotation_type_in(ann.slice, scope)
            if outer in ("typing.Annotated", "typing_extensions.Annotated") and isinstance(ann.slice, ast.Tuple):
                return self._annotation_type_in(ann.slice.elts[0], scope)  # FastAPI's Annotated[X, Depends()]
            return outer
        return self.qualified_name(ann, scope)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
