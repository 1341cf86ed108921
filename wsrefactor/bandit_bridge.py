"""Bandit's checks on the same files, in the same workers, reported as ``B###`` findings.

Bandit itself runs single-threaded over a file list; here its per-file work runs inside
wsrefactor's workers on text already read, so it shares the parallelism, the suppressions and
the report. Bandit honours its own ``# nosec`` comments while testing.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from typing import Any

from wsrefactor.model import Finding, Severity
from wsrefactor.selection import Selection

_SEVERITY = {"HIGH": Severity.ERROR, "MEDIUM": Severity.WARNING, "LOW": Severity.INFO}


@lru_cache(maxsize=1)
def _manager() -> Any:
    from bandit.core import config as b_config
    from bandit.core import manager as b_manager

    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    return b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)


def bandit_findings(path: str, text: str, selection: Selection) -> list[Finding]:
    manager = _manager()
    manager.results = []
    data = text.encode("utf-8")
    try:
        # The per-file step of BanditManager.run_tests, without its file list and progress output.
        manager._parse_file(path, io.BytesIO(data), [path])
    except SystemExit:  # bandit exits on KeyboardInterrupt; let ours propagate instead
        raise KeyboardInterrupt from None
    out = []
    lines = text.splitlines()
    for issue in manager.results:
        code = issue.test_id
        if not selection.enabled(code):
            continue
        line = issue.lineno
        end_line = max(issue.linerange) if issue.linerange else line
        column = (issue.col_offset or 0) + 1
        end_column = (issue.end_col_offset or issue.col_offset or 0) + 1
        out.append(
            Finding(
                code=code,
                name=issue.test,
                message=f"{issue.text} (severity {issue.severity.lower()}, confidence {issue.confidence.lower()})",
                path=path,
                line=line,
                column=column,
                end_line=end_line,
                end_column=end_column,
                severity=_SEVERITY.get(issue.severity, Severity.WARNING),
                category="bandit",
                stmt_line=line,
                context=f"bandit:{code}:{' '.join(lines[line - 1].split()) if 0 < line <= len(lines) else ''}",
            )
        )
    manager.results = []
    return out


def bandit_tests() -> list[tuple[str, str]]:
    """(code, name) of every bandit check available, for ``wsrefactor rules``."""
    from bandit.core import extension_loader

    mgr = extension_loader.MANAGER
    return sorted((p.plugin._test_id, p.name) for p in mgr.plugins)
