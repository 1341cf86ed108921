"""``wsrefactor clean``: remove the result cache."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from wsrefactor.cli import ConfigOpt, Session, _guard, app


@app.command()
def clean(config: Optional[Path] = ConfigOpt) -> None:
    """Remove the cache directory (.wsrefactor_cache by default)."""
    with _guard():
        from wsrefactor.cache import clean as remove

        session = Session(None, None, None, config)
        directory = Path(session.config.root) / session.config.cache_dir
        removed = remove(directory)
        typer.echo(f"{'Removed' if removed else 'No cache at'} {directory}", err=True)
