"""Chapter 3's primary verdict, kinds and validation-split selection (Peer et al. 2022, §5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibcore.claims import ch3_batch_entropy as ch3
from ibcore.claims import chapter
from ibcore.claims.primaries import PRIMARIES
from ibcore.data import load_dataset
from ibcore.schema import seeds_list
from ibcore.train import History

EVERY = 3


def hist(test_acc, train_acc=None, entropy=None):
    """A hand-made History evaluated (and snapshotted) every 3 epochs from epoch 0."""
    n = len(test_acc)
    train_acc = [0.5] * n if train_acc is None else train_acc
    entropy = [[0.5, 0.0]] * n if entropy is None else entropy
    return History(
        epochs=(np.arange(len(entropy)) * EVERY).astype(np.int64), activations={},
        measures={"entropy": np.asarray(entropy, dtype=float)},
        metrics={"epoch": np.arange(n, dtype=float) * EVERY,
                 "train_acc": np.asarray(train_acc, float),
                 "test_acc": np.asarray(test_acc, float)},
        probe_labels=np.zeros(1), meta={},
    )  # fmt: skip


# authors' arm to epoch 24, judged at epochs = 18 (evaluation 6); plain to plain_epochs = 30
AUTHORS = [
    hist([0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9]),  # last 5 at 18: 0.40; last: 0.6
    hist([0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.8, 0.8]),  # last 5 at 18: 0.22; last: 0.3
]
PLAIN = [
    hist([0.1] * 10 + [0.3]),  # last 5 at 30: 0.14; last: 0.3; at 18: 0.1
    hist([0.1] * 8 + [0.2] * 3),  # last 5 at 30: 0.16; last: 0.2; at 18: 0.1
]
TUNED = [hist([0.9] * 9), hist([0.8] * 9)]
PARAMS = {"epochs": 18, "plain_epochs": 30, "authors_epochs": 24}
RUNS = {"plain": PLAIN, "authors": AUTHORS, "tuned": TUNED}


def test_primary_metric_on_hand_made_histories():
    right = ch3.primary_values(RUNS, PARAMS)
    assert right == pytest.approx([0.40 - 0.14, 0.22 - 0.16])
    assert ch3.verdict_values(RUNS, PARAMS)["ch3-primary"] == pytest.approx(right)
    wrong = {
        "unpaired": ch3.accuracy_gaps(AUTHORS, PLAIN[::-1], 18, 30),
        "last value": ch3.primary_values(RUNS, PARAMS, last=1),
        "LBE budget authors_epochs": ch3.primary_values(RUNS, PARAMS, lbe_epochs=24),
        "plain budget 1x": ch3.primary_values(RUNS, PARAMS, plain_epochs=18),
        "tuned arm": ch3.accuracy_gaps(TUNED, PLAIN, 18, 30),
        "train accuracy": [
            ch3.accuracy_at(a, 18) - ch3.accuracy_at(b, 30)
            for a, b in zip(AUTHORS, PLAIN, strict=True)
        ],
    }
    assert wrong["unpaired"] == pytest.approx([0.40 - 0.16, 0.22 - 0.14])
    assert wrong["last value"] == pytest.approx([0.6 - 0.3, 0.3 - 0.2])
    for name, values in wrong.items():
        assert not np.allclose(values, right), name


def test_primary_record_matches_the_code_and_the_cpu_preset():
    pr = PRIMARIES["03"]
    assert ch3.PRIMARY is pr and pr.claim == "ch3-primary" and pr.chapter == "03_batch_entropy"
    assert (pr.threshold, pr.direction) == (0.2, ">=")
    cpu = chapter("03").resolve("cpu")
    assert seeds_list(cpu["seeds"]) == list(pr.seeds) and len(pr.seeds) == 5
    for k, v in pr.settings.items():
        if k in cpu:
            assert cpu[k] == v, k
    assert pr.settings["last"] == 5 and cpu["plain_epochs"] == 5 * cpu["epochs"]
    assert pr.confirmatory({**cpu, "scale": "cpu"}, seeds_list(cpu["seeds"])) == ""
    for scale in ("smoke", "paper"):  # the confirmatory seeds are the cpu preset's only
        p = chapter("03").resolve(scale)
        assert not set(seeds_list(p["seeds"])) & set(pr.seeds)
        assert not set(seeds_list(p["sweep_seeds"])) & set(pr.seeds)
    assert not (set(ch3.CALIBRATION_SEEDS) | {ch3.SELECTION_SEED}) & set(pr.seeds)


def test_kinds_checks_and_the_removed_secondary():
    assert "ch3-authors-test-vs-plain" not in ch3.PREREGISTERED
    assert set(ch3.KINDS) == {"ch3-primary", *ch3.PREREGISTERED}
    assert ch3.KINDS["ch3-primary"] == "primary"
    assert ch3.KINDS["ch3-tuned-test-vs-plain"] == "secondary"
    for name in ("ch3-plain-untrainable", "ch3-tuned-entropy-vs-plain",
                 "ch3-authors-entropy-vs-plain"):  # fmt: skip
        assert ch3.KINDS[name] == "check"
    for pr in ch3.PREREGISTERED.values():
        assert len(pr.calibration_values) == len(pr.calibration_seeds) == 2
        for v in pr.calibration_values:
            assert f"{v:g}" in pr.reasoning  # taken from the numbers written in the reasoning
    assert ch3.PREREGISTERED["ch3-tuned-test-vs-plain"].calibration_values == (0.505, 0.637)
    cpu = chapter("03").resolve("cpu")
    assert set(ch3.sensitivity_settings(cpu)) == set(ch3.KINDS)
    # the primary keeps the sensitivity settings of the authors' accuracy verdict it replaced
    prim = ch3.sensitivity_settings(cpu)["ch3-primary"]
    e, ae, pe = cpu["epochs"], cpu["authors_epochs"], cpu["plain_epochs"]
    assert {(s["last"], s["lbe_epochs"], s["plain_epochs"]) for s in prim} == {
        (w, b, p) for w in (1, 5, 10) for b in (e, ae) for p in (e, pe)
    }
    vals = ch3.verdict_values(RUNS, PARAMS)
    assert list(vals)[0] == "ch3-primary" and set(vals) == set(ch3.KINDS)


# ------------------------------------------------------------------------------------------------
# Selection on a validation split carved from the training split, never on the test split
# ------------------------------------------------------------------------------------------------


def _standardised_rows(x: torch.Tensor) -> np.ndarray:
    """Rows standardised per feature over themselves (undoes any earlier per-feature scaling),
    rounded and sorted: a multiset of inputs."""
    a = x.reshape(len(x), -1).double().numpy()
    sd = a.std(0)
    a = (a - a.mean(0)) / np.where(sd > 0, sd, 1.0)
    a = np.round(a, 4)
    return a[np.lexsort(a.T[::-1])]


def test_validation_split_is_carved_from_the_training_split_only():
    full = load_dataset("digits", seed=0)
    v = ch3.validation_data(full)
    assert len(v.x_train) + len(v.x_test) == len(full.x_train) == 1437
    assert v.meta["n_val"] == len(v.x_test) == 288 and torch.equal(v.x_probe, v.x_train)
    # fit part and carve together are the training split, row for row: no test input is in them
    union = _standardised_rows(torch.cat([v.x_train, v.x_test]))
    np.testing.assert_allclose(union, _standardised_rows(full.x_train), atol=2e-4)
    assert torch.equal(torch.cat([v.y_train, v.y_test]).sort().values, full.y_train.sort().values)
    assert np.bincount(v.y_test.numpy(), minlength=10).min() >= 25  # stratified
    assert float(v.x_train.mean(0).abs().max()) < 1e-5  # standardised with the fit part alone
    assert torch.equal(ch3.validation_data(full).x_test, v.x_test)  # seeded
    with pytest.raises(ValueError, match="parameter 'fraction'"):
        ch3.validation_data(full, 1.0)


def test_validation_run_reports_validation_metrics_and_no_test_metrics():
    kw = dict(members=[{"seed": 0, "lbe_alpha": 0.5, "lbe_alpha_min": 0.5, "lbe_beta": 1.0}],
              depth=4, width=8, epochs=3, record_every=3, eval_every=3)  # fmt: skip
    (hv,) = ch3.lbe_ensemble_run(validation=0.2, **kw)
    (ht,) = ch3.lbe_ensemble_run(**kw)
    assert {"val_acc", "val_loss"} <= set(hv.metrics) and "test_acc" not in hv.metrics
    assert hv.meta["validation"]["n_val"] == 288 and hv.meta["steps_per_epoch"] == 9
    assert "val_acc" not in ht.metrics and ht.meta["steps_per_epoch"] == 12
    assert ch3.selection_rows([hv])[0]["val_acc"] == pytest.approx(
        ch3.accuracy_at(hv, 3, "val_acc"), abs=5e-4
    )
    with pytest.raises(ValueError, match="never the test split"):
        ch3.selection_rows([ht])
    with pytest.raises(ValueError, match="parameter 'validation'"):
        ch3.lbe_ensemble_run(validation=1.5, **kw)


def test_selection_rule_reads_validation_accuracy_only():
    rows = [
        {"lbe_alpha": 0.5, "lbe_alpha_min": 0.2, "lbe_beta": 0.1, "train_acc": 0.9,
         "val_acc": 0.60, "test_acc": 0.50},
        {"lbe_alpha": 1.0, "lbe_alpha_min": 0.2, "lbe_beta": 1.0, "train_acc": 0.7,
         "val_acc": 0.70, "test_acc": 0.40},
        {"lbe_alpha": 2.0, "lbe_alpha_min": 0.5, "lbe_beta": 0.1, "train_acc": 0.8,
         "val_acc": 0.65, "test_acc": 0.80},
        {"lbe_alpha": 2.0, "lbe_alpha_min": 0.2, "lbe_beta": 1.0, "train_acc": 0.6,
         "val_acc": 0.70, "test_acc": 0.10},
    ]  # fmt: skip
    pick = ch3.select_setting(rows)
    assert pick == {"lbe_alpha": 1.0, "lbe_alpha_min": 0.2, "lbe_beta": 1.0}  # first of the tie
    by = {k: max(rows, key=lambda r, k=k: r[k]) for k in ("train_acc", "test_acc")}
    for key, row in by.items():  # the train and the test split would pick other settings
        assert {k: row[k] for k in ch3.ARM_KEYS} != pick, key
    with pytest.raises(ValueError, match="val_acc"):
        ch3.select_setting([{k: v for k, v in r.items() if k != "val_acc"} for r in rows])


def test_selection_record_covers_the_grid_and_picks_the_tuned_default():
    rec = ch3.SELECTION_RECORD
    cfg = [tuple(r[k] for k in ch3.ARM_KEYS) for r in rec]
    assert sorted(cfg) == sorted(tuple(g[k] for k in ch3.ARM_KEYS) for g in ch3.SELECTION_GRID)
    for r in rec:
        assert "test_acc" not in r and 0.0 <= r["val_acc"] <= 1.0
    cpu = chapter("03").resolve("cpu")
    assert ch3.select_setting(rec) == {k: cpu[k] for k in ch3.ARM_KEYS}
    p = ch3.selection_params()
    assert p["members"][0]["seed"] == ch3.SELECTION_SEED and p["validation"] > 0
    assert p["epochs"] * 9 == ch3.SELECTION_STEPS == 792 and p["eval_every"] * 9 == 36
