"""WS301 complex-function: a function whose radon cyclomatic complexity is over the limit."""

from __future__ import annotations

from typing import Any

from radon.complexity import cc_rank

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Invalid, Option, Valid
from wsrefactor.rules._extract import BUDGET_OPTION, PLACEMENT_OPTION, ExtractRule


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
    def _summarize_amount(order, currency):
        amount = order.get("amount", 0)
        fee = 0
        if order.get("currency") != currency:
            amount = amount * order.get("rate", 1)
            fee = 1
        if amount > 1000 or order.get("vip"):
            ...
        return amount, fee


    def summarize(orders, currency):
        total = 0
        for order in orders:
            amount, fee = _summarize_amount(order, currency)
            total += amount + fee
        return total
    ```
    The *unsafe* fix extracts a method: it picks the contiguous run of statements (in the body
    or in any `if`/`for`/`while`/`with`/`try` block) whose move lowers the worse of the two
    complexities most, with the fewest inputs and outputs. Inputs become parameters, names
    assigned in the run and used after it (or in an enclosing loop) are returned as a tuple
    and unpacked. A method whose run uses `self` gets a private method called as
    `self._<func>_<part>(...)` (a `@staticmethod` otherwise, so the class stays together); the
    helper is `async` and awaited when the run awaits. A run ending the function may contain
    `return`s: the call becomes `return helper(...)`. Each extraction is verified with radon
    and repeated (one per pass) until the function is under the limit.

    It refuses, rather than risk changing behaviour: `return` anywhere but the tail of the
    function (and in generators), `yield`, `break`/`continue` of a loop outside the run,
    `global`/`nonlocal` statements or writes to such names, `del` of a name, walrus inside a
    comprehension, `locals()`/`vars()`/`eval`/`exec`, inputs that may be unbound at the call,
    names shared with closures across the boundary, runs with outputs inside a `try` or `with`
    body (a half-finished run would leave the handler the old values), and zero-argument
    `super()` outside a method (inside one the helper is a method of the same class, where
    `super()` keeps working). When no safe run is left, the finding says `no safe extraction
    remains`. The fix is unsafe because it moves code: tracebacks, profiles and anything that
    inspects frames change. Review the helper names.

    ## Options
    - `max-cc` (int, default 10): highest complexity allowed.
    - `helper-placement` (`"after"` or `"before"`, default `"after"`): whether the extracted helper goes
      right after the function or right before it.
    """

    code = "WS301"
    name = "complex-function"
    category = "maintainability"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "function is too complex (radon cyclomatic complexity over the limit)"
    options = (Option("max-cc", int, 10, "Highest radon cyclomatic complexity allowed."), PLACEMENT_OPTION, BUDGET_OPTION)
    metric = "cc"
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
            def tally(rows, key):
                total = 0
                for row in rows:
                    total = _tally_total(row, key, total)
                return total


            def _tally_total(row, key, total):
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
