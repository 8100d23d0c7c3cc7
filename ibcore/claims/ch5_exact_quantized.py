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

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ibcore.claims.primaries import FULL_PRIMARIES, PRIMARIES
from ibcore.data import Dataset, szt_task
from ibcore.env import runner
from ibcore.measures import exact
from ibcore.measures.information import information_plane
from ibcore.quantized import BITS, QUANT_ACTIVATIONS, build_quantized_ensemble
from ibcore.schema import Chapter, Param, check_choice, common_params
from ibcore.train import train
from ibcore.verdicts import Preregistration

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

TAILS = (4, 8, 16)
"""Snapshots averaged for I_end in the sensitivity records (the chapter's own is ``tail``)."""
WINDOWS = (1, 5, 9)
"""Moving-average widths for I_peak in the sensitivity records (the chapter's own is ``window``)."""

CALIBRATION_SEEDS = tuple(range(300, 310))
"""Seeds of the pilot and the calibration run (the cpu settings), never of a final run."""

PRIMARY = PRIMARIES["05"]
"""The chapter's primary verdict (:mod:`ibcore.claims.primaries`): the output layer's exactly
counted compression beyond the permuted-label null, in both activations, on confirmatory seeds."""

_NULL = "the same quantized net on permuted labels (same split, initialisation and batch order)"
_C = "compression C = I_peak(X;T) − I_end(X;T)"
# The metric on each calibration seed (300–309) at the cpu settings, before any final run.
CALIBRATION_VALUES = {
    "ch5-output-exact-tanh": (0.22, 0.24, 0.4, 0.3, 0.3, -0.06, 0.29, -0.01, 0.4, 0.21),
    "ch5-output-theirs-tanh": (2.4, 2.4, 2.54, 2.18, 2.44, 2.09, 2.02, 2.29, 2.51, 2.15),
    "ch5-t5-vs-null-tanh": (0.78, -0.1, 0.77, 2.24, 0.43, 0.77, 1.12, 0.51, 1.24, 0.25),
    "ch5-fitting-tanh": (0.003, 0.0, 0.001, 0.001, 0.003, 0.005, 0.007, 0.005, 0.001, 0.001),
    "ch5-ceiling-tanh": (1.0, 1.0, 0.99, 1.0, 1.0, 1.0, 1.0, 0.95, 1.0, 1.0),
    "ch5-output-exact-relu": (-0.02, 0.01, 0.31, -0.63, 0.35, -0.17, -0.0, 0.59, -0.03, -0.28),
    "ch5-output-theirs-relu": (0.86, 1.3, 2.01, 0.93, 1.6, 1.4, 2.32, 2.39, 0.53, 1.6),
    "ch5-t5-vs-null-relu": (0.84, -0.03, 0.03, -0.65, 0.3, -0.01, -0.17, -0.16, -0.27, -0.15),
    "ch5-fitting-relu": (0.0, 0.218, 0.017, 0.001, 0.347, 0.007, 0.003, 0.104, 0.007, 0.008),
    "ch5-ceiling-relu": (0.58, 0.31, 0.3, 0.62, 0.56, 0.6, 0.62, 0.44, 0.44, 0.61),
    "ch5-activation-t5": (-0.23, 0.4, 0.42, 1.81, 0.11, -0.03, 1.12, 0.61, 1.23, 0.39),
    "ch5-accuracy": (0.93, 0.93, 0.95, 0.93, 0.93, 0.94, 0.93, 0.94, 0.92, 0.93),
}


def _pre(
    claim: str, metric: str, threshold: float, reasoning: str, null: str = _NULL
) -> Preregistration:
    return Preregistration(claim, metric, threshold, ">=", CALIBRATION_SEEDS, reasoning, null,
                           CALIBRATION_VALUES[claim])  # fmt: skip


PREREGISTERED = {
    **{
        f"ch5-output-exact-{a}": _pre(
            f"ch5-output-exact-{a}",
            f"{a}: output {_C}, exact (k1 − k2), true − permuted [bits]",
            0.0,
            "one activation of the primary's metric, to say which one carries it",
        )
        for a in QUANT_ACTIVATIONS
    },
    **{
        f"ch5-output-theirs-{a}": _pre(
            f"ch5-output-theirs-{a}",
            f"{a}: output {_C}, the authors' re-binned softmax, true − permuted [bits]",
            0.0,
            "the output measured as the authors' code measures it (the float softmax "
            "re-binned to 2^bits levels), against the same null",
        )
        for a in QUANT_ACTIVATIONS
    },
    **{
        f"ch5-t5-vs-null-{a}": _pre(
            f"ch5-t5-vs-null-{a}",
            f"{a}: T5 {_C}, exact, true − permuted [bits]",
            0.0,
            "the abstract's hidden-layer compression, at the last hidden layer, against the null",
        )
        for a in QUANT_ACTIVATIONS
    },
    **{
        f"ch5-fitting-{a}": _pre(
            f"ch5-fitting-{a}",
            f"{a}: per seed, the least fitting F = I_end(T;Y) − I_first(T;Y) over the layers "
            "that did not start at H(Y) in that seed (those cannot gain: untestable, not "
            "passed) [bits]",
            0.0,
            "'a fitting phase for all layers': every layer whose I(T;Y) does not start at "
            "H(Y) must gain information about the label",
            null="none: a layer starting at H(Y) cannot gain; it is marked untestable",
        )
        for a in QUANT_ACTIVATIONS
    },
    **{
        f"ch5-ceiling-{a}": _pre(
            f"ch5-ceiling-{a}",
            f"{a}: share of snapshots at which T1–T3 keep all 4096 inputs apart (mean over the "
            "three layers)",
            0.5,
            "more than half the snapshots at I(X;T) = H(X) = 12 bits: such a layer cannot "
            "move in the information plane, whatever the net learns",
            null="none: a count of distinct codes",
        )
        for a in QUANT_ACTIVATIONS
    },
    "ch5-activation-t5": _pre(
        "ch5-activation-t5",
        f"T5 {_C}, exact: tanh − ReLU, per seed [bits]",
        0.0,
        "'the compression in the hidden layers was dependent on the type of activation "
        "function': the direction (tanh compresses more) fixed from the pilot before any run",
        null="the other activation on the same seed",
    ),
    "ch5-accuracy": _pre(
        "ch5-accuracy",
        "the smaller final training accuracy of the tanh and ReLU net, per seed",
        0.55,
        "the authors' own rule: a run under 0.55 training accuracy is restarted; a check "
        "that the nets learn, not a result",
        null="none",
    ),
}
"""What chapter 5's secondary verdicts and check are judged against, fixed on
:data:`CALIBRATION_SEEDS` (the cpu settings) before the final runs."""


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
    """E × L × 2: every estimator of :data:`ESTIMATORS` on each hidden layer's activations (the
    fixed grid on [-1, 1] as in chapter 0; EBAB with its lowest edge just below the layer's
    minimum, since the nudged 8-bit grid can put a quantized tanh value just below −1, where
    chapters 0 and 2 put the edge; KDE and aKDE on all 4096 inputs)."""
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


def group_params(
    seeds: Sequence[int], activations: Sequence[str], workers: int, **run: Any
) -> list[dict[str, Any]]:
    """The :func:`exact_group` parameters of the chapter: every seed real and null, per activation.

    Each activation's seeds are split into ``ceil(workers / len(activations))`` chunks; a chunk's
    real and permuted-label nets train together as one ensemble.
    """
    seeds = [int(s) for s in seeds]
    per = max(1, min(len(seeds), -(-int(workers) // max(1, len(activations)))))
    chunks = [sorted(seeds[i::per]) for i in range(per) if seeds[i::per]]
    return [
        {"activation": a, "seeds": [*c, *c], "labels": ["true"] * len(c) + ["permuted"] * len(c),
         **run}
        for a in activations
        for c in chunks
    ]  # fmt: skip


def exact_runs(
    seeds: Sequence[int], activations: Sequence[str], workers: int = 1, **run: Any
) -> dict[str, dict[str, list[ExactResult]]]:
    """All of chapter 5's nets through the result cache, ``{activation: {"true": [...],
    "permuted": [...]}}`` ordered by seed; groups (:func:`group_params`) train in ``workers``
    processes (:func:`ibcore.cache.run_cached_many`)."""
    from ibcore.cache import run_cached_many

    groups = group_params(seeds, activations, workers, **run)
    results = [r for g in run_cached_many(exact_group, groups, workers=workers) for r in g]
    order = {int(s): i for i, s in enumerate(seeds)}
    return {
        a: {lab: sorted((r for r in results if r.activation == a and r.labels == lab),
                        key=lambda r: order[r.seed]) for lab in ("true", "permuted")}
        for a in activations
    }  # fmt: skip


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
    Spearman's ρ over snapshots (NaN where the exact curve is flat, so that there is nothing to
    track; 0 for a flat estimate of a moving truth), the bias (mean of estimate − exact, bits),
    and the compression each reads (:func:`compression` of the X-coordinate)."""
    from scipy.stats import spearmanr

    e, t = np.asarray(estimate, dtype=float), np.asarray(truth, dtype=float)
    if e.shape != t.shape:
        raise ValueError(f"estimate {e.shape} and truth {t.shape} need the same snapshots")
    if np.ptp(t) == 0:
        rho = float("nan")
    else:
        rho = float(spearmanr(e, t).statistic) if np.ptp(e) > 0 else 0.0
    pad = np.zeros((len(e), 2))
    return {
        "rho": rho,
        "bias": float((e - t).mean()),
        "compression": compression(np.column_stack([e, pad[:, 1]]), tail, window),
        "exact_compression": compression(np.column_stack([t, pad[:, 1]]), tail, window),
    }


def _pair(real: Sequence[ExactResult], null: Sequence[ExactResult]) -> None:
    if [r.seed for r in real] != [n.seed for n in null]:
        raise ValueError("real and null nets must be paired by seed, in the same order")


def output_compression(
    real: Sequence[ExactResult],
    null: Sequence[ExactResult],
    tail: int,
    window: int,
    layer: str = "T6_exact",
) -> dict[str, np.ndarray]:
    """Per seed: ``layer``'s compression (:func:`compression`) in the real net, in its
    permuted-label twin over the same snapshots, and their difference [bits]."""  # fmt: skip
    _pair(real, null)
    r = np.array([compression(x.exact[layer], tail, window) for x in real])
    n = np.array([compression(x.exact[layer], tail, window) for x in null])
    return {"real": r, "null": n, "difference": r - n}


def primary_values(
    runs: Mapping[str, Mapping[str, Sequence[ExactResult]]], tail: int, window: int
) -> np.ndarray:
    """Per seed, the primary verdict's metric (chapter 5; Lorenzen et al. 2022, abstract): the
    exactly counted output compression (T6, the logit codes' difference) of the real net minus its
    permuted-label twin's, the smallest over the activations of ``runs`` [bits]."""
    diffs = [output_compression(arm["true"], arm["permuted"], tail, window)["difference"]
             for arm in runs.values()]  # fmt: skip
    return np.min(np.stack(diffs), axis=0)


def primary_null(
    runs: Mapping[str, Mapping[str, Sequence[ExactResult]]], tail: int, window: int
) -> np.ndarray:
    """Per seed, the permuted-label twin's exact output compression in the activation that
    gives :func:`primary_values` its value (the null the primary's value is paired with)."""
    parts = [output_compression(arm["true"], arm["permuted"], tail, window)
             for arm in runs.values()]  # fmt: skip
    which = np.argmin(np.stack([p["difference"] for p in parts]), axis=0)
    nulls = np.stack([p["null"] for p in parts])
    return nulls[which, np.arange(nulls.shape[1])]


def fitting_values(
    real: Sequence[ExactResult], tail: int, layers: Sequence[str] = (*LAYERS, "T6_exact")
) -> dict[str, Any]:
    """Per layer the fitting F (:func:`fitting`) of each seed; the layers saturated in at least
    half the seeds (:func:`saturated`: untestable, not passed), the others (``testable``); and
    per seed the smallest F over the layers that did not start at H(Y) in that seed (a layer
    that starts at H(Y) cannot gain, so it is left out seed by seed; NaN where none is left)."""
    h_y = h_of_y()
    per = {ly: np.array([fitting(r.exact[ly], tail) for r in real]) for ly in layers}
    sat = [ly for ly in layers if saturated([r.exact[ly] for r in real], h_y)]
    testable = [ly for ly in layers if ly not in sat]
    start = np.array([[float(r.exact[ly][0, 1]) for ly in layers] for r in real])  # seeds × L
    f = np.stack([per[ly] for ly in layers], axis=1)
    f = np.where(start >= h_y - SATURATION_TOL, np.inf, f)
    least = np.min(f, axis=1)
    least = np.where(np.isinf(least), np.nan, least)
    return {"per_layer": per, "saturated": sat, "testable": testable, "least": least}


@functools.cache
def h_of_y() -> float:
    """H(Y) of the 12-bit task's labels over all 4096 inputs, in bits (0.99916; permuting the
    labels keeps it)."""
    return exact.entropy_bits(szt_task()[1][:, None].astype(np.int64))


def ceiling_values(real: Sequence[ExactResult], layers: Sequence[str] = LAYERS[:3]) -> np.ndarray:
    """Per seed, the mean over ``layers`` of the share of snapshots at which the layer keeps all
    4096 inputs apart (:func:`injective_fraction`): where it is 1, I(X;T) = H(X) = 12 bits."""
    return np.array([np.mean([injective_fraction(r.injective[ly]) for ly in layers])
                     for r in real])  # fmt: skip


def activation_contrast(
    tanh: Sequence[ExactResult],
    relu: Sequence[ExactResult],
    tail: int,
    window: int,
    layer: str = "T5",
) -> np.ndarray:
    """Per seed, ``layer``'s exact compression in the tanh net minus in the ReLU net [bits]."""  # fmt: skip
    _pair(tanh, relu)
    return np.array([compression(t.exact[layer], tail, window) - compression(r.exact[layer],
                     tail, window) for t, r in zip(tanh, relu, strict=True)])  # fmt: skip


TRACK_RHO = 0.5
"""An estimator tracks the exact count where its median Spearman ρ is at least this …"""
TRACK_BIAS = 0.5
"""… and its mean absolute bias is below this many bits."""


def estimator_table(
    runs: Mapping[str, Mapping[str, Sequence[ExactResult]]],
) -> list[dict[str, Any]]:
    """Every estimator of the runs scored against the exact count, per activation and hidden
    layer, over seeds (chapter 5, Lorenzen et al. 2022 App. A), at the snapshots the estimators
    ran: the median Spearman ρ over the seeds where the exact curve moves (``rho``), the mean
    bias and mean absolute bias (bits), and ``same_verdict``: over the seeds where the exact
    count moves (in the real net or its twin), the share in which the estimator orders the real
    net's fall and its permuted-label twin's as the count does (each fall the maximum minus the
    last value; NaN where the count never moves, as in a layer pinned at 12 bits)."""
    rows = []
    for act, arm in runs.items():
        real, null = arm["true"], arm["permuted"]
        _pair(real, null)
        idx = [np.searchsorted(r.epochs, r.estimate_epochs) for r in real]
        for est in real[0].estimates:
            for ly in LAYERS:
                rho, bias, agree = [], [], []
                for r, n, ix in zip(real, null, idx, strict=True):
                    tr, tn = r.exact[ly][ix, 0], n.exact[ly][ix, 0]
                    sr = estimator_scores(r.estimates[est][ly][:, 0], tr, 1, 1)
                    sn = estimator_scores(n.estimates[est][ly][:, 0], tn, 1, 1)
                    rho.append(sr["rho"])
                    bias.append(sr["bias"])
                    if np.ptp(tr) > 0 or np.ptp(tn) > 0:
                        d_est = sr["compression"] - sn["compression"]
                        d_true = sr["exact_compression"] - sn["exact_compression"]
                        agree.append(np.sign(np.round(d_est, 6)) == np.sign(np.round(d_true, 6)))
                rho_a = np.asarray(rho)
                rows.append({
                    "activation": act, "estimator": est, "layer": ly,
                    "rho": float(np.median(rho_a[np.isfinite(rho_a)])) if np.isfinite(rho_a).any()
                    else float("nan"),
                    "bias": float(np.mean(bias)), "abs_bias": float(np.mean(np.abs(bias))),
                    "same_verdict": float(np.mean(agree)) if agree else float("nan"),
                    "moving_seeds": len(agree),
                })  # fmt: skip
    return rows


def _finite(values: Sequence[Any]) -> np.ndarray:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    return v[np.isfinite(v)]


def estimator_overview(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Table 1 of chapter 5 from :func:`estimator_table`'s rows: per estimator and activation
    (in the rows' order), the median over layers of ρ, the mean absolute bias and the mean share
    with the same verdict (layers without a value left out), and whether the estimator
    ``tracks`` the count (ρ ≥ :data:`TRACK_RHO` and mean |bias| < :data:`TRACK_BIAS`)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["estimator"], r["activation"]), []).append(r)
    out = []
    for (est, act), rs in groups.items():
        rho, same, ab = (
            _finite([r[key] for r in rs]) for key in ("rho", "same_verdict", "abs_bias")
        )
        abs_bias = float(np.mean(ab)) if len(ab) else float("nan")
        med = float(np.median(rho)) if len(rho) else float("nan")
        out.append({
            "estimator": est, "activation": act, "rho": med, "abs_bias": abs_bias,
            "same_verdict": float(np.mean(same)) if len(same) else float("nan"),
            "tracks": bool(np.isfinite(med) and med >= TRACK_RHO and abs_bias < TRACK_BIAS),
        })  # fmt: skip
    return out


PAPER = "Lorenzen, Igel & Nielsen 2022"
_COMPRESSION_RECORDS = (
    ("ch5-output-exact-{a}", "T6_exact", "the output", "counted exactly"),
    ("ch5-output-theirs-{a}", "T6_theirs", "the output", "measured their way"),
    ("ch5-t5-vs-null-{a}", "T5", "the last hidden layer", "T5, counted exactly"),
)


def chapter_verdicts(
    runs: Mapping[str, Mapping[str, Sequence[ExactResult]]],
    params: Mapping[str, Any],
    seeds: Sequence[int],
    device: str,
    runtime_s: float,
) -> list[Any]:
    """Chapter 5's records from its runs (Lorenzen et al. 2022, abstract): the primary (when both
    activations ran; first), per activation the output's and T5's compression against the null,
    the fitting and ceiling secondaries, the tanh − ReLU contrast, and the accuracy check; each
    compression with its status over the ``tail`` × ``window`` settings the run's snapshots
    allow. ``params``: the chapter's resolved parameters."""
    from ibcore.claims import primaries
    from ibcore.verdicts import make_primary, make_verdict, sensitivity_record

    scale, tail, window = params["scale"], params["tail"], params["window"]
    common = dict(chapter="05_exact_quantized", paper=PAPER, params=params, device=device,
                  runtime_s=runtime_s)  # fmt: skip
    n_snap = len(next(iter(runs.values()))["true"][0].epochs)
    tails = [t for t in TAILS if t <= n_snap]
    grid = [{"tail": t, "window": w} for t in tails for w in WINDOWS if w <= n_snap]

    def sens(values_of: Any, v: Any) -> dict[str, Any]:
        return sensitivity_record(grid, [values_of(g["tail"], g["window"]) for g in grid],
                                  v.threshold, v.direction, scale, v.status)  # fmt: skip

    out = []
    both = "tanh" in runs and "relu" in runs
    if both:
        pri = primaries.for_scale("05", scale)
        per_act = {a: output_compression(runs[a]["true"], runs[a]["permuted"], tail, window)
                   for a in ("tanh", "relu")}  # fmt: skip
        v = make_primary(
            pri, values=primary_values(runs, tail, window), seeds=seeds, params=params,
            device=device, runtime_s=runtime_s, record=primaries.record(pri.claim, scale),
            null={"name": pri.null + " (per seed: the twin of the activation that gives the "
                  "value)", "per_seed": primary_null(runs, tail, window).tolist()},
            note="; ".join(f"{a}: real {np.round(m['real'], 2).tolist()}, twins "
                           f"{np.round(m['null'], 2).tolist()} bits" for a, m in per_act.items()),
        )  # fmt: skip
        v.sensitivity = sens(lambda t, w: primary_values(runs, t, w), v)
        out.append(v)
    for a, arm in runs.items():
        real, null = arm["true"], arm["permuted"]
        for cid, layer, which, what in _COMPRESSION_RECORDS:
            cid = cid.format(a=a)
            oc = output_compression(real, null, tail, window, layer)
            v = make_verdict(
                claim=cid, values=oc["difference"], prereg=PREREGISTERED[cid],
                statement=f"{a} net: {which} ({what}) compresses further than its "
                "permuted-label twin",
                null={"name": PREREGISTERED[cid].null, "per_seed": oc["null"].tolist()},
                note=f"real: {np.round(oc['real'], 2).tolist()} bits", **common,
            )  # fmt: skip
            v.sensitivity = sens(lambda t, w, ly=layer, r=real, n=null: output_compression(
                r, n, t, w, ly)["difference"], v)  # fmt: skip
            out.append(v)
        fv = fitting_values(real, tail)
        v = make_verdict(
            claim=f"ch5-fitting-{a}", values=fv["least"], prereg=PREREGISTERED[f"ch5-fitting-{a}"],
            statement=f"{a} net: every testable layer fits (its I(T;Y) rises)",
            note=f"untestable (saturated at H(Y) from the start): {fv['saturated'] or 'none'}; "
            f"tested: {fv['testable']}", **common,
        )  # fmt: skip
        v.sensitivity = sensitivity_record(
            [{"tail": t} for t in tails], [fitting_values(real, t)["least"] for t in tails],
            v.threshold, v.direction, scale, v.status,
        )  # fmt: skip
        out.append(v)
        out.append(make_verdict(
            claim=f"ch5-ceiling-{a}", values=ceiling_values(real),
            prereg=PREREGISTERED[f"ch5-ceiling-{a}"],
            statement=f"{a} net: the wide layers T1–T3 sit at H(X) = 12 bits, keeping every "
            "input apart", **common,
        ))  # fmt: skip
    if both:
        tanh, relu = runs["tanh"]["true"], runs["relu"]["true"]
        v = make_verdict(
            claim="ch5-activation-t5", prereg=PREREGISTERED["ch5-activation-t5"],
            values=activation_contrast(tanh, relu, tail, window),
            statement="The tanh net's last hidden layer compresses more than the ReLU net's",
            **common,
        )  # fmt: skip
        v.sensitivity = sens(lambda t, w: activation_contrast(tanh, relu, t, w), v)
        out.append(v)
    accs = np.min([[r.metrics["train_acc"][-1] for r in arm["true"]] for arm in runs.values()],
                  axis=0)  # fmt: skip
    out.append(make_verdict(
        claim="ch5-accuracy", kind="check", values=accs, prereg=PREREGISTERED["ch5-accuracy"],
        statement="The quantized nets learn the task (final training accuracy above the authors' "
        "restart level)", **common,
    ))  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------
# Sentences the chapter prints from its runs (no result is typed into its prose)
# ---------------------------------------------------------------------------------------------


def plane_summary(runs: Mapping[str, Mapping[str, Sequence[ExactResult]]]) -> str:
    """What the exact planes show, per activation: the layers pinned at H(X) = 12 bits, and the
    last hidden layer's and the output's I(X;T) at the start and end, means over seeds."""
    parts = []
    for act, arm in runs.items():
        real = arm["true"]
        pinned = [ly for ly in LAYERS if np.mean(ceiling_values(real, (ly,))) >= 0.99]
        t5 = np.mean([r.exact["T5"][:, 0] for r in real], axis=0)
        t6 = np.mean([r.exact["T6_exact"][:, 0] for r in real], axis=0)
        pin = (f"{', '.join(pinned)} keep all 4096 inputs apart at ≥ 99 % of the snapshots "
               "(I(X;T) = 12 bits, so they cannot move)" if pinned
               else "no hidden layer stays at 12 bits")  # fmt: skip
        parts.append(
            f"**{act}:** {pin}; T5 starts at {t5[0]:.2f} bits, peaks at {t5.max():.2f} and "
            f"ends at {t5[-1]:.2f}; the exact output starts at {t6[0]:.2f}, peaks "
            f"at {t6.max():.2f} and ends at {t6[-1]:.2f}"
        )
    n = len(next(iter(runs.values()))["true"])
    return f"In these runs (mean over {n} seeds): " + "; ".join(parts) + "."


def output_summary(
    runs: Mapping[str, Mapping[str, Sequence[ExactResult]]], tail: int, window: int
) -> str:
    """What the output figure shows: the output's compression counted exactly and as the
    authors measure it, real nets against their permuted-label twins, means over seeds."""
    parts = []
    for act, arm in runs.items():
        ex = output_compression(arm["true"], arm["permuted"], tail, window)
        th = output_compression(arm["true"], arm["permuted"], tail, window, "T6_theirs")
        parts.append(
            f"{act}: {th['real'].mean():.2f} bits measured their way (twins "
            f"{th['null'].mean():.2f}), {ex['real'].mean():.2f} bits counted exactly (twins "
            f"{ex['null'].mean():.2f})"
        )
    return ("The output layer's compression, mean over seeds — " + "; ".join(parts) + ". The "
            "two measures differ in what they count: re-binning the float softmax also counts "
            "how its probabilities saturate, which the logit codes do not.")  # fmt: skip


def estimator_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """Which estimators track the exact count (:func:`estimator_overview`'s rule), per
    activation, and which most and least often give the exact count's verdict on the fall."""
    ov = estimator_overview(rows)
    acts = list(dict.fromkeys(o["activation"] for o in ov))
    parts = []
    for act in acts:
        track = [o["estimator"] for o in ov if o["activation"] == act and o["tracks"]]
        parts.append(f"{act}: {', '.join(track) if track else 'none'}")
    scored = [o for o in ov if np.isfinite(o["same_verdict"])]
    text = ("Estimators that track the exact I(X;T) by the rule above (median ρ ≥ "
            f"{TRACK_RHO:g}, mean |bias| < {TRACK_BIAS:g} bit) — " + "; ".join(parts) + ".")  # fmt: skip
    if scored:
        best = max(scored, key=lambda o: o["same_verdict"])
        worst = min(scored, key=lambda o: o["same_verdict"])
        text += (
            f" Where the exact count moves, {best['estimator']} ({best['activation']}) most "
            f"often orders the real net's fall and its twin's as the count does "
            f"({best['same_verdict']:.0%}); {worst['estimator']} ({worst['activation']}) least "
            f"often ({worst['same_verdict']:.0%})."
        )
    return text


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
        "cpu": "1,000 of the authors' 8,000 epochs; snapshots every 10 epochs, not 5; 10 seeds of 50",
        "full": "snapshots every 20 epochs, not 5; 10 seeds of 50",
        "paper": "the authors' setting",
    },
    shared=dict(activations=["tanh", "relu"], bits=8, lr=1e-4, device="auto", workers=1),
    presets={
        "smoke": dict(epochs=60, snapshot_every=10, estimator_every=2, seeds=2, tail=2, window=2),
        "cpu": dict(epochs=1000, snapshot_every=10, estimator_every=10, tail=8, window=5,
            seeds=list(PRIMARY.seeds), workers=2),
        "full": dict(epochs=8000, snapshot_every=20, estimator_every=20, tail=16, window=5,
            seeds=list(FULL_PRIMARIES["05"].seeds), workers=2),
        "paper": dict(epochs=8000, snapshot_every=5, estimator_every=40, seeds=50, tail=16,
            window=5),
    },
)
# fmt: on
