"""WS205 dangling-task on the semantic model: which discarded calls spawn a task (qualified names
through the imports, event loops from their values), the same findings on the plain and the
edits path, a plain check without libcst, and the fixes (``_keep_task``, the configured helper)."""

from __future__ import annotations

import pytest

from tests.rules._semantic_paths import job, lines, no_libcst, write
from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, fix_text
from wsrefactor.registry import load_rules
from wsrefactor.runner import process_file

RULE = load_rules(())["WS205"]

FOUND = {
    "renamed spawner": """
        from asyncio import ensure_future as spawn
        async def start(coro):
            spawn(coro)
    """,
    "module alias": """
        import asyncio as aio
        async def start(coro):
            aio.create_task(coro)
    """,
    "assigned to _": """
        async def start(self, coro):
            _ = self._event_loop.create_task(coro)
    """,
    "running loop": """
        from asyncio import get_running_loop as current
        async def start(coro):
            current().create_task(coro)
    """,
    "generic subscript": """
        import asyncio
        async def start(coro):
            asyncio.tasks.create_task[None](coro)
    """,
    "a name bound to the running loop": """
        import asyncio
        async def start(coro):
            lp = asyncio.get_running_loop()
            lp.create_task(coro)
    """,
}
CLEAN = {
    "kept": """
        import asyncio
        async def start(coro):
            task = asyncio.create_task(coro)
            await task
    """,
    "task group": """
        import asyncio
        async def start(coro):
            async with asyncio.TaskGroup() as tg:
                tg.create_task(coro)
    """,
    "own function": """
        def create_task(x):
            return x
        create_task(1)
    """,
    "awaited and stored": """
        import asyncio
        async def start(coro, tasks):
            await asyncio.ensure_future(coro)
            tasks.append(asyncio.create_task(coro))
    """,
    "a parameter shadows asyncio": """
        async def start(asyncio, coro):
            asyncio.create_task(coro)
    """,
    "a name bound to something else than a loop": """
        async def start(pool, coro):
            worker = pool.get()
            worker.create_task(coro)
    """,
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found(tmp_path, case):
    assert len(lines("WS205", write(tmp_path, FOUND[case]))) == 1


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_clean(tmp_path, case):
    assert lines("WS205", write(tmp_path, CLEAN[case])) == []


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    paths = [write(tmp_path, source, f"case_{i}.py") for i, source in enumerate(FOUND.values())]
    no_libcst(monkeypatch)
    results = [process_file(str(p), job("WS205")) for p in paths]
    assert [r.internal_error for r in results] == [None] * len(paths)
    assert [len(r.findings) for r in results] == [1] * len(paths)
    assert "libcst parsed" in (process_file(str(paths[0]), job("WS205", want_edits=True)).internal_error or "")


def _fixed(source: str, options: dict | None = None) -> str:
    config = Config(rule_options={"WS205": options or {}})
    return fix_text("case.py", source, [RULE], config, FixPolicy(unsafe=True)).text


def test_fix_keeps_the_task_and_a_second_fix_is_a_no_op():
    source = "import asyncio\n\n\nasync def on(m):\n    asyncio.get_running_loop().create_task(m)\n"
    once = _fixed(source)
    assert "    _keep_task(asyncio.get_running_loop().create_task(m))\n" in once
    assert "def _keep_task(task):" in once
    assert _fixed(once) == once


def test_configured_helper_only_for_a_bare_coroutine():
    source = "import asyncio\n\n\nasync def on(m):\n    asyncio.create_task(m)\n    asyncio.create_task(m, name='x')\n"
    out = _fixed(source, {"task-helper": "chat.tasks.spawn"})
    assert "    spawn(m)\n" in out
    assert "    _keep_task(asyncio.create_task(m, name='x'))\n" in out
    assert "from chat.tasks import spawn\n" in out
