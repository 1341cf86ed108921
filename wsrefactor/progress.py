"""A progress bar on stderr for long runs, and nothing at all anywhere else.

Shown only when stderr is a terminal, the run has lasted over a second, and neither CI nor
pre-commit is driving the run; rich is imported only then.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def wanted(quiet: bool = False) -> bool:
    return (
        not quiet
        and sys.stderr.isatty()
        and not os.environ.get("CI")
        and not os.environ.get("PRE_COMMIT")
        and os.environ.get("TERM") != "dumb"
    )


def color_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class Bar:
    """``label  ━━━━━━  done/total  elapsed``; the label may change while the bar runs (a fix run
    shows the findings fixed and files written so far there)."""

    def __init__(self, total: int, enabled: bool, delay: float | None = None, label: str = "checking") -> None:
        if delay is None:  # tests shorten it; users never need to
            delay = float(os.environ.get("WSREFACTOR_PROGRESS_DELAY", "1.0"))
        self.total = total
        self.enabled = enabled and total > 0
        self.done = 0
        self.start = time.monotonic()
        self.delay = delay
        self.label = label
        self._bar: Any = None
        self._task: Any = None

    def describe(self, label: str) -> None:
        """Change the text before the bar (shown at the next advance)."""
        self.label = label

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is None and time.monotonic() - self.start >= self.delay:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, completed=self.done)
        elif self._bar is not None:
            self._bar.update(self._task, completed=self.done, description=self.label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
