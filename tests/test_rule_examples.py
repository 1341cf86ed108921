"""The suite generated from every rule's VALID/INVALID examples (Fixit style)."""

from __future__ import annotations

import pytest

from wsrefactor.registry import load_rules
from wsrefactor.testing import (
    assert_fix_contracts,
    check_source,
    example_options,
    fix_source,
)

RULES = {c: r for c, r in load_rules(()).items() if c not in ("WS000", "WS001")}

VALID = [
    pytest.param(rule, ex, id=f"{code}-valid-{i}")
    for code, rule in RULES.items()
    for i, ex in enumerate(rule.VALID)
]
INVALID = [
    pytest.param(rule, ex, id=f"{code}-invalid-{i}")
    for code, rule in RULES.items()
    for i, ex in enumerate(rule.INVALID)
]


@pytest.mark.parametrize("rule,example", VALID)
def test_valid_example_not_flagged(rule, example):
    findings = check_source(example.source, [rule.code], example_options(rule, example), example.target_version)
    assert [f for f in findings if f.code == rule.code] == []


@pytest.mark.parametrize("rule,example", INVALID)
def test_invalid_example_flagged(rule, example):
    findings = [
        f
        for f in check_source(example.source, [rule.code], example_options(rule, example), example.target_version)
        if f.code == rule.code
    ]
    assert findings, "expected a finding"
    if example.lines:
        assert sorted({f.line for f in findings}) == sorted(example.lines)


@pytest.mark.parametrize("rule,example", [p for p in INVALID if p.values[1].fixed is not None])
def test_invalid_example_fix(rule, example):
    opts = example_options(rule, example)
    fixed = fix_source(example.source, [rule.code], opts, example.target_version)
    assert fixed == example.fixed_source
    findings = check_source(example.source, [rule.code], opts, example.target_version)
    assert_fix_contracts(example.source, fixed, findings, rule.code)


@pytest.mark.parametrize("code,rule", sorted(RULES.items()))
def test_rule_is_documented(code, rule):
    docs = rule.docs()
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Options"):
        assert section in docs, f"{code} docs lack {section}"
    assert rule.name and rule.category and rule.summary
    assert rule.VALID and rule.INVALID, f"{code} needs valid and invalid examples"
