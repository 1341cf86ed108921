"""WS000: files that cannot be read or parsed (reported by the engine itself)."""

from __future__ import annotations

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Rule


class ParseError(Rule):
    """
    ## What it does
    Reports a file that could not be analysed: a syntax error, an encoding that does not decode
    (invalid UTF-8, a wrong coding cookie), a binary file named `.py`, a directory, a dangling
    symlink or symlink loop, a file without read permission, or a path that does not exist.

    ## Why is this bad?
    Every other rule skipped the file, so its debt is invisible. The run goes on with the other
    files; the finding names the file, the reason and, for syntax errors, the line.

    ## Example
    ```python
    def handler(ws)
        ...
    ```

    ## Use instead
    Fix the syntax error, re-encode the file, or exclude it (`exclude = ["generated/**"]`).

    ## Options
    None.
    """

    code = "WS000"
    name = "parse-error"
    category = "meta"
    severity = Severity.ERROR
    fix_safety = FixSafety.NONE
    summary = "file could not be read or parsed"
