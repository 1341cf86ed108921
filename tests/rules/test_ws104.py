"""WS104 session-not-invalidated: issue #12's snippets (registrations of wrappers; a helper that
undoes its own registration; socket.io rooms through a helper; a ``connect`` that only accepts;
a call raising between the registration and the ``try``), the shapes its old prefilter was tested
on, and one decision for plain check and edits: the rule decides on the ast semantic model
(``wsrefactor/semantic/registrations.py``), so a plain check never parses libcst for it, and text
and ``--format json --show-fixes`` report the same findings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.rules._semantic_paths import no_libcst
from wsrefactor.cli import app
from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted(p for p in (REPO / "fixtures" / "WS104").glob("*.py") if not p.name.endswith(".fixed.py"))


def _job(want_edits: bool = False) -> Job:
    return Job(Config(), Selection(("WS104",), (), tuple(load_rules(()))), want_edits=want_edits)


def _findings(tmp_path: Path, src: str, want_edits: bool = False, name: str = "example.py") -> list:
    path = tmp_path / name
    path.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
    result = process_file(str(path), _job(want_edits))
    assert result.internal_error is None
    return [f for f in result.findings if f.code == "WS104"]


def _at(src: str, text: str) -> int:
    lines = textwrap.dedent(src).lstrip("\n").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


# -- miss 6: registrations of wrappers ---------------------------------------------------------------

WRAPPER = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
sessions = []
by_name = {}


class Session:
    def __init__(self, websocket, name):
        self.websocket = websocket
        self.name = name


@app.websocket("/ws/{name}")
async def endpoint(websocket: WebSocket, name: str):
    await websocket.accept()
    session = Session(websocket, name)
    sessions.append(session)
    while True:
        await websocket.receive_text()


@app.websocket("/named/{name}")
async def named(websocket: WebSocket, name: str):
    await websocket.accept()
    session = Session(websocket, name)
    by_name[name] = session
    try:
        while True:
            await websocket.receive_text()
    finally:
        by_name.pop(name, None)
"""


def test_registered_wrapper_is_a_registration(tmp_path):
    (found,) = _findings(tmp_path, WRAPPER, want_edits=True)
    assert found.line == _at(WRAPPER, "sessions.append(session)")
    assert found.fix is not None
    texts = [e.content for e in found.fix.edits]
    assert any("sessions.remove(session)" in t for t in texts)


def test_value_not_built_from_the_connection_is_no_wrapper(tmp_path):
    src = WRAPPER.replace("Session(websocket, name)", "Session(None, name)")
    assert _findings(tmp_path, src) == []


# -- false alarm 3: helpers that undo their own registration; socket.io rooms through a helper -------

HELPER_FINALLY = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
clients = set()


async def serve(websocket):
    clients.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    finally:
        clients.discard(websocket)


async def track(websocket):
    clients.add(websocket)
    try:
        await pump(websocket)
    finally:
        clients.discard(websocket)


async def pump(websocket):
    async for text in websocket.iter_text():
        print(text)


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await websocket.accept()
    await serve(websocket)


@app.websocket("/ws2")
async def endpoint2(websocket: WebSocket):
    await websocket.accept()
    await track(websocket)
    await websocket.send_text("bye")
"""


def test_helper_with_its_own_finally_is_no_leak(tmp_path):
    assert _findings(tmp_path, HELPER_FINALLY) == []


WATCHER = """
import asyncio

import websockets

WATCH = {}


async def watch(websocket, key):
    try:
        connected = WATCH[key]
    except KeyError:
        return
    connected.add(websocket)
    try:
        await websocket.wait_closed()
    finally:
        connected.remove(websocket)


async def leaky_watch(websocket, key):
    connected = WATCH[key]
    connected.add(websocket)
    await websocket.wait_closed()
    connected.remove(websocket)


async def handler(websocket):
    message = await websocket.recv()
    if message == "watch":
        await watch(websocket, message)
    else:
        await leaky_watch(websocket, message)


async def main():
    async with websockets.serve(handler, "", 8001):
        await asyncio.Future()
"""


def test_helper_undoing_in_its_finally_without_reading_is_no_leak(tmp_path):
    # the helper reads nothing after the registration: the call site is where it used to be
    # judged, but the helper's own ``finally`` already undoes it on every way out
    found = _findings(tmp_path, WATCHER)
    assert [f.line for f in found] == [_at(WATCHER, "await leaky_watch(websocket, message)")]


ROOMS = """
import socketio

sio = socketio.AsyncServer(async_mode="asgi")
users = {}


async def join_room(sid, room):
    await sio.enter_room(sid, room)
    await sio.emit("joined", room, to=room)


async def remember(sid, name):
    users[name] = sid


@sio.event
async def join(sid, data):
    await join_room(sid, data["room"])


@sio.event
async def direct(sid, data):
    await sio.enter_room(sid, data["room"])


@sio.event
async def login(sid, data):
    await remember(sid, data["name"])
"""


def test_socketio_room_through_a_helper_is_not_reported(tmp_path):
    found = _findings(tmp_path, ROOMS)
    # only the sid stored in a dict of the app (no ``disconnect`` handler) is reported
    assert [f.line for f in found] == [_at(ROOMS, 'await remember(sid, data["name"])')]


# -- accuracy corpus: a ``connect()`` that only accepts is no registration ------------------------

ONLY_ACCEPTS = """
from fastapi import FastAPI, WebSocket

app = FastAPI()


class Manager:
    def __init__(self):
        self.active = []

    async def connect(self, websocket):
        await websocket.accept()

    async def join(self, websocket):
        await websocket.accept()
        self.active.append(websocket)


manager = Manager()


@app.websocket("/accepts")
async def accepts(websocket: WebSocket):
    await manager.connect(websocket)
    while True:
        await websocket.receive_text()


@app.websocket("/registers")
async def registers(websocket: WebSocket):
    await manager.join(websocket)
    while True:
        await websocket.receive_text()
"""

IMPORTED = """
from fastapi import FastAPI, WebSocket

from .manager import manager

app = FastAPI()


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await manager.connect(websocket)
    async for text in websocket.iter_text():
        print(text)
"""


def test_registration_is_decided_from_the_callee_body(tmp_path):
    found = _findings(tmp_path, ONLY_ACCEPTS)
    assert [f.line for f in found] == [_at(ONLY_ACCEPTS, "await manager.join(websocket)")]


def test_callee_not_visible_is_not_taken_for_a_registration_by_its_name(tmp_path):
    assert _findings(tmp_path, IMPORTED) == []


# -- accuracy corpus: a call that can raise between the registration and the ``try`` ---------------

BEFORE_TRY = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
clients = set()


async def load_history(websocket):
    await websocket.send_text("history")


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await websocket.accept()
    clients.add(websocket)
    await load_history(websocket)
    try:
        while True:
            await websocket.receive_text()
    finally:
        clients.discard(websocket)


@app.websocket("/ok")
async def ok(websocket: WebSocket):
    await websocket.accept()
    clients.add(websocket)
    try:
        await load_history(websocket)
        while True:
            await websocket.receive_text()
    finally:
        clients.discard(websocket)
"""


def test_sync_call_before_the_try_is_not_reported(tmp_path):
    src = BEFORE_TRY.replace("    await load_history(websocket)\n    try:", "    print(websocket)\n    try:", 1)
    assert src != BEFORE_TRY
    assert _findings(tmp_path, src) == []


def test_call_raising_before_the_try_leaks(tmp_path):
    (found,) = _findings(tmp_path, BEFORE_TRY, want_edits=True)
    assert found.line == _at(BEFORE_TRY, "clients.add(websocket)")
    assert "a call before the `try` raises" in found.message
    assert found.fix is None  # the ``try`` has to move up; a second ``finally`` would undo twice


# -- one decision for plain check and edits ------------------------------------------------------------


def _key(findings):
    return [(f.line, f.column, f.end_line, f.end_column, f.message, f.context) for f in findings]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_plain_check_equals_the_edits_path(path):
    plain = process_file(str(path), _job())
    edits = process_file(str(path), _job(want_edits=True))
    assert plain.internal_error is None and edits.internal_error is None
    assert _key(plain.findings) == _key(edits.findings)


@pytest.mark.parametrize("src", [WRAPPER, ROOMS, ONLY_ACCEPTS, BEFORE_TRY], ids=["wrapper", "rooms", "accepts", "before"])
def test_snippets_plain_equals_edits(tmp_path, src):
    assert _key(_findings(tmp_path, src)) == _key(_findings(tmp_path, src, want_edits=True))


# -- shapes the old ``wants`` prefilter was tested on (tests/test_prefilter_endpoints.py) --------------

REMEMBER = """
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
"""

SYNC_CONSUMER = """
from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

class Chat(WebsocketConsumer):
    def connect(self):
        async_to_sync(self.channel_layer.group_add)("room", self.channel_name)
        self.accept()
"""


def test_registration_in_a_helper_is_reported_at_the_call(tmp_path):
    (found,) = _findings(tmp_path, REMEMBER, want_edits=True)
    assert found.line == _at(REMEMBER, "remember(key, websocket)")
    assert found.fix is None  # no paired undo (``forget``/``unremember``) to call in the ``finally``
    with_undo = REMEMBER.replace("@app.websocket", "def unremember(key):\n    clients.pop(key, None)\n\n@app.websocket")
    (found,) = _findings(tmp_path, with_undo, want_edits=True)
    assert found.fix is not None
    assert any("unremember(key)" in e.content for e in found.fix.edits)


def test_sync_channels_group_add_through_async_to_sync(tmp_path):
    (found,) = _findings(tmp_path, SYNC_CONSUMER)
    assert found.line == _at(SYNC_CONSUMER, "async_to_sync(")
    assert "the class has no `disconnect` method" in found.message
    undone = SYNC_CONSUMER + """
    def disconnect(self, code):
        async_to_sync(self.channel_layer.group_discard)("room", self.channel_name)
"""
    assert _findings(tmp_path, undone) == []


@pytest.mark.parametrize("src", [
    # no framework import: ``websocket`` is only a name
    """
    async def websocket_handler(websocket):
        await websocket.accept()
        clients[1] = websocket
    """,
    # a relative import of a namesake module is not the framework
    """
    from .websockets import serve
    from .fastapi import FastAPI

    app = FastAPI()

    @app.websocket("/ws")
    async def chat(ws):
        await ws.accept()
        clients.add(ws)

    serve(chat, max_size=None)
    """,
    # no endpoint: a helper taking a WebSocket is not one
    """
    from fastapi import FastAPI, WebSocket

    def make_app():
        return FastAPI()

    async def helper(websocket: WebSocket):
        await websocket.accept()
        registry[1] = websocket
    """,
], ids=["no-framework", "relative-namesake", "no-endpoint"])
def test_no_endpoint_no_finding(tmp_path, src):
    assert _findings(tmp_path, src) == []


# -- no libcst on a plain check; text equals ``--format json --show-fixes`` --------------------------------


def test_plain_check_never_parses_libcst(monkeypatch):
    no_libcst(monkeypatch)
    found = []
    for path in FIXTURES:
        result = process_file(str(path), _job())
        assert result.internal_error is None
        found += [f for f in result.findings if f.code == "WS104"]
    assert len(found) >= 10
    assert any(f.fix is not None for f in found)  # fixable findings are known without libcst


def test_text_equals_json_with_fixes(monkeypatch):
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    paths = [str(p.relative_to(REPO)) for p in FIXTURES]
    text = runner.invoke(app, ["check", "--no-cache", "--select", "WS104", *paths])
    data = runner.invoke(app, ["check", "--no-cache", "--select", "WS104", "--format", "json", "--show-fixes", *paths])
    assert text.exit_code == data.exit_code == 1
    findings = json.loads(data.stdout)
    from_json = [f"{f['filename']}:{f['line']}:{f['column']}: WS104 {f['message']}" for f in findings]
    from_text = [line for line in text.stdout.splitlines() if " WS104 " in line]
    assert from_json and sorted(from_text) == sorted(from_json)
    fixable = [f for f in findings if f["fix"] is not None]
    assert fixable and all(f["fix"]["edits"] for f in fixable)  # every offered fix has its edits
    # the text summary promises exactly the fixes JSON shows (all WS104 fixes are unsafe)
    assert f"{len(fixable)} more with `wsrefactor fix --unsafe-fixes`" in text.stdout


# -- what the semantic model adds: callees resolved through types; a line of several statements -------

TYPED = """
from fastapi import Depends, FastAPI, WebSocket

app = FastAPI()
clients = set()


class Manager:
    def __init__(self):
        self.active = []

    async def connect(self, websocket):
        await websocket.accept()
        self.active.append(websocket)

    def disconnect(self, websocket):
        self.active.remove(websocket)


def get_manager() -> Manager:
    return Manager()


@app.websocket("/ws")
async def endpoint(websocket: WebSocket, manager: Manager = Depends(get_manager)):
    await manager.connect(websocket)
    while True:
        await websocket.receive_text()


@app.websocket("/two")
async def two(websocket: WebSocket):
    await websocket.accept(); clients.add(websocket)
    while True:
        await websocket.receive_text()
"""


def test_manager_known_by_its_annotation_registers(tmp_path):
    found = _findings(tmp_path, TYPED, want_edits=True)
    assert [f.line for f in found] == [_at(TYPED, "await manager.connect(websocket)"), _at(TYPED, "clients.add")]
    assert all(f.fix is not None for f in found)
    texts = [e.content for f in found for e in f.fix.edits]
    assert any("manager.disconnect(websocket)" in t for t in texts)
    # the registration ends a line of two statements: the ``try`` starts after that line
    assert any("clients.discard(websocket)" in t for t in texts)


# -- "same module or another": a registration made by an imported manager ---------------------------

from dataclasses import replace  # noqa: E402

from tests.rules._projects import line_of, project  # noqa: E402
from wsrefactor.runner import execute  # noqa: E402

MANAGER = """
class Manager:
    def __init__(self):
        self.active = []

    async def connect(self, websocket):
        await websocket.accept()
        self.active.append(websocket)

    def disconnect(self, websocket):
        self.active.remove(websocket)

    def forget(self, websocket):
        if websocket in self.active:
            self.active.remove(websocket)

    async def greet(self, websocket):
        await websocket.accept()

    async def serve(self, websocket):
        await websocket.accept()
        self.active.append(websocket)
        try:
            async for text in websocket.iter_text():
                print(text)
        finally:
            self.active.remove(websocket)

    async def broadcast(self, text):
        for ws in self.active:
            await ws.send_text(text)


manager = Manager()
"""

ENDPOINTS = """
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from app.manager import manager

app = FastAPI()


@app.websocket("/leak")
async def leak(websocket: WebSocket):
    await manager.connect(websocket)
    while True:
        await websocket.receive_text()


@app.websocket("/on-disconnect")
async def on_disconnect(websocket: WebSocket):
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(websocket)


@app.websocket("/then-broadcast")
async def then_broadcast(websocket: WebSocket):
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(websocket)
        await manager.broadcast("left")


@app.websocket("/finally")
async def in_finally(websocket: WebSocket):
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    finally:
        manager.forget(websocket)


@app.websocket("/greet")
async def greet(websocket: WebSocket):
    await manager.greet(websocket)
    while True:
        await websocket.receive_text()


@app.websocket("/serve")
async def serve(websocket: WebSocket):
    await manager.serve(websocket)
"""


def _project_findings(root: Path, want_edits: bool = False) -> list:
    config = replace(Config(), root=str(root))
    job = Job(config, Selection(("WS104",), (), tuple(load_rules(()))), want_edits=want_edits)
    run = execute([str(root)], job, jobs=1)
    assert not run.failed, run.messages
    return [f for f in run.findings if f.code == "WS104"]


def _manager_project(root: Path, endpoints: str = ENDPOINTS) -> Path:
    return project(root, {"app/__init__.py": "", "app/manager.py": MANAGER, "app/main.py": endpoints})


def test_imported_manager_registration_is_reported_at_the_call(tmp_path):
    found = _project_findings(_manager_project(tmp_path), want_edits=True)
    lines = [f.line for f in found]
    calls = [n for n, text in enumerate(textwrap.dedent(ENDPOINTS).lstrip("\n").splitlines(), 1)
             if "await manager.connect(websocket)" in text]
    # /finally undoes it through `forget` (its body unregisters, whatever its name): silent
    assert lines == calls[:3]
    assert all(f.path.endswith("main.py") for f in found)
    leak, on_disconnect, then_broadcast = found
    assert "the client disconnects" in leak.message
    assert "the handler raises" in on_disconnect.message and "disconnects" not in on_disconnect.message
    # no undo statement in the handler: the manager's undo (name, parameters) is not in this module
    assert leak.fix is None
    # the handler's own undo, last in its `except`, moves into the `finally`
    assert on_disconnect.fix is not None
    assert any("finally" in e.content for e in on_disconnect.fix.edits)
    # an undo followed by a broadcast would run twice (`list.remove` in another module): no fix
    assert then_broadcast.fix is None


def test_imported_helper_that_undoes_its_own_registration_is_no_leak(tmp_path):
    found = _project_findings(_manager_project(tmp_path))
    lines = {f.line for f in found}
    assert line_of(ENDPOINTS, "await manager.serve(websocket)") not in lines
    assert line_of(ENDPOINTS, "await manager.greet(websocket)") not in lines  # accepts only


def test_imported_manager_fix_output(tmp_path):
    only = ENDPOINTS.split('@app.websocket("/then-broadcast")')[0]
    root = _manager_project(tmp_path, only)
    result = CliRunner().invoke(app, ["fix", "--select", "WS104", "--no-cache", str(root)])
    assert result.exit_code == 1, result.output  # /leak remains (no fix)
    fixed = (root / "app" / "main.py").read_text()
    assert "    except WebSocketDisconnect:\n        pass\n    finally:\n        manager.disconnect(websocket)\n" in fixed
    assert [f.line for f in _project_findings(root)] == [line_of(only, "await manager.connect(websocket)")]


def test_without_the_manager_module_nothing_is_decided(tmp_path):
    root = _manager_project(tmp_path)
    (root / "app" / "manager.py").unlink()
    assert _project_findings(root) == []


BEFORE_TRY_IMPORTED = """
from fastapi import FastAPI, WebSocket

from app.manager import manager

app = FastAPI()


@app.websocket("/ws")
async def endpoint(websocket: WebSocket):
    await manager.connect(websocket)
    await manager.broadcast("joined")
    try:
        while True:
            await websocket.receive_text()
    finally:
        manager.disconnect(websocket)
"""


def test_imported_manager_call_raising_before_the_try_leaks(tmp_path):
    """The accuracy corpus' shape (fastapi-nextjs-websocket ``endpoint.py:162``): the ``finally``
    undoes it, but an ``await`` between the registration and the ``try`` may raise first."""
    (found,) = _project_findings(_manager_project(tmp_path, BEFORE_TRY_IMPORTED), want_edits=True)
    assert found.line == line_of(BEFORE_TRY_IMPORTED, "await manager.connect(websocket)")
    assert "a call before the `try` raises" in found.message
    assert found.fix is None
    fine = BEFORE_TRY_IMPORTED.replace('    await manager.broadcast("joined")\n    try:\n',
                                       '    try:\n        await manager.broadcast("joined")\n')
    assert fine != BEFORE_TRY_IMPORTED
    assert _project_findings(_manager_project(tmp_path / "fine", fine)) == []
