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
    except KeyboardInterrupt:
        _err("wsrefactor: interrupted; files written so far are complete, the rest untouched")
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
    ) -> None:
        from wsrefactor.config import ConfigError, _check_codes, load_config, parse_target_version
        from wsrefactor.registry import load_rules
        from wsrefactor.selection import Selection

        self.paths = list(paths) if paths else ["."]
        if config_file is not None and not config_file.is_file():
            raise ConfigError(f"{config_file}: config file not found")
        config = load_config(config_file, Path(self.paths[0]), load_rules)
        self.rules = load_rules(config.plugins)
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
) -> None:
    """Report findings."""
    with _guard():
        from wsrefactor.reporters import text as text_reporter
        from wsrefactor.runner import execute

        session = Session(paths, select, ignore, config, target_version, no_cache)
        run = execute(
            session.paths, session.job(want_edits=fmt is not Format.text), _jobs(jobs),
            progress=wanted(quiet),
        )
        _timings(run, verbose)
        if baseline is not None:
            from wsrefactor import baseline as bl

            try:
                run.findings = bl.filter_new(run.findings, bl.load(baseline), session.config.root)
            except bl.BaselineFileError as exc:
                raise Failure(str(exc)) from None
        for message in run.messages:
            _err(message)
        if statistics and fmt is Format.text:
            report = text_reporter.statistics(run.findings)
        elif fmt is Format.text:
            report = text_reporter.render_lines(run.findings, color=output is None and color_enabled())
        else:
            report = _render(fmt, run.findings, session)
        if fmt is Format.text and not quiet:
            report += text_reporter.summary(run.findings, run.checked)
        _write_output(report, output)
        if output is not None and fmt is not Format.text and not quiet:
            _err(text_reporter.summary(run.findings, run.checked).rstrip())
    raise typer.Exit(2 if run.failed else 1 if run.findings and not exit_zero else 0)


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
        from wsrefactor.reporters import text as text_reporter
        from wsrefactor.runner import execute

        session = Session(paths, select, ignore, config, target_version, no_cache)
        explicit = frozenset(c for c in session.rules if session.selection.explicit(c))
        policy = FixPolicy(unsafe=unsafe_fixes or session.config.unsafe_fixes, unsafe_codes=explicit)
        if interactive:
            if diff:
                raise Failure("--interactive and --diff do not go together")
            policy = _ask_each_fix(session, policy, _jobs(jobs))
            if not policy.only:
                _err("No fix applied.")
                raise typer.Exit(0)
        run = execute(
            session.paths, session.job(fix=policy), _jobs(jobs), write=not diff, diff=diff,
            display=display_path, progress=wanted(quiet),
        )
        _timings(run, verbose)
        for message in run.messages:
            _err(message)
        fixed = sum(run.fixed.values())
        if diff:
            sys.stdout.write("".join(run.diffs))
            if not quiet:
                _err(f"Would fix {fixed} finding{'s' if fixed != 1 else ''} in {len(run.diffs)} file(s); {len(run.findings)} would remain.")
            raise typer.Exit(1 if run.diffs else 0)
        sys.stdout.write(text_reporter.render_lines(run.findings, color=color_enabled()))
        if not quiet:
            safe, unsafe = text_reporter._fixable(run.findings)
            note = f" ({unsafe} fixable with --unsafe-fixes)" if unsafe and not policy.unsafe else ""
            sys.stdout.write(
                f"Fixed {fixed} finding{'s' if fixed != 1 else ''} in {len(run.written)} file(s); "
                f"{len(run.findings)} remaining{note}.\n"
            )
    raise typer.Exit(2 if run.failed else 1 if run.findings or run.messages else 0)


def _ask_each_fix(session: Session, policy: Any, jobs: int) -> Any:
    """Show every applicable fix as a diff hunk with its rule and reason; keep the accepted ones."""
    from dataclasses import replace

    from wsrefactor.fixes import apply_edits, unified_diff
    from wsrefactor.reporters import display_path
    from wsrefactor.runner import Job, execute

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise Failure("--interactive needs a terminal (stdin and stdout must be a TTY); use --diff to review instead")
    preview = execute(session.paths, Job(session.config, session.selection, want_edits=True), jobs)
    candidates = [
        f for f in preview.findings if f.fix is not None and policy.allows_project(f.code, f.fix.safety)
    ]
    texts = {r.path: r.source.text if r.source else None for r in preview.files}
    accepted: set[tuple[str, int, int]] = set()
    take_all = False
    for n, finding in enumerate(candidates, start=1):
        assert finding.fix is not None
        if not take_all:
            path = display_path(finding.path)
            sys.stdout.write(
                f"\n[{n}/{len(candidates)}] {path}:{finding.line}:{finding.column}: {finding.code} {finding.message}\n"
                f"fix ({finding.fix.safety.value}): {finding.fix.description}\n"
            )
            text = texts.get(finding.path)
            if text is None:
                from wsrefactor.source import read_source

                text = read_source(finding.path).text
                texts[finding.path] = text
            if finding.fix.edits:
                sys.stdout.write(unified_diff(text, apply_edits(text, finding.fix.edits), path))
            try:
                answer = input("Apply this fix? [y]es / [n]o / [a]ll / [q]uit: ").strip().lower()
            except EOFError:
                answer = "q"
            if answer.startswith("q"):
                break
            if answer.startswith("a"):
                take_all = True
            elif not answer.startswith("y"):
                continue
        accepted.add((finding.code, finding.line, finding.column))
    return replace(policy, only=frozenset(accepted))


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
        if fmt is ListFormat.json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in ("code", "name", "category", "fix")}
        header = "  ".join(k.upper().ljust(widths[k]) for k in ("code", "name", "category", "fix")) + "  ENABLED"
        lines = [header]
        for r in rows:
            lines.append(
                "  ".join(str(r[k]).ljust(widths[k]) for k in ("code", "name", "category", "fix"))
                + ("  yes" if r["enabled"] else "  no")
            )
        sys.stdout.write("\n".join(lines) + "\n")


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
