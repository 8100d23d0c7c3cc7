"""The book's verdicts page (all chapters): the primary verdicts with their Holm-adjusted
decisions, a forest of every verdict (HTML rows grouped by chapter, each a short statement and
a small inline SVG, so the page reads at phone width; styled by ``book/_assets/forest.css``),
and a table linking to each record
(``python -m ibcore.book.verdicts_page [RESULTS_DIR] OUT.md``)."""

from __future__ import annotations

import html
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from ibcore.atomic import atomic_write_text
from ibcore.claims.primaries import PRIMARIES
from ibcore.paths import results_dir
from ibcore.verdicts import (
    _COLOURS,
    DIRECTION_SIGNS,
    FAMILY_ALPHA,
    KIND_LABELS,
    Primary,
    Verdict,
    holm,
    load_verdicts,
)

SHAPES: dict[str, str] = {
    "reproduced": "filled circle",
    "not reproduced": "cross",
    "inconclusive": "open diamond",
    "smoke-only": "open circle",
    "check holds": "filled square",
    "check fails": "filled triangle",
    "check unclear": "open square",
}
"""The forest's marker for each status: status reads by shape as well as colour."""
FOREST_COLOURS: dict[str, str] = {**_COLOURS, "smoke-only": "#0b6e75"}
"""The forest's colour for each status: :data:`ibcore.verdicts._COLOURS`, except smoke-only,
which shares check unclear's grey there (never on one page in practice: a smoke build has no
other status). Dark-mode counterparts are in ``book/_assets/forest.css``."""
_GREY = "#57606a"
LIMIT = 10.0
"""Spreads from the threshold at the ends of the forest's axis; a mean further out sits at the
end, with a chevron."""
_W, _H, _PAD = 160, 24, 11  # the row plot's viewBox and the room left for chevrons
_KIND_ORDER = {"primary": 0, "secondary": 1, "check": 2}
_TRAILING = {"a", "an", "and", "as", "at", "by", "for", "in", "its", "of", "on", "or", "than",
             "that", "the", "their", "to", "with"}  # fmt: skip


def _scale(v: Verdict) -> float:
    """The unit of a verdict's row on the forest (positive): its spread, or |threshold|."""
    return next((s for s in (v.spread, abs(v.threshold)) if math.isfinite(s) and s > 0), 1.0)


def normalised(v: Verdict, x: float) -> float:
    """``x`` on the verdict's normalised axis: 0 = threshold, + = the passing side (for either
    direction), 1 = one spread."""
    sign = 1.0 if v.direction == ">=" else -1.0
    return sign * (x - v.threshold) / _scale(v)


def axis_position(z: float) -> float:
    """Where ``z`` (normalised, :func:`normalised`) sits on the forest's axis, in [-1, 1]:
    sign(z)·log(1 + |z|)/log(1 + LIMIT), so about linear within a spread of the threshold and
    compressed further out; clipped at ±:data:`LIMIT`."""
    return math.copysign(math.log1p(min(abs(z), LIMIT)) / math.log1p(LIMIT), z)


def _split_clause(text: str) -> str:
    """``text`` up to its first ':', ';' or dash outside parentheses (all of it if none)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and (ch in ":;" or (ch in "—–" and text[i - 1 : i] == " ")):
            return text[:i].rstrip()
    return text


def short_statement(text: str, limit: int = 80) -> str:
    """A row label from a verdict's statement: whole if it fits in ``limit`` characters, else
    less its parenthetical remarks (from the last), then its first clause (if one of at least
    20 characters), then cut at a word boundary with an ellipsis; capitalised."""
    s = " ".join(str(text).split())
    while len(s) > limit and (shorter := re.sub(r"\s+\([^()]*\)(?!.*\s\()", "", s)) != s:
        s = shorter
    if len(s) > limit and len(head := _split_clause(s)) >= 20:
        s = head
    if len(s) > limit:
        words = s[: limit - 1].split(" ")  # room for the ellipsis
        if s[limit - 1] != " " and len(words) > 1:
            words.pop()  # cut inside it
        while len(words) > 1 and words[-1].lower() in _TRAILING:
            words.pop()
        s = " ".join(words).rstrip(" ,;:–—-") + "…"
    return s[:1].upper() + s[1:]


def holds_in(v: Verdict) -> str:
    """'holds in k of m settings' for a verdict with a sensitivity record, else ''."""
    return f"holds in {v.robustness} settings" if v.robustness else ""


def _record_order(v: Verdict) -> tuple[str, int, str]:
    return v.chapter, _KIND_ORDER.get(v.kind, 1), v.claim


def forest_groups(vs: Sequence[Verdict]) -> list[tuple[str, list[Verdict]]]:
    """The forest's rows: per chapter (in chapter order) its verdicts, primary first, then the
    secondaries and the checks, each by claim."""
    groups: dict[str, list[Verdict]] = {}
    for v in sorted(vs, key=_record_order):
        groups.setdefault(v.chapter, []).append(v)
    return list(groups.items())


def _glyph(shape: str, x: float, y: float, r: float = 4.5) -> str:
    """SVG of a status marker centred on (x, y); open shapes are filled with the page colour."""

    def poly(*pts: tuple[float, float]) -> str:
        return "M" + " L".join(f"{a:.1f} {b:.1f}" for a, b in pts) + " Z"

    open_ = 'class="ibf-open" fill="#fff" stroke-width="1.8"'
    if shape == "filled circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" stroke="none"/>'
    if shape == "open circle":
        return f'<circle {open_} cx="{x:.1f}" cy="{y:.1f}" r="{r - 0.9:.1f}"/>'
    if shape == "cross":
        d = r * 0.85
        return (f'<path fill="none" stroke-width="2.6" stroke-linecap="round" d="M{x - d:.1f} '
                f"{y - d:.1f} L{x + d:.1f} {y + d:.1f} M{x - d:.1f} {y + d:.1f} L{x + d:.1f} "
                f'{y - d:.1f}"/>')  # fmt: skip
    if shape == "open diamond":
        r += 0.8
        return f'<path {open_} d="{poly((x, y - r), (x + r, y), (x, y + r), (x - r, y))}"/>'
    if shape in ("filled square", "open square"):
        a = r - 0.6
        style = open_ if shape == "open square" else 'stroke="none"'
        return (f'<rect {style} x="{x - a:.1f}" y="{y - a:.1f}" width="{2 * a:.1f}" '
                f'height="{2 * a:.1f}"/>')  # fmt: skip
    if shape == "filled triangle":  # pointing down
        d = poly((x - r - 0.6, y - r + 0.6), (x + r + 0.6, y - r + 0.6), (x, y + r + 0.6))
        return f'<path stroke="none" d="{d}"/>'
    raise ValueError(f"unknown shape {shape!r}")


def _null_glyph(x: float, y: float) -> str:
    """The null's marker: a grey open triangle pointing up."""
    return (f'<path class="ibf-null" fill="none" stroke="currentColor" stroke-opacity="0.75" '
            f'stroke-width="1.5" d="M{x:.1f} {y - 4.5:.1f} L{x + 4.5:.1f} {y + 3.5:.1f} '
            f'L{x - 4.5:.1f} {y + 3.5:.1f} Z"/>')  # fmt: skip


def legend_glyph(shape: str, colour: str = "") -> str:
    """A status marker (or ``"null"``) as a small inline SVG for the forest's legend, in
    ``colour`` (default: the text's)."""
    body = _null_glyph(8, 8.5) if shape == "null" else _glyph(shape, 8, 8)
    paint = f' class="ibf-glyph ibf-c" style="color:{colour}"' if colour else ' class="ibf-glyph"'
    return (f'<svg{paint} viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" '
            f'fill="currentColor" stroke="currentColor">{body}</svg>')  # fmt: skip


def _x(z: float) -> float:
    return _W / 2 + (_W / 2 - _PAD) * axis_position(z)


def _numbers(v: Verdict) -> str:
    """The row plot's title: the numbers behind it."""
    unit = v.unit if len(v.per_seed) == 1 else f"{v.unit}s"
    text = (f"mean {v.mean_text()} over {len(v.per_seed)} {unit}; 95 % bound "
            f"{v.bound_text()}; needs {DIRECTION_SIGNS.get(v.direction, v.direction)} "
            f"{v.threshold:g}")  # fmt: skip
    if v.null and math.isfinite(float(v.null.get("value", math.nan))):
        text += f"; null {float(v.null['value']):.3g}"
    return text


def row_svg(v: Verdict) -> str:
    """A verdict's row plot (inline SVG): the claim's side shaded, the threshold dashed, the
    null (grey triangle), the bar from the 95 % bound to the mean and the status marker."""
    c, mid, y = FOREST_COLOURS.get(v.status, _GREY), _W / 2, _H / 2
    title = html.escape(_numbers(v))
    parts = [
        f'<svg class="ibf-plot" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{title}"><title>{title}</title>',
        f'<rect x="{mid}" y="1" width="{mid - _PAD}" height="{_H - 2}" fill="currentColor" '
        'fill-opacity="0.08"/>',
        f'<path fill="none" stroke="currentColor" stroke-opacity="0.4" d="M{_PAD} {y} '
        f"L{_W - _PAD} {y}"
        + "".join(f" M{_x(z):.1f} {y - 3} L{_x(z):.1f} {y + 3}" for z in (-LIMIT, -1, 1, LIMIT))
        + '"/>',
        f'<path fill="none" stroke="currentColor" stroke-opacity="0.8" stroke-dasharray="2 2" '
        f'd="M{mid} 1 L{mid} {_H - 1}"/>',
    ]
    null = float(v.null.get("value", math.nan)) if v.null else math.nan
    if math.isfinite(null):
        parts.append(_null_glyph(_x(normalised(v, null)), y))
    parts.append(f'<g class="ibf-c" style="color:{c}" fill="currentColor" stroke="currentColor">')
    if math.isfinite(v.value):
        z = normalised(v, v.value)
        xv = _x(z)
        if math.isfinite(v.bound):
            xb = _x(normalised(v, v.bound))
            parts.append(f'<path fill="none" stroke-width="2.4" d="M{xb:.1f} {y} L{xv:.1f} {y} '
                         f'M{xb:.1f} {y - 5} L{xb:.1f} {y + 5}"/>')  # fmt: skip
        if abs(z) > LIMIT:  # off the axis: a chevron outside its end
            a, b = (_W - _PAD + 3, _W - 2) if z > 0 else (_PAD - 3, 2)
            parts.append(f'<path fill="none" stroke-width="1.8" d="M{a} {y - 4} L{b} {y} '
                         f'L{a} {y + 4}"/>')  # fmt: skip
        parts.append(_glyph(SHAPES.get(v.status, "filled circle"), xv, y))
    parts.append("</g></svg>")
    return "".join(parts)


def forest_row(v: Verdict) -> str:
    """One verdict as an HTML row: its short statement (linked to its row of the table of every
    record; a badge and bold type for a primary), its status word and sensitivity, and
    :func:`row_svg`."""
    e = html.escape
    c = FOREST_COLOURS.get(v.status, _GREY)
    primary = v.kind == "primary"
    badge = '<span class="ibf-badge">primary</span> ' if primary else ""
    meta = [f'<span class="ibf-status ibf-c" style="color:{c}">{e(v.status)}</span>']
    meta += [holds_in(v)] if v.robustness else []
    return (
        f'<div class="ibf-row{" ibf-primary" if primary else ""}" data-status="{e(v.status)}" '
        f'data-kind="{e(v.kind)}"><div class="ibf-text">{badge}'
        f'<a class="ibf-label" href="#record-{e(v.claim)}" title="{e(v.statement)}">'
        f"{e(short_statement(v.statement))}</a></div>"
        f'<div class="ibf-meta">{" · ".join(meta)}</div>{row_svg(v)}</div>'
    )


def _chapter_title(chapter: str, vs: Sequence[Verdict]) -> str:
    """'Chapter 0 · Shwartz-Ziv & Tishby 2017': the chapter's number and its paper."""
    num = chapter.partition("_")[0]
    title = f"Chapter {int(num)}" if num.isdigit() else chapter
    paper = next((v.paper for v in vs if v.paper), "")
    return f"{title} · {paper}" if paper else title


def forest_section(vs: Sequence[Verdict]) -> list[str]:
    """The verdicts page's forest: a legend, then per chapter a heading and one HTML row per
    verdict (:func:`forest_row`); the text reflows at phone width (``book/_assets/forest.css``)."""
    statuses = [s for s in SHAPES if any(v.status == s for v in vs)]
    legend = "".join(
        f'<span class="ibf-key" data-status="{html.escape(s)}">'
        f"{legend_glyph(SHAPES[s], FOREST_COLOURS[s])}{html.escape(s)}</span>"
        for s in statuses
    )
    legend += (f'<span class="ibf-key">{legend_glyph("null")}null</span>'
               '<span class="ibf-key"><svg class="ibf-glyph" viewBox="0 0 16 16" width="16" '
               'height="16" aria-hidden="true"><path stroke="currentColor" stroke-width="2" '
               'd="M2 8 L14 8 M2 3 L2 13"/></svg>to the 95 % bound</span>')  # fmt: skip
    lines = [
        "## Every verdict at a glance",
        "",
        "One row per record, grouped by chapter, the primary first. Each statement links to its "
        "record's row in the table below (hover it for the whole sentence, the plot for the "
        "numbers). The plots share one scale: how far the mean over seeds lies from the "
        "threshold (dashed), in spreads (standard deviations over seeds), the claim's side on "
        "the right (shaded) whichever its direction; the bar runs to the 95 % bound. The scale "
        f"is compressed away from the threshold (ticks at 1 and {LIMIT:g} spreads); a chevron "
        f"marks a mean beyond {LIMIT:g}.",
        "",
        f'<div class="ibf-legend">{legend}</div>',
        "",
    ]
    for chapter, rows in forest_groups(vs):
        lines += [
            f"### {_chapter_title(chapter, rows)}",
            "",
            '<div class="ibf">'
            '<div class="ibf-scale" aria-hidden="true"><span class="ibf-ends">'
            "<span>← fails</span><span>passes →</span></span></div>",
            *(forest_row(v) for v in rows),
            "</div>",
            "",
        ]
    return lines


class FamilyRow(NamedTuple):
    """One primary of the family: its registration, its record (None where its chapter has not
    run), its one-sided p-value, Holm-adjusted p-value and decision."""

    primary: Primary
    verdict: Verdict | None
    p: float
    holm_p: float
    holm: bool


def family(vs: Sequence[Verdict]) -> list[FamilyRow]:
    """The book's primaries in chapter order with Holm's correction at family-wise
    :data:`~ibcore.verdicts.FAMILY_ALPHA` over all registered ones. A primary whose chapter
    has not run counts as p = 1, so a partial build can only be more conservative."""
    by = {v.claim: v for v in vs if v.kind == "primary"}
    found = [by.get(p.claim) for p in PRIMARIES.values()]
    ps = [v.p_value if v is not None else math.nan for v in found]
    adjusted, decisions = holm(ps, FAMILY_ALPHA)
    return [FamilyRow(*row) for row in zip(PRIMARIES.values(), found, ps, adjusted, decisions,
                                           strict=True)]  # fmt: skip


def _holm_text(row: FamilyRow) -> str:
    if row.verdict is None:
        return "not run"
    if row.verdict.scale == "smoke":
        return "smoke-only"
    return "**holds**" if row.holm else "does not hold"


def primaries_table(vs: Sequence[Verdict]) -> list[str]:
    """The verdicts page's lead: one row per paper (its primary), with the Holm column."""
    lines = [
        "## One answer per paper",
        "",
        "Each chapter has one *primary* verdict: the sentence of its paper's abstract that carries "
        "the claim, tested by a metric, threshold, direction, null and confirmatory seeds that "
        f"were committed before the first run on those seeds. The {len(PRIMARIES)} primaries are one family: "
        "a primary counts as reproduced for the book when its one-sided test also survives "
        f"Holm's correction at a family-wise {FAMILY_ALPHA:.0%} (the *Holm* column). Every other "
        "record on this page is *secondary (exploratory)*: it was chosen or tuned after "
        "looking at earlier runs, is not corrected for the many comparisons the book makes, and "
        "describes rather than confirms. A *check* tests something that holds by construction "
        "or cannot fail in practice (a set-up that works, a control that behaves); it reads "
        "*check holds* or *check fails* and never counts as a reproduction.",
        "",
        "| chapter | primary claim | status | after Holm | the numbers |",
        "|---|---|---|---|---|",
    ]
    for row in family(vs):
        p, v = row.primary, row.verdict
        where = f"{int(p.chapter[:2])} · {p.paper}"
        if v is None:
            lines.append(f"| {where} | {_cell(p.statement)} | not run | not run | needs "
                         f"{DIRECTION_SIGNS[p.direction]} {p.threshold:g} |")  # fmt: skip
            continue
        c = _COLOURS.get(v.status, "#57606a")
        conf = v.preregistration.get("confirmatory", "")
        seeds = f"{len(v.per_seed)} " + ("confirmatory seeds" if not conf
                                         else f"seeds, not confirmatory ({conf})")  # fmt: skip
        pv = (f"; one-sided p = {v.p_value:.2g}, Holm-adjusted {row.holm_p:.2g}"
              if math.isfinite(v.p_value) else "")  # fmt: skip
        numbers = (f"{v.mean_text()}, 95 % bound {v.bound_text()}, needs "
                   f"{DIRECTION_SIGNS[v.direction]} {v.threshold:g}; {seeds}{pv}")  # fmt: skip
        lines.append(
            f'| {where} | <a href="chapters/{v.chapter}.html#verdict-{v.claim}">'
            f"{_cell(v.statement)}</a> | "
            f'<span class="ibv-status" data-status="{v.status}" '
            f'style="color:{c};font-weight:bold">{v.status}</span> | {_holm_text(row)} | '
            f"{_cell(numbers)} |"
        )
    lines += [
        "",
        "The pre-registration commit and date of each primary, the first run on its seeds and "
        "the outcome that would have read *not reproduced* are on its card in the chapter.",
        "",
    ]
    return lines


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (a ``|`` would split the row)."""
    return str(text).replace("|", "\\|")


LADDER_SCALES = ("cpu", "full")


def _ladder_cell(v: Verdict | None) -> str:
    if v is None:
        return "not run"
    seeds = len(v.per_seed)
    why = (v.preregistration or {}).get("confirmatory")  # '' when the run was the registered one
    return (f"{v.status}: {v.value:+.3g} (bound {v.bound:+.3g}, {seeds} "
            f"{v.unit}{'s' if seeds != 1 else ''})"
            + (" · not confirmatory" if why else ""))  # fmt: skip


def ladder(by_scale: Mapping[str, Sequence[Verdict]]) -> list[str]:
    """The scale ladder: each chapter's primary verdict at every scale of ``by_scale`` side by
    side (status, value, bound, seeds), and in words where its status changes with scale."""
    scales = list(LADDER_SCALES)
    prim = {s: {v.chapter: v for v in by_scale.get(s, ()) if v.kind == "primary"} for s in scales}
    chapters = sorted({c for s in scales for c in prim[s]})
    lines = [
        "## The scale ladder",
        "",
        "Each paper's primary verdict at the book's `cpu` scale (scikit-learn's digits and the "
        "12-bit task, minutes on a laptop) and at `full` (toward the paper: Fashion-MNIST and "
        "the papers' epochs, about half an hour per chapter on 2 cores; `make book SCALE=full`), "
        "each from its own build and seeds.",
        "",
        "| chapter | " + " | ".join(f"`{s}`" for s in scales) + " | with scale |",
        "|---|" + "---|" * len(scales) + "---|",
    ]
    changed = []
    for c in chapters:
        cells = [prim[s].get(c) for s in scales]
        have = [v.status for v in cells if v is not None]
        if len(have) < len(scales):
            word = "—"
        elif len(set(have)) == 1:
            word = "the same status"
        else:
            word = " → ".join(have)
            changed.append(f"chapter {c[:2]} ({word})")
        lines.append(f"| {c[:2]} | " + " | ".join(_cell(_ladder_cell(v)) for v in cells)
                     + f" | {word} |")  # fmt: skip
    lines.append("")
    if "full" not in by_scale:
        lines.append("The `full` book has not been built here: `make data`, then "
                     "`make book SCALE=full` fills the `full` column.")  # fmt: skip
    elif changed:
        lines.append("The status changes with scale in " + "; ".join(changed) + ".")
    else:
        lines.append("No primary verdict changes status between the scales that ran.")
    return [*lines, ""]


def scale_ladder(vs: Sequence[Verdict], other: str | Path | None = None) -> list[str]:
    """:func:`ladder` of this build's records ``vs`` and those of the other scale's results
    folder ``other`` (where it holds records of a scale of :data:`LADDER_SCALES`); nothing
    when this build's scale is not on the ladder (a smoke build)."""
    here = vs[0].scale if vs else ""
    if here not in LADDER_SCALES:
        return []
    by_scale = {here: list(vs)}
    theirs = load_verdicts(other) if other is not None and Path(other).is_dir() else []
    if theirs and theirs[0].scale in LADDER_SCALES and theirs[0].scale != here:
        by_scale[theirs[0].scale] = theirs
    return ladder(by_scale)


def render_page(
    folder: str | Path | None = None, forest: bool = True, other: str | Path | None = None
) -> str:
    """The verdicts page (MyST Markdown) from every verdict under ``folder``: the primaries,
    the forest (:func:`forest_section`, unless ``forest`` is false) and the table of every
    record, each row anchored ``record-<claim>``."""
    vs = load_verdicts(folder)
    lines = [
        "# Verdicts",
        "",
        "Every claim of the book, judged by the runs its chapter made when this book was built. ",
        "A claim is *reproduced* when the one-sided 95 % confidence bound of its mean over seeds ",
        "(Student t) clears the threshold fixed before the final runs, *not reproduced* when the ",
        "opposite bound does not reach it, and *inconclusive* in between. Pages built at `smoke` ",
        "scale say *smoke-only*: their numbers are not results. The JSON records are in ",
        "`results/<claim>.json`.",
        "",
    ]
    if not vs:
        lines.append("No verdicts yet: run `make book` to execute the chapters.")
        return "\n".join(lines) + "\n"
    lines += primaries_table(vs)
    lines += scale_ladder(vs, other)
    if forest:
        lines += forest_section(vs)
    lines += ["## Every record", ""]
    lines += [
        "| chapter | kind | claim | status | metric | value ± spread | 95 % bound | needs "
        "(calibration) | seeds (pass) | null | status holds in | scale |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in sorted(vs, key=_record_order):
        c = _COLOURS.get(v.status, "#57606a")
        null = f"{float(v.null['value']):.3g}" if v.null else "—"
        robust = f"{v.robustness} settings" if v.robustness else "—"
        cal = ", ".join(f"{x:.3g}" for x in v.calibration_values)
        needs = f"{v.direction} {v.threshold:g}" + (f" ({cal})" if cal else "")
        lines.append(
            f"| {v.chapter} | {KIND_LABELS.get(v.kind, v.kind)} | "
            f'<span id="record-{v.claim}"></span>'
            f'<a href="chapters/{v.chapter}.html#verdict-{v.claim}">{_cell(v.statement)}</a> | '
            f'<span class="ibv-status" data-status="{v.status}" '
            f'style="color:{c};font-weight:bold">{v.status}</span> | `{_cell(v.metric)}` | '
            f"{_cell(v.mean_text())} | {_cell(v.bound_text())} | {_cell(needs)} | "
            f"{len(v.per_seed)} ({v.n_pass}) | {null} | {robust} | {v.scale} |"
        )
    lines += ["", "Parameters, commit, device and run time of each verdict:", ""]
    lines += ["| claim | params hash | commit | device | run time |", "|---|---|---|---|---|"]
    for v in vs:
        lines.append(
            f"| `{v.claim}` | `{v.params_hash}` | `{v.commit}` | {v.device} | {v.runtime_s:.0f} s |"
        )
    return "\n".join(lines) + "\n"


FAMILY = "primaries-holm.json"
"""The family record written beside the verdicts: each primary's p-value and Holm decision."""


def family_record(vs: Sequence[Verdict]) -> dict[str, object]:
    """The Holm family as data (:data:`FAMILY`): alpha, and per primary its status, p-value,
    Holm-adjusted p-value and decision (None where its chapter has not run)."""
    return {
        "alpha": FAMILY_ALPHA,
        "method": "Holm step-down, one-sided t-tests, missing primaries counted as p = 1",
        "primaries": [
            {"claim": r.primary.claim, "chapter": r.primary.chapter,
             "status": r.verdict.status if r.verdict else None,
             "p_value": r.p if math.isfinite(r.p) else None, "holm_p": r.holm_p,
             "holm_holds": r.holm if r.verdict is not None and r.verdict.scale != "smoke" else None}
            for r in family(vs)
        ],
    }  # fmt: skip


def write_page(
    results: str | Path | None, out: str | Path, other: str | Path | None = None
) -> Path:
    """Write the verdicts page to ``out`` and the Holm family record (:data:`FAMILY`) beside
    the verdicts; ``other`` is the other scale's results folder, for the ladder; returns
    ``out``."""
    out = Path(out)
    vs = load_verdicts(results)
    if vs:
        folder = Path(results) if results is not None else results_dir()
        atomic_write_text(folder / FAMILY, json.dumps(family_record(vs), indent=2) + "\n")
    atomic_write_text(out, render_page(results, other=other))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ibcore.book.verdicts_page [RESULTS_DIR] OUT.md`` writes the verdicts page."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        print("usage: python -m ibcore.book.verdicts_page [RESULTS_DIR] OUT.md", file=sys.stderr)
        return 2
    write_page(args[0] if len(args) == 2 else None, args[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
