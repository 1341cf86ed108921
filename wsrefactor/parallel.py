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
    with ProcessPoolExecutor(max_workers=jobs) as pool:
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
