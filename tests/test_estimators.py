"""Tests for ibcore.measures.information (chapters 0 and 2).

Binning after Shwartz-Ziv & Tishby 2017 and Saxe et al. 2018, the KDE upper bound of Kolchinsky &
Tracey 2017, EBAB and aKDE of Chelombiev et al. 2019 §3; the known answers are our checks.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp

from ibcore.data import szt_task
from ibcore.measures import information as E

F, Y = szt_task()
H_Y = -(2118 / 4096 * math.log2(2118 / 4096) + 1978 / 4096 * math.log2(1978 / 4096))
BINNING = ("fixed", "saxe_floor", "saxe_max", "ebab")
KERNEL = ("kde", "kde_lower", "akde")
ALL = BINNING + KERNEL


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def run(name: str, t, y, **kw) -> tuple[float, float]:
    return E.ESTIMATORS[name](t, y, **kw)


@contextlib.contextmanager
def one_line(msg: str) -> Iterator[pytest.ExceptionInfo]:
    """Expect a ``ValueError`` whose message is exactly the one line ``msg``."""
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$") as exc:
        yield exc
    assert "\n" not in str(exc.value)


# ------------------------------------------------------------------------------------------------
# references written out by hand
# ------------------------------------------------------------------------------------------------


def ref_kde(t: np.ndarray, y: np.ndarray, var: float) -> tuple[float, float]:
    """Kolchinsky–Tracey upper bound in float64 NumPy, the full N × N matrix."""
    t = np.asarray(t, dtype=np.float64)
    d2 = ((t[:, None, :] - t[None, :, :]) ** 2).sum(-1)
    logit = -d2 / (2 * var)
    n = len(t)
    a_all = math.log(n) - logsumexp(logit, axis=1).mean()
    a_cls = 0.0
    for k in np.unique(y):
        m = y == k
        a_cls += m.mean() * (math.log(m.sum()) - logsumexp(logit[np.ix_(m, m)], axis=1).mean())
    return a_all / math.log(2), (a_all - a_cls) / math.log(2)


def ref_ebab_edges(values: np.ndarray, low: float, num_of_bins: int = 30) -> np.ndarray:
    """The authors' ``set_up_bins`` loop (Chelombiev et al. code, maxentropy=True), verbatim."""
    layer_bins = [low]
    unique = np.unique(np.squeeze(values.reshape(1, -1)))
    unique = np.sort(np.setdiff1d(unique, layer_bins))
    if unique.size > 0:
        for k in range(num_of_bins):
            ind = int(k * (unique.size / num_of_bins))
            layer_bins.append(unique[ind])
        layer_bins.append(unique[-1])
    return np.asarray(layer_bins)


# ------------------------------------------------------------------------------------------------
# known answers
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BINNING)
def test_three_bit_code_is_three_bits(name):
    ixt, ity = run(name, F[:, :3], Y)
    assert ixt == pytest.approx(3.0, abs=1e-12)
    assert 0 <= ity <= ixt


@pytest.mark.parametrize("name", ("kde", "kde_lower"))
def test_three_bit_code_kde_small_noise(name):
    ixt, _ = run(name, F[:, :3], Y, noise_var=1e-6)
    assert ixt == pytest.approx(3.0, abs=1e-5)


@pytest.mark.parametrize("name", BINNING)
def test_t_equals_y_gives_h_y(name):
    _, ity = run(name, Y[:, None], Y)
    assert E.entropy_bits(np.bincount(Y)) == pytest.approx(H_Y, abs=1e-12)  # H(Y) of 2118/1978
    assert ity == pytest.approx(H_Y, abs=1e-12)


def test_t_equals_y_kde():
    ixt, ity = E.mi_kde(Y[:, None], Y, noise_var=1e-4)
    assert ixt == pytest.approx(H_Y, abs=1e-5) and ity == pytest.approx(H_Y, abs=1e-5)


def test_ebab_single_continuous_neuron():
    t = rng(0).normal(size=(4096, 1))
    ixt, _ = E.mi_ebab(t, Y)
    assert ixt == pytest.approx(4.909, abs=0.02)


def test_ebab_beats_fixed_on_relu_like_data():
    t = 5 * np.maximum(0.0, rng(1).normal(size=(4096, 3)))
    fixed = E.mi_fixed_binning(t, Y)[0]
    assert E.mi_ebab(t, Y)[0] > fixed + 3
    assert E.mi_ebab(t, Y, activation="relu")[0] > fixed + 3


def test_ebab_scale_invariance_is_exact():
    t = rng(2).normal(size=(1000, 4))
    y = Y[:1000]
    for c in (100.0, 8.0, 1e-3):
        assert E.mi_ebab(c * t, y) == E.mi_ebab(t, y)
    r = np.maximum(t, 0)
    assert E.mi_ebab(100 * r, y, activation="relu") == E.mi_ebab(r, y, activation="relu")


def test_akde_power_two_is_scale_invariant_power_one_is_not():
    t = rng(3).normal(size=(600, 5)).astype(np.float32)
    y = Y[:600]
    base = np.array(E.mi_akde(t, y, power=2))
    for c in (0.1, 7.0):
        assert np.allclose(E.mi_akde(c * t, y, power=2), base, atol=1e-4)
    assert abs(E.mi_akde(7 * t, y, power=1)[0] - E.mi_akde(t, y, power=1)[0]) > 0.1


def test_kde_tends_to_log2_n_for_small_noise():
    n = 1024
    t = rng(4).normal(size=(n, 10))
    ixt, _ = E.mi_kde(t, Y[:n], noise_var=1e-6)
    assert abs(ixt - math.log2(n)) <= 1e-6


@pytest.mark.parametrize("name", ALL)
def test_identical_rows_give_zero(name):
    t = np.tile(np.array([[0.3, -0.2, 0.7]]), (200, 1))
    assert run(name, t, Y[:200]) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_kde_non_increasing_in_noise():
    t = rng(5).normal(size=(500, 3))
    vals = [E.mi_kde(t, Y[:500], noise_var=v) for v in np.logspace(-4, 2, 13)]
    ixt = np.array([v[0] for v in vals])
    assert np.all(np.diff(ixt) <= 1e-6)
    assert ixt[0] > 8.9 and ixt[-1] < 0.1


def test_upper_bound_at_least_lower_bound():
    t = rng(6).normal(size=(500, 4))
    for v in (1e-3, 1e-1, 1.0, 10.0):
        up, lo = E.mi_kde(t, Y[:500], v), E.mi_kde_lower(t, Y[:500], v)
        assert up[0] >= lo[0] - 1e-9
        assert lo[0] == pytest.approx(E.mi_kde(t, Y[:500], 4 * v)[0], abs=1e-9)


@pytest.mark.parametrize("var", [1e-2, 1e-1, 1.0])
def test_torch_float32_matches_numpy_reference(var):
    t = rng(7).normal(size=(300, 4))
    y = rng(8).integers(0, 3, 300)
    got = E.mi_kde(t, y, noise_var=var)
    assert np.allclose(got, ref_kde(t, y, var), atol=1e-4)
    exact = E.mi_kde(t, y, noise_var=var, dtype=torch.float64)
    assert np.allclose(exact, ref_kde(t, y, var), atol=1e-9)


def test_chunked_equals_unchunked():
    t = rng(9).normal(size=(257, 6)).astype(np.float32)
    y = Y[:257]
    full = np.array(E.mi_kde(t, y, noise_var=0.2, chunk_size=257))
    for cs in (1, 7, 64, None):
        assert np.allclose(E.mi_kde(t, y, noise_var=0.2, chunk_size=cs), full, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_ity_below_ixt_below_log2_n(name):
    for seed in range(3):
        t = rng(seed).normal(size=(512, 3)) * (seed + 1)
        ixt, ity = run(name, t, Y[:512])
        assert 0 <= ity <= ixt + 1e-12 <= math.log2(512) + 1e-9
        assert ity <= H_Y + 0.05  # p(y) of the first 512 labels is close to the full set's


def test_ebab_edges_match_the_authors_loop():
    r = rng(10)
    t = np.round(np.tanh(r.normal(size=(300, 5))), 2).astype(np.float32)  # many ties, in [-1, 1]
    for low in (-1.000001, float(t.min()) - 1e-3):
        assert np.array_equal(E.ebab_edges(t, low=low), ref_ebab_edges(t, low).astype(np.float32))
    assert np.array_equal(E.ebab_edges(t, activation="tanh"), E.ebab_edges(t, low=-1.000001))
    relu = np.maximum(t, 0)
    assert np.array_equal(E.ebab_edges(relu, activation="relu"), ref_ebab_edges(relu, 0.0))
    bins = ref_ebab_edges(relu, 0.0).astype(np.float32)
    expect = bins[np.digitize(relu.reshape(-1), bins) - 1].reshape(relu.shape)
    assert np.array_equal(E.bin_ebab(relu, activation="relu"), expect)
    assert E.mi_ebab(relu, Y[:300], activation="relu") == pytest.approx(
        E.discrete_mi(expect, Y[:300]), abs=1e-12
    )


def test_ebab_few_unique_values_and_dead_layer():
    assert E.ebab_edges(np.array([[0.0], [1.0], [2.0]]), n_bins=30, activation="relu").size == 32
    assert E.mi_ebab(np.zeros((50, 2)), Y[:50], activation="relu") == (0.0, 0.0)
    samples = E.ebab_edges(rng(0).normal(size=(40, 1)), n_bins=4, quantile_basis="samples")
    assert samples.size == 6 and np.all(np.diff(samples) >= 0)


def test_floor_and_range_binning_match_the_formulas():
    t = rng(11).normal(size=(400, 3)).astype(np.float32)
    assert np.array_equal(E.bin_floor(t), np.floor(t / np.float32(0.07)).astype(np.int64))
    assert E.mi_saxe_floor(t, Y[:400]) == pytest.approx(
        E.discrete_mi(np.floor(t / np.float32(0.07)), Y[:400]), abs=1e-12
    )
    relu = np.maximum(t, 0)
    bins = np.linspace(0.0, float(relu.max()), 30).astype(np.float32)
    expect = bins[np.digitize(relu, bins) - 1]
    got = E.mi_saxe_max(relu, Y[:400], activation="relu")
    assert got == pytest.approx(E.discrete_mi(expect, Y[:400]), abs=1e-12)
    bins = np.linspace(0.0, float(relu.max()), 200).astype(np.float32)  # > 64 edges: binary search
    expect = bins[np.digitize(relu, bins) - 1]
    got = E.mi_saxe_max(relu, Y[:400], n_bins=200, activation="relu")
    assert got == pytest.approx(E.discrete_mi(expect, Y[:400]), abs=1e-12)
    edges = ref_ebab_edges(relu, 0.0, 150).astype(np.float32)
    expect = edges[np.digitize(relu, edges) - 1]
    assert np.array_equal(E.bin_ebab(relu, n_bins=150, activation="relu"), expect)


# ------------------------------------------------------------------------------------------------
# closed forms: the IDNNs grid's edges, aKDE's noise variance, compression
# ------------------------------------------------------------------------------------------------


def test_fixed_grid_has_n_bins_edges_idnns_convention():
    """``np.linspace(low, high, n_bins)``: n_bins edges, n_bins - 1 intervals (IDNNs code)."""
    # 0 lies exactly half-way between edges 14 and 15 of the default 30-edge grid on [-1, 1]
    # (spacing 2/29); with 31 edges (spacing 1/15) it would be an edge itself.
    assert E.bin_fixed(np.zeros((1, 1))) == pytest.approx(-1 / 29, abs=1e-12)
    # 5 edges on [-1, 1]: -1, -0.5, 0, 0.5, 1; a value maps to the largest edge <= it, values at
    # an edge to that edge, >= high to the top edge, and below low wrap to the top edge too.
    t = np.array([[-1.0, -0.75, -0.5, -0.25, 0.25, 0.5, 0.75, 1.0, 1.5, -1.5]]).T
    expect = [-1.0, -1.0, -0.5, -0.5, 0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert E.bin_fixed(t, n_bins=5)[:, 0].tolist() == expect
    # with 6 edges -1, -0.6, ..., 1 the value 0.25 would land on 0.2, 0.75 on 0.6
    assert E.bin_fixed(np.array([[0.25], [0.75]]), n_bins=6)[:, 0] == pytest.approx([0.2, 0.6])


def test_fixed_binning_mi_closed_form_single_snapshot_and_history():
    # 3 edges on [-1, 1] (-1, 0, 1): the negative inputs share edge -1, the positive ones edge 0,
    # so T is one bit that equals Y: I(X;T) = I(T;Y) = 1 bit. (4 edges: 2/2/2, below.)
    t = np.array([[-0.9], [-0.4], [-0.1], [0.1], [0.4], [0.9]])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert E.mi_fixed_binning(t, y, n_bins=3) == pytest.approx((1.0, 1.0), abs=1e-12)
    plane = E.information_plane({"h": np.stack([t, -t, 0 * t])}, y, estimator="fixed", n_bins=3)
    np.testing.assert_allclose(plane["h"], [[1, 1], [1, 1], [0, 0]], atol=1e-12)
    # 4 edges (-1, -1/3, 1/3, 1) on two units, the second constant: the rows fall 2/2/2 into
    # (-1, 1/3), (-1/3, 1/3), (1/3, 1/3), so I(X;T) = log2 3 and I(T;Y) = 1 - 1/3 (the middle
    # symbol holds one sample of each class)
    t2 = np.column_stack([t[:, 0], np.full(6, 0.5)])
    expect = (math.log2(3), 2 / 3)
    assert E.mi_fixed_binning(t2, y, n_bins=4) == pytest.approx(expect, abs=1e-12)
    four = E.information_plane({"h": t2[None]}, y, estimator="fixed", n_bins=4)["h"][0]
    assert tuple(four) == pytest.approx(expect, abs=1e-12)


def test_akde_noise_variance_is_alpha_times_max_abs_activity():
    # mean |T| = 0.1175, max |T| = 8 (a negative value): the two readings differ by a factor 68
    t = np.full((40, 5), 0.01)
    t[3, 2] = -8.0
    t[7, 1] = 2.0
    assert E.akde_noise_var(t, alpha=0.1) == pytest.approx(0.8, rel=1e-12)
    assert E.akde_noise_var(t, alpha=0.1, power=2) == pytest.approx(6.4, rel=1e-12)
    assert E.akde_noise_var(t, alpha=0.1, scale="range") == pytest.approx(1.0, rel=1e-12)
    hist = np.stack([t, t / 4, 2 * t])
    var = E.akde_noise_var(hist, alpha=0.1, scale="running_max")
    np.testing.assert_allclose(var, [0.8, 0.8, 1.6], rtol=1e-12)
    y = Y[:40]
    assert np.allclose(E.mi_akde(t, y, alpha=0.1), E.mi_kde(t, y, noise_var=0.8), atol=1e-12)
    plane = E.information_plane({"h": hist}, y, estimator="akde", alpha=0.1)["h"]
    expect = [E.mi_kde(s, y, noise_var=v) for s, v in zip(hist, [0.8, 0.2, 1.6], strict=True)]
    np.testing.assert_allclose(plane, expect, atol=1e-10)


def test_compression_is_max_minus_final_of_the_first_column():
    assert E.compression([1.0, 3.0, 5.0, 4.0, 2.5]) == 2.5
    assert E.compression([1.0, 2.0, 3.0]) == 0.0  # still rising: no compression
    assert E.compression([4.0, 1.0, 2.0]) == 2.0  # the maximum may be the first snapshot
    plane = np.column_stack([[1.0, 3.0, 5.0, 4.0, 2.5], [0.1, 0.9, 0.2, 0.3, 0.0]])
    assert E.compression(plane) == 2.5  # I(T;Y) (column 2, max - final 0.9) is not used
    with pytest.raises(ValueError, match="non-empty"):
        E.compression([])


# ------------------------------------------------------------------------------------------------
# information_plane over a whole history
# ------------------------------------------------------------------------------------------------


def fake_history(s: int = 5, n: int = 256, seed: int = 0) -> dict[str, np.ndarray]:
    r = rng(seed)
    grow = np.linspace(0.5, 3.0, s)[:, None, None]
    return {
        "h1": (np.tanh(r.normal(size=(s, n, 4)) * grow)).astype(np.float32),
        "h2": (np.maximum(r.normal(size=(s, n, 3)), 0) * grow).astype(np.float32),
        "output": r.dirichlet([1, 1], size=(s, n)).astype(np.float32),
    }


@pytest.mark.parametrize(
    "name,kw",
    [
        ("fixed", {}),
        ("fixed", {"n_bins": 12}),
        ("saxe_floor", {"binsize": 0.1}),
        ("ebab", {}),
        ("ebab", {"n_bins": 10, "quantile_basis": "samples"}),
        ("kde", {"noise_var": 0.05}),
        ("kde_lower", {}),
        ("akde", {"alpha": 0.2}),
    ],
)
def test_information_plane_equals_per_snapshot_calls(name, kw):
    hist = fake_history()
    y = Y[:256]
    plane = E.information_plane(hist, y, estimator=name, **kw)
    assert list(plane) == list(hist)
    for layer, snaps in hist.items():
        expect = np.array([run(name, s, y, **kw) for s in snaps])
        assert plane[layer].shape == (len(snaps), 2)
        assert np.allclose(plane[layer], expect, atol=1e-10)


def test_information_plane_fixed_keeps_chapter_0_values():
    hist = fake_history()
    y = Y[:256]
    plane = E.information_plane(hist, y, estimator="fixed", n_bins=30)
    for layer, snaps in hist.items():
        old = np.array([E.discrete_mi(E.bin_fixed(s, 30), y) for s in snaps])
        assert np.allclose(plane[layer], old, atol=1e-12)


def test_information_plane_saxe_max_uses_the_running_max():
    hist = fake_history()
    y = Y[:256]
    hist["h2"][2] *= 10  # a big epoch: later epochs keep its maximum
    relu_layers = {k: hist[k] for k in ("h2", "output")}  # all ≥ 0, as in a ReLU net
    plane = E.information_plane(relu_layers, y, estimator="saxe_max", activation="relu")
    run_max = np.maximum.accumulate(hist["h2"].max(axis=(1, 2)))
    expect = [
        E.mi_saxe_max(s, y, high=m, activation="relu")
        for s, m in zip(hist["h2"], run_max, strict=True)
    ]
    assert np.allclose(plane["h2"], expect, atol=1e-12)
    per_snap = E.information_plane(hist, y, estimator="saxe_max", max_over="snapshot")
    assert not np.allclose(per_snap["h2"][3:], plane["h2"][3:])
    assert E.information_plane(hist, y, estimator="saxe_max", max_over="all")["h1"].shape == (5, 2)


def test_information_plane_akde_running_max_and_subsample():
    hist = fake_history()
    y = Y[:256]
    plane = E.information_plane(hist, y, estimator="akde", scale="running_max")
    var = E.akde_noise_var(hist["h1"], scale="running_max")
    assert np.all(np.diff(var) >= 0)
    expect = [E.mi_kde(s, y, noise_var=v) for s, v in zip(hist["h1"], var, strict=True)]
    assert np.allclose(plane["h1"], expect, atol=1e-10)
    sub = E.information_plane(hist, y, estimator="kde", subsample=64, subsample_seed=3)
    assert np.all(sub["h1"][:, 0] <= 6 + 1e-9)


def test_information_plane_takes_torch_tensors():
    hist = {k: torch.from_numpy(v) for k, v in fake_history().items()}
    y = torch.from_numpy(Y[:256].astype(np.int64))
    for name in ("ebab", "kde"):
        plane = E.information_plane(hist, y, estimator=name)
        assert plane["h1"].shape == (5, 2)
    assert E.mi_ebab(hist["h1"][0], y) == E.mi_ebab(hist["h1"][0].numpy(), Y[:256])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_kde_on_cuda_matches_cpu():
    t = torch.from_numpy(rng(12).normal(size=(2000, 8)).astype(np.float32))
    cpu = E.mi_kde(t, Y[:2000], noise_var=0.1)
    gpu = E.mi_kde(t.cuda(), Y[:2000], noise_var=0.1)
    assert np.allclose(cpu, gpu, atol=1e-4)


# ------------------------------------------------------------------------------------------------
# properties on random inputs
# ------------------------------------------------------------------------------------------------


@st.composite
def layer_and_labels(draw):
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 4))
    decimals = draw(st.sampled_from([0, 1, 3]))  # few decimals → ties and repeated rows
    t = draw(hnp.arrays(np.float64, (n, d), elements=st.floats(-5, 5, allow_nan=False, width=32)))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2)))
    perm = draw(st.permutations(range(n)))
    return np.round(t, decimals), y, np.asarray(perm)


def property_kwargs(name: str) -> dict:
    return {"dtype": torch.float64} if name in KERNEL else {}


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(data=layer_and_labels())
def test_property_bounds_and_permutation_invariance(name, data):
    t, y, perm = data
    kw = property_kwargs(name)
    ixt, ity = run(name, t, y, **kw)
    n = len(t)
    h_y = E.entropy_bits(np.bincount(y))
    assert 0.0 <= ity <= ixt <= math.log2(n) + 1e-9
    assert ity <= h_y + 1e-9
    ixt_p, ity_p = run(name, t[perm], y[perm], **kw)
    if name in KERNEL:
        assert ixt_p == pytest.approx(ixt, abs=1e-9) and ity_p == pytest.approx(ity, abs=1e-9)
    else:
        assert (ixt_p, ity_p) == pytest.approx((ixt, ity), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(data=layer_and_labels(), c=st.floats(1e-2, 1e2))
def test_property_ebab_scale_invariance(data, c):
    t, y, _ = data
    assert E.mi_ebab(t * 2.0, y) == E.mi_ebab(t, y)  # a power of two: exact products
    # an arbitrary factor can merge two values that differ in the last bit; check a generic case
    if len(np.unique(t)) == len(np.unique(np.round(t * c, 12))):
        assert E.mi_ebab(t * c, y)[0] == pytest.approx(E.mi_ebab(t, y)[0], abs=1e-12)


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_activations_raise(name, bad):
    t = rng(0).normal(size=(20, 3))
    t[4, 1] = bad
    with pytest.raises(ValueError, match="contains NaN or inf activations"):
        run(name, t, Y[:20])


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(0, 3), (20, 0)])
def test_empty_layer_raises(name, shape):
    with one_line(f"t is empty (shape {shape}): a layer needs samples and units"):
        run(name, np.zeros(shape), Y[: shape[0]])


@pytest.mark.parametrize("name", ALL)
def test_labels_that_do_not_match_raise(name):
    with pytest.raises(ValueError, match="labels do not match the samples: 19 labels for 20"):
        run(name, rng(0).normal(size=(20, 3)), Y[:19])


def test_information_plane_bad_input():
    hist = fake_history()
    with pytest.raises(ValueError, match="parameter 'estimator' = 'nope' is not allowed"):
        E.information_plane(hist, Y[:256], estimator="nope")
    with pytest.raises(ValueError, match="labels do not match the samples: 255 labels for 256"):
        E.information_plane(hist, Y[:255], estimator="ebab")
    bad = dict(hist)
    bad["h2"] = bad["h2"].copy()
    bad["h2"][1, 3, 0] = np.nan
    for name in ("ebab", "kde"):
        with pytest.raises(ValueError, match="layer 'h2' contains NaN or inf activations"):
            E.information_plane(bad, Y[:256], estimator=name)
    with pytest.raises(ValueError, match="layer 'h1' is empty"):
        E.information_plane({"h1": np.zeros((3, 256, 0))}, Y[:256], estimator="ebab")
    with pytest.raises(ValueError, match="parameter 'max_over' = 'x' is not allowed"):
        E.information_plane(hist, Y[:256], estimator="saxe_max", max_over="x")
    with pytest.raises(ValueError, match="parameter 'subsample' \\(999\\) exceeds"):
        E.information_plane(hist, Y[:256], estimator="kde", subsample=999)
    with pytest.raises(ValueError, match="unknown options for estimator 'kde'"):
        E.information_plane(hist, Y[:256], estimator="kde", alpha=0.1)


def test_bad_parameters_raise():
    t = rng(0).normal(size=(20, 2))
    y = Y[:20]
    with pytest.raises(ValueError, match="parameter 'quantile_basis' = 'x' is not allowed"):
        E.mi_ebab(t, y, quantile_basis="x")
    with pytest.raises(ValueError, match="parameter 'n_bins' must be an integer >= 1"):
        E.mi_ebab(t, y, n_bins=0)
    with pytest.raises(ValueError, match="parameter 'activation' = 'sigmoidish' is not allowed"):
        E.mi_ebab(t, y, activation="sigmoidish")
    with pytest.raises(ValueError, match="values below the lowest bin edge"):
        E.mi_ebab(t, y, activation="relu")
    with pytest.raises(ValueError, match="parameter 'noise_var' must be a positive"):
        E.mi_kde(t, y, noise_var=0.0)
    with pytest.raises(ValueError, match="parameter 'bound' = 'middle' is not allowed"):
        E.mi_kde(t, y, bound="middle")
    with pytest.raises(ValueError, match="parameter 'scale' = 'mean' is not allowed"):
        E.mi_akde(t, y, scale="mean")
    with pytest.raises(ValueError, match="parameter 'binsize' must be a positive"):
        E.mi_saxe_floor(t, y, binsize=-1)
    with pytest.raises(ValueError, match="parameter 'chunk_size' must be an integer >= 1"):
        E.mi_kde(t, y, chunk_size=0)
    with pytest.raises(ValueError, match="labels must be integers"):
        E.mi_ebab(t, np.full(20, 0.5))


# ------------------------------------------------------------------------------------------------
# bad input at the public boundary: one line naming the argument
# ------------------------------------------------------------------------------------------------


def per_snapshot_calls() -> dict[str, object]:
    """Every public function that takes one snapshot t (N × d), called with 20 labels."""
    y = Y[:20]
    calls = {name: (lambda t, f=E.ESTIMATORS[name]: f(t, y)) for name in ALL}
    calls.update(bin_fixed=E.bin_fixed, bin_floor=E.bin_floor, bin_ebab=E.bin_ebab)
    calls["as_layer"] = E.as_layer
    return calls


PER_SNAPSHOT = per_snapshot_calls()


@pytest.mark.parametrize("fn", PER_SNAPSHOT, ids=str)
@pytest.mark.parametrize("shape", [(2, 20, 3), (1, 2, 20, 3)])
def test_per_snapshot_functions_refuse_a_history(fn, shape):
    msg = (
        f"t must be a single snapshot N × d; got shape {shape}; "
        "information_plane takes snapshots × N × d"
    )
    with one_line(msg):
        PER_SNAPSHOT[fn](rng(0).normal(size=shape))


@pytest.mark.parametrize("fn", PER_SNAPSHOT, ids=str)
def test_per_snapshot_functions_refuse_1d_and_scalars(fn):
    with one_line("t must be a 2-D array N × d; got shape (20,); use t[:, None] for one unit"):
        PER_SNAPSHOT[fn](rng(0).normal(size=20))
    with one_line("t must be a 2-D array N × d; got shape ()"):
        PER_SNAPSHOT[fn](np.float64(0.5))
    with one_line("t must be a 2-D array N × d; got shape (20,); use t[:, None] for one unit"):
        PER_SNAPSHOT[fn](torch.zeros(20))


@pytest.mark.parametrize("fn", [E.ebab_edges, E.akde_noise_var], ids=lambda f: f.__name__)
def test_snapshot_or_history_functions_take_2d_and_3d_only(fn):
    s = rng(1).normal(size=(3, 40, 2))
    per_snapshot = np.array([fn(a) for a in s])
    assert np.array_equal(fn(s), per_snapshot)
    with one_line(
        "t must be N × d or snapshots × N × d; got shape (40,); use t[:, None] for one unit"
    ):
        fn(s[0, :, 0])
    with one_line("t must be N × d or snapshots × N × d; got shape (1, 3, 40, 2)"):
        fn(s[None])


def test_discrete_mi_documents_1d_symbols_and_refuses_empty_or_3d():
    assert E.discrete_mi(Y, Y) == E.discrete_mi(Y[:, None], Y)
    assert E.discrete_mi(Y, Y) == pytest.approx((H_Y, H_Y), abs=1e-12)
    for shape in [(0,), (0, 3), (5, 0)]:
        with one_line(f"symbols is empty (shape {shape}): a layer needs samples and units"):
            E.discrete_mi(np.zeros(shape), Y[: shape[0]])
    with one_line("symbols must be N × d, or N for one unit; got shape (2, 5, 3)"):
        E.discrete_mi(np.zeros((2, 5, 3)), Y[:2])


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(3, 0, 4), (3, 20, 0), (0, 20, 4)])
def test_information_plane_refuses_an_empty_layer(name, shape):
    hist = (
        {"h0": np.zeros((3, 20, 4)), "h1": np.zeros(shape)} if shape[1] else {"h1": np.zeros(shape)}
    )
    msg = f"layer 'h1' is empty (shape {shape}): a layer needs snapshots, samples and units"
    with one_line(msg):
        E.information_plane(hist, Y[: shape[1]], estimator=name)
    with one_line(msg):
        E.information_plane({k: torch.from_numpy(v) for k, v in hist.items()}, Y[: shape[1]], name)


def test_information_plane_refuses_a_single_snapshot_and_non_numbers():
    with one_line(
        "layer 'h1' must be snapshots × N × d; got shape (20, 3); use [None] for one snapshot"
    ):
        E.information_plane({"h1": np.zeros((20, 3))}, Y[:20])
    msg = (
        "layer 'h1' has the wrong type: expected real numbers (snapshots × N × d), "
        "got ndarray of dtype <U1"
    )
    for name in ("fixed", "kde"):
        with one_line(msg):
            E.information_plane({"h1": np.full((3, 20, 2), "x")}, Y[:20], estimator=name)


BAD_LAYERS = [
    ("abc", "str 'abc'"),
    (np.full((20, 2), "a"), "ndarray of dtype <U1"),
    ([["a", "b"]] * 20, "list of dtype <U1"),
    (np.full((20, 2), None), "ndarray of dtype object"),
    (np.ones((20, 2), dtype=complex), "ndarray of dtype complex128"),
    (torch.ones(20, 2, dtype=torch.complex64), "Tensor of dtype torch.complex64"),
]


@pytest.mark.parametrize("fn", PER_SNAPSHOT, ids=str)
@pytest.mark.parametrize("bad,got", BAD_LAYERS, ids=[g for _, g in BAD_LAYERS])
def test_non_numeric_layer_is_a_wrong_type(fn, bad, got):
    with one_line(f"t has the wrong type: expected real numbers (a 2-D array N × d), got {got}"):
        PER_SNAPSHOT[fn](bad)


def test_ragged_layer_is_a_wrong_type():
    with pytest.raises(
        ValueError,
        match=r"^t has the wrong type: expected real numbers \(a 2-D "
        r"array N × d\), got a list that NumPy cannot convert \(",
    ) as exc:
        E.mi_fixed_binning([[1.0, 2.0], [3.0]], Y[:2])
    assert "\n" not in str(exc.value)


BAD_PARAMETERS = [
    ("fixed", {"n_bins": "30"}, "parameter 'n_bins' must be an integer >= 2, got str '30'"),
    ("fixed", {"n_bins": 30.0}, "parameter 'n_bins' must be an integer >= 2, got float 30.0"),
    ("fixed", {"n_bins": 1}, "parameter 'n_bins' must be an integer >= 2, got 1"),
    ("fixed", {"low": "abc"}, "parameter 'low' must be a finite real number, got str 'abc'"),
    ("fixed", {"low": None}, "parameter 'low' must be a finite real number, got NoneType None"),
    ("fixed", {"high": "1"}, "parameter 'high' must be a finite real number, got str '1'"),
    ("fixed", {"high": np.inf}, "parameter 'high' must be a finite real number, got inf"),
    ("saxe_max", {"n_bins": "30"}, "parameter 'n_bins' must be an integer >= 2, got str '30'"),
    ("saxe_max", {"low": "abc"}, "parameter 'low' must be a finite real number, got str 'abc'"),
    ("saxe_max", {"high": "abc"}, "parameter 'high' must be a finite real number, got str 'abc'"),
    ("ebab", {"low": "abc"}, "parameter 'low' must be a finite real number, got str 'abc'"),
    (
        "saxe_floor",
        {"binsize": "0.07"},
        "parameter 'binsize' must be a positive finite number, got str '0.07'",
    ),
    (
        "kde",
        {"noise_var": "0.1"},
        "parameter 'noise_var' must be a positive finite number, got str '0.1'",
    ),
    ("akde", {"alpha": "0.1"}, "parameter 'alpha' must be a positive finite number, got str '0.1'"),
]


@pytest.mark.parametrize("name,kw,msg", BAD_PARAMETERS)
def test_non_numeric_parameters_are_a_wrong_type(name, kw, msg):
    t = rng(0).uniform(-1, 1, size=(20, 2))
    with one_line(msg):
        run(name, t, Y[:20], **kw)
    with one_line(msg):
        E.information_plane({"h": t[None]}, Y[:20], estimator=name, **kw)
    if name == "fixed":
        with one_line(msg):
            E.bin_fixed(t, **kw)


def test_saxe_max_high_below_the_maximum_names_the_layer():
    t = np.array([[0.5, 1.0], [0.0, 0.25]])
    with one_line("parameter 'high' (0.5) must be >= the maximum of t (1.0)"):
        E.mi_saxe_max(t, Y[:2], high=0.5)
    with one_line("parameter 'high' (0.5) must be >= the maximum of layer 'h' (1.0)"):
        E.information_plane({"h": t[None]}, Y[:2], estimator="saxe_max", high=0.5)


def test_kde_cast_overflow_is_not_reported_as_nan():
    t = np.arange(40.0).reshape(20, 2) * 1e39  # finite in float64, inf in float32
    with one_line("t overflows torch.float32 (max |value| = 3.9e+40); pass dtype=torch.float64"):
        E.mi_kde(t, Y[:20])
    assert E.mi_kde(t, Y[:20], dtype=torch.float64)[0] == pytest.approx(math.log2(20))


@pytest.mark.parametrize("name", BINNING)
def test_bool_layers_are_read_as_zeros_and_ones(name):
    t = F[:, :3].astype(bool)
    assert run(name, t, Y) == run(name, t.astype(np.float64), Y)
