"""The README is part of the product: its rule table and reference must match the rules, and its
two quick-start commands must be the ones CI runs."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO, run_cli
from wsrefactor.docs import render

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_generated_sections_are_current():
    assert render(README) == README, "run `python -m wsrefactor.docs` to regenerate the README's rule sections"


def test_rule_table_matches_rules_command(tmp_path):
    rows = json.loads(run_cli("rules", "--format", "json", cwd=tmp_path).stdout)
    table = re.findall(r"^\| \[(\w+)\]\(#\w+\) \| ([\w-]+) \| (\w+) \| (\w+) \|", README, re.MULTILINE)
    assert [(r["code"], r["name"], r["category"], r["fix"]) for r in rows] == table


def test_ci_runs_the_readme_test_command():
    m = re.search(r"```sh\n(pip install -e '\.\[test\]' && python -m pytest)\n```", README)
    assert m, "README must show the test command"
    ci = (REPO / ".ci" / "run").read_text()
    assert m.group(1) in ci
