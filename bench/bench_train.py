"""Chapter 2's paper-scale run: 8000 epochs of the 12-10-7-5-4-3-2 net, one seed, EBAB
at all 274 snapshots, target under 3 minutes on 2 CPU cores.

Quick mode (default) measures the cost per epoch and per recorded snapshot from two short runs
(``EPOCHS`` epochs with 3 and with ~150 snapshots: the difference is the recording cost), and
EBAB per snapshot over the denser run, then extrapolates to 8000 epochs and 274 snapshots. Full
mode (``--full``) times the real run once per repetition. Training uses one torch thread (fastest
for this net), EBAB both cores.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import torch  # noqa: E402
from common import full_mode, med_spread, record, report  # noqa: E402

from ibcore.measures import information as E  # noqa: E402
from ibcore.runs import szt_run  # noqa: E402
from ibcore.train import log_snapshots  # noqa: E402

EPOCHS = 200
PAPER_EPOCHS = 8000
# log_snapshots(8000, 400): 274 log-spaced epochs (the last is 7999), plus the final epoch 8000
PAPER_SNAPSHOTS = len({*log_snapshots(PAPER_EPOCHS, 400).tolist(), PAPER_EPOCHS})


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _ebab(h) -> float:
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        t, _ = _timed(lambda: E.information_plane(h, estimator="ebab"))
    finally:
        torch.set_num_threads(1)
    return t


def quick(runs: int) -> list[dict]:
    """Per-epoch, per-snapshot and per-EBAB-snapshot costs, extrapolated to the paper run."""
    szt_run(seed=0, epochs=20, snapshots=2)  # warm-up
    ep, snap, eb, total = [], [], [], []
    for _ in range(runs):
        ta, ha = _timed(lambda: szt_run(seed=0, epochs=EPOCHS, snapshots=2))
        tb, hb = _timed(lambda: szt_run(seed=0, epochs=EPOCHS, snapshots=400))
        sa, sb = len(ha.epochs), len(hb.epochs)
        t_snap = max(0.0, (tb - ta) / (sb - sa))
        t_ep = (ta - sa * t_snap) / EPOCHS
        t_eb = _ebab(hb) / sb
        ep.append(t_ep)
        snap.append(t_snap)
        eb.append(t_eb)
        total.append(PAPER_EPOCHS * t_ep + PAPER_SNAPSHOTS * (t_snap + t_eb))
    note = f"extrapolated from {EPOCHS}-epoch runs (quick mode; --full runs it)"
    m = [med_spread(v) for v in (ep, snap, eb, total)]
    return [
        record("szt net, one seed, 1 thread: training per epoch (eval every 10)",
               m[0][0] * 1e3, m[0][1] * 1e3, runs, "ms", "-"),
        record("  recording all layers on 4096 inputs, per snapshot",
               m[1][0] * 1e3, m[1][1] * 1e3, runs, "ms", "-"),
        record("  EBAB, all layers, per snapshot (2 threads)",
               m[2][0] * 1e3, m[2][1] * 1e3, runs, "ms", "-"),
        record("paper run: 8000 epochs + EBAB at 274 snapshots (estimate)",
               m[3][0], m[3][1], runs, "s", "< 180 s (chapter 2)", note),
    ]  # fmt: skip


def full(runs: int) -> list[dict]:
    """The real paper-scale run and its EBAB information plane, ``runs`` times."""
    train, ebab, total = [], [], []
    for _ in range(runs):
        tt, h = _timed(lambda: szt_run(seed=0, epochs=PAPER_EPOCHS, snapshots=400))
        te = _ebab(h)
        train.append(tt)
        ebab.append(te)
        total.append(tt + te)
    m = [med_spread(v) for v in (train, ebab, total)]
    return [
        record("paper run: training 8000 epochs, 274 snapshots (1 thread)",
               m[0][0], m[0][1], runs, "s", "-"),
        record("  EBAB at all 274 snapshots (2 threads)", m[1][0], m[1][1], runs, "s", "-"),
        record("paper run: 8000 epochs + EBAB at 274 snapshots", m[2][0], m[2][1], runs, "s",
               "< 180 s (chapter 2)", "measured (full mode)"),
    ]  # fmt: skip


def main() -> None:
    torch.set_num_threads(1)
    recs = full(int(os.environ.get("IBCORE_BENCH_RUNS", "3"))) if full_mode() else quick(3)
    report("train", recs)


if __name__ == "__main__":
    main()
