"""The one process pool (joblib's loky): chapter 2's groups of nets and local sweep points."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from joblib import Parallel, delayed, parallel_config


def imap_unordered(
    fn: Callable[..., Any], argsets: Sequence[tuple[Any, ...]], workers: int
) -> Iterator[tuple[int, Any]]:
    """``(i, fn(*argsets[i]))`` as each call finishes, over ``workers`` spawned processes (in this
    process, in order, for one worker or one task)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"parameter 'workers' must be an integer >= 1, got {workers!r}")
    if workers == 1 or len(argsets) <= 1:
        for i, args in enumerate(argsets):
            yield i, fn(*args)
        return
    # every worker watches its parent from its start (watch_parent): none outlives it
    with parallel_config(backend="loky", initializer=watch_parent, initargs=(os.getpid(),)):
        pool = Parallel(n_jobs=min(workers, len(argsets)), return_as="generator_unordered")
        yield from pool(delayed(_indexed)(fn, i, args) for i, args in enumerate(argsets))


def _indexed(fn: Callable[..., Any], i: int, args: Iterable[Any]) -> tuple[int, Any]:
    return i, fn(*args)


_watching = threading.Event()


def watch_parent(parent: int, interval: float = 1.0) -> None:
    """In a worker process started by process ``parent``: end it (exit status 1) as soon as its
    parent is no longer ``parent`` (a parent killed by SIGKILL or crashed cannot stop its workers
    itself; one that died before this ran counts too), checked every ``interval`` seconds by a
    daemon thread started once per process. Cache entries are written atomically, so a worker
    ended this way leaves nothing half written."""
    if _watching.is_set():
        return
    _watching.set()
    os.environ["IBCORE_POOL_WORKER"] = "1"  # a chapter run here leaves Ctrl-C to the parent
    if os.getppid() != parent:
        os._exit(1)

    def loop() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=loop, name="ibcore-watch-parent", daemon=True).start()
