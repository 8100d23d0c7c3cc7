"""The wiring that decides verdicts, on hand-made inputs: permuted-label nulls, ensemble members'
own labels, the subsampled information plane, the rule's edge cases, the phase detectors on the
exact ``cpu`` snapshot grids and the pinned ``cpu`` presets. Each expected value is computed
here, independently, and differs from what each plausible wrong variant of the code gives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import t as student_t

from ibcore import data as ibdata
from ibcore import runs as ibruns
from ibcore import train as ibtrain
from ibcore import verdicts
from ibcore.claims import MODULES, chapter
from ibcore.claims import ch0_information_plane as ch0
from ibcore.claims import ch4_identity_shortcuts as ch4
from ibcore.claims.primaries import PRIMARIES
from ibcore.measures import information, phases, zxzy
from ibcore.models import build_mlp

SALT = 0x5EED  # the documented per-seed stream of the permuted labels: default_rng([seed, SALT])
N_SZT, N_TRAIN_SZT, ONES_SZT = 4096, 3277, 2118  # round(0.8 * 4096) = 3277 training inputs


# ------------------------------------------------------------------------------------------------
# 1. Permuted-label nulls are really permuted
# ------------------------------------------------------------------------------------------------


def _szt_labels(seed: int, labels: str) -> np.ndarray:
    """The 12-bit task's labels of ``seed`` by hand: all 4096 labels, permuted as documented."""
    _, y = ibdata.szt_task()
    if labels == "permuted":
        y = y[np.random.default_rng([seed, SALT]).permutation(N_SZT)]
    return y.astype(np.int64)


def _szt_train_rows(seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(N_SZT)[:N_TRAIN_SZT])


@pytest.mark.parametrize("seed", [3, 11, 250])
def test_szt12_permuted_labels_are_a_seeded_permutation_with_the_same_split(seed):
    true, null = ibdata.load_szt12(seed=seed), ibdata.load_szt12(seed=seed, labels="permuted")
    y, yp = _szt_labels(seed, "true"), _szt_labels(seed, "permuted")
    assert int(y.sum()) == ONES_SZT and int(null.y_probe.sum()) == ONES_SZT  # class counts kept
    np.testing.assert_array_equal(true.y_probe.numpy(), y)
    np.testing.assert_array_equal(null.y_probe.numpy(), yp)  # the documented permutation
    rows = _szt_train_rows(seed)
    test_rows = np.setdiff1d(np.arange(N_SZT), rows)
    np.testing.assert_array_equal(null.y_train.numpy(), yp[rows])  # permuted before the split
    np.testing.assert_array_equal(null.y_test.numpy(), yp[test_rows])
    # the same inputs, in the same split and order: only the labels move
    for k in ("x_train", "x_test", "x_probe"):
        assert torch.equal(getattr(true, k), getattr(null, k)), k
    # really shuffled: agreement with the true labels is near chance (p^2 + (1 - p)^2 = 0.50)
    agree = float((null.y_probe.numpy() == y).mean())
    assert 0.45 < agree < 0.55
    assert null.name == "szt12-permuted" and null.meta["labels"] == "permuted"


def test_szt12_permutation_depends_on_the_seed():
    a, b = _szt_labels(3, "permuted"), _szt_labels(4, "permuted")
    assert not np.array_equal(a, b)
    y3 = ibdata.load_szt12(seed=3, labels="permuted").y_probe.numpy()
    y3b = ibdata.load_szt12(seed=3, labels="permuted").y_probe.numpy()
    y4 = ibdata.load_szt12(seed=4, labels="permuted").y_probe.numpy()
    np.testing.assert_array_equal(y3, y3b)
    np.testing.assert_array_equal(y3, a) and np.testing.assert_array_equal(y4, b)
    # the split's stream (default_rng(seed)) is not the labels' stream
    _, y = ibdata.szt_task()
    assert not np.array_equal(y3, y[np.random.default_rng(3).permutation(N_SZT)])


@pytest.mark.parametrize("seed", [0, 7])
def test_digits_permuted_labels_keep_each_splits_class_counts(seed):
    true = ibdata.load_digits(seed=seed, probe="all")
    null = ibdata.load_digits(seed=seed, probe="all", labels="permuted")
    ytr, yte = true.y_train.numpy(), true.y_test.numpy()
    rng = np.random.default_rng([seed, SALT])  # train first, then test, from one stream
    etr, ete = ytr[rng.permutation(len(ytr))], yte[rng.permutation(len(yte))]
    np.testing.assert_array_equal(null.y_train.numpy(), etr)
    np.testing.assert_array_equal(null.y_test.numpy(), ete)
    np.testing.assert_array_equal(null.y_probe.numpy(), np.concatenate([etr, ete]))
    for a, b in ((null.y_train, ytr), (null.y_test, yte)):  # counts kept within each part
        assert np.array_equal(np.bincount(a.numpy(), minlength=10), np.bincount(b, minlength=10))
        assert float((a.numpy() == b).mean()) < 0.25  # chance is about 0.1
    for k in ("x_train", "x_test", "x_probe"):
        assert torch.equal(getattr(true, k), getattr(null, k)), k
    other = ibdata.load_digits(seed=seed + 1, labels="permuted")
    assert not np.array_equal(
        other.y_train.numpy(), ibdata.load_digits(seed=seed + 1).y_train.numpy()
    )


def _toy(n_train: int = 30, n_test: int = 12, n_probe: int = 5):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n_train + n_test, 3, generator=g)
    y = torch.tensor([0] * 20 + [1] * 7 + [2] * 3 + [1] * 9 + [0] * 2 + [2] * 1)  # unbalanced
    return ibdata.Dataset("toy", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 3,
                          x[n_train:n_train + n_probe], y[n_train:n_train + n_probe])  # fmt: skip


@pytest.mark.parametrize("seed", [2, 19])
def test_ch4_permute_labels_is_the_documented_per_seed_permutation(seed):
    d = _toy()
    p = ch4.permute_labels(d, seed)
    rng = np.random.default_rng([seed, SALT])
    etr = d.y_train.numpy()[rng.permutation(30)]
    ete = d.y_test.numpy()[rng.permutation(12)]
    np.testing.assert_array_equal(p.y_train.numpy(), etr)
    np.testing.assert_array_equal(p.y_test.numpy(), ete)
    np.testing.assert_array_equal(p.y_probe.numpy(), ete[:5])  # the probe follows the test labels
    assert not np.array_equal(p.y_train.numpy(), d.y_train.numpy())
    assert not np.array_equal(p.y_test.numpy(), d.y_test.numpy())
    for a, b in ((p.y_train, d.y_train), (p.y_test, d.y_test)):
        assert torch.equal(torch.bincount(a, minlength=3), torch.bincount(b, minlength=3))
    assert torch.equal(p.x_train, d.x_train) and torch.equal(p.x_test, d.x_test)


def test_ch4_null_run_trains_and_records_its_own_permuted_labels():
    h = ch4.shortcut_run(seed=5, shortcut="identity", labels="permuted", epochs=1, snapshots=2,
                         depth=2, width=16, probe_steps=2, probes="deepest-zx")  # fmt: skip
    ref = ibdata.load_digits(seed=5, probe="all")
    rng = np.random.default_rng([5, SALT])
    ytr, yte = ref.y_train.numpy(), ref.y_test.numpy()
    expect = np.concatenate([ytr[rng.permutation(len(ytr))], yte[rng.permutation(len(yte))]])
    np.testing.assert_array_equal(h.probe_labels, expect)
    assert h.meta["dataset"] == "digits-permuted"


# ------------------------------------------------------------------------------------------------
# 2. Ensemble members train on their own labels
# ------------------------------------------------------------------------------------------------

MEMBERS = [(21, "permuted"), (22, "true"), (23, "permuted"), (24, "true")]
RUN = dict(epochs=3, snapshots=3, lr=1e-2, eval_every=1)


def _hand_dataset(seed: int, labels: str) -> ibdata.Dataset:
    """A member's data set built here, not by ``load_szt12``."""
    f, _ = ibdata.szt_task()
    y = torch.from_numpy(_szt_labels(seed, labels))
    x = torch.from_numpy(f.astype(np.float32))
    tr = torch.from_numpy(_szt_train_rows(seed))
    te = torch.from_numpy(np.setdiff1d(np.arange(N_SZT), tr.numpy()))
    return ibdata.Dataset("hand", x[tr], y[tr], x[te], y[te], 2, x, y)


def test_ensemble_members_train_on_their_own_labels():
    seeds, labs = [s for s, _ in MEMBERS], [lab for _, lab in MEMBERS]
    hs = ibruns.szt_ensemble_run(seeds=seeds, labels=labs, **RUN)
    record = sorted({*ibtrain.log_snapshots(RUN["epochs"], RUN["snapshots"]).tolist(), 3})
    for (seed, lab), h in zip(MEMBERS, hs, strict=True):
        mine = _hand_dataset(seed, lab)
        np.testing.assert_array_equal(h.probe_labels, mine.y_probe.numpy())  # recorded labels
        assert h.meta["seed"] == seed
        assert h.meta["dataset"] == ("szt12" if lab == "true" else "szt12-permuted")
        # the training targets: the member's loss at init and after each epoch of training, as a
        # single net trained here on the hand-built data set of that member
        single = ibtrain.train(
            build_mlp(list(ibruns.SZT_WIDTHS), "tanh", init="idnns", seed=seed), mine,
            epochs=RUN["epochs"], lr=RUN["lr"], batch_size=256, record_epochs=record,
            shuffle=False, seed=seed, eval_every=1,
        )  # fmt: skip
        for k in ("train_loss", "train_acc", "test_loss"):
            np.testing.assert_allclose(h.metrics[k], single.metrics[k], atol=1e-5, err_msg=k)
        np.testing.assert_allclose(h.activations["h5"], single.activations["h5"], atol=1e-4)


def test_plane_group_estimates_each_members_plane_on_its_own_labels(monkeypatch):
    seen: list[np.ndarray] = []
    real = ch0.information_plane

    def spy(history, *args, **kwargs):
        seen.append(np.asarray(history.probe_labels).copy())
        return real(history, *args, **kwargs)

    monkeypatch.setattr(ch0, "information_plane", spy)
    order = [(31, "true"), (32, "permuted"), (33, "true"), (31, "permuted")]
    out = ch0.plane_group(seeds=[s for s, _ in order], labels=[lab for _, lab in order],
                          epochs=2, snapshots=2, n_bins=(4,), ebab_bins=(4,))  # fmt: skip
    assert len(seen) == 2 * len(order)  # one fixed and one EBAB plane per member
    for i, ((seed, lab), r) in enumerate(zip(order, out, strict=True)):
        assert (r.seed, r.labels) == (seed, lab)
        for y in seen[2 * i : 2 * i + 2]:
            np.testing.assert_array_equal(y, _szt_labels(seed, lab))


# ------------------------------------------------------------------------------------------------
# 3. A subsampled information plane is the plane of the same rows, indexed explicitly
# ------------------------------------------------------------------------------------------------


def _acts(n: int = 60, seed: int = 4) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    a = np.tanh(rng.normal(size=(3, n, 2)) + 0.8 * y[None, :, None] - 0.8)
    b = np.tanh(rng.normal(size=(3, n, 3)) * np.array([0.3, 1.0, 2.0])[:, None, None])
    return {"a": a.astype(np.float32), "b": b.astype(np.float32)}, y


@pytest.mark.parametrize(
    "estimator, options",
    [("fixed", {"n_bins": 3}), ("ebab", {"n_bins": 3}), ("kde", {"noise_var": 0.05})],
)
@pytest.mark.parametrize("as_torch", [False, True])
def test_subsampled_plane_equals_plane_of_the_same_rows(estimator, options, as_torch):
    acts, y = _acts()
    k, s = 25, 9
    rows = np.sort(np.random.default_rng(s).choice(60, k, replace=False))  # as documented
    wrap = (lambda a: torch.from_numpy(a)) if as_torch else (lambda a: a)
    got = information.information_plane(
        {n: wrap(a) for n, a in acts.items()}, y, estimator, subsample=k, subsample_seed=s,
        **options,
    )  # fmt: skip
    want = information.information_plane(
        {n: wrap(a[:, rows]) for n, a in acts.items()}, y[rows], estimator, **options
    )
    for n in acts:
        np.testing.assert_allclose(got[n], want[n], rtol=1e-9, atol=1e-12, err_msg=n)

    # the test can tell: other rows, another seed's rows, or labels out of step give other planes
    def plane(rows_x, rows_y):
        sub = {n: a[:, rows_x] for n, a in acts.items()}
        return information.information_plane(sub, y[rows_y], estimator, **options)

    other_seed = np.sort(np.random.default_rng(0).choice(60, k, replace=False))
    unsorted = np.random.default_rng(s).choice(60, k, replace=False)
    for wrong in (plane(np.arange(k), np.arange(k)), plane(other_seed, other_seed),
                  plane(rows, unsorted), plane(rows, np.arange(k))):  # fmt: skip
        assert any(not np.allclose(wrong[n], want[n]) for n in acts)


def test_subsample_of_a_history_uses_its_probe_labels():
    acts, y = _acts()
    h = ibtrain.History(np.arange(3), acts, {}, {}, probe_labels=y)
    rows = np.sort(np.random.default_rng(2).choice(60, 30, replace=False))
    got = information.information_plane(h, estimator="fixed", n_bins=3, subsample=30,
                                        subsample_seed=2)  # fmt: skip
    want = information.information_plane({n: a[:, rows] for n, a in acts.items()}, y[rows],
                                         "fixed", n_bins=3)  # fmt: skip
    for n in acts:
        np.testing.assert_array_equal(got[n], want[n])


# ------------------------------------------------------------------------------------------------
# 4. Edge cases of the rule
# ------------------------------------------------------------------------------------------------

GOOD = [0.30, 0.42, 0.35, 0.48]


@pytest.mark.parametrize("direction, sign", [(">=", 1.0), ("<=", -1.0)])
def test_a_nan_seed_among_good_ones_reads_inconclusive_and_is_not_dropped(direction, sign):
    good = [sign * v for v in GOOD]
    assert verdicts.judge(good, 0.0, direction, "cpu").status == "reproduced"
    assert verdicts.judge(good + good[:1], 0.0, direction, "cpu").status == "reproduced"
    j = verdicts.judge([*good[:2], math.nan, *good[2:]], 0.0, direction, "cpu")
    assert j.status == "inconclusive" and j.n == 5
    assert math.isnan(j.bound) and math.isnan(j.mean) and math.isnan(j.p_value)


def test_confidence_bounds_are_one_sided_t_bounds():
    lo, hi = verdicts.confidence_bounds([1.0, 2.0, 3.0])  # mean 2, sd 1, n 3
    half = (0.9 / math.sqrt(2 * 0.95 * 0.05)) / math.sqrt(3)  # t(0.95, 2), closed form at df 2
    assert lo == pytest.approx(2 - half, abs=1e-12) and hi == pytest.approx(2 + half, abs=1e-12)
    assert half == pytest.approx(student_t.ppf(0.95, 2) / math.sqrt(3), abs=1e-12)


@pytest.mark.parametrize("direction", [">=", "<="])
def test_a_bound_exactly_on_the_threshold_does_not_clear_it(direction):
    v = [1.0, 2.0, 3.0]  # symmetric: mean 2 exactly
    lo, hi = verdicts.confidence_bounds(v)
    on, off = (lo, hi) if direction == ">=" else (hi, lo)
    j = verdicts.judge(v, on, direction, "cpu")
    assert j.bound == on  # the bound on the side of failing sits exactly on the threshold
    assert j.status == "inconclusive"  # not reproduced: the other bound is clear of it
    # the other bound exactly on the threshold does not reach it either: not reproduced
    assert verdicts.judge(v, off, direction, "cpu").status == "not reproduced"
    # no spread, every value on the threshold: both bounds on it, not reproduced
    assert verdicts.judge([0.25] * 5, 0.25, direction, "cpu").status == "not reproduced"
    # a hair off the threshold on the passing side clears it
    nudge = -1e-9 if direction == ">=" else 1e-9
    assert verdicts.judge(v, on + nudge, direction, "cpu").status == "reproduced"


# ------------------------------------------------------------------------------------------------
# 5. Phase detectors on the exact cpu snapshot grids
# ------------------------------------------------------------------------------------------------

CH0_CPU_GRID = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 19, 23, 28, 34, 41, 50, 60, 73, 89, 107, 130,
                157, 189, 228, 276, 333, 402, 485, 586, 707, 853, 1029, 1242, 1498, 1500]  # fmt: skip


def test_ch0_cpu_snapshot_grid():
    p = ch0.CHAPTER.preset("cpu")
    assert (p["epochs"], p["snapshots"]) == (1500, 40)
    grid = sorted({*ibtrain.log_snapshots(p["epochs"], p["snapshots"]).tolist(), p["epochs"]})
    assert grid == CH0_CPU_GRID  # 36 snapshots: log-spacing repeats some early epochs
    h = ibruns.szt_run(seed=1, epochs=40, snapshots=8, eval_every=40)  # what the runner records
    # int(2 ** (k log2(40) / 7)) - 1 for k = 0..7: 0, 0, 1, 3, 7, 12, 22, 39; and the last epoch
    assert h.epochs.tolist() == [0, 1, 3, 7, 12, 22, 39, 40]


def _ity_rise_at(i: int, n: int) -> np.ndarray:
    """Output I(T;Y): 0.5 at init, a ramp below the 90 % mark, exactly on the mark at ``i``, the
    maximum 1.5 right after, then a fall to 1.0 (the maximum is at ``i`` when ``i`` is last)."""
    ity = np.full(n, 1.0)
    ity[0] = 0.5
    if i > 1:  # crosses 90 % of the maximum (1.35) and 90 % of the rise to the end (0.95)
        ity[1:i] = np.linspace(0.6, 1.37, i - 1)
    if i == n - 1:
        ity[i] = 1.5
    else:
        ity[i] = 0.5 + 0.9 * (1.5 - 0.5)  # exactly on the mark
        ity[i + 1] = 1.5
        ity[i + 2 :] = np.linspace(1.4, 1.0, n - i - 2)
    return ity


def test_ch0_fitting_end_returns_each_index_of_the_cpu_grid():
    n = len(CH0_CPU_GRID)
    flat = {"output": np.stack([np.zeros(n), np.full(n, 0.7)], 1)}
    assert phases.fitting_end(flat) == 0
    for i in range(1, n):
        ity = _ity_rise_at(i, n)
        plane = {"h5": np.zeros((n, 2)), "output": np.stack([np.zeros(n), ity], 1)}
        assert phases.fitting_end(plane) == i, i
        assert phases.fitting_end(plane, 0.9) == i, i


CH4_CPU_GRID = [0, 1 / 3, 2 / 3, 1, 2, 5, 9, 16, 30]


def test_ch4_cpu_snapshot_grid():
    p = ch4.CHAPTER.preset("cpu")
    grid = ch4.snapshot_epochs(p["epochs"], p["snapshots"], p["first_epoch_snapshots"])
    assert grid == CH4_CPU_GRID and (p["epochs"], p["snapshots"]) == (30, 7)


@pytest.mark.parametrize("width", [ch4.VERDICT_WIDTH, 3])
@pytest.mark.parametrize("step", [0.3, 0.05])  # 0.05: exactly min_change still counts
def test_ch4_detect_phases_counts_a_rise_that_ends_within_the_window(width, step):
    e = CH4_CPU_GRID
    last = math.ceil(0.6 * (len(e) - 1))  # the window: snapshots 0..5 (epoch 5)
    assert last == 5
    for j in range(1, len(e)):
        info = np.array([0.0] * j + [step] * (len(e) - j))
        p = zxzy.detect_phases(e, info, width=width, min_change=0.05)
        if j <= last:
            assert p.kind == "fit-only", j
            # from the first snapshot at the minimum (here the first) to the end of the rise
            assert p.fit_epochs == (e[0], e[j]) and p.fitting_rise == step, j
        else:
            assert p.kind == "flat" and p.fit_epochs is None and p.fitting_rise == 0.0, j


# ------------------------------------------------------------------------------------------------
# 6. Presets pinned
# ------------------------------------------------------------------------------------------------

GOLDEN = Path(__file__).with_name("presets_golden.json")


@pytest.mark.parametrize("key", sorted(MODULES))
def test_cpu_presets_match_the_record(key):
    want = json.loads(GOLDEN.read_text())["cpu"][key]
    got = chapter(key).preset("cpu")
    assert sorted(got) == sorted(want)
    assert want["seeds"] == "PRIMARY"
    assert list(got["seeds"]) == list(PRIMARIES[key].seeds)
    for name, value in want.items():
        if name == "seeds":
            continue
        assert got[name] == value, (key, name, got[name], value)
        assert type(got[name]) is type(value), (key, name)


@pytest.mark.parametrize("n, last", [(5, 3), (6, 3), (7, 4), (9, 5), (12, 7)])
def test_the_phase_window_is_rounded_up_on_any_grid(n, last):
    """ceil(0.6 (S − 1)): at S = 5 floor and round give 2, at S = 9 (cpu) floor gives 4."""
    e = list(range(n))
    for j in range(1, n):
        info = np.array([0.0] * j + [0.3] * (n - j))
        p = zxzy.detect_phases(e, info, width=1, min_change=0.05)
        assert (p.kind == "fit-only") == (j <= last), (n, j)


def test_probe_standardisation_uses_the_fit_rows_only():
    """Z is standardised with the mean and sd of the probe's fit rows, never of every row."""
    from ibcore.measures.zxzy import _standardise

    z = torch.tensor([[0.0, 1.0], [2.0, 1.0], [10.0, 5.0]])
    fit = torch.tensor([0, 1])
    got = _standardise(z, fit, min_std=0.5)
    # column 0: mean 1, sd sqrt(2); column 1: mean 1, sd 0 -> the floor 0.5
    want = torch.tensor([[-1 / 2**0.5, 0.0], [1 / 2**0.5, 0.0], [9 / 2**0.5, 8.0]])
    torch.testing.assert_close(got, want)
