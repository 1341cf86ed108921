"""The result cache: warm runs reuse results, any change to a file or the config invalidates them."""

from __future__ import annotations

from tests.conftest import run_cli

SRC = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n"


def test_warm_run_same_output_and_invalidation(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    cold = run_cli("check", ".", "--select", "WS", cwd=tmp_path)
    assert (tmp_path / ".wsrefactor_cache" / ".gitignore").read_text().strip().endswith("*")
    warm = run_cli("check", ".", "--select", "WS", cwd=tmp_path)
    assert cold.stdout == warm.stdout and warm.returncode == 1
    (tmp_path / "a.py").write_text(SRC.replace("create_task(x())", "create_task(x())\n    asyncio.create_task(x())"))
    assert run_cli("check", ".", "--select", "WS", cwd=tmp_path).stdout.count("WS205") == 2
    (tmp_path / "pyproject.toml").write_text('[tool.wsrefactor]\nignore = ["WS205"]\n')
    assert run_cli("check", ".", "--select", "WS", cwd=tmp_path).returncode == 0


def test_no_cache_and_clean(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    run_cli("check", ".", "--no-cache", cwd=tmp_path)
    assert not (tmp_path / ".wsrefactor_cache").exists()
    run_cli("check", ".", cwd=tmp_path)
    assert (tmp_path / ".wsrefactor_cache").exists()
    r = run_cli("clean", cwd=tmp_path)
    assert r.returncode == 0 and not (tmp_path / ".wsrefactor_cache").exists()


def test_corrupt_cache_entry_is_a_miss(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    run_cli("check", ".", cwd=tmp_path)
    for entry in (tmp_path / ".wsrefactor_cache").rglob("*"):
        if entry.is_file() and entry.name != ".gitignore":
            entry.write_bytes(b"garbage")
    r = run_cli("check", ".", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 1 and "WS205" in r.stdout


def test_key_covers_rule_templates(tmp_path, monkeypatch):
    """Editing a fix template (``templates/*.jinja2``) must invalidate cached results: the cached
    edits were rendered from the old template."""
    import shutil

    import wsrefactor.rules
    from wsrefactor import cache

    pack = tmp_path / "rules"
    shutil.copytree(wsrefactor.rules.__path__[0], pack, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(wsrefactor.rules, "__path__", [str(pack)])
    before = cache.run_key("config")
    assert cache.run_key("config") == before  # stable while nothing changes
    template = pack / "templates" / "ws305_lua_constant.py.jinja2"
    template.write_text(template.read_text() + "# edited\n")
    assert cache.run_key("config") != before

