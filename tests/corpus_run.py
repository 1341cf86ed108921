"""Run wsrefactor over a copy of this Python's standard library: no crash, fixes compile, idempotent.

    python tests/corpus_run.py [--limit N] [--jobs N] [--subset asyncio,json,...] [--keep]

1. copy every ``*.py`` under ``sysconfig.get_paths()["stdlib"]`` (``site-packages`` skipped,
   nothing else) into a temporary directory;
2. ``wsrefactor check --select WS --no-cache --format json``: exit 0/1 only; every WS000 file is
   re-verified with ``ast.parse`` (it must really not parse on this Python: lib2to3's py2 test
   data, deliberately broken test files) and listed;
3. ``wsrefactor fix --unsafe-fixes --select WS --no-cache``: every changed file still compiles;
4. the same fix with ``--diff`` again: exit 0 and empty (fixing is idempotent).

Prints the counts and the seconds of each phase. ``tests/e2e/test_corpus.py`` runs the same
functions on a ~150-file subset.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {"site-packages"}


@dataclass
class CorpusReport:
    files: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    ws000_files: list[str] = field(default_factory=list)
    bogus_ws000: list[str] = field(default_factory=list)
    libcst_limits: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    not_compiling: list[str] = field(default_factory=list)
    second_diff: str = ""
    exit_codes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = list(self.errors)
        for phase, code in self.exit_codes.items():
            allowed = (0,) if phase == "second fix --diff" else (0, 1)
            if code not in allowed:
                out.append(f"{phase}: exit {code}")
        out += [f"WS000 on a file that parses: {p}" for p in self.bogus_ws000]
        out += [f"fixed file does not compile: {p}" for p in self.not_compiling]
        if self.second_diff:
            names = [ln[6:] for ln in self.second_diff.splitlines() if ln.startswith("+++ b/")]
            out.append(f"second fix run would change {len(names)} file(s): {', '.join(names)}")
        return out

    def render(self) -> str:
        lines = [
            f"files: {self.files}",
            f"findings: {sum(self.findings.values())} "
            + "(" + ", ".join(f"{c} {n}" for c, n in sorted(self.findings.items())) + ")",
            f"files changed by fix: {len(self.changed)}",
            f"WS000 files (do not parse on Python {sys.version.split()[0]}): {len(self.ws000_files)}",
            *(f"  {p}" for p in self.ws000_files),
            f"WS000 'libcst cannot parse this valid Python': {len(self.libcst_limits)}",
            *(f"  {p}" for p in self.libcst_limits),
            "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()),
            "exit codes: " + ", ".join(f"{k} {v}" for k, v in self.exit_codes.items()),
        ]
        problems = self.problems()
        lines.append("problems: none" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems))
        return "\n".join(lines) + "\n"


def stdlib_files(subset: list[str] | None = None, limit: int | None = None) -> tuple[Path, list[Path]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = Path(dirpath) / name
                rel = path.relative_to(root)
                if subset is None or rel.parts[0] in subset:
                    files.append(path)
    if limit is not None:
        files = files[:limit]
    return root, files


def copy_tree(root: Path, files: list[Path], dest: Path) -> None:
    for path in files:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, target)
        except OSError:  # an unreadable file in the stdlib is copied as nothing at all
            continue
    # The copy must be analysed as a tree of its own, not under some parent's config/.gitignore.
    (dest / "pyproject.toml").write_text("[tool.wsrefactor]\nrespect-gitignore = false\n")
    (dest / ".git").mkdir(exist_ok=True)


def _cli(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603 - our own CLI, fixed arguments
        [sys.executable, "-m", "wsrefactor", *args], cwd=cwd, capture_output=True, text=True,
        env=dict(os.environ, NO_COLOR="1"), timeout=timeout,
    )


def _parses(path: Path) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return False
    return True


def _snapshot(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*.py")) if p.is_file()}


def _progress(message: str) -> None:
    sys.stderr.write(f"[corpus] {message}\n")
    sys.stderr.flush()


def run_corpus(
    tree: Path, jobs: int | None = None, timeout: float = 4 * 3600, ignore: str | None = None
) -> CorpusReport:
    """Check, fix, compile and re-fix the copy in ``tree`` (modified in place)."""
    report = CorpusReport()
    jobs_args = ["-j", str(jobs)] if jobs else []
    if ignore:
        jobs_args += ["--ignore", ignore]
    before = _snapshot(tree)
    report.files = len(before)

    t = time.monotonic()
    r = _cli(["check", ".", "--select", "WS", "--no-cache", "--format", "json", *jobs_args], tree, timeout)
    report.seconds["check"] = time.monotonic() - t
    _progress(f"check: exit {r.returncode}, {report.seconds['check']:.0f}s")
    report.exit_codes["check"] = r.returncode
    if "Traceback" in r.stderr or r.returncode not in (0, 1):
        report.errors.append("check stderr:\n" + r.stderr[-2000:])
    try:
        findings = json.loads(r.stdout or "[]")
    except json.JSONDecodeError:
        report.errors.append(f"check output is not JSON: {r.stdout[:300]!r} {r.stderr[-500:]!r}")
        findings = []
    report.findings = Counter(f["code"] for f in findings)
    for f in sorted((f for f in findings if f["code"] == "WS000"), key=lambda f: f["filename"]):
        name = f["filename"]
        if "libcst cannot parse" in f["message"] and _parses(tree / name):
            report.libcst_limits.append(f"{name}:{f['line']}")  # valid Python; said so honestly
            continue
        report.ws000_files.append(name)
        if _parses(tree / name):
            report.bogus_ws000.append(name)
    _progress(f"findings {dict(sorted(report.findings.items()))}; WS000 {report.ws000_files}")

    t = time.monotonic()
    r = _cli(["fix", ".", "--unsafe-fixes", "--select", "WS", "--no-cache", *jobs_args], tree, timeout)
    report.seconds["fix"] = time.monotonic() - t
    _progress(f"fix: exit {r.returncode}, {report.seconds['fix']:.0f}s")
    report.exit_codes["fix"] = r.returncode
    if "Traceback" in r.stderr or r.returncode not in (0, 1):
        report.errors.append("fix stderr:\n" + r.stderr[-2000:])
    after = _snapshot(tree)
    t = time.monotonic()
    for name, data in after.items():
        if before.get(name) != data:
            report.changed.append(name)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    compile(data, str(tree / name), "exec")
            except (SyntaxError, ValueError) as exc:
                report.not_compiling.append(f"{name}: {exc}")
    # A fix may create only the shared helper modules its rule documents (WS205's
    # background_tasks.py, WS303's serializers.py); anything else is a bug.
    documented = ("background_tasks.py", "serializers.py")
    new_files = sorted(n for n in set(after) - set(before) if not n.endswith(documented))
    if new_files:
        report.errors.append(f"fix created .py files: {new_files[:10]}")
    report.seconds["compile changed"] = time.monotonic() - t

    t = time.monotonic()
    r = _cli(["fix", ".", "--unsafe-fixes", "--select", "WS", "--no-cache", "--diff", *jobs_args], tree, timeout)
    report.seconds["second fix --diff"] = time.monotonic() - t
    report.exit_codes["second fix --diff"] = r.returncode
    report.second_diff = r.stdout
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    parser.add_argument("--subset", default=None, help="comma-separated top-level stdlib entries, e.g. asyncio,json")
    parser.add_argument("--jobs", "-j", type=int, default=None)
    parser.add_argument("--ignore", default=None, help="rule codes to leave out, e.g. WS301,WS302")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print its path")
    args = parser.parse_args(argv)
    subset = [s.strip() for s in args.subset.split(",")] if args.subset else None
    root, files = stdlib_files(subset, args.limit)
    tmp = Path(tempfile.mkdtemp(prefix="wsrefactor-corpus-"))
    try:
        t = time.monotonic()
        copy_tree(root, files, tmp / "stdlib")
        copied = time.monotonic() - t
        report = run_corpus(tmp / "stdlib", args.jobs, ignore=args.ignore)
        report.seconds = {"copy": copied, **report.seconds}
        print(f"corpus: {root} (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
        print(report.render(), end="")
        if args.keep:
            print(f"kept: {tmp / 'stdlib'}")
        return 1 if report.problems() else 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
