"""Chapter 5's claim module (Lorenzen, Igel & Nielsen 2022): the authors' split, the null's
labels, the runner's wiring to its own labels and seeds, and every metric on hand-made values
where the plausible wrong variants give other numbers."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore.claims import ch5_exact_quantized as ch5
from ibcore.data import szt_task


def test_the_authors_split_is_stratified_and_fixed():
    tr, te = ch5.authors_split()
    assert (len(tr), len(te)) == (3276, 820) and not set(tr) & set(te)
    _, y = szt_task()
    assert abs(y[tr].mean() - y.mean()) < 1e-3 and abs(y[te].mean() - y.mean()) < 2e-3
    np.testing.assert_array_equal(ch5.authors_split()[0], tr)


def test_the_null_permutes_the_labels_per_seed_on_the_same_split():
    true, null, other = ch5.load_task(3), ch5.load_task(3, "permuted"), ch5.load_task(4, "permuted")
    assert np.array_equal(true.x_train.numpy(), null.x_train.numpy())
    assert np.bincount(null.y_probe.numpy()).tolist() == np.bincount(true.y_probe.numpy()).tolist()
    assert not np.array_equal(null.y_probe.numpy(), true.y_probe.numpy())
    assert not np.array_equal(null.y_probe.numpy(), other.y_probe.numpy())
    assert null.name.endswith("permuted") and true.meta["labels"] == "true"


def test_each_member_is_measured_against_its_own_labels():
    rs = ch5.exact_group(activation="tanh", bits=8, seeds=[7, 7], labels=["true", "permuted"],
                         epochs=4, snapshot_every=2, estimator_every=0)  # fmt: skip
    # T5 is not injective: its I(T;Y) depends on whose labels score it
    from ibcore.measures import exact

    assert rs[0].exact["T5"][0, 0] < 12.0
    y_true = ch5.load_task(7).y_probe.numpy()
    y_null = ch5.load_task(7, "permuted").y_probe.numpy()
    assert rs[0].exact["T5"][0, 1] != pytest.approx(rs[1].exact["T5"][0, 1])
    # scoring the true member's own layer with the null's labels gives another number
    assert exact.information(np.arange(4096) % 3, y_true)[1] != pytest.approx(
        exact.information(np.arange(4096) % 3, y_null)[1]
    )
    assert [(r.seed, r.labels) for r in rs] == [(7, "true"), (7, "permuted")]
    assert rs[0].epochs.tolist() == [0, 2, 4]
    # T1 keeps all 12 bits in both; its I(T;Y) is then H(Y) of the member's own labels, which a
    # permutation keeps: equal. The output's I(T;Y) differs once the true net has learnt.
    assert rs[0].exact["T1"][0, 0] == pytest.approx(12.0)
    assert rs[0].exact["T1"][0, 1] == pytest.approx(rs[1].exact["T1"][0, 1])
    assert not len(rs[0].estimate_epochs)  # estimator_every=0: no estimator ran
    with pytest.raises(ValueError, match="one per member"):
        ch5.exact_group(activation="tanh", bits=8, seeds=[1], labels=["true", "true"], epochs=1)
    with pytest.raises(ValueError, match="parameter 'estimators'"):
        ch5.exact_group(activation="tanh", bits=8, seeds=[1], labels=["true"], epochs=1,
                        estimators=["binning"])  # fmt: skip


def test_fitting_and_compression_on_hand_made_planes():
    ixt = np.array([10.0, 11.0, 12.0, 12.0, 11.0, 10.0, 9.0, 9.0])
    ity = np.array([0.2, 0.5, 0.8, 0.9, 0.9, 0.95, 0.95, 0.97])
    plane = np.column_stack([ixt, ity])
    # I_end: mean of the last 2; I_first: the first; not the max, not the last alone
    assert ch5.fitting(plane, tail=2) == pytest.approx(0.96 - 0.2)
    # I_peak: max of the 3-snapshot moving average (11.67), minus I_end (9.0): not the raw max
    assert ch5.compression(plane, tail=2, window=3) == pytest.approx(35 / 3 - 9.0)
    assert ch5.compression(plane, tail=2, window=1) == pytest.approx(12.0 - 9.0)
    assert ch5.end_value(ixt, 3) == pytest.approx((10 + 9 + 9) / 3)
    with pytest.raises(ValueError, match="'tail'"):
        ch5.fitting(plane, tail=9)


def test_saturation_needs_half_the_seeds_at_h_of_y_from_the_start():
    h_y = 0.99916
    at = np.array([[12.0, h_y], [12.0, h_y]])
    below = np.array([[12.0, h_y - 1e-6], [12.0, h_y]])
    assert ch5.saturated([at, at, below, below], h_y)  # 2 of 4: half
    assert not ch5.saturated([at, below, below, below], h_y)
    assert ch5.saturated([at + [[0, 1e-10], [0, 0]]], h_y)


def test_injective_fraction_and_estimator_scores():
    assert ch5.injective_fraction(np.array([True, True, False, True])) == 0.75
    truth = np.array([11.0, 12.0, 11.5, 11.0, 10.0])
    est = truth - 2.0  # same shape, 2 bits low
    s = ch5.estimator_scores(est, truth, tail=1, window=1)
    assert s["rho"] == pytest.approx(1.0) and s["bias"] == pytest.approx(-2.0)
    assert s["compression"] == pytest.approx(2.0) and s["exact_compression"] == pytest.approx(2.0)
    flipped = ch5.estimator_scores(2 * truth.mean() - truth, truth, tail=1, window=1)
    assert flipped["rho"] == pytest.approx(-1.0) and flipped["bias"] == pytest.approx(0.0)
    assert np.isnan(ch5.estimator_scores(np.ones(5), truth, 1, 1)["rho"])  # a flat estimate
    with pytest.raises(ValueError, match="same snapshots"):
        ch5.estimator_scores(est[:3], truth, 1, 1)


def test_the_presets_resolve_and_bad_values_are_refused():
    p = ch5.CHAPTER.resolve("cpu")
    assert p["bits"] == 8 and p["activations"] == ["tanh", "relu"] and p["epochs"] == 2000
    assert ch5.CHAPTER.resolve("full")["epochs"] == 8000
    from ibcore.schema import ParameterError

    with pytest.raises(ParameterError, match="bits"):
        ch5.CHAPTER.resolve("cpu", bits=16)
