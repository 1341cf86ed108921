"""``python -m wsrefactor.bench``: how fast wsrefactor is, against the floors and the peers.

Builds corpora in a temporary directory — a copy of the running Python's standard library and a
synthetic WebSocket-heavy corpus made from ``fixtures/`` at 1x and 10x — and reports, as the
median of several runs, the ``ast.parse`` floor, the ``libcst.parse_module`` floor, wsrefactor
cold ``-j1``/``-jN``, warm, one file changed, a pre-commit-sized run, the gate, peak memory, and
(when installed) ruff, fixit, bandit, radon, semgrep (three local rules) and pylint (three
refactoring checks) on the same files, each also as a ratio to the ``ast`` floor; with both
synthetic corpora, the 1x -> 10x scaling. A benchmark, not a test: nothing here asserts a time.

Asked for by name (``--corpus``): ``websocket`` (the check table on a generated 400-file FastAPI
application: routers, services, tests), ``fix-websocket`` and ``fix-stdlib`` (``fix
--unsafe-fixes`` against ``check --select WS``, wall and CPU, stopped at ``--fix-timeout``; every
changed file must compile and a second run must change nothing), ``pathological`` (``check
--format json`` vs text on one CC-235 generated setter) and ``project-phase`` (WS303/WS304
``finalize`` alone at N and 10N files).

``--repo DIR`` adds a checked-out repository (copied into the temporary directory, ``.py`` files
only, so nothing in ``DIR`` is touched) as a check corpus: the ratio on real code, e.g. a
snapshot of a FastAPI application with many routers, services and tests (issue #11's target).
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import shutil
import statistics
import subprocess  # nosec B404 - the benchmark runs wsrefactor and its peers as commands
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The interpreter every measured command runs under (tests replace it to simulate a Python that
# cannot import wsrefactor).
PYTHON: list[str] = [sys.executable]
# check corpora (the full table each) and the special measurements
SPECIAL = ("fix-websocket", "fix-stdlib", "pathological", "project-phase")
CORPORA = ("stdlib", "synthetic1x", "synthetic10x", "websocket", *SPECIAL)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def stdlib_corpus(dest: Path, limit: int | None = None) -> Path:
    src = Path(sysconfig.get_paths()["stdlib"])
    out = dest / "stdlib"
    count = 0
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if rel.parts[0] in ("site-packages", "dist-packages") or not path.is_file():
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        count += 1
        if limit and count >= limit:
            break
    return out


def synthetic_corpus(dest: Path, scale: int) -> Path:
    """The fixtures (flawed WebSocket code and clean code) copied ``scale`` x 10 times."""
    sources = [p for p in _files(REPO / "fixtures") if not p.name.endswith(".fixed.py")]
    out = dest / f"synthetic_{scale}x"
    for copy in range(scale * 10):
        for path in sources:
            rel = path.relative_to(REPO / "fixtures")
            target = out / f"copy{copy:03d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return out


def _median(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ast_floor(files: Sequence[Path]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            try:
                ast.parse(path.read_bytes())
            except (SyntaxError, ValueError):
                pass


def libcst_floor(files: Sequence[Path]) -> None:
    import libcst

    for path in files:
        try:
            libcst.parse_module(path.read_bytes())
        except (libcst.ParserSyntaxError, RecursionError, UnicodeDecodeError):
            continue  # a floor measurement skips what does not parse


class BenchFailure(Exception):
    """A measured command did not do its work: the bench stops, no figure is printed for it."""


# What Python itself prints when ``python -m wsrefactor`` never reached wsrefactor (exit 1, the
# same code as "findings remain") or when wsrefactor died outside its own error handling.
_PYTHON_ERRORS = ("No module named", "Error while finding module specification", "Traceback (most recent call last)")


def ws(*args: str) -> list[str]:
    """``python -m wsrefactor ARGS`` under the bench's interpreter."""
    return [*PYTHON, "-m", "wsrefactor", *args]


def failure(args: Sequence[str], returncode: int, stderr: str, ok: Sequence[int] = (0, 1)) -> str | None:
    """Why a finished command of ours did not do its work, in one line (None when it did).

    Exit 1 means "findings remain" to wsrefactor and "no module named wsrefactor" to Python, so
    the exit code alone cannot tell a result from a failure: Python's own messages on stderr do.
    """
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    command = " ".join(os.path.basename(a) if a in PYTHON else a for a in args)
    if returncode not in ok:
        return f"`{command}` exited {returncode}" + (f": {last}" if last else "")
    if any(marker in stderr for marker in _PYTHON_ERRORS):
        return f"`{command}` failed: {last}"
    return None


def _cmd(args: Sequence[str], cwd: Path, ours: bool = True) -> Callable[[], object]:
    """A timed command; for wsrefactor's own, one that did its work (exit 0/1, no Python error):
    a failed command is not a time."""

    def run() -> object:
        done = subprocess.run(list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # nosec B603
        problem = failure(args, done.returncode, done.stderr.decode(errors="replace")) if ours else None
        if problem is not None:
            raise BenchFailure(problem)
        return done

    return run


def check_importable(cwd: Path) -> str:
    """The ``wsrefactor`` package the measured commands import from ``cwd`` (the corpora's
    directory, outside the repository), which must be the one this bench belongs to: otherwise
    every figure would time an error message, or another checkout's code."""
    import wsrefactor

    try:
        import wsrefactor.rules  # noqa: F401 - mapped from ``rules/``: importable only when installed
    except ImportError as exc:
        raise BenchFailure(f"{exc} in the bench's own Python: install wsrefactor (pip install -e .)") from None
    code = "import wsrefactor, wsrefactor.rules; print(wsrefactor.__file__)"
    args = [*PYTHON, "-c", code]
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)  # nosec B603
    problem = failure(args, done.returncode, done.stderr, ok=(0,))
    if problem is not None:
        last = problem.rsplit(": ", 1)[-1]
        raise BenchFailure(f"wsrefactor is not importable by {PYTHON[0]} outside the repository ({last}); "
                           "install it (pip install -e .) or run the bench with the Python that has it")
    theirs, ours = Path(done.stdout.strip()).resolve(), Path(wsrefactor.__file__).resolve()
    if theirs != ours:
        raise BenchFailure(f"the measured commands would run {theirs.parent}, not this bench's {ours.parent}; "
                           "run the bench with the Python that has this checkout installed")
    return str(theirs.parent)


def byte_compiled() -> str:
    """Byte-compile the measured package, as ``pip install`` leaves an installed one: with
    ``PYTHONDONTWRITEBYTECODE`` set (or a read-only checkout) every measured process would
    otherwise compile wsrefactor's ~100 modules again (~0.25 s a run, on a 2.6 s check)."""
    import compileall

    import wsrefactor
    import wsrefactor.rules

    dirs = {Path(wsrefactor.__file__).parent, Path(wsrefactor.rules.__file__).parent}
    ok = all(compileall.compile_dir(str(d), quiet=1) for d in sorted(dirs))
    where = ", ".join(str(d) for d in sorted(dirs))
    return f"byte-compiled {where} (as pip install does)" if ok else f"could not byte-compile {where}"


def _peak_rss_mb(args: Sequence[str], cwd: Path) -> float:
    code = (
        "import resource,subprocess,sys;"
        "d=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE,text=True);"
        "sys.stderr.write(d.stderr);"
        "print(d.returncode,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)  # nosec B603
    returncode, _, kilobytes = out.stdout.strip().partition(" ")
    problem = failure(args, int(returncode) if returncode.lstrip("-").isdigit() else -1, out.stderr)
    if problem is not None:
        raise BenchFailure(problem)
    return int(kilobytes) / 1024


SEMGREP_RULES = """\
rules:
  - id: blocking-sleep-in-async
    languages: [python]
    severity: WARNING
    message: time.sleep in async def
    pattern: |
      async def $F(...):
        ...
        time.sleep(...)
        ...
  - id: dangling-task
    languages: [python]
    severity: WARNING
    message: task result discarded
    pattern: asyncio.create_task(...)
  - id: unbounded-queue
    languages: [python]
    severity: WARNING
    message: queue without maxsize
    pattern: asyncio.Queue()
"""


def _semgrep_rules(dest: Path) -> Path:
    """Three local semgrep rules (the registry's ``--config auto`` needs the network)."""
    path = dest / "semgrep-rules.yml"
    path.write_text(SEMGREP_RULES, encoding="utf-8")
    return path


def bench_corpus(name: str, root: Path, repeat: int, jobs: int, peers: bool) -> list[tuple[str, float]]:
    files = _files(root)
    rows: list[tuple[str, float]] = []
    rows.append(("ast.parse floor", _median(lambda: ast_floor(files), repeat)))
    rows.append(("libcst.parse_module floor", _median(lambda: libcst_floor(files), 1)))
    for label, extra in (("check --select WS, cold, -j1", ["-j1"]), (f"check --select WS, cold, -j{jobs}", [f"-j{jobs}"])):
        rows.append((label, _median(_cmd(ws("check", ".", "--select", "WS", "--no-cache", "-q", *extra), root), repeat)))
    rows.append((f"check (WS + bandit), cold, -j{jobs}", _median(_cmd(ws("check", ".", "--no-cache", "-q", f"-j{jobs}"), root), repeat)))
    warm = ws("check", ".", "--select", "WS", "-q", f"-j{jobs}")
    _cmd(warm, root)()
    rows.append(("check --select WS, warm (nothing changed)", _median(_cmd(warm, root), repeat)))
    target = files[len(files) // 2]
    original = target.read_bytes()

    def one_changed() -> None:
        target.write_bytes(original + f"\n# {time.perf_counter_ns()}\n".encode())
        _cmd(warm, root)()

    rows.append(("check --select WS, warm, one file changed", _median(one_changed, repeat)))
    target.write_bytes(original)
    five = [str(p.relative_to(root)) for p in files[:5]]
    rows.append(("pre-commit sized (5 files, no cache)", _median(_cmd(ws("check", *five, "--no-cache", "-q"), root), repeat)))
    rows.append(("gate", _median(_cmd(ws("gate", "."), root), repeat)))
    rows.append(("peak memory MB (check, cold)", _peak_rss_mb(ws("check", ".", "--no-cache", "-q", f"-j{jobs}"), root)))
    if peers:
        rules = _semgrep_rules(root.parent)
        for peer, args in (
            ("ruff", ["ruff", "check", "--no-cache", "--exit-zero", "-q", "."]),
            ("fixit (default rules)", ["fixit", "lint", "."]),
            ("bandit", ["bandit", "-r", ".", "-q"]),
            ("radon cc", ["radon", "cc", "-s", "."]),
            ("semgrep (3 rules)", ["semgrep", "scan", "--config", str(rules), "--metrics", "off", "-q", "."]),
            ("pylint (3 refactoring checks)", ["pylint", "--disable=all", "--exit-zero", "-sn",
                                               "--enable=too-many-branches,too-many-statements,too-many-locals",
                                               "."]),
        ):
            if shutil.which(args[0]):
                rows.append((f"peer: {peer}", _median(_cmd(args, root, ours=False), 1)))
    return rows


# ---------------------------------------------------------------- a WebSocket-heavy application

ROUTER = '''"""Router {i}: the {name} channel (generated by wsrefactor.bench)."""

import asyncio
import json
import time

import requests
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

router = APIRouter()
connections: list[WebSocket] = []
queue = asyncio.Queue()


@router.websocket("/ws/{name}")
async def {name}_socket(websocket: WebSocket):
    await websocket.accept()
    connections.append(websocket)
    try:
        while True:
            raw = await websocket.receive_text()
            message = json.loads(raw)
            asyncio.create_task(audit_{i}(message))
            if message.get("type") == "ping":
                time.sleep(0.01)
                await websocket.send_text("pong")
            for other in connections:
                await other.send_text(raw)
    except WebSocketDisconnect:
        connections.remove(websocket)


async def audit_{i}(message):
    requests.post("http://audit.local/{name}", json=message, timeout=5)


def item_{i}(item):
    return {{"id": item.id, "kind": item.kind, "room": item.room, "created": item.created.isoformat()}}


async def session_{i}(ws, registry):
    hello = await ws.receive_json()
    if not isinstance(hello, dict) or "user" not in hello:
        await ws.close(code=4400)
        return False
    user = hello["user"]
    rooms = []
    async for message in ws.iter_json():
        if message.get("type") == "join" and message.get("room"):
            rooms.append(message["room"])
            await ws.send_json({{"joined": message["room"]}})
        elif message.get("type") == "leave" and message.get("room") in rooms:
            rooms.remove(message["room"])
        elif message.get("type") == "quit":
            break
    for room in rooms:
        if room in registry:
            registry[room].discard(user)
        else:
            await ws.send_json({{"unknown": room}})
    return True
'''

SERVICE = '''"""Service {i} (generated by wsrefactor.bench)."""

import logging

log = logging.getLogger(__name__)


class StoreError(Exception):
    pass


class {cls}:
    def __init__(self, redis):
        self.redis = redis
        self._local = {{}}

    def members(self, room):
        if not self.redis:
            return self._local_members(room)
        try:
            return set(self.redis.smembers(f"presence:{{room}}"))
        except StoreError as exc:
            log.warning("lookup failed: %s", exc)
            return self._local_members(room)

    def _local_members(self, room):
        return set(self._local.get(room, ()))

    def summary(self, item):
        return {{"id": item.id, "kind": item.kind, "room": item.room, "created": item.created.isoformat()}}

    def report(self, rows, limit, verbose):
        lines = []
        total = 0
        for row in rows:
            if row is None:
                continue
            if row.get("kind") == "join":
                total += 1
                lines.append(f"join {{row['room']}}")
            elif row.get("kind") == "leave":
                total -= 1
                lines.append(f"leave {{row['room']}}")
            elif row.get("kind") == "error" and verbose:
                lines.append(f"error {{row.get('detail')}}")
            if limit and len(lines) >= limit:
                break
        if total < 0:
            log.warning("more leaves than joins")
        return lines, total
'''

TEST = '''"""Tests {i} (generated by wsrefactor.bench)."""

from fastapi.testclient import TestClient


def test_socket_{i}(client: TestClient):
    with client.websocket_connect("/ws/room{i}") as ws:
        ws.send_text("ping")
        assert ws.receive_text() == "pong"
        ws.send_json({{"type": "join", "room": "r{i}"}})
        assert ws.receive_json() == {{"joined": "r{i}"}}


def test_payload_{i}():
    item = {{"id": {i}, "kind": "join", "room": "r{i}"}}
    assert item["id"] == {i}
'''


def websocket_corpus(dest: Path, files: int = 400) -> Path:
    """A FastAPI application of ``files`` modules: 40% WebSocket routers, 30% services, 30% tests,
    with the debts the rules fix (blocking calls, dangling tasks, unbounded queues, sequential
    broadcasts, serialization and Redis-fallback copies across files, complex session loops)."""
    out = dest / f"websocket_{files}"
    routers, services = files * 4 // 10, files * 3 // 10
    for i in range(files):
        if i < routers:
            path, text = out / "app" / "routers" / f"channel_{i}.py", ROUTER.format(i=i, name=f"room{i}")
        elif i < routers + services:
            path, text = out / "app" / "services" / f"store_{i}.py", SERVICE.format(i=i, cls=f"Store{i}")
        else:
            path, text = out / "tests" / f"test_channel_{i}.py", TEST.format(i=i)
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text)
    (out / "app" / "__init__.py").touch()
    return out


def pathological_function(dest: Path, params: int = 233) -> Path:
    """One generated-style method (a UI theme's ``set``): ``params`` keyword-only parameters and
    ``x = x or ...`` for each: radon's CC 235 and ~1,400 lines with the default 233."""
    lines = ['"""A theme module with one generated setter (generated by wsrefactor.bench)."""', "", "",
             "class Theme:", "    def set(", "        self,", "        *,"]
    lines += [f"        p{n}=None," for n in range(params)]
    lines += ["    ):", '        """Set any subset of the theme\'s values."""']
    for n in range(params):
        lines += [
            f"        p{n} = p{n} or self._defaults.get(\"p{n}\")",
            f"        self._values[\"p{n}\"] = p{n}",
            f"        self._changed.add(\"p{n}\")",
            f"        self._notify(\"p{n}\", p{n})",
            "",
        ]
    lines += ["        return self", ""]
    out = dest / "pathological"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "theme.py"
    path.write_text("\n".join(lines))
    return path


def _fix_round(root: Path, jobs: int, timeout: float | None) -> tuple[float, str, bool]:
    """``fix --unsafe-fixes`` over ``root``: seconds, its last stderr/stdout line, finished?
    On timeout the run gets SIGTERM (which wsrefactor treats as Ctrl-C; SIGINT is ignored by
    processes started in the background by a shell) and keeps every file it finished."""
    import signal

    args = ws("fix", ".", "--unsafe-fixes", "--no-cache", f"-j{jobs}")
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # nosec B603
    try:
        out, err = proc.communicate(timeout=timeout)
        finished = True
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate()
        finished = False
    seconds = time.perf_counter() - start
    return seconds, fix_summary(args, proc.returncode, out, err, finished), finished


def fix_summary(args: Sequence[str], returncode: int, out: str, err: str, finished: bool) -> str:
    """The fix run's summary line (``Fixed ...``, or ``wsrefactor: interrupted ...`` when the
    bench stopped it); a run that failed, or printed neither, raises ``BenchFailure``."""
    problem = failure(args, returncode, err, ok=(0, 1) if finished else (0, 1, 130))
    wanted = "Fixed " if finished else ("Fixed ", "wsrefactor: interrupted")
    lines = [ln for ln in (out + err).splitlines() if ln.startswith(wanted)]
    if problem is None and not lines:
        last = next((ln.strip() for ln in reversed((out + err).splitlines()) if ln.strip()), "no output")
        problem = f"`{' '.join(args[-6:])}` printed no summary: {last}"
    if problem is not None:
        raise BenchFailure(problem)
    return lines[-1]


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in _files(root)}


def _fix_contract(root: Path, before: dict[Path, bytes], jobs: int) -> str:
    """Every changed file compiles; a second fix run changes nothing (``fix --diff`` exits 0)."""
    targets, changed, broken = _read_bytes(root, before)
    if not changed:
        return "no file changed"
    args = ws("fix", *targets, "--unsafe-fixes", "--no-cache", "--diff", "-q", f"-j{jobs}")
    second = subprocess.run(args, cwd=root, capture_output=True, text=True)  # nosec B603
    again = second_run(args, second.returncode, second.stdout, second.stderr)
    compiled = "all compile" if not broken else f"{len(broken)} DO NOT COMPILE: " + "; ".join(broken[:3])
    return f"{len(changed)} files changed, {compiled}; {again}"


def second_run(args: Sequence[str], returncode: int, out: str, err: str) -> str:
    """What the second ``fix --diff`` run says: nothing to change (exit 0), or how many files it
    would change (exit 1 with a diff); anything else is a failure, not a contract result."""
    problem = failure(args, returncode, err)
    if problem is None and returncode == 1 and "+++ " not in out:
        problem = f"`fix --diff` exited 1 without a diff: {err.strip()[-200:] or 'no output'}"
    if problem is not None:
        raise BenchFailure(problem)
    return "second run changes nothing" if returncode == 0 else f"SECOND RUN WOULD CHANGE {out.count('+++ ')} file(s)"


def _read_bytes(root: Path, before: dict[Path, bytes]) -> tuple[list[Any], list[Any], list[Any]]:
    changed = [p for p in _files(root) if before.get(p) != p.read_bytes()]
    broken = []
    for path in changed:
        try:
            compile(path.read_bytes(), str(path), "exec")
        except (SyntaxError, ValueError) as exc:
            broken.append(f"{path.relative_to(root)}: {exc}")
    # the changed files are what a second run could change again (all of them: a cross-file fix
    # reads the whole project; a run that was stopped early: only those, or it would redo the work)
    targets = ["."] if len(changed) * 2 > len(before) else [str(p.relative_to(root)) for p in changed]
    return targets, changed, broken


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (and of their waited-for workers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_fix(name: str, root: Path, jobs: int, timeout: float | None) -> list[tuple[str, float]]:
    """``check --select WS`` vs ``fix --unsafe-fixes`` on the same files, and the fix contracts.
    Wall and CPU time both: on a shared machine the CPU ratio is the one that means something."""
    files = _files(root)
    cpu = time.process_time()
    floor = _median(lambda: ast_floor(files), 1)
    floor_cpu = time.process_time() - cpu
    cpu = _children_cpu()
    check = _median(_cmd(ws("check", ".", "--select", "WS", "--no-cache", "-q", f"-j{jobs}"), root), 1)
    check_cpu = _children_cpu() - cpu
    print(f"{name}: {len(files)} files; ast.parse {floor:.2f} s; check --select WS {check:.2f} s wall, {check_cpu:.2f} s CPU",
          flush=True)
    before = _snapshot(root)
    cpu = _children_cpu()
    seconds, summary, finished = _fix_round(root, jobs, timeout)
    fix_cpu = _children_cpu() - cpu
    print(f"{name}: fix --unsafe-fixes: {summary}" + ("" if finished else f" (stopped after {timeout:.0f} s)"), flush=True)
    print(f"{name}: {_fix_contract(root, before, jobs)}")
    print(f"{name}: fix / check --select WS = {seconds / check:.1f}x wall, {fix_cpu / max(check_cpu, 1e-9):.1f}x CPU; "
          f"check --select WS / ast.parse = {check / floor:.1f}x wall, {check_cpu / max(floor_cpu, 1e-9):.1f}x CPU",
          flush=True)
    return [("ast.parse floor", floor), (f"check --select WS, cold, -j{jobs}", check),
            (f"fix --unsafe-fixes, -j{jobs}" + ("" if finished else " (STOPPED)"), seconds)]


def bench_pathological(dest: Path, repeat: int, timeout: float) -> list[tuple[str, float]]:
    """``check --format json`` vs text on one file holding a CC-236 function (JSON stopped at
    ``timeout``: then the ratio is a lower bound)."""
    path = pathological_function(dest)
    root = path.parent
    check = ws("check", path.name, "--no-cache", "-q", "-j1")
    floor = _median(lambda: ast_floor([path]), repeat)
    cpu = _children_cpu()
    text = _median(_cmd(check, root), repeat)
    text_cpu = (_children_cpu() - cpu) / repeat
    lines = path.read_text().count("\n")
    from wsrefactor.complexity import measure_file

    cc = max(b.complexity for b in measure_file(str(path)))
    print(f"pathological: {lines} lines, CC {cc}; check (text) {text:.2f} s wall, {text_cpu:.2f} s CPU", flush=True)
    start, cpu = time.perf_counter(), _children_cpu()
    args = [*check, "--format", "json"]
    try:
        done = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=timeout)  # nosec B603
        stopped = ""
        _check_json(args, done.returncode, done.stdout, done.stderr)
    except subprocess.TimeoutExpired:
        stopped = " (STOPPED)"
    as_json, json_cpu = time.perf_counter() - start, _children_cpu() - cpu
    bound = ">= " if stopped else ""
    print(f"pathological: check --format json {as_json:.2f} s wall, {json_cpu:.2f} s CPU{stopped}; "
          f"json / text = {bound}{as_json / text:.1f}x wall, {bound}{json_cpu / max(text_cpu, 1e-9):.1f}x CPU")
    return [("ast.parse floor", floor), ("check (text)", text), (f"check --format json{stopped}", as_json)]


def _check_json(args: Sequence[str], returncode: int, out: str, err: str) -> None:
    """A JSON check that did its work printed a JSON document."""
    import json

    problem = failure(args, returncode, err)
    if problem is None:
        try:
            json.loads(out)
        except ValueError:
            problem = f"`check --format json` printed no JSON: {out.strip()[:200] or err.strip()[-200:] or 'no output'}"
    if problem is not None:
        raise BenchFailure(problem)


PROJECT_MODULE = '''"""Module {i} (generated by wsrefactor.bench)."""
import logging
{imports}
log = logging.getLogger(__name__)


class StoreError(Exception):
    pass


def event_{i}(item):
    return {{"id": item.id, "kind_{group}": item.kind, "created": item.created.isoformat()}}


class Service{i}:
    def __init__(self, redis):
        self.redis = redis

    def members(self, room):
        if not self.redis:
            return self._local_members(room)
        try:
            return set(self.redis.smembers(f"presence:{{room}}"))
        except StoreError as exc:
            log.warning("lookup failed: %s", exc)
            return self._local_members(room)

    def _local_members(self, room):
        return set()
'''


def project_corpus(dest: Path, files: int, copies: int) -> list[str]:
    """``files`` modules; WS303 shapes shared by ``copies`` files each (``files / copies``
    groups), one WS304 shape in every file; each module imports its predecessor in its package
    of 50 and the package's first module (import closures of realistic depth)."""
    groups = max(1, files // copies)
    out = dest / f"project_{files}x{copies}"
    paths = []
    for i in range(files):
        pkg = out / f"pkg{i // 50}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").touch()
        first = (i // 50) * 50
        imports = "\n".join(f"from pkg{i // 50} import mod_{j}" for j in sorted({first, i - 1}) if first <= j < i)
        path = pkg / f"mod_{i}.py"
        path.write_text(PROJECT_MODULE.format(i=i, group=i % groups, imports=imports))
        paths.append(str(path))
    return paths


def bench_project_phase(dest: Path, files: int) -> list[tuple[str, float]]:
    """The cross-file phase (WS303/WS304 ``finalize``) alone, at N and 10N files, with copies
    in small groups (N/10 groups) and in one group of every file."""
    from wsrefactor.config import Config
    from wsrefactor.registry import load_rules
    from wsrefactor.runner import Job, project_phase, run_files
    from wsrefactor.selection import Selection

    rows: list[tuple[str, float]] = []
    selection = Selection.build(("WS303", "WS304"), (), load_rules(()).keys())
    for n in (files, files * 10):
        for copies in (10, n):
            paths = project_corpus(dest, n, copies)
            job = Job(Config(root=str(dest), cache=False), selection)
            results = run_files(paths, job, os.cpu_count() or 1)
            start = time.perf_counter()
            found = project_phase(results, job)
            seconds = time.perf_counter() - start
            label = f"project phase, {n} files, {'10 copies a shape' if copies == 10 else 'one shape in all'}"
            print(f"{label}: {seconds:.3f} s, {len(found)} findings")
            rows.append((label, seconds))
    return [("(no floor: seconds only)", 1.0), *rows]


def _print_table(rows: list[tuple[str, float]]) -> None:
    floor = rows[0][1]
    print(f"| {'measurement':<44} | {'seconds':>8} | {'x ast floor':>11} |")
    print(f"| {'-' * 44} | {'-' * 8}: | {'-' * 11}: |")
    for label, value in rows:
        if label.startswith("peak memory"):
            print(f"| {label:<44} | {value:>8.0f} | {'':>11} |")
        else:
            print(f"| {label:<44} | {value:>8.2f} | {value / floor:>11.1f} |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wsrefactor.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--stdlib-limit", type=int, default=None, help="copy only N stdlib files")
    parser.add_argument("--corpus", action="append", choices=CORPORA, help="default: the check corpora (stdlib, synthetic1x, synthetic10x)")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--fix-timeout", type=float, default=900.0, help="stop a fix run after this many seconds (SIGTERM)")
    parser.add_argument("--websocket-files", type=int, default=400, help="size of the WebSocket-heavy corpus")
    parser.add_argument("--repo", action="append", type=Path, default=[], metavar="DIR",
                        help="also measure the check table on a checked-out repository (copied; repeatable)")
    args = parser.parse_args(argv)
    for repo in args.repo:
        if not repo.is_dir():
            parser.error(f"--repo {repo}: not a directory")
    try:
        cold = _compute_cold(args)
    except BenchFailure as exc:  # one line, and no figure: a failed command is not a time
        print(f"wsrefactor.bench: error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    if "synthetic1x" in cold and "synthetic10x" in cold:
        print(f"\nscaling: 10x the files took {cold['synthetic10x'] / cold['synthetic1x']:.1f}x the time "
              f"(check --select WS, cold, -j{args.jobs})")


def _compute_cold(args: Any) -> dict[str, float]:
    chosen = args.corpus or ([] if args.repo else ["stdlib", "synthetic1x", "synthetic10x"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}")
    print(_load())
    cold: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wsrefactor-bench-") as tmp:
        dest = Path(tmp)
        print(f"measuring {check_importable(dest)} with {PYTHON[0]}", flush=True)
        print(byte_compiled(), flush=True)
        for name in [c for c in chosen if c in SPECIAL]:
            print(f"\n## {name}")
            if name == "pathological":
                rows = bench_pathological(dest, args.repeat, args.fix_timeout)
            elif name == "project-phase":
                rows = bench_project_phase(dest, args.websocket_files)
            else:
                root = websocket_corpus(dest, args.websocket_files) if name == "fix-websocket" else stdlib_corpus(dest, args.stdlib_limit)
                rows = bench_fix(name, root, args.jobs, args.fix_timeout)
            _print_table(rows)
            print(_load())
            sys.stdout.flush()
        _stdlib_corpus(chosen, dest, args, cold)
    return cold


def _load() -> str:
    """The load average: on a shared machine, the context every wall-clock figure needs."""
    one, five, fifteen = os.getloadavg()
    return f"load average: {one:.1f}, {five:.1f}, {fifteen:.1f} ({time.strftime('%H:%M:%S')})"


def repo_corpus(source: Path, dest: Path) -> Path:
    """The ``.py`` files of a checked-out repository, copied with their layout (no ``.git``, no
    config: the defaults are what is measured)."""
    out = dest / f"repo_{source.resolve().name}"
    for path in sorted(source.rglob("*.py")):
        rel = path.relative_to(source)
        if ".git" in rel.parts or not path.is_file():
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return out


def _stdlib_corpus(chosen: Any, dest: Any, args: Any, cold: dict[str, float]) -> None:
    names = [c for c in chosen if c not in SPECIAL] + [f"repo:{r}" for r in args.repo]
    for name in names:
        if name.startswith("repo:"):
            root = repo_corpus(Path(name[5:]), dest)
        elif name == "stdlib":
            root = stdlib_corpus(dest, args.stdlib_limit)
        elif name == "websocket":
            root = websocket_corpus(dest, args.websocket_files)
        else:
            root = synthetic_corpus(dest, 1 if name == "synthetic1x" else 10)
        files = _files(root)
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        print(f"\n## {name}: {len(files)} files, {lines} lines")
        rows = bench_corpus(name, root, args.repeat, args.jobs, not args.no_peers)
        _print_table(rows)
        print(_load())
        sys.stdout.flush()
        cold[name] = rows[3][1]



if __name__ == "__main__":
    main()
