"""WS302 long-function: a function longer than the limit, in lines (its real span)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from wsrefactor import complexity
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import AstReport, Invalid, Option, Valid
from wsrefactor.rules._extract import (
    PLACEMENT_OPTION,
    ExtractRule,
    _defs_in_order,
    radon_functions,
)
from wsrefactor.rules._prefilter import index, per_tree


def _length(block: Any) -> int:
    return int(block.endline - block.lineno + 1)


def _real_functions(tree: ast.Module) -> dict[int, Any]:
    """radon's function blocks by source ordinal, their ``endline`` the real last line
    (:func:`wsrefactor.complexity.with_real_spans`, the gate's and the dashboard's measure)."""
    functions = radon_functions(tree)
    fixed = complexity.with_real_spans(list(functions.values()), tree)
    return dict(zip(functions, fixed))


class LongFunction(ExtractRule):
    """
    ## What it does
    Reports functions and methods (closures included) longer than `max-lines`, counted like
    `wsrefactor gate` and the dashboard count them: from the `def` line to the function's real
    last line (Python's `ast` span; decorators excluded; radon's own end line stops at the line
    the last statement starts on, or at the `def` when the body ends with an `assert`). The
    finding sits on the `def` line: `function 'authenticate' is 97 lines long > 50`. Files
    without such a function are never parsed by libcst for this rule.

    ## Why is this bad?
    A handler that does not fit on a screen mixes several jobs (parsing, authentication,
    storage, replies); it is read by scrolling, reviewed poorly, and its parts cannot be
    reused or tested alone.

    ## Example
    ```python
    def build_settings(env):
        settings = {}
        settings["host"] = env.get("WS_HOST")
        ...  # 60 more lines
        return settings
    ```

    ## Use instead
    ```python
    def _build_settings_settings(env):
        settings = {}
        settings["host"] = env.get("WS_HOST")
        ...
        return settings


    def build_settings(env):
        settings = _build_settings_settings(env)
        ...
        return settings
    ```
    The *unsafe* fix is the extract-method engine of WS301 with length as the measure: the run
    of statements whose move makes the longer of the two functions shortest, with the fewest
    inputs and outputs, verified with radon; repeated until the function fits. It refuses the
    same runs as WS301 (see `wsrefactor explain WS301`): `return` except at the tail, `yield`,
    `break`/`continue` of an outer loop, `global`/`nonlocal` writes, `del` of names, walrus in
    comprehensions, frame introspection, maybe-unbound inputs, closures across the boundary,
    outputs inside `try`/`with` bodies, zero-argument `super()` outside methods. When no safe
    run is left, the finding says `no safe extraction remains`.

    ## Options
    - `max-lines` (int, default 50): longest function allowed, in lines.
    - `helper-placement` (`"after"` or `"before"`, default `"after"`): whether the extracted helper goes
      right after the function or right before it.
    """

    code = "WS302"
    name = "long-function"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "function is too long (more lines than the limit)"
    options = (
        Option("max-lines", int, 50, "Longest function allowed, in lines from `def` to its last line."),
        PLACEMENT_OPTION,
    )
    metric = "lines"
    # Its only fix is planned lazily (extract method): when edits are not planned (JSON, SARIF,
    # the dashboard without --fix-edits) the runner decides it from the ast, as a plain check does.
    lazy_fix = True
    option_name = "max-lines"

    VALID = [
        Valid("""
            def greet(name):
                message = f"hello {name}"
                return message
        """),
    ]
    INVALID = [
        Invalid(
            """
            def configure(env):
                conf = {}
                conf["a"] = env.get("A")
                conf["b"] = env.get("B")
                conf["c"] = env.get("C")
                conf["d"] = env.get("D")
                return conf
            """,
            """
            def configure(env):
                conf = _configure_conf(env)
                conf["c"] = env.get("C")
                conf["d"] = env.get("D")
                return conf


            def _configure_conf(env):
                conf = {}
                conf["a"] = env.get("A")
                conf["b"] = env.get("B")
                return conf
            """,
            lines=(1,),
            options={"max-lines": 5},
        ),
    ]

    # The shared base reads radon's ``endline``; WS302 hands it blocks whose ``endline`` is the
    # real one (``_real_functions``), in the prefilter, the ast path and the libcst path alike.

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        if tree is None:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError):
                return False
        limit = cls.limit_from(options)
        defs = index(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef)
        if all(last - first + 1 <= limit for first, last in map(complexity.span, defs)):
            return False  # no def is that long: radon need not run
        return any(_length(b) > limit for b in per_tree(_real_functions, tree).values())

    @classmethod
    def ast_reports(
        cls, tree: ast.Module, text: str, options: Mapping[str, Any]
    ) -> list[AstReport] | None:
        limit = cls.limit_from(options)
        defs = per_tree(_defs_in_order, tree)
        out = []
        for ordinal, block in per_tree(_real_functions, tree).items():
            if _length(block) <= limit:
                continue
            node, scope = defs[ordinal]
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            out.append(
                AstReport(
                    line=node.lineno, column=node.col_offset + 1, end_line=end,
                    end_column=(node.end_col_offset or 0) + 1,
                    message=cls.message(cls, node.name, block, limit),  # type: ignore[arg-type]
                    fixable=True, stmt_line=first, stmt_end_line=end, context=f"{scope}:def {node.name}",
                )
            )
        return out

    def _functions(self) -> dict[int, Any]:
        if self._radon is None:
            tree = self.ctx.tree if self.ctx.tree is not None else ast.parse(self.ctx.module.code)
            self._radon = per_tree(_real_functions, tree)
        return self._radon

    def message(self, name: str, block: Any, limit: int) -> str:
        return f"function '{name}' is {_length(block)} lines long > {limit}"
