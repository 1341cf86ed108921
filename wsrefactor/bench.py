"""``python -m wsrefactor.bench``: how fast wsrefactor is, against the floors and the peers.

Builds corpora in a temporary directory — a copy of the running Python's standard library and a
synthetic WebSocket-heavy corpus made from ``fixtures/`` at 1x and 10x — and reports, as the
median of several runs, the ``ast.parse`` floor, the ``libcst.parse_module`` floor, wsrefactor
cold ``-j1``/``-jN``, warm, one file changed, a pre-commit-sized run, the gate, peak memory, and
(when installed) ruff, fixit, bandit, radon, semgrep (three local rules) and pylint (three
refactoring checks) on the same files, each also as a ratio to the ``ast`` floor; with both
synthetic corpora, the 1x -> 10x scaling. A benchmark, not a test: nothing here asserts a time.
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

REPO = Path(__file__).resolve().parent.parent


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


def _cmd(args: Sequence[str], cwd: Path, ours: bool = True) -> Callable[[], object]:
    """A timed command; for wsrefactor's own, exit 0/1 only (a usage error is not a time)."""

    def run() -> object:
        done = subprocess.run(list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # nosec B603
        if ours and done.returncode not in (0, 1):
            raise SystemExit(f"benchmark command failed ({done.returncode}): {' '.join(args)}\n{done.stderr.decode()}")
        return done

    return run


def _peak_rss_mb(args: Sequence[str], cwd: Path) -> float:
    code = (
        "import resource,subprocess,sys;"
        "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)  # nosec B603
    try:
        return int(out.stdout.strip()) / 1024
    except ValueError:
        return float("nan")


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
    ws = [sys.executable, "-m", "wsrefactor"]
    rows: list[tuple[str, float]] = []
    rows.append(("ast.parse floor", _median(lambda: ast_floor(files), repeat)))
    rows.append(("libcst.parse_module floor", _median(lambda: libcst_floor(files), 1)))
    for label, extra in (("check --select WS, cold, -j1", ["-j1"]), (f"check --select WS, cold, -j{jobs}", [f"-j{jobs}"])):
        rows.append((label, _median(_cmd([*ws, "check", ".", "--select", "WS", "--no-cache", "-q", *extra], root), repeat)))
    rows.append((f"check (WS + bandit), cold, -j{jobs}", _median(_cmd([*ws, "check", ".", "--no-cache", "-q", f"-j{jobs}"], root), repeat)))
    warm = [*ws, "check", ".", "--select", "WS", "-q", f"-j{jobs}"]
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
    rows.append(("pre-commit sized (5 files, no cache)", _median(_cmd([*ws, "check", *five, "--no-cache", "-q"], root), repeat)))
    rows.append(("gate", _median(_cmd([*ws, "gate", "."], root), repeat)))
    rows.append(("peak memory MB (check, cold)", _peak_rss_mb([*ws, "check", ".", "--no-cache", "-q", f"-j{jobs}"], root)))
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
    parser.add_argument("--corpus", action="append", choices=["stdlib", "synthetic1x", "synthetic10x"], help="default: all")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args(argv)
    chosen = args.corpus or ["stdlib", "synthetic1x", "synthetic10x"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}")
    cold: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wsrefactor-bench-") as tmp:
        dest = Path(tmp)
        for name in chosen:
            if name == "stdlib":
                root = stdlib_corpus(dest, args.stdlib_limit)
            else:
                root = synthetic_corpus(dest, 1 if name == "synthetic1x" else 10)
            files = _files(root)
            lines = sum(p.read_bytes().count(b"\n") for p in files)
            print(f"\n## {name}: {len(files)} files, {lines} lines")
            rows = bench_corpus(name, root, args.repeat, args.jobs, not args.no_peers)
            _print_table(rows)
            sys.stdout.flush()
            cold[name] = rows[3][1]
    if "synthetic1x" in cold and "synthetic10x" in cold:
        print(f"\nscaling: 10x the files took {cold['synthetic10x'] / cold['synthetic1x']:.1f}x the time "
              f"(check --select WS, cold, -j{args.jobs})")



if __name__ == "__main__":
    main()
