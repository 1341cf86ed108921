"""``python -m wsrefactor.proof``: do the fixes keep real projects' own tests green?

For each public WebSocket project in a manifest (``wsrefactor/proof_projects.toml``: locations,
labels and test commands only), on a fresh copy of its snapshot: run its tests (``baseline``),
then for each fix step — ``safe`` (``fix``), ``extract`` (WS301/WS302 extract-method) and
``dedupe`` (WS303-WS305), each on its own fresh copy — apply the fixes to the library package,
re-run the tests and measure what a reviewer would: changed files, do they compile, function
docstrings lost, is a second ``fix`` a no-op, mypy and ruff ``F401,F811,I001`` deltas, new helpers
named ``_part<N>``/``_rest`` or taking 8+ parameters. Each step's result is stored as JSON in the
work directory and reused when the snapshot, the manifest entry and wsrefactor's code are
unchanged, so an interrupted run resumes. A measurement, not a test: it is not in the pytest run.
"""

from __future__ import annotations

import argparse
import ast
import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess  # nosec B404 - the proof runs git, pip, wsrefactor, mypy, ruff and pytest as commands
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
MANIFEST = Path(__file__).resolve().parent / "proof_projects.toml"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "wsrefactor-proof"

# step name -> arguments of ``wsrefactor fix`` (None: the untouched baseline)
STEPS: dict[str, list[str] | None] = {
    "baseline": None,
    "safe": [],
    "extract": ["--unsafe-fixes", "--select", "WS301,WS302"],
    "dedupe": ["--unsafe-fixes", "--select", "WS303,WS304,WS305"],
}
STEP_TITLES = {
    "baseline": "baseline",
    "safe": "(a) safe fixes",
    "extract": "(b) WS301/WS302",
    "dedupe": "(c) WS303–WS305",
}
POSITIONAL_HELPER = re.compile(r"_part\d*$")
REST_HELPER = re.compile(r"_rest\d*$")
MANY_PARAMETERS = 8
RUFF_CODES = "F401,F811,I001"
# bump when what a step measures changes: stored results of an older measurement are recomputed
MEASUREMENT = "1"
RERUNS = 3  # re-runs of each new failure, on the fixed copy and on the untouched one


@dataclass
class Project:
    """One manifest entry."""

    label: str
    source: str
    snapshot: str
    package: str
    pythonpath: list[str]
    module: str
    deps: list[str]
    test: list[str]
    mypy: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> Project:
        def strings(key: str) -> list[str]:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"manifest: `{key}` of {table.get('label')!r} must be a list of strings")
            return list(value)

        return cls(
            label=str(table["label"]),
            source=str(table.get("source", "")),
            snapshot=str(table["snapshot"]),
            package=str(table["package"]),
            pythonpath=strings("pythonpath"),
            module=str(table["import"]),
            deps=strings("deps"),
            test=strings("test"),
            mypy=strings("mypy"),
            env={str(k): str(v) for k, v in dict(table.get("env", {})).items()},  # type: ignore[call-overload]
        )


def load_manifest(path: Path) -> list[Project]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Project.from_table(table) for table in data.get("project", [])]


# ---------------------------------------------------------------- pure measurements (unit tested)


@dataclass(frozen=True)
class FunctionFacts:
    """What a reviewer checks about one function: its docstring and its parameter count."""

    docstring: str | None
    parameters: int


def function_facts(source: str) -> dict[str, FunctionFacts]:
    """Every function of a module by qualified name (``Class.method``, ``outer.<locals>.inner``).

    ``self``/``cls`` of a method are not counted as parameters: a helper's burden is what its
    caller must pass.
    """
    facts: dict[str, FunctionFacts] = {}

    def visit(node: ast.AST, prefix: str, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.", True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = child.args
                names = [*args.posonlyargs, *args.args]
                count = len(names) + len(args.kwonlyargs) + (args.vararg is not None) + (args.kwarg is not None)
                if in_class and names and names[0].arg in ("self", "cls"):
                    count -= 1
                name = f"{prefix}{child.name}"
                facts.setdefault(name, FunctionFacts(ast.get_docstring(child, clean=False), count))
                visit(child, f"{name}.<locals>.", False)
            else:
                visit(child, prefix, in_class)

    visit(ast.parse(source), "", False)
    return facts


@dataclass
class CodeDelta:
    """Docstrings lost and helpers added between two versions of the changed files."""

    docstrings_lost: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)
    positional: list[str] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)
    many_parameters: list[str] = field(default_factory=list)

    def add(self, where: str, before: Mapping[str, FunctionFacts], after: Mapping[str, FunctionFacts]) -> None:
        for name, old in before.items():
            new = after.get(name)
            if old.docstring is not None and (new is None or new.docstring != old.docstring):
                self.docstrings_lost.append(f"{where}:{name}")
        for name in sorted(set(after) - set(before)):
            label = f"{where}:{name}"
            self.helpers.append(label)
            short = name.rsplit(".", 1)[-1]
            if POSITIONAL_HELPER.search(short):
                self.positional.append(label)
            if REST_HELPER.search(short):
                self.rest.append(label)
            if after[name].parameters >= MANY_PARAMETERS:
                self.many_parameters.append(label)


def changed_files(before: Path, after: Path) -> dict[str, list[str]]:
    """Relative paths changed, added and removed between two trees (``.git``/caches ignored)."""

    def files(root: Path) -> set[str]:
        skip = {".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".wsrefactor_cache"}
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(root).parts)
        }

    old, new = files(before), files(after)
    changed = sorted(rel for rel in old & new if not filecmp.cmp(before / rel, after / rel, shallow=False))
    return {"changed": changed, "added": sorted(new - old), "removed": sorted(old - new)}


def compile_errors(root: Path, rels: Iterable[str]) -> list[str]:
    errors = []
    for rel in rels:
        if rel.endswith(".py"):
            try:
                compile((root / rel).read_bytes(), rel, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                errors.append(f"{rel}: {exc}")
    return errors


def code_delta(before: Path, after: Path, rels: Iterable[str]) -> CodeDelta:
    delta = CodeDelta()
    for rel in rels:
        if not rel.endswith(".py"):
            continue
        old = function_facts((before / rel).read_text(encoding="utf-8")) if (before / rel).exists() else {}
        try:
            new = function_facts((after / rel).read_text(encoding="utf-8"))
        except SyntaxError:
            continue  # reported by compile_errors
        delta.add(rel, old, new)
    return delta


def parse_mypy(output: str) -> int:
    """Error count from mypy's output (its ``error:`` lines; notes are not errors)."""
    return sum(1 for line in output.splitlines() if ": error:" in line)


def parse_ruff(output: str) -> list[str]:
    """ruff's concise findings as ``path CODE`` (no line numbers, so moved code compares equal)."""
    found = []
    for line in output.splitlines():
        match = re.match(r"(.+?):\d+:\d+: ([A-Z]+\d+)", line)
        if match:
            found.append(f"{match.group(1)} {match.group(2)}")
    return sorted(found)


def new_failures(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Tests that passed (or did not exist) before and fail or error after."""
    bad = ("failed", "error")
    return sorted(t for t, outcome in after.items() if outcome in bad and before.get(t) not in bad)


def test_counts(outcomes: Mapping[str, str]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# ---------------------------------------------------------------- running things


@dataclass
class Ran:
    """A finished command: exit code (None on timeout), output, seconds."""

    code: int | None
    stdout: str
    stderr: str
    seconds: float


def run(cmd: Sequence[str], cwd: Path, timeout: float, env: Mapping[str, str] | None = None) -> Ran:
    """Run a command in its own process group; on timeout the whole group is killed."""
    start = time.perf_counter()
    proc = subprocess.Popen(  # nosec B603 - fixed argument lists, no shell
        list(cmd), cwd=cwd, env=dict(env) if env is not None else None, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        code = None
    return Ran(code, out, err, round(time.perf_counter() - start, 1))


def _is_bare_git(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def snapshot_commit(snapshot: Path) -> str:
    git_dir = ["--git-dir", str(snapshot)] if _is_bare_git(snapshot) else ["-C", str(snapshot)]
    got = run(["git", *git_dir, "rev-parse", "HEAD"], Path.cwd(), 60)
    return got.stdout.strip() if got.code == 0 else "unversioned"


def materialize(snapshot: Path, dest: Path, commit: str) -> None:
    """Extract the snapshot (bare git: ``git archive HEAD``; a tree: a copy without ``.git``) once."""
    marker = dest.parent / "pristine.commit"
    if dest.is_dir() and marker.is_file() and marker.read_text(encoding="utf-8") == commit:
        return
    shutil.rmtree(dest, ignore_errors=True)
    if _is_bare_git(snapshot):
        dest.mkdir(parents=True)
        archive = dest.parent / "snapshot.tar"
        got = run(["git", "--git-dir", str(snapshot), "archive", "-o", str(archive), "HEAD"], dest, 300)
        if got.code != 0:
            raise RuntimeError(f"git archive {snapshot}: {got.stderr.strip()}")
        got = run(["tar", "-xf", str(archive), "-C", str(dest)], dest, 300)
        archive.unlink()
        if got.code != 0:
            raise RuntimeError(f"tar {archive}: {got.stderr.strip()}")
    else:
        shutil.copytree(snapshot, dest, ignore=shutil.ignore_patterns(".git"))
    marker.write_text(commit, encoding="utf-8")


def ensure_venv(project: Project, venv: Path, timeout: float) -> Path:
    """A virtualenv seeing the system site-packages, with the project's test deps from PyPI."""
    python = venv / "bin" / "python"
    marker = venv / "proof-deps.json"
    wanted = json.dumps(project.deps)
    if python.exists() and marker.is_file() and marker.read_text(encoding="utf-8") == wanted:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    for cmd in ([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                [str(python), "-m", "pip", "install", "-q", *project.deps]):
        got = run(cmd, venv.parent, timeout)
        if got.code != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])}: {(got.stderr or got.stdout).strip()[-500:]}")
    marker.write_text(wanted, encoding="utf-8")
    return python


def copy_tree(pristine: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(pristine, dest, symlinks=True)
    return dest


def _test_env(project: Project, tree: Path, outcomes: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(project.env)
    paths = [str((tree / p).resolve()) for p in project.pythonpath]
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO)])  # REPO last: only for the plugin
    env["WSREFACTOR_PROOF_OUTCOMES"] = str(outcomes)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def import_location(project: Project, tree: Path, python: Path, log: Path) -> str:
    """Where the tests will import the project from; must be inside the copy being tested."""
    env = _test_env(project, tree, log.with_suffix(".unused"))
    got = run([str(python), "-c", f"import {project.module} as m; print(m.__file__)"], tree, 120, env)
    return got.stdout.strip() if got.code == 0 else f"import failed: {got.stderr.strip()[-300:]}"


def run_tests(project: Project, tree: Path, python: Path, log: Path, timeout: float,
              node_ids: Sequence[str] = ()) -> tuple[dict[str, str], Ran]:
    outcomes = log.with_suffix(".json")
    outcomes.unlink(missing_ok=True)
    args = list(node_ids) if node_ids else project.test
    cmd = [str(python), "-m", "pytest", "-p", "wsrefactor.proof_pytest", "-p", "no:cacheprovider",
           "-q", "-rfE", *args]
    got = run(cmd, tree, timeout, _test_env(project, tree, outcomes))
    log.write_text(f"$ {' '.join(cmd)}\n{got.stdout}\n{got.stderr}", encoding="utf-8")
    result = json.loads(outcomes.read_text(encoding="utf-8")) if outcomes.is_file() else {}
    return result, got


def wsrefactor_fix(tree: Path, package: str, args: Sequence[str], jobs: int, timeout: float,
                   diff: bool = False) -> Ran:
    cmd = [sys.executable, "-m", "wsrefactor", "fix", *args, "--no-cache", "-j", str(jobs)]
    return run([*cmd, *(["--diff"] if diff else []), package], tree, timeout)


def mypy_errors(project: Project, tree: Path, python: Path, timeout: float) -> int | None:
    got = run([str(python), "-m", "mypy", *project.mypy, "--no-error-summary", project.package], tree, timeout,
              {**os.environ, "MYPY_FORCE_COLOR": "0"})
    (tree.parent / "mypy.log").write_text(got.stdout + got.stderr, encoding="utf-8")
    return parse_mypy(got.stdout) if got.code in (0, 1) else None  # None: timeout or mypy crashed


def ruff_findings(tree: Path, package: str, timeout: float) -> list[str] | None:
    """ruff's import checks with the project's own settings (isort sections, first-party...)."""
    got = run([sys.executable, "-m", "ruff", "check", "--select", RUFF_CODES, "--output-format", "concise",
               "--no-cache", "--exit-zero", package], tree, timeout)
    (tree.parent / "ruff.log").write_text(got.stdout + got.stderr, encoding="utf-8")
    return None if got.code != 0 else parse_ruff(got.stdout)


# ---------------------------------------------------------------- steps


@dataclass
class Context:
    """Settings shared by every step of a run."""

    work: Path
    jobs: int
    step_timeout: float
    fresh: bool
    code_hash: str
    recheck: bool = False


def code_hash(roots: Iterable[Path]) -> str:
    """Hash of the code that decides a step's result, so results of older code are not reused.

    The proof's own files are left out: its measurements are versioned by ``MEASUREMENT``.
    """
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            if not path.name.startswith("proof"):
                digest.update(path.relative_to(root.parent).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def step_key(project: Project, commit: str, step: str, ctx: Context) -> str:
    parts = [json.dumps(asdict(project), sort_keys=True), commit, step, json.dumps(STEPS[step]), MEASUREMENT]
    if STEPS[step] is not None:
        parts.append(ctx.code_hash)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def apply_fixes(project: Project, tree: Path, pristine: Path, args: Sequence[str], ctx: Context) -> dict[str, object]:
    fix = wsrefactor_fix(tree, project.package, args, ctx.jobs, ctx.step_timeout)
    (tree.parent / "fix.log").write_text(fix.stdout + fix.stderr, encoding="utf-8")
    summary = [line for line in (fix.stdout + fix.stderr).splitlines() if line.startswith("Fixed ")]
    files = changed_files(pristine, tree)
    touched = files["changed"] + files["added"]
    # a fix cut short by the timeout has no second run to compare (and would only time out again)
    second = wsrefactor_fix(tree, project.package, args, ctx.jobs, ctx.step_timeout, diff=True) \
        if fix.code is not None else Ran(None, "", "", 0.0)
    (tree.parent / "second-fix.diff").write_text(second.stdout + second.stderr, encoding="utf-8")
    return {
        "fix_exit": fix.code,
        "fix_summary": summary[-1] if summary else "",
        "fix_seconds": fix.seconds,
        "files": files,
        "compile_errors": compile_errors(tree, touched),
        "delta": asdict(code_delta(pristine, tree, touched)),
        "second_exit": second.code,
        "second_files": sorted(line[6:].split("\t")[0] for line in second.stdout.splitlines() if line.startswith("+++ b/")),
    }


def measure_tests(project: Project, tree: Path, python: Path, ctx: Context,
                  before: Mapping[str, str] | None) -> dict[str, object]:
    log = tree.parent / "tests.log"
    where = import_location(project, tree, python, log)
    if not where.startswith(str(tree.resolve())):
        return {"import_error": where}
    outcomes, ran = run_tests(project, tree, python, log, ctx.step_timeout)
    result: dict[str, object] = {"outcomes": outcomes, "tests_timed_out": ran.code is None,
                                 "tests_seconds": ran.seconds}
    if before is not None:
        result["failed_after_fix"] = new_failures(before, outcomes)
        result["tests_gone"] = len(set(before) - set(outcomes))
    return result


def check_failures(project: Project, result: dict[str, object], home: Path, python: Path, ctx: Context) -> None:
    """Split a step's new failures into real ones and flaky ones, in place.

    A real failure fails on each of ``RERUNS`` re-runs of the fixed copy and passes on each of
    ``RERUNS`` runs of the untouched baseline copy; a timing-sensitive test that also fails on the
    untouched code is flaky, not a bug of the fix. Separate from the test run so that stored
    results of an older proof are checked without running the whole step again.
    """
    new = _list(result, "failed_after_fix")
    suspects = set(new)
    tree, control = home / str(result["step"]) / "tree", home / "baseline" / "tree"
    ids = sorted({t.split("::<collection>")[0] for t in suspects})[:100]
    for run_no in range(RERUNS if ids and not result.get("tests_timed_out") else 0):
        again, _ = run_tests(project, tree, python, tree.parent / f"rerun{run_no}.log", ctx.step_timeout, ids)
        suspects = {t for t in suspects if again.get(t, "error") in ("failed", "error")}
        if "<collection>" not in " ".join(ids):  # a module that does not import is never a timing flake
            before, _ = run_tests(project, control, python, tree.parent / f"control{run_no}.log", ctx.step_timeout, ids)
            suspects = {t for t in suspects if before.get(t) == "passed"}
    result["new_failures"] = sorted(suspects)
    result["flaky"] = sorted(set(new) - suspects)
    result["failures_checked"] = True


def measure(project: Project, tree: Path, python: Path, ctx: Context,
            baseline: Mapping[str, object] | None) -> dict[str, object]:
    result: dict[str, object] = {"mypy": mypy_errors(project, tree, python, ctx.step_timeout),
                                 "ruff": ruff_findings(tree, project.package, ctx.step_timeout)}
    before = baseline.get("outcomes") if baseline is not None else None
    result.update(measure_tests(project, tree, python, ctx, before if isinstance(before, dict) else None))
    return result


def run_step(project: Project, step: str, ctx: Context, commit: str, python: Path,
             baseline: Mapping[str, object] | None) -> dict[str, object]:
    home = ctx.work / project.label
    saved = home / f"{step}.json"
    key = step_key(project, commit, step, ctx)
    old = None if ctx.fresh else _stored(saved, key)
    if old is not None:
        return _checked(project, old, saved, python, ctx)
    pristine = home / "pristine"
    tree = copy_tree(pristine, home / step / "tree")
    result: dict[str, object] = {"key": key, "project": project.label, "step": step, "commit": commit}
    started = time.perf_counter()
    args = STEPS[step]
    if args is not None:
        result.update(apply_fixes(project, tree, pristine, args, ctx))
    files = result.get("files")
    if baseline is not None and isinstance(files, dict) and not any(files.values()):
        # nothing changed: the tree is the baseline's, byte for byte, and so are its measurements
        result.update({k: baseline.get(k) for k in ("mypy", "ruff", "outcomes")})
        result.update({"failed_after_fix": [], "tests_gone": 0, "unchanged": True})
    else:
        result.update(measure(project, tree, python, ctx, baseline))
    result["seconds"] = round(time.perf_counter() - started, 1)
    return _checked(project, result, saved, python, ctx)


def _stored(saved: Path, key: str) -> dict[str, object] | None:
    """The stored result of this very step, if its failures are checked or can still be."""
    if not saved.is_file():
        return None
    old: dict[str, object] = json.loads(saved.read_text(encoding="utf-8"))
    tree = saved.parent / str(old.get("step")) / "tree"
    return old if old.get("key") == key and (old.get("failures_checked") or tree.is_dir()) else None


def _checked(project: Project, result: dict[str, object], saved: Path, python: Path, ctx: Context) -> dict[str, object]:
    if result.get("step") != "baseline" and (ctx.recheck or not result.get("failures_checked")):
        if "failed_after_fix" not in result:  # stored by the first version: every failure is a suspect
            result["failed_after_fix"] = sorted({*_list(result, "new_failures"), *_list(result, "flaky")})
        check_failures(project, result, saved.parent, python, ctx)
    saved.write_text(json.dumps(result, indent=1, sort_keys=True), encoding="utf-8")
    return result


def run_project(project: Project, steps: Sequence[str], ctx: Context) -> list[dict[str, object]]:
    snapshot = Path(project.snapshot)
    if not snapshot.exists():
        raise RuntimeError(f"snapshot {snapshot} does not exist (fetch {project.source})")
    commit = snapshot_commit(snapshot)
    home = ctx.work / project.label
    home.mkdir(parents=True, exist_ok=True)
    materialize(snapshot, home / "pristine", commit)
    python = ensure_venv(project, ctx.work / "venvs" / project.label, ctx.step_timeout)
    results = []
    baseline = None
    for step in ["baseline", *[s for s in steps if s != "baseline"]]:
        _say(f"{project.label}: {step} ...")
        result = run_step(project, step, ctx, commit, python, baseline)
        _say(f"{project.label}: {step} done in {result.get('seconds')}s")
        baseline = baseline or result
        results.append(result)
    return results


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- report


HEADER = ("project", "step", "fixed", "files changed", "compile", "tests passed / failed", "new failures",
          "docstrings lost", "2nd fix no-op", "mypy errors", "ruff F401/F811/I001", "new helpers",
          "`_part<N>` / `_rest`", "helpers ≥ 8 params", "time (s)")


def _tests(outcomes: object) -> str:
    counts = test_counts(outcomes if isinstance(outcomes, dict) else {})
    return f"{counts['passed']} / {counts['failed'] + counts['error']}"


def _fixed(summary: object) -> str:
    match = re.search(r"Fixed (\d+) findings?", str(summary))
    return match.group(1) if match else "0"


def _arrow(before: object, after: object) -> str:
    return f"{before} → {after}"


def _count(value: object) -> object:
    return len(value) if isinstance(value, list) else "n/a"


def _test_cell(result: Mapping[str, object]) -> str:
    if "import_error" in result:
        return "import failed"
    text = _tests(result.get("outcomes"))
    return f"{text} (timeout)" if result.get("tests_timed_out") else text


def _table(result: Mapping[str, object], key: str) -> dict[str, list[str]]:
    value = result.get(key)
    return value if isinstance(value, dict) else {}


def _list(result: Mapping[str, object], key: str) -> list[str]:
    value = result.get(key)
    return value if isinstance(value, list) else []


def _second_cell(code: object, files: list[str]) -> str:
    if code is None:
        return "n/a"
    return "yes" if code == 0 else f"no ({len(files)} files)"


def baseline_row(result: Mapping[str, object]) -> list[str]:
    commit = str(result.get("commit", ""))[:7]
    return [f"{result.get('project')} @ {commit}", "baseline", "", "", "", _test_cell(result), "", "", "",
            str(result.get("mypy", "n/a")), str(_count(result.get("ruff"))), "", "", "", str(result.get("seconds", ""))]


def table_row(result: Mapping[str, object], baseline: Mapping[str, object]) -> list[str]:
    """One markdown row; a fix step shows its figures next to the baseline's (before → after)."""
    if result.get("step") == "baseline":
        return baseline_row(result)
    files, delta = _table(result, "files"), _table(result, "delta")
    errors, flaky, second = _list(result, "compile_errors"), _list(result, "flaky"), _list(result, "second_files")
    touched = len(files.get("changed", [])) + len(files.get("added", []))
    failures = f"{_count(result.get('new_failures'))}" + (f" (+{len(flaky)} flaky)" if flaky else "")
    return [
        str(result.get("project")), STEP_TITLES.get(str(result.get("step")), str(result.get("step"))),
        _fixed(result.get("fix_summary")) if result.get("fix_exit") is not None else "timeout",
        str(touched), "yes" if not errors else f"no ({len(errors)})",
        _arrow(_test_cell(baseline), _test_cell(result)), failures, str(_count(delta.get("docstrings_lost"))),
        _second_cell(result.get("second_exit"), second),
        _arrow(baseline.get("mypy", "n/a"), result.get("mypy", "n/a")),
        _arrow(_count(baseline.get("ruff")), _count(result.get("ruff"))),
        str(_count(delta.get("helpers"))),
        f"{_count(delta.get('positional'))} / {_count(delta.get('rest'))}",
        str(_count(delta.get("many_parameters"))), str(result.get("seconds", "")),
    ]


def markdown_table(results: Sequence[Mapping[str, object]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    baseline: Mapping[str, object] = {}
    for result in results:
        if result.get("step") == "baseline":
            baseline = result
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in table_row(result, baseline)) + " |")
    return "\n".join(lines) + "\n"


def detail_items(result: Mapping[str, object], baseline: Mapping[str, object]) -> dict[str, list[str]]:
    """What a reader needs to chase each problem of a step, by kind."""
    delta = _table(result, "delta")
    return {
        "new test failures": _list(result, "new_failures"),
        "flaky (passed on a re-run, or failed on the untouched copy too)": _list(result, "flaky"),
        "files that do not compile": _list(result, "compile_errors"),
        "docstrings lost": delta.get("docstrings_lost", []),
        "second fix would change": _list(result, "second_files"),
        "new ruff findings": _new_items(baseline.get("ruff"), result.get("ruff")),
    }


def details(results: Sequence[Mapping[str, object]]) -> str:
    """One line per kind of problem and step: failing tests, lost docstrings, new ruff findings."""
    out: list[str] = []
    baseline: Mapping[str, object] = {}
    for result in results:
        if result.get("step") == "baseline":
            baseline = result
            continue
        where = f"{result.get('project')} / {result.get('step')}"
        for title, values in detail_items(result, baseline).items():
            if values:
                out.append(f"- {where}: {title} ({len(values)}): " + ", ".join(f"`{v}`" for v in values[:20]))
    return "\n".join(out) + ("\n" if out else "")


def _new_items(before: object, after: object) -> list[str]:
    if not isinstance(before, list) or not isinstance(after, list):
        return []
    remaining = list(before)
    new = []
    for item in after:
        if item in remaining:
            remaining.remove(item)
        else:
            new.append(item)
    return new


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wsrefactor.proof", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="copies, venvs and results (resumable)")
    parser.add_argument("--only", action="append", help="project label (repeatable; default: all)")
    parser.add_argument("--snapshot", action="append", default=[], help="LABEL=PATH: a bare git dir or a tree")
    parser.add_argument("--steps", default="safe,extract,dedupe", help="comma-separated fix steps after the baseline")
    parser.add_argument("--jobs", type=int, default=2, help="wsrefactor worker processes")
    parser.add_argument("--step-timeout", type=float, default=900, help="seconds for each command of a step")
    parser.add_argument("--fresh", action="store_true", help="recompute every step, ignoring stored results")
    parser.add_argument("--recheck", action="store_true", help="re-run the new failures of stored results")
    parser.add_argument("--markdown", type=Path, help="also write the table and the details to this file")
    opts = parser.parse_args(argv)
    projects = select_projects(load_manifest(opts.manifest), opts.only, opts.snapshot)
    steps = [s for s in opts.steps.split(",") if s]
    if set(steps) - set(STEPS):
        parser.error(f"unknown step(s) {sorted(set(steps) - set(STEPS))}; choose from {sorted(STEPS)}")
    ctx = Context(opts.work.resolve(), opts.jobs, opts.step_timeout, opts.fresh,
                  code_hash([REPO / "wsrefactor", REPO / "rules"]), opts.recheck)
    results: list[dict[str, object]] = []
    failed = False
    for project in projects:
        try:
            results += run_project(project, steps, ctx)
        except RuntimeError as exc:
            _say(f"{project.label}: {exc}")
            failed = True
    report = markdown_table(results) + "\n" + details(results)
    print(report)
    if opts.markdown:
        opts.markdown.write_text(report, encoding="utf-8")
    return 2 if failed else 0


def select_projects(projects: list[Project], only: Sequence[str] | None, snapshots: Sequence[str]) -> list[Project]:
    for spec in snapshots:
        label, _, path = spec.partition("=")
        for project in projects:
            if project.label == label:
                project.snapshot = path
    return [p for p in projects if not only or p.label in only]


if __name__ == "__main__":
    sys.exit(main())
