"""Fanning per-file work out to worker processes: one place for the chunking and the shutdown.

Items are sent largest first in small chunks, so both cores stay busy when file sizes are
skewed; results come back in completion order (callers sort them, which keeps the output
identical for any number of jobs). On Ctrl-C or SIGTERM the queued chunks are cancelled and the
workers stopped at once — they only read files, so stopping them is safe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def map_chunks(
    work: Callable[..., list[T]],
    paths: Sequence[str],
    jobs: int,
    *args: Any,
    min_items: int = 4,
    on_done: Callable[[int], None] | None = None,
    on_part: Callable[[list[T]], None] | None = None,
    one_per_chunk: bool = False,
) -> list[T]:
    """``work(chunk, *args)`` over chunks of ``paths``, in ``jobs`` processes when it pays.

    ``on_part`` sees each chunk's results as soon as they arrive (in the parent process), before
    ``on_done`` counts them: a fix run writes finished files there instead of at the very end,
    and asks for ``one_per_chunk`` so a file is written when it is done, not when its chunk is.
    """
    tick = on_done or (lambda n: None)
    take = on_part or (lambda part: None)
    if jobs <= 1 or len(paths) < min_items:
        out: list[T] = []
        for path in paths:
            part = work([path], *args)
            out.extend(part)
            take(part)
            tick(1)
        return out
    # imported here: a warm run (every file cached) or a small one never starts a pool, and
    # multiprocessing's import is a measurable part of such a run
    from concurrent.futures import ProcessPoolExecutor, as_completed

    chunks = _build_chunks(paths, jobs, one_per_chunk=one_per_chunk)
    results: list[T] = []
    with ProcessPoolExecutor(max_workers=jobs, initializer=leave_signals_to_the_parent) as pool:
        try:
            futures = [pool.submit(work, chunk, *args) for chunk in chunks]
            for future in as_completed(futures):
                part = future.result()
                results.extend(part)
                take(part)
                tick(len(part))
        except BaseException:  # Ctrl-C/SIGTERM: stop now, not after every queued chunk
            _abandon(pool)
            raise
    return results


def _build_chunks(paths: Sequence[str], jobs: int, *, one_per_chunk: bool) -> list[Any]:
    ordered = sorted(paths, key=_size, reverse=True)
    count = len(ordered) if one_per_chunk else min(len(ordered), jobs * 16)
    chunks = [ordered[i::count] for i in range(count)]
    return chunks


def leave_signals_to_the_parent() -> None:
    """Worker initializer: Ctrl-C (which a terminal sends to the whole process group) and SIGTERM
    end the run in the parent, which kills the workers (``_abandon``). A worker that raised
    ``KeyboardInterrupt`` itself, idle between tasks, made multiprocessing print a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _abandon(pool: ProcessPoolExecutor) -> None:
    workers = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        proc.kill()
    # Let the pool's manager thread see its dead workers and close its wake-up pipe now: at
    # interpreter exit concurrent.futures wakes every manager still registered, and one racing
    # to close that pipe made the exit print "Exception ignored ... Bad file descriptor".
    if manager is not None:
        manager.join(timeout=10)


class SharedPool:
    """One process pool for work that arrives in waves (the cross-module rounds of a check), with
    a background batch of single-file tasks (the per-file pass) fed to it a few at a time while
    the parent waits: a wave's task starts as soon as a worker is free instead of queueing behind
    the whole batch, and a background item not handed to the pool yet can be taken back (to run
    it another way). Every submission happens in the calling thread.

    The pool starts on the first task, so a run whose work is all cached starts none. On any
    exception (Ctrl-C, SIGTERM, a task's error) the pool is abandoned as in ``map_chunks``."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None
        self._queue: list[str] = []  # the batch's items not handed to the pool yet, next one last
        self._batch: tuple[Callable[..., list[Any]], tuple[Any, ...]] = (lambda paths: [], ())
        self._futures: dict[str, Any] = {}
        self._in_flight: set[Any] = set()
        self._queued: set[str] = set()  # in the queue and not taken back

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=leave_signals_to_the_parent)
        return self._pool

    def map(self, work: Callable[..., list[T]], paths: Sequence[str], *args: Any) -> list[T]:
        """``work([path], *args)`` for each path (largest first), ahead of the background batch."""
        if not paths:
            return []  # (pumping for nothing would wait for the whole background batch)
        futures = [self.pool.submit(work, [p], *args) for p in sorted(paths, key=_size, reverse=True)]
        self._pump(futures)
        return [item for future in futures for item in future.result()]

    def background(self, work: Callable[..., list[Any]], paths: Sequence[str], *args: Any) -> None:
        """Queue ``work([path], *args)`` for every path; fed to the pool while the caller waits."""
        self._batch = (work, args)
        self._queue[:0] = sorted(paths, key=_size)  # largest last: handed out first
        self._queued.update(paths)
        self._top_up()

    def take_back(self, path: str) -> bool:
        """Withdraw a background item not handed to the pool yet (True), else False."""
        if path not in self._queued:
            return False
        self._queued.discard(path)  # skipped when its turn comes (no scan of the queue)
        return True

    def finish(self) -> dict[str, Any]:
        """The background batch's results by path (each task's single result), once all are in."""
        self._pump([])
        return {path: future.result()[0] for path, future in self._futures.items()}

    def _running(self) -> list[Any]:
        """The background tasks in the pool and not done (at most ``jobs + 1``: the set is kept
        small, so waking up costs nothing however large the batch)."""
        self._in_flight = {f for f in self._in_flight if not f.done()}
        return list(self._in_flight)

    def _top_up(self) -> None:
        """Keep ``jobs + 1`` background tasks in the pool: enough to keep every worker busy."""
        work, args = self._batch
        running = len(self._running())
        while self._queue and running < self.jobs + 1:
            path = self._queue.pop()
            if path not in self._queued:
                continue  # taken back
            self._queued.discard(path)
            self._futures[path] = future = self.pool.submit(work, [path], *args)
            self._in_flight.add(future)
            running += 1

    def _pump(self, wanted: Sequence[Any]) -> None:
        """Wait for ``wanted`` (or, given none, for the whole background batch), feeding the
        background batch as its tasks finish."""
        from concurrent.futures import FIRST_COMPLETED, wait

        pending = list(wanted)
        while True:
            self._top_up()
            pending = [f for f in pending if not f.done()]  # shrinks as they finish
            running = self._running()
            if not pending and (wanted or not running):
                return
            wait([*pending, *running], return_when=FIRST_COMPLETED)

    def close(self, failed: bool) -> None:
        if self._pool is None:
            return
        if failed:
            self._queue.clear()
            self._queued.clear()
            _abandon(self._pool)
        else:
            self._pool.shutdown(wait=True)
