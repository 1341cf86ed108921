"""WS103's unsafe fix turns validate_app.py into an app that answers malformed messages with an
error frame and keeps the connection, while valid messages work as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apps import appcheck as ac


def test_validate_app_flaw_before_ws103():
    before = ac.load_app(ac.app_path("validate_app"))
    assert ac.malformed_kills_handler(before)
    assert ac.valid_messages_work(before)
    assert not ac.malformed_gets_error_frame_and_connection_kept(before)


def test_validate_app_fixed_by_ws103(tmp_path):
    after = ac.load_app(ac.fixed_copy(tmp_path, "validate_app", "WS103"))
    assert ac.malformed_gets_error_frame_and_connection_kept(after)
    assert ac.valid_messages_work(after)
    assert not ac.malformed_kills_handler(after)


@pytest.mark.parametrize("name", sorted(ac.MALFORMED_MESSAGES))
def test_each_malformed_message_gets_an_error_frame(tmp_path, name):
    after = ac.load_app(ac.fixed_copy(tmp_path, "validate_app", "WS103"))
    assert ac.malformed_gets_error_frame_and_connection_kept(after, ac.MALFORMED_MESSAGES[name])


def test_models_in_a_separate_module(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.wsrefactor.WS103]\nmodels-module = "ws_models.py"\n')
    fixed = ac.fixed_copy(tmp_path, "validate_app", "WS103")
    assert (tmp_path / "ws_models.py").exists(), "the models module was not written"
    assert "from ws_models import " in fixed.read_text()
    monkeypatch.syspath_prepend(str(tmp_path))
    after = ac.load_app(fixed)
    assert ac.malformed_gets_error_frame_and_connection_kept(after)
    assert ac.valid_messages_work(after)


# -- the generated models of the golden fixtures run and validate what the code reads ---------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "WS103"


def _load_fixed(name: str):
    import importlib.util

    path = FIXTURES / f"{name}.fixed.py"
    spec = importlib.util.spec_from_file_location(f"ws103_fixed_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _validate(adapter, raw: str):
    from pydantic import ValidationError

    try:
        return adapter.validate_json(raw).model_dump(by_alias=True, exclude_unset=True)
    except ValidationError:
        return None


def test_fixed_fixture_dispatch_with_fallback_validates():
    mod = _load_fixed("bad_dispatch_fallback")
    adapter = mod.CHAT_ROOM_MESSAGE_ADAPTER
    assert _validate(adapter, '{"type": "say", "text": "hi", "extra": 1}') == {"type": "say", "text": "hi", "extra": 1}
    assert _validate(adapter, '{"type": "idle", "user": "ann"}') == {"type": "idle", "user": "ann"}
    assert _validate(adapter, '{"type": "dance"}') == {"type": "dance"}  # the else branch still sees it
    assert _validate(adapter, "{}") == {}
    for bad in ('{"type": "say"}', '{"type": "typing"}', "[1, 2]", "{nope", '"text"'):
        assert _validate(adapter, bad) is None, bad


def test_fixed_fixture_match_validates():
    mod = _load_fixed("bad_websockets_match")
    adapter = mod.HANDLER_MESSAGE_ADAPTER
    assert _validate(adapter, '{"type": "play", "column": 3}') == {"type": "play", "column": 3}
    assert _validate(adapter, '{"type": "import", "from": "x"}') == {"type": "import", "from": "x"}
    assert _validate(adapter, '{"type": "other"}') == {"type": "other"}
    for bad in ('{"type": "play"}', '{"type": "from"}', '{"column": 1}', "null"):
        assert _validate(adapter, bad) is None, bad
