"""WS201 decided once, on the semantic model: cases that used to test its ``ast`` prefilter twin.

The twin is gone (WS201 is a ``SemanticRule``); the cases stay as regressions of the single
decision path: every positive case is a finding both for the plain check (``detections`` on the
``ast`` analyses, no libcst) and for the libcst fix/edits pass, and every negative case is silent
on both.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module, parse
from wsrefactor.registry import load_rules
from wsrefactor.semantic import Analyses

RULE = load_rules(())["WS201"]
EXTRA = {"extra-blocking-calls": ["mylib.db.query"]}


def _both_paths(text: str, options: dict) -> tuple[list[int], list[int]]:
    """Finding lines from the plain check's detections and from the libcst pass."""
    tree = ast.parse(text)
    plain = [d.line for d in RULE.detections(Analyses(tree, text, "case.py"), options)]
    config = Config(rule_options={"WS201": options})
    analysis = analyze_module("case.py", parse(text, "case.py"), [RULE], config, tree=tree, want_edits=True)
    return plain, [f.line for f in analysis.findings if f.code == "WS201"]


POSITIVE = {
    "aliased import": """
        from time import sleep as nap
        async def h():
            nap(1)
    """,
    "module alias of a package": """
        import urllib.request as ur
        async def h(url):
            return ur.urlopen(url).read()
    """,
    # the ast walk meets the nested import after the module-level one; libcst keeps the last in
    # source order (time.sleep), so the prefilter must keep every binding of ``sleep``
    "import rebound in a nested scope before the module-level one": """
        def setup():
            from fakeclock import sleep
        from time import sleep
        async def h():
            sleep(1)
    """,
    "builtin open in a comprehension": """
        async def h(paths):
            return [open(p).read() for p in paths]
    """,
    "blocking call in a nested def's default (runs in the async body)": """
        async def h():
            def inner(data=open("f").read()):
                return data
            return inner
    """,
    "session from an aliased constructor, used through with": """
        from requests import Session as S
        async def h(url):
            with S() as s:
                return s.get(url)
    """,
    "session constructor as the receiver": """
        import httpx
        async def h(url):
            return httpx.Client().post(url)
    """,
    "module-level path joined in the async body": """
        from pathlib import Path
        ROOT = Path(__file__).parent
        async def h():
            return (ROOT / "cfg.toml").read_text()
    """,
    "parameter annotated as a path": """
        import pathlib
        async def h(p: pathlib.Path):
            return p.read_bytes()
    """,
    "helper chain through methods": """
        import subprocess
        class Consumer:
            def _run(self):
                return subprocess.run(["ls"])
            def deploy(self):
                return self._run()
            async def receive(self, text):
                self.deploy()
    """,
    "helper chain through a nested sync def": """
        import os
        async def h():
            def wait():
                os.waitpid(0, 0)
            wait()
    """,
    "recursive sync helper": """
        import time
        def retry(n):
            time.sleep(1)
            return retry(n - 1)
        async def h():
            retry(3)
    """,
    "extra blocking call": """
        import mylib.db as db
        async def h():
            return db.query("select 1")
    """,
}

NEGATIVE = {
    "no async def": """
        import time, requests
        def worker():
            time.sleep(1)
            return requests.get("http://x")
    """,
    "blocking only in sync code no async def reaches": """
        import time
        def worker():
            time.sleep(1)
        def main():
            worker()
        async def h(ws):
            await ws.send_text("x")
    """,
    "awaited or handed to a thread": """
        import asyncio, time, requests
        async def h(url, loop):
            await asyncio.to_thread(time.sleep, 1)
            return await loop.run_in_executor(None, requests.get, url)
    """,
    "own function named like a blocking one": """
        async def sleep(s):
            return s
        async def h():
            await sleep(1)
    """,
    "open shadowed at module level": """
        def open(path):
            return path
        async def h():
            return open("f")
    """,
    "blocking call in a lambda or nested def only": """
        import asyncio, time
        async def h(loop):
            def part():
                time.sleep(1)
            await asyncio.to_thread(part)
            await loop.run_in_executor(None, lambda: time.sleep(1))
    """,
    "threaded helper": """
        import time
        from asgiref.sync import sync_to_async
        @sync_to_async
        def load():
            time.sleep(1)
        async def h():
            load()
    """,
    "async client and session methods without a sync session": """
        import httpx
        async def h(url, session):
            async with httpx.AsyncClient() as client:
                r = await client.get(url)
            return session.get(url), r
    """,
    "sync session built in another function": """
        import requests
        def make():
            return requests.Session()
        async def h(s, url):
            return s.get(url)
    """,
    "path methods without pathlib": """
        import anyio
        async def h(p):
            return await anyio.Path(p).read_text() + p.read_text()
    """,
    "path methods on attributes": """
        from pathlib import Path
        async def h(self):
            return self.config.read_text()
    """,
    "helper imported, not defined here": """
        import time
        from helpers import fetch
        def unused():
            time.sleep(1)
        async def h():
            fetch()
    """,
    "extra blocking call not configured": """
        import mylib.db as db
        async def h():
            return db.query("select 1")
    """,
}


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_found_on_both_paths(name):
    text = textwrap.dedent(POSITIVE[name])
    plain, edits = _both_paths(text, EXTRA if name == "extra blocking call" else {})
    assert plain and plain == edits


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_silent_on_both_paths(name):
    assert _both_paths(textwrap.dedent(NEGATIVE[name]), {}) == ([], [])


def test_the_only_gate_is_declared():
    assert RULE.tokens == ("async",)
    assert RULE.wants("import time\nasync def h():\n    time.sleep(1)\n", None, {})
    assert not RULE.wants("import time\ndef h():\n    time.sleep(1)\n", None, {})
