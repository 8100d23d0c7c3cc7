"""Z-X / Z-Y benchmark for chapter 4: all layers of one snapshot of the residual MLP.

Run directly (``.venv/bin/python bench/bench_zxzy.py``) or through ``make bench``. Target: under
2 s for the 8 blocks of the `cpu`-preset residual MLP (64 units) on all 1797 digits, with the
`cpu` probe budget (300 Adam steps, 64 hidden units, batch 128), on one thread.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import torch  # noqa: E402
from common import record, report, timeit  # noqa: E402

from ibcore.data import load_digits  # noqa: E402
from ibcore.measures.zxzy import zxzy  # noqa: E402
from ibcore.models import build_mlp  # noqa: E402
from ibcore.train import ActivationRecorder  # noqa: E402

RUNS = 5


def main() -> None:
    torch.set_num_threads(1)
    d = load_digits(0, probe="all")
    model = build_mlp([64] + [64] * 8 + [10], "relu", shortcut="identity", seed=0)
    acts = ActivationRecorder(model, output=None).capture(d.x_probe)
    kw = dict(n_classes=10, n_fit=len(d.x_train), steps=300, hidden=64, lr=3e-3, batch_size=128)
    med, spread = timeit(lambda: zxzy(acts, d.x_probe, d.y_probe, **kw), runs=RUNS)
    rows = [record("zxzy: 8 MLP blocks x 1797 digits, 1 snapshot, 1 thread", med, spread, RUNS,
                   "s", "< 2 s")]  # fmt: skip
    report("zxzy", rows)


if __name__ == "__main__":
    main()
