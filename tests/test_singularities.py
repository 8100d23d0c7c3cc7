"""Tests for ibcore.measures.singularities (Chapter 1: Orhan & Pitkow 2018, skip connections).

Every test builds inputs whose answer is known in closed form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from ibcore.measures.singularities import (
    dead_relu_fraction,
    elimination_fraction,
    elimination_mask,
    epochs_to_accuracy,
    hessian_eigs,
    hessian_full,
    hessian_spectra,
    hessian_summary,
    layer_measures,
    loss_auc,
    normalized_effective_rank,
    overlap_fraction,
    overlap_mask,
    participation_ratio,
    unit_measures,
    weight_elimination_fraction,
    weight_max_cosine,
    weight_norm_ratio,
    weight_overlap_fraction,
    weight_overlap_mask,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny autograd graphs run >10x slower with 2 threads on a busy 2-core box."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _mlp(sizes: list[int], seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(nn.Tanh())
    return nn.Sequential(*mods)


# ------------------------------------------------------------------ elimination


def test_constant_unit_is_eliminated_exactly_one_over_n(rng: np.random.Generator) -> None:
    n = 10
    H = rng.standard_normal((200, n))
    H[:, 3] = 7.25  # constant with a non-zero offset
    mask = elimination_mask(H)
    assert mask.dtype == bool and mask.shape == (n,)
    assert mask.tolist() == [i == 3 for i in range(n)]
    assert elimination_fraction(H) == 1.0 / n


def test_elimination_is_relative_to_median_std(rng: np.random.Generator) -> None:
    H = rng.standard_normal((500, 6))
    H[:, 0] *= 1e-5  # far below 1e-3 · median std → eliminated
    H[:, 1] *= 1e-2  # above threshold → kept
    assert elimination_mask(H).tolist() == [True, False, False, False, False, False]
    # scale invariance: the same units are flagged after multiplying everything by 1e6
    assert elimination_mask(1e6 * H).tolist() == elimination_mask(H).tolist()
    # the threshold matters: with tau = 0.1 unit 1 is eliminated too
    assert elimination_mask(H, tau=0.1).tolist()[:2] == [True, True]
    # reference="max" against the largest std
    H2 = rng.standard_normal((500, 4)) * np.array([1.0, 1.0, 1.0, 1e4])
    assert elimination_mask(H2, tau=1e-3, reference="max").tolist() == [True, True, True, False]
    assert not elimination_mask(H2, tau=1e-3).any()


def test_elimination_accepts_torch_tensor(rng: np.random.Generator) -> None:
    H = torch.randn(64, 5, dtype=torch.float32, requires_grad=True)
    Hc = H.detach().clone()
    Hc[:, 2] = 0.0
    assert elimination_fraction(Hc) == pytest.approx(0.2)
    assert elimination_fraction(H) == 0.0  # graph-attached tensors are accepted


def test_dead_relu_fraction() -> None:
    rng = np.random.default_rng(1)
    F = np.maximum(rng.standard_normal((100, 8)), 0.0)
    F[:, 2] = 0.0  # fully dead
    F[:, 5] = 0.0
    F[17, 5] = 0.3  # active on exactly one sample → not dead
    assert dead_relu_fraction(F) == 1.0 / 8
    F[:, 6] = -0.0  # signed zero still counts as zero output
    assert dead_relu_fraction(F) == 2.0 / 8
    F[:, 7] = -1.0  # constant but non-zero: eliminated, yet not a dead ReLU by definition
    assert dead_relu_fraction(F) == 2.0 / 8


def test_weight_elimination_fraction(rng: np.random.Generator) -> None:
    W = rng.standard_normal((8, 5))
    W[1] *= 1e-4
    W[4] = 0.0
    assert weight_elimination_fraction(W) == 2.0 / 8
    W[1] = W[0] * 0.5  # not small any more
    assert weight_elimination_fraction(W) == 1.0 / 8


# ------------------------------------------------------------------ overlap


def test_scaled_copy_overlaps_both_units(rng: np.random.Generator) -> None:
    n = 10
    H = rng.standard_normal((400, n))
    H[:, 7] = -3.0 * H[:, 2] + 2.0  # negated, scaled, shifted copy
    mask = overlap_mask(H)
    assert mask.tolist() == [i in (2, 7) for i in range(n)]
    assert overlap_fraction(H) == 2.0 / n


def test_near_copy_respects_rho(rng: np.random.Generator) -> None:
    H = rng.standard_normal((2000, 4))
    H[:, 1] = H[:, 0] + 0.2 * H[:, 1]  # corr ≈ 1/sqrt(1.04) ≈ 0.98
    assert overlap_fraction(H, rho=0.99) == 0.0
    assert overlap_fraction(H, rho=0.95) == 0.5


def test_independent_units_do_not_overlap(rng: np.random.Generator) -> None:
    H = rng.standard_normal((500, 20))
    assert not overlap_mask(H).any()
    assert overlap_fraction(H) == 0.0


def test_eliminated_units_are_not_counted_as_overlap(rng: np.random.Generator) -> None:
    H = rng.standard_normal((300, 5))
    H[:, 0] = 1.0
    H[:, 1] = 1.0  # two identical constant units: eliminated, not overlapping
    with np.errstate(all="raise"):  # no 0/0 in the standardisation
        mask = overlap_mask(H)
    assert not mask.any()
    assert elimination_fraction(H) == 2.0 / 5


def test_weight_overlap_on_duplicated_rows(rng: np.random.Generator) -> None:
    W = rng.standard_normal((6, 30))
    W[4] = 2.5 * W[1]  # same direction
    W[5] = -W[0]  # opposite direction is not an overlap for ReLU
    assert weight_overlap_mask(W).tolist() == [False, True, False, False, True, False]
    assert weight_overlap_fraction(W) == 2.0 / 6
    W[3] = 0.0  # zero rows are ignored, without NaN
    with np.errstate(all="raise"):
        assert weight_overlap_fraction(W) == 2.0 / 6


# ------------------------------------------------------------------ rank


@pytest.mark.parametrize("r", [1, 3, 7])
def test_rank_r_product_has_normalized_rank_r_over_n(r: int, rng: np.random.Generator) -> None:
    n = 12
    H = rng.standard_normal((300, r)) @ rng.standard_normal((r, n)) + rng.standard_normal(n)
    assert normalized_effective_rank(H) == r / n


def test_full_rank_and_constant_layers(rng: np.random.Generator) -> None:
    assert normalized_effective_rank(rng.standard_normal((100, 9))) == 1.0
    assert normalized_effective_rank(np.full((50, 4), 3.0)) == 0.0
    assert participation_ratio(np.full((50, 4), 3.0)) == 0.0


def test_participation_ratio_isotropic_and_rank_one(rng: np.random.Generator) -> None:
    n = 10
    iso = rng.standard_normal((20000, n))
    assert participation_ratio(iso) == pytest.approx(1.0, abs=0.01)
    rank1 = np.outer(rng.standard_normal(500), rng.standard_normal(n))
    assert participation_ratio(rank1) == pytest.approx(1.0 / n, rel=1e-9)
    # two equal-variance orthogonal directions → 2/n
    basis = np.linalg.qr(rng.standard_normal((n, 2)))[0].T
    a = rng.standard_normal((4000, 2))
    a = (a - a.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(a.T, bias=True))).T
    assert participation_ratio(a @ basis) == pytest.approx(2.0 / n, rel=1e-9)


# ------------------------------------------------------------------ bundles


def test_layer_and_unit_measures(rng: np.random.Generator) -> None:
    A = rng.standard_normal((200, 4))
    A[:, 0] = 0.5  # layer a: 1 of 4 eliminated
    B = rng.standard_normal((200, 8))
    B[:, 5] = 2.0 * B[:, 4]  # layer b: 2 of 8 overlapping, rank 7/8
    FB = np.maximum(B, 0.0)
    FB[:, 1] = 0.0  # 1 of 8 dead in the branch

    la = layer_measures(A)
    assert la["elim_frac"] == 0.25 and math.isnan(la["dead_relu_frac"])
    assert la["norm_rank"] == 0.75 and la["lin_dep"] == 0.25

    res = unit_measures({"a": A, "b": B}, branches={"b": FB})
    pa, pb = res["per_layer"]["a"], res["per_layer"]["b"]
    assert pb["overlap_frac"] == 0.25 and pb["norm_rank"] == 7 / 8 and pb["elim_frac"] == 0.0
    assert pb["dead_relu_frac"] == 1 / 8
    # elim_frac is pooled over all 12 units; overlap and rank are plain means over layers
    assert res["elim_frac"] == pytest.approx(1 / 12)
    assert res["dead_relu_frac"] == pytest.approx(1 / 8)  # only layer b has a branch
    assert res["overlap_frac"] == pytest.approx((0.0 + 0.25) / 2)
    assert res["norm_rank"] == pytest.approx((0.75 + 7 / 8) / 2)
    assert res["participation_ratio"] == pytest.approx(
        (pa["participation_ratio"] + pb["participation_ratio"]) / 2
    )
    assert math.isnan(unit_measures({"a": A})["dead_relu_frac"])


def test_unit_measures_rejects_bad_mappings(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="layers must be a non-empty mapping"):
        unit_measures({})
    with pytest.raises(ValueError, match=r"branches has keys not in layers: \['c'\]"):
        unit_measures({"a": rng.standard_normal((5, 2))}, branches={"c": np.zeros((5, 2))})
    bad = rng.standard_normal((5, 2))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"layer 'x': H contains NaN or inf"):
        unit_measures({"x": bad})
    with pytest.raises(ValueError, match="F must have the same shape as H"):
        layer_measures(rng.standard_normal((5, 2)), np.zeros((5, 3)))


# ------------------------------------------------------------------ Hessian


def _quadratic_params() -> tuple[np.ndarray, list[torch.Tensor]]:
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    lam = np.array([-2.0, -0.5, 0.0, 1e-9, 0.3, 1.0, 2.0, 3.5, 5.0, 8.0])
    A = Q @ np.diag(lam) @ Q.T
    A = 0.5 * (A + A.T)
    p1 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    p2 = torch.randn(4, dtype=torch.float64, requires_grad=True)
    return A, [p1, p2]


def test_hessian_of_quadratic_is_A() -> None:
    A, params = _quadratic_params()
    At = torch.from_numpy(A)

    def loss_fn() -> torch.Tensor:
        th = torch.cat([p.reshape(-1) for p in params])
        return 0.5 * th @ At @ th + th.sum()

    H = hessian_full(loss_fn, params)
    assert H.dtype == torch.float64 and H.shape == (10, 10)
    np.testing.assert_allclose(H.numpy(), A, rtol=0, atol=1e-10)
    # chunks that do not divide P give the same matrix
    np.testing.assert_allclose(hessian_full(loss_fn, params, chunk_size=3).numpy(), A, atol=1e-10)


def test_hessian_full_row_by_row_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    A, params = _quadratic_params()
    At = torch.from_numpy(A)
    real_grad = torch.autograd.grad
    calls = {"batched": 0, "single": 0}

    def fake_grad(*args: object, **kwargs: object) -> object:
        if kwargs.get("is_grads_batched"):
            calls["batched"] += 1
            raise RuntimeError("batching rule not implemented")
        calls["single"] += 1
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", fake_grad)

    def loss_fn() -> torch.Tensor:
        th = torch.cat([p.reshape(-1) for p in params])
        return 0.5 * th @ At @ th

    H = hessian_full(loss_fn, params, chunk_size=4)
    np.testing.assert_allclose(H.numpy(), A, rtol=0, atol=1e-10)
    assert calls == {"batched": 1, "single": 1 + 10}  # gradient + one pass per row


class _Quadratic(nn.Module):
    """model(x) = 0.5 θᵀAθ, with θ split over two parameter tensors."""

    def __init__(self, A: np.ndarray, dtype: torch.dtype) -> None:
        super().__init__()
        self.register_buffer("A", torch.tensor(A, dtype=dtype))
        self.a = nn.Parameter(torch.randn(3, 2, dtype=dtype))
        self.b = nn.Parameter(torch.randn(4, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        th = torch.cat([self.a.reshape(-1), self.b])
        return 0.5 * th @ self.A @ th + 0.0 * x.sum()


def test_hessian_eigs_quadratic_matches_numpy() -> None:
    A, _ = _quadratic_params()
    model = _Quadratic(A, torch.float64)
    x, y = torch.zeros(3, 1), torch.zeros(3)
    eigs = hessian_eigs(model, x, y, loss=lambda out, _y: out, method="full")
    assert isinstance(eigs, np.ndarray) and eigs.dtype == np.float64
    np.testing.assert_allclose(eigs, np.linalg.eigvalsh(A), rtol=0, atol=1e-10)


def test_hessian_eigs_leaves_model_untouched_and_casts_copy() -> None:
    model = _mlp([4, 6, 3])
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    x = torch.randn(32, 4)
    y = torch.randint(0, 3, (32,))
    eigs = hessian_eigs(model, x, y, method="full")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.training
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), q)
    # reference: a float64 twin with the same weights (hessian_full itself is checked against
    # an independent reference in test_hessian_full_matches_reference_on_mlp)
    m64 = _mlp([4, 6, 3]).double()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    x64 = x.double()
    H = hessian_full(lambda: nn.functional.cross_entropy(m64(x64), y), list(m64.parameters()))
    np.testing.assert_allclose(eigs, np.linalg.eigvalsh(H.numpy()), rtol=0, atol=1e-12)
    # a float32 computation would differ far beyond this tolerance
    assert not np.allclose(eigs, np.linalg.eigvalsh(H.float().double().numpy()), rtol=0, atol=1e-12)


def test_hessian_full_matches_reference_on_mlp() -> None:
    model = _mlp([3, 5, 2], seed=2).double()  # 20 + 12 = 32 parameters
    x = torch.randn(20, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (20,))
    params = list(model.parameters())
    H = hessian_full(lambda: nn.functional.cross_entropy(model(x), y), params, chunk_size=7)
    theta = torch.cat([p.detach().reshape(-1) for p in params])

    def f(th: torch.Tensor) -> torch.Tensor:  # the same MLP written out by hand
        W1, b1, W2, b2 = torch.split(th, [15, 5, 10, 2])
        h = torch.tanh(x @ W1.view(5, 3).T + b1)
        return nn.functional.cross_entropy(h @ W2.view(2, 5).T + b2, y)

    H_ref = torch.autograd.functional.hessian(f, theta)
    assert H.shape == (32, 32)
    torch.testing.assert_close(H, H_ref, rtol=0, atol=1e-12)


def test_lanczos_matches_full_on_small_mlp() -> None:
    model = _mlp([5, 12, 8, 3], seed=1)  # 72 + 104 + 27 = 203 parameters
    assert sum(p.numel() for p in model.parameters()) == 203
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    y = torch.randint(0, 3, (64,), generator=g)
    full = hessian_eigs(model, x, y, method="full")
    assert full.shape == (203,)
    k = 6
    top = hessian_eigs(model, x, y, method="lanczos", k=k, which="LA")
    np.testing.assert_allclose(top, full[-k:], rtol=1e-6)
    bottom = hessian_eigs(model, x, y, method="lanczos", k=k, which="SA")
    np.testing.assert_allclose(bottom, full[:k], rtol=1e-6, atol=1e-9 * np.abs(full).max())
    lm = hessian_eigs(model, x, y, method="lanczos", k=k)  # largest magnitude
    by_mag = full[np.argsort(np.abs(full))[-k:]]
    np.testing.assert_allclose(lm, np.sort(by_mag), rtol=1e-6)
    # "auto" switches on max_params
    auto = hessian_eigs(model, x, y, method="auto", k=k, max_params=100, which="LA")
    np.testing.assert_allclose(auto, full[-k:], rtol=1e-6)
    assert hessian_eigs(model, x, y, method="auto", max_params=1000).shape == (203,)


def test_hessian_summary_on_known_spectrum() -> None:
    eigs = np.array([-3.0, -1.0, -5e-4, 0.0, 0.0, 2e-5, 1e-3, 0.5, 2.0, 10.0])
    s = hessian_summary(eigs, eps_rel=1e-4)  # threshold 1e-3
    assert s["frac_degenerate"] == 0.4  # -5e-4, 0, 0, 2e-5 (1e-3 is not < 1e-3)
    assert s["frac_negative"] == 0.2  # -3, -1; -5e-4 lies in the near-zero band
    assert s["top"] == 10.0 and s["bottom"] == -3.0 and s["max_abs"] == 10.0 and s["n"] == 10
    # thresholds 1e-4, 1e-3, 1e-2
    assert s["frac_degenerate_sweep"] == {1e-5: 0.3, 1e-4: 0.4, 1e-3: 0.5}
    assert s["frac_negative_sweep"] == {1e-5: 0.3, 1e-4: 0.2, 1e-3: 0.2}
    assert hessian_summary(torch.tensor([-4.0, 1.0]))["frac_negative"] == 0.5
    z = hessian_summary(np.zeros(5))
    assert z["frac_degenerate"] == 1.0 and z["frac_negative"] == 0.0


# ------------------------------------------------------------------ learning speed


def test_epochs_to_accuracy() -> None:
    acc = [0.1, 0.5, 0.89, 0.9, 0.95]
    assert epochs_to_accuracy(acc) == 3.0  # first acc >= 0.9, 0-based
    assert epochs_to_accuracy(acc, first_epoch=1) == 4.0
    assert epochs_to_accuracy(acc, target=0.5) == 1.0
    assert epochs_to_accuracy(np.array(acc), target=0.96) == math.inf
    assert epochs_to_accuracy([0.92]) == 0.0
    with pytest.raises(ValueError, match=r"acc_per_epoch must hold fractions in \[0, 1\]"):
        epochs_to_accuracy([10.0, 95.0])
    with pytest.raises(ValueError, match=r"target must be in \(0, 1\]"):
        epochs_to_accuracy(acc, target=1.5)


def test_loss_auc() -> None:
    assert loss_auc([2.0, 1.0, 0.0]) == 2.0
    assert loss_auc([1.0, 1.0, 1.0, 1.0]) == 3.0
    assert loss_auc(torch.tensor([4.0, 0.0])) == 2.0
    with pytest.raises(ValueError, match="loss_per_epoch needs at least 2 entries"):
        loss_auc([1.0])
    with pytest.raises(ValueError, match="loss_per_epoch contains NaN or inf"):
        loss_auc([1.0, float("inf")])


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "fn",
    [
        elimination_fraction,
        dead_relu_fraction,
        overlap_fraction,
        normalized_effective_rank,
        participation_ratio,
    ],
)
def test_activation_measures_reject_bad_input(fn: Callable[[np.ndarray], float]) -> None:
    good = np.random.default_rng(0).standard_normal((10, 3))
    nan = good.copy()
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"H|F"):
        fn(nan)
    with pytest.raises(ValueError, match=r"contains NaN or inf \(1 non-finite"):
        fn(nan)
    inf = good.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="contains NaN or inf"):
        fn(inf)
    with pytest.raises(ValueError, match=r"needs at least 2 samples .*got shape \(1, 3\)"):
        fn(good[:1])
    with pytest.raises(ValueError, match=r"must be a 2-D array .*got shape \(2, 5, 3\)"):
        fn(np.zeros((2, 5, 3)))


def test_bad_input_messages_name_the_argument() -> None:
    msg = re.escape("H must be a 2-D array (samples × units), got shape (4, 2, 3)")
    with pytest.raises(ValueError, match=msg):
        elimination_mask(np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match=re.escape("F must be a 2-D array (samples × units)")):
        dead_relu_fraction(np.zeros(5))
    with pytest.raises(ValueError, match=re.escape("W must be a 2-D array (units × inputs)")):
        weight_overlap_fraction(np.zeros(5))
    good = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(ValueError, match=r"rho must be in \(0, 1\), got 1\.5"):
        overlap_fraction(good, rho=1.5)
    with pytest.raises(ValueError, match=r"rho must be in \(0, 1\)"):
        weight_overlap_fraction(good, rho=0.0)
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\), got -0\.1"):
        elimination_fraction(good, tau=-0.1)
    with pytest.raises(ValueError, match=r"rel_tol must be in \(0, 1\)"):
        normalized_effective_rank(good, rel_tol=2.0)
    with pytest.raises(
        ValueError,
        match=r"parameter 'reference' = 'mean' is not allowed; choose one of \('median', 'max'\)",
    ):
        elimination_mask(good, reference="mean")
    with pytest.raises(ValueError, match=r"eps_rel must be in \(0, 1\)"):
        hessian_summary(np.ones(3), eps_rel=0.0)
    with pytest.raises(ValueError, match="eigs contains NaN or inf"):
        hessian_summary(np.array([1.0, np.nan]))


def test_hessian_bad_input() -> None:
    model = _mlp([2, 3, 2])
    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    with pytest.raises(
        ValueError,
        match=r"parameter 'method' = 'exact' is not allowed; choose one of \('auto', 'full', 'lanczos'\)",
    ):
        hessian_eigs(model, x, y, method="exact")
    with pytest.raises(
        ValueError,
        match=r"parameter 'which' = .* is not allowed; choose one of \('LM', 'LA', 'SA', 'BE'\)",
    ):
        hessian_eigs(model, x, y, method="lanczos", which="XX")
    p32 = torch.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"params\[0\] has dtype torch.float32.*float64"):
        hessian_full(lambda: (p32**2).sum(), [p32])
    p64 = torch.ones(3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="loss_fn must return a scalar tensor, got \\(3,\\)"):
        hessian_full(lambda: p64**2, [p64])
    with pytest.raises(ValueError, match=r"params\[0\] does not require grad"):
        hessian_full(lambda: (p64**2).sum(), [p64.detach()])


# --- weight-space closeness to the singular sets, rescaled Hessian ---


def test_weight_norm_ratio_and_max_cosine_known_answers(rng: np.random.Generator) -> None:
    W = rng.normal(size=(8, 20))
    W[3] = 0.0
    assert weight_norm_ratio(W) == 0.0  # a unit at J = 0
    W[3] = 0.5 * W[5]
    assert weight_norm_ratio(W) == pytest.approx(
        0.5 * np.linalg.norm(W[5]) / np.median(np.linalg.norm(W, axis=1))
    )
    assert weight_max_cosine(W) > 1 / 8 * 2 - 1e-9  # units 3 and 5 are parallel
    Q = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    assert weight_max_cosine(Q) == pytest.approx(0.0, abs=1e-12)  # orthogonal rows
    assert weight_max_cosine(np.tile(rng.normal(size=(1, 5)), (4, 1))) == pytest.approx(1.0)
    assert weight_max_cosine(np.zeros((3, 4))) == 0.0


def test_rescaled_hessian_is_invariant_under_relu_rescaling() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 3))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.bias.normal_()
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    before = hessian_spectra(net, x, y)
    f0 = net(x).detach()
    with torch.no_grad():  # layer 1 × 3, layer 2's weights / 3: the same function
        net[0].weight.mul_(3.0)
        net[0].bias.mul_(3.0)
        net[2].weight.div_(3.0)
    assert torch.allclose(net(x), f0, atol=1e-5)
    after = hessian_spectra(net, x, y)
    assert np.allclose(after["rescaled"], before["rescaled"], atol=1e-6)
    assert not np.allclose(after["raw"], before["raw"], atol=1e-2)  # the raw one moves
    with pytest.raises(ValueError, match=r"every parameter in an nn.Linear"):
        hessian_spectra(nn.Sequential(nn.Conv1d(1, 1, 1), nn.Flatten()), torch.randn(4, 1, 3),
                        torch.randint(0, 3, (4,)))  # fmt: skip


def test_layer_measures_agree_with_the_single_measures(rng: np.random.Generator) -> None:
    """The bundle shares one centring and one spectrum; it must give the functions' answers."""
    layers = [rng.standard_normal((300, 16)), np.maximum(rng.standard_normal((300, 16)), 0)]
    low = rng.standard_normal((300, 3)) @ rng.standard_normal((3, 16))
    low[:, 2] = 0.0
    low[:, 7] = -3.0 * low[:, 5] + 1e-3 * rng.standard_normal(300)
    layers += [low, np.zeros((50, 4)), np.ones((50, 4)) * np.arange(4)]
    for H in layers:
        m = layer_measures(H, tau=1e-3, rho=0.99, rel_tol=1e-3)
        assert m["elim_frac"] == elimination_fraction(H, 1e-3)
        assert m["overlap_frac"] == overlap_fraction(H, 0.99, 1e-3)
        assert m["norm_rank"] == normalized_effective_rank(H, 1e-3)
        assert m["participation_ratio"] == pytest.approx(
            participation_ratio(H), rel=1e-9, abs=1e-12
        )
