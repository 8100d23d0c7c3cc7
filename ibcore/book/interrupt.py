"""Ctrl-C that stops a run (``make run``, ``make book``, ``make sweep``; all chapters).

Papermill waits for its kernel and the kernel for its pool workers, and neither passes a SIGINT
on: without this module a chapter runs to its end after Ctrl-C. :func:`on_interrupt` replaces
the SIGINT and SIGTERM handlers while a run executes: the handler kills every process this one
started (the kernel, its pool workers and theirs), removes what the run had half written, prints
one line saying how to resume, and exits with 128 + the signal number. Runs that finished before
the signal are in the cache (written atomically), so the same command resumes from there.

A worker whose parent dies without a signal it can handle (SIGKILL, a crash) would be reparented
and go on computing; :func:`ibcore.parallel.watch_parent`, started in every pool worker, ends it
within a second.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_children(timeout: float = 3.0) -> int:
    """Kill every descendant process of this one (SIGTERM, then SIGKILL after ``timeout``
    seconds); returns how many there were."""
    import psutil

    try:
        procs = [p for p in psutil.Process().children(recursive=True) if not _tracker(p)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return len(procs)


def _tracker(p: object) -> bool:
    """Whether ``p`` is a resource tracker (loky's, multiprocessing's): it ignores SIGTERM and
    cleans up shared memory by itself once its parent is gone, so it is left alone."""
    try:
        return "resource_tracker" in " ".join(p.cmdline())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a process that is gone is nothing to skip
        return False


_guarded = threading.Event()


@contextmanager
def on_interrupt(message: str, cleanup: Sequence[Callable[[], object]] = ()) -> Iterator[None]:
    """While the block runs, SIGINT or SIGTERM stops it: :func:`stop_children`, then each of
    ``cleanup``, then ``message`` on stderr and exit status 128 + signal. Only in the main
    thread, and only the outermost guard acts (a chapter of a sweep run in-process keeps the
    sweep's handler and message); elsewhere the block runs unguarded."""
    if (threading.current_thread() is not threading.main_thread() or _guarded.is_set()
            or os.environ.get("IBCORE_POOL_WORKER")):  # fmt: skip
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        for s in SIGNALS:  # a second Ctrl-C while cleaning up changes nothing
            signal.signal(s, signal.SIG_IGN)
        stop_children()
        for fn in cleanup:
            try:
                fn()
            except Exception:  # noqa: BLE001 - cleaning up must not stop the exit
                pass
        try:  # os.write, not print: the signal may land while stderr is being written
            os.write(2, f"\n{message}\n".encode())
        except OSError:
            pass
        os._exit(128 + signum)

    old = {s: signal.signal(s, handler) for s in SIGNALS}
    _guarded.set()
    try:
        yield
    finally:
        _guarded.clear()
        for s, h in old.items():
            signal.signal(s, h)
