"""The ``wants`` prefilter of WS202 on shapes the soundness corpus may not hold.

Each positive case is checked twice: the full rule (prefilter bypassed) reports on it, and
``wants`` says yes. Each negative case: the full rule finds nothing and ``wants`` says no (the file
never reaches libcst). WS204 and WS205 decide on the semantic model and have no prefilter: their
cases live in ``tests/rules/test_ws204.py`` and ``tests/rules/test_ws205.py``.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module, parse
from wsrefactor.registry import load_rules

RULES = load_rules(())


def _reports(code: str, text: str) -> bool:
    analysis = analyze_module("case.py", parse(text, "case.py"), [RULES[code]], Config(), tree=ast.parse(text))
    return any(f.code == code for f in analysis.findings)


def _check(code: str, source: str, positive: bool) -> None:
    text = textwrap.dedent(source).lstrip("\n")
    assert _reports(code, text) is positive
    assert RULES[code].wants(text, ast.parse(text), {}) is positive


# -- WS202 ---------------------------------------------------------------------------------

_ENDPOINT = """
    from fastapi import FastAPI, WebSocket
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            if text == "stream":
                await stream(websocket)
"""



def _with_endpoint(helpers: str) -> str:
    return textwrap.dedent(_ENDPOINT) + textwrap.dedent(helpers)


WS202_POSITIVE = {
    "direct send": """
        import asyncio
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                await asyncio.sleep(1)
    """,
    "renamed sleep, send through two helpers": """
        from anyio import sleep as nap
        async def push(ws, i):
            await deliver(ws, i)
        async def deliver(ws, i):
            await ws.send_json({"i": i})
        async def stream(ws):
            while True:
                await push(ws, 1)
                await nap(0.5)
    """,
    "gathered": """
        import asyncio
        async def ticker(ws):
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(1)
        async def stream(ws):
            await asyncio.gather(ticker(ws), asyncio.sleep(0))
    """,
    "non-literal delay": """
        import asyncio
        async def stream(ws, period=1):
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(delay=period)
    """,
}
WS202_NEGATIVE = {
    "zero sleep": """
        import asyncio
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                await asyncio.sleep(0)
    """,
    "back-off in a handler": """
        import asyncio
        async def stream(ws):
            while True:
                try:
                    await ws.send_text("x")
                    return
                except OSError:
                    await asyncio.sleep(1)
    """,
    "loop that sends nothing": """
        import asyncio
        async def stream(ws):
            for i in range(10):
                print(i)
                await asyncio.sleep(1)
            await ws.send_text("done")
    """,
    "sleep in a nested function": """
        import asyncio
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                async def later():
                    await asyncio.sleep(1)
    """,
    "started as a task": """
        import asyncio
        async def ticker(ws):
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(1)
        async def stream(ws):
            asyncio.ensure_future(ticker(ws))
    """,
    "time.sleep": """
        import time
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                time.sleep(1)
    """,
}


@pytest.mark.parametrize("case", sorted(WS202_POSITIVE))
def test_ws202_wants_paced_streams(case):
    _check("WS202", _with_endpoint(WS202_POSITIVE[case]), True)


@pytest.mark.parametrize("case", sorted(WS202_NEGATIVE))
def test_ws202_skips_unpaced_loops(case):
    _check("WS202", _with_endpoint(WS202_NEGATIVE[case]), False)


def test_ws202_wants_a_loop_nested_in_the_receive_loop():
    text = textwrap.dedent("""
        import asyncio
        from websockets.asyncio.server import serve
        async def handler(ws):
            async for message in ws:
                for part in message.split():
                    await ws.send(part)
                    await asyncio.sleep(0.1)
        async def main():
            async with serve(handler, "", 8000):
                await asyncio.Future()
    """)
    assert _reports("WS202", text)
    assert RULES["WS202"].wants(text, ast.parse(text), {})


def test_ws202_wants_a_receive_callback():
    text = textwrap.dedent("""
        import trio
        from tornado import websocket
        class Ticker(websocket.WebSocketHandler):
            async def on_message(self, message):
                for i in range(3):
                    self.write_message(str(i))
                    await trio.sleep(1)
    """)
    assert _reports("WS202", text)
    assert RULES["WS202"].wants(text, ast.parse(text), {})


def test_ws202_needs_an_endpoint_import():
    """The same paced stream with no framework import: there can be no endpoint to read from."""
    text = textwrap.dedent(WS202_POSITIVE["direct send"])
    assert not _reports("WS202", text)
    assert not RULES["WS202"].wants(text, ast.parse(text), {})
