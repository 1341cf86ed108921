"""The shared endpoint model (rules/_endpoints.py) over small snippets of every framework."""

from __future__ import annotations

import textwrap

import libcst as cst

from wsrefactor.rule import FileContext
from wsrefactor.rules._endpoints import endpoints


def model(src: str):
    module = cst.parse_module(textwrap.dedent(src).lstrip("\n"))
    ctx = FileContext("example.py", module, {}, (3, 11))
    return endpoints(ctx), module


def code(module: cst.Module, node: cst.CSTNode) -> str:
    return module.code_for_node(node).strip()


def test_cached_on_context():
    module = cst.parse_module("x = 1\n")
    ctx = FileContext("example.py", module, {}, (3, 11))
    assert endpoints(ctx) is endpoints(ctx)
    assert endpoints(ctx).endpoints == []


def test_fastapi_decorator_with_aliases_accept_receive_loop():
    m, mod = model("""
        import fastapi as fa
        from fastapi import WebSocket as WS

        app = fa.FastAPI()
        router = fa.APIRouter()

        @app.websocket("/ws")
        async def chat(sock: WS, room: str):
            await sock.accept()
            while True:
                data = await sock.receive_json()
                await sock.send_json(data)

        @router.websocket("/r")
        async def other(ws):
            await ws.accept()
            async for text in ws.iter_text():
                print(text)
    """)
    chat, other = m.endpoints
    assert (chat.kind, chat.handler.name.value, chat.ws_param, chat.path) == ("asgi", "chat", "sock", "/ws")
    assert [code(mod, a.node) for a in chat.accepts] == ["sock.accept()"]
    assert chat.accepts[0].anchor is chat.handler.body.body[0]
    (recv,) = chat.receives
    assert (recv.method, recv.mode, recv.target, recv.awaited) == ("receive_json", "json", "data", True)
    assert isinstance(recv.loop, cst.While) and chat.receive_loops == [recv.loop]
    assert other.ws_param == "ws"
    (it,) = other.receives
    assert (it.method, it.mode, it.target) == ("iter_text", "text", "text")
    assert isinstance(it.loop, cst.For) and it.loop.asynchronous is not None


def test_unknown_app_needs_websocket_annotation():
    m, _ = model("""
        from fastapi import WebSocket
        from myproject.main import app

        @app.websocket("/a")
        async def annotated(websocket: WebSocket):
            await websocket.accept()

        @app.websocket("/b")
        async def unannotated(websocket):
            await websocket.accept()

        @cache.websocket("/c")
        def not_an_endpoint(x):
            pass
    """)
    assert [ep.handler.name.value for ep in m.endpoints] == ["annotated"]


def test_add_route_calls_and_starlette_websocket_route():
    m, _ = model("""
        from fastapi import FastAPI
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute

        async def one(websocket):
            await websocket.accept()

        async def two(websocket):
            await websocket.accept()

        async def three(ws):
            await ws.accept()

        app = FastAPI()
        app.add_api_websocket_route("/one", one)
        app.add_websocket_route("/two", two)
        star = Starlette(routes=[WebSocketRoute("/three", three)])
    """)
    assert sorted((ep.handler.name.value, ep.path) for ep in m.endpoints) == [
        ("one", "/one"), ("three", "/three"), ("two", "/two"),
    ]


def test_accept_and_registry_through_manager_helper():
    m, mod = model("""
        from fastapi import FastAPI, WebSocket

        app = FastAPI()

        class ConnectionManager:
            def __init__(self):
                self.active = {}

            async def connect(self, client_id, websocket):
                await self._accept(websocket)
                self.active[client_id] = websocket

            async def _accept(self, sock):
                await sock.accept()

            async def broadcast(self, message):
                for ws in self.active.values():
                    await ws.send_text(message)

        manager = ConnectionManager()

        @app.websocket("/ws/{client_id}")
        async def endpoint(websocket: WebSocket, client_id: str):
            await manager.connect(client_id, websocket)
            while True:
                text = await websocket.receive_text()
                await manager.broadcast(text)
    """)
    (ep,) = m.endpoints
    (accept,) = ep.accepts
    assert code(mod, accept.node) == "sock.accept()"
    assert [code(mod, c) for c in accept.via] == ["manager.connect(client_id, websocket)", "self._accept(websocket)"]
    assert code(mod, accept.anchor) == "await manager.connect(client_id, websocket)"
    assert accept.ws_name == "sock"
    assert {f.name.value for f in ep.calls} == {"connect", "_accept", "broadcast"}
    assert m.instances == {"manager": "ConnectionManager"}


def test_registry_stores_and_call_graph_utilities():
    m, mod = model("""
        from fastapi import FastAPI, WebSocket

        app = FastAPI()
        clients = set()
        rooms = {}

        def log(x):
            audit(x)

        def audit(x):
            pass

        @app.websocket("/ws")
        async def endpoint(websocket: WebSocket):
            await websocket.accept()
            clients.add(websocket)
            rooms.setdefault("lobby", []).append(websocket)
            hub.register(websocket)
            log("joined")
    """)
    (ep,) = m.endpoints
    assert [f.name.value for f in m.reachable(ep.handler)] == ["log", "audit"]
    assert [(code(mod, c), f.name.value) for c, f in m.callees(ep.handler)] == [('log("joined")', "log")]


def test_nested_closure_receive_and_shadowing():
    m, _ = model("""
        from fastapi import FastAPI, WebSocket

        app = FastAPI()

        @app.websocket("/ws")
        async def endpoint(websocket: WebSocket):
            await websocket.accept()

            async def reader():
                while True:
                    await websocket.receive_bytes()

            async def unrelated(websocket):
                await websocket.receive_text()

            await reader()
    """)
    (ep,) = m.endpoints
    assert [r.method for r in ep.receives] == ["receive_bytes"]


def test_starlette_websocket_endpoint_class():
    m, _ = model("""
        from starlette.endpoints import WebSocketEndpoint
        from starlette.routing import WebSocketRoute

        class Base(WebSocketEndpoint):
            encoding = "text"

        class Echo(Base):
            async def on_connect(self, ws):
                await ws.accept()

            async def on_receive(self, ws, data):
                await ws.send_text(data)

        class Quiet(WebSocketEndpoint):
            async def on_receive(self, websocket, data):
                pass

        routes = [WebSocketRoute("/echo", Echo)]
    """)
    base, echo, quiet = m.endpoints
    assert base.default_accepts and base.handler is None
    assert (echo.kind, echo.path, echo.ws_param, echo.default_accepts) == ("asgi-class", "/echo", "ws", False)
    assert [a.ws_name for a in echo.accepts] == ["ws"]
    assert [(r.method, r.target) for r in echo.receives] == [("on_receive", "data")]
    assert quiet.default_accepts and quiet.methods.keys() == {"on_receive"}


def test_websockets_serve_variants():
    m, mod = model("""
        import functools
        import websockets
        from websockets.asyncio.server import serve
        from websockets.legacy import server as legacy

        async def echo(ws):
            async for msg in ws:
                await ws.send(msg)

        async def handler(conn, tag):
            msg = await conn.recv()

        async def main():
            async with serve(echo, "localhost", 8765, origins=["https://a.example"]):
                pass
            await websockets.serve(functools.partial(handler, tag=1), "", 1, max_size=None)
            await legacy.serve(imported_handler, "", 2)
    """)
    assert [(s.qualname, sorted(s.keywords)) for s in m.serve_calls] == [
        ("websockets.asyncio.server.serve", ["origins"]),
        ("websockets.serve", ["max_size"]),
        ("websockets.legacy.server.serve", []),
    ]
    assert m.serve_calls[2].handler is None
    echo, handler = m.endpoints
    assert (echo.kind, echo.ws_param, echo.default_accepts) == ("websockets", "ws", True)
    assert [(r.method, r.target) for r in echo.receives] == [("async for", "msg")]
    assert [(r.method, r.target) for r in handler.receives] == [("recv", "msg")]
    assert handler.server_call is m.serve_calls[1].call


def test_tornado_handler():
    m, _ = model("""
        import tornado.websocket

        class Chat(tornado.websocket.WebSocketHandler):
            def check_origin(self, origin):
                return True

            def open(self):
                clients.add(self)

            def on_message(self, message):
                self.write_message(message)

        class Plain:
            def check_origin(self, origin):
                return True
    """)
    (ep,) = m.endpoints
    assert ep.kind == "tornado" and ep.cls.name.value == "Chat"
    assert set(ep.methods) == {"check_origin", "open", "on_message"}
    assert [(r.method, r.target) for r in ep.receives] == [("on_message", "message")]


def test_socketio_server_and_events():
    m, mod = model("""
        import socketio as sio_mod

        sio = sio_mod.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
        plain = sio_mod.Server()

        @sio.event
        async def connect(sid, environ, auth):
            await sio.enter_room(sid, "lobby")

        @sio.on("chat")
        async def chat(sid, data):
            pass

        def bye(sid):
            pass

        sio.on("disconnect", bye)
    """)
    assert [(s.name, s.cors_allowed_origins is not None) for s in m.socketio_servers] == [("sio", True), ("plain", False)]
    assert code(mod, m.socketio_servers[0].cors_allowed_origins.value) == '"*"'
    (ep,) = m.endpoints
    assert ep.kind == "socketio" and ep.server_call is m.socketio_servers[0].call
    assert set(ep.events) == {"connect", "chat", "disconnect"}
    assert ep.handler.name.value == "connect" and ep.ws_param == "sid"


def test_channels_router_and_consumers():
    m, _ = model("""
        from channels.auth import AuthMiddlewareStack
        from channels.generic.websocket import AsyncWebsocketConsumer, JsonWebsocketConsumer
        from channels.routing import ProtocolTypeRouter, URLRouter
        from channels.security.websocket import AllowedHostsOriginValidator

        class Chat(AsyncWebsocketConsumer):
            async def connect(self):
                await self.channel_layer.group_add("room", self.channel_name)
                await self.accept()

            async def receive(self, text_data=None, bytes_data=None):
                pass

        class Quiet(JsonWebsocketConsumer):
            def receive_json(self, content):
                pass

        good = ProtocolTypeRouter({"websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([])))})
        bad = ProtocolTypeRouter({"http": None, "websocket": AuthMiddlewareStack(URLRouter([]))})
        none = ProtocolTypeRouter({"http": None})
    """)
    assert [(r.websocket is not None, r.origin_validated) for r in m.channels_routers] == [
        (True, True), (True, False), (False, False),
    ]
    chat, quiet = m.endpoints
    assert chat.kind == "channels" and not chat.default_accepts
    assert [a.ws_name for a in chat.accepts] == ["self"]
    assert [r.method for r in chat.receives] == ["receive"]
    assert quiet.default_accepts and [(r.method, r.mode) for r in quiet.receives] == [("receive_json", "json")]


def test_report_node_is_def_line_not_decorator():
    m, _ = model("""
        from fastapi import FastAPI
        app = FastAPI()

        @app.websocket("/ws")
        async def endpoint(websocket):
            await websocket.accept()
    """)
    (ep,) = m.endpoints
    assert ep.report_node is ep.handler
