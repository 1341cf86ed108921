"""``fewer_collections``: the cyclic collector's thresholds are raised while fixing, then restored."""

from __future__ import annotations

import gc

import pytest

from wsrefactor.engine import fewer_collections


def test_thresholds_are_raised_inside_and_restored_after_even_on_error():
    before = gc.get_threshold()
    with fewer_collections():
        inside = gc.get_threshold()
        with fewer_collections():  # nested (the project phase around file fixes): still raised
            assert gc.get_threshold() == inside
        assert gc.get_threshold() == inside
    assert inside[0] >= 50_000 and inside[0] > before[0]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a fix crashed")
    assert gc.get_threshold() == before
