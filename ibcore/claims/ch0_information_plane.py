"""Chapter 0: the information plane of the 12-bit task (Shwartz-Ziv & Tishby 2017, §3–§4).

The chapter trains the 12-10-7-5-4-3-2 net of §3 once per seed and once more per seed with the
labels permuted (the null: the same split, initial weights and batch order, no learning signal),
all as one batched ensemble (:func:`plane_group`), and estimates every layer's information plane
with the fixed grid of §3.1 — at the chapter's bin count and at the other bin counts of the
sensitivity record — and with EBAB (Chelombiev et al. 2019), to show the grid's saturation in
numbers. This module holds that runner, the verdict metrics, their pre-registration and the
parameter schema with its ``smoke``/``cpu``/``paper`` presets.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ibcore.claims.primaries import FULL_PRIMARIES, PRIMARIES
from ibcore.data import SPLITS
from ibcore.env import runner
from ibcore.measures.information import information_plane
from ibcore.measures.phases import (  # noqa: F401  (the chapter reads them from here)
    FIT_FRACTION,
    FIT_FRACTIONS,
    compression_after,
    fitting_end,
    last_hidden,
)
from ibcore.models import ACTIVATIONS
from ibcore.runs import szt_ensemble_run
from ibcore.schema import Chapter, Param, common_params
from ibcore.verdicts import Preregistration

SENSITIVITY_BINS = (10, 20, 30, 50, 100)
"""Bin counts of the fixed grid in the sensitivity record (the chapter's own is ``n_bins``)."""
EBAB_BINS = (15, 30, 60)
"""Bin counts of EBAB: the primary verdict's 30 and the two its sensitivity record adds."""

CALIBRATION_SEEDS = (100, 101)

PRIMARY = PRIMARIES["00"]
"""The chapter's primary verdict (:mod:`ibcore.claims.primaries`): EBAB compression after
fitting beyond the permuted-label null, on confirmatory seeds."""

PREREGISTERED = {
    "ch0-fitting": Preregistration(
        claim="ch0-fitting",
        metric="output I(T;Y) gain [bits]",
        threshold=0.5,
        direction=">=",
        calibration_seeds=CALIBRATION_SEEDS,
        reasoning=(
            "half of the ~1 bit a perfect fit gains; calibration: 0.90 and 0.86 bits "
            "(permuted-label nulls 0.04 and 0.04). A check that the nets learn the task, not a "
            "result: an accuracy this far from the threshold cannot fail in practice"
        ),
        calibration_values=(0.90, 0.86),
    ),
    "ch0-compression": Preregistration(
        claim="ch0-compression",
        metric="last hidden I(X;T) fall after fitting, minus the null's [bits]",
        threshold=0.0,
        direction=">=",
        calibration_seeds=CALIBRATION_SEEDS,
        reasoning=(
            "the real net must fall further than its permuted-label null over the same "
            "snapshots (the null absorbs jitter and saturation, so no margin is added); "
            "calibration: real 0.81 and 0.25, null 1.46 and 0.00, differences -0.65 and +0.25 "
            "bits; from epoch 0 the old metric read 1.01 and 0.30"
        ),
        null="the same net trained on permuted labels (same split, init and batch order)",
        calibration_values=(-0.65, 0.25),
    ),
}
"""What chapter 0's verdicts are judged against, fixed on :data:`CALIBRATION_SEEDS`."""


@dataclass
class PlaneResult:
    """One net of :func:`plane_group`: its planes under every estimator setting, no activations."""

    seed: int
    labels: str
    epochs: np.ndarray
    planes: dict[str, dict[str, np.ndarray]]
    """``{"fixed-30": {layer: S × 2}, ..., "ebab-30": ...}`` (I(X;T), I(T;Y) in bits)."""
    metrics: dict[str, np.ndarray]
    wall_s: float
    meta: dict[str, Any] = field(default_factory=dict)


def setting(estimator: str, n_bins: int) -> str:
    """The key of an estimator setting in :attr:`PlaneResult.planes`, e.g. ``fixed-30``."""
    return f"{estimator}-{n_bins}"


@runner
def plane_group(
    *,
    seeds: Sequence[int],
    labels: Sequence[str],
    activation: str = "tanh",
    epochs: int = 1500,
    snapshots: int = 40,
    lr: float = 4e-4,
    l2: float = 0.0,
    split: str = "shuffled",
    n_bins: Sequence[int] = SENSITIVITY_BINS,
    ebab_bins: Sequence[int] = EBAB_BINS,
    device: str = "cpu",
) -> list[PlaneResult]:
    """Train one net per (seed, labels) pair as one ensemble; their planes, activations dropped.

    Chapter 0 (Shwartz-Ziv & Tishby 2017 §3). Each net is :func:`ibcore.runs.szt_run`'s
    (Adam, batch 256, fixed batch order, IDNNs init), recorded on all 4096 inputs; its planes
    come from the fixed grid at every count in ``n_bins`` and from EBAB at every count in
    ``ebab_bins``.
    A pure function of its parameters, so :func:`ibcore.cache.run_cached` stores its small result.
    """
    t0 = time.perf_counter()
    hs = szt_ensemble_run(
        seeds=list(seeds), activation=activation, labels=list(labels), epochs=epochs,
        snapshots=snapshots, lr=lr, l2=l2, split=split, device=device,
    )  # fmt: skip
    out = []
    for seed, lab, h in zip(seeds, labels, hs, strict=True):
        planes = {setting("fixed", b): information_plane(h, estimator="fixed", n_bins=b)
                  for b in n_bins}  # fmt: skip
        for b in ebab_bins:
            planes[setting("ebab", b)] = information_plane(
                h, estimator="ebab", n_bins=b, activation=activation
            )
        out.append(
            PlaneResult(
                seed=int(seed), labels=str(lab), epochs=np.asarray(h.epochs), planes=planes,
                metrics={k: np.asarray(v) for k, v in h.metrics.items()},
                wall_s=float(h.meta["wall_s"]), meta={"ensemble": h.meta.get("ensemble")},
            )
        )  # fmt: skip
    out[0].meta["group_wall_s"] = time.perf_counter() - t0
    return out


def group_params(seeds: Sequence[int], workers: int, **run: Any) -> list[dict[str, Any]]:
    """The :func:`plane_group` parameters of the chapter: every seed real and null, in groups.

    One group per worker: seeds are split into ``workers`` consecutive chunks, and each chunk's
    real and permuted-label nets train together.
    """
    seeds = [int(s) for s in seeds]
    k = max(1, min(int(workers), len(seeds)))
    chunks = [seeds[i::k] for i in range(k)]
    chunks = [sorted(c) for c in chunks if c]
    return [
        {"seeds": [*c, *c], "labels": ["true"] * len(c) + ["permuted"] * len(c), **run}
        for c in chunks
    ]


def plane_runs(seeds: Sequence[int], workers: int = 1, **run: Any) -> dict[str, list[PlaneResult]]:
    """All of chapter 0's nets through the result cache: ``{"true": [...], "permuted": [...]}``.

    Groups (:func:`group_params`) train in ``workers`` processes
    (:func:`ibcore.cache.run_cached_many`); results are ordered by seed.
    """
    from ibcore.cache import run_cached_many

    groups = group_params(seeds, workers, **run)
    results = [r for g in run_cached_many(plane_group, groups, workers=workers) for r in g]
    order = {int(s): i for i, s in enumerate(seeds)}
    by = {lab: sorted((r for r in results if r.labels == lab), key=lambda r: order[r.seed])
          for lab in ("true", "permuted")}  # fmt: skip
    return by


# ---------------------------------------------------------------------------------------------
# Verdict metrics
# ---------------------------------------------------------------------------------------------


def fitting_gain(plane: Mapping[str, np.ndarray], layer: str = "output") -> float:
    """I(T;Y) of ``layer`` at the end minus at initialisation, in bits (the fitting metric)."""
    return float(plane[layer][-1, 1] - plane[layer][0, 1])


def compression_metrics(
    real: Sequence[Mapping[str, np.ndarray]],
    null: Sequence[Mapping[str, np.ndarray]],
    fraction: float = FIT_FRACTION,
) -> dict[str, np.ndarray]:
    """Per seed: the real net's fall after fitting, the null's over the same window, their difference.

    The window starts where the *real* net's fitting phase ends (:func:`fitting_end`), so the null
    is measured over exactly the snapshots the real net is.
    """
    if len(real) != len(null):
        raise ValueError(f"{len(real)} real nets but {len(null)} null nets: pair them by seed")
    r, n = [], []
    for pr, pn in zip(real, null, strict=True):
        start = fitting_end(pr, fraction)
        layer = last_hidden(pr)
        r.append(compression_after(pr[layer], start))
        n.append(compression_after(pn[layer], start))
    r_, n_ = np.asarray(r), np.asarray(n)
    return {"real": r_, "null": n_, "difference": r_ - n_}


def primary_values(
    real: Sequence[PlaneResult],
    null: Sequence[PlaneResult],
    ebab_bins: int = 30,
    fraction: float = FIT_FRACTION,
) -> np.ndarray:
    """Per seed, the primary verdict's metric (chapter 0; Shwartz-Ziv & Tishby 2017, abstract):
    the last hidden layer's EBAB I(X;T) fall after the real net's fitting phase, minus its
    permuted-label twin's over the same snapshots [bits]. ``real`` and ``null`` are paired by
    seed, in the same order."""
    if [r.seed for r in real] != [n.seed for n in null]:
        raise ValueError("real and null nets must be paired by seed, in the same order")
    k = setting("ebab", ebab_bins)
    return compression_metrics([r.planes[k] for r in real], [n.planes[k] for n in null],
                               fraction)["difference"]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Sentences the chapter prints from its runs (no result is typed into its prose)
# ---------------------------------------------------------------------------------------------


def plane_summary(
    planes: Sequence[Mapping[str, np.ndarray]], fraction: float = FIT_FRACTION
) -> str:
    """What Figures 1–2 show in these runs: the output's I(T;Y) gain and every layer's I(X;T)
    fall after the fitting phase, means over seeds (chapter 0, Shwartz-Ziv & Tishby 2017 §4)."""
    layers = list(planes[0])
    gain = np.mean([fitting_gain(p) for p in planes])
    falls = {ly: np.mean([compression_after(p[ly], fitting_end(p, fraction)) for p in planes])
             for ly in layers}  # fmt: skip
    start = np.mean([p[ly][0, 0] for p in planes for ly in layers[:2]])
    return (
        f"In these runs ({len(planes)} seeds) the output's I(T;Y) gains {gain:.2f} bits over "
        f"training. After the fitting phase, I(X;T) falls by "
        + ", ".join(f"{falls[ly]:.2f} ({ly})" for ly in layers)
        + f" bits, mean over seeds; the wide layers {layers[0]} and {layers[1]} start at "
        f"{start:.1f} bits of the 12 on average."
    )


def estimator_summary(
    fixed: Mapping[str, np.ndarray], ebab: Mapping[str, np.ndarray], layer: str
) -> str:
    """What Figure 4 shows: ``layer``'s fall after fitting under the fixed grid and EBAB, real
    nets against their permuted-label twins (:func:`compression_metrics` of each estimator)."""

    def part(name: str, m: Mapping[str, np.ndarray]) -> str:
        r, n = float(np.mean(m["real"])), float(np.mean(m["null"]))
        side = "further than" if r > n else "no further than"
        return (f"under {name} the real nets' {layer} falls {r:.2f} bits after fitting and their "
                f"twins' {n:.2f}: the real nets fall {side} the null")  # fmt: skip

    return (
        f"Mean over seeds, {part('the fixed grid', fixed)}; {part('EBAB', ebab)}. A fall that "
        "the permuted-label twin shows as well is not evidence of compression driven by learning."
    )


def takeaway(primary: Any, fixed: Any, fit: Any) -> str:
    """The chapter's two- or three-sentence answer, from its primary verdict, the fixed-grid
    secondary and the fitting check (:class:`ibcore.verdicts.Verdict` records)."""
    p = primary.parameters
    conf = "" if primary.preregistration.get("confirmatory") else " confirmatory"
    return (
        f"At scale `{primary.scale}` ({len(primary.per_seed)}{conf} seeds, {p.get('epochs')} "
        f"epochs of the 12-bit task, {p.get('activation')}), the primary verdict reads "
        f"**{primary.status}**: under EBAB the last hidden layer falls {primary.value:+.2f} ± "
        f"{primary.spread:.2f} bits more after fitting than its permuted-label twin (95 % lower "
        f"bound {primary.bound:+.2f}, needs > {primary.threshold:g}). Under the paper's fixed grid "
        f"the same comparison reads {fixed.status} ({fixed.value:+.2f} bits), and the fitting "
        f"check reads {fit.status} (the output gains {fit.value:.2f} bits of I(T;Y))."
    )


# ---------------------------------------------------------------------------------------------
# Parameters: the schema, the values shared by all scales, the smoke / cpu / paper presets
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "activation": Param(
        str,
        "hidden-layer activation (`tanh`, `relu`, `elu`, `softplus`, `swish`, …)",
        choices=tuple(ACTIVATIONS),
    ),
    "epochs": Param(int, "training epochs (Adam, batch 256)", low=1, high=100_000),
    "snapshots": Param(
        int,
        "log-spaced snapshot count (IDNNs formula; 400 gives 274 distinct epochs)",
        low=2,
        high=1000,
    ),
    "n_bins": Param(int, "fixed bins on [-1, 1]", low=2, high=1000),
    "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
    "l2": Param(float, "hidden-layer L2 weight", low=0.0, high=10.0),
    "split": Param(str, "80/20 split: `shuffled` or `idnns_unshuffled`", choices=SPLITS),
    "workers": Param(
        int, "processes training groups side by side (2 uses both cores)", low=1, high=64
    ),
    **common_params(),
}

# fmt: off
CHAPTER = Chapter(
    "00",
    PARAMS,
    differs={
        "cpu": "1,500 of the paper's 8,000 epochs; 40 snapshots; 10 seeds where the paper averages 50",
        "full": "100 of the paper's 400 snapshots; 10 seeds of 50",
        "paper": "the paper's setting",
    },
    shared=dict(n_bins=30, lr=4e-4, l2=0.0, split="shuffled", device="auto", workers=1),
    presets={
        "smoke": dict(activation="tanh", epochs=150, snapshots=12, seeds=2),
        "cpu": dict(activation="tanh", epochs=1500, snapshots=40, seeds=list(PRIMARY.seeds),
            workers=2),
        "full": dict(activation="tanh", epochs=8000, snapshots=100,
            seeds=list(FULL_PRIMARIES["00"].seeds), workers=2),
        "paper": dict(activation="tanh", epochs=8000, snapshots=400, seeds=50),
    },
)
# fmt: on
