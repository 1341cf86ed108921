"""How precise each rule's ``wants`` prefilter is on a tree of files (a measurement, not a test).

    python tests/prefilter_stats.py DIR [CODE ...]

For each rule: files it wants (would parse with libcst), files where the full rule really reports
or records facts (prefilter bypassed), and any file it reports on but does not want (unsound).
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections import Counter
from pathlib import Path

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module, parse
from wsrefactor.registry import load_rules


def main(argv: list[str]) -> None:
    root, codes = Path(argv[0]), set(argv[1:])
    rules = [r for c, r in load_rules(()).items() if c not in ("WS000", "WS001") and (not codes or c in codes)]
    config = Config()
    wanted: Counter[str] = Counter()
    needed: Counter[str] = Counter()
    unsound: list[str] = []
    files = sorted(root.rglob("*.py"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            continue
        wants = {r.code: r.wants(text, tree, {}) for r in rules}
        try:
            analysis = analyze_module(str(path), parse(text, str(path)), rules, config, tree=tree)
        except Exception:  # noqa: BLE001 - a measurement skips what libcst cannot take
            continue
        found = {f.code for f in analysis.findings} | {c for c, f in analysis.facts.items() if f}
        for r in rules:
            wanted[r.code] += wants[r.code]
            needed[r.code] += r.code in found
            if r.code in found and not wants[r.code]:
                unsound.append(f"{r.code} {path}")
    print(f"{len(files)} files")
    for r in rules:
        print(f"{r.code}: wants {wanted[r.code]:5d}   really needed {needed[r.code]:5d}")
    for line in unsound:
        print("UNSOUND", line)


if __name__ == "__main__":
    main(sys.argv[1:])
