"""Chapter 3: batch-entropy regularisation trains deep vanilla nets (Peer et al., TMLR 2022).

The chapter's runner (:func:`lbe_run`, the deep vanilla FNN of §5 trained with or without the
LBE loss), its accuracy summary, the step-cost benchmark, the parameter schema with its
``smoke``/``cpu``/``paper`` presets, and the verdict thresholds.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ibcore.data import load_dataset
from ibcore.env import runner
from ibcore.measures.batch_entropy import MiddleLayersLBELoss, batch_entropy_per_layer
from ibcore.models import build_mlp
from ibcore.schema import Chapter, Param, check_int, common_params
from ibcore.train import History, train
from ibcore.verdicts import Preregistration


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush float32 denormals to zero on the CPU inside the block; the default is restored after.

    Chapter 3: the deep vanilla nets produce denormals, whose CPU arithmetic is very slow; treating
    them as 0 changes no reported number. The flag reaches the calling thread only.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@runner
def lbe_run(
    *,
    seed: int,
    depth: int = 50,
    width: int = 128,
    epochs: int = 67,
    lr: float = 3e-4,
    batch_size: int = 128,
    lbe_alpha: float = 0.5,
    lbe_alpha_min: float = 0.5,
    lbe_beta: float = 1.0,
    dataset: str = "digits",
    record_every: int = 1,
    eval_every: int = 1,
    device: str = "cpu",
) -> History:
    """Train the authors' deep vanilla FNN with LBE (``lbe_beta > 0``) or plain CE (``= 0``).

    Chapter 3; Peer et al. 2022, §4–5. The net is ``depth`` Linear+ReLU layers of ``width`` units
    and a linear head, PyTorch's default initialisation, no normalisation, no shortcut; with LBE the
    loss is :class:`~ibcore.measures.batch_entropy.MiddleLayersLBELoss` (layers ``2..depth-1``,
    learnable targets). ``seed`` sets the initial weights and the batch order; the digits split is
    fixed. Every ``record_every`` epochs ``History.measures`` records ``"entropy"`` (S × depth,
    nats, over the whole probe set) and, with LBE, ``"target"``; activations are not kept. Runs
    on one thread inside :func:`flush_denormals` (flushing reaches only the calling thread).
    """
    depth = check_int("depth", depth, 3)
    width = check_int("width", width, 1)
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 2)
    record_every = check_int("record_every", record_every, 1)
    eval_every = check_int("eval_every", eval_every, 1)
    lbe_beta = float(lbe_beta)  # the LBE criterion checks its hyper-parameters

    data = load_dataset(dataset, seed=0)
    model = build_mlp(
        [data.n_features] + [width] * depth + [data.n_classes], "relu", init="default", seed=seed
    )
    names = [f"h{i + 1}" for i in range(depth)]
    criterion = MiddleLayersLBELoss(depth, lbe_alpha, lbe_alpha_min, lbe_beta) if lbe_beta else None

    def entropy(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch_entropy_per_layer([acts[n] for n in names]).detach()

    measures: dict = {"entropy": entropy}
    if criterion is not None:
        measures["target"] = lambda _acts: criterion.lbe.targets().detach()
    record = sorted({*range(0, epochs + 1, record_every), epochs})
    kind = f"LBE b={lbe_beta:g}" if lbe_beta else "plain"
    # flush-to-zero reaches only the calling thread: the run is on one (ibcore.env.runner)
    with flush_denormals():
        hist = train(
            model, data, epochs=epochs, lr=lr, batch_size=batch_size, optimizer="adam",
            criterion=criterion, record_epochs=record, keep_activations=False,
            measures=measures, output=None, shuffle=True, seed=seed, eval_every=eval_every,
            device=device, desc=f"depth {depth} {kind} seed {seed}",
        )  # fmt: skip
    steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
    hist.meta.update(
        depth=depth, width=width, steps_per_epoch=steps_per_epoch, steps=epochs * steps_per_epoch,
        lbe_alpha=float(lbe_alpha), lbe_alpha_min=float(lbe_alpha_min), lbe_beta=lbe_beta,
        regularised_layers=[2, depth - 1] if lbe_beta else [], chance=1.0 / data.n_classes,
    )  # fmt: skip
    return hist


def final_accuracy(history: History, key: str = "train_acc", last: int = 5) -> float:
    """The authors' "final" accuracy: the mean of the last ``last`` evaluations of ``key``.

    Chapter 3; Peer et al. 2022, §5 (their code logs the sliding mean of the last 5 evaluations).
    """
    if key not in history.metrics:
        raise ValueError(
            f"parameter 'key' = {key!r} is not a metric of this history; "
            f"choose one of {tuple(history.metrics)}"
        )
    last = check_int("last", last, 1)
    return float(np.mean(history.metrics[key][-last:]))


def lbe_step_cost(
    *,
    depth: int = 50,
    width: int = 128,
    d_in: int = 64,
    n_classes: int = 10,
    batch_size: int = 128,
    steps: int = 10,
    repeats: int = 7,
    lbe_alpha: float = 0.5,
    lbe_alpha_min: float = 0.5,
    lbe_beta: float = 1.0,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Time one Adam step of the deep vanilla FNN with LBE against the same step without.

    Chapter 3 speed target (an LBE step costs at most 1.3x a plain one); Peer et al. 2022, §4.
    Two copies of the same net train on a fixed random batch (``batch_size x d_in``), each step
    doing what :func:`ibcore.train.train` does (forward with hidden layers, loss, finiteness
    check, backward, Adam). After ``steps`` warm-up steps each, ``repeats`` rounds time
    ``steps`` plain and ``steps`` LBE steps, alternating which goes first. On a CPU the clock is
    the process's CPU time (robust to other jobs on a shared machine; with one torch thread it
    equals wall time on an idle one); on CUDA it is wall time after a synchronise.

    Returns:
        ``{"plain_s", "lbe_s"}``: median seconds per step; ``"ratio"``: median over rounds of
        the per-round ratio lbe/plain; ``"ratio_min"``/``"ratio_max"``: its range.
    """
    import statistics
    import time

    check_int("depth", depth, 3)
    check_int("steps", steps, 1)
    check_int("repeats", repeats, 1)
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, d_in, generator=gen).to(dev)
    y = torch.randint(0, n_classes, (batch_size,), generator=gen).to(dev)

    def make(beta: float):
        model = build_mlp([d_in] + [width] * depth + [n_classes], "relu", seed=seed).to(dev)
        crit = MiddleLayersLBELoss(depth, lbe_alpha, lbe_alpha_min, beta).to(dev) if beta else None
        params = list(model.parameters()) + (list(crit.parameters()) if crit else [])
        opt = torch.optim.Adam(params, lr=3e-4)

        def run(n: int) -> None:
            for _ in range(n):
                logits, hidden = model(x, return_hidden=True)
                loss = F.cross_entropy(logits, y) if crit is None else crit(logits, y, hidden)
                if not torch.isfinite(loss):
                    raise FloatingPointError("loss became non-finite in lbe_step_cost")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        return run

    cuda = dev.type == "cuda"
    clock = time.perf_counter if cuda else time.process_time

    def timed(run) -> float:
        if cuda:
            torch.cuda.synchronize(dev)
        t0 = clock()
        run(steps)
        if cuda:
            torch.cuda.synchronize(dev)
        return (clock() - t0) / steps

    plain, lbe = make(0.0), make(lbe_beta)
    tp, tl = [], []
    with flush_denormals():  # as in lbe_run
        plain(steps)
        lbe(steps)
        for r in range(repeats):
            if r % 2:
                tl.append(timed(lbe))
                tp.append(timed(plain))
            else:
                tp.append(timed(plain))
                tl.append(timed(lbe))
    ratios = [b / a for a, b in zip(tp, tl, strict=True)]
    return {
        "plain_s": statistics.median(tp),
        "lbe_s": statistics.median(tl),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


CALIBRATION_SEEDS = (10, 11)

PREREGISTERED = {
    "ch3-plain-untrainable": Preregistration(
        "ch3-plain-untrainable",
        "plain train accuracy (mean of last 5 evals)",
        0.20,
        "<=",
        CALIBRATION_SEEDS,
        "chance is 0.10; calibration 0.102 and 0.101",
    ),
    "ch3-plain-zero-entropy": Preregistration(
        "ch3-plain-zero-entropy",
        "plain final H of the last layer [nats]",
        1e-3,
        "<=",
        CALIBRATION_SEEDS,
        "calibration 0 and 0",
    ),
    "ch3-lbe-entropy": Preregistration(
        "ch3-lbe-entropy",
        "LBE min final H over the regularised layers [nats]",
        0.1,
        ">=",
        CALIBRATION_SEEDS,
        "calibration 0.348 and 0.375, all 48 regularised layers positive",
    ),
    "ch3-lbe-trains": Preregistration(
        "ch3-lbe-trains",
        "LBE - plain train accuracy (mean of last 5 evals)",
        0.4,
        ">=",
        CALIBRATION_SEEDS,
        "calibration gaps 0.616 and 0.599",
    ),
}
"""What chapter 3's verdicts are judged against, fixed on :data:`CALIBRATION_SEEDS`."""

# ---------------------------------------------------------------------------------------------
# Parameters: the schema, the values shared by all scales, the smoke / cpu / paper presets
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "dataset": Param(
        str,
        "`digits` (offline), or `mnist`, `fashionmnist`, `cifar10`, `cifar100` (need the files)",
        choices=("digits", "mnist", "fashionmnist", "cifar10", "cifar100"),
    ),
    "depth": Param(
        int, "Linear+ReLU layers D of the vanilla net (plus a linear classifier)", low=3, high=2000
    ),
    "width": Param(int, "units per hidden layer", low=1, high=8192),
    "epochs": Param(
        int, "training epochs (Adam; digits: 12 steps per epoch, MNIST: 469)", low=1, high=100_000
    ),
    "lr": Param(float, "Adam learning rate", low=1e-9, high=1.0),
    "batch_size": Param(int, "mini-batch size (>= 2 for entropy)", low=2, high=65_536),
    "lbe_alpha": Param(float, "initial LBE target entropy [nats]", low=0.0, high=100.0),
    "lbe_alpha_min": Param(float, "floor of the LBE targets [nats]", low=0.0, high=100.0),
    "lbe_beta": Param(float, "LBE weight (> 0 for the LBE runs)", low=1e-12, high=1e6),
    "record_every": Param(int, "epochs between entropy snapshots", low=1, high=100_000),
    "eval_every": Param(int, "epochs between accuracy evaluations", low=1, high=100_000),
    "sweep_depths": Param(int, "depths of the depth sweep", low=3, high=2000, many=True),
    "sweep_epochs": Param(int, "training epochs of the depth sweep", low=1, high=100_000),
    "sweep_seeds": Param(int, "seeds 0..n-1 of each depth-sweep run", low=1, high=1000),
    "workers": Param(
        int, "processes training runs side by side (2 uses both cores)", low=1, high=64
    ),
    **common_params(),
}

# fmt: off
CHAPTER = Chapter(
    "03",
    PARAMS,
    shared=dict(workers=1, dataset="digits", lr=3e-4, batch_size=128, lbe_alpha=0.5, lbe_alpha_min=0.5,
        lbe_beta=1.0, record_every=3, eval_every=3, device="auto"),
    presets={
        "smoke": dict(depth=12, width=32, epochs=6, seeds=2, record_every=1, eval_every=1,
            sweep_depths=[4, 12], sweep_epochs=6, sweep_seeds=1),
        "cpu": dict(workers=2, depth=50, width=128, epochs=67, seeds=5, sweep_depths=[10, 20, 30, 50],
            sweep_epochs=67, sweep_seeds=1),
        "paper": dict(dataset="mnist", depth=500, width=1000, epochs=1000, lr=1e-6, lbe_alpha=2.0,
            lbe_alpha_min=0.2, lbe_beta=0.1, seeds=5, record_every=10, eval_every=5,
            sweep_depths=[10, 20, 30, 40, 50, 100, 250], sweep_epochs=100, sweep_seeds=3),
    },
)
# fmt: on
