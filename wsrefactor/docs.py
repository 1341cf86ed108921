"""The README's generated parts: the rule table and the rule reference, from the rules themselves.

``python -m wsrefactor.docs`` rewrites them in place between their markers; a test fails when the
README and the rules disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from wsrefactor.registry import load_rules
from wsrefactor.rule import fix_label

TABLE = ("<!-- rules-table:start -->", "<!-- rules-table:end -->")
REFERENCE = ("<!-- rules-reference:start -->", "<!-- rules-reference:end -->")


def rules_table() -> str:
    rows = ["| code | name | category | fix | summary |", "| --- | --- | --- | --- | --- |"]
    for code, rule in load_rules(()).items():
        rows.append(
            f"| [{code}](#{code.lower()}) | {rule.name} | {rule.category} | {fix_label(rule)} | {rule.summary} |"
        )
    return "\n".join(rows)


def rules_reference() -> str:
    parts = []
    for code, rule in load_rules(()).items():
        body = re.sub(r"^## ", "#### ", rule.docs(), flags=re.MULTILINE)
        parts.append(
            f'<a id="{code.lower()}"></a>\n### {code} {rule.name}\n\n'
            f"category: {rule.category} · fix: {fix_label(rule)} · severity: {rule.severity.value}\n\n{body}\n"
        )
    return "\n".join(parts).rstrip("\n")


def _replace(text: str, markers: tuple[str, str], content: str) -> str:
    start, end = markers
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README lacks the markers {start} ... {end}")
    return pattern.sub(lambda _: f"{start}\n{content}\n{end}", text)


def render(readme: str) -> str:
    return _replace(_replace(readme, TABLE, rules_table()), REFERENCE, rules_reference())


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
