"""The test suite's own layout: the ``slow`` list names real paths, the marker is registered, and
every test folder is a package (so equal module names in two folders never clash)."""

from __future__ import annotations

import sys

from tests.conftest import REPO, SLOW_PATHS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_every_slow_path_exists() -> None:
    missing = [p for p in SLOW_PATHS if not (REPO / p).exists()]
    assert missing == [], f"tests/conftest.py SLOW_PATHS names paths that are gone: {missing}"


def test_slow_marker_is_registered() -> None:
    ini = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert any(m.split(":")[0] == "slow" for m in ini.get("markers", [])), ini


# tests/realistic/ is the realistic package's own suite, also run on its own against fixed copies
# (``WSAPP_ROOT=/tmp/copy python -m pytest tests/realistic``); it is left exactly as those runs use it.
STANDALONE = {REPO / "tests" / "realistic"}


def test_every_test_folder_is_a_package() -> None:
    folders = {p.parent for p in (REPO / "tests").rglob("test_*.py")} - STANDALONE
    assert [f for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def test_every_rule_has_its_own_test_module() -> None:
    """``tests/rules/test_<code>.py`` for each packaged rule: where a newcomer looks first."""
    from wsrefactor.registry import load_rules

    missing = [code for code in load_rules(()) if not (REPO / "tests" / "rules" / f"test_{code.lower()}.py").exists()]
    assert missing == []
