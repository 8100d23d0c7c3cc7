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
from ibcore.measures.information import compression, information_plane
from ibcore.models import ACTIVATIONS, SATURATING
from ibcore.runs import szt_ensemble_run
from ibcore.schema import Chapter, Param, common_params
from ibcore.verdicts import Preregistration

CH2_ESTIMATORS = ("fixed", "saxe_max", "kde", "ebab", "akde")
"""Estimators chapter 2 can run: IDNNs fixed grid, Saxe's [0, running max] bins, KDE at fixed
noise, entropy-based adaptive binning, adaptive KDE."""

ESTIMATOR_LABELS = {
    "fixed": "fixed bins [-1, 1]",
    "saxe_max": "bins [0, running max]",
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

    @property
    def test_acc(self) -> float:
        """Final test accuracy."""
        return float(self.metrics["test_acc"][-1])

    @property
    def layers(self) -> list[str]:
        """Recorded layer names, input side first (``h1`` … ``h5``, ``output``)."""
        return list(next(iter(self.planes.values())))


def members(
    activations: Sequence[str], l2_values: Sequence[float], seeds: Sequence[int]
) -> list[tuple[str, float, int]]:
    """The chapter-2 run grid as (activation, l2, seed), ordered by L2, then activation, then seed.

    Chapter 2 (Chelombiev et al. 2019 §4: activations × initialisations, with and without L2).
    Unknown activations raise a ValueError naming the allowed values.
    """
    for a in activations:
        if a not in ACTIVATIONS:
            raise ValueError(
                f"parameter 'activations' has {a!r}; allowed values: {', '.join(ACTIVATIONS)}"
            )
    if not activations or not seeds or not l2_values:
        raise ValueError("chapter 2 needs at least one activation, one seed and one L2 value")
    return [(a, float(lam), int(s)) for lam in l2_values for a in activations for s in seeds]


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
    EBAB takes the authors' activation-dependent lowest edge; the kernel estimators run on a fixed
    random subsample of ``kde_samples`` inputs (None = all 4096), KDE with noise variance
    ``kde_noise``, aKDE with σ² = ``akde_alpha`` · max|T|.
    """
    _check_estimator(estimator)
    if estimator in ("fixed", "saxe_max"):
        return {"n_bins": n_bins}
    if estimator == "ebab":
        return {"n_bins": n_bins, "activation": activation}
    kernel: dict[str, Any] = {"subsample": kde_samples} if kde_samples else {}
    if estimator == "kde":
        return {**kernel, "noise_var": kde_noise}
    return {**kernel, "alpha": akde_alpha}


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
    device: str = "cpu",
) -> list[MemberResult]:
    """Train one group of nets as a batched ensemble and estimate all their information planes.

    Chapter 2 (Chelombiev et al. 2019 §3–§4). ``runs`` lists (activation, l2, seed) triples (see
    :func:`members`); every net is the paper's 12-10-7-5-4-3-2 net (Adam, batch 256, IDNNs init, L2
    on hidden weights), recorded on all 4096 inputs at ``log_snapshots(epochs, snapshots)`` plus the
    last epoch. A pure function of its parameters, so :func:`ibcore.cache.run_cached` can store its
    (small) result.
    """
    runs = [(str(a), float(lam), int(s)) for a, lam, s in runs]
    if not runs:
        raise ValueError("parameter 'runs' is empty: a group needs at least one net")
    for est in estimators:
        _check_estimator(est)
    hs = szt_ensemble_run(
        seeds=[s for _, _, s in runs], activation=[a for a, _, _ in runs],
        l2=[lam for _, lam, _ in runs], epochs=epochs, snapshots=snapshots, lr=lr,
        batch_size=batch_size, split=split, device=device,
    )  # fmt: skip
    out = []
    for (act, l2, seed), h in zip(runs, hs, strict=True):
        planes = {}
        for est in estimators:
            opts = estimator_options(
                est, act, n_bins=n_bins, kde_noise=kde_noise, akde_alpha=akde_alpha,
                kde_samples=kde_samples,
            )  # fmt: skip
            if est in ("kde", "akde") and device != "cpu":
                opts["device"] = device  # the N × N kernels run on the GPU
            planes[est] = information_plane(h, estimator=est, **opts)
        out.append(
            MemberResult(
                activation=act, l2=l2, seed=seed, epochs=np.asarray(h.epochs), planes=planes,
                metrics={k: np.asarray(v) for k, v in h.metrics.items()},
                wall_s=float(h.meta["wall_s"]), meta={"ensemble": h.meta.get("ensemble")},
            )
        )  # fmt: skip
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
    runs = list(runs)
    n_groups = -(-len(runs) // group_size)
    chunks = [runs[g * group_size : (g + 1) * group_size] for g in range(n_groups)]
    params = [{"runs": [list(r) for r in chunk], **options} for chunk in chunks]
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
    results: Sequence[MemberResult], *, activation: str | None = None, l2: float | None = None
) -> list[MemberResult]:
    """The members with the given activation and/or L2 weight (chapter 2), in seed order."""
    out = [
        r
        for r in results
        if (activation is None or r.activation == activation) and (l2 is None or r.l2 == l2)
    ]
    return sorted(out, key=lambda r: r.seed)


def compression_table(
    results: Sequence[MemberResult], estimator: str, layer: str
) -> dict[tuple[str, float], np.ndarray]:
    """Compression C = max_e I(X;T) − I(X;T)(final) in bits, per (activation, L2), one per seed.

    Chapter 2 (C_l for every layer, estimator and initialisation; the definition of C is ours,
    the paper's was not recovered).
    """
    table: dict[tuple[str, float], list[float]] = {}
    for r in results:
        table.setdefault((r.activation, r.l2), []).append(compression(r.planes[estimator][layer]))
    return {k: np.asarray(v) for k, v in table.items()}


def non_saturating(activations: Sequence[str]) -> list[str]:
    """The activations that do not saturate on both sides (chapter 2: all but tanh, softsign)."""
    return [a for a in activations if _non_saturating(a)]


def _non_saturating(activation: str) -> bool:
    return activation not in SATURATING and activation != "linear"


def l2_effect(
    results: Sequence[MemberResult],
    activation: str,
    l2: float,
    *,
    estimator: str = "ebab",
    layers: Sequence[str] = ("h3", "h4", "h5"),
) -> np.ndarray:
    """Per seed: Σ over ``layers`` of final I(X;T) without L2 minus with L2, in bits.

    Chapter 2, our check (b) (Chelombiev et al. 2019 §4: L2 increases compression). Seeds present
    in both conditions are paired (same split and initial weights).
    """
    base = {r.seed: r for r in select(results, activation=activation, l2=0.0)}
    reg = {r.seed: r for r in select(results, activation=activation, l2=l2)}
    seeds = sorted(set(base) & set(reg))
    if not seeds:
        raise ValueError(
            f"no seed of activation {activation!r} was run both without L2 and with L2 = {l2:g}"
        )
    return np.array(
        [
            sum(
                base[s].planes[estimator][lay][-1, 0] - reg[s].planes[estimator][lay][-1, 0]
                for lay in layers
            )
            for s in seeds
        ]
    )


def nonsaturating_compression(
    results: Sequence[MemberResult], layer: str, estimator: str = "ebab"
) -> np.ndarray:
    """Per seed: ``layer`` compression without L2, averaged over the non-saturating activations.

    Chapter 2, verdict (a) (Chelombiev et al. 2019 §4: compression without saturation). Seeds in
    sorted order; NaN for a seed without a non-saturating net (and a single NaN when there is
    none at all).
    """
    nets = [r for r in results if r.l2 == 0.0 and _non_saturating(r.activation)]
    seeds = sorted({r.seed for r in nets})
    if not seeds:
        return np.array([np.nan])
    return np.array(
        [
            np.mean([compression(r.planes[estimator][layer]) for r in nets if r.seed == s])
            for s in seeds
        ]
    )


def mean_l2_effect(
    results: Sequence[MemberResult],
    l2: float,
    activations: Sequence[str] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Per seed: :func:`l2_effect` averaged over ``activations`` (default: all in ``results``).

    Chapter 2, verdict (b) (our check (b), over every activation).
    """
    acts = list(activations) if activations is not None else sorted({r.activation for r in results})
    return np.mean([l2_effect(results, a, l2, **kwargs) for a in acts], axis=0)


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
    """Per layer: Pearson r and Spearman ρ (with p-values) of compression vs final test accuracy.

    Chapter 2 (Chelombiev et al. 2019 §4, "only compression of the last layer is positively
    correlated with generalisation"; the statistics are ours, the paper's was not recovered), across
    all nets in ``results``. Fewer than 3 nets, or a constant variable, give NaN.
    """
    if not results:
        raise ValueError("layer_correlations needs at least one result")
    acc = np.array([r.test_acc for r in results])
    out = {}
    for layer in results[0].layers:
        c = np.array([compression(r.planes[estimator][layer]) for r in results])
        out[layer] = _spearman_pearson(c, acc)
    return out


def seedwise_spearman(
    results: Sequence[MemberResult], layer: str, estimator: str = "ebab"
) -> np.ndarray:
    """Per seed: Spearman ρ of ``layer`` compression vs test accuracy across that seed's nets.

    Chapter 2 (the spread over seeds of the correlation of :func:`layer_correlations`; each seed's
    nets are its activations × L2 settings). Seeds with fewer than 3 nets give NaN.
    """
    seeds = sorted({r.seed for r in results})
    out = []
    for s in seeds:
        rs = [r for r in results if r.seed == s]
        c = np.array([compression(r.planes[estimator][layer]) for r in rs])
        acc = np.array([r.test_acc for r in rs])
        out.append(_spearman_pearson(c, acc)["spearman_rho"])
    return np.asarray(out, dtype=float)


CALIBRATION_SEEDS = (100, 101)

PREREGISTERED = {
    "ch2-nonsaturating-compression": Preregistration(
        "ch2-nonsaturating-compression",
        "last hidden EBAB compression, mean over non-saturating activations [bits]",
        0.25,
        ">=",
        CALIBRATION_SEEDS,
        "twice the largest EBAB jitter of the non-compressing layer h3 (0.00-0.14 bits); "
        "calibration 0.30 and 0.69 bits",
    ),
    "ch2-l2-increases-compression": Preregistration(
        "ch2-l2-increases-compression",
        "Σ_{h3,h4,h5} final EBAB I(X;T), no L2 − L2, mean over activations [bits]",
        3.0,
        ">=",
        CALIBRATION_SEEDS,
        "calibration 15.6 and 10.7 bits",
    ),
    "ch2-last-layer-generalisation": Preregistration(
        "ch2-last-layer-generalisation",
        "Spearman ρ(output EBAB compression, test accuracy) within a seed",
        0.3,
        ">=",
        CALIBRATION_SEEDS,
        "a moderate positive correlation, chosen before any run; calibration 0.24 and 0.20",
    ),
}
"""What chapter 2's verdicts are judged against, fixed on :data:`CALIBRATION_SEEDS`."""

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
        "cpu": dict(epochs=1500, snapshots=40, seeds=3, workers=2),
        "paper": dict(epochs=8000, snapshots=400, seeds=20, kde_samples=4096, group_size=24),
    },
)
# fmt: on
