"""Chapter 2: adaptive estimators on many networks at once (Chelombiev, Houghton & O'Donnell 2019).

The unit of work is a **group**: up to ``group_size`` 12-10-7-5-4-3-2 nets trained as one
batched ensemble (:func:`adaptive_group`), whose activations become information planes under
every requested estimator and are then dropped, so a group's cache entry is small.
:func:`members` is the run grid (activation × L2 × seed), :func:`adaptive_runs` trains all
groups through the cache; the other functions compute the chapter's figures and verdicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ibcore.data import SPLITS
from ibcore.env import runner
from ibcore.measures.information import information_plane
from ibcore.models import ACTIVATIONS, SATURATING
from ibcore.runs import szt_ensemble_run
from ibcore.schema import Chapter, Param, common_params
from ibcore.verdicts import Preregistration

CH2_ESTIMATORS = ("fixed", "saxe_max", "kde", "ebab", "akde")
"""Estimators chapter 2 can run: IDNNs fixed grid, Saxe's [0, running max] bins, KDE at fixed
noise, entropy-based adaptive binning, adaptive KDE."""

ESTIMATOR_LABELS = {
    "fixed": "fixed bins [-1, 1]",
    "saxe_max": "bins [low, running max]",
    "kde": "KDE, fixed σ²",
    "ebab": "EBAB (adaptive bins)",
    "akde": "aKDE (adaptive σ²)",
}


@dataclass
class MemberResult:
    """One trained net of chapter 2: its identity, information planes and accuracy curves.

    ``planes[estimator][layer]`` is an S × 2 array of (I(X;T), I(T;Y)) in bits at ``epochs``;
    ``metrics`` holds ``epoch``, ``train_acc``, ``test_acc``, ``train_loss``, ``test_loss``.
    """

    activation: str
    l2: float
    seed: int
    epochs: np.ndarray
    planes: dict[str, dict[str, np.ndarray]]
    metrics: dict[str, np.ndarray]
    wall_s: float
    meta: dict[str, Any] = field(default_factory=dict)
    labels: str = "true"
    """``"true"``, or ``"permuted"`` for a null net (same split, init and batch order)."""

    @property
    def test_acc(self) -> float:
        """Final test accuracy."""
        return float(self.metrics["test_acc"][-1])

    @property
    def layers(self) -> list[str]:
        """Recorded layer names, input side first (``h1`` … ``h5``, ``output``)."""
        return list(next(iter(self.planes.values())))


def members(
    activations: Sequence[str],
    l2_values: Sequence[float],
    seeds: Sequence[int],
    *,
    null: bool = True,
) -> list[tuple[str, float, int, str]]:
    """The chapter-2 run grid as (activation, l2, seed, labels).

    Chapter 2 (Chelombiev et al. 2019 §4: activations × initialisations, with and without L2).
    Every net is run with the true labels for each L2 value and, with ``null``, once more without
    L2 on permuted labels (the null: same split, initialisation and batch order, no learning
    signal). Ordered by labels, L2, activation, seed. Unknown activations raise a ValueError
    naming the allowed values.
    """
    for a in activations:
        if a not in ACTIVATIONS:
            raise ValueError(
                f"parameter 'activations' has {a!r}; allowed values: {', '.join(ACTIVATIONS)}"
            )
    if not activations or not seeds or not l2_values:
        raise ValueError("chapter 2 needs at least one activation, one seed and one L2 value")
    out = [(a, float(lam), int(s), "true") for lam in l2_values for a in activations for s in seeds]
    if null:
        out += [(a, 0.0, int(s), "permuted") for a in activations for s in seeds]
    return out


def _check_estimator(estimator: str) -> None:
    if estimator not in CH2_ESTIMATORS:
        raise ValueError(
            f"parameter 'estimators' has {estimator!r}; allowed values: {', '.join(CH2_ESTIMATORS)}"
        )


def estimator_options(
    estimator: str,
    activation: str,
    *,
    n_bins: int = 30,
    kde_noise: float = 1e-3,
    akde_alpha: float = 0.1,
    kde_samples: int | None = 1024,
) -> dict[str, Any]:
    """Keyword options of :func:`ibcore.measures.information.information_plane` for one chapter-2 panel.

    Chapter 2 (binning after Shwartz-Ziv & Tishby 2017 and Saxe et al. 2018, KDE after Kolchinsky &
    Tracey 2017, EBAB and aKDE after Chelombiev et al. 2019 §3): binning estimators use ``n_bins``;
    EBAB and the [low, running max] grid take the authors' activation-dependent lowest edge (−1
    for tanh, so a signed layer is not cut at its running minimum); the kernel estimators run on a fixed
    random subsample of ``kde_samples`` inputs (None = all 4096), KDE with noise variance
    ``kde_noise``, aKDE with σ² = ``akde_alpha`` · max|T|.
    """
    _check_estimator(estimator)
    if estimator == "fixed":
        return {"n_bins": n_bins}
    if estimator in ("ebab", "saxe_max"):
        return {"n_bins": n_bins, "activation": activation}
    kernel: dict[str, Any] = {"subsample": kde_samples} if kde_samples else {}
    if estimator == "kde":
        return {**kernel, "noise_var": kde_noise}
    return {**kernel, "alpha": akde_alpha}


VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "ebab, 15 bins": ("ebab", {"n_bins": 15}),
    "ebab, 60 bins": ("ebab", {"n_bins": 60}),
    "saxe_max, 15 bins": ("saxe_max", {"n_bins": 15}),
    "saxe_max, 60 bins": ("saxe_max", {"n_bins": 60}),
    "akde, α 0.05": ("akde", {"akde_alpha": 0.05}),
    "akde, α 0.2": ("akde", {"akde_alpha": 0.2}),
    "akde, σ ∝ max": ("akde", {"akde_power": 2.0}),
}
"""Estimator settings a referee would vary, computed on :data:`VARIANT_LAYERS` of every net
beside the chapter's own (chapter 2: the verdicts' sensitivity over bins, α and the power)."""

VARIANT_LAYERS = {"ebab": ("h5", "output"), "saxe_max": ("h5", "output"), "akde": ("h5",)}
"""The layers each variant is estimated on (the verdicts' layers; aKDE's N × N kernels cost)."""


def _plane_options(est: str, act: str, device: str, **opts: Any) -> dict[str, Any]:
    power = opts.pop("akde_power", 1.0)
    o = estimator_options(est, act, **opts)
    if est == "akde" and power != 1.0:
        o["power"] = power
    if est in ("kde", "akde") and device != "cpu":
        o["device"] = device  # the N × N kernels run on the GPU
    return o


@runner
def adaptive_group(
    *,
    runs: Sequence[Sequence[Any]],
    epochs: int,
    snapshots: int,
    estimators: Sequence[str] = ("fixed", "kde", "ebab", "akde"),
    n_bins: int = 30,
    kde_noise: float = 1e-3,
    akde_alpha: float = 0.1,
    kde_samples: int | None = 1024,
    lr: float = 4e-4,
    batch_size: int = 256,
    split: str = "shuffled",
    variants: bool = True,
    device: str = "cpu",
) -> list[MemberResult]:
    """Train one group of nets as a batched ensemble and estimate all their information planes.

    Chapter 2 (Chelombiev et al. 2019 §3–§4). ``runs`` lists (activation, l2, seed[, labels])
    (see :func:`members`); every net is the paper's 12-10-7-5-4-3-2 net (Adam, batch 256, IDNNs
    init, L2 on hidden weights), recorded on all 4096 inputs at ``log_snapshots(epochs,
    snapshots)`` plus the last epoch. With ``variants``, the :data:`VARIANTS` planes of
    :data:`VARIANT_LAYERS` are added (the aKDE ones for nets without L2 only). A pure function of its parameters, so
    :func:`ibcore.cache.run_cached` can store its (small) result.
    """
    runs = [(str(r[0]), float(r[1]), int(r[2]), str(r[3]) if len(r) > 3 else "true") for r in runs]
    if not runs:
        raise ValueError("parameter 'runs' is empty: a group needs at least one net")
    for est in estimators:
        _check_estimator(est)
    order = sorted(range(len(runs)), key=lambda i: runs[i][0])  # one slice per activation
    hs = szt_ensemble_run(
        seeds=[runs[i][2] for i in order], activation=[runs[i][0] for i in order],
        l2=[runs[i][1] for i in order], labels=[runs[i][3] for i in order], epochs=epochs,
        snapshots=snapshots, lr=lr, batch_size=batch_size, split=split, device=device,
    )  # fmt: skip
    by_run = dict(zip(order, hs, strict=True))
    del hs
    base = dict(n_bins=n_bins, kde_noise=kde_noise, akde_alpha=akde_alpha, kde_samples=kde_samples)
    out = []
    for i, (act, l2, seed, labels) in enumerate(runs):
        h = by_run.pop(i)
        planes = {
            est: information_plane(h, estimator=est, **_plane_options(est, act, device, **base))
            for est in estimators
        }
        for name, (est, over) in VARIANTS.items() if variants else ():
            if est == "akde" and l2 != 0.0:  # the aKDE grids need only the nets without L2
                continue
            sub = {k: h.activations[k] for k in VARIANT_LAYERS[est] if k in h.activations}
            opts = _plane_options(est, act, device, **{**base, **over})
            planes[name] = information_plane(sub, h.probe_labels, estimator=est, **opts)
        out.append(
            MemberResult(
                activation=act, l2=l2, seed=seed, epochs=np.asarray(h.epochs), planes=planes,
                metrics={k: np.asarray(v) for k, v in h.metrics.items()},
                wall_s=float(h.meta["wall_s"]), meta={"ensemble": h.meta.get("ensemble")},
                labels=labels,
            )
        )  # fmt: skip
        del h  # the activations of a net are dropped once its planes are estimated
    return out


def _cached_group(params: dict[str, Any], bar: bool) -> float:
    """Worker of :func:`adaptive_runs`: fill the cache entry of one group; its wall time.

    Only the worker with ``bar`` draws a progress bar (on the terminal's stderr), so that
    parallel bars do not overwrite each other.
    """
    import os

    from ibcore.cache import run_cached

    os.environ["IBCORE_PROGRESS"] = "1" if bar else "0"  # a pool process may run several groups
    t0 = time.perf_counter()
    run_cached(adaptive_group, params)
    return time.perf_counter() - t0


def _describe(g: int, n_groups: int, chunk: Sequence[Sequence[Any]], seconds: float) -> str:
    acts = ", ".join(sorted({str(r[0]) for r in chunk}))
    l2s = ", ".join(f"{v:g}" for v in sorted({float(r[1]) for r in chunk}))
    return f"group {g + 1}/{n_groups}: {len(chunk)} nets ({acts}; L2 {l2s}) in {seconds:.1f} s"


def adaptive_runs(
    runs: Sequence[tuple[str, float, int]],
    *,
    group_size: int = 18,
    cached: Callable[[Callable, Mapping[str, Any]], Any] | None = None,
    progress: bool = True,
    workers: int = 1,
    **options: Any,
) -> list[MemberResult]:
    """All chapter-2 nets, trained in groups of at most ``group_size`` through the result cache.

    Chapter 2. Groups are consecutive slices of ``runs`` (so with :func:`members` order, one
    L2 value per group when ``group_size`` is a multiple of activations × seeds); each group is
    one cache entry, keyed on its runs and ``options`` (the keywords of :func:`adaptive_group`).
    ``cached`` defaults to :func:`ibcore.cache.run_cached`.

    ``workers`` > 1 trains up to that many groups at once in worker processes
    (:func:`ibcore.parallel.imap_unordered`), which fill the cache; the groups are then read back
    in order. Extra workers help only on idle cores. Needs the default ``cached``.
    """
    import os

    from ibcore.cache import run_cached
    from ibcore.parallel import imap_unordered

    if group_size < 1:
        raise ValueError(f"parameter 'group_size' must be >= 1, got {group_size}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"parameter 'workers' must be an integer >= 1, got {workers!r}")
    runs = [list(r) for r in runs]
    n_groups = -(-len(runs) // group_size)
    chunks = [runs[g * group_size : (g + 1) * group_size] for g in range(n_groups)]
    params = [{"runs": chunk, **options} for chunk in chunks]
    if workers > 1 and n_groups > 1 and cached is None:
        bars = os.environ.get("IBCORE_PROGRESS", "1") != "0"
        tasks = [(p, g == 0 and bars) for g, p in enumerate(params)]
        for g, seconds in imap_unordered(_cached_group, tasks, workers):
            if progress:
                print(_describe(g, n_groups, chunks[g], seconds) + " (worker)", flush=True)
        progress = False  # the groups below come from the cache
    cached = cached or run_cached
    out: list[MemberResult] = []
    for g, (chunk, p) in enumerate(zip(chunks, params, strict=True)):
        t0 = time.perf_counter()
        out.extend(cached(adaptive_group, p))
        if progress:
            print(_describe(g, n_groups, chunk, time.perf_counter() - t0), flush=True)
    return out


def select(
    results: Sequence[MemberResult],
    *,
    activation: str | None = None,
    l2: float | None = None,
    labels: str | None = "true",
) -> list[MemberResult]:
    """The members with the given activation, L2 weight and labels (chapter 2), in seed order;
    ``labels=None`` keeps the null nets too."""
    out = [
        r
        for r in results
        if (activation is None or r.activation == activation)
        and (l2 is None or r.l2 == l2)
        and (labels is None or r.labels == labels)
    ]
    return sorted(out, key=lambda r: r.seed)


def compression_from(plane: np.ndarray, epochs: np.ndarray, peak_from: int = 0) -> float:
    """C = max over snapshots at epochs ≥ ``peak_from`` of I(X;T), minus the final I(X;T), bits.

    Chapter 2 (C_l of Chelombiev et al. 2019 §4; the definition is ours, the paper's was not
    recovered). ``peak_from`` > 0 leaves out peaks at initialisation.
    """
    ixt = np.asarray(plane)[:, 0]
    keep = np.asarray(epochs) >= peak_from
    if not keep.any():
        raise ValueError(f"parameter 'peak_from' ({peak_from}) is after the last snapshot")
    return float(ixt[keep].max() - ixt[-1])


def compression_table(
    results: Sequence[MemberResult], estimator: str, layer: str, peak_from: int = 0
) -> dict[tuple[str, float], np.ndarray]:
    """C per (activation, L2) over the true-label nets, one value per seed (chapter 2)."""
    table: dict[tuple[str, float], list[float]] = {}
    for r in select(results):
        c = compression_from(r.planes[estimator][layer], r.epochs, peak_from)
        table.setdefault((r.activation, r.l2), []).append(c)
    return {k: np.asarray(v) for k, v in table.items()}


def non_saturating(activations: Sequence[str]) -> list[str]:
    """The activations that saturate on neither side (chapter 2: not tanh, softsign, ELU)."""
    return [a for a in activations if a not in SATURATING and a not in ("linear", "elu")]


def null_excess(
    results: Sequence[MemberResult],
    activations: Sequence[str],
    estimator: str = "ebab",
    layer: str = "h5",
    peak_from: int = 0,
) -> np.ndarray:
    """Per seed: C(true labels) − C(permuted labels) without L2, averaged over ``activations``.

    Chapter 2, verdicts (a) and (a′) (Chelombiev et al. 2019 §4: compression without saturation),
    paired per seed: the null net has the same split, initialisation and batch order. Seeds that
    lack a null net are left out; none left gives a single NaN.
    """
    per_act = []
    for act in activations:
        real = {r.seed: r for r in select(results, activation=act, l2=0.0)}
        null = {r.seed: r for r in select(results, activation=act, l2=0.0, labels="permuted")}
        seeds = sorted(set(real) & set(null))
        per_act.append(
            {
                s: compression_from(real[s].planes[estimator][layer], real[s].epochs, peak_from)
                - compression_from(null[s].planes[estimator][layer], null[s].epochs, peak_from)
                for s in seeds
            }
        )
    seeds = sorted(set.intersection(*(set(d) for d in per_act))) if per_act else []
    if not seeds:
        return np.array([np.nan])
    return np.array([np.mean([d[s] for d in per_act]) for s in seeds])


ADAPTIVE = ("ebab", "akde")
NON_ADAPTIVE = ("kde", "saxe_max")


def adaptive_contrast(
    results: Sequence[MemberResult],
    activations: Sequence[str],
    layer: str = "h5",
    adaptive: Sequence[str] = ADAPTIVE,
    non_adaptive: Sequence[str] = NON_ADAPTIVE,
) -> np.ndarray:
    """Per seed: excess over the null (:func:`null_excess`) under the ``adaptive`` estimators
    minus that under the ``non_adaptive`` ones (KDE at fixed σ², bins on [low, running max]).

    Chapter 2 (Chelombiev et al. 2019 §1, §4: adaptive estimators show compression where
    non-adaptive ones do not), on the same nets; estimators are keys of the nets' planes.
    """
    return group_excess(results, activations, adaptive, layer) - group_excess(
        results, activations, non_adaptive, layer
    )


def group_excess(
    results: Sequence[MemberResult],
    activations: Sequence[str],
    estimators: Sequence[str],
    layer: str = "h5",
) -> np.ndarray:
    """Per seed: :func:`null_excess` averaged over ``estimators`` (one side of
    :func:`adaptive_contrast`; chapter 2)."""
    return np.mean([null_excess(results, activations, e, layer) for e in estimators], axis=0)


def mean_compression(
    results: Sequence[MemberResult],
    activations: Sequence[str],
    estimator: str = "ebab",
    layer: str = "h5",
    labels: str = "true",
) -> np.ndarray:
    """Per seed: C without L2 of the ``labels`` nets, averaged over ``activations`` (chapter 2:
    the null's values beside a verdict, the null table); a single NaN when a net is missing."""
    per = [
        [compression_from(r.planes[estimator][layer], r.epochs)
         for r in select(results, activation=a, l2=0.0, labels=labels)]
        for a in activations
    ]  # fmt: skip
    if not per or not all(per) or len({len(p) for p in per}) != 1:
        return np.array([np.nan])
    return np.mean(per, axis=0)


ACC_FLOOR = 0.6
"""Final test accuracy below which a net counts as collapsed (chance is about 0.5)."""


def l2_delta_c(
    results: Sequence[MemberResult],
    l2: float,
    activations: Sequence[str],
    *,
    estimator: str = "ebab",
    layers: Sequence[str] = ("h3", "h4", "h5"),
    floor: float = ACC_FLOOR,
    peak_from: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """Per seed: Σ over ``layers`` of C(with L2) − C(without L2), averaged over ``activations``.

    Chapter 2, verdict (b) (Chelombiev et al. 2019 §4: L2 increases compression). Pairs share the
    seed (split and initial weights); a pair with a net below ``floor`` test accuracy is left out
    and named in the returned list.
    """
    excluded: list[str] = []
    per_seed: dict[int, list[float]] = {}
    for act in activations:
        base = {r.seed: r for r in select(results, activation=act, l2=0.0)}
        reg = {r.seed: r for r in select(results, activation=act, l2=l2)}
        for s in sorted(set(base) & set(reg)):
            if min(base[s].test_acc, reg[s].test_acc) < floor:
                excluded.append(f"{act} seed {s}")
                continue
            d = sum(
                compression_from(reg[s].planes[estimator][lay], reg[s].epochs, peak_from)
                - compression_from(base[s].planes[estimator][lay], base[s].epochs, peak_from)
                for lay in layers
            )
            per_seed.setdefault(s, []).append(d)
    if not per_seed:
        return np.array([np.nan]), excluded
    return np.array([np.mean(per_seed[s]) for s in sorted(per_seed)]), excluded


def _spearman_pearson(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from scipy import stats

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"pearson_r": np.nan, "pearson_p": np.nan, "spearman_rho": np.nan,
                "spearman_p": np.nan, "n": len(x)}  # fmt: skip
    pr = stats.pearsonr(x, y)
    sr = stats.spearmanr(x, y)
    return {
        "pearson_r": float(pr.statistic), "pearson_p": float(pr.pvalue),
        "spearman_rho": float(sr.statistic), "spearman_p": float(sr.pvalue), "n": len(x),
    }  # fmt: skip


def layer_correlations(
    results: Sequence[MemberResult], estimator: str = "ebab"
) -> dict[str, dict[str, float]]:
    """Per layer: Pearson r and Spearman ρ (with p-values) of compression vs final test accuracy,
    pooled over all true-label nets (chapter 2, Chelombiev et al. 2019 §4; statistics ours).
    Fewer than 3 nets, or a constant variable, give NaN."""
    rs = select(results)
    if not rs:
        raise ValueError("layer_correlations needs at least one result")
    acc = np.array([r.test_acc for r in rs])
    return {
        layer: _spearman_pearson(
            np.array([compression_from(r.planes[estimator][layer], r.epochs) for r in rs]), acc
        )
        for layer in rs[0].layers
    }


def cell_spearman(
    results: Sequence[MemberResult],
    layers: Sequence[str],
    estimator: str = "ebab",
    peak_from: int = 0,
) -> np.ndarray:
    """Per (activation, L2) cell: Spearman ρ over its seeds of C vs final test accuracy,
    averaged over ``layers`` (NaN layers left out).

    Chapter 2, verdicts (c) and (c′) (Chelombiev et al. 2019 §4: only the last layer's
    compression goes with generalisation): with activation and L2 held fixed, only the
    initialisation varies, so neither confounds the correlation.
    """
    out = []
    for act, l2 in sorted({(r.activation, r.l2) for r in select(results)}):
        rs = select(results, activation=act, l2=l2)
        acc = np.array([r.test_acc for r in rs])
        rhos = [
            _spearman_pearson(
                np.array([compression_from(r.planes[estimator][lay], r.epochs, peak_from)
                          for r in rs]), acc,
            )["spearman_rho"]
            for lay in layers
        ]  # fmt: skip
        rhos = [x for x in rhos if np.isfinite(x)]
        out.append(np.mean(rhos) if rhos else np.nan)
    return np.asarray(out, dtype=float)


def seed_spread(
    results: Sequence[MemberResult],
    activations: Sequence[str],
    estimator: str = "ebab",
    layer: str = "h5",
    last: int = 5,
) -> np.ndarray:
    """Per seed: |C − mean C over seeds| minus the estimator's jitter, averaged over activations.

    Chapter 2, verdict (d) (Chelombiev et al. 2019, abstract: compression varies widely between
    initialisations), without L2. The jitter of a net is the mean absolute change of I(X;T)
    between its ``last`` snapshots, where training has nearly settled: what the estimate moves
    by when the net hardly does. Seeds in sorted order.
    """
    per_seed: dict[int, list[float]] = {}
    for act in activations:
        rs = select(results, activation=act, l2=0.0)
        if len(rs) < 2:
            continue
        c = np.array([compression_from(r.planes[estimator][layer], r.epochs) for r in rs])
        jit = [float(np.abs(np.diff(r.planes[estimator][layer][-last:, 0])).mean()) for r in rs]
        for r, ci, ji in zip(rs, c, jit, strict=True):
            per_seed.setdefault(r.seed, []).append(abs(ci - c.mean()) - ji)
    if not per_seed:
        return np.array([np.nan])
    return np.array([np.mean(per_seed[s]) for s in sorted(per_seed)])


def _variant(est: str, n_bins: int | None = None, alpha: str | None = None) -> str:
    """Plane key of an estimator setting: the chapter's own, or a :data:`VARIANTS` name."""
    if n_bins is not None and n_bins != 30:
        return f"{est}, {n_bins} bins"
    if alpha is not None and alpha != "0.1":
        return f"akde, α {alpha}" if alpha[0].isdigit() else "akde, σ ∝ max"
    return est


def chapter_verdicts(
    results: Sequence[MemberResult], activations: Sequence[str], l2: float
) -> list[dict[str, Any]]:
    """Chapter 2's verdicts as keyword sets for :func:`ibcore.verdicts.make_verdict`, each with
    its sensitivity grid (``grid``: settings, ``grid_values``: per-seed values per setting).

    Chapter 2 (Chelombiev et al. 2019, abstract and §4): compression against the permuted-label
    null per activation and over the non-saturating ones, under EBAB and aKDE; adaptive against
    non-adaptive estimators; L2 as added compression; last-layer and hidden-layer compression
    against generalisation; the spread between initialisations. The grids vary the analysis
    settings over the same planes (no retraining): bins, aKDE's α and power, the earliest
    epoch a peak may come from, the layers and the accuracy floor.
    """
    has_null = any(r.labels == "permuted" for r in results)
    nonsat = non_saturating(activations)
    out: list[dict[str, Any]] = []

    def add(claim: str, statement: str, values, grid, fn, null=None, note="") -> None:
        out.append({"claim": claim, "statement": statement, "values": values, "null": null,
                    "note": note, "grid": grid, "grid_values": [fn(g) for g in grid]})  # fmt: skip

    last = min(int(r.epochs[-1]) for r in results)
    peaks = [e for e in (0, 10, 100) if e < last]  # a short run has no peak after epoch 100
    ebab_grid = [{"bins": b, "peak_from": e} for b in (15, 30, 60) for e in peaks]
    akde_grid = [{"alpha": a, "peak_from": e} for a in ("0.05", "0.1", "0.2", "σ∝max")
                 for e in peaks[:2]]  # fmt: skip
    if has_null:
        for act in activations:
            kind = {"tanh": "saturating", "softsign": "saturating",
                    "elu": "saturating on its negative side"}.get(act, "non-saturating")  # fmt: skip
            add(f"ch2-compression-vs-null-{act}",
                f"{act} ({kind}) nets compress beyond their permuted-label null under EBAB",
                null_excess(results, [act], "ebab", "h5"), ebab_grid,
                lambda g, a=act: null_excess(results, [a], _variant("ebab", g["bins"]), "h5",
                                             g["peak_from"]),
                null={"name": _NULL, "per_seed": mean_compression(results, [act], "ebab", "h5", "permuted")})  # fmt: skip
        if nonsat:
            add("ch2-nonsaturating-compression",
                f"Saturation is not needed: non-saturating activations ({', '.join(nonsat)}) "
                "compress beyond the null under EBAB",
                null_excess(results, nonsat, "ebab", "h5"), ebab_grid,
                lambda g: null_excess(results, nonsat, _variant("ebab", g["bins"]), "h5",
                                      g["peak_from"]),
                null={"name": _NULL, "per_seed": mean_compression(results, nonsat, "ebab", "h5", "permuted")})  # fmt: skip
            add("ch2-akde-compression",
                f"Non-saturating activations ({', '.join(nonsat)}) compress beyond the null under "
                "aKDE", null_excess(results, nonsat, "akde", "h5"), akde_grid,
                lambda g: null_excess(results, nonsat, _variant("akde", alpha=g["alpha"]), "h5",
                                      g["peak_from"]),
                null={"name": _NULL, "per_seed": mean_compression(results, nonsat, "akde", "h5", "permuted")})  # fmt: skip
            grid = [{"bins": b, "alpha": a} for b in (15, 30, 60) for a in ("0.05", "0.1", "0.2")]
            add("ch2-adaptive-contrast",
                "Adaptive estimators (EBAB, aKDE) show more compression beyond the null than "
                "non-adaptive ones (KDE at fixed σ², bins on [low, running max])",
                adaptive_contrast(results, nonsat), grid,
                lambda g: adaptive_contrast(
                    results, nonsat, "h5",
                    (_variant("ebab", g["bins"]), _variant("akde", alpha=g["alpha"])),
                    ("kde", _variant("saxe_max", g["bins"]))))  # fmt: skip
    vals, excluded = l2_delta_c(results, l2, activations)
    grid = [{"estimator": e, "layers": ly, "peak_from": p, "floor": f}
            for e in ("ebab", "akde") for ly in ("h3-h5", "h5") for p in peaks[::2]
            for f in (0.6, 0.8)]  # fmt: skip
    lay = {"h3-h5": ("h3", "h4", "h5"), "h5": ("h5",)}
    add("ch2-l2-increases-compression",
        f"L2 regularisation (λ = {l2:g}) increases compression of the narrow layers",
        vals, grid,
        lambda g: l2_delta_c(results, l2, activations, estimator=g["estimator"],
                             layers=lay[g["layers"]], floor=g["floor"], peak_from=g["peak_from"])[0],
        note=("pairs left out (a net below "
              f"{ACC_FLOOR} test accuracy): {', '.join(excluded) if excluded else 'none'}"))  # fmt: skip
    grid = [{"estimator": e, "peak_from": p} for e in ("ebab", "ebab, 15 bins", "ebab, 60 bins",
                                                        "akde") for p in peaks[::2]]  # fmt: skip
    add(
        "ch2-last-layer-generalisation",
        "Compression of the last layer is positively correlated with generalisation",
        cell_spearman(results, ["output"], "ebab"),
        grid,
        lambda g: cell_spearman(results, ["output"], g["estimator"], g["peak_from"]),
    )
    grid = [{"estimator": e, "layers": ly} for e in ("ebab", "akde")
            for ly in ("h3-h5", "h4-h5", "h5")]  # fmt: skip
    lay2 = {"h3-h5": ["h3", "h4", "h5"], "h4-h5": ["h4", "h5"], "h5": ["h5"]}
    add(
        "ch2-hidden-layers-no-generalisation",
        "Compression of the hidden layers is not positively correlated with generalisation",
        cell_spearman(results, lay2["h3-h5"], "ebab"),
        grid,
        lambda g: cell_spearman(results, lay2[g["layers"]], g["estimator"]),
    )
    grid = [
        {"estimator": e, "jitter_snapshots": k}
        for e in ("ebab", "ebab, 15 bins", "ebab, 60 bins", "akde")
        for k in (3, 5, 8)
    ]
    add(
        "ch2-compression-varies",
        "Compression varies widely between initialisations",
        seed_spread(results, activations),
        grid,
        lambda g: seed_spread(results, activations, g["estimator"], "h5", g["jitter_snapshots"]),
    )
    return out


PREREGISTERED_NULL_JITTER = "the estimator's jitter over the last snapshots of the same net"


CALIBRATION_SEEDS = (100, 101)

_NULL = (
    "the same nets on permuted labels (same split, initialisation and batch order), paired per seed"
)
PREREGISTERED = {
    **{
        f"ch2-compression-vs-null-{act}": Preregistration(
            f"ch2-compression-vs-null-{act}",
            f"h5 EBAB compression C, {act}, no L2: true − permuted labels [bits]",
            0.0,
            ">=",
            CALIBRATION_SEEDS,
            "compression beyond what a net with no learning signal shows: the paired difference "
            "must be positive, fixed before any run",
            _NULL,
        )
        for act in ACTIVATIONS
    },
    "ch2-nonsaturating-compression": Preregistration(
        "ch2-nonsaturating-compression",
        "h5 EBAB compression C, true − permuted labels, mean over non-saturating activations [bits]",
        0.0,
        ">=",
        CALIBRATION_SEEDS,
        "saturation is not needed if non-saturating nets compress beyond the null; positive "
        "difference, fixed before any run",
        _NULL,
    ),
    "ch2-akde-compression": Preregistration(
        "ch2-akde-compression",
        "h5 aKDE compression C, true − permuted labels, mean over non-saturating activations [bits]",
        0.0,
        ">=",
        CALIBRATION_SEEDS,
        "as for EBAB: the paper says both adaptive estimators show it",
        _NULL,
    ),
    "ch2-adaptive-contrast": Preregistration(
        "ch2-adaptive-contrast",
        "h5 excess C over the null: adaptive (EBAB, aKDE) − non-adaptive (KDE, [low, max] bins), "
        "non-saturating activations [bits]",
        0.0,
        ">=",
        CALIBRATION_SEEDS,
        "adaptive estimators should see more compression than non-adaptive ones on the same nets",
        _NULL,
    ),
    "ch2-l2-increases-compression": Preregistration(
        "ch2-l2-increases-compression",
        "Σ_{h3,h4,h5} EBAB C with L2 − without L2, mean over activations, collapsed nets out [bits]",
        0.0,
        ">=",
        CALIBRATION_SEEDS,
        "L2 must add compression (a difference of C, not of final levels); positive difference, "
        "fixed before any run",
    ),
    "ch2-last-layer-generalisation": Preregistration(
        "ch2-last-layer-generalisation",
        "Spearman ρ(output EBAB C, test accuracy) over seeds, per activation × L2 cell",
        0.0,
        ">=",
        CALIBRATION_SEEDS,
        "a positive correlation with activation and L2 held fixed, fixed before any run "
        "(the earlier across-cell statistic gave 0.24 and 0.20 on the calibration seeds)",
    ),
    "ch2-hidden-layers-no-generalisation": Preregistration(
        "ch2-hidden-layers-no-generalisation",
        "Spearman ρ(h3–h5 EBAB C, test accuracy) over seeds, mean over layers, per cell",
        0.3,
        "<=",
        CALIBRATION_SEEDS,
        "'only the last layer': the hidden layers must rule out a moderate positive correlation "
        "(ρ = 0.3, the moderate value named before any run)",
    ),
    "ch2-compression-varies": Preregistration(
        "ch2-compression-varies",
        "h5 EBAB |C − mean over seeds| − estimator jitter, no L2, mean over activations [bits]",
        0.0,
        ">=",
        CALIBRATION_SEEDS,
        "seeds must differ by more than the estimate moves when the net hardly does",
        PREREGISTERED_NULL_JITTER,
    ),
}
"""What chapter 2's verdicts are judged against, fixed before the final runs (seeds 1–10; the
calibration seeds of :data:`CALIBRATION_SEEDS` set the earlier thresholds and are never final)."""

# ---------------------------------------------------------------------------------------------
# Parameters: the schema, the values shared by all scales, the smoke / cpu / paper presets
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "activations": Param(str, "hidden-layer activations", choices=tuple(ACTIVATIONS), many=True),
    "epochs": Param(int, "training epochs (Adam, lr 4e-4, batch 256)", low=1, high=100_000),
    "snapshots": Param(int, "log-spaced snapshot count (IDNNs formula)", low=2, high=1000),
    "estimators": Param(
        str,
        "`fixed` (grid on [−1, 1]), `kde` (fixed σ²), `ebab`, `akde`, `saxe_max` (bins up to the running max)",
        choices=CH2_ESTIMATORS,
        many=True,
    ),
    "n_bins": Param(int, "bins of the binning estimators", low=2, high=1000),
    "kde_noise": Param(float, "KDE noise variance σ²", low=1e-12, high=100.0),
    "akde_alpha": Param(float, "aKDE: σ² = alpha · max|T|", low=1e-12, high=100.0),
    "kde_samples": Param(
        int, "inputs used by the kernel estimators (their ceiling is log₂ of it)", low=2, high=4096
    ),
    "l2": Param(
        float,
        "L2 weight of the regularised runs (every net runs with 0 and with this)",
        low=1e-9,
        high=10.0,
    ),
    "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
    "split": Param(str, "80/20 split: `shuffled` or `idnns_unshuffled`", choices=SPLITS),
    "group_size": Param(
        int,
        "nets trained together as one batched ensemble (memory grows with it)",
        low=1,
        high=10_000,
    ),
    "workers": Param(
        int,
        "processes training groups side by side (2 uses both cores of a laptop)",
        low=1,
        high=64,
    ),
    **common_params(),
}

# fmt: off
CHAPTER = Chapter(
    "02",
    PARAMS,
    shared=dict(activations=["tanh", "relu", "elu", "softplus", "swish", "leaky_relu"],
        estimators=["fixed", "kde", "ebab", "akde", "saxe_max"], n_bins=30, kde_noise=1e-3,
        akde_alpha=0.1, kde_samples=1024, l2=0.015, lr=4e-4, split="shuffled", group_size=18,
        workers=1, device="auto"),
    presets={
        "smoke": dict(activations=["tanh", "relu"], epochs=60, snapshots=10, seeds=2,
            kde_samples=256),
        "cpu": dict(activations=["tanh", "relu", "softplus"], epochs=1500, snapshots=40,
            seeds=10, group_size=45, workers=2),
        "paper": dict(epochs=8000, snapshots=400, seeds=20, kde_samples=4096, group_size=30),
    },
)
# fmt: on
