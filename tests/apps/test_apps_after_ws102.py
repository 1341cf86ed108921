"""WS102's unsafe fix turns size_app.py into an app that closes oversized messages with 1009."""

from __future__ import annotations

from tests.apps import appcheck as ac


def test_size_app_fixed_by_ws102(tmp_path):
    before = ac.load_app(ac.app_path("size_app"))
    assert ac.large_message_processed(before)

    after = ac.load_app(ac.fixed_copy(tmp_path, "size_app", "WS102"))
    assert ac.large_message_closed_1009(after)
    assert not ac.large_message_processed(after)
    assert ac.small_message_processed(after)
