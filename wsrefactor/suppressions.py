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


def _logical_spans(text: str) -> tuple[dict[int, tuple[int, int]], list[tuple[int, int, str]]]:
    """Map each comment's line to its logical line's span; list the comments."""
    spans: dict[int, tuple[int, int]] = {}
    comments: list[tuple[int, int, str]] = []
    start: int | None = None
    pending: list[int] = []
    failed = False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                comments.append((tok.start[0], tok.start[1] + 1, tok.string))
                pending.append(tok.start[0])
                if start is None:
                    spans[tok.start[0]] = (tok.start[0], tok.start[0])
                    pending.pop()
            elif tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if start is not None:
                    for line in pending:
                        spans[line] = (start, tok.start[0])
                start, pending = None, []
            elif tok.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT) and start is None:
                start = tok.start[0]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        failed = True
    if failed:  # untokenizable text: fall back to a line scan
        comments, spans = [], {}
        for number, line in enumerate(text.splitlines(), start=1):
            pos = line.find("#")
            if pos >= 0:
                comments.append((number, pos + 1, line[pos:]))
                spans[number] = (number, number)
    return spans, comments


def parse_suppressions(text: str, is_known: Callable[[str], bool]) -> list[Suppression]:
    """Every suppression comment in ``text``; ``is_known`` says which codes are ours."""
    if not any(m in text for m in _MARKERS):
        return []
    spans, comments = _logical_spans(text)
    found = []
    for line, col, comment in comments:
        m = _DIRECTIVE.search(comment)
        if not m:
            continue
        first, last = spans.get(line, (line, line))
        if m.group("ws"):
            codes = tuple(c.strip().upper() for c in (m.group("wscodes") or "").split(",") if c.strip())
            found.append(Suppression(line, col + m.start(), codes, "wsrefactor", first, last))
        else:
            raw = m.group("noqacodes")
            if not raw:
                continue  # bare noqa: another tool's
            codes = tuple(c.upper() for c in re.split(r"[\s,]+", raw) if c and is_known(c.upper()))
            if codes:
                found.append(Suppression(line, col + m.start(), codes, "noqa", first, last))
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
