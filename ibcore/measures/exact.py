"""Exact information of quantized layers by counting (chapter 5; Lorenzen, Igel & Nielsen 2022 §3).

A quantized layer T is a deterministic function of the input; over a finite, equiprobable input
set of distinct rows (the 12-bit task's 4096 inputs), I(X;T) = H(T), and I(T;Y) = H(T) + H(Y) −
H(T, Y), all computed from the counts of T's distinct rows. Rows are compared as integer codes
(never as floats: two floats that print alike may differ, and −0.0 equals 0.0).

Two readings of the output layer:

* ``exact``: the softmax of two quantized logits is a one-to-one function of the difference of
  their codes, so T = k₁ − k₂ (:func:`output_codes`);
* ``theirs``: the authors' code re-bins the float softmax on a grid of ``2**bits`` steps between
  the layer's minimum and maximum (:func:`rebin`, NumPy's round-half-to-even), which merges
  distinct outputs where the softmax saturates.
"""

from __future__ import annotations

import numpy as np

LOG2 = np.log2


def _row_ids(codes: np.ndarray) -> np.ndarray:
    """One id per row of integer ``codes`` (N × d): equal rows ⇔ equal ids."""
    c = np.ascontiguousarray(np.asarray(codes))
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2:
        raise ValueError(f"parameter 'codes' must be N or N × d, got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"parameter 'codes' must hold integers (codes, not floats), got {c.dtype}")
    c = c.astype(np.int64)
    rows = c.view(np.dtype((np.void, c.dtype.itemsize * c.shape[1]))).ravel()
    return np.unique(rows, return_inverse=True)[1].ravel()


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * LOG2(p)).sum())


def entropy_bits(codes: np.ndarray) -> float:
    """H(T) in bits of the distinct rows of integer ``codes`` (N × d), each row weighing 1/N."""
    return _entropy(np.bincount(_row_ids(codes)))


def information(codes: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(I(X;T), I(T;Y)) in bits of a layer's integer ``codes`` (N × d) over N distinct,
    equiprobable inputs with ``labels`` (N): I(X;T) = H(T), I(T;Y) = H(T) + H(Y) − H(T, Y).
    Chapter 5; Lorenzen et al. 2022 §3."""
    y = np.asarray(labels).ravel()
    ids = _row_ids(codes)
    if len(y) != len(ids):
        raise ValueError(f"{len(ids)} rows of codes but {len(y)} labels")
    _, y_id = np.unique(y, return_inverse=True)
    k = int(y_id.max()) + 1
    h_t = _entropy(np.bincount(ids))
    h_y = _entropy(np.bincount(y_id))
    h_ty = _entropy(np.bincount(ids * k + y_id))
    return h_t, max(h_t + h_y - h_ty, 0.0)


def output_codes(logit_codes: np.ndarray) -> np.ndarray:
    """The exact output of a two-class quantized net: ``k₁ − k₂`` of its logit codes (N × 2),
    on which the softmax is one-to-one. Chapter 5."""
    c = np.asarray(logit_codes)
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"parameter 'logit_codes' must be N × 2, got shape {c.shape}")
    return c[:, :1].astype(np.int64) - c[:, 1:].astype(np.int64)


def rebin(values: np.ndarray, bits: int) -> np.ndarray:
    """The authors' re-binning of a layer (their ``QuantizedEstimator`` with per-layer bounds):
    ``round((A − min A) · 2**bits / (max A − min A))`` with NumPy's round-half-to-even, over the
    layer's N × d values; a constant layer is one code (0). Chapter 5."""
    a = np.asarray(values, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:
        return np.zeros(a.shape, dtype=np.int64)
    return np.round((a - lo) * 2**bits / (hi - lo)).astype(np.int64)


def injective(codes: np.ndarray) -> bool:
    """Whether every row of integer ``codes`` is distinct (T keeps all of H(X)); chapter 5."""
    ids = _row_ids(codes)
    return bool(ids.max() + 1 == len(ids)) if len(ids) else True
