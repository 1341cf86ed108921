"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation per finding.

``::warning file=app/ws.py,line=4,col=5,endLine=4,endColumn=40,title=WS205::message``

Severity maps error -> ``error``, warning -> ``warning``, info -> ``notice``.  Paths are relative to
the cwd (the workspace in a workflow), ``/``-separated.  Escaping follows GitHub's rules for
workflow commands: in the message ``%``, ``\\r``, ``\\n`` become ``%25``, ``%0D``, ``%0A``; in
property values ``:`` and ``,`` are also escaped (``%3A``, ``%2C``).  Columns are passed through
as in our findings (1-based; ``endColumn`` is just past the last character).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsrefactor.model import Finding, Severity
from wsrefactor.reporters.sarif import gate_items, gate_message, shown_path

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message (the part after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``...)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: Any) -> str:
    """``::kind k=v,...::message`` with escaping; properties whose value is None are left out."""
    pairs = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{kind}{' ' + pairs if pairs else ''}::{escape_data(message)}\n"


def render(findings: list[Finding], rules: Mapping[str, Any]) -> str:
    out = []
    for f in findings:
        line, col = max(f.line, 1), max(f.column, 1)
        end_line, end_col = max(f.end_line, line), max(f.end_column, 1)
        if end_line == line:
            end_col = max(end_col, col)
        out.append(
            command(
                _COMMAND.get(Severity(f.severity), "warning"),
                f.message or f.name or f.code,
                file=shown_path(f.path),
                line=line,
                col=col,
                endLine=end_line,
                endColumn=end_col,
                title=f.code,
            )
        )
    return "".join(out)


def render_gate(result_json: dict[str, Any]) -> str:
    """One ``::error`` per offending function (WS301 when its CC is over, else WS302; every reason
    in the message) and one for GATE-AVG, at the setting or the most complex function."""
    out = []
    for item in gate_items(result_json):
        path = item.get("path")
        lineno = item.get("lineno")
        props: dict[str, Any] = {}
        if path:
            props["file"] = shown_path(path)
            if isinstance(lineno, int):
                props["line"] = max(lineno, 1)
                props["col"] = max(int(item.get("col") or 0), 0) + 1
                endline = item.get("endline")
                if isinstance(endline, int) and endline >= lineno:
                    props["endLine"] = endline
        props["title"] = item["rule"]
        out.append(command("error", gate_message(item), **props))
    return "".join(out)
