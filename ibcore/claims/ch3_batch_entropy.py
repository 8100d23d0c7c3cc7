"""Chapter 3: batch-entropy regularisation trains deep vanilla nets (Peer et al., TMLR 2022).

The chapter's runners (:func:`lbe_run`, one deep vanilla FNN of §5 trained with or without the
LBE loss; :func:`lbe_ensemble_run`, several of them side by side as one batched ensemble), the
arms (:func:`arms`), the primary verdict's metric (:func:`primary_values`) and the other
verdict metrics, the selection grid behind the tuned arm's default, read on a validation split
carved from the training data (:func:`validation_data`, :data:`SELECTION_GRID`,
:data:`SELECTION_RECORD`, :func:`select_setting`), the step-cost benchmark, the parameter schema
with its ``smoke``/``cpu``/``paper`` presets, and the verdict thresholds and kinds.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ibcore.claims.primaries import FULL_PRIMARIES, PRIMARIES
from ibcore.data import Dataset, load_dataset
from ibcore.env import runner
from ibcore.measures.batch_entropy import (
    EnsembleLBELoss,
    MiddleLayersLBELoss,
    batch_entropy_per_layer,
    ensemble_batch_entropy,
)
from ibcore.models import EnsembleMLP, build_mlp
from ibcore.schema import Chapter, Param, check_int, common_params
from ibcore.train import History, train
from ibcore.verdicts import Preregistration

VALIDATION_FRACTION = 0.2
"""Share of the training split held out as the validation split of the selection grid."""
VALIDATION_SPLIT_SEED = 0
"""Seed of the (stratified) validation carve; fixed, as the train/test split is."""


def validation_data(
    data: Dataset, fraction: float = VALIDATION_FRACTION, seed: int = VALIDATION_SPLIT_SEED
) -> Dataset:
    """A validation split carved from ``data``'s training split (stratified by label, seeded):
    the returned set trains on the rest of the training split and evaluates on the carve, which
    stands in its ``x_test``/``y_test``; the test split is not read. Inputs are re-standardised
    per feature with the statistics of the remaining training inputs, which are also the probe
    set. Chapter 3: the selection grid chooses LBE values on it (Peer et al. 2022, §5)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"parameter 'fraction' must be in (0, 1), got {fraction!r}")
    y = data.y_train.cpu().numpy()
    fit, val = train_test_split(
        np.arange(len(y)), test_size=float(fraction), stratify=y, random_state=int(seed)
    )
    fit, val = np.sort(fit), np.sort(val)
    x = data.x_train.cpu()
    flat = x.reshape(len(x), -1)
    mu, sd = flat[fit].mean(0), flat[fit].std(0, unbiased=False)
    sd = torch.where(sd > 0, sd, torch.ones_like(sd))
    xs = ((flat - mu) / sd).reshape(x.shape).contiguous()
    xf, yf = xs[fit], data.y_train.cpu()[fit]
    return Dataset(
        f"{data.name}-validation", xf, yf, xs[val], data.y_train.cpu()[val], data.n_classes,
        x_probe=xf, y_probe=yf,
        meta={**data.meta, "validation_fraction": float(fraction), "validation_seed": int(seed),
              "n_fit": int(fit.size), "n_val": int(val.size)},
    )  # fmt: skip


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


ARM_KEYS = ("lbe_alpha", "lbe_alpha_min", "lbe_beta")


def arms(params: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The chapter's three arms from its parameters: ``plain`` (β = 0), ``tuned`` (the
    chapter's default α, α_min, β) and ``authors`` (Peer et al. 2022, §5: 2.0, 0.2, 0.1 in their
    500-layer sweep). They differ in the LBE term only."""
    return {
        "plain": dict(lbe_alpha=0.0, lbe_alpha_min=0.0, lbe_beta=0.0),
        "tuned": {k: float(params[k]) for k in ARM_KEYS},
        "authors": {k: float(params[f"authors_{k[4:]}"]) for k in ARM_KEYS},
    }


@runner
def lbe_ensemble_run(
    *,
    members: Sequence[Mapping[str, Any]],
    depth: int = 50,
    width: int = 128,
    epochs: int = 67,
    lr: float = 3e-4,
    batch_size: int = 128,
    dataset: str = "digits",
    record_every: int = 3,
    marks: Sequence[int] = (),
    eval_every: int = 3,
    device: str = "cpu",
    validation: float = 0.0,
) -> list[History]:
    """Train several deep vanilla FNNs side by side as one batched ensemble; one History each.

    Chapter 3; Peer et al. 2022, §4–5. ``members``: one mapping per net with ``seed`` and the
    LBE values ``lbe_alpha``, ``lbe_alpha_min``, ``lbe_beta`` (β = 0: plain cross-entropy), and
    optionally ``arm`` (a name kept in ``meta``). Each member trains as :func:`lbe_run` would
    (same initialisation, batch order and loss; the losses of the members are summed, so their
    gradients do not mix). Snapshots every ``record_every`` epochs and at ``marks`` record
    ``measures["entropy"]`` (S × depth, nats, on the whole probe set), ``"target"`` (S × (depth −
    2)) and ``"grad_norm"`` (S × (depth + 1)): the norm of the cross-entropy gradient of each
    layer's weight matrix on the first ``batch_size`` training inputs (the task signal that
    reaches the layer). ``validation`` > 0 trains on the rest of the training split and evaluates
    on a carve of that share (:func:`validation_data`): the metrics are then ``val_loss`` and
    ``val_acc``, and the test split is not read (the selection grid).
    """
    depth = check_int("depth", depth, 3)
    width = check_int("width", width, 1)
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 2)
    record_every = check_int("record_every", record_every, 1)
    if not members:
        raise ValueError("parameter 'members' must list at least one net")
    for m in members:
        missing = [k for k in ("seed", *ARM_KEYS) if k not in m]
        if missing:
            raise ValueError(f"parameter 'members': a member lacks {missing[0]!r}: {dict(m)!r}")
    validation = float(validation)
    if not 0.0 <= validation < 1.0:
        raise ValueError(f"parameter 'validation' must be in [0, 1), got {validation!r}")
    data = load_dataset(dataset, seed=0)
    if validation:
        data = validation_data(data, validation)
    seeds = [int(m["seed"]) for m in members]
    nets = [
        build_mlp([data.n_features] + [width] * depth + [data.n_classes], "relu", seed=s)
        for s in seeds
    ]
    model = EnsembleMLP(nets)
    beta = [float(m["lbe_beta"]) for m in members]
    criterion = None
    if any(beta):
        criterion = EnsembleLBELoss(
            depth, [float(m["lbe_alpha"]) for m in members],
            [float(m["lbe_alpha_min"]) for m in members], beta,
        )  # fmt: skip
    names = model.layer_names
    dev = torch.device(device)
    xg = data.x_train[:batch_size].to(dev)
    yg = data.y_train[:batch_size].to(dev)[None].expand(len(members), -1)

    def grad_norm(_acts: dict[str, torch.Tensor]) -> torch.Tensor:
        weights = list(model.weights)
        with torch.enable_grad():
            logits = model(xg)
            ce = F.cross_entropy(logits.transpose(1, 2), yg, reduction="none").mean(1).sum()
            grads = torch.autograd.grad(ce, weights)
        return torch.stack([g.flatten(1).norm(dim=1) for g in grads], dim=1)  # K x (depth + 1)

    measures: dict = {
        "entropy": lambda acts: ensemble_batch_entropy([acts[n] for n in names]),
        "grad_norm": grad_norm,
    }
    if criterion is not None:
        measures["target"] = lambda _acts: criterion.targets().detach()
    record = sorted({*range(0, epochs + 1, record_every), epochs, *(int(e) for e in marks)})
    with flush_denormals():  # one thread (ibcore.env.runner), so flushing reaches all the work
        hists = train(
            model, [data] * len(members), epochs=epochs, lr=lr, batch_size=batch_size,
            criterion=criterion, record_epochs=record, keep_activations=False, measures=measures,
            output=None, shuffle=True, seed=seeds, eval_every=eval_every, device=device,
            desc=f"depth {depth}, {len(members)} nets",
        )  # fmt: skip
    steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
    for h, m in zip(hists, members, strict=True):
        if validation:  # the held-out carve of the training split, never the test split
            for k in ("loss", "acc"):
                h.metrics[f"val_{k}"] = h.metrics.pop(f"test_{k}")
            h.meta["validation"] = {k: data.meta[k] for k in ("validation_fraction",
                                    "validation_seed", "n_fit", "n_val")}  # fmt: skip
        b = float(m["lbe_beta"])
        h.meta.update(
            depth=depth, width=width, steps_per_epoch=steps_per_epoch,
            steps=epochs * steps_per_epoch, arm=str(m.get("arm", "")),
            lbe_alpha=float(m["lbe_alpha"]), lbe_alpha_min=float(m["lbe_alpha_min"]), lbe_beta=b,
            regularised_layers=[2, depth - 1] if b else [], chance=1.0 / data.n_classes,
        )  # fmt: skip
        if not b:
            h.measures.pop("target", None)
    return hists


def accuracy_at(history: History, epoch: int, key: str = "train_acc", last: int = 5) -> float:
    """The authors' "final" accuracy of a run stopped after ``epoch`` epochs: the mean of the
    last ``last`` evaluations at or before ``epoch`` (Adam has no schedule, so a longer run's
    curve up to ``epoch`` is the shorter run's). Chapter 3; Peer et al. 2022, §5."""
    if key not in history.metrics:
        raise ValueError(
            f"parameter 'key' = {key!r} is not a metric of this history; "
            f"choose one of {tuple(history.metrics)}"
        )
    last = check_int("last", last, 1)
    ep = history.metrics["epoch"]
    keep = ep <= epoch
    if not keep.any() or ep[keep][-1] != epoch:
        raise ValueError(f"parameter 'epoch' = {epoch} is not an evaluated epoch of this run")
    return float(np.mean(history.metrics[key][keep][-last:]))


def snapshot(history: History, epoch: int, measure: str = "entropy") -> np.ndarray:
    """A recorded measure (``entropy``, ``target``, ``grad_norm``) at snapshot ``epoch``."""
    where = np.flatnonzero(history.epochs == epoch)
    if where.size == 0:
        raise ValueError(f"parameter 'epoch' = {epoch} is not a snapshot of this run")
    return history.measures[measure][int(where[0])]


def accuracy_gaps(
    lbe: Sequence[History], plain: Sequence[History], epochs: int, plain_epochs: int,
    last: int = 5,
) -> list[float]:  # fmt: skip
    """Per seed: LBE test accuracy after ``epochs`` minus the plain net's (same seed) after
    ``plain_epochs`` (5× longer in the chapter), both the mean of the last ``last`` evaluations.
    Chapter 3 verdict metric; Peer et al. 2022, §5."""
    return [
        accuracy_at(a, epochs, "test_acc", last) - accuracy_at(b, plain_epochs, "test_acc", last)
        for a, b in zip(lbe, plain, strict=True)
    ]


ENTROPY_LAYERS = ("last", "min", "mean")
"""Which layers the entropy verdict reads: the last hidden layer D (not regularised: it feeds
the classifier), the smallest over all layers, or the mean over all layers."""


def entropy_gaps(
    lbe: Sequence[History], plain: Sequence[History], epoch: int, layers: str = "last"
) -> list[float]:
    """Per seed: the LBE net's batch entropy minus the plain net's at the same depth and step
    (nats), over ``layers`` (:data:`ENTROPY_LAYERS`). Chapter 3 verdict metric; Peer et al.
    2022, §3 and §5."""
    if layers not in ENTROPY_LAYERS:
        raise ValueError(f"parameter 'layers' = {layers!r}; choose one of {ENTROPY_LAYERS}")
    pick = {"last": lambda e: e[-1], "min": np.min, "mean": np.mean}[layers]
    return [
        float(pick(snapshot(a, epoch)) - pick(snapshot(b, epoch)))
        for a, b in zip(lbe, plain, strict=True)
    ]


def deepest_trained(
    depths: Sequence[int], accuracies: Sequence[float], level: float = 0.5
) -> int | None:
    """The largest depth whose accuracy reaches ``level`` (None if none does); chapter 3's depth
    sweep (Peer et al. 2022, §5)."""
    ok = [int(d) for d, a in zip(depths, accuracies, strict=True) if a >= level]
    return max(ok) if ok else None


TRAINS_LEVEL = 0.5
"""A net "trains" in the depth sweep when its final training accuracy reaches 0.5 (five times
chance on ten classes); fixed before the sweep was run."""


def sweep_members(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The members of one depth-sweep ensemble: every arm of :func:`arms` for every seed."""
    return [{"seed": int(s), "arm": a, **v} for a, v in arms(params).items() for s in seeds]


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
    ensemble: int = 0,
) -> dict[str, float]:
    """Time one Adam step of the deep vanilla FNN with LBE against the same step without.

    ``ensemble`` = K > 0 times K nets as one :class:`~ibcore.models.EnsembleMLP` step instead
    (LBE: :class:`~ibcore.measures.batch_entropy.EnsembleLBELoss`), as the chapter trains them.

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

    ensemble = check_int("ensemble", ensemble, 0)

    def make(beta: float):
        widths = [d_in] + [width] * depth + [n_classes]
        if ensemble:
            k = ensemble
            model = EnsembleMLP([build_mlp(widths, "relu", seed=seed + i) for i in range(k)])
            model = model.to(dev)
            crit = (
                EnsembleLBELoss(depth, [lbe_alpha] * k, [lbe_alpha_min] * k, [beta] * k).to(dev)
                if beta
                else None
            )
        else:
            model = build_mlp(widths, "relu", seed=seed).to(dev)
            crit = MiddleLayersLBELoss(depth, lbe_alpha, lbe_alpha_min, beta) if beta else None
            crit = crit.to(dev) if crit is not None else None
        params = list(model.parameters()) + (list(crit.parameters()) if crit else [])
        opt = torch.optim.Adam(params, lr=3e-4, fused=bool(ensemble))  # as ibcore.train does
        xs, ys = (x.expand(ensemble, -1, -1), y.expand(ensemble, -1)) if ensemble else (x, y)

        def loss_of(logits, hidden):
            if not ensemble:
                return F.cross_entropy(logits, ys) if crit is None else crit(logits, ys, hidden)
            if crit is not None:
                return crit(logits, ys, hidden).sum()
            ce = F.cross_entropy(logits.transpose(1, 2), ys, reduction="none")
            return ce.mean(1).sum()

        def run(n: int) -> None:
            for _ in range(n):
                if ensemble and crit is None:  # the plain ensemble step skips the hidden list
                    logits, hidden = model(xs), []
                else:
                    logits, hidden = model(xs, return_hidden=True)
                loss = loss_of(logits, hidden)
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


SELECTION_GRID = tuple(
    dict(lbe_alpha=a, lbe_alpha_min=m, lbe_beta=b)
    for a in (0.5, 1.0, 2.0)
    for m in (0.2, 0.5)
    for b in (0.1, 1.0)
)
"""The LBE values tried for the tuned arm (α, α_min, β; Adam 3e-4, depth 50, width 128,
:data:`SELECTION_STEPS` steps on digits), run on calibration seed :data:`SELECTION_SEED` and
read on the validation split (:func:`validation_data`)."""

SELECTION_SEED = 10
SELECTION_STEPS = 792
"""The LBE arms' budget at ``cpu`` (66 epochs of the full training split): the grid trains for
as many Adam steps on the smaller fit split."""

SELECTION_RECORD: tuple[dict[str, float], ...] = (
    {"lbe_alpha": 0.5, "lbe_alpha_min": 0.2, "lbe_beta": 0.1, "train_acc": 0.833, "val_acc": 0.665, "min_H": 0.338, "last_H": 2.348},
    {"lbe_alpha": 0.5, "lbe_alpha_min": 0.2, "lbe_beta": 1.0, "train_acc": 0.811, "val_acc": 0.644, "min_H": 0.325, "last_H": 2.169},
    {"lbe_alpha": 0.5, "lbe_alpha_min": 0.5, "lbe_beta": 0.1, "train_acc": 0.776, "val_acc": 0.644, "min_H": 0.307, "last_H": 2.374},
    {"lbe_alpha": 0.5, "lbe_alpha_min": 0.5, "lbe_beta": 1.0, "train_acc": 0.765, "val_acc": 0.582, "min_H": 0.345, "last_H": 1.895},
    {"lbe_alpha": 1.0, "lbe_alpha_min": 0.2, "lbe_beta": 0.1, "train_acc": 0.72, "val_acc": 0.59, "min_H": 0.483, "last_H": 1.806},
    {"lbe_alpha": 1.0, "lbe_alpha_min": 0.2, "lbe_beta": 1.0, "train_acc": 0.905, "val_acc": 0.7, "min_H": 0.575, "last_H": 1.938},
    {"lbe_alpha": 1.0, "lbe_alpha_min": 0.5, "lbe_beta": 0.1, "train_acc": 0.72, "val_acc": 0.59, "min_H": 0.483, "last_H": 1.806},
    {"lbe_alpha": 1.0, "lbe_alpha_min": 0.5, "lbe_beta": 1.0, "train_acc": 0.905, "val_acc": 0.7, "min_H": 0.575, "last_H": 1.938},
    {"lbe_alpha": 2.0, "lbe_alpha_min": 0.2, "lbe_beta": 0.1, "train_acc": 0.67, "val_acc": 0.576, "min_H": 0.615, "last_H": 1.715},
    {"lbe_alpha": 2.0, "lbe_alpha_min": 0.2, "lbe_beta": 1.0, "train_acc": 0.537, "val_acc": 0.474, "min_H": 1.225, "last_H": 1.532},
    {"lbe_alpha": 2.0, "lbe_alpha_min": 0.5, "lbe_beta": 0.1, "train_acc": 0.67, "val_acc": 0.576, "min_H": 0.615, "last_H": 1.715},
    {"lbe_alpha": 2.0, "lbe_alpha_min": 0.5, "lbe_beta": 1.0, "train_acc": 0.537, "val_acc": 0.474, "min_H": 1.225, "last_H": 1.532},
)  # fmt: skip
""":func:`selection_rows` of ``lbe_ensemble_run(**selection_params())``, run once on
calibration seed :data:`SELECTION_SEED` (accuracies: the mean of the last 5 evaluations, on the
fit and the validation split; entropies in nats at the end; 191 s on two shared CPU cores);
:func:`select_setting` reads it, and the tuned arm's default is its pick. The chapter's earlier
default (α 0.5, α_min 0.5, β 1), and a first record of this grid, had been read on the test
split; they are replaced by this record."""


def selection_params(**overrides: Any) -> dict[str, Any]:
    """The :func:`lbe_ensemble_run` parameters of the selection grid (one net per setting),
    trained on the fit split for :data:`SELECTION_STEPS` steps and read on the validation split;
    evaluations every 36 steps, as in the main runs. Chapter 3."""
    fit = validation_data(load_dataset("digits", seed=0))
    spe = math.ceil(len(fit.x_train) / 128)
    epochs = math.ceil(SELECTION_STEPS / spe)
    members = [{"seed": SELECTION_SEED, "arm": "grid", **g} for g in SELECTION_GRID]
    p = dict(members=members, depth=50, width=128, epochs=epochs, lr=3e-4, batch_size=128,
             dataset="digits", record_every=epochs, marks=[], eval_every=max(1, 36 // spe),
             device="cpu", validation=VALIDATION_FRACTION)  # fmt: skip
    p.update(overrides)
    return p


def selection_rows(histories: Sequence[History]) -> list[dict[str, float]]:
    """One row per grid setting: final accuracy on the fit and on the validation split (the
    mean of the last 5 evaluations), smallest regularised and last-layer entropy at the end.
    Only validation runs (``validation`` > 0): the test split is never part of a row."""
    rows = []
    for h in histories:
        if "val_acc" not in h.metrics:
            raise ValueError(
                "parameter 'histories': the selection grid reads runs with a validation split "
                "(lbe_ensemble_run(validation=...)), never the test split"
            )
        e = h.measures["entropy"][-1]
        ep = int(h.metrics["epoch"][-1])
        rows.append({
            **{k: h.meta[k] for k in ARM_KEYS},
            "train_acc": round(accuracy_at(h, ep), 3),
            "val_acc": round(accuracy_at(h, ep, "val_acc"), 3),
            "min_H": round(float(e[1:-1].min()), 3), "last_H": round(float(e[-1]), 3),
        })  # fmt: skip
    return rows


def select_setting(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The selection rule of the tuned arm: the grid setting with the highest validation
    accuracy (``val_acc``; the first in grid order on a tie). Rows without ``val_acc`` are
    refused: no setting is chosen on the test split. Chapter 3."""
    if not rows:
        raise ValueError("parameter 'rows' must hold at least one grid setting")
    if any("val_acc" not in r for r in rows):
        raise ValueError("parameter 'rows': every row needs 'val_acc' (validation accuracy)")
    best = max(range(len(rows)), key=lambda i: (rows[i]["val_acc"], -i))
    return {k: float(rows[best][k]) for k in ARM_KEYS}


CALIBRATION_SEEDS = (10, 11)
"""Seeds of the calibration runs (and of the selection grid, seed 10); never final seeds."""

LBE_ARMS = ("tuned", "authors")

PRIMARY = PRIMARIES["03"]
"""Chapter 3's primary verdict (pre-registered in :mod:`ibcore.claims.primaries`)."""


def primary_values(
    runs: Mapping[str, Sequence[History]], params: Mapping[str, Any], last: int = 5,
    lbe_epochs: int | None = None, plain_epochs: int | None = None,
) -> list[float]:  # fmt: skip
    """Per seed, the primary's metric: test accuracy of the authors' LBE arm after ``epochs``
    minus the plain net's (same seed) after ``plain_epochs``, each the mean of its last ``last``
    evaluations (:func:`accuracy_gaps`). ``lbe_epochs``/``plain_epochs`` override the budgets
    (the sensitivity record). Chapter 3; Peer et al. 2022, §5."""
    e = lbe_epochs or params["epochs"]
    pe = plain_epochs or params["plain_epochs"]
    return accuracy_gaps(runs["authors"], runs["plain"], e, pe, last)


KINDS = {
    PRIMARY.claim: "primary",
    "ch3-plain-untrainable": "check",
    "ch3-tuned-test-vs-plain": "secondary",
    "ch3-tuned-entropy-vs-plain": "check",
    "ch3-authors-entropy-vs-plain": "check",
}
"""Each verdict's kind. Checks cannot fail in practice: the default initialisation silences the
signal by about layer 10 at init, and the plain net's last-layer entropy is exactly 0 while the
LBE loss targets layer D − 1, right below the one read."""


def _prereg() -> dict[str, Preregistration]:
    out = {
        "ch3-plain-untrainable": Preregistration(
            "ch3-plain-untrainable",
            "plain train accuracy after the 5x budget (mean of last 5 evals)",
            0.20,
            "<=",
            CALIBRATION_SEEDS,
            "chance is 0.10; twice chance allowed. Calibration (3960 steps): 0.101 and 0.101",
            calibration_values=(0.101, 0.101),
        ),
        "ch3-tuned-test-vs-plain": Preregistration(
            "ch3-tuned-test-vs-plain",
            "tuned LBE test acc - plain test acc with a 5x longer budget (paired per seed)",
            0.20,
            ">=",
            CALIBRATION_SEEDS,
            "20 points of test accuracy above the plain net given five times the steps (chance "
            "is 0.10), the primary's threshold, fixed by principle. Calibration (792 vs 3960 "
            "steps) of the earlier tuned values α 0.5, α_min 0.5, β 1, since replaced by the "
            "validation split's pick: 0.505 and 0.637",
            "the plain net (beta = 0: same init, batch order, lr), trained 5x longer",
            calibration_values=(0.505, 0.637),
        ),
    }
    cal_h = {"tuned": (1.81, 2.03), "authors": (1.74, 1.51)}
    cal_note = {"tuned": ", the earlier tuned values α 0.5, α_min 0.5, β 1", "authors": ""}
    for arm in LBE_ARMS:
        out[f"ch3-{arm}-entropy-vs-plain"] = Preregistration(
            f"ch3-{arm}-entropy-vs-plain",
            f"{arm} LBE minus plain batch entropy of the last hidden layer, same depth and step "
            "[nats]",
            0.10,
            ">=",
            CALIBRATION_SEEDS,
            "the last hidden layer is not regularised; 0.1 nats is the entropy of a unit with "
            f"batch std 0.16. Calibration (step 792{cal_note[arm]}): {cal_h[arm][0]} and "
            f"{cal_h[arm][1]}",
            "the plain net's last hidden layer at the same depth and step",
            calibration_values=cal_h[arm],
        )
    return out


PREREGISTERED = _prereg()
"""What chapter 3's secondary verdicts and checks are judged against, fixed on
:data:`CALIBRATION_SEEDS` (the primary's record is :data:`PRIMARY`)."""


def verdict_values(
    runs: Mapping[str, Sequence[History]], params: Mapping[str, Any], last: int = 5,
    lbe_epochs: int | None = None, plain_epochs: int | None = None, layers: str = "last",
) -> dict[str, list[float]]:  # fmt: skip
    """Per-seed values of every chapter-3 verdict, the primary first, from the main runs
    (``runs``: arm -> one History per seed). ``last``, ``lbe_epochs`` (the LBE arms' budget,
    default ``epochs``), ``plain_epochs`` and ``layers`` are the analysis settings the
    sensitivity record varies (defaults: the pre-registered ones). Chapter 3; Peer et al. 2022,
    §5."""
    e = lbe_epochs or params["epochs"]
    pe = plain_epochs or params["plain_epochs"]
    out: dict[str, list[float]] = {}
    if e <= int(runs["authors"][0].metrics["epoch"][-1]):
        out[PRIMARY.claim] = primary_values(runs, params, last, e, pe)
    out["ch3-plain-untrainable"] = [accuracy_at(h, pe, last=last) for h in runs["plain"]]
    for arm in LBE_ARMS:
        if e > int(runs[arm][0].metrics["epoch"][-1]):
            continue  # this arm did not train that long
        if arm == "tuned":
            out["ch3-tuned-test-vs-plain"] = accuracy_gaps(runs[arm], runs["plain"], e, pe, last)
        out[f"ch3-{arm}-entropy-vs-plain"] = entropy_gaps(runs[arm], runs["plain"], e, layers)
    return out


def sensitivity_settings(params: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The analysis settings a referee would vary, per verdict (keywords of
    :func:`verdict_values`): the accuracy window, the budgets (the authors' arm, the primary's,
    also at ``authors_epochs``), the layers read. Chapter 3."""
    e, ae, pe = params["epochs"], params["authors_epochs"], params["plain_epochs"]
    budgets = {"tuned": (e,), "authors": tuple(sorted({e, ae}))}
    out = {
        PRIMARY.claim: [
            dict(last=w, lbe_epochs=b, plain_epochs=p)
            for w in (1, 5, 10) for b in budgets["authors"] for p in sorted({e, pe})
        ],
        "ch3-plain-untrainable": [dict(last=w, plain_epochs=p) for w in (1, 5, 10)
                                  for p in sorted({e, ae, pe})],
        "ch3-tuned-test-vs-plain": [
            dict(last=w, lbe_epochs=e, plain_epochs=p) for w in (1, 5, 10) for p in sorted({e, pe})
        ],
    }  # fmt: skip
    for arm in LBE_ARMS:
        out[f"ch3-{arm}-entropy-vs-plain"] = [
            dict(layers=lay, lbe_epochs=b) for lay in ENTROPY_LAYERS for b in budgets[arm]
        ]
    return out


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
        int,
        "the verdicts' budget of both LBE arms (digits: 12 Adam steps per epoch, MNIST: 469)",
        low=1,
        high=100_000,
    ),
    "authors_epochs": Param(
        int, "how long the authors' arm trains (>= epochs; shown, not judged)", low=1, high=100_000
    ),
    "plain_epochs": Param(
        int, "the plain net's budget (5 x epochs: a longer budget)", low=1, high=500_000
    ),
    "lr": Param(float, "Adam learning rate (every arm)", low=1e-9, high=1.0),
    "batch_size": Param(int, "mini-batch size (>= 2 for entropy)", low=2, high=65_536),
    "lbe_alpha": Param(float, "tuned arm: initial LBE target entropy [nats]", low=0.0, high=100.0),
    "lbe_alpha_min": Param(
        float, "tuned arm: floor of the LBE targets [nats]", low=0.0, high=100.0
    ),
    "lbe_beta": Param(float, "tuned arm: LBE weight", low=1e-12, high=1e6),
    "authors_alpha": Param(float, "authors' arm: initial target [nats]", low=0.0, high=100.0),
    "authors_alpha_min": Param(
        float, "authors' arm: floor of the targets [nats]", low=0.0, high=100.0
    ),
    "authors_beta": Param(float, "authors' arm: LBE weight", low=1e-12, high=1e6),
    "record_every": Param(int, "epochs between entropy snapshots", low=1, high=100_000),
    "eval_every": Param(int, "epochs between accuracy evaluations", low=1, high=100_000),
    "grad_epoch": Param(
        int, "snapshot of the gradient figure ('a few hundred steps')", low=1, high=100_000
    ),
    "sweep_depths": Param(int, "depths of the depth sweep", low=3, high=2000, many=True),
    "sweep_epochs": Param(int, "training epochs of the depth sweep", low=1, high=100_000),
    "sweep_seeds": Param(int, "seeds 0..n-1 of each depth-sweep run", low=1, high=1000),
    "workers": Param(
        int, "processes training runs side by side (2 uses both cores)", low=1, high=64
    ),
    **common_params(),
}


def check_budgets(params: Mapping[str, Any]) -> None:
    """One error line naming the parameter when the budgets do not fit together (chapter 3)."""
    from ibcore.schema import ParameterError

    e, ev = params["epochs"], params["eval_every"]
    for name in ("authors_epochs", "plain_epochs"):
        if params[name] < e:
            raise ParameterError(f"parameter {name!r} = {params[name]} must be >= epochs = {e}")
    for name in ("epochs", "authors_epochs", "plain_epochs", "sweep_epochs"):
        if params[name] % ev:
            raise ParameterError(
                f"parameter {name!r} = {params[name]} must be a multiple of eval_every = {ev}"
            )
    if params["grad_epoch"] > e:
        raise ParameterError(f"parameter 'grad_epoch' = {params['grad_epoch']} must be <= {e}")


def main_members(params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The main ensembles' :func:`lbe_ensemble_run` parameters, one per arm over every seed:
    ``plain`` (to ``plain_epochs``), ``authors`` (to ``authors_epochs``), ``tuned`` (to
    ``epochs``); longest first, for the process pool."""
    from ibcore.schema import seeds_list

    a = arms(params)
    seeds = seeds_list(params["seeds"])
    common = {k: params[k] for k in ("depth", "width", "lr", "batch_size", "dataset",
                                     "record_every", "eval_every")}  # fmt: skip
    budget = {"plain": params["plain_epochs"], "authors": params["authors_epochs"],
              "tuned": params["epochs"]}  # fmt: skip
    marks = {params["epochs"], params["grad_epoch"], params["sweep_epochs"],
             params["authors_epochs"]}  # fmt: skip
    return {
        arm: dict(
            members=[{"seed": s, "arm": arm, **a[arm]} for s in seeds],
            epochs=budget[arm],
            marks=sorted(m for m in marks if m <= budget[arm]),
            **common,
        )  # fmt: skip
        for arm in ("plain", "authors", "tuned")
    }


def sweep_params(params: Mapping[str, Any], depth: int) -> dict[str, Any]:
    """The :func:`lbe_ensemble_run` parameters of the depth sweep at ``depth``: every arm."""
    from ibcore.schema import seeds_list

    return dict(
        members=sweep_members(params, seeds_list(params["sweep_seeds"])), depth=int(depth),
        epochs=params["sweep_epochs"], marks=[],
        **{k: params[k] for k in ("width", "lr", "batch_size", "dataset", "record_every",
                                  "eval_every")},
    )  # fmt: skip


# fmt: off
CHAPTER = Chapter(
    "03",
    PARAMS,
    differs={
        "cpu": "digits (an epoch is 12 Adam steps), not MNIST; 50 of 500 layers",
        "full": "Fashion-MNIST (an epoch is 469 steps); width 64 of 1,000; 938 Adam steps for the LBE arms, 5× for the plain net; 3 seeds",
        "paper": "the authors' 500 × 1000 MNIST setting",
    },
    shared=dict(workers=1, dataset="digits", lr=3e-4, batch_size=128, lbe_alpha=1.0, lbe_alpha_min=0.2,
        lbe_beta=1.0, authors_alpha=2.0, authors_alpha_min=0.2, authors_beta=0.1, record_every=6,
        eval_every=3, device="auto"),
    presets={
        "smoke": dict(depth=12, width=32, epochs=6, authors_epochs=9, plain_epochs=30, seeds=2,
            grad_epoch=3, sweep_depths=[4, 12], sweep_epochs=6, sweep_seeds=1),
        "cpu": dict(workers=2, depth=50, width=128, epochs=66, authors_epochs=165, plain_epochs=330,
            seeds=list(PRIMARIES["03"].seeds), grad_epoch=25, sweep_depths=[10, 20, 30, 50, 100],
            sweep_epochs=66, sweep_seeds=1),
        "full": dict(dataset="fashionmnist", workers=2, depth=500, width=64, epochs=2,
            authors_epochs=5, plain_epochs=10, seeds=list(FULL_PRIMARIES["03"].seeds), record_every=1, eval_every=1, grad_epoch=1,
            sweep_depths=[50, 100, 250], sweep_epochs=2, sweep_seeds=1),
        "paper": dict(dataset="mnist", depth=500, width=1000, epochs=100, authors_epochs=200,
            plain_epochs=500, lr=1e-5, seeds=5, record_every=10, eval_every=5, grad_epoch=5,
            sweep_depths=[10, 20, 30, 40, 50, 100, 250], sweep_epochs=100, sweep_seeds=3),
    },
)
# fmt: on
