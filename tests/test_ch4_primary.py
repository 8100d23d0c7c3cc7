"""Chapter 4's primary verdict (Lyu & Rodrigues 2024): the residual CNN's deepest-block fitting
rise, projection − identity shortcut, paired per seed, on hand-made Z-X curves."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore.claims import ch4_identity_shortcuts as ch4
from ibcore.claims.primaries import PRIMARIES
from ibcore.train import History
from ibcore.verdicts import judge, make_primary

SEEDS = [1, 2, 3, 4, 5]
S = 9  # the cpu preset's 9 snapshots: a rise must end by snapshot ceil(0.6 * 8) = 5


def _info_curve(rise: float, at: int = 1) -> np.ndarray:
    """−ln ZX: flat at 0, a step up by ``rise`` at snapshot ``at``, flat after."""
    info = np.zeros(S)
    info[at:] = rise
    return info


def _history(seed: int, deep: np.ndarray, shallow: np.ndarray | None = None) -> History:
    """A CNN run of two blocks whose Z-X (MSE) columns are exp(−info)."""
    shallow = np.zeros(S) if shallow is None else shallow
    zxzy = np.zeros((S, 2, 4))
    for j, info in enumerate((shallow, deep)):
        zxzy[:, j, 0] = zxzy[:, j, 1] = np.exp(-np.asarray(info))
    return History(
        epochs=np.arange(S), activations={}, measures={"zxzy": zxzy},
        metrics={"test_acc": np.array([0.9])}, probe_labels=np.zeros(1),
        meta={"layers": ["h1", "h2"], "seed": seed},
    )  # fmt: skip


IS_RISE = [0.00, 0.10, 0.20, 0.30, 0.40]
NIS_RISE = [0.21, 0.29, 0.42, 0.49, 0.61]  # each seed 0.19–0.22 above its IS twin
NONE_RISE = [1.0] * 5


def _runs(**changes: list[History]) -> dict[str, list[History]]:
    runs = {
        # the shallow block of the IS net rises a lot, the deepest one little
        "identity": [_history(s, _info_curve(r), _info_curve(0.9)) for s, r in
                     zip(SEEDS, IS_RISE, strict=True)],
        "projection": [_history(s, _info_curve(r)) for s, r in zip(SEEDS, NIS_RISE, strict=True)],
        "none": [_history(s, _info_curve(r)) for s, r in zip(SEEDS, NONE_RISE, strict=True)],
    }  # fmt: skip
    return {**runs, **changes}


RIGHT = np.subtract(NIS_RISE, IS_RISE)


def test_the_primary_is_the_paired_deepest_block_rise_of_projection_minus_identity():
    pv = ch4.primary_values(_runs())
    assert pv["seeds"].tolist() == SEEDS
    np.testing.assert_allclose(pv["difference"], RIGHT, atol=1e-9)
    np.testing.assert_allclose(pv["identity"], IS_RISE, atol=1e-9)
    assert judge(pv["difference"], 0.05, ">=", "cpu").status == "reproduced"


def test_the_primary_pairs_by_seed_and_an_unpaired_reading_gives_other_numbers():
    runs = _runs()
    shuffled = dict(runs, projection=runs["projection"][::-1])  # listed in another order
    np.testing.assert_allclose(ch4.primary_values(shuffled)["difference"], RIGHT, atol=1e-9)
    # unpaired: the reversed list taken position by position gives other per-seed values, the
    # same mean, a wide spread and another status
    unpaired = np.subtract(NIS_RISE[::-1], IS_RISE)
    assert not np.allclose(unpaired, RIGHT)
    assert unpaired.mean() == pytest.approx(RIGHT.mean())
    assert judge(unpaired, 0.05, ">=", "cpu").status != judge(RIGHT, 0.05, ">=", "cpu").status
    with pytest.raises(ValueError, match="pairs runs by seed"):
        ch4.primary_values(dict(runs, projection=runs["projection"][:4]))
    with pytest.raises(ValueError, match="missing"):
        ch4.primary_values({"identity": runs["identity"]})


def test_the_primary_reads_projection_only_never_the_no_shortcut_net():
    pv = ch4.primary_values(_runs())["difference"]
    averaged = np.mean([NIS_RISE, NONE_RISE], axis=0) - IS_RISE  # `none` averaged in: wrong
    assert not np.allclose(pv, averaged)
    without_none = {k: v for k, v in _runs().items() if k != "none"}
    np.testing.assert_allclose(ch4.primary_values(without_none)["difference"], pv)


def test_the_primary_reads_the_deepest_block_raw_curve_and_the_window():
    runs = _runs()
    wrong_block = (
        ch4.phase_table(runs["projection"], 0)["fitting_rise"]
        - ch4.phase_table(runs["identity"], 0)["fitting_rise"]
    )
    assert not np.allclose(wrong_block, ch4.primary_values(runs)["difference"])
    # a rise lasting one snapshot: the raw curve (VERDICT_WIDTH = 1) sees it, a median of 3 not
    blip = np.zeros(S)
    blip[2] = 0.3
    one = _runs(projection=[_history(s, blip) for s in SEEDS])
    assert ch4.primary_values(one)["projection"] == pytest.approx([0.3] * 5)
    assert ch4.primary_values(one, width=3)["projection"] == pytest.approx([0.0] * 5)
    # the rise must end by snapshot ceil(0.6 (S - 1)) = 5 of 9: at 5 it counts, at 6 it does not
    for at, seen in ((5, 0.3), (6, 0.0)):
        late = _runs(projection=[_history(s, _info_curve(0.3, at)) for s in SEEDS])
        assert ch4.primary_values(late)["projection"] == pytest.approx([seen] * 5)


def test_the_primary_record_matches_the_code_and_the_cpu_preset():
    pri = PRIMARIES["04"]
    assert pri.claim == "ch4-primary" and pri.threshold == 0.05 and pri.direction == ">="
    assert pri.settings["median_width"] == ch4.VERDICT_WIDTH
    cpu = ch4.CHAPTER.preset("cpu")
    assert cpu["seeds"] == list(pri.seeds) and cpu["cnn_seeds"] == len(pri.seeds)
    for k, v in pri.settings.items():
        if k in cpu:
            assert cpu[k] == v, k
    n = len(ch4.snapshot_epochs(cpu["epochs"], cpu["snapshots"], cpu["first_epoch_snapshots"]))
    assert n == 9 and "S = 9" in pri.metric and "ends by epoch 5" in pri.metric
    assert ch4.snapshot_epochs(cpu["epochs"], cpu["snapshots"], 2)[int(np.ceil(0.6 * 8))] == 5


def test_the_primary_verdict_and_its_sensitivity():
    runs = _runs()
    pv = ch4.primary_values(runs)
    params = {"scale": "cpu", **ch4.CHAPTER.preset("cpu"), "seeds": SEEDS}
    v = make_primary(PRIMARIES["04"], values=pv["difference"], seeds=pv["seeds"].tolist(),
                     params=params, device="cpu", runtime_s=0.0,
                     null={"name": "projection", "per_seed": pv["projection"].tolist()})  # fmt: skip
    assert v.kind == "primary" and v.status == "reproduced"
    assert v.preregistration["confirmatory"]  # other seeds: not the confirmatory run
    v.sensitivity = ch4.primary_sensitivity(runs, v.scale, v.status, probe=(300, 64))
    assert v.sensitivity["of"] == len(ch4.PHASE_GRID)
    rows = v.sensitivity["settings"]
    assert {r["probe"] for r in rows} == {"300x64"}
    raw = [r for r in rows if r["width"] == 1 and r["min_change"] == 0.05]
    assert raw[0]["value"] == pytest.approx(RIGHT.mean()) and raw[0]["status"] == v.status
