"""Chapter 5: cost of counting exact information and of training the quantized ensembles.

- exact I(X;T), I(T;Y) of one 4096 × 10 layer of 8-bit codes (np.unique over byte rows);
- one epoch (13 Adam steps of batch 256) of the 8-bit tanh and ReLU 12-10-7-5-4-3-2 nets as
  an ensemble of 20 (the cpu preset's group: 10 seeds, each real and null), one thread;
- one snapshot of the group: every layer of 20 members counted exactly;
- each estimator of Table 1 on the five hidden layers of one member.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import record, report, timeit  # noqa: E402

from ibcore.claims import ch5_exact_quantized as ch5  # noqa: E402
from ibcore.measures import exact  # noqa: E402
from ibcore.quantized import build_quantized_ensemble  # noqa: E402


def _epoch(net: torch.nn.Module, opt: torch.optim.Optimizer, data: ch5.Dataset) -> None:
    net.train()
    x, t = data.x_train, data.y_train
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 256):
        b = perm[i : i + 256]
        loss = torch.nn.functional.cross_entropy(net(x[b]).reshape(-1, 2), t[b].repeat(net.K))
        opt.zero_grad()
        loss.backward()
        opt.step()


def _snapshot(net: torch.nn.Module, data: ch5.Dataset) -> None:
    net.eval()
    with torch.no_grad():
        net(data.x_probe)
    ys = data.y_probe.numpy()
    for k in range(net.K):
        for c in net.codes[:-1]:
            exact.information(c[k].numpy(), ys)


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(4096, 10)).astype(np.int16)
    y = rng.integers(0, 2, 4096)
    recs = []
    med, spr = timeit(lambda: exact.information(codes, y), runs=7)
    recs.append(record("exact I(X;T), I(T;Y): 4096 x 10 codes", med * 1e3, spr * 1e3, 7, "ms", "-"))
    data = ch5.load_task(0)
    for act in ("tanh", "relu"):
        net = build_quantized_ensemble(ch5.WIDTHS, act, list(range(20)), bits=8)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, eps=1e-7)
        med, spr = timeit(lambda net=net, opt=opt: _epoch(net, opt, data), runs=5)
        recs.append(record(f"one epoch, 20 {act} members (13 steps, 1 thread)", med, spr, 5, "s",
                           "-"))  # fmt: skip
        med, spr = timeit(lambda net=net: _snapshot(net, data), runs=5)
        recs.append(record(f"  one snapshot counted exactly (20 {act} members)", med, spr, 5, "s",
                           "-"))  # fmt: skip
    acts = [np.tanh(rng.normal(size=(4096, w))) for w in ch5.WIDTHS[1:-1]]
    for est in ch5.ESTIMATORS:
        med, spr = timeit(lambda est=est: ch5._estimates(acts, y, [est], "tanh"), runs=3)
        recs.append(record(f"  {est} on T1-T5 of one member", med, spr, 3, "s", "-"))
    report("exact", recs)


if __name__ == "__main__":
    main()
