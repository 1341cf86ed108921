"""The ``wsrefactor`` command line (typer). Exit codes: 0 clean, 1 findings, 2 usage/config/internal error."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        _err(f"wsrefactor: {exc}")
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
ConfigOpt = typer.Option(None, "--config", help="Config file (pyproject.toml or a TOML with the table at top level).")
JobsOpt = typer.Option(None, "--jobs", "-j", help="Worker processes (default: CPU count).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print findings only, no summary.")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Print the time each phase took (stderr).")
TargetOpt = typer.Option(None, "--target-version", help="Lowest Python the code runs on, e.g. py311.")
NoCacheOpt = typer.Option(False, "--no-cache", help="Neither read nor write the cache.")
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
    ) -> None:
        """``with_rules=False`` (the gate) leaves the rule pack unimported unless the config file
        needs it for validation: radon's numbers need no rule, and libcst is a tenth of a second."""
        from wsrefactor.config import ConfigError, _check_codes, load_config, parse_target_version
        from wsrefactor.selection import Selection

        def load_rules(plugins: tuple[str, ...] = ()) -> Any:
            from wsrefactor.registry import load_rules as load  # imports libcst: only when asked

            return load(plugins)

        self.paths = list(paths) if paths else ["."]
        if config_file is not None and not config_file.is_file():
            raise ConfigError(f"{config_file}: config file not found")
        config = load_config(config_file, Path(self.paths[0]), load_rules)
        self.rules = load_rules(config.plugins) if with_rules else {}
        sel, ign = _codes(select), _codes(ignore)
        for codes, key in ((sel, "--select"), (ign, "--ignore")):
            if codes:
                _check_codes(codes, key, "command line", list(self.rules))
        overrides: dict[str, Any] = {"select": sel, "ignore": ign}
        if target_version:
            overrides["target_version"] = parse_target_version(target_version)
        if no_cache:
            overrides["cache"] = False
        self.config = config.with_overrides(**overrides, **(extra or {}))
        self.selection = Selection.build(self.config.select, self.config.ignore, self.rules)

    def job(self, fix: Any = None, want_edits: bool = False) -> Any:
        from wsrefactor.runner import Job

        key = None
        if self.config.cache and fix is None:
            from wsrefactor.cache import run_key

            key = run_key(self.config, self.selection, want_edits)
        return Job(self.config, self.selection, fix=fix, want_edits=want_edits, cache_key=key)


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
    from wsrefactor import reporters

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
    fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
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
    shard: Optional[str] = ShardOpt,
) -> None:
    """Report findings."""
    with _guard():
        from wsrefactor.runner import execute

        session = Session(paths, select, ignore, config, target_version, no_cache)
        run = execute(
            session.paths, session.job(want_edits=fmt is not Format.text), _jobs(jobs),
            progress=wanted(quiet), shard=_shard(shard),
        )
        _timings(run, verbose)
        if baseline is not None:
            run.findings = _new_since(baseline, run.findings, session)
        for message in run.messages:
            _err(message)
        _emit_check_report(run, session, fmt, output, statistics, quiet)
    raise typer.Exit(2 if run.failed else 1 if run.findings and not exit_zero else 0)


def _new_since(baseline: Path, findings: list[Any], session: Session) -> list[Any]:
    from wsrefactor import baseline as bl

    try:
        return bl.filter_new(findings, bl.load(baseline), session.config.root)
    except bl.BaselineFileError as exc:
        raise Failure(str(exc)) from None


def _emit_check_report(
    run: Any, session: Session, fmt: Format, output: Optional[Path], statistics: bool, quiet: bool
) -> None:
    from wsrefactor.reporters import text as text_reporter

    summary = text_reporter.summary(run.findings, run.checked)
    if run.shard is not None:
        _emit_shard_note(run, quiet)
        if fmt in (Format.json, Format.sarif):
            from wsrefactor import shard

            _write_output(shard.render(fmt.value, run.findings, run.shard, session.rules), output)
            return
    if fmt is not Format.text:
        _write_output(_render(fmt, run.findings, session), output)
        if output is not None and not quiet:
            _err(summary.rstrip())
        return
    if statistics:
        report = text_reporter.statistics(run.findings)
    else:
        report = text_reporter.render_lines(run.findings, color=output is None and color_enabled())
    _write_output(report + ("" if quiet else summary), output)


def _emit_shard_note(run: Any, quiet: bool) -> None:
    if not quiet and run.shard.rules:
        _err(
            f"wsrefactor: shard {run.shard.index}/{run.shard.count}: {run.checked} files; "
            f"{', '.join(run.shard.rules)} are decided by `wsrefactor merge` over every shard's JSON or SARIF"
        )


@app.command()
def fix(
    paths: Optional[list[str]] = PathsArg,
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="Also apply fixes that change behaviour on purpose."),
    diff: bool = typer.Option(False, "--diff", help="Write nothing; print a unified diff; exit 1 if anything would change."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Show each fix and ask yes/no/all/quit (needs a terminal)."),
    select: Optional[list[str]] = SelectOpt,
    ignore: Optional[list[str]] = IgnoreOpt,
    jobs: Optional[int] = JobsOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
    config: Optional[Path] = ConfigOpt,
    target_version: Optional[str] = TargetOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Apply fixes (safe ones; unsafe ones with --unsafe-fixes or an explicit --select CODE)."""
    with _guard():
        from wsrefactor.engine import FixPolicy
        from wsrefactor.reporters import display_path
        from wsrefactor.runner import execute

        session = Session(paths, select, ignore, config, target_version, no_cache)
        explicit = frozenset(c for c in session.rules if session.selection.explicit(c))
        policy = FixPolicy(unsafe=unsafe_fixes or session.config.unsafe_fixes, unsafe_codes=explicit)
        if interactive:
            policy = _interactive_policy(session, policy, diff, _jobs(jobs))
        run = execute(
            session.paths, session.job(fix=policy), _jobs(jobs), write=not diff, diff=diff,
            display=display_path, progress=wanted(quiet),
        )
        _timings(run, verbose)
        for message in run.messages:
            _err(message)
        if diff:
            _emit_diff(run, quiet)
        else:
            _emit_fix_summary(run, policy, quiet)
    raise typer.Exit(_fix_exit_code(run, diff))


def _fix_exit_code(run: Any, diff: bool) -> int:
    """2 on an internal error; with --diff, 1 when something would change; else 1 when
    findings remain or a file could not be written."""
    if run.failed:
        return 2
    if diff:
        return 1 if run.diffs else 0
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


def _emit_diff(run: Any, quiet: bool) -> None:
    sys.stdout.write("".join(run.diffs))
    if not quiet:
        fixed = sum(run.fixed.values())
        _err(f"Would fix {_plural(fixed, 'finding')} in {len(run.diffs)} file(s); {len(run.findings)} would remain.")


def _emit_fix_summary(run: Any, policy: Any, quiet: bool) -> None:
    from wsrefactor.model import count_fixable
    from wsrefactor.reporters import text as text_reporter

    sys.stdout.write(text_reporter.render_lines(run.findings, color=color_enabled()))
    if quiet:
        return
    _, unsafe = count_fixable(run.findings)
    note = f" ({unsafe} fixable with --unsafe-fixes)" if unsafe and not policy.unsafe else ""
    fixed = sum(run.fixed.values())
    sys.stdout.write(
        f"Fixed {_plural(fixed, 'finding')} in {len(run.written)} file(s); {len(run.findings)} remaining{note}.\n"
    )


@app.command("rules")
def rules_cmd(
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", help="text or json."),
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
    rows = [
        {
            "code": code, "name": cls.name, "category": cls.category,
            "fix": cls.fix_safety.value, "enabled": session.selection.enabled(code),
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
def explain(code: str = typer.Argument(..., help="A rule code, e.g. WS201 (or a bandit code, B602).")) -> None:
    """Print a rule's documentation."""
    with _guard():
        from wsrefactor.registry import load_rules

        code = code.strip().upper()
        rules = load_rules(())
        if code in rules:
            cls = rules[code]
            head = f"# {cls.code} {cls.name}\n\ncategory: {cls.category} · fix: {cls.fix_safety.value} · severity: {cls.severity.value}\n\n"
            sys.stdout.write(head + cls.docs() + "\n")
            return
        if code.startswith("B"):
            from wsrefactor.bandit_bridge import bandit_tests

            names = dict(bandit_tests())
            if code in names:
                sys.stdout.write(f"# {code} {names[code]}\n\nA bandit check, run in the same workers and report. See bandit's documentation for {names[code]}.\n")
                return
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
    _register_optional_commands()
    app()


Callback = Callable[..., Any]
