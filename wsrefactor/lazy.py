"""libcst, imported on first use.

A plain check decides every finding on Python's ``ast`` and never builds a fix, yet importing
libcst is a third of its start-up (0.15 s of ~0.45 s on a 2-core machine, most of a pre-commit
run's own work). Modules that build fixes write ``from wsrefactor.lazy import cst`` and use
``cst.X`` inside functions only: the first such use imports libcst, and from then on ``cst`` is
as fast as the module itself. Nothing at module level may touch it (no base classes, constants
or ``isinstance`` tuples); ``tests/engine/test_lazy_imports.py`` checks that a plain check never
loads libcst. Type checkers see the real module.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

__all__ = ["cst", "load"]


class _Deferred(types.ModuleType):
    """A module object that imports the module it stands for on the first attribute read."""

    def __getattr__(self, name: str) -> Any:  # only for names not in ``__dict__`` yet
        module = importlib.import_module(self.__name__)
        vars(self).update(vars(module))  # later reads are plain attribute reads
        return getattr(module, name)


def load() -> None:
    """Import libcst now: a run that builds fixes or edits calls this before its worker processes
    fork, so they inherit libcst instead of each importing it again."""
    importlib.import_module("libcst")


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = _Deferred("libcst")
