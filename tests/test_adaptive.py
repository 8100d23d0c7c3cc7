"""Chapter 2 runner: run grid, one batched group, compression, L2 effect and correlations."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore.claims import chapter
from ibcore.claims.ch2_adaptive_estimators import (
    CH2_ESTIMATORS,
    MemberResult,
    adaptive_group,
    adaptive_runs,
    compression_table,
    estimator_options,
    l2_effect,
    layer_correlations,
    mean_l2_effect,
    members,
    non_saturating,
    nonsaturating_compression,
    seedwise_spearman,
    select,
)
from ibcore.schema import ParameterError


def fake(act: str, l2: float, seed: int, ixt_out: list[float], acc: float) -> MemberResult:
    """A MemberResult with a given output-layer I(X;T) trajectory and final test accuracy."""
    s = len(ixt_out)
    flat = np.column_stack([np.full(s, 12.0), np.full(s, 1.0)])
    out = np.column_stack([ixt_out, np.full(s, 0.9)])
    hidden = np.column_stack([np.linspace(4, 8, s), np.full(s, 0.9)])
    plane = {"h1": flat, "h3": hidden, "h4": hidden, "h5": hidden, "output": out}
    return MemberResult(
        activation=act, l2=l2, seed=seed, epochs=np.arange(s), planes={"ebab": plane},
        metrics={"test_acc": np.array([0.5, acc]), "train_acc": np.array([0.5, acc])}, wall_s=0.0,
    )  # fmt: skip


def test_members_order_and_validation():
    runs = members(["tanh", "relu"], [0.0, 0.015], [0, 1])
    assert len(runs) == 8
    assert runs[0] == ("tanh", 0.0, 0) and runs[-1] == ("relu", 0.015, 1)
    assert [r[1] for r in runs[:4]] == [0.0] * 4
    with pytest.raises(ValueError, match="activations.*allowed values"):
        members(["sigmoidish"], [0.0], [0])
    with pytest.raises(ValueError, match="at least one"):
        members([], [0.0], [0])


def test_estimator_options():
    assert estimator_options("ebab", "relu", n_bins=12) == {"n_bins": 12, "activation": "relu"}
    assert estimator_options("kde", "tanh", kde_noise=0.1, kde_samples=None) == {"noise_var": 0.1}
    assert estimator_options("akde", "tanh", akde_alpha=0.2, kde_samples=64) == {
        "subsample": 64, "alpha": 0.2,
    }  # fmt: skip
    with pytest.raises(ValueError, match="estimators.*allowed values"):
        estimator_options("knn", "tanh")


def test_non_saturating():
    assert non_saturating(["tanh", "relu", "softsign", "elu", "linear"]) == ["relu", "elu"]


def test_adaptive_group_small_real_run():
    runs = [("tanh", 0.0, 0), ("relu", 0.015, 1)]
    res = adaptive_group(
        runs=runs, epochs=4, snapshots=3, estimators=list(CH2_ESTIMATORS), kde_samples=128
    )
    assert [(r.activation, r.l2, r.seed) for r in res] == runs
    for r in res:
        assert r.layers == ["h1", "h2", "h3", "h4", "h5", "output"]
        assert set(r.planes) == set(CH2_ESTIMATORS)
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
        kde_samples=128,
    )  # fmt: skip
    for a, b in zip(res, again, strict=True):
        for lay in a.layers:
            # EBAB edges sit on data values: float round-off between ensemble sizes moves an edge
            np.testing.assert_allclose(a.planes["ebab"][lay], b.planes["ebab"][lay], atol=0.05)


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


def test_l2_effect_pairs_seeds():
    base = [fake("tanh", 0.0, s, [1, 2], 0.9) for s in (0, 1, 2)]
    reg = [fake("tanh", 0.01, s, [1, 2], 0.9) for s in (0, 1)]
    for r in reg:  # lower the final I(X;T) of h3..h5 by 1 bit each
        for lay in ("h3", "h4", "h5"):
            r.planes["ebab"][lay] = r.planes["ebab"][lay].copy()
            r.planes["ebab"][lay][-1, 0] -= 1.0
    np.testing.assert_allclose(l2_effect(base + reg, "tanh", 0.01), [3.0, 3.0])
    with pytest.raises(ValueError, match="no seed"):
        l2_effect(base, "relu", 0.01)


def test_correlations_positive_on_a_built_in_relation():
    rng = np.random.default_rng(0)
    rs = []
    for i in range(30):
        c = rng.uniform(0, 3)
        rs.append(fake("tanh", 0.0, i % 3, [1, 1 + c, 1], 0.7 + 0.08 * c + 0.01 * rng.normal()))
    corr = layer_correlations(rs)
    assert corr["output"]["pearson_r"] > 0.9 and corr["output"]["spearman_p"] < 1e-3
    assert np.isnan(corr["h1"]["pearson_r"])  # constant compression: undefined, not a number
    rho = seedwise_spearman(rs, "output")
    assert rho.shape == (3,) and np.all(rho > 0.8)
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
    kw = dict(group_size=1, progress=False, epochs=3, snapshots=3, estimators=["ebab", "fixed"])
    par = adaptive_runs(runs, workers=2, **kw)
    seq = [
        adaptive_group(runs=[r], epochs=3, snapshots=3, estimators=["ebab", "fixed"])[0]
        for r in runs
    ]
    for a, b in zip(par, seq, strict=True):
        assert (a.activation, a.l2, a.seed) == (b.activation, b.l2, b.seed)
        for est in ("ebab", "fixed"):
            for lay in a.layers:
                np.testing.assert_allclose(a.planes[est][lay], b.planes[est][lay], atol=1e-9)
    with pytest.raises(ValueError, match="workers"):
        adaptive_runs(runs, workers=0, **kw)


def test_nonsaturating_compression_per_seed():
    rs = [
        fake("relu", 0.0, 0, [1, 3, 2], 0.9),  # C = 1
        fake("elu", 0.0, 0, [1, 4, 1], 0.9),  # C = 3
        fake("tanh", 0.0, 0, [1, 9, 1], 0.9),  # saturating: left out
        fake("relu", 0.015, 0, [1, 9, 1], 0.9),  # with L2: left out
        fake("relu", 0.0, 1, [1, 2, 2], 0.9),  # C = 0
    ]
    np.testing.assert_allclose(nonsaturating_compression(rs, "output"), [2.0, 0.0])
    assert np.isnan(nonsaturating_compression(rs[2:4], "output")).all()


def test_mean_l2_effect_averages_activations():
    rs = []
    for act, drop in (("tanh", 1.0), ("relu", 3.0)):
        for s in (0, 1):
            rs.append(fake(act, 0.0, s, [1, 2], 0.9))
            reg = fake(act, 0.01, s, [1, 2], 0.9)
            reg.planes["ebab"]["h5"] = reg.planes["ebab"]["h5"].copy()
            reg.planes["ebab"]["h5"][-1, 0] -= drop
            rs.append(reg)
    np.testing.assert_allclose(mean_l2_effect(rs, 0.01), [2.0, 2.0])
    np.testing.assert_allclose(mean_l2_effect(rs, 0.01, ["relu"]), [3.0, 3.0])
