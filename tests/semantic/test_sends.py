"""Send facts (``wsrefactor.semantic.sends.Sends``): a call sends to a client because of what its
callee does or what its receiver is, never because of the method's name."""

from __future__ import annotations

import ast
import textwrap

from wsrefactor.semantic import Analyses, SemanticModel
from wsrefactor.semantic.sends import Sends

SOURCE = """
import asyncio
import socketio
from fastapi import FastAPI, WebSocket
from .elsewhere import remote

app = FastAPI()
sio = socketio.AsyncServer()


class Outbox:
    def __init__(self):
        self.queue = asyncio.Queue()

    async def send_update(self, item):
        await self.queue.put(item)


class Hub:
    def __init__(self):
        self.peers: dict[str, WebSocket] = {}

    async def notify(self, peer, data):
        await self._relay(self.peers[peer], data)

    async def _relay(self, ws, data):
        await self._write(ws, data)

    async def _write(self, ws, data):
        await ws.send_bytes(data)


outbox = Outbox()
hub = Hub()


async def deliver(conn, data):
    await conn.send(data)


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    gen = iter(())
    await websocket.send({"type": "websocket.send", "text": "x"})  # connection value, generic send
    await websocket.send_denial_response(None)  # any send_* of a connection
    await deliver(websocket, "x")  # callee sends on the connection passed in
    await hub.notify("a", b"x")  # callee sends three calls deep
    await outbox.send_update(1)  # named send_*, only fills a queue
    gen.send(None)  # a generator
    await remote.send_to_session("a", "x")  # callee in another module, receiver of unknown kind
    await remote.send_json({})  # a method only connections offer
    await sio.emit("tick", {})  # a socket.io server
    await websocket.close()  # a connection method that does not send
"""


def _calls() -> list[tuple[str, bool, bool]]:
    """(callee text, ``call_sends``, ``direct``) for each statement-level call of ``endpoint``."""
    text = textwrap.dedent(SOURCE).lstrip("\n")
    analyses = Analyses(ast.parse(text), text, "m.py")
    sends, model = analyses(Sends), analyses(SemanticModel)
    out = []
    for call, scope in model.calls():
        stmt = model.statement_of(call)
        top = stmt.value.value if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Await) else (
            stmt.value if isinstance(stmt, ast.Expr) else None)
        if scope.name == "endpoint" and call is top:
            out.append((analyses.segment(call.func), sends.call_sends(call, scope), sends.direct(call, scope)))
    return out


def test_a_call_sends_by_what_it_does():
    sent = {name: (via_callee, direct) for name, via_callee, direct in _calls()}
    assert sent == {
        "websocket.send": (True, True),
        "websocket.send_denial_response": (True, True),
        "deliver": (True, False),
        "hub.notify": (True, False),
        "outbox.send_update": (False, False),
        "gen.send": (False, False),
        "remote.send_to_session": (False, False),
        "remote.send_json": (True, True),
        "sio.emit": (True, True),
        "websocket.close": (False, False),
    }


def test_depth_bounds_the_callee_chain():
    text = textwrap.dedent(SOURCE).lstrip("\n")
    analyses = Analyses(ast.parse(text), text, "m.py")
    sends, model = analyses(Sends), analyses(SemanticModel)
    (notify,) = [(c, s) for c, s in model.calls() if analyses.segment(c.func) == "hub.notify"]
    assert sends.call_sends(*notify, depth=3)
    assert not sends.call_sends(*notify, depth=2)  # notify -> _relay -> _write: the send is one call further
