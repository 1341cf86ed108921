"""WS305 inline-lua-script: a Redis Lua script written as a Python string literal."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from wsrefactor.codegen import render
from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.semantic import Analyses, Imports, Scope, SemanticModel
from wsrefactor.semantic.detection import Detection, detect_at

_SCRIPT_METHODS = frozenset({"eval", "evalsha", "register_script", "script_load"})


def looks_like_lua(text: str) -> bool:
    """A Redis script: a ``redis.call(``/``redis.pcall(`` plus ``KEYS[`` or ``ARGV[``."""
    return ("redis.call(" in text or "redis.pcall(" in text) and ("KEYS[" in text or "ARGV[" in text)


def _script_arg(call: ast.Call) -> ast.expr | None:
    """The script argument of ``<client>.eval(...)`` and friends: ``script=``, else the first positional."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in _SCRIPT_METHODS):
        return None
    for keyword in call.keywords:
        if keyword.arg == "script":
            return keyword.value
    return next((a for a in call.args if not isinstance(a, ast.Starred)), None)


def _owner(scope: Scope) -> str:
    """Names the generated file: the enclosing function, else class, else ``module``."""
    cls = None
    current: Scope | None = scope
    while current is not None:
        if current.kind == "function":
            return current.name
        if current.kind == "class" and cls is None:
            cls = current.name
        current = current.parent
    return cls or "module"


class InlineLuaScript(SemanticRule):
    """
    ## What it does
    Finds Redis Lua scripts written inline as Python string literals and passed to `eval`,
    `evalsha`, `register_script` or `script_load` (on any client object), directly, through a
    name bound once where the call reads it (function, enclosing function or module), or through
    a class attribute bound once (`self.script`, `cls.script`, `Limiter.script`). A string counts
    as Lua when it holds `redis.call(` or `redis.pcall(` and `KEYS[` or `ARGV[`. Decided on the
    semantic model (`wsrefactor.semantic`); a plain check never parses the file with libcst.

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
    fix_node_types = ("SimpleString", "ConcatenatedString", "FormattedString")

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
        Valid("""
            class Gate:
                script = "return redis.call('GET', KEYS[1])"

                def use_other(self, r, other):
                    self.script = other  # reassigned: which script runs is unknown
                    return r.eval(self.script, 1, "k")
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
        Invalid(
            # a class attribute loaded in a classmethod through ``cls`` and elsewhere through the class
            """
            class RateGate:
                lua_script = \"\"\"
                local key = KEYS[1]
                local current = tonumber(redis.call('get', key) or '0')
                if current >= tonumber(ARGV[1]) then return 1 end
                redis.call('incr', key)
                return 0
                \"\"\"

                @classmethod
                async def init(cls, redis):
                    cls.lua_sha = await redis.script_load(cls.lua_script)


            async def reload(redis):
                return await redis.script_load(RateGate.lua_script)
            """,
            """
            from pathlib import Path

            _RATEGATE_LUA = (Path(__file__).parent / "lua" / "RateGate_1.lua").read_text(encoding="utf-8")


            class RateGate:
                lua_script = _RATEGATE_LUA

                @classmethod
                async def init(cls, redis):
                    cls.lua_sha = await redis.script_load(cls.lua_script)


            async def reload(redis):
                return await redis.script_load(RateGate.lua_script)
            """,
            lines=(2,),
        ),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._counters: dict[str, int] = {}
        self._constants: set[str] = set()

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        model = analyses(SemanticModel)
        seen: set[int] = set()
        for call, scope in model.calls():
            arg = _script_arg(call)
            literal = None if arg is None else model.string_literal(arg, scope)
            if literal is None or id(literal) in seen:
                continue
            value = literal.value if isinstance(literal, ast.Constant) else None
            if not looks_like_lua(value if isinstance(value, str) else analyses.segment(literal)):
                continue
            seen.add(id(literal))
            fixable = isinstance(value, str) and "\r" not in value
            owner = _owner(model.scope_of(literal))
            yield detect_at(analyses, literal, cls.summary, fixable=fixable, data=(owner, value))

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        function, value = detection.data
        return self._fix(node, function, value)

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
        imports = self.ctx.analysis(Imports)
        bound = imports.module_bindings | set(imports.aliases)
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
        imports = self.ctx.analysis(Imports)
        path_alias = imports.aliases.get("Path")
        if path_alias in (None, "pathlib.Path") and "Path" not in imports.module_bindings:
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
