"""The tool's own security: analysed code is never imported or run.

- a file whose top level would exit, write a file or open a socket is checked and fixed with no
  effect (no marker file, no connection, the exit status is the findings' one);
- rule plugins load only from the packaged pack and the paths the config names: rule-looking
  modules, ``conftest.py``, ``sitecustomize.py`` in the analysed tree or on ``sys.path`` are not
  imported;
- ``bandit -r wsrefactor rules -ll`` (medium severity and above) is clean.

Trust boundary (the README's reliability section): the config's ``plugins`` are imported by design,
so running wsrefactor on an untrusted repository's own ``pyproject.toml`` runs its plugins —
pass ``--config`` with your own file for untrusted code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

DANGLING = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n"


def hostile_module(marker: Path, port: int) -> str:
    return (
        "import asyncio, os, socket, subprocess, sys\n"
        f"open({str(marker)!r}, 'w').write('module top level ran')\n"
        f"socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'pwned')\n"
        f"os.system('touch {marker}.os')\n"
        "sys.exit(3)\n"
        "\n\n"
        "async def handler(ws, x):\n"
        "    asyncio.create_task(x())\n"
    )


EVIL_FILES = {
    "conftest.py": "import pathlib; pathlib.Path({m!r}, 'conftest').touch()\n",
    "sitecustomize.py": "import pathlib; pathlib.Path({m!r}, 'sitecustomize').touch()\n",
    "usercustomize.py": "import pathlib; pathlib.Path({m!r}, 'usercustomize').touch()\n",
    "wsrefactor_plugin_evil.py": "import pathlib; pathlib.Path({m!r}, 'plugin_evil').touch()\n",
    "wsrefactor_rules.py": "import pathlib; pathlib.Path({m!r}, 'wsrefactor_rules').touch()\n",
    "rules/__init__.py": "import pathlib; pathlib.Path({m!r}, 'rules_pkg').touch()\n",
    "rules/ws999_evil.py": (
        "import pathlib; pathlib.Path({m!r}, 'rules_ws999').touch()\n"
        "from wsrefactor.rule import Rule\n"
        "class Evil(Rule):\n    code = 'WS999'\n    name = 'evil'\n"
    ),
    "plugins/our_rules.py": "import pathlib; pathlib.Path({m!r}, 'unlisted_plugin').touch()\n",
}


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    yield server
    server.close()


def _nobody_connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except (socket.timeout, OSError):
        return True
    conn.close()
    return False


def console_script() -> Path | None:
    script = Path(sys.executable).parent / ("wsrefactor.exe" if os.name == "nt" else "wsrefactor")
    return script if script.exists() else None


@pytest.mark.parametrize("command", ["check", "fix"])
def test_analysed_code_never_runs(tmp_path, listener, command):
    markers = tmp_path / "markers"
    markers.mkdir()
    marker = markers / "ran"
    tree = tmp_path / "project"
    tree.mkdir()
    path = tree / "server.py"
    path.write_text(hostile_module(marker, listener.getsockname()[1]))
    args = [command, ".", "--select", "WS", "--no-cache"] + (["--unsafe-fixes"] if command == "fix" else [])
    r = run_cli(*args, cwd=tree)
    assert r.returncode == 1 if command == "check" else r.returncode in (0, 1), r.stdout + r.stderr
    assert r.returncode != 3 and "Traceback" not in r.stderr
    assert list(markers.iterdir()) == [] and not Path(f"{marker}.os").exists()
    assert _nobody_connected(listener)
    if command == "check":
        assert "server.py:9:5: WS205" in r.stdout
    else:
        assert "_keep_task(asyncio.create_task(x()))" in path.read_text()
        assert "sys.exit(3)" in path.read_text()


def _evil_tree(tmp_path: Path) -> tuple[Path, Path]:
    markers = tmp_path / "markers"
    markers.mkdir()
    tree = tmp_path / "project"
    for name, body in EVIL_FILES.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body.format(m=str(markers)))
    (tree / "app.py").write_text(DANGLING)
    return tree, markers


def test_rule_looking_modules_in_the_tree_are_not_imported(tmp_path):
    tree, markers = _evil_tree(tmp_path)
    # From elsewhere, with the tree as the argument, and from inside the tree via the console
    # script (what users, pre-commit and CI run).
    runs = [run_cli("check", str(tree), "--no-cache", "--format", "json", cwd=tmp_path)]
    script = console_script()
    if script is not None:
        runs.append(subprocess.run(
            [str(script), "check", ".", "--no-cache", "--format", "json"],
            cwd=tree, capture_output=True, text=True, timeout=300,
        ))
    for r in runs:
        assert r.returncode == 1, r.stderr
        codes = {f["code"] for f in json.loads(r.stdout)}
        assert "WS205" in codes and "WS999" not in codes
    assert sorted(p.name for p in markers.iterdir()) == []


def test_only_the_configured_plugin_path_is_imported(tmp_path):
    """Positive control: the marker mechanism does see an import when the config names it."""
    tree, markers = _evil_tree(tmp_path)
    (tree / "pyproject.toml").write_text('[tool.wsrefactor]\nplugins = ["plugins/our_rules.py"]\n')
    r = run_cli("check", str(tree), "--no-cache", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert sorted(p.name for p in markers.iterdir()) == ["unlisted_plugin"]  # only the named one


def test_modules_on_sys_path_are_not_taken_for_rules(tmp_path):
    """A ``wsrefactor_plugin_*``/rules-looking module importable from PYTHONPATH is ignored."""
    tree, markers = _evil_tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(tree), NO_COLOR="1")
    r = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", str(tree / "app.py"), "--no-cache"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert r.returncode == 1, r.stderr
    # sitecustomize/usercustomize on PYTHONPATH are Python's own start-up hooks, not ours.
    assert sorted(p.name for p in markers.iterdir() if p.name not in ("sitecustomize", "usercustomize")) == []


@pytest.mark.skipif(console_script() is None, reason="console script not installed")
def test_console_script_does_not_import_modules_from_the_analysed_directory(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    tree = tmp_path / "project"
    tree.mkdir()
    for name in ("typer", "libcst", "click", "pathspec", "bandit", "jinja2"):
        (tree / f"{name}.py").write_text(f"import pathlib; pathlib.Path({str(markers)!r}, {name!r}).touch()\n")
    (tree / "app.py").write_text(DANGLING)
    r = subprocess.run([str(console_script()), "check", ".", "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert list(markers.iterdir()) == []


def test_python_dash_m_does_not_import_modules_from_the_analysed_directory(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    tree = tmp_path / "project"
    tree.mkdir()
    (tree / "typer.py").write_text(f"import pathlib; pathlib.Path({str(markers)!r}, 'typer').touch()\n")
    (tree / "app.py").write_text(DANGLING)
    run_cli("check", ".", "--no-cache", cwd=tree)
    assert list(markers.iterdir()) == []


@pytest.mark.slow  # the bandit CLI over wsrefactor and rules
def test_bandit_medium_and_above_is_clean():
    r = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", "wsrefactor", "rules", "-ll", "-q", "-f", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    report = json.loads(r.stdout)
    found = [f"{x['filename']}:{x['line_number']}: {x['test_id']} {x['issue_text']}" for x in report["results"]]
    assert found == [], "\n".join(found)
    assert report["errors"] == []
