"""WS101 origin-not-checked on the server model: issue #12's snippets (accept inside a manager's
``connect``, same module or another), the shapes the old endpoint prefilter tests pinned down
(found / not found), one decision for plain check and edits, and no libcst in a plain check."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.rules._semantic_paths import no_libcst
from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, fix_text
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "fixtures" / "WS101").glob("*.py"))
RULES = load_rules(())


def _job(want_edits: bool = False) -> Job:
    return Job(Config(), Selection(("WS101",), (), tuple(RULES)), want_edits=want_edits)


def _src(src: str) -> str:
    return textwrap.dedent(src).lstrip("\n")


def _findings(tmp_path: Path, src: str, want_edits: bool = False):
    path = tmp_path / "example.py"
    path.write_text(_src(src), encoding="utf-8")
    result = process_file(str(path), _job(want_edits))
    assert result.internal_error is None
    return [f for f in result.findings if f.code == "WS101"]


# -- issue #12 "Misses" 1: accept inside a manager -------------------------------------------------

SAME_MODULE_MANAGER = """
from fastapi import APIRouter, WebSocket

router = APIRouter()


class ConnectionManager:
    def __init__(self):
        self.active = []

    async def connect(self, websocket):
        await websocket.accept()
        self.active.append(websocket)


manager = ConnectionManager()


@router.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await manager.connect(websocket)
    async for text in websocket.iter_text():
        print(text)
"""

OTHER_MODULE_MANAGER = """
from fastapi import APIRouter, WebSocket

from .manager import manager

router = APIRouter()


@router.websocket("/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    await manager.connect(websocket)
    async for text in websocket.iter_text():
        print(text)
"""


def test_accept_in_a_same_module_manager_is_found_and_guarded(tmp_path):
    (finding,) = _findings(tmp_path, SAME_MODULE_MANAGER, want_edits=True)
    assert finding.line == _src(SAME_MODULE_MANAGER).splitlines().index(
        "async def ws_endpoint(websocket: WebSocket) -> None:") + 1
    text = _src(SAME_MODULE_MANAGER)
    outcome = fix_text("example.py", text, [RULES["WS101"]], Config(), FixPolicy(unsafe=True))
    guarded = 'if websocket.headers.get("origin") not in WS_ALLOWED_ORIGINS:\n'
    assert guarded in outcome.text
    assert outcome.text.index(guarded) < outcome.text.index("    await manager.connect(websocket)")


def test_accept_in_another_module_is_implied_by_the_receive(tmp_path):
    """Starlette refuses ``receive``/``iter_*``/``send`` before ``accept()``: an endpoint that
    reads from its socket has accepted it, in whatever module that happened."""
    (finding,) = _findings(tmp_path, OTHER_MODULE_MANAGER)
    assert "ws_endpoint" in finding.message and finding.fix is None


def test_endpoint_that_neither_accepts_nor_talks_is_silent(tmp_path):
    src = OTHER_MODULE_MANAGER.replace(
        "    async for text in websocket.iter_text():\n        print(text)\n", "")
    assert _findings(tmp_path, src) == []


def test_accept_elsewhere_behind_an_imported_dependency_is_silent(tmp_path):
    """Accepted in another module, with a guard of another module (``Depends(check)``) that may
    compare the Origin: not decidable from this module, so silent."""
    src = OTHER_MODULE_MANAGER.replace(
        "async def ws_endpoint(websocket: WebSocket) -> None:",
        "async def ws_endpoint(websocket: WebSocket, user=Depends(authenticated)) -> None:",
    ).replace(
        "from .manager import manager",
        "from fastapi import Depends\n\nfrom .auth import authenticated\nfrom .manager import manager",
    )
    assert _findings(tmp_path, src) == []


def test_check_in_the_manager_counts(tmp_path):
    src = SAME_MODULE_MANAGER.replace(
        "        await websocket.accept()",
        "        if websocket.headers.get(\"origin\") not in {\"https://a.example\"}:\n"
        "            await websocket.close(code=1008)\n"
        "            return\n"
        "        await websocket.accept()",
    )
    assert _findings(tmp_path, src) == []


def test_flask_socketio_any_origin(tmp_path):
    src = """
    from flask import Flask
    from flask_socketio import SocketIO

    app = Flask(__name__)
    socketio = SocketIO(app, cors_allowed_origins="*")
    same_origin = SocketIO(app)
    """
    (finding,) = _findings(tmp_path, src)
    assert finding.line == 5 and "cors_allowed_origins" in finding.message


# -- shapes from the retired endpoint prefilter tests --------------------------------------------------

FOUND = {
    "aliased-app-and-annotation": """
        import fastapi as fa
        from fastapi import WebSocket as Sock

        app = fa.FastAPI()

        @app.websocket("/ws")
        async def chat(ws: Sock):
            await ws.accept()
    """,
    "rebound-import-name": """
        from fastapi import FastAPI
        try:
            import orjson
        except ImportError:
            from mylib import orjson

        app = FastAPI()

        @app.websocket("/ws")
        async def chat(ws):
            await ws.accept()
    """,
    "router-from-elsewhere-by-annotation": """
        from starlette.websockets import WebSocket
        from .routes import router

        def build():
            @router.websocket("/ws")
            async def chat(websocket: WebSocket):
                await websocket.accept()
            return chat
    """,
    "accept-in-a-manager-method": """
        from fastapi import FastAPI, WebSocket

        class Manager:
            async def connect(self, websocket):
                await websocket.accept()

        manager = Manager()
        app = FastAPI()

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            await manager.connect(websocket)
    """,
    "endpoint-class-through-local-base": """
        from starlette import endpoints

        class Base(endpoints.WebSocketEndpoint):
            encoding = "text"

        class Chat(Base):
            async def on_receive(self, websocket, data):
                await websocket.send_text(data)

        ROUTES = [("/ws", Chat)]
    """,
    "serve-partial-handler": """
        import functools
        from websockets.asyncio.server import serve as ws_serve

        async def handler(ws, greeting):
            await ws.send(greeting)

        async def main():
            async with ws_serve(functools.partial(handler, greeting="hi"), "", 8765):
                pass
    """,
    "tornado-check-origin-true": """
        from tornado import websocket

        class Chat(websocket.WebSocketHandler):
            def check_origin(self, origin):
                if origin:
                    return True
                return True
    """,
    "socketio-origins-via-constant": """
        import socketio

        ORIGINS = "*"
        sio = socketio.AsyncServer(cors_allowed_origins=ORIGINS)
    """,
    "channels-dict-call": """
        from channels.routing import ProtocolTypeRouter, URLRouter

        application = ProtocolTypeRouter(dict(websocket=URLRouter([])))
    """,
}

NOT_FOUND = {
    "no-framework-import": """
        import json

        async def websocket_handler(websocket):
            await websocket.accept()
            data = json.loads(await websocket.receive_text())
            clients[data["id"]] = websocket
    """,
    "relative-import-of-a-namesake": """
        from .websockets import serve
        from .fastapi import FastAPI

        app = FastAPI()

        @app.websocket("/ws")
        async def chat(ws):
            await ws.accept()
            clients.add(ws)

        serve(chat, max_size=None)
    """,
    "framework-import-without-endpoint": """
        import json
        from fastapi import FastAPI, WebSocket

        def make_app():
            app = FastAPI()
            return app

        async def helper(websocket: WebSocket):
            await websocket.accept()
            msg = json.loads(await websocket.receive_text())
            registry[msg["id"]] = websocket
    """,
    "tornado-check-origin-that-checks": """
        from urllib.parse import urlparse
        import tornado.websocket

        class Chat(tornado.websocket.WebSocketHandler):
            def check_origin(self, origin):
                return urlparse(origin).netloc == "good.example"
    """,
    "validated-channels-and-safe-servers": """
        import socketio
        import websockets
        from channels.routing import ProtocolTypeRouter, URLRouter
        from channels.security.websocket import AllowedHostsOriginValidator

        sio = socketio.AsyncServer(cors_allowed_origins=["https://good.example"])
        application = ProtocolTypeRouter({"websocket": AllowedHostsOriginValidator(URLRouter([]))})
        server = websockets.serve(None, "", 8765, origins=["https://good.example"], max_size=2**20)
    """,
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found(tmp_path, case):
    assert _findings(tmp_path, FOUND[case])


@pytest.mark.parametrize("case", sorted(NOT_FOUND))
def test_not_found(tmp_path, case):
    assert _findings(tmp_path, NOT_FOUND[case]) == []


# -- one decision, no libcst on a plain check -------------------------------------------------------


def _key(findings):
    return [(f.line, f.column, f.end_line, f.end_column, f.message, f.context, f.fix is not None) for f in findings]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_plain_check_equals_the_edits_path(path):
    plain = process_file(str(path), _job())
    edits = process_file(str(path), _job(want_edits=True))
    assert _key(plain.findings) == _key(edits.findings)


def test_plain_check_never_parses_libcst(monkeypatch):
    no_libcst(monkeypatch)
    found = []
    for path in FIXTURES:
        result = process_file(str(path), _job())
        assert result.internal_error is None
        found += result.findings
    assert len(found) >= 15


# -- Channels routing across modules (asgi.py -> routing.py -> consumers.py) -----------------------

from tests.rules._projects import findings as project_findings  # noqa: E402
from tests.rules._projects import line_of, project  # noqa: E402

_CONSUMER = """
    from channels.generic.websocket import WebsocketConsumer


    class ChatConsumer(WebsocketConsumer):
        def connect(self):
            self.accept()

        def receive(self, text_data):
            self.send(text_data=text_data)
"""
_ROUTING = """
    from django.urls import path

    from .consumers import ChatConsumer

    websocket_urlpatterns = [
        path("ws/chat/<str:name>/", ChatConsumer.as_asgi()),
    ]
"""
_ASGI = """
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application

    from chat.routing import websocket_urlpatterns

    application = ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    })
"""


def _channels_project(root, asgi=_ASGI):
    return project(root, {"chat/__init__.py": "", "chat/consumers.py": _CONSUMER, "chat/routing.py": _ROUTING,
                          "site/__init__.py": "", "site/asgi.py": asgi})


def test_consumer_routed_by_an_unvalidated_router_in_another_module(tmp_path):
    found = project_findings(_channels_project(tmp_path), "WS101")
    assert [(p, n) for p, n, _ in found] == [
        ("chat/consumers.py", line_of(_CONSUMER, "self.accept()")),
        ("site/asgi.py", line_of(_ASGI, "ProtocolTypeRouter({")),
    ]
    assert "asgi.py:" in found[0][2]


def test_consumer_behind_an_origin_validator_in_another_module_is_clean(tmp_path):
    asgi = _ASGI.replace("from channels.auth import AuthMiddlewareStack",
                         "from channels.auth import AuthMiddlewareStack\n"
                         "from channels.security.websocket import AllowedHostsOriginValidator")
    asgi = asgi.replace('"websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),',
                        '"websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),')
    assert project_findings(_channels_project(tmp_path, asgi), "WS101") == []


def test_a_consumer_no_router_reaches_is_not_reported(tmp_path):
    root = project(tmp_path, {"chat/__init__.py": "", "chat/consumers.py": _CONSUMER})
    assert project_findings(root, "WS101") == []
