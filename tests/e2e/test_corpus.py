"""A reduced corpus run in the suite: ~150 stdlib files (asyncio, json, email, http, ...).

The same functions as ``python tests/corpus_run.py`` (the full standard library, run by hand;
figures in the README's reliability section): check exits 0/1, WS000 only on files that really do not
parse, every fixed file compiles, and a second fix changes nothing.

WS301/WS302 (extract-method fixes) are left out here: they dominate the runtime (minutes for
a few dozen files) and their fixes are not yet idempotent on the stdlib (see reliability.md);
the full run covers them.
"""

from __future__ import annotations

from tests.corpus_run import copy_tree, run_corpus, stdlib_files

SUBSET = [
    "asyncio", "json", "email", "http", "concurrent", "urllib", "logging", "wsgiref", "xmlrpc",
    "html", "importlib", "sqlite3", "dbm", "xml",
]


def test_stdlib_subset(tmp_path):
    root, files = stdlib_files(SUBSET)
    assert 100 <= len(files) <= 250, len(files)
    tree = tmp_path / "stdlib"
    copy_tree(root, files, tree)
    report = run_corpus(tree, jobs=2, timeout=600, ignore="WS301,WS302")
    print(report.render())
    assert report.problems() == [], report.render()
    assert report.files == len(files)
    assert report.exit_codes["check"] in (0, 1) and report.exit_codes["second fix --diff"] == 0
