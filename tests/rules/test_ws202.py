"""WS202 inline-pacing-sleep on the semantic model: a paced loop is a *send* loop when a call in it
sends to a client, decided from the callee's body (same module, a few calls deep) or from the
receiver being a connection value, never from the method's name (issue #12, miss 4); the same
findings on the plain and the edits path, and a plain check that never parses libcst."""

from __future__ import annotations

import textwrap

import pytest

from tests.rules._semantic_paths import job, lines, no_libcst, write
from wsrefactor.runner import process_file
from wsrefactor.testing import fix_source

# A FastAPI endpoint whose receive loop awaits ``stream(websocket)`` inline.
ENDPOINT = """
import asyncio
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


def _case(helpers: str) -> str:
    return textwrap.dedent(ENDPOINT) + textwrap.dedent(helpers)


FOUND = {
    # issue #12, miss 4: any send method, decided from the callee's body
    "send_to_session looks the connection up and sends": _case("""
        class Sessions:
            def __init__(self):
                self.by_id: dict[str, WebSocket] = {}

            async def send_to_session(self, session_id, data):
                connection = self.by_id.get(session_id)
                if connection is not None:
                    await connection.send_text(data)

        sessions = Sessions()

        async def stream(websocket):
            for i in range(10):
                await sessions.send_to_session("me", str(i))
                await asyncio.sleep(1)
    """),
    "send_personal_message through helpers three calls deep, generic send on a connection": _case("""
        class Manager:
            async def send_personal_message(self, message, websocket):
                await self._deliver(websocket, message)

            async def _deliver(self, ws, message):
                await self._write(ws, message)

            async def _write(self, ws, message):
                await ws.send(message)

        manager = Manager()

        async def stream(websocket):
            while True:
                await manager.send_personal_message("tick", websocket)
                await asyncio.sleep(0.5)
    """),
    "send_to_connection through self.attr of a class of the module, two calls deep": _case("""
        class Sessions:
            def __init__(self):
                self.by_id: dict[str, WebSocket] = {}

            async def send_to_connection(self, connection_id, data):
                await self._push(self.by_id[connection_id], data)

            async def _push(self, ws, data):
                await ws.send_text(data)

        class Streamer:
            def __init__(self):
                self.sessions = Sessions()

            async def run(self, websocket):
                for i in range(10):
                    await self.sessions.send_to_connection("me", str(i))
                    await asyncio.sleep(1)

        streamer = Streamer()

        async def stream(websocket):
            await streamer.run(websocket)
    """),
    "send_to_connection of a function, the connection passed in": _case("""
        async def send_to_connection(conn, payload):
            await conn.send({"type": "websocket.send", "text": payload})

        async def stream(websocket):
            for i in range(3):
                await send_to_connection(websocket, str(i))
                await asyncio.sleep(2)
    """),
    # the prefilter cases of the libcst version (tests/test_prefilter_ws20x.py, removed)
    "direct send": _case("""
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                await asyncio.sleep(1)
    """),
    "renamed sleep, send through two helpers": _case("""
        from anyio import sleep as nap

        async def push(ws, i):
            await deliver(ws, i)

        async def deliver(ws, i):
            await ws.send_json({"i": i})

        async def stream(ws):
            while True:
                await push(ws, 1)
                await nap(0.5)
    """),
    "gathered": _case("""
        async def ticker(ws):
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(1)

        async def stream(ws):
            await asyncio.gather(ticker(ws), asyncio.sleep(0))
    """),
    "non-literal delay": _case("""
        async def stream(ws, period=1):
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(delay=period)
    """),
    "a loop nested in a websockets receive loop": """
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
    """,
    "a tornado receive callback": """
        import trio
        from tornado import websocket

        class Ticker(websocket.WebSocketHandler):
            async def on_message(self, message):
                for i in range(3):
                    self.write_message(str(i))
                    await trio.sleep(1)
    """,
    "a Channels callback sending with the generic send on self": """
        import asyncio
        from channels.generic.websocket import AsyncWebsocketConsumer

        class Countdown(AsyncWebsocketConsumer):
            async def receive(self, text_data=None, bytes_data=None):
                for n in range(int(text_data), 0, -1):
                    await self.send(text_data=str(n))
                    await asyncio.sleep(1)
    """,
    "a paced loop in a Channels connect callback": """
        import asyncio
        import json
        from channels.generic.websocket import AsyncWebsocketConsumer

        class Numbers(AsyncWebsocketConsumer):
            async def connect(self):
                await self.accept()
                for i in range(1000):
                    await self.send(json.dumps({"n": i}))
                    await asyncio.sleep(1)
    """,
    "a tornado coroutine open() that streams forever": """
        from asyncio import sleep
        from tornado.websocket import WebSocketHandler

        class Monitor(WebSocketHandler):
            async def open(self):
                while True:
                    await self.write_message("sample")
                    await sleep(5)

            def on_message(self, message):
                self.write_message(message)
    """,
    "a paced helper awaited from a Starlette on_connect": """
        import asyncio
        from starlette.endpoints import WebSocketEndpoint

        class Intro(WebSocketEndpoint):
            async def on_connect(self, websocket):
                await websocket.accept()
                await self.replay(websocket)

            async def replay(self, websocket):
                for line in ("a", "b", "c"):
                    await websocket.send_text(line)
                    await asyncio.sleep(0.5)
    """,
    "a paced async generator consumed by a sending async for": """
        import asyncio
        from fastapi import FastAPI, WebSocket

        app = FastAPI()

        async def fake_stream(prompt):
            for word in prompt.split():
                await asyncio.sleep(0.5)
                yield word

        @app.websocket("/chat")
        async def chat(websocket: WebSocket):
            await websocket.accept()
            while True:
                prompt = await websocket.receive_text()
                async for token in fake_stream(prompt):
                    await websocket.send_text(token)
    """,
    "a receive loop of a connection outside any endpoint": """
        import asyncio
        from starlette.websockets import WebSocket

        class Session:
            def __init__(self, websocket: WebSocket):
                self.websocket = websocket

            async def run(self):
                while True:
                    command = await self.websocket.receive_text()
                    await self.replay(command)

            async def replay(self, command):
                for line in command.splitlines():
                    await self.websocket.send_text(line)
                    await asyncio.sleep(0.2)
    """,
}

CLEAN = {
    # hard negatives: named like a send, but nothing reaches a connection
    "a same-module send_* method that only fills a queue": _case("""
        class Outbox:
            def __init__(self):
                self.queue = asyncio.Queue()

            async def send_update(self, item):
                await self.queue.put(item)

        outbox = Outbox()

        async def stream(websocket):
            for i in range(10):
                await outbox.send_update(i)
                await asyncio.sleep(1)
    """),
    "send() on a generator": _case("""
        def averager():
            total = 0
            while True:
                total += yield total

        async def stream(websocket):
            gen = averager()
            next(gen)
            for i in range(10):
                gen.send(i)
                await asyncio.sleep(1)
    """),
    "send() on a memory stream": _case("""
        import anyio

        async def stream(websocket):
            send_stream, receive_stream = anyio.create_memory_object_stream(10)
            for i in range(10):
                await send_stream.send(i)
                await asyncio.sleep(1)
    """),
    "a Channels connect callback that starts the paced loop as a task": """
        import asyncio
        from channels.generic.websocket import AsyncWebsocketConsumer

        class Numbers(AsyncWebsocketConsumer):
            async def connect(self):
                await self.accept()
                self.ticker = asyncio.create_task(self.tick())

            async def tick(self):
                while True:
                    await self.send(text_data="tick")
                    await asyncio.sleep(1)
    """,
    "a paced async generator collected, not sent": """
        import asyncio
        from fastapi import FastAPI, WebSocket

        app = FastAPI()

        async def fake_stream(prompt):
            for word in prompt.split():
                await asyncio.sleep(0.5)
                yield word

        @app.websocket("/chat")
        async def chat(websocket: WebSocket):
            await websocket.accept()
            while True:
                prompt = await websocket.receive_text()
                words = []
                async for token in fake_stream(prompt):
                    words.append(token)
                await websocket.send_text(" ".join(words))
    """,
    "a paced async generator served over HTTP": """
        import asyncio
        from fastapi import FastAPI
        from fastapi.responses import StreamingResponse

        app = FastAPI()

        async def fake_stream(prompt):
            for word in prompt.split():
                await asyncio.sleep(0.5)
                yield word

        @app.get("/chat")
        async def chat(prompt: str):
            return StreamingResponse(fake_stream(prompt))
    """,
    # documented silence: the callee is in another module, the receiver of unknown kind
    "an imported manager's send method": _case("""
        from .manager import manager

        async def stream(websocket):
            for i in range(10):
                await manager.send_to_session("me", str(i))
                await asyncio.sleep(1)
    """),
    # the negative prefilter cases of the libcst version
    "zero sleep": _case("""
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                await asyncio.sleep(0)
    """),
    "back-off in a handler": _case("""
        async def stream(ws):
            while True:
                try:
                    await ws.send_text("x")
                    return
                except OSError:
                    await asyncio.sleep(1)
    """),
    "loop that sends nothing": _case("""
        async def stream(ws):
            for i in range(10):
                print(i)
                await asyncio.sleep(1)
            await ws.send_text("done")
    """),
    "sleep in a nested function": _case("""
        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                async def later():
                    await asyncio.sleep(1)
    """),
    "started as a task": _case("""
        async def ticker(ws):
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(1)

        async def stream(ws):
            asyncio.ensure_future(ticker(ws))
    """),
    "time.sleep": _case("""
        import time

        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                time.sleep(1)
    """),
    "no framework import: no receive loop": """
        import asyncio

        async def stream(ws):
            for i in range(10):
                await ws.send_text(str(i))
                await asyncio.sleep(1)
    """,
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found(tmp_path, case):
    assert len(lines("WS202", write(tmp_path, FOUND[case]))) == 1


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_clean(tmp_path, case):
    assert lines("WS202", write(tmp_path, CLEAN[case])) == []


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    paths = [write(tmp_path, source, f"case_{i}.py") for i, source in enumerate(FOUND.values())]
    no_libcst(monkeypatch)
    results = [process_file(str(p), job("WS202")) for p in paths]
    assert [r.internal_error for r in results] == [None] * len(paths)
    assert [len(r.findings) for r in results] == [1] * len(paths)
    assert "libcst parsed" in (process_file(str(paths[0]), job("WS202", want_edits=True)).internal_error or "")


def test_message_names_the_endpoint_and_the_chain(tmp_path):
    path = write(tmp_path, FOUND["send_personal_message through helpers three calls deep, generic send on a connection"])
    (finding,) = process_file(str(path), job("WS202")).findings
    assert "receive loop of `endpoint` (endpoint -> stream)" in finding.message
    assert finding.fix is not None  # fixable: `await stream(websocket)` is a whole statement of the loop


def test_a_connection_outside_an_endpoint_is_named_by_its_reader(tmp_path):
    path = write(tmp_path, FOUND["a receive loop of a connection outside any endpoint"])
    (finding,) = process_file(str(path), job("WS202")).findings
    assert "receive loop of `run` (run -> self.replay)" in finding.message


def test_fix_spawns_a_stream_found_through_a_send_method(tmp_path):
    source = textwrap.dedent(FOUND["send_to_session looks the connection up and sends"]).lstrip("\n")
    fixed = fix_source(source, ["WS202"])
    assert "_spawn(stream(websocket), stream_tasks)" in fixed
    assert "_cancel_tasks(stream_tasks)" in fixed
    assert fix_source(fixed, ["WS202"]) == fixed


def test_a_connect_callback_is_named_in_the_chain(tmp_path):
    path = write(tmp_path, FOUND["a paced helper awaited from a Starlette on_connect"])
    (finding,) = process_file(str(path), job("WS202")).findings
    assert "receive loop of `Intro` (Intro -> on_connect -> self.replay)" in finding.message
    assert finding.fix is None  # callbacks get no fix
