"""The ``wants`` prefilter of the endpoint rule not yet ported (WS103; ``rules/_endpoint_prefilter.py``):
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
    "loads-aliased-in-websockets-handler": ("WS103", """
        from json import loads as parse
        import websockets

        async def handler(ws):
            async for raw in ws:
                msg = parse(raw)
                await ws.send(msg["text"])

        start = websockets.serve(handler, "", 8765)
    """),
    "loads-in-tornado-callback": ("WS103", """
        import json
        import tornado.websocket

        class Chat(tornado.websocket.WebSocketHandler):
            def on_message(self, message):
                data = json.loads(message)
                self.write_message(data["text"])
    """),
}


@pytest.mark.parametrize("case", sorted(POSITIVE))
def test_wanted_where_the_rule_reports(case):
    code, src = POSITIVE[case]
    assert reports(code, src), "the case no longer makes the rule report: fix the case"
    assert wants(code, src)


NEGATIVE = {
    "no-framework-import": ("WS103", """
        import json

        async def websocket_handler(websocket):
            await websocket.accept()
            data = json.loads(await websocket.receive_text())
            clients[data["id"]] = websocket
    """),
    "framework-import-without-endpoint": ("WS103", """
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
    "endpoint-without-the-rule-shapes": ("WS103", """
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
    assert RULES["WS103"].wants("import os\n", None, {}) is False
