"""Scopes and bindings of one module, from a single walk of its ``ast``.

Module, class, function, lambda and comprehension scopes; every name binding (assignments,
parameters, imports, defs, loop/``with``/``except`` targets, walrus, ``match`` captures) with the
value assigned when the target is exactly that name; ``global``/``nonlocal``; attributes assigned
through a method's ``self``/``cls`` (``self.x = ...``) or through the class name, recorded on the
class; and, for every node, the scope and innermost statement it belongs to.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsrefactor.semantic.imports import bindings_of

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(eq=False)
class Binding:
    """One binding of ``name``: ``kind`` says how (``assign``, ``annassign``, ``augassign``,
    ``param``, ``import``, ``def``, ``class``, ``for``, ``with``, ``except``, ``walrus``, ``match``,
    ``attribute`` for ``self.name = ...``); ``value`` is the assigned expression when the target is
    exactly this name (not unpacked, not one of several targets)."""

    name: str
    kind: str
    node: ast.AST
    scope: Scope
    value: ast.expr | None = None
    annotation: ast.expr | None = None
    qualified: str | None = None  # for imports: what the name is bound to


@dataclass(eq=False)
class Scope:
    kind: str  # module, class, function, lambda, comprehension
    name: str
    node: ast.AST
    parent: Scope | None
    is_async: bool = False
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    attributes: dict[str, list[Binding]] = field(default_factory=dict)  # class scopes: self.x = ...
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    children: list[Scope] = field(default_factory=list)
    calls: list[ast.Call] = field(default_factory=list)  # calls evaluated directly in this scope
    self_name: str | None = None  # methods: the first parameter (``self``/``cls``)
    decorators: tuple[str, ...] = ()  # plain names of the decorators (``classmethod``...)

    def __repr__(self) -> str:
        return f"<Scope {self.kind} {self.qualname or '<module>'}>"

    @property
    def qualname(self) -> str:
        """Dotted names of the enclosing classes and functions (``Limiter.init``)."""
        names: list[str] = []
        scope: Scope | None = self
        while scope is not None and scope.kind != "module":
            if scope.kind in ("class", "function"):
                names.append(scope.name)
            scope = scope.parent
        return ".".join(reversed(names))

    @property
    def function(self) -> Scope | None:
        """The innermost function (``def`` or lambda) scope at or around this one."""
        scope: Scope | None = self
        while scope is not None and scope.kind not in ("function", "lambda"):
            scope = scope.parent
        return scope

    @property
    def in_async(self) -> bool:
        """Code here runs in an ``async def`` (the nearest function, a lambda breaking it)."""
        fn = self.function
        return fn is not None and fn.is_async

    @property
    def method_class(self) -> Scope | None:
        """For a method (a function directly in a class body): that class."""
        return self.parent if self.kind == "function" and self.parent and self.parent.kind == "class" else None


class ScopeTree:
    """The scopes of a module plus, per node, its scope and innermost statement."""

    def __init__(self, tree: ast.Module) -> None:
        self.module = Scope("module", "", tree, None)
        self.scopes: list[Scope] = [self.module]
        self._scope_of: dict[int, Scope] = {}
        self._stmt_of: dict[int, ast.stmt] = {}
        self._defined: dict[int, Scope] = {}
        # Function bodies run after the code around them: walking them last lets ``Cls.x = ...``
        # in a function see a class defined further down the module.
        self._pending: list[tuple[list[ast.stmt], Scope]] = []
        self._block(tree.body, self.module)
        done = 0
        while done < len(self._pending):
            body, fn = self._pending[done]
            done += 1
            self._block(body, fn)

    def release(self) -> None:
        """Cut the links that make the scopes a cycle (a scope and its children, a scope and its
        bindings), so that they and the ``ast`` they hold are freed by reference counting; the
        tree is not to be read afterwards (``Analyses.release``)."""
        for scope in self.scopes:
            scope.children.clear()
            scope.bindings.clear()
            scope.attributes.clear()

    def scope_of(self, node: ast.AST) -> Scope:
        """The scope a node is evaluated in (a def's own name and decorators: the outer one)."""
        return self._scope_of.get(id(node), self.module)

    def defined_by(self, node: ast.AST) -> Scope | None:
        """The scope a ``def``/``class``/lambda/comprehension node opens."""
        return self._defined.get(id(node))

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        """The innermost statement holding ``node`` (itself when it is one)."""
        return self._stmt_of.get(id(node))

    # -- building ---------------------------------------------------------------------------

    def _new(self, kind: str, name: str, node: ast.AST, parent: Scope, **kw: object) -> Scope:
        scope = Scope(kind, name, node, parent, **kw)  # type: ignore[arg-type]
        parent.children.append(scope)
        self.scopes.append(scope)
        self._defined[id(node)] = scope
        return scope

    def _bind(self, scope: Scope, binding: Binding) -> None:
        name = binding.name
        if name in scope.globals:
            scope = self.module
        elif name in scope.nonlocals:
            outer = scope.parent
            while outer is not None and not (outer.kind == "function" and name in outer.bindings):
                outer = outer.parent
            scope = outer or scope
        binding.scope = scope
        scope.bindings.setdefault(name, []).append(binding)

    def _block(self, body: list[ast.stmt], scope: Scope) -> None:
        for stmt in body:
            self._stmt(stmt, scope)

    def _stmt(self, node: ast.stmt, scope: Scope) -> None:
        self._scope_of[id(node)] = scope
        self._stmt_of[id(node)] = node
        handler = _HANDLERS.get(type(node).__name__)
        if handler is not None:
            handler(self, node, scope)
        else:  # Expr, Return, Raise, Assert, Delete, Pass...
            for child in ast.iter_child_nodes(node):
                self._expr(child, scope, node)  # type: ignore[arg-type]

    def _assign(self, node: ast.Assign, scope: Scope) -> None:
        self._expr(node.value, scope, node)
        single = len(node.targets) == 1
        for target in node.targets:
            self._target(target, scope, node, "assign", node.value if single else None)

    def _annassign(self, node: ast.AnnAssign, scope: Scope) -> None:
        self._expr(node.annotation, scope, node)
        if node.value is not None:
            self._expr(node.value, scope, node)
        self._target(node.target, scope, node, "annassign", node.value, node.annotation)

    def _augassign(self, node: ast.AugAssign, scope: Scope) -> None:
        self._expr(node.value, scope, node)
        self._target(node.target, scope, node, "augassign", None)

    def _for(self, node: ast.For | ast.AsyncFor, scope: Scope) -> None:
        self._expr(node.iter, scope, node)
        self._target(node.target, scope, node, "for", None)
        self._block(node.body, scope)
        self._block(node.orelse, scope)

    def _with(self, node: ast.With | ast.AsyncWith, scope: Scope) -> None:
        for item in node.items:
            self._expr(item.context_expr, scope, node)
            if item.optional_vars is not None:
                self._target(item.optional_vars, scope, node, "with", None)
        self._block(node.body, scope)

    def _import(self, node: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        for local, qualified in bindings_of(node):
            self._bind(scope, Binding(local, "import", node, scope, qualified=qualified))

    def _global(self, node: ast.Global, scope: Scope) -> None:
        scope.globals.update(node.names)

    def _nonlocal(self, node: ast.Nonlocal, scope: Scope) -> None:
        scope.nonlocals.update(node.names)

    def _branch(self, node: ast.If | ast.While, scope: Scope) -> None:
        self._expr(node.test, scope, node)
        self._block(node.body, scope)
        self._block(node.orelse, scope)

    def _try(self, node: ast.Try, scope: Scope) -> None:
        self._block(node.body, scope)
        for handler in node.handlers:
            self._scope_of[id(handler)] = scope
            self._stmt_of[id(handler)] = node
            if handler.type is not None:
                self._expr(handler.type, scope, node)
            if handler.name:
                self._bind(scope, Binding(handler.name, "except", handler, scope))
            self._block(handler.body, scope)
        self._block(node.orelse, scope)
        self._block(node.finalbody, scope)

    def _match(self, node: ast.Match, scope: Scope) -> None:
        self._expr(node.subject, scope, node)
        for case in node.cases:
            for sub in ast.walk(case.pattern):
                self._scope_of[id(sub)] = scope
                name = getattr(sub, "name", None) or getattr(sub, "rest", None)
                if isinstance(name, str):
                    self._bind(scope, Binding(name, "match", sub, scope))
            if case.guard is not None:
                self._expr(case.guard, scope, node)
            self._block(case.body, scope)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> None:
        every = self._signature(node, scope)
        self._bind(scope, Binding(node.name, "def", node, scope))
        decorators = tuple(d.id for d in node.decorator_list if isinstance(d, ast.Name))
        fn = self._new(
            "function", node.name, node, scope,
            is_async=isinstance(node, ast.AsyncFunctionDef), decorators=decorators,
        )
        positional = [*node.args.posonlyargs, *node.args.args]
        if scope.kind == "class" and positional and "staticmethod" not in decorators:
            fn.self_name = positional[0].arg
        for arg in every:
            self._scope_of[id(arg)] = fn
            self._bind(fn, Binding(arg.arg, "param", arg, fn, annotation=arg.annotation))
        self._pending.append((node.body, fn))

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> list[ast.arg]:
        """Record what a ``def`` evaluates where it stands; returns its parameters."""
        args = node.args
        outer = [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
        every = _parameters(args)
        outer += [a.annotation for a in every if a.annotation is not None]
        if node.returns is not None:
            outer.append(node.returns)
        for expr in outer:
            self._expr(expr, scope, node)
        return every

    def _class(self, node: ast.ClassDef, scope: Scope) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self._expr(expr, scope, node)
        self._bind(scope, Binding(node.name, "class", node, scope))
        cls = self._new("class", node.name, node, scope)
        self._block(node.body, cls)

    def _target(
        self,
        target: ast.expr,
        scope: Scope,
        stmt: ast.stmt,
        kind: str,
        value: ast.expr | None,
        annotation: ast.expr | None = None,
    ) -> None:
        self._scope_of[id(target)] = scope
        self._stmt_of[id(target)] = stmt
        if isinstance(target, ast.Name):
            self._bind(scope, Binding(target.id, kind, target, scope, value, annotation))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, scope, stmt, kind, None)
        elif isinstance(target, ast.Starred):
            self._target(target.value, scope, stmt, kind, None)
        elif isinstance(target, ast.Attribute):
            self._expr(target.value, scope, stmt)
            owner = self._attribute_owner(target.value, scope)
            if owner is not None:
                binding = Binding(target.attr, "attribute", target, owner, value, annotation)
                owner.attributes.setdefault(target.attr, []).append(binding)
        else:  # subscript
            self._expr(target, scope, stmt)

    def _attribute_owner(self, value: ast.expr, scope: Scope) -> Scope | None:
        """The class whose attribute ``value.x = ...`` sets: ``self``/``cls`` in a method (or a
        function nested in one), or a class of this module named directly."""
        if not isinstance(value, ast.Name):
            return None
        owner = self_class(value.id, scope)
        if owner is not None:
            return owner
        bound = self.module.bindings.get(value.id, ())
        if len(bound) == 1 and bound[0].kind == "class":
            return self._defined.get(id(bound[0].node))
        return None

    def _expr(self, root: ast.expr, scope: Scope, stmt: ast.stmt) -> None:
        """Record every node of an expression; lambdas and comprehensions open scopes. (The
        hottest loop of the model: children are read through ``_child_fields``, inline.)"""
        scope_of, stmt_of = self._scope_of, self._stmt_of
        todo: list[tuple[ast.AST, Scope]] = [(root, scope)]
        push = todo.append
        while todo:
            node, where = todo.pop()
            scope_of[id(node)] = where
            stmt_of[id(node)] = stmt
            kind = type(node)
            opens = _OPENS_SCOPE.get(kind)  # a lambda or a comprehension: its parts, scoped
            if opens is not None:
                todo.extend(opens(self, node, where, stmt))
                continue
            seen = _SEEN.get(kind)  # a call or a walrus: recorded in the scope
            if seen is not None:
                seen(self, node, where)
            for name in _CHILD_FIELDS.get(kind) or _child_fields(kind):
                value = getattr(node, name, None)
                if value.__class__ is list:
                    for child in value:
                        if isinstance(child, ast.AST):
                            push((child, where))
                elif isinstance(value, ast.AST):
                    push((value, where))

    def _lambda(self, node: ast.Lambda, where: Scope) -> list[tuple[ast.AST, Scope]]:
        args = node.args
        out: list[tuple[ast.AST, Scope]] = [
            (d, where) for d in [*args.defaults, *args.kw_defaults] if d is not None
        ]
        lam = self._new("lambda", "<lambda>", node, where)
        for arg in _parameters(args):
            self._bind(lam, Binding(arg.arg, "param", arg, lam))
        out.append((node.body, lam))
        return out

    def _comprehension(self, node: ast.expr, where: Scope, stmt: ast.stmt) -> list[tuple[ast.AST, Scope]]:
        comp = self._new("comprehension", type(node).__name__, node, where)
        out: list[tuple[ast.AST, Scope]] = []
        for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
            out.append((gen.iter, where if i == 0 else comp))
            self._comprehension_target(gen.target, comp, stmt)
            out.extend((cond, comp) for cond in gen.ifs)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]  # type: ignore[attr-defined]
        out.extend((p, comp) for p in parts)
        return out

    def _walrus(self, node: ast.NamedExpr, where: Scope) -> None:
        owner = where
        while owner.kind == "comprehension" and owner.parent is not None:
            owner = owner.parent
        if isinstance(node.target, ast.Name):
            self._bind(owner, Binding(node.target.id, "walrus", node.target, owner, node.value))

    def _comprehension_target(self, target: ast.expr, comp: Scope, stmt: ast.stmt) -> None:
        for sub in ast.walk(target):
            self._scope_of[id(sub)] = comp
            self._stmt_of[id(sub)] = stmt
            if isinstance(sub, ast.Name):
                self._bind(comp, Binding(sub.id, "for", sub, comp))


_Parts = list[tuple[ast.AST, Scope]]
_OPENS_SCOPE: dict[type, Callable[[ScopeTree, Any, Scope, ast.stmt], _Parts]] = {
    ast.Lambda: lambda tree, node, where, stmt: tree._lambda(node, where),
    **{kind: ScopeTree._comprehension for kind in _COMPREHENSIONS},
}
_SEEN: dict[type, Callable[[ScopeTree, Any, Scope], None]] = {
    ast.Call: lambda tree, node, where: where.calls.append(node),
    ast.NamedExpr: ScopeTree._walrus,
}
# The fields that can hold child nodes, per node class: ``ctx`` and the operator leaves (``op``,
# ``ops``) are left out; like ``ast.iter_child_nodes`` otherwise, in field order.
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f not in ("ctx", "op", "ops"))  # type: ignore[attr-defined]
    return fields

# Statement kind -> its handler (anything else: its children are expressions).
_HANDLERS: dict[str, Callable[[ScopeTree, Any, Scope], None]] = {
    "FunctionDef": ScopeTree._function,
    "AsyncFunctionDef": ScopeTree._function,
    "ClassDef": ScopeTree._class,
    "Assign": ScopeTree._assign,
    "AnnAssign": ScopeTree._annassign,
    "AugAssign": ScopeTree._augassign,
    "For": ScopeTree._for,
    "AsyncFor": ScopeTree._for,
    "With": ScopeTree._with,
    "AsyncWith": ScopeTree._with,
    "Import": ScopeTree._import,
    "ImportFrom": ScopeTree._import,
    "Global": ScopeTree._global,
    "Nonlocal": ScopeTree._nonlocal,
    "If": ScopeTree._branch,
    "While": ScopeTree._branch,
    "Try": ScopeTree._try,
    "TryStar": ScopeTree._try,
    "Match": ScopeTree._match,
}


def _parameters(args: ast.arguments) -> list[ast.arg]:
    every = [*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg]
    return [a for a in every if a is not None]


def self_class(name: str, scope: Scope) -> Scope | None:
    """The class ``name`` stands for as the ``self``/``cls`` of the method around ``scope``
    (seen through nested functions that do not rebind it)."""
    fn: Scope | None = scope.function
    while fn is not None:
        if fn.self_name == name and fn.method_class is not None:
            return fn.method_class
        if name in fn.bindings:
            return None
        fn = fn.parent.function if fn.parent is not None else None
    return None
