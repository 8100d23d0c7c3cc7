"""The one process pool (joblib's loky): chapter 2's groups of nets and local sweep points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from joblib import Parallel, delayed


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
    pool = Parallel(n_jobs=min(workers, len(argsets)), backend="loky",
                    return_as="generator_unordered")  # fmt: skip
    yield from pool(delayed(_indexed)(fn, i, args) for i, args in enumerate(argsets))


def _indexed(fn: Callable[..., Any], i: int, args: Iterable[Any]) -> tuple[int, Any]:
    return i, fn(*args)
