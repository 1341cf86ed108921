"""WS102 message-size-unbounded on the server model: issue #12's snippets (receives in
manager/service methods and through attributes; length checks in helpers, through a local, two
calls deep), one decision for plain check and edits, and no libcst in a plain check."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.rules._semantic_paths import no_libcst
from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "fixtures" / "WS102").glob("*.py"))


def _job(want_edits: bool = False) -> Job:
    return Job(Config(), Selection(("WS102",), (), tuple(load_rules(()))), want_edits=want_edits)


def _lines(tmp_path: Path, src: str, want_edits: bool = False) -> list[int]:
    path = tmp_path / "example.py"
    path.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
    result = process_file(str(path), _job(want_edits))
    assert result.internal_error is None
    return [f.line for f in result.findings if f.code == "WS102"]


def _at(src: str, *texts: str) -> list[int]:
    """The line numbers (in ``_lines``'s numbering) of the lines holding one of ``texts``."""
    lines = textwrap.dedent(src).lstrip("\n").splitlines()
    return [n for n, line in enumerate(lines, 1) if any(t in line for t in texts)]


# -- misses to find (issue #12 "Misses" 2) ---------------------------------------------------------

MANAGER_METHOD = """
from fastapi import FastAPI, WebSocket

app = FastAPI()


class ChatService:
    async def handle(self, websocket: WebSocket) -> None:
        data = await websocket.receive_text()
        await self.store(data)


class Manager:
    async def listen(self, websocket):
        while True:
            text = await websocket.receive_text()
            print(text)


manager = Manager()


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await manager.listen(websocket)
"""

THROUGH_AN_ATTRIBUTE = """
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket

app = FastAPI()


@dataclass
class Connection:
    websocket: WebSocket
    user: str


class Session:
    def __init__(self, socket):
        self.socket = socket

    async def read(self):
        message = await self.socket.receive_text()
        return message.split(",")


async def pump(conn: Connection) -> None:
    data = await conn.websocket.receive_text()
    print(data)


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    session = Session(websocket)
    await session.read()
"""


def test_receive_in_manager_and_service_methods(tmp_path):
    assert _lines(tmp_path, MANAGER_METHOD) == _at(MANAGER_METHOD, "data = await", "text = await")


def test_receive_through_an_attribute_holding_the_connection(tmp_path):
    assert _lines(tmp_path, THROUGH_AN_ATTRIBUTE) == _at(THROUGH_AN_ATTRIBUTE, "message = await", "data = await")


def test_awaited_wrapper_is_seen_through(tmp_path):
    src = """
    import asyncio
    from fastapi import WebSocket

    async def auth(websocket: WebSocket):
        first = await asyncio.wait_for(websocket.receive_text(), timeout=5)
        return first.split(":")
    """
    assert _lines(tmp_path, src) == _at(src, "first = await")


# -- false alarms to stop (issue #12 "False alarms" 1) -------------------------------------------------

HELPER_CHECK = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
MAX = 65536


def size_ok(data: str) -> bool:
    return len(data) <= MAX


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        data = await websocket.receive_text()
        if not size_ok(data):
            await websocket.close(1009)
            return
        print(data)
"""

LOCAL_SIZE = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
MAX = 65536


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    data = await websocket.receive_text()
    size = len(data.encode())
    if size > MAX:
        await websocket.close(1009)
        return
    print(data)
"""

TWO_CALLS_DEEP = """
from fastapi import FastAPI, WebSocket

app = FastAPI()
MAX = 65536


def within_limit(payload):
    return len(payload) <= MAX


class Validator:
    def validate(self, message):
        return within_limit(message)


validator = Validator()


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    data = await websocket.receive_bytes()
    if not validator.validate(data):
        await websocket.close(1009)
        return
    print(data)
"""


@pytest.mark.parametrize("src", [HELPER_CHECK, LOCAL_SIZE, TWO_CALLS_DEEP], ids=["helper", "local", "two-deep"])
def test_length_check_through_helpers_and_locals(tmp_path, src):
    assert _lines(tmp_path, src) == []


def test_helper_that_does_not_measure_is_no_check(tmp_path):
    src = HELPER_CHECK.replace("return len(data) <= MAX", "return bool(data)")
    assert _lines(tmp_path, src) == _at(src, "data = await")


def test_not_a_connection_by_name_alone(tmp_path):
    src = """
    from fastapi import FastAPI

    class Queue:
        async def pull(self, websocket):
            data = await websocket.receive_text()  # ``websocket`` is only a name here
            print(data)
    """
    assert _lines(tmp_path, src) == []


# -- one decision, no libcst on a plain check -------------------------------------------------------


def _key(findings):
    return [(f.line, f.column, f.end_line, f.end_column, f.message, f.context, f.fix is not None) for f in findings]


@pytest.mark.parametrize("path", FIXTURES + [], ids=lambda p: p.name)
def test_plain_check_equals_the_edits_path(path):
    plain = process_file(str(path), _job())
    edits = process_file(str(path), _job(want_edits=True))
    assert _key(plain.findings) == _key(edits.findings)


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    no_libcst(monkeypatch)
    found = []
    for path in FIXTURES:
        result = process_file(str(path), _job())
        assert result.internal_error is None
        found += result.findings
    assert len(found) >= 8


# -- across modules (issue #12 "Misses" 2: "same module or another") ------------------------------

from tests.rules._projects import findings as _project_findings  # noqa: E402
from tests.rules._projects import line_of, project  # noqa: E402

_ENDPOINT = """
    from fastapi import APIRouter, WebSocket

    from app.manager import manager

    router = APIRouter()


    @router.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await manager.handle(websocket)
"""
_MANAGER = """
    class Manager:
        def __init__(self):
            self.active = []

        async def handle(self, websocket):
            self.active.append(websocket)
            while True:
                data = await websocket.receive_text()
                print(data)


    manager = Manager()
"""


def _manager_project(root: Path, endpoint: str = _ENDPOINT, manager: str = _MANAGER) -> Path:
    return project(root, {"app/__init__.py": "", "app/ws.py": endpoint, "app/manager.py": manager})


def test_receive_in_another_modules_manager_method_is_found_there(tmp_path):
    root = _manager_project(tmp_path)
    found = _project_findings(root, "WS102")
    assert [(p, n) for p, n, _ in found] == [("app/manager.py", line_of(_MANAGER, "receive_text"))]


def test_two_modules_deep_through_a_relative_import_without_init_files(tmp_path):
    endpoint = """
        from fastapi import APIRouter, WebSocket

        from ..services import relay

        router = APIRouter()


        @router.websocket("/chat")
        async def chat(websocket: WebSocket):
            await websocket.accept()
            await relay.pump("x", websocket)
    """
    relay = """
        from . import reader


        async def pump(name, ws):
            await reader.read_all(ws, name)
    """
    reader = """
        async def read_all(sock, name):
            while True:
                text = await sock.receive_text()
                print(name, text)
    """
    root = project(tmp_path, {"backend/routers/chat.py": endpoint, "backend/services/relay.py": relay,
                              "backend/services/reader.py": reader})
    found = _project_findings(root, "WS102")
    assert [(p, n) for p, n, _ in found] == [("backend/services/reader.py", line_of(reader, "receive_text"))]


def test_a_parameter_named_websocket_that_no_connection_reaches_is_not_a_connection(tmp_path):
    endpoint = _ENDPOINT.replace("await manager.handle(websocket)", 'await manager.handle("websocket")')
    root = _manager_project(tmp_path, endpoint=endpoint)
    assert _project_findings(root, "WS102") == []


def test_a_callee_that_measures_the_size_is_a_check(tmp_path):
    manager = _MANAGER.replace("print(data)", "if len(data) > 4096:\n                    return\n                print(data)")
    root = _manager_project(tmp_path, manager=manager)
    assert _project_findings(root, "WS102") == []


def test_subset_runs_see_the_other_files_only_with_project_scope(tmp_path):
    root = _manager_project(tmp_path)
    assert _project_findings(root, "WS102", paths=["app/manager.py"]) == []
    found = _project_findings(root, "WS102", paths=["app/manager.py"], scope="project")
    assert [(p, n) for p, n, _ in found] == [("app/manager.py", line_of(_MANAGER, "receive_text"))]


def test_the_cache_re_decides_a_file_when_another_file_changes_what_it_passes(tmp_path):
    root = _manager_project(tmp_path)
    first = _project_findings(root, "WS102", cache=True)
    assert _project_findings(root, "WS102", cache=True) == first != []  # warm: served from the cache
    endpoint = _ENDPOINT.replace("await manager.handle(websocket)", 'await manager.handle("websocket")')
    (root / "app" / "ws.py").write_text(textwrap.dedent(endpoint).lstrip("\n"), encoding="utf-8")
    assert _project_findings(root, "WS102", cache=True) == []  # manager.py unchanged, its facts gone
