"""Mutual-information estimators for information planes, in bits.

Chapter 0 uses the fixed-width binning of Shwartz-Ziv & Tishby (2017) (spec claim 2 §1a); chapter 2
adds the adaptive estimators of Chelombiev et al. (2019). For a deterministic network and
distinct inputs X, H(T|X) = 0, so after binning

    I(X;T) = H(T_binned)          I(T;Y) = H(T_binned) − Σ_y p(y) H(T_binned | Y=y)

Everything is vectorised: rows are turned into symbols with one ``np.unique(axis=0)`` call and
the entropies come from ``np.bincount``; there is no Python loop over samples or unique inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ibcore.train import History

ArrayLike = np.ndarray | torch.Tensor


def as_layer(t: ArrayLike, name: str = "T") -> np.ndarray:
    """Check and convert one layer's activations to a float64 array N × d (all chapters).

    Raises ``ValueError`` for a non-2-D array, an empty layer, or NaN/inf values.
    """
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples × units), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}): a layer needs samples and units")
    if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf activations; the run diverged upstream")
    return a.astype(np.float64, copy=False)


def as_labels(y: ArrayLike, n: int) -> np.ndarray:
    """Check labels: 1-D integers, one per sample (``n``)."""
    a = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
    a = a.reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"labels do not match the samples: {a.shape[0]} labels for {n} samples")
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.equal(np.mod(a, 1), 0)):
            raise ValueError("labels must be integers (class indices)")
        a = a.astype(np.int64)
    return a


def entropy_bits(counts: np.ndarray) -> float:
    """Plug-in entropy in bits of a histogram of counts."""
    c = counts[counts > 0].astype(np.float64)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def discrete_mi(symbols: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """I(X;T) and I(T;Y) in bits for a discretised layer (rows of ``symbols`` = one symbol each).

    Chapters 0 and 2 (IDNNs ``calc_information_from_mat``; spec claim 2 §1a). X is uniform over
    the N samples and T is a deterministic function of X, so I(X;T) = H(T).
    """
    sym = np.asarray(symbols)
    if sym.ndim == 1:
        sym = sym[:, None]
    _, t_id = np.unique(sym, axis=0, return_inverse=True)
    t_id = t_id.reshape(-1)
    y = as_labels(y, len(t_id))
    _, y_id = np.unique(y, return_inverse=True)
    n_t = int(t_id.max()) + 1
    h_t = entropy_bits(np.bincount(t_id))
    joint = np.bincount(y_id * n_t + t_id, minlength=n_t * (int(y_id.max()) + 1))
    joint = joint.reshape(-1, n_t)
    p_y = joint.sum(1) / len(t_id)
    h_t_given_y = sum(p * entropy_bits(row) for p, row in zip(p_y, joint, strict=True))
    return h_t, float(max(h_t - h_t_given_y, 0.0))


def bin_fixed(t: ArrayLike, n_bins: int = 30, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Discretise with the IDNNs fixed grid (spec claim 2 §1a): ``n_bins`` edges on [low, high].

    Chapter 0 and chapter 2's baseline (Shwartz-Ziv & Tishby 2017). Kept exactly as the original
    code: a value maps to the largest edge ≤ it; values ≥ ``high`` share the top edge, and values
    below ``low`` wrap to the top edge too (NumPy's index −1), a quirk of the original.
    """
    a = as_layer(t)
    if n_bins < 2:
        raise ValueError(f"parameter 'n_bins' must be >= 2, got {n_bins}")
    if not high > low:
        raise ValueError(f"parameter 'high' ({high}) must be greater than 'low' ({low})")
    bins = np.linspace(low, high, n_bins)
    return bins[np.digitize(a, bins) - 1]


def mi_fixed_binning(
    t: ArrayLike, y: ArrayLike, n_bins: int = 30, low: float = -1.0, high: float = 1.0
) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits with the fixed IDNNs grid (chapter 0; spec claim 2 §1a)."""
    return discrete_mi(bin_fixed(t, n_bins, low, high), y)


ESTIMATORS: dict[str, Callable[..., tuple[float, float]]] = {"fixed": mi_fixed_binning}


def information_plane(
    history: History | Mapping[str, np.ndarray],
    labels: ArrayLike | None = None,
    estimator: str = "fixed",
    **kwargs: object,
) -> dict[str, np.ndarray]:
    """I(X;T) and I(T;Y) in bits for every recorded layer at every snapshot, in one call.

    Chapters 0 and 2. ``history`` is a :class:`~ibcore.train.History` (labels: its probe labels) or
    a mapping {layer: S × N × d}. Returns {layer: array S × 2} with columns (I(X;T), I(T;Y)).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"parameter 'estimator' = {estimator!r} is not allowed; choose one of {tuple(ESTIMATORS)}"
        )
    if isinstance(history, History):
        acts, labels = history.activations, history.probe_labels if labels is None else labels
    else:
        acts = history
    if labels is None:
        raise ValueError("information_plane needs labels when given a plain mapping of activations")
    if not acts:
        raise ValueError("no recorded activations: train with record_epochs and keep_activations")
    fn = ESTIMATORS[estimator]
    out = {}
    for name, snaps in acts.items():
        snaps = np.asarray(snaps)
        if snaps.ndim != 3:
            raise ValueError(
                f"layer {name!r}: expected snapshots × samples × units, got {snaps.shape}"
            )
        out[name] = np.array([fn(s, labels, **kwargs) for s in snaps])
    return out


def compression(ixt: ArrayLike) -> float:
    """Compression of one layer in bits: max over snapshots of I(X;T) minus its final value.

    Chapters 0 and 2 (spec claim 2 §5: C_l = max_e I(X;T_l)(e) − I(X;T_l)(E_final)). ``ixt`` is
    the I(X;T) trajectory (S,) or a plane (S × 2), whose first column is used.
    """
    a = np.asarray(ixt, dtype=float)
    if a.ndim == 2:
        a = a[:, 0]
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"compression needs a non-empty I(X;T) trajectory, got shape {a.shape}")
    return float(a.max() - a[-1])
