"""Mutual-information estimators for information planes, in bits (chapters 0 and 2).

Binning: the IDNNs grid (``"fixed"``; Shwartz-Ziv & Tishby 2017 §3), Saxe et al. (2018)'s
``floor(T / 0.07)`` (``"saxe_floor"``) and [low, max] grids (``"saxe_max"``), and EBAB
(``"ebab"``; Chelombiev et al. 2019 §3), with I(X;T) = H(T_binned) and I(T;Y) = H(T) − H(T|Y)
for a deterministic net. Kernels: the pairwise-distance bounds of Kolchinsky & Tracey (2017)
(``"kde"``, ``"kde_lower"``) and adaptive KDE (``"akde"``; Chelombiev et al. 2019 §3). All is
vectorised (no loop over samples); input is checked once at the public functions, one
``ValueError`` line naming the argument or layer. :func:`information_plane` runs a history.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from ibcore.models import ACTIVATIONS
from ibcore.schema import check_choice, check_int, check_positive, check_real, describe

ArrayLike = np.ndarray | torch.Tensor

LOW_BY_ACTIVATION: dict[str, float] = {
    "tanh": -1.000001,
    "elu": -1.000001,
    "relu": 0.0,
    "softplus": 0.0,
}
"""The lowest bin edge the authors' code uses per activation (Chelombiev et al. 2019,
``set_up_bins``); other activations get the generic ``min − ε``."""

QUANTILE_BASES = ("unique", "samples")
MAX_OVER = ("running", "snapshot", "layer", "all")
AKDE_SCALES = ("max", "running_max", "range")
KDE_BOUNDS = ("upper", "lower")

_LN2 = math.log(2.0)


# --- input checks: once, at the public functions; private helpers trust them ---


_SHAPES = {
    (2,): "a 2-D array N × d",
    (2, 3): "N × d or snapshots × N × d",
    (3,): "snapshots × N × d",
}


def _hint(name: str, index: str, what: str) -> str:
    return f"; use {name if name.isidentifier() else ''}{index} for {what}"


def _checked(t: object, name: str, ndims: tuple[int, ...]) -> np.ndarray | torch.Tensor:
    """Check type (real numbers), number of dims (``ndims``) and size of a layer, naming ``name``.

    Returns a NumPy array, or a tensor as is; values are not looked at. A 1-D array is refused.
    """
    if torch.is_tensor(t):
        a: np.ndarray | torch.Tensor = t.detach()
        real = not (a.is_complex() or a.dtype in (torch.quint8, torch.qint8, torch.qint32))
    else:
        try:
            a = np.asarray(t)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{name} has the wrong type: expected real numbers ({_SHAPES[ndims]}), got a "
                f"{type(t).__name__} that NumPy cannot convert ({' '.join(str(e).split())})"
            ) from None
        real = a.dtype == np.bool_ or (
            np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating)
        )
    if not real:
        got = describe(t) if a.ndim == 0 else f"{type(t).__name__} of dtype {a.dtype}"
        raise ValueError(
            f"{name} has the wrong type: expected real numbers ({_SHAPES[ndims]}), got {got}"
        )
    shape = tuple(a.shape)
    if len(shape) not in ndims:
        if ndims == (2,) and len(shape) > 2:
            what, hint = "a single snapshot N × d", "; information_plane takes snapshots × N × d"
        else:
            what = _SHAPES[ndims]
            hint = ""
            if len(shape) == 1 and 2 in ndims:
                hint = _hint(name, "[:, None]", "one unit")
            elif len(shape) == 2:
                hint = _hint(name, "[None]", "one snapshot")
        raise ValueError(f"{name} must be {what}; got shape {shape}{hint}")
    if 0 in shape:
        needs = "snapshots, samples and units" if len(shape) == 3 else "samples and units"
        raise ValueError(f"{name} is empty (shape {shape}): a layer needs {needs}")
    return a


def _numpy(a: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    """A checked layer as a NumPy array (float32/float64 kept, others float64); NaN/inf refused."""
    if torch.is_tensor(a):
        a = (a.double() if a.dtype == torch.bfloat16 else a).cpu().numpy()
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf activations; the run diverged upstream")
    return a


def as_layer(t: ArrayLike, name: str = "t") -> np.ndarray:
    """One layer's activations, a single snapshot N × d, checked and as float64 (all chapters).

    Raises ``ValueError`` naming ``name`` for non-real values, not 2-D, empty, or NaN/inf.
    """
    return _numpy(_checked(t, name, (2,)), name).astype(np.float64, copy=False)


def _layer(t: ArrayLike, name: str = "t") -> np.ndarray:
    """One snapshot N × d, checked, as a float array (float32/float64 kept)."""
    return _numpy(_checked(t, name, (2,)), name)


def _snapshots(t: ArrayLike, name: str = "t") -> tuple[np.ndarray, bool]:
    """A layer N × d or S × N × d, checked, as S × N × d, and whether it was a single snapshot."""
    a = _numpy(_checked(t, name, (2, 3)), name)
    return (a[None], True) if a.ndim == 2 else (a, False)


def as_labels(y: ArrayLike, n: int) -> np.ndarray:
    """Check labels: 1-D integers, one per sample (``n``)."""
    a = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
    a = a.reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"labels do not match the samples: {a.shape[0]} labels for {n} samples")
    if not np.issubdtype(a.dtype, np.integer):
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.equal(np.mod(a, 1), 0)):
            raise ValueError("labels must be integers (class indices)")
        a = a.astype(np.int64)
    return a


def _recode(lab: np.ndarray) -> tuple[np.ndarray, int]:
    """Checked labels recoded to 0..K−1; returns (ids, K)."""
    _, ids = np.unique(lab, return_inverse=True)
    ids = ids.reshape(-1).astype(np.int64)
    return ids, int(ids.max()) + 1


def _label_ids(y: ArrayLike, n: int) -> tuple[np.ndarray, int]:
    """Labels checked against ``n`` samples, recoded to 0..K−1; returns (ids, K)."""
    return _recode(as_labels(y, n))


def _chunk(chunk_size: int | None) -> int | None:
    return None if chunk_size is None else check_int("chunk_size", chunk_size, 1)


def _check_dtype(dtype: object) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"parameter 'dtype' must be torch.float32 or torch.float64, got {dtype}")
    return dtype  # type: ignore[return-value]


def _activation_low(activation: str | None) -> float | None:
    """The authors' activation-dependent lowest edge, or None for the generic ``min − ε``."""
    if activation is None:
        return None
    check_choice("activation", activation, tuple(ACTIVATIONS))
    return LOW_BY_ACTIVATION.get(activation)


def _generic_low(mn: np.ndarray, mx: np.ndarray) -> np.ndarray:
    """``min − ε`` with ε = 1e-6 of the largest of range, |min| and |max| (1e-6 if all are 0)."""
    mn = np.asarray(mn, dtype=np.float64)
    mx = np.asarray(mx, dtype=np.float64)
    eps = 1e-6 * np.maximum.reduce([mx - mn, np.abs(mn), np.abs(mx)])
    return mn - np.where(eps > 0, eps, 1e-6)


def _resolve_low(
    low: float | None, activation: str | None, mn: np.ndarray, mx: np.ndarray, name: str
) -> np.ndarray:
    """Per-snapshot lowest edge: explicit ``low``, else by activation, else ``min − ε``."""
    if low is not None:
        lo = np.full(np.shape(mn), check_real("low", low))
    else:
        act_low = _activation_low(activation)
        lo = _generic_low(mn, mx) if act_low is None else np.full(np.shape(mn), act_low)
    if (np.asarray(mn) < lo).any():
        raise ValueError(
            f"{name} has values below the lowest bin edge low={float(np.max(lo))!r}; pass a "
            "smaller 'low', the right 'activation', or neither (low = min − ε)"
        )
    return lo


# --- plug-in MI of binned layers (vectorised over snapshots) ---


def entropy_bits(counts: np.ndarray) -> float:
    """Plug-in entropy in bits of a histogram of counts."""
    c = counts[counts > 0].astype(np.float64)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def discrete_mi(symbols: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """I(X;T) = H(T) and I(T;Y) in bits of a discretised layer (each row of ``symbols`` one symbol).

    ``symbols`` is N × d or 1-D (read as N × 1). Chapters 0 and 2; Shwartz-Ziv & Tishby 2017 §3
    (IDNNs ``calc_information_from_mat``).
    """
    sym = symbols.detach().cpu().numpy() if torch.is_tensor(symbols) else np.asarray(symbols)
    if sym.ndim not in (1, 2):
        raise ValueError(f"symbols must be N × d, or N for one unit; got shape {sym.shape}")
    if 0 in sym.shape:
        raise ValueError(f"symbols is empty (shape {sym.shape}): a layer needs samples and units")
    return _discrete_mi(sym if sym.ndim == 2 else sym[:, None], as_labels(y, sym.shape[0]))


def _discrete_mi(sym: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """:func:`discrete_mi` of checked symbols N × d and labels."""
    _, t_id = np.unique(sym, axis=0, return_inverse=True)
    t_id = t_id.reshape(-1)
    _, y_id = np.unique(y, return_inverse=True)
    n_t = int(t_id.max()) + 1
    h_t = entropy_bits(np.bincount(t_id))
    joint = np.bincount(y_id * n_t + t_id, minlength=n_t * (int(y_id.max()) + 1))
    joint = joint.reshape(-1, n_t)
    p_y = joint.sum(1) / len(t_id)
    h_t_given_y = sum(p * entropy_bits(row) for p, row in zip(p_y, joint, strict=True))
    return h_t, float(max(h_t - h_t_given_y, 0.0))


def _row_keys(codes: np.ndarray, base: int) -> np.ndarray:
    """One int64 key per row of ``codes`` (S × N × d, values in [0, base)), equal rows ⇔ equal keys.

    Mixed-radix code (up to 62 bits); wider rows are cut into chunks made dense by ``np.unique``.
    """
    s, n, d = codes.shape
    bits = max(1, math.ceil(math.log2(max(base, 2))))
    per = max(1, 62 // bits)
    if d <= per:
        w = np.asarray(base, dtype=np.int64) ** np.arange(d, dtype=np.int64)
        return codes @ w if d > 1 else codes[..., 0].astype(np.int64)
    n_chunks = math.ceil(d / per)
    pad = np.zeros((s, n, n_chunks * per - d), dtype=np.int64)
    c = np.concatenate([codes, pad], axis=2).reshape(s * n, n_chunks, per)
    w = np.asarray(base, dtype=np.int64) ** np.arange(per, dtype=np.int64)
    _, inv = np.unique(c @ w, axis=0, return_inverse=True)
    return inv.reshape(s, n).astype(np.int64)


def _sorted_row_entropy(keys: np.ndarray) -> np.ndarray:
    """Plug-in entropy in bits of the symbols in each row of ``keys`` (S × N int64)."""
    s, n = keys.shape
    srt = np.sort(keys, axis=1)
    new = np.ones_like(srt, dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, s * n)).astype(np.float64)
    clogc = np.bincount(starts // n, weights=lengths * np.log2(lengths), minlength=s)
    return np.clip(np.log2(n) - clogc / n, 0.0, np.log2(n))


def _plugin_mi(codes: np.ndarray, base: int, y_id: np.ndarray, n_y: int) -> np.ndarray:
    """I(X;T) = H(T), I(T;Y) = H(T) + H(Y) − H(T, Y) in bits (S × 2) of binned ``codes``."""
    keys = _row_keys(codes.astype(np.int64, copy=False), base)
    if keys.size and keys.max() >= (2**62) // max(n_y, 1):
        _, keys = np.unique(keys, return_inverse=True)
        keys = keys.reshape(codes.shape[:2]).astype(np.int64)
    h_t = _sorted_row_entropy(keys)
    h_ty = _sorted_row_entropy(keys * n_y + y_id[None, :])
    h_y = entropy_bits(np.bincount(y_id, minlength=n_y))
    ity = np.clip(h_t + h_y - h_ty, 0.0, None)
    return np.stack([h_t, np.minimum(ity, h_t)], axis=1)


def _digitize_rows(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.digitize`` of each row of ``v`` (S × M) against its own sorted ``edges`` (S × K).

    Up to 64 edges one comparison pass per edge, more a branchless binary search.
    """
    s, k = edges.shape
    if k <= 64:
        out = np.zeros(v.shape, dtype=np.uint8)
        for j in range(k):
            out += v >= edges[:, j, None]
        return out.astype(np.int64)
    p = 1 << k.bit_length()  # a power of two > K; pad the edges to P − 1 with +inf
    pad = np.full((s, p - 1), np.inf, dtype=edges.dtype)
    pad[:, :k] = edges
    flat = pad.reshape(-1)
    base = (np.arange(s, dtype=np.int64) * (p - 1))[:, None]
    pos = np.zeros(v.shape, dtype=np.int64)
    step = p // 2
    while step:
        pos += (flat[base + pos + (step - 1)] <= v) * step
        step //= 2
    return pos


# --- fixed-width binning: IDNNs grid, Saxe floor grid, Saxe [low, max] grid ---


def bin_fixed(t: ArrayLike, n_bins: int = 30, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """The IDNNs fixed grid: each value to the largest of ``n_bins`` edges on [low, high] ≤ it.

    Chapters 0 and 2; Shwartz-Ziv & Tishby 2017 §3. As the original, values below ``low`` wrap to
    the top edge (NumPy's index −1).
    """
    a = as_layer(t, "t")
    _check_fixed(n_bins, low, high)
    return _fixed_grid(a, n_bins, low, high)


def _check_fixed(n_bins: int, low: float, high: float) -> None:
    check_int("n_bins", n_bins, 2)
    if not check_real("high", high) > check_real("low", low):
        raise ValueError(f"parameter 'high' ({high}) must be greater than 'low' ({low})")


def _fixed_grid(a: np.ndarray, n_bins: int, low: float, high: float) -> np.ndarray:
    """:func:`bin_fixed` of a checked layer ``a``."""
    bins = np.linspace(low, high, n_bins)
    return bins[np.digitize(a, bins) - 1]


def _fixed_codes(a: np.ndarray, n_bins: int, low: float, high: float) -> np.ndarray:
    """Integer version of :func:`bin_fixed` (0..n_bins−1, below-``low`` wrapped to the top)."""
    bins = np.linspace(low, high, n_bins)
    s = a.shape[0]
    idx = _digitize_rows(a.reshape(s, -1), np.broadcast_to(bins, (s, n_bins))).reshape(a.shape)
    idx[idx == 0] = n_bins
    return idx - 1


def mi_fixed_binning(
    t: ArrayLike, y: ArrayLike, n_bins: int = 30, low: float = -1.0, high: float = 1.0
) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits of :func:`bin_fixed` (chapter 0; Shwartz-Ziv & Tishby 2017 §3)."""
    a = as_layer(t, "t")
    _check_fixed(n_bins, low, high)
    return _discrete_mi(_fixed_grid(a, n_bins, low, high), as_labels(y, a.shape[0]))


def _fixed_history(
    a: np.ndarray,
    y_id: np.ndarray,
    n_y: int,
    n_bins: int = 30,
    low: float = -1.0,
    high: float = 1.0,
) -> np.ndarray:
    _check_fixed(n_bins, low, high)
    return _plugin_mi(_fixed_codes(a, n_bins, low, high), n_bins, y_id, n_y)


def bin_floor(t: ArrayLike, binsize: float = 0.07) -> np.ndarray:
    """Saxe et al. (2018) bins ``floor(T / binsize)`` as int64, N × d (chapter 2; ``simplebinmi``).

    float32 input is divided in float32, as in the original.
    """
    a = _layer(t, "t")
    return _floor_codes(a[None], check_positive("binsize", binsize))[0][0]


def _floor_codes(a: np.ndarray, binsize: float) -> tuple[np.ndarray, int]:
    """floor(a / binsize) as int64 (S × N × d) and their radix (range + 1)."""
    fl = np.floor(a / a.dtype.type(binsize))
    if not np.isfinite(fl).all() or np.abs(fl).max() >= 2.0**52:
        raise ValueError(
            f"activations / binsize exceed 2**52 (max |T| = {float(np.abs(a).max())!r}); "
            "use a larger 'binsize'"
        )
    codes = fl.astype(np.int64)
    return codes, int(codes.max() - codes.min()) + 1


def mi_saxe_floor(t: ArrayLike, y: ArrayLike, binsize: float = 0.07) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits with ``floor(T / 0.07)`` bins (chapter 2; Saxe et al. 2018 §2)."""
    a = _layer(t, "t")[None]
    y_id, n_y = _label_ids(y, a.shape[1])
    return tuple(_floor_history(a, y_id, n_y, binsize)[0])  # type: ignore[return-value]


def _floor_history(a: np.ndarray, y_id: np.ndarray, n_y: int, binsize: float = 0.07) -> np.ndarray:
    codes, base = _floor_codes(a, check_positive("binsize", binsize))
    return _plugin_mi(codes - codes.min(), base, y_id, n_y)


def _range_codes(a: np.ndarray, low_s: np.ndarray, high_s: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins ``np.linspace(low, high, n_bins)`` per snapshot → ints 0..n_bins−1."""
    high_s = np.maximum(high_s, low_s)
    edges = np.linspace(low_s, high_s, n_bins, axis=1).astype(a.dtype)
    s, n, d = a.shape
    return (_digitize_rows(a.reshape(s, n * d), edges) - 1).reshape(s, n, d)


def mi_saxe_max(
    t: ArrayLike,
    y: ArrayLike,
    n_bins: int = 30,
    low: float | None = None,
    high: float | None = None,
    activation: str | None = None,
) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits with ``n_bins`` equal-width edges on [low, high] (chapter 2).

    Saxe et al. (2018) and Chelombiev et al. (2019) ``set_up_bins(maxentropy=False)``. ``high``
    defaults to the layer's maximum; ``low`` to explicit, else by ``activation``
    (:data:`LOW_BY_ACTIVATION`), else ``min − ε``. Values below ``low`` raise ``ValueError``.
    """
    a = _layer(t, "t")[None]
    y_id, n_y = _label_ids(y, a.shape[1])
    res = _saxe_max_history({"t": a}, y_id, n_y, n_bins, low, activation, "snapshot", high, "{}")
    return float(res["t"][0, 0]), float(res["t"][0, 1])


def _saxe_max_history(
    layers: Mapping[str, np.ndarray],
    y_id: np.ndarray,
    n_y: int,
    n_bins: int = 30,
    low: float | None = None,
    activation: str | None = None,
    max_over: str = "running",
    high: float | None = None,
    label: str = "layer {!r}",
) -> dict[str, np.ndarray]:
    check_int("n_bins", n_bins, 2)
    check_choice("max_over", max_over, MAX_OVER)
    stats = {k: (a.min(axis=(1, 2)), a.max(axis=(1, 2))) for k, a in layers.items()}
    if high is not None:
        high = check_real("high", high)
        for name, (_, mx) in stats.items():
            if high < mx.max():
                raise ValueError(
                    f"parameter 'high' ({high}) must be >= the maximum of {label.format(name)} "
                    f"({float(mx.max())!r})"
                )
    if max_over == "all":
        g_mn = min(float(mn.min()) for mn, _ in stats.values())
        g_mx = max(float(mx.max()) for _, mx in stats.values())
    out = {}
    for name, a in layers.items():
        mn, mx = stats[name]
        if max_over == "running":
            mn, mx = np.minimum.accumulate(mn), np.maximum.accumulate(mx)
        elif max_over == "layer":
            mn, mx = np.full_like(mn, mn.min()), np.full_like(mx, mx.max())
        elif max_over == "all":
            mn, mx = np.full_like(mn, g_mn), np.full_like(mx, g_mx)
        lo = _resolve_low(low, activation, mn, mx, label.format(name))
        hi = mx.astype(np.float64) if high is None else np.full(mx.shape, high)
        out[name] = _plugin_mi(_range_codes(a, lo, hi, n_bins), n_bins, y_id, n_y)
    return out


# --- EBAB: entropy-based adaptive binning ---


def _ebab_edges(
    a: np.ndarray,
    n_bins: int,
    low: float | None,
    activation: str | None,
    quantile_basis: str,
    name: str = "t",
) -> np.ndarray:
    """EBAB edges for every snapshot of ``a`` (S × N × d) → S × (n_bins + 2), dtype of ``a``."""
    check_int("n_bins", n_bins, 1)
    check_choice("quantile_basis", quantile_basis, QUANTILE_BASES)
    s = a.shape[0]
    srt = np.sort(a.reshape(s, -1), axis=1)
    lo64 = _resolve_low(low, activation, srt[:, 0], srt[:, -1], name)
    valid = srt != lo64[:, None]  # values equal to low are left out (np.setdiff1d in the original)
    lo = lo64.astype(a.dtype)  # the original casts its edges to the data's float32
    if quantile_basis == "unique":
        keep = valid.copy()
        keep[:, 1:] &= srt[:, 1:] != srt[:, :-1]
    else:
        keep = valid
    u = keep.sum(1)  # U: number of values (unique or all) above low, per snapshot
    pos = np.flatnonzero(keep)  # their flat positions, grouped by snapshot in sorted order
    off = np.cumsum(u) - u
    k = np.arange(n_bins)
    ind = (k[None, :] * (u[:, None] / n_bins)).astype(np.int64)  # int(k * (U / B)), as the code
    ind = np.concatenate([ind, (u - 1)[:, None]], axis=1)  # ... then the largest value
    safe = np.where(u[:, None] > 0, off[:, None] + ind, 0)
    vals = srt.reshape(-1)[pos[safe]] if pos.size else np.zeros(ind.shape, dtype=a.dtype)
    vals = np.where(u[:, None] > 0, vals, lo[:, None])  # nothing above low: one bin
    return np.concatenate([lo[:, None], vals], axis=1)


def ebab_edges(
    t: ArrayLike,
    n_bins: int = 30,
    low: float | None = None,
    activation: str | None = None,
    quantile_basis: str = "unique",
) -> np.ndarray:
    """EBAB bin edges ``[low, u[int(k·U/B)] for k < B, u[U−1]]`` of one layer (chapter 2).

    Chelombiev et al. (2019) §3, ``set_up_bins(maxentropy=True)``: u are the sorted unique
    (``quantile_basis="unique"``) or all (``"samples"``) pooled values above ``low``. One row of
    edges for N × d, one per snapshot for S × N × d.
    """
    a, single = _snapshots(t, "t")
    e = _ebab_edges(a, n_bins, low, activation, quantile_basis)
    return e[0] if single else e


def bin_ebab(
    t: ArrayLike,
    n_bins: int = 30,
    low: float | None = None,
    activation: str | None = None,
    quantile_basis: str = "unique",
) -> np.ndarray:
    """EBAB-binned layer: each value to the largest edge ≤ it (chapter 2).

    Chelombiev et al. (2019) §3, the authors' ``bins[np.digitize(v, bins) - 1]``.
    """
    a = _layer(t, "t")[None]
    e = _ebab_edges(a, n_bins, low, activation, quantile_basis)
    idx = _digitize_rows(a.reshape(1, -1), e)
    return np.take_along_axis(e, idx - 1, axis=1).reshape(a.shape[1:])


def _ebab_history(
    a: np.ndarray,
    y_id: np.ndarray,
    n_y: int,
    n_bins: int = 30,
    low: float | None = None,
    activation: str | None = None,
    quantile_basis: str = "unique",
    name: str = "t",
) -> np.ndarray:
    e = _ebab_edges(a, n_bins, low, activation, quantile_basis, name)
    s, n, d = a.shape
    codes = (_digitize_rows(a.reshape(s, n * d), e) - 1).reshape(s, n, d)
    return _plugin_mi(codes, n_bins + 2, y_id, n_y)


def mi_ebab(
    t: ArrayLike,
    y: ArrayLike,
    n_bins: int = 30,
    low: float | None = None,
    activation: str | None = None,
    quantile_basis: str = "unique",
) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits under EBAB (chapter 2; Chelombiev et al. 2019 §3); scale-invariant."""
    a = _layer(t, "t")[None]
    y_id, n_y = _label_ids(y, a.shape[1])
    res = _ebab_history(a, y_id, n_y, n_bins, low, activation, quantile_basis)
    return float(res[0, 0]), float(res[0, 1])


# --- KDE: Kolchinsky–Tracey pairwise-distance bounds, adaptive KDE ---


def _to_tensor(
    t: np.ndarray | torch.Tensor, device: str | torch.device | None, dtype: torch.dtype, name: str
) -> torch.Tensor:
    """A checked layer as a tensor of ``dtype`` on ``device`` (default its own, or CPU).

    NaN/inf raise ``ValueError``, and so do finite values that overflow ``dtype``.
    """
    if torch.is_tensor(t):
        x = t.detach().to(device=device if device is not None else t.device, dtype=dtype)
    else:
        a = np.asarray(t)
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
        x = torch.as_tensor(a, device=device or "cpu").to(dtype)
    if not bool(torch.isfinite(x).all()):
        src = t.detach().double() if torch.is_tensor(t) else torch.as_tensor(np.asarray(t))
        if bool(torch.isfinite(src).all()):
            raise ValueError(
                f"{name} overflows {dtype} (max |value| = {float(src.abs().max()):.3g}); "
                "pass dtype=torch.float64"
            )
        raise ValueError(f"{name} contains NaN or inf activations; the run diverged upstream")
    return x


def _kde_core(
    x: torch.Tensor,
    y_id: np.ndarray,
    n_y: int,
    noise_vars: Sequence[float],
    chunk_size: int | None = None,
) -> np.ndarray:
    """Kolchinsky–Tracey I(X;T), I(T;Y) in bits for each noise variance (V × 2).

    A(S) = ln|S| − mean_{i∈S} ln Σ_{j∈S} exp(−D_ij / 2σ²); I(X;T) = A(all), I(T;Y) = A(all) −
    Σ_y p_y A(y). Gram identity on centred, class-sorted data, ``chunk_size`` rows at a time.
    """
    n = x.shape[0]
    dev = x.device
    order = torch.as_tensor(np.argsort(y_id, kind="stable"), device=dev)
    ys_np = np.sort(y_id, kind="stable")
    counts = np.bincount(ys_np, minlength=n_y)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    blocks = [(int(bounds[k]), int(bounds[k + 1])) for k in range(n_y) if counts[k] > 0]
    cls_of_block = torch.as_tensor(
        np.repeat(np.arange(len(blocks)), counts[counts > 0]), device=dev
    )
    x = x[order]
    x = x - x.mean(0, keepdim=True)
    half_sq = 0.5 * (x * x).sum(1, keepdim=True)
    ones = torch.ones_like(half_sq)
    left = torch.cat([x, -half_sq, ones], 1)  # left_i · right_j = t_i·t_j − |t_i|²/2 − |t_j|²/2
    right = torch.cat([x, ones, -half_sq], 1)  # = −D_ij / 2
    if chunk_size is None:
        budget = 2**26 if dev.type == "cuda" else 2**22
        chunk_size = max(1, budget // n)
    inv_vars = [1.0 / v for v in noise_vars]
    acc_all = torch.zeros(len(inv_vars), dtype=torch.float64, device=dev)
    acc_own = torch.zeros(len(inv_vars), len(blocks), dtype=torch.float64, device=dev)
    for i0 in range(0, n, chunk_size):
        i1 = min(n, i0 + chunk_size)
        logit = left[i0:i1] @ right.T  # −D/2, rows i0..i1, all columns
        logit.diagonal(offset=i0).fill_(0.0)
        cls = cls_of_block[i0:i1]
        for v, inv in enumerate(inv_vars):
            # the last variance reuses the block in place; earlier ones work on a copy
            kern = logit.mul_(inv) if v == len(inv_vars) - 1 else logit * inv
            # D ≥ 0; and exp(−80) ≈ 2e-35 instead of a denormal (slow on CPU), a relative change
            # of at most N·2e-35 to sums that are ≥ 1 (the diagonal term)
            kern.clamp_(min=-80.0, max=0.0).exp_()
            sums = torch.stack([kern[:, a:b].sum(1) for a, b in blocks], 1)  # rows × classes
            own = sums.gather(1, cls[:, None]).squeeze(1)
            acc_all[v] += sums.sum(1).double().log().sum()
            acc_own[v].index_add_(0, cls, own.double().log())
    acc_all_np = acc_all.cpu().numpy()
    acc_own_np = acc_own.cpu().numpy()
    cnt = counts[counts > 0].astype(np.float64)
    a_all = math.log(n) - acc_all_np / n  # V
    a_cls = np.log(cnt)[None, :] - acc_own_np / cnt[None, :]  # V × classes
    ixt = np.clip(a_all / _LN2, 0.0, math.log2(n))
    ity = (a_all - a_cls @ (cnt / n)) / _LN2
    ity = np.clip(ity, 0.0, ixt)
    return np.stack([ixt, ity], axis=1)


def _kde_vars(noise_var: float, bound: str) -> float:
    check_choice("bound", bound, KDE_BOUNDS)
    v = check_positive("noise_var", noise_var)
    return 4.0 * v if bound == "lower" else v


def mi_kde(
    t: ArrayLike,
    y: ArrayLike,
    noise_var: float = 1e-3,
    *,
    bound: str = "upper",
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits of T + N(0, σ² I) by pairwise distances (chapter 2).

    Kolchinsky & Tracey (2017), as in Saxe et al. (2018) §2: ``"upper"`` is the pairwise-KL bound,
    ``"lower"`` the Bhattacharyya bound (4σ²). Torch, ``chunk_size`` kernel rows at a time.
    """
    dtype = _check_dtype(dtype)
    x = _to_tensor(_checked(t, "t", (2,)), device, dtype, "t")
    y_id, n_y = _label_ids(y, x.shape[0])
    res = _kde_core(x, y_id, n_y, [_kde_vars(noise_var, bound)], _chunk(chunk_size))
    return float(res[0, 0]), float(res[0, 1])


def mi_kde_lower(
    t: ArrayLike,
    y: ArrayLike,
    noise_var: float = 1e-3,
    *,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """Bhattacharyya lower bound of :func:`mi_kde` in bits (chapter 2; Kolchinsky & Tracey 2017)."""
    return mi_kde(t, y, noise_var, bound="lower", chunk_size=chunk_size, device=device, dtype=dtype)


def akde_noise_var(
    t: ArrayLike, alpha: float = 0.1, power: float = 1.0, scale: str = "max"
) -> np.ndarray:
    """Adaptive-KDE noise variance σ² = alpha · stat^power per snapshot (chapter 2).

    Chelombiev et al. (2019) §3; ``stat`` is max |T| (``scale="max"``), its running maximum, or
    max − min (``"range"``). A 0-d array for N × d, one per snapshot for S × N × d.
    """
    a, single = _snapshots(t, "t")
    alpha, power = _akde_opts(alpha, power, scale)
    var = _akde_var(a, alpha, power, scale)
    return var[0] if single else var


def _akde_opts(alpha: float, power: float, scale: str) -> tuple[float, float]:
    """Checked aKDE options (alpha, power); ``scale`` one of :data:`AKDE_SCALES`."""
    alpha = check_positive("alpha", alpha)
    power = check_positive("power", power)
    check_choice("scale", scale, AKDE_SCALES)
    return alpha, power


def _akde_var(a: np.ndarray, alpha: float, power: float, scale: str) -> np.ndarray:
    """σ² = alpha · stat^power per snapshot of a checked layer (S × N × d)."""
    if scale == "range":
        stat = a.max(axis=(1, 2)).astype(np.float64) - a.min(axis=(1, 2))
    else:
        stat = np.abs(a).max(axis=(1, 2)).astype(np.float64)
        if scale == "running_max":
            stat = np.maximum.accumulate(stat)
    return alpha * stat**power


def mi_akde(
    t: ArrayLike,
    y: ArrayLike,
    alpha: float = 0.1,
    power: float = 1.0,
    scale: str = "max",
    *,
    bound: str = "upper",
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """I(X;T), I(T;Y) in bits by adaptive KDE (chapter 2; Chelombiev et al. 2019 §3).

    :func:`mi_kde` with σ² = :func:`akde_noise_var`; zero activity gives (0, 0).
    """
    c = _checked(t, "t", (2,))
    a = _numpy(c, "t")
    alpha, power = _akde_opts(alpha, power, scale)
    dtype = _check_dtype(dtype)
    var = float(_akde_var(a[None], alpha, power, scale)[0])
    x = _to_tensor(c, device, dtype, "t")
    y_id, n_y = _label_ids(y, x.shape[0])
    res = _kde_core(x, y_id, n_y, [_kde_vars(var if var > 0 else 1.0, bound)], _chunk(chunk_size))
    return float(res[0, 0]), float(res[0, 1])


def _kde_history(
    layer: np.ndarray | torch.Tensor,
    y_id: np.ndarray,
    n_y: int,
    variances: np.ndarray,
    chunk_size: int | None,
    device: str | torch.device | None,
    dtype: torch.dtype,
    name: str,
) -> np.ndarray:
    out = np.empty((len(variances), 2))
    for s, var in enumerate(variances):
        x = _to_tensor(layer[s], device, dtype, name)
        out[s] = _kde_core(x, y_id, n_y, [float(var)], chunk_size)[0]
    return out


# --- registry and the information plane of a whole history ---


ESTIMATORS: dict[str, Callable[..., tuple[float, float]]] = {
    "fixed": mi_fixed_binning,
    "saxe_floor": mi_saxe_floor,
    "saxe_max": mi_saxe_max,
    "ebab": mi_ebab,
    "kde": mi_kde,
    "kde_lower": mi_kde_lower,
    "akde": mi_akde,
}
"""Single-layer estimators by name: ``fn(T, labels, **options) -> (I(X;T), I(T;Y))`` in bits."""

BINNING_ESTIMATORS = ("fixed", "saxe_floor", "saxe_max", "ebab")
KDE_ESTIMATORS = ("kde", "kde_lower", "akde")


def _kde_plane(
    layers: Mapping[str, np.ndarray | torch.Tensor],
    y_id: np.ndarray,
    n_y: int,
    estimator: str,
    kwargs: dict,
) -> dict[str, np.ndarray]:
    """The kernel estimators over checked layers; options checked once here."""
    chunk_size = kwargs.pop("chunk_size", None)
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", torch.float32)
    if estimator == "akde":
        opts = {k: kwargs.pop(k) for k in ("alpha", "power", "scale", "bound") if k in kwargs}
        bound = opts.pop("bound", "upper")
        check_choice("bound", bound, KDE_BOUNDS)
    else:
        bound = "lower" if estimator == "kde_lower" else kwargs.pop("bound", "upper")
        noise_var = kwargs.pop("noise_var", 1e-3)
    if kwargs:
        raise ValueError(f"unknown options for estimator {estimator!r}: {sorted(kwargs)}")
    chunk_size = _chunk(chunk_size)
    dtype = _check_dtype(dtype)
    if estimator == "akde":
        scale = opts.get("scale", "max")
        alpha, power = _akde_opts(opts.get("alpha", 0.1), opts.get("power", 1.0), scale)
    else:
        fixed_var = _kde_vars(noise_var, bound)
    out = {}
    for name, layer in layers.items():
        if estimator == "akde":
            var = _akde_var(_numpy(layer, f"layer {name!r}"), alpha, power, scale)
            var = np.where(var > 0, var, 1.0) * (4.0 if bound == "lower" else 1.0)
        else:
            var = np.full(len(layer), fixed_var)
        out[name] = _kde_history(
            layer, y_id, n_y, var, chunk_size, device, dtype, f"layer {name!r}"
        )
    return out


def information_plane(
    history: Mapping[str, ArrayLike] | object,
    labels: ArrayLike | None = None,
    estimator: str = "fixed",
    *,
    subsample: int | None = None,
    subsample_seed: int = 0,
    **kwargs: object,
) -> dict[str, np.ndarray]:
    """{layer: S × 2 array of (I(X;T), I(T;Y)) in bits} for a whole recorded history.

    Chapters 0 and 2 (Shwartz-Ziv & Tishby 2017 §3; Chelombiev et al. 2019 §3). ``history`` is
    {layer: S × N × d} or a :class:`~ibcore.train.History`; ``kwargs`` are the estimator's
    options, plus ``max_over`` (saxe_max) and ``scale="running_max"`` (akde) over the history.
    ``subsample`` keeps a seeded random subset of inputs.
    """
    check_choice("estimator", estimator, tuple(ESTIMATORS))
    if isinstance(history, Mapping):
        acts = history
    elif hasattr(history, "activations") and hasattr(history, "probe_labels"):
        acts = history.activations  # type: ignore[attr-defined]
        labels = history.probe_labels if labels is None else labels  # type: ignore[attr-defined]
    else:
        raise TypeError(
            "parameter 'history' must be a mapping {layer: snapshots × samples × units} "
            f"or a training History, got {type(history).__name__}"
        )
    if labels is None:
        raise ValueError("information_plane needs labels when given a plain mapping of activations")
    if not acts:
        raise ValueError("no recorded activations: train with record_epochs and keep_activations")
    layers: dict[str, np.ndarray | torch.Tensor] = {}
    n = None
    for name, snaps in acts.items():
        a = _checked(snaps, f"layer {name!r}", (3,))
        if n is not None and a.shape[1] != n:
            raise ValueError(f"layer {name!r} has {a.shape[1]} samples, the first layer has {n}")
        n = a.shape[1]
        layers[name] = a
    y = as_labels(labels, int(n))  # type: ignore[arg-type]
    if subsample is not None:
        k = check_int("subsample", subsample, 1)
        if k > n:  # type: ignore[operator]
            raise ValueError(f"parameter 'subsample' ({k}) exceeds the number of samples ({n})")
        idx = np.sort(np.random.default_rng(subsample_seed).choice(n, k, replace=False))
        y = y[idx]
        layers = {
            name: s[:, torch.as_tensor(idx, device=s.device)] if torch.is_tensor(s) else s[:, idx]
            for name, s in layers.items()
        }
    y_id, n_y = _recode(y)
    kw = dict(kwargs)
    if estimator in KDE_ESTIMATORS:
        return _kde_plane(layers, y_id, n_y, estimator, kw)
    arrays = {name: _numpy(s, f"layer {name!r}") for name, s in layers.items()}
    if estimator == "saxe_max":
        return _saxe_max_history(arrays, y_id, n_y, **kw)  # type: ignore[arg-type]
    if estimator == "ebab":
        return {
            name: _ebab_history(a, y_id, n_y, **kw, name=f"layer {name!r}")  # type: ignore
            for name, a in arrays.items()
        }
    batched = {"fixed": _fixed_history, "saxe_floor": _floor_history}
    if estimator in batched:
        fn = batched[estimator]
        return {name: fn(a, y_id, n_y, **kw) for name, a in arrays.items()}  # type: ignore
    fn = ESTIMATORS[estimator]  # an estimator registered by a user: one call per snapshot
    return {name: np.array([fn(s, y, **kw) for s in a]) for name, a in arrays.items()}


def compression(ixt: ArrayLike) -> float:
    """Compression of one layer in bits, max_e I(X;T)(e) − I(X;T)(final) (chapters 0 and 2)."""
    try:
        a = np.asarray(ixt, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"compression needs an I(X;T) trajectory of numbers, got {describe(ixt)}"
        ) from None
    if a.ndim == 2:
        a = a[:, 0]
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"compression needs a non-empty I(X;T) trajectory, got shape {a.shape}")
    return float(a.max() - a[-1])
