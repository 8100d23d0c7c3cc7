"""Z-X / Z-Y benchmark for chapter 4: the probes of one run of the `cpu` preset, on one thread.

Run directly (``.venv/bin/python bench/bench_zxzy.py``) or through ``make bench``. Targets: under
2 s for the 8 blocks of one snapshot of the residual MLP (64 units) on all 1797 digits with the
`cpu` probe budget (300 Adam steps, 64 hidden units, batch 128); and a run's 9 snapshots side by
side (:func:`~ibcore.measures.zxzy.zxzy_snapshots`): the MLP's 8 blocks, the CNN's 6 blocks
(8 channels × 8 × 8) with Z-Y at every block or at the deepest only (``cnn_probes``), and the
deepest MLP block re-probed with 1500 steps (the probe budget of the sensitivity record).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import torch  # noqa: E402
from common import record, report, timeit  # noqa: E402

from ibcore.data import load_digits  # noqa: E402
from ibcore.measures.zxzy import zxzy, zxzy_snapshots  # noqa: E402
from ibcore.models import build_cnn, build_mlp  # noqa: E402
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
    # a run's 9 snapshots (the same activations, perturbed: the cost does not depend on them)
    cnn = build_cnn((1, 8, 8), 8, 6, 10, "relu", "projection", seed=0)
    cnn_acts = ActivationRecorder(cnn, output=None).capture(d.x_probe.view(-1, 1, 8, 8))
    g = torch.Generator().manual_seed(0)

    def snaps(a: dict, keys: list[str]) -> list[dict]:
        return [{k: a[k].flatten(1) + 0.01 * s * torch.randn(a[k].flatten(1).shape, generator=g)
                 for k in keys} for s in range(9)]  # fmt: skip

    mlp9, cnn9 = snaps(acts, list(model.layer_names)), snaps(cnn_acts, list(cnn.layer_names))
    deep9 = [{"deepest": s[model.layer_names[-1]]} for s in mlp9]
    cases = [
        ("MLP, 8 blocks, Z-X and Z-Y", mlp9, d.y_probe, {}),
        ("CNN, 6 blocks, Z-X and Z-Y (cnn_probes='every-block')", cnn9, d.y_probe, {}),
        ("CNN, 6 blocks, Z-X; Z-Y deepest (cnn_probes='every-zx')", cnn9, d.y_probe,
         {"zy_layers": cnn.layer_names[-1:]}),
        ("MLP deepest block, Z-X, re-probed 1500 x 64", deep9, None, {"steps": 1500}),
    ]  # fmt: skip
    for name, sn, y, extra in cases:
        med, spread = timeit(lambda sn=sn, y=y, extra=extra: zxzy_snapshots(
            sn, d.x_probe, y, **{**kw, **extra}), runs=3)  # fmt: skip
        rows.append(
            record(
                f"zxzy_snapshots: {name}, 9 snapshots, 1 thread",
                med,
                spread,
                3,
                "s",
                "the chapter's runs: as fast as the machine allows",
            )
        )
    report("zxzy", rows)


if __name__ == "__main__":
    main()
