"""Output formats. Each reporter turns sorted findings into text; paths are shown relative to the cwd."""

from __future__ import annotations

import os
from collections.abc import Callable

from wsrefactor.model import Finding


def display_path(path: str) -> str:
    """Relative to the cwd when below it, else as given (absolute)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


Reporter = Callable[[list[Finding]], str]
