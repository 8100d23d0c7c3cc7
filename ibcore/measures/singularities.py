"""Singularity measures for chapter 1, "Skip Connections Eliminate Singularities".

Orhan & Pitkow, ICLR 2018 (arXiv:1701.09175) §2.1, Fig. 1: elimination (a unit constant over
inputs), overlap (two units with the same weights or activity) and linear dependence make the
loss Hessian singular. Pure functions only: unit-level measures on activations ``H`` (N × n,
samples × units), Hessian spectra, learning-speed summaries and a scalar toy chain (§3). Arrays
may be NumPy or torch (converted to float64); bad input raises ``ValueError`` naming the
argument. Definitions and thresholds are ours: the paper's were not recovered.
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
    "hessian_spectra",
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
    "weight_max_cosine",
    "weight_norm_ratio",
    "weight_overlap_fraction",
    "weight_overlap_mask",
]

ArrayLike: TypeAlias = "np.ndarray | Tensor | Sequence[Sequence[float]]"

HESSIAN_METHODS = ("auto", "full", "lanczos")
LANCZOS_WHICH = ("LM", "LA", "SA", "BE")
ELIMINATION_REFERENCES = ("median", "max")
_STD_FLOOR = 1e-12


# --- input validation ---


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
    """Column-centre ``H``; constant columns become exactly zero (first row subtracted first)."""
    D = H - H[:1]
    return D - D.mean(axis=0, keepdims=True)


# --- elimination ---


def elimination_mask(H: ArrayLike, tau: float = 1e-3, *, reference: str = "median") -> np.ndarray:
    """Eliminated units: ``std(H[:, i]) < tau · max(ref, 1e-12)``, ``ref`` the median or max std.

    ``H`` is N × n (for skip nets, the output seen by the next layer); std with ``ddof=0``.
    Chapter 1; Orhan & Pitkow 2018, §2.1 and Fig. 1a; definition and threshold ours.
    """
    Hm = _as_matrix(H, "H")
    tau = _check_open_unit("tau", tau)
    check_choice("reference", reference, ELIMINATION_REFERENCES)
    std = _center(Hm).std(axis=0)
    ref = float(np.median(std)) if reference == "median" else float(std.max())
    return std < tau * max(ref, _STD_FLOOR)


def elimination_fraction(H: ArrayLike, tau: float = 1e-3, *, reference: str = "median") -> float:
    """Fraction of eliminated units, ``mean(elimination_mask(H, tau))``, in [0, 1].

    Chapter 1; Orhan & Pitkow 2018, §2.1 and Fig. 1a; ``elim_frac`` is our definition.
    """
    return float(np.mean(elimination_mask(H, tau, reference=reference)))


def dead_relu_fraction(F: ArrayLike) -> float:
    """Fraction of units whose branch output ``F`` (N × n, without the skip) is 0 for every sample.

    Chapter 1; Orhan & Pitkow 2018, §2.1 and Fig. 1a (consistent deactivation); ours.
    """
    Fm = _as_matrix(F, "F")
    return float(np.mean(np.all(Fm == 0.0, axis=0)))


def weight_elimination_fraction(W: ArrayLike, tau: float = 1e-2) -> float:
    """Fraction of units with ``‖J_i‖₂ < tau · median_j ‖J_j‖₂`` (``W``: units × inputs).

    Chapter 1; Orhan & Pitkow 2018, Fig. 1a (``J_a = 0``); the weight-based variant is ours.
    """
    Wm = _as_matrix(W, "W", min_rows=1, what="units × inputs")
    tau = _check_open_unit("tau", tau)
    norms = np.linalg.norm(Wm, axis=1)
    return float(np.mean(norms < tau * max(float(np.median(norms)), _STD_FLOOR)))


# --- overlap ---


def overlap_mask(H: ArrayLike, rho: float = 0.99, tau: float = 1e-3) -> np.ndarray:
    """Units whose activity overlaps another's: ``max_j |corr(H_i, H_j)| > rho`` (sign ignored).

    Eliminated units (:func:`elimination_mask` with ``tau``) are dropped first and never flagged.
    Chapter 1; Orhan & Pitkow 2018, §2.1 and Fig. 1b; definition and threshold ours.
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
    """Fraction of overlapping units over all ``n`` units, eliminated ones included.

    Chapter 1; Orhan & Pitkow 2018, §2.1 and Fig. 1b; ``overlap_frac`` is our definition.
    """
    return float(np.mean(overlap_mask(H, rho, tau)))


def weight_overlap_mask(W: ArrayLike, rho: float = 0.99) -> np.ndarray:
    """Units with ``max_{j≠i} cos(J_i, J_j) > rho`` (signed cosine; zero rows never flagged).

    Chapter 1; Orhan & Pitkow 2018, Fig. 1b (``J_a = J_b``); the weight-space variant is ours.
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
    """Fraction of units whose incoming weights overlap, ``mean(weight_overlap_mask(W, rho))``.

    Chapter 1; Orhan & Pitkow 2018, Fig. 1b; the weight-space variant is ours.
    """
    return float(np.mean(weight_overlap_mask(W, rho)))


def weight_norm_ratio(W: ArrayLike) -> float:
    """``min_i ‖J_i‖₂ / median_j ‖J_j‖₂``: how close the layer's weakest unit is to ``J = 0``.

    0 at an elimination singularity of the weights, ≈ 1 when all units are alike (``W``: units ×
    inputs; 0 if the median norm is 0). Chapter 1; Orhan & Pitkow 2018, Fig. 1a; ours.
    """
    Wm = _as_matrix(W, "W", min_rows=1, what="units × inputs")
    norms = np.linalg.norm(Wm, axis=1)
    med = float(np.median(norms))
    return float(norms.min() / med) if med > _STD_FLOOR else 0.0


def weight_max_cosine(W: ArrayLike) -> float:
    """Mean over units of ``max_{j≠i} cos(J_i, J_j)`` (signed): closeness to ``J_a = J_b``.

    1 at an overlap singularity of every unit, about ``2·sqrt(log n / d)`` for random rows; zero
    rows are left out (0 with fewer than two non-zero rows). Chapter 1; Orhan & Pitkow 2018,
    Fig. 1b; ours.
    """
    Wm = _as_matrix(W, "W", min_rows=1, what="units × inputs")
    norms = np.linalg.norm(Wm, axis=1)
    nonzero = norms > _STD_FLOOR * max(float(norms.max()), _STD_FLOOR)
    if int(nonzero.sum()) < 2:
        return 0.0
    U = Wm[nonzero] / norms[nonzero, None]
    S = U @ U.T
    np.fill_diagonal(S, -np.inf)
    return float(S.max(axis=1).mean())


# --- linear dependence ---


def _singular_values(Hm: np.ndarray) -> np.ndarray:
    return np.linalg.svd(_center(Hm), compute_uv=False)


def normalized_effective_rank(H: ArrayLike, rel_tol: float = 1e-3) -> float:
    """``#(s > rel_tol · s_max) / n``, ``s`` the singular values of the centred ``H`` (0 if none).

    ``1 - normalized_effective_rank`` is our ``lin_dep``. Chapter 1; Orhan & Pitkow 2018, Fig. 1c
    (linear dependence); ``norm_rank`` is our definition.
    """
    Hm = _as_matrix(H, "H")
    rel_tol = _check_open_unit("rel_tol", rel_tol)
    s = _singular_values(Hm)
    s_max = float(s.max()) if s.size else 0.0
    if s_max == 0.0:
        return 0.0
    return float(np.count_nonzero(s > rel_tol * s_max)) / Hm.shape[1]


def participation_ratio(H: ArrayLike) -> float:
    """``(Σ s²)² / Σ s⁴ / n`` of the centred ``H``: ≈ 1 isotropic, ``1/n`` rank 1, 0 if constant.

    Chapter 1; Orhan & Pitkow 2018, Fig. 1c (linear dependence); our addition.
    """
    Hm = _as_matrix(H, "H")
    s = _singular_values(Hm)
    s_max = float(s.max()) if s.size else 0.0
    if s_max == 0.0:
        return 0.0
    lam = (s / s_max) ** 2  # rescale to avoid overflow; the ratio is scale-invariant
    return float(lam.sum() ** 2 / (lam**2).sum()) / Hm.shape[1]


# --- bundles ---


def layer_measures(
    H: ArrayLike,
    F: ArrayLike | None = None,
    *,
    tau: float = 1e-3,
    rho: float = 0.99,
    rel_tol: float = 1e-3,
) -> dict[str, float]:
    """All unit-level measures of one layer: ``n_units``, ``elim_frac``, ``dead_relu_frac`` (NaN
    without ``F``), ``overlap_frac``, ``norm_rank``, ``lin_dep`` and ``participation_ratio``.

    Chapter 1; Orhan & Pitkow 2018, §2.1 and Fig. 1; definitions and thresholds ours.
    """
    Hm = _as_matrix(H, "H")
    tau = _check_open_unit("tau", tau)
    rho = _check_open_unit("rho", rho)
    rel_tol = _check_open_unit("rel_tol", rel_tol)
    dead = math.nan
    if F is not None:
        Fm = _as_matrix(F, "F")
        if Fm.shape != Hm.shape:
            raise ValueError(
                f"F must have the same shape as H, got F {tuple(Fm.shape)} and H {tuple(Hm.shape)}"
            )
        dead = dead_relu_fraction(Fm)
    # one centring and one spectrum for all measures (the same definitions as the functions
    # above; the singular values come from the n × n Gram matrix, exact to float64 rounding)
    Hc = _center(Hm)
    std = Hc.std(axis=0)
    elim = std < tau * max(float(np.median(std)), _STD_FLOOR)
    keep = ~elim
    n_overlap = 0
    if int(keep.sum()) >= 2:
        Z = Hc[:, keep] / std[keep]
        C = (Z.T @ Z) / Z.shape[0]
        np.fill_diagonal(C, 0.0)
        n_overlap = int((np.abs(C).max(axis=1) > rho).sum())
    lam = np.clip(np.linalg.eigvalsh(Hc.T @ Hc), 0.0, None)  # s², ascending
    n = Hm.shape[1]
    if lam[-1] > 0.0:
        rank = float(np.count_nonzero(lam > (rel_tol**2) * lam[-1])) / n
        r = lam / lam[-1]
        pr = float(r.sum() ** 2 / (r**2).sum()) / n
    else:
        rank, pr = 0.0, 0.0
    return {
        "n_units": float(n),
        "elim_frac": float(elim.mean()),
        "dead_relu_frac": dead,
        "overlap_frac": n_overlap / n,
        "norm_rank": rank,
        "lin_dep": 1.0 - rank,
        "participation_ratio": pr,
    }


def unit_measures(
    layers: Mapping[str, ArrayLike],
    branches: Mapping[str, ArrayLike] | None = None,
    *,
    tau: float = 1e-3,
    rho: float = 0.99,
    rel_tol: float = 1e-3,
) -> dict[str, Any]:
    """:func:`layer_measures` of every layer (``per_layer``) and network-wide summaries.

    ``elim_frac`` and ``dead_relu_frac`` are pooled over units (the latter over layers with a
    ``branches`` entry; NaN if none), the rest are means over layers (our choice). Chapter 1;
    Orhan & Pitkow 2018, §2.1 and Fig. 1; definitions and thresholds ours.
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


# --- Hessian ---


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
    loss_fn: Callable[[], Tensor], params: Sequence[Tensor], *, chunk_size: int = 64
) -> Tensor:
    """Full P × P Hessian (float64, symmetrised) of ``loss_fn()`` over the flattened ``params``.

    Rows come from batched double-backward passes, ``chunk_size`` at a time (one per row if
    batching fails); use it for P ≲ 3,000. Chapter 1; Orhan & Pitkow 2018, §2.1 (singular Hessian).
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
    """Ascending float64 eigenvalues of the Hessian of ``loss(model(x), y)`` over the parameters.

    A float64 eval-mode copy of ``model`` is used. ``method``: ``"full"`` (all P, via
    :func:`hessian_full`), ``"lanczos"`` (``k`` by ARPACK ``eigsh``, ``which`` in
    :data:`LANCZOS_WHICH`, seeded start vector) or ``"auto"`` (full if P ≤ ``max_params``).
    Chapter 1; Orhan & Pitkow 2018, §2.1 ("degenerate manifolds"); method ours.
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


def _rescaling(m: nn.Module, x64: Tensor, params: list[Tensor]) -> Tensor:
    """Per-parameter scales: RMS weight of each ``nn.Linear``, RMS of its output for its bias."""
    out_rms: dict[int, Tensor] = {}
    hooks = [
        lin.register_forward_hook(
            lambda mod, _i, o: out_rms.__setitem__(id(mod), o.detach().pow(2).mean().sqrt())
        )
        for lin in m.modules()
        if isinstance(lin, nn.Linear) and lin.weight.requires_grad
    ]
    try:
        with torch.no_grad():
            m(x64)
    finally:
        for h in hooks:
            h.remove()
    scale: dict[int, Tensor] = {}
    for lin in m.modules():
        if isinstance(lin, nn.Linear) and lin.weight.requires_grad:
            scale[id(lin.weight)] = lin.weight.detach().pow(2).mean().sqrt()
            if lin.bias is not None:
                scale[id(lin.bias)] = out_rms[id(lin)]
    missing = [tuple(p.shape) for p in params if id(p) not in scale]
    if missing:
        raise ValueError(f"rescale=True needs every parameter in an nn.Linear, not {missing}")
    return torch.cat([torch.full((p.numel(),), float(scale[id(p)])) for p in params]).to(x64)


def hessian_spectra(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor] = cross_entropy,
) -> dict[str, np.ndarray]:
    """Full Hessian spectra of ``loss(model(x), y)``: ``raw`` and ``rescaled`` (both ascending).

    ``rescaled`` is the spectrum of ``D H D``, the Hessian in the coordinates ``θ / s``: ``s`` is
    the RMS of a linear layer's weights for those weights and the RMS of the layer's output over
    ``x`` for its bias. A ReLU net computes the same function when layer ``l`` is multiplied by
    ``c`` and the next layer's weights divided by ``c``; the raw Hessian's blocks then move by
    ``c^±2`` (and with them any threshold relative to ``max |λ|``), the rescaled one does not
    move at all, so weight scale alone cannot change its degeneracy. Every trainable parameter
    must belong to an ``nn.Linear``. Chapter 1; Orhan & Pitkow 2018, §2.1; the rescaling is ours.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    m = copy.deepcopy(model).to(torch.float64).eval()
    params = [p for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require grad")
    device = params[0].device
    x64 = x.to(device=device, dtype=torch.float64)
    y64 = y.to(device)
    d = _rescaling(m, x64, params)
    H = hessian_full(lambda: loss(m(x64), y64), params)
    raw = torch.linalg.eigvalsh(H).cpu().numpy()
    scaled = torch.linalg.eigvalsh(d[:, None] * H * d[None, :]).cpu().numpy()
    return {"raw": raw, "rescaled": scaled}


def hessian_summary(
    eigs: ArrayLike,
    eps_rel: float = 1e-4,
    *,
    sweep: Sequence[float] = (1e-5, 1e-4, 1e-3),
) -> dict[str, Any]:
    """Degeneracy of a spectrum: ``frac_degenerate = mean(|λ| < eps_rel · max|λ|)`` and negatives.

    Also ``top``, ``bottom``, ``max_abs``, ``n`` and both fractions at each ``sweep`` threshold; an
    all-zero spectrum is fully degenerate. Chapter 1; Orhan & Pitkow 2018, §2.1; thresholds ours.
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


# --- learning speed ---


def epochs_to_accuracy(
    acc_per_epoch: Sequence[float] | np.ndarray | Tensor,
    target: float = 0.9,
    *,
    first_epoch: int = 0,
) -> float:
    """First epoch ``first_epoch + i`` with ``acc_per_epoch[i] >= target``, or ``math.inf``.

    Chapter 1; Orhan & Pitkow 2018 (learning slow-down near singularities); our summary.
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
    """Area under the training-loss curve (trapezoid rule, one epoch spacing), in loss × epochs.

    Chapter 1; Orhan & Pitkow 2018 (learning slow-down near singularities); our summary.
    """
    L = _as_vector(loss_per_epoch, "loss_per_epoch", min_len=2)
    return float(np.trapezoid(L, dx=1.0))


# --- the toy model: a scalar deep linear chain, with and without skips ---


def _check_chain(depth: int, target: float) -> tuple[int, float]:
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    t = float(target)
    if not math.isfinite(t):
        raise ValueError(f"target must be a finite number, got {target!r}")
    return int(depth), t


def toy_chain_loss(w: Tensor, residual: bool, target: float = 2.0) -> Tensor:
    """``½ (Π_l a_l − c)²`` with ``a_l = w_l`` (plain) or ``1 + w_l`` (residual); batched on dim 0.

    Chapter 1; Orhan & Pitkow 2018, §3 (simplified models, "ghosts"); the scalar chain is ours.
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
    """Full gradient descent on :func:`toy_chain_loss` for ``n_runs`` inits ``w ~ N(0, init_std²)``.

    Returns ``{"loss": (n_runs, steps + 1), "w0", "w": (n_runs, depth)}``; raises
    ``FloatingPointError`` on divergence. Chapter 1; Orhan & Pitkow 2018, §3 (plateaus); ours.
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
    """Ascending Hessian eigenvalues of :func:`toy_chain_loss` at ``w``, by :func:`hessian_full`.

    Chapter 1; Orhan & Pitkow 2018, §2.1 and §3; the scalar chain is our choice.
    """
    wv = _as_vector(w, "w")
    _check_chain(wv.size, target)
    wt = torch.tensor(wv, dtype=torch.float64, requires_grad=True)
    H = hessian_full(lambda: toy_chain_loss(wt, residual, target), [wt])
    return torch.linalg.eigvalsh(H).numpy()
