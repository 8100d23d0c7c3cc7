"""Ctrl-C stops a run (ibcore.book.interrupt, ibcore.parallel.watch_parent): with a real signal,
the pipeline, its kernel and every pool worker end within seconds, nothing half-written is left,
one line says how to resume, and a worker whose parent is killed outright ends by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from ibcore.paths import REPO_ROOT


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait_for(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_ctrl_c_stops_the_chapter_its_kernel_and_its_workers(tmp_path):
    env = {**os.environ, "IBCORE_RESULTS": str(tmp_path / "res"),
           "IBCORE_CACHE": str(tmp_path / "cache"), "IBCORE_PROGRESS": "0"}  # fmt: skip
    out = tmp_path / "00.ipynb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ibcore.book.pipeline", "run", "00", "-p", "scale", "smoke",
         "-p", "workers", "2", "--out", str(out)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        # wait until the kernel has started its pool workers (a run under way)
        assert _wait_for(lambda: sum("loky" in " ".join(p.cmdline()) for p in
                                     _descendants(proc.pid)) >= 2, 120), "no workers started"  # fmt: skip
        seen = _descendants(proc.pid)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGINT and took < 10, (proc.returncode, took)
    assert "interrupted: 00_information_plane.md stopped" in err and "resumes" in err
    assert "make run NB=00 -p scale smoke -p workers 2" in err
    assert _wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                                     for p in seen), 5), "a kernel or worker outlived the run"  # fmt: skip
    assert not out.exists() and not list(tmp_path.glob(".*running*"))  # nothing half-written


def test_a_worker_ends_when_its_parent_is_killed_outright(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(
        textwrap.dedent("""
        import time
        from ibcore.parallel import imap_unordered

        def slow(x):
            time.sleep(60)
            return x

        if __name__ == "__main__":
            for r in imap_unordered(slow, [(1,), (2,)], 2):
                print(r, flush=True)
    """)
    )
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO_ROOT,
                            start_new_session=True)  # fmt: skip
    try:
        assert _wait_for(lambda: sum("loky" in " ".join(p.cmdline()) and "popen_loky" in
                                     " ".join(p.cmdline()) for p in _descendants(proc.pid)) >= 2,
                         60)  # fmt: skip
        time.sleep(1.0)  # the tasks have started
        workers = [p for p in _descendants(proc.pid) if "popen_loky" in " ".join(p.cmdline())]
        proc.kill()  # SIGKILL: the parent can do nothing about its workers
        proc.wait(10)
        assert _wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                                         for p in workers), 5), "a worker outlived its parent"  # fmt: skip
    finally:
        for p in [*_descendants(proc.pid), *locals().get("workers", [])]:
            try:
                p.kill()
            except psutil.Error:
                pass


def test_on_interrupt_restores_the_handlers_and_runs_unguarded_off_the_main_thread():
    from ibcore.book.interrupt import on_interrupt

    before = signal.getsignal(signal.SIGINT)
    with on_interrupt("x"):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    import threading

    seen = []

    def other():
        with on_interrupt("y"):
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [before]


def test_the_pipeline_guards_every_execution():
    src = (Path(REPO_ROOT) / "ibcore" / "book" / "pipeline.py").read_text()
    assert (
        "with on_interrupt(stop, cleanup=[lambda: tmp.unlink(missing_ok=True), *on_stop]):" in src
    )


def test_only_the_outermost_guard_acts_and_pool_workers_leave_it_to_the_parent(monkeypatch):
    from ibcore.book.interrupt import on_interrupt

    before = signal.getsignal(signal.SIGINT)
    with on_interrupt("outer"):
        outer = signal.getsignal(signal.SIGINT)
        with on_interrupt("inner"):
            assert signal.getsignal(signal.SIGINT) is outer  # the sweep's message stays
    assert signal.getsignal(signal.SIGINT) is before
    monkeypatch.setenv("IBCORE_POOL_WORKER", "1")
    with on_interrupt("worker"):
        assert signal.getsignal(signal.SIGINT) is before


def test_stop_children_leaves_resource_trackers_alone():
    from ibcore.book.interrupt import _tracker

    class P:
        def __init__(self, cmd):
            self.cmd = cmd

        def cmdline(self):
            return self.cmd

    assert _tracker(
        P(["python", "-c", "from joblib.externals.loky.backend.resource_tracker import main"])
    )
    assert not _tracker(P(["python", "-m", "ipykernel_launcher"]))
