"""WS301 complex-function: a function whose radon cyclomatic complexity is over the limit."""

from __future__ import annotations

from typing import Any

from radon.complexity import cc_rank

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Invalid, Option, Valid
from wsrefactor.rules._function_size import BUDGET_OPTION, PLACEMENT_OPTION, ExtractRule


class ComplexFunction(ExtractRule):
    """
    ## What it does
    Reports functions and methods (closures included) whose cyclomatic complexity, measured
    exactly like `radon cc`, is over `max-cc`. The finding sits on the `def` line (not on a
    decorator) and gives the numbers: `function 'authenticate' has cyclomatic complexity 30
    (rank D) > 10`. Files without such a function are never parsed by libcst for this rule:
    the prefilter runs radon on Python's `ast`.

    ## Why is this bad?
    Every `if`, loop, `except`, `and`/`or` and conditional expression adds a path. A WebSocket
    handler with thirty paths (token checks, session lookup, bans, rate limits, room rules)
    cannot be tested path by path, and each change risks an untested one. `wsrefactor gate`
    fails CI on the same numbers.

    ## Example
    ```python
    def summarize(orders, currency):
        total = 0
        for order in orders:
            amount = order.get("amount", 0)
            fee = 0
            if order.get("currency") != currency:
                amount = amount * order.get("rate", 1)
                fee = 1
            if amount > 1000 or order.get("vip"):
                ...
            total += amount + fee
        return total
    ```

    ## Use instead
    ```python
    from typing import Any


    def summarize(orders, currency):
        total = 0
        for order in orders:
            amount, fee = _compute_amount_and_fee(order, currency)
            total += amount + fee
        return total


    def _compute_amount_and_fee(order: Any, currency: Any) -> tuple[Any, int]:
        amount = order.get("amount", 0)
        fee = 0
        if order.get("currency") != currency:
            amount = amount * order.get("rate", 1)
            fee = 1
        if amount > 1000 or order.get("vip"):
            ...
        return amount, fee
    ```
    A handler that dispatches on a message kind (`if kind == "say": ... elif kind ==
    "history": ...`, or `kind in ("a", "b")`, three literal branches or more) gets one handler
    per branch, `_handle_say(...)`, `_handle_history(...)` (`_handle_other` for the `else`),
    and a `match kind:` with one `case` per branch (Python 3.10+ targets; older targets keep
    the `if`/`elif` chain, each branch calling its handler).

    The *unsafe* fix extracts methods. The whole refactoring of a function is planned before
    anything is applied: the contiguous run of statements (in the body or in any
    `if`/`for`/`while`/`with`/`try`/`match` block) whose move lowers the worse of the two
    complexities most, with the fewest inputs and outputs, is moved, then the next, until the
    function and every helper are within `max-cc`; a body far over the limit is first cut into
    consecutive paragraphs (at blank lines and comments where they fall) on one analysis. The
    plan is applied only if the function and every helper end within the limit (a partial
    plan would leave findings a second run plans again); otherwise the finding says why
    (`extraction would leave CC 14 (from 16): no safe extraction remains (return in the middle
    of the function)`), and nothing changes: fixing twice equals fixing once.

    What a reviewer gets:
    - **names from what the block does**: the dispatch literal (`_handle_history`), the result and
      the call producing it (`user = db.load(...)` -> `_load_user`, else `_compute_<result>`), a
      short comment above the block, the dominant call, the attribute it sets; never `_part3`,
      never a segment repeated (`_invoice_response_invoice_response`). A name the module already
      uses (any function, method or attribute of the module) is never reused, nor a name of the
      class hierarchy: bases are resolved through the module's imports to the project's files
      (up the whole hierarchy), and the project's subclasses of the class count too. When a
      base is outside the project (standard library, third party), method helpers are
      class-private (`self.__handle_say(...)`, mangled by Python to `_Class__handle_say`), so
      no class whose names cannot be seen can override one or be overridden by it;
    - **typed as mypy checked the code in place**: each parameter is annotated from the
      function's signature, a local annotation, or an obvious inference (literals,
      `str(...)`/`int(...)`/`len(...)`, a class of the module called as constructor, an
      annotated `self.` attribute, `.setdefault`/`.get` on a typed dict), narrowed as it is at
      the block (`T` inside `if isinstance(x, T):`, `X` of `X | None` after `if x is None:
      return`); the helper returns `-> None`, its caller's return annotation (tail call), or its
      results' types. In an annotated function a block is refused when a name's type there is
      not known that precisely (`type of 'x' unknown at the block`); in an unannotated one
      `Any` stands in (imported from `typing` if need be). A block reading an attribute that
      was narrowed before it (`if self.request is not None:`, `self.loop = loop`) is refused
      everywhere: the helper would see the attribute's wider declared type. So `mypy --strict`
      finds nothing new in a helper. Keyword-only parameters stay keyword-only (`*, now: float
      | None`, called `now=now`);
    - no one-statement helpers (a call and no clarity), except a dispatch branch's handler;
    - at most three results (a tuple, unpacked at the call); more are refused;
    - the docstring and decorators stay on the original function; comments above a moved
      block move with it; helpers follow the function in the order its calls read;
    - inputs become parameters; names assigned and used after the run (or in an enclosing
      loop) are returned; a method whose run uses `self` gets a method called as `self._x(...)`
      (a `@staticmethod` otherwise); `async` and awaited when the run awaits; a run ending the
      function may contain `return`s: the call becomes `return helper(...)`. Every step is
      verified with radon.

    It refuses, rather than risk changing behaviour: `return` anywhere but the tail of the
    function (and in generators), `yield`, `break`/`continue` of a loop outside the run,
    `global`/`nonlocal` statements or writes to such names, `del` of a name, walrus inside a
    comprehension, `locals()`/`vars()`/`eval`/`exec`, inputs that may be unbound at the call,
    names shared with closures across the boundary, runs with outputs inside a `try` or `with`
    body (a half-finished run would leave the handler the old values), and zero-argument
    `super()` outside a method (inside one the helper is a method of the same class, where
    `super()` keeps working). The fix is unsafe because it moves code: tracebacks, profiles
    and anything that inspects frames change.

    Planning is near-linear in the function's size (one scope and data-flow analysis per
    step, shared by every candidate block; per-statement facts cached across steps; a few
    hundred candidates analysed per step at most). A function whose plan needs more work than
    `plan-budget` seconds' worth (counted in work units, 6,000 a second — never read from a
    clock, so every run decides the same) is reported `too large to plan within 5 s` and the run
    goes on.

    ## Options
    - `max-cc` (int, default 10): highest complexity allowed.
    - `helper-placement` (`"after"` or `"before"`, default `"after"`): whether the extracted helpers go
      right after the function or right before it.
    - `plan-budget` (float, default 5.0): seconds of planning one function may take on the
      reference machine, counted as work units (deterministic: the same on every run and machine).
    """

    code = "WS301"
    name = "complex-function"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "function is too complex (radon cyclomatic complexity over the limit)"
    options = (Option("max-cc", int, 10, "Highest radon cyclomatic complexity allowed."), PLACEMENT_OPTION, BUDGET_OPTION)
    metric = "cc"
    # Its only fix is planned lazily (extract method): when edits are not planned (JSON, SARIF,
    # the dashboard without --fix-edits) the runner decides it from the ast, as a plain check does.
    lazy_fix = True
    option_name = "max-cc"

    VALID = [
        Valid("""
            def clamp(value, low, high):
                if value < low:
                    return low
                if value > high:
                    return high
                return value
        """),
        Valid(
            """
            def pick(a, b):
                if a and b:
                    return a
                return b
            """,
            options={"max-cc": 3},
        ),
    ]
    INVALID = [
        Invalid(
            """
            def tally(rows, key):
                total = 0
                for row in rows:
                    if row.get(key) and row.get("ok"):
                        total += 1
                return total
            """,
            """
            from typing import Any


            def tally(rows, key):
                total = 0
                for row in rows:
                    total = _compute_total(row, key, total)
                return total


            def _compute_total(row: Any, key: Any, total: int) -> int:
                if row.get(key) and row.get("ok"):
                    total += 1
                return total
            """,
            lines=(1,),
            options={"max-cc": 3},
        ),
        Invalid(
            """
            class Hub:
                @staticmethod
                def noop():
                    pass

                @property
                def busy(self):
                    if self.a or self.b:
                        return True
                    return False
            """,
            lines=(7,),
            options={"max-cc": 2},
        ),
    ]

    def message(self, name: str, block: Any, limit: int) -> str:
        cc = int(block.complexity)
        return f"function '{name}' has cyclomatic complexity {cc} (rank {cc_rank(cc)}) > {limit}"
