"""WS203 sequential-broadcast on the semantic model: a fan-out is reported on evidence that the
loop value is a connection (its type, its collection, the callee's body, a connection-only
method or exception), never on its name; the same findings on the plain and the edits path, and
a plain check that never parses libcst."""

from __future__ import annotations

import pytest

from tests.rules._semantic_paths import job, lines, no_libcst, write
from wsrefactor.runner import process_file

FOUND = {
    # issue #12, miss 7: the callee sends on event.websocket
    "callee sends on an attribute of the target": """
        class Hub:
            async def send_message(self, event, data):
                await event.websocket.send_text(data)

            async def publish(self, data):
                for event in self.events:
                    await self.send_message(event, data)
    """,
    # the accuracy corpus miss "WS203 id-lookup loop"
    "ids looked up in the connection table": """
        from fastapi import WebSocket

        class Manager:
            def __init__(self):
                self.active: dict[str, WebSocket] = {}
                self.rooms: dict[str, set[str]] = {}

            async def to_room(self, room, message):
                for client_id in self.rooms[room]:
                    connection = self.active.get(client_id)
                    if connection:
                        await connection.send_text(message)
    """,
    "annotated collection, generic send": """
        from websockets.asyncio.server import ServerConnection

        async def shout(clients: dict[str, ServerConnection], text):
            for name, ws in clients.items():
                await ws.send(text)
    """,
    "collection connections are added to": """
        from aiohttp import web

        async def handler(request, peers):
            ws = web.WebSocketResponse()
            peers.append(ws)

        async def relay(peers, text):
            for peer in peers:
                await peer.send(text)
    """,
    "send guarded by the library's exception": """
        from websockets.exceptions import ConnectionClosed

        async def fan_out(members, text):
            for member in members:
                try:
                    await member.send(text)
                except ConnectionClosed:
                    pass
    """,
    "the target named like a payload is still a connection": """
        from fastapi import WebSocket

        async def push(items: list[WebSocket], data):
            for item in items:
                await item.send_json(data)
    """,
    "handler served by websockets.serve registers its connection": """
        import websockets

        CONNECTED = set()

        async def handler(websocket):
            CONNECTED.add(websocket)

        async def shout(text):
            for ws in CONNECTED:
                if ws is not None:
                    await ws.send(text)

        async def main():
            async with websockets.serve(handler, "", 8765):
                pass
    """,
    "callee guards its send with the library's exception": """
        from websockets.exceptions import ConnectionClosed

        async def send(websocket, message):
            try:
                await websocket.send(message)
            except ConnectionClosed:
                pass

        async def naive(clients, message):
            for websocket in clients.copy():
                await send(websocket, message)
    """,
}
CLEAN = {
    # issue #12, false alarm 2: domain objects sent to one client
    "domain objects with a send method": """
        async def show(message, client):
            for element in message.elements:
                await element.send(client)
    """,
    "a connection named like a connection, values of unknown kind": """
        async def relay(conns, text):
            for conn in conns:
                await conn.send(text)
    """,
    "several items over one connection": """
        from fastapi import WebSocket

        async def stream(ws: WebSocket, rows):
            for row in rows:
                await ws.send_json(row)
    """,
    "a payload passed to a helper that sends on another parameter": """
        async def send_personal(message, websocket):
            await websocket.send_text(message)

        async def replay(websocket, history):
            for entry in history:
                await send_personal(entry, websocket)
    """,
    "the loop value reads the reply from a shared socket": """
        from fastapi import WebSocket

        async def poll(server, peers: list[WebSocket]):
            for peer in peers:
                await peer.send_text("who?")
                await server.receive_text()
    """,
    "a sync function": """
        from fastapi import WebSocket

        def broadcast(conns: list[WebSocket], text):
            for ws in conns:
                ws.send_text(text)
    """,
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found(tmp_path, case):
    assert len(lines("WS203", write(tmp_path, FOUND[case]))) == 1


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_clean(tmp_path, case):
    assert lines("WS203", write(tmp_path, CLEAN[case])) == []


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    paths = [write(tmp_path, source, f"case_{i}.py") for i, source in enumerate(FOUND.values())]
    no_libcst(monkeypatch)
    results = [process_file(str(p), job("WS203")) for p in paths]
    assert [r.internal_error for r in results] == [None] * len(paths)
    assert [len(r.findings) for r in results] == [1] * len(paths)
    assert "libcst parsed" in (process_file(str(paths[0]), job("WS203", want_edits=True)).internal_error or "")


def test_message_names_the_connection_value(tmp_path):
    path = write(tmp_path, FOUND["ids looked up in the connection table"])
    (finding,) = process_file(str(path), job("WS203")).findings
    assert "each `connection`" in finding.message and finding.fix is None


# -- across modules (issue #12 "Misses" 7: the callee's body decides, same module or another) -----

from tests.rules._projects import findings as project_findings  # noqa: E402
from tests.rules._projects import line_of, project  # noqa: E402

_SENDERS = """
    async def send_to(conn, message):
        await conn.send_text(message)


    async def render(element, message):
        await element.send(message)


    class Event:
        def __init__(self, text):
            self.text = text

        async def send(self, websocket):
            await deliver(websocket, self.text)


    async def deliver(target, text):
        await target.send_json({"text": text})
"""
_ROOMS = """
    from chat.senders import Event, render, send_to


    class Room:
        def __init__(self):
            self.members = {}
            self.elements = []

        async def broadcast(self, message):
            for key in self.members:
                await send_to(self.members[key].conn, message)

        async def announce(self, players, text):
            for p in players:
                await Event(text).send(players[p].websocket)

        async def draw(self, message):
            for element in self.elements:
                await render(element, message)
"""


def test_a_send_in_another_modules_callee_is_the_evidence(tmp_path):
    root = project(tmp_path, {"chat/__init__.py": "", "chat/senders.py": _SENDERS, "chat/rooms.py": _ROOMS})
    found = [(p, n) for p, n, _ in project_findings(root, "WS203")]
    assert found == [("chat/rooms.py", line_of(_ROOMS, "for key in")), ("chat/rooms.py", line_of(_ROOMS, "for p in"))]


def test_a_generic_send_in_another_module_is_no_evidence(tmp_path):
    # ``render`` calls ``element.send(...)``: nothing says ``element`` is a connection
    rooms = _ROOMS.replace("send_to(self.members[key].conn, message)", "render(self.members[key], message)")
    rooms = rooms.replace("Event(text).send(players[p].websocket)", "render(players[p], text)")
    root = project(tmp_path, {"chat/__init__.py": "", "chat/senders.py": _SENDERS, "chat/rooms.py": rooms})
    assert project_findings(root, "WS203") == []


def test_a_generic_send_counts_once_a_connection_reaches_that_parameter(tmp_path):
    endpoint = """
        from fastapi import FastAPI, WebSocket

        from chat.senders import render

        app = FastAPI()


        @app.websocket("/ws")
        async def ws(websocket: WebSocket):
            await websocket.accept()
            await render(websocket, "hello")
    """
    rooms = _ROOMS.replace("send_to(self.members[key].conn, message)", "render(self.members[key], message)")
    root = project(tmp_path, {"chat/__init__.py": "", "chat/senders.py": _SENDERS, "chat/rooms.py": rooms,
                              "chat/api.py": endpoint})
    found = [(p, n) for p, n, _ in project_findings(root, "WS203")]
    assert ("chat/rooms.py", line_of(rooms, "for key in")) in found
    assert ("chat/rooms.py", line_of(rooms, "for element in")) in found


def test_the_edits_path_sees_the_same_cross_module_facts(tmp_path):
    """JSON/SARIF edits run the rule in the libcst pass: the facts are there too, and the fix of a
    loop whose evidence is in another module gathers it."""
    from dataclasses import replace as _replace

    from wsrefactor.config import Config
    from wsrefactor.registry import load_rules
    from wsrefactor.runner import Job, execute
    from wsrefactor.selection import Selection

    root = project(tmp_path, {"chat/__init__.py": "", "chat/senders.py": _SENDERS, "chat/rooms.py": _ROOMS})
    job = Job(_replace(Config(), root=str(root)), Selection(("WS203",), (), tuple(load_rules(()))), want_edits=True)
    found = [f for f in execute([str(root)], job, jobs=1).findings if f.code == "WS203"]
    assert [f.line for f in found] == [line_of(_ROOMS, "for key in"), line_of(_ROOMS, "for p in")]
    edits = [e.content for f in found if f.fix is not None for e in f.fix.edits]
    assert any("asyncio.gather" in text for text in edits)
