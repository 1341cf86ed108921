"""WS001: suppression comments that suppress nothing (reported by the engine itself)."""

from __future__ import annotations

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Rule


class UnusedSuppression(Rule):
    """
    ## What it does
    Reports `# wsrefactor: ignore[...]` and `# noqa: WS...` comments whose codes suppressed no
    finding on their line (or, on the first line of a multi-line statement, in that statement),
    and `# wsrefactor: ignore` comments that name no code at all. Codes of rules that did not run
    on the file (deselected, or ignored for it) are not judged. A bare `# noqa` belongs to flake8
    and similar tools: wsrefactor neither honours nor reports it.

    ## Why is this bad?
    A stale suppression hides the next real problem on that line; a code-less one hides every
    rule, including ones added later.

    ## Example
    ```python
    await asyncio.sleep(1)  # wsrefactor: ignore[WS201]
    ```

    ## Use instead
    ```python
    await asyncio.sleep(1)
    ```

    ## Options
    None.
    """

    code = "WS001"
    name = "unused-suppression"
    category = "meta"
    severity = Severity.WARNING
    fix_safety = FixSafety.NONE
    summary = "suppression comment suppresses nothing"
