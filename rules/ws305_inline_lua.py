"""WS305 inline-lua-script: a Redis Lua script written as a Python string literal."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from collections.abc import Sequence
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, Rule, Valid
from wsrefactor.walk import visit

_SCRIPT_METHODS = frozenset({"eval", "evalsha", "register_script", "script_load"})
_StringNode = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def looks_like_lua(text: str) -> bool:
    """A Redis script: a ``redis.call(``/``redis.pcall(`` plus ``KEYS[`` or ``ARGV[``."""
    return ("redis.call(" in text or "redis.pcall(" in text) and ("KEYS[" in text or "ARGV[" in text)


def render(template: str, /, **values: Any) -> str:
    """Render ``rules/templates/<name>`` (jinja2 is imported only when a fix is generated).

    Shared by the rules that generate code (WS303, WS304, WS305); templates may ``include`` others.
    """
    return _environment().get_template(template).render(**values)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """One jinja2 environment per process: it compiles each template once (building it per call
    recompiled the template for every group of copies, a third of a project phase's time)."""
    import importlib.resources

    import jinja2

    folder = importlib.resources.files("wsrefactor.rules") / "templates"

    def load(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    # The templates generate Python source, not HTML: escaping would corrupt the code (a quote
    # would come out as ``&#34;``), so autoescape must stay off.
    env = jinja2.Environment(  # nosec B701 - renders Python code, never HTML
        loader=jinja2.FunctionLoader(load),
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pystr"] = json.dumps  # a double-quoted literal Python reads back the same
    return env


def _script_arg(call: cst.Call) -> cst.Arg | None:
    """The script argument of ``<client>.eval(...)`` and friends: ``script=``, else the first positional."""
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.attr.value in _SCRIPT_METHODS):
        return None
    arg = next((a for a in call.args if a.keyword is not None and a.keyword.value == "script"), None)
    if arg is not None:
        return arg
    return next((a for a in call.args if a.keyword is None and not a.star), None)


def literal_value(module: cst.Module, node: cst.CSTNode) -> Any:
    """The runtime value of a plain (not formatted) string literal, else None."""
    if isinstance(node, cst.FormattedString):
        return None
    if isinstance(node, cst.ConcatenatedString):
        parts: list[cst.CSTNode] = []
        stack: list[cst.CSTNode] = [node]
        while stack:
            part = stack.pop()
            if isinstance(part, cst.ConcatenatedString):
                stack.extend((part.right, part.left))
            else:
                parts.append(part)
        if not all(isinstance(p, cst.SimpleString) for p in parts):
            return None
    code = module.code_for_node(node)
    try:
        return ast.literal_eval(code.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


class _Scan(cst.CSTVisitor):
    """Finds the string literals holding Lua that reach a script-taking Redis method."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__()
        self.module = module
        self.scopes: list[cst.CSTNode] = [module]
        # (scope, name) -> assigned values (several = reassigned: ambiguous)
        self.assigned: dict[tuple[int, str], list[cst.CSTNode]] = {}
        self.owner: dict[int, str] = {}  # id(literal) -> enclosing function name or "module"
        self.calls: list[tuple[cst.Call, cst.CSTNode, list[cst.CSTNode]]] = []

    def _function_name(self) -> str:
        for scope in reversed(self.scopes):
            if isinstance(scope, cst.FunctionDef):
                return scope.name.value
        return "module"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scopes.pop()

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return True

    def _bind(self, target: cst.BaseExpression, value: cst.CSTNode | None) -> None:
        if isinstance(target, cst.Name):
            key = (id(self.scopes[-1]), target.value)
            self.assigned.setdefault(key, []).append(value if value is not None else cst.Name("None"))

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind(t.target, node.value if len(node.targets) == 1 else None)
        if len(node.targets) == 1 and isinstance(node.value, _StringNode):
            self.owner[id(node.value)] = self._function_name()

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, node.value)
        if node.value is not None and isinstance(node.value, _StringNode):
            self.owner[id(node.value)] = self._function_name()

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target, None)

    def visit_Call(self, node: cst.Call) -> None:
        arg = _script_arg(node)
        if arg is None:
            return
        if isinstance(arg.value, _StringNode):
            self.owner.setdefault(id(arg.value), self._function_name())
        self.calls.append((node, arg.value, list(self.scopes)))

    def resolve(self, value: cst.CSTNode, scopes: Sequence[cst.CSTNode]) -> cst.CSTNode | None:
        if isinstance(value, _StringNode):
            return value
        if not isinstance(value, cst.Name):
            return None
        inner = scopes[-1]
        local = self.assigned.get((id(inner), value.value))
        if local is not None:
            return local[0] if len(local) == 1 and isinstance(local[0], _StringNode) else None
        if isinstance(inner, cst.ClassDef):
            return None
        glob = self.assigned.get((id(scopes[0]), value.value))
        if glob is not None and len(glob) == 1 and isinstance(glob[0], _StringNode):
            return glob[0]
        return None

    def flagged(self) -> list[tuple[cst.CSTNode, str]]:
        seen: dict[int, tuple[cst.CSTNode, str]] = {}
        for _call, value, scopes in self.calls:
            literal = self.resolve(value, scopes)
            if literal is None or id(literal) in seen:
                continue
            text = self.module.code_for_node(literal)
            if isinstance(literal, cst.FormattedString) or not isinstance(literal_value(self.module, literal), str):
                if not looks_like_lua(text):
                    continue
            elif not looks_like_lua(literal_value(self.module, literal)):
                continue
            seen[id(literal)] = (literal, self.owner.get(id(literal), "module"))
        return list(seen.values())


class InlineLuaScript(Rule):
    """
    ## What it does
    Finds Redis Lua scripts written inline as Python string literals and passed to `eval`,
    `evalsha`, `register_script` or `script_load` (on any client object), directly or through a
    name assigned once in the same function or at module level. A string counts as Lua when it
    holds `redis.call(` or `redis.pcall(` and `KEYS[` or `ARGV[`.

    ## Why is this bad?
    A script buried in a method cannot be linted, syntax-highlighted, unit-tested with a Lua
    runner or reviewed as what it is; the method also grows by the length of the script. Keeping
    scripts in `.lua` files next to the module makes them first-class code, loaded once at import.

    ## Example
    ```python
    def check_rate_limit(self, key, limit, window):
        script = \"\"\"
        local current = redis.call('INCR', KEYS[1])
        return current <= tonumber(ARGV[1])
        \"\"\"
        return self.redis.eval(script, 1, key, limit)
    ```

    ## Use instead
    ```python
    from pathlib import Path

    _CHECK_RATE_LIMIT_LUA = (Path(__file__).parent / "lua" / "check_rate_limit_1.lua").read_text(encoding="utf-8")

    def check_rate_limit(self, key, limit, window):
        script = _CHECK_RATE_LIMIT_LUA
        return self.redis.eval(script, 1, key, limit)
    ```
    The fix is *safe*: it writes `lua/<function>_<n>.lua` beside the module with exactly the
    string's runtime value, loads it once at import relative to the module's own file, and uses
    that constant in place of the literal. f-strings, bytes and strings built from non-literals
    are reported without a fix.

    ## Options
    - `directory` (str, default `"lua"`): the folder, relative to the module, that receives the scripts.
    """

    code = "WS305"
    name = "inline-lua-script"
    category = "maintainability"
    severity = Severity.INFO
    fix_safety = FixSafety.SAFE
    summary = "inline Redis Lua script; move it to a .lua file loaded at import"
    tokens = ("redis.call(", "redis.pcall(")
    options = (Option("directory", str, "lua", "folder (relative to the module) receiving the .lua files"),)

    VALID = [
        Valid("""
            _SCRIPT = (Path(__file__).parent / "lua" / "limit.lua").read_text(encoding="utf-8")

            def limit(r, key):
                return r.eval(_SCRIPT, 1, key)
        """),
        Valid("""
            def log(r):
                # mentions redis.call( and KEYS[ but is never run as a script
                r.set("doc", "use redis.call('GET', KEYS[1]) in scripts")
        """),
        Valid("""
            def run(r, key):
                return r.eval("return 1", 1, key)
        """),
    ]
    INVALID = [
        Invalid(
            """
            import logging

            logger = logging.getLogger(__name__)


            def check_rate_limit(r, key, limit):
                script = \"\"\"
                local current = redis.call('INCR', KEYS[1])
                return current <= tonumber(ARGV[1])
                \"\"\"
                return r.eval(script, 1, key, limit)
            """,
            """
            import logging
            from pathlib import Path

            _CHECK_RATE_LIMIT_LUA = (Path(__file__).parent / "lua" / "check_rate_limit_1.lua").read_text(encoding="utf-8")

            logger = logging.getLogger(__name__)


            def check_rate_limit(r, key, limit):
                script = _CHECK_RATE_LIMIT_LUA
                return r.eval(script, 1, key, limit)
            """,
            lines=(7,),
        ),
        Invalid(
            """
            def touch(client, key):
                return client.register_script("return redis.call('EXPIRE', KEYS[1], ARGV[1])")(keys=[key], args=[60])
            """,
            """
            from pathlib import Path

            _TOUCH_LUA = (Path(__file__).parent / "lua" / "touch_1.lua").read_text(encoding="utf-8")


            def touch(client, key):
                return client.register_script(_TOUCH_LUA)(keys=[key], args=[60])
            """,
            lines=(2,),
        ),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._flagged: dict[int, str] = {}
        self._counters: dict[str, int] = {}
        self._constants: set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        scan = _Scan(node)
        visit(node, scan)
        self._flagged = {id(lit): fn for lit, fn in scan.flagged()}

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self._check(node)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        self._check(node)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self._check(node)

    def _check(self, node: cst.CSTNode) -> None:
        function = self._flagged.pop(id(node), None)
        if function is None:
            return
        value = literal_value(self.ctx.module, node)
        fix = None
        if isinstance(value, str) and "\r" not in value:
            fix = self._fix(node, function, value)
        self.report(node, fix=fix)

    def _fix(self, node: cst.CSTNode, function: str, value: str) -> Fix | None:
        directory = str(self.opts["directory"]).strip("/") or "lua"
        slug = re.sub(r"\W", "_", function).strip("_") or "module"
        n, filename, constant = self._free_slot(slug, directory, value)
        self._counters[slug] = n
        self._constants.add(constant)
        path_expr, imports = self._path_import()
        statement = render(
            "ws305_lua_constant.py.jinja2",
            constant=constant, path_expr=path_expr, parts=directory.split("/"), filename=filename,
        )
        return Fix(
            FixSafety.SAFE,
            f"move the Lua script to {directory}/{filename}, loaded once at import",
            # keep the literal's parentheses (and the comments in their whitespace)
            replacements={node: cst.Name(constant, lpar=getattr(node, "lpar", ()), rpar=getattr(node, "rpar", ()))},
            imports=imports,
            module_statements=(statement.strip(),),
            new_files=((f"{directory}/{filename}", value),),
        )

    def _free_slot(self, slug: str, directory: str, value: str) -> tuple[int, str, str]:
        """``(n, <slug>_<n>.lua, _<SLUG>_LUA[_<n>])``: the first constant name not bound in the module
        whose file does not exist yet or already holds this very script."""
        base = os.path.dirname(os.path.abspath(self.ctx.path))
        bound = self.ctx.imports.module_bindings | set(self.ctx.imports.aliases)
        n = self._counters.get(slug, 0)
        while True:
            n += 1
            filename = f"{slug}_{n}.lua"
            constant = f"_{slug.upper()}_LUA" + (f"_{n}" if n > 1 else "")
            if constant in bound or constant in self._constants:
                continue
            if _holds_other_text(os.path.join(base, directory, filename), value):
                continue
            return n, filename, constant

    def _path_import(self) -> tuple[str, tuple[tuple[str, str | None], ...]]:
        """How the constant spells ``Path``: ``Path`` when free (or already pathlib's), else ``pathlib.Path``."""
        path_alias = self.ctx.imports.aliases.get("Path")
        if path_alias in (None, "pathlib.Path") and "Path" not in self.ctx.imports.module_bindings:
            return "Path", (("pathlib", "Path"),)
        return "pathlib.Path", (("pathlib", None),)


def _holds_other_text(path: str, value: str) -> bool:
    """Whether ``path`` exists with other content than ``value`` (or cannot be read): not ours to reuse."""
    if not os.path.exists(path):
        return False
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read() != value
    except (OSError, UnicodeDecodeError):
        return True
