"""Registrations of a connection (``wsrefactor.semantic.registrations.Registrations``, WS104's
facts): what counts as one is decided from the code that stores the connection (the callee's
body, the wrapper's class), never from a method name alone."""

from __future__ import annotations

import ast
import textwrap

from wsrefactor.semantic import Analyses
from wsrefactor.semantic.registrations import EndpointRegistrations, Registrations


def _registrations(src: str) -> tuple[list[EndpointRegistrations], str]:
    text = textwrap.dedent(src).lstrip("\n")
    return Analyses(ast.parse(text), text, "m.py")(Registrations).endpoints, text


def _writes(er: EndpointRegistrations, text: str) -> list[tuple[str, str, str]]:
    """(kind, node's code, anchor's code) of each registration."""
    def code(node: ast.AST | None) -> str:
        return ast.get_source_segment(text, node) if node is not None else ""  # type: ignore[return-value]

    return [(w.kind, code(w.node), code(w.anchor)) for w in er.writes]


MANAGER = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
clients = set()
rooms = {}


class Manager:
    def __init__(self):
        self.active = {}

    async def connect(self, key, websocket):
        await self._accept(websocket)
        self.active[key] = websocket

    async def greet(self, websocket):
        await websocket.accept()

    async def _accept(self, sock):
        await sock.accept()


manager = Manager()


@app.websocket("/ws/{key}")
async def endpoint(websocket: WebSocket, key: str):
    await manager.connect(key, websocket)
    await manager.greet(websocket)
    clients.add(websocket)
    rooms.setdefault("lobby", []).append(websocket)
    by_key = {}
    by_key[key] = websocket
    hub.register(websocket)
    while True:
        await websocket.receive_text()
"""


def test_stores_setitems_and_storing_callees():
    (er,), text = _registrations(MANAGER)
    assert _writes(er, text) == [
        ("call", "manager.connect(key, websocket)", "await manager.connect(key, websocket)"),
        ("store", "clients.add(websocket)", "clients.add(websocket)"),
        ("store", 'rooms.setdefault("lobby", []).append(websocket)', 'rooms.setdefault("lobby", []).append(websocket)'),
        ("setitem", "by_key[key] = websocket", "by_key[key] = websocket"),
        ("setitem", "self.active[key] = websocket", "await manager.connect(key, websocket)"),
    ]  # ``greet`` only accepts; ``hub.register`` is not visible: neither is a registration
    inner = er.writes[-1]
    assert [ast.get_source_segment(text, c) for c in inner.via] == ["manager.connect(key, websocket)"]
    assert (inner.method, inner.receiver) == ("__setitem__", "active")
    assert [(f.function.name, f.name) for f in er.flows] == [
        ("endpoint", "websocket"), ("connect", "websocket"), ("greet", "websocket"), ("_accept", "sock")]
    (read,) = er.receives
    assert isinstance(read.node, ast.Call) and read.via == () and isinstance(read.loop, ast.While)


def test_wrappers_of_module_classes_only():
    src = """
    from fastapi import FastAPI, WebSocket
    from models import Imported

    app = FastAPI()
    sessions = []

    class Session:
        def __init__(self, websocket, name):
            self.websocket = websocket

    @app.websocket("/ws/{name}")
    async def endpoint(websocket: WebSocket, name: str):
        session = Session(websocket, name)
        sessions.append(session)
        other = Imported(websocket)
        sessions.append(other)
        sessions.append(Session(None, name))
    """
    (er,), text = _registrations(src)
    # the constructor stores the connection in the instance: that is no registration by itself
    assert _writes(er, text) == [("store", "sessions.append(session)", "sessions.append(session)")]
    assert er.writes[0].name == "session"


def test_joins_and_async_to_sync():
    src = """
    import socketio
    from asgiref.sync import async_to_sync
    from channels.generic.websocket import WebsocketConsumer

    sio = socketio.AsyncServer()

    class Chat(WebsocketConsumer):
        def connect(self):
            async_to_sync(self.channel_layer.group_add)("room", self.channel_name)
            self.accept()

    @sio.event
    async def join(sid, data):
        await sio.enter_room(sid, data["room"])
    """
    found, text = _registrations(src)
    assert [(er.endpoint.kind, _writes(er, text)) for er in found] == [
        ("channels", [("join", 'async_to_sync(self.channel_layer.group_add)("room", self.channel_name)',
                       'async_to_sync(self.channel_layer.group_add)("room", self.channel_name)')]),
        ("socketio", [("join", 'sio.enter_room(sid, data["room"])', 'await sio.enter_room(sid, data["room"])')]),
    ]
    assert found[0].writes[0].method == "group_add"


def test_shadowing_parameter_is_another_name():
    src = """
    from fastapi import FastAPI, WebSocket

    app = FastAPI()
    clients = set()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        def later(websocket):
            clients.add(websocket)
        clients.discard(websocket)
    """
    (er,), _ = _registrations(src)
    assert er.writes == []


def test_class_endpoints_register_self():
    src = """
    import tornado.websocket
    from channels.generic.websocket import AsyncWebsocketConsumer

    clients = set()

    class Feed(tornado.websocket.WebSocketHandler):
        def open(self):
            clients.add(self)

    class Chat(AsyncWebsocketConsumer):
        async def connect(self):
            await self.channel_layer.group_add("room", self.channel_name)
            await self.accept()
    """
    found, text = _registrations(src)
    assert [(er.endpoint.kind, [(w.kind, w.name) for w in er.writes]) for er in found] == [
        ("tornado", [("store", "self")]), ("channels", [("join", "self")]),
    ]
    assert found[1].writes[0].receiver == "channel_layer"


def test_join_decided_from_the_receiver_where_known():
    src = """
    import socketio

    sio = socketio.AsyncServer()

    class Log:
        def enter_room(self, sid, room):
            print(sid, room)

    log = Log()

    @sio.event
    async def join(sid, data):
        await sio.enter_room(sid, data["room"])
        log.enter_room(sid, data["room"])
        other.enter_room(sid, data["room"])
    """
    (er,), text = _registrations(src)
    # ``sio`` is a socket.io server; ``log`` a class of this module whose method stores nothing;
    # ``other`` is unknown: its ``enter_room`` is taken for the framework's
    assert [(w.kind, ast.get_source_segment(text, w.node)) for w in er.writes] == [
        ("join", 'sio.enter_room(sid, data["room"])'), ("join", 'other.enter_room(sid, data["room"])'),
    ]
