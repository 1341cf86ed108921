"""``path:line:col: CODE message`` lines, then a summary line; optional per-code statistics."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from wsrefactor.model import Finding, FixSafety, count_fixable
from wsrefactor.reporters import display_path, statistics_rows

# Whether ``wsrefactor fix`` with the run's flags would apply a fix of this code and safety.
Applicable = Callable[[str, FixSafety], bool]


def _safe_only(code: str, safety: FixSafety) -> bool:
    return safety is FixSafety.SAFE


def render_lines(
    findings: list[Finding], color: bool = False, show_fixes: bool = False, applicable: Applicable = _safe_only
) -> str:
    """One line per finding; with ``show_fixes``, a fixable finding is followed by its fix."""
    bold, red, cyan, reset = ("\x1b[1m", "\x1b[31m", "\x1b[36m", "\x1b[0m") if color else ("",) * 4
    out = []
    for f in findings:
        out.append(
            f"{bold}{display_path(f.path)}{reset}{cyan}:{f.line}:{f.column}:{reset} "
            f"{bold}{red}{f.code}{reset} {f.message}\n"
        )
        if show_fixes and f.fix is not None:
            out.append(fix_line(f, applicable))
    return "".join(out)


def fix_line(finding: Finding, applicable: Applicable = _safe_only) -> str:
    """``    [*] safe fix: ...`` (``[*]``: ``wsrefactor fix`` with these flags applies it) or
    ``    [ ] unsafe fix (needs --unsafe-fixes): ...``."""
    fix = finding.fix
    if fix is None:
        return ""
    if applicable(finding.code, fix.safety):
        return f"    [*] {fix.safety.value} fix: {fix.description}\n"
    return f"    [ ] {fix.safety.value} fix (needs --unsafe-fixes): {fix.description}\n"


def fixes_applied(by_file: Mapping[str, Mapping[str, int]], names: Mapping[str, str], would: bool = False) -> str:
    """ruff's ``--show-fixes`` block: the fixes applied, per file and rule."""
    total = sum(n for counts in by_file.values() for n in counts.values())
    if not total:
        return ""
    head = "Would fix" if would else "Fixed"
    lines = [f"{head} {total} finding{'s' if total != 1 else ''}:\n"]
    for path, counts in by_file.items():
        lines.append(f"- {display_path(path)}:\n")
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            name = names.get(code, "")
            lines.append(f"    {n} \u00d7 {code}{f' ({name})' if name else ''}\n")
    return "".join(lines)


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
    out = []
    for row in statistics_rows(findings):
        notes = [f"{row[s + '_fixable']} {s}-fixable" for s in ("safe", "unsafe") if row[s + "_fixable"]]
        note = "  [" + ", ".join(notes) + "]" if notes else ""
        out.append(f"{row['count']:6d}  {row['code']:<6} {row['name']}{note}\n")
    return "".join(out)
