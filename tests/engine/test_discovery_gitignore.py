"""A long ``.gitignore`` is screened with one combined expression; every decision stays
``pathspec``'s own (negations, directory rules, anchoring)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pathspec

from wsrefactor.config import Config
from wsrefactor.discovery import _any_pattern, discover

GITIGNORE = """
# comments and blank lines

*.log
build/
/dist
.env
.env-*
!.env-example
docs/**/generated_*.py
!docs/keep/generated_ok.py
data[0-9].py
**/cache/
secret?.py
"""

FILES = [
    "app/main.py", "app/debug.log", "build/x.py", "app/build/y.py", "dist/z.py", "app/dist/w.py",
    ".env", ".env-prod", ".env-example", "docs/a/generated_api.py", "docs/keep/generated_ok.py",
    "data1.py", "data10.py", "pkg/cache/m.py", "cache.py", "secret1.py", "secret12.py", "tests/test_x.py",
]


def test_the_screen_matches_whenever_a_pattern_does():
    spec = pathspec.GitIgnoreSpec.from_lines(GITIGNORE.splitlines())
    screen = _any_pattern(spec)
    assert screen is not None
    for rel in FILES + [f + "/" for f in ("build", "app/build", "dist", "pkg/cache", "docs")]:
        matched = any(p.include is not None and p.match_file(rel) for p in spec.patterns)
        assert bool(screen.match(rel)) or not matched, rel


def test_discovery_keeps_exactly_what_it_keeps_without_the_screen(tmp_path: Path, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(GITIGNORE)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/.gitignore").write_text("!a/generated_api.py\nkeep/\n")  # a nested spec
    for rel in FILES:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    config = replace(Config(), root=str(tmp_path))
    screened = sorted(discover([str(tmp_path)], config, None).files)
    monkeypatch.setattr("wsrefactor.discovery._any_pattern", lambda spec: None)
    assert screened == sorted(discover([str(tmp_path)], config, None).files)
    kept = {Path(f).relative_to(tmp_path).as_posix() for f in screened}
    assert {"app/main.py", "data10.py", "secret12.py"} <= kept
    assert not kept & {"build/x.py", "dist/z.py", "data1.py", "secret1.py", "pkg/cache/m.py"}
