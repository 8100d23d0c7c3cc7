"""Chapter 1: skip connections eliminate singularities (Orhan & Pitkow, ICLR 2018).

The chapter's architectures, runners, parameter schema and presets, and verdict
pre-registration. :func:`skip_run` trains one architecture and seed and records the unit-level
singularity measures of every hidden layer (our definitions, after §2); :func:`hessian_run`
takes the full Hessian spectrum of a small net's loss (§2; the thresholds are ours). All nets
share He-normal initialisation; skip nets scale their branch weights by ``depth^-1/2``
(``he_scaled``, our choice: unscaled post-activation ReLU residual nets explode), with
``plain_scaled`` as the control of that choice and ``residual_bs`` scaling the branch output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ibcore.data import load_dataset
from ibcore.env import runner
from ibcore.measures.singularities import (
    hessian_eigs,
    unit_measures,
    weight_elimination_fraction,
    weight_overlap_fraction,
)
from ibcore.models import MLP, build_mlp
from ibcore.schema import Chapter, Param, check_choice, common_params
from ibcore.train import ActivationRecorder, History, train
from ibcore.verdicts import Preregistration

__all__ = [
    "ARCHITECTURES",
    "UNIT_MEASURES",
    "architecture",
    "hessian_run",
    "skip_run",
]

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "plain": dict(shortcut="none", init="he", branch_scale=False, label="plain"),
    "residual": dict(shortcut="identity", init="he_scaled", branch_scale=False, label="residual"),
    "hyper": dict(shortcut="hyper", init="he_scaled", branch_scale=False, label="hyper-residual"),
    "plain_scaled": dict(
        shortcut="none", init="he_scaled", branch_scale=False, label="plain, scaled init (control)"
    ),
    "residual_bs": dict(
        shortcut="identity", init="he", branch_scale=True, label="residual, branch × depth^-1/2"
    ),
}
"""Chapter 1's architectures: shortcut kind, initialisation, and whether the branch output is
multiplied by ``depth^-1/2`` (``branch_scale``)."""

UNIT_MEASURES = (
    "elim_frac",
    "dead_relu_frac",
    "overlap_frac",
    "norm_rank",
    "participation_ratio",
    "weight_elim_frac",
    "weight_overlap_frac",
)
"""Per-layer measures that :func:`skip_run` records (each an ``S × k`` array in the History)."""


def architecture(name: str, depth: int) -> dict[str, Any]:
    """``build_mlp`` keyword arguments of architecture ``name`` at ``depth`` hidden layers.

    Returns ``{"shortcut": ..., "init": ..., "branch_scale": depth**-0.5 or None}``. Chapter 1;
    Orhan & Pitkow 2018 §4 (plain, residual, hyper-residual); the scaling and its control are ours.
    """
    check_choice("arch", name, tuple(ARCHITECTURES))
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"parameter 'depth' must be a positive integer, got {depth!r}")
    a = ARCHITECTURES[name]
    bs = depth**-0.5 if a["branch_scale"] else None
    return {"shortcut": a["shortcut"], "init": a["init"], "branch_scale": bs}


def _record_epochs(epochs: int, every: int) -> list[int]:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"parameter 'measure_every' must be a positive integer, got {every!r}")
    return sorted({*range(0, epochs + 1, every), epochs})


def _unit_measure_fn(
    model: MLP, x_probe: torch.Tensor, tau: float, rho: float, rel_tol: float
) -> Any:
    """A ``train(measures=...)`` function: the :data:`UNIT_MEASURES` of every hidden layer."""
    branch_rec = ActivationRecorder(
        model, layers={f"h{i + 1}": b.act for i, b in enumerate(model.blocks)}, output=None
    )

    def fn(acts: dict[str, torch.Tensor]) -> np.ndarray:
        layers = {k: acts[k] for k in model.layer_names}
        branches = branch_rec.capture(x_probe)
        um = unit_measures(layers, branches, tau=tau, rho=rho, rel_tol=rel_tol)["per_layer"]
        rows = [[um[k][m] for k in model.layer_names] for m in UNIT_MEASURES[:5]]
        w_elim, w_ovl = [], []
        for b in model.blocks:
            W = b.linear.weight.detach()
            Wb = torch.cat([W, b.linear.bias.detach()[:, None]], dim=1)  # J_i with its bias
            w_elim.append(weight_elimination_fraction(W))
            w_ovl.append(weight_overlap_fraction(Wb))
        return np.asarray([*rows, w_elim, w_ovl], dtype=np.float64)  # M × k

    return fn


@runner
def skip_run(
    *,
    shortcut: str,
    branch_scale: float | None,
    seed: int,
    dataset: str = "digits",
    depth: int = 20,
    width: int = 32,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 128,
    activation: str = "relu",
    init: str = "he",
    measure_every: int = 5,
    tau: float = 1e-3,
    rho: float = 0.99,
    rel_tol: float = 1e-3,
    device: str = "cpu",
) -> History:
    """Train one deep net and record its singularity measures (chapter 1's main run; §4).

    At epochs ``0, measure_every, …, epochs`` (before that epoch's updates) the hidden outputs
    ``H_l`` (skip included) and branch outputs ``F_l`` on the probe set are reduced on the fly to
    :func:`ibcore.measures.singularities.unit_measures` (thresholds ``tau``, ``rho``, ``rel_tol``)
    and the weight-space elimination and overlap fractions; raw activations are not kept.
    ``History.measures`` holds one ``S × depth`` array per name in :data:`UNIT_MEASURES`.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"parameter 'depth' must be an integer >= 2, got {depth!r}")
    record = _record_epochs(epochs, measure_every)
    data = load_dataset(dataset, seed=seed)
    widths = [data.n_features, *[width] * depth, data.n_classes]
    model = build_mlp(widths, activation, shortcut, init, branch_scale, seed=seed)
    x_probe = data.x_probe.to(device)
    fn = _unit_measure_fn(model.to(device), x_probe, tau, rho, rel_tol)
    h = train(
        model, data, epochs=epochs, lr=lr, batch_size=batch_size, record_epochs=record,
        keep_activations=False, measures={"units": fn}, output=None, seed=seed,
        device=device, desc=f"{shortcut} seed {seed}",
    )  # fmt: skip
    units = h.measures.pop("units")  # S × M × k
    for i, name in enumerate(UNIT_MEASURES):
        h.measures[name] = units[:, i, :]
    h.meta.update(
        shortcut=shortcut, branch_scale=branch_scale, tau=tau, rho=rho, rel_tol=rel_tol,
        elimination_reference="median",
    )  # fmt: skip
    return h


@runner
def hessian_run(
    *,
    shortcut: str,
    branch_scale: float | None,
    seed: int,
    hessian_epochs: Sequence[int] = (0, 30),
    dataset: str = "digits",
    depth: int = 10,
    width: int = 8,
    n_samples: int = 500,
    lr: float = 1e-3,
    batch_size: int = 128,
    activation: str = "relu",
    init: str = "he",
    device: str = "cpu",
) -> History:
    """Train a small net and take the full float64 Hessian spectrum of its loss at chosen epochs.

    Trained like :func:`skip_run` for ``max(hessian_epochs)`` epochs; at each of
    ``hessian_epochs`` (before that epoch's updates) ``measures["hessian_eigs"]`` (S × P, ascending)
    holds every eigenvalue of the mean cross-entropy on the first ``n_samples`` training samples
    (Orhan & Pitkow 2018 §2: degenerate Hessians of plain nets).
    """
    epochs = sorted({int(e) for e in hessian_epochs})
    if not epochs or epochs[0] < 0:
        raise ValueError(f"parameter 'hessian_epochs' needs epochs >= 0, got {hessian_epochs!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"parameter 'n_samples' must be an integer >= 2, got {n_samples!r}")
    data = load_dataset(dataset, seed=seed)
    widths = [data.n_features, *[width] * depth, data.n_classes]
    x = data.x_train[:n_samples].to(device)
    y = data.y_train[:n_samples].to(device)
    model = build_mlp(widths, activation, shortcut, init, branch_scale, seed=seed)

    def eigs(_acts: dict[str, torch.Tensor]) -> np.ndarray:
        return hessian_eigs(model, x, y, method="full")

    h = train(
        model, data, epochs=epochs[-1], lr=lr, batch_size=batch_size, record_epochs=epochs,
        keep_activations=False, measures={"hessian_eigs": eigs}, output=None, seed=seed,
        device=device, desc=f"hessian {shortcut} seed {seed}",
    )  # fmt: skip
    h.meta.update(
        shortcut=shortcut, branch_scale=branch_scale, n_samples=n_samples,
        n_params=int(sum(p.numel() for p in model.parameters())),
    )  # fmt: skip
    if not math.isfinite(float(np.abs(h.measures["hessian_eigs"]).max())):
        raise FloatingPointError("the Hessian spectrum has NaN or inf entries")
    return h


CALIBRATION_SEEDS = (100, 101)

PREREGISTERED = {
    "ch1-elimination": Preregistration(
        "ch1-elimination",
        "elim_frac(plain) - max elim_frac(skip nets), end",
        0.02,
        ">=",
        CALIBRATION_SEEDS,
        "calibration: 0.069 and 0.208 (every skip net 0.000); our threshold",
    ),
    "ch1-rank": Preregistration(
        "ch1-rank",
        "min norm_rank(skip nets) - norm_rank(plain), end",
        0.03,
        ">=",
        CALIBRATION_SEEDS,
        "about one lost direction per 32-unit layer; calibration: 0.083 and 0.231",
    ),
    "ch1-speed": Preregistration(
        "ch1-speed",
        "epochs to 90% train acc: best plain / residual",
        1.25,
        ">=",
        CALIBRATION_SEEDS,
        "a quarter faster; calibration speed-ups 2.57 and 1.80",
    ),
    "ch1-hessian": Preregistration(
        "ch1-hessian",
        "frac_degenerate(plain) - frac_degenerate(residual), eps 1e-4",
        0.1,
        ">=",
        CALIBRATION_SEEDS,
        "calibration differences 0.30 and 0.20",
    ),
}
"""What chapter 1's verdicts are judged against, fixed on :data:`CALIBRATION_SEEDS`."""

# ---------------------------------------------------------------------------------------------
# Parameters: the schema, the values shared by all scales, the smoke / cpu / paper presets
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "dataset": Param(
        str,
        "`digits` (offline), `cifar10` or `cifar100` (need the torchvision files)",
        choices=("digits", "cifar10", "cifar100"),
    ),
    "depth": Param(int, "hidden layers of the deep nets", low=2, high=200),
    "width": Param(int, "units per hidden layer", low=2, high=4096),
    "epochs": Param(int, "training epochs (Adam)", low=1, high=10_000),
    "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
    "batch_size": Param(int, "mini-batch size", low=1, high=100_000),
    "measure_every": Param(int, "epochs between unit measurements", low=1, high=10_000),
    "hessian_depth": Param(
        int, "hidden layers of the small net whose full Hessian is taken (digits)", low=1, high=100
    ),
    "hessian_width": Param(int, "units per layer of the Hessian net", low=1, high=256),
    "hessian_samples": Param(int, "training samples in the Hessian's loss", low=2, high=1437),
    "hessian_epochs": Param(int, "epochs at which the Hessian is taken", low=0, many=True),
    "toy_depth": Param(int, "weights of the scalar toy chain", low=1, high=100),
    "toy_steps": Param(int, "gradient steps of the toy chain", low=1, high=1_000_000),
    "workers": Param(
        int, "processes training runs side by side (2 uses both cores)", low=1, high=64
    ),
    **common_params(),
}

# fmt: off
CHAPTER = Chapter(
    "01",
    PARAMS,
    shared=dict(workers=1, dataset="digits", lr=1e-3, batch_size=128, toy_depth=10, device="auto"),
    presets={
        "smoke": dict(depth=6, width=16, epochs=4, measure_every=2, seeds=1, hessian_depth=3,
            hessian_width=4, hessian_samples=100, hessian_epochs=[0, 4], toy_steps=3000),
        "cpu": dict(workers=2, depth=20, width=32, epochs=30, measure_every=5, seeds=5, hessian_depth=10,
            hessian_width=8, hessian_samples=500, hessian_epochs=[0, 30], toy_steps=20_000),
        "paper": dict(dataset="cifar100", depth=30, width=128, epochs=100, batch_size=256,
            measure_every=10, seeds=3, hessian_depth=30, hessian_width=16, hessian_samples=1000,
            hessian_epochs=[0, 1, 5, 20, 100], toy_steps=20_000),
    },
)
# fmt: on
