"""The ``wants`` prefilters of the endpoint rules not yet ported (WS104; ``rules/_endpoint_prefilter.py``):
cases the soundness corpus does not cover. Each positive case is checked against the full rule
(it really reports, and ``wants`` says yes); each negative one is a file the rule cannot report on
that the old text tokens let through."""

from __future__ import annotations

import ast
import textwrap

import pytest

from wsrefactor.config import Config
from wsrefactor.engine import analyze_module, parse
from wsrefactor.registry import load_rules

RULES = load_rules(())


def _src(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def wants(code: str, src: str) -> bool:
    src = _src(src)
    return RULES[code].wants(src, ast.parse(src), {})


def reports(code: str, src: str) -> bool:
    src = _src(src)
    analysis = analyze_module("example.py", parse(src, "example.py"), [RULES[code]], Config(), tree=ast.parse(src))
    return any(f.code == code for f in analysis.findings)


POSITIVE = {
    "register-in-a-helper": ("WS104", """
        from fastapi import FastAPI, WebSocket

        app = FastAPI()
        clients = {}

        def remember(key, sock):
            clients[key] = sock

        @app.websocket("/ws/{key}")
        async def chat(websocket: WebSocket, key: str):
            await websocket.accept()
            remember(key, websocket)
            while True:
                await websocket.receive_text()
    """),
    "channels-async-to-sync-group-add": ("WS104", """
        from asgiref.sync import async_to_sync
        from channels.generic.websocket import WebsocketConsumer

        class Chat(WebsocketConsumer):
            def connect(self):
                async_to_sync(self.channel_layer.group_add)("room", self.channel_name)
                self.accept()
    """),
}


@pytest.mark.parametrize("case", sorted(POSITIVE))
def test_wanted_where_the_rule_reports(case):
    code, src = POSITIVE[case]
    assert reports(code, src), "the case no longer makes the rule report: fix the case"
    assert wants(code, src)


NEGATIVE = {
    "no-framework-import": ("WS104", """
        import json

        async def websocket_handler(websocket):
            await websocket.accept()
            data = json.loads(await websocket.receive_text())
            clients[data["id"]] = websocket
    """),
    "relative-import-of-a-namesake": ("WS104", """
        from .websockets import serve
        from .fastapi import FastAPI

        app = FastAPI()

        @app.websocket("/ws")
        async def chat(ws):
            await ws.accept()
            clients.add(ws)

        serve(chat, max_size=None)
    """),
    "framework-import-without-endpoint": ("WS104", """
        import json
        from fastapi import FastAPI, WebSocket

        def make_app():
            app = FastAPI()
            return app

        async def helper(websocket: WebSocket):
            await websocket.accept()
            msg = json.loads(await websocket.receive_text())
            registry[msg["id"]] = websocket
    """),
    "endpoint-without-the-rule-shapes": ("WS104", """
        from fastapi import FastAPI, WebSocket

        app = FastAPI()

        def unrelated(queue, data):
            queue.append(data)
            return queue.receive_text()

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text("hello")
    """),
}


@pytest.mark.parametrize("case", sorted(NEGATIVE))
def test_not_wanted_where_the_rule_cannot_report(case):
    codes, src = NEGATIVE[case]
    for code in codes.split():
        assert not reports(code, src)
        assert not wants(code, src), code


def test_without_a_tree_the_text_tokens_decide():
    for code in ("WS104",):
        assert RULES[code].wants("import os\n", None, {}) is False
