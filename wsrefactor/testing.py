"""Helpers to test rules on in-memory source: used by the suite and by plugin authors.

They go through the same engine as the CLI (parse once, batched traversal, fix loop), so an
example that passes here behaves the same on disk.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, analyze_module, check_parses, fix_text, parse
from wsrefactor.fixes import split_lines
from wsrefactor.model import Finding
from wsrefactor.registry import load_rules
from wsrefactor.rule import Example, Rule

EXPECT = re.compile(r"expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


def _config(options: Mapping[str, Mapping[str, Any]] | None, target: str | None) -> Config:
    cfg = Config(rule_options=dict(options or {}))
    if target:
        from wsrefactor.config import parse_target_version

        cfg = cfg.with_overrides(target_version=parse_target_version(target))
    return cfg


def _rules(codes: Sequence[str] | None) -> list[type[Rule]]:
    every = load_rules(())
    if codes is None:
        return [r for c, r in every.items() if c not in ("WS000", "WS001")]
    return [every[c] for c in codes]


def check_source(
    text: str,
    codes: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    target: str | None = None,
    path: str = "example.py",
) -> list[Finding]:
    cfg = _config(options, target)
    tree = ast.parse(text)
    rules = [r for r in _rules(codes) if _runs(r, text, tree, cfg)]
    if not rules:
        return []
    analysis = analyze_module(path, parse(text, path), rules, cfg, want_edits=True, tree=tree)
    findings = list(analysis.findings)
    for finding, _ in _project_results(rules, _facts(rules, tree, text, path, analysis.facts, cfg), cfg, path):
        findings.append(finding)
    return sorted(findings, key=lambda f: f.sort_key)


def _runs(rule: type[Rule], text: str, tree: ast.Module, cfg: Config) -> bool:
    """The rule runs on this text: it wants the libcst pass, or it records facts of every file."""
    from wsrefactor.rule import ProjectRule

    return issubclass(rule, ProjectRule) or rule.wants(text, tree, cfg.rule_options.get(rule.code, {}))


def _facts(
    rules: Sequence[type[Rule]], tree: ast.Module, text: str, path: str, visited: Mapping[str, list[Any]],
    cfg: Config,
) -> dict[str, list[Any]]:
    """Project-rule facts as the runner gathers them: ``file_facts`` first, then the visit's."""
    from wsrefactor.rule import ProjectRule
    from wsrefactor.semantic.analyses import Analyses

    analyses = Analyses(tree, text, path)
    out: dict[str, list[Any]] = {}
    for rule in rules:
        if issubclass(rule, ProjectRule):
            own = rule.file_facts(analyses, cfg.rule_options.get(rule.code, {}))
            out[rule.code] = [*own, *visited.get(rule.code, [])]
    return out


def _project_results(
    rules: Sequence[type[Rule]], facts: Mapping[str, Any], cfg: Config, path: str
) -> list[tuple[Finding, Any]]:
    """The project phase over a single file (examples are one file)."""
    from wsrefactor.rule import ProjectRule
    from wsrefactor.runner import finalize_rule

    out = []
    for rule in rules:
        if issubclass(rule, ProjectRule):
            out.extend(finalize_rule(rule, {path: facts.get(rule.code, [])}, cfg.rule_options.get(rule.code, {})))
    return out


def _apply_project_payloads(
    text: str, rules: Sequence[type[Rule]], facts: Mapping[str, Any], cfg: Config, policy: FixPolicy, path: str
) -> str:
    """One round of project-rule payloads for this single file."""
    module = before = parse(text, path)
    by_code = {r.code: r for r in rules}
    for finding, edit in _project_results(rules, facts, cfg, path):
        if edit is None or not policy.allows_project(finding.code, edit.safety):
            continue
        for target, payload in edit.payloads:
            if target == path:
                module = by_code[finding.code].apply_payload(module, payload, path)  # type: ignore[attr-defined]
    from wsrefactor.imports import drop_imports_left_unused

    return drop_imports_left_unused(before, module).code


def fix_source(
    text: str,
    codes: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    target: str | None = None,
    unsafe: bool = True,
    path: str = "example.py",
) -> str:
    cfg = _config(options, target)
    tree = ast.parse(text)
    rules = [r for r in _rules(codes) if _runs(r, text, tree, cfg)]
    if not rules:
        return text
    policy = FixPolicy(unsafe=unsafe)
    result = text
    for _ in range(4):  # file fixes, then project-rule payloads, until stable
        outcome = fix_text(path, result, rules, cfg, policy, ast.parse(result))
        if outcome.errors:
            raise AssertionError("; ".join(outcome.errors))
        facts = _facts(
            rules, ast.parse(outcome.text), outcome.text, path,
            outcome.analysis.facts if outcome.analysis is not None else {}, cfg,
        )
        after = _apply_project_payloads(outcome.text, rules, facts, cfg, policy, path)
        if after == outcome.text:
            return after
        result = after
    return result


def example_options(rule: type[Rule], example: Example) -> dict[str, dict[str, Any]]:
    return {rule.code: dict(example.options)} if example.options else {}


def expected_lines(text: str, code: str) -> list[int]:
    """Lines carrying an ``expect: CODE`` marker comment (golden fixtures)."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = EXPECT.search(line)
        if m and code in [c.strip() for c in m.group(1).split(",")]:
            out.append(number)
    return out


def _changed_ranges(before: str, after: str) -> list[tuple[int, int]]:
    """Old-text line ranges that differ; an insertion sits between two old lines."""
    old = split_lines(before)
    matcher = difflib.SequenceMatcher(a=old, b=split_lines(after), autojunk=False)
    out = []
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "insert":  # new lines between old lines i1 and i1 + 1 (1-based)
            lo = i1
            while lo > 1 and not old[lo - 1].strip():  # blank lines do not separate it
                lo -= 1
            out.append((lo, i1 + 1))
        elif tag != "equal":
            out.append((i1 + 1, max(i2, i1 + 1)))
    return out


def assert_fix_contracts(before: str, after: str, findings: Sequence[Finding], code: str) -> None:
    """The contracts of every fix: parses, idempotent, and nothing outside the flagged code moved.

    A changed region must touch a flagged statement or sit in the module header (imports and the
    statements fixes add after them).
    """
    problem = check_parses(after, "fixed.py")
    if problem is not None:
        raise AssertionError(f"fixed output does not parse: {problem}")
    again = fix_source(after, [code])
    if again != after:
        diff = "".join(difflib.unified_diff(after.splitlines(True), again.splitlines(True)))
        raise AssertionError("a second fix changed the code again:\n" + diff)
    header_end = _header_end(before)
    spans = [
        (min(f.stmt_line, f.line), max(f.end_line, f.stmt_end_line)) for f in findings if f.fix is not None
    ]
    for lo, hi in _changed_ranges(before, after):
        touches = any(lo <= end and start <= hi for start, end in spans) or lo <= header_end + 1
        if not touches:
            raise AssertionError(f"fix changed lines {lo}-{hi}, which hold no flagged code")


def _header_end(text: str) -> int:
    """Where fixes may add module-level code: up to the first statement after the imports."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return 0
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
            i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            continue
        decorators = getattr(node, "decorator_list", [])
        return min([node.lineno, *(d.lineno for d in decorators)]) - 1
    return len(text.splitlines())


def fixture_cases(root: Path, code: str) -> list[Path]:
    folder = root / code
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.py") if not p.name.endswith(".fixed.py"))
