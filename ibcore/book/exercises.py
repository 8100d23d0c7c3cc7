"""Checkers for the chapters' coding exercises (``check`` cells, :mod:`ibcore.book.student`): the
student's function against ibcore's own on small cases; ``AssertionError`` names the first miss."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from ibcore.measures.batch_entropy import LBELoss, batch_entropy
from ibcore.measures.information import ebab_edges, mi_akde, mi_fixed_binning
from ibcore.measures.singularities import elimination_fraction, overlap_fraction
from ibcore.measures.zxzy import detect_phases


def _close(got: Any, want: float, what: str, case: str, rtol: float, atol: float) -> None:
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} on {case}: expected a number, got {got!r}") from None
    if not np.isfinite(value) or not np.isclose(value, want, rtol=rtol, atol=atol):
        raise AssertionError(f"{what} on {case}: got {value:.6g}, expected {want:.6g}")


def _ok(exercise: str, n: int, reference: str) -> None:
    print(f"✓ {exercise}: all {n} cases agree with {reference}")


def _pair(got: Any, where: str, names: str) -> Any:
    if not isinstance(got, tuple | list | np.ndarray) or len(got) != 2:
        raise AssertionError(f"{where}: expected {names}, got {got!r}")
    return got


# chapter 0: fixed binning
def _binning_cases() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Small layers (N × d, values in (−1, 1)) with labels, for the chapter-0 checkers."""
    rng = np.random.default_rng(0)
    bits = ((np.arange(4096)[:, None] >> np.arange(12)) & 1).astype(float)
    y_bits = (bits.sum(1) % 2).astype(int)
    yield "all 4096 12-bit inputs, mapped to ±0.9", 1.8 * bits - 0.9, y_bits
    for n, d, s in ((500, 3, 0.3), (1000, 2, 2.0), (4096, 5, 1.0)):
        x = rng.normal(size=(n, d))
        y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
        yield f"tanh of {n} × {d} Gaussians × {s}", np.tanh(s * x), y
    yield "a constant layer (all rows equal)", np.full((300, 4), 0.25), rng.integers(0, 2, 300)
    yield "one unit, 3 classes", np.tanh(rng.normal(size=(900, 1))), rng.integers(0, 3, 900)


def check_binned_entropy(fn: Callable[..., float], n_bins: int = 30) -> None:
    """Chapter 0, exercise 1: ``fn(t, n_bins)`` = H(T) in bits on IDNNs' grid (= I(X;T) here)."""
    cases = list(_binning_cases())
    for case, t, y in cases:
        want = mi_fixed_binning(t, y, n_bins=n_bins)[0]
        _close(fn(t, n_bins), want, "binned_entropy", case, rtol=1e-9, atol=1e-9)
    _ok("binned_entropy", len(cases), "ibcore.measures.information.mi_fixed_binning")


def check_plane_point(fn: Callable[..., tuple[float, float]], n_bins: int = 30) -> None:
    """Chapter 0, exercise 2: ``fn(t, y, n_bins)`` = (I(X;T), I(T;Y)) in bits, as in exercise 1."""
    cases = list(_binning_cases())
    for case, t, y in cases:
        got = _pair(fn(t, y, n_bins), f"plane_point on {case}", "(I(X;T), I(T;Y))")
        want = mi_fixed_binning(t, y, n_bins=n_bins)
        _close(got[0], want[0], "plane_point I(X;T)", case, rtol=1e-9, atol=1e-9)
        _close(got[1], want[1], "plane_point I(T;Y)", case, rtol=1e-9, atol=1e-9)
    _ok("plane_point", len(cases), "ibcore.measures.information.mi_fixed_binning")


# chapter 1: elimination and overlap
def _singularity_cases() -> Iterator[tuple[str, np.ndarray]]:
    """Layers (N × n activations) with known eliminated and overlapping units, for chapter 1."""
    rng = np.random.default_rng(5)
    yield "500 × 8 Gaussians (nothing singular)", rng.normal(size=(500, 8))
    z = rng.normal(size=(400, 10))
    z[:, :3] -= 100.0  # three units that are never on
    yield "ReLU layer, 3 of 10 units dead (all exact zeros)", np.maximum(0.0, z)
    h = rng.normal(size=(400, 6))
    h[:, 1] = 2.0 * h[:, 0] + 1.0
    h[:, 3] = -h[:, 2]
    yield "an affine copy and a negated copy among 6 units", h
    h = rng.normal(size=(600, 7))
    h[:, 0] = 3.0 + 1e-6 * rng.normal(size=600)  # near-constant: eliminated, not overlapping
    h[:, 2] = h[:, 1] + 0.03 * rng.normal(size=600)  # r ≈ 0.9996: overlap
    h[:, 4] = h[:, 3] + 0.5 * rng.normal(size=600)  # r ≈ 0.89: no overlap
    h[:, 6] = 0.25  # exactly constant
    yield "a near-constant unit, a noisy copy (r≈0.9996), a weak pair (r≈0.89)", h
    d = np.maximum(0.0, rng.normal(size=(300, 5)))
    d[:, 1:] = 0.0
    d[:, 1] = 0.25
    yield "one live unit among 5 (nothing left to overlap with)", d
    yield "a dead layer (every unit constant)", np.tile([0.0, 0.25, 0.0, 0.0], (200, 1))


def check_singularity_fractions(fn: Callable[..., tuple[float, float]]) -> None:
    """Chapter 1, exercise 3: ``fn(h, tau, rho)`` = (elimination, overlap); Orhan & Pitkow §2.1."""
    cases = list(_singularity_cases())
    for case, h in cases:
        got = _pair(fn(h, 1e-3, 0.99), f"singularity_fractions on {case}", "(elimination, overlap)")
        _close(got[0], elimination_fraction(h, 1e-3), "elimination fraction", case, 0.0, 1e-9)
        _close(got[1], overlap_fraction(h, 0.99, 1e-3), "overlap fraction", case, 0.0, 1e-9)
    _ok("singularity_fractions", len(cases), "ibcore.measures.singularities")


# chapter 3: batch entropy and the LBE loss
def _batch_entropy_cases() -> Iterator[tuple[str, np.ndarray]]:
    """Activations (batch first, float64) for the chapter-3 checkers."""
    rng = np.random.default_rng(6)
    yield "128 × 32 post-ReLU Gaussians", np.maximum(0.0, rng.normal(size=(128, 32)))
    yield "batch of 4 (unbiased variance matters)", rng.normal(size=(4, 6)) * [1, 2, 3, 4, 5, 6]
    yield "conv map 16 × 3 × 4 × 4 (every entry a unit)", rng.normal(size=(16, 3, 4, 4))
    yield "every input the same vector", np.tile(rng.normal(size=20), (64, 1))
    tiny = 0.3 + 1e-6 * rng.normal(size=(128, 16))
    yield "a deep layer: spread 1e-6 (H ≈ 4e-12 nats)", tiny
    yield "a wide spread (std 100)", 100.0 * rng.normal(size=(50, 8))


def check_batch_entropy(fn: Callable[..., float]) -> None:
    """Chapter 3, exercise 1: ``fn(a)`` = a layer's batch entropy in nats (Peer et al. 2022 §3)."""
    cases = list(_batch_entropy_cases())
    for case, a in cases:
        want = float(batch_entropy(torch.from_numpy(a)))
        _close(fn(a), want, "batch_entropy", case, rtol=1e-9, atol=1e-12)
    _ok("batch_entropy", len(cases), "ibcore.measures.batch_entropy.batch_entropy")


def _lbe_cases() -> Iterator[tuple[str, list[float], float, float]]:
    """(case, raw targets α_l, α_min, β) for chapter 3, exercise 2."""
    yield "targets above the floor", [0.8, 1.2, 0.9], 0.5, 1.0
    yield "targets below the floor (τ = α_min)", [0.1, 0.3, 0.45, 0.2], 0.5, 1.0
    yield "negative targets (τ = |α|)", [-0.9, 0.7, -1.5], 0.2, 0.1
    yield "beta = 0: plain cross-entropy", [2.0, 2.0], 0.2, 0.0
    yield "one layer, strong weight", [1.0], 0.5, 5.0


def check_lbe_loss(fn: Callable[..., float]) -> None:
    """Chapter 3, exercise 2: ``fn(ce, entropies, alphas, alpha_min, beta)`` = the LBE loss
    ``CE · (1 + β · mean_l (H_l − τ_l)²)``, ``τ_l = max(α_min, |α_l|)`` (Peer et al. 2022)."""
    cases = list(_lbe_cases())
    gen = torch.Generator().manual_seed(7)
    for case, alphas, alpha_min, beta in cases:
        crit = LBELoss(len(alphas), lbe_alpha_min=alpha_min, lbe_beta=beta)
        with torch.no_grad():
            crit.lbe_alpha_p.copy_(torch.tensor(alphas))
        scales = torch.logspace(-3, 1, len(alphas), dtype=torch.float64)
        hidden = [s * torch.randn(32, 8, generator=gen, dtype=torch.float64) for s in scales]
        logits = torch.randn(32, 5, generator=gen, dtype=torch.float64)
        target = torch.randint(0, 5, (32,), generator=gen)
        with torch.no_grad():
            c = crit.components(logits, target, hidden)
        got = fn(float(c["ce"]), c["entropies"].numpy(), crit.lbe_alpha_p.detach().double().numpy(),
                 float(crit.lbe_alpha_min), beta)  # fmt: skip
        _close(got, float(c["total"]), "lbe_loss", case, rtol=1e-9, atol=1e-12)
    _ok("lbe_loss", len(cases), "ibcore.measures.batch_entropy.LBELoss")


# chapter 2: adaptive estimators
def _ebab_cases() -> Iterator[tuple[str, np.ndarray, float]]:
    """Layers (N × d, float32 like recorded activations) with the lowest edge, for chapter 2."""
    rng = np.random.default_rng(3)
    g = rng.normal(size=(600, 3)).astype(np.float32)
    yield "600 × 3 Gaussians, low = min - 1e-3", g, float(g.min()) - 1e-3
    yield "ReLU-like (many exact zeros), low = 0", np.maximum(0, 2 * g), 0.0
    sat = np.clip(1.5 * np.tanh(2 * g), -1, 1).astype(np.float32)
    yield "saturated tanh (ties at ±1), low = -1.000001", sat, -1.000001
    few = rng.integers(0, 7, size=(300, 2)).astype(np.float32) / 7
    yield "only 7 distinct values (fewer than the bins), low = -0.5", few, -0.5
    yield "one unit, 4096 values, low = -5", rng.normal(size=(4096, 1)).astype(np.float32), -5.0


def check_ebab_edges(fn: Callable[..., Any], n_bins: int = 30) -> None:
    """Chapter 2, exercise 1: ``fn(t, n_bins, low)`` = EBAB edges (Chelombiev et al. 2019 §3)."""
    cases = list(_ebab_cases())
    for case, t, low in cases:
        want = ebab_edges(t, n_bins, low=low)
        got = np.asarray(fn(t, n_bins, low), dtype=np.float64)
        if got.shape != want.shape:
            raise AssertionError(
                f"ebab_edges on {case}: expected {want.shape[0]} edges, got shape {got.shape}"
            )
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=1e-6))
        if bad.size:
            i = bad[0]
            raise AssertionError(
                f"ebab_edges on {case}: edge {i} is {got[i]:.6g}, expected {want[i]:.6g}"
            )
    _ok("ebab_edges", len(cases), "ibcore.measures.information.ebab_edges")


def _akde_cases() -> Iterator[tuple[str, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(4)
    for n, d, scale, alpha in ((200, 3, 1.0, 0.1), (300, 2, 5.0, 0.1), (250, 4, 0.2, 0.5)):
        t = scale * np.maximum(0, rng.normal(size=(n, d)))
        yield f"ReLU-like {n} × {d} × {scale}, alpha {alpha}", t, rng.integers(0, 2, n), alpha
    t = np.repeat(rng.normal(size=(10, 2)), 20, axis=0)
    yield "10 distinct rows, each 20 times", t, rng.integers(0, 2, 200), 0.01


def check_akde_ixt(fn: Callable[..., float]) -> None:
    """Chapter 2, exercise 2: ``fn(t, alpha)`` = aKDE I(X;T) in bits (Chelombiev et al. 2019 §3)."""
    cases = list(_akde_cases())
    for case, t, y, alpha in cases:
        want = mi_akde(t, y, alpha=alpha)[0]
        _close(fn(t, alpha), want, "akde_ixt", case, rtol=0.0, atol=1e-3)
    _ok("akde_ixt", len(cases), "ibcore.measures.information.mi_akde")


# chapter 4: a closed-form Z-X measure and the phase detector
def zx_linear_reference(z: np.ndarray, x: np.ndarray, n_fit: int) -> float:
    """The linear Z-X measure in closed form (chapter 4, exercise 1; Lyu et al. 2023 §3): the
    held-out MSE of an affine least-squares decoder of X (standardised on the first ``n_fit``)."""
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    sd = x[:n_fit].std(0)
    keep = sd > 1e-8
    xs = (x[:, keep] - x[:n_fit, keep].mean(0)) / sd[keep]
    a = np.hstack([z, np.ones((len(z), 1))])
    w, *_ = np.linalg.lstsq(a[:n_fit], xs[:n_fit], rcond=None)
    return float(((a[n_fit:] @ w - xs[n_fit:]) ** 2).mean())


def _zx_cases() -> Iterator[tuple[str, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 12)) * rng.uniform(0.5, 3, 12) + rng.normal(size=12)
    x[:, 3] = 2.0  # a constant feature: dropped
    yield "Z = X", x.copy(), x, 300
    yield "Z = independent noise", rng.normal(size=(400, 5)), x, 300
    yield "Z = 4 of the 12 features", x[:, :4].copy(), x, 300
    yield "Z = tanh of a random projection", np.tanh(x @ rng.normal(size=(12, 8)) / 4), x, 250


def check_zx_linear(fn: Callable[..., float]) -> None:
    """Chapter 4, exercise 1: ``fn(z, x, n_fit)`` = the linear Z-X MSE (closed form above)."""
    cases = list(_zx_cases())
    for case, z, x, n_fit in cases:
        want = zx_linear_reference(z, x, n_fit)
        _close(fn(z, x, n_fit), want, "zx_linear", case, rtol=1e-6, atol=1e-9)
    _ok("zx_linear", len(cases), "the closed-form least-squares decoder")


def _phase_cases() -> Iterator[tuple[str, np.ndarray]]:
    t = np.linspace(0, 1, 12)
    rng = np.random.default_rng(2)
    yield "rise then fall", np.concatenate([np.linspace(0, 0.4, 4), np.linspace(0.4, 0.1, 8)])
    yield "fall only", 1.0 - 0.5 * t
    yield "flat", np.full(12, 0.3)
    yield "late rise (after the window)", np.concatenate([np.full(9, 0.2), [0.5, 0.6, 0.7]])
    yield "small wiggle", 0.02 * np.sin(6 * t)
    for i in range(3):
        yield f"random walk {i}", np.cumsum(rng.normal(0, 0.05, 15))


def check_phases(fn: Callable[..., tuple[float, float]], min_change: float = 0.05) -> None:
    """Chapter 4, exercise 2: ``fn(info, min_change)`` = (rise, fall) of unsmoothed phases."""
    cases = list(_phase_cases())
    for case, info in cases:
        got = _pair(fn(info, min_change), f"phases on {case}", "(rise, fall)")
        ph = detect_phases(np.arange(len(info)), info, width=1, min_change=min_change)
        _close(got[0], ph.fitting_rise, "phases: fitting rise", case, rtol=1e-9, atol=1e-12)
        _close(got[1], ph.compression_fall, "phases: compression fall", case, 1e-9, 1e-12)
    _ok("phases", len(cases), "ibcore.measures.zxzy.detect_phases(width=1)")


# chapter 5: exact information by counting codes
def _code_cases() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Integer code layers (N × d) with labels, for the chapter-5 checkers."""
    rng = np.random.default_rng(5)
    bits = ((np.arange(4096)[:, None] >> np.arange(12)) & 1).astype(np.int64)
    y = (bits.sum(1) % 2).astype(int)
    yield "the 4096 inputs themselves (an identity layer)", bits, y
    yield "a constant layer", np.zeros((4096, 3), dtype=np.int64), y
    yield "the first 3 input bits", bits[:, :3], y
    yield "8-bit codes of 4 units", rng.integers(0, 256, size=(4096, 4)), y
    yield (
        "4-bit codes of 2 units, other labels",
        rng.integers(0, 16, size=(1000, 2)),
        rng.integers(0, 2, 1000),
    )
    yield "codes that are the label", y[:, None].astype(np.int64), y


def check_exact_entropy(fn: Callable[..., float]) -> None:
    """Chapter 5, exercise 1: ``fn(codes)`` = H(T) in bits of integer code rows (= I(X;T))."""
    from ibcore.measures.exact import entropy_bits

    cases = list(_code_cases())
    for case, codes, _ in cases:
        _close(fn(codes), entropy_bits(codes), "exact_entropy", case, rtol=1e-9, atol=1e-9)
    _ok("exact_entropy", len(cases), "ibcore.measures.exact.entropy_bits")


def check_exact_plane_point(fn: Callable[..., tuple[float, float]]) -> None:
    """Chapter 5, exercise 2: ``fn(codes, y)`` = (I(X;T), I(T;Y)) in bits, counted exactly."""
    from ibcore.measures.exact import information

    cases = list(_code_cases())
    for case, codes, y in cases:
        got = _pair(fn(codes, y), f"exact_plane_point on {case}", "(I(X;T), I(T;Y))")
        want = information(codes, y)
        _close(got[0], want[0], "exact_plane_point I(X;T)", case, rtol=1e-9, atol=1e-9)
        _close(got[1], want[1], "exact_plane_point I(T;Y)", case, rtol=1e-9, atol=1e-9)
    _ok("exact_plane_point", len(cases), "ibcore.measures.exact.information")
