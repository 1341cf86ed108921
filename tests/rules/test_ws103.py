"""WS103 message-not-validated on the server model: issue #12's snippets (a broad ``except``
around the parse; awaited wrappers; Channels ``receive_json(self, content)``; the raw frame handed
to a same-module collaborator), the cases the old prefilter tests covered, one decision for plain
check and edits, and no libcst in a plain check. Each snippet marks the lines that must be
reported with ``# found``; every other line must stay silent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.rules._semantic_paths import job, lines, no_libcst, write
from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, fix_text
from wsrefactor.registry import load_rules
from wsrefactor.runner import process_file

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted(p for p in (REPO / "fixtures" / "WS103").glob("*.py") if not p.name.endswith(".fixed.py"))
RULE = load_rules(())["WS103"]


def _marked(src: str) -> list[int]:
    return [n for n, line in enumerate(textwrap.dedent(src).lstrip("\n").splitlines(), 1) if "# found" in line]


def _check(tmp_path: Path, src: str, name: str = "case.py") -> None:
    assert lines("WS103", write(tmp_path, src, name)) == _marked(src)


# -- issue #12 misses 3: a broad ``except`` around the parse is not validation ------------------------

BROAD_EXCEPT = """
import json

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/break")
async def breaks(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())  # found
            await websocket.send_text(msg["text"])
        except Exception:
            break


@app.websocket("/return")
async def returns(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())  # found
            await websocket.send_text(msg["text"])
        except Exception as exc:
            print(exc)
            return


@app.websocket("/raise")
async def reraises(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())  # found
            await websocket.send_text(msg["text"])
        except (KeyError, ValueError):
            await websocket.close()
            raise


@app.websocket("/bare")
async def bare(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            msg = json.loads(await websocket.receive_text())  # found
            await websocket.send_text(msg["text"])
    except Exception:
        pass


@app.websocket("/close")
async def closes(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())  # found
            await websocket.send_text(msg["text"])
        except Exception:
            await websocket.close(code=1003)


@app.websocket("/reply")
async def replies(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())
            await websocket.send_text(msg["text"])
        except Exception:
            await websocket.send_json({"error": "invalid message"})
            continue


@app.websocket("/validated")
async def validated(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())
            chat = Chat.model_validate(msg)
        except Exception:
            break
        await websocket.send_text(chat.text)


@app.websocket("/inner-loop")
async def inner_loop(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            msg = json.loads(await websocket.receive_text())
            await websocket.send_text(msg["text"])
        except Exception:
            for _ in range(3):
                break
"""

CALLBACK_RETURNS = """
import json

from tornado.websocket import WebSocketHandler


class Echo(WebSocketHandler):
    def on_message(self, message):
        try:
            data = json.loads(message)
            self.write_message(data["text"])
        except Exception:
            return  # the next frame is handled as usual: the session goes on


class Closing(WebSocketHandler):
    def on_message(self, message):
        try:
            data = json.loads(message)  # found
            self.write_message(data["text"])
        except Exception:
            self.close(1003)


class Fragile(WebSocketHandler):
    def on_message(self, message):
        try:
            data = json.loads(message)  # found
            self.write_message(data["text"])
        except Exception:
            self.close()
            raise
"""


def test_broad_except_that_ends_the_session_is_reported(tmp_path):
    _check(tmp_path, BROAD_EXCEPT)


def test_broad_except_in_a_callback_returns_to_the_next_frame(tmp_path):
    _check(tmp_path, CALLBACK_RETURNS)


# -- issue #12 misses 3: awaited wrappers -----------------------------------------------------------

AWAITED_WRAPPERS = """
import asyncio
import json

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await websocket.accept()
    info = await asyncio.wait_for(websocket.receive_json(), timeout=5)  # found
    await websocket.send_text(info["name"])
    raw = await asyncio.wait_for(websocket.receive(), timeout=5)
    text = raw.get("text")
    frame = json.loads(text)  # found
    if frame.get("type") != "auth":
        await websocket.close()
    shielded = json.loads(await asyncio.shield(websocket.receive_text()))  # found
    print(shielded["x"])
    whole = await asyncio.wait_for(websocket.receive_json(), timeout=5)
    await websocket.send_json(whole)
"""


def test_awaited_wrappers_are_seen_through(tmp_path):
    _check(tmp_path, AWAITED_WRAPPERS)


WRAPPED_IN_A_LOOP = """
import asyncio
import json

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await websocket.accept()
    while True:
        info = await asyncio.wait_for(websocket.receive_json(), timeout=5)  # found
        msg = json.loads(await asyncio.wait_for(websocket.receive_text(), timeout=5))  # found
        await websocket.send_text(info["name"] + msg["text"])
"""


def test_fix_offered_only_where_the_frame_can_be_read_raw(tmp_path):
    """``json.loads(await wait_for(...))`` keeps its argument inside the validation; a wrapped
    ``receive_json()`` cannot become ``receive_text()`` in place: reported without a fix."""
    path = write(tmp_path, WRAPPED_IN_A_LOOP)
    assert lines("WS103", path) == _marked(WRAPPED_IN_A_LOOP)
    found = process_file(str(path), job("WS103", want_edits=True)).findings
    assert [(f.line, f.fix is not None) for f in found] == [(13, False), (14, True)]
    outcome = fix_text(str(path), path.read_text(), [RULE], Config(), FixPolicy(unsafe=True))
    assert "model_validate_json(await asyncio.wait_for(websocket.receive_text(), timeout=5))" in outcome.text


# -- issue #12 misses 3: Channels ``receive_json(self, content)`` --------------------------------------

CHANNELS_JSON = """
from channels.generic.websocket import AsyncJsonWebsocketConsumer, JsonWebsocketConsumer


class Chat(AsyncJsonWebsocketConsumer):
    async def receive_json(self, content, **kwargs):  # found
        await self.send_json({"echo": content["text"]})


class Whole(JsonWebsocketConsumer):
    def receive_json(self, content, **kwargs):
        self.send_json(content)


class Checked(JsonWebsocketConsumer):
    def receive_json(self, content, **kwargs):
        message = Message.model_validate(content)
        self.send_json({"echo": message.text})


class Helper(JsonWebsocketConsumer):
    def receive_json(self, content, **kwargs):  # found
        self.route(content)

    def route(self, payload):
        self.send_json({"room": payload["room"]})
"""

JSON_ENDPOINT = """
from starlette.endpoints import WebSocketEndpoint


class Counter(WebSocketEndpoint):
    encoding = "json"

    async def on_receive(self, websocket, data):  # found
        await websocket.send_json({"count": data["count"] + 1})


class Echo(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket, data):
        await websocket.send_text(data[:10])
"""


def test_channels_receive_json_content_is_the_parsed_message(tmp_path):
    _check(tmp_path, CHANNELS_JSON)


def test_websocket_endpoint_with_json_encoding(tmp_path):
    _check(tmp_path, JSON_ENDPOINT)


# -- issue #12 misses 3: the raw frame handed to a collaborator (same module) --------------------------

COLLABORATOR = """
import json

from tornado.websocket import WebSocketHandler


class Connection:
    def __init__(self, handler):
        self.handler = handler

    def handle_incoming_message(self, incoming):
        msg = json.loads(incoming)  # found
        channel = msg.pop("channel")
        self.handler.write_message(channel)

    def handle_other(self, incoming):
        self.handler.write_message(json.loads(incoming))


class KernelSocket(WebSocketHandler):
    def open(self):
        self.connection = Connection(self)

    def on_message(self, message):
        self.connection.handle_incoming_message(message)
"""

NOT_A_COLLABORATOR = """
import json

from tornado.websocket import WebSocketHandler


class Store:
    def load(self, path):
        data = json.loads(open(path).read())
        return data["items"]


class KernelSocket(WebSocketHandler):
    def open(self):
        self.store = Store()

    def on_message(self, message):
        self.write_message(str(self.store.load("items.json")))
        self.write_message(message)
"""


def test_raw_frame_handed_to_a_collaborator_method(tmp_path):
    _check(tmp_path, COLLABORATOR)


def test_json_loads_of_something_else_in_a_collaborator(tmp_path):
    _check(tmp_path, NOT_A_COLLABORATOR)


# -- cases the removed ``wants`` prefilter tests held ------------------------------------------------

LOADS_ALIASED = """
from json import loads as parse
import websockets

async def handler(ws):
    async for raw in ws:
        msg = parse(raw)  # found
        await ws.send(msg["text"])

start = websockets.serve(handler, "", 8765)
"""

TORNADO_CALLBACK = """
import json
import tornado.websocket

class Chat(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        data = json.loads(message)  # found
        self.write_message(data["text"])
"""

NO_FRAMEWORK = """
import json

async def websocket_handler(websocket):
    await websocket.accept()
    data = json.loads(await websocket.receive_text())
    clients[data["id"]] = websocket
"""

ANNOTATED_HELPER = """
import json
from fastapi import FastAPI, WebSocket

def make_app():
    app = FastAPI()
    return app

async def helper(websocket: WebSocket):
    await websocket.accept()
    msg = json.loads(await websocket.receive_text())  # found
    registry[msg["id"]] = websocket
"""


@pytest.mark.parametrize("src", [LOADS_ALIASED, TORNADO_CALLBACK, NO_FRAMEWORK, ANNOTATED_HELPER],
                         ids=["loads-aliased", "tornado-callback", "no-framework", "annotated-helper"])
def test_former_prefilter_cases(tmp_path, src):
    _check(tmp_path, src)


# -- one decision, no libcst on a plain check -------------------------------------------------------

SNIPPETS = [BROAD_EXCEPT, CALLBACK_RETURNS, AWAITED_WRAPPERS, WRAPPED_IN_A_LOOP, CHANNELS_JSON, JSON_ENDPOINT, COLLABORATOR, LOADS_ALIASED]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_plain_check_equals_the_edits_path(path):
    lines("WS103", path)  # asserts plain == edits and that fixable findings carry edits


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    sources = [write(tmp_path, src, f"case{i}.py") for i, src in enumerate(SNIPPETS)]
    no_libcst(monkeypatch)
    found = []
    for path in [*FIXTURES, *sources]:
        result = process_file(str(path), job("WS103"))
        assert result.internal_error is None
        found += result.findings
    assert len(found) >= 20
    # the spy does catch the path that needs libcst (edits wanted)
    with_edits = process_file(str(FIXTURES[0]), job("WS103", want_edits=True))
    assert "libcst parsed" in (with_edits.internal_error or "")


def test_fix_from_the_span_equals_the_goldens():
    for case in FIXTURES:
        golden = case.with_name(case.stem + ".fixed.py")
        text = case.read_bytes().decode("utf-8")
        outcome = fix_text(str(case), text, [RULE], Config(), FixPolicy(unsafe=True))
        assert outcome.text == (golden.read_bytes().decode("utf-8") if golden.exists() else text), case.name


# -- issue #12 misses 3: the raw frame handed to another module ("same module or another") --------

from tests.rules._projects import findings as project_findings  # noqa: E402
from tests.rules._projects import project  # noqa: E402

PROTOCOL = """
import json


def handle(raw):
    msg = json.loads(raw)  # found
    return msg["type"]


def relay(raw):
    return handle_later(raw)


def handle_later(text):
    return json.loads(text).get("room")  # found


def checked(raw):
    msg = json.loads(raw)
    return Message.model_validate(msg)


def settings(raw):
    return json.loads(raw)["debug"]


def parsed_already(data):
    return json.loads(data["payload"])["kind"]


class Conn:
    def handle_incoming_message(self, ws_msg):
        msg = json.loads(ws_msg)  # found
        return msg.pop("channel", None)
"""

SERVER = """
import json

from fastapi import FastAPI, WebSocket
from tornado.websocket import WebSocketHandler

from app.protocol import Conn, checked, handle, parsed_already, relay, settings

app = FastAPI()
CONFIG = '{"debug": true}'


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await websocket.accept()
    settings(CONFIG)
    while True:
        text = await websocket.receive_text()
        handle(text)
        relay(text)
        checked(text)
        data = await websocket.receive_json()
        parsed_already(data)


class Handler(WebSocketHandler):
    def open(self):
        self.connection = Conn()

    def on_message(self, message):
        self.connection.handle_incoming_message(message)
"""


def _protocol_project(root: Path, server: str = SERVER) -> Path:
    return project(root, {"app/__init__.py": "", "app/protocol.py": PROTOCOL, "app/server.py": server})


def test_raw_frame_handed_to_another_module_is_followed_to_its_parse(tmp_path):
    found = project_findings(_protocol_project(tmp_path), "WS103")
    # reported where the same-module case is: at the ``json.loads`` of the callee's module
    assert sorted((path, line) for path, line, _ in found) == [("app/protocol.py", n) for n in _marked(PROTOCOL)]


def test_a_value_not_received_is_not_a_frame(tmp_path):
    """``settings(CONFIG)`` and a parsed ``receive_json()`` handed over are no raw frames; without
    the server module nothing is told to the protocol module."""
    server = SERVER.replace("        handle(text)\n        relay(text)\n", "").replace(
        "        self.connection.handle_incoming_message(message)\n", "        print(message)\n")
    assert server != SERVER
    assert project_findings(_protocol_project(tmp_path / "a", server), "WS103") == []
    root = _protocol_project(tmp_path / "b")
    (root / "app" / "server.py").unlink()
    assert project_findings(root, "WS103") == []


def test_a_handed_over_frame_is_no_connection(tmp_path):
    """The ``msg:raw`` kind reaches WS103 only: no connection rule fires in the protocol module."""
    root = _protocol_project(tmp_path)
    for code in ("WS101", "WS102", "WS104", "WS202", "WS203"):
        assert [f for f in project_findings(root, code) if f[0] == "app/protocol.py"] == [], code
