"""``wsrefactor report``: one self-contained HTML debt dashboard, and JSON snapshots for a trend.

::

    wsrefactor report [PATHS...] --html FILE [--history DIR] [--json-snapshot DIR] [--fix-edits]
                      [--select CODES] [--ignore CODES] [--config FILE] [--jobs N]

The command runs the check through the same runner, selection and configuration as ``wsrefactor
check`` (``select``/``ignore``, ``per-file-ignores``, excludes, bandit settings: the same
findings), asks every cheap fix for its text edits, measures radon's cyclomatic complexity of every
checked file (lengths are real spans, see :func:`wsrefactor.complexity.span`), and renders ``wsrefactor/templates/report.html.jinja2`` with
jinja2 (autoescaping on). The page has inline CSS and inline SVG only: no scripts, no fonts, no
network; a Content-Security-Policy meta tag forbids anything else. It shows totals by category and
by rule, fixable counts, the ten files with the most findings, the fifteen most complex functions,
every finding with a source excerpt and the diff its fix would make, and, when ``--history DIR``
holds earlier snapshots, a chart of the total findings over time (the current run is the last
point) and each top file's change since the latest snapshot. bandit's findings are counted under
``security`` and show bandit's severity and confidence. Extract-method fixes (WS301/WS302) are
offered but planned only with ``--fix-edits`` (planning them is most of a run's cost). Paths are
shown relative to the current directory. The exit status is 0 once the outputs
are written (the report is informational, findings do not fail it) and 2 on any error.

Snapshot files
--------------
``--json-snapshot DIR`` writes one JSON object into ``DIR`` (created if missing), named after the
UTC time of the run, ``YYYYMMDDTHHMMSSZ.json`` (``-2``, ``-3``... is appended before ``.json`` if
that name is taken)::

    {
      "schema": "wsrefactor-snapshot/1",      // this format; readers skip other schemas
      "timestamp": "2025-01-31T09:30:00Z",    // UTC, ISO 8601, second precision
      "tool_version": "0.1.0",
      "total": 12,                            // findings after suppressions and selection
      "by_rule": {"WS205": 7, "WS001": 5},    // code -> count
      "by_category": {"asyncio": 7, "meta": 5},
      "fixable": {"safe": 5, "unsafe": 7},    // findings whose fix is safe / unsafe
      "files": 40,                            // files checked
      "files_with_findings": 6,
      "by_file": {"app/ws.py": 3, ...},       // path (as shown) -> count, files with findings
      "commit": "3f9c2e1...",                 // git HEAD of the project root, or null
    }

``--history DIR`` reads every ``*.json`` file of ``DIR`` with ``"schema":
"wsrefactor-snapshot/1"`` and uses ``timestamp``, ``total``, ``commit`` and ``by_file`` (the last two may be missing in
snapshots written by older versions); unreadable or foreign files are
skipped with a warning. Pointing ``--history`` and ``--json-snapshot`` at the same directory keeps
a running history: the history is read before the new snapshot is written.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer

from wsrefactor.cli import (
    ConfigOpt,
    Failure,
    FixEditsOpt,
    IgnoreOpt,
    JobsOpt,
    PathsArg,
    SelectOpt,
    Session,
    _err,
    _guard,
    _jobs,
    app,
)
from wsrefactor.model import Edit, Finding, FixSafety

SNAPSHOT_SCHEMA = "wsrefactor-snapshot/1"
TEMPLATE_NAME = "report.html.jinja2"
TOP_FILES = 10
TOP_FUNCTIONS = 15
EXCERPT_CONTEXT = 3
EXCERPT_MAX_SPAN = 12  # flagged lines shown at most; longer spans are cut in the middle
TREND_MAX_POINTS = 60
OPEN_DETAILS_UP_TO = 40  # findings whose diff is expanded by default when there are few

# Lines as libcst numbers them (finding positions): only \r\n, \r and \n end a line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# ---------------------------------------------------------------- edits, excerpts, diffs


def source_lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def excerpt(lines: Sequence[str], first: int, last: int, context: int = EXCERPT_CONTEXT) -> list[dict[str, Any]]:
    """Rows ``{number, text, hit, gap}`` around lines ``first..last`` (1-based); hits flagged."""
    if not lines:
        return []
    first = min(max(first, 1), len(lines))
    last = min(max(last, first), len(lines))
    lo, hi = max(1, first - context), min(len(lines), last + context)
    numbers = list(range(lo, hi + 1))
    if last - first + 1 > EXCERPT_MAX_SPAN:  # keep the head and the tail of a long statement
        half = EXCERPT_MAX_SPAN // 2
        numbers = [n for n in numbers if n < first + half or n > last - half]
    rows: list[dict[str, Any]] = []
    previous = None
    for n in numbers:
        if previous is not None and n != previous + 1:
            rows.append({"number": "", "text": f"\u2026 {n - previous - 1} lines \u2026", "hit": False, "gap": True})
        rows.append({"number": n, "text": lines[n - 1].expandtabs(4), "hit": first <= n <= last, "gap": False})
        previous = n
    return rows


def diff_rows(diff: str) -> list[dict[str, str]]:
    """A unified diff as rows ``{kind, text}``; kind is add/del/hunk/file/ctx."""
    rows = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        rows.append({"kind": kind, "text": line.expandtabs(4)})
    return rows


# ---------------------------------------------------------------- snapshots and history


def git_head(directory: str | os.PathLike[str]) -> str | None:
    """The commit id checked out in ``directory`` (``git rev-parse HEAD``), or None (no git, no
    repository, no commit yet)."""
    import subprocess  # nosec B404 - runs git only, with a fixed argument list

    try:
        proc = subprocess.run(  # nosec B603 B607 - fixed argv, no shell; git from PATH like any git tool
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=directory,
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", sha) else None


def category(f: Finding) -> str:
    """The dashboard's category: bandit's checks count as ``security``."""
    return "security" if f.category == "bandit" else (f.category or "other")


def severity_label(f: Finding) -> str:
    """bandit's own rating (``high severity, medium confidence``) for its findings, else ours."""
    extra = dict(f.extra)
    if extra.get("bandit_severity"):
        return (f"{str(extra['bandit_severity']).lower()} severity, "
                f"{str(extra.get('bandit_confidence', '')).lower()} confidence")
    return f.severity.value


def build_snapshot(
    findings: Sequence[Finding], checked: int, now: datetime, commit: str | None = None
) -> dict[str, Any]:
    from wsrefactor import __version__
    from wsrefactor.model import count_fixable
    from wsrefactor.reporters import display_path

    safe, unsafe = count_fixable(findings)
    return {
        "schema": SNAPSHOT_SCHEMA,
        "timestamp": _iso(now),
        "tool_version": __version__,
        "total": len(findings),
        "by_rule": dict(sorted(Counter(f.code for f in findings).items())),
        "by_category": dict(sorted(Counter(category(f) for f in findings).items())),
        "fixable": {"safe": safe, "unsafe": unsafe},
        "files": checked,
        "files_with_findings": len({f.path for f in findings}),
        "by_file": dict(sorted(Counter(display_path(f.path) for f in findings).items())),
        "commit": commit,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_snapshot(snapshot: dict[str, Any], directory: Path, now: datetime) -> Path:
    """Write ``snapshot`` into ``directory`` under a new UTC-timestamp name; returns the path."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stem = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        data = (json.dumps(snapshot, indent=2) + "\n").encode("utf-8")
        for n in range(1, 1000):
            target = directory / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
            try:
                with open(target, "xb") as fh:  # never overwrite an earlier snapshot
                    fh.write(data)
                return target
            except FileExistsError:
                continue
    except OSError as exc:
        raise Failure(f"{directory}: cannot write snapshot: {exc.strerror or exc}") from None
    raise Failure(f"{directory}: too many snapshots named {stem}*.json")


@dataclass(frozen=True)
class HistoryPoint:
    timestamp: datetime
    total: int
    current: bool = False
    commit: str | None = None
    #: findings per file (shown path) when the snapshot recorded them
    by_file: Mapping[str, int] | None = None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _history_point(path: Path) -> HistoryPoint | None:
    """One snapshot file as a point, or None (with a warning) when it is not a usable snapshot."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        _err(f"wsrefactor: {path}: skipped, not a readable snapshot ({type(exc).__name__})")
        return None
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        _err(f"wsrefactor: {path}: skipped, not a {SNAPSHOT_SCHEMA} file")
        return None
    moment, total = _parse_time(data.get("timestamp")), data.get("total")
    if moment is None or not isinstance(total, int) or isinstance(total, bool) or total < 0:
        _err(f"wsrefactor: {path}: skipped, bad timestamp or total")
        return None
    return HistoryPoint(moment, total, commit=_snapshot_commit(data), by_file=_snapshot_by_file(data))


def _snapshot_commit(data: Mapping[str, Any]) -> str | None:
    commit = data.get("commit")
    return commit if isinstance(commit, str) else None


def _snapshot_by_file(data: Mapping[str, Any]) -> Mapping[str, int] | None:
    """``by_file`` when well formed (snapshots of older versions have none)."""
    by_file = data.get("by_file")
    if isinstance(by_file, dict) and all(isinstance(k, str) and isinstance(v, int) for k, v in by_file.items()):
        return by_file
    return None


def load_history(directory: Path) -> list[HistoryPoint]:
    """Earlier snapshots in ``directory``, oldest first. A missing directory is an empty history."""
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise Failure(f"{directory}: --history must be a directory")
    points = [_history_point(path) for path in sorted(directory.glob("*.json"))]
    return sorted((p for p in points if p is not None), key=lambda p: p.timestamp)


def _nice_step(value: float) -> int:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (and at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return int(10 * magnitude)


def _bar_title(p: HistoryPoint) -> str:
    at = f" at {p.commit[:12]}" if p.commit else ""
    return f"{_iso(p.timestamp)}: {p.total} finding{'s' if p.total != 1 else ''}{at}" + (" (this run)" if p.current else "")


def trend_chart(points: Sequence[HistoryPoint], width: int = 1000, height: int = 240) -> dict[str, Any]:
    """Geometry for the inline SVG trend: bars, a polyline over their tops, axis labels."""
    points = list(points)[-TREND_MAX_POINTS:]
    left, right, top, bottom = 48, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_step(max((p.total for p in points), default=0) / 4)
    ymax = step * 4
    slot = plot_w / max(len(points), 1)
    bar_w = max(2.0, min(48.0, slot * 0.6))
    bars, coords = [], []
    label_every = max(1, math.ceil(len(points) / 10))
    days = Counter(p.timestamp.date() for p in points)
    for i, p in enumerate(points):
        cx = left + slot * (i + 0.5)
        h = plot_h * p.total / ymax
        y = top + plot_h - h
        show_label = i % label_every == 0 or i == len(points) - 1
        bars.append({
            "x": f"{cx - bar_w / 2:.1f}", "y": f"{y:.1f}", "w": f"{bar_w:.1f}", "h": f"{h:.1f}",
            "cx": f"{cx:.1f}", "cy": f"{y:.1f}", "total": p.total, "current": p.current,
            "label": "now" if p.current else p.timestamp.strftime(
                "%b %d %H:%M" if days[p.timestamp.date()] > 1 else "%b %d"
            ),
            "title": _bar_title(p),
            "show_label": show_label, "show_value": len(points) <= 24,
        })
        coords.append(f"{cx:.1f},{y:.1f}")
    grid = []
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        grid.append({"y": f"{y:.1f}", "label": str(step * k)})
    first, last = points[0].total, points[-1].total
    return {
        "width": width, "height": height, "left": left, "right": width - right,
        "top": top, "base": f"{top + plot_h:.1f}", "label_y": f"{top + plot_h + 18:.1f}",
        "bars": bars, "polyline": " ".join(coords), "grid": grid,
        "first": first, "last": last, "delta": last - first, "count": len(points),
        "since": _iso(points[0].timestamp),
    }


# ---------------------------------------------------------------- the page


def _measure_chunk(items: list[tuple[str, bytes]]) -> list[list[Any] | None]:
    """Function and method blocks of each file (shown path); None for a file that cannot be measured."""
    from wsrefactor.complexity import ComplexityError, measure
    from wsrefactor.reporters import display_path

    out: list[list[Any] | None] = []
    for path, raw in items:
        try:
            out.append([b for b in measure(raw, display_path(path)) if b.is_function])
        except ComplexityError:
            out.append(None)
    return out


def _measure_paths(paths: list[str]) -> list[list[Any] | None]:
    """Workers read the files themselves: only paths cross the process boundary."""
    items = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                items.append((path, fh.read()))
        except OSError:
            items.append((path, b"\0"))  # unreadable now: counted as not measurable
    return _measure_chunk(items)


def measure_all(raw_sources: dict[str, bytes], jobs: int = 1) -> tuple[list[Any], int]:
    """Radon blocks of every function in the checked files, and how many files failed to parse."""
    from wsrefactor.parallel import map_chunks

    if jobs <= 1 or len(raw_sources) < 32:
        results = _measure_chunk(sorted(raw_sources.items()))
    else:
        results = map_chunks(_measure_paths, sorted(raw_sources), jobs, min_items=32)
    blocks = [b for r in results if r is not None for b in r]
    return blocks, sum(1 for r in results if r is None)


@dataclass
class _File:
    text: str | None
    lines: list[str]
    error: str | None = None


def _read(path: str, cache: dict[str, _File]) -> _File:
    if path not in cache:
        from wsrefactor.source import SourceError, read_source

        try:
            text = read_source(path).text
            cache[path] = _File(text, source_lines(text))
        except SourceError as exc:
            cache[path] = _File(None, [], str(exc))
    return cache[path]


def _file_diff(path: str, edits: Sequence[Edit], cache: dict[str, _File], display: Any) -> str:
    """Unified diff of one file's edits; ValueError (the reason) when it cannot be shown."""
    from wsrefactor.fixes import apply_edits, unified_diff

    f = _read(path, cache) if os.path.exists(path) else _File("", [])  # a file the fix creates
    if f.text is None:
        raise ValueError(f"{display(path)}: {f.error}")
    return unified_diff(f.text, apply_edits(f.text, edits), display(path))


def _fix_diff(finding: Finding, cache: dict[str, _File], display: Any) -> tuple[list[dict[str, str]], str | None]:
    """Diff rows for a finding's fix, or a note saying why there is none."""
    fix = finding.fix
    if fix is None or fix.safety is FixSafety.NONE:
        return [], None
    if not fix.planned:
        return [], "Planned on demand: run `wsrefactor report --fix-edits` or `wsrefactor fix --diff` to see it."
    if not fix.edits and not fix.other_files:
        return [], "This fix spans several files; run `wsrefactor fix --diff` to see it."
    try:
        parts = [
            _file_diff(path, edits, cache, display)
            for path, edits in ((finding.path, fix.edits), *fix.other_files)
            if edits
        ]
    except ValueError as exc:
        return [], f"Cannot show the diff: {exc}"
    diff = "".join(parts)
    if not diff:
        return [], "The fix leaves the text unchanged."
    return diff_rows(diff), None


def _category_rows(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Findings per category, most first, with each one's share of the total."""
    total = len(findings)
    by_category = Counter(category(f) for f in findings)
    return [
        {"name": name, "count": n, "pct": 100.0 * n / total if total else 0.0}
        for name, n in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _rule_rows(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Findings per rule, most first, with how many of them a safe or an unsafe fix resolves."""
    rule_rows: dict[str, dict[str, Any]] = {}
    for f in findings:
        row = rule_rows.setdefault(
            f.code, {"code": f.code, "name": f.name, "category": category(f),
                     "severity": f.severity.value, "count": 0, "safe": 0, "unsafe": 0}
        )
        row["count"] += 1
        if f.fix is not None and f.fix.safety is FixSafety.SAFE:
            row["safe"] += 1
        elif f.fix is not None and f.fix.safety is FixSafety.UNSAFE:
            row["unsafe"] += 1
    return sorted(rule_rows.values(), key=lambda r: (-r["count"], r["code"]))


def _max_cc_by_path(blocks: Sequence[Any]) -> dict[str, int]:
    """The most complex function of each file (blocks carry shown paths)."""
    max_cc: dict[str, int] = {}
    for b in blocks:
        max_cc[b.path] = max(max_cc.get(b.path, 0), b.complexity)
    return max_cc


def _complexity_context(blocks: Sequence[Any], complexity_errors: int) -> dict[str, Any]:
    """The template's complexity section: hotspots, average, rank histogram."""
    hotspots = sorted(blocks, key=lambda b: (-b.complexity, b.path, b.lineno, b.name))[:TOP_FUNCTIONS]
    ranks = Counter(b.rank for b in blocks)
    return {
        "hotspots": [
            {"path": b.path, "name": b.name, "kind": b.kind, "line": b.lineno,
             "cc": b.complexity, "rank": b.rank, "length": b.length}
            for b in hotspots
        ],
        "functions": len(blocks),
        "average_cc": sum(b.complexity for b in blocks) / len(blocks) if blocks else 0.0,
        "ranks": [{"rank": r, "count": ranks.get(r, 0)} for r in "ABCDEF"],
        "complexity_errors": complexity_errors,
    }


def _previous_by_file(history: Sequence[HistoryPoint]) -> Mapping[str, int] | None:
    """Per-file counts of the latest earlier snapshot that recorded them."""
    return next((p.by_file for p in reversed(history) if p.by_file is not None), None)


def _top_files(
    grouped: dict[str, list[Finding]], anchors: dict[str, str], max_cc: dict[str, int], display: Any,
    previous: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The files with the most findings; ``pct`` is relative to the worst file (the bar length)."""
    from wsrefactor.model import count_fixable

    per_file = Counter({path: len(items) for path, items in grouped.items()})
    top_count = max(per_file.values(), default=0)
    rows = []
    for path, n in sorted(per_file.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FILES]:
        s, u = count_fixable(grouped[path])
        shown = display(path)
        rows.append({
            "path": shown, "anchor": anchors[path], "count": n, "safe": s, "unsafe": u,
            "max_cc": max_cc.get(shown), "pct": 100.0 * n / top_count if top_count else 0.0,
            "delta": None if previous is None else n - previous.get(shown, 0),
        })
    return rows


def _finding_item(f: Finding, item_id: str, source: _File, cache: dict[str, _File], display: Any) -> dict[str, Any]:
    """One finding as the template lists it: excerpt of its source and the diff of its fix."""
    rows, note = _fix_diff(f, cache, display)
    return {
        "id": item_id, "code": f.code, "name": f.name, "message": f.message,
        "severity": f.severity.value, "severity_label": severity_label(f), "category": category(f),
        "tool": "bandit" if f.category == "bandit" else "",
        "line": f.line, "column": f.column,
        "fix": f.fix.safety.value if f.fix else "none",
        "fix_description": f.fix.description if f.fix else "",
        "excerpt": excerpt(source.lines, f.line, f.end_line),
        "source_error": source.error,
        "diff": rows, "diff_note": note,
    }


def _file_sections(grouped: dict[str, list[Finding]], anchors: dict[str, str], display: Any) -> list[dict[str, Any]]:
    """Every file with findings, in path order; finding ids are numbered across the whole page."""
    cache: dict[str, _File] = {}
    files = []
    index = 0
    for path in sorted(grouped):
        source = _read(path, cache)
        items = []
        for f in grouped[path]:
            index += 1
            items.append(_finding_item(f, f"finding-{index}", source, cache, display))
        files.append({"path": display(path), "anchor": anchors[path], "findings": items})
    return files


def _trend(history: Sequence[HistoryPoint], now: datetime, total: int, commit: str | None) -> dict[str, Any] | None:
    """The trend chart, with this run as its last point; None without earlier snapshots."""
    if not history:
        return None
    return trend_chart([*history, HistoryPoint(now, total, current=True, commit=commit)])


def build_context(
    findings: Sequence[Finding],
    checked: int,
    raw_sources: dict[str, bytes],
    history: Sequence[HistoryPoint],
    now: datetime,
    targets: Sequence[str],
    jobs: int = 1,
    commit: str | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as plain values (strings and numbers)."""
    from wsrefactor import __version__
    from wsrefactor.model import count_fixable
    from wsrefactor.reporters import display_path

    safe, unsafe = count_fixable(findings)
    total = len(findings)
    blocks, complexity_errors = measure_all(raw_sources, jobs)
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.path, []).append(f)
    anchors = {path: f"file-{i}" for i, path in enumerate(sorted(grouped), start=1)}
    return {
        "version": __version__,
        "generated": _iso(now),
        "targets": [display_path(t) for t in targets],
        "total": total,
        "checked": checked,
        "files_with_findings": len(grouped),
        "safe": safe,
        "unsafe": unsafe,
        "unfixable": total - safe - unsafe,
        "categories": _category_rows(findings),
        "rules": _rule_rows(findings),
        "top_files": _top_files(grouped, anchors, _max_cc_by_path(blocks), display_path, _previous_by_file(history)),
        "per_file_trend": _previous_by_file(history) is not None,
        **_complexity_context(blocks, complexity_errors),
        "files": _file_sections(grouped, anchors, display_path),
        "open_details": total <= OPEN_DETAILS_UP_TO,
        "trend": _trend(history, now, total, commit),
        "commit": commit,
    }


def render_html(context: dict[str, Any]) -> str:
    """Render the dashboard template with autoescaping on."""
    from importlib.resources import files

    import jinja2

    template_text = (files("wsrefactor") / "templates" / TEMPLATE_NAME).read_text(encoding="utf-8")
    env = jinja2.Environment(
        autoescape=True,
        loader=jinja2.DictLoader({TEMPLATE_NAME: template_text}),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE_NAME).render(**context)


# ---------------------------------------------------------------- the command


def _check_outputs(html: Optional[Path], json_snapshot: Optional[Path]) -> None:
    """Refuse before the (slow) run when there is nothing to write or --html names a directory."""
    if html is None and json_snapshot is None:
        raise Failure("report: give --html FILE and/or --json-snapshot DIR")
    if html is not None and html.is_dir():
        raise Failure(f"{html}: --html must name a file, not a directory")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _write_dashboard(
    html: Path, run: Any, history: Sequence[HistoryPoint], now: datetime, targets: Sequence[str], jobs: int,
    commit: str | None = None,
) -> None:
    from wsrefactor.cli import _write_output

    raw = {r.path: r.raw for r in run.files if r.raw is not None}
    context = build_context(run.findings, run.checked, raw, history, now, targets, jobs, commit)
    _write_output(render_html(context), html)
    _err(f"wsrefactor: wrote {html} ({_count(len(run.findings), 'finding')}, {_count(run.checked, 'file')})")


@app.command()
def report(
    paths: Optional[list[str]] = PathsArg,
    html: Optional[Path] = typer.Option(None, "--html", help="Write the HTML dashboard to FILE."),
    history: Optional[Path] = typer.Option(
        None, "--history", help="Directory of earlier JSON snapshots, drawn as a trend chart."
    ),
    json_snapshot: Optional[Path] = typer.Option(
        None, "--json-snapshot", help="Write this run's totals as a timestamped JSON snapshot into DIR."
    ),
    select: Optional[list[str]] = SelectOpt,
    ignore: Optional[list[str]] = IgnoreOpt,
    jobs: Optional[int] = JobsOpt,
    config: Optional[Path] = ConfigOpt,
    fix_edits: bool = FixEditsOpt,
) -> None:
    """Write an HTML debt dashboard (and optionally a JSON snapshot); exit 0 once written."""
    with _guard():
        from wsrefactor.runner import execute

        _check_outputs(html, json_snapshot)
        session = Session(paths, select, ignore, config)
        n_jobs = _jobs(jobs)
        earlier = load_history(history) if history is not None else []
        now = datetime.now(timezone.utc).replace(microsecond=0)
        run = execute(session.paths, session.job(want_edits=True, plan_fixes=fix_edits), n_jobs)
        for message in run.messages:
            _err(message)
        commit = git_head(session.config.root)
        if html is not None:
            _write_dashboard(html, run, earlier, now, session.paths, n_jobs, commit)
        if json_snapshot is not None:
            target = write_snapshot(build_snapshot(run.findings, run.checked, now, commit), json_snapshot, now)
            _err(f"wsrefactor: wrote snapshot {target}")
