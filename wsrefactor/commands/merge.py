"""``wsrefactor merge``: the N outputs of ``check --shard K/N`` as one report.

Reads each shard's JSON (or SARIF) output, checks that shards 1..N are all there, decides the
cross-file rules (WS303, WS304) from every shard's recorded facts, settles the suppressions that
could cover them, and writes one report in any ``check`` format, exactly as an unsharded
``check`` would have. Run it from the directory the shards ran in (the repository root in CI);
the rule pack is loaded from the same config (``--config``) for rule descriptions and plugins.
Exit codes as ``check``: 0 no finding, 1 findings, 2 a missing shard or an unreadable file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from wsrefactor.cli import (
    FORMAT_FLAGS,
    ConfigOpt,
    Failure,
    Format,
    Session,
    _emit_check_report,
    _guard,
    _Request,
    app,
)


@app.command()
def merge(
    shards: list[Path] = typer.Argument(..., help="The JSON or SARIF outputs of `check --shard K/N`, one per shard."),
    fmt: Format = typer.Option(Format.json, *FORMAT_FLAGS, help="Output format of the merged report."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when there are findings."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print findings only, no summary."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Combine the outputs of `check --shard 1/N` ... `N/N` and decide the cross-file rules."""
    with _guard():
        from wsrefactor import shard as sharding
        from wsrefactor.runner import RunResult

        session = Session(None, None, None, config)
        loaded = []
        for path in shards:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise Failure(f"{path}: cannot read shard output: {exc}") from None
            try:
                loaded.append(sharding.read_payload(data, str(path)))
            except sharding.ShardError as exc:
                raise Failure(str(exc)) from None
        try:
            merged = sharding.merge(loaded, session.rules)
        except sharding.ShardError as exc:
            raise Failure(str(exc)) from None
        run = RunResult(findings=merged.findings, files=[], checked=merged.files)
        request = _Request(fmt, output, False, exit_zero, quiet, False, False, None, None)
        _emit_check_report(run, session, request, lambda code, safety: False)
    raise typer.Exit(1 if merged.findings and not exit_zero else 0)


__all__ = ["merge"]
