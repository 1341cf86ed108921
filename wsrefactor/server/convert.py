"""wsrefactor's records in LSP terms: findings as diagnostics, text edits as LSP text edits.

wsrefactor counts 1-based lines and 1-based columns in characters (bandit: in UTF-8 bytes, as
Python's ``ast`` does); LSP counts 0-based lines and columns in the client's position encoding
(UTF-16 unless negotiated otherwise). Lines break on CR, LF and CRLF only, as in every report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from lsprotocol import types

from wsrefactor.fixes import split_lines, text_edits
from wsrefactor.model import Finding, Severity

SOURCE = "wsrefactor"
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}
# An unused suppression is dead text: editors fade it out.
_TAGS = {"WS001": [types.DiagnosticTag.Unnecessary]}


class Lines:
    """A text's lines (without their endings) and a converter to the client's position units."""

    def __init__(self, text: str, units: types.PositionEncodingKind | str = types.PositionEncodingKind.Utf16) -> None:
        raw = split_lines(text)
        self.lines = [line.rstrip("\r\n") for line in raw]
        self.ends_with_newline = not raw or raw[-1] != self.lines[-1]
        self.units = units

    def count(self, chars: str) -> int:
        if self.units == types.PositionEncodingKind.Utf8:
            return len(chars.encode("utf-8", "surrogatepass"))
        if self.units == types.PositionEncodingKind.Utf32:
            return len(chars)
        return len(chars.encode("utf-16-le", "surrogatepass")) // 2

    def position(self, line: int, column: int) -> types.Position:
        """LSP position of a 1-based (line, character column), clamped to the text."""
        index = max(line - 1, 0)
        if index >= len(self.lines):
            if self.ends_with_newline:
                return types.Position(line=len(self.lines), character=0)
            last = len(self.lines) - 1
            return types.Position(line=max(last, 0), character=self.count(self.lines[last]) if last >= 0 else 0)
        text = self.lines[index]
        return types.Position(line=index, character=self.count(text[: max(column - 1, 0)]))

    def offset_column(self, line: int, byte_column: int) -> int:
        """1-based character column of a 1-based UTF-8 byte column on ``line`` (bandit, ``ast``)."""
        if not 0 < line <= len(self.lines):
            return byte_column
        data = self.lines[line - 1].encode("utf-8", "surrogatepass")
        return len(data[: max(byte_column - 1, 0)].decode("utf-8", "ignore")) + 1

    def column_at(self, position: types.Position) -> tuple[int, int]:
        """1-based (line, character column) of an LSP position."""
        if position.line >= len(self.lines):
            return position.line + 1, 1
        text, units, chars = self.lines[position.line], 0, 0
        for char in text:
            if units >= position.character:
                break
            units += self.count(char)
            chars += 1
        return position.line + 1, chars + 1


def finding_range(finding: Finding, lines: Lines) -> types.Range:
    start_col, end_col = finding.column, finding.end_column
    if finding.category == "bandit":  # ast columns count bytes
        start_col = lines.offset_column(finding.line, start_col)
        end_col = lines.offset_column(finding.end_line, end_col)
    start = lines.position(finding.line, start_col)
    end = lines.position(finding.end_line, end_col)
    if (end.line, end.character) <= (start.line, start.character):
        # a point finding (parse error, suppression): underline to the end of its line
        width = len(lines.lines[start.line]) if start.line < len(lines.lines) else 0
        end = lines.position(finding.line, width + 1)
        if (end.line, end.character) <= (start.line, start.character):
            end = types.Position(line=start.line, character=start.character + 1)
    return types.Range(start=start, end=end)


@lru_cache(maxsize=None)
def doc_url(code: str) -> str | None:
    """The rule's documentation page when it has one: bandit's plugin pages. wsrefactor's rules
    are documented by ``explain`` (the hover), not on a web page."""
    if not code.startswith("B"):
        return None
    try:
        from wsrefactor.compat import bandit

        return bandit.doc_url(code)
    except Exception:  # noqa: BLE001 - no bandit, no page
        return None


def diagnostic(finding: Finding, lines: Lines) -> types.Diagnostic:
    url = doc_url(finding.code)
    return types.Diagnostic(
        range=finding_range(finding, lines),
        message=finding.message,
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.code,
        code_description=types.CodeDescription(href=url) if url else None,
        source=SOURCE,
        tags=_TAGS.get(finding.code),
        data={"fix": finding.fix.safety.value if finding.fix is not None else None},
    )


def diagnostics(findings: Iterable[Finding], lines: Lines) -> list[types.Diagnostic]:
    return [diagnostic(f, lines) for f in findings]


def lsp_edits(old: str, new: str, lines: Lines) -> list[types.TextEdit]:
    """``wsrefactor.fixes.text_edits`` (line hunks) as LSP edits against ``old``."""
    return [
        types.TextEdit(
            range=types.Range(start=lines.position(e.start_line, e.start_column), end=lines.position(e.end_line, e.end_column)),
            new_text=e.content,
        )
        for e in text_edits(old, new)
    ]


def overlaps(a: types.Range, b: types.Range) -> bool:
    """Ranges touching or overlapping (an empty cursor range at a diagnostic's edge counts)."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line, b.start.character
    ) <= (a.end.line, a.end.character)


def apply_lsp_edits(text: str, edits: Sequence[types.TextEdit], units: str = types.PositionEncodingKind.Utf16) -> str:
    """Apply non-overlapping LSP edits to ``text`` as a client would (tests and the benchmark)."""
    lines = Lines(text, units)
    raw = split_lines(text)
    offsets = [0]
    for line in raw:
        offsets.append(offsets[-1] + len(line))

    def offset(pos: types.Position) -> int:
        if pos.line >= len(raw):
            return len(text)
        line, col = lines.column_at(pos)
        return offsets[line - 1] + col - 1

    out = text
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        out = out[: offset(edit.range.start)] + edit.new_text + out[offset(edit.range.end):]
    return out
