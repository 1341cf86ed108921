"""Behaviour checks for the flawed WebSocket apps in ``fixtures/apps``.

Every check takes a *module* (loaded with :func:`load_app`, usually from a
file path, so the same checks run against the original fixture and against a
copy rewritten by wsrefactor) and returns a :class:`CheckResult`.

Style, used consistently by every check:

* A check never raises for an app behaving one way or the other; it returns
  a ``CheckResult`` which is truthy when the property in the check's name
  holds and falsy otherwise.  ``detail`` says what was actually observed, and
  it appears in pytest's assertion output, so write ``assert check(mod)`` or
  ``assert not check(mod)``.  (``CheckResult == True/False`` also works;
  ``is True`` does not - it is not a ``bool``.)
* "Before"/"after" pairs are crisp: for each flaw, the *flaw* check is true
  on the original app and false on a fixed one, and the *fixed* check is the
  reverse.  Anything unexpected (timeouts, wrong replies) makes both false.
* Checks never hang: every receive has a timeout (``TIMEOUT`` seconds).

Sessions are driven with ``starlette.testclient.TestClient``; the app is
wrapped in a tiny ASGI shim that records when the WebSocket handler finished
and with which exception, so checks can wait for the server side to finish
instead of sleeping.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
import threading
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

with warnings.catch_warnings():
    # starlette>=1.x warns at import time that its TestClient prefers httpx2.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

__all__ = [
    "APPS_DIR",
    "CheckResult",
    "TIMEOUT",
    "GOOD_ORIGIN",
    "EVIL_ORIGIN",
    "LARGE_MESSAGE_SIZE",
    "SIZE_LIMIT",
    "MALFORMED_MESSAGES",
    "app_path",
    "load_app",
    # origin (WS101)
    "allowed_origin_works",
    "origin_accepts_evil",
    "origin_rejects_evil_with_1008",
    # size (WS102)
    "small_message_processed",
    "large_message_processed",
    "large_message_closed_1009",
    # validation (WS103)
    "valid_messages_work",
    "malformed_kills_handler",
    "malformed_gets_error_frame_and_connection_kept",
    # session cleanup (WS104)
    "registry_tracks_connected_client",
    "registry_empty_after_disconnect",
    "registry_empty_after_exception",
    # pacing (WS202)
    "ping_pong_works",
    "stream_frames_delivered",
    "ping_answered_before_stream_end",
]

APPS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "apps"

#: Seconds to wait for any single server reaction before giving up.
TIMEOUT = 5.0

GOOD_ORIGIN = "https://good.example"
EVIL_ORIGIN = "https://evil.example"

#: The fixed size app must close with 1009 above this many bytes.
SIZE_LIMIT = 65536
#: ASCII payload size used by the large-message checks (70 KB > SIZE_LIMIT).
LARGE_MESSAGE_SIZE = 70 * 1024

#: Malformed frames for the validation app, by name.
MALFORMED_MESSAGES: dict[str, str] = {
    "invalid_json": "{this is not json",
    "not_an_object": "[1, 2, 3]",
    "missing_type": json.dumps({"text": "hi"}),
    "chat_missing_text": json.dumps({"type": "chat"}),
    "join_missing_room": json.dumps({"type": "join"}),
}


# --------------------------------------------------------------------------
# results and loading
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CheckResult:
    """Outcome of one behaviour check: truthy iff the named property holds."""

    ok: bool
    detail: str

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bool):
            return self.ok is other
        if isinstance(other, CheckResult):
            return (self.ok, self.detail) == (other.ok, other.detail)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CheckResult(ok={self.ok}, detail={self.detail!r})"


def _result(ok: bool, detail: str) -> CheckResult:
    return CheckResult(bool(ok), detail)


_counter = itertools.count()


def app_path(name: str) -> Path:
    """Path of an original fixture app, e.g. ``app_path("origin_app")``."""
    return APPS_DIR / f"{name.removesuffix('.py')}.py"


def load_app(path: Path | str) -> Any:
    """Import the Python file at *path* as a brand-new module and return it.

    Each call uses a unique module name, so loading the same file twice gives
    two independent modules (independent ``app`` and module-level state).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    stem = re.sub(r"\W", "_", path.stem)
    name = f"_wsrefactor_app_{stem}_{next(_counter)}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # needed e.g. for dataclasses/pydantic in the app
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if not hasattr(module, "app"):
        raise AttributeError(f"{path} defines no module-level `app`")
    return module


# --------------------------------------------------------------------------
# session plumbing
# --------------------------------------------------------------------------

_STREAM_GONE = (anyio.ClosedResourceError, anyio.EndOfStream, anyio.BrokenResourceError)


class _Tracked:
    """ASGI wrapper recording when/how the WebSocket handler finished."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.done = threading.Event()
        self.error: BaseException | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.done.set()


async def _receive_with_timeout(stream: Any, timeout: float) -> Any:
    with anyio.fail_after(timeout):
        return await stream.receive()


class _Conn:
    """One client connection, driven synchronously, with timeouts.

    ``rejected`` is set (to a description) when the handshake did not
    complete; ``handshake_close_code`` is the close code in that case.
    """

    def __init__(self, mod: Any, path: str, headers: dict[str, str] | None = None) -> None:
        self.tracked = _Tracked(mod.app)
        self.client = TestClient(self.tracked)
        self.session: Any = None
        self.ws: Any = None
        self.rejected: str | None = None
        self.handshake_close_code: int | None = None
        self.exit_error: BaseException | None = None
        self._finished = False
        session = self.client.websocket_connect(path, headers=dict(headers or {}))
        try:
            self.ws = session.__enter__()
            self.session = session
        except WebSocketDisconnect as exc:
            # App sent websocket.close before accepting (or raised before it).
            self.handshake_close_code = exc.code
            self.rejected = f"closed during handshake with code {exc.code}"
        except WebSocketDenialResponse as exc:
            self.rejected = f"handshake denied with HTTP {exc.status_code}"
        except Exception as exc:  # handler crashed before accept
            self.rejected = f"handler raised during handshake: {exc!r}"

    # -- I/O ----------------------------------------------------------------

    def send_text(self, text: str) -> bool:
        """Send a text frame; False if the server side is already gone."""
        if self.ws is None:
            return False
        try:
            self.ws.send_text(text)
            return True
        except _STREAM_GONE:
            return False

    def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Next ASGI message from the app, or a synthetic one.

        Synthetic types: ``"_app_exited"`` (handler ended, streams closed),
        ``"_timeout"`` (nothing within *timeout*), ``"_not_connected"``.
        """
        if self.ws is None:
            return {"type": "_not_connected"}
        stream = getattr(self.ws, "_send_rx", None)
        try:
            if stream is not None:
                return self.ws.portal.call(_receive_with_timeout, stream, timeout)
            return self.ws.receive()  # pragma: no cover - private API changed
        except TimeoutError:
            return {"type": "_timeout"}
        except _STREAM_GONE:
            return {"type": "_app_exited"}

    def wait_handler_done(self, timeout: float = TIMEOUT) -> bool:
        return self.tracked.done.wait(timeout)

    @property
    def handler_error(self) -> BaseException | None:
        return self.tracked.error

    @property
    def handler_crashed(self) -> bool:
        """Handler ended with an exception other than WebSocketDisconnect."""
        err = self.tracked.error
        return err is not None and not isinstance(err, WebSocketDisconnect)

    # -- teardown -----------------------------------------------------------

    def client_close(self, code: int = 1000, wait: bool = True) -> bool:
        """Send a client-side close; optionally wait for the handler to end."""
        if self.ws is not None and not self.tracked.done.is_set():
            try:
                self.ws.close(code)
            except _STREAM_GONE:
                pass
        return self.wait_handler_done() if wait else self.tracked.done.is_set()

    def finish(self) -> None:
        """Tear the TestClient session down, swallowing server-side errors."""
        if self._finished:
            return
        self._finished = True
        if self.session is not None:
            try:
                self.session.__exit__(None, None, None)
            except BaseException as exc:  # app errors resurface here
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                self.exit_error = exc

    def __enter__(self) -> _Conn:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.finish()


def _describe(msg: dict[str, Any]) -> str:
    kind = msg.get("type")
    if kind == "websocket.send":
        if msg.get("text") is not None:
            text = msg["text"]
            return f"text frame {text[:80]!r}" + ("..." if len(text) > 80 else "")
        return f"bytes frame of {len(msg.get('bytes') or b'')} bytes"
    if kind == "websocket.close":
        return f"close frame with code {msg.get('code', 1000)}"
    if kind == "_app_exited":
        return "handler exited (connection dropped without a close frame)"
    if kind == "_timeout":
        return f"nothing within {TIMEOUT}s"
    return f"message {msg!r}"


def _text(msg: dict[str, Any]) -> str | None:
    if msg.get("type") == "websocket.send":
        return msg.get("text")
    return None


def _json(msg: dict[str, Any]) -> Any:
    text = _text(msg)
    if text is None:
        data = msg.get("bytes") if msg.get("type") == "websocket.send" else None
        if data is None:
            return None
        text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return None


def _err(conn: _Conn) -> str:
    err = conn.handler_error
    return f"; handler raised {err!r}" if err is not None else ""


# --------------------------------------------------------------------------
# WS101 origin
# --------------------------------------------------------------------------


def _origin_echo(mod: Any, origin: str) -> tuple[str, Any]:
    """('accepted', reply-text) | ('closed', code) | ('rejected', detail) | ('other', detail)."""
    with _Conn(mod, "/ws", headers={"origin": origin}) as conn:
        if conn.rejected is not None:
            if conn.handshake_close_code is not None:
                return "closed", conn.handshake_close_code
            return "rejected", conn.rejected
        conn.send_text("hello")
        msg = conn.receive()
        if msg.get("type") == "websocket.close":
            return "closed", msg.get("code", 1000)
        text = _text(msg)
        conn.client_close()
        if text is not None:
            return "accepted", text
        return "other", _describe(msg) + _err(conn)


def allowed_origin_works(mod: Any, origin: str = GOOD_ORIGIN) -> CheckResult:
    """An allow-listed Origin connects and gets its text echoed back."""
    kind, value = _origin_echo(mod, origin)
    ok = kind == "accepted" and value == "hello"
    return _result(ok, f"Origin {origin}: {kind} {value!r}")


def origin_accepts_evil(mod: Any, origin: str = EVIL_ORIGIN) -> CheckResult:
    """FLAW: a foreign Origin is accepted and served (echo works)."""
    kind, value = _origin_echo(mod, origin)
    ok = kind == "accepted" and value == "hello"
    return _result(ok, f"Origin {origin}: {kind} {value!r}")


def origin_rejects_evil_with_1008(mod: Any, origin: str = EVIL_ORIGIN) -> CheckResult:
    """FIXED: a foreign Origin is closed with 1008 (before or right after accept)."""
    kind, value = _origin_echo(mod, origin)
    ok = kind == "closed" and value == 1008
    return _result(ok, f"Origin {origin}: {kind} {value!r}")


# --------------------------------------------------------------------------
# WS102 size
# --------------------------------------------------------------------------


def _size_reply(mod: Any, size: int) -> tuple[dict[str, Any], _Conn]:
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return {"type": "_not_connected", "detail": conn.rejected}, conn
        conn.send_text("x" * size)
        msg = conn.receive()
        conn.client_close()
        return msg, conn


def small_message_processed(mod: Any, size: int = 5) -> CheckResult:
    """A small message is answered with ``got <len>``."""
    msg, conn = _size_reply(mod, size)
    ok = _text(msg) == f"got {size}"
    return _result(ok, f"{size}-byte message -> {_describe(msg)}{_err(conn)}")


def large_message_processed(mod: Any, size: int = LARGE_MESSAGE_SIZE) -> CheckResult:
    """FLAW: a 70 KB message is read and processed (``got 71680``)."""
    msg, conn = _size_reply(mod, size)
    ok = _text(msg) == f"got {size}"
    return _result(ok, f"{size}-byte message -> {_describe(msg)}{_err(conn)}")


def large_message_closed_1009(mod: Any, size: int = LARGE_MESSAGE_SIZE) -> CheckResult:
    """FIXED: a 70 KB message makes the server close with 1009."""
    msg, conn = _size_reply(mod, size)
    ok = msg.get("type") == "websocket.close" and msg.get("code") == 1009
    return _result(ok, f"{size}-byte message -> {_describe(msg)}{_err(conn)}")


# --------------------------------------------------------------------------
# WS103 validation
# --------------------------------------------------------------------------

_JOIN = json.dumps({"type": "join", "room": "kitchen"})
_CHAT = json.dumps({"type": "chat", "text": "hi"})


def _is_join_reply(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") == "joined" and data.get("room") == "kitchen"


def _is_chat_reply(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") == "chat" and data.get("text") == "hi"


def valid_messages_work(mod: Any) -> CheckResult:
    """``join`` then ``chat`` get their normal JSON replies."""
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return _result(False, conn.rejected)
        conn.send_text(_JOIN)
        joined = conn.receive()
        conn.send_text(_CHAT)
        chat = conn.receive()
        conn.client_close()
        ok = _is_join_reply(_json(joined)) and _is_chat_reply(_json(chat))
        return _result(ok, f"join -> {_describe(joined)}; chat -> {_describe(chat)}{_err(conn)}")


def malformed_kills_handler(mod: Any, raw: str = MALFORMED_MESSAGES["invalid_json"]) -> CheckResult:
    """FLAW: one malformed frame makes the handler raise and the connection die.

    A valid ``chat`` frame sent right after the malformed one gets no reply.
    """
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return _result(False, conn.rejected)
        conn.send_text(raw)
        conn.send_text(_CHAT)  # may already fail if the handler died
        msg = conn.receive()
        ended = conn.wait_handler_done(timeout=0.0 if msg.get("type") == "websocket.send" else TIMEOUT)
        ok = ended and conn.handler_crashed and msg.get("type") == "_app_exited"
        conn.client_close(wait=False)
        return _result(ok, f"{raw!r} -> {_describe(msg)}{_err(conn)}")


def malformed_gets_error_frame_and_connection_kept(
    mod: Any, raws: list[str] | tuple[str, ...] | str | None = None
) -> CheckResult:
    """FIXED: each malformed frame gets ``{"error": ...}``; the socket stays usable.

    *raws* defaults to every entry of :data:`MALFORMED_MESSAGES`, all sent on
    the same connection, followed by a valid ``chat`` that must be answered.
    """
    if raws is None:
        raws = list(MALFORMED_MESSAGES.values())
    elif isinstance(raws, str):
        raws = [raws]
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return _result(False, conn.rejected)
        for raw in raws:
            conn.send_text(raw)
            msg = conn.receive()
            data = _json(msg)
            if not (isinstance(data, dict) and "error" in data):
                return _result(False, f"{raw!r} -> {_describe(msg)} (wanted an error frame){_err(conn)}")
        conn.send_text(_CHAT)
        msg = conn.receive()
        if not _is_chat_reply(_json(msg)):
            return _result(False, f"valid chat after malformed -> {_describe(msg)}{_err(conn)}")
        conn.client_close()
        return _result(True, f"{len(raws)} malformed frame(s) got error frames; connection still served chat")


# --------------------------------------------------------------------------
# WS104 session cleanup
# --------------------------------------------------------------------------


def _registry(mod: Any) -> Any:
    return mod.manager.active


def _registry_ids(mod: Any) -> set[Any]:
    reg = _registry(mod)
    if isinstance(reg, dict):
        return set(reg.keys())
    return {id(item) for item in reg}


def _registry_forget(mod: Any, before: set[Any]) -> None:
    """Drop registry entries created by a check (keeps checks independent)."""
    reg = _registry(mod)
    if isinstance(reg, dict):
        for key in list(reg.keys()):
            if key not in before:
                reg.pop(key, None)
    elif isinstance(reg, (set, list)):
        for item in list(reg):
            if id(item) not in before:
                reg.remove(item)


def _session_run(mod: Any, crash: bool) -> tuple[bool, str]:
    """Connect, talk, then disconnect (or crash the handler); report registry."""
    client_id = f"check-{uuid.uuid4().hex[:8]}"
    before = _registry_ids(mod)
    try:
        with _Conn(mod, f"/ws/{client_id}") as conn:
            if conn.rejected is not None:
                return False, conn.rejected
            conn.send_text("hello")
            reply = conn.receive()
            if "hello" not in (_text(reply) or ""):
                return False, f"'hello' -> {_describe(reply)}{_err(conn)}"
            if crash:
                conn.send_text("boom")
                ended = conn.wait_handler_done()
                how = f"after handler exception {conn.handler_error!r}"
            else:
                ended = conn.client_close()
                how = "after client disconnect"
            if not ended:
                return False, f"handler still running {TIMEOUT}s {how}"
            conn.finish()
            after = _registry_ids(mod)
            leaked = after - before
            gone = set(before) - after
            if leaked:
                names = sorted(map(str, leaked))
                return False, f"registry still holds {names} {how}"
            if gone:
                return False, f"registry lost pre-existing entries {sorted(map(str, gone))} {how}"
            return True, f"registry back to {len(after)} entries {how}"
    finally:
        _registry_forget(mod, before)


def registry_tracks_connected_client(mod: Any) -> CheckResult:
    """While connected, ``manager.active`` holds exactly one new entry."""
    client_id = f"check-{uuid.uuid4().hex[:8]}"
    before = _registry_ids(mod)
    try:
        with _Conn(mod, f"/ws/{client_id}") as conn:
            if conn.rejected is not None:
                return _result(False, conn.rejected)
            conn.send_text("hello")
            reply = conn.receive()
            during = _registry_ids(mod) - before
            conn.client_close()
            ok = _text(reply) == f"{client_id}: hello" and len(during) == 1
            return _result(ok, f"'hello' -> {_describe(reply)}; {len(during)} new registry entr(y/ies)")
    finally:
        _registry_forget(mod, before)


def registry_empty_after_disconnect(mod: Any) -> CheckResult:
    """FIXED: after a normal client disconnect the client left the registry.

    (Returns false on the original app: the connection leaks.)
    """
    return _result(*_session_run(mod, crash=False))


def registry_empty_after_exception(mod: Any) -> CheckResult:
    """FIXED: after the handler raises (``"boom"``) the client left the registry."""
    return _result(*_session_run(mod, crash=True))


# --------------------------------------------------------------------------
# WS202 pacing
# --------------------------------------------------------------------------

_UPDATE = re.compile(r"update (\d+)/(\d+)")


def _collect_stream(conn: _Conn, want_pong: bool) -> tuple[list[str], str | None]:
    """Read frames until the stream ended (and pong seen); (frames, problem)."""
    frames: list[str] = []
    last_seen = False
    pong_seen = not want_pong
    while not (last_seen and pong_seen):
        msg = conn.receive()
        text = _text(msg)
        if text is None:
            return frames, _describe(msg) + _err(conn)
        frames.append(text)
        m = _UPDATE.fullmatch(text)
        if m and m.group(1) == m.group(2):
            last_seen = True
        if text == "pong":
            pong_seen = True
        if len(frames) > 1000:
            return frames, "too many frames"
    return frames, None


def ping_pong_works(mod: Any) -> CheckResult:
    """A lone ``ping`` is answered with ``pong``."""
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return _result(False, conn.rejected)
        conn.send_text("ping")
        msg = conn.receive()
        conn.client_close()
        return _result(_text(msg) == "pong", f"'ping' -> {_describe(msg)}{_err(conn)}")


def stream_frames_delivered(mod: Any) -> CheckResult:
    """``stream`` yields ``update 1/N`` .. ``update N/N`` in order."""
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return _result(False, conn.rejected)
        conn.send_text("stream")
        frames, problem = _collect_stream(conn, want_pong=False)
        conn.client_close()
        nums = [int(m.group(1)) for m in map(_UPDATE.fullmatch, frames) if m]
        ok = problem is None and len(nums) >= 2 and nums == list(range(1, len(nums) + 1))
        return _result(ok, f"frames {frames}" + (f"; then {problem}" if problem else ""))


def ping_answered_before_stream_end(mod: Any) -> CheckResult:
    """FIXED: ``ping`` sent right after ``stream`` is answered before the last update.

    Judged purely on frame order, never on wall-clock time.  False on the
    original app, where the order is ``update 1..N`` then ``pong``.
    """
    with _Conn(mod, "/ws") as conn:
        if conn.rejected is not None:
            return _result(False, conn.rejected)
        conn.send_text("stream")
        conn.send_text("ping")
        frames, problem = _collect_stream(conn, want_pong=True)
        conn.client_close()
        if problem is not None:
            return _result(False, f"frames {frames}; then {problem}")
        last = next(i for i, f in enumerate(frames) if (m := _UPDATE.fullmatch(f)) and m.group(1) == m.group(2))
        pong = frames.index("pong")
        return _result(pong < last, f"frame order {frames}")


def fixed_copy(tmp_path: Path, name: str, code: str) -> Path:
    """A copy of app ``name`` fixed by ``wsrefactor fix --unsafe-fixes --select CODE`` (run as a
    user would, from the copy's directory so no repository configuration applies)."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / f"{name}.py"
    shutil.copy(app_path(name), copy)
    done = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "fix", "--unsafe-fixes", "--select", code, copy.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert copy.read_text() != app_path(name).read_text(), "the fix changed nothing"
    return copy
