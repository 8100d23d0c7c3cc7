"""Batched ensembles (chapters 0 and 2): 50 seeds × 8000 epochs of the 12-10-7-5-4-3-2 net,
activations recorded at 274 snapshots, in at most 5× the time of one sequential run on 2 CPU
cores.

Quick mode (default) measures, for one sequential run (:func:`ibcore.runs.szt_run`) and
for ensembles (:func:`ibcore.runs.szt_ensemble_run`) of K = 10 and 50 seeds, the cost per
epoch and per recorded snapshot from two ``EPOCHS``-epoch runs with 3 and with ~20 snapshots, and
extrapolates both to 8000 epochs and 274 snapshots. Full mode (``--full``) times the real runs
(the 50-seed run holds 50 × 274 × 4096 × 31 float32 activations, about 7 GB).

Everything runs on one torch thread: torch's OpenMP threads wait for each other whenever another
process holds a core, and on a shared 2-core machine two threads made a K = 50 ensemble 4× slower
than one. Both cores are used by two processes instead: "K=50 as 2 x 25" runs two 25-seed
ensembles side by side, started together, and takes the slower one's times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import torch  # noqa: E402
from common import full_mode, med_spread, record, report  # noqa: E402

from ibcore.runs import szt_ensemble_run, szt_run  # noqa: E402
from ibcore.train import log_snapshots  # noqa: E402

EPOCHS = 100
PAPER_EPOCHS = 8000
# log_snapshots(8000, 400): 274 log-spaced epochs (the last is 7999), plus the final epoch 8000
PAPER_SNAPSHOTS = len({*log_snapshots(PAPER_EPOCHS, 400).tolist(), PAPER_EPOCHS})
TARGET = "<= 5x one sequential run (chapters 0, 2)"


def _run(k: int | None, epochs: int, snapshots: int) -> tuple[float, int]:
    """Wall time and snapshot count of one run: sequential (k None) or a k-seed ensemble."""
    t0 = time.perf_counter()
    if k is None:
        n = len(szt_run(seed=0, epochs=epochs, snapshots=snapshots).epochs)
    else:
        n = len(szt_ensemble_run(seeds=range(k), epochs=epochs, snapshots=snapshots)[0].epochs)
    return time.perf_counter() - t0, n


def _estimate(out: dict[str, list[float]], ta: float, sa: int, tb: float, sb: int) -> None:
    """Per-epoch and per-snapshot seconds from runs A and B; the 8000/274 estimate."""
    t_snap = max(0.0, (tb - ta) / (sb - sa))
    t_ep = (ta - sa * t_snap) / EPOCHS
    out["epoch"].append(t_ep)
    out["snapshot"].append(t_snap)
    out["paper"].append(PAPER_EPOCHS * t_ep + PAPER_SNAPSHOTS * t_snap)


def _split(runs: int, parts: int = 2, k: int = 50) -> dict[str, list[float]]:
    """Like :func:`costs` for ``k`` seeds as ``parts`` concurrent one-thread processes."""
    out: dict[str, list[float]] = {"epoch": [], "snapshot": [], "paper": []}
    for _ in range(runs):
        cmd = [sys.executable, __file__, "--child", str(k // parts)]
        procs = [
            subprocess.Popen([*cmd, str(i * k // parts)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
            for i in range(parts)
        ]  # fmt: skip
        for p in procs:  # wait until all have imported torch and warmed up, then start them
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        res = [[float(v) for v in p.communicate()[0].split()] for p in procs]
        ta, sa, tb, sb = (max(r[i] for r in res) for i in range(4))
        _estimate(out, ta, int(sa), tb, int(sb))
    return out


def _child(k: int, offset: int) -> None:
    """Child of :func:`_split`: warm up, wait for 'go', time runs A and B, print them."""
    torch.set_num_threads(1)
    szt_ensemble_run(seeds=range(offset, offset + k), epochs=5, snapshots=2)
    print("ready", flush=True)
    sys.stdin.readline()
    times: list[float] = []
    for snaps in (2, 20):
        t0 = time.perf_counter()
        h = szt_ensemble_run(seeds=range(offset, offset + k), epochs=EPOCHS, snapshots=snaps)
        times += [time.perf_counter() - t0, len(h[0].epochs)]
    print(" ".join(str(t) for t in times), flush=True)


def costs(k: int | str | None, runs: int) -> dict[str, list[float]]:
    """Per-epoch and per-snapshot seconds and the 8000-epoch/274-snapshot estimate, per run."""
    if k == "2x25":
        return _split(runs)
    torch.set_num_threads(1)
    _run(k, 10, 2)  # warm-up  # type: ignore[arg-type]
    out: dict[str, list[float]] = {"epoch": [], "snapshot": [], "paper": []}
    for _ in range(runs):
        ta, sa = _run(k, EPOCHS, 2)  # type: ignore[arg-type]
        tb, sb = _run(k, EPOCHS, 20)  # type: ignore[arg-type]
        _estimate(out, ta, sa, tb, sb)
    return out


def quick(runs: int) -> list[dict]:
    """Sequential vs K = 10 and 50 (and 50 as 2 × 25), per epoch and extrapolated."""
    note = f"extrapolated from {EPOCHS}-epoch runs (quick mode; --full runs it)"
    cases = [
        ("sequential, one seed, 1 thread", None, 1),
        ("ensemble K=10, 1 thread", 10, 10),
        ("ensemble K=50, 1 thread", 50, 50),
        ("ensemble K=50 as 2 x 25 (2 processes, 1 thread each)", "2x25", 50),
    ]
    res = {name: costs(k, runs) for name, k, _ in cases}
    seq = res[cases[0][0]]
    recs = []
    for name, k, n_seeds in cases:
        r = res[name]
        m_ep, s_ep = med_spread(r["epoch"])
        recs.append(record(f"{name}: per epoch", m_ep * 1e3, s_ep * 1e3, runs, "ms", "-"))
        m_sn, s_sn = med_spread(r["snapshot"])
        recs.append(record("  per recorded snapshot", m_sn * 1e3, s_sn * 1e3, runs, "ms", "-"))
        m, s = med_spread(r["paper"])
        recs.append(record("  8000 epochs, 274 snapshots (estimate)", m, s, runs, "s", "-", note))
        if k is None:
            continue
        per_seed = [p / n_seeds / q for p, q in zip(r["paper"], seq["paper"], strict=True)]
        m, s = med_spread(per_seed)
        recs.append(record("  time per seed / one sequential run", m, s, runs, "x", "-"))
        m, s = med_spread([p / q for p, q in zip(r["paper"], seq["paper"], strict=True)])
        tgt = TARGET if n_seeds == 50 else "-"
        recs.append(record(f"  {n_seeds} seeds / one sequential run", m, s, runs, "x", tgt, note))
    return recs


def full(runs: int) -> list[dict]:
    """The real runs: one sequential seed and 50 seeds, 8000 epochs, 274 snapshots (1 thread)."""
    torch.set_num_threads(1)
    seq = [_run(None, PAPER_EPOCHS, 400)[0] for _ in range(runs)]
    ens = [_run(50, PAPER_EPOCHS, 400)[0] for _ in range(runs)]
    m_seq, s_seq = med_spread(seq)
    m_ens, s_ens = med_spread(ens)
    m_r, s_r = med_spread([e / s for e, s in zip(ens, seq, strict=True)])
    return [
        record("sequential, one seed, 8000 epochs, 274 snapshots", m_seq, s_seq, runs, "s", "-"),
        record("ensemble K=50, 8000 epochs, 274 snapshots, 1 thread", m_ens, s_ens, runs, "s", "-"),
        record("  50 seeds / one sequential run", m_r, s_r, runs, "x", TARGET,
               "measured (full mode)"),
    ]  # fmt: skip


def main() -> None:
    """Quick or full mode (module docstring); writes bench/ensemble.json."""
    runs = int(os.environ.get("IBCORE_BENCH_RUNS", "1" if full_mode() else "3"))
    report("ensemble", full(runs) if full_mode() else quick(runs))


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
