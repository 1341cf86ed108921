"""The WebSocket server model (``wsrefactor.semantic.server.ServerModel``): endpoints of the six
frameworks, connection values decided from types and data flow (never from names), the sites on
them, and where a received message goes."""

from __future__ import annotations

import ast
import textwrap

from wsrefactor.semantic import Analyses
from wsrefactor.semantic.server import Receive, ServerModel


def _server(src: str) -> ServerModel:
    text = textwrap.dedent(src).lstrip("\n")
    return Analyses(ast.parse(text), text, "m.py")(ServerModel)


def _endpoints(server: ServerModel) -> list[tuple[str, str]]:
    return [(ep.kind, ep.node.name) for ep in server.endpoints]  # type: ignore[attr-defined]


def _sites(server: ServerModel, kind: str) -> list[tuple[str, str]]:
    return [(s.function.qualname, s.method) for s in server.sites if s.kind == kind]


FRAMEWORKS = """
import functools
import socketio
import tornado.websocket
import websockets
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from fastapi import APIRouter, FastAPI, WebSocket
from flask_socketio import SocketIO
from starlette.endpoints import WebSocketEndpoint
from starlette.routing import WebSocketRoute

app = FastAPI()
router = APIRouter()
sio = socketio.AsyncServer()
flask_io = SocketIO()

@router.websocket("/a")
async def routed(ws):
    await ws.accept()

async def by_annotation(sock: WebSocket):
    await sock.accept()

async def by_route(conn):
    await conn.accept()

async def handler(connection):
    async for message in connection:
        await connection.send(message)

class Echo(WebSocketEndpoint):
    async def on_receive(self, websocket, data):
        await websocket.send_text(data)

class Base(tornado.websocket.WebSocketHandler):
    pass

class Chat(Base):
    def on_message(self, message):
        self.write_message(message)

class Consumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()

@sio.event
async def connect(sid, environ):
    pass

@flask_io.on("chat")
def chat(data):
    pass

def not_routed(websocket):
    websocket.accept()

other_app = object()
app.add_api_websocket_route("/b", by_annotation)
routes = [WebSocketRoute("/c", by_route)]
websockets.serve(functools.partial(handler), "", 8765)
"""


def test_endpoints_of_the_six_frameworks():
    server = _server(FRAMEWORKS)
    assert _endpoints(server) == [
        ("asgi", "routed"), ("asgi", "by_annotation"), ("asgi", "by_route"), ("websockets", "handler"),
        ("asgi-class", "Echo"), ("tornado", "Base"), ("tornado", "Chat"), ("channels", "Consumer"), ("socketio", "connect"),
        ("socketio", "chat"),
    ]
    # ``Base`` is a tornado handler too (by its base class; whether it is abstract is the rule's call)
    assert len(server.serve_calls) == 1 and len(server.socketio_servers) == 2


def test_sites_on_connection_values():
    server = _server(FRAMEWORKS)
    assert _sites(server, "accept") == [
        ("routed", "accept"), ("by_annotation", "accept"), ("by_route", "accept"), ("Consumer.connect", "accept"),
    ]
    assert _sites(server, "send") == [
        ("handler", "send"), ("Echo.on_receive", "send_text"), ("Chat.on_message", "write_message"),
    ]
    receives = [(s.function.qualname, s.method, s.target, s.callback) for s in server.receives]
    assert receives == [
        ("handler", "async for", "message", False),
        ("Echo.on_receive", "on_receive", "data", True),
        ("Chat.on_message", "on_message", "message", True),
    ]


MANAGER = """
import asyncio
from dataclasses import dataclass
from fastapi import FastAPI, WebSocket

app = FastAPI()

class Manager:
    def __init__(self):
        self.active = []

    async def connect(self, websocket):
        await websocket.accept()
        self.active.append(websocket)

    def disconnect(self, websocket):
        self.active.remove(websocket)

    async def broadcast(self, text):
        for ws in list(self.active):
            await ws.send_text(text)

manager = Manager()

class Session:
    def __init__(self, socket, name):
        self.socket = socket
        self.name = name

@dataclass
class Conn:
    websocket: WebSocket

async def read(conn: Conn, session: Session):
    a = await conn.websocket.receive_text()
    b = await session.socket.receive_bytes()
    return a, b

@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await manager.connect(websocket)
    session = Session(websocket, "x")
    alias = websocket
    info = await asyncio.wait_for(alias.receive_json(), timeout=5)
    manager.disconnect(websocket)
"""


def test_connections_flow_into_callees_constructors_attributes_and_collections():
    server = _server(MANAGER)
    assert _sites(server, "accept") == [("Manager.connect", "accept")]
    assert _sites(server, "register") == [("Manager.connect", "append")]
    assert _sites(server, "unregister") == [("Manager.disconnect", "remove")]
    assert _sites(server, "send") == [("Manager.broadcast", "send_text")]
    receives = [(s.function.qualname, s.method, s.target, s.awaited) for s in server.receives]
    assert receives == [
        ("read", "receive_text", "a", True), ("read", "receive_bytes", "b", True),
        ("endpoint", "receive_json", "info", True),
    ]


def test_accepts_reached_through_the_call_graph():
    server = _server(MANAGER)
    endpoint = server.endpoints[0].handlers[0]
    ((site, chain),) = server.accepts_reached(endpoint)
    assert site.function.qualname == "Manager.connect"
    assert [ast.unparse(c) for c in chain] == ["manager.connect(websocket)"]


def test_awaited_wrapper_holds_the_message():
    server = _server(MANAGER)
    receive = server.receives[-1]
    assert isinstance(receive, Receive)
    assert ast.unparse(receive.holder) == "await asyncio.wait_for(alias.receive_json(), timeout=5)"
    assert receive.mode == "json"


def test_names_alone_make_no_connection():
    server = _server("""
    from fastapi import FastAPI

    class Pipe:
        async def run(self, websocket, ws):
            await websocket.accept()
            data = await ws.receive_text()
            self.clients.append(websocket)
    """)
    assert server.endpoints == [] and server.sites == []


def test_reassigned_value_is_no_connection():
    server = _server("""
    from fastapi import WebSocket

    async def f(websocket: WebSocket, other):
        ws = websocket
        ws = other
        await ws.accept()
        await websocket.accept()
    """)
    assert [ast.unparse(s.node) for s in server.sites] == ["websocket.accept()"]


def test_cyclic_copies_terminate():
    server = _server("""
    def f():
        a = b
        b = a
        a.accept()
    """)
    assert server.sites == []


def test_bound_parameter_and_uses_after():
    server = _server("""
    from fastapi import WebSocket

    class V:
        def check(self, first, second=None):
            return len(second)

    v = V()

    async def f(ws: WebSocket):
        data = await ws.receive_text()
        v.check(1, second=data)
        print(data)
    """)
    call = next(c for c, _ in server.model.calls() if ast.unparse(c).startswith("v.check"))
    callee = server.resolve(call, server.model.scope_of(call))
    assert callee is not None and callee.qualname == "V.check"
    assert server.bound_parameter(call, callee, call.keywords[0].value) == "second"
    assert server.bound_parameter(call, callee, call.args[0]) == "first"
    receive = server.receives[0]
    uses = list(server.uses_after(receive.function, "data", receive.statement))
    assert [u.lineno for u in uses] == [11, 12]


def test_connection_built_by_a_framework_factory_attribute():
    server = _server("""
    from starlette.endpoints import WebSocketEndpoint

    class Endpoint(WebSocketEndpoint):
        async def dispatch(self):
            websocket = self.websocket_class(self.scope, receive=self.receive, send=self.send)
            message = await websocket.receive()

    class Other:
        async def dispatch(self):
            websocket = self.websocket_class(self.scope)
            await websocket.receive()
    """)
    assert [(s.function.qualname, s.method) for s in server.receives] == [("Endpoint.dispatch", "receive")]


def test_connection_factory_attribute_rebound_to_a_connection_class():
    server = _server("""
    from typing import Type
    from starlette.endpoints import WebSocketEndpoint
    from starlette.websockets import WebSocket
    from .ws import Packaged

    class Endpoint(WebSocketEndpoint):
        websocket_class: Type[WebSocket] = Packaged

        async def dispatch(self):
            websocket = self.websocket_class(self.scope, receive=self.receive, send=self.send)
            await websocket.receive()

    class Unknown(WebSocketEndpoint):
        websocket_class = Packaged

        async def dispatch(self):
            websocket = self.websocket_class(self.scope)
            await websocket.receive()
    """)
    assert [(s.function.qualname, s.method) for s in server.receives] == [("Endpoint.dispatch", "receive")]
