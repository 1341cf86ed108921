"""The ``wsrefactor`` command line (typer). Exit codes: 0 clean, 1 findings, 2 usage/config/internal error."""

from __future__ import annotations

import gc
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from wsrefactor import __version__
from wsrefactor.progress import color_enabled, wanted

app = typer.Typer(
    name="wsrefactor",
    help="Find and rewrite the technical debt of Python WebSocket servers.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    junit = "junit"


class ListFormat(str, Enum):
    text = "text"
    json = "json"


class Failure(Exception):
    """A user-facing error: one line on stderr, exit 2."""


_DEBUG = False


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


@contextmanager
def _guard() -> Iterator[None]:
    from wsrefactor.config import ConfigError
    from wsrefactor.registry import RegistryError

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except (ConfigError, RegistryError, Failure) as exc:
        for line in str(exc).splitlines():  # one line per problem (e.g. per missing path)
            _err(f"wsrefactor: {line}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt as exc:  # runner.Interrupted says how far the run got
        summary = getattr(exc, "summary", "interrupted; files written so far are complete, the rest untouched")
        _err(f"wsrefactor: {summary}")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - every crash becomes one line and exit 2
        if _DEBUG:
            traceback.print_exc()
        _err(f"wsrefactor: internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        raise typer.Exit(2) from None


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wsrefactor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
) -> None:
    global _DEBUG
    _DEBUG = debug
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)


def _codes(values: Optional[list[str]]) -> Optional[tuple[str, ...]]:
    if values is None:
        return None
    out = [c.strip().upper() for v in values for c in v.split(",") if c.strip()]
    return tuple(out)


PathsArg = typer.Argument(None, help="Files or directories (default: current directory).")
SelectOpt = typer.Option(None, "--select", help="Rule codes or prefixes to enable (comma-separated), e.g. WS2,B.")
IgnoreOpt = typer.Option(None, "--ignore", help="Rule codes or prefixes to disable (comma-separated).")
ExtendSelectOpt = typer.Option(None, "--extend-select", help="Rule codes or prefixes to enable on top of the selection.")
ExtendIgnoreOpt = typer.Option(None, "--extend-ignore", help="Rule codes or prefixes to disable on top of the ignores.")
ConfigOpt = typer.Option(None, "--config", help="Config file (pyproject.toml or a TOML with the table at top level).")
JobsOpt = typer.Option(None, "--jobs", "-j", help="Worker processes (default: CPU count).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print findings only, no summary.")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Print the time each phase took (stderr).")
TargetOpt = typer.Option(None, "--target-version", help="Lowest Python the code runs on, e.g. py311.")
NoCacheOpt = typer.Option(False, "--no-cache", help="Neither read nor write the cache.")
# ``--output-format`` is ruff's name for it: every command that has ``--format`` takes both.
FORMAT_FLAGS = ("--format", "--output-format")
UnsafeFixesOpt = typer.Option(False, "--unsafe-fixes", help="Also apply fixes that change behaviour on purpose.")
ShowFixesOpt = typer.Option(
    False, "--show-fixes", help="List the fixes applied per file and rule; without a fix, each finding's available fix."
)
StdinFilenameOpt = typer.Option(
    None, "--stdin-filename",
    help="With `-`: the path the text read from stdin stands for (config, per-file-ignores and messages use it).",
)
FixEditsOpt = typer.Option(
    False, "--fix-edits",
    help="Plan every fix, extract-method included, and report its edits (JSON, SARIF, dashboard); slower.",
)
ShardOpt = typer.Option(
    None, "--shard", help="Check only part K of N (e.g. 2/4; stable by path); combine the N outputs with `wsrefactor merge`."
)


def _shard(value: Optional[str]) -> Optional[tuple[int, int]]:
    if value is None:
        return None
    from wsrefactor.shard import ShardError, parse_shard

    try:
        return parse_shard(value)
    except ShardError as exc:
        raise Failure(str(exc)) from None


class Session:
    """Config, selection and rules for one command, built from the file and the flags."""

    def __init__(
        self,
        paths: Optional[list[str]],
        select: Optional[list[str]],
        ignore: Optional[list[str]],
        config_file: Optional[Path],
        target_version: Optional[str] = None,
        no_cache: bool = False,
        extra: Optional[dict[str, Any]] = None,
        with_rules: bool = True,
        stdin: bool = False,
        extend_select: Optional[list[str]] = None,
        extend_ignore: Optional[list[str]] = None,
    ) -> None:
        """``with_rules=False`` (the gate) leaves the rule pack unimported unless the config file
        needs it for validation: radon's numbers need no rule, and libcst is a tenth of a second.
        ``stdin``: ``paths`` is the one ``--stdin-filename``, which need not exist."""
        from wsrefactor.config import (
            ConfigError,
            Overrides,
            _check_codes,
            parse_target_version,
            resolve,
        )
        from wsrefactor.selection import Selection

        def load_rules(plugins: tuple[str, ...] = ()) -> Any:
            from wsrefactor.registry import (
                load_rules as load,  # imports libcst: only when asked
            )

            return load(plugins)

        self.paths = list(paths) if paths else ["."]
        _require_paths(self.paths, stdin)
        if config_file is not None and not config_file.is_file():
            raise ConfigError(f"{config_file}: config file not found")
        flags = {
            "--select": _codes(select), "--ignore": _codes(ignore),
            "--extend-select": _codes(extend_select), "--extend-ignore": _codes(extend_ignore),
        }
        other: dict[str, Any] = dict(extra or {}, cache=False if no_cache else None)
        other["target_version"] = parse_target_version(target_version) if target_version else None
        overrides = Overrides.of_flags(flags, other)
        self.config, self.lookup = resolve(self.paths, config_file, overrides, load_rules)
        self.rules = load_rules(self.config.plugins) if with_rules else {}
        for key, codes in flags.items():
            _check_codes(codes or (), key, "command line", list(self.rules))
        self.selection = Selection.of(self.config, self.rules)

    def job(self, fix: Any = None, want_edits: bool = False, plan_fixes: bool = True) -> Any:
        from wsrefactor.runner import Job

        key = None
        if self.config.cache and fix is None:
            from wsrefactor.cache import run_key

            key = run_key(self.config, self.selection, want_edits, plan_fixes)
        return Job(
            self.config, self.selection, fix=fix, want_edits=want_edits, plan_fixes=plan_fixes, cache_key=key,
            lookup=self.lookup,
        )


def _require_paths(paths: list[str], stdin: bool = False) -> None:
    """A named path that does not exist is a usage error (exit 2), whatever the selection: a typo
    must not pass as a clean run. One line per missing path. (``--stdin-filename`` need not exist.)"""
    missing = [p for p in paths if not (stdin or os.path.lexists(p))]
    if missing:
        raise Failure("\n".join(f"{p}: no such file or directory" for p in missing))


def _warn_if_no_files(run: Any, session: Session, quiet: bool) -> None:
    """Nothing to check (an empty directory, every file excluded) is said on stderr; exit 0 as ruff."""
    if run.checked == 0 and not quiet:
        _err(f"wsrefactor: warning: no Python files found in {', '.join(session.paths)} (nothing checked)")


def _jobs(value: Optional[int]) -> int:
    if value is not None and value < 1:
        raise Failure("--jobs must be at least 1")
    return value or os.cpu_count() or 1


def _timings(run: Any, verbose: bool) -> None:
    if verbose:
        for phase, seconds in run.timings.items():
            _err(f"wsrefactor: {phase}: {seconds:.3f}s")
        _err(f"wsrefactor: {run.checked} files")


def _write_output(text: str, output: Optional[Path]) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Failure(f"{output}: cannot write report: {exc.strerror or exc}") from None


def _render(fmt: Format, findings: list[Any], session: Session, tool: str = "check") -> str:

    if fmt is Format.json:
        from wsrefactor.reporters import json as json_reporter

        return json_reporter.render(findings)
    if fmt is Format.text:
        from wsrefactor.reporters import text as text_reporter

        return text_reporter.render_lines(findings)
    module = __import__(f"wsrefactor.reporters.{fmt.value}", fromlist=["render"])
    return module.render(findings, session.rules)  # type: ignore[no-any-return]


@app.command()
def check(
    paths: Optional[list[str]] = PathsArg,
    select: Optional[list[str]] = SelectOpt,
    ignore: Optional[list[str]] = IgnoreOpt,
    extend_select: Optional[list[str]] = ExtendSelectOpt,
    extend_ignore: Optional[list[str]] = ExtendIgnoreOpt,
    fmt: Format = typer.Option(Format.text, *FORMAT_FLAGS, help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    statistics: bool = typer.Option(False, "--statistics", help="Counts per rule instead of findings."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when there are findings."),
    jobs: Optional[int] = JobsOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
    config: Optional[Path] = ConfigOpt,
    target_version: Optional[str] = TargetOpt,
    no_cache: bool = NoCacheOpt,
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Report only findings not recorded in this baseline file."),
    apply_fixes: bool = typer.Option(
        False, "--fix", help="Apply fixes (as `wsrefactor fix`), then report what remains."
    ),
    unsafe_fixes: bool = UnsafeFixesOpt,
    diff: bool = typer.Option(False, "--diff", help="Write nothing; print the diff --fix would apply; exit 1 if any."),
    show_fixes: bool = ShowFixesOpt,
    stdin_filename: Optional[str] = StdinFilenameOpt,
    fix_edits: bool = FixEditsOpt,
    shard: Optional[str] = ShardOpt,
) -> None:
    """Report findings (`-` reads the code from stdin)."""
    with _guard():
        request = _Request(
            fmt, output, statistics, exit_zero, quiet, verbose, show_fixes, baseline, jobs, fix_edits, _shard(shard)
        )
        session, data = _session(
            paths, stdin_filename, select, ignore, config, target_version, no_cache, extend_select, extend_ignore
        )
        if apply_fixes or diff:
            code = _fix_and_report(session, data, request, unsafe_fixes, diff, fix_json_object=False)
        else:
            code = _check_and_report(session, data, request, unsafe_fixes)
    raise typer.Exit(code)


@dataclass(frozen=True)
class _Request:
    """The reporting flags shared by ``check`` and ``fix``."""

    fmt: Format
    output: Optional[Path]
    statistics: bool
    exit_zero: bool
    quiet: bool
    verbose: bool
    show_fixes: bool
    baseline: Optional[Path]
    jobs: Optional[int]
    fix_edits: bool = False  # plan every fix (extract-method too) and report its edits
    shard: Optional[tuple[int, int]] = None  # --shard K/N (check only)


def _session(
    paths: Optional[list[str]], stdin_filename: Optional[str], select: Optional[list[str]],
    ignore: Optional[list[str]], config: Optional[Path], target_version: Optional[str], no_cache: bool,
    extend_select: Optional[list[str]] = None, extend_ignore: Optional[list[str]] = None,
) -> tuple[Session, Optional[bytes]]:
    """The session, and the bytes read from stdin when the path is ``-`` (or only
    ``--stdin-filename`` is given, as editors call ruff)."""
    given = list(paths or [])
    if "-" in given and len(given) > 1:
        raise Failure("`-` (read the code from stdin) cannot be combined with other paths")
    if stdin_filename is not None and given not in ([], ["-"]):
        raise Failure("--stdin-filename goes with `-` (read the code from stdin), not with paths")
    if given != ["-"] and stdin_filename is None:
        session = Session(
            paths, select, ignore, config, target_version, no_cache,
            extend_select=extend_select, extend_ignore=extend_ignore,
        )
        return session, None
    name = stdin_filename or "-"
    session = Session(
        [name], select, ignore, config, target_version, no_cache, stdin=True,
        extend_select=extend_select, extend_ignore=extend_ignore,
    )
    return session, sys.stdin.buffer.read()


def _execute(
    session: Session, data: Optional[bytes], request: _Request, policy: Any = None,
    write: bool = False, diff: bool = False, want_edits: bool = False, plan_fixes: bool = True,
) -> Any:
    """One run over the named files, or over the text read from stdin; messages on stderr."""
    from wsrefactor.reporters import display_path
    from wsrefactor.runner import execute, execute_stdin

    if request.shard is not None and (policy is not None or data is not None):
        raise Failure("--shard splits a check over CI jobs; it does not go with --fix, --diff or stdin")
    job = session.job(fix=policy, want_edits=want_edits, plan_fixes=plan_fixes)
    if data is not None:
        run = execute_stdin(session.paths[0], data, job, diff=diff, display=display_path)
    else:
        run = execute(
            session.paths, job, _jobs(request.jobs), write=write, diff=diff, display=display_path,
            progress=wanted(request.quiet), shard=request.shard,
        )
    _timings(run, request.verbose)
    if request.baseline is not None:
        run.findings = _new_since(request.baseline, run.findings, session)
    for message in run.messages:
        _err(message)
    _warn_if_no_files(run, session, request.quiet)
    return run


def _check_and_report(session: Session, data: Optional[bytes], request: _Request, unsafe_fixes: bool) -> int:
    if request.statistics and request.fmt not in (Format.text, Format.json):
        raise Failure("--statistics needs --format text or json")
    want_edits = request.fmt is not Format.text or request.show_fixes or request.fix_edits
    run = _execute(session, data, request, want_edits=want_edits, plan_fixes=request.fix_edits)
    applicable = _fix_policy(session, unsafe_fixes).allows_project
    _emit_check_report(run, session, request, applicable)
    return 2 if run.failed else 1 if run.findings and not request.exit_zero else 0


def _new_since(baseline: Path, findings: list[Any], session: Session) -> list[Any]:
    from wsrefactor import baseline as bl

    try:
        return bl.filter_new(findings, bl.load(baseline), session.config.root)
    except bl.BaselineFileError as exc:
        raise Failure(str(exc)) from None


def _findings_report(findings: list[Any], session: Session, request: _Request, applicable: Any, color: bool) -> str:
    """The findings in the requested format (or their statistics), without a summary."""
    from wsrefactor.reporters import text as text_reporter

    if request.statistics:
        if request.fmt is Format.json:
            from wsrefactor.reporters import json as json_reporter

            return json_reporter.render_statistics(findings)
        return text_reporter.statistics(findings)
    if request.fmt is Format.text:
        return text_reporter.render_lines(findings, color=color, show_fixes=request.show_fixes, applicable=applicable)
    return _render(request.fmt, findings, session)


def _emit_check_report(run: Any, session: Session, request: _Request, applicable: Any) -> None:
    from wsrefactor.reporters import text as text_reporter

    summary = text_reporter.summary(run.findings, run.checked)
    if run.shard is not None:
        _emit_shard_note(run, request.quiet)
        if request.fmt in (Format.json, Format.sarif):
            from wsrefactor import shard

            _write_output(shard.render(request.fmt.value, run.findings, run.shard, session.rules), request.output)
            return
    color = request.output is None and color_enabled()
    report = _findings_report(run.findings, session, request, applicable, color)
    if request.fmt is not Format.text:
        _write_output(report, request.output)
        if request.output is not None and not request.quiet:
            _err(summary.rstrip())
        return
    _write_output(report + ("" if request.quiet else summary), request.output)


def _emit_shard_note(run: Any, quiet: bool) -> None:
    if not quiet and run.shard.rules:
        _err(
            f"wsrefactor: shard {run.shard.index}/{run.shard.count}: {run.checked} files; "
            f"{', '.join(run.shard.rules)} are decided by `wsrefactor merge` over every shard's JSON or SARIF"
        )


@app.command()
def fix(
    paths: Optional[list[str]] = PathsArg,
    unsafe_fixes: bool = UnsafeFixesOpt,
    diff: bool = typer.Option(False, "--diff", help="Write nothing; print a unified diff; exit 1 if anything would change."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Show each fix and ask yes/no/all/quit (needs a terminal)."),
    select: Optional[list[str]] = SelectOpt,
    ignore: Optional[list[str]] = IgnoreOpt,
    extend_select: Optional[list[str]] = ExtendSelectOpt,
    extend_ignore: Optional[list[str]] = ExtendIgnoreOpt,
    jobs: Optional[int] = JobsOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
    config: Optional[Path] = ConfigOpt,
    target_version: Optional[str] = TargetOpt,
    no_cache: bool = NoCacheOpt,
    fmt: Format = typer.Option(Format.text, *FORMAT_FLAGS, help="Report format; json: {fixed, remaining, written}."),
    exit_zero: bool = typer.Option(
        False, "--exit-zero", help="Exit 0 even when findings remain (the pre-commit hook)."
    ),
    show_fixes: bool = ShowFixesOpt,
    stdin_filename: Optional[str] = StdinFilenameOpt,
) -> None:
    """Apply fixes (safe ones; unsafe ones with --unsafe-fixes or an explicit --select CODE).
    `-` reads the code from stdin and writes the fixed code to stdout."""
    with _guard():
        request = _Request(fmt, None, False, exit_zero, quiet, verbose, show_fixes, None, jobs)
        session, data = _session(
            paths, stdin_filename, select, ignore, config, target_version, no_cache, extend_select, extend_ignore
        )
        code = _fix_and_report(
            session, data, request, unsafe_fixes, diff, fix_json_object=True, interactive=interactive
        )
    raise typer.Exit(code)


def _fix_policy(session: Session, unsafe_fixes: bool) -> Any:
    from wsrefactor.engine import FixPolicy

    explicit = frozenset(c for c in session.rules if session.selection.explicit(c))
    return FixPolicy(unsafe=unsafe_fixes or session.config.unsafe_fixes, unsafe_codes=explicit)


def _fix_and_report(
    session: Session, data: Optional[bytes], request: _Request, unsafe_fixes: bool, diff: bool,
    fix_json_object: bool, interactive: bool = False,
) -> int:
    """``fix`` and ``check --fix``/``--diff``: apply (or diff) the fixes, report what remains; the
    exit code. With stdin, stdout carries the (fixed) code and the report goes to stderr."""
    if diff and request.fmt is not Format.text:
        raise Failure("--diff prints a unified diff; it does not go with --format")
    if request.statistics and request.fmt not in (Format.text, Format.json):
        raise Failure("--statistics needs --format text or json")
    policy = _fix_policy(session, unsafe_fixes)
    if interactive:
        if data is not None:
            raise Failure("--interactive cannot read the code from stdin")
        policy = _interactive_policy(session, policy, diff, _jobs(request.jobs))
    run = _execute(session, data, request, policy, write=not diff, diff=diff)
    if diff:
        _emit_diff(run, session, request)
    else:
        if data is not None:
            result = run.files[0]
            sys.stdout.buffer.write(result.new_bytes if result.new_bytes is not None else data)
            sys.stdout.flush()
        _emit_fix_report(run, session, request, policy, fix_json_object, stdin=data is not None)
    return _fix_exit_code(run, diff, request.exit_zero)


def _fix_exit_code(run: Any, diff: bool, exit_zero: bool = False) -> int:
    """2 on an internal error; with --diff, 1 when something would change; else 1 when
    findings remain or a file could not be written, unless --exit-zero (the fix hook: a hook
    that changed nothing passes, one that changed files is failed by pre-commit itself)."""
    if run.failed:
        return 2
    if diff:
        return 1 if run.diffs else 0
    if exit_zero:
        return 0
    return 1 if run.findings or run.messages else 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _interactive_policy(session: Session, policy: Any, diff: bool, jobs: int) -> Any:
    from wsrefactor.interactive import ask_each_fix

    if diff:
        raise Failure("--interactive and --diff do not go together")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise Failure("--interactive needs a terminal (stdin and stdout must be a TTY); use --diff to review instead")
    chosen = ask_each_fix(session.paths, session.config, session.selection, policy, jobs)
    if not chosen.only:
        _err("No fix applied.")
        raise typer.Exit(0)
    return chosen


def _rule_names(session: Session) -> dict[str, str]:
    return {code: cls.name for code, cls in session.rules.items()}


def _emit_diff(run: Any, session: Session, request: _Request) -> None:
    from wsrefactor.reporters import text as text_reporter

    _write_output("".join(run.diffs), request.output)
    if request.quiet:
        return
    if request.show_fixes:
        sys.stderr.write(text_reporter.fixes_applied(run.fixed_by_file(), _rule_names(session), would=True))
    fixed = sum(run.fixed.values())
    _err(f"Would fix {_plural(fixed, 'finding')} in {len(run.diffs)} file(s); {len(run.findings)} would remain.")
    if run.held_in_tests:
        _err(_held_note(run).rstrip("\n"))


def _emit_fix_report(
    run: Any, session: Session, request: _Request, policy: Any, json_object: bool, stdin: bool
) -> None:
    """What remains (in the requested format), the fixes applied with ``--show-fixes``, and the
    ``Fixed N findings ...`` summary. With stdin it goes to stderr (stdout carries the code)."""
    report = _fix_report(run, session, request, policy, json_object, stdin)
    if stdin and request.output is None:
        sys.stderr.write(report)
    else:
        _write_output(report, request.output)


def _fix_report(run: Any, session: Session, request: _Request, policy: Any, json_object: bool, stdin: bool) -> str:
    if json_object and request.fmt is Format.json and not request.statistics:
        from wsrefactor.reporters import json as json_reporter

        return json_reporter.render_fix(run.findings, run.fixed_by_file(), _rule_names(session), run.written)
    color = not stdin and request.output is None and color_enabled()
    report = _findings_report(run.findings, session, request, policy.allows_project, color)
    if request.fmt is Format.text:
        return report + _fix_text_tail(run, session, request, policy, stdin)
    if request.output is not None and not request.quiet:  # as check: the summary on stderr
        _err(_fix_text_tail(run, session, request, policy, stdin))
    return report


def _fix_text_tail(run: Any, session: Session, request: _Request, policy: Any, stdin: bool) -> str:
    """After the remaining findings: the ``--show-fixes`` list, then the summary line."""
    from wsrefactor.model import count_fixable
    from wsrefactor.reporters import text as text_reporter

    tail = text_reporter.fixes_applied(run.fixed_by_file(), _rule_names(session)) if request.show_fixes else ""
    if request.quiet:
        return tail
    _, unsafe = count_fixable(run.findings)
    note = f" ({unsafe} fixable with --unsafe-fixes)" if unsafe and not policy.unsafe else ""
    fixed = sum(run.fixed.values())
    changed = sum(r.new_bytes not in (None, r.raw) for r in run.files) if stdin else len(run.written)
    return tail + (
        f"Fixed {_plural(fixed, 'finding')} in {changed} file(s); {len(run.findings)} remaining{note}.\n"
    ) + _held_note(run)


def _held_note(run: Any) -> str:
    """Why some unsafe fixes were not applied: they are in test files."""
    n = run.held_in_tests
    if not n:
        return ""
    return (
        f"{n} unsafe fix{'es' if n != 1 else ''} not applied in test files "
        "(set `unsafe-fixes-in-tests = true` to apply them there).\n"
    )


@app.command("rules")
def rules_cmd(
    fmt: ListFormat = typer.Option(ListFormat.text, *FORMAT_FLAGS, help="text or json."),
    select: Optional[list[str]] = SelectOpt,
    ignore: Optional[list[str]] = IgnoreOpt,
    config: Optional[Path] = ConfigOpt,
    bandit: bool = typer.Option(False, "--bandit", help="Also list bandit's checks."),
) -> None:
    """List the rules: code, name, category, fix safety, enabled."""
    with _guard():
        import json

        session = Session(None, select, ignore, config)
        rows = _rule_rows(session, bandit)
        if fmt is ListFormat.json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        else:
            sys.stdout.write(_table(rows, ("code", "name", "category", "fix")))


def _rule_rows(session: Session, bandit: bool) -> list[dict[str, Any]]:
    from wsrefactor.rule import fix_label

    rows = [
        {
            "code": code, "name": cls.name, "category": cls.category,
            "fix": fix_label(cls), "enabled": session.selection.enabled(code),
            "summary": cls.summary,
        }
        for code, cls in session.rules.items()
    ]
    if bandit:
        from wsrefactor.bandit_bridge import bandit_tests

        rows += [
            {"code": c, "name": n, "category": "bandit", "fix": "none",
             "enabled": session.selection.enabled(c), "summary": f"bandit check {n}"}
            for c, n in bandit_tests()
        ]
    return rows


def _table(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.upper().ljust(widths[k]) for k in keys) + "  ENABLED"]
    for r in rows:
        cells = "  ".join(str(r[k]).ljust(widths[k]) for k in keys)
        lines.append(cells + ("  yes" if r["enabled"] else "  no"))
    return "\n".join(lines) + "\n"


@app.command()
def explain(
    code: str = typer.Argument(..., help="A rule code, e.g. WS201 (or a bandit code, B602)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Print a rule's documentation (rules from the config's `plugins` included)."""
    with _guard():
        sys.stdout.write(explain_text(code, Session(None, None, None, config).rules))


def explain_text(code: str, rules: Optional[Mapping[str, Any]] = None) -> str:
    """A rule's documentation as ``explain`` prints it (also the language server's hover);
    ``rules``: the pack plus the config's plugins (default: the pack). Failure for an unknown code."""
    code = code.strip().upper()
    if rules is None:
        from wsrefactor.registry import load_rules

        rules = load_rules(())
    if code in rules:
        from wsrefactor.rule import fix_label

        cls = rules[code]
        head = f"# {cls.code} {cls.name}\n\ncategory: {cls.category} · fix: {fix_label(cls)} · severity: {cls.severity.value}\n\n"
        return head + cls.docs() + "\n"
    if code.startswith("B"):
        from wsrefactor.bandit_bridge import bandit_tests

        names = dict(bandit_tests())
        if code in names:
            return (
                f"# {code} {names[code]}\n\nA bandit check, run in the same workers and report. "
                f"See bandit's documentation for {names[code]}.\n"
            )
    raise Failure(f"unknown rule code {code!r}; `wsrefactor rules` lists them")


def _register_optional_commands() -> None:
    """Commands living in their own modules register themselves on ``app``."""
    import importlib

    for name in ("wsrefactor.commands",):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def main() -> None:
    # A run allocates millions of small, short-lived nodes (ast and libcst trees, analyses) beside
    # a large long-lived heap (libcst's node classes, the rules, their tables): with the default
    # thresholds the collector walks that heap over and over (~5% of a check's CPU, measured on a
    # 460-file repository). Collecting the young generation less often keeps the trees' garbage
    # collected all the same. The older generations keep their defaults: raising them let bandit's
    # cyclic garbage pile up (peak memory 77 -> 94 MB on the same check).
    gc.set_threshold(20_000, 10, 10)
    _register_optional_commands()
    app()


Callback = Callable[..., Any]
