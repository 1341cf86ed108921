"""``path:line:col: CODE message`` lines, then a summary line; optional per-code statistics."""

from __future__ import annotations

from collections import Counter

from wsrefactor.model import Finding, count_fixable
from wsrefactor.reporters import display_path


def render_lines(findings: list[Finding], color: bool = False) -> str:
    if not color:
        return "".join(
            f"{display_path(f.path)}:{f.line}:{f.column}: {f.code} {f.message}\n" for f in findings
        )
    bold, red, cyan, reset = "\x1b[1m", "\x1b[31m", "\x1b[36m", "\x1b[0m"
    return "".join(
        f"{bold}{display_path(f.path)}{reset}{cyan}:{f.line}:{f.column}:{reset} "
        f"{bold}{red}{f.code}{reset} {f.message}\n"
        for f in findings
    )


def summary(findings: list[Finding], files: int) -> str:
    if not findings:
        return f"All checks passed ({files} file{'s' if files != 1 else ''} checked).\n"
    safe, unsafe = count_fixable(findings)
    n = len(findings)
    parts = [f"Found {n} finding{'s' if n != 1 else ''} in {len({f.path for f in findings})} of {files} files"]
    fix_notes = []
    if safe:
        fix_notes.append(f"{safe} fixable with `wsrefactor fix`")
    if unsafe:
        fix_notes.append(f"{unsafe} more with `wsrefactor fix --unsafe-fixes`")
    line = parts[0] + (f" ({'; '.join(fix_notes)})" if fix_notes else "") + "."
    return line + "\n"


def statistics(findings: list[Finding]) -> str:
    counts = Counter((f.code, f.name) for f in findings)
    fixes: Counter[tuple[str, str]] = Counter()
    for f in findings:
        if f.fix:
            fixes[(f.code, f.fix.safety.value)] += 1
    out = []
    for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        notes = [f"{fixes[(code, s)]} {s}-fixable" for s in ("safe", "unsafe") if fixes[(code, s)]]
        out.append(f"{n:6d}  {code:<6} {name}{'  [' + ', '.join(notes) + ']' if notes else ''}\n")
    return "".join(out)
