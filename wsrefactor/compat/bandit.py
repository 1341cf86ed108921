"""bandit internals wsrefactor relies on, behind one small interface.

Bandit has no library API: its CLI builds a ``BanditManager`` and runs it over a file list.
wsrefactor runs bandit's per-file step inside its own workers (``bandit_bridge.py``) and reads
its plugin catalogue (``wsrefactor rules``, ``# noqa`` codes, SARIF and language-server docs),
so it uses these parts of bandit below its CLI:

* ``bandit.core.manager.BanditManager`` built from a default ``BanditConfig`` (its ``b_ma``
  meta-AST and ``b_ts`` test set) and the private ``_parse_nosec_comment``;
* ``bandit.core.node_visitor.BanditNodeVisitor`` and ``bandit.core.tester.BanditTester``, which
  ``bandit_bridge`` subclasses (their constructor signatures, the attributes the visitor sets,
  the tester's private ``_get_nosecs_from_contexts``), with ``bandit.core.utils.linerange`` and
  ``namespace_path_split``;
* ``bandit.core.extension_loader.MANAGER`` (``plugins``, ``plugins_by_id``,
  ``blacklist_by_id``, each plugin function's private ``_test_id``) and
  ``bandit.core.docs_utils.get_url``;
* the trojansource plugin's ``trojansource`` function and ``BIDI_CHARACTERS``.

Checked against the bandit versions in ``CHECKED``; ``pyproject.toml`` caps bandit below
``UPPER``. ``tests/engine/test_compat.py`` names the symbol and the installed version when one
of these shapes changes. Bandit is imported only when a function here is called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

# The bandit releases this module was checked against, and the first release it does not allow.
CHECKED = ("1.9.4",)
LOWER = "1.7.5"
UPPER = "1.10"


class VisitorParts(NamedTuple):
    """What ``bandit_bridge`` builds its lean visitor from."""

    visitor: Any  # BanditNodeVisitor: __init__(fname, fdata, metaast, testset, debug, nosec_lines, metrics)
    tester: Any  # BanditTester: __init__(testset, debug, nosec_lines, metrics)
    linerange: Callable[[Any], list[int]]
    namespace_split: Callable[[str], tuple[str, str]]


@lru_cache(maxsize=1)
def manager() -> Any:
    """A quiet ``BanditManager`` with bandit's default configuration, once per process."""
    from bandit.core import config as b_config
    from bandit.core import manager as b_manager

    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    return b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)


def parse_nosec_comment(comment: str) -> set[str] | None:
    """The tests a ``# nosec`` comment names (empty: all), None when the comment is no nosec."""
    from bandit.core.manager import _parse_nosec_comment

    result: set[str] | None = _parse_nosec_comment(comment)
    return result


@lru_cache(maxsize=1)
def visitor_parts() -> VisitorParts:
    from bandit.core import node_visitor, tester
    from bandit.core import utils as b_utils

    return VisitorParts(
        node_visitor.BanditNodeVisitor, tester.BanditTester, b_utils.linerange, b_utils.namespace_path_split
    )


def trojansource() -> tuple[Callable[..., Any], tuple[str, ...]] | None:
    """The trojansource test (B613) and the characters it looks for; None without that plugin."""
    try:
        from bandit.plugins import trojansource as plugin
    except ImportError:
        return None
    return plugin.trojansource, tuple(plugin.BIDI_CHARACTERS)


def _extensions() -> Any:
    from bandit.core import extension_loader

    return extension_loader.MANAGER


def plugins() -> list[tuple[str, str, Any]]:
    """(code, name, plugin) of every bandit plugin check (``B1xx``, ``B5xx``, ``B6xx``, ``B7xx``)."""
    return [(p.plugin._test_id, p.name, p) for p in _extensions().plugins]


def plugins_by_id() -> Mapping[str, Any]:
    """Code -> plugin extension (``.name``, ``.plugin`` the test function)."""
    result: Mapping[str, Any] = _extensions().plugins_by_id
    return result


def blacklist_by_id() -> Mapping[str, Mapping[str, Any]]:
    """Code -> blacklist entry (``name``, ``message``, ``qualnames``, ``cwe``...) of B3xx/B4xx."""
    result: Mapping[str, Mapping[str, Any]] = _extensions().blacklist_by_id
    return result


def doc_url(code: str) -> str:
    """Bandit's documentation page for a check."""
    from bandit.core import docs_utils

    return str(docs_utils.get_url(code))
