"""``wsrefactor server``: the language server over stdio (needs ``pip install 'wsrefactor[server]'``)."""

from __future__ import annotations

from typing import Optional

import typer

from wsrefactor.cli import Failure, _guard, app


@app.command()
def server(
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Analysis worker processes (default: 2, at most the CPU count)."),
) -> None:
    """Run the language server on stdin/stdout (diagnostics, quick fixes, fix-all, hover docs)."""
    with _guard():
        import os

        if jobs is not None and jobs < 1:
            raise Failure("--jobs must be at least 1")
        try:
            from wsrefactor.server.app import serve
        except ModuleNotFoundError as exc:
            if exc.name not in ("pygls", "lsprotocol"):
                raise
            raise Failure(f"the language server needs {exc.name}: pip install 'wsrefactor[server]'") from None
        serve(jobs or min(2, os.cpu_count() or 1))
