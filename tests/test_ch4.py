"""Chapter 4 (Lyu & Rodrigues 2024): the NIS side, the generalisation gap, the checks, the
calibration values, the seeds and the null twin of the claim module, on hand-made values."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ibcore.claims import ch4_identity_shortcuts as ch4
from ibcore.claims.primaries import CONFIRMATORY_BLOCK, PRIMARIES
from ibcore.data import Dataset
from ibcore.train import History

COMMON = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
S = 9


def _history(info: list[float] | np.ndarray, acc: float = 0.9, seed: int = 0) -> History:
    zxzy = np.zeros((S, 1, 4))
    zxzy[:, 0, 0] = zxzy[:, 0, 1] = np.exp(-np.asarray(info, dtype=float))
    return History(
        epochs=np.arange(S), activations={}, measures={"zxzy": zxzy},
        metrics={"test_acc": np.array([acc])}, probe_labels=np.zeros(1),
        meta={"layers": ["h1"], "seed": seed},
    )  # fmt: skip


def _step(rise: float) -> np.ndarray:
    info = np.zeros(S)
    info[1:] = rise
    return info


def _five(rise: float, acc: float = 0.9) -> list[History]:
    return [_history(_step(rise), acc, seed) for seed in range(1, 6)]


def _by(vs):
    return {v.claim: v for v in vs}


def test_nis_is_the_projection_kinds_never_the_no_shortcut_net():
    assert ch4.nis_kinds(["identity", "projection", "none", "fixed"]) == ["projection", "fixed"]
    fam = {"identity": _five(0.0), "projection": _five(0.1), "fixed": _five(0.3),
           "none": _five(1.0)}  # fmt: skip
    vs = _by(ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON))
    # NIS = the mean of projection and fixed: 0.2; with `none` averaged in it would be 0.467,
    # with projection alone 0.1
    assert vs["ch4-is-skips-fitting"].value == pytest.approx(0.2)
    assert vs["ch4-is-vs-none-fitting"].value == pytest.approx(1.0)  # `none` is its own verdict
    assert "none" not in vs["ch4-is-skips-fitting"].statement
    assert "no-shortcut net" in vs["ch4-nis-fits-none"].statement
    table = {k: {"fitting_rise": np.full(5, r)} for k, r in
             (("identity", 0.0), ("projection", 0.1), ("none", 1.0))}  # fmt: skip
    with pytest.raises(ValueError, match="parameter 'nis'"):
        ch4._skip_gap(table, ["projection", "none"])
    # the stemless control's skip reads the projection kinds too
    ctl = {"stemless": _five(0.02)}
    vs = _by(ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON, controls=ctl))
    assert vs["ch4-stemless-is-skips-fitting"].value == pytest.approx(0.2 - 0.02)


def test_the_cnn_skip_is_the_primary_not_a_secondary():
    fam = {"identity": _five(0.0), "projection": _five(0.3)}
    vs = _by(ch4.family_verdicts(fam, "ch4-cnn", "CNN", 0.05, COMMON))
    assert "ch4-cnn-is-skips-fitting" not in vs and "ch4-cnn-is-skips-fitting" not in (
        ch4.PREREGISTERED
    )
    assert "ch4-is-skips-fitting" in ch4.PREREGISTERED


def test_is_generalises_compares_with_the_best_nis_kind():
    acc = {"identity": np.full(5, 0.90), "projection": np.full(5, 0.88),
           "fixed": np.full(5, 0.95), "none": np.full(5, 0.99)}  # fmt: skip
    gap = ch4.generalisation_gap(acc, ["projection", "fixed"])
    assert gap == pytest.approx([-0.05] * 5)  # IS minus the best NIS kind (fixed)
    for wrong in (0.02, -0.09, -0.015):  # worst NIS kind, `none` included, the mean over kinds
        assert not np.allclose(gap, wrong)
    with pytest.raises(ValueError, match="parameter 'nis'"):
        ch4.generalisation_gap(acc, ["projection", "none"])
    fam = {"identity": _five(0.0, 0.90), "projection": _five(0.3, 0.88),
           "fixed": _five(0.3, 0.95), "none": _five(0.3, 0.99)}  # fmt: skip
    v = _by(ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON))["ch4-is-generalises"]
    assert v.value == pytest.approx(-0.05) and v.status == "not reproduced"
    assert "best NIS kind" in v.metric and "worst" not in v.metric
    assert "best NIS kind" in ch4.PREREGISTERED["ch4-is-generalises"].metric
    # with only the no-shortcut net beside IS there is no NIS kind: no generalisation verdict
    vs = _by(ch4.family_verdicts({"identity": fam["identity"], "none": fam["none"]}, "ch4",
                                 "MLP", 0.05, COMMON))  # fmt: skip
    assert "ch4-is-generalises" not in vs


def test_checks_are_checks_and_their_sensitivity_counts_the_judged_status():
    fam = {"identity": _five(0.0), "projection": _five(0.3)}
    ctl = {"stemless": _five(0.0), "orthogonal": _five(0.3)}
    mlp = _by(ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON, controls=ctl,
                                  null=_five(0.0)))  # fmt: skip
    cnn = _by(ch4.family_verdicts(fam, "ch4-cnn", "CNN", 0.05, COMMON, controls=ctl))
    for v in (mlp["ch4-is-no-fitting"], mlp["ch4-stemless-is-no-fitting"],
              cnn["ch4-cnn-is-no-fitting"], cnn["ch4-cnn-stemless-is-no-fitting"],
              cnn["ch4-cnn-is-compresses"]):  # fmt: skip
        assert v.kind == "check", v.claim
        assert v.status.startswith("check"), v.claim
    assert mlp["ch4-is-no-fitting"].status == "check holds"
    assert mlp["ch4-is-no-fitting"].sensitivity["holds"] == len(ch4.PHASE_GRID)
    # judged against its permuted-label null, the MLP's fall stays a secondary
    assert mlp["ch4-is-compresses"].kind == "secondary"
    for claim in ("ch4-nis-fits-projection", "ch4-is-skips-fitting",
                  "ch4-stemless-is-skips-fitting", "ch4-orthogonal-nis-fits"):  # fmt: skip
        assert mlp[claim].kind == "secondary"
    assert ch4.verdict_kind("ch4-zy-init-gap") == "check"
    assert ch4.judged_status("check fails") == "not reproduced"
    assert ch4.judged_status("inconclusive") == "inconclusive"


def test_calibration_values_come_from_the_recorded_calibration():
    pre = ch4.PREREGISTERED
    # seed 0, the cpu preset's rows of PHASE_CALIBRATION
    assert pre["ch4-nis-fits-projection"].calibration_values == (0.02,)
    assert pre["ch4-is-vs-none-fitting"].calibration_values == (0.17,)
    assert pre["ch4-is-skips-fitting"].calibration_values == (0.02,)  # projection − identity
    assert pre["ch4-cnn-nis-fits-then-compresses-projection"].calibration_values == (0.0,)
    assert pre["ch4-cnn-is-vs-none-fitting"].calibration_values == (0.52,)
    # the controls (seeds 100-102): NIS is the projection, not the mean with `none`
    assert pre["ch4-stemless-is-skips-fitting"].calibration_values == (-0.014, -0.005, 0.038)
    assert pre["ch4-cnn-stemless-is-skips-fitting"].calibration_values == (0.2, 0.102, 0.179)
    assert pre["ch4-cnn-orthogonal-nis-fits"].calibration_values == (0.02, 0.006, 0.033)
    # every control number is the one its reasoning string states
    for arch, prefix in (("MLP", "ch4"), ("CNN", "ch4-cnn")):
        why = pre[f"{prefix}-stemless-is-no-fitting"].reasoning
        for kind in ("stemless", "orthogonal", "projection"):
            text = ", ".join(f"{x:.3f}" for x in ch4.CONTROL_CALIBRATION[arch][kind])
            if kind == "orthogonal" and arch == "MLP":
                text = "0.000 (all three"
            assert text in why, (arch, kind)
    # every secondary with a calibrated metric carries its values
    for claim in ("ch4-nis-fits-none", "ch4-nis-fits-then-compresses-none",
                  "ch4-cnn-nis-fits-projection", "ch4-orthogonal-nis-fits-then-compresses"):  # fmt: skip
        assert pre[claim].calibration_values, claim


def test_cpu_seeds_are_the_primary_seeds_and_no_other_preset_uses_the_block():
    pri = PRIMARIES["04"]
    cpu = ch4.CHAPTER.preset("cpu")
    assert cpu["seeds"] == list(pri.seeds) and len(cpu["seeds"]) == 5 and cpu["cnn_seeds"] == 5
    for scale in ("smoke", "paper"):
        seeds = ch4.CHAPTER.preset(scale)["seeds"]
        assert not set(seeds) & set(CONFIRMATORY_BLOCK)
    assert not set(ch4.CALIBRATION_SEEDS + ch4.CONTROL_CALIBRATION_SEEDS) & set(CONFIRMATORY_BLOCK)
    from pathlib import Path

    assert "from 1 on" not in Path(ch4.__file__).read_text()  # the old seed comment is gone


def test_the_null_twin_runs_on_any_data_set():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=g)
    y = torch.arange(40) % 4
    data = Dataset("toy", x[:30], y[:30], x[30:], y[30:], 4, x[30:35], y[30:35])
    a, b = ch4.permute_labels(data, 7), ch4.permute_labels(data, 7)
    assert torch.equal(a.y_train, b.y_train) and torch.equal(a.y_test, b.y_test)  # per seed
    assert not torch.equal(a.y_train, data.y_train)
    assert sorted(a.y_train.tolist()) == sorted(data.y_train.tolist())  # a permutation
    assert torch.equal(a.y_probe, a.y_test[:5]) and torch.equal(a.x_train, data.x_train)
    assert a.name == "toy-permuted"
    c = ch4.permute_labels(data, 8)
    assert not torch.equal(a.y_train, c.y_train)
    with pytest.raises(ValueError, match="labels"):
        ch4.shortcut_run(seed=0, shortcut="identity", labels="shuffled", epochs=1)


def test_the_notebook_runs_the_null_at_every_scale_and_builds_the_primary_first():
    from ibcore.paths import REPO_ROOT

    nb = (REPO_ROOT / "notebooks" / "04_identity_shortcuts.md").read_text()
    assert re.search(r'if "identity" in P\["shortcuts"\]:', nb)
    assert 'P["dataset"] == "digits"' not in nb
    verdicts = nb.index("## Verdicts")
    assert verdicts < nb.index("make_primary(") < nb.index("claim.family_verdicts(runs")
    assert "ch4-cnn-is-skips-fitting" not in nb


def _zx_run(info, seed):
    """A chapter-4 history whose deepest-block Z-X test MSE is exp(-info) on the cpu grid."""
    grid = [0, 1 / 3, 2 / 3, 1, 2, 5, 9, 16, 30]
    z = np.ones((9, 1, 4))
    z[:, 0, 0] = z[:, 0, 1] = np.exp(-np.asarray(info, float))
    return History(np.array(grid), {}, {"zxzy": z}, {"test_acc": np.array([0.9])}, np.zeros(1),
                   meta={"layers": ["h1"], "seed": seed})  # fmt: skip


@pytest.mark.parametrize(
    "is_true, is_null, null_fall",
    [
        # no fitting phase: the window is every snapshot, and both fall by 0.3
        ([0.3] * 8 + [0.0], [0.3, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 0.3),
        # the true net fits until snapshot 2: the twin's earlier fall of 0.4 does not count
        (
            [0.0, 0.2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.2],
            [0.5, 0.3, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.1],
            0.1,
        ),
    ],
)
def test_the_null_twins_fall_is_measured_over_the_true_nets_window(is_true, is_null, null_fall):
    """ch4-is-compresses: the permuted-label twin's fall is taken after the true-label net's
    fitting end, as chapters 0 and 2 take their nulls' (not after the twin's own)."""
    fam = {"identity": [_zx_run(is_true, s) for s in range(1, 6)],
           "projection": [_zx_run([0.0] + [0.3] * 8, s) for s in range(1, 6)]}  # fmt: skip
    null = [_zx_run(is_null, s) for s in range(1, 6)]
    common = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
    v = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, common, null=null)}
    assert v["ch4-is-compresses"].null["per_seed"] == pytest.approx([null_fall] * 5)
    assert v["ch4-is-compresses"].value == pytest.approx(0.3 - null_fall)  # the true net falls 0.3


def test_fall_after_starts_at_its_index_and_smooths_like_the_detector():
    z = np.exp(-np.array([1.0, 0.0, 0.5, 0.2, 0.4, 0.1]))
    assert ch4.fall_after([z], [0])[0] == pytest.approx(1.0)
    assert ch4.fall_after([z], [2])[0] == pytest.approx(0.4)
    assert ch4.fall_after([z], [5])[0] == pytest.approx(0.0)
    # width 3: the running median [1, .5, .2, .4, .2, .1] from index 2 falls 0.4 - 0.1
    assert ch4.fall_after([z], [2], width=3)[0] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="one start per curve"):
        ch4.fall_after([z, z], [0])


def test_the_null_window_pairs_each_twin_with_its_own_seed():
    """Seed 1's true net fits until snapshot 2, seed 2's has no fitting phase: each twin's fall is
    taken over its own seed's window."""
    fits = [0.0, 0.2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.2]  # fit end at index 2, falls 0.3
    flat = [0.3] * 8 + [0.0]  # no fit: window from 0, falls 0.3
    twin = [0.5, 0.3, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.1]  # from 0: falls 0.4; from 2: 0.1
    fam = {"identity": [_zx_run(fits, 1), _zx_run(flat, 2)] * 2 + [_zx_run(fits, 5)],
           "projection": [_zx_run([0.0] + [0.3] * 8, s) for s in range(1, 6)]}  # fmt: skip
    null = [_zx_run(twin, s) for s in range(1, 6)]
    common = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
    v = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, common, null=null)}
    assert v["ch4-is-compresses"].null["per_seed"] == pytest.approx([0.1, 0.4, 0.1, 0.4, 0.1])


@pytest.mark.parametrize("scale", ["smoke", "cpu", "full", "paper"])
def test_a_preset_names_the_stemless_control_only_where_the_width_is_the_input_dimension(scale):
    # the stemless IS control adds the input to a block's output: width must equal the input's
    # dimension (a full run once stopped after 33 min on 128 ≠ 784)
    from ibcore.claims import chapter

    p = chapter("04").resolve(scale)
    inputs = {"digits": 64, "fashionmnist": 784, "cifar10": 3072}[p["dataset"]]
    if "stemless" in p["controls"]:
        assert p["width"] == inputs, (scale, p["width"], inputs)
