"""WS304 duplicated-redis-fallback: the same "try Redis, else the in-memory copy" method shape, repeated."""

from __future__ import annotations

import ast
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.names import ImportTable
from wsrefactor.rule import FileContext, Invalid, Option, ProjectEdit, ProjectFinding, ProjectRule, Valid
from wsrefactor.rules.ws303_duplicated_serialization import (
    ModuleFact,
    _resolve_option_path,
    absolute,
    display,
    import_cycle,
    module_fact,
    module_name,
)

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


def _fallback_call(small: cst.CSTNode | None, self_name: str) -> tuple[cst.Call, bool] | None:
    """``return self.<fallback>(...)`` (or ``return await ...``): the call and whether awaited."""
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
        return value, awaited
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


def _params_match(call: cst.Call, params: cst.Parameters) -> bool:
    """Whether the fallback is called with exactly the method's own arguments, in order."""
    expected: list[tuple[str, str]] = []  # (kind, name)
    for param in (*params.posonly_params, *params.params)[1:]:
        expected.append(("pos", param.name.value))
    if isinstance(params.star_arg, cst.Param):
        expected.append(("*", params.star_arg.name.value))
    for param in params.kwonly_params:
        expected.append(("kw", param.name.value))
    if params.star_kwarg is not None:
        expected.append(("**", params.star_kwarg.name.value))
    got: list[tuple[str, str]] = []
    for arg in call.args:
        if not isinstance(arg.value, cst.Name):
            return False
        name = arg.value.value
        if arg.star == "*":
            got.append(("*", name))
        elif arg.star == "**":
            got.append(("**", name))
        elif arg.keyword is not None:
            if arg.keyword.value != name:
                return False
            got.append(("kw", name))
        else:
            got.append(("pos", name))
    if len(got) != len(expected):
        return False
    for (gk, gn), (ek, en) in zip(got, expected):
        if gn != en or (gk != ek and not (gk == "kw" and ek == "pos")):
            return False
    return True


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


def match(function: cst.FunctionDef) -> Shape | None:
    """The Redis-with-fallback shape, or None when ``function`` is something else."""
    params = function.params
    positional = (*params.posonly_params, *params.params)
    if not positional or function.decorators or not isinstance(function.body, cst.IndentedBlock):
        return None
    self_name = positional[0].name.value
    body = list(function.body.body)
    docstring = body.pop(0) if body and _is_docstring(body[0]) else None
    guard_call: tuple[cst.Call, bool] | None = None
    redis_attr: str | None = None
    if len(body) == 2 and isinstance(body[0], cst.If):
        guard = body.pop(0)
        assert isinstance(guard, cst.If)
        test = guard.test
        if guard.orelse is not None or not (
            isinstance(test, cst.UnaryOperation)
            and isinstance(test.operator, cst.Not)
            and isinstance(test.expression, cst.Attribute)
            and isinstance(test.expression.value, cst.Name)
            and test.expression.value.value == self_name
        ):
            return None
        redis_attr = test.expression.attr.value
        guard_call = _fallback_call(_single_statement(guard.body), self_name)
        if guard_call is None:
            return None
    if len(body) != 1 or not isinstance(body[0], cst.Try):
        return None
    attempt = body[0]
    if len(attempt.handlers) != 1 or attempt.orelse is not None or attempt.finalbody is not None:
        return None
    handler = attempt.handlers[0]
    if handler.type is None:
        return None
    handler_body = list(handler.body.body) if isinstance(handler.body, cst.IndentedBlock) else []
    if not handler_body or not all(_is_log_call(s) for s in handler_body[:-1]):
        return None
    last = handler_body[-1]
    if not (isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1):
        return None
    except_call = _fallback_call(last.body[0], self_name)
    if except_call is None:
        return None
    if guard_call is not None and (_code(guard_call[0]), guard_call[1]) != (_code(except_call[0]), except_call[1]):
        return None
    if redis_attr is None:
        # without a guard, only a method whose try block talks to a redis-like attribute
        text = _code(attempt.body).lower()
        if f"{self_name}.redis" not in text and "redis" not in _code(handler.type).lower():
            return None
    call = except_call[0]
    assert isinstance(call.func, cst.Attribute)
    fallback = call.func.attr.value
    fixable, reason = True, ""
    if not _params_match(call, params):
        fixable, reason = False, "its fallback is not called with the method's own arguments"
    elif fallback == function.name.value:
        fixable, reason = False, "it falls back to itself"
    elif handler.name is not None and isinstance(handler.name.name, cst.Name) and _uses_name(
        attempt.body, handler.name.name.value
    ):
        fixable, reason = False, "its Redis path uses the exception variable"
    return Shape(fallback, redis_attr, handler.type, fixable, reason, list(attempt.body.body), docstring)


def _uses_name(node: cst.CSTNode, name: str) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            nonlocal found
            found = found or n.value == name

    node.visit(Finder())
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


def _decorator_name(decorator: cst.Decorator) -> str:
    expr = decorator.decorator
    if isinstance(expr, cst.Call):
        expr = expr.func
    return expr.attr.value if isinstance(expr, cst.Attribute) else getattr(expr, "value", "")


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
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        return True  # every file: the project phase needs each module's imports and bindings

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._module = ""
        self._root = ""
        self._functions: list[ast.AST] | None = None
        self._index = -1

    def visit_Module(self, node: cst.Module) -> None:
        fact = module_fact(node, self.ctx.path)
        self._module, self._root = fact.module, fact.root
        self.add_fact(fact)

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
            if any(_decorator_name(d) == DECORATOR for d in node.decorators):
                self.add_fact(DecoratedFact(self.ctx.path, node.name.value))
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
        modules: dict[str, ModuleFact] = {}
        functions: list[FunctionFact] = []
        decorated: list[DecoratedFact] = []
        for path in sorted(facts):
            for fact in facts[path]:
                if isinstance(fact, ModuleFact):
                    modules[fact.path] = fact
                elif isinstance(fact, FunctionFact):
                    functions.append(fact)
                elif isinstance(fact, DecoratedFact):
                    decorated.append(fact)
        if not functions or len(functions) + len(decorated) < 2:
            return []
        functions.sort(key=lambda f: (f.path, f.line))
        edit = _plan([f for f in functions if f.fixable], modules, options)
        findings = []
        first_fix = True
        for fn in functions:
            others = ", ".join(
                f"{display(o.path, fn.root)}:{o.line} ({o.name})" for o in functions if o is not fn
            ) or ", ".join(f"{display(d.path, fn.root)} ({d.name}, decorated)" for d in decorated)
            message = f"`{fn.name}` repeats the Redis-with-fallback shape (fallback `{fn.fallback}`); also at {others}"
            fix = None
            if not fn.fixable:
                message += f"; not fixed: {fn.reason}"
            elif edit is not None:
                fix = edit if first_fix else ProjectEdit(edit.safety, edit.description, edit.payloads, ())
                first_fix = False
            findings.append(
                ProjectFinding(
                    path=fn.path, line=fn.line, column=fn.column, end_line=fn.end_line,
                    end_column=fn.end_column, stmt_line=fn.line, message=message, fix=fix,
                    context=f"{fn.scope}.{fn.name}:redis-fallback:{fn.fallback}",
                )
            )
        return findings

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        from wsrefactor.fixes import add_imports, add_module_statements

        if isinstance(payload, DefineDecoratorPayload):
            if any(isinstance(s, cst.FunctionDef) and s.name.value == DECORATOR for s in module.body):
                return module
            module = add_module_statements(module, [payload.source])
            return add_imports(module, payload.imports)
        if isinstance(payload, DecoratePayload):
            reducer = _Reduce(payload.targets)
            new = module.visit(reducer)
            if reducer.done and payload.import_from:
                new = add_imports(new, [(payload.import_from, DECORATOR)])
            return new
        return module


def _plan(functions: Sequence[FunctionFact], modules: Mapping[str, ModuleFact], options: Mapping[str, Any]) -> ProjectEdit | None:
    from wsrefactor.rules.ws305_inline_lua import render

    if not functions or any(f.path not in modules for f in functions):
        return None
    known = {m.module for m in modules.values()}
    graph = {m.module: {i for i in m.imports if i in known and i != m.module} for m in modules.values()}
    decorated = {modules[f.path].module for f in functions}

    # where the decorator lives
    option = str(options.get("helper-module") or "")
    first = functions[0]
    target = _resolve_option_path(option, modules) if option else os.path.join(os.path.dirname(first.path), "redis_fallback.py")
    existing: ModuleFact | None = modules.get(target)
    if existing is None and os.path.exists(target):
        try:
            with open(target, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            return None
        if f"def {DECORATOR}(" not in text:
            return None  # somebody else's module that this run cannot edit
    helper_module = existing.module if existing is not None else module_name(target)[0]
    if existing is not None and any(
        import_cycle(graph, helper_module, m) for m in decorated if m != helper_module
    ):
        return None
    already_defined = (existing is not None and DECORATOR in existing.names) or (
        existing is None and os.path.exists(target)
    )

    # the decorator's defaults: the most common exceptions (if the helper can import them) and attribute
    exception_sets = Counter(f.exceptions for f in functions if f.exceptions is not None)
    default_exceptions: tuple[str, ...] | None = None
    import_lines: list[str] = []
    imports: list[tuple[str, str | None]] = []
    for candidate, _ in exception_sets.most_common():
        names = []
        ok = True
        for qual in candidate:
            mod, _, name = qual.rpartition(".")
            if mod == "builtins":
                names.append(name)
                continue
            if not mod or "." in name or mod in decorated or mod == helper_module or any(
                import_cycle(graph, mod, m) for m in decorated
            ):
                ok = False
                break
            names.append(name)
            imports.append((mod, name))
        if ok and len(set(names)) == len(names):
            default_exceptions = candidate
            default_code = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
            import_lines = [f"from {m} import {n}" for m, n in imports]
            break
        imports = []
    if default_exceptions is None:
        default_code = "Exception"
    attrs = Counter(f.redis_attr for f in functions if f.redis_attr is not None)
    default_attr = attrs.most_common(1)[0][0] if attrs else "redis"

    source = render("ws304_redis_with_fallback.py.jinja2", redis_attr=default_attr, exceptions=default_code)
    payloads: list[tuple[str, Any]] = []
    new_files: tuple[tuple[str, str], ...] = ()
    if not already_defined:
        if existing is None:
            text = render(
                "ws304_redis_fallback_module.py.jinja2",
                redis_attr=default_attr, exceptions=default_code, import_lines=import_lines,
            )
            new_files = ((target, text),)
        else:
            payloads.append(
                (target, DefineDecoratorPayload(source.strip(), (("functools", None), ("inspect", None), ("logging", None), *imports)))
            )
    by_path: dict[str, list[tuple[str, str, str]]] = {}
    for fn in functions:
        args = [json.dumps(fn.fallback)]
        if fn.redis_attr != default_attr:
            args.append(f"redis_attr={json.dumps(fn.redis_attr)}" if fn.redis_attr else "redis_attr=None")
        if fn.exceptions is None or fn.exceptions != default_exceptions:
            args.append(f"exceptions={fn.exceptions_code}")
        by_path.setdefault(fn.path, []).append((fn.scope, fn.name, ", ".join(args)))
    for path in sorted(by_path):
        same = path == target
        payloads.append((path, DecoratePayload(tuple(by_path[path]), None if same else helper_module)))
    where = display(target, first.root)
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
        if shape is None or not shape.fixable:
            return updated_node
        body = list(shape.try_body)
        if body:
            # keep the comments above the first statement of the try block, not its blank lines
            body[0] = body[0].with_changes(leading_lines=[ln for ln in body[0].leading_lines if ln.comment is not None])
        if shape.docstring is not None:
            body.insert(0, shape.docstring)
        decorator = cst.Decorator(cst.parse_expression(f"{DECORATOR}({args})"))
        self.done += 1
        assert isinstance(updated_node.body, cst.IndentedBlock)
        return updated_node.with_changes(
            decorators=[decorator],
            body=updated_node.body.with_changes(body=body),
        )
