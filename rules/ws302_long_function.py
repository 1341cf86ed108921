"""WS302 long-function: a function longer than the limit, in lines (its real span)."""

from __future__ import annotations

from typing import Any

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Invalid, Option, Valid
from wsrefactor.rules._function_size import BUDGET_OPTION, PLACEMENT_OPTION, ExtractRule


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
    from typing import Any


    def build_settings(env):
        settings = _build_settings(env)
        ...
        return settings


    def _build_settings(env: Any) -> dict[str, Any]:
        settings = {}
        settings["host"] = env.get("WS_HOST")
        ...
        return settings
    ```
    The *unsafe* fix is the extract-method engine of WS301 with length as the measure (see
    `wsrefactor explain WS301`): the whole plan is made before anything is applied, run after
    run, each the one that makes the longer of the two functions shortest with the fewest
    inputs and outputs, verified with radon, until the function and its helpers fit (a body
    far over the limit is first cut into paragraphs); it is applied only if the function and
    every helper end within `max-lines`, else the finding says why. Helpers are named
    from what they do, keep the parameters' (narrowed) annotations and keyword-only markers, return at
    most three values, follow the function in call order; the docstring, decorators and
    comments stay with the code they belong to (a docstring is never moved into a helper). It
    refuses the same runs as WS301: `return` except at the tail, `yield`, `break`/`continue`
    of an outer loop, `global`/`nonlocal` writes, `del` of names, walrus in comprehensions,
    frame introspection, maybe-unbound inputs, closures across the boundary, outputs inside
    `try`/`with` bodies, zero-argument `super()` outside methods. When no safe run is left,
    the finding says `no safe extraction remains` and the most common reasons.

    ## Options
    - `max-lines` (int, default 50): longest function allowed, in lines.
    - `helper-placement` (`"after"` or `"before"`, default `"after"`): whether the extracted helpers go
      right after the function or right before it.
    - `plan-budget` (float, default 5.0): seconds of planning one function may take on the
      reference machine, counted as work units (deterministic: the same on every run and machine).
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
        BUDGET_OPTION,
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
            from typing import Any


            def configure(env):
                conf = _build_conf(env)
                conf["c"] = env.get("C")
                conf["d"] = env.get("D")
                return conf


            def _build_conf(env: Any) -> dict[str, Any]:
                conf = {}
                conf["a"] = env.get("A")
                conf["b"] = env.get("B")
                return conf
            """,
            lines=(1,),
            options={"max-lines": 5},
        ),
    ]

    def message(self, name: str, block: Any, limit: int) -> str:
        length = int(block.endline - block.lineno + 1)
        return f"function '{name}' is {length} lines long > {limit}"
