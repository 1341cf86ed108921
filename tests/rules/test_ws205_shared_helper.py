"""WS205 in a package: one generated ``background_tasks`` module, imported where used — never a
copy of ``_keep_task`` per module; a second run changes nothing."""

from __future__ import annotations

from tests.conftest import run_cli
from wsrefactor.rules.ws205_dangling_task import SHARED_TEXT


def _package(tmp_path):
    (tmp_path / "chat" / "sub").mkdir(parents=True)
    (tmp_path / "chat" / "__init__.py").write_text("")
    (tmp_path / "chat" / "sub" / "__init__.py").write_text("")
    (tmp_path / "chat" / "a.py").write_text("import asyncio\n\n\nasync def on(m):\n    asyncio.create_task(m)\n")
    (tmp_path / "chat" / "sub" / "b.py").write_text("import asyncio\n\n\nasync def on(m):\n    asyncio.ensure_future(m)\n")


def test_one_shared_module_for_the_package(tmp_path):
    _package(tmp_path)
    r = run_cli("fix", "--select", "WS205", "--no-cache", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "chat" / "background_tasks.py").read_text() == SHARED_TEXT
    for path in ("chat/a.py", "chat/sub/b.py"):
        text = (tmp_path / path).read_text()
        assert "from chat.background_tasks import keep_task\n" in text and "keep_task(asyncio." in text
        assert "_keep_task" not in text and "_background_tasks" not in text
    again = run_cli("fix", "--select", "WS205", "--no-cache", "--diff", ".", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == ""


def test_a_different_module_of_that_name_is_never_used(tmp_path):
    _package(tmp_path)
    (tmp_path / "chat" / "background_tasks.py").write_text("JOBS = []\n")
    run_cli("fix", "--select", "WS205", "--no-cache", ".", cwd=tmp_path)
    assert (tmp_path / "chat" / "background_tasks.py").read_text() == "JOBS = []\n"
    assert "def _keep_task(task):" in (tmp_path / "chat" / "a.py").read_text()
