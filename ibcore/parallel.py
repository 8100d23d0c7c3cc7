"""The one process pool: chapter workers and local sweeps run through joblib's loky executor.

Small nets train fastest one per process on one thread (:data:`ibcore.env.RUN_THREADS`); worker
processes help where cores are idle. Chapter 2 trains its groups of nets this way, and
:mod:`ibcore.book.sweep` runs its local grid points the same way (a Dask cluster is the other
executor of sweeps, for many machines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from joblib import Parallel, delayed


def imap_unordered(
    fn: Callable[..., Any], argsets: Sequence[tuple[Any, ...]], workers: int
) -> Iterator[tuple[int, Any]]:
    """``(i, fn(*argsets[i]))`` as each call finishes, over ``workers`` fresh processes.

    Processes are started by loky (spawned, not forked, so a parent holding threads is safe) and
    inherit the environment. ``workers`` must be a positive integer; with one worker or one task
    the calls run in this process, in order.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"parameter 'workers' must be an integer >= 1, got {workers!r}")
    if workers == 1 or len(argsets) <= 1:
        for i, args in enumerate(argsets):
            yield i, fn(*args)
        return
    pool = Parallel(n_jobs=min(workers, len(argsets)), backend="loky",
                    return_as="generator_unordered")  # fmt: skip
    yield from pool(delayed(_indexed)(fn, i, args) for i, args in enumerate(argsets))


def _indexed(fn: Callable[..., Any], i: int, args: Iterable[Any]) -> tuple[int, Any]:
    return i, fn(*args)
