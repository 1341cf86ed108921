"""WS101's unsafe fix turns origin_app.py into an app that rejects foreign origins with 1008."""

from __future__ import annotations

from tests.apps import appcheck as ac


def test_origin_app_fixed_by_ws101(tmp_path):
    before = ac.load_app(ac.app_path("origin_app"))
    assert ac.origin_accepts_evil(before)

    after = ac.load_app(ac.fixed_copy(tmp_path, "origin_app", "WS101"))
    assert ac.origin_rejects_evil_with_1008(after)
    assert not ac.origin_accepts_evil(after)
    assert ac.allowed_origin_works(after)
