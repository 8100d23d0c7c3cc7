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
    # the true member's first snapshot is its untrained net's T5 scored with its own labels
    import torch

    from ibcore.quantized import build_quantized_ensemble

    net = build_quantized_ensemble(ch5.WIDTHS, "tanh", [7], bits=8).eval()
    with torch.no_grad():
        net(ch5.load_task(7).x_probe)
    codes = net.codes[4][0].numpy()
    assert tuple(rs[0].exact["T5"][0]) == pytest.approx(exact.information(codes, y_true))
    assert tuple(rs[1].exact["T5"][0]) == pytest.approx(exact.information(codes, y_null))
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
    assert ch5.estimator_scores(np.ones(5), truth, 1, 1)["rho"] == 0.0  # flat estimate: scored
    assert np.isnan(ch5.estimator_scores(truth, np.ones(5), 1, 1)["rho"])  # flat truth: nothing
    with pytest.raises(ValueError, match="same snapshots"):
        ch5.estimator_scores(est[:3], truth, 1, 1)


def test_the_presets_resolve_and_bad_values_are_refused():
    p = ch5.CHAPTER.resolve("cpu")
    assert p["bits"] == 8 and p["activations"] == ["tanh", "relu"] and p["epochs"] == 1000
    assert ch5.CHAPTER.resolve("full")["epochs"] == 8000
    from ibcore.schema import ParameterError

    with pytest.raises(ParameterError, match="bits"):
        ch5.CHAPTER.resolve("cpu", bits=16)


# --- the verdict metrics on hand-made results ---------------------------------------------------


def _result(seed, labels, act, curves, inj=None, est=None):
    """An ExactResult with given I(X;T) curves ({layer: S}; I(T;Y) = 0.5 + I(X;T)/100)."""
    s = len(next(iter(curves.values())))
    full = {ly: np.full(s, 12.0) for ly in (*ch5.LAYERS, *ch5.OUTPUTS)}
    full.update({k: np.asarray(v, dtype=float) for k, v in curves.items()})
    exact = {k: np.column_stack([v, 0.5 + v / 100]) for k, v in full.items()}
    injective = {
        ly: np.asarray((inj or {}).get(ly, [True] * s)) for ly in (*ch5.LAYERS, "T6_exact")
    }
    return ch5.ExactResult(
        seed=seed, labels=labels, activation=act, bits=8, epochs=np.arange(s) * 10, exact=exact,
        injective=injective, estimates=est or {}, estimate_epochs=np.arange(0, s, 2) * 10,
        metrics={"train_acc": np.array([0.9])}, wall_s=0.0,
    )  # fmt: skip


def test_output_compression_pairs_by_seed_and_subtracts_the_twins():
    rise_fall = [5, 8, 8, 7, 6]  # window 1, tail 1: 8 - 6 = 2
    flat = [6, 6, 6, 6, 6]
    real = [_result(1, "true", "tanh", {"T6_exact": rise_fall}),
            _result(2, "true", "tanh", {"T6_exact": flat})]  # fmt: skip
    null = [_result(1, "permuted", "tanh", {"T6_exact": [5, 6, 6, 6, 5.5]}),
            _result(2, "permuted", "tanh", {"T6_exact": flat})]  # fmt: skip
    oc = ch5.output_compression(real, null, tail=1, window=1)
    assert oc["real"].tolist() == [2.0, 0.0] and oc["null"].tolist() == [0.5, 0.0]
    assert oc["difference"].tolist() == [1.5, 0.0]  # real − null, not null − real
    # tail 2 averages the last two (6.5), window 2 the highest pair (8): 1.5
    assert ch5.output_compression(real, null, 2, 2)["real"][0] == pytest.approx(1.5)
    # the layer is the one asked for: T6_theirs is 12 everywhere here
    assert ch5.output_compression(real, null, 1, 1, "T6_theirs")["real"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="paired by seed"):
        ch5.output_compression(real, null[::-1], 1, 1)


def test_the_primary_is_the_per_seed_minimum_over_activations():
    def arm(act, reals, nulls):
        return {"true": [_result(s, "true", act, {"T6_exact": c}) for s, c in enumerate(reals)],
                "permuted": [_result(s, "permuted", act, {"T6_exact": c})
                             for s, c in enumerate(nulls)]}  # fmt: skip

    fall = lambda d: [5, 5 + d, 5 + d, 5]  # noqa: E731  (compression d with tail 1, window 1)
    runs = {
        "tanh": arm("tanh", [fall(2), fall(1)], [fall(0), fall(0.5)]),  # diffs 2, 0.5
        "relu": arm("relu", [fall(1), fall(3)], [fall(0.5), fall(0)]),
    }  # diffs 0.5, 3
    # per seed the smaller difference: 0.5 and 0.5 (not the mean 1.25/1.75, not the max)
    assert ch5.primary_values(runs, 1, 1).tolist() == [0.5, 0.5]
    one = {"tanh": runs["tanh"]}
    assert ch5.primary_values(one, 1, 1).tolist() == [2.0, 0.5]


def test_fitting_leaves_saturated_layers_out_and_takes_the_least():
    h_y = ch5.h_of_y()
    s = 4
    real = []
    for seed, gain in ((0, 0.3), (1, 0.1)):
        r = _result(seed, "true", "tanh", {"T5": [8, 9, 9, 9]})
        r.exact["T1"][:, 1] = h_y  # saturated from the start: untestable
        r.exact["T5"][:, 1] = [0.5, 0.5 + gain, 0.5 + gain, 0.5 + gain]
        r.exact["T6_exact"][:, 1] = [0.2, 0.9, 0.9, 0.9]  # gains 0.7
        for ly in ("T2", "T3", "T4"):
            r.exact[ly][:, 1] = np.linspace(0.6, 0.9, s)  # gains 0.3
        r.exact["T6_theirs"][:, 1] = [0.5, 0.5, 0.5, 0.45]  # not a fitting layer: never counted
        real.append(r)
    fv = ch5.fitting_values(real, tail=1)
    assert fv["saturated"] == ["T1"] and "T1" not in fv["testable"]
    assert fv["least"].tolist() == pytest.approx([0.3, 0.1])  # T5 is the least, per seed
    assert fv["per_layer"]["T6_exact"].tolist() == pytest.approx([0.7, 0.7])
    # T2 starts at H(Y) in seed 1 only (half the seeds: listed as untestable), and gains only
    # 0.2 in seed 0: each seed leaves out only its own saturated layers
    real[0].exact["T2"][:, 1] = [0.6, 0.8, 0.8, 0.8]
    real[1].exact["T2"][:, 1] = h_y
    real[1].exact["T5"][:, 1] = [0.5, 0.9, 0.9, 0.9]  # now 0.4: T2's forced 0 must not count
    fv = ch5.fitting_values(real, tail=1)
    assert fv["saturated"] == ["T1", "T2"]
    assert fv["least"].tolist() == pytest.approx([0.2, 0.3])  # seed 0 keeps T2; seed 1 not


def test_ceiling_and_activation_contrast():
    r = _result(
        0,
        "true",
        "tanh",
        {"T5": [10, 11, 11, 9]},
        inj={"T1": [True] * 4, "T2": [True, True, False, False], "T3": [False] * 4},
    )
    assert ch5.ceiling_values([r]).tolist() == pytest.approx([(1 + 0.5 + 0) / 3])
    relu = _result(0, "true", "relu", {"T5": [4, 6, 6, 5.5]})
    # tanh T5 falls 2, relu 0.5: +1.5 (tanh − relu)
    assert ch5.activation_contrast([r], [relu], 1, 1).tolist() == [1.5]
    with pytest.raises(ValueError, match="paired by seed"):
        ch5.activation_contrast([r], [_result(1, "true", "relu", {"T5": [1, 1, 1, 1]})], 1, 1)


def test_the_estimator_table_scores_against_the_exact_count_at_the_same_snapshots():
    truth = [12, 11, 10, 9, 8, 7]  # estimate snapshots 0, 2, 4: 12, 10, 8
    est_real = {"fixed-30": {ly: np.column_stack([[10, 9, 6], [0, 0, 0]]) for ly in ch5.LAYERS}}
    est_null = {"fixed-30": {ly: np.column_stack([[5, 5, 5], [0, 0, 0]]) for ly in ch5.LAYERS}}
    real = [_result(0, "true", "tanh", {ly: truth for ly in ch5.LAYERS}, est=est_real)]
    null_truth = [12, 11.5, 11, 11, 12, 10]  # at 0, 2, 4: 12, 11, 12 (fall 0); else 2
    null = [_result(0, "permuted", "tanh", {ly: null_truth for ly in ch5.LAYERS}, est=est_null)]
    rows = ch5.estimator_table({"tanh": {"true": real, "permuted": null}})
    assert len(rows) == len(ch5.LAYERS)
    r = rows[-1]
    assert (r["activation"], r["estimator"], r["layer"]) == ("tanh", "fixed-30", "T5")
    assert r["rho"] == pytest.approx(1.0)
    assert r["bias"] == pytest.approx(((10 - 12) + (9 - 10) + (6 - 8)) / 3)  # at snapshots 0, 2, 4
    assert r["abs_bias"] == pytest.approx(5 / 3)
    # exact at 0, 2, 4: real falls 12 − 8 = 4, twin 12 − 12 = 0 (read at the wrong snapshots
    # it would be 2): +; estimate: real 10 − 6 = 4, twin 0: + → same
    assert r["same_verdict"] == 1.0 and r["moving_seeds"] == 1
    flat = {"fixed-30": {ly: np.column_stack([[5, 5, 5], [0, 0, 0]]) for ly in ch5.LAYERS}}
    real[0].estimates = flat  # the estimate sees no fall where the count sees 4 bits
    assert ch5.estimator_table({"tanh": {"true": real, "permuted": null}})[0]["same_verdict"] == 0.0


def test_group_params_give_every_seed_a_twin_in_its_own_activation():
    gs = ch5.group_params([5, 6, 7], ["tanh", "relu"], workers=2, epochs=3)
    assert [g["activation"] for g in gs] == ["tanh", "relu"]  # one group per activation
    assert (
        gs[0]["seeds"] == [5, 6, 7, 5, 6, 7] and gs[0]["labels"] == ["true"] * 3 + ["permuted"] * 3
    )
    assert all(g["epochs"] == 3 for g in gs)
    gs4 = ch5.group_params([5, 6, 7], ["tanh"], workers=2)
    assert [g["seeds"] for g in gs4] == [[5, 7, 5, 7], [6, 6]]


def test_a_pinned_layer_has_no_verdict_to_agree_with():
    est = {"fixed-30": {ly: np.column_stack([[10, 9, 9], [0, 0, 0]]) for ly in ch5.LAYERS}}
    real = [_result(0, "true", "tanh", {ly: [12] * 6 for ly in ch5.LAYERS}, est=est)]
    null = [_result(0, "permuted", "tanh", {ly: [12] * 6 for ly in ch5.LAYERS}, est=est)]
    row = ch5.estimator_table({"tanh": {"true": real, "permuted": null}})[0]
    # the count never moves: no ρ and no verdict (not a tie counted as agreement)
    assert np.isnan(row["rho"]) and np.isnan(row["same_verdict"]) and row["moving_seeds"] == 0
    assert row["bias"] == pytest.approx(-(2 + 3 + 3) / 3)


def test_the_overview_applies_one_tracking_rule():
    rows = [
        {"estimator": "a", "activation": "tanh", "layer": "T1", "rho": float("nan"),
         "bias": 0.0, "abs_bias": 0.0, "same_verdict": float("nan")},
        {"estimator": "a", "activation": "tanh", "layer": "T2", "rho": 0.9, "bias": 0.4,
         "abs_bias": 0.4, "same_verdict": 1.0},
        {"estimator": "a", "activation": "tanh", "layer": "T3", "rho": 0.7, "bias": -0.8,
         "abs_bias": 0.8, "same_verdict": 0.5},
        {"estimator": "b", "activation": "tanh", "layer": "T2", "rho": 0.6, "bias": 0.6,
         "abs_bias": 0.6, "same_verdict": None},
    ]  # fmt: skip
    a, b = ch5.estimator_overview(rows)
    assert a["rho"] == pytest.approx(0.8)  # median of the finite layers only
    # mean |bias| 0.4 (0, 0.4, 0.8): tracks; the signed mean (−0.13) is not what is judged
    assert a["abs_bias"] == pytest.approx(0.4) and a["tracks"]
    assert a["same_verdict"] == pytest.approx(0.75)
    assert b["abs_bias"] == pytest.approx(0.6) and not b["tracks"] and np.isnan(b["same_verdict"])
    text = ch5.estimator_summary(rows)
    assert "tanh: a;" in text.replace(".", ";") and "a (tanh) most often" in text


def test_the_primary_null_is_the_twin_of_the_activation_that_gives_the_value():
    def arm(act, reals, nulls):
        return {"true": [_result(s, "true", act, {"T6_exact": c}) for s, c in enumerate(reals)],
                "permuted": [_result(s, "permuted", act, {"T6_exact": c})
                             for s, c in enumerate(nulls)]}  # fmt: skip

    fall = lambda d: [5, 5 + d, 5 + d, 5]  # noqa: E731
    runs = {
        "tanh": arm("tanh", [fall(2), fall(1)], [fall(0), fall(0.5)]),  # diffs 2, 0.5
        "relu": arm("relu", [fall(1), fall(3)], [fall(0.5), fall(0)]),
    }  # diffs 0.5, 3
    # seed 0: relu gives the minimum (twin 0.5); seed 1: tanh (twin 0.5)
    runs["relu"]["permuted"][0] = _result(0, "permuted", "relu", {"T6_exact": fall(0.25)})
    assert ch5.primary_values(runs, 1, 1).tolist() == [0.75, 0.5]
    assert ch5.primary_null(runs, 1, 1).tolist() == [0.25, 0.5]


def test_the_sentences_print_the_runs_numbers():
    t5 = [11.0, 11.5, 11.5, 10.0]
    out = [4.0, 8.0, 8.0, 7.0]
    real = [_result(0, "true", "tanh", {"T5": t5, "T6_exact": out, "T6_theirs": [3, 7, 7, 4]})]
    null = [_result(0, "permuted", "tanh", {"T6_exact": [4, 4, 4, 4], "T6_theirs": [3, 3, 3, 3]})]
    runs = {"tanh": {"true": real, "permuted": null}}
    text = ch5.plane_summary(runs)
    assert "T1, T2, T3, T4, T5 keep all 4096 inputs apart" in text  # injective everywhere here
    assert "T5 starts at 11.00 bits, peaks at 11.50 and ends at 10.00" in text
    assert "starts at 4.00, peaks at 8.00 and ends at 7.00" in text
    text = ch5.output_summary(runs, 1, 1)
    assert "3.00 bits measured their way (twins 0.00), 1.00 bits counted exactly" in text


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_every_estimator_runs_on_the_quantized_layers(activation):
    rs = ch5.exact_group(activation=activation, bits=8, seeds=[3], labels=["true"], epochs=2,
                         snapshot_every=1, estimator_every=2)  # fmt: skip
    assert rs[0].estimate_epochs.tolist() == [0, 2]
    for est in ch5.ESTIMATORS:
        for ly in ch5.LAYERS:
            v = rs[0].estimates[est][ly]
            assert v.shape == (2, 2) and np.isfinite(v).all(), (est, ly)


def test_chapter_verdicts_are_the_metrics_of_their_own_runs():
    fall = lambda d: [5, 5 + d, 5 + d, 5 + d / 2, 5]  # noqa: E731  (window 1, tail 1: d)

    def arm(act, reals, nulls):
        return {"true": [_result(s, "true", act, {"T6_exact": fall(c), "T6_theirs": fall(2 * c),
                                                  "T5": fall(c / 2)}) for s, c in enumerate(reals)],
                "permuted": [_result(s, "permuted", act, {"T6_exact": fall(c)})
                             for s, c in enumerate(nulls)]}  # fmt: skip

    runs = {
        "tanh": arm("tanh", [2, 1, 3], [0, 0.5, 1]),
        "relu": arm("relu", [1, 3, 0], [0.5, 0, 1]),
    }
    params = {"scale": "cpu", "tail": 1, "window": 1}
    vs = ch5.chapter_verdicts(runs, params, [0, 1, 2], device="cpu", runtime_s=0.0)
    by = {v.claim: v for v in vs}
    assert vs[0].kind == "primary" and vs[0].claim == "ch5-primary"
    assert by["ch5-primary"].per_seed == pytest.approx(ch5.primary_values(runs, 1, 1).tolist())
    assert by["ch5-output-exact-relu"].per_seed == pytest.approx([0.5, 3.0, -1.0])  # real − twin
    assert by["ch5-output-theirs-tanh"].per_seed == pytest.approx([4.0, 2.0, 6.0])  # twin 12: 0
    assert by["ch5-t5-vs-null-tanh"].per_seed == pytest.approx([1.0, 0.5, 1.5])
    assert by["ch5-activation-t5"].per_seed == pytest.approx([0.5, -1.0, 1.5])  # tanh − relu
    assert by["ch5-accuracy"].kind == "check"
    # the sensitivity grid holds the settings five snapshots allow (tail 4; window 1 and 5)
    assert [(g["tail"], g["window"]) for g in by["ch5-primary"].sensitivity["settings"]] == [
        (4, 1),
        (4, 5),
    ]
    one = ch5.chapter_verdicts({"tanh": runs["tanh"]}, params, [0, 1, 2], "cpu", 0.0)
    assert not any(v.kind == "primary" or v.claim == "ch5-activation-t5" for v in one)
