import json
import math

import pytest

from ibcore import verdicts
from ibcore.verdicts import judge, load_verdicts, make_verdict, render_page


@pytest.mark.parametrize(
    "values, thr, direction, scale, status",
    [
        ([1.0, 1.2, 1.1], 0.5, ">=", "cpu", "reproduced"),
        ([0.1, 0.2, 0.15], 0.5, ">=", "cpu", "not reproduced"),
        ([0.2, 0.9, 0.5], 0.5, ">=", "cpu", "inconclusive"),
        ([0.01, 0.02], 0.1, "<=", "cpu", "reproduced"),
        ([0.5, 0.6], 0.1, "<=", "cpu", "not reproduced"),
        ([1.0, 1.2, 1.1], 0.5, ">=", "smoke", "smoke-only"),
        ([1.0, float("nan")], 0.5, ">=", "cpu", "inconclusive"),
    ],
)
def test_judge(values, thr, direction, scale, status):
    assert judge(values, thr, direction, scale)[0] == status


def test_judge_bad_input():
    with pytest.raises(ValueError, match=r"parameter 'direction' = '>' is not allowed"):
        judge([1.0], 0.0, ">", "cpu")
    with pytest.raises(ValueError, match="at least one value"):
        judge([], 0.0, ">=", "cpu")


def _v(claim="ch9-x", values=(1.0, 2.0, 3.0), scale="cpu"):
    return make_verdict(
        claim=claim, chapter="09_test", paper="A & B 2020", statement="x rises", metric="gain",
        values=list(values), threshold=0.5, direction=">=", params={"scale": scale, "seeds": 3},
        device="cpu", runtime_s=1.5,
    )  # fmt: skip


def test_verdict_record_write_and_load(tmp_path):
    v = _v()
    assert v.status == "reproduced" and math.isclose(v.value, 2.0) and math.isclose(v.spread, 1.0)
    p = v.write(tmp_path)
    assert p.name == "ch9-x.json" and not list(tmp_path.glob(".*tmp"))
    d = json.loads(p.read_text())
    for key in ("claim", "paper", "statement", "metric", "value", "spread", "threshold", "direction",
                "status", "parameters", "params_hash", "ibcore_version", "device", "runtime_s"):  # fmt: skip
        assert key in d
    (w,) = load_verdicts(tmp_path)
    assert w == v
    assert "REPRODUCED" in v._repr_html_()


def test_nan_values_serialise_as_null(tmp_path):
    v = _v(values=[float("nan")])
    p = v.write(tmp_path)
    assert json.loads(p.read_text())["value"] is None
    assert math.isnan(load_verdicts(tmp_path)[0].value)


def test_verdicts_page(tmp_path):
    assert "No verdicts yet" in render_page(tmp_path)
    _v("ch9-a").write(tmp_path)
    _v("ch9-b", values=[0.0, 0.1], scale="smoke").write(tmp_path)
    (tmp_path / "other.json").write_text("{}")
    page = render_page(tmp_path)
    assert page.startswith("# Verdicts") and "**reproduced**" in page and "**smoke-only**" in page
    out = tmp_path / "v.md"
    assert verdicts.main(["page", str(tmp_path), str(out)]) == 0
    assert out.read_text() == page
