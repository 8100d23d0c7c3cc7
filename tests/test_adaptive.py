"""Chapter 2 runner: run grid, one batched group, compression, L2 effect and correlations."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore.claims import chapter
from ibcore.claims.ch2_adaptive_estimators import (
    CH2_ESTIMATORS,
    MemberResult,
    adaptive_contrast,
    adaptive_group,
    adaptive_runs,
    cell_spearman,
    chapter_verdicts,
    compression_from,
    compression_table,
    estimator_options,
    l2_delta_c,
    layer_correlations,
    mean_compression,
    members,
    non_saturating,
    null_excess,
    seed_spread,
    select,
)
from ibcore.schema import ParameterError


def fake(
    act: str,
    l2: float,
    seed: int,
    ixt_out: list[float],
    acc: float,
    labels: str = "true",
    ixt_hidden: list[float] | None = None,
) -> MemberResult:
    """A MemberResult with given output (and h3–h5) I(X;T) trajectories and test accuracy."""
    s = len(ixt_out)
    flat = np.column_stack([np.full(s, 12.0), np.full(s, 1.0)])
    out = np.column_stack([ixt_out, np.full(s, 0.9)])
    hid = np.linspace(4, 8, s) if ixt_hidden is None else ixt_hidden
    hidden = np.column_stack([hid, np.full(s, 0.9)])
    plane = {"h1": flat, "h3": hidden, "h4": hidden.copy(), "h5": hidden.copy(), "output": out}
    return MemberResult(
        activation=act, l2=l2, seed=seed, epochs=np.arange(s), planes={"ebab": plane},
        metrics={"test_acc": np.array([0.5, acc]), "train_acc": np.array([0.5, acc])}, wall_s=0.0,
        labels=labels,
    )  # fmt: skip


def test_members_order_and_validation():
    runs = members(["tanh", "relu"], [0.0, 0.015], [0, 1])
    assert len(runs) == 12  # 2 activations × 2 L2 × 2 seeds, and 4 null nets without L2
    assert runs[0] == ("tanh", 0.0, 0, "true") and runs[7] == ("relu", 0.015, 1, "true")
    assert [r[1] for r in runs[:4]] == [0.0] * 4
    assert runs[8:] == [("tanh", 0.0, 0, "permuted"), ("tanh", 0.0, 1, "permuted"),
                        ("relu", 0.0, 0, "permuted"), ("relu", 0.0, 1, "permuted")]  # fmt: skip
    assert len(members(["tanh"], [0.0], [0], null=False)) == 1
    with pytest.raises(ValueError, match="activations.*allowed values"):
        members(["sigmoidish"], [0.0], [0])
    with pytest.raises(ValueError, match="at least one"):
        members([], [0.0], [0])


def test_estimator_options():
    assert estimator_options("ebab", "relu", n_bins=12) == {"n_bins": 12, "activation": "relu"}
    # the [low, running max] grid takes the activation's lowest edge (-1 for tanh)
    assert estimator_options("saxe_max", "tanh") == {"n_bins": 30, "activation": "tanh"}
    assert estimator_options("kde", "tanh", kde_noise=0.1, kde_samples=None) == {"noise_var": 0.1}
    assert estimator_options("akde", "tanh", akde_alpha=0.2, kde_samples=64) == {
        "subsample": 64, "alpha": 0.2,
    }  # fmt: skip
    with pytest.raises(ValueError, match="estimators.*allowed values"):
        estimator_options("knn", "tanh")


def test_non_saturating():
    assert non_saturating(["tanh", "relu", "softsign", "elu", "linear", "swish"]) == [
        "relu", "swish",
    ]  # fmt: skip


def test_adaptive_group_small_real_run():
    runs = [("tanh", 0.0, 0), ("relu", 0.015, 1), ("tanh", 0.0, 0, "permuted")]
    res = adaptive_group(
        runs=runs, epochs=4, snapshots=3, estimators=list(CH2_ESTIMATORS), kde_samples=128
    )
    assert [(r.activation, r.l2, r.seed, r.labels) for r in res] == [
        ("tanh", 0.0, 0, "true"), ("relu", 0.015, 1, "true"), ("tanh", 0.0, 0, "permuted"),
    ]  # fmt: skip
    # the null twin starts from the same weights: equal planes at epoch 0, not later
    assert res[0].planes["ebab"]["h5"][0, 0] == pytest.approx(res[2].planes["ebab"]["h5"][0, 0])
    for r in res:
        assert r.layers == ["h1", "h2", "h3", "h4", "h5", "output"]
        assert set(CH2_ESTIMATORS) <= set(r.planes)
        assert set(r.planes["ebab, 60 bins"]) == {"h5", "output"}
        if r.l2 == 0.0:  # the aKDE grids are estimated on the nets without L2 only
            assert set(r.planes["akde, α 0.2"]) == {"h5"}
        else:
            assert "akde, α 0.2" not in r.planes
        for est, plane in r.planes.items():
            for xy in plane.values():
                assert xy.shape == (len(r.epochs), 2)
                assert np.all(xy[:, 1] <= xy[:, 0] + 1e-9)
                ceiling = np.log2(128) if est in ("kde", "akde") else 12.0
                assert np.all(xy[:, 0] <= ceiling + 1e-6)
        n_test = 819  # the 12-bit task's test split: an accuracy is a count / 819 (float32)
        assert r.test_acc * n_test == pytest.approx(round(r.test_acc * n_test), abs=1e-3)
    # groups through the cache give the same members as one call
    again = adaptive_runs(
        runs, group_size=1, progress=False, epochs=4, snapshots=3, estimators=["ebab"],
        kde_samples=128, variants=False,
    )  # fmt: skip
    for a, b in zip(res, again, strict=True):
        for lay in a.layers:
            # EBAB edges sit on data values: float round-off between ensemble sizes moves an edge
            np.testing.assert_allclose(a.planes["ebab"][lay], b.planes["ebab"][lay], atol=0.1)


def test_adaptive_group_rejects_empty_and_bad_estimator():
    with pytest.raises(ValueError, match="empty"):
        adaptive_group(runs=[], epochs=1, snapshots=2)
    with pytest.raises(ValueError, match="allowed values"):
        adaptive_group(runs=[("tanh", 0.0, 0)], epochs=1, snapshots=2, estimators=["nope"])
    with pytest.raises(ValueError, match="group_size"):
        adaptive_runs([("tanh", 0.0, 0)], group_size=0, epochs=1, snapshots=2)


def test_compression_table_and_select():
    rs = [fake("tanh", 0.0, s, [1, 5, 3], 0.9) for s in (1, 0)]
    rs.append(fake("relu", 0.0, 0, [1, 2, 2], 0.8))
    assert [r.seed for r in select(rs, activation="tanh")] == [0, 1]
    table = compression_table(rs, "ebab", "output")
    np.testing.assert_allclose(table[("tanh", 0.0)], [2.0, 2.0])
    np.testing.assert_allclose(table[("relu", 0.0)], [0.0])


def test_l2_delta_c_pairs_seeds_and_drops_collapsed_nets():
    base = [fake("tanh", 0.0, s, [1, 2], 0.9, ixt_hidden=[5, 5]) for s in (0, 1, 2)]
    reg = [fake("tanh", 0.01, s, [1, 2], 0.9, ixt_hidden=[5, 4]) for s in (0, 1)]  # C 1 per layer
    reg.append(fake("tanh", 0.01, 2, [1, 2], 0.5, ixt_hidden=[5, 0]))  # collapsed: left out
    vals, excluded = l2_delta_c(base + reg, 0.01, ["tanh"])
    np.testing.assert_allclose(vals, [3.0, 3.0])
    assert excluded == ["tanh seed 2"]
    vals, _ = l2_delta_c(base + reg, 0.01, ["tanh"], layers=("h5",), floor=0.0)
    np.testing.assert_allclose(vals, [1.0, 1.0, 5.0])
    # a level difference without more compression is not counted: both end 1 bit below the peak
    lo = [fake("relu", 0.0, 0, [1, 2], 0.9, ixt_hidden=[8, 7])]
    hi = [fake("relu", 0.01, 0, [1, 2], 0.9, ixt_hidden=[3, 2])]
    np.testing.assert_allclose(l2_delta_c(lo + hi, 0.01, ["relu"])[0], [0.0])


def test_null_excess_is_paired_per_seed():
    rs = [
        fake("relu", 0.0, 0, [1, 2], 0.9, ixt_hidden=[6, 4]),  # C = 2
        fake("relu", 0.0, 1, [1, 2], 0.9, ixt_hidden=[6, 6]),  # C = 0
        fake("relu", 0.0, 0, [1, 2], 0.5, "permuted", ixt_hidden=[6, 5]),  # C = 1
        fake("relu", 0.0, 1, [1, 2], 0.5, "permuted", ixt_hidden=[7, 4]),  # C = 3
        fake("relu", 0.01, 0, [1, 2], 0.9, ixt_hidden=[9, 0]),
    ]  # with L2: not used
    np.testing.assert_allclose(null_excess(rs, ["relu"]), [1.0, -3.0])
    np.testing.assert_allclose(mean_compression(rs, ["relu"]), [2.0, 0.0])
    np.testing.assert_allclose(mean_compression(rs, ["relu"], labels="permuted"), [1.0, 3.0])
    assert np.isnan(null_excess(rs[:2], ["relu"])).all()  # no null net: no value
    # the null nets are not part of the true-label selections
    assert all(r.labels == "true" for r in select(rs))
    assert len(select(rs, labels=None)) == 5
    # a peak at initialisation is left out with peak_from
    assert compression_from(rs[3].planes["ebab"]["h5"], rs[3].epochs, peak_from=1) == 0.0
    with pytest.raises(ValueError, match="peak_from"):
        compression_from(rs[3].planes["ebab"]["h5"], rs[3].epochs, peak_from=5)


def test_adaptive_contrast_differs_by_estimator():
    rs = []
    for s in (0, 1):
        for lab, drop in (("true", 2.0), ("permuted", 0.0)):
            r = fake("relu", 0.0, s, [1, 2], 0.9, lab, ixt_hidden=[6, 6 - drop])
            r.planes["akde"] = r.planes["ebab"]
            flat = fake("relu", 0.0, s, [1, 2], 0.9, lab, ixt_hidden=[6, 6]).planes["ebab"]
            r.planes["kde"] = r.planes["saxe_max"] = flat
            rs.append(r)
    np.testing.assert_allclose(adaptive_contrast(rs, ["relu"]), [2.0, 2.0])


def test_seed_spread_subtracts_the_jitter():
    # C of 1, 3 around a mean of 2 -> |C - mean| = 1; the last snapshots move by 0.2 each
    o = [1, 2, 2, 2, 2, 2]
    rs = [fake("tanh", 0.0, 0, o, 0.9, ixt_hidden=[5, 6, 5.2, 5.0, 5.2, 5.0]),
          fake("tanh", 0.0, 1, o, 0.9, ixt_hidden=[5, 8, 5.2, 5.0, 5.2, 5.0])]  # fmt: skip
    np.testing.assert_allclose(seed_spread(rs, ["tanh"], last=3), [0.8, 0.8])
    same = [fake("tanh", 0.0, s, o, 0.9, ixt_hidden=[5, 6, 5.2, 5.0, 5.2, 5.0]) for s in (0, 1)]
    np.testing.assert_allclose(seed_spread(same, ["tanh"], last=3), [-0.2, -0.2])


def test_cell_spearman_holds_activation_and_l2_fixed():
    # within each cell compression and accuracy rise together; across cells they do not
    rs = [
        fake(a, l2, s, [1, 1 + s + off, 1], 0.9 - off / 10 + s / 100)
        for a, off in (("tanh", 0.0), ("relu", 3.0))
        for l2 in (0.0, 0.01)
        for s in range(4)
    ]
    np.testing.assert_allclose(cell_spearman(rs, ["output"]), [1.0] * 4)
    assert layer_correlations(rs)["output"]["spearman_rho"] < 0


def test_chapter_verdicts_cover_the_claims():
    rs = []
    for a in ("tanh", "relu"):
        for s in range(3):
            for lab in ("true", "permuted"):
                r = fake(
                    a,
                    0.0,
                    s,
                    [1, 2 + s, 1, 1, 1, 1],
                    0.9 + s / 100,
                    lab,
                    ixt_hidden=[5, 7, 6 - s, 5, 5, 5],
                )
                r.planes.update({k: r.planes["ebab"] for k in ("akde", "kde", "saxe_max")})
                rs.append(r)
            r = fake(a, 0.01, s, [1, 3, 1, 1, 1, 1], 0.95, ixt_hidden=[5, 7, 3, 2, 2, 2])
            r.planes.update({k: r.planes["ebab"] for k in ("akde", "kde", "saxe_max")})
            rs.append(r)
    for r in rs:  # the variant planes stand in for the chapter's own here
        r.epochs = np.array([0, 5, 20, 150, 300, 500])
        for k in (
            "ebab, 15 bins",
            "ebab, 60 bins",
            "saxe_max, 15 bins",
            "saxe_max, 60 bins",
            "akde, α 0.05",
            "akde, α 0.2",
            "akde, σ ∝ max",
        ):
            r.planes[k] = r.planes["ebab"]
    out = chapter_verdicts(rs, ["tanh", "relu"], 0.01)
    from ibcore.claims.ch2_adaptive_estimators import PREREGISTERED

    claims = [v["claim"] for v in out]
    assert set(claims) <= set(PREREGISTERED) and len(claims) == len(set(claims))
    assert "ch2-compression-vs-null-relu" in claims and "ch2-akde-compression" in claims
    for v in out:
        assert len(v["grid"]) == len(v["grid_values"]) >= 6


def test_correlations_positive_on_a_built_in_relation():
    rng = np.random.default_rng(0)
    rs = []
    for i in range(30):
        c = rng.uniform(0, 3)
        rs.append(fake("tanh", 0.0, i % 3, [1, 1 + c, 1], 0.7 + 0.08 * c + 0.01 * rng.normal()))
    corr = layer_correlations(rs)
    assert corr["output"]["pearson_r"] > 0.9 and corr["output"]["spearman_p"] < 1e-3
    assert np.isnan(corr["h1"]["pearson_r"])  # constant compression: undefined, not a number
    neg = [fake("tanh", 0.0, 0, [1, 1 + c, 1], 1 - 0.1 * c) for c in (0.1, 0.5, 1.0, 2.0)]
    assert layer_correlations(neg)["output"]["spearman_rho"] == pytest.approx(-1.0)


def test_correlations_values_on_a_hand_computed_case():
    # compressions 0, 1, 2, 3 against accuracies 0.1, 0.3, 0.2, 0.9: one swapped pair of ranks,
    # Spearman rho = 1 - 6 * 2 / (4 * 15) = 0.8; Pearson r = 1.15 / sqrt(5 * 0.3875)
    acc = [0.1, 0.3, 0.2, 0.9]
    rs = [fake("tanh", 0.0, i, [1, 1 + i, 1], a) for i, a in enumerate(acc)]  # compression i
    out = layer_correlations(rs)["output"]
    assert out["spearman_rho"] == pytest.approx(0.8, abs=1e-12)
    assert out["pearson_r"] == pytest.approx(1.15 / np.sqrt(5 * 0.3875), abs=1e-12)
    assert out["n"] == 4
    # a hidden layer whose compression is the same for every net has no correlation
    assert np.isnan(layer_correlations(rs)["h3"]["spearman_rho"])


def test_chapter_params_02():
    p = chapter("02").resolve("cpu")
    assert p["activations"][:2] == ["tanh", "relu"] and p["l2"] > 0
    assert chapter("02").resolve("smoke", activations="elu,swish")["activations"] == [
        "elu",
        "swish",
    ]
    with pytest.raises(ParameterError, match="activations"):
        chapter("02").resolve("cpu", activations=["sigmoid"])
    with pytest.raises(ParameterError, match="estimators"):
        chapter("02").resolve("cpu", estimators=["knn"])
    with pytest.raises(ParameterError, match="kde_samples"):
        chapter("02").resolve("cpu", kde_samples=10_000)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_adaptive_group_on_cuda_matches_cpu():
    runs = [("relu", 0.0, 0)]
    kw = dict(runs=runs, epochs=3, snapshots=3, estimators=["ebab", "kde", "akde"], kde_samples=64)
    cpu, gpu = adaptive_group(**kw), adaptive_group(**kw, device="cuda")
    for est in ("kde", "akde"):
        for lay in cpu[0].layers:
            np.testing.assert_allclose(cpu[0].planes[est][lay], gpu[0].planes[est][lay], atol=0.05)


def test_adaptive_runs_with_two_worker_processes_equals_one():
    runs = [("tanh", 0.0, 0), ("relu", 0.015, 1)]
    kw = dict(group_size=1, progress=False, epochs=3, snapshots=3, estimators=["ebab", "fixed"],
              variants=False)  # fmt: skip
    par = adaptive_runs(runs, workers=2, **kw)
    seq = [
        adaptive_group(
            runs=[r], epochs=3, snapshots=3, estimators=["ebab", "fixed"], variants=False
        )[0]
        for r in runs
    ]
    for a, b in zip(par, seq, strict=True):
        assert (a.activation, a.l2, a.seed) == (b.activation, b.l2, b.seed)
        for est in ("ebab", "fixed"):
            for lay in a.layers:
                np.testing.assert_allclose(a.planes[est][lay], b.planes[est][lay], atol=1e-9)
    with pytest.raises(ValueError, match="workers"):
        adaptive_runs(runs, workers=0, **kw)


def test_saxe_max_panel_gives_a_tanh_layer_its_lowest_edge():
    from ibcore.measures.information import information_plane, mi_saxe_max

    rng = np.random.default_rng(0)
    t = np.tanh(rng.normal(0.3, 0.3, size=(2, 512, 3)))  # a low-activity tanh layer, min > -1
    y = rng.integers(0, 2, 512)
    opts = estimator_options("saxe_max", "tanh")
    plane = information_plane({"h": t}, y, estimator="saxe_max", **opts)["h"]
    high = t.max(axis=(1, 2))
    for s in range(2):  # bins on [-1, running max], not on [running min - eps, running max]
        want = mi_saxe_max(t[s], y, low=-1.0, high=float(np.maximum.accumulate(high)[s]))
        np.testing.assert_allclose(plane[s], want, atol=1e-9)
    cut = information_plane({"h": t}, y, estimator="saxe_max", n_bins=30)["h"]
    assert not np.allclose(cut[:, 0], plane[:, 0])  # the old, cut-at-the-minimum panel differs
