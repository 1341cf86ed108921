"""Baselines: shifted lines keep old findings recorded; exactly the new flaw is reported."""

from __future__ import annotations

import json

from tests.conftest import run_cli

SRC = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n\n\nasync def g(x):\n    asyncio.ensure_future(x())\n"


def test_baseline_shift_and_one_new_flaw(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    r = run_cli("baseline", ".", "--output", "bl.json", "--select", "WS", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "bl.json").read_text())
    assert sum(e["count"] for e in data["entries"].values()) == 2
    assert run_cli("check", ".", "--baseline", "bl.json", "--select", "WS", cwd=tmp_path).returncode == 0
    shifted = "# a header comment\n\nimport os\n\n" + SRC + "\n\nasync def h(x):\n    asyncio.create_task(x())\n"
    (tmp_path / "a.py").write_text(shifted)
    r = run_cli("check", ".", "--baseline", "bl.json", "--select", "WS", "--format", "json", cwd=tmp_path)
    found = json.loads(r.stdout)
    assert r.returncode == 1 and len(found) == 1
    assert found[0]["line"] == shifted.splitlines().index("    asyncio.create_task(x())", 12) + 1


def test_fixed_finding_leaves_the_baseline(tmp_path):
    (tmp_path / "a.py").write_text(SRC)
    run_cli("baseline", ".", "--output", "bl.json", "--select", "WS", cwd=tmp_path)
    run_cli("fix", ".", "--select", "WS205", cwd=tmp_path)
    run_cli("baseline", ".", "--output", "bl.json", "--select", "WS", cwd=tmp_path)
    assert json.loads((tmp_path / "bl.json").read_text())["entries"] == {}


def test_bad_baseline_file_is_exit_2(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "bl.json").write_text("{nope")
    r = run_cli("check", ".", "--baseline", "bl.json", cwd=tmp_path)
    assert r.returncode == 2 and "bl.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("check", ".", "--baseline", "missing.json", cwd=tmp_path)
    assert r.returncode == 2 and "not found" in r.stderr
