"""WS304 duplicated-redis-fallback: the same "try Redis, else the in-memory copy" method shape, repeated.

Decided once, on Python's ``ast`` (``collect``: every file's ``ModuleFact``, its matching methods
and the methods already under the decorator); libcst is used only to build the fix
(``apply_payload``), which finds the methods to reduce by running the same ``ast`` match on the
file's current text and taking the libcst ``FunctionDef`` at each span.
"""

from __future__ import annotations

import ast
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.positions import Positions
from wsrefactor.project_graph import (
    ImportGraph,
    ModuleFact,
    absolute,
    display,
    module_name,
    modules_by_path,
    places,
    resolve_option_path,
)
from wsrefactor.rule import (
    Invalid,
    Option,
    ProjectEdit,
    ProjectFinding,
    SemanticProjectRule,
    Valid,
)
from wsrefactor.semantic import Analyses, Imports, SemanticModel
from wsrefactor.semantic.detection import detect_at
from wsrefactor.semantic.nodes import NodeIndex
from wsrefactor.walk import code_of, replace_nodes

DECORATOR = "redis_with_fallback"
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})

_Function = ast.FunctionDef | ast.AsyncFunctionDef


# --------------------------------------------------------------------------------------------
# the shape, on ast
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fallback:
    """``return self.<name>(...)`` or ``return await self.<name>(...)``."""

    call: ast.Call
    name: str
    awaited: bool

    def same_as(self, other: _Fallback) -> bool:
        return (ast.dump(self.call), self.awaited) == (ast.dump(other.call), other.awaited)


def _fallback_call(stmt: ast.stmt | None, self_name: str) -> _Fallback | None:
    """``return self.<fallback>(...)`` (or ``return await ...``), else None."""
    if not isinstance(stmt, ast.Return) or stmt.value is None:
        return None
    value, awaited = stmt.value, False
    if isinstance(value, ast.Await):
        value, awaited = value.value, True
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id == self_name
    ):
        return _Fallback(value, value.func.attr, awaited)
    return None


def _is_log_call(stmt: ast.stmt, analyses: Analyses) -> bool:
    """``<something log-ish>.warning(...)`` and the other logging methods, as a statement."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return False
    return call.func.attr in _LOG_METHODS and "log" in analyses.segment(call.func.value).lower()


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, (str, bytes))


def _expected_args(args: ast.arguments) -> list[tuple[str, str]]:
    """The method's parameters after ``self`` as ``(kind, name)``: how a faithful call passes them."""
    expected = [("pos", a.arg) for a in (*args.posonlyargs, *args.args)[1:]]
    if args.vararg is not None:
        expected.append(("*", args.vararg.arg))
    expected.extend(("kw", a.arg) for a in args.kwonlyargs)
    if args.kwarg is not None:
        expected.append(("**", args.kwarg.arg))
    return expected


def _passed_on(call: ast.Call) -> list[tuple[str, str]] | None:
    """``(kind, name)`` of each argument, in source order, when each passes a name on unchanged
    (``x``, ``*x``, ``**x``, ``x=x``); None otherwise."""
    items: list[tuple[int, int, tuple[str, str]]] = []
    for arg in call.args:
        if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
            items.append((arg.lineno, arg.col_offset, ("*", arg.value.id)))
        elif isinstance(arg, ast.Name):
            items.append((arg.lineno, arg.col_offset, ("pos", arg.id)))
        else:
            return None
    for keyword in call.keywords:
        if not isinstance(keyword.value, ast.Name):
            return None
        if keyword.arg is None:
            items.append((keyword.lineno, keyword.col_offset, ("**", keyword.value.id)))
        elif keyword.arg == keyword.value.id:
            items.append((keyword.lineno, keyword.col_offset, ("kw", keyword.value.id)))
        else:
            return None
    return [item for _, _, item in sorted(items)]


def _params_match(call: ast.Call, args: ast.arguments) -> bool:
    """Whether the fallback is called with exactly the method's own arguments, in order."""
    expected = _expected_args(args)
    got = _passed_on(call)
    if got is None or len(got) != len(expected):
        return False
    # a positional parameter may be passed by keyword
    return all(gn == en and (gk == ek or (gk, ek) == ("kw", "pos")) for (gk, gn), (ek, en) in zip(got, expected))


def _guard(stmt: ast.stmt, self_name: str) -> tuple[str, _Fallback] | None:
    """``if not self.<attr>: return self.<fallback>(...)`` (no ``elif``/``else``): attr and fallback."""
    if not isinstance(stmt, ast.If) or stmt.orelse or len(stmt.body) != 1:
        return None
    test = stmt.test
    if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
        return None
    checked = test.operand
    if not (isinstance(checked, ast.Attribute) and isinstance(checked.value, ast.Name) and checked.value.id == self_name):
        return None
    fallback = _fallback_call(stmt.body[0], self_name)
    return (checked.attr, fallback) if fallback is not None else None


def _plain_assignment(stmt: ast.stmt) -> bool:
    """``key = f"x:{u}"``: an assignment to plain names that neither awaits nor yields (issue #12,
    miss 9: such statements between the guard and the ``try`` keep the shape)."""
    if isinstance(stmt, ast.Assign):
        targets: list[ast.expr] = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets = [stmt.target]
    else:
        return False
    value: ast.AST = stmt.value if stmt.value is not None else ast.Pass()
    return all(isinstance(t, ast.Name) for t in targets) and not any(
        isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Lambda)) for n in ast.walk(value)
    )


def _lone_try(stmt: ast.stmt) -> ast.Try | None:
    """A ``try`` with one typed ``except`` and no ``else``/``finally``."""
    if not isinstance(stmt, ast.Try) or len(stmt.handlers) != 1 or stmt.orelse or stmt.finalbody:
        return None
    return stmt if stmt.handlers[0].type is not None else None


def _handler_fallback(handler: ast.ExceptHandler, self_name: str, analyses: Analyses) -> _Fallback | None:
    """The fallback of an ``except`` block that only logs, then returns ``self.<fallback>(...)``."""
    if not all(_is_log_call(s, analyses) for s in handler.body[:-1]):
        return None
    return _fallback_call(handler.body[-1], self_name)


def _talks_to_redis(attempt: ast.Try, analyses: Analyses, self_name: str) -> bool:
    """Without a guard, only a ``try`` that uses ``self.redis...`` or catches a Redis error counts."""
    body = "\n".join(analyses.segment(s) for s in attempt.body).lower()
    exceptions = analyses.segment(attempt.handlers[0].type).lower()  # type: ignore[arg-type]
    return f"{self_name}.redis" in body or "redis" in exceptions


def _unfixable_reason(function: _Function, attempt: ast.Try, fallback: _Fallback) -> str:
    """Why the decorator could not reproduce the method ("" when it can)."""
    if not _params_match(fallback.call, function.args):
        return "its fallback is not called with the method's own arguments"
    if fallback.name == function.name:
        return "it falls back to itself"
    name = attempt.handlers[0].name
    if name is not None and any(
        isinstance(n, ast.Name) and n.id == name for s in attempt.body for n in ast.walk(s)
    ):
        return "its Redis path uses the exception variable"
    return ""


@dataclass(frozen=True)
class Shape:
    """A matching method: what the finding and the decorator need to know about it."""

    function: _Function
    fallback: str
    redis_attr: str | None  # the guard's attribute; None when there is no guard
    exceptions: ast.expr
    fixable: bool
    reason: str
    docstring: bool  # the body starts with a docstring
    guarded: bool  # then the guard


@dataclass(frozen=True)
class _Parts:
    """A method body cut as the shape reads it."""

    self_name: str
    docstring: bool
    guard: tuple[str, _Fallback] | None
    attempt: ast.Try


def _self_name(function: _Function) -> str | None:
    """The first parameter of an undecorated method (the decorator must be the only one)."""
    positional = [*function.args.posonlyargs, *function.args.args]
    return positional[0].arg if positional and not function.decorator_list else None


def _parts(function: _Function) -> _Parts | None:
    """``[docstring] [guard] <plain assignments> try`` of an undecorated method, else None."""
    self_name = _self_name(function)
    if self_name is None:
        return None
    docstring = _is_docstring(function.body[0])
    body = function.body[1:] if docstring else list(function.body)
    if not body:
        return None
    guard = _guard(body[0], self_name)
    if isinstance(body[0], ast.If) and guard is None:
        return None  # another ``if`` first: something else
    attempt = _lone_try(body[-1])
    middle_plain = all(_plain_assignment(s) for s in body[1 if guard else 0 : -1])
    return _Parts(self_name, docstring, guard, attempt) if attempt is not None and middle_plain else None


def match(function: _Function, analyses: Analyses) -> Shape | None:
    """The Redis-with-fallback shape of an undecorated method, or None when it is something else:
    ``[docstring] [guard] <plain assignments> try/except`` as the rule's docs describe."""
    parts = _parts(function)
    if parts is None:
        return None
    attempt, guard = parts.attempt, parts.guard
    handler = attempt.handlers[0]
    fallback = _handler_fallback(handler, parts.self_name, analyses)
    if fallback is None or handler.type is None or (guard is not None and not guard[1].same_as(fallback)):
        return None
    if guard is None and not _talks_to_redis(attempt, analyses, parts.self_name):
        return None
    reason = _unfixable_reason(function, attempt, fallback)
    return Shape(
        function, fallback.name, guard[0] if guard else None, handler.type, not reason, reason, parts.docstring,
        guard is not None,
    )


def _decorator_name(expr: ast.expr) -> str:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else ""


def methods(model: SemanticModel) -> Iterator[tuple[_Function, str]]:
    """Every ``def`` directly in a class body (also under ``if``/``try`` there), with the dotted
    path of the class, in source order."""
    for scope in model.scopes.scopes:
        if scope.kind == "function" and scope.method_class is not None and isinstance(scope.node, _Function):
            yield scope.node, scope.parent.qualname  # type: ignore[union-attr]


def matches(analyses: Analyses) -> list[tuple[Shape, str]]:
    """Every matching method with its class path, in source order: the rule's one decision (the
    facts are built from it, and the fix finds the methods it reduces with it)."""
    if "try" not in analyses.text or "class" not in analyses.text:
        return []
    functions = analyses(NodeIndex).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    if not any(_parts(fn) is not None for fn in functions):
        return []  # no ``def`` has the shape: the scopes (which say which are methods) are not built
    model = analyses(SemanticModel)
    found = [(shape, scope) for fn, scope in methods(model) if (shape := match(fn, analyses)) is not None]
    return sorted(found, key=lambda item: (item[0].function.lineno, item[0].function.col_offset))


def resolve_exceptions(expr: ast.expr, imports: Imports, module: str, path: str) -> tuple[str, ...] | None:
    """Absolute qualified names of the caught classes (``builtins.X`` for builtins), or None."""
    items = expr.elts if isinstance(expr, ast.Tuple) else [expr]
    if not all(isinstance(i, (ast.Name, ast.Attribute)) for i in items):
        return None
    out = []
    for item in items:
        resolved = imports.resolve(item)
        if resolved is None:
            dotted = ast.unparse(item)
            if dotted.split(".")[0] not in imports.module_bindings:
                return None
            resolved = f"{module}.{dotted}"
        out.append(absolute(resolved, module, path))
    return tuple(out)


@dataclass(frozen=True)
class FunctionFact:
    path: str
    module: str
    root: str
    line: int
    column: int
    end_line: int
    end_column: int
    scope: str  # dotted class path
    name: str
    is_async: bool
    fallback: str
    redis_attr: str | None
    exceptions_code: str
    exceptions: tuple[str, ...] | None  # resolved
    fixable: bool
    reason: str


@dataclass(frozen=True)
class DecoratedFact:
    """A method already reduced under the decorator: it keeps a lone remaining copy reported."""

    path: str
    name: str


@dataclass(frozen=True)
class DecoratePayload:
    """Reduce the listed methods (scope, name) to their Redis path under the decorator."""

    targets: tuple[tuple[str, str, str], ...]  # (class scope, method name, decorator arguments)
    import_from: str | None


@dataclass(frozen=True)
class DefineDecoratorPayload:
    source: str
    imports: tuple[tuple[str, str | None], ...]


class DuplicatedRedisFallback(SemanticProjectRule):
    """
    ## What it does
    Finds two or more methods (in any files) with the same Redis-with-fallback shape: an optional
    `if not self.<redis>: return self.<fallback>(args)`, then any plain assignments to names
    (`key = f"presence:{room}"`), then `try: <redis work>` with a single `except <Exc> [as e]:`
    that only logs and returns the same `self.<fallback>(args)` call. The fallback method differs
    per method; the pattern is the same. Decided on the semantic model (`wsrefactor.semantic`); a
    plain check never parses a file with libcst for this rule.

    ## Why is this bad?
    The availability check, the exception handling and the logging are copied into every method
    that touches Redis, and the copies drift: one forgets the guard, another logs at a different
    level, a third catches the wrong exception. One decorator keeps the policy in one place and
    leaves each method with its Redis path only.

    ## Example
    ```python
    def get_presence(self, room):
        if not self.redis:
            return self._memory_get_presence(room)
        try:
            return set(self.redis.smembers(f"presence:{room}"))
        except RedisError as e:
            logger.warning("redis presence lookup failed: %s", e)
            return self._memory_get_presence(room)
    ```

    ## Use instead
    ```python
    @redis_with_fallback("_memory_get_presence")
    def get_presence(self, room):
        return set(self.redis.smembers(f"presence:{room}"))
    ```
    The fix is *unsafe*: it generates one `redis_with_fallback(fallback, *, redis_attr, exceptions)`
    decorator (sync and async variants chosen by `inspect.iscoroutinefunction`; it logs a warning
    with the method's name on the method's module logger, so log messages change) in
    `helper-module`, else in a new `<package>/redis_fallback.py` next to the first copy, imports
    it, and reduces each method to its Redis path. A method whose guard uses another attribute
    passes `redis_attr=...`; one without a guard passes `redis_attr=None`; one catching other
    exceptions passes `exceptions=...`. Methods whose fallback is not called with their own
    arguments are reported without a fix. Assignments before the `try` stay in the reduced method
    and now run under the decorator's `except` (an assignment raising one of `exceptions` falls
    back instead of propagating).

    ## Options
    - `helper-module` (str, default `""`): file, relative to the project root, that receives the decorator.
    """

    code = "WS304"
    name = "duplicated-redis-fallback"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "Redis-with-fallback method shape repeated; use one decorator"
    options = (Option("helper-module", str, "", "file (relative to the project root) receiving the decorator"),)

    VALID = [
        Valid("""
            class Store:
                def get(self, key):
                    if not self.redis:
                        return self._memory_get(key)
                    try:
                        return self.redis.get(key)
                    except RedisError as e:
                        logger.warning("redis failed: %s", e)
                        return self._memory_get(key)

                def put(self, key, value):
                    self._data[key] = value
                    if self.redis:
                        try:
                            self.redis.set(key, value)
                        except RedisError as e:
                            logger.warning("redis failed: %s", e)
        """),
    ]
    INVALID = [
        Invalid(
            """
            class Store:
                def get(self, key):
                    if not self.redis:
                        return self._memory_get(key)
                    try:
                        return self.redis.get(key)
                    except RedisError as e:
                        logger.warning("redis get failed: %s", e)
                        return self._memory_get(key)

                def members(self, key):
                    if not self.redis:
                        return self._memory_members(key)
                    try:
                        return set(self.redis.smembers(key))
                    except RedisError as e:
                        logger.warning("redis smembers failed: %s", e)
                        return self._memory_members(key)
            """,
            lines=(2, 11),
        ),
    ]

    @classmethod
    def collect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Any]:
        """Every file's ``ModuleFact`` (the project phase needs every module's imports, for cycles,
        and bindings: the decorator's module may be any module), its decorated methods and its
        matching methods."""
        module = analyses(ModuleFact)
        yield module
        if DECORATOR in analyses.text:
            model = analyses(SemanticModel)
            decorated = [
                fn for fn, _ in methods(model) if any(_decorator_name(d) == DECORATOR for d in fn.decorator_list)
            ]
            for fn in sorted(decorated, key=lambda f: f.lineno):
                yield DecoratedFact(analyses.path, fn.name)
        imports = analyses(Imports)
        for shape, scope in matches(analyses):
            fn = shape.function
            at = detect_at(analyses, fn, "")
            yield FunctionFact(
                path=analyses.path, module=module.module, root=module.root, line=at.line, column=at.column,
                end_line=at.end_line, end_column=at.end_column, scope=scope, name=fn.name,
                is_async=isinstance(fn, ast.AsyncFunctionDef), fallback=shape.fallback, redis_attr=shape.redis_attr,
                exceptions_code=analyses.segment(shape.exceptions),
                exceptions=resolve_exceptions(shape.exceptions, imports, module.module, analyses.path),
                fixable=shape.fixable, reason=shape.reason,
            )

    # ----------------------------------------------------------------------------------------

    @classmethod
    def finalize(
        cls, facts: Mapping[str, Sequence[Any]], options: Mapping[str, Any]
    ) -> list[ProjectFinding]:
        collected = _Collected.of(facts)
        functions, decorated = collected.functions, collected.decorated
        if not functions or len(functions) + len(decorated) < 2:
            return []
        functions.sort(key=lambda f: (f.path, f.line))
        edit = _plan([f for f in functions if f.fixable], collected.modules, options)
        findings = []
        first_fix = True
        for fn in functions:
            fix = None
            if fn.fixable and edit is not None:
                fix = edit if first_fix else ProjectEdit(edit.safety, edit.description, edit.payloads, ())
                first_fix = False  # the new files are listed once
            findings.append(
                ProjectFinding(
                    path=fn.path, line=fn.line, column=fn.column, end_line=fn.end_line,
                    end_column=fn.end_column, stmt_line=fn.line, message=_message(fn, functions, decorated),
                    fix=fix, context=f"{fn.scope}.{fn.name}:redis-fallback:{fn.fallback}",
                )
            )
        return findings

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        from wsrefactor.fixes import add_imports, add_module_statements

        if isinstance(payload, DefineDecoratorPayload):
            if any(isinstance(s, cst.FunctionDef) and s.name.value == DECORATOR for s in module.body):
                return module
            module = add_module_statements(module, [payload.source], path)
            return add_imports(module, payload.imports, path)
        if isinstance(payload, DecoratePayload):
            new, done = _reduce(module, payload, path)
            if done and payload.import_from:
                new = add_imports(new, [(payload.import_from, DECORATOR)], path)
            return new
        return module


@dataclass
class _Collected:
    """The facts of every file, sorted by kind."""

    modules: dict[str, ModuleFact] = field(default_factory=dict)
    functions: list[FunctionFact] = field(default_factory=list)
    decorated: list[DecoratedFact] = field(default_factory=list)

    @classmethod
    def of(cls, facts: Mapping[str, Sequence[Any]]) -> _Collected:
        collected = cls(modules_by_path(facts))
        for path in sorted(facts):
            for fact in facts[path]:
                if isinstance(fact, FunctionFact):
                    collected.functions.append(fact)
                elif isinstance(fact, DecoratedFact):
                    collected.decorated.append(fact)
        return collected


def _message(fn: FunctionFact, functions: Sequence[FunctionFact], decorated: Sequence[DecoratedFact]) -> str:
    """The finding's message: the other copies (or the methods already decorated), and why no fix."""
    others = places(
        (f"{display(o.path, fn.root)}:{o.line} ({o.name})" for o in functions if o is not fn), len(functions) - 1
    ) or places((f"{display(d.path, fn.root)} ({d.name}, decorated)" for d in decorated), len(decorated))
    message = f"`{fn.name}` repeats the Redis-with-fallback shape (fallback `{fn.fallback}`); also at {others}"
    if not fn.fixable:
        message += f"; not fixed: {fn.reason}"
    return message


@dataclass(frozen=True)
class _Site:
    """The file that gets (or has) the decorator."""

    path: str
    existing: ModuleFact | None  # its fact, when the run analysed it
    module: str  # its dotted name, to import the decorator from
    defined: bool  # the decorator is already there


def _defines_decorator(path: str) -> bool:
    """Whether a file the run did not analyse already defines the decorator (else it is not ours to edit)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return False
    return f"def {DECORATOR}(" in text


def _site(first: FunctionFact, modules: Mapping[str, ModuleFact], options: Mapping[str, Any]) -> _Site | None:
    """``helper-module``, else ``redis_fallback.py`` next to the first copy; None if it is someone else's file."""
    option = str(options.get("helper-module") or "")
    if option:
        target = resolve_option_path(option, modules)
    else:
        target = os.path.join(os.path.dirname(first.path), "redis_fallback.py")
    existing = modules.get(target)
    if existing is not None:
        return _Site(target, existing, existing.module, DECORATOR in existing.names)
    if os.path.exists(target) and not _defines_decorator(target):
        return None
    return _Site(target, None, module_name(target)[0], os.path.exists(target))


@dataclass(frozen=True)
class _Defaults:
    """The decorator's default arguments, chosen so most methods need none."""

    redis_attr: str
    exceptions: tuple[str, ...] | None  # qualified names; None: ``Exception``
    code: str  # the default ``exceptions`` as written in the helper module
    imports: tuple[tuple[str, str], ...]  # what the helper module imports for it


def _importable(
    candidate: tuple[str, ...], graph: ImportGraph, decorated: set[str], helper: str
) -> tuple[list[str], list[tuple[str, str]]] | None:
    """The classes' names in the helper module and its imports; None if one cannot be imported there."""
    names: list[str] = []
    imports: list[tuple[str, str]] = []
    for qual in candidate:
        mod, _, name = qual.rpartition(".")
        if mod == "builtins":
            names.append(name)
            continue
        # importing from a decorated module (or one that imports it) would be a cycle
        if not mod or mod in decorated or mod == helper or graph.imports_any(mod, decorated):
            return None
        names.append(name)
        imports.append((mod, name))
    return names, imports


def _defaults(
    functions: Sequence[FunctionFact], graph: ImportGraph, decorated: set[str], helper: str
) -> _Defaults:
    """The most common ``redis_attr``, and the most common caught classes the helper can import."""
    attrs = Counter(f.redis_attr for f in functions if f.redis_attr is not None)
    redis_attr = attrs.most_common(1)[0][0] if attrs else "redis"
    exception_sets = Counter(f.exceptions for f in functions if f.exceptions is not None)
    for candidate, _ in exception_sets.most_common():
        found = _importable(candidate, graph, decorated, helper)
        if found is None or len(set(found[0])) != len(found[0]):
            continue
        names, imports = found
        code = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
        return _Defaults(redis_attr, candidate, code, tuple(imports))
    return _Defaults(redis_attr, None, "Exception", ())


def _definition(site: _Site, defaults: _Defaults) -> tuple[list[tuple[str, Any]], tuple[tuple[str, str], ...]]:
    """Payloads and new files that define the decorator, unless it is already there."""
    from wsrefactor.codegen import render

    if site.defined:
        return [], ()
    if site.existing is None:
        text = render(
            "ws304_redis_fallback_module.py.jinja2", redis_attr=defaults.redis_attr, exceptions=defaults.code,
            import_lines=[f"from {m} import {n}" for m, n in defaults.imports],
        )
        return [], ((site.path, text),)
    source = render("ws304_redis_with_fallback.py.jinja2", redis_attr=defaults.redis_attr, exceptions=defaults.code)
    imports = (("functools", None), ("inspect", None), ("logging", None), *defaults.imports)
    return [(site.path, DefineDecoratorPayload(source.strip(), imports))], ()


def _decorator_args(fn: FunctionFact, defaults: _Defaults) -> str:
    """``"<fallback>"`` plus the arguments where the method differs from the defaults."""
    args = [json.dumps(fn.fallback)]
    if fn.redis_attr != defaults.redis_attr:
        args.append(f"redis_attr={json.dumps(fn.redis_attr)}" if fn.redis_attr else "redis_attr=None")
    if fn.exceptions is None or fn.exceptions != defaults.exceptions:
        args.append(f"exceptions={fn.exceptions_code}")
    return ", ".join(args)


def _decorate_payloads(functions: Sequence[FunctionFact], defaults: _Defaults, site: _Site) -> list[tuple[str, Any]]:
    """Per file (in path order), the methods to reduce and the decorator's arguments for each."""
    by_path: dict[str, list[tuple[str, str, str]]] = {}
    for fn in functions:
        by_path.setdefault(fn.path, []).append((fn.scope, fn.name, _decorator_args(fn, defaults)))
    return [
        (path, DecoratePayload(tuple(by_path[path]), None if path == site.path else site.module))
        for path in sorted(by_path)
    ]


def _plan(functions: Sequence[FunctionFact], modules: Mapping[str, ModuleFact], options: Mapping[str, Any]) -> ProjectEdit | None:
    """Define the decorator once and reduce every fixable method to its Redis path under it."""
    if not functions or any(f.path not in modules for f in functions):
        return None
    graph = ImportGraph(modules)  # transitive imports computed once per module, not once per copy
    decorated = {modules[f.path].module for f in functions}
    site = _site(functions[0], modules, options)
    if site is None:
        return None
    # an existing helper module that (transitively) imports a decorated module would be a cycle
    if site.existing is not None and graph.imports_any(site.module, decorated - {site.module}):
        return None
    defaults = _defaults(functions, graph, decorated, site.module)
    payloads, new_files = _definition(site, defaults)
    payloads.extend(_decorate_payloads(functions, defaults, site))
    where = display(site.path, functions[0].root)
    return ProjectEdit(
        FixSafety.UNSAFE, f"reduce the methods to their Redis path under @{DECORATOR} ({where})",
        tuple(payloads), new_files,
    )


# --------------------------------------------------------------------------------------------
# applying the payloads on a fresh parse
# --------------------------------------------------------------------------------------------


def _reduce(module: cst.Module, payload: DecoratePayload, path: str) -> tuple[cst.Module, int]:
    """Reduce the payload's methods to their Redis path under the decorator. Which methods match
    is decided as in ``collect`` (``matches`` on the ast of the text as it is now); libcst only
    supplies the ``FunctionDef`` at each span."""
    text = code_of(module)
    analyses = Analyses(ast.parse(text), text, path)
    targets = {(scope, name): args for scope, name, args in payload.targets}
    positions: Positions | None = None
    replacements: dict[cst.CSTNode, cst.CSTNode] = {}
    for shape, scope in matches(analyses):
        args = targets.get((scope, shape.function.name))
        if args is None or not shape.fixable:
            continue
        positions = positions or Positions(cst.MetadataWrapper(module, unsafe_skip_copy=True), text, analyses.tree)
        at = detect_at(analyses, shape.function, "")
        node = positions.find(at.start, at.end, (cst.FunctionDef,))
        reduced = _reduced(node, shape, args) if isinstance(node, cst.FunctionDef) else None
        if reduced is not None:
            replacements[node] = reduced  # type: ignore[index]
    if not replacements:
        return module, 0
    return cst.ensure_type(replace_nodes(module, replacements), cst.Module), len(replacements)


def _split(node: cst.FunctionDef, shape: Shape) -> tuple[list[cst.BaseStatement], cst.Try] | None:
    """libcst's statements of the method as the ``ast`` shape cut them: the docstring and the
    assignments (kept), and the ``try``; None when they do not line up (several statements on
    one line)."""
    if not isinstance(node.body, cst.IndentedBlock):
        return None
    stmts = list(node.body.body)
    kept: list[cst.BaseStatement] = []
    if shape.docstring:
        docstring = stmts.pop(0)
        if not (isinstance(docstring, cst.SimpleStatementLine) and len(docstring.body) == 1):
            return None
        kept.append(docstring)
    if shape.guarded and not isinstance(stmts.pop(0), cst.If):
        return None
    attempt = stmts.pop() if stmts else None
    if not isinstance(attempt, cst.Try) or not isinstance(attempt.body, cst.IndentedBlock):
        return None
    return [*kept, *stmts], attempt


def _reduced(node: cst.FunctionDef, shape: Shape, args: str) -> cst.FunctionDef | None:
    """``node`` under ``@redis_with_fallback(args)``: docstring, the assignments before the
    ``try`` and the ``try`` block's statements."""
    split = _split(node, shape)
    if split is None:
        return None
    kept, attempt = split
    body = list(attempt.body.body)
    if body and isinstance(body[0], (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        # keep the comments above the first statement of the try block, not its blank lines
        body[0] = body[0].with_changes(leading_lines=[ln for ln in body[0].leading_lines if ln.comment is not None])
    decorator = cst.Decorator(cst.parse_expression(f"{DECORATOR}({args})"))
    return node.with_changes(decorators=[decorator], body=node.body.with_changes(body=[*kept, *body]))
