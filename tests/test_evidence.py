"""A chapter's secondary verdicts and checks as one table: a row per record, anchored where the
verdicts page links, with its status, numbers and calibration values."""

from ibcore.book.evidence import records_table
from ibcore.verdicts import Preregistration, make_verdict


def _v(claim, values, kind="secondary", cal=()):
    pre = Preregistration(claim, "m", 0.5, ">=", (100, 101), "r", calibration_values=cal)
    return make_verdict(claim=claim, chapter="09_x", paper="p", statement=f"{claim} & more",
                        values=values, prereg=pre, params={"scale": "cpu"}, device="cpu",
                        runtime_s=1.0, kind=kind)  # fmt: skip


def test_one_anchored_row_per_record_with_its_numbers():
    html = records_table(
        [_v("ch9-a", [1.0, 1.2, 1.1], cal=(0.9, 0.7)), _v("ch9-b", [0.1, 0.2, 0.1], "check")],
        caption="evidence",
    )
    assert html.count("<tr id=") == 2
    assert 'id="verdict-ch9-a"' in html and 'id="verdict-ch9-b"' in html
    assert "reproduced" in html and "check fails" in html and "secondary (exploratory)" in html
    assert "≥ 0.5 (calibration 0.9, 0.7)" in html and "1.1 ± 0.1" in html
    assert "3 of 3 seeds" in html and "0 of 3 seeds" in html
    assert "ch9-a &amp; more" in html  # statements are escaped
    assert "<caption>evidence</caption>" in html
