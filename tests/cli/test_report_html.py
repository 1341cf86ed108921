"""``wsrefactor report``: the HTML dashboard, JSON snapshots, escaping, and a real headless Chromium.

The browser tests need Debian's ``chromium`` (``apt-get install -y chromium``); they are skipped,
with the reason, when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import struct
import subprocess
import textwrap
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import wsrefactor.commands.report as report_mod  # registers the command on the app
from wsrefactor.cli import app
from wsrefactor.model import Edit

XSS = "</script><img src=x onerror=alert(1)>"
XSS_DOM = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"

APP = textwrap.dedent(
    """\
    import asyncio


    async def broadcast(clients, msg):
        for ws in clients:
            await ws.send(msg)


    async def on_message(ws, clients, msg):
        # </script><img src=x onerror=alert(1)>
        asyncio.create_task(broadcast(clients, msg))
        note = "</script><img src=x onerror=alert(1)>"
        return note


    async def on_close(ws, clients):
        clients.discard(ws)
        asyncio.create_task(broadcast(clients, "left"))  # <img src=x onerror="document.body.setAttribute('data-pwned','1')">


    def route(kind, payload, strict):
        if kind == "a":
            for item in payload:
                if item and strict or not item:
                    while strict:
                        strict -= 1
        elif kind == "b":
            return 1
        elif kind == "c" and payload:
            return 2
        return 0
    """
)

WORKER = textwrap.dedent(
    """\
    import asyncio


    async def spawn(job):
        asyncio.create_task(job())

    x = 1  # wsrefactor: ignore[WS205]
    """
)

CLEAN = "def add(a, b):\n    return a + b\n"

SELECT = ["--select", "WS205,WS001"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "srv").mkdir(parents=True)
    (root / "srv" / "app.py").write_text(APP, encoding="utf-8")
    (root / "srv" / "worker.py").write_text(WORKER, encoding="utf-8")
    (root / "srv" / "clean.py").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def make_report(*args: str, out: str = "out/report.html") -> str:
    code, output = run_cli("report", "srv", "--html", out, "--jobs", "1", *args)
    assert code == 0, output
    return Path(out).read_text(encoding="utf-8")


def kpi(page: str, name: str) -> int:
    match = re.search(rf'id="kpi-{name}">.*?<div class="value">([^<]*)</div>', page, re.S)
    assert match, name
    return int(match.group(1))


def rule_rows(page: str) -> dict[str, int]:
    section = page[page.index('id="by-rule"'):page.index('id="top-files"')]
    rows = re.findall(r'<td class="code">(\w+)</td><td>([\w-]+)</td>.*?<strong>(\d+)</strong>', section, re.S)
    return {code: int(n) for code, _, n in rows}


def assert_self_contained(page: str) -> None:
    lowered = page.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:|data:)""", lowered)
    assert "@import" not in lowered
    assert "url(" not in lowered
    assert "<link" not in lowered and "<iframe" not in lowered and "<object" not in lowered
    assert "@font-face" not in lowered


# ---------------------------------------------------------------- units


def test_apply_edits_insert_replace_and_end_of_file() -> None:
    from wsrefactor.fixes import apply_edits

    assert not hasattr(report_mod, "apply_edits")  # one implementation: wsrefactor.fixes
    text = "a\nbb\nccc\n"
    assert apply_edits(text, [Edit(2, 1, 2, 1, "X\n")]) == "a\nX\nbb\nccc\n"
    assert apply_edits(text, [Edit(2, 2, 3, 2, "-")]) == "a\nb-cc\n"
    assert apply_edits(text, [Edit(4, 1, 4, 1, "d\n"), Edit(1, 1, 2, 1, "")]) == "bb\nccc\nd\n"
    with pytest.raises(ValueError):
        apply_edits(text, [Edit(9, 1, 9, 1, "x")])
    with pytest.raises(ValueError):
        apply_edits(text, [Edit(1, 1, 2, 2, "x"), Edit(2, 1, 2, 1, "y")])


def test_apply_edits_round_trips_text_edits_on_a_line_holding_a_form_feed() -> None:
    """``str.splitlines`` breaks at a form feed, libcst and text_edits do not: the edit must land
    on the line text_edits meant (the old report copy put it one line too early)."""
    from wsrefactor.fixes import apply_edits, text_edits

    old = "import os\n\x0c\ndef f():\n    x = 1\x0c  # feed\n    return x\n"
    new = old.replace("    return x\n", "    return x + 1\n")
    edits = text_edits(old, new)
    assert [(e.start_line, e.end_line) for e in edits] == [(5, 6)]
    assert apply_edits(old, edits) == new


def test_excerpt_marks_the_flagged_lines_and_cuts_long_spans() -> None:
    lines = [f"line {i}" for i in range(1, 61)]
    rows = report_mod.excerpt(lines, 10, 10)
    assert [r["number"] for r in rows] == list(range(7, 14))
    assert [r["number"] for r in rows if r["hit"]] == [10]
    long = report_mod.excerpt(lines, 5, 50)
    assert any(r["gap"] for r in long)
    assert len(long) < 30


# ---------------------------------------------------------------- the page


def test_report_html_totals_sections_and_self_contained(project: Path) -> None:
    page = make_report(*SELECT)
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    # 3 dangling tasks (2 in app.py, 1 in worker.py) + 1 unused suppression
    assert kpi(page, "total") == 4
    assert kpi(page, "files") == 2
    assert kpi(page, "safe") == 0
    assert kpi(page, "unsafe") == 3
    assert rule_rows(page) == {"WS205": 3, "WS001": 1}
    assert "dangling-task" in page and "unused-suppression" in page
    # top files, relative paths only
    top = page[page.index('id="top-files"'):page.index('id="hotspots"')]
    assert top.index("srv/app.py") < top.index("srv/worker.py")
    assert str(project) not in page
    # complexity hotspots: route is the most complex function, with radon's rank
    hot = page[page.index('id="hotspots"'):page.index('id="findings"')]
    first = re.search(r'<td class="mono">(\S+) .*?<strong>(\d+)</strong>.*?rank-(\w)">', hot, re.S)
    assert first and first.group(1) == "route"
    from wsrefactor.complexity import measure

    radon = {b.name: b for b in measure(APP, "srv/app.py")}
    assert int(first.group(2)) == radon["route"].complexity
    assert first.group(3) == radon["route"].rank
    assert f"srv/app.py:{radon['route'].lineno}" in hot
    # each finding: excerpt with the flagged line highlighted, and the proposed diff
    hits = re.findall(r'<tr class="hit"><td class="ln">(\d+)</td><td>([^<]*)</td>', page)
    assert ("11", "    asyncio.create_task(broadcast(clients, msg))") in hits
    assert any(n == "7" and "# wsrefactor: ignore[WS205]" in t for n, t in hits)
    assert page.count('class="finding ') == 4
    adds = re.findall(r'<tr class="add"><td>([^<]*)</td>', page)
    assert "+    _keep_task(asyncio.create_task(broadcast(clients, msg)))" in adds
    assert "+def _keep_task(task):" in adds
    assert "--- a/srv/app.py" in page and "+++ b/srv/worker.py" in page
    assert 'id="trend"' not in page  # no history given


def test_report_totals_match_the_engine_with_all_rules(project: Path) -> None:
    from wsrefactor.cli import Session
    from wsrefactor.model import count_fixable
    from wsrefactor.runner import execute

    session = Session(["srv"], None, None, None)
    run = execute(session.paths, session.job(want_edits=True), 1)
    page = make_report()
    assert_self_contained(page)
    safe, unsafe = count_fixable(run.findings)
    assert kpi(page, "total") == len(run.findings)
    assert kpi(page, "safe") == safe and kpi(page, "unsafe") == unsafe
    expected: dict[str, int] = {}
    for f in run.findings:
        expected[f.code] = expected.get(f.code, 0) + 1
    assert rule_rows(page) == expected


def test_report_without_findings(project: Path) -> None:
    code, output = run_cli("report", "srv/clean.py", "--html", "clean.html")
    assert code == 0, output
    page = Path("clean.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert kpi(page, "total") == 0
    assert "No findings" in page


def test_source_text_is_escaped_never_markup(project: Path) -> None:
    page = make_report(*SELECT)
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert XSS not in page
    assert "<img" not in page.lower()
    assert "onerror=alert(1)>" not in page
    # the payload is shown in both the excerpt and the diff context, as text
    assert page.count("&lt;/script&gt;&lt;img") >= 2
    assert html_lib.unescape(page).count(XSS) >= 2


# ---------------------------------------------------------------- snapshots and the trend


def test_json_snapshot_schema_and_unique_names(project: Path) -> None:
    for _ in range(2):
        code, output = run_cli("report", "srv", *SELECT, "--json-snapshot", "snaps", "--jobs", "1")
        assert code == 0, output
    files = sorted(Path("snaps").glob("*.json"))
    assert len(files) == 2
    assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?\.json", files[0].name)
    data = json.loads(files[0].read_text(encoding="utf-8"))
    assert data["schema"] == "wsrefactor-snapshot/1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["timestamp"])
    assert data["total"] == 4
    assert data["by_rule"] == {"WS001": 1, "WS205": 3}
    assert data["by_category"] == {"asyncio": 3, "meta": 1}
    assert data["fixable"] == {"safe": 0, "unsafe": 3}
    assert data["files"] == 3 and data["files_with_findings"] == 2
    assert not Path("out").exists()  # no --html: no page


def _snapshot(directory: Path, stamp: str, total: int) -> None:
    directory.mkdir(exist_ok=True)
    body = {"schema": "wsrefactor-snapshot/1", "timestamp": stamp, "total": total,
            "by_rule": {}, "by_category": {}, "fixable": {"safe": 0, "unsafe": 0}, "files": 1,
            "files_with_findings": 1}
    (directory / (re.sub(r"[-:]", "", stamp) + ".json")).write_text(json.dumps(body), encoding="utf-8")


def test_history_trend_rendered_from_two_snapshots(project: Path) -> None:
    hist = project / "hist"
    _snapshot(hist, "2025-01-02T10:00:00Z", 9)
    _snapshot(hist, "2025-01-01T10:00:00Z", 12)  # out of order on purpose
    page = make_report(*SELECT, "--history", "hist")
    assert_self_contained(page)
    trend = page[page.index('id="trend"'):page.index('id="by-category"')]
    assert "<svg" in trend and "<polyline" in trend
    assert trend.count('<rect class="bar') == 3  # two snapshots + this run
    assert '<rect class="bar current"' in trend
    values = re.findall(r'<text class="value"[^>]*>(\d+)</text>', trend)
    assert values == ["12", "9", "4"]
    points = re.search(r'<polyline class="line" points="([^"]+)"', trend).group(1).split()
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] < ys[1] < ys[2]  # fewer findings each time: the line goes down (y grows)
    assert "12 → 4" in trend


def test_history_and_snapshot_in_the_same_directory_keep_a_running_history(project: Path) -> None:
    run_cli("report", "srv", *SELECT, "--json-snapshot", "hist")
    page = make_report(*SELECT, "--history", "hist", "--json-snapshot", "hist")
    trend = page[page.index('id="trend"'):page.index('id="by-category"')]
    assert trend.count('<rect class="bar') == 2
    assert len(list(Path("hist").glob("*.json"))) == 2


def test_history_skips_foreign_and_broken_files(project: Path) -> None:
    hist = project / "hist"
    _snapshot(hist, "2025-01-01T10:00:00Z", 7)
    (hist / "broken.json").write_text("{not json", encoding="utf-8")
    (hist / "other.json").write_text('{"schema": "something-else"}', encoding="utf-8")
    code, output = run_cli("report", "srv", *SELECT, "--html", "r.html", "--history", "hist")
    assert code == 0
    assert "broken.json: skipped" in output and "other.json: skipped" in output
    page = Path("r.html").read_text(encoding="utf-8")
    assert page.count('<rect class="bar') == 2


def test_errors_exit_2(project: Path, tmp_path: Path) -> None:
    code, output = run_cli("report", "srv")
    assert code == 2 and "--html" in output
    code, output = run_cli("report", "srv", "--html", "r.html", "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "not found" in output
    os.mkdir("adir")
    code, output = run_cli("report", "srv", "--html", "adir")
    assert code == 2
    Path("afile").write_text("", encoding="utf-8")
    code, output = run_cli("report", "srv", "--html", "r.html", "--history", "afile")
    assert code == 2 and "directory" in output
    code, output = run_cli("report", "srv", "--html", "r.html", "--select", "NOPE1")
    assert code == 2
    assert not Path("r.html").exists()


def test_template_is_packaged_and_autoescaped() -> None:
    from importlib.resources import files

    template = (files("wsrefactor") / "templates" / "report.html.jinja2").read_text(encoding="utf-8")
    assert "|safe" not in template.replace(" ", "") and "autoescape false" not in template
    assert "<script" not in template.lower()


# ---------------------------------------------------------------- a real browser

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Debian chromium not installed (CI runs `apt-get install -y chromium`)",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", *args,
    ]
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, check=False)


def console_lines(stderr: str) -> list[str]:
    """Page console output and uncaught errors as Chromium logs them with --enable-logging."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, channels and unfiltered rows of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        else:
            assert kind == 0, f"bad filter {kind}"
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def pixel(rows: list[bytes], channels: int, x: int, y: int) -> tuple[int, int, int]:
    i = x * channels
    return tuple(rows[y][i:i + 3])  # type: ignore[return-value]


def test_png_decoder_round_trip() -> None:
    width, height = 3, 2
    pixels = [bytes([10, 20, 30, 200, 100, 0, 1, 2, 3]), bytes([9, 9, 9, 250, 250, 250, 0, 0, 0])]
    raw = b"".join(bytes([f]) + row for f, row in zip((0, 0), pixels))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    assert decode_png(png) == (3, 2, 3, pixels)


@needs_chromium
def test_browser_harness_detects_console_errors_and_injected_markup(tmp_path: Path) -> None:
    """The control: an unsafe page does trip the checks the dashboard must pass."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><p>x</p><script>undefinedFunction()</script>" + XSS_DOM + "</body></html>",
        encoding="utf-8",
    )
    proc = chromium(tmp_path, "--dump-dom", bad.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any("Uncaught" in ln for ln in console_lines(proc.stderr))
    assert "<img" in proc.stdout and 'data-pwned="1"' in proc.stdout


@pytest.mark.slow  # a real headless Chromium
@needs_chromium
def test_dashboard_in_headless_chromium(project: Path, tmp_path: Path) -> None:
    hist = project / "hist"
    _snapshot(hist, "2025-01-01T10:00:00Z", 12)
    _snapshot(hist, "2025-01-08T10:00:00Z", 7)
    page_path = project / "out" / "report.html"
    make_report(*SELECT, "--history", "hist")

    # The rendered DOM: the page's own structure is there, the payloads are inert text.
    dom = chromium(tmp_path, "--dump-dom", page_path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_lines(dom.stderr) == [], console_lines(dom.stderr)
    assert '<section class="panel trend" id="trend">' in dom.stdout
    assert "<polyline" in dom.stdout
    assert dom.stdout.count('class="finding ') == 4
    assert "<img" not in dom.stdout.lower()
    assert "<script" not in dom.stdout.lower()
    assert 'data-pwned' not in dom.stdout.split("<body", 1)[1].split(">", 1)[0]
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in dom.stdout

    # The screenshot: written, right size, not blank, the dark header and white panels drawn.
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page_path.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == [], console_lines(proc.stderr)
    assert shot.is_file() and shot.stat().st_size > 10_000
    width, height, channels, rows = decode_png(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    colours = {rows[y][x * channels:x * channels + 3] for y in range(0, height, 7) for x in range(0, width, 7)}
    assert len(colours) > 50, "screenshot is (nearly) blank"
    header = pixel(rows, channels, 5, 5)
    assert all(abs(a - b) <= 4 for a, b in zip(header, (0x1D, 0x23, 0x30))), header  # the CSS applied
    assert pixel(rows, channels, 640, 1990) != header
    assert any(min(pixel(rows, channels, x, 150)) >= 250 for x in range(60, 1220, 10))  # KPI cards


# ---------------------------------------------------------------- bandit, noise settings, commit, per-file trend


def test_bandit_findings_count_as_security_with_bandits_severity(project: Path) -> None:
    (project / "srv" / "shell.py").write_text("import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    page = make_report("--select", "B602")
    cats = page[page.index('id="by-category"'):page.index('id="by-rule"')]
    assert "security" in cats and "bandit" not in cats
    assert "high severity, high confidence" in page
    code, _ = run_cli("report", "srv", "--select", "B602", "--json-snapshot", "snaps")
    data = json.loads(next(Path("snaps").glob("*.json")).read_text())
    assert data["by_category"] == {"security": 1}


def test_dashboard_respects_the_configuration_like_check(project: Path) -> None:
    """Same runner and selection as ``check``: per-file-ignores and select from the config apply."""
    (project / "pyproject.toml").write_text(
        '[tool.wsrefactor]\nselect = ["WS205"]\n[tool.wsrefactor.per-file-ignores]\n"srv/worker.py" = ["WS205"]\n'
    )
    result = CliRunner().invoke(app, ["check", "srv", "--format", "json", "--no-cache"])
    expected = sorted((f["filename"], f["line"], f["code"]) for f in json.loads(result.stdout))
    assert expected and all(f == "srv/app.py" for f, _, _ in expected)
    run_cli("report", "srv", "--json-snapshot", "snaps", "--jobs", "1")
    data = json.loads(next(Path("snaps").glob("*.json")).read_text())
    assert data["by_file"] == {"srv/app.py": len(expected)}
    assert data["by_rule"] == {"WS205": len(expected)}


def test_snapshot_records_commit_and_per_file_counts_and_the_page_shows_the_change(project: Path) -> None:
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q"], check=True, env=env)
    subprocess.run(["git", "add", "-A"], check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "x"], check=True, env=env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    run_cli("report", "srv", *SELECT, "--json-snapshot", "hist", "--jobs", "1")
    first = json.loads(next(Path("hist").glob("*.json")).read_text())
    assert first["commit"] == head
    assert first["by_file"] == {"srv/app.py": 2, "srv/worker.py": 2}
    # one finding fewer in worker.py: the top-files table shows the change per file
    Path("srv/worker.py").write_text(WORKER.replace("asyncio.create_task(job())", "return job()"))
    page = make_report(*SELECT, "--history", "hist")
    top = page[page.index('id="top-files"'):page.index('id="hotspots"')]
    assert "Δ" in top and "▼ 1" in top
    assert f"commit <code>{head[:12]}</code>" in page


def test_git_head_without_a_repository(tmp_path: Path) -> None:
    assert report_mod.git_head(tmp_path) is None
