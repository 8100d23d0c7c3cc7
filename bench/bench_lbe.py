"""Chapter 3: cost of a training step with the LBE loss against a plain step (target ≤ 1.3×)."""

from __future__ import annotations

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import torch  # noqa: E402
from common import record, report  # noqa: E402

from ibcore.claims.ch3_batch_entropy import lbe_step_cost  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)  # the CPU clock of lbe_step_cost is CPU time: one thread
    runs = 5
    res = [lbe_step_cost(depth=50, width=128, steps=10, repeats=7) for _ in range(runs)]
    ratios = [r["ratio"] for r in res]
    plain = [r["plain_s"] for r in res]
    lbe = [r["lbe_s"] for r in res]
    recs = [
        record("depth 50 x 128, batch 128, CPU 1 thread: plain step", statistics.median(plain),
               max(plain) - min(plain), runs, "s", "-"),
        record("  LBE step (alpha 0.5, alpha_min 0.5, beta 1)", statistics.median(lbe),
               max(lbe) - min(lbe), runs, "s", "-"),
        record("  LBE / plain step cost", statistics.median(ratios), max(ratios) - min(ratios),
               runs, "x", "<= 1.3 (chapter 3)"),
    ]  # fmt: skip
    ens = [lbe_step_cost(depth=50, width=128, steps=5, repeats=5, ensemble=5) for _ in range(3)]
    er = [r["ratio"] for r in ens]
    recs.append(record("  5 nets as one ensemble (as chapter 3 trains them): LBE / plain",
                       statistics.median(er), max(er) - min(er), 3, "x", "<= 1.3"))  # fmt: skip
    if torch.cuda.is_available():
        r = lbe_step_cost(depth=500, width=1000, d_in=784, steps=10, repeats=5, device="cuda",
                          lbe_alpha=2.0, lbe_alpha_min=0.2, lbe_beta=0.1)  # fmt: skip
        recs.append(record("depth 500 x 1000, MNIST-sized, CUDA: LBE / plain", r["ratio"],
                           r["ratio_max"] - r["ratio_min"], 5, "x", "<= 1.3"))  # fmt: skip
        recs.append(record("  LBE steps per second", 1 / r["lbe_s"], 0.0, 5, "1/s", "-"))
    report("lbe", recs)


if __name__ == "__main__":
    main()
