"""Chapter 1 benchmarks: Hessian spectra and the chapter's training run (speed targets).

* full float64 Hessian of the depth-10, width-8 ReLU net on 500 digits samples (P = 1,258)
  — target < 10 s;
* Lanczos (ARPACK on Hessian-vector products, machine-precision tolerance): the 50 largest and
  50 smallest eigenvalues of a depth-10, width-101 net (P = 100,303), 500 samples — target < 1 min;
* one ``skip_run`` of the chapter's ``cpu`` preset (depth 20, width 32, 30 epochs), for scale.

Each case runs several times after a warm-up; the table gives the median wall time, its spread
(max − min) and the median process CPU time (on a shared 2-core machine the wall time also
counts the other processes). Torch and BLAS use one thread, as in the chapter's runners.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import torch  # noqa: E402
from common import record, report  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from ibcore.claims.ch1_skip_singularities import build_net, skip_run  # noqa: E402
from ibcore.data import load_digits  # noqa: E402
from ibcore.measures.singularities import hessian_eigs, hessian_spectra  # noqa: E402
from ibcore.models import build_mlp  # noqa: E402


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> tuple[float, float, float]:
    """Median wall time, its spread (max − min) and median CPU time of ``runs`` calls."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), max(wall) - min(wall), statistics.median(cpu)


def main() -> None:
    torch.set_num_threads(1)
    d = load_digits(0)
    x, y = d.x_train[:500], d.y_train[:500]
    recs = []
    with threadpool_limits(1):
        for shortcut, scale in (("none", None), ("identity", 10**-0.5)):
            m = build_mlp([64, *[8] * 10, 10], "relu", shortcut, "he", scale, seed=0)
            P = sum(p.numel() for p in m.parameters())
            runs = 5
            med, spr, cpu = timed(lambda m=m: hessian_eigs(m, x, y, method="full"), runs)
            case = f"full Hessian + eigvalsh, depth 10 width 8 {shortcut} (P={P:,})"
            recs.append(record(case, med, spr, runs, "s", "< 10 s"))
            recs.append(record("  -> process CPU time", cpu, 0.0, runs, "s", "-"))

        big = build_mlp([64, *[101] * 10, 10], "relu", "none", "he", seed=0)
        P = sum(p.numel() for p in big.parameters())
        runs = 3
        med, spr, cpu = timed(
            lambda: hessian_eigs(big, x, y, method="lanczos", k=100, which="BE"), runs, warmup=0
        )
        case = f"Lanczos top 50 + bottom 50, depth 10 width 101 (P={P:,})"
        recs.append(record(case, med, spr, runs, "s", "< 60 s"))
        recs.append(record("  -> process CPU time", cpu, 0.0, runs, "s", "-"))

        runs = 3
        med, spr, cpu = timed(lambda: skip_run(arch="residual", seed=0), runs)
        recs.append(record("skip_run residual, depth 20 width 32, 30 epochs", med, spr, runs,
                           "s", "-"))  # fmt: skip
        recs.append(record("  -> process CPU time", cpu, 0.0, runs, "s", "-"))

        small = build_net("residual", [64, *[8] * 10, 10], seed=0)
        xs, ys = x[:250], y[:250]
        med, spr, cpu = timed(lambda: hessian_spectra(small, xs, ys), runs)
        recs.append(record("hessian_spectra raw + rescaled, depth 10 width 8, 250 samples",
                           med, spr, runs, "s", "-"))  # fmt: skip
    report("singularities", recs)


if __name__ == "__main__":
    main()
