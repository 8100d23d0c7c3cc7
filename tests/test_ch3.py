"""Chapter 3 runner, criterion, presets and speed helpers (Peer et al. 2022, §3–§5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ibcore.claims import ch3_batch_entropy as ch3
from ibcore.claims import chapter
from ibcore.claims.ch3_batch_entropy import (
    accuracy_at,
    final_accuracy,
    flush_denormals,
    lbe_ensemble_run,
    lbe_run,
    lbe_step_cost,
)
from ibcore.data import DataUnavailableError
from ibcore.measures.batch_entropy import (
    EnsembleLBELoss,
    LBELoss,
    MiddleLayersLBELoss,
    batch_entropy,
    batch_entropy_per_layer,
    ensemble_batch_entropy,
)
from ibcore.schema import ParameterError, seeds_list
from ibcore.train import History


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------------
# The vectorised per-layer entropy (one pass over L x B x U)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype, rtol, grad_atol", [(torch.float64, 1e-12, 1e-15), (torch.float32, 1e-5, 2e-8)]
)
def test_stacked_entropies_equal_the_per_layer_values_and_gradients(dtype, rtol, grad_atol):
    g = gen(1)
    scales = [1e-4, 0.01, 0.3, 1.0, 7.0]
    hidden = [
        (s * torch.randn(32, 6, generator=g, dtype=dtype) + 2.0).requires_grad_() for s in scales
    ]
    h = batch_entropy_per_layer(hidden)  # equal shapes: the vectorised path
    ref = torch.stack([batch_entropy(a) for a in hidden])
    torch.testing.assert_close(h, ref, rtol=rtol, atol=1e-12)
    grads = torch.autograd.grad(h.sum(), hidden)
    ref_grads = torch.autograd.grad(ref.sum(), hidden)
    for a, b in zip(grads, ref_grads, strict=True):
        # float32: deviations of 1e-4 around 2.0 keep only ~3 digits in either method
        torch.testing.assert_close(a, b, rtol=1e-4, atol=grad_atol)


def test_stacked_entropies_give_exact_zero_for_constant_layers():
    layers = [torch.full((128, 16), v) for v in (0.1, 3.7, 1e-3)]
    layers.append(torch.randn(128, 16, generator=gen(2)))
    h = batch_entropy_per_layer(layers)
    assert h[:3].tolist() == [0.0, 0.0, 0.0]
    assert h[3] > 0.5


def test_mixed_shapes_still_work_per_layer():
    hidden = [torch.randn(16, 4, generator=gen(3)), torch.randn(16, 2, 3, generator=gen(4))]
    h = batch_entropy_per_layer(hidden)
    assert torch.equal(h, torch.stack([batch_entropy(a) for a in hidden]))


# ------------------------------------------------------------------------------------------------
# MiddleLayersLBELoss: LBE on the authors' D-2 middle layers
# ------------------------------------------------------------------------------------------------


def test_middle_layers_loss_regularises_hidden_1_to_minus_1_only():
    g = gen(5)
    depth = 6
    hidden = [(0.5 * torch.randn(64, 8, generator=g)).requires_grad_() for _ in range(depth)]
    logits = torch.randn(64, 10, generator=g, requires_grad=True)
    y = torch.randint(0, 10, (64,), generator=g)
    crit = MiddleLayersLBELoss(depth, lbe_alpha=1.0, lbe_alpha_min=0.5, lbe_beta=2.0)
    assert crit.lbe.num_layers == depth - 2
    assert [n for n, _ in crit.named_parameters()] == ["lbe.lbe_alpha_p"]
    total = crit(logits, y, hidden)
    ref = LBELoss(depth - 2, 1.0, 0.5, 2.0)(logits, y, hidden[1:-1])
    torch.testing.assert_close(total, ref, rtol=0, atol=0)
    assert total > F.cross_entropy(logits, y)
    grads = torch.autograd.grad(total, hidden, allow_unused=True)
    assert grads[0] is None and grads[-1] is None  # first and last hidden layers are not used
    assert all(gr is not None and gr.abs().sum() > 0 for gr in grads[1:-1])


def test_middle_layers_loss_checks_depth_and_layer_count():
    with pytest.raises(ValueError, match="parameter 'depth' must be an integer >= 3"):
        MiddleLayersLBELoss(2)
    crit = MiddleLayersLBELoss(4)
    logits, y = torch.randn(8, 3), torch.randint(0, 3, (8,))
    with pytest.raises(ValueError, match="built for depth=4 but got 3 hidden layers"):
        crit(logits, y, [torch.randn(8, 5) for _ in range(3)])


# ------------------------------------------------------------------------------------------------
# lbe_run
# ------------------------------------------------------------------------------------------------


def test_lbe_run_records_entropies_targets_and_metrics_with_the_right_shapes():
    h = lbe_run(seed=0, depth=5, width=8, epochs=2, record_every=1, eval_every=1)
    assert h.epochs.tolist() == [0, 1, 2]
    assert h.measures["entropy"].shape == (3, 5)  # every hidden layer T_1..T_5
    assert h.measures["target"].shape == (3, 3)  # the depth-2 regularised layers
    assert np.all(h.measures["entropy"] >= 0)
    assert np.allclose(h.measures["target"][0], 0.5)  # targets start at max(alpha, alpha_min)
    assert h.activations == {}  # raw activations are not kept
    assert h.metrics["epoch"].tolist() == [0, 1, 2]
    assert h.meta["steps_per_epoch"] == 12 and h.meta["steps"] == 24  # 1437 digits, batch 128
    assert h.meta["depth"] == 5 and h.meta["regularised_layers"] == [2, 4]
    assert h.meta["model"]["widths"] == [64, 8, 8, 8, 8, 8, 10]
    assert h.meta["model"]["init"] == "default"
    plain = lbe_run(seed=0, depth=5, width=8, epochs=2, lbe_beta=0.0, record_every=2)
    assert plain.epochs.tolist() == [0, 2]
    assert set(plain.measures) == {"entropy"} and plain.meta["regularised_layers"] == []


def test_plain_deep_net_goes_silent_and_lbe_revives_every_regularised_layer():
    kw = dict(seed=0, depth=20, width=32, epochs=10, lr=1e-3, record_every=10, eval_every=10)
    plain = lbe_run(lbe_beta=0.0, **kw)
    lbe = lbe_run(lbe_alpha=0.5, lbe_alpha_min=0.5, lbe_beta=1.0, **kw)
    hp, hl = plain.measures["entropy"], lbe.measures["entropy"]
    assert hp[0, -1] == 0.0 and hl[0, -1] == 0.0  # same init: the last layer is silent at first
    assert hp[-1, -1] == 0.0 and hp[-1, 1:-1].min() == 0.0  # the plain net stays silent
    assert plain.metrics["train_acc"][-1] < 0.15  # ... and at chance (10 classes)
    assert hl[-1, 1:-1].min() > 0.2  # LBE: every regularised layer has entropy again
    assert lbe.metrics["train_acc"][-1] > plain.metrics["train_acc"][-1] + 0.04


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"depth": 2}, "depth"),
        ({"width": 0}, "width"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1}, "batch_size"),
        ({"record_every": 0}, "record_every"),
        ({"eval_every": 0}, "eval_every"),
        ({"lbe_beta": -1.0}, "lbe_beta"),
        ({"lbe_alpha_min": float("nan")}, "lbe_alpha_min"),
        ({"dataset": "imagenet"}, "dataset"),
    ],
)
def test_lbe_run_rejects_bad_parameters_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lbe_run(seed=0, **kwargs)


def test_lbe_run_without_mnist_files_names_the_offline_data_set():
    with pytest.raises(DataUnavailableError, match="dataset='digits'"):
        lbe_run(seed=0, dataset="mnist", depth=3, width=4, epochs=1)


# ------------------------------------------------------------------------------------------------
# Presets, speed helpers
# ------------------------------------------------------------------------------------------------


def test_chapter_3_presets_validate():
    smoke, cpu, full, paper = (chapter("03").resolve(s) for s in ("smoke", "cpu", "full", "paper"))
    assert (cpu["depth"], cpu["width"], cpu["lr"], cpu["batch_size"]) == (50, 128, 3e-4, 128)
    assert (cpu["lbe_alpha"], cpu["lbe_alpha_min"], cpu["lbe_beta"]) == (1.0, 0.2, 1.0)
    assert (cpu["authors_alpha"], cpu["authors_alpha_min"], cpu["authors_beta"]) == (2.0, 0.2, 0.1)
    assert cpu["epochs"] * 12 == 792 and cpu["plain_epochs"] == 5 * cpu["epochs"]
    assert cpu["authors_epochs"] >= cpu["epochs"] and max(cpu["sweep_depths"]) > 50
    assert 50 in cpu["sweep_depths"] and len(seeds_list(cpu["seeds"])) >= 5
    assert (paper["dataset"], paper["depth"], paper["width"]) == ("mnist", 500, 1000)
    assert (paper["authors_alpha"], paper["authors_alpha_min"], paper["authors_beta"]) == (
        2.0, 0.2, 0.1,
    )  # fmt: skip
    assert paper["plain_epochs"] == 5 * paper["epochs"]
    assert smoke["depth"] < cpu["depth"] and smoke["epochs"] < cpu["epochs"]
    assert chapter("03").resolve("cpu", sweep_depths=[10, 40])["sweep_depths"] == [10, 40]
    assert (full["dataset"], full["depth"], full["plain_epochs"]) == ("fashionmnist", 500, 10)
    for scale in (smoke, cpu, full, paper):
        ch3.check_budgets(scale)  # every preset's budgets fit together
        runs = ch3.main_members(scale)
        assert list(runs) == ["plain", "authors", "tuned"]  # longest first
        assert all(m["lbe_beta"] == 0 for m in runs["plain"]["members"])
        assert runs["plain"]["epochs"] == scale["plain_epochs"]
        assert runs["tuned"]["epochs"] == scale["epochs"]
        for arm, r in runs.items():
            assert {m["arm"] for m in r["members"]} == {arm}
            assert scale["epochs"] in r["marks"] and scale["grad_epoch"] in r["marks"]
        assert scale["authors_epochs"] in runs["plain"]["marks"]


def test_calibration_seeds_are_never_final_seeds_and_thresholds_are_fixed():
    cal = set(ch3.CALIBRATION_SEEDS) | {ch3.SELECTION_SEED}
    for scale in ("smoke", "cpu", "full", "paper"):
        p = chapter("03").resolve(scale)
        assert not cal & set(seeds_list(p["seeds"])), scale
        assert not cal & set(seeds_list(p["sweep_seeds"])), scale
    assert 1 not in seeds_list(chapter("03").resolve("cpu")["seeds"])  # used when picking
    names = {"ch3-plain-untrainable", "ch3-tuned-test-vs-plain"} | {
        f"ch3-{a}-entropy-vs-plain" for a in ("tuned", "authors")
    }
    assert set(ch3.PREREGISTERED) == names
    for pr in ch3.PREREGISTERED.values():
        assert "PENDING" not in pr.reasoning and "alibration" in pr.reasoning
        assert tuple(pr.calibration_seeds) == ch3.CALIBRATION_SEEDS
    assert set(ch3.sensitivity_settings(chapter("03").resolve("cpu"))) == names | {"ch3-primary"}


@pytest.mark.parametrize(
    "values, name",
    [
        ({"authors_epochs": 3}, "authors_epochs"),
        ({"plain_epochs": 3}, "plain_epochs"),
        ({"epochs": 65}, "epochs"),
        ({"sweep_epochs": 65}, "sweep_epochs"),
        ({"grad_epoch": 500}, "grad_epoch"),
    ],
)
def test_chapter_3_budgets_that_do_not_fit_name_the_parameter(values, name):
    p = chapter("03").resolve("cpu", **values)
    with pytest.raises(ParameterError, match=f"parameter '{name}'"):
        ch3.check_budgets(p)


@pytest.mark.parametrize(
    "values, name",
    [({"depth": 2}, "depth"), ({"dataset": "szt12"}, "dataset"), ({"batch_size": 1}, "batch_size")],
)
def test_chapter_3_bad_parameters_raise(values, name):
    with pytest.raises(ParameterError, match=f"parameter '{name}'"):
        chapter("03").resolve("cpu", **values)


def test_lbe_step_cost_one_round_ratio_is_lbe_over_plain():
    r = lbe_step_cost(depth=4, width=8, batch_size=16, steps=2, repeats=1)
    assert set(r) == {"plain_s", "lbe_s", "ratio", "ratio_min", "ratio_max"}
    assert r["plain_s"] > 0 and r["lbe_s"] > 0
    assert r["ratio"] == r["ratio_min"] == r["ratio_max"] == r["lbe_s"] / r["plain_s"]


def test_lbe_step_cost_of_an_ensemble_step():
    r = lbe_step_cost(depth=4, width=8, batch_size=16, steps=2, repeats=1, ensemble=2)
    assert r["plain_s"] > 0 and r["lbe_s"] > 0 and r["ratio"] == r["lbe_s"] / r["plain_s"]
    with pytest.raises(ValueError, match="ensemble"):
        lbe_step_cost(depth=4, width=8, steps=1, repeats=1, ensemble=-1)


def test_lbe_step_cost_times_per_step_alternates_and_takes_medians(monkeypatch):
    """A scripted CPU clock: round r times plain then LBE (even r) or LBE then plain (odd r)."""
    import sys
    import time

    steps = 2
    plain = [1.0, 3.0, 2.0]  # seconds per round of `steps` steps
    lbe = [1.5, 3.3, 4.0]  # per-round ratios 1.5, 1.1, 2.0
    order = []
    for r in range(3):
        pair = [("plain", plain[r]), ("lbe", lbe[r])]
        order += pair if r % 2 == 0 else pair[::-1]
    ticks = iter([x for _, d in order for x in (0.0, d)])
    real = time.process_time

    def clock():
        if sys._getframe(1).f_code.co_name == "timed":  # only lbe_step_cost's own timing calls
            return next(ticks)
        return real()

    monkeypatch.setattr(time, "process_time", clock)
    r = lbe_step_cost(depth=3, width=4, batch_size=8, steps=steps, repeats=3)
    assert next(ticks, None) is None  # exactly 2 clock reads per timed block, 6 blocks
    assert r["plain_s"] == pytest.approx(2.0 / steps) and r["lbe_s"] == pytest.approx(3.3 / steps)
    assert r["ratio"] == pytest.approx(1.5)  # the median of the per-round ratios, not 3.3 / 2.0
    assert r["ratio_min"] == pytest.approx(1.1) and r["ratio_max"] == pytest.approx(2.0)


def test_flush_denormals_is_scoped():
    tiny = torch.tensor([1e-39])  # a float32 denormal
    with flush_denormals():
        assert (tiny * 1.0).item() == 0.0
    assert (tiny * 1.0).item() > 0.0


def test_lbe_run_restores_the_thread_count_and_denormal_mode():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lbe_run(seed=0, depth=3, width=4, epochs=1)
        assert torch.get_num_threads() == 2
        assert (torch.tensor([1e-39]) * 1.0).item() > 0.0  # flushing is off again
    finally:
        torch.set_num_threads(old)


def test_final_accuracy_is_the_mean_of_the_last_evaluations():
    h = lbe_run(seed=0, depth=3, width=4, epochs=4, record_every=4, eval_every=1)
    acc = h.metrics["train_acc"]
    assert final_accuracy(h) == pytest.approx(acc[-5:].mean())
    assert final_accuracy(h, "test_acc", last=1) == pytest.approx(h.metrics["test_acc"][-1])
    with pytest.raises(ValueError, match="parameter 'key'"):
        final_accuracy(h, "val_acc")
    with pytest.raises(ValueError, match="parameter 'last'"):
        final_accuracy(h, last=0)


# ------------------------------------------------------------------------------------------------
# The batched ensemble: every member is the single net, to round-off
# ------------------------------------------------------------------------------------------------


def test_ensemble_entropies_equal_the_per_member_values():
    g = gen(7)
    hidden = [torch.randn(3, 32, 5, generator=g) * s + 1.0 for s in (1e-3, 0.5, 2.0)]
    h = ensemble_batch_entropy(hidden)
    assert h.shape == (3, 3)
    for k in range(3):
        torch.testing.assert_close(h[k], batch_entropy_per_layer([a[k] for a in hidden]))


def test_ensemble_lbe_loss_equals_the_middle_layers_loss_of_each_member():
    g = gen(8)
    depth, K = 5, 3
    hidden = [(0.4 * torch.randn(K, 16, 6, generator=g)).requires_grad_() for _ in range(depth)]
    logits = torch.randn(K, 16, 4, generator=g, requires_grad=True)
    y = torch.randint(0, 4, (K, 16), generator=g)
    vals = ([1.0, 2.0, 0.0], [0.5, 0.2, 0.0], [1.0, 0.1, 0.0])  # member 2 is plain (beta 0)
    crit = EnsembleLBELoss(depth, *vals)
    out = crit(logits, y, hidden)
    assert out.shape == (K,)
    for k in range(K):
        ref = MiddleLayersLBELoss(depth, vals[0][k], vals[1][k], vals[2][k])
        torch.testing.assert_close(out[k], ref(logits[k], y[k], [a[k] for a in hidden]))
    torch.testing.assert_close(out[2], F.cross_entropy(logits[2], y[2]))
    ga = torch.autograd.grad(out.sum(), crit.lbe_alpha_p)[0]
    assert ga[2].abs().sum() == 0 and ga[0].abs().sum() > 0  # beta 0: the targets do not move
    assert crit.targets().shape == (K, depth - 2)
    with pytest.raises(ValueError, match="one lbe_alpha, lbe_alpha_min and lbe_beta per member"):
        EnsembleLBELoss(depth, [1.0], [0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="built for depth=5 but got 4"):
        crit(logits, y, hidden[:4])


def test_ensemble_members_train_exactly_like_single_runs():
    kw = dict(depth=6, width=12, epochs=4, lr=1e-3, record_every=2, eval_every=2)
    members = [
        dict(seed=3, arm="tuned", lbe_alpha=1.0, lbe_alpha_min=0.5, lbe_beta=1.0),
        dict(seed=4, arm="plain", lbe_alpha=0.0, lbe_alpha_min=0.0, lbe_beta=0.0),
    ]
    hs = lbe_ensemble_run(members=members, marks=[1], **kw)
    assert [h.meta["arm"] for h in hs] == ["tuned", "plain"]
    for m, h in zip(members, hs, strict=True):
        single = lbe_run(seed=m["seed"], **{k: m[k] for k in ch3.ARM_KEYS}, **kw)
        np.testing.assert_allclose(h.metrics["train_loss"], single.metrics["train_loss"], atol=1e-5)
        np.testing.assert_allclose(h.metrics["train_acc"], single.metrics["train_acc"], atol=1e-6)
        assert h.epochs.tolist() == [0, 1, 2, 4]
        keep = np.isin(h.epochs, single.epochs)
        np.testing.assert_allclose(
            h.measures["entropy"][keep], single.measures["entropy"], atol=1e-5
        )
        assert h.measures["grad_norm"].shape == (4, kw["depth"] + 1)
        assert np.all(h.measures["grad_norm"] >= 0)
        if m["lbe_beta"]:
            np.testing.assert_allclose(
                h.measures["target"][keep], single.measures["target"], atol=1e-6
            )
        else:
            assert "target" not in h.measures
    with pytest.raises(ValueError, match="parameter 'members'"):
        lbe_ensemble_run(members=[{"seed": 0}], **kw)


def test_grad_norm_is_the_cross_entropy_gradient_of_each_weight_matrix():
    from ibcore.data import load_dataset
    from ibcore.models import build_mlp

    kw = dict(depth=4, width=8, epochs=1, record_every=1, eval_every=1)
    h = lbe_ensemble_run(members=[dict(seed=5, lbe_alpha=0, lbe_alpha_min=0, lbe_beta=0)], **kw)
    data = load_dataset("digits", seed=0)
    net = build_mlp([64, 8, 8, 8, 8, 10], "relu", seed=5)
    loss = F.cross_entropy(net(data.x_train[:128]), data.y_train[:128])
    weights = [b.linear.weight for b in net.blocks] + [net.head.weight]
    ref = [float(g.norm()) for g in torch.autograd.grad(loss, weights)]
    np.testing.assert_allclose(h[0].measures["grad_norm"][0], ref, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# Verdict metrics on histories built by hand
# ------------------------------------------------------------------------------------------------


def fake_history(acc, test_acc, entropy, every=3):
    n = len(acc)
    ep = np.arange(n, dtype=float) * every
    return History(
        epochs=(np.arange(len(entropy)) * every).astype(np.int64), activations={},
        measures={"entropy": np.asarray(entropy, dtype=float)},
        metrics={"epoch": ep, "train_acc": np.asarray(acc, float),
                 "test_acc": np.asarray(test_acc, float)},
        probe_labels=np.zeros(1), meta={},
    )  # fmt: skip


def test_accuracy_at_reads_the_curve_up_to_the_budget():
    h = fake_history([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.0] * 8, [[0.0]] * 8)
    assert accuracy_at(h, 21, last=1) == pytest.approx(0.8)
    assert accuracy_at(h, 12, last=3) == pytest.approx(0.4)  # evals at 6, 9, 12
    assert accuracy_at(h, 12, last=10) == pytest.approx(0.3)  # fewer evals than asked: all
    with pytest.raises(ValueError, match="parameter 'epoch'"):
        accuracy_at(h, 13)


def test_gaps_are_paired_per_seed_and_can_go_below_zero():
    ent = [[0.5, 0.0], [0.5, 0.3]]
    lbe = [
        fake_history([0.1] * 3, [0.1, 0.4, 0.6], ent),
        fake_history([0.1] * 3, [0.1, 0.2, 0.2], ent),
    ]
    plain = [fake_history([0.1] * 5, [0.1, 0.1, 0.1, 0.1, 0.1], [[0.5, 0.0]] * 2)] * 2
    assert ch3.accuracy_gaps(lbe, plain, 6, 12, last=1) == pytest.approx([0.5, 0.1])
    caught_up = [fake_history([0.1] * 5, [0.1, 0.1, 0.1, 0.1, 0.9], [[0.5, 0.0]] * 2)] * 2
    assert ch3.accuracy_gaps(lbe, caught_up, 6, 12, last=1) == pytest.approx([-0.3, -0.7])
    assert ch3.entropy_gaps(lbe, plain, 3) == pytest.approx([0.3, 0.3])
    assert ch3.entropy_gaps(lbe, plain, 3, "min") == pytest.approx([0.3, 0.3])
    assert ch3.entropy_gaps(lbe, plain, 0, "mean") == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="parameter 'layers'"):
        ch3.entropy_gaps(lbe, plain, 3, "first")


def test_deepest_trained_depth():
    assert ch3.deepest_trained([10, 50, 100], [0.9, 0.6, 0.2]) == 50
    assert ch3.deepest_trained([10, 50, 100], [0.9, 0.2, 0.6]) == 100
    assert ch3.deepest_trained([10, 50], [0.1, 0.2]) is None


def test_stacked_entropy_backward_is_the_exact_gradient():
    from ibcore.measures.batch_entropy import _StackedEntropy

    g = gen(9)
    for shape in ((3, 7, 4), (2, 3, 6, 5)):  # (L, B, U) and the ensemble's (L, K, B, U)
        a = (torch.randn(*shape, generator=g, dtype=torch.float64) * 0.7).requires_grad_()
        assert torch.autograd.gradcheck(_StackedEntropy.apply, (a,))
        v = a.var(dim=-2, correction=1)
        ref = torch.mean(0.5 * torch.log(math.pi * math.e * v + 1.0), dim=-1)
        torch.testing.assert_close(_StackedEntropy.apply(a), ref, rtol=1e-12, atol=1e-14)
