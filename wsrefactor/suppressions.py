"""Inline suppressions: ``# wsrefactor: ignore[WS201]`` and ``# noqa: WS201``.

A suppression covers findings on its own line and, when it sits on the first line of a multi-line
statement, findings anywhere in that statement. A bare ``# noqa`` belongs to flake8 and friends:
it neither suppresses wsrefactor findings nor is reported. A bare ``# wsrefactor: ignore`` is
reported, as is a suppression whose codes matched nothing (``WS001``).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from wsrefactor.model import Finding

_DIRECTIVE = re.compile(
    r"#\s*(?:(?P<ws>wsrefactor:\s*ignore)(?:\[(?P<wscodes>[^\]]*)\])?"
    r"|(?P<noqa>noqa)(?::\s*(?P<noqacodes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?)",
    re.IGNORECASE,
)
_MARKERS = ("wsrefactor:", "noqa", "NOQA")


@dataclass
class Suppression:
    line: int
    column: int
    codes: tuple[str, ...]
    kind: str  # "wsrefactor" or "noqa"
    first_line: int  # the logical line this comment governs
    last_line: int
    used: set[str] = field(default_factory=set)

    def covers(self, finding: Finding) -> str | None:
        """The code that suppresses ``finding``, if any."""
        on_line = finding.line == self.line or (
            self.line == self.first_line
            and self.first_line <= finding.line <= self.last_line
        ) or finding.stmt_line == self.line
        if not on_line:
            return None
        for code in self.codes:
            if finding.code.startswith(code):
                return code
        return None


def _tokenize_comments(
    text: str,
) -> tuple[dict[int, tuple[int, int]], list[tuple[int, int, str]]]:
    """Comments and, for each, the span of the logical line it belongs to (tokenize's view)."""
    spans: dict[int, tuple[int, int]] = {}
    comments: list[tuple[int, int, str]] = []
    start: int | None = None
    pending: list[int] = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            comments.append((tok.start[0], tok.start[1] + 1, tok.string))
            if start is None:  # a comment on a line of its own governs only that line
                spans[tok.start[0]] = (tok.start[0], tok.start[0])
            else:
                pending.append(tok.start[0])
        elif tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            spans.update({line: (start, tok.start[0]) for line in pending if start is not None})
            start, pending = None, []
        elif tok.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT) and start is None:
            start = tok.start[0]
    return spans, comments


def _logical_spans(text: str) -> tuple[dict[int, tuple[int, int]], list[tuple[int, int, str]]]:
    """Map each comment's line to its logical line's span; list the comments."""
    try:
        return _tokenize_comments(text)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # untokenizable text: fall back to a line scan below
    spans: dict[int, tuple[int, int]] = {}
    comments: list[tuple[int, int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        pos = line.find("#")
        if pos >= 0:
            comments.append((number, pos + 1, line[pos:]))
            spans[number] = (number, number)
    return spans, comments


def _directive(
    match: re.Match[str], line: int, col: int, span: tuple[int, int], is_known: Callable[[str], bool]
) -> Suppression | None:
    first, last = span
    if match.group("ws"):
        raw = match.group("wscodes") or ""
        codes = tuple(c.strip().upper() for c in raw.split(",") if c.strip())
        return Suppression(line, col + match.start(), codes, "wsrefactor", first, last)
    raw = match.group("noqacodes")
    if not raw:
        return None  # bare noqa: another tool's
    codes = tuple(c.upper() for c in re.split(r"[\s,]+", raw) if c and is_known(c.upper()))
    return Suppression(line, col + match.start(), codes, "noqa", first, last) if codes else None


def parse_suppressions(text: str, is_known: Callable[[str], bool]) -> list[Suppression]:
    """Every suppression comment in ``text``; ``is_known`` says which codes are ours."""
    if not any(m in text for m in _MARKERS):
        return []
    spans, comments = _logical_spans(text)
    found = []
    for line, col, comment in comments:
        m = _DIRECTIVE.search(comment)
        sup = _directive(m, line, col, spans.get(line, (line, line)), is_known) if m else None
        if sup is not None:
            found.append(sup)
    return found


def apply_suppressions(
    findings: Iterable[Finding], suppressions: list[Suppression]
) -> list[Finding]:
    kept = []
    for finding in findings:
        for sup in suppressions:
            code = sup.covers(finding)
            if code is not None:
                sup.used.add(code)
                break
        else:
            kept.append(finding)
    return kept


def unused_suppressions(
    path: str, suppressions: list[Suppression], evaluated: Callable[[str], bool]
) -> list[Finding]:
    """WS001 findings: code-less ignores, and codes that suppressed nothing though they ran here."""
    out = []
    for sup in suppressions:
        if not sup.codes:
            message = "suppression without codes; name the rules, e.g. `# wsrefactor: ignore[WS201]`"
        else:
            unused = [c for c in sup.codes if c not in sup.used and evaluated(c)]
            if not unused:
                continue
            message = f"unused suppression for {', '.join(unused)}"
        out.append(
            Finding(
                code="WS001", name="unused-suppression", message=message, path=path,
                line=sup.line, column=sup.column, end_line=sup.line, end_column=sup.column,
                category="meta", stmt_line=sup.line, context=f"suppression:{','.join(sup.codes)}",
            )
        )
    return out
