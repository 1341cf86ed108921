"""The module's own call graph: which of its functions each function calls.

A call is resolved when its target is certain from this module alone: a function name
(``helper()``), a class (``Limiter()`` calls ``Limiter.__init__``), ``self.method()`` and
``cls.method()`` in methods, ``Class.method()``, and ``self.attr.method()`` where ``attr``'s class
is a class of this module (``self.store = Store()``, or an annotation). Calls made by nested
lambdas and comprehensions count for the function around them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.scopes import Scope


class CallGraph:
    """Edges ``caller -> [(call, callee)]`` between function scopes of one module."""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.edges: dict[Scope, list[tuple[ast.Call, Scope]]] = {}
        for call, scope in model.calls():
            callee = self.resolve(call, scope)
            if callee is None:
                continue
            caller = _owner(scope)
            self.edges.setdefault(caller, []).append((call, callee))

    @classmethod
    def compute(cls, analyses: Analyses) -> CallGraph:
        return cls(analyses(SemanticModel))

    def resolve(self, call: ast.Call, scope: Scope) -> Scope | None:
        """The function of this module ``call`` certainly calls, if any."""
        func = call.func
        if isinstance(func, ast.Name):
            return self._resolve_name(func, scope)
        if isinstance(func, ast.Attribute):
            cls = self._receiver_class(func.value, scope)
            return self.method(cls, func.attr) if cls is not None else None
        return None

    def _resolve_name(self, func: ast.Name, scope: Scope) -> Scope | None:
        method = scope.function
        if method is not None and "classmethod" in method.decorators and func.id == method.self_name:
            cls = method.method_class
            return self.method(cls, "__init__") if cls is not None else None  # ``cls()``
        found = self.model.lookup(func.id, scope)
        if len(found) != 1:
            return None
        target = self.model.scopes.defined_by(found[0].node)
        if target is not None and target.kind == "class":
            return self.method(target, "__init__")
        return target if target is not None and target.kind == "function" else None

    def _receiver_class(self, receiver: ast.expr, scope: Scope) -> Scope | None:
        """``self``/``cls``/``Class`` itself, or ``self.attr`` whose class is of this module."""
        model = self.model
        cls = model.class_of_receiver(receiver, scope)
        if (
            cls is None
            and isinstance(receiver, ast.Attribute)
            and model.class_of_receiver(receiver.value, scope) is not None
        ):
            cls = model.classes().get(model.type_of(receiver, scope) or "")
        return cls

    def method(self, cls: Scope, name: str) -> Scope | None:
        """``name`` defined in ``cls`` or in a base of it from this module."""
        for current in self.model.class_chain(cls):
            defs = current.bindings.get(name, ())
            if len(defs) == 1 and defs[0].kind == "def":
                return self.model.scopes.defined_by(defs[0].node)
        return None

    def callees(self, fn: Scope) -> list[Scope]:
        """The functions ``fn`` calls directly, each once, in call order."""
        return list(dict.fromkeys(callee for _, callee in self.edges.get(fn, ())))

    def callers(self, fn: Scope) -> list[Scope]:
        return [caller for caller, out in self.edges.items() if any(c is fn for _, c in out)]

    def reachable(self, fn: Scope) -> Iterator[Scope]:
        """``fn``'s callees, theirs, and so on (each once, ``fn`` excluded unless recursive)."""
        seen: set[int] = set()
        todo = self.callees(fn)
        while todo:
            current = todo.pop(0)
            if id(current) in seen:
                continue
            seen.add(id(current))
            yield current
            todo.extend(self.callees(current))


def _owner(scope: Scope) -> Scope:
    """The def a call counts for (through lambdas and comprehensions); the module at top level."""
    current: Scope | None = scope
    while current is not None and current.kind not in ("function", "module", "class"):
        current = current.parent
    return current or scope
