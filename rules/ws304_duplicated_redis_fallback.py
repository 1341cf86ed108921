"""WS304 duplicated-redis-fallback: the same "try Redis, else the in-memory copy" method shape, repeated."""

from __future__ import annotations

import ast
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.names import ImportTable
from wsrefactor.rule import (
    FileContext,
    Invalid,
    Option,
    ProjectEdit,
    ProjectFinding,
    ProjectRule,
    Valid,
)
from wsrefactor.rules._prefilter import index, per_tree
from wsrefactor.rules.ws303_duplicated_serialization import (
    ImportGraph,
    ModuleFact,
    _child_blocks,
    _resolve_option_path,
    absolute,
    display,
    module_fact,
    module_name,
    places,
)
from wsrefactor.walk import visit

DECORATOR = "redis_with_fallback"
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})
_EMPTY = cst.Module(body=[])


def _code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node).strip()


def _single_statement(block: cst.BaseSuite) -> cst.BaseSmallStatement | None:
    if isinstance(block, cst.SimpleStatementSuite):
        return block.body[0] if len(block.body) == 1 else None
    if isinstance(block, cst.IndentedBlock) and len(block.body) == 1:
        stmt = block.body[0]
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            return stmt.body[0]
    return None


@dataclass(frozen=True)
class _Fallback:
    """``return self.<name>(...)`` or ``return await self.<name>(...)``."""

    call: cst.Call
    name: str
    awaited: bool

    def same_as(self, other: _Fallback) -> bool:
        return (_code(self.call), self.awaited) == (_code(other.call), other.awaited)


def _fallback_call(small: cst.CSTNode | None, self_name: str) -> _Fallback | None:
    """``return self.<fallback>(...)`` (or ``return await ...``), else None."""
    if not isinstance(small, cst.Return) or small.value is None:
        return None
    value, awaited = small.value, False
    if isinstance(value, cst.Await):
        value, awaited = value.expression, True
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and isinstance(value.func.value, cst.Name)
        and value.func.value.value == self_name
    ):
        return _Fallback(value, value.func.attr.value, awaited)
    return None


def _is_log_call(stmt: cst.BaseStatement) -> bool:
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)):
        return False
    call = stmt.body[0].value
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
        return False
    if call.func.attr.value not in _LOG_METHODS:
        return False
    receiver = _code(call.func.value).lower()
    return "log" in receiver


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _expected_args(params: cst.Parameters) -> list[tuple[str, str]]:
    """The method's parameters after ``self`` as ``(kind, name)``: how a faithful call passes them."""
    expected = [("pos", param.name.value) for param in (*params.posonly_params, *params.params)[1:]]
    if isinstance(params.star_arg, cst.Param):
        expected.append(("*", params.star_arg.name.value))
    expected.extend(("kw", param.name.value) for param in params.kwonly_params)
    if params.star_kwarg is not None:
        expected.append(("**", params.star_kwarg.name.value))
    return expected


def _passed_on(arg: cst.Arg) -> tuple[str, str] | None:
    """``(kind, name)`` of an argument passing a name on unchanged (``x``, ``*x``, ``**x``, ``x=x``)."""
    if not isinstance(arg.value, cst.Name):
        return None
    name = arg.value.value
    if arg.star:
        return arg.star, name
    if arg.keyword is not None:
        return ("kw", name) if arg.keyword.value == name else None
    return "pos", name


def _params_match(call: cst.Call, params: cst.Parameters) -> bool:
    """Whether the fallback is called with exactly the method's own arguments, in order."""
    expected = _expected_args(params)
    got: list[tuple[str, str]] = []
    for arg in call.args:
        passed = _passed_on(arg)
        if passed is None:
            return False
        got.append(passed)
    if len(got) != len(expected):
        return False
    # a positional parameter may be passed by keyword
    return all(gn == en and (gk == ek or (gk, ek) == ("kw", "pos")) for (gk, gn), (ek, en) in zip(got, expected))


@dataclass(frozen=True)
class Shape:
    """A matching method: what the decorator needs to reproduce it."""

    fallback: str
    redis_attr: str | None  # the guard's attribute; None when there is no guard
    exceptions: cst.BaseExpression
    fixable: bool
    reason: str
    try_body: Sequence[cst.BaseStatement]
    docstring: cst.BaseStatement | None


@dataclass(frozen=True)
class _Guard:
    """``if not self.<redis_attr>: return self.<fallback>(...)`` ahead of the ``try``."""

    redis_attr: str
    fallback: _Fallback


def _method_body(function: cst.FunctionDef) -> tuple[str, list[cst.BaseStatement]] | None:
    """The name of ``self`` and the statements of an undecorated method with an indented body."""
    params = function.params
    positional = (*params.posonly_params, *params.params)
    if not positional or function.decorators or not isinstance(function.body, cst.IndentedBlock):
        return None
    return positional[0].name.value, list(function.body.body)


def _guard_attr(guard: cst.If, self_name: str) -> str | None:
    """``attr`` of a lone ``if not self.<attr>:`` (no ``elif``/``else``), else None."""
    test = guard.test
    if guard.orelse is not None or not isinstance(test, cst.UnaryOperation) or not isinstance(test.operator, cst.Not):
        return None
    checked = test.expression
    if isinstance(checked, cst.Attribute) and isinstance(checked.value, cst.Name) and checked.value.value == self_name:
        return checked.attr.value
    return None


def _split_guard(
    body: list[cst.BaseStatement], self_name: str
) -> tuple[_Guard | None, list[cst.BaseStatement]] | None:
    """The optional guard and the statements after it; None when the first of two is another ``if``."""
    if len(body) != 2 or not isinstance(body[0], cst.If):
        return None, body
    attr = _guard_attr(body[0], self_name)
    fallback = _fallback_call(_single_statement(body[0].body), self_name) if attr is not None else None
    if attr is None or fallback is None:
        return None
    return _Guard(attr, fallback), body[1:]


def _lone_try(body: Sequence[cst.BaseStatement]) -> cst.Try | None:
    """The body's only statement when it is a ``try`` with one typed ``except`` and no ``else``/``finally``."""
    if len(body) != 1 or not isinstance(body[0], cst.Try):
        return None
    attempt = body[0]
    if len(attempt.handlers) != 1 or attempt.orelse is not None or attempt.finalbody is not None:
        return None
    return attempt if attempt.handlers[0].type is not None else None


def _handler_fallback(handler: cst.ExceptHandler, self_name: str) -> _Fallback | None:
    """The fallback of an ``except`` block that only logs, then returns ``self.<fallback>(...)``."""
    handler_body = list(handler.body.body) if isinstance(handler.body, cst.IndentedBlock) else []
    if not handler_body or not all(_is_log_call(s) for s in handler_body[:-1]):
        return None
    last = handler_body[-1]
    if not (isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1):
        return None
    return _fallback_call(last.body[0], self_name)


def _talks_to_redis(attempt: cst.Try, exceptions: cst.BaseExpression, self_name: str) -> bool:
    """Without a guard, only a ``try`` that uses ``self.redis...`` or catches a Redis error counts."""
    return f"{self_name}.redis" in _code(attempt.body).lower() or "redis" in _code(exceptions).lower()


def _unfixable_reason(function: cst.FunctionDef, attempt: cst.Try, fallback: _Fallback) -> str:
    """Why the decorator could not reproduce the method ("" when it can)."""
    if not _params_match(fallback.call, function.params):
        return "its fallback is not called with the method's own arguments"
    if fallback.name == function.name.value:
        return "it falls back to itself"
    handler = attempt.handlers[0]
    if handler.name is not None and isinstance(handler.name.name, cst.Name) and _uses_name(
        attempt.body, handler.name.name.value
    ):
        return "its Redis path uses the exception variable"
    return ""


def _try_shape(
    function: cst.FunctionDef, self_name: str, guard: _Guard | None, attempt: cst.Try,
    docstring: cst.BaseStatement | None,
) -> Shape | None:
    """The shape, once the lone ``try`` is found: its ``except`` must fall back as the guard does."""
    handler = attempt.handlers[0]
    fallback = _handler_fallback(handler, self_name)
    if fallback is None or handler.type is None or (guard is not None and not guard.fallback.same_as(fallback)):
        return None
    if guard is None and not _talks_to_redis(attempt, handler.type, self_name):
        return None
    reason = _unfixable_reason(function, attempt, fallback)
    redis_attr = guard.redis_attr if guard is not None else None
    return Shape(fallback.name, redis_attr, handler.type, not reason, reason, list(attempt.body.body), docstring)


def match(function: cst.FunctionDef) -> Shape | None:
    """The Redis-with-fallback shape, or None when ``function`` is something else."""
    method = _method_body(function)
    if method is None:
        return None
    self_name, body = method
    docstring = body.pop(0) if body and _is_docstring(body[0]) else None
    split = _split_guard(body, self_name)
    if split is None:
        return None
    guard, rest = split
    attempt = _lone_try(rest)
    if attempt is None:
        return None
    return _try_shape(function, self_name, guard, attempt, docstring)


def _uses_name(node: cst.CSTNode, name: str) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            nonlocal found
            found = found or n.value == name

    visit(node, Finder())
    return found


def _exception_names(expr: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    if isinstance(expr, cst.Tuple):
        items = [e.value for e in expr.elements]
    else:
        items = [expr]
    if all(isinstance(i, (cst.Name, cst.Attribute)) for i in items):
        return items
    return None


def resolve_exceptions(expr: cst.BaseExpression, table: ImportTable, module: str, path: str) -> tuple[str, ...] | None:
    """Absolute qualified names of the caught classes (``builtins.X`` for builtins), or None."""
    items = _exception_names(expr)
    if items is None:
        return None
    out = []
    for item in items:
        resolved = table.resolve(item)
        if resolved is None:
            dotted = _code(item)
            head = dotted.split(".")[0]
            if head not in table.module_bindings:
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


# --------------------------------------------------------------------------------------------
# from Python's ast: the methods, the decorated ones, and which may match (no libcst)
# --------------------------------------------------------------------------------------------

_AstFunction = ast.FunctionDef | ast.AsyncFunctionDef


def _ast_methods(body: Sequence[ast.stmt], in_class: bool) -> Iterator[_AstFunction]:
    """Every function written directly in a class body (at any depth), in source order."""
    for stmt in body:
        if in_class and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield stmt
        for block in _child_blocks(stmt):
            yield from _ast_methods(block, isinstance(stmt, ast.ClassDef))


def module_methods(tree: ast.Module) -> list[_AstFunction]:
    """``_ast_methods`` of the whole module, once per tree (``wants`` and the facts both ask)."""
    return list(_ast_methods(tree.body, False)) if index(tree).has(ast.ClassDef) else []


def _decorator_name(expr: ast.expr) -> str:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else ""


def _returns_self_call(stmt: ast.stmt, self_name: str) -> bool:
    """``return self.<name>(...)`` or ``return await self.<name>(...)``."""
    value = stmt.value if isinstance(stmt, ast.Return) else None
    if isinstance(value, ast.Await):
        value = value.value
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id == self_name
    )


def _may_fall_back(stmt: ast.stmt, self_name: str) -> bool:
    """A ``try`` with one typed ``except`` (no ``else``/``finally``) ending ``return self.<x>(...)``."""
    if not isinstance(stmt, ast.Try) or len(stmt.handlers) != 1 or stmt.orelse or stmt.finalbody:
        return False
    handler = stmt.handlers[0]
    return handler.type is not None and _returns_self_call(handler.body[-1], self_name)


def may_match(function: _AstFunction) -> bool:
    """What ``match`` needs, in ``ast`` terms and loosely (never False when ``match`` may succeed):
    undecorated, a ``self``, then ``[docstring] [if ...] try/except`` as ``_may_fall_back`` says."""
    positional = [*function.args.posonlyargs, *function.args.args]
    if not positional or function.decorator_list:
        return False
    body = function.body[1:] if isinstance(function.body[0], ast.Expr) else function.body
    if len(body) == 2 and isinstance(body[0], ast.If):
        body = body[1:]
    return len(body) == 1 and _may_fall_back(body[0], positional[0].arg)


def decorated_facts(tree: ast.Module, path: str) -> list[DecoratedFact]:
    """The methods already under ``@redis_with_fallback`` (``match`` never accepts a decorated one)."""
    return [
        DecoratedFact(path, function.name)
        for function in per_tree(module_methods, tree)
        if any(_decorator_name(d) == DECORATOR for d in function.decorator_list)
    ]


@dataclass(frozen=True)
class DecoratePayload:
    """Reduce the listed methods (scope, name) to their Redis path under the decorator."""

    targets: tuple[tuple[str, str, str], ...]  # (class scope, method name, decorator arguments)
    import_from: str | None


@dataclass(frozen=True)
class DefineDecoratorPayload:
    source: str
    imports: tuple[tuple[str, str | None], ...]


class DuplicatedRedisFallback(ProjectRule):
    """
    ## What it does
    Finds two or more methods (in any files) with the same Redis-with-fallback shape: an optional
    `if not self.<redis>: return self.<fallback>(args)`, then `try: <redis work>` with a single
    `except <Exc> [as e]:` that only logs and returns the same `self.<fallback>(args)` call. The
    fallback method differs per method; the pattern is the same.

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
    arguments are reported without a fix.

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
    def ast_facts(cls, tree: ast.Module, text: str, path: str) -> list[Any]:
        """Every file's ``ModuleFact`` (the project phase needs every module's imports, for cycles,
        and bindings: the decorator's module may be any module), and its decorated methods."""
        return [per_tree(module_fact, tree, text, path), *decorated_facts(tree, path)]

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """Only files with a method ``match`` may accept reach libcst (judged from the ``ast``)."""
        if tree is None:
            return True
        return any(may_match(function) for function in per_tree(module_methods, tree))

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._module = ""
        self._root = ""
        self._functions: list[ast.AST] | None = None
        self._index = -1

    def visit_Module(self, node: cst.Module) -> None:
        # the ModuleFact and DecoratedFacts come from ``ast_facts``; the visit records the matches
        self._module, self._root = module_name(self.ctx.path)

    def _position(self) -> tuple[int, int, int, int] | None:
        if self._functions is None:
            tree = self.ctx.tree if self.ctx.tree is not None else ast.parse(self.ctx.module.code)
            nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            self._functions = sorted(nodes, key=lambda n: (n.lineno, n.col_offset))
        if self._index >= len(self._functions):
            return None
        node = self._functions[self._index]
        return node.lineno, node.col_offset + 1, node.end_lineno or node.lineno, (node.end_col_offset or 0) + 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._index += 1
        parent = self.ctx.ancestors[-3] if len(self.ctx.ancestors) >= 3 else None
        if not isinstance(parent, cst.ClassDef):
            return
        shape = match(node)
        if shape is None:
            return
        position = self._position()
        if position is None:
            return
        line, column, end_line, end_column = position
        scope = self.ctx.scope_name().rpartition(".")[0]
        self.add_fact(
            FunctionFact(
                path=self.ctx.path, module=self._module, root=self._root, line=line, column=column,
                end_line=end_line, end_column=end_column, scope=scope, name=node.name.value,
                is_async=node.asynchronous is not None, fallback=shape.fallback, redis_attr=shape.redis_attr,
                exceptions_code=_code(shape.exceptions),
                exceptions=resolve_exceptions(shape.exceptions, self.ctx.imports, self._module, self.ctx.path),
                fixable=shape.fixable, reason=shape.reason,
            )
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
            reducer = _Reduce(payload.targets)
            new = module.visit(reducer)
            if reducer.done and payload.import_from:
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
        collected = cls()
        for path in sorted(facts):
            for fact in facts[path]:
                if isinstance(fact, ModuleFact):
                    collected.modules[fact.path] = fact
                elif isinstance(fact, FunctionFact):
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
        target = _resolve_option_path(option, modules)
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


class _Reduce(cst.CSTTransformer):
    def __init__(self, targets: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.targets = {(scope, name): args for scope, name, args in targets}
        self.scope: list[str] = []
        self.done = 0

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.scope.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.scope.pop()
        args = self.targets.get((".".join(self.scope), updated_node.name.value))
        if args is None:
            return updated_node
        shape = match(updated_node)
        if shape is None or not shape.fixable or not isinstance(updated_node.body, cst.IndentedBlock):
            return updated_node
        body = list(shape.try_body)
        if body:
            # keep the comments above the first statement of the try block, not its blank lines
            body[0] = body[0].with_changes(leading_lines=[ln for ln in body[0].leading_lines if ln.comment is not None])
        if shape.docstring is not None:
            body.insert(0, shape.docstring)
        decorator = cst.Decorator(cst.parse_expression(f"{DECORATOR}({args})"))
        self.done += 1
        return updated_node.with_changes(
            decorators=[decorator],
            body=updated_node.body.with_changes(body=body),
        )
