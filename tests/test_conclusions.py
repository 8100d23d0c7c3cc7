"""The conclusions page: written from the verdict records, one section per paper with its
primary's status and Holm decision, and the threads across chapters."""

import math

import pytest

from ibcore.book.conclusions import render_conclusions, seeds_to_settle, write_conclusions
from ibcore.claims.primaries import FULL_PRIMARIES, PRIMARIES
from ibcore.verdicts import make_primary, make_verdict


def _secondary(claim, values, kind="secondary", chapter="00_information_plane"):
    return make_verdict(
        claim=claim, chapter=chapter, paper="p", statement="s", metric="m", values=values,
        threshold=0.0, direction=">=", params={"scale": "cpu"}, device="cpu", runtime_s=1.0,
        kind=kind,
    )  # fmt: skip


def test_seeds_to_settle_on_known_values():
    v = _secondary("ch9-x", [0.1, 0.3, -0.1, 0.2, 0.0])  # mean 0.1, sd 0.158
    n = seeds_to_settle(v)
    from scipy.stats import t

    assert t.ppf(0.95, n - 1) * v.spread / math.sqrt(n) < 0.1
    assert t.ppf(0.95, n - 2) * v.spread / math.sqrt(n - 1) >= 0.1
    assert n == 9
    assert seeds_to_settle(_secondary("ch9-y", [-0.1, -0.2, 0.0])) is None  # wrong side


def test_the_page_answers_per_paper_from_the_records(tmp_path):
    pr = PRIMARIES["00"]
    params = {**pr.settings, "scale": pr.scale}
    make_primary(pr, values=[0.3, 0.5, -0.3, 0.4, -0.2, 0.1, 0.3, -0.3, 0.2, 0.0],
                 seeds=list(pr.seeds), params=params, device="cpu", runtime_s=1.0).write(tmp_path)  # fmt: skip
    _secondary("ch0-compression", [1.0, 1.2, 0.9]).write(tmp_path)
    _secondary("ch0-fitting", [0.9, 0.8, 0.85], kind="check").write(tmp_path)
    page = render_conclusions(tmp_path)
    assert page.count("\n## ") == 8  # six papers, the scale ladder, the threads across them
    assert "## The scale ladder" in page and "`make book SCALE=full` fills" in page
    assert pr.quote in page and "reads **inconclusive**" in page
    assert "on its pre-registered confirmatory seeds" in page
    assert "does not hold (adjusted p" in page  # p > 0.05 cannot survive Holm
    assert "seeds would settle it" in page
    assert "1 read reproduced: `ch0-compression` reproduced" in page
    assert "1 of its 1 checks hold" in page
    assert "has not been run in this build" in page  # chapters 1-4
    assert "*inconclusive* (+0.1)" in page and "*reproduced* (+1.03)" in page
    out = write_conclusions(tmp_path, tmp_path / "c.md")
    assert out.read_text() == page
    # the other scale's records fill the ladder's full column
    full = FULL_PRIMARIES["00"]
    make_primary(full, values=[0.5, 0.6, 0.4, 0.55, 0.45, 0.5, 0.6, 0.4, 0.5, 0.5],
                 seeds=list(full.seeds), params={**full.settings, "scale": "full"}, device="cpu",
                 runtime_s=1.0).write(tmp_path / "full")  # fmt: skip
    page = render_conclusions(tmp_path, tmp_path / "full")
    row = next(ln for ln in page.splitlines() if ln.startswith("| 00 |"))
    assert "| inconclusive: +0.1 " in row and "| reproduced: +0.5 " in row
    assert "inconclusive → reproduced" in row
    assert "The status changes with scale in chapter 00 (inconclusive → reproduced)." in page


def test_an_empty_build_says_so(tmp_path):
    assert "No verdicts yet" in render_conclusions(tmp_path)


@pytest.mark.parametrize("claim", ["ch0-primary", "ch2-primary", "ch4-is-compresses"])
def test_the_compression_thread_names_each_chapter(claim):
    from ibcore.book.conclusions import TOGETHER

    assert claim in {c for c, _ in TOGETHER["compression against permuted-label nulls"]}


def test_the_estimator_section_renders_chapter_5s_table_without_nan(tmp_path):
    from ibcore.book.conclusions import estimator_section, write_estimator_table

    assert estimator_section(tmp_path) == []  # chapter 5 has not run
    rows = [
        {"activation": "tanh", "estimator": "ebab-30", "layer": "T1", "rho": float("nan"),
         "bias": 0.1, "abs_bias": 0.1, "same_verdict": float("nan"), "moving_seeds": 0},
        {"activation": "tanh", "estimator": "ebab-30", "layer": "T5", "rho": 0.8,
         "bias": -0.3, "abs_bias": 0.3, "same_verdict": 0.9, "moving_seeds": 10},
        {"activation": "tanh", "estimator": "kde", "layer": "T1", "rho": float("nan"),
         "bias": float("nan"), "abs_bias": float("nan"), "same_verdict": float("nan"),
         "moving_seeds": 0},
    ]  # fmt: skip
    write_estimator_table(rows, "cpu", tmp_path)
    text = "\n".join(estimator_section(tmp_path))
    assert "| ebab-30 | tanh | 0.80 | 0.20 | 90% | yes |" in text
    assert "| kde | tanh | – | – | – | no |" in text and "nan" not in text.lower()
    assert "scale `cpu`" in text
