"""``wsrefactor.semantic.broadcast.Connections``: which values and collections are WebSocket
connections, from types, registrations, served handlers and callee bodies (never names)."""

from __future__ import annotations

import ast
import textwrap

from wsrefactor.semantic import Analyses, SemanticModel
from wsrefactor.semantic.broadcast import Connections, collection_key, element_slot


def _conns(src: str) -> Connections:
    text = textwrap.dedent(src).lstrip("\n")
    return Analyses(ast.parse(text), text, "m.py")(Connections)


def _expr(src: str) -> ast.expr:
    return ast.parse(src, mode="eval").body


def test_collection_keys_and_slots():
    assert collection_key(_expr("list(self.rooms[room].items())")) == "self.rooms[]"
    assert collection_key(_expr("app['websockets']")) == "app['websockets']"
    assert collection_key(_expr("f().x")) is None
    assert element_slot(_expr("d.items()"), _expr("(k, ws)")) == ("ws", "values")
    assert element_slot(_expr("s.copy()"), _expr("ws")) == ("ws", "elements")
    assert element_slot(_expr("d.keys()"), _expr("k")) is None


def test_registrations_mark_their_collections():
    conns = _conns("""
        from fastapi import WebSocket
        from aiohttp import web
        import websockets

        class M:
            async def connect(self, websocket: WebSocket, cid):
                self.active[cid] = websocket
                self.rooms.setdefault(cid, set()).add(cid)  # ids, not connections

            async def join(self, ws):
                await ws.accept()
                self.lobby.append(ws)

        async def handler(request):
            ws = web.WebSocketResponse()
            request.app["websockets"].add(ws)

        async def served(sock):
            PEERS.add(sock)

        websockets.serve(served, "", 1)
        async def unknown(thing):
            OTHERS.add(thing)
    """)
    assert conns.values == {"self.active"}
    assert conns.elements == {"self.lobby", "request.app['websockets']", "PEERS"}


def test_annotations_through_containers_and_classes():
    text = textwrap.dedent("""
        from starlette.websockets import WebSocket

        class Hub:
            def __init__(self):
                self.rooms: dict[str, dict[str, WebSocket]] = {}

        async def shout(hub: Hub):
            for room in hub.rooms.values():
                pass
    """).lstrip("\n")
    analyses = Analyses(ast.parse(text), text, "m.py")
    conns, model = analyses(Connections), analyses(SemanticModel)
    loop = next(n for n in ast.walk(analyses.tree) if isinstance(n, ast.For))
    scope = model.scope_of(loop)
    element = conns.element_types(loop.iter, scope)
    assert ast.unparse(element) == "dict[str, WebSocket]"
    assert conns.is_connection_type(conns.element_types(_expr("hub.rooms['a'].values()"), scope), scope)
    assert not conns.is_connection_type(conns.element_types(_expr("hub.rooms.keys()"), scope), scope)


def test_callee_body_sends_on_a_parameter_or_its_attribute():
    text = textwrap.dedent("""
        class Hub:
            async def send_message(self, event, data):
                await event.websocket.send_text(data)

            async def log(self, event, data):
                await event.send(data)

            async def publish(self, event, data):
                await self.send_message(event, data)
                await self.log(event, data)
    """).lstrip("\n")
    analyses = Analyses(ast.parse(text), text, "m.py")
    conns, model = analyses(Connections), analyses(SemanticModel)
    calls = [c for c, _ in model.calls() if isinstance(c.func, ast.Attribute) and c.func.attr in ("send_message", "log")]
    scope = model.scope_of(calls[0])
    assert conns.passes_to_sender(calls[0], "event", scope)
    assert not conns.passes_to_sender(calls[0], "data", scope)
    assert not conns.passes_to_sender(calls[1], "event", scope)  # a generic send() on an unknown value
