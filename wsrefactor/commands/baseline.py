"""``wsrefactor baseline``: record today's findings so that ``check --baseline`` reports only new ones."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from wsrefactor.cli import (
    ConfigOpt,
    IgnoreOpt,
    JobsOpt,
    PathsArg,
    SelectOpt,
    Session,
    _guard,
    _jobs,
    _warn_if_no_files,
    app,
)


@app.command()
def baseline(
    paths: Optional[list[str]] = PathsArg,
    output: Path = typer.Option(Path(".wsrefactor-baseline.json"), "--output", "-o", help="Baseline file to write."),
    select: Optional[list[str]] = SelectOpt,
    ignore: Optional[list[str]] = IgnoreOpt,
    jobs: Optional[int] = JobsOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Record the current findings; `check --baseline FILE` then reports only new ones."""
    with _guard():
        from wsrefactor import baseline as bl
        from wsrefactor.runner import execute

        session = Session(paths, select, ignore, config)
        run = execute(session.paths, session.job(), _jobs(jobs))
        _warn_if_no_files(run, session, quiet=False)
        data = bl.build(run.findings, session.config.root)
        bl.save(output, data)
        typer.echo(f"Recorded {len(run.findings)} finding(s) ({len(data['entries'])} fingerprints) in {output}.", err=True)
