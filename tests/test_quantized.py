"""Chapter 5's quantized nets and exact information (Lorenzen, Igel & Nielsen 2022): the fake
quantization against a NumPy reference of TensorFlow's formula (ties included), its gradient, the
ensemble's ranges, and the exact counts on layers whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibcore.data import load_szt12, szt_task
from ibcore.measures import exact
from ibcore.models import EnsembleMLP, build_mlp
from ibcore.quantized import (
    EMA_DECAY,
    QuantizedEnsembleMLP,
    build_quantized_ensemble,
    fake_quant,
    quant_codes,
)
from ibcore.train import train


def tf_fake_quant(x: np.ndarray, lo: float, hi: float, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """TensorFlow's Nudge and fake-quant functor, written out in NumPy (float64)."""
    qmax = 2**bits - 1
    s = (hi - lo) / qmax
    zp_from_min = -lo / s
    if zp_from_min < 0:
        zp = 0.0
    elif zp_from_min > qmax:
        zp = float(qmax)
    else:
        zp = float(math.floor(zp_from_min + 0.5))  # std::round of a value >= 0
    nlo, nhi = -zp * s, (qmax - zp) * s
    k = np.floor((np.clip(x, nlo, nhi) - nlo) / s + 0.5)
    return k * s + nlo, k


@pytest.mark.parametrize(
    "lo, hi", [(-1.0, 1.0), (-0.3, 2.7), (0.2, 1.4), (-3.0, -0.5), (-6.0, 6.0)]
)
@pytest.mark.parametrize("bits", [4, 8])
def test_fake_quant_matches_tensorflows_formula(lo, hi, bits):
    rng = np.random.default_rng(bits)
    x = rng.uniform(lo - 1, hi + 1, 2000)
    want, k = tf_fake_quant(x, lo, hi, bits)
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    got = fake_quant(t(x), t(lo), t(hi), bits).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(quant_codes(t(x), t(lo), t(hi), bits).numpy(), k)
    assert k.min() >= 0 and k.max() <= 2**bits - 1


def test_ties_at_k_plus_a_half_go_up_unlike_round_half_to_even():
    lo, hi, bits = 0.0, 15.0, 4  # s = 1, nlo = 0: x = k + 0.5 exactly
    x = np.arange(15) + 0.5
    want, k = tf_fake_quant(x, lo, hi, bits)
    got = fake_quant(torch.tensor(x), torch.tensor(lo), torch.tensor(hi), bits).numpy()
    np.testing.assert_array_equal(got, np.minimum(np.arange(15) + 1, 15))
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, np.round(x))  # NumPy's (and torch's) half-to-even differs
    # the zero point is nudged onto the grid: 0 is exactly representable
    z = fake_quant(torch.tensor([0.0]), torch.tensor(-0.3), torch.tensor(2.7), 8)
    assert z.item() == 0.0


def test_the_gradient_passes_inside_the_range_and_to_its_ends_outside():
    x = torch.tensor([[[-2.0, -0.5, 0.0, 0.5, 2.0, 3.0]]], requires_grad=True)
    lo = torch.tensor([[[-1.0]]], requires_grad=True)
    hi = torch.tensor([[[1.0]]], requires_grad=True)
    g = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]])
    fake_quant(x, lo, hi, 8).backward(g)
    # nudged range of [-1, 1] at 8 bits: about [-1.0039, 0.9961]
    assert x.grad.tolist() == [[[0.0, 2.0, 3.0, 4.0, 0.0, 0.0]]]
    assert lo.grad.item() == 1.0 and hi.grad.item() == 5.0 + 6.0


def test_bad_bits_are_refused_in_one_line():
    with pytest.raises(ValueError, match="parameter 'bits' = 16; choose one of"):
        fake_quant(torch.zeros(1), torch.tensor(-1.0), torch.tensor(1.0), 16)
    with pytest.raises(ValueError, match="parameter 'bits'"):
        build_quantized_ensemble([12, 4, 2], "tanh", [0], bits=2)
    with pytest.raises(ValueError, match="one activation of"):
        QuantizedEnsembleMLP([build_mlp([12, 4, 2], "tanh"), build_mlp([12, 4, 2], "relu")])


# --- exact information ---------------------------------------------------------------------------


def test_an_identity_layer_carries_all_twelve_bits_and_h_of_y():
    f, y = szt_task()
    h_y = -sum(p * math.log2(p) for p in np.bincount(y) / len(y))
    ixt, ity = exact.information(f.astype(np.int16), y)
    assert ixt == pytest.approx(12.0) and ity == pytest.approx(h_y)
    assert h_y == pytest.approx(0.99916, abs=1e-5)  # the authors' H(Y) of var_u
    assert exact.injective(f.astype(np.int16))


def test_a_constant_layer_carries_nothing_and_known_partitions_count_right():
    f, y = szt_task()
    assert exact.information(np.zeros((4096, 3), np.int16), y) == (0.0, 0.0)
    # the first bit alone: 1 bit of I(X;T); T = the label itself: I(T;Y) = H(T) = H(Y)
    assert exact.information(f[:, :1].astype(np.int64), y)[0] == pytest.approx(1.0)
    h_y = exact.entropy_bits(y.astype(np.int64))
    assert exact.information(y.astype(np.int64), y) == pytest.approx((h_y, h_y))
    # two bits: 2 bits; a layer that merges the two labels' rows in pairs loses exactly that
    assert exact.entropy_bits(f[:, :2].astype(np.int8)) == pytest.approx(2.0)
    assert not exact.injective(f[:, :11].astype(np.int8))


def test_codes_must_be_integers_never_floats():
    with pytest.raises(ValueError, match="integers"):
        exact.information(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="4 rows of codes but 3 labels"):
        exact.information(np.zeros((4, 2), np.int8), np.array([0, 1, 0]))


def test_the_output_reading_exact_and_theirs():
    # codes (k1, k2): the softmax depends on k1 - k2 only: 4 rows, 2 distinct outputs
    c = np.array([[3, 1], [5, 3], [0, 0], [7, 7]])
    np.testing.assert_array_equal(exact.output_codes(c).ravel(), [2, 2, 0, 0])
    assert exact.entropy_bits(exact.output_codes(c)) == pytest.approx(1.0)
    # their re-binning: round((A - min) 2^b / (max - min)), half to even; constant -> one code
    a = np.array([[0.0, 1.0], [0.5 / 16, 1 - 0.5 / 16], [1.5 / 16, 1 - 1.5 / 16]])
    np.testing.assert_array_equal(exact.rebin(a, 4), [[0, 16], [0, 16], [2, 14]])
    assert exact.rebin(np.full((3, 2), 0.7), 8).tolist() == [[0, 0]] * 3
    with pytest.raises(ValueError, match="N × 2"):
        exact.output_codes(np.zeros((3, 3), np.int8))


# --- the quantized ensemble ----------------------------------------------------------------------


def _data(seeds):
    return [load_szt12(seed=s) for s in seeds]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_float_ensemble_equals_the_plain_ensemble(activation):
    torch.manual_seed(0)
    members = [build_mlp([12, 10, 7, 2], activation) for _ in range(3)]
    q = QuantizedEnsembleMLP(members, bits=None)
    p = EnsembleMLP(members)
    x = torch.randn(3, 50, 12)
    lq, hq = q(x, return_hidden=True)
    lp, hp = p(x, return_hidden=True)
    torch.testing.assert_close(lq, lp)
    for a, b in zip(hq, hp, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_hidden_codes_and_their_rebinning_count_the_same_and_eval_freezes_the_ranges(activation):
    seeds = [3, 4]
    m = build_quantized_ensemble([12, 10, 7, 5, 4, 3, 2], activation, seeds, bits=8)
    train(m, _data(seeds), epochs=3, lr=1e-3, batch_size=256, seed=seeds, progress=False)
    frozen = (m.ema_lo.clone(), m.ema_hi.clone(), m.w_lo.clone(), m.w_hi.clone())
    m.eval()
    x = torch.from_numpy(szt_task()[0].astype(np.float32))
    with torch.no_grad():
        logits, hidden = m(x, return_hidden=True)
    for a, b in zip(frozen, (m.ema_lo, m.ema_hi, m.w_lo, m.w_hi), strict=True):
        assert torch.equal(a, b)  # eval: no range moves
    assert len(m.codes) == 6 and m.codes[0].dtype == torch.int16  # 5 hidden layers, the logits
    y = szt_task()[1]
    for h, c in zip(hidden, m.codes[:-1], strict=True):
        for k in range(2):
            assert int(c[k].min()) >= 0 and int(c[k].max()) <= 255
            # the dequantized values on the authors' grid: the same partition as the codes
            assert exact.information(exact.rebin(h[k].numpy(), 8), y) == pytest.approx(
                exact.information(c[k].numpy(), y)
            )
    m.train()
    with torch.no_grad():
        m(x[:256])
    assert not torch.equal(frozen[0], m.ema_lo)  # training forwards move the averages
    if activation == "tanh":  # the tanh net's hidden kernels stay float
        assert torch.equal(frozen[2][:-1], m.w_lo[:-1])


def test_the_moving_average_updates_as_tensorflow_does():
    m = build_quantized_ensemble([12, 3, 2], "relu", [0], bits=8)
    x = torch.from_numpy(szt_task()[0][:256].astype(np.float32))
    m.train()
    with torch.no_grad():
        m(x)
        w = m.weights[0]  # the hidden kernel, quantized with its own last-value range
        wq = fake_quant(w, w.amin().clamp_max(0), w.amax().clamp_min(0), 8)[0]
        z = torch.relu(x @ wq.T + m.biases[0][0])
    hi = EMA_DECAY * 6.0 + (1 - EMA_DECAY) * max(float(z.max()), 0.0)
    assert m.ema_lo[0].item() == pytest.approx(EMA_DECAY * -6.0, abs=1e-6)  # ReLU: batch min 0
    assert m.ema_hi[0].item() == pytest.approx(hi, abs=1e-6)
    assert abs(m.ema_hi[0].item() - 6.0) > 1e-4  # it moved


def test_each_member_trains_as_it_would_alone():
    seeds = [5, 6]
    both = build_quantized_ensemble([12, 10, 7, 5, 4, 3, 2], "tanh", seeds, bits=8)
    alone = build_quantized_ensemble([12, 10, 7, 5, 4, 3, 2], "tanh", seeds[1:], bits=8)
    hb = train(both, _data(seeds), epochs=2, lr=1e-3, batch_size=256, seed=seeds, progress=False,
               record_epochs=[2])  # fmt: skip
    ha = train(alone, _data(seeds[1:]), epochs=2, lr=1e-3, batch_size=256, seed=seeds[1:],
               progress=False, record_epochs=[2])  # fmt: skip
    for name in ha[0].activations:
        np.testing.assert_allclose(hb[1].activations[name], ha[0].activations[name], atol=1e-5)


@pytest.mark.parametrize("lo_shape", [(), (1,), (3, 1), (1, 3, 1)])
def test_range_gradients_sum_over_whatever_was_broadcast(lo_shape):
    x = torch.linspace(-3, 3, 60).reshape(5, 3, 4).requires_grad_()
    lo = torch.full(lo_shape, -1.0, requires_grad=True)
    hi = torch.full(lo_shape, 1.0, requires_grad=True)
    fake_quant(x, lo, hi, 8).sum().backward()
    assert lo.grad.shape == lo.shape and hi.grad.shape == hi.shape
    below = (x.detach() < -1.0039).sum()  # the nudged range of [-1, 1] at 8 bits
    assert float(lo.grad.sum()) == float(below)
