"""``parallel.SharedPool``: the check's one process pool, shared by the cross-module rounds and the
per-file pass running behind them."""

from __future__ import annotations

import time

from wsrefactor.parallel import SharedPool


def _slow(paths: list[str], pause: float) -> list[tuple[str, float]]:
    time.sleep(pause)
    return [(p, time.monotonic()) for p in paths]


def _echo(paths: list[str], tag: str) -> list[str]:
    return [f"{tag}:{p}" for p in paths]


def test_a_wave_runs_ahead_of_the_background_batch_and_every_item_comes_back():
    pool = SharedPool(2)
    try:
        background = [f"b{i}" for i in range(40)]
        pool.background(_slow, background, 0.05)
        started = time.monotonic()
        wave = pool.map(_echo, ["x", "y", "z"], "wave")
        # the wave waited for at most the few background tasks already in the pool, not for 40
        assert time.monotonic() - started < 40 * 0.05 / 2
        assert sorted(wave) == ["wave:x", "wave:y", "wave:z"]
        results = pool.finish()
        assert sorted(results) == sorted(background)
        assert all(path == p for p, (path, _) in results.items())
    finally:
        pool.close(failed=False)


def test_an_item_not_started_is_taken_back_and_never_run():
    pool = SharedPool(2)
    try:
        items = [f"b{i}" for i in range(30)]  # equal sizes: handed out from the end of the list
        pool.background(_slow, items, 0.05)
        assert pool.take_back("b0")  # the last to be handed out
        assert not pool.take_back("b0")  # once only
        results = pool.finish()
        assert "b0" not in results and len(results) == 29
        assert not pool.take_back("b29")  # a finished item cannot be taken back
    finally:
        pool.close(failed=False)


def test_nothing_to_do_starts_no_pool_and_an_empty_wave_does_not_wait():
    pool = SharedPool(2)
    assert pool.map(_echo, [], "wave") == []
    assert pool.finish() == {}
    assert pool._pool is None  # noqa: SLF001 - the lazily started pool
    pool.close(failed=False)


def _signal_handlers() -> tuple[object, object]:
    import signal

    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_workers_leave_ctrl_c_and_sigterm_to_the_parent():
    """The parent stops the run and kills the workers; a worker raising KeyboardInterrupt itself
    while idle printed multiprocessing's traceback (a group SIGTERM in tests/cli/test_interrupt.py)."""
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from wsrefactor.parallel import leave_signals_to_the_parent

    with ProcessPoolExecutor(max_workers=1, initializer=leave_signals_to_the_parent) as pool:
        assert pool.submit(_signal_handlers).result() == (signal.SIG_IGN, signal.SIG_IGN)
