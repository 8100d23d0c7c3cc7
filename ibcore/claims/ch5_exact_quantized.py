"""Chapter 5: exact information in quantized networks (Lorenzen, Igel & Nielsen 2022, §3–§4).

The authors' synthetic set-up: the 12-bit task's 4096 inputs, their fixed stratified 80/20 split
(scikit-learn's ``train_test_split(test_size=0.2, stratify=y, random_state=1000)``), the
12-10-7-5-4-3-2 net with Glorot-uniform kernels and zero biases, Adam (lr 1e-4, batch 256), tanh
or ReLU, quantized to 8 (or 4) bits as their code quantizes (:mod:`ibcore.quantized`). Every
member of an ensemble is recorded on all 4096 inputs in eval mode; its layers' information is
counted exactly (:mod:`ibcore.measures.exact`), the output layer both exactly (the logit codes'
difference) and as their code measures it (the float softmax re-binned), and, every
``estimator_every`` snapshots, estimated by the book's estimators on the same dequantized
activations, so that each estimator can be scored against the truth.

This module holds the runner (:func:`exact_group`), the verdict metrics (:func:`fitting`,
:func:`compression`, :func:`saturated`, :func:`injective_fraction`, :func:`estimator_scores`) and
the parameter schema.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ibcore.data import Dataset, szt_task
from ibcore.env import runner
from ibcore.measures import exact
from ibcore.measures.information import information_plane
from ibcore.quantized import BITS, QUANT_ACTIVATIONS, build_quantized_ensemble
from ibcore.schema import Chapter, Param, check_choice, common_params
from ibcore.train import train

WIDTHS = (12, 10, 7, 5, 4, 3, 2)
"""The authors' (and Shwartz-Ziv & Tishby's) 12-10-7-5-4-3-2 net."""
LAYERS = ("T1", "T2", "T3", "T4", "T5")
"""The hidden layers, as the authors name them; the output is T6."""
OUTPUTS = ("T6_exact", "T6_theirs")
"""The output layer exactly (the logit codes' difference) and as their code measures it."""
ESTIMATORS = ("fixed-30", "fixed-100", "ebab-30", "kde", "akde")
"""The estimators scored against the exact count, on the dequantized activations."""
H_X = 12.0
"""H(X) of the 4096 distinct, equiprobable inputs: the ceiling of every I(X;T)."""
SATURATION_TOL = 1e-9


def authors_split() -> tuple[np.ndarray, np.ndarray]:
    """The authors' fixed split of the 4096 inputs (3276 train, 820 test), stratified on y."""
    from sklearn.model_selection import train_test_split

    _, y = szt_task()
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=1000)
    return np.sort(tr), np.sort(te)


def load_task(seed: int, labels: str = "true") -> Dataset:
    """The 12-bit task on the authors' split; ``labels='permuted'`` permutes the labels of all
    4096 inputs once per ``seed`` (the null without a learning signal: the same split)."""
    check_choice("labels", labels, ("true", "permuted"))
    f, y = szt_task()
    if labels == "permuted":
        y = y[np.random.default_rng([seed, 0x5EED, 5]).permutation(len(y))]
    tr, te = authors_split()
    x = torch.from_numpy(f.astype(np.float32))
    t = torch.from_numpy(y.astype(np.int64))
    name = "szt12-authors" if labels == "true" else "szt12-authors-permuted"
    return Dataset(
        name, x[tr], t[tr], x[te], t[te], 2, x_probe=x, y_probe=t,
        meta={"split": "authors", "seed": seed, "labels": labels},
    )  # fmt: skip


@dataclass
class ExactResult:
    """One member of :func:`exact_group`: exact planes, estimator planes, accuracy."""

    seed: int
    labels: str
    activation: str
    bits: int | None
    epochs: np.ndarray
    exact: dict[str, np.ndarray]
    """``{T1 … T5, T6_exact, T6_theirs: S × 2}`` (I(X;T), I(T;Y) in bits, counted)."""
    injective: dict[str, np.ndarray]
    """``{T1 … T5, T6_exact: S}`` booleans: the layer keeps every input apart."""
    estimates: dict[str, dict[str, np.ndarray]]
    """``{estimator: {T1 … T5: S' × 2}}`` at the snapshots ``estimate_epochs``."""
    estimate_epochs: np.ndarray
    metrics: dict[str, np.ndarray]
    wall_s: float
    meta: dict[str, Any] = field(default_factory=dict)


def _estimates(acts: Sequence[np.ndarray], y: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """E × L × 2: every estimator of :data:`ESTIMATORS` on each hidden layer's activations."""
    out = np.empty((len(names), len(acts), 2))
    for e, name in enumerate(names):
        kind, _, bins = name.partition("-")
        kw: dict[str, Any] = {"n_bins": int(bins)} if bins else {}
        if kind == "fixed":
            kw["low"], kw["high"] = -1.0, 1.0
        plane = information_plane(
            {f"T{i + 1}": a[None] for i, a in enumerate(acts)}, y, kind, **kw
        )  # fmt: skip
        out[e] = np.stack([plane[f"T{i + 1}"][0] for i in range(len(acts))])
    return out


@runner
def exact_group(
    *,
    activation: str,
    bits: int | None,
    seeds: Sequence[int],
    labels: Sequence[str],
    epochs: int = 8000,
    snapshot_every: int = 5,
    estimator_every: int = 0,
    estimators: Sequence[str] = ESTIMATORS,
    lr: float = 1e-4,
    batch_size: int = 256,
    device: str = "cpu",
) -> list[ExactResult]:
    """Train one quantized net per (seed, labels) pair as one ensemble and count every layer's
    information at each snapshot (epochs 0, ``snapshot_every``, …, ``epochs``). Chapter 5;
    Lorenzen et al. 2022 §3 (their SYN experiment). ``estimator_every`` > 0 also runs each of
    ``estimators`` on the hidden layers every that many snapshots (0: never)."""
    check_choice("activation", activation, QUANT_ACTIVATIONS)
    if bits is not None:
        check_choice("bits", bits, BITS)
    if len(seeds) != len(labels):
        raise ValueError(f"{len(seeds)} seeds but {len(labels)} label kinds: one per member")
    bad = [e for e in estimators if e not in ESTIMATORS]
    if bad:
        raise ValueError(f"parameter 'estimators' = {bad}: choose from {ESTIMATORS}")
    data = [load_task(s, lab) for s, lab in zip(seeds, labels, strict=True)]
    model = build_quantized_ensemble(WIDTHS, activation, seeds, bits)
    ys = [d.y_probe.numpy() for d in data]
    n_layers = len(WIDTHS) - 2
    state = {"snap": 0}

    def measure(acts: Mapping[str, torch.Tensor]) -> np.ndarray:
        """Per member: [I(X;T), I(T;Y)] of T1…T5, T6_exact, T6_theirs, injectivity, estimates."""
        names = list(acts)
        hidden = [acts[n].detach().cpu().numpy() for n in names[:n_layers]]
        soft = acts[names[-1]].detach().cpu().numpy()
        run_est = estimator_every > 0 and state["snap"] % estimator_every == 0
        state["snap"] += 1
        rows = []
        for k in range(model.K):
            if bits is None:  # the float net: the distinct float32 rows, as integer bit patterns
                codes = [(h[k] + 0.0).view(np.int32) for h in hidden]
                out = (soft[k] + 0.0).view(np.int32)
                b = 8
            else:
                codes = [c[k].cpu().numpy() for c in model.codes[:-1]]
                out = exact.output_codes(model.codes[-1][k].cpu().numpy())
                b = bits
            layers = [*codes, out, exact.rebin(soft[k], b)]
            info = [exact.information(c, ys[k]) for c in layers]
            inj = [float(exact.injective(c)) for c in layers[:-1]]
            est = (_estimates([h[k] for h in hidden], ys[k], estimators) if run_est
                   else np.full((len(estimators), n_layers, 2), np.nan))  # fmt: skip
            rows.append(np.concatenate([np.ravel(info), inj, est.ravel()]))
        return np.stack(rows)

    record = list(range(0, epochs + 1, snapshot_every))
    if record[-1] != epochs:
        record.append(epochs)
    t0 = time.perf_counter()
    hs = train(
        model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=list(seeds),
        record_epochs=record, keep_activations=False, measures={"exact": measure},
        output="softmax", eval_every=snapshot_every, device=device,
        desc=f"ch5 {activation} {bits or 'float'}",
    )  # fmt: skip
    wall = time.perf_counter() - t0
    names = [*LAYERS, *OUTPUTS]
    n_info = 2 * len(names)
    n_inj = len(names) - 1
    est_rows = np.arange(len(record))[::estimator_every] if estimator_every > 0 else []
    out = []
    for k, h in enumerate(hs):
        m = h.measures["exact"]
        info = m[:, :n_info].reshape(len(record), len(names), 2)
        inj = m[:, n_info : n_info + n_inj]
        est = m[:, n_info + n_inj :].reshape(len(record), len(estimators), n_layers, 2)
        out.append(ExactResult(
            seed=int(seeds[k]), labels=labels[k], activation=activation, bits=bits,
            epochs=np.asarray(record), exact={n: info[:, i] for i, n in enumerate(names)},
            injective={n: inj[:, i].astype(bool) for i, n in enumerate(names[:-1])},
            estimates={e: {lay: est[est_rows, j, i] for i, lay in enumerate(LAYERS)}
                       for j, e in enumerate(estimators)},
            estimate_epochs=np.asarray(record)[est_rows], metrics=h.metrics,
            wall_s=wall / len(hs), meta={"ensemble": len(hs), "lr": lr, "batch_size": batch_size},
        ))  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------
# Verdict metrics (Lorenzen et al. 2022 §4; the rules are ours, fixed before the final runs)
# ---------------------------------------------------------------------------------------------


def end_value(curve: np.ndarray, tail: int) -> float:
    """The mean of the last ``tail`` snapshots of a curve (I_end)."""
    c = np.asarray(curve, dtype=float)
    if tail < 1 or tail > len(c):
        raise ValueError(f"parameter 'tail' = {tail} must be in [1, {len(c)}]")
    return float(c[-tail:].mean())


def peak_value(curve: np.ndarray, window: int) -> float:
    """The maximum of a centred-free moving average of ``window`` snapshots (I_peak)."""
    c = np.asarray(curve, dtype=float)
    if window < 1 or window > len(c):
        raise ValueError(f"parameter 'window' = {window} must be in [1, {len(c)}]")
    return float(np.convolve(c, np.ones(window) / window, mode="valid").max())


def fitting(plane: np.ndarray, tail: int) -> float:
    """F = I_end(T;Y) − I_first(T;Y) of a layer's plane (S × 2) [bits]."""
    p = np.asarray(plane, dtype=float)
    return end_value(p[:, 1], tail) - float(p[0, 1])


def compression(plane: np.ndarray, tail: int, window: int) -> float:
    """C = I_peak(X;T) − I_end(X;T) of a layer's plane (S × 2) [bits], ≥ 0 up to the smoothing."""
    p = np.asarray(plane, dtype=float)
    return peak_value(p[:, 0], window) - end_value(p[:, 0], tail)


def saturated(planes: Sequence[np.ndarray], h_y: float) -> bool:
    """Whether a layer is untestable for fitting: I(T;Y) at the first snapshot already equals
    H(Y) (within 1e-9) in at least half the seeds (``planes``: one S × 2 per seed)."""
    at_start = [float(np.asarray(p)[0, 1]) >= h_y - SATURATION_TOL for p in planes]
    return 2 * sum(at_start) >= len(at_start)


def injective_fraction(flags: np.ndarray) -> float:
    """The share of snapshots at which a layer keeps all 4096 inputs apart (I(X;T) = H(X))."""
    return float(np.mean(np.asarray(flags, dtype=bool)))


def estimator_scores(
    estimate: np.ndarray, truth: np.ndarray, tail: int, window: int
) -> dict[str, float]:
    """How one estimator's I(X;T) curve (S') tracks the exact one at the same snapshots (S'):
    Spearman's ρ over snapshots, the bias (mean of estimate − exact, bits), and the compression
    each reads (:func:`compression` of the X-coordinate)."""
    from scipy.stats import spearmanr

    e, t = np.asarray(estimate, dtype=float), np.asarray(truth, dtype=float)
    if e.shape != t.shape:
        raise ValueError(f"estimate {e.shape} and truth {t.shape} need the same snapshots")
    rho = float(spearmanr(e, t).statistic) if np.ptp(e) > 0 and np.ptp(t) > 0 else float("nan")
    pad = np.zeros((len(e), 2))
    return {
        "rho": rho,
        "bias": float((e - t).mean()),
        "compression": compression(np.column_stack([e, pad[:, 1]]), tail, window),
        "exact_compression": compression(np.column_stack([t, pad[:, 1]]), tail, window),
    }


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "activations": Param(
        str, "hidden activations (`tanh`, `relu`)", choices=QUANT_ACTIVATIONS, many=True
    ),  # fmt: skip
    "bits": Param(
        int, "bit width of the quantized nets (4 or 8; 32 = the float net)", choices=(4, 8, 32)
    ),  # fmt: skip
    "epochs": Param(int, "training epochs (Adam, batch 256)", low=1, high=100_000),
    "snapshot_every": Param(int, "epochs between snapshots (the authors: 5)", low=1, high=10_000),
    "estimator_every": Param(
        int, "snapshots between the estimators' runs (0: never)", low=0, high=10_000
    ),
    "lr": Param(float, "Adam learning rate (the authors: 1e-4)", low=1e-7, high=1.0),
    "tail": Param(int, "snapshots averaged for I_end", low=1, high=10_000),
    "window": Param(int, "snapshots of the moving average for I_peak", low=1, high=10_000),
    "workers": Param(
        int, "processes training groups side by side (2 uses both cores)", low=1, high=64
    ),
    **common_params(),
}

# fmt: off
CHAPTER = Chapter(
    "05",
    PARAMS,
    differs={
        "cpu": "2,000 of the authors' 8,000 epochs; snapshots every 20 epochs, not 5; 10 seeds of 50",
        "full": "snapshots every 20 epochs, not 5; 10 seeds of 50",
        "paper": "the authors' setting",
    },
    shared=dict(activations=["tanh", "relu"], bits=8, lr=1e-4, device="auto", workers=1),
    presets={
        "smoke": dict(epochs=60, snapshot_every=10, estimator_every=2, seeds=2, tail=2, window=2),
        "cpu": dict(epochs=2000, snapshot_every=20, estimator_every=10, seeds=10, tail=8,
            window=5, workers=2),
        "full": dict(epochs=8000, snapshot_every=20, estimator_every=20, seeds=10, tail=16,
            window=5, workers=2),
        "paper": dict(epochs=8000, snapshot_every=5, estimator_every=40, seeds=50, tail=16,
            window=5),
    },
)
# fmt: on
