"""Every flaw is really present in the ORIGINAL fixture apps.

The same checks (``tests/apps/appcheck.py``) are reused after wsrefactor's
unsafe fixes rewrite copies of these apps; there the flaw checks must flip.
At the bottom, hand-fixed copies prove the checks are able to flip at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apps import appcheck as ac

APP_NAMES = ["origin_app", "size_app", "validate_app", "session_app", "pacing_app"]


@pytest.fixture(scope="module")
def apps() -> dict[str, object]:
    return {name: ac.load_app(ac.app_path(name)) for name in APP_NAMES}


# -- loading ----------------------------------------------------------------


@pytest.mark.parametrize("name", APP_NAMES)
def test_app_loads_standalone(name: str) -> None:
    first = ac.load_app(ac.app_path(name))
    second = ac.load_app(ac.app_path(name))
    assert first.__name__ != second.__name__
    assert first.app is not second.app


def test_load_app_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ac.load_app(tmp_path / "nope.py")


# -- WS101 origin -------------------------------------------------------------


def test_origin_allowed_origin_works(apps):
    assert ac.allowed_origin_works(apps["origin_app"])


def test_origin_flaw_evil_origin_accepted(apps):
    mod = apps["origin_app"]
    assert ac.origin_accepts_evil(mod)
    assert not ac.origin_rejects_evil_with_1008(mod)


# -- WS102 size ---------------------------------------------------------------


def test_size_small_message_processed(apps):
    assert ac.small_message_processed(apps["size_app"])


def test_size_flaw_large_message_processed(apps):
    mod = apps["size_app"]
    assert ac.LARGE_MESSAGE_SIZE > ac.SIZE_LIMIT
    assert ac.large_message_processed(mod)
    assert not ac.large_message_closed_1009(mod)


# -- WS103 validation ---------------------------------------------------------


def test_validate_valid_messages_work(apps):
    assert ac.valid_messages_work(apps["validate_app"])


@pytest.mark.parametrize("kind", sorted(ac.MALFORMED_MESSAGES))
def test_validate_flaw_malformed_kills_handler(apps, kind):
    mod = apps["validate_app"]
    raw = ac.MALFORMED_MESSAGES[kind]
    assert ac.malformed_kills_handler(mod, raw)
    assert not ac.malformed_gets_error_frame_and_connection_kept(mod, raw)


def test_validate_still_works_after_a_killed_connection(apps):
    mod = apps["validate_app"]
    assert ac.malformed_kills_handler(mod)
    assert ac.valid_messages_work(mod)


# -- WS104 session cleanup ----------------------------------------------------


def test_session_registry_tracks_client(apps):
    assert ac.registry_tracks_connected_client(apps["session_app"])


def test_session_flaw_registry_leaks_after_disconnect(apps):
    mod = apps["session_app"]
    assert not ac.registry_empty_after_disconnect(mod)
    assert mod.manager.active == {}, "check must clean up after itself"


def test_session_flaw_registry_leaks_after_exception(apps):
    mod = apps["session_app"]
    assert not ac.registry_empty_after_exception(mod)
    assert mod.manager.active == {}, "check must clean up after itself"


# -- WS202 pacing -------------------------------------------------------------


def test_pacing_ping_pong_and_stream_work(apps):
    mod = apps["pacing_app"]
    assert ac.ping_pong_works(mod)
    assert ac.stream_frames_delivered(mod)


def test_pacing_flaw_ping_waits_for_stream(apps):
    result = ac.ping_answered_before_stream_end(apps["pacing_app"])
    assert not result
    assert result.detail.endswith("'update 5/5', 'pong']"), result.detail


# -- the checks can flip: hand-fixed copies ------------------------------------
#
# Minimal manual fixes, applied as exact text patches to the fixture sources.
# They only prove appcheck's "after" checks discriminate; wsrefactor's own
# fixes are tested elsewhere with the same checks.

_PATCHES: dict[str, list[tuple[str, str]]] = {
    "origin_app": [
        (
            "    await websocket.accept()\n",
            '    if websocket.headers.get("origin") not in ["https://good.example"]:\n'
            "        await websocket.close(code=1008)\n"
            "        return\n"
            "    await websocket.accept()\n",
        )
    ],
    "size_app": [
        (
            "            data = await websocket.receive_text()\n",
            "            data = await websocket.receive_text()\n"
            "            if len(data.encode()) > 65536:\n"
            "                await websocket.close(code=1009)\n"
            "                return\n",
        )
    ],
    "validate_app": [
        (
            "            msg = json.loads(raw)\n",
            "            try:\n"
            "                msg = json.loads(raw)\n"
            "                msg['type'], msg['text' if msg['type'] == 'chat' else 'room']\n"
            "            except (ValueError, KeyError, TypeError) as exc:\n"
            "                await websocket.send_json({'error': repr(exc)})\n"
            "                continue\n",
        )
    ],
    "session_app": [
        ("    while True:\n", "    try:\n     while True:\n"),
        (
            '        await manager.broadcast(f"{client_id}: {text}")\n',
            '        await manager.broadcast(f"{client_id}: {text}")\n'
            "    finally:\n"
            "        manager.disconnect(client_id)\n",
        ),
    ],
    "pacing_app": [
        (
            "                await stream_updates(websocket)\n",
            "                task = asyncio.create_task(stream_updates(websocket))\n"
            "                tasks.add(task)\n"
            "                task.add_done_callback(tasks.discard)\n",
        ),
        ("    await websocket.accept()\n", "    await websocket.accept()\n    tasks = set()\n"),
    ],
}


def _hand_fixed(name: str, tmp_path: Path):
    source = ac.app_path(name).read_text()
    for old, new in _PATCHES[name]:
        assert source.count(old) == 1, f"patch anchor for {name} not unique: {old!r}"
        source = source.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return ac.load_app(path)


def test_checks_flip_on_hand_fixed_origin(tmp_path):
    mod = _hand_fixed("origin_app", tmp_path)
    assert ac.allowed_origin_works(mod)
    assert ac.origin_rejects_evil_with_1008(mod)
    assert not ac.origin_accepts_evil(mod)


def test_checks_flip_on_hand_fixed_size(tmp_path):
    mod = _hand_fixed("size_app", tmp_path)
    assert ac.small_message_processed(mod)
    assert ac.large_message_closed_1009(mod)
    assert not ac.large_message_processed(mod)


def test_checks_flip_on_hand_fixed_validate(tmp_path):
    mod = _hand_fixed("validate_app", tmp_path)
    assert ac.valid_messages_work(mod)
    assert ac.malformed_gets_error_frame_and_connection_kept(mod)
    for raw in ac.MALFORMED_MESSAGES.values():
        assert not ac.malformed_kills_handler(mod, raw)


def test_checks_flip_on_hand_fixed_session(tmp_path):
    mod = _hand_fixed("session_app", tmp_path)
    assert ac.registry_tracks_connected_client(mod)
    assert ac.registry_empty_after_disconnect(mod)
    assert ac.registry_empty_after_exception(mod)


def test_checks_flip_on_hand_fixed_pacing(tmp_path):
    mod = _hand_fixed("pacing_app", tmp_path)
    assert ac.ping_pong_works(mod)
    assert ac.stream_frames_delivered(mod)
    assert ac.ping_answered_before_stream_end(mod)
