"""Bandit's checks on the same files, in the same workers, reported as ``B###`` findings.

Bandit itself runs single-threaded over a file list; here its per-file work runs inside
wsrefactor's workers on text already read, so it shares the parallelism, the suppressions and
the report. Bandit honours its own ``# nosec`` comments while testing.

The per-file step is ``BanditManager._parse_file`` minus the work nobody reads here, with the
same tests, test order, node attributes, contexts and ``# nosec`` semantics (pinned against the
real ``bandit -f json`` by ``tests/engine/test_bandit_equivalence.py``):

* ``# nosec`` lines come from bandit's own tokenize loop, skipped when the text has no
  ``nosec`` at all (every comment then maps to ``None``, which bandit treats as no comment);
* no metrics (line counts, nosec counters, per-file score sums): nothing reads them;
* the walk enters (context, ``visit_*``, tests) only nodes whose type has a ``visit_*`` method
  or at least one test; every node still gets ``_bandit_parent``/``_bandit_sibling``;
* the caller's ``ast`` of the text is reused when given, instead of a second parse;
* the file-level trojansource test (B613) is left out when none of its characters occur in the
  text: it reports only a line containing one of them.

Bandit sees the file's own bytes: text with a non-UTF-8 coding cookie is re-encoded with it (it
was once re-encoded as UTF-8, which put columns after non-ASCII characters off from the CLI's).

Every bandit internal used here comes through ``wsrefactor/compat/bandit.py``.
"""

from __future__ import annotations

import ast
import copy
import io
import tokenize
import warnings
from functools import lru_cache
from typing import Any

from wsrefactor.compat import bandit as compat
from wsrefactor.model import Finding, Severity
from wsrefactor.selection import Selection

_SEVERITY = {"HIGH": Severity.ERROR, "MEDIUM": Severity.WARNING, "LOW": Severity.INFO}


class _NoMetrics:
    """Stands in for bandit's metrics: the tester notes skipped ``# nosec`` results here."""

    def note_nosec(self, num: int = 1) -> None:
        pass

    def note_skipped_test(self, num: int = 1) -> None:
        pass


class _LeanTester:
    """Mixed into bandit's ``BanditTester``: a file without ``# nosec`` skips the per-result lookup."""

    nosec_lines: dict[int, Any]

    def _get_nosecs_from_contexts(self, context: dict[str, Any], test_result: Any = None) -> Any:
        if not self.nosec_lines:  # bandit's answer for a file without any nosec comment
            return None
        return compat.visitor_parts().tester._get_nosecs_from_contexts(self, context, test_result)


class _LeanVisitor:
    """Mixed into bandit's ``BanditNodeVisitor``: its walk without debug logging, scores or metrics.

    Bandit's class attributes come in from ``_visitor_class``: ``tester_class``, ``node_visits``
    (node types with a ``visit_*`` method), ``linerange`` and ``namespace_split`` (its utils).
    The instance attributes below are set by ``BanditNodeVisitor.__init__``.
    """

    tester_class: Any
    node_visits: frozenset[str]
    linerange: Any
    namespace_split: Any

    fname: str
    fdata: Any
    imports: set[str]
    import_aliases: dict[str, str]
    namespace: str
    metrics: Any
    context: dict[str, Any]

    def __init__(self, fname: str, fdata: Any, metaast: Any, testset: Any, nosec_lines: dict[int, Any]) -> None:
        # BanditNodeVisitor.__init__ (the next class in the mixed class's order)
        compat.visitor_parts().visitor.__init__(self, fname, fdata, metaast, testset, False, nosec_lines, _NoMetrics())
        self.tester = self.tester_class(testset, False, nosec_lines, self.metrics)
        # Node types the walk enters: those with a visit_* method, or with at least one test.
        self.active = self.node_visits | {name for name, tests in testset.tests.items() if tests}

    def pre_visit(self, node: ast.AST) -> bool:
        """``BanditNodeVisitor.pre_visit`` without its debug logging (same keys, same order)."""
        context: dict[str, Any] = {"imports": self.imports, "import_aliases": self.import_aliases}
        if hasattr(node, "lineno"):
            context["lineno"] = node.lineno
        if hasattr(node, "col_offset"):
            context["col_offset"] = node.col_offset
        if hasattr(node, "end_col_offset"):
            context["end_col_offset"] = node.end_col_offset
        context["node"] = node
        context["linerange"] = self.linerange(node)
        context["filename"] = self.fname
        context["file_data"] = self.fdata
        self.context = context
        return True

    def visit(self, node: ast.AST) -> None:
        name = node.__class__.__name__
        visitor = getattr(self, "visit_" + name, None)
        if visitor is not None:
            visitor(node)
        else:
            self.tester.run_tests(self.context, name)

    def post_visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            self.namespace = self.namespace_split(self.namespace)[0]

    def generic_visit(self, node: ast.AST) -> None:
        """Bandit's walk (same order, same ``_bandit_*`` links); only active nodes are visited."""
        active = self.active
        for child in _linked_children(node):
            if child.__class__.__name__ in active:
                self.pre_visit(child)
                self.visit(child)
                self.generic_visit(child)
                self.post_visit(child)
            else:
                self.generic_visit(child)

    def update_scores(self, scores: Any) -> None:
        pass  # per-file score sums: bandit's report totals, never read here

    def run(self, tree: ast.Module) -> list[Any]:
        """``BanditNodeVisitor.process`` on a tree already parsed: the ast walk, then file tests."""
        self.generic_visit(tree)
        self.context = {
            "file_data": self.fdata, "filename": self.fname, "lineno": 0, "linerange": [0, 1], "col_offset": 0
        }
        self.tester.run_tests(self.context, "File")
        return list(self.tester.results)


@lru_cache(maxsize=1)
def _visitor_class() -> Any:
    """Bandit's visitor and tester with the lean parts mixed in, once per process (bandit is
    imported only when it runs)."""
    parts = compat.visitor_parts()
    base = parts.visitor
    return type("LeanBanditVisitor", (_LeanVisitor, base), {
        "tester_class": type("LeanBanditTester", (_LeanTester, parts.tester), {}),
        "node_visits": frozenset(name[len("visit_"):] for name in dir(base) if name.startswith("visit_")),
        "linerange": staticmethod(parts.linerange),
        "namespace_split": staticmethod(parts.namespace_split),
    })


def _linked_children(node: ast.AST) -> Any:
    """The AST children in ``ast.iter_fields`` order, each linked to its parent and next sibling."""
    for field in node._fields:
        value = getattr(node, field, None)  # a missing field is skipped, as by ast.iter_fields
        if isinstance(value, list):
            last = len(value) - 1
            for idx, item in enumerate(value):
                if isinstance(item, ast.AST):
                    item._bandit_sibling = value[idx + 1] if idx < last else None  # type: ignore[attr-defined]
                    item._bandit_parent = node  # type: ignore[attr-defined]
                    yield item
        elif isinstance(value, ast.AST):
            value._bandit_sibling = None  # type: ignore[attr-defined]
            value._bandit_parent = node  # type: ignore[attr-defined]
            yield value


@lru_cache(maxsize=1)
def _bidi_free_tests() -> tuple[Any, tuple[str, ...]]:
    """The manager's test set without trojansource, and the characters that plugin looks for."""
    tests = compat.manager().b_ts
    plugin = compat.trojansource()
    if plugin is None:
        return tests, ()
    check, characters = plugin
    lean = copy.copy(tests)
    lean.tests = {k: [t for t in v if t is not check] for k, v in tests.tests.items()}
    return lean, characters


def _tests_for(text: str) -> Any:
    lean, bidi = _bidi_free_tests()
    return lean if bidi and not any(c in text for c in bidi) else compat.manager().b_ts


def _source_bytes(text: str) -> bytes:
    """The file's bytes as bandit reads them: re-encoded with its coding cookie when it has one."""
    data = text.encode("utf-8")
    if text.isascii():
        return data
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data if encoding.startswith("utf-8") else text.encode(encoding)
    except (SyntaxError, LookupError, UnicodeError):
        return data


def _nosec_lines(text: str, data: bytes) -> dict[int, set[str] | None]:
    """Bandit's ``# nosec`` map (line -> tests to skip, empty for all), as ``_parse_file`` builds it."""
    if "nosec" not in text:
        return {}
    nosec_lines: dict[int, set[str] | None] = {}
    try:
        for toktype, tokval, (lineno, _), _, _ in tokenize.tokenize(io.BytesIO(data).readline):
            if toktype == tokenize.COMMENT:
                nosec_lines[lineno] = compat.parse_nosec_comment(tokval)
    except tokenize.TokenError:
        pass
    return nosec_lines


def _parse(text: str) -> ast.Module:
    """The ast bandit parses from the file's bytes: those decoded (cookie and one BOM applied) are the text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def bandit_issues(path: str, text: str, tree: ast.Module | None = None) -> list[Any]:
    """Bandit's issues for one file, in bandit's order; none when bandit would skip the file.

    ``tree``, when given, must be ``ast.parse(text)`` untouched; bandit adds ``_bandit_*``
    attributes to its nodes.
    """
    manager = compat.manager()
    data = _source_bytes(text)
    try:
        nosec_lines = _nosec_lines(text, data)
        visitor = _visitor_class()(path, io.BytesIO(data), manager.b_ma, _tests_for(text), nosec_lines)
        issues: list[Any] = visitor.run(_parse(text) if tree is None else tree)
    except Exception:  # noqa: BLE001 - bandit skips a file it cannot parse or scan, reporting nothing for it
        return []
    return issues


def bandit_findings(path: str, text: str, selection: Selection, tree: ast.Module | None = None) -> list[Finding]:
    lines = text.splitlines()
    return [_finding(path, issue, lines) for issue in bandit_issues(path, text, tree) if selection.enabled(issue.test_id)]


def _finding(path: str, issue: Any, lines: list[str]) -> Finding:
    code = issue.test_id
    line = issue.lineno
    end_line = max(issue.linerange) if issue.linerange else line
    column = (issue.col_offset or 0) + 1
    end_column = (issue.end_col_offset or issue.col_offset or 0) + 1
    return Finding(
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
        # bandit's own ratings, for SARIF's security-severity and the dashboard
        extra=(("bandit_severity", issue.severity), ("bandit_confidence", issue.confidence),
               ("cwe", getattr(getattr(issue, "cwe", None), "id", 0) or 0)),
        context=f"bandit:{code}:{' '.join(lines[line - 1].split()) if 0 < line <= len(lines) else ''}",
    )


def bandit_tests() -> list[tuple[str, str]]:
    """(code, name) of every bandit check available, for ``wsrefactor rules``."""
    return sorted((code, name) for code, name, _ in compat.plugins())
