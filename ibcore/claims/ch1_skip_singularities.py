"""Chapter 1: skip connections eliminate singularities (Orhan & Pitkow, ICLR 2018).

The chapter's architectures, runners, verdict metrics, parameter schema and presets, and verdict
pre-registration. :func:`skip_run` trains one architecture and seed and records the unit-level
singularity measures of every hidden layer — of the layer's output (what the next layer sees)
and of its branch alone, where a skip net's units can die — and how close the incoming weights
come to the singular sets (our definitions, after §2); :func:`hessian_run` takes the full
Hessian spectrum of a small net's loss, raw and rescaled so that weight scale alone cannot move
it (§2; the thresholds and the rescaling are ours). The paper's controls (§4) are architectures
here: a plain net started at identity-like weights, and fixed skip matrices that are random
orthogonal or have a fraction of their singular values set to zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ibcore.claims.primaries import FULL_PRIMARIES, PRIMARIES
from ibcore.data import load_dataset
from ibcore.env import runner
from ibcore.measures.singularities import (
    epochs_to_accuracy,
    hessian_spectra,
    hessian_summary,
    unit_measures,
    weight_elimination_fraction,
    weight_max_cosine,
    weight_norm_ratio,
    weight_overlap_fraction,
)
from ibcore.models import MLP, build_mlp
from ibcore.schema import Chapter, Param, check_choice, common_params
from ibcore.train import ActivationRecorder, History, train
from ibcore.verdicts import Preregistration, Primary

__all__ = [
    "ARCHITECTURES",
    "DEEP_ARCHS",
    "DOSE_ARCHS",
    "HESSIAN_ARCHS",
    "HESSIAN_MAX_PARAMS",
    "PLAIN_ARCHS",
    "PRIMARY",
    "UNIT_MEASURES",
    "build_net",
    "chapter_primary",
    "chapter_verdicts",
    "check_hessian_size",
    "hessian_jobs",
    "hessian_n_params",
    "hessian_run",
    "primary_speed_ratio",
    "skip_matrices",
    "skip_run",
]

_SCALED = "he_scaled"
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "plain": dict(shortcut="none", init="he", label="plain"),
    "plain_identity": dict(
        shortcut="none", init="near_identity", label="plain, identity-like init (control)"
    ),
    "plain_scaled": dict(shortcut="none", init=_SCALED, label="plain, scaled init (control)"),
    "residual": dict(shortcut="identity", init=_SCALED, label="residual (identity skip)"),
    "residual_he": dict(shortcut="identity", init="he", label="residual, He init"),
    "hyper": dict(shortcut="hyper", init=_SCALED, label="hyper-residual"),
    "orthogonal": dict(shortcut="fixed", init=_SCALED, zeroed=0.0, label="orthogonal skip"),
    **{
        f"degenerate_{round(100 * f)}": dict(
            shortcut="fixed",
            init=_SCALED,
            zeroed=f,
            norm="preserve",
            label=f"orthogonal, {round(100 * f)} % of singular values 0",
        )  # fmt: skip
        for f in (0.125, 0.25, 0.5, 0.75)
    },
    **{
        f"shrunk_{round(100 * f)}": dict(
            shortcut="fixed",
            init=_SCALED,
            zeroed=f,
            norm="shrink",
            label=f"orthogonal, {round(100 * f)} % zeroed, not renormalised",
        )  # fmt: skip
        for f in (0.25, 0.5)
    },
}
"""Chapter 1's architectures: shortcut kind and initialisation (``he_scaled``: He with the
branch weights of blocks 2…k × k^-1/2, ours; ``near_identity``: square hidden weights
``I + 0.01·N(0, 1)``); a ``fixed`` shortcut is a frozen matrix (:func:`skip_matrices`) with a
fraction ``zeroed`` of its singular values set to 0, the others renormalised (``preserve``, so the
matrix keeps its Frobenius norm) or left at 1 (``shrink``)."""

DOSE_ARCHS = ("orthogonal", "degenerate_12", "degenerate_25", "degenerate_50", "degenerate_75")
"""The dose–response arms: the same orthogonal skips with more and more singular values zeroed."""
DEEP_ARCHS = (
    "plain", "plain_identity", "plain_scaled", "residual", "hyper", *DOSE_ARCHS,
    "shrunk_25", "shrunk_50",
)  # fmt: skip
"""The deep nets the chapter trains."""
HESSIAN_ARCHS = ("plain", "residual_he", "plain_scaled", "residual", "plain_identity", "hyper")
"""The small nets whose Hessian is taken: two matched pairs (He; scaled init) and the controls."""
SKIP_ARCHS = ("residual", "hyper", "orthogonal")
"""Skip nets with full-rank skips, against which the plain net is compared."""
PLAIN_ARCHS = ("plain", "plain_scaled", "plain_identity")
"""The plain controls of the primary verdict: He, the skip nets' scaled and identity-like init."""
PRIMARY: Primary = PRIMARIES["01"]
"""Chapter 1's pre-registered primary verdict (:mod:`ibcore.claims.primaries`)."""
HESSIAN_MAX_PARAMS = 15_000
"""The largest net whose full Hessian :func:`hessian_run` takes: a float64 P × P matrix of
1.8 GB and two dense eigendecompositions at this size."""

UNIT_MEASURES = (
    "elim_frac",
    "dead_relu_frac",
    "overlap_frac",
    "norm_rank",
    "participation_ratio",
    "branch_elim_frac",
    "branch_overlap_frac",
    "branch_norm_rank",
    "weight_elim_frac",
    "weight_overlap_frac",
    "weight_norm_ratio",
    "weight_max_cos",
)
"""Per-layer measures that :func:`skip_run` records (each an ``S × k`` array in the History):
of the layer output ``H_l`` (skip included), of the branch ``F_l`` alone (``branch_*``; for a
plain net ``F_l = H_l``), and of the incoming weights ``J_i`` (``weight_*``)."""


def skip_matrices(
    width: int, n: int, zeroed: float, norm: str = "preserve", seed: int = 0
) -> list[torch.Tensor]:
    """``n`` fixed skip matrices ``Q = U diag(s) Vᵀ`` (Haar ``U, V``) with ``round(zeroed·width)``
    singular values 0; the others are 1 (``shrink``) or ``sqrt(width / (width − k))``
    (``preserve``: the norm of an orthogonal matrix). ``U, V`` depend on ``seed`` only, so arms
    that differ in ``zeroed`` share them. Chapter 1; Orhan & Pitkow 2018 §4 (non-identity skips).
    """
    check_choice("norm", norm, ("preserve", "shrink"))
    if not 0.0 <= float(zeroed) < 1.0:
        raise ValueError(f"parameter 'zeroed' must be in [0, 1), got {zeroed!r}")
    k = round(float(zeroed) * width)
    rng = np.random.default_rng([int(seed), 1701])
    out = []
    for _ in range(n):
        u, v = (np.linalg.qr(rng.standard_normal((width, width))) for _ in range(2))
        U = u[0] * np.sign(np.diag(u[1]))  # Haar: fix the signs of the QR factor
        V = v[0] * np.sign(np.diag(v[1]))
        s = np.ones(width)
        s[width - k :] = 0.0
        if norm == "preserve" and k:
            s[: width - k] = math.sqrt(width / (width - k))
        out.append(torch.as_tensor((U * s) @ V.T, dtype=torch.float32))
    return out


def build_net(arch: str, widths: Sequence[int], seed: int) -> MLP:
    """Chapter 1's net ``arch`` (one of :data:`ARCHITECTURES`) of ``widths``, seeded.

    Nets with a fixed skip matrix get exactly the branch and head weights of the identity-skip
    net of the same seed and initialisation, so the two differ in the skip matrix only. Chapter 1;
    Orhan & Pitkow 2018 §4.
    """
    check_choice("arch", arch, tuple(ARCHITECTURES))
    a = ARCHITECTURES[arch]
    if a["shortcut"] != "fixed":
        return build_mlp(widths, "relu", a["shortcut"], a["init"], seed=seed)
    model = build_mlp(widths, "relu", "fixed", a["init"], seed=seed)
    twin = build_mlp(widths, "relu", "identity", a["init"], seed=seed)
    missing = model.load_state_dict(twin.state_dict(), strict=False).missing_keys
    assert all(k.endswith("shortcut.weight") for k in missing), missing
    qs = skip_matrices(widths[1], len(model.blocks) - 1, a["zeroed"], a.get("norm", "preserve"),
                       seed)  # fmt: skip
    with torch.no_grad():
        for b, q in zip(model.blocks[1:], qs, strict=True):
            b.shortcut.weight.copy_(q)
    return model


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
    names = model.layer_names
    kw = dict(tau=tau, rho=rho, rel_tol=rel_tol)

    def fn(acts: dict[str, torch.Tensor]) -> np.ndarray:
        layers = {k: acts[k] for k in names}
        branches = branch_rec.capture(x_probe)
        um = unit_measures(layers, branches, **kw)["per_layer"]
        bm = unit_measures(branches, **kw)["per_layer"]
        rows = [[um[k][m] for k in names] for m in UNIT_MEASURES[:5]]
        rows += [[bm[k][m] for k in names] for m in ("elim_frac", "overlap_frac", "norm_rank")]
        w_rows: list[list[float]] = [[], [], [], []]
        for b in model.blocks:
            W = b.linear.weight.detach()
            Wb = torch.cat([W, b.linear.bias.detach()[:, None]], dim=1)  # J_i with its bias
            for row, f, arg in zip(
                w_rows,
                (weight_elimination_fraction, weight_overlap_fraction, weight_norm_ratio,
                 weight_max_cosine),
                (W, Wb, W, Wb),
                strict=True,
            ):  # fmt: skip
                row.append(f(arg))
        return np.asarray([*rows, *w_rows], dtype=np.float64)  # M × k

    return fn


def _check_depth(depth: int) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"parameter 'depth' must be an integer >= 2, got {depth!r}")


@runner
def skip_run(
    *,
    arch: str,
    seed: int,
    dataset: str = "digits",
    depth: int = 20,
    width: int = 32,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 128,
    measure_every: int = 5,
    tau: float = 1e-3,
    rho: float = 0.99,
    rel_tol: float = 1e-3,
    device: str = "cpu",
) -> History:
    """Train one deep ReLU net and record its singularity measures (chapter 1's main run; §4).

    At epochs ``0, measure_every, …, epochs`` (before that epoch's updates) the hidden outputs
    ``H_l`` (skip included) and branch outputs ``F_l`` on the probe set are reduced on the fly to
    :func:`ibcore.measures.singularities.unit_measures` (thresholds ``tau``, ``rho``, ``rel_tol``)
    and the weight-space measures; raw activations are not kept. ``History.measures`` holds one
    ``S × depth`` array per name in :data:`UNIT_MEASURES`.
    """
    check_choice("arch", arch, tuple(ARCHITECTURES))
    _check_depth(depth)
    record = _record_epochs(epochs, measure_every)
    data = load_dataset(dataset, seed=seed)
    widths = [data.n_features, *[width] * depth, data.n_classes]
    model = build_net(arch, widths, seed)
    x_probe = data.x_probe.to(device)
    fn = _unit_measure_fn(model.to(device), x_probe, tau, rho, rel_tol)
    h = train(
        model, data, epochs=epochs, lr=lr, batch_size=batch_size, record_epochs=record,
        keep_activations=False, measures={"units": fn}, output=None, seed=seed,
        device=device, desc=f"{arch} seed {seed}",
    )  # fmt: skip
    units = h.measures.pop("units")  # S × M × k
    for i, name in enumerate(UNIT_MEASURES):
        h.measures[name] = units[:, i, :]
    h.meta.update(arch=arch, tau=tau, rho=rho, rel_tol=rel_tol, elimination_reference="median")
    return h


def hessian_n_params(n_features: int, n_classes: int, depth: int, width: int) -> int:
    """Trainable parameters of the Hessian net (``depth`` hidden layers of ``width`` units, every
    arm of :data:`HESSIAN_ARCHS`; fixed skip matrices are frozen). Chapter 1; Orhan & Pitkow
    2018 §2."""
    return (n_features + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_classes


def check_hessian_size(
    dataset: str, n_features: int, n_classes: int, depth: int, width: int
) -> int:
    """The Hessian net's parameter count on ``dataset``; one clear line naming the chapter's
    parameters when it exceeds :data:`HESSIAN_MAX_PARAMS`. Chapter 1; Orhan & Pitkow 2018 §2."""
    n = hessian_n_params(n_features, n_classes, depth, width)
    if n > HESSIAN_MAX_PARAMS:
        raise ValueError(
            f"parameters 'hessian_depth' = {depth} and 'hessian_width' = {width} give a Hessian "
            f"net of {n} parameters on {dataset!r} ({n_features} inputs, {n_classes} classes); "
            f"a full Hessian is taken for at most {HESSIAN_MAX_PARAMS}: lower them"
        )
    return n


def hessian_jobs(P: Mapping[str, Any], device: str) -> list[tuple[str, dict[str, Any]]]:
    """``(arch, hessian_run keyword arguments)`` for every arm of :data:`HESSIAN_ARCHS` and seed
    of the chapter's parameters ``P``: the Hessian nets are trained and measured on the chapter's
    ``dataset``, like the deep nets. Chapter 1; Orhan & Pitkow 2018 §2."""
    from ibcore.schema import seeds_list

    return [
        (
            a,
            dict(
                arch=a,
                seed=seed,
                hessian_epochs=list(P["hessian_epochs"]),
                dataset=P["dataset"],
                depth=P["hessian_depth"],
                width=P["hessian_width"],
                n_samples=P["hessian_samples"],
                lr=P["lr"],
                batch_size=P["batch_size"],
                device=device,
            ),
        )  # fmt: skip
        for a in HESSIAN_ARCHS
        for seed in seeds_list(P["seeds"])
    ]


@runner
def hessian_run(
    *,
    arch: str,
    seed: int,
    hessian_epochs: Sequence[int] = (0, 30),
    dataset: str = "digits",
    depth: int = 10,
    width: int = 8,
    n_samples: int = 250,
    lr: float = 1e-3,
    batch_size: int = 128,
    device: str = "cpu",
) -> History:
    """Train a small net and take its full float64 Hessian spectra at chosen epochs.

    Trained like :func:`skip_run` on ``dataset`` for ``max(hessian_epochs)`` epochs; at each of
    ``hessian_epochs`` (before that epoch's updates) ``measures["hessian_eigs"]`` (S × P,
    ascending) holds every eigenvalue of the mean cross-entropy on the first ``n_samples``
    training samples of ``dataset``, and ``measures["hessian_eigs_rescaled"]`` those of the
    Hessian in layer-scale coordinates (:func:`ibcore.measures.singularities.hessian_spectra`;
    Orhan & Pitkow 2018 §2: degenerate Hessians of plain nets). A net of more than
    :data:`HESSIAN_MAX_PARAMS` parameters is refused before training.
    """
    check_choice("arch", arch, tuple(ARCHITECTURES))
    epochs = sorted({int(e) for e in hessian_epochs})
    if not epochs or epochs[0] < 0:
        raise ValueError(f"parameter 'hessian_epochs' needs epochs >= 0, got {hessian_epochs!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"parameter 'n_samples' must be an integer >= 2, got {n_samples!r}")
    _check_depth(depth)
    data = load_dataset(dataset, seed=seed)
    check_hessian_size(dataset, data.n_features, data.n_classes, depth, width)
    widths = [data.n_features, *[width] * depth, data.n_classes]
    x = data.x_train[:n_samples].to(device)
    y = data.y_train[:n_samples].to(device)
    model = build_net(arch, widths, seed)
    spectra: list[dict[str, np.ndarray]] = []

    def eigs(_acts: dict[str, torch.Tensor]) -> np.ndarray:
        spectra.append(hessian_spectra(model, x, y))
        return spectra[-1]["raw"]

    h = train(
        model, data, epochs=epochs[-1], lr=lr, batch_size=batch_size, record_epochs=epochs,
        keep_activations=False, measures={"hessian_eigs": eigs}, output=None, seed=seed,
        device=device, desc=f"hessian {arch} seed {seed}",
    )  # fmt: skip
    h.measures["hessian_eigs_rescaled"] = np.stack([s["rescaled"] for s in spectra])
    h.meta.update(arch=arch, dataset=dataset, n_samples=n_samples,
                  n_params=int(h.measures["hessian_eigs"].shape[1]))  # fmt: skip
    for key in ("hessian_eigs", "hessian_eigs_rescaled"):
        if not np.isfinite(h.measures[key]).all():
            raise FloatingPointError(f"the Hessian spectrum ({key}) has NaN or inf entries")
    return h


# ---------------------------------------------------------------------------------------------
# Verdict metrics: one value per seed, from the cached runs (no retraining)
# ---------------------------------------------------------------------------------------------

Runs = Mapping[str, Sequence[History]]
"""Runs of one scale: architecture -> one History per seed (the same seeds, in order)."""


def _n(runs: Runs) -> int:
    return len(runs["plain"])


def measure_at(h: History, key: str, when: str = "end") -> float:
    """A unit measure of run ``h``, mean over layers, at the end (``end``) or averaged over the
    recorded epochs (``mean``). Chapter 1; Orhan & Pitkow 2018 §4."""
    check_choice("when", when, ("end", "mean"))
    m = h.measures[key]
    return float(m[-1].mean() if when == "end" else m.mean())


def epochs_to(h: History, target: float = 0.9) -> float:
    """Epochs to ``target`` training accuracy; never reached counts as ``epochs + 1`` (a lower
    bound on the time). Chapter 1; Orhan & Pitkow 2018 §4 (training speed)."""
    e = epochs_to_accuracy(h.metrics["train_acc"], target)
    return min(e, float(h.metrics["epoch"][-1]) + 1.0)


def elimination_gap(
    runs: Runs, skip: str = "residual", measure: str = "elim", when: str = "end"
) -> list[float]:
    """Per seed: eliminated fraction of the plain net's units minus that of skip net ``skip``'s
    *branches* (``measure``: ``elim``, constant over the inputs, or ``dead``, zero on every input).
    A dead branch leaves its unit alive through the skip, but its incoming weights are as
    unidentifiable as a dead plain unit's. Chapter 1; Orhan & Pitkow 2018 Fig. 1a."""
    check_choice("measure", measure, ("elim", "dead"))
    pk, sk = ("elim_frac", "branch_elim_frac") if measure == "elim" else ("dead_relu_frac",) * 2
    return [measure_at(p, pk, when) - measure_at(s, sk, when)
            for p, s in zip(runs["plain"], runs[skip], strict=True)]  # fmt: skip


def rank_gap(runs: Runs, skip: str = "residual", when: str = "end") -> list[float]:
    """Per seed: normalised effective rank of skip net ``skip``'s branches minus the plain net's
    layers. Chapter 1; Orhan & Pitkow 2018 Fig. 1c (linear dependence)."""
    return [measure_at(s, "branch_norm_rank", when) - measure_at(p, "norm_rank", when)
            for p, s in zip(runs["plain"], runs[skip], strict=True)]  # fmt: skip


def primary_speed_ratio(
    runs: Runs, target: float = 0.9, skip: str = "residual", plain: Sequence[str] = PLAIN_ARCHS
) -> list[float]:
    """Per seed: epochs to ``target`` training accuracy of the *fastest* plain control among
    ``plain`` (He, the skip nets' scaled init, identity-like init) over those of skip net
    ``skip``; a net that never gets there counts as ``epochs + 1`` (:func:`epochs_to`). The
    primary verdict's metric (``PRIMARIES["01"]``). Chapter 1; Orhan & Pitkow 2018, abstract
    and §4 (skips alleviate the learning slow-down, not the initialisation alone)."""
    if not plain:
        raise ValueError("parameter 'plain' must name at least one plain control")
    for a in (*plain, skip):
        check_choice("arch", a, tuple(ARCHITECTURES))
    return [min(epochs_to(runs[a][i], target) for a in plain) / epochs_to(runs[skip][i], target)
            for i in range(len(runs[skip]))]  # fmt: skip


def identity_init_drift(
    runs: Runs, comparator: str = "residual", part: int = 3, skip_init: bool = True
) -> list[float]:
    """Per seed: how much the identity-initialised plain net falls behind ``comparator`` during
    training — the mean of ``log10(loss(plain_identity) / loss(comparator))`` over the last
    ``1/part`` of the epochs minus that over the first ``1/part`` (epoch 0 left out when
    ``skip_init``). Positive: it starts relatively well and then slows down, as the paper argues
    it does when training moves it towards the singular sets. Chapter 1; Orhan & Pitkow 2018 §4."""
    out = []
    for p, c in zip(runs["plain_identity"], runs[comparator], strict=True):
        r = np.log10(p.metrics["train_loss"]) - np.log10(c.metrics["train_loss"])
        r = r[1:] if skip_init else r
        w = max(1, len(r) // part)
        out.append(float(r[-w:].mean() - r[:w].mean()))
    return out


def dose_response(
    runs: Runs, arms: Sequence[str] = DOSE_ARCHS, metric: str = "mean_loss"
) -> list[float]:
    """Per seed: Spearman ρ between the fraction of zeroed singular values of the skip matrices
    and a slowness measure (``mean_loss`` over all epochs, ``final_loss``, or ``epochs90``; 0 if
    it is the same for every dose).
    Chapter 1; Orhan & Pitkow 2018 §4 (degenerate skips hurt in proportion to the degeneracy)."""
    from scipy.stats import spearmanr

    check_choice("metric", metric, ("mean_loss", "final_loss", "epochs90"))
    dose = [ARCHITECTURES[a]["zeroed"] for a in arms]
    out = []
    for i in range(_n(runs)):
        hs = [runs[a][i] for a in arms]
        if metric == "mean_loss":
            y = [float(h.metrics["train_loss"][1:].mean()) for h in hs]
        elif metric == "final_loss":
            y = [float(h.metrics["train_loss"][-1]) for h in hs]
        else:
            y = [epochs_to(h, 0.9) for h in hs]
        # a slowness that does not change with the dose is no trend: rho 0, not undefined
        out.append(float(spearmanr(dose, y).statistic) if np.ptp(y) > 0 else 0.0)
    return out


def orthogonal_ratio(runs: Runs, target: float = 0.9) -> list[float]:
    """Per seed: epochs to ``target`` of the orthogonal-skip net over the identity-skip net's
    (≤ 1: at least as fast). Chapter 1; Orhan & Pitkow 2018 §4 (non-identity skips)."""
    return [epochs_to(o, target) / epochs_to(r, target)
            for o, r in zip(runs["orthogonal"], runs["residual"], strict=True)]  # fmt: skip


def degenerate_fraction(
    h: History, eps: float = 1e-4, rescaled: bool = True, epochs: str = "all"
) -> float:
    """Mean over the Hessian epochs (``all``, ``init`` or ``trained``: all but the first) of the
    fraction of eigenvalues with ``|λ| < eps · max |λ|``. Chapter 1; Orhan & Pitkow 2018 §2."""
    check_choice("epochs", epochs, ("all", "init", "trained"))
    ev = h.measures["hessian_eigs_rescaled" if rescaled else "hessian_eigs"]
    ev = {"all": ev, "init": ev[:1], "trained": ev[1:]}[epochs]
    return float(np.mean([hessian_summary(e, eps_rel=eps)["frac_degenerate"] for e in ev]))


HESSIAN_PAIRS = {
    "he": ("plain", "residual_he"),
    "scaled": ("plain_scaled", "residual"),
    "unmatched": ("plain", "residual"),
}
"""Plain and residual small nets at the same initialisation (``he``, ``scaled``), and the
unmatched pair (plain at He, residual at the scaled init) that the grid shows for comparison."""


def hessian_gap(
    hess: Runs,
    eps: float = 1e-4,
    rescaled: bool = True,
    pairs: Sequence[str] = ("he",),
    epochs: str = "all",
) -> list[float]:
    """Per seed: degenerate fraction of the plain net minus the residual net at the same
    initialisation, averaged over the ``pairs`` of :data:`HESSIAN_PAIRS`. The verdict reads the
    He pair alone, where a plain net's signal is alive: without skips the scaled init shrinks it
    at every layer, so the ``scaled`` pair (and the average of both, this chapter's earlier
    metric) measures a dying signal more than the skips; both stay in the settings grid.
    Chapter 1; Orhan & Pitkow 2018 §2 (plain nets' Hessians are more degenerate)."""
    for k in pairs:
        check_choice("pairs", k, tuple(HESSIAN_PAIRS))
    if not pairs:
        raise ValueError("parameter 'pairs' must name at least one pair of HESSIAN_PAIRS")
    out = []
    for i in range(_n(hess)):
        d = [degenerate_fraction(hess[p][i], eps, rescaled, epochs)
             - degenerate_fraction(hess[r][i], eps, rescaled, epochs)
             for p, r in (HESSIAN_PAIRS[k] for k in pairs)]  # fmt: skip
        out.append(float(np.mean(d)))
    return out


def chapter_primary(runs: Runs, target: float = 0.9) -> dict[str, Any]:
    """Chapter 1's primary verdict as keyword sets for :func:`ibcore.verdicts.make_primary`:
    ``values`` (:func:`primary_speed_ratio` at training accuracy ``target``: the registered one
    of the scale), ``null`` (epochs to ``target`` of the fastest plain control, per seed),
    ``note``, and the sensitivity grid (``grid``, ``grid_values``: accuracy targets 0.8, 0.9,
    0.95 and ``target``; skip net residual or hyper-residual). Chapter 1; Orhan & Pitkow 2018,
    abstract and §4."""

    def fmt(xs) -> str:
        return ", ".join(f"{x:g}" for x in xs)

    pct = f"{100 * target:g} %"
    e = {a: [epochs_to(h, target) for h in runs[a]] for a in (*PLAIN_ARCHS, "residual")}
    fastest = [min(v) for v in zip(*(e[a] for a in PLAIN_ARCHS), strict=True)]
    grid = [{"accuracy_target": t, "skip net": s} for t in sorted({0.8, 0.9, 0.95, target})
            for s in ("residual", "hyper")]  # fmt: skip
    return {
        "values": primary_speed_ratio(runs, target),
        "null": {
            "name": f"epochs to {pct} of the fastest plain control (He, scaled or "
            "identity-like init)",
            "per_seed": fastest,
        },  # fmt: skip
        "note": f"epochs to {pct} (never = epochs + 1): plain {fmt(e['plain'])}; plain, scaled "
        f"init {fmt(e['plain_scaled'])}; plain, identity-like init {fmt(e['plain_identity'])}; "
        f"residual {fmt(e['residual'])}",
        "grid": grid,
        "grid_values": [
            primary_speed_ratio(runs, g["accuracy_target"], g["skip net"]) for g in grid
        ],  # fmt: skip
    }


CHECKS = ("ch1-orthogonal-skip", "ch1-degeneracy-dose")
"""Chapter 1's records that cannot fail in practice: judged as checks, never *reproduced*."""


def chapter_verdicts(runs: Runs, hess: Runs | None = None) -> list[dict[str, Any]]:
    """Chapter 1's secondary verdicts and checks as keyword sets for
    :func:`ibcore.verdicts.make_verdict` (``kind`` included), each with its sensitivity grid
    (``grid``: settings, ``grid_values``: per-seed values per setting); the primary is
    :func:`chapter_primary`.

    Chapter 1 (Orhan & Pitkow 2018, abstract, §2 and §4): elimination and linear dependence of
    the skip nets' branches against the plain net's units; the identity-initialised plain net's
    slow-down; orthogonal against identity skips and the degenerate-skip dose–response (checks);
    the Hessian at matched (He) initialisation.
    """
    out: list[dict[str, Any]] = []

    def add(claim: str, statement: str, values, grid, fn, note="") -> None:
        out.append({"claim": claim, "statement": statement, "values": values, "note": note,
                    "grid": grid, "grid_values": [fn(g) for g in grid],
                    "kind": "check" if claim in CHECKS else "secondary"})  # fmt: skip

    def fmt(xs) -> str:
        return ", ".join(f"{x:.3g}" for x in xs)

    n = _n(runs)
    grid = [{"skip net": s, "measure": m, "when": w}
            for s in SKIP_ARCHS for m in ("elim", "dead") for w in ("end", "mean")]  # fmt: skip
    add("ch1-branch-elimination",
        "skip nets' branches are eliminated (constant over the inputs) less often than a plain "
        "net's units", elimination_gap(runs), grid,
        lambda g: elimination_gap(runs, g["skip net"], g["measure"], g["when"]),
        note="eliminated at the end: plain units " + fmt(measure_at(h, "elim_frac") for h in runs["plain"])
        + "; residual branches " + fmt(measure_at(h, "branch_elim_frac") for h in runs["residual"]))  # fmt: skip
    grid = [{"skip net": s, "when": w} for s in SKIP_ARCHS for w in ("end", "mean")]
    add("ch1-branch-rank",
        "skip nets' branches are less linearly dependent (higher effective rank) than a plain "
        "net's layers", rank_gap(runs), grid, lambda g: rank_gap(runs, g["skip net"], g["when"]),
        note="rank at the end: plain " + fmt(measure_at(h, "norm_rank") for h in runs["plain"])
        + "; residual branches " + fmt(measure_at(h, "branch_norm_rank") for h in runs["residual"]))  # fmt: skip
    e_res = fmt(epochs_to(h) for h in runs["residual"])
    grid = [{"comparator": c, "part": p} for c in ("residual", "orthogonal") for p in (2, 3, 4)]
    add("ch1-identity-init-slows",
        "a plain net started at identity-like weights falls behind the residual net as training "
        "proceeds (the initialisation alone does not explain the skips' benefit)",
        identity_init_drift(runs), grid,
        lambda g: identity_init_drift(runs, g["comparator"], g["part"]),
        note="epochs to 90 %: plain, identity-like init "
        + fmt(epochs_to(h) for h in runs["plain_identity"]) + f"; residual {e_res}")  # fmt: skip
    grid = [{"target": t} for t in (0.8, 0.9, 0.95)]
    add("ch1-orthogonal-skip",
        "random orthogonal skips train at least about as fast as identity skips (at most a "
        "quarter slower)", orthogonal_ratio(runs), grid,
        lambda g: orthogonal_ratio(runs, g["target"]),
        note="epochs to 90 %: orthogonal " + fmt(epochs_to(h) for h in runs["orthogonal"])
        + f"; identity {e_res}")  # fmt: skip
    arms_sets = {"all doses": DOSE_ARCHS, "without 75 %": DOSE_ARCHS[:-1]}
    grid = [{"slowness": m, "doses": d}
            for m in ("mean_loss", "final_loss", "epochs90") for d in arms_sets]  # fmt: skip
    add("ch1-degeneracy-dose",
        "the more singular values of the skip matrices are zeroed (norm kept), the slower the "
        "net trains (Spearman ρ over the dose)", dose_response(runs), grid,
        lambda g: dose_response(runs, arms_sets[g["doses"]], g["slowness"]),
        note="mean training loss per dose (0, 12.5, 25, 50, 75 %), seed mean: "
        + fmt(np.mean([h.metrics["train_loss"][1:].mean() for h in runs[a]]) for a in DOSE_ARCHS))  # fmt: skip
    if hess is not None:
        grid = [{"eps_rel": eps, "rescaled": r, "pairs": p, "epochs": ep}
                for eps in (1e-3, 1e-4, 1e-5) for r in (True, False)
                for p in ("he", "he+scaled", "scaled", "unmatched")
                for ep in ("all", "init", "trained")]  # fmt: skip
        deg = {a: [degenerate_fraction(h) for h in hess[a]] for a in HESSIAN_ARCHS if a in hess}
        add("ch1-hessian",
            "the loss Hessian of a plain net is more degenerate than that of a residual net at "
            "the same (He) initialisation (rescaled: weight scale alone cannot move it)",
            hessian_gap(hess), grid,
            lambda g: hessian_gap(hess, g["eps_rel"], g["rescaled"], g["pairs"].split("+"),
                                  g["epochs"]),
            note=f"on {next(iter(hess.values()))[0].meta.get('dataset', 'digits')}; rescaled "
            "degenerate fraction (ε 1e-4, mean over epochs): "
            + "; ".join(f"{a} {fmt(v)}" for a, v in deg.items()))  # fmt: skip
    assert all(len(v["values"]) == n for v in out)
    return out


CALIBRATION_SEEDS = (100, 101)

PREREGISTERED = {
    "ch1-branch-elimination": Preregistration(
        "ch1-branch-elimination",
        "elim_frac(plain units) - branch_elim_frac(residual), end",
        0.02,
        ">=",
        CALIBRATION_SEEDS,
        "one unit in fifty; calibration -0.080 and 0.022 (plain units 0.069, 0.208; residual branches 0.148, 0.186; orthogonal-skip branches 0.000, 0.002)",
        calibration_values=(-0.080, 0.022),
    ),
    "ch1-branch-rank": Preregistration(
        "ch1-branch-rank",
        "branch_norm_rank(residual) - norm_rank(plain), end",
        0.03,
        ">=",
        CALIBRATION_SEEDS,
        "about one lost direction per 32-unit layer; calibration -0.073 and 0.031 (plain 0.917, 0.769; residual branches 0.844, 0.800)",
        calibration_values=(-0.073, 0.031),
    ),
    "ch1-identity-init-slows": Preregistration(
        "ch1-identity-init-slows",
        "log10 loss ratio plain_identity / residual: last third - first third of epochs",
        0.1,
        ">=",
        CALIBRATION_SEEDS,
        "a relative slow-down of a quarter (10^0.1 = 1.26); calibration -0.305 and -0.005 (epochs to 90 %: identity-like init 4 and 5, residual 7 and 10)",
        calibration_values=(-0.305, -0.005),
    ),
    "ch1-orthogonal-skip": Preregistration(
        "ch1-orthogonal-skip",
        "epochs to 90% train acc: orthogonal / identity skip",
        1.25,
        "<=",
        CALIBRATION_SEEDS,
        "at most a quarter slower; calibration 0.571 and 0.400 (orthogonal 4 and 4 epochs, identity 7 and 10)",
        calibration_values=(0.571, 0.400),
    ),
    "ch1-degeneracy-dose": Preregistration(
        "ch1-degeneracy-dose",
        "Spearman rho(zeroed fraction, mean train loss) over 5 doses",
        0.5,
        ">=",
        CALIBRATION_SEEDS,
        "a clearly monotone trend over five doses; calibration 1.0 and 1.0 (mean training loss 0.107, 0.120, 0.159, 0.228, 0.424 from 0 to 75 % zeroed)",
        calibration_values=(1.0, 1.0),
    ),
    "ch1-hessian": Preregistration(
        "ch1-hessian",
        "rescaled frac_degenerate(plain) - (residual_he), eps 1e-4, both at He init",
        0.05,
        ">=",
        CALIBRATION_SEEDS,
        "fixed as half the smaller calibration value of the earlier metric, the average over the He and the scaled-init pairs (0.220 and 0.109), and kept: the He pair alone gave 0.087 and 0.044 (plain 0.721, 0.636 vs residual at He 0.634, 0.592); the scaled pair (plain 0.760, 0.643 vs residual 0.407, 0.469) is left to the settings grid, because without skips the scaled init shrinks the signal at every layer",
        calibration_values=(0.087, 0.044),
    ),
}
"""What chapter 1's verdicts are judged against, fixed on :data:`CALIBRATION_SEEDS`."""

# ---------------------------------------------------------------------------------------------
# Parameters: the schema, the values shared by all scales, the smoke / cpu / paper presets
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "dataset": Param(
        str,
        "`digits` (offline), `fashionmnist` (`make data`), `cifar10` or `cifar100` (need the "
        "torchvision files)",
        choices=("digits", "fashionmnist", "cifar10", "cifar100"),
    ),
    "depth": Param(int, "hidden layers of the deep nets", low=2, high=200),
    "width": Param(int, "units per hidden layer", low=2, high=4096),
    "epochs": Param(int, "training epochs (Adam)", low=1, high=10_000),
    "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
    "batch_size": Param(int, "mini-batch size", low=1, high=100_000),
    "measure_every": Param(int, "epochs between unit measurements", low=1, high=10_000),
    "hessian_depth": Param(
        int,
        "hidden layers of the small net whose full Hessian is taken (on `dataset`)",
        low=1,
        high=100,
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
    differs={
        "cpu": "scikit-learn's 8 × 8 digits, not CIFAR-100; 20 layers of 32 units, not 30 of 128; 30 epochs",
        "full": "Fashion-MNIST, not CIFAR-100; 6 epochs; Hessian nets of width 4 on 500 images; 3 seeds",
        "paper": "settings recalled, not read in the paper",
    },
    shared=dict(workers=1, dataset="digits", lr=1e-3, batch_size=128, toy_depth=10, device="auto"),
    presets={
        "smoke": dict(depth=6, width=16, epochs=4, measure_every=2, seeds=1, hessian_depth=3,
            hessian_width=4, hessian_samples=100, hessian_epochs=[0, 4], toy_steps=3000),
        "cpu": dict(workers=2, depth=20, width=32, epochs=30, measure_every=5,
            seeds=list(PRIMARIES["01"].seeds), hessian_depth=10, hessian_width=8, hessian_samples=250, hessian_epochs=[0, 30], toy_steps=20_000),
        "full": dict(dataset="fashionmnist", workers=2, depth=30, width=128, epochs=6,
            measure_every=2, seeds=list(FULL_PRIMARIES["01"].seeds), hessian_depth=10, hessian_width=4, hessian_samples=500,
            hessian_epochs=[0, 6], toy_steps=20_000),
        "paper": dict(dataset="cifar100", depth=30, width=128, epochs=100, batch_size=256,
            measure_every=10, seeds=3, hessian_depth=30, hessian_width=4, hessian_samples=1000,
            hessian_epochs=[0, 1, 5, 20, 100], toy_steps=20_000),
    },
)
# fmt: on
