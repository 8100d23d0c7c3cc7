"""The verdicts page's forest (ibcore.book.verdicts_page): rows grouped by chapter and labelled
by short statements, status coded by shape and colour, the claim's side on the right for either
direction, and the sensitivity worded 'holds in k of m settings'. Hand-made records only."""

from __future__ import annotations

import re

import pytest

from ibcore.book.verdicts_page import (
    _W,
    FOREST_COLOURS,
    LIMIT,
    SHAPES,
    _glyph,
    _x,
    axis_position,
    forest_groups,
    forest_row,
    forest_section,
    holds_in,
    normalised,
    render_page,
    row_svg,
    short_statement,
)
from ibcore.verdicts import CHECK_STATUSES, STATUSES, Verdict


def _v(claim: str, chapter: str = "00_alpha", **kw) -> Verdict:
    """A verdict record with only what the page reads (no run, no git, no torch)."""
    base = dict(
        claim=claim, chapter=chapter, paper="Author 2020", statement=f"{claim} holds",
        metric="gain", value=1.0, spread=0.5, per_seed=[0.5, 1.0, 1.5], threshold=0.0,
        direction=">=", status="reproduced", scale="cpu", parameters={}, params_hash="h",
        ibcore_version="0", device="cpu", runtime_s=1.0, commit="c", versions={}, bound=0.2,
    )  # fmt: skip
    return Verdict(**{**base, **kw})


def _write(tmp_path, vs):
    for v in vs:
        v.write(tmp_path)
    return render_page(tmp_path)


# --- grouped by chapter --------------------------------------------------------------------------


def test_rows_are_grouped_by_chapter_in_chapter_order_primary_first(tmp_path):
    vs = [
        _v("ch2-z", "02_gamma", kind="check", status="check holds"),
        _v("ch0-b", "00_alpha"),
        _v("ch2-a", "02_gamma"),
        _v("ch1-p", "01_beta", kind="primary", paper="Other 2021"),
        _v("ch0-p", "00_alpha", kind="primary"),
        _v("ch0-a", "00_alpha", kind="check", status="check fails"),
        _v("ch1-s", "01_beta", paper="Other 2021"),
    ]
    groups = forest_groups(vs)
    assert [ch for ch, _ in groups] == ["00_alpha", "01_beta", "02_gamma"]
    assert [[v.claim for v in rows] for _, rows in groups] == [
        ["ch0-p", "ch0-b", "ch0-a"],  # primary, secondary, check
        ["ch1-p", "ch1-s"],
        ["ch2-a", "ch2-z"],
    ]
    page = _write(tmp_path, vs)
    heads = [page.index(f"### Chapter {i} · ") for i in range(3)]
    assert heads == sorted(heads) and "### Chapter 1 · Other 2021" in page
    table = page.index("## Every record")
    assert page.index("## Every verdict at a glance") < heads[0] and heads[-1] < table
    bounds = [*heads, table]
    for i, (_, rows) in enumerate(groups):
        at = [page.index(f'href="#record-{v.claim}"') for v in rows]
        assert bounds[i] < at[0] and at == sorted(at) and at[-1] < bounds[i + 1]


def test_each_chapter_is_one_html_block_with_no_blank_line():
    # MyST ends a raw HTML block at a blank line; the rest would be read as Markdown.
    text = "\n".join(forest_section([_v("ch0-a"), _v("ch0-b"), _v("ch1-a", "01_beta")]))
    blocks = re.findall(r'<div class="ibf">.*?\n</div>', text, flags=re.S)
    assert len(blocks) == 2 and all("\n\n" not in b for b in blocks)
    assert text.count('class="ibf-row') == 3


# --- labels are statements -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement, label",
    [
        ("tanh nets fit: I(T;Y) of the output rises", "Tanh nets fit: I(T;Y) of the output rises"),
        # too long: the parenthetical goes first, and a clause ends at a colon outside brackets
        ("CNN IS without a stem (identity shortcut on every block, all the way): no fitting phase",
         "CNN IS without a stem: no fitting phase"),
        ("the net compresses after fitting under the fixed grid of bins: the last hidden "
         "layer's I(X;T) falls more than it does without a learning signal",
         "The net compresses after fitting under the fixed grid of bins"),
        # no clause: cut at a word boundary, without a dangling small word, with an ellipsis
        ("the loss Hessian of a plain net is more degenerate than that of a residual net at the "
         "same initialisation", "The loss Hessian of a plain net is more degenerate than that "
         "of a residual net…"),
    ],
)  # fmt: skip
def test_short_statement(statement, label):
    assert short_statement(statement) == label
    assert len(short_statement(statement)) <= 80
    cut = short_statement("one two three four five six", limit=12)
    assert cut == "One two…" and len(cut) <= 12


def test_each_row_is_labelled_by_its_short_statement_not_its_id(tmp_path):
    long = ("the plain net started at identity-like weights falls behind the residual net as "
            "training proceeds (the initialisation alone does not explain it)")  # fmt: skip
    v = _v("ch1-identity-init-slows", "01_beta", statement=long)
    row = forest_row(v)
    label = re.search(r'<a class="ibf-label"[^>]*>(.*?)</a>', row).group(1)
    assert label == short_statement(long) and label.startswith("The plain net started")
    assert v.claim not in label and v.claim not in re.sub(r'href="#record-[^"]*"', "", row)
    assert f'title="{long}"' in row  # the whole sentence on hover
    # markup in a statement is text
    row = forest_row(_v("ch0-x", statement="a < b & c"))
    assert ">A &lt; b &amp; c</a>" in row


def test_every_row_links_to_its_row_of_the_full_table_and_primaries_stand_out(tmp_path):
    vs = [_v("ch0-p", kind="primary"), _v("ch0-s"), _v("ch0-c", kind="check", status="check holds")]
    page = _write(tmp_path, vs)
    for v in vs:
        assert page.index(f'href="#record-{v.claim}"') < page.index(f'id="record-{v.claim}"')
        assert page.count(f'id="record-{v.claim}"') == 1
    assert page.count("ibf-primary") == 1 and page.count('<span class="ibf-badge">primary') == 1
    assert '<div class="ibf-row ibf-primary" data-status="reproduced" data-kind="primary">' in page


# --- status by shape and colour ------------------------------------------------------------------


def test_each_status_has_its_own_shape_and_colour():
    statuses = set(STATUSES) | set(CHECK_STATUSES.values())
    assert set(SHAPES) == statuses and set(FOREST_COLOURS) >= statuses
    assert len({SHAPES[s] for s in statuses}) == len(statuses)
    assert len({FOREST_COLOURS[s].lower() for s in statuses}) == len(statuses)
    assert SHAPES["reproduced"] == "filled circle" and SHAPES["not reproduced"] == "cross"
    assert SHAPES["inconclusive"] == "open diamond"
    # the shapes are drawn differently, and each row draws its status's shape in its colour
    assert len({_glyph(SHAPES[s], 50, 12) for s in statuses}) == len(statuses)
    for s in statuses:
        v = _v("ch0-a", status=s, value=1.0, spread=0.5, bound=0.2)
        svg = row_svg(v)
        marks = svg[svg.index('<g class="ibf-c"') :]
        assert f"color:{FOREST_COLOURS[s]}" in marks
        assert _glyph(SHAPES[s], _x(normalised(v, v.value)), 12.0) in marks
        row = forest_row(_v("ch0-a", status=s))
        assert f'data-status="{s}"' in row and f">{s}</span>" in row  # the word as well


def test_the_legend_shows_the_shapes_of_the_statuses_on_the_page():
    text = "\n".join(forest_section([_v("a"), _v("b", status="inconclusive")]))
    legend = next(line for line in text.splitlines() if 'class="ibf-legend"' in line)
    assert ">reproduced</span>" in legend and ">inconclusive</span>" in legend
    assert "not reproduced" not in legend and ">null</span>" in legend
    assert _glyph("open diamond", 8, 8) in legend and _glyph("filled circle", 8, 8) in legend


# --- the claim's side on the right ---------------------------------------------------------------


@pytest.mark.parametrize(
    "direction, threshold, spread, value, z",
    [
        (">=", 1.0, 0.5, 2.0, 2.0),  # 1 above a threshold it must exceed: 2 spreads passing
        (">=", 1.0, 0.5, 0.5, -1.0),  # 0.5 below it: failing
        ("<=", 1.0, 0.5, 0.0, 2.0),  # 1 below a threshold it must stay under: passing
        ("<=", 1.0, 0.5, 1.25, -0.5),  # above it: failing
        (">=", 0.2, 0.0, 0.3, 0.5),  # no spread: |threshold| is the unit
        ("<=", 0.0, 0.0, -3.0, 3.0),  # neither: the unit is 1
    ],
)
def test_a_passing_value_sits_right_of_the_threshold_in_either_direction(
    direction, threshold, spread, value, z
):
    v = _v("ch0-a", direction=direction, threshold=threshold, spread=spread, value=value,
           bound=value)  # fmt: skip
    assert normalised(v, value) == pytest.approx(z)
    assert normalised(v, threshold) == 0.0
    cx = float(re.search(r'<circle cx="([\d.]+)"', row_svg(v)).group(1))
    assert (cx > _W / 2) == (z > 0) and (cx < _W / 2) == (z < 0)


def test_the_axis_is_monotone_symmetric_and_clipped():
    zs = [-50, -LIMIT, -3, -1, -0.1, 0, 0.1, 1, 3, LIMIT, 50]
    ps = [axis_position(z) for z in zs]
    assert ps == sorted(ps) and axis_position(0) == 0
    assert axis_position(LIMIT) == pytest.approx(1) and axis_position(-50) == pytest.approx(-1)
    assert axis_position(2.5) == pytest.approx(-axis_position(-2.5))
    far = row_svg(_v("ch0-a", value=100.0, bound=90.0, spread=1.0))
    assert far.count('stroke-width="1.8" d="M') == 1  # a chevron marks the mean off the axis


def test_null_and_numbers_in_the_row_plot():
    v = _v("ch0-a", null={"name": "labels permuted", "value": -0.5, "per_seed": [-0.5]})
    svg = row_svg(v)
    assert 'class="ibf-null"' in svg
    assert "<title>mean 1 ± 0.5 over 3 seeds; 95 % bound 0.2; needs ≥ 0; null -0.5</title>" in svg
    assert 'class="ibf-null"' not in row_svg(_v("ch0-a"))


# --- wording -------------------------------------------------------------------------------------


def test_sensitivity_reads_holds_in_k_of_m_settings(tmp_path):
    v = _v("ch0-a", sensitivity={"settings": [], "holds": 3, "of": 4})
    assert holds_in(v) == "holds in 3 of 4 settings"
    assert "holds in 3 of 4 settings" in forest_row(v)
    assert holds_in(_v("ch0-b")) == "" and "holds in" not in forest_row(_v("ch0-b"))
    page = _write(tmp_path, [v])
    assert "holds in 3 of 4 settings" in page and "3 of 4 settings |" in page  # forest, table
    assert not re.search(r"robust\w*\s*\d+\s*/\s*\d+", page, flags=re.I)


def test_the_page_renders_through_myst_as_html():
    publish = pytest.importorskip("docutils.core").publish_parts
    parser = pytest.importorskip("myst_parser.parsers.docutils_").Parser
    vs = [_v("ch0-p", kind="primary"), _v("ch1-a", "01_beta", status="not reproduced")]
    md = "\n".join(["# Verdicts", "", *forest_section(vs), "## Every record", "",
                    '| claim |', '|---|', '| <span id="record-ch0-p"></span>x |'])  # fmt: skip
    body = publish(source=md, parser=parser(), writer_name="html5",
                   settings_overrides={"output_encoding": "unicode", "report_level": 4})["body"]  # fmt: skip
    assert body.count('<div class="ibf-row') == 2 and "<svg" in body and "&lt;svg" not in body
    assert 'id="record-ch0-p"' in body and 'href="#record-ch0-p"' in body


def _primary(chapter: str, status: str, scale: str, value: float) -> Verdict:
    return _v(f"ch{chapter[1]}-primary", chapter, kind="primary", status=status, scale=scale,
              value=value, bound=value - 0.1, per_seed=[value] * 3)  # fmt: skip


def test_the_ladder_sets_each_primary_beside_itself_at_the_other_scale():
    from ibcore.book.verdicts_page import ladder

    cpu = [_primary("00_a", "reproduced", "cpu", 0.5), _primary("01_b", "inconclusive", "cpu", 0.1)]
    full = [_primary("00_a", "not reproduced", "full", -0.2), _primary("01_b", "inconclusive",
                                                                         "full", 0.2)]  # fmt: skip
    text = "\n".join(ladder({"cpu": cpu, "full": full}))
    rows = {r.split("|")[1].strip(): r for r in text.splitlines() if r.startswith("| 0")}
    assert "reproduced: +0.5 (bound +0.4, 3 seeds)" in rows["00"]
    assert "not reproduced: -0.2 (bound -0.3, 3 seeds)" in rows["00"]
    assert rows["00"].rstrip(" |").endswith("reproduced → not reproduced")
    assert rows["01"].rstrip(" |").endswith("the same status")
    assert "changes with scale in chapter 00 (reproduced → not reproduced)." in text


def test_the_ladder_says_when_full_has_not_run():
    from ibcore.book.verdicts_page import ladder

    text = "\n".join(ladder({"cpu": [_primary("00_a", "reproduced", "cpu", 0.5)]}))
    row = next(r for r in text.splitlines() if r.startswith("| 00"))
    assert "| not run |" in row and "make book SCALE=full" in text
    assert "changes" not in text


def test_the_ladder_marks_a_run_that_was_not_the_registered_one():
    from ibcore.book.verdicts_page import ladder

    pilot = _primary("00_a", "not reproduced", "full", -1.6)
    pilot.preregistration = {"confirmatory": "scale 'full', not the pre-registered 'cpu'"}
    text = "\n".join(ladder({"cpu": [_primary("00_a", "reproduced", "cpu", 0.5)], "full": [pilot]}))
    row = next(r for r in text.splitlines() if r.startswith("| 00"))
    assert "not reproduced: -1.6 (bound -1.7, 3 seeds) · not confirmatory" in row
    assert "reproduced: +0.5 (bound +0.4, 3 seeds) |" in row
