"""The book's verdicts page (all chapters): the five primary verdicts with their Holm-adjusted
decisions, a forest plot of every verdict, and a table linking to each record
(``python -m ibcore.book.verdicts_page [RESULTS_DIR] OUT.md``)."""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ibcore.atomic import atomic_write_bytes, atomic_write_text
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

FOREST = "verdicts_forest.png"


def _scale(v: Verdict) -> float:
    """The unit of a verdict's row on the forest plot (positive): its spread, or |threshold|."""
    return next((s for s in (v.spread, abs(v.threshold)) if math.isfinite(s) and s > 0), 1.0)


def _norm(v: Verdict, x: float) -> float:
    """``x`` on the verdict's normalised axis: 0 = threshold, + = the passing side, 1 = a spread."""
    sign = 1.0 if v.direction == ">=" else -1.0
    return sign * (x - v.threshold) / _scale(v)


def forest_png(vs: Sequence[Verdict]) -> bytes:
    """Every verdict on one normalised axis: value (dot), 95 % bound (bar to it), null (cross)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lim = 12.0  # values further out are drawn at the edge, as a triangle pointing outwards

    def clip(x: float) -> tuple[float, bool]:
        return max(-lim, min(lim, x)), abs(x) > lim

    fig, ax = plt.subplots(figsize=(8.5, 0.34 * len(vs) + 1.4), constrained_layout=True)
    ys, labels = [], []
    y, last = 0.0, None
    for v in vs:
        if last is not None and v.chapter != last:
            y += 0.6  # a gap between chapters
        last = v.chapter
        c = _COLOURS.get(v.status, "#57606a")
        x, out = clip(_norm(v, v.value))
        b, _ = clip(_norm(v, v.bound) if math.isfinite(v.bound) else x)
        ax.plot([b, x], [y, y], color=c, lw=2.2, solid_capstyle="butt")
        ax.plot([b], [y], marker="|", color=c, ms=11, mew=2)
        ax.plot([x], [y], marker=(">" if x > 0 else "<") if out else "o", color=c, ms=7)
        if v.null and math.isfinite(float(v.null.get("value", math.nan))):
            ax.plot([clip(_norm(v, float(v.null["value"])))[0]], [y], marker="x", color="0.35",
                    ms=7)  # fmt: skip
        ys.append(y)
        labels.append(f"{v.claim}  (n={len(v.per_seed)})")
        y += 1.0
    ax.axvline(0.0, color="0.3", lw=1, ls="--")
    ax.set_xlim(-lim * 1.05, lim * 1.05)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("(value − threshold) / spread; right = the claim's side; | 95 % bound, "
                  "× null, ▸ off the axis", fontsize=8)  # fmt: skip
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2, label=s) for s, c in _COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower right", frameon=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


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
    :data:`~ibcore.verdicts.FAMILY_ALPHA` over all five registered ones. A primary whose chapter
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
        "were committed before the first run on those seeds. The five primaries are one family: "
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
        numbers = (f"{v.value:.3g} ± {v.spread:.2g}, 95 % bound {v.bound:.3g}, needs "
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


def render_page(folder: str | Path | None = None, figure: str | None = FOREST) -> str:
    """The verdicts page (MyST Markdown) from every verdict under ``folder``."""
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
    lines += ["## Every record", ""]
    if figure:
        lines += [
            f"```{{figure}} {figure}",
            ":name: verdicts-forest",
            "",
            "Every verdict on one axis: the dot is the mean over seeds, the bar runs to its 95 % "
            "bound, the dashed line is the threshold, a cross marks the null where the metric "
            "is compared with one; coloured by status, grouped by chapter.",
            "```",
            "",
        ]
    lines += [
        "| chapter | kind | claim | status | metric | value ± spread | 95 % bound | needs "
        "(calibration) | seeds (pass) | null | status holds in | scale |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {"primary": 0, "secondary": 1, "check": 2}
    for v in sorted(vs, key=lambda v: (v.chapter, order.get(v.kind, 1), v.claim)):
        c = _COLOURS.get(v.status, "#57606a")
        null = f"{float(v.null['value']):.3g}" if v.null else "—"
        robust = f"{v.robustness} settings" if v.robustness else "—"
        cal = ", ".join(f"{x:.3g}" for x in v.calibration_values)
        needs = f"{v.direction} {v.threshold:g}" + (f" ({cal})" if cal else "")
        lines.append(
            f"| {v.chapter} | {KIND_LABELS.get(v.kind, v.kind)} | "
            f'<a href="chapters/{v.chapter}.html#verdict-{v.claim}">{_cell(v.statement)}</a> | '
            f'<span class="ibv-status" data-status="{v.status}" '
            f'style="color:{c};font-weight:bold">{v.status}</span> | `{_cell(v.metric)}` | '
            f"{v.value:.3g} ± {v.spread:.2g} | {v.bound:.3g} | {_cell(needs)} | "
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


def write_page(results: str | Path | None, out: str | Path) -> Path:
    """Write the verdicts page to ``out`` and its forest plot beside it, and the Holm family
    record (:data:`FAMILY`) beside the verdicts; returns ``out``."""
    out = Path(out)
    vs = load_verdicts(results)
    if vs:
        atomic_write_bytes(out.parent / FOREST, forest_png(vs))
        folder = Path(results) if results is not None else results_dir()
        atomic_write_text(folder / FAMILY, json.dumps(family_record(vs), indent=2) + "\n")
    atomic_write_text(out, render_page(results, FOREST if vs else None))
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
