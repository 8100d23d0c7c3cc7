"""Unit tests for ibcore.measures.batch_entropy (chapter 3; Peer et al. 2022, §3–§4)."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from ibcore.measures.batch_entropy import (
    LBELoss,
    batch_entropy,
    batch_entropy_per_layer,
    ensemble_batch_entropy,
)

PI_E = math.pi * math.e


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def manual_entropy(x: torch.Tensor) -> torch.Tensor:
    """Reference formula written out by hand: unbiased variance (divides by B-1), pi*e, +1, mean."""
    x = x.reshape(x.shape[0], -1)
    b = x.shape[0]
    var = ((x - x.sum(0) / b) ** 2).sum(0) / (b - 1)
    return (0.5 * torch.log(PI_E * var + 1)).mean()


def scaled_layers(scales, batch=64, units=16, seed=0, dtype=torch.float32):
    """Hidden activations with chosen spreads: layer i is scales[i] * N(0, 1)."""
    g = gen(seed)
    return [s * torch.randn(batch, units, generator=g, dtype=dtype) for s in scales]


def classification_batch(batch=64, classes=5, seed=1, dtype=torch.float32):
    g = gen(seed)
    logits = torch.randn(batch, classes, generator=g, dtype=dtype, requires_grad=True)
    target = torch.randint(0, classes, (batch,), generator=g)
    return logits, target


# ------------------------------------------------------------------------------------------------
# batch_entropy
# ------------------------------------------------------------------------------------------------


def test_constant_input_is_exactly_zero_with_zero_gradient():
    x = torch.ones(8, 5, requires_grad=True)
    h = batch_entropy(x)
    assert h.item() == 0.0
    h.backward()
    assert torch.isfinite(x.grad).all()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_units_constant_over_batch_but_different_across_units_give_zero():
    x = torch.tensor([3.0, -2.5, 0.0, 1e3]).expand(16, 4).clone()
    assert batch_entropy(x).item() == 0.0


@pytest.mark.parametrize("s", [0.1, 0.5, 1.0, 3.0])
def test_gaussian_matches_closed_form_within_2_percent(s):
    x = s * torch.randn(4096, 64, generator=gen(int(10 * s)))
    expected = 0.5 * math.log(PI_E * s**2 + 1)
    got = batch_entropy(x).item()
    # 2 % excludes the textbook 0.5*ln(2*pi*e*s^2) (>= 10 % away) and, for s <= 1, dropping the +1
    assert abs(got - expected) / expected < 0.02


def test_gaussian_entropy_is_in_nats_and_increases_with_spread():
    hs = [batch_entropy(s * torch.randn(512, 32, generator=gen(1))).item() for s in (0.1, 1, 10)]
    assert hs[0] < hs[1] < hs[2]
    # Doubling sigma at large sigma adds ln 2 nats (not log2(2) = 1 bit).
    a = batch_entropy(100 * torch.randn(512, 32, generator=gen(2), dtype=torch.float64))
    b = batch_entropy(200 * torch.randn(512, 32, generator=gen(2), dtype=torch.float64))
    assert abs((b - a).item() - math.log(2)) < 1e-4


def test_invariant_to_per_unit_shift_and_batch_order_and_sign():
    x = torch.randn(32, 10, generator=gen(3), dtype=torch.float64)
    shift = 5 * torch.randn(10, generator=gen(4), dtype=torch.float64)
    h = batch_entropy(x)
    torch.testing.assert_close(batch_entropy(x + shift), h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(batch_entropy(x[torch.randperm(32, generator=gen(5))]), h)
    torch.testing.assert_close(batch_entropy(-x), h, rtol=1e-12, atol=1e-12)
    # ... but not to a per-sample shift, which changes every unit's spread.
    sample_shift = torch.randn(32, 1, generator=gen(6), dtype=torch.float64)
    assert abs(batch_entropy(x + sample_shift).item() - h.item()) > 1e-3


def test_uses_unbiased_variance_per_unit_and_mean_over_units():
    x = torch.tensor([[0.0, 1.0], [1.0, 3.0], [2.0, -1.0], [5.0, 0.5]], dtype=torch.float64)
    b = x.shape[0]
    var_unbiased = x.var(0, unbiased=False) * b / (b - 1)
    expected = (0.5 * torch.log(PI_E * var_unbiased + 1)).mean()
    biased = (0.5 * torch.log(PI_E * x.var(0, unbiased=False) + 1)).mean()
    got = batch_entropy(x)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(got, manual_entropy(x), rtol=1e-12, atol=0)
    assert abs(got.item() - biased.item()) > 0.05  # the B-1 divisor matters at B = 4
    # Arithmetic mean over units, not a sum.
    per_unit = [batch_entropy(x[:, [u]]).item() for u in range(2)]
    assert got.item() == pytest.approx(sum(per_unit) / 2, rel=1e-12)


def test_conv_input_equals_flattened_every_pixel_a_unit():
    x = torch.randn(16, 3, 4, 5, generator=gen(7), dtype=torch.float64)
    h = batch_entropy(x)
    assert torch.equal(h, batch_entropy(x.reshape(16, -1)))
    torch.testing.assert_close(h, manual_entropy(x), rtol=1e-12, atol=0)
    # Units are pixels, not channels: pooling spatially first gives a different number.
    assert abs(batch_entropy(x.mean(dim=(2, 3))).item() - h.item()) > 0.05


def test_gradient_flows_and_pushes_spread_up():
    s = torch.tensor(0.7, requires_grad=True)
    z = torch.randn(64, 8, generator=gen(8))
    batch_entropy(s * z).backward()
    assert s.grad.item() > 0


def test_half_precision_input_is_upcast():
    x = torch.randn(64, 8, generator=gen(9))
    h16 = batch_entropy(x.to(torch.bfloat16))
    assert h16.dtype == torch.float32
    torch.testing.assert_close(h16, batch_entropy(x.to(torch.bfloat16).float()))


def test_batch_of_one_raises():
    with pytest.raises(
        ValueError, match="batch_entropy needs a batch of at least 2 samples, got 1"
    ):
        batch_entropy(torch.randn(1, 5))


@pytest.mark.parametrize("shape", [(8,), ()])
def test_fewer_than_two_dims_raises(shape):
    with pytest.raises(ValueError, match="at least 2 dims"):
        batch_entropy(torch.randn(shape))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_raises(bad):
    x = torch.randn(8, 5)
    x[3, 2] = bad
    with pytest.raises(ValueError, match="contains NaN or inf activations"):
        batch_entropy(x)


def test_variance_overflow_raises_with_its_own_message():
    x = torch.tensor([[3e38], [-3e38]])  # finite float32, but the variance overflows
    with pytest.raises(ValueError, match="not finite.*overflowed"):
        batch_entropy(x)


def test_integer_and_empty_inputs_raise():
    with pytest.raises(ValueError, match="floating-point"):
        batch_entropy(torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="no units"):
        batch_entropy(torch.ones(4, 0))


# ------------------------------------------------------------------------------------------------
# batch_entropy_per_layer
# ------------------------------------------------------------------------------------------------


def test_per_layer_stacks_batch_entropy_of_each_layer():
    hidden = scaled_layers([0.0, 0.3, 2.0]) + [torch.randn(64, 2, 3, 3, generator=gen(10))]
    h = batch_entropy_per_layer(hidden)
    assert h.shape == (4,)
    for i, a in enumerate(hidden):
        assert torch.equal(h[i], batch_entropy(a))
    assert h[0].item() == 0.0 and h[1] < h[2]


def test_per_layer_names_the_bad_layer_and_rejects_empty():
    hidden = scaled_layers([1.0, 1.0, 1.0])
    hidden[2][0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"hidden\[2\] contains NaN or inf"):
        batch_entropy_per_layer(hidden)
    with pytest.raises(ValueError, match=r"at least 2 samples, got 1 \(hidden\[1\]"):
        batch_entropy_per_layer([torch.randn(4, 3), torch.randn(1, 3)])
    with pytest.raises(ValueError, match="at least one layer"):
        batch_entropy_per_layer([])


def test_per_layer_refuses_layers_of_different_batch_sizes():
    hidden = [torch.randn(8, 3), torch.randn(8, 2, 2), torch.randn(6, 3), torch.randn(5, 3)]
    msg = (
        "hidden[2] has batch size 6 but hidden[0] has 8: every layer must come from the same batch"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$") as exc:
        batch_entropy_per_layer(hidden)
    assert "\n" not in str(exc.value)
    logits, target = classification_batch(batch=8)
    for beta in (1.0, 0.0):  # the logged entropies of the CE baseline are checked too
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            LBELoss(num_layers=4, lbe_beta=beta)(logits, target, hidden)


# ------------------------------------------------------------------------------------------------
# LBELoss
# ------------------------------------------------------------------------------------------------


def test_lbe_loss_matches_manual_formula_float64():
    scales = [0.05, 0.5, 2.0, 8.0]
    hidden = scaled_layers(scales, dtype=torch.float64)
    logits, target = classification_batch(dtype=torch.float64)
    # alpha_min = 0.25 is exact in float32, so .double() does not perturb the buffer.
    crit = LBELoss(num_layers=6, lbe_alpha=0.5, lbe_alpha_min=0.25, lbe_beta=0.7).double()
    with torch.no_grad():
        crit.lbe_alpha_p.copy_(torch.tensor([1.5, -0.1, -2.5, 0.2, 9.0, 9.0]))
    out = crit.components(logits, target, hidden)

    ce = F.cross_entropy(logits, target)
    alphas = [1.5, -0.1, -2.5, 0.2]  # only the first len(hidden) alphas are used
    terms = [
        0.7 * (manual_entropy(a) - max(0.25, abs(al))) ** 2
        for a, al in zip(hidden, alphas, strict=True)
    ]
    lbe = sum(terms) / len(terms) * ce
    torch.testing.assert_close(out["ce"], ce, rtol=0, atol=0)
    torch.testing.assert_close(out["lbe"], lbe, rtol=1e-12, atol=0)
    torch.testing.assert_close(out["total"], ce + lbe, rtol=1e-12, atol=0)
    factor = 1 + 0.7 * torch.stack([t / 0.7 for t in terms]).mean()
    torch.testing.assert_close(out["total"], ce * factor, rtol=1e-12, atol=0)
    torch.testing.assert_close(crit(logits, target, hidden), out["total"], rtol=0, atol=0)
    torch.testing.assert_close(
        out["targets"], torch.tensor([1.5, 0.25, 2.5, 0.25], dtype=torch.float64)
    )
    assert out["lbe"].item() > 0.01 * ce.item()  # the regulariser is really active here


def test_lbe_loss_float32_default_and_detached_logging():
    hidden = scaled_layers([0.1, 1.0, 4.0])
    logits, target = classification_batch()
    crit = LBELoss(num_layers=3)  # our CPU defaults: alpha=0.5, alpha_min=0.5, beta=1.0
    assert (crit.lbe_alpha, float(crit.lbe_alpha_min), crit.lbe_beta) == (0.5, 0.5, 1.0)
    out = crit.components(logits, target, hidden)
    h = batch_entropy_per_layer(hidden)
    ce = F.cross_entropy(logits, target)
    expected = ce + torch.mean(1.0 * (h - 0.5) ** 2) * ce
    torch.testing.assert_close(out["total"], expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(out["entropies"], h.detach(), rtol=0, atol=0)
    assert not out["entropies"].requires_grad and not out["targets"].requires_grad
    assert out["total"].requires_grad and out["lbe"].requires_grad
    assert out["total"].dim() == 0 and out["entropies"].shape == (3,)


def test_equals_ce_when_every_entropy_hits_its_target():
    hidden = scaled_layers([0.3, 1.0, 5.0])
    logits, target = classification_batch()
    crit = LBELoss(num_layers=3, lbe_alpha=1.0, lbe_alpha_min=0.01, lbe_beta=2.0)
    h = batch_entropy_per_layer(hidden).detach()
    with torch.no_grad():
        crit.lbe_alpha_p.copy_(h * torch.tensor([1.0, -1.0, 1.0]))  # sign is irrelevant (abs)
    out = crit.components(logits, target, hidden)
    assert out["lbe"].item() == 0.0
    assert torch.equal(out["total"], F.cross_entropy(logits, target))
    # The floor alone can also be the target: all alphas below alpha_min.
    same = [hidden[1], hidden[1].flip(0)]
    floor = LBELoss(num_layers=2, lbe_alpha=0.0, lbe_alpha_min=float(h[1]), lbe_beta=2.0)
    assert floor(logits, target, same).item() == pytest.approx(
        F.cross_entropy(logits, target).item(), rel=1e-6
    )


def test_alpha_gradient_sign_and_value():
    # H(scale 1) ~ 1.13 nats, H(scale 10) ~ 3.37 nats; |alpha| = 2 lies in between.
    hidden = scaled_layers([1.0, 10.0, 1.0, 10.0, 1.0], batch=256, dtype=torch.float64)
    logits, target = classification_batch(dtype=torch.float64)
    beta, alpha_min = 0.5, 0.5
    crit = LBELoss(num_layers=7, lbe_alpha=2.0, lbe_alpha_min=alpha_min, lbe_beta=beta).double()
    alpha = torch.tensor([2.0, 2.0, -2.0, -2.0, 0.1, 2.0, 2.0], dtype=torch.float64)
    with torch.no_grad():
        crit.lbe_alpha_p.copy_(alpha)
    crit(logits, target, hidden).backward()
    grad = crit.lbe_alpha_p.grad
    h = batch_entropy_per_layer(hidden).detach()
    tau = torch.maximum(torch.tensor(alpha_min, dtype=torch.float64), alpha[:5].abs())
    ce = F.cross_entropy(logits, target).detach()

    # sign(d total / d alpha_l) = sign(tau_l - H_l) * sign(alpha_l) above the floor.
    expected_sign = torch.tensor([1.0, -1.0, -1.0, 1.0])
    assert torch.equal(torch.sign(tau[:4] - h[:4]) * torch.sign(alpha[:4]), expected_sign)
    assert torch.equal(torch.sign(grad[:4]), expected_sign)
    # Value: -2 * beta * CE / L * (H_l - |alpha_l|) * sign(alpha_l), with L = len(hidden) = 5.
    analytic = -2 * beta * ce / 5 * (h[:4] - alpha[:4].abs()) * torch.sign(alpha[:4])
    torch.testing.assert_close(grad[:4], analytic, rtol=1e-10, atol=0)
    # Below the floor (|0.1| < alpha_min) the gradient is exactly zero; unused alphas too.
    assert grad[4].item() == 0.0
    assert torch.equal(grad[5:], torch.zeros(2, dtype=torch.float64))


def test_optimiser_step_moves_targets_towards_entropy():
    hidden = scaled_layers([1.0, 10.0], batch=128)  # H ~ 1.13 and ~ 3.37 nats
    logits, target = classification_batch()
    crit = LBELoss(num_layers=2, lbe_alpha=2.0, lbe_alpha_min=0.2, lbe_beta=1.0)
    params = list(crit.parameters())
    assert len(params) == 1 and params[0] is crit.lbe_alpha_p
    opt = torch.optim.SGD(params, lr=0.1)  # (Adam's first construction costs ~1 s of imports)
    crit(logits, target, hidden).backward()
    opt.step()
    a = crit.lbe_alpha_p.detach()
    assert a[0] < 2.0 < a[1]


def test_loss_gradient_raises_entropy_of_collapsed_layer():
    s = torch.tensor(0.05, requires_grad=True)  # H ~ 0.01 nats, far below the target of 1.0
    z = torch.randn(64, 16, generator=gen(11))
    logits, target = classification_batch()
    crit = LBELoss(num_layers=1, lbe_alpha=1.0, lbe_alpha_min=1.0, lbe_beta=1.0)
    crit(logits, target, [s * z]).backward()
    assert s.grad.item() < 0  # gradient descent increases the spread, hence the entropy


def test_beta_zero_equals_cross_entropy_exactly():
    hidden = scaled_layers([0.1, 3.0])
    logits, target = classification_batch()
    crit = LBELoss(num_layers=2, lbe_alpha=0.0, lbe_alpha_min=0.2, lbe_beta=0.0)
    total = crit(logits, target, hidden)
    ce = F.cross_entropy(logits, target)
    assert torch.equal(total, ce)
    (g_total,) = torch.autograd.grad(total, logits)
    (g_ce,) = torch.autograd.grad(ce, logits)
    assert torch.equal(g_total, g_ce)
    out = crit.components(logits, target, hidden)
    assert out["lbe"].item() == 0.0
    torch.testing.assert_close(out["entropies"], batch_entropy_per_layer(hidden).detach())
    assert torch.equal(crit(logits, target, []), ce)  # no hidden layers needed for the baseline


def test_runs_on_cpu_with_alpha_min_as_buffer():
    crit = LBELoss(num_layers=3, lbe_alpha=0.5, lbe_alpha_min=0.25, lbe_beta=1.0)
    assert crit.lbe_alpha_min.device.type == "cpu"
    assert "lbe_alpha_min" in dict(crit.named_buffers())
    assert "lbe_alpha_min" in crit.state_dict()
    assert [n for n, _ in crit.named_parameters()] == ["lbe_alpha_p"]
    assert torch.equal(crit.lbe_alpha_p.detach(), torch.full((3,), 0.5))
    logits, target = classification_batch()
    assert torch.isfinite(crit(logits, target, scaled_layers([1.0, 1.0]))).item()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    crit = LBELoss(num_layers=2, lbe_alpha=0.5, lbe_alpha_min=0.25, lbe_beta=1.0).to("cuda")
    assert crit.lbe_alpha_min.device.type == "cuda"
    hidden = [a.cuda() for a in scaled_layers([0.5, 2.0])]
    logits, target = classification_batch()
    total = crit(logits.detach().cuda(), target.cuda(), hidden)
    total.backward()
    cpu = LBELoss(num_layers=2, lbe_alpha=0.5, lbe_alpha_min=0.25, lbe_beta=1.0)
    torch.testing.assert_close(total.cpu(), cpu(logits, target, scaled_layers([0.5, 2.0])))
    assert crit.lbe_alpha_p.grad.device.type == "cuda"


def test_too_many_hidden_layers_raises_naming_both_numbers():
    crit = LBELoss(num_layers=2)
    logits, target = classification_batch()
    with pytest.raises(ValueError, match=r"got 3 hidden activations.*num_layers=2"):
        crit(logits, target, scaled_layers([1.0, 1.0, 1.0]))
    # Fewer layers than num_layers is allowed (the authors' deep vanilla FNN does this).
    assert torch.isfinite(crit(logits, target, scaled_layers([1.0])))


def test_empty_hidden_with_positive_beta_raises():
    crit = LBELoss(num_layers=2, lbe_beta=0.1)
    logits, target = classification_batch()
    with pytest.raises(ValueError, match="no hidden activations while lbe_beta > 0"):
        crit(logits, target, [])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lbe_alpha": -0.1}, "lbe_alpha"),
        ({"lbe_beta": -1.0}, "lbe_beta"),
        ({"lbe_alpha_min": -0.5}, "lbe_alpha_min"),
        ({"lbe_beta": float("nan")}, "lbe_beta"),
        ({"num_layers": 0}, "num_layers"),
        ({"num_layers": 2.5}, "num_layers"),
    ],
)
def test_invalid_hyperparameters_raise(kwargs, name):
    args = {"num_layers": 3, **kwargs}
    with pytest.raises(ValueError, match=name):
        LBELoss(**args)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"lbe_beta": "abc"}, "lbe_beta must be a finite number >= 0, got str 'abc'"),
        ({"lbe_alpha": "0.5"}, "lbe_alpha must be a finite number >= 0, got str '0.5'"),
        ({"lbe_alpha_min": None}, "lbe_alpha_min must be a finite number >= 0, got NoneType None"),
        ({"num_layers": "3"}, "num_layers must be an integer >= 1, got '3'"),
        ({"num_layers": float("inf")}, "num_layers must be an integer >= 1, got inf"),
    ],
)
def test_hyperparameters_of_the_wrong_type_raise_one_line(kwargs, msg):
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$") as exc:
        LBELoss(**{"num_layers": 3, **kwargs})
    assert "\n" not in str(exc.value)


def test_alpha_and_beta_zero_mismatch_is_allowed():
    logits, target = classification_batch()
    hidden = scaled_layers([0.1])
    crit = LBELoss(num_layers=1, lbe_alpha=0.0, lbe_alpha_min=0.4, lbe_beta=1.0)
    out = crit.components(logits, target, hidden)
    assert out["targets"].item() == pytest.approx(0.4)  # the floor becomes the target
    assert out["lbe"].item() > 0
    assert torch.equal(LBELoss(1, lbe_alpha=0.5, lbe_beta=0.0)(logits, target, hidden), out["ce"])


def test_ensemble_entropy_of_feature_major_views_equals_the_batch_major_copies():
    """EnsembleMLP hands its layers as (K, B, U) views of (K, U, B) tensors: same values, same
    gradients as contiguous (K, B, U) layers, through the contiguous path."""
    g = torch.Generator().manual_seed(3)
    fm = [torch.randn(4, 16, 32, generator=g, dtype=torch.float64).requires_grad_()
          for _ in range(3)]  # fmt: skip
    views = [t.transpose(1, 2) for t in fm]  # (K, B, U), not contiguous
    copies = [v.detach().clone().requires_grad_() for v in views]
    a, b = ensemble_batch_entropy(views), ensemble_batch_entropy(copies)
    torch.testing.assert_close(a, b)
    w = torch.randn(a.shape, generator=g, dtype=torch.float64)
    (a * w).sum().backward()
    (b * w).sum().backward()
    for t, c in zip(fm, copies, strict=True):
        torch.testing.assert_close(t.grad.transpose(1, 2), c.grad)
    per_member = torch.stack([batch_entropy_per_layer([v[k] for v in views]) for k in range(4)])
    torch.testing.assert_close(a, per_member)


def test_feature_major_entropies_gradcheck():
    from ibcore.measures.batch_entropy import _FeatureMajorEntropies

    g = torch.Generator().manual_seed(5)
    layers = [torch.randn(2, 3, 6, generator=g, dtype=torch.float64).requires_grad_()
              for _ in range(2)]  # fmt: skip
    assert torch.autograd.gradcheck(_FeatureMajorEntropies.apply, tuple(layers))
