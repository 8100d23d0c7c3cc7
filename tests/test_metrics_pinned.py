"""Every verdict metric and the rule pinned by value on hand-made inputs (issue "Tests that pin
the science"; ``make mutants`` measures how many wrong versions of that code these tests catch,
see bench/README.md).

Each expected number is worked out by hand in a comment, and each input is built so that the
plausible wrong variants of the code -- another layer, max for min, median for mean, unpaired for
paired, an exclusion on one side only, the sign flipped, another window -- give other numbers,
named beside the right one. Where a verdict list only wires metrics to settings (the chapters'
``chapter_verdicts``), each value is checked against the metric at that setting, the metric
itself being pinned by hand. Fake runs only: no training, every test well under a second."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import t as student_t

from ibcore.cache import params_hash
from ibcore.claims import ch0_information_plane as ch0
from ibcore.claims import ch1_skip_singularities as ch1
from ibcore.claims import ch2_adaptive_estimators as ch2
from ibcore.claims import ch3_batch_entropy as ch3
from ibcore.claims import ch4_identity_shortcuts as ch4
from ibcore.measures import phases, zxzy
from ibcore.train import History
from ibcore.verdicts import (
    Preregistration,
    Primary,
    confidence_bounds,
    holm,
    judge,
    make_primary,
    make_verdict,
    p_value,
    sensitivity_record,
)

T95_DF2 = 2.919986  # t(0.95, 2) = 0.9 / sqrt(2 * 0.95 * 0.05), the closed form at 2 df
T90_DF2 = 1.885618  # t(0.90, 2) = 0.8 / sqrt(2 * 0.90 * 0.10)
T95_DF3 = 2.353363  # t(0.95, 3), from the table

# ================================================================================================
# 1. The rule (ibcore.verdicts)
# ================================================================================================

FOUR = [1.0, 2.0, 3.0, 6.0]
# mean 3 (the median would be 2.5); squared deviations 4, 1, 0, 9 = 14, so sd = sqrt(14 / 3) =
# 2.160247 (ddof 0 would give sqrt(3.5) = 1.870829); half-width t(0.95, 3) * sd / 2 = 2.541894
SD4 = math.sqrt(14 / 3)
HALF4 = T95_DF3 * SD4 / 2


def test_judge_returns_the_numbers_behind_the_status():
    j = judge(FOUR, 2.0, ">=", "cpu")
    assert j.mean == pytest.approx(3.0) and j.spread == pytest.approx(SD4) and j.n == 4
    assert j.bound == pytest.approx(3.0 - HALF4, abs=1e-5)  # 0.458106: the lower bound
    assert j.other_bound == pytest.approx(3.0 + HALF4, abs=1e-5)  # 5.541894
    assert j.n_pass == 3  # 2, 3 and 6: a seed exactly on the threshold passes (> gives 2)
    assert j.status == "inconclusive"  # 0.458 < 2 < 5.542
    # gap 1 over the standard error sd / 2 = 1.080123: t = 0.925820 at 3 df
    assert j.p_value == pytest.approx(student_t.sf(1.0 / (SD4 / 2), 3), abs=1e-12)
    m = judge(FOUR, 2.0, "<=", "cpu")  # mirrored: the upper bound is the one that must clear
    assert m.bound == pytest.approx(3.0 + HALF4, abs=1e-5)
    assert m.other_bound == pytest.approx(3.0 - HALF4, abs=1e-5)
    assert m.n_pass == 2  # 1 and 2 (< gives 1)
    assert m.p_value == pytest.approx(student_t.sf(-1.0 / (SD4 / 2), 3), abs=1e-12)  # 0.79
    assert m.status == "inconclusive"
    assert judge(FOUR, 0.4, ">=", "cpu").status == "reproduced"  # 0.458 > 0.4
    assert judge(FOUR, 0.4, "<=", "cpu").status == "not reproduced"  # 0.458 > 0.4 as well
    assert judge(FOUR, 5.6, "<=", "cpu").status == "reproduced"  # 5.542 < 5.6
    assert judge(FOUR, 5.6, ">=", "cpu").status == "not reproduced"


def test_two_seeds_are_enough_and_float32_values_are_judged_in_float64():
    # [1, 3]: mean 2, sd sqrt(2), t(0.95, 1) = 6.313752: half-width 6.313752 * sqrt(2) / sqrt(2)
    lo, hi = confidence_bounds([1.0, 3.0])
    assert (lo, hi) == pytest.approx((2 - 6.313752, 2 + 6.313752), abs=1e-6)
    j = judge([1.0, 3.0], -5.0, ">=", "cpu")
    assert j.spread == pytest.approx(math.sqrt(2)) and j.status == "reproduced"  # -4.31 > -5
    assert p_value([1.0, 3.0], 0.0, ">=") == pytest.approx(student_t.sf(2.0, 1))  # se = 1
    # float32 seeds (a torch metric) are judged as float64, not in float32 arithmetic
    v32 = np.array([0.1, 0.2, 0.7, 0.35], dtype=np.float32)
    v64 = v32.astype(np.float64)
    assert judge(v32, 0.0, ">=", "cpu").mean == float(v64.mean())
    assert judge(v32, 0.0, ">=", "cpu").spread == float(v64.std(ddof=1))
    assert confidence_bounds(v32) == confidence_bounds(v64)
    assert p_value(v32, 0.3, ">=") == p_value(v64, 0.3, ">=")


def test_judge_of_one_seed_and_at_smoke_scale():
    j = judge([5.0], 1.0, ">=", "cpu")
    assert j.spread == 0.0 and j.n == 1 and j.n_pass == 1 and j.mean == 5.0
    assert math.isnan(j.bound) and math.isnan(j.other_bound) and math.isnan(j.p_value)
    assert j.status == "inconclusive"
    # smoke is never judged, even with a NaN seed or a clear effect; its numbers are computed
    s = judge([1.0, math.nan, 3.0], 0.0, ">=", "smoke")
    assert s.status == "smoke-only" and s.n == 3
    s = judge([10.0, 11.0, 12.0], 0.0, ">=", "smoke")
    assert s.status == "smoke-only" and s.mean == pytest.approx(11.0) and s.n_pass == 3


def test_confidence_bounds_use_the_confidence_and_n_minus_one_degrees_of_freedom():
    lo, hi = confidence_bounds([1.0, 2.0, 3.0])  # mean 2, sd 1, n 3, df 2
    assert (lo, hi) == pytest.approx((2 - T95_DF2 / math.sqrt(3), 2 + T95_DF2 / math.sqrt(3)))
    lo, hi = confidence_bounds([1.0, 2.0, 3.0], 0.90)
    assert (lo, hi) == pytest.approx((2 - T90_DF2 / math.sqrt(3), 2 + T90_DF2 / math.sqrt(3)))
    # df = n would use t(0.95, 3) = 2.353; the normal quantile 1.645: other numbers
    assert lo != pytest.approx(2 - T95_DF3 / math.sqrt(3), abs=1e-3)
    for bad in ([1.0], [1.0, math.inf, 2.0], [math.nan, 1.0]):
        assert all(math.isnan(b) for b in confidence_bounds(bad)), bad


def test_p_value_without_spread_is_mirrored_for_le():
    assert p_value([1.0, 1.0, 1.0], 2.0, "<=") == 0.0  # mean below a <= threshold: passes
    assert p_value([2.0, 2.0, 2.0], 1.0, "<=") == 1.0  # mean above it: fails
    assert p_value([1.0, 1.0, 1.0], 1.0, "<=") == 1.0  # on the threshold: not cleared
    assert p_value([2.0, 2.0, 2.0], 1.0, ">=") == 0.0
    # with spread: FOUR against 2 (gap 1, se 1.080123)
    assert p_value(FOUR, 2.0, ">=") == pytest.approx(student_t.sf(0.925820, 3), abs=1e-6)
    assert p_value(FOUR, 4.0, "<=") == pytest.approx(student_t.sf(0.925820, 3), abs=1e-6)
    assert math.isnan(p_value([1.0, math.inf], 0.0, ">="))
    with pytest.raises(ValueError, match="direction"):
        p_value(FOUR, 0.0, ">")


def test_holm_caps_at_one_and_decides_at_alpha_inclusive():
    adj, dec = holm([0.6, 0.7])  # 0.6 x 2 = 1.2 is capped at 1; then max(1, 0.7 x 1) = 1
    assert adj == [1.0, 1.0] and dec == [False, False]
    adj, dec = holm([0.04, 0.03], alpha=0.1)  # 0.03 x 2 = 0.06, then max(0.06, 0.04) = 0.06
    assert adj == pytest.approx([0.06, 0.06]) and dec == [True, True]
    assert holm([0.04, 0.03])[1] == [False, False]  # at the default 0.05
    assert holm([0.025, 0.5]) == ([0.05, 0.5], [True, False])  # 0.05 <= 0.05: rejected
    assert holm([]) == ([], [])
    adj, _ = holm([0.02, 0.02, 0.01])  # ties keep their order: 0.03, then 0.04, 0.04
    assert adj == pytest.approx([0.04, 0.04, 0.03])


PRE = Preregistration(
    claim="ch9-a", metric="gain [bits]", threshold=0.5, direction="<=",
    calibration_seeds=(100, 101), reasoning="calibration gave 0.4 and 0.6", null="no gain",
    calibration_values=(0.4, 0.6),
)  # fmt: skip
KW = dict(chapter="09_test", paper="A 2020", statement="s", device="cpu", runtime_s=2.5)


def test_make_verdict_numbers_threshold_override_and_preregistration():
    values = [0.1, 0.25, 0.3, 0.15]
    # mean 0.2; squared deviations 0.01 + 0.0025 + 0.01 + 0.0025 = 0.025, sd = sqrt(0.025 / 3)
    # = 0.091287; half-width t(0.95, 3) * sd / 2 = 0.107416: bounds 0.092584 and 0.307416
    sd = math.sqrt(0.025 / 3)
    v = make_verdict(claim="ch9-a", values=values, params={}, prereg=PRE, threshold=0.25,
                     direction=">=", **KW)  # fmt: skip
    # a reader's threshold replaces the registered one and is noted; the direction and the
    # metric are the registered ones whatever is passed
    assert v.threshold == 0.25 and v.direction == "<=" and v.metric == "gain [bits]"
    assert v.note == "threshold 0.25 set by a parameter, not the pre-registered 0.5."
    assert v.scale == "cpu"  # params without a scale: judged as cpu, not smoke
    assert v.status == "inconclusive"  # the upper bound 0.307 > 0.25 > the lower 0.093
    assert v.value == pytest.approx(0.2) and v.spread == pytest.approx(sd)
    assert v.n == 4 and v.n_pass == 3  # 0.1, 0.25 and 0.15 are <= 0.25 (< gives 2, >= gives 2)
    assert v.bound == pytest.approx(0.2 + T95_DF3 * sd / 2, abs=1e-6)  # the upper bound
    assert v.p_value == pytest.approx(student_t.sf(0.05 / (sd / 2), 3), abs=1e-9)  # gap 0.05
    assert v.per_seed == values and all(isinstance(x, float) for x in v.per_seed)
    assert v.calibration_seeds == [100, 101] and v.calibration_values == [0.4, 0.6]
    assert v.reasoning == "calibration gave 0.4 and 0.6" and v.kind == "secondary"
    assert v.runtime_s == 2.5 and v.device == "cpu" and v.unit == "seed" and v.claim == "ch9-a"
    assert v.parameters == {} and v.statement == "s" and v.chapter == "09_test"
    same = make_verdict(claim="ch9-a", values=values, params={"scale": "paper"}, prereg=PRE,
                        threshold=0.5, note="n", **KW)  # fmt: skip
    assert same.threshold == 0.5 and same.note == "n" and same.scale == "paper"
    assert same.status == "reproduced"  # the upper bound 0.307 < 0.5
    own = make_verdict(claim="ch9-a", values=values, params={}, prereg=PRE, metric="m2", **KW)
    assert own.metric == "m2" and own.threshold == 0.5 and own.note == ""
    assert v.params_hash == params_hash({}) and same.params_hash == params_hash({"scale": "paper"})
    for missing in ("metric", "threshold", "direction"):
        kw = {k: x for k, x in dict(metric="m", threshold=0.1, direction=">=").items()
              if k != missing}  # fmt: skip
        with pytest.raises(ValueError, match="needs 'prereg', or 'metric', 'threshold'"):
            make_verdict(claim="ch9-b", values=values, params={}, **kw, **KW)
    free = make_verdict(claim="ch9-b", values=values, params={}, metric="m", threshold=0.1,
                        direction=">=", **KW)  # fmt: skip
    assert (free.threshold, free.direction, free.status) == (0.1, ">=", "inconclusive")
    assert free.calibration_seeds == [] and free.reasoning == "" and free.calibration_values == []


def test_make_verdict_null_record():
    base = dict(claim="ch9-a", values=[0.1, 0.2, 0.3], params={}, prereg=PRE, **KW)
    v = make_verdict(**base, null={"name": "x", "per_seed": [1, 2, 6]})
    assert v.null == {"name": "x", "per_seed": [1.0, 2.0, 6.0], "value": 3.0}  # the mean (not 2)
    v = make_verdict(**base, null={"name": "x", "per_seed": [1, 2], "value": 9.0})
    assert v.null["value"] == 9.0  # a given value is kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mean of an empty list: NaN directly
        v = make_verdict(**base, null={"name": "x"})
    assert v.null["per_seed"] == [] and math.isnan(v.null["value"])
    assert make_verdict(**base).null == {}
    v = make_verdict(**base, sensitivity={"holds": 1, "of": 2}, unit="cell", kind="check")
    assert v.sensitivity == {"holds": 1, "of": 2} and v.unit == "cell"
    # mean 0.2, sd 0.1: upper bound 0.2 + t(0.95, 2) 0.1 / sqrt(3) = 0.369 < 0.5
    assert v.status == "check holds" and v.kind == "check"


def _primary(**over) -> Primary:
    kw = dict(
        claim="ch9-primary", chapter="09_test", paper="A & B 2020", quote="x rises",
        statement="x rises beyond the null", metric="gain", threshold=0.1, direction=">=",
        seeds=(7, 8, 9, 10, 11), scale="cpu", settings={"acts": ("relu", "softplus"), "epochs": 10},
        null="no x", reasoning="fixed by principle", fails_if="x did not rise",
    )  # fmt: skip
    kw.update(over)
    return Primary(**kw)


PARAMS9 = {"scale": "cpu", "acts": ["relu", "softplus"], "epochs": 10}


def test_make_primary_judges_by_its_registration_and_records_it():
    pr = _primary()
    values = [0.2, 0.3, 0.1, 0.25, 0.15]  # mean 0.2, every seed above 0.1
    v = make_primary(pr, values=values, seeds=[7, 8, 9, 10, 11], params=PARAMS9, device="cpu",
                     runtime_s=3.0, record={"prereg_commit": "abc1234"}, note="n",
                     null={"name": "no x", "per_seed": [0.0, 0.1, 0.0, 0.1, 0.0]})  # fmt: skip
    assert (v.claim, v.kind, v.threshold, v.direction, v.metric) == (
        "ch9-primary",
        "primary",
        0.1,
        ">=",
        "gain",
    )
    assert v.statement == "x rises beyond the null" and v.paper == "A & B 2020"
    assert v.reasoning == "fixed by principle" and v.note == "n" and v.calibration_seeds == []
    assert v.null["value"] == pytest.approx(0.04) and v.value == pytest.approx(0.2)
    assert v.status == "reproduced" and v.n_pass == 5
    assert v.preregistration == {
        "quote": "x rises", "seeds": [7, 8, 9, 10, 11], "scale": "cpu",
        "settings": {"acts": ("relu", "softplus"), "epochs": 10}, "fails_if": "x did not rise",
        "prereg_commit": "abc1234", "run_seeds": [7, 8, 9, 10, 11], "confirmatory": "",
    }  # fmt: skip
    # the same values on the seeds in another order: judged alike, not the confirmatory run
    w = make_primary(pr, values=values, seeds=[11, 10, 9, 8, 7], params=PARAMS9, device="cpu",
                     runtime_s=3.0)  # fmt: skip
    assert w.status == "reproduced" and w.preregistration["run_seeds"] == [11, 10, 9, 8, 7]
    assert w.note == "" and w.sensitivity == {} and w.null == {} and w.device == "cpu"
    s = make_primary(pr, values=values, seeds=list(pr.seeds), params=PARAMS9, device="cuda:0",
                     runtime_s=1.0, sensitivity={"holds": 3, "of": 9})  # fmt: skip
    assert s.device == "cuda:0" and s.sensitivity == {"holds": 3, "of": 9} and s.runtime_s == 1.0
    assert w.preregistration["confirmatory"] == (
        "other seeds than the pre-registered confirmatory seeds"
    )
    assert "prereg_commit" not in w.preregistration
    with pytest.raises(ValueError, match="5 values for 4 seeds"):
        make_primary(pr, values=values, seeds=[7, 8, 9, 10], params=PARAMS9, device="cpu",
                     runtime_s=0.0)  # fmt: skip


def test_confirmatory_compares_scale_seeds_in_order_and_each_registered_setting():
    pr = _primary()
    seeds = [7, 8, 9, 10, 11]
    assert pr.confirmatory(PARAMS9, seeds) == ""  # a list equals the registered tuple
    assert pr.confirmatory({**PARAMS9, "acts": ("relu", "softplus")}, seeds) == ""
    assert pr.confirmatory({"scale": "cpu"}, seeds) == ""  # settings the run lacks: not compared
    assert pr.confirmatory({**PARAMS9, "other": 3}, seeds) == ""
    assert pr.confirmatory({**PARAMS9, "acts": ["relu"]}, seeds) == (
        "parameter 'acts' = ['relu'], not the pre-registered ('relu', 'softplus')"
    )
    assert pr.confirmatory({**PARAMS9, "epochs": 11}, seeds) == (
        "parameter 'epochs' = 11, not the pre-registered 10"
    )
    assert pr.confirmatory({**PARAMS9, "scale": "smoke"}, seeds) == (
        "scale 'smoke', not the pre-registered 'cpu'"
    )
    assert pr.confirmatory({**PARAMS9, "scale": "smoke", "epochs": 11}, seeds[::-1]).startswith(
        "scale"
    )  # the scale is named first
    assert pr.confirmatory(PARAMS9, [*seeds[:4], 12]).startswith("other seeds")
    assert pr.confirmatory(PARAMS9, ["7", "8", "9", "10", "11"]) == ""  # seeds as strings
    nested = _primary(settings={"grid": [(1, 2), (3, 4)]})
    assert nested.confirmatory({"scale": "cpu", "grid": ((1, 2), (3, 4))}, seeds) == ""
    assert nested.confirmatory({"scale": "cpu", "grid": [[1, 2], [3, 5]]}, seeds) != ""


def test_primary_record_checks_and_its_rule_part():
    with pytest.raises(ValueError, match="at least 5 distinct seeds"):
        _primary(seeds=(1, 1, 2, 3, 4))
    with pytest.raises(ValueError, match="at least 5 distinct seeds"):
        _primary(seeds=(1, 2, 3, 4))
    assert _primary(seeds=(1, 2, 3, 4, 5)).seeds == (1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="direction"):
        _primary(direction="=>")
    with pytest.raises(ValueError, match="direction"):
        Preregistration("c", "m", 0.0, "<", (1,), "r")
    pre = _primary(direction="<=").preregistration()
    assert pre == Preregistration("ch9-primary", "gain", 0.1, "<=", (), "fixed by principle",
                                  "no x")  # fmt: skip


def test_sensitivity_record_rows_carry_each_settings_numbers_and_threshold():
    settings = [{"w": 1}, {"w": 3}, {"w": 5}]
    values = [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [5.0, 6.0, 7.0]]
    # [1, 2, 3]: mean 2, lower bound 2 - t(0.95, 2) / sqrt(3) = 0.314146; [5, 6, 7]: 4.314146
    rec = sensitivity_record(settings, values, [0.0, 2.0, 4.0], ">=", "cpu", "reproduced")
    lo = 2 - T95_DF2 / math.sqrt(3)
    assert [r["w"] for r in rec["settings"]] == [1, 3, 5]
    assert [r["value"] for r in rec["settings"]] == pytest.approx([2.0, 2.0, 6.0])
    assert [r["bound"] for r in rec["settings"]] == pytest.approx([lo, lo, lo + 4], abs=1e-6)
    # each setting is judged at its own threshold: 0.314 > 0; 0.314 < 2 < 3.686; 4.314 > 4
    assert [r["status"] for r in rec["settings"]] == ["reproduced", "inconclusive", "reproduced"]
    assert (rec["holds"], rec["of"]) == (2, 3)
    one = sensitivity_record(settings, values, 2.0, ">=", "cpu", "inconclusive")
    assert [r["status"] for r in one["settings"]] == ["inconclusive", "inconclusive", "reproduced"]
    assert one["holds"] == 2
    le = sensitivity_record(settings, values, 2.5, "<=", "cpu", "not reproduced")
    assert [r["bound"] for r in le["settings"]] == pytest.approx(
        [4 - lo, 4 - lo, 8 - lo], abs=1e-6
    )  # the upper bounds 3.686, 3.686, 7.686
    assert [r["status"] for r in le["settings"]] == [
        "inconclusive",
        "inconclusive",
        "not reproduced",
    ]
    assert le["holds"] == 1
    smoke = sensitivity_record(settings, values, 0.0, ">=", "smoke", "smoke-only")
    assert smoke["holds"] == 3
    with pytest.raises(ValueError, match="3 settings but 2 value lists"):
        sensitivity_record(settings, values[:2], 0.0, ">=", "cpu", "reproduced")
    with pytest.raises(ValueError, match="3 settings but 2 thresholds"):
        sensitivity_record(settings, values, [0.0, 1.0], ">=", "cpu", "reproduced")


# ================================================================================================
# 2. Edges of the rule (the rest are in tests/test_wiring.py section 4)
# ================================================================================================

GOOD = [0.30, 0.42, 0.35, 0.48, 0.40]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_seed_makes_every_record_inconclusive(bad):
    vals = [*GOOD[:2], bad, *GOOD[2:]]
    pre = Preregistration("ch9-e", "m", 0.0, ">=", (1,), "r")
    v = make_verdict(claim="ch9-e", values=vals, params={}, prereg=pre, **KW)
    assert v.status == "inconclusive" and v.n == 6 and math.isnan(v.bound)
    assert math.isnan(v.p_value)
    c = make_verdict(claim="ch9-e", values=vals, params={}, prereg=pre, kind="check", **KW)
    assert c.status == "check unclear"
    p = make_primary(_primary(threshold=0.0), values=vals, seeds=[7, 8, 9, 10, 11, 12],
                     params=PARAMS9, device="cpu", runtime_s=0.0)  # fmt: skip
    assert p.status == "inconclusive"
    rec = sensitivity_record([{"a": 1}, {"a": 2}], [GOOD, vals], 0.0, ">=", "cpu", "reproduced")
    assert [r["status"] for r in rec["settings"]] == ["reproduced", "inconclusive"]
    assert rec["holds"] == 1
    # Holm counts the primary without a p-value as 1
    assert holm([p.p_value, 0.01]) == ([1.0, 0.02], [False, True])


@pytest.mark.parametrize("direction", [">=", "<="])
def test_on_the_threshold_the_p_value_is_the_level_and_the_verdict_is_not_reproduced(direction):
    v = [1.0, 2.0, 3.0]
    lo, hi = confidence_bounds(v)
    on = lo if direction == ">=" else hi
    assert p_value(v, on, direction) == pytest.approx(0.05, abs=1e-12)
    pre = Preregistration("ch9-t", "m", on, direction, (1,), "r")
    rec = make_verdict(claim="ch9-t", values=v, params={}, prereg=pre, **KW)
    assert rec.status == "inconclusive" and rec.bound == on


# ------------------------------------------------------------------------------------------------
# The phase detectors on the exact cpu snapshot grids, a feature planted at each index
# (the fitting end of chapter 0 and the rise of chapter 4 are in tests/test_wiring.py)
# ------------------------------------------------------------------------------------------------

CH0_CPU_GRID = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 19, 23, 28, 34, 41, 50, 60, 73, 89, 107, 130,
                157, 189, 228, 276, 333, 402, 485, 586, 707, 853, 1029, 1242, 1498, 1500]  # fmt: skip
CH4_CPU_GRID = [0, 1 / 3, 2 / 3, 1, 2, 5, 9, 16, 30]


def test_the_cpu_grids_are_the_presets():
    from ibcore.train import log_snapshots

    p = ch0.CHAPTER.preset("cpu")
    grid = sorted({*log_snapshots(p["epochs"], p["snapshots"]).tolist(), p["epochs"]})
    assert grid == CH0_CPU_GRID
    q = ch4.CHAPTER.preset("cpu")
    assert ch4.snapshot_epochs(q["epochs"], q["snapshots"], q["first_epoch_snapshots"]) == (
        CH4_CPU_GRID
    )


def _ch0_plane(n: int, fit_end: int, bump: int | None) -> dict[str, np.ndarray]:
    """Output I(T;Y) stepping from 0 to 1 at ``fit_end`` (flat at 0.5 for 0); the last hidden
    layer's I(X;T) at 4 with a bump to 6 at ``bump``; ``h4`` bumps everywhere else."""
    ity = np.full(n, 0.5) if fit_end == 0 else (np.arange(n) >= fit_end).astype(float)
    ixt = np.full(n, 4.0)
    if bump is not None:
        ixt[bump] = 6.0
    h4 = np.where(np.arange(n) == bump, 4.0, 9.0)
    h4[-1] = 4.0
    return {"h4": np.stack([h4, np.zeros(n)], 1), "h5": np.stack([ixt, np.zeros(n)], 1),
            "output": np.stack([np.full(n, 1.0), ity], 1)}  # fmt: skip


def test_ch0_compression_window_starts_at_each_index_of_the_cpu_grid():
    n = len(CH0_CPU_GRID)
    for i in range(n - 1):
        real_in = _ch0_plane(n, i, i)  # a bump at the window's first snapshot counts: 6 - 4
        real_out = _ch0_plane(n, i, i - 1 if i else None)  # one before it does not
        null = _ch0_plane(n, 0, i - 1 if i else None)  # its own fitting end is at 0
        assert phases.fitting_end(real_in) == i and phases.fitting_end(null) == 0
        m = ch0.compression_metrics([real_in, real_out], [null, null])
        assert m["real"].tolist() == [2.0, 0.0], i
        # the null over the real net's window misses its bump; from its own end (0) it would not
        assert m["null"].tolist() == [0.0, 0.0], i
        assert m["difference"].tolist() == [2.0, 0.0], i
    last = _ch0_plane(n, n - 1, n - 1)  # a window of the last snapshot alone: no fall
    assert ch0.compression_metrics([last], [last])["real"].tolist() == [0.0]


def test_ch4_detect_phases_finds_a_fall_planted_at_each_index_of_the_cpu_grid():
    e = CH4_CPU_GRID
    for j in range(2, len(e)):  # a rise of 0.3 at snapshot 1, then a fall of 0.2 at j
        info = np.array([0.0] + [0.3] * (j - 1) + [0.1] * (len(e) - j))
        p = zxzy.detect_phases(e, info, width=1, min_change=0.05)
        assert p.kind == "fit-then-compress", j
        assert p.fit_epochs == (0, e[1]) and p.fitting_rise == pytest.approx(0.3), j
        # from the peak after fitting (snapshot 1) to the first snapshot at the bottom
        assert p.compress_epochs == (e[1], e[j]) and p.compression_fall == pytest.approx(0.2), j
    for j in range(1, len(e)):  # no rise: the fall is searched from the first snapshot on,
        info = np.array([0.3] * j + [0.1] * (len(e) - j))  # past the fitting window too
        p = zxzy.detect_phases(e, info, width=1, min_change=0.05)
        assert p.kind == "compress-only" and p.fit_epochs is None and p.fitting_rise == 0.0, j
        assert p.compress_epochs == (0, e[j]), j  # from the first snapshot at the peak
        assert p.compression_fall == pytest.approx(0.2), j


# ================================================================================================
# 3. Chapter 1 (Orhan & Pitkow 2018): unit measures, speed, drift, dose, Hessian
# ================================================================================================


def _h1(loss=(1.0, 0.5, 0.25), acc=None, epochs=None, **measures) -> History:
    """A chapter-1 run: training loss and accuracy per epoch 0..E-1, unit measures S × layers."""
    loss = np.asarray(loss, dtype=float)
    acc = np.zeros(loss.size) if acc is None else np.asarray(acc, dtype=float)
    ep = np.arange(loss.size, dtype=float) if epochs is None else np.asarray(epochs, float)
    return History(np.array([0, 1]), {}, {k: np.asarray(v, float) for k, v in measures.items()},
                   {"epoch": ep, "train_loss": loss, "train_acc": acc}, np.zeros(1))  # fmt: skip


def test_ch1_measure_at_the_end_or_over_the_epochs_mean_over_layers():
    h = _h1(elim_frac=[[0.1, 0.3], [0.2, 0.4], [0.5, 0.7]])  # 3 snapshots x 2 layers
    assert ch1.measure_at(h, "elim_frac") == pytest.approx(0.6)  # (0.5 + 0.7) / 2
    assert ch1.measure_at(h, "elim_frac", "mean") == pytest.approx(2.2 / 6)  # all six
    # wrong: the first snapshot 0.2, the last layer 0.7, the median over epochs 0.3
    with pytest.raises(ValueError, match="when"):
        ch1.measure_at(h, "elim_frac", "max")


def _units(shift: float = 0.0) -> dict[str, list[History]]:
    """Plain and skip nets whose end and epoch-mean measures all differ (two seeds; the second
    plain net's measures are raised by ``shift``)."""

    def plain(s):
        return _h1(elim_frac=np.array([[0.1, 0.3], [0.5, 0.7]]) + s,  # end 0.6, mean 0.4
                   dead_relu_frac=np.array([[0.0, 0.2], [0.2, 0.2]]) + s,  # end 0.2, mean 0.15
                   norm_rank=[[0.2, 0.2], [0.6, 0.4]],  # end 0.5, mean 0.35
                   branch_elim_frac=np.full((2, 2), 0.9),  # a plain net's own "branch"
                   branch_norm_rank=np.full((2, 2), 0.1))  # fmt: skip

    res = _h1(branch_elim_frac=[[0.0, 0.0], [0.1, 0.3]],  # end 0.2, mean 0.1
              dead_relu_frac=[[0.1, 0.1], [0.0, 0.1]],  # end 0.05, mean 0.075
              elim_frac=np.full((2, 2), 0.9),  # the unit (skip included): the wrong key
              branch_norm_rank=[[0.8, 0.6], [0.9, 0.7]],  # end 0.8, mean 0.75
              norm_rank=np.full((2, 2), 0.1))  # fmt: skip
    hyper = _h1(branch_elim_frac=np.full((2, 2), 0.5), dead_relu_frac=np.zeros((2, 2)),
                branch_norm_rank=np.full((2, 2), 0.2))  # fmt: skip
    return {"plain": [plain(0.0), plain(shift)], "residual": [res, res], "hyper": [hyper, hyper]}


def test_ch1_elimination_gap_plain_units_minus_skip_branches_paired():
    runs = _units(shift=0.1)
    # end: 0.6 - 0.2 = 0.4 (seed 2: 0.7 - 0.2); sign flipped -0.4; the residual unit's own
    # elim_frac 0.9 would give -0.3
    assert ch1.elimination_gap(runs) == pytest.approx([0.4, 0.5])
    assert ch1.elimination_gap(runs, when="mean") == pytest.approx([0.3, 0.4])  # 0.4 - 0.1
    assert ch1.elimination_gap(runs, measure="dead") == pytest.approx([0.15, 0.25])  # 0.2 - 0.05
    assert ch1.elimination_gap(runs, measure="dead", when="mean") == pytest.approx(
        [0.075, 0.175]
    )  # 0.15 - 0.075
    assert ch1.elimination_gap(runs, skip="hyper") == pytest.approx([0.1, 0.2])  # 0.6 - 0.5
    with pytest.raises(ValueError, match="measure"):
        ch1.elimination_gap(runs, measure="overlap")


def test_ch1_rank_gap_skip_branches_minus_plain_layers():
    runs = _units()
    assert ch1.rank_gap(runs) == pytest.approx([0.3, 0.3])  # 0.8 - 0.5 (flipped: -0.3)
    # 0.75 - 0.35 (the plain net at its end instead: 0.25; the branches at theirs: 0.45)
    assert ch1.rank_gap(runs, when="mean") == pytest.approx([0.4, 0.4])
    assert ch1.rank_gap(runs, skip="hyper") == pytest.approx([-0.3, -0.3])  # 0.2 - 0.5


def test_ch1_identity_init_drift_last_part_minus_first_part():
    # log10 loss ratio of the identity-initialised plain net to the residual net, epochs 0..6
    r = np.array([5.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.8])
    runs = {"plain_identity": [_h1(10 ** r)], "residual": [_h1(np.ones(7))],
            "orthogonal": [_h1(10 ** np.array([0, 0, 0, 0, 0, 0, 0.3]))]}  # fmt: skip
    # epoch 0 left out: 0, .1, .2, .3, .4, .8; thirds of 2: (0.4 + 0.8) / 2 - (0 + 0.1) / 2
    assert ch1.identity_init_drift(runs) == pytest.approx([0.55])
    # halves of 3: mean(0.3, 0.4, 0.8) - mean(0, 0.1, 0.2) = 0.5 - 0.1 (medians: 0.4 - 0.1)
    assert ch1.identity_init_drift(runs, part=2) == pytest.approx([0.4])
    # with epoch 0: thirds of 7 // 3 = 2: 0.6 - mean(5, 0) = -1.9
    assert ch1.identity_init_drift(runs, skip_init=False) == pytest.approx([-1.9])
    assert ch1.identity_init_drift(runs, part=10) == pytest.approx([0.8])  # one epoch each
    # against the orthogonal skip: the last epoch's ratio is 0.8 - 0.3 = 0.5
    assert ch1.identity_init_drift(runs, "orthogonal") == pytest.approx([(0.4 + 0.5) / 2 - 0.05])


DOSES = ch1.DOSE_ARCHS  # zeroed 0, 0.125, 0.25, 0.5, 0.75


def _dose_runs(**override) -> dict[str, list[History]]:
    # per dose: loss at epoch 0 (falling with the dose), then a and b; mean(a, b) = 11, 12, 14,
    # 13, 15 (one swapped pair); the final loss b = 15, 14, 13, 12, 11 (falling)
    e0, a, b = [500, 400, 300, 200, 100], [7, 10, 15, 14, 19], [15, 14, 13, 12, 11]
    # training accuracy reaches 0.9 at epochs 0, 2, 1, never, never (never = 2 + 1 = 3)
    reach = [0, 2, 1, 9, 9]
    runs = {"plain": [_h1()]}  # the seed count is the plain net's
    for j, arm in enumerate(DOSES):
        acc = (np.arange(3) >= reach[j]).astype(float)
        runs[arm] = [_h1([e0[j], a[j], b[j]], acc)]
    runs.update(override)
    return runs


def test_ch1_dose_response_spearman_over_the_doses():
    runs = _dose_runs()
    # mean loss without epoch 0: ranks 1, 2, 4, 3, 5: rho = 1 - 6 * 2 / (5 * 24) = 0.9
    assert ch1.dose_response(runs) == pytest.approx([0.9])
    # with epoch 0 the means fall with the dose (174, 141, 109, 75, 43): -1
    assert ch1.dose_response(runs, metric="final_loss") == pytest.approx([-1.0])
    # epochs to 90 %: 0, 2, 1, 3, 3: ranks 1, 3, 2, 4.5, 4.5 against 1..5:
    # sum dx dr = 8.5, sum dx^2 = 10, sum dr^2 = 9.5: rho = 8.5 / sqrt(95) = 0.872082
    assert ch1.dose_response(runs, metric="epochs90") == pytest.approx([8.5 / math.sqrt(95)])
    # without the 75 % dose: ranks 1, 2, 4, 3: rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert ch1.dose_response(runs, DOSES[:-1]) == pytest.approx([0.8])
    flat = _dose_runs(**{arm: [_h1([9.0, 2.0, 2.0])] for arm in DOSES})
    assert ch1.dose_response(flat) == [0.0]  # the same slowness at every dose: no trend, not NaN
    with pytest.raises(ValueError, match="metric"):
        ch1.dose_response(runs, metric="loss")


def _reach(at: int, n: int = 8, target: float = 1.0) -> History:
    """A run of epochs 0..n-1 whose training accuracy is 0.85 from ``at - 1`` and ``target``
    from ``at`` (never when ``at`` >= n)."""
    e = np.arange(n)
    acc = np.where(e >= at, target, np.where(e >= at - 1, 0.85, 0.0))
    return _h1(np.ones(n), acc)


def test_ch1_orthogonal_ratio_is_orthogonal_over_identity_epochs():
    runs = {"orthogonal": [_reach(3), _reach(99)], "residual": [_reach(6), _reach(4)]}
    # seed 1: 3 / 6 = 0.5 (inverted: 2); seed 2: never = 7 + 1 = 8 epochs, 8 / 4 = 2
    assert ch1.orthogonal_ratio(runs) == pytest.approx([0.5, 2.0])
    # at 80 %: 2 / 5 and 8 / 3
    assert ch1.orthogonal_ratio(runs, 0.8) == pytest.approx([0.4, 8 / 3])


def test_ch1_epochs_to_counts_never_as_epochs_plus_one():
    assert ch1.epochs_to(_reach(3)) == 3.0
    assert ch1.epochs_to(_reach(3), 0.8) == 2.0
    assert ch1.epochs_to(_reach(99)) == 8.0  # the last epoch 7, plus one (not inf, not 7)
    late = _h1(np.ones(4), [0.0, 0.0, 0.0, 0.0], epochs=[0, 10, 20, 30])
    assert ch1.epochs_to(late) == 31.0


def _hess(rescaled_zeros: list[int], raw_small: list[int], p: int = 10) -> History:
    """Hessian spectra at len(...) epochs: ``rescaled_zeros[k]`` zero eigenvalues of ``p`` in the
    rescaled spectrum, ``raw_small[k]`` eigenvalues of 1e-3 (max 1) in the raw one."""
    res = np.array([np.r_[np.zeros(z), np.ones(p - z)] for z in rescaled_zeros])
    raw = np.array([np.r_[np.full(k, 1e-3), np.ones(p - k)] for k in raw_small])
    return History(np.arange(len(res)), {}, {"hessian_eigs_rescaled": res, "hessian_eigs": raw},
                   {}, np.zeros(1))  # fmt: skip


def test_ch1_degenerate_fraction_over_the_hessian_epochs():
    h = _hess([5, 2, 4], [3, 3, 0])  # rescaled: 0.5, 0.2, 0.4 of the eigenvalues are 0
    assert ch1.degenerate_fraction(h) == pytest.approx(1.1 / 3)  # (0.5 + 0.2 + 0.4) / 3
    assert ch1.degenerate_fraction(h, epochs="init") == pytest.approx(0.5)
    assert ch1.degenerate_fraction(h, epochs="trained") == pytest.approx(0.3)  # (0.2 + 0.4) / 2
    assert ch1.degenerate_fraction(h, rescaled=False) == pytest.approx(0.0)  # 1e-3 > 1e-4 x 1
    assert ch1.degenerate_fraction(h, 1e-2, rescaled=False) == pytest.approx(0.2)  # .3 .3 0
    with pytest.raises(ValueError, match="epochs"):
        ch1.degenerate_fraction(h, epochs="last")
    hess = {"plain": [h], "residual_he": [_hess([1, 3, 3], [1, 1, 1])],
            "plain_scaled": [_hess([0, 0, 0], [0, 0, 0])],
            "residual": [_hess([3, 3, 3], [0, 0, 0])]}  # fmt: skip
    # residual at He: rescaled 0.1, 0.3, 0.3 (mean 0.2333); raw at eps 1e-2: 0.1 throughout
    assert ch1.hessian_gap(hess) == pytest.approx([1.1 / 3 - 0.7 / 3])  # (flipped: -0.1333)
    assert ch1.hessian_gap(hess, epochs="init") == pytest.approx([0.4])  # 0.5 - 0.1
    assert ch1.hessian_gap(hess, epochs="trained") == pytest.approx([0.0])  # 0.3 - 0.3
    assert ch1.hessian_gap(hess, 1e-2, rescaled=False) == pytest.approx([0.1])  # 0.2 - 0.1
    # the scaled pair: plain 0 - residual 0.3 = -0.3; with the He pair: (0.1333 - 0.3) / 2
    assert ch1.hessian_gap(hess, pairs=["he", "scaled"]) == pytest.approx([(0.4 / 3 - 0.3) / 2])
    with pytest.raises(ValueError, match="pairs"):
        ch1.hessian_gap(hess, pairs=[])


def test_ch1_primary_speed_ratio_reads_the_target_for_both_nets():
    runs = {a: [_reach(7)] for a in ch1.PLAIN_ARCHS}  # 0.85 from epoch 6, 1.0 from 7
    runs["residual"] = [_reach(4)]  # 0.85 from epoch 3
    assert ch1.primary_speed_ratio(runs) == pytest.approx([7 / 4])
    assert ch1.primary_speed_ratio(runs, 0.8) == pytest.approx([6 / 3])  # (6 / 4 mixes targets)


# ================================================================================================
# 4. Chapter 2 (Chelombiev et al. 2019): estimators against each other, cells, variants
# ================================================================================================


def _plane2(h5, out_ity=None, **hidden) -> dict[str, np.ndarray]:
    """A plane whose output I(T;Y) is flat (no fitting phase: the window starts at 0) unless
    given, with the h5 I(X;T) trajectory ``h5`` and others by name."""
    s = len(h5)
    ity = np.full(s, 0.9) if out_ity is None else np.asarray(out_ity, float)
    out = {k: np.column_stack([np.asarray(v, float), np.full(s, 0.5)]) for k, v in hidden.items()}
    out["h5"] = np.column_stack([np.asarray(h5, float), np.full(s, 0.5)])
    out["output"] = np.column_stack([np.full(s, 2.0), ity])
    return out


def _member(act, seed, planes, labels="true", l2=0.0, acc=0.9) -> ch2.MemberResult:
    s = len(next(iter(planes.values()))["h5"])
    return ch2.MemberResult(
        activation=act, l2=l2, seed=seed, epochs=np.arange(s), planes=planes,
        metrics={"test_acc": np.array([0.5, acc])}, wall_s=0.0, labels=labels,
    )  # fmt: skip


def test_ch2_group_excess_and_adaptive_contrast_average_each_side_per_seed():
    # C = first minus last of a 2-snapshot h5 trajectory (no fitting phase)
    true_c = {0: {"ebab": 2.0, "akde": 1.0, "kde": 0.5, "saxe_max": 0.0},
              1: {"ebab": 3.0, "akde": 1.0, "kde": 0.5, "saxe_max": 0.0}}  # fmt: skip
    rs = []
    for seed, cs in true_c.items():
        rs.append(_member("relu", seed, {e: _plane2([6.0, 6.0 - c]) for e, c in cs.items()}))
        rs.append(_member("relu", seed, {e: _plane2([6.0, 5.75]) for e in cs}, "permuted"))
    # excess over the null (C 0.25): ebab 1.75 / 2.75, akde 0.75, kde 0.25, saxe_max -0.25
    np.testing.assert_allclose(ch2.null_excess(rs, ["relu"], "akde"), [0.75, 0.75])
    np.testing.assert_allclose(ch2.group_excess(rs, ["relu"], ("ebab", "akde")), [1.25, 1.75])
    np.testing.assert_allclose(ch2.group_excess(rs, ["relu"], ("kde", "saxe_max")), [0.0, 0.0])
    # adaptive minus non-adaptive: 1.25 and 1.75 (max per side: 1.5 / 2.5; sums: 2.5 / 3.5;
    # ebab against kde alone: 1.5 / 2.5; flipped: -1.25)
    np.testing.assert_allclose(ch2.adaptive_contrast(rs, ["relu"]), [1.25, 1.75])
    np.testing.assert_allclose(
        ch2.adaptive_contrast(rs, ["relu"], adaptive=("ebab",), non_adaptive=("saxe_max",)),
        [2.0, 3.0])  # fmt: skip


def _cell_member(act, seed, acc, h3, h4, h5, l2=0.0) -> ch2.MemberResult:
    # C of each layer = its value at snapshot 1 minus its last (0): [0, c, 0]
    plane = _plane2([0.0, h5, 0.0], h3=[0.0, h3, 0.0], h4=[0.0, h4, 0.0], h1=[0.0, 1.0, 0.0])
    return _member(act, seed, {"ebab": plane}, l2=l2, acc=acc)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_ch2_cell_spearman_per_cell_mean_over_layers_nan_layers_left_out():
    acc = [0.6, 0.7, 0.8, 0.9]
    rs = [_cell_member("tanh", s, acc[s], h3=s, h4=3 - s, h5=(0, 1, 3, 2)[s]) for s in range(4)]
    rs += [_cell_member("relu", s, acc[s], h3=1, h4=1, h5=3 - s) for s in range(4)]
    # cells sorted: relu/0 then tanh/0. tanh: h3 rho 1, h4 -1, h5 1 - 6 * 2 / 60 = 0.8
    np.testing.assert_allclose(ch2.cell_spearman(rs, ["h5"]), [-1.0, 0.8])
    # the mean over h3, h4, h5: (1 - 1 + 0.8) / 3 = 0.2667 (median: 0.8; max: 1)
    got = ch2.cell_spearman(rs, ["h3", "h4", "h5"])
    np.testing.assert_allclose(got, [-1.0, 0.8 / 3])
    # relu's h3 and h4 are constant (no rho): left out, not read as 0 (which would give -1/3)
    np.testing.assert_allclose(ch2.cell_spearman(rs, ["h1", "h3"]), [np.nan, 1.0])
    assert ch2.cells(rs) == [("relu", 0.0), ("tanh", 0.0)]
    # three seeds at least: two give no value
    assert np.isnan(ch2.cell_spearman(rs[:2] + rs[4:6], ["h5"])).all()


def test_ch2_spearman_and_pearson_by_hand():
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.1, 0.3, 0.2, 0.9])
    got = ch2._spearman_pearson(x, y)
    # ranks of y: 1, 3, 2, 4: rho = 1 - 6 * 2 / 60 = 0.8; Pearson r = 1.15 / sqrt(5 * 0.3875)
    assert got["spearman_rho"] == pytest.approx(0.8) and got["n"] == 4
    assert got["pearson_r"] == pytest.approx(1.15 / math.sqrt(5 * 0.3875))
    assert 0 < got["spearman_p"] < 1 and 0 < got["pearson_p"] < 1
    for xs, ys in ((x[:2], y[:2]), (np.ones(4), y), (x, np.ones(4))):
        out = ch2._spearman_pearson(xs, ys)
        assert math.isnan(out["spearman_rho"]) and math.isnan(out["pearson_r"]), (xs, ys)
        assert out["n"] == len(xs)


def test_ch2_variant_plane_names():
    assert ch2._variant("ebab") == "ebab" and ch2._variant("ebab", 30) == "ebab"
    assert ch2._variant("ebab", 15) == "ebab, 15 bins"
    assert ch2._variant("saxe_max", 60) == "saxe_max, 60 bins"
    assert ch2._variant("akde", alpha="0.1") == "akde"
    assert ch2._variant("akde", alpha="0.2") == "akde, α 0.2"
    assert ch2._variant("akde", alpha="σ∝max") == "akde, σ ∝ max"


# ================================================================================================
# 5. Chapter 3 (Peer et al. 2022): entropies, every verdict's values, the settings grid
# ================================================================================================


def _h3(test_acc, train_acc=None, entropy=None, every=3) -> History:
    """Evaluated every 3 epochs from epoch 0; entropy snapshots (layers) at the same epochs."""
    n = len(test_acc)
    train_acc = test_acc if train_acc is None else train_acc
    entropy = [[0.5, 0.5, 0.5]] * n if entropy is None else entropy
    return History(
        epochs=(np.arange(len(entropy)) * every).astype(np.int64), activations={},
        measures={"entropy": np.asarray(entropy, float)},
        metrics={"epoch": np.arange(n, dtype=float) * every,
                 "train_acc": np.asarray(train_acc, float), "test_acc": np.asarray(test_acc, float)},
        probe_labels=np.zeros(1), meta={},
    )  # fmt: skip


def test_ch3_entropy_gaps_read_the_layers_asked_for():
    # at epoch 3: LBE layers 1.0, 0.3, 0.6; plain 0.5, 0.0, 0.0; at epoch 0 all equal
    lbe = [_h3([0.1, 0.2], entropy=[[0.2, 0.2, 0.2], [1.0, 0.3, 0.6]])]
    plain = [_h3([0.1, 0.1], entropy=[[0.2, 0.2, 0.2], [0.5, 0.0, 0.0]])]
    assert ch3.entropy_gaps(lbe, plain, 3) == pytest.approx([0.6])  # last: 0.6 - 0
    assert ch3.entropy_gaps(lbe, plain, 3, "min") == pytest.approx([0.3])  # 0.3 - 0
    assert ch3.entropy_gaps(lbe, plain, 3, "mean") == pytest.approx([1.4 / 3])  # 0.633 - 0.167
    # wrong: the first layer or the max 0.5, the sign -0.6, another snapshot 0
    assert ch3.entropy_gaps(lbe, plain, 0) == pytest.approx([0.0])
    with pytest.raises(ValueError, match="not a snapshot"):
        ch3.snapshot(lbe[0], 6)


RUNS3 = {
    # evaluations at epochs 0, 3, ..., 24; the verdicts read the LBE arms at 12, plain at 18
    "authors": [_h3([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
                    entropy=[[0.9, 0.1, 0.2]] * 9),  # fmt: skip
                _h3([0.2] * 9, entropy=[[0.9, 0.1, 0.4]] * 9)],
    "tuned": [_h3([0.5, 0.5, 0.6, 0.6, 0.7], entropy=[[0.9, 0.1, 0.8]] * 5),
              _h3([0.4] * 5, entropy=[[0.9, 0.1, 0.6]] * 5)],
    "plain": [_h3([0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.2, 0.2, 0.2],
                  train_acc=[0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                  entropy=[[0.9, 0.0, 0.0]] * 9),
              _h3([0.15] * 9, train_acc=[0.1] * 9, entropy=[[0.9, 0.0, 0.1]] * 9)],
}  # fmt: skip
P3 = {"epochs": 12, "authors_epochs": 24, "plain_epochs": 18}


def test_ch3_verdict_values_of_every_claim_by_hand():
    out = ch3.verdict_values(RUNS3, P3)
    assert list(out) == ["ch3-primary", "ch3-plain-untrainable", "ch3-tuned-test-vs-plain",
                         "ch3-tuned-entropy-vs-plain", "ch3-authors-entropy-vs-plain"]  # fmt: skip
    # authors' test accuracy at 12: mean of 0.1 .. 0.5 = 0.3 (their last value there: 0.5);
    # plain at 18: mean of 0.1, 0.1, 0.1, 0.15, 0.2 = 0.13, and 0.15 -> 0.17 and 0.05
    assert out["ch3-primary"] == pytest.approx([0.17, 0.05])
    # plain train accuracy at 18, the last 5 of 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4: 0.22 (the
    # first 5: 0.12; its test accuracy: 0.1; at the LBE budget 12: 0.12)
    assert out["ch3-plain-untrainable"] == pytest.approx([0.22, 0.1])
    # tuned test accuracy at 12: 0.58 and 0.4, minus plain's 0.13 and 0.15
    assert out["ch3-tuned-test-vs-plain"] == pytest.approx([0.45, 0.25])
    # last hidden layer at epoch 12: tuned 0.8, 0.6; authors 0.2, 0.4; plain 0.0, 0.1
    assert out["ch3-tuned-entropy-vs-plain"] == pytest.approx([0.8, 0.5])
    assert out["ch3-authors-entropy-vs-plain"] == pytest.approx([0.2, 0.3])
    one = ch3.verdict_values(RUNS3, P3, last=1, layers="min", plain_epochs=12)
    assert one["ch3-primary"] == pytest.approx([0.4, 0.05])  # 0.5 - 0.1 (at 18: 0.5 - 0.2)
    assert one["ch3-tuned-test-vs-plain"] == pytest.approx([0.6, 0.25])  # 0.7 - 0.1, 0.4 - 0.15
    assert one["ch3-plain-untrainable"] == pytest.approx([0.2, 0.1])
    assert one["ch3-tuned-entropy-vs-plain"] == pytest.approx([0.1, 0.1])  # min 0.1 - 0.0
    # an LBE budget past the tuned arm's run: only the arms that trained that long are judged
    late = ch3.verdict_values(RUNS3, P3, lbe_epochs=24)
    assert set(late) == {"ch3-primary", "ch3-plain-untrainable", "ch3-authors-entropy-vs-plain"}
    assert late["ch3-primary"] == pytest.approx([0.57, 0.05])  # mean of 0.5 .. 0.9 = 0.7
    past = ch3.verdict_values(RUNS3, P3, lbe_epochs=27)
    assert set(past) == {"ch3-plain-untrainable"}


def test_ch3_sensitivity_settings_by_hand():
    got = ch3.sensitivity_settings(P3)  # e 12, ae 24, pe 18
    assert got["ch3-primary"] == [
        {"last": w, "lbe_epochs": b, "plain_epochs": p}
        for w in (1, 5, 10) for b in (12, 24) for p in (12, 18)
    ]  # fmt: skip
    assert got["ch3-plain-untrainable"] == [
        {"last": w, "plain_epochs": p} for w in (1, 5, 10) for p in (12, 18, 24)
    ]
    assert got["ch3-tuned-test-vs-plain"] == [
        {"last": w, "lbe_epochs": 12, "plain_epochs": p} for w in (1, 5, 10) for p in (12, 18)
    ]
    assert got["ch3-tuned-entropy-vs-plain"] == [
        {"layers": lay, "lbe_epochs": 12} for lay in ("last", "min", "mean")
    ]
    assert got["ch3-authors-entropy-vs-plain"] == [
        {"layers": lay, "lbe_epochs": b} for lay in ("last", "min", "mean") for b in (12, 24)
    ]
    same = ch3.sensitivity_settings({"epochs": 12, "authors_epochs": 12, "plain_epochs": 12})
    assert len(same["ch3-primary"]) == 3 and len(same["ch3-authors-entropy-vs-plain"]) == 3


def test_ch3_accuracy_gaps_pair_by_seed_and_read_test_accuracy():
    lbe, plain = RUNS3["authors"], RUNS3["plain"]
    assert ch3.accuracy_gaps(lbe, plain, 12, 18) == pytest.approx([0.17, 0.05])
    assert ch3.accuracy_gaps(lbe, plain[::-1], 12, 18) == pytest.approx([0.15, 0.07])  # unpaired
    # the last 2: authors 0.45 and 0.2, plain 0.175 and 0.15
    assert ch3.accuracy_gaps(lbe, plain, 12, 18, last=2) == pytest.approx([0.275, 0.05])
    assert ch3.accuracy_at(plain[0], 18) == pytest.approx(0.22)  # train accuracy by default
    assert ch3.accuracy_at(plain[0], 18, "test_acc", last=3) == pytest.approx(0.15)


# ================================================================================================
# 6. Chapter 4 (Lyu & Rodrigues 2024): phase tables, the family's values and their records
# ================================================================================================

COMMON4 = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
S4 = len(CH4_CPU_GRID)


def _h4(info, train_info=None, seed=0, acc=0.9, shallow=None) -> History:
    """A run of two blocks on the cpu grid: −ln ZX of the deepest block is ``info`` on the test
    split (``train_info`` on the training split), the shallow block ``shallow`` (flat 0)."""
    info = np.asarray(info, float)
    train = info if train_info is None else np.asarray(train_info, float)
    sh = np.zeros(S4) if shallow is None else np.asarray(shallow, float)
    z = np.ones((S4, 2, 4))
    z[:, 1, 0], z[:, 1, 1] = np.exp(-info), np.exp(-train)
    z[:, 0, 0] = z[:, 0, 1] = np.exp(-sh)
    return History(np.array(CH4_CPU_GRID), {}, {"zxzy": z}, {"test_acc": np.array([0.5, acc])},
                   np.zeros(1), meta={"layers": ["h1", "h2"], "seed": seed})  # fmt: skip


def _curve(rise=0.0, fall=0.0, at=1, down=6) -> np.ndarray:
    """0, then ``rise`` from snapshot ``at``, then ``rise - fall`` from snapshot ``down``."""
    c = np.zeros(S4)
    c[at:] = rise
    c[down:] -= fall
    return c


def test_ch4_phase_table_reads_the_test_column_of_the_block_asked_for():
    hs = [_h4(_curve(0.3, 0.1), train_info=_curve(0.7, 0.4), shallow=_curve(0.5), seed=s)
          for s in (1, 2)]  # fmt: skip
    t = ch4.phase_table(hs, width=1, min_change=0.05)
    np.testing.assert_allclose(t["fitting_rise"], [0.3, 0.3])
    np.testing.assert_allclose(t["compression_fall"], [0.1, 0.1])
    assert t["kind"].tolist() == ["fit-then-compress"] * 2
    np.testing.assert_allclose(ch4.phase_table(hs, column="zx_train", width=1)["fitting_rise"],
                               [0.7, 0.7])  # fmt: skip
    np.testing.assert_allclose(ch4.phase_table(hs, 0, width=1)["fitting_rise"], [0.5, 0.5])
    assert ch4.phase_table(hs, width=1, min_change=0.2)["kind"].tolist() == ["fit-only"] * 2
    with pytest.raises(ValueError, match="column"):
        ch4.phase_table(hs, column="zy_test")
    with pytest.raises(ValueError, match="at least one"):
        ch4.phase_table([])
    with pytest.raises(ValueError, match="one epoch list per curve"):
        ch4.curve_phase_table([CH4_CPU_GRID], [np.ones(S4)] * 2)
    with pytest.raises(ValueError, match="one epoch list per curve"):
        ch4.curve_phase_table([], [])
    # a curve given directly is the MSE itself: −ln of it is read
    direct = ch4.curve_phase_table([CH4_CPU_GRID], [np.exp(-_curve(0.3, 0.1))], width=1)
    np.testing.assert_allclose(direct["fitting_rise"], [0.3])


def test_ch4_information_directions_and_the_running_median_by_hand():
    assert zxzy.zx_information(0.25) == pytest.approx(math.log(4))  # −ln ZX; the MSE itself
    np.testing.assert_allclose(zxzy.zx_information([1.0, math.e]), [0.0, -1.0])  # reads upward
    with pytest.raises(ValueError, match="zx"):
        zxzy.zx_information([0.5, 0.0])
    assert zxzy.zy_information(0.5, 10) == pytest.approx(math.log(10) - 0.5)  # ln K − ZY
    np.testing.assert_allclose(zxzy.zy_information([math.log(2), 0.0], 2), [0.0, math.log(2)])
    with pytest.raises(ValueError, match="n_classes"):
        zxzy.zy_information(0.5, 1)
    # edges repeated: 0 0 [0 0 5 0 1 2 3] 3 -> medians 0, 0, 0, 1, 1, 2, 3 (means: 0, 1.67, ...)
    np.testing.assert_allclose(zxzy.smooth_trajectory(np.array([0, 0, 5, 0, 1, 2, 3.0])),
                               [0, 0, 0, 1, 1, 2, 3])  # fmt: skip
    # 4 4 [4 0 5 1 9] 9 9: windows 44405, 44051, 40519, 05199, 51999
    np.testing.assert_allclose(zxzy.smooth_trajectory(np.array([4, 0, 5, 1, 9.0]), 5),
                               [4, 4, 4, 5, 9])  # fmt: skip
    np.testing.assert_allclose(zxzy.smooth_trajectory(np.array([3, 1, 2.0]), 1), [3, 1, 2])
    # seeds x S: the seed mean first, NaN left out (then the median)
    seeds = np.array([[1.0, np.nan, 3.0, 3.0], [3.0, 2.0, 1.0, 5.0]])
    np.testing.assert_allclose(zxzy.smooth_trajectory(seeds, 1), [2.0, 2.0, 2.0, 4.0])
    for bad in (0, 2, 3.0):
        with pytest.raises(ValueError, match="width"):
            zxzy.smooth_trajectory(np.ones(4), bad)
    with pytest.raises(ValueError, match="info"):
        zxzy.smooth_trajectory(np.ones((2, 2, 2)))


def test_ch4_detect_phases_window_and_thresholds_by_hand():
    e = CH4_CPU_GRID
    info = np.array([0.5, 0.25, 0.25, 0.75, 0.75, 0.75, 1.0, 1.0, 0.75])  # exact in binary
    p = zxzy.detect_phases(e, info, width=1, min_change=0.05)
    # the window ends at snapshot ceil(0.6 * 8) = 5: the largest rise from the running minimum
    # within it is 0.75 - 0.25 = 0.5, from the first snapshot at the minimum (1) to its end (3);
    # the later rise to 1.0 is past the window; the fall after snapshot 3: 1.0 - 0.75 = 0.25
    assert p.kind == "fit-then-compress" and p.fitting_rise == 0.5
    assert p.fit_epochs == (e[1], e[3]) and p.compression_fall == 0.25
    assert p.compress_epochs == (e[6], e[8])
    whole = zxzy.detect_phases(e, info, width=1, window=1.0)  # the whole curve: 1.0 - 0.25
    assert whole.fitting_rise == 0.75 and whole.fit_epochs == (e[1], e[6])
    assert whole.compression_fall == 0.25 and whole.compress_epochs == (e[6], e[8])
    high = zxzy.detect_phases(e, info, width=1, min_change=0.3)  # the fall 0.25 is too small
    assert high.kind == "fit-only" and high.compress_epochs is None
    assert high.compression_fall == 0.25  # still reported
    on = zxzy.detect_phases(e, info, width=1, min_change=0.5)  # exactly the rise: it counts
    assert on.kind == "fit-only" and on.fit_epochs == (e[1], e[3])
    none = zxzy.detect_phases(e, info, width=1, min_change=0.51)
    assert none.kind == "flat" and none.fit_epochs is None
    assert none.fitting_rise == 0.5  # the rise is reported below the threshold
    # without a fitting phase the fall is searched from the first snapshot: the first fall,
    # 0.5 - 0.25 at snapshots 0 to 1, ties the later one and comes first
    assert none.compression_fall == 0.25
    low = zxzy.detect_phases(e, info, width=1, min_change=0.25)
    assert low.kind == "fit-then-compress" and low.compress_epochs == (e[6], e[8])
    fall_only = zxzy.detect_phases(e, np.linspace(1, 0, 9), width=1)
    assert fall_only.kind == "compress-only" and fall_only.compress_epochs == (e[0], e[8])
    np.testing.assert_array_equal(p.smoothed, info)
    for bad in (dict(window=0.0), dict(window=1.5), dict(min_change=0.0)):
        with pytest.raises(ValueError):
            zxzy.detect_phases(e, info, **bad)
    with pytest.raises(ValueError, match="2 snapshots"):
        zxzy.detect_phases([0], [1.0])


def _five4(rise, fall=0.0, acc=0.9):
    return [_h4(_curve(rise, fall), seed=s, acc=acc) for s in range(1, 6)]


def test_ch4_family_values_by_hand():
    fam = {"identity": _five4(0.01, 0.3), "projection": _five4(0.4, 0.1),
           "fixed": _five4(0.2, 0.15), "none": _five4(0.6)}  # fmt: skip
    ctl = {"stemless": _five4(0.03), "orthogonal": _five4(0.25, 0.12)}
    null = _five4(0.0, 0.05)
    vs = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4, null=null,
                                                  controls=ctl)}  # fmt: skip
    val = {c: v.value for c, v in vs.items()}
    assert val["ch4-is-no-fitting"] == pytest.approx(0.01)
    assert val["ch4-is-compresses"] == pytest.approx(0.3 - 0.05)  # the fall minus the null's
    assert vs["ch4-is-compresses"].null["per_seed"] == pytest.approx([0.05] * 5)
    assert vs["ch4-is-compresses"].kind == "secondary"
    assert val["ch4-nis-fits-projection"] == pytest.approx(0.4)
    assert val["ch4-nis-fits-fixed"] == pytest.approx(0.2)
    assert val["ch4-nis-fits-none"] == pytest.approx(0.6)
    # both phases: the smaller of rise and fall (the larger would read 0.4, 0.2, 0.6)
    assert val["ch4-nis-fits-then-compresses-projection"] == pytest.approx(0.1)
    assert val["ch4-nis-fits-then-compresses-fixed"] == pytest.approx(0.15)
    assert val["ch4-nis-fits-then-compresses-none"] == pytest.approx(0.0)
    # NIS = mean(projection, fixed) = 0.3, minus IS 0.01; the no-shortcut net on its own
    assert val["ch4-is-skips-fitting"] == pytest.approx(0.29)
    assert val["ch4-is-vs-none-fitting"] == pytest.approx(0.59)
    assert val["ch4-stemless-is-no-fitting"] == pytest.approx(0.03)
    assert val["ch4-stemless-is-skips-fitting"] == pytest.approx(0.27)
    assert val["ch4-orthogonal-nis-fits"] == pytest.approx(0.25)
    assert val["ch4-orthogonal-nis-fits-then-compresses"] == pytest.approx(0.12)
    assert val["ch4-is-generalises"] == pytest.approx(0.0)  # equal accuracies
    assert (
        vs["ch4-nis-fits-projection"].statement
        == "MLP NIS (projection shortcut) has a fitting phase"
    )
    assert vs["ch4-nis-fits-none"].statement == "MLP the no-shortcut net (none) has a fitting phase"
    kinds = {c: v.kind for c, v in vs.items()}
    assert {c for c, k in kinds.items() if k == "check"} == {
        "ch4-is-no-fitting",
        "ch4-stemless-is-no-fitting",
    }
    # without the null the fall itself is judged, as a check
    alone = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4)}
    assert alone["ch4-is-compresses"].value == pytest.approx(0.3)
    assert alone["ch4-is-compresses"].kind == "check" and alone["ch4-is-compresses"].null == {}
    assert alone["ch4-is-compresses"].status == "check holds"


def test_ch4_sensitivity_threshold_is_each_settings_min_change_unless_judged_against_a_null():
    # a rise of 0.06 on every seed: clears 0.03 and 0.05, not 0.08, at widths 1, 3 and 5
    fam = {"identity": _five4(0.0, 0.3), "projection": _five4(0.06)}
    null = _five4(0.0, 0.25)  # the IS fall exceeds its null's by 0.05
    vs = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4, null=null)}
    fits = vs["ch4-nis-fits-projection"]
    assert fits.status == "reproduced" and fits.threshold == 0.05
    rows = fits.sensitivity["settings"]
    assert [(r["width"], r["min_change"]) for r in rows] == [
        (g["width"], g["min_change"]) for g in ch4.PHASE_GRID
    ]
    assert [r["status"] for r in rows] == (
        ["reproduced", "reproduced", "not reproduced"] * 3)  # fmt: skip
    assert (fits.sensitivity["holds"], fits.sensitivity["of"]) == (6, 9)
    assert all(r["probe"] == "300x64" for r in rows)
    # against the null the threshold stays the registered 0 in every setting
    comp = vs["ch4-is-compresses"]
    assert comp.threshold == 0.0 and comp.value == pytest.approx(0.05)
    assert [r["status"] for r in comp.sensitivity["settings"]] == ["reproduced"] * 9
    # a threshold set by a parameter is noted and judged
    low = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.08, COMMON4)}
    assert low["ch4-nis-fits-projection"].status == "not reproduced"
    assert "not the pre-registered 0.05" in low["ch4-nis-fits-projection"].note


def test_ch4_budget_rows_are_judged_at_the_verdict_threshold():
    fam = {"identity": _five4(0.0), "projection": _five4(0.06)}
    budgets = {(1500, 64): {"identity": [np.exp(-_curve(0.02))] * 5,
                            "projection": [np.exp(-_curve(0.1))] * 5},
               (300, 256): {"projection": [np.exp(-_curve(0.1))] * 5}}  # fmt: skip
    vs = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4,
                                                  budgets=budgets, probe=(300, 64))}  # fmt: skip
    skip = vs["ch4-is-skips-fitting"]
    extra = [r for r in skip.sensitivity["settings"] if r["probe"] != "300x64"]
    # only the budget that re-probed both arms: 0.1 - 0.02 = 0.08 at width 1, threshold 0.05
    assert extra == [{"probe": "1500x64", "width": 1, "min_change": 0.05, "value":
                      pytest.approx(0.08), "bound": pytest.approx(0.08),
                      "status": "reproduced"}]  # fmt: skip
    fits = vs["ch4-nis-fits-projection"]
    assert [r["probe"] for r in fits.sensitivity["settings"]][-2:] == ["1500x64", "300x256"]


# ================================================================================================
# 7. The chapters' verdict lists: each value and each settings-grid value is the metric's at
#    that setting (the metrics themselves are pinned by hand above and in the chapter tests)
# ================================================================================================


def _ch1_runs(rng: np.random.Generator, n_seeds: int = 3, epochs: int = 12) -> dict:
    def run():
        m = {k: rng.uniform(0, 1, (3, 4)) for k in ch1.UNIT_MEASURES}
        loss = np.sort(rng.uniform(0.05, 2.0, epochs))[::-1] * rng.uniform(0.5, 2.0)
        acc = np.clip(np.sort(rng.uniform(0.0, 1.0, epochs)), 0, 1)
        return _h1(loss, acc, **m)

    return {a: [run() for _ in range(n_seeds)] for a in ch1.ARCHITECTURES}


def _grid_check(spec: dict, fn) -> None:
    assert len(spec["grid"]) == len(spec["grid_values"])
    for g, got in zip(spec["grid"], spec["grid_values"], strict=True):
        np.testing.assert_allclose(got, fn(g), err_msg=f"{spec['claim']} {g}")


def test_ch1_chapter_verdicts_values_and_grids_are_the_metrics_at_each_setting():
    runs = _ch1_runs(np.random.default_rng(11))
    rng = np.random.default_rng(12)
    hess = {a: [_hess(list(rng.integers(0, 10, 2)), list(rng.integers(0, 10, 2)))
                for _ in range(3)] for a in ch1.HESSIAN_ARCHS}  # fmt: skip
    specs = {s["claim"]: s for s in ch1.chapter_verdicts(runs, hess)}
    assert list(specs) == ["ch1-branch-elimination", "ch1-branch-rank", "ch1-identity-init-slows",
                           "ch1-orthogonal-skip", "ch1-degeneracy-dose", "ch1-hessian"]  # fmt: skip
    s = specs["ch1-branch-elimination"]
    np.testing.assert_allclose(s["values"], ch1.elimination_gap(runs, "residual", "elim", "end"))
    assert [(g["skip net"], g["measure"], g["when"]) for g in s["grid"]] == [
        (k, m, w) for k in ch1.SKIP_ARCHS for m in ("elim", "dead") for w in ("end", "mean")
    ]
    _grid_check(s, lambda g: ch1.elimination_gap(runs, g["skip net"], g["measure"], g["when"]))
    s = specs["ch1-branch-rank"]
    np.testing.assert_allclose(s["values"], ch1.rank_gap(runs, "residual", "end"))
    assert len(s["grid"]) == 6
    _grid_check(s, lambda g: ch1.rank_gap(runs, g["skip net"], g["when"]))
    s = specs["ch1-identity-init-slows"]
    np.testing.assert_allclose(s["values"], ch1.identity_init_drift(runs, "residual", 3))
    assert [(g["comparator"], g["part"]) for g in s["grid"]] == [
        (c, p) for c in ("residual", "orthogonal") for p in (2, 3, 4)
    ]
    _grid_check(s, lambda g: ch1.identity_init_drift(runs, g["comparator"], g["part"]))
    s = specs["ch1-orthogonal-skip"]
    np.testing.assert_allclose(s["values"], ch1.orthogonal_ratio(runs, 0.9))
    assert [g["target"] for g in s["grid"]] == [0.8, 0.9, 0.95]
    _grid_check(s, lambda g: ch1.orthogonal_ratio(runs, g["target"]))
    s = specs["ch1-degeneracy-dose"]
    np.testing.assert_allclose(s["values"], ch1.dose_response(runs, DOSES, "mean_loss"))
    arms = {"all doses": DOSES, "without 75 %": DOSES[:-1]}
    assert [(g["slowness"], g["doses"]) for g in s["grid"]] == [
        (m, d) for m in ("mean_loss", "final_loss", "epochs90") for d in arms
    ]
    _grid_check(s, lambda g: ch1.dose_response(runs, arms[g["doses"]], g["slowness"]))
    s = specs["ch1-hessian"]
    np.testing.assert_allclose(s["values"], ch1.hessian_gap(hess, 1e-4, True, ["he"], "all"))
    assert [(g["eps_rel"], g["rescaled"], g["pairs"], g["epochs"]) for g in s["grid"]] == [
        (e, r, p, ep) for e in (1e-3, 1e-4, 1e-5) for r in (True, False)
        for p in ("he", "he+scaled", "scaled", "unmatched") for ep in ("all", "init", "trained")
    ]  # fmt: skip
    assert len(s["grid"]) == 3 * 2 * 4 * 3
    _grid_check(s, lambda g: ch1.hessian_gap(hess, g["eps_rel"], g["rescaled"],
                                             g["pairs"].split("+"), g["epochs"]))  # fmt: skip
    assert {c: s["kind"] for c, s in specs.items()} == {
        "ch1-branch-elimination": "secondary", "ch1-branch-rank": "secondary",
        "ch1-identity-init-slows": "secondary", "ch1-orthogonal-skip": "check",
        "ch1-degeneracy-dose": "check", "ch1-hessian": "secondary"}  # fmt: skip
    assert "ch1-hessian" not in {s["claim"] for s in ch1.chapter_verdicts(runs)}
    assert all(isinstance(s["statement"], str) and len(s["statement"]) > 40 for s in specs.values())


def test_ch1_chapter_primary_values_null_and_grid():
    runs = _ch1_runs(np.random.default_rng(13))
    spec = ch1.chapter_primary(runs)
    np.testing.assert_allclose(spec["values"], ch1.primary_speed_ratio(runs, 0.9, "residual"))
    fastest = [min(ch1.epochs_to(runs[a][i]) for a in ch1.PLAIN_ARCHS) for i in range(3)]
    np.testing.assert_allclose(spec["null"]["per_seed"], fastest)
    assert [(g["accuracy_target"], g["skip net"]) for g in spec["grid"]] == [
        (t, s) for t in (0.8, 0.9, 0.95) for s in ("residual", "hyper")
    ]
    _grid_check(
        {"claim": "primary", **spec},
        lambda g: ch1.primary_speed_ratio(runs, g["accuracy_target"], g["skip net"]),
    )


CH2_PLANES = ("ebab", "ebab, 15 bins", "ebab, 60 bins", "akde", "akde, α 0.05", "akde, α 0.2",
              "akde, σ ∝ max", "kde", "saxe_max", "saxe_max, 15 bins", "saxe_max, 60 bins")  # fmt: skip
CH2_ACTS = ("tanh", "relu", "softplus")


def _ch2_results(rng: np.random.Generator) -> list[ch2.MemberResult]:
    """Every plane variant a different random trajectory; the output's I(T;Y) rises so that the
    fitting end moves with the fraction; one net below the 0.6 accuracy floor, one below 0.8."""
    out = []

    def planes():
        d = {}
        for k in CH2_PLANES:
            ity = np.r_[0.0, np.sort(rng.uniform(0.0, 1.0, 5))]
            p = {ly: np.column_stack([rng.uniform(1, 9, 6), np.full(6, 0.5)])
                 for ly in ("h1", "h2", "h3", "h4", "h5")}  # fmt: skip
            p["output"] = np.column_stack([rng.uniform(0, 2, 6), ity])
            d[k] = p
        return d

    for act in CH2_ACTS:
        for seed in range(4):
            for l2, labels in ((0.01, "true"), (0.0, "true"), (0.0, "permuted")):
                acc = {("relu", 1, 0.01): 0.7, ("tanh", 2, 0.0): 0.5}.get((act, seed, l2))
                acc = rng.uniform(0.82, 0.99) if acc is None else acc
                out.append(ch2.MemberResult(act, l2, seed, np.array([0, 5, 20, 150, 300, 500]),
                                            planes(), {"test_acc": np.array([0.5, acc])}, 0.0,
                                            labels=labels))  # fmt: skip
    return out


def test_ch2_chapter_verdicts_values_and_grids_are_the_metrics_at_each_setting():
    rs = _ch2_results(np.random.default_rng(21))
    V = ch2._variant
    specs = {s["claim"]: s for s in ch2.chapter_verdicts(rs, list(CH2_ACTS), 0.01)}
    nonsat = ["relu", "softplus"]
    for act in CH2_ACTS:
        s = specs[f"ch2-compression-vs-null-{act}"]
        np.testing.assert_allclose(s["values"], ch2.null_excess(rs, [act], "ebab", "h5", 0, 0.9))
        np.testing.assert_allclose(
            s["null"]["per_seed"], ch2.mean_compression(rs, [act], "ebab", "h5", "permuted")
        )
        assert [(g["bins"], g["fit_fraction"], g["peak_from"]) for g in s["grid"]] == [
            (b, f, 0) for b in (15, 30, 60) for f in (0.8, 0.9, 0.95)] + [
            (30, 0.0, e) for e in (0, 10, 100)]  # fmt: skip
        _grid_check(
            s,
            lambda g, a=act: ch2.null_excess(
                rs, [a], V("ebab", g["bins"]), "h5", g["peak_from"], g["fit_fraction"]
            ),
        )
    s = specs["ch2-akde-compression"]
    np.testing.assert_allclose(s["values"], ch2.null_excess(rs, nonsat, "akde", "h5"))
    np.testing.assert_allclose(
        s["null"]["per_seed"], ch2.mean_compression(rs, nonsat, "akde", "h5", "permuted")
    )
    assert len(s["grid"]) == 16
    _grid_check(s, lambda g: ch2.null_excess(rs, nonsat, V("akde", alpha=g["alpha"]), "h5",
                                             fraction=g["fit_fraction"]))  # fmt: skip
    s = specs["ch2-adaptive-contrast"]
    np.testing.assert_allclose(s["values"], ch2.adaptive_contrast(rs, nonsat))
    assert [(g["bins"], g["alpha"], g["fit_fraction"]) for g in s["grid"]] == [
        (b, a, 0.9) for b in (15, 30, 60) for a in ("0.05", "0.1", "0.2")] + [
        (30, "0.1", f) for f in (0.8, 0.95, 0.0)]  # fmt: skip
    _grid_check(s, lambda g: ch2.adaptive_contrast(
        rs, nonsat, "h5", (V("ebab", g["bins"]), V("akde", alpha=g["alpha"])),
        ("kde", V("saxe_max", g["bins"])), g["fit_fraction"]))  # fmt: skip
    s = specs["ch2-l2-increases-compression"]
    vals, excluded = ch2.l2_delta_c(rs, 0.01, list(CH2_ACTS))
    np.testing.assert_allclose(s["values"], vals)
    assert excluded == ["tanh seed 2"] and "0.6 test accuracy): tanh seed 2" in s["note"]
    assert ch2.l2_delta_c(rs, 0.01, list(CH2_ACTS), floor=0.8)[1] == ["tanh seed 2", "relu seed 1"]
    lay = {"h3-h5": ("h3", "h4", "h5"), "h5": ("h5",)}
    assert len(s["grid"]) == 16
    _grid_check(s, lambda g: ch2.l2_delta_c(rs, 0.01, list(CH2_ACTS), estimator=g["estimator"],
                                            layers=lay[g["layers"]], floor=g["floor"],
                                            fraction=g["fit_fraction"])[0])  # fmt: skip
    s = specs["ch2-last-layer-generalisation"]
    np.testing.assert_allclose(s["values"], ch2.cell_spearman(rs, ["output"], "ebab"))
    assert s["unit"] == "cell" and len(s["values"]) == 6
    _grid_check(s, lambda g: ch2.cell_spearman(rs, ["output"], g["estimator"],
                                               fraction=g["fit_fraction"]))  # fmt: skip
    s = specs["ch2-hidden-layers-no-generalisation"]
    np.testing.assert_allclose(s["values"], ch2.cell_spearman(rs, ["h3", "h4", "h5"], "ebab"))
    lay2 = {"h3-h5": ["h3", "h4", "h5"], "h4-h5": ["h4", "h5"], "h5": ["h5"]}
    _grid_check(s, lambda g: ch2.cell_spearman(rs, lay2[g["layers"]], g["estimator"]))
    s = specs["ch2-compression-varies"]
    np.testing.assert_allclose(s["values"], ch2.seed_spread(rs, list(CH2_ACTS)))
    _grid_check(s, lambda g: ch2.seed_spread(rs, list(CH2_ACTS), g["estimator"], "h5",
                                             g["jitter_snapshots"]))  # fmt: skip
    for act, sat in (("tanh", "(saturating)"), ("relu", "(non-saturating)")):
        assert f"{act} {sat} nets compress" in specs[f"ch2-compression-vs-null-{act}"]["statement"]
    assert all(isinstance(s["statement"], str) and s["statement"] for s in specs.values())
    assert [(g["estimator"], g["layers"], g["fit_fraction"], g["floor"])
            for g in specs["ch2-l2-increases-compression"]["grid"]] == [
        (e, ly, f, fl) for e in ("ebab", "akde") for ly in ("h3-h5", "h5") for f in (0.9, 0.0)
        for fl in (0.6, 0.8)]  # fmt: skip
    assert [
        (g["estimator"], g["fit_fraction"]) for g in specs["ch2-last-layer-generalisation"]["grid"]
    ] == [(e, f) for e in ("ebab", "ebab, 15 bins", "ebab, 60 bins", "akde") for f in (0.9, 0.0)]
    assert [(g["alpha"], g["fit_fraction"]) for g in specs["ch2-akde-compression"]["grid"]] == [
        (a, f) for a in ("0.05", "0.1", "0.2", "σ∝max") for f in (0.8, 0.9, 0.95, 0.0)
    ]
    assert [
        (g["estimator"], g["jitter_snapshots"]) for g in specs["ch2-compression-varies"]["grid"]
    ] == [(e, k) for e in ("ebab", "ebab, 15 bins", "ebab, 60 bins", "akde") for k in (3, 5, 8)]
    assert [
        (g["estimator"], g["layers"]) for g in specs["ch2-hidden-layers-no-generalisation"]["grid"]
    ] == [(e, ly) for e in ("ebab", "akde") for ly in ("h3-h5", "h4-h5", "h5")]
    assert specs["ch2-hidden-layers-no-generalisation"]["unit"] == "cell"
    assert {c: s["kind"] for c, s in specs.items() if s["kind"] != "secondary"} == {
        "ch2-l2-increases-compression": "check", "ch2-hidden-layers-no-generalisation": "check",
        "ch2-compression-varies": "check"}  # fmt: skip
    assert {s["unit"] for c, s in specs.items() if "generalisation" not in c} == {"seed"}
    # without permuted-label nets: no verdict against the null
    true = [r for r in rs if r.labels == "true"]
    assert not [c for c in (s["claim"] for s in ch2.chapter_verdicts(true, list(CH2_ACTS), 0.01))
                if "null" in c or "akde" in c or "contrast" in c]  # fmt: skip


def test_ch2_paired_null_leaves_out_a_seed_without_a_twin_in_any_activation():
    rs = []
    for act, real, null in (("relu", [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]),
                            ("softplus", [5.0, 6.0, 7.0], [1.0, 1.0, None])):  # fmt: skip
        for seed, (c, cn) in enumerate(zip(real, null, strict=True)):
            rs.append(_member(act, seed, {"ebab": _plane2([6.0, 6.0 - c])}))
            if cn is not None:  # softplus seed 2 has no permuted-label twin
                rs.append(_member(act, seed, {"ebab": _plane2([6.0, 6.0 - cn])}, "permuted"))
        rs.append(_member(act, 0, {"ebab": _plane2([9.0, 0.0])}, l2=0.01))  # L2: never read
    got = ch2.paired_null(rs, ["relu", "softplus"])
    # seeds 0 and 1 only (seed 2 would be kept for relu alone): real (1 + 5) / 2, (2 + 6) / 2
    assert got["seeds"].tolist() == [0, 1]
    np.testing.assert_allclose(got["real"], [3.0, 4.0])
    np.testing.assert_allclose(got["null"], [0.5, 0.5])
    np.testing.assert_allclose(got["difference"], [2.5, 3.5])
    np.testing.assert_allclose(ch2.paired_null(rs, ["relu"])["difference"], [1.0, 2.0, 3.0])
    # the null table needs a twin for every net: NaN, not a mean over fewer seeds
    assert np.isnan(ch2.mean_compression(rs, ["relu", "softplus"], labels="permuted")).all()
    np.testing.assert_allclose(ch2.mean_compression(rs, ["relu"], labels="permuted"), [0, 0, 0])
    np.testing.assert_allclose(ch2.mean_compression(rs, ["relu", "softplus"]), [3.0, 4.0, 5.0])
    none = ch2.paired_null(rs, [])
    assert none["seeds"].tolist() == [] and np.isnan(none["difference"]).all()


def test_ch4_primary_sensitivity_rows_are_the_primary_at_each_detector_setting():
    # per seed: identity rises 0.0, projection 0.06 (clears 0.03 and 0.05, not 0.08)
    runs = {"identity": [_h4(_curve(0.0), seed=s) for s in (1, 2, 3, 4, 5)],
            "projection": [_h4(_curve(0.06), seed=s) for s in (5, 4, 3, 2, 1)]}  # fmt: skip
    pv = ch4.primary_values(runs)
    assert pv["seeds"].tolist() == [1, 2, 3, 4, 5]
    rec = ch4.primary_sensitivity(runs, "cpu", "reproduced", probe=(1500, 64))
    assert [(r["probe"], r["width"], r["min_change"]) for r in rec["settings"]] == [
        ("1500x64", g["width"], g["min_change"]) for g in ch4.PHASE_GRID
    ]
    assert [r["value"] for r in rec["settings"]] == pytest.approx([0.06] * 9)
    assert [r["status"] for r in rec["settings"]] == ["reproduced", "reproduced",
                                                      "not reproduced"] * 3  # fmt: skip
    assert (rec["holds"], rec["of"]) == (6, 9)
    assert ch4.primary_sensitivity(runs, "smoke", "smoke-only")["holds"] == 9


# ================================================================================================
# 8. Runs that do not pair, and parameters named in errors
# ================================================================================================


def test_per_seed_metrics_refuse_runs_that_do_not_pair():
    units = _units()
    units["residual"] = units["residual"][:1]  # two plain nets, one residual net
    for fn in (ch1.elimination_gap, ch1.rank_gap):
        with pytest.raises(ValueError, match="zip"):
            fn(units)
    r = np.array([0.0, 0.1, 0.2, 0.3])
    runs = {"plain_identity": [_h1(10**r)] * 2, "residual": [_h1(np.ones(4))],
            "orthogonal": [_reach(3)] * 2}  # fmt: skip
    for fn in (ch1.identity_init_drift, ch1.orthogonal_ratio):
        with pytest.raises(ValueError, match="zip"):
            fn(runs)
    plain = {a: [_reach(3)] * 2 for a in ch1.PLAIN_ARCHS}
    plain["plain_identity"] = plain["plain_identity"][:1]
    with pytest.raises(ValueError, match="zip"):
        ch1.chapter_primary({**plain, "residual": [_reach(2)] * 2, "hyper": [_reach(2)] * 2})
    lbe, pl = RUNS3["authors"], RUNS3["plain"][:1]
    with pytest.raises(ValueError, match="zip"):
        ch3.accuracy_gaps(lbe, pl, 12, 18)
    with pytest.raises(ValueError, match="zip"):
        ch3.entropy_gaps(lbe, pl, 12)


def test_errors_name_the_parameter():
    h = _h1(elim_frac=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="parameter 'when'"):
        ch1.measure_at(h, "elim_frac", "max")
    with pytest.raises(ValueError, match="parameter 'measure'"):
        ch1.elimination_gap(_units(), measure="overlap")
    with pytest.raises(ValueError, match="parameter 'metric'"):
        ch1.dose_response(_dose_runs(), metric="loss")
    with pytest.raises(ValueError, match="parameter 'epochs'"):
        ch1.degenerate_fraction(_hess([1], [1]), epochs="last")
    with pytest.raises(ValueError, match="parameter 'pairs' must name at least one pair"):
        ch1.hessian_gap({"plain": [_hess([1], [1])]}, pairs=[])
    with pytest.raises(ValueError, match="parameter 'last'"):
        ch3.accuracy_at(RUNS3["plain"][0], 18, last=0)
    with pytest.raises(ValueError, match=r"parameter 'key' = 'val_acc' .* choose one of \('epoch'"):
        ch3.accuracy_at(RUNS3["plain"][0], 18, "val_acc")
    with pytest.raises(ValueError, match="parameter 'epoch' = 7 is not a snapshot"):
        ch3.snapshot(RUNS3["plain"][0], 7)
    with pytest.raises(ValueError, match="one epoch list per curve, got 1 and 2"):
        ch4.curve_phase_table([CH4_CPU_GRID], [np.ones(S4)] * 2)
    seedless = _h4(_curve())
    seedless.meta.pop("seed")
    with pytest.raises(ValueError, match="every kind needs as many runs"):
        ch4.primary_values({"identity": [seedless], "projection": [seedless] * 2})
    with pytest.raises(ValueError, match=r"projection has seeds \[1, 1\], identity has \[1, 2\]"):
        ch4.primary_values({"identity": [_h4(_curve(), seed=1), _h4(_curve(), seed=2)],
                            "projection": [_h4(_curve(), seed=1)] * 2})  # fmt: skip
    with pytest.raises(ValueError, match="parameter 'direction'"):
        p_value([1.0, 2.0], 0.0, "=")
    with pytest.raises(ValueError, match="parameter 'fit_fraction' must be in"):
        ch2.paired_compression([], [], fraction=1.01)


# ================================================================================================
# 9. What `make mutants` found: settings passed on to each net, the notes' numbers, the edges of
#    the detectors and the fallbacks (each test kills mutants that change a reported number)
# ================================================================================================


def test_ch1_notes_carry_the_per_seed_numbers_behind_each_verdict():
    runs = _ch1_runs(np.random.default_rng(14))
    hess = {a: [_hess([k, k + 1], [0, 0]) for k in (1, 2, 3)] for a in ch1.HESSIAN_ARCHS}
    hess["plain"][0].meta["dataset"] = "szt12"
    notes = {s["claim"]: s["note"] for s in ch1.chapter_verdicts(runs, hess)}

    def fmt(xs):
        return ", ".join(f"{x:.3g}" for x in xs)

    end = {k: [ch1.measure_at(h, k) for h in runs[a]] for k, a in (
        ("elim_frac", "plain"), ("norm_rank", "plain"), ("branch_elim_frac", "residual"),
        ("branch_norm_rank", "residual"))}  # fmt: skip
    ep = {a: [ch1.epochs_to(h) for h in runs[a]] for a in ("plain_identity", "residual",
                                                           "orthogonal")}  # fmt: skip
    loss = [np.mean([h.metrics["train_loss"][1:].mean() for h in runs[a]]) for a in DOSES]
    assert notes["ch1-branch-elimination"] == (
        f"eliminated at the end: plain units {fmt(end['elim_frac'])}; residual branches "
        f"{fmt(end['branch_elim_frac'])}"
    )
    assert notes["ch1-branch-rank"] == (
        f"rank at the end: plain {fmt(end['norm_rank'])}; residual branches "
        f"{fmt(end['branch_norm_rank'])}"
    )
    assert notes["ch1-identity-init-slows"] == (
        f"epochs to 90 %: plain, identity-like init {fmt(ep['plain_identity'])}; residual "
        f"{fmt(ep['residual'])}"
    )
    assert notes["ch1-orthogonal-skip"] == (
        f"epochs to 90 %: orthogonal {fmt(ep['orthogonal'])}; identity {fmt(ep['residual'])}"
    )
    # the mean training loss without epoch 0, per dose
    assert notes["ch1-degeneracy-dose"] == (
        f"mean training loss per dose (0, 12.5, 25, 50, 75 %), seed mean: {fmt(loss)}"
    )
    # rescaled fractions 0.1 / 0.2 at the two epochs of seed 1, 0.2 / 0.3, 0.3 / 0.4
    deg = "0.15, 0.25, 0.35"
    assert notes["ch1-hessian"] == "on szt12; rescaled degenerate fraction (ε 1e-4, mean over " + (
        "epochs): " + "; ".join(f"{a} {deg}" for a in ch1.HESSIAN_ARCHS)
    )


def _fit_end(plane: dict, f: float) -> int:
    """The fitting end by hand: the first snapshot at which the output's I(T;Y) has made ``f`` of
    its rise from the first snapshot to its maximum (0 without a rise, or for ``f`` = 0)."""
    ity = plane["output"][:, 1]
    rise = ity.max() - ity[0]
    return 0 if f == 0 or rise <= 0 else int(np.flatnonzero(ity >= ity[0] + f * rise)[0])


def _c(r, est, layer, f=0.9, peak=0, window=None) -> float:
    """C by hand: the max of I(X;T) from the fitting end of ``window`` (default ``r``) on, at
    epochs >= ``peak``, minus the last value."""
    start = _fit_end((window or r).planes[est], f)
    ixt = r.planes[est][layer][:, 0]
    keep = (np.asarray(r.epochs) >= peak) & (np.arange(len(ixt)) >= start)
    return float(ixt[keep].max() - ixt[-1])


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_ch2_metrics_pass_their_settings_on_to_each_net():
    rs = _ch2_results(np.random.default_rng(22))
    by = {(r.activation, r.l2, r.seed, r.labels): r for r in rs}
    S = range(4)

    def real(a, s, l2=0.0):
        return by[a, l2, s, "true"]

    def null(a, s):
        return by[a, 0.0, s, "permuted"]

    def excess(a, est, layer, f=0.9, peak=0):
        return [_c(real(a, s), est, layer, f, peak) - _c(null(a, s), est, layer, f, peak, real(a, s))
                for s in S]  # fmt: skip

    assert ch2.fit_start(real("relu", 0), "ebab", 0.8) == _fit_end(
        real("relu", 0).planes["ebab"], 0.8
    )
    assert ch2.member_compression(real("relu", 1), "akde", "h3", fraction=0.95, peak_from=10) == (
        pytest.approx(_c(real("relu", 1), "akde", "h3", 0.95, 10))
    )
    got = ch2.paired_null(rs, ["relu"], "akde", "h3", fraction=0.95, peak_from=10)
    np.testing.assert_allclose(got["difference"], excess("relu", "akde", "h3", 0.95, 10))
    np.testing.assert_allclose(ch2.null_excess(rs, ["softplus"], "ebab", "h4", 10, 0.8),
                               excess("softplus", "ebab", "h4", 0.8, 10))  # fmt: skip
    np.testing.assert_allclose(
        ch2.group_excess(rs, ["relu"], ("ebab", "kde"), "h4", 0.8),
        np.mean([excess("relu", "ebab", "h4", 0.8), excess("relu", "kde", "h4", 0.8)], axis=0),
    )
    np.testing.assert_allclose(
        ch2.adaptive_contrast(rs, ["relu"], "h4", ("ebab",), ("kde",), 0.8),
        np.subtract(excess("relu", "ebab", "h4", 0.8), excess("relu", "kde", "h4", 0.8)),
    )
    np.testing.assert_allclose(
        ch2.mean_compression(rs, ["relu", "tanh"], "akde", "h4", "true", 0.8),
        [np.mean([_c(real(a, s), "akde", "h4", 0.8) for a in ("relu", "tanh")]) for s in S],
    )
    np.testing.assert_allclose(
        ch2.mean_compression(rs, ["relu"], "akde", "h4", "permuted", 0.8),
        [_c(null("relu", s), "akde", "h4", 0.8, 0, real("relu", s)) for s in S],
    )
    pv = ch2.primary_values(rs, None, n_bins=15, fraction=0.8, layer="h4")
    np.testing.assert_allclose(
        pv["difference"],
        np.mean([excess(a, "ebab, 15 bins", "h4", 0.8) for a in ("relu", "softplus")], axis=0),
    )
    vals, excluded = ch2.l2_delta_c(rs, 0.01, ["relu", "tanh"], estimator="akde", layers=("h4",),
                                    floor=0.0, peak_from=10, fraction=0.8)  # fmt: skip
    assert excluded == []
    np.testing.assert_allclose(vals, [np.mean(
        [_c(real(a, s, 0.01), "akde", "h4", 0.8, 10) - _c(real(a, s), "akde", "h4", 0.8, 10)
         for a in ("relu", "tanh")]) for s in S])  # fmt: skip
    # seed spread: |C - mean over seeds| - the mean |step| of I(X;T) over the last 5 snapshots
    want = []
    for s in S:
        per = []
        for a in CH2_ACTS:
            cs = [_c(real(a, t), "akde", "h3", 0.8) for t in S]
            jit = np.abs(np.diff(real(a, s).planes["akde"]["h3"][-5:, 0])).mean()
            per.append(abs(cs[s] - np.mean(cs)) - jit)
        want.append(np.mean(per))
    np.testing.assert_allclose(ch2.seed_spread(rs, list(CH2_ACTS), "akde", "h3", fraction=0.8),
                               want)  # fmt: skip
    # per cell: Spearman over the cell's seeds of C against test accuracy, mean over layers
    from scipy.stats import spearmanr

    cells = sorted({(r.activation, r.l2) for r in rs if r.labels == "true"})
    want = []
    for a, l2 in cells:
        nets = [real(a, s, l2) for s in S]
        acc = [n.test_acc for n in nets]
        rhos = [
            spearmanr([_c(n, "ebab", ly, 0.8, 10) for n in nets], acc).statistic
            for ly in ("h4", "h5")
        ]  # a constant C (every net peaks at its end): no rho
        rhos = [x for x in rhos if np.isfinite(x)]
        want.append(np.mean(rhos) if rhos else np.nan)
    assert np.isnan(want).sum() == 2 and np.isfinite(want).sum() == 4  # both cases occur
    np.testing.assert_allclose(ch2.cell_spearman(rs, ["h4", "h5"], "ebab", 10, 0.8), want)
    np.testing.assert_allclose(ch2.cell_spearman(rs, ["h5"], "akde")[:1], [spearmanr(
        [_c(real("relu", s, 0.0), "akde", "h5") for s in S],
        [real("relu", s, 0.0).test_acc for s in S]).statistic])  # fmt: skip


def test_ch2_l2_pairs_exclusions_and_their_edges():
    def net(act, seed, l2, c, acc=0.9):  # C of h3, h4, h5 alike: first minus last
        return _member(act, seed, {"ebab": _plane2([6.0, 6.0 - c], h3=[6.0, 6.0 - c],
                                                   h4=[6.0, 6.0 - c])}, l2=l2, acc=acc)  # fmt: skip

    rs = [net("relu", 0, 0.0, 1.0), net("relu", 0, 0.01, 2.0, acc=0.55),  # collapsed: seed 0 out
          net("relu", 1, 0.0, 1.0), net("relu", 1, 0.01, 2.5, acc=0.6),  # exactly the floor: kept
          net("relu", 1, 0.02, 9.0), net("relu", 2, 0.02, 9.0),  # another L2 value: not read
          net("tanh", 1, 0.0, 0.5), net("tanh", 1, 0.01, 0.5)]  # fmt: skip
    vals, excluded = ch2.l2_delta_c(rs, 0.01, ["relu", "tanh"])
    # seed 1: relu 3 x (2.5 - 1) = 4.5, tanh 0; mean 2.25. Seed 0 is left out on both sides
    # (stopping at it would lose seed 1; dropping only its L2 net would pair nothing else)
    assert excluded == ["relu seed 0"]
    np.testing.assert_allclose(vals, [2.25])
    none, gone = ch2.l2_delta_c(rs, 0.01, ["relu"], floor=0.95)
    assert gone == ["relu seed 0", "relu seed 1"] and none.shape == (1,) and np.isnan(none).all()
    empty = ch2.mean_compression(rs, ["elu", "swish"])  # no nets of these activations
    assert empty.shape == (1,) and np.isnan(empty).all()
    uneven = ch2.mean_compression(rs, ["relu", "tanh"])  # relu has 2 seeds, tanh 1
    assert uneven.shape == (1,) and np.isnan(uneven).all()
    # tanh: one net, no spread (and no stop: relu follows); relu seeds 0 and 1 both have C 1
    # (the L2 nets are not read): |C - mean| = 0, minus the jitter |5 - 6| = 1 of the last 2
    spread = ch2.seed_spread(rs, ["tanh", "relu"], last=2)
    np.testing.assert_allclose(spread, [-1.0, -1.0])
    assert np.isnan(ch2.seed_spread(rs, ["tanh"])).all() and ch2.seed_spread(
        rs, ["tanh"]
    ).shape == (1,)


def test_ch2_the_null_side_reads_the_permuted_nets_without_l2_only():
    rs = [_member("relu", 0, {"ebab": _plane2([6.0, 5.0])}),  # C 1
          _member("relu", 0, {"ebab": _plane2([6.0, 5.5])}, "permuted"),  # C 0.5
          _member("relu", 0, {"ebab": _plane2([6.0, 0.0])}, "permuted", l2=0.01),  # not a twin
          _member("relu", 0, {"ebab": _plane2([6.0, 0.0])}, l2=0.01)]  # fmt: skip
    got = ch2.paired_null(rs, ["relu"])
    np.testing.assert_allclose(got["difference"], [0.5])
    assert got["seeds"].dtype.kind == "i" and ch2.paired_null(rs, [])["seeds"].dtype.kind == "i"


def test_ch2_primary_spec_reads_the_registered_activations_the_run_holds():
    rs = []
    for seed in range(3):
        for act, c in (("relu", 1.0), ("softplus", 3.0)):
            rs.append(_member(act, seed, {e: _plane2([6.0, 6.0 - c]) for e in
                                          ("ebab", "ebab, 15 bins", "ebab, 60 bins")}))  # fmt: skip
            rs.append(_member(act, seed, {e: _plane2([6.0, 6.0]) for e in
                                          ("ebab", "ebab, 15 bins", "ebab, 60 bins")},
                              "permuted"))  # fmt: skip
    rs[0].planes["ebab, 15 bins"] = _plane2([6.0, 2.0])  # relu seed 0 at 15 bins: C 4
    spec = ch2.primary_spec(rs, ["relu"])  # softplus (C 3) was run but is not asked for
    assert spec["values"] == [1.0, 1.0, 1.0]  # relu alone (with softplus: 2)
    assert spec["note"].startswith("mean over relu (softplus not run: not the registered set); ")
    i15 = spec["grid"].index({"bins": 15, "fit_fraction": 0.9})
    np.testing.assert_allclose(spec["grid_values"][i15], [4.0, 1.0, 1.0])
    both = ch2.primary_spec(rs, ["relu", "softplus"])
    assert both["values"] == [2.0, 2.0, 2.0] and both["note"].startswith(
        "mean over relu, softplus;"
    )
    assert ch2.primary_spec(rs, ["tanh"])["note"].startswith("mean over no activation (relu, ")


def test_ch2_fitting_end_fraction_edges_and_plane_fallbacks():
    r = _member("relu", 0, {
        "ebab": _plane2([6, 5, 4, 3, 2.0], out_ity=[0, 0.5, 0.8, 1.0, 0.9]),
        "ebab, 15 bins": _plane2([6, 5, 4, 3, 2.0], out_ity=[0, 1.0, 1.0, 1.0, 1.0]),
        "akde": _plane2([6, 5, 4, 3, 2.0], out_ity=[0, 0.2, 0.4, 0.6, 1.0]),
        "akde, α 0.2": {"h5": _plane2([6, 5, 4, 3, 2.0])["h5"]},  # no output plane
    })  # fmt: skip
    assert ch2.fit_start(r) == 3 and ch2.fit_start(r, fraction=1.0) == 3  # the maximum itself
    assert ch2.fit_start(r, fraction=0.8) == 2 and ch2.fit_start(r, fraction=0) == 0
    assert ch2.fit_start(r, "ebab, 15 bins") == 1  # its own output plane
    assert ch2.fit_start(r, "akde, α 0.2") == 4  # akde's: 0.6 < 0.9 <= 1.0 at snapshot 4
    assert ch2.fit_start(r, "akde, α 0.5") == 4  # a variant not run at all: akde's too
    assert ch2.fit_start(r, "kde", fraction=0) == 0  # fraction 0 needs no plane
    with pytest.raises(ValueError, match="fit_fraction"):
        ch2.fit_start(r, fraction=1.01)


@pytest.mark.filterwarnings("error")
def test_ch2_spearman_of_three_and_of_a_unit_range():
    x, y = np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.1, 0.3])  # ptp(x) = 1 exactly, n = 3
    got = ch2._spearman_pearson(x, y)  # ranks 2, 1, 3: rho = 1 - 6 * 2 / 24 = 0.5
    assert got["spearman_rho"] == pytest.approx(0.5) and got["n"] == 3
    got = ch2._spearman_pearson(y, x)  # ptp(y) = 1 on the other side
    assert got["spearman_rho"] == pytest.approx(0.5)
    assert math.isnan(ch2._spearman_pearson(np.ones(4), np.arange(4.0))["pearson_r"])


def test_ch2_a_short_run_has_no_peak_from_grid_past_its_end():
    rs = _ch2_results(np.random.default_rng(23))
    for r in rs:
        r.epochs = np.array([0, 1, 3, 5, 8, 100])  # ends at epoch 100 exactly
    specs = {s["claim"]: s for s in ch2.chapter_verdicts(rs, ["relu"], 0.01)}
    grid = specs["ch2-compression-vs-null-relu"]["grid"]
    assert [g["peak_from"] for g in grid if g["fit_fraction"] == 0.0] == [0, 10]
    rs[0].epochs = np.array([0, 1, 3, 5, 8, 9])  # the shortest run decides
    specs = {s["claim"]: s for s in ch2.chapter_verdicts(rs, ["relu"], 0.01)}
    grid = specs["ch2-compression-vs-null-relu"]["grid"]
    assert [g["peak_from"] for g in grid if g["fit_fraction"] == 0.0] == [0]


# the raw curve finds a rise of 0.04 at snapshot 2 and then a fall of 0.03; with a threshold of
# 0.05 there is no fitting phase and the fall is searched from the start: 0.1 - 0.0
BORDER = np.array([0.10, 0.0, 0.04, 0.04, 0.04, 0.04, 0.04, 0.01, 0.01])


def test_ch4_detector_threshold_decides_where_the_fall_is_searched():
    e = CH4_CPU_GRID
    assert zxzy.detect_phases(e, BORDER, width=1, min_change=0.03).compression_fall == (
        pytest.approx(0.03)
    )
    assert zxzy.detect_phases(e, BORDER, width=1, min_change=0.05).compression_fall == (
        pytest.approx(0.1)
    )
    # median of 3: 0.1, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.01, 0.01: no rise, fall 0.09
    assert zxzy.detect_phases(e, BORDER, width=3, min_change=0.03).compression_fall == (
        pytest.approx(0.09)
    )
    fam = {"identity": [_h4(BORDER, seed=s) for s in range(1, 6)], "projection": _five4(0.3)}
    vs = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4)}
    rows = {(r["width"], r["min_change"]): r["value"]
            for r in vs["ch4-is-compresses"].sensitivity["settings"]}  # fmt: skip
    assert rows[1, 0.03] == pytest.approx(0.03) and rows[1, 0.05] == pytest.approx(0.1)
    assert rows[1, 0.08] == pytest.approx(0.1) and rows[3, 0.03] == pytest.approx(0.09)
    # the re-probed curves are read raw, at the verdict's threshold; a budget that lacks a run a
    # verdict reads is skipped for that verdict only
    budgets = {(300, 256): {"projection": [np.exp(-_curve(0.3))] * 5},
               (1500, 64): {"identity": [np.exp(-BORDER)] * 5,
                            "projection": [np.exp(-_curve(0.3))] * 5}}  # fmt: skip
    vs = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.03, COMMON4,
                                                  budgets=budgets)}  # fmt: skip
    comp = vs["ch4-is-compresses"]
    assert comp.value == pytest.approx(0.03)  # at the threshold 0.03
    extra = [r for r in comp.sensitivity["settings"] if r["probe"] != "300x64"]
    assert [r["probe"] for r in extra] == ["1500x64"] and extra[0]["value"] == pytest.approx(0.03)
    fits = vs["ch4-nis-fits-projection"].sensitivity["settings"]
    assert [r["probe"] for r in fits[-2:]] == ["300x256", "1500x64"]


def test_ch4_records_at_smoke_scale_and_the_generalisation_record():
    fam = {"identity": _five4(0.0, 0.3, acc=0.9), "projection": _five4(0.3, acc=0.8),
           "fixed": _five4(0.3, acc=0.85)}  # fmt: skip
    smoke = dict(COMMON4, params={"scale": "smoke"})
    for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, smoke):
        assert v.status == "smoke-only", v.claim
        if v.sensitivity:
            assert v.sensitivity["holds"] == v.sensitivity["of"] == 9, v.claim
    gen = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4)}[
        "ch4-is-generalises"
    ]
    assert gen.value == pytest.approx(0.05)  # 0.9 - 0.85 (the worst kind: 0.1)
    assert (
        gen.metric
        == "MLP IS test acc − NIS test acc (best NIS kind of projection, fixed), per seed"
    )
    assert gen.statement == "MLP IS generalises at least as well as NIS"


def test_ch4_kinds_skip_gap_per_seed_and_messages():
    assert ch4.verdict_kind("ch4-cnn-is-compresses") == "check"
    assert ch4.verdict_kind("ch4-cnn-is-compresses", vs_null=True) == "secondary"
    assert ch4.verdict_kind("ch4-nis-fits-projection") == "secondary"
    assert ch4.verdict_kind("ch4-stemless-is-no-fitting", vs_null=True) == "check"
    table = {"identity": {"fitting_rise": np.array([0.0, 0.1])},
             "projection": {"fitting_rise": np.array([0.4, 0.2])},
             "fixed": {"fitting_rise": np.array([0.2, 0.6])},
             "stemless": {"fitting_rise": np.array([0.05, 0.0])}}  # fmt: skip
    # NIS per seed: (0.4 + 0.2) / 2 = 0.3 and 0.4; the mean over everything (0.35) would give
    # 0.35 and 0.25
    np.testing.assert_allclose(ch4._skip_gap(table, ["projection", "fixed"]), [0.3, 0.3])
    np.testing.assert_allclose(ch4._skip_gap(table, ["fixed"], "stemless"), [0.15, 0.6])
    with pytest.raises(ValueError, match=r"choose one of \('zx_test', 'zx_train'\)$"):
        ch4.phase_table([_h4(_curve())], column="zy_test")


def _h4_blocks(seed: int, blocks: list[np.ndarray]) -> History:
    z = np.ones((S4, len(blocks), 4))
    for j, info in enumerate(blocks):
        z[:, j, 0] = z[:, j, 1] = np.exp(-np.asarray(info, float))
    return History(np.array(CH4_CPU_GRID), {}, {"zxzy": z}, {"test_acc": np.array([0.9])},
                   np.zeros(1), meta={"seed": seed})  # fmt: skip


def test_ch4_primary_reads_the_deepest_of_three_blocks_and_each_width():
    blip = np.zeros(S4)
    blip[2] = 0.3  # one snapshot: the raw curve sees it, a running median does not
    runs = {
        "identity": [_h4_blocks(s, [_curve(0.5), _curve(0.2), _curve(0.0)]) for s in (1, 2)],
        "projection": [_h4_blocks(s, [_curve(0.5), _curve(0.0), blip]) for s in (1, 2)],
    }
    pv = ch4.primary_values(runs)
    np.testing.assert_allclose(pv["difference"], [0.3, 0.3])  # block 2 of 3 (block 1: -0.2)
    rec = ch4.primary_sensitivity(runs, "cpu", "reproduced")
    np.testing.assert_allclose([r["value"] for r in rec["settings"]], [0.3] * 3 + [0.0] * 6)
    # runs that record no seed pair by position and report seed -1
    for r in (*runs["identity"], *runs["projection"]):
        r.meta.pop("seed")
    pv = ch4.primary_values(runs)
    assert pv["seeds"].tolist() == [-1, -1]
    np.testing.assert_allclose(pv["difference"], [0.3, 0.3])


def test_phase_helpers_edges():
    assert phases.last_hidden({"h1": 0, "h2": 0, "output": 0}) == "h2"
    assert phases.last_hidden({"h1": 0, "h2": 0, "h3": 0}) == "h3"  # no output plane: the last
    e = list(range(10))
    two = zxzy.detect_phases([0, 1], [0.0, 0.3], width=1)  # two snapshots are enough
    assert two.kind == "fit-only" and two.fit_epochs == (0, 1)
    # ten snapshots: the window ends at ceil(0.6 * 9) = 6, so a rise ending at 6 counts
    info = np.r_[np.zeros(6), np.full(4, 0.3)]
    assert zxzy.detect_phases(e, info, width=1).fit_epochs == (0, 6)
    # a tiny window still looks one step ahead: ceil(0.1 * 9) = 1
    first = np.r_[0.0, 0.3, 0.6, np.full(7, 0.6)]
    assert zxzy.detect_phases(e, first, width=1, window=0.1).fitting_rise == pytest.approx(0.3)
    # the fall starts at the last peak before its bottom, not at a higher one after it
    tail = np.array([0.0, 1.0, 0.5, 1.2, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9])
    p = zxzy.detect_phases(e, tail, width=1)
    assert p.fit_epochs == (0, 3) and p.fitting_rise == pytest.approx(1.2)
    q = zxzy.detect_phases(e, tail, width=1, window=0.1)  # fitting ends at snapshot 1
    assert q.compress_epochs == (1, 2) and q.compression_fall == pytest.approx(0.5)
    with pytest.raises(ValueError, match="parameter 'window' must be in"):
        zxzy.detect_phases(e, info, window=1.5)
    with pytest.raises(ValueError, match="parameter 'min_change' must be > 0"):
        zxzy.detect_phases(e, info, min_change=-0.1)
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\)"):
        zxzy.smooth_trajectory(np.ones((2, 2, 2)))


@pytest.mark.filterwarnings("error")
def test_one_seed_is_judged_without_numerical_warnings():
    j = judge([5.0], 1.0, ">=", "cpu")  # no sd of one value is attempted: NaN bounds directly
    assert j.status == "inconclusive" and math.isnan(j.bound) and math.isnan(j.p_value)
    assert all(math.isnan(b) for b in confidence_bounds([5.0]))
    assert math.isnan(p_value([5.0], 1.0, "<="))


def test_ch0_fitting_gain_is_the_end_minus_the_start_of_the_layer_asked_for():
    plane = {"h5": np.stack([np.zeros(4), [0.2, 0.4, 0.6, 0.7]], 1),
             "output": np.stack([np.zeros(4), [0.3, 0.9, 0.5, 1.2]], 1)}  # fmt: skip
    # 1.2 - 0.3 = 0.9 (plus the start: 1.5; the second-last snapshot: 0.2; the max: 0.9 as
    # well, so the last value is not the max below); h5: 0.7 - 0.2 = 0.5
    assert ch0.fitting_gain(plane) == pytest.approx(0.9)
    assert ch0.fitting_gain(plane, "h5") == pytest.approx(0.5)
    plane["output"][-1, 1] = 0.8  # ends below its peak 0.9: the end counts, 0.5
    assert ch0.fitting_gain(plane) == pytest.approx(0.5)


def test_the_null_records_and_empty_results_keep_their_names():
    runs = _ch1_runs(np.random.default_rng(15))
    assert ch1.chapter_primary(runs)["null"]["name"] == (
        "epochs to 90 % of the fastest plain control (He, scaled or identity-like init)"
    )
    rs = _ch2_results(np.random.default_rng(24))
    assert ch2.primary_spec(rs, list(CH2_ACTS))["null"]["name"] == ch2.PRIMARY.null
    empty = ch2.paired_null(rs, ["elu"])  # no nets: one NaN under every key, no seeds
    assert set(empty) == {"seeds", "real", "null", "difference"}
    assert all(np.isnan(empty[k]).all() and empty[k].shape == (1,) for k in ("real", "null",
                                                                              "difference"))  # fmt: skip
    nan = ch2._spearman_pearson(np.ones(2), np.ones(2))
    assert set(nan) == {"pearson_r", "pearson_p", "spearman_rho", "spearman_p", "n"}
    real = [_plane2([6.0, 4.0], h4=[1.0, 1.0])]
    null = [_plane2([6.0, 5.0], h4=[1.0, 1.0])]
    np.testing.assert_allclose(ch2.paired_compression(real, null)["difference"], [1.0])  # h5


def test_ch2_peaks_before_an_epoch_and_from_initialisation():
    rs = _ch2_results(np.random.default_rng(25))
    by = {(r.activation, r.l2, r.seed, r.labels): r for r in rs}
    S = range(4)

    def real(a, s, l2=0.0):
        return by[a, l2, s, "true"]

    def excess(a, est, layer, f, peak):
        return [_c(real(a, s), est, layer, f, peak)
                - _c(by[a, 0.0, s, "permuted"], est, layer, f, peak, real(a, s)) for s in S]  # fmt: skip

    # from initialisation (fraction 0), with and without the peaks before epoch 10 (snapshots
    # 0 and 1 of 0, 5, 20, ...): the two readings differ on these nets
    assert excess("relu", "ebab", "h5", 0.0, 10) != pytest.approx(
        excess("relu", "ebab", "h5", 0.0, 0)
    )
    np.testing.assert_allclose(ch2.null_excess(rs, ["relu"], "ebab", "h5", 10, 0.0),
                               excess("relu", "ebab", "h5", 0.0, 10))  # fmt: skip
    np.testing.assert_allclose(
        ch2.paired_null(rs, ["tanh"], "akde", "h4", fraction=0.0, peak_from=10)["difference"],
        excess("tanh", "akde", "h4", 0.0, 10))  # fmt: skip
    vals, _ = ch2.l2_delta_c(rs, 0.01, ["softplus"], layers=("h3",), floor=0.0, peak_from=10,
                             fraction=0.0)  # fmt: skip
    np.testing.assert_allclose(
        vals,
        [
            _c(real("softplus", s, 0.01), "ebab", "h3", 0.0, 10)
            - _c(real("softplus", s), "ebab", "h3", 0.0, 10)
            for s in S
        ],
    )
    np.testing.assert_allclose(ch2.mean_compression(rs, ["relu"], "kde", "h4", "true", 0.0),
                               [_c(real("relu", s), "kde", "h4", 0.0) for s in S])  # fmt: skip
    np.testing.assert_allclose(
        ch2.mean_compression(rs, ["relu"], "kde", "h4", "permuted", 0.0),
        [_c(by["relu", 0.0, s, "permuted"], "kde", "h4", 0.0) for s in S])  # fmt: skip
    from scipy.stats import spearmanr

    for peak in (0, 10):  # the default counts the peak at initialisation
        nets = [real("relu", s) for s in S]
        want = spearmanr([_c(n, "ebab", "h5", 0.0, peak) for n in nets],
                         [n.test_acc for n in nets]).statistic  # fmt: skip
        kw = {"peak_from": peak} if peak else {}
        assert ch2.cell_spearman(rs, ["h5"], fraction=0.0, **kw)[0] == pytest.approx(want)
    # compression_from's defaults: every snapshot from epoch 0 on (the peak at snapshot 0 counts)
    plane = np.column_stack([[9.0, 5.0, 6.0, 4.0], np.zeros(4)])
    assert ch2.compression_from(plane, np.array([0, 1, 2, 3])) == 5.0  # 9 - 4 (not 6 - 4)


def test_ch2_and_ch4_notes_and_null_names_on_the_records():
    rs = _ch2_results(np.random.default_rng(26))
    specs = {s["claim"]: s for s in ch2.chapter_verdicts(rs, ["relu"], 0.01)}
    assert specs["ch2-compression-vs-null-relu"]["null"]["name"] == ch2._NULL
    assert specs["ch2-akde-compression"]["null"]["name"] == ch2._NULL
    assert specs["ch2-compression-vs-null-relu"]["note"] == ""
    assert specs["ch2-l2-increases-compression"]["note"].endswith("0.6 test accuracy): none")
    assert specs["ch2-compression-varies"]["note"].startswith("A check: |C − mean| over seeds")
    fam = {"identity": _five4(0.0, 0.12345), "projection": _five4(0.3)}
    comp = {v.claim: v for v in ch4.family_verdicts(fam, "ch4", "MLP", 0.05, COMMON4,
                                                    null=_five4(0.0, 0.1))}["ch4-is-compresses"]  # fmt: skip
    assert comp.null["name"] == ch4.PREREGISTERED["ch4-is-compresses"].null
    assert comp.note == "the fall itself: [0.123, 0.123, 0.123, 0.123, 0.123] nats"  # 3 places
    runs = _ch1_runs(np.random.default_rng(16))
    hess = {a: [_hess([1, 2], [0, 0])] * 3 for a in ch1.HESSIAN_ARCHS}  # no data set recorded
    (h,) = [s for s in ch1.chapter_verdicts(runs, hess) if s["claim"] == "ch1-hessian"]
    assert h["note"].startswith("on digits; ")


def test_ch2_cell_spearman_counts_a_peak_at_initialisation_by_default():
    # three nets of one cell from initialisation (fraction 0), epochs 0, 5, 20: C = 9 - 4 = 5
    # (peak at epoch 0), 6 - 4 = 2, 7 - 4 = 3 against accuracies 0.7, 0.8, 0.9: ranks 3, 1, 2
    # against 1, 2, 3, rho = 1 - 6 (4 + 1 + 1) / 24 = -0.5; leaving out epoch 0 (C = 1, 2, 3): 1
    nets = [_member("tanh", s, {"ebab": _plane2(h5)}, acc=a)
            for s, (h5, a) in enumerate((([9.0, 5.0, 4.0], 0.7), ([3.0, 6.0, 4.0], 0.8),
                                         ([3.0, 7.0, 4.0], 0.9)))]  # fmt: skip
    for n in nets:
        n.epochs = np.array([0, 5, 20])
    assert ch2.cell_spearman(nets, ["h5"], fraction=0.0).tolist() == pytest.approx([-0.5])
    assert ch2.cell_spearman(nets, ["h5"], peak_from=1, fraction=0.0).tolist() == pytest.approx(
        [1.0]
    )
