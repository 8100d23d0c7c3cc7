"""Singularity measures for Chapter 1: "Skip Connections Eliminate Singularities".

Chapter 1 (``notebooks/01_skip_singularities``) reproduces Orhan & Pitkow, ICLR 2018
(arXiv:1701.09175). The paper names three kinds of non-identifiability in a layer (§2.1, Fig. 1):

* **elimination**: a unit is consistently inactive or constant, so its outgoing weights
  cannot be identified;
* **overlap**: two units have the same incoming weights or activity, so only the sum of their
  outgoing weights can be identified;
* **linear dependence**: a unit's activity is a linear combination of the others'.

At these points the loss Hessian is singular ("degenerate manifolds"). This module holds pure
functions only. Model building, training and activation recording live in other modules.

Unit-level measures, on the activations ``H`` (``N × n``: samples × units) of one layer
(our definitions, after the paper's verbal ones in §2):

* :func:`elimination_mask`, :func:`elimination_fraction`, :func:`dead_relu_fraction`,
  :func:`weight_elimination_fraction`;
* :func:`overlap_mask`, :func:`overlap_fraction`, :func:`weight_overlap_mask`,
  :func:`weight_overlap_fraction`;
* :func:`normalized_effective_rank`, :func:`participation_ratio`;
* :func:`layer_measures` and :func:`unit_measures`, which bundle the above.

Hessian measures (Orhan & Pitkow 2018 §2; thresholds ours): :func:`hessian_full`,
:func:`hessian_eigs` and :func:`hessian_summary`.

Learning-speed summaries (our choice): :func:`epochs_to_accuracy` and :func:`loss_auc`.

The toy model (our choice, after the paper's simplified models): a scalar deep linear chain
with and without skips, :func:`toy_chain_loss`, :func:`toy_chain` (gradient descent) and
:func:`toy_chain_hessian`.
The deep-network runs that use these measures are in :mod:`ibcore.claims.ch1_skip_singularities`.

Every array input may be a numpy array or a torch tensor. It is converted to float64 numpy
inside the function. Bad input raises :class:`ValueError` with a message that names the
argument. The thresholds are our choices, not the paper's: the paper's exact thresholds were not
recovered.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.functional import cross_entropy

from ibcore.schema import check_choice

__all__ = [
    "dead_relu_fraction",
    "elimination_fraction",
    "elimination_mask",
    "epochs_to_accuracy",
    "hessian_eigs",
    "hessian_full",
    "hessian_summary",
    "layer_measures",
    "loss_auc",
    "normalized_effective_rank",
    "overlap_fraction",
    "overlap_mask",
    "participation_ratio",
    "toy_chain",
    "toy_chain_hessian",
    "toy_chain_loss",
    "unit_measures",
    "weight_elimination_fraction",
    "weight_overlap_fraction",
    "weight_overlap_mask",
]

ArrayLike: TypeAlias = "np.ndarray | Tensor | Sequence[Sequence[float]]"

HESSIAN_METHODS = ("auto", "full", "lanczos")
LANCZOS_WHICH = ("LM", "LA", "SA", "BE")
ELIMINATION_REFERENCES = ("median", "max")
_STD_FLOOR = 1e-12


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def _to_numpy(a: Any) -> np.ndarray:
    if isinstance(a, Tensor):
        return a.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(a, dtype=np.float64)


def _as_matrix(
    a: Any, name: str, *, min_rows: int = 2, what: str = "samples × units"
) -> np.ndarray:
    """Return ``a`` as a finite 2-D float64 array, or raise ValueError naming ``name``."""
    try:
        m = _to_numpy(a)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2-D numeric array ({what}): {exc}") from exc
    if m.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array ({what}), got shape {tuple(m.shape)}")
    if m.shape[0] < min_rows:
        noun = "samples" if what.startswith("samples") else "rows"
        raise ValueError(
            f"{name} needs at least {min_rows} {noun} (rows), got shape {tuple(m.shape)}"
        )
    if m.shape[1] < 1:
        raise ValueError(f"{name} needs at least 1 column, got shape {tuple(m.shape)}")
    bad = int(np.size(m) - np.count_nonzero(np.isfinite(m)))
    if bad:
        raise ValueError(
            f"{name} contains NaN or inf ({bad} non-finite entries); "
            "the measures are undefined (did the network diverge?)"
        )
    return m


def _as_vector(a: Any, name: str, *, min_len: int = 1) -> np.ndarray:
    """Return ``a`` as a finite 1-D float64 array, or raise ValueError naming ``name``."""
    try:
        v = _to_numpy(a)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D sequence of numbers: {exc}") from exc
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence, got shape {tuple(v.shape)}")
    if v.shape[0] < min_len:
        raise ValueError(f"{name} needs at least {min_len} entries, got {v.shape[0]}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or inf")
    return v


def _check_open_unit(name: str, value: float) -> float:
    """Check that ``0 < value < 1`` and return it as a float."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}") from exc
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def _center(H: np.ndarray) -> np.ndarray:
    """Column-centre ``H``. Columns that are exactly constant become exactly zero.

    Subtracting the first row before the mean makes constant columns exactly 0, whatever
    their offset (std is shift-invariant, so nothing else changes).
    """
    D = H - H[:1]
    return D - D.mean(axis=0, keepdims=True)


# --------------------------------------------------------------------------------------------
# elimination
# --------------------------------------------------------------------------------------------


def elimination_mask(H: ArrayLike, tau: float = 1e-3, *, reference: str = "median") -> np.ndarray:
    """Boolean mask of eliminated (constant over inputs) units of one layer.

    Unit ``i`` is eliminated if ``std(H[:, i]) < tau · max(ref, 1e-12)``, where ``ref`` is the
    median (default, our choice) or the maximum (``reference="max"``, as used in our
    calibration runs, there with ``tau=1e-6``) of the per-unit standard deviations. The std
    uses ``ddof=0``. A unit that is constant over inputs cannot be told apart from a bias, so its
    outgoing weights are not identifiable.

    Args:
        H: activations, shape ``(N, n)`` (samples × units), ``N >= 2``. For skip nets, pass
            the layer output as seen by the next layer, skip contribution included.
        tau: relative threshold in ``(0, 1)``.
        reference: ``"median"`` or ``"max"``.

    Returns:
        Boolean array of shape ``(n,)``; ``True`` marks an eliminated unit.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1a
    (elimination singularities); definition and threshold ours.
    """
    Hm = _as_matrix(H, "H")
    tau = _check_open_unit("tau", tau)
    check_choice("reference", reference, ELIMINATION_REFERENCES)
    std = _center(Hm).std(axis=0)
    ref = float(np.median(std)) if reference == "median" else float(std.max())
    return std < tau * max(ref, _STD_FLOOR)


def elimination_fraction(H: ArrayLike, tau: float = 1e-3, *, reference: str = "median") -> float:
    """Fraction of eliminated units of one layer: ``mean(elimination_mask(H, tau))``.

    Args:
        H: activations, shape ``(N, n)`` (samples × units), ``N >= 2``.
        tau: relative threshold in ``(0, 1)``; see :func:`elimination_mask`.
        reference: ``"median"`` or ``"max"``; see :func:`elimination_mask`.

    Returns:
        A float in ``[0, 1]``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1a
    (elimination singularities); ``elim_frac`` is our definition.
    """
    return float(np.mean(elimination_mask(H, tau, reference=reference)))


def dead_relu_fraction(F: ArrayLike) -> float:
    """Fraction of units whose branch output is exactly 0 for every sample (dead ReLU).

    Args:
        F: branch outputs ``f(W x + b)`` of one layer, shape ``(N, n)`` (samples × units),
            ``N >= 2``. For a plain net this is the layer output itself. For a skip net, pass
            the branch without the skip.

    Returns:
        A float in ``[0, 1]``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1a
    (elimination through consistent deactivation); ``dead_relu_frac`` is our definition.
    """
    Fm = _as_matrix(F, "F")
    return float(np.mean(np.all(Fm == 0.0, axis=0)))


def weight_elimination_fraction(W: ArrayLike, tau: float = 1e-2) -> float:
    """Weight-based elimination: fraction of units with ``‖J_i‖₂ < tau · median_j ‖J_j‖₂``.

    Args:
        W: incoming weight matrix of the layer, shape ``(n, d_in)`` (units × inputs, as in
            ``nn.Linear.weight``). Row ``i`` is the incoming weight vector ``J_i``.
        tau: relative threshold in ``(0, 1)``. Our default is ``1e-2``.

    Returns:
        A float in ``[0, 1]``. After training this rarely triggers; the activation-based
        :func:`elimination_fraction` is the primary measure.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, Fig. 1a (``J_a = 0``);
    the weight-based variant is ours.
    """
    Wm = _as_matrix(W, "W", min_rows=1, what="units × inputs")
    tau = _check_open_unit("tau", tau)
    norms = np.linalg.norm(Wm, axis=1)
    return float(np.mean(norms < tau * max(float(np.median(norms)), _STD_FLOOR)))


# --------------------------------------------------------------------------------------------
# overlap
# --------------------------------------------------------------------------------------------


def overlap_mask(H: ArrayLike, rho: float = 0.99, tau: float = 1e-3) -> np.ndarray:
    """Boolean mask of units whose activity overlaps with another unit of the same layer.

    Eliminated units (:func:`elimination_mask` with ``tau``) are dropped first, and the rest are
    column-standardised to ``Z``. Let ``C = ZᵀZ / N`` (the correlation matrix) with the diagonal
    set to 0. Unit ``i`` overlaps if ``max_j |C_ij| > rho``. Both members of an overlapping pair
    are flagged. A negated copy also counts, because it leaves the outgoing weights just as
    unidentifiable. Eliminated units are never flagged.

    Args:
        H: activations, shape ``(N, n)`` (samples × units), ``N >= 2``.
        rho: correlation threshold in ``(0, 1)``.
        tau: elimination threshold in ``(0, 1)``, as in :func:`elimination_mask`.

    Returns:
        Boolean array of shape ``(n,)``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1b
    (overlap singularities); definition and threshold ours.
    """
    Hm = _as_matrix(H, "H")
    rho = _check_open_unit("rho", rho)
    keep = ~elimination_mask(Hm, tau)
    out = np.zeros(Hm.shape[1], dtype=bool)
    if int(keep.sum()) < 2:
        return out
    Hc = _center(Hm[:, keep])
    Z = Hc / Hc.std(axis=0, keepdims=True)
    C = (Z.T @ Z) / Z.shape[0]
    np.fill_diagonal(C, 0.0)
    out[keep] = np.abs(C).max(axis=1) > rho
    return out


def overlap_fraction(H: ArrayLike, rho: float = 0.99, tau: float = 1e-3) -> float:
    """Fraction of overlapping units of one layer: ``sum(overlap_mask(H, rho, tau)) / n``.

    The denominator ``n`` counts all units, eliminated ones included.

    Args:
        H: activations, shape ``(N, n)`` (samples × units), ``N >= 2``.
        rho: correlation threshold in ``(0, 1)``.
        tau: elimination threshold in ``(0, 1)``.

    Returns:
        A float in ``[0, 1]``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1b
    (overlap singularities); ``overlap_frac`` is our definition.
    """
    return float(np.mean(overlap_mask(H, rho, tau)))


def weight_overlap_mask(W: ArrayLike, rho: float = 0.99) -> np.ndarray:
    """Boolean mask of units whose incoming weight vector nearly equals another's in direction.

    Unit ``i`` overlaps if ``max_{j≠i} cos(J_i, J_j) > rho``. The cosine is signed: ``J_b = -J_a``
    is not a permutation symmetry of a ReLU layer. Rows with zero norm are never flagged. To
    require equal biases too, append the bias as an extra column of ``W``.

    For residual nets, weight overlap does not imply activity overlap, because the skip
    inputs differ. That is the paper's point, so report both measures.

    Args:
        W: incoming weight matrix, shape ``(n, d_in)`` (units × inputs, as in
            ``nn.Linear.weight``).
        rho: cosine threshold in ``(0, 1)``.

    Returns:
        Boolean array of shape ``(n,)``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, Fig. 1b (``J_a = J_b``);
    the weight-space variant is ours.
    """
    Wm = _as_matrix(W, "W", min_rows=1, what="units × inputs")
    rho = _check_open_unit("rho", rho)
    norms = np.linalg.norm(Wm, axis=1)
    nonzero = norms > _STD_FLOOR * max(float(norms.max()), _STD_FLOOR)
    out = np.zeros(Wm.shape[0], dtype=bool)
    if int(nonzero.sum()) < 2:
        return out
    U = Wm[nonzero] / norms[nonzero, None]
    S = U @ U.T
    np.fill_diagonal(S, -np.inf)
    out[nonzero] = S.max(axis=1) > rho
    return out


def weight_overlap_fraction(W: ArrayLike, rho: float = 0.99) -> float:
    """Fraction of units whose incoming weights overlap: ``mean(weight_overlap_mask(W, rho))``.

    Args:
        W: incoming weight matrix, shape ``(n, d_in)`` (units × inputs).
        rho: cosine threshold in ``(0, 1)``.

    Returns:
        A float in ``[0, 1]``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, Fig. 1b (``J_a = J_b``);
    the weight-space variant is ours.
    """
    return float(np.mean(weight_overlap_mask(W, rho)))


# --------------------------------------------------------------------------------------------
# linear dependence
# --------------------------------------------------------------------------------------------


def _singular_values(Hm: np.ndarray) -> np.ndarray:
    return np.linalg.svd(_center(Hm), compute_uv=False)


def normalized_effective_rank(H: ArrayLike, rel_tol: float = 1e-3) -> float:
    """Normalised effective rank ``#(s > rel_tol · s_max) / n`` of the centred activations.

    ``s`` are the singular values of ``H - mean(H, axis=0)``. Eliminated and overlapping units
    lower the rank by themselves. ``1 - normalized_effective_rank`` is our ``lin_dep``.
    If ``N - 1 < n``, the rank is at most ``(N - 1) / n``. A layer whose units are all constant
    has rank 0.

    Args:
        H: activations, shape ``(N, n)`` (samples × units), ``N >= 2``.
        rel_tol: relative singular-value tolerance in ``(0, 1)``.

    Returns:
        A float in ``[0, 1]``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, Fig. 1c (linear
    dependence of nodes); ``norm_rank`` is our definition.
    """
    Hm = _as_matrix(H, "H")
    rel_tol = _check_open_unit("rel_tol", rel_tol)
    s = _singular_values(Hm)
    s_max = float(s.max()) if s.size else 0.0
    if s_max == 0.0:
        return 0.0
    return float(np.count_nonzero(s > rel_tol * s_max)) / Hm.shape[1]


def participation_ratio(H: ArrayLike) -> float:
    """Participation ratio ``(Σ s²)² / Σ s⁴ / n`` of the centred activations.

    ``s`` are the singular values of ``H - mean(H, axis=0)``, so ``s²`` are ``N`` times the
    covariance eigenvalues. The value is about 1 for isotropic data and exactly ``1/n`` for
    rank-1 data. A layer whose units are all constant gives 0.

    Args:
        H: activations, shape ``(N, n)`` (samples × units), ``N >= 2``.

    Returns:
        A float in ``[0, 1]``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, Fig. 1c (linear
    dependence of nodes); the participation ratio is our addition.
    """
    Hm = _as_matrix(H, "H")
    s = _singular_values(Hm)
    s_max = float(s.max()) if s.size else 0.0
    if s_max == 0.0:
        return 0.0
    lam = (s / s_max) ** 2  # rescale to avoid overflow; the ratio is scale-invariant
    return float(lam.sum() ** 2 / (lam**2).sum()) / Hm.shape[1]


# --------------------------------------------------------------------------------------------
# bundles
# --------------------------------------------------------------------------------------------


def layer_measures(
    H: ArrayLike,
    F: ArrayLike | None = None,
    *,
    tau: float = 1e-3,
    rho: float = 0.99,
    rel_tol: float = 1e-3,
) -> dict[str, float]:
    """All unit-level measures of one layer.

    Args:
        H: layer output as seen by the next layer, shape ``(N, n)`` (samples × units).
        F: branch output ``f(W x + b)``, shape ``(N, n)``, or ``None``. If ``None``,
            ``dead_relu_frac`` is NaN. For a plain net, pass ``F=H``.
        tau: elimination threshold (:func:`elimination_mask`).
        rho: overlap threshold (:func:`overlap_mask`).
        rel_tol: rank tolerance (:func:`normalized_effective_rank`).

    Returns:
        A dict with keys ``n_units``, ``elim_frac``, ``dead_relu_frac``, ``overlap_frac``,
        ``norm_rank``, ``lin_dep`` (``= 1 - norm_rank``) and ``participation_ratio``.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1
    (the three singularity types); definitions and thresholds ours.
    """
    Hm = _as_matrix(H, "H")
    dead = math.nan
    if F is not None:
        Fm = _as_matrix(F, "F")
        if Fm.shape != Hm.shape:
            raise ValueError(
                f"F must have the same shape as H, got F {tuple(Fm.shape)} and H {tuple(Hm.shape)}"
            )
        dead = dead_relu_fraction(Fm)
    rank = normalized_effective_rank(Hm, rel_tol)
    return {
        "n_units": float(Hm.shape[1]),
        "elim_frac": elimination_fraction(Hm, tau),
        "dead_relu_frac": dead,
        "overlap_frac": overlap_fraction(Hm, rho, tau),
        "norm_rank": rank,
        "lin_dep": 1.0 - rank,
        "participation_ratio": participation_ratio(Hm),
    }


def unit_measures(
    layers: Mapping[str, ArrayLike],
    branches: Mapping[str, ArrayLike] | None = None,
    *,
    tau: float = 1e-3,
    rho: float = 0.99,
    rel_tol: float = 1e-3,
) -> dict[str, Any]:
    """Unit-level measures of every hidden layer, and their network-wide summaries.

    How the layers are combined is our choice. ``elim_frac`` and ``dead_relu_frac`` are
    pooled over all hidden units of all layers (the mean over all hidden units of all layers).
    ``overlap_frac``, ``norm_rank``, ``lin_dep`` and ``participation_ratio`` are plain means
    over layers. With equal widths the two ways of combining agree.
    ``dead_relu_frac`` is pooled over the layers that have a branch entry. It is NaN if none do.

    Args:
        layers: ordered mapping from layer name to activations ``H_l``, each of shape
            ``(N, n_l)`` (samples × units). This is the output seen by the next layer.
        branches: optional mapping from layer name to branch outputs ``F_l`` of the same
            shape. Its keys must be a subset of ``layers``' keys.
        tau, rho, rel_tol: thresholds, as in :func:`layer_measures`.

    Returns:
        A dict with keys ``elim_frac``, ``dead_relu_frac``, ``overlap_frac``, ``norm_rank``,
        ``lin_dep``, ``participation_ratio`` and ``per_layer``. ``per_layer`` maps each layer
        name to its :func:`layer_measures` dict.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and Fig. 1
    (the three singularity types); definitions and thresholds ours.
    """
    if not isinstance(layers, Mapping) or len(layers) == 0:
        raise ValueError("layers must be a non-empty mapping of layer name -> activations")
    branches = {} if branches is None else branches
    if not isinstance(branches, Mapping):
        raise ValueError("branches must be a mapping of layer name -> branch outputs, or None")
    unknown = [k for k in branches if k not in layers]
    if unknown:
        raise ValueError(f"branches has keys not in layers: {unknown}")

    per_layer: dict[str, dict[str, float]] = {}
    for name, H in layers.items():
        try:
            per_layer[name] = layer_measures(
                H, branches.get(name), tau=tau, rho=rho, rel_tol=rel_tol
            )
        except ValueError as exc:
            raise ValueError(f"layer {name!r}: {exc}") from exc

    width = np.array([m["n_units"] for m in per_layer.values()])

    def pooled(key: str) -> float:
        vals = np.array([m[key] for m in per_layer.values()])
        ok = ~np.isnan(vals)
        if not ok.any():
            return math.nan
        return float((vals[ok] * width[ok]).sum() / width[ok].sum())

    def layer_mean(key: str) -> float:
        return float(np.mean([m[key] for m in per_layer.values()]))

    return {
        "elim_frac": pooled("elim_frac"),
        "dead_relu_frac": pooled("dead_relu_frac"),
        "overlap_frac": layer_mean("overlap_frac"),
        "norm_rank": layer_mean("norm_rank"),
        "lin_dep": layer_mean("lin_dep"),
        "participation_ratio": layer_mean("participation_ratio"),
        "per_layer": per_layer,
    }


# --------------------------------------------------------------------------------------------
# Hessian
# --------------------------------------------------------------------------------------------


def _check_params(params: Sequence[Tensor], *, need_float64: bool) -> list[Tensor]:
    ps = list(params)
    if not ps:
        raise ValueError("params must contain at least one tensor")
    for i, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise ValueError(f"params[{i}] must be a torch.Tensor, got {type(p).__name__}")
        if not p.requires_grad:
            raise ValueError(f"params[{i}] does not require grad; call .requires_grad_()")
        if need_float64 and p.dtype != torch.float64:
            raise ValueError(
                f"params[{i}] has dtype {p.dtype}; hessian_full needs float64 parameters "
                "(cast the model with .double(); hessian_eigs does this on a copy)"
            )
    return ps


def _scalar_loss(loss: Any) -> Tensor:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
    if not torch.isfinite(loss).all():
        raise ValueError(f"loss_fn returned a non-finite loss ({loss.item()})")
    return loss.reshape(())


def _flat_grad(loss: Tensor, params: list[Tensor]) -> Tensor:
    """Flat gradient of ``loss`` with ``create_graph=True``. Unused params give zeros."""
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    return torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def _flatten_rows(rows: Sequence[Tensor | None], params: list[Tensor], b: int) -> Tensor:
    return torch.cat(
        [
            (p.new_zeros((b, p.numel())) if r is None else r.reshape(b, -1))
            for r, p in zip(rows, params, strict=True)
        ],
        dim=1,
    )


def hessian_full(
    loss_fn: Callable[[], Tensor], params: Sequence[Tensor], *, chunk_size: int = 256
) -> Tensor:
    """Full Hessian of a scalar loss with respect to the flattened parameters, in float64.

    The gradient ``g`` is computed once with ``create_graph=True``. The Hessian rows then
    come from batched double-backward passes (``is_grads_batched``), ``chunk_size`` rows per
    pass. If batching is not supported, the code falls back to one backward pass per row. The
    result is symmetrised, ``(H + Hᵀ) / 2``.

    Args:
        loss_fn: closure with no arguments that returns the scalar loss. It must be computed
            from ``params``.
        params: the P-parameter tensors, all float64 with ``requires_grad=True``. They are
            flattened in order: ``torch.cat([p.reshape(-1) for p in params])``.
        chunk_size: Hessian rows per batched backward pass. Memory grows with it.

    Returns:
        A ``(P, P)`` float64 tensor, on the parameters' device.

    Cost: ``P²`` memory and about ``P`` backward passes. Use it for ``P ≲ 3,000``. These graphs
    are tiny, so one thread (``torch.set_num_threads(1)``) can be faster than several.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 ("the Hessian
    of the loss function becomes singular" at the singularities); thresholds and method ours.
    """
    ps = _check_params(params, need_float64=True)
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    chunk = int(chunk_size)
    with torch.enable_grad():
        loss = _scalar_loss(loss_fn())
        flat_g = _flat_grad(loss, ps)
        P = flat_g.numel()
        H = flat_g.new_zeros((P, P)).detach()
        if not flat_g.requires_grad:  # loss is at most linear in params
            return H
        batched = True
        for start in range(0, P, chunk):
            stop = min(P, start + chunk)
            b = stop - start
            if batched:
                eye = flat_g.new_zeros((b, P)).detach()
                idx = torch.arange(b, device=eye.device)
                eye[idx, start + idx] = 1.0
                try:
                    rows = torch.autograd.grad(
                        flat_g,
                        ps,
                        grad_outputs=eye,
                        retain_graph=True,
                        is_grads_batched=True,
                        allow_unused=True,
                    )
                    H[start:stop] = _flatten_rows(rows, ps, b).detach()
                    continue
                except (RuntimeError, NotImplementedError):
                    batched = False
            for i in range(start, stop):
                row = torch.autograd.grad(flat_g[i], ps, retain_graph=True, allow_unused=True)
                H[i] = _flatten_rows(row, ps, 1)[0].detach()
    return 0.5 * (H + H.T)


def hessian_eigs(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor] = cross_entropy,
    method: str = "auto",
    k: int = 20,
    max_params: int = 3000,
    *,
    which: str = "LM",
    tol: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Eigenvalues of the training-loss Hessian ``∇²_θ loss(model(x), y)``, in float64.

    The model is not modified. A deep copy is cast to float64 and put in eval mode. The
    Hessian is taken with respect to all of its parameters that require grad, with the loss
    evaluated on the whole ``(x, y)`` batch. Chapter 1 passes a fixed subset of the training
    samples (:func:`ibcore.claims.ch1_skip_singularities.hessian_run`).

    Methods:

    * ``"full"``: build the ``P × P`` Hessian with :func:`hessian_full` and return all ``P``
      eigenvalues from ``torch.linalg.eigvalsh``;
    * ``"lanczos"``: implicitly restarted Lanczos (ARPACK, via ``scipy.sparse.linalg.eigsh``)
      on a ``LinearOperator`` of Hessian-vector products. It returns ``k`` eigenvalues, chosen
      by ``which``: ``"LM"`` largest magnitude, ``"LA"`` largest algebraic, ``"SA"`` smallest
      algebraic, ``"BE"`` both ends. If ``k >= P``, the full path is used;
    * ``"auto"``: ``"full"`` if ``P <= max_params``, else ``"lanczos"``.

    Args:
        model: a ``torch.nn.Module`` mapping ``x`` to outputs.
        x: inputs, shape ``(N, ...)``. Floating inputs are cast to float64.
        y: targets, shape ``(N, ...)``. Integer class labels are kept as they are; floating
            targets are cast to float64.
        loss: ``loss(outputs, y) -> scalar``. The default is mean cross-entropy.
        method: ``"auto"``, ``"full"`` or ``"lanczos"``.
        k: number of eigenvalues for the Lanczos path (``>= 1``).
        max_params: the P threshold of ``"auto"``.
        which: the Lanczos target; see above.
        tol: ARPACK relative tolerance (``0`` means machine precision).
        seed: seed of the Lanczos start vector. The result is deterministic.

    Returns:
        A 1-D float64 numpy array of eigenvalues, ascending: length ``P`` (full) or ``k``
        (Lanczos).

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 (singular Hessian,
    "degenerate manifolds"); method ours.
    """
    check_choice("method", method, HESSIAN_METHODS)
    check_choice("which", which, LANCZOS_WHICH)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if int(max_params) < 1:
        raise ValueError(f"max_params must be a positive integer, got {max_params!r}")
    if not math.isfinite(float(tol)) or float(tol) < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")

    m = copy.deepcopy(model).to(torch.float64).eval()
    params = [p for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require grad")
    device = params[0].device
    x64 = x.to(device=device, dtype=torch.float64) if x.is_floating_point() else x.to(device)
    y64 = y.to(device=device, dtype=torch.float64) if y.is_floating_point() else y.to(device)

    def loss_fn() -> Tensor:
        return loss(m(x64), y64)

    P = sum(p.numel() for p in params)
    use_full = method == "full" or (method == "auto" and P <= int(max_params)) or int(k) >= P
    if use_full:
        H = hessian_full(loss_fn, params)
        return torch.linalg.eigvalsh(H).cpu().numpy()

    from scipy.sparse.linalg import LinearOperator, eigsh

    with torch.enable_grad():
        flat_g = _flat_grad(_scalar_loss(loss_fn()), params)
        if not flat_g.requires_grad:
            return np.zeros(int(k))

        def matvec(v: np.ndarray) -> np.ndarray:
            vt = torch.as_tensor(np.ravel(v), dtype=torch.float64, device=device)
            with torch.enable_grad():
                hv = torch.autograd.grad(
                    flat_g, params, grad_outputs=vt, retain_graph=True, allow_unused=True
                )
            return _flatten_rows(hv, params, 1)[0].detach().cpu().numpy()

        op = LinearOperator((P, P), matvec=matvec, rmatvec=matvec, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(P)
        vals = eigsh(op, k=int(k), which=which, tol=float(tol), v0=v0, return_eigenvectors=False)
    return np.sort(np.asarray(vals, dtype=np.float64))


def hessian_summary(
    eigs: ArrayLike,
    eps_rel: float = 1e-4,
    *,
    sweep: Sequence[float] = (1e-5, 1e-4, 1e-3),
) -> dict[str, Any]:
    """Degeneracy summary of a Hessian spectrum.

    Let ``m = max|λ|``. Then ``frac_degenerate = mean(|λ| < eps_rel · m)`` and
    ``frac_negative = mean(λ < -eps_rel · m)``. Negatives inside the near-zero band count as
    degenerate, not negative. A spectrum that is all zero is fully degenerate
    (``frac_degenerate = 1``, ``frac_negative = 0``). The fractions are of the eigenvalues
    given. For a partial (Lanczos) spectrum they are not fractions of all P eigenvalues.

    Args:
        eigs: eigenvalues, shape ``(P,)``, numpy or torch, finite.
        eps_rel: relative near-zero threshold in ``(0, 1)``. Our default is ``1e-4``.
        sweep: extra thresholds, each in ``(0, 1)``. ``frac_degenerate`` is also reported at
            these, so the conclusion does not hinge on one threshold.

    Returns:
        A dict with keys ``frac_degenerate``, ``frac_negative`` (both at ``eps_rel``),
        ``top`` (largest eigenvalue), ``bottom`` (smallest), ``max_abs``, ``n``, and
        ``frac_degenerate_sweep`` / ``frac_negative_sweep`` (dicts from threshold to fraction).

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 (degenerate
    manifolds, "higher-order saddles"); the thresholds are ours.
    """
    lam = _as_vector(eigs, "eigs")
    eps_rel = _check_open_unit("eps_rel", eps_rel)
    sweep = [_check_open_unit("sweep", e) for e in sweep]
    max_abs = float(np.abs(lam).max())

    def fracs(eps: float) -> tuple[float, float]:
        if max_abs == 0.0:
            return 1.0, 0.0
        thr = eps * max_abs
        return float(np.mean(np.abs(lam) < thr)), float(np.mean(lam < -thr))

    deg, neg = fracs(eps_rel)
    return {
        "frac_degenerate": deg,
        "frac_negative": neg,
        "top": float(lam.max()),
        "bottom": float(lam.min()),
        "max_abs": max_abs,
        "n": int(lam.size),
        "frac_degenerate_sweep": {e: fracs(e)[0] for e in sweep},
        "frac_negative_sweep": {e: fracs(e)[1] for e in sweep},
    }


# --------------------------------------------------------------------------------------------
# learning speed
# --------------------------------------------------------------------------------------------


def epochs_to_accuracy(
    acc_per_epoch: Sequence[float] | np.ndarray | Tensor,
    target: float = 0.9,
    *,
    first_epoch: int = 0,
) -> float:
    """Epoch at which training accuracy first reaches ``target`` (``acc >= target``).

    Convention: entry ``i`` of ``acc_per_epoch`` belongs to epoch ``first_epoch + i``, and that
    epoch number is returned. The default ``first_epoch=0`` fits the usual log, where entry 0
    is the accuracy at initialisation and entry ``i`` is after ``i`` epochs, so the result is
    the number of training epochs needed. If the log starts after the first epoch, pass
    ``first_epoch=1``.

    Args:
        acc_per_epoch: accuracies in ``[0, 1]``, shape ``(E,)``, ``E >= 1``.
        target: accuracy threshold in ``(0, 1]``.
        first_epoch: epoch number of entry 0.

    Returns:
        The epoch as a float, or ``math.inf`` if ``target`` is never reached.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, training-speed
    comparisons of plain vs. residual nets (learning slow-down near singularities);
    the summary ``epochs_to_acc(0.9)`` is our choice.
    """
    acc = _as_vector(acc_per_epoch, "acc_per_epoch")
    if np.any(acc < 0.0) or np.any(acc > 1.0):
        raise ValueError(
            "acc_per_epoch must hold fractions in [0, 1] (not percentages), "
            f"got range [{acc.min()}, {acc.max()}]"
        )
    try:
        t = float(target)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"target must be a number in (0, 1], got {target!r}") from exc
    if not (0.0 < t <= 1.0):
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    hits = np.flatnonzero(acc >= t)
    return float(first_epoch + int(hits[0])) if hits.size else math.inf


def loss_auc(loss_per_epoch: Sequence[float] | np.ndarray | Tensor) -> float:
    """Area under the training-loss curve: trapezoid rule with unit spacing (one epoch).

    ``AUC = Σ_i (L_i + L_{i+1}) / 2`` over consecutive entries. The units are loss × epochs.
    Lower means faster learning. Compare runs only when their logs have the same length.

    Args:
        loss_per_epoch: training losses, shape ``(E,)``, ``E >= 2``, finite.

    Returns:
        The area, as a float.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, training-speed
    comparisons (learning slow-down near singularities); the area under the training-loss
    curve is our choice.
    """
    L = _as_vector(loss_per_epoch, "loss_per_epoch", min_len=2)
    return float(np.trapezoid(L, dx=1.0))


# --------------------------------------------------------------------------------------------
# the toy model: a scalar deep linear chain, with and without skips
# --------------------------------------------------------------------------------------------


def _check_chain(depth: int, target: float) -> tuple[int, float]:
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    t = float(target)
    if not math.isfinite(t):
        raise ValueError(f"target must be a finite number, got {target!r}")
    return int(depth), t


def toy_chain_loss(w: Tensor, residual: bool, target: float = 2.0) -> Tensor:
    """Loss of the scalar chain, ``½ (Π_l a_l − c)²`` with ``a_l = w_l`` or ``1 + w_l``.

    The chain maps ``x`` to ``y = (Π_l a_l) x`` and learns ``y* = c x``; with ``E[x²] = 1`` the
    expected squared error is exactly this function of the weights. The plain chain
    (``a_l = w_l``) has an elimination singularity at the origin: there the gradient and the
    Hessian vanish (to order ``depth − 2``). The residual chain (``a_l = 1 + w_l``) moves that
    singularity to ``w_l = −1``, its "ghost", far from a small initialisation.

    Args:
        w: weights, shape ``(depth,)`` (a leading batch dimension ``(B, depth)`` also works).
        residual: skip connections around every weight.
        target: the slope ``c``.

    Returns:
        The loss, a tensor of shape ``()`` (or ``(B,)``).

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §3 (simplified models,
    "ghosts" of the singularities); the scalar chain is our choice.
    """
    a = 1.0 + w if residual else w
    return 0.5 * (torch.prod(a, dim=-1) - float(target)) ** 2


def toy_chain(
    *,
    depth: int = 10,
    residual: bool,
    steps: int = 2000,
    lr: float = 0.05,
    init_std: float = 0.1,
    target: float = 2.0,
    n_runs: int = 1,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train the scalar chain (:func:`toy_chain_loss`) by full gradient descent.

    The gradient is exact and vectorised over ``n_runs`` independent initialisations
    ``w_l ~ N(0, init_std²)`` (prefix and suffix products, no division by ``w_l``). From a small
    initialisation the plain chain sits near its elimination singularity at the origin and
    plateaus for a number of steps that grows with ``depth``; the residual chain does not.

    Args:
        depth: number of weights ``L``.
        residual: ``a_l = 1 + w_l`` (True) or ``a_l = w_l`` (False).
        steps: gradient-descent steps.
        lr: step size (> 0).
        init_std: standard deviation of the initial weights (>= 0).
        target: the slope ``c`` to learn.
        n_runs: independent initialisations, drawn from ``numpy.random.default_rng(seed)``.
        seed: seed of the initialisations.

    Returns:
        ``{"loss": (n_runs, steps + 1), "w0": (n_runs, depth), "w": (n_runs, depth)}``: the
        loss before each step (entry 0 is at initialisation) and the initial and final weights.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §3 (plateaus near
    singularities in simplified models); the scalar chain and its defaults are our choice.
    """
    depth, c = _check_chain(depth, target)
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if isinstance(n_runs, bool) or not isinstance(n_runs, int | np.integer) or n_runs < 1:
        raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}")
    if not (float(lr) > 0 and math.isfinite(float(lr))):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (float(init_std) >= 0 and math.isfinite(float(init_std))):
        raise ValueError(f"init_std must be a finite number >= 0, got {init_std!r}")
    w = np.random.default_rng(seed).normal(0.0, float(init_std), (int(n_runs), depth))
    w0 = w.copy()
    ones = np.ones((w.shape[0], 1))
    loss = np.full((w.shape[0], int(steps) + 1), np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(int(steps) + 1):
            a = 1.0 + w if residual else w
            pre = np.concatenate([ones, np.cumprod(a[:, :-1], axis=1)], axis=1)  # Π_{k<l} a_k
            suf = np.concatenate([np.cumprod(a[:, :0:-1], axis=1)[:, ::-1], ones], axis=1)
            err = pre[:, -1] * a[:, -1] - c  # suf[l] = Π_{k>l} a_k
            loss[:, t] = 0.5 * err**2
            if not np.all(np.isfinite(loss[:, t])):
                break
            if t < steps:
                w = w - float(lr) * err[:, None] * pre * suf
    if not np.all(np.isfinite(loss)):
        raise FloatingPointError(f"toy_chain diverged (lr={lr!r} is too large for depth {depth})")
    return {"loss": loss, "w0": w0, "w": w}


def toy_chain_hessian(w: ArrayLike, residual: bool, target: float = 2.0) -> np.ndarray:
    """Eigenvalues of the Hessian of :func:`toy_chain_loss` at ``w``, by :func:`hessian_full`.

    Near the origin the plain chain's Hessian is (numerically) zero: all ``L`` eigenvalues are of
    order ``|w|^{L−2}``, a fully degenerate saddle. The residual chain's Hessian there is close
    to the identity (exactly ``I`` at ``w = 0`` for ``target = 2``). At ``w_l ≈ −1`` (its ghost)
    the residual chain is as degenerate as the plain chain at the origin.

    Args:
        w: weights, shape ``(depth,)``, finite.
        residual: skip connections around every weight.
        target: the slope ``c``.

    Returns:
        Eigenvalues, shape ``(depth,)``, ascending, float64.

    Chapter 1 (notebooks/01_skip_singularities); Orhan & Pitkow 2018, §2.1 and §3 (the Hessian
    is singular at the singularities); the scalar chain is our choice.
    """
    wv = _as_vector(w, "w")
    _check_chain(wv.size, target)
    wt = torch.tensor(wv, dtype=torch.float64, requires_grad=True)
    H = hessian_full(lambda: toy_chain_loss(wt, residual, target), [wt])
    return torch.linalg.eigvalsh(H).numpy()
