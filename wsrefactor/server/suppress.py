"""The "suppress CODE on this line" action: add ``# wsrefactor: ignore[CODE]`` where it counts.

The comment goes on the finding's line, else on the first line of its statement (a finding inside
a multi-line call), merged into an ignore comment already there, or placed before another
comment (``# noqa: E501`` stays, after ours: the suppression parser reads the first directive of a
comment). A candidate is kept only if wsrefactor's own suppression parser then finds a
suppression covering the finding and the code still parses, so a line inside a string or ending
in a backslash is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wsrefactor.engine import check_parses
from wsrefactor.fixes import split_lines
from wsrefactor.model import Finding
from wsrefactor.suppressions import (
    _logical_spans,
    apply_suppressions,
    parse_suppressions,
)

_OURS = re.compile(r"wsrefactor:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)


def _comment_on(text: str, line: int) -> tuple[int, str] | None:
    """(0-based column, text) of the comment token on ``line``, if any."""
    for number, column, comment in _logical_spans(text)[1]:
        if number == line:
            return column - 1, comment
    return None


def _with_directive(text: str, line: int, code: str) -> str | None:
    lines = split_lines(text)
    if not 0 < line <= len(lines):
        return None
    raw = lines[line - 1]
    body = raw.rstrip("\r\n")
    ending = raw[len(body):]
    comment = _comment_on(text, line)
    if comment is None:
        new = f"{body.rstrip()}  # wsrefactor: ignore[{code}]" if body.strip() else None
    else:
        column, token = comment
        ours = _OURS.search(token)
        if ours is not None:
            codes = [c.strip() for c in (ours.group("codes") or "").split(",") if c.strip()]
            if code in codes:
                return None
            merged = f"wsrefactor: ignore[{', '.join([*codes, code])}]"
            token = token[: ours.start()] + merged + token[ours.end():]
            new = body[:column] + token
        else:
            new = f"{body[:column]}# wsrefactor: ignore[{code}]  {token}"
    if new is None:
        return None
    lines[line - 1] = new + ending
    return "".join(lines)


def suppressed_text(text: str, finding: Finding, is_known: Callable[[str], bool]) -> str | None:
    """``text`` with a suppression of ``finding`` added; None when no line can take one."""
    parsed = check_parses(text, finding.path) is None
    for line in dict.fromkeys(n for n in (finding.line, finding.stmt_line) if n):
        new = _with_directive(text, line, finding.code)
        if new is None:
            continue
        if apply_suppressions([finding], parse_suppressions(new, is_known)):
            continue  # the comment would not cover the finding from there
        if parsed and check_parses(new, finding.path) is not None:
            continue
        return new
    return None
