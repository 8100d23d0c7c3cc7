"""The book's conclusions page (all chapters), written from the verdict records of a build: per
paper, whether its primary verdict reproduced (with Holm's correction over the family), what the
secondary verdicts and checks say, at what scale, and what would settle an inconclusive primary;
then what the chapters say together (``python -m ibcore.book.conclusions [RESULTS_DIR] OUT.md``).
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ibcore.atomic import atomic_write_text
from ibcore.book.verdicts_page import FamilyRow, family, scale_ladder
from ibcore.claims.primaries import PRIMARIES
from ibcore.verdicts import CONFIDENCE, DIRECTION_SIGNS, Verdict, load_verdicts

TOGETHER = {
    "compression against permuted-label nulls": (
        ("ch0-primary", "chapter 0, EBAB, the tanh net's last hidden layer"),
        ("ch0-compression", "chapter 0, the paper's fixed grid"),
        ("ch2-primary", "chapter 2, EBAB, ReLU and softplus nets"),
        ("ch4-is-compresses", "chapter 4, the Z-X probe of the identity-shortcut MLP"),
        (
            "ch5-t5-vs-null-tanh",
            "chapter 5, the 8-bit tanh net's last hidden layer, counted exactly",
        ),
        (
            "ch5-t5-vs-null-relu",
            "chapter 5, the 8-bit ReLU net's last hidden layer, counted exactly",
        ),
        ("ch5-primary", "chapter 5, the output layer counted exactly, in both activations"),
    ),
    "what skip connections do": (
        ("ch1-primary", "chapter 1, training speed against every plain control"),
        ("ch4-primary", "chapter 4, the fitting phase of identity against projection shortcuts"),
        ("ch4-is-vs-none-fitting", "chapter 4, identity shortcut against no shortcut"),
    ),
}
"""The threads the conclusions follow across chapters: claim ids and what each one measures."""


ESTIMATOR_TABLE = "table-ch5-estimators.json"
"""Chapter 5's scores of the book's estimators against the exact count, beside the verdicts."""


def write_estimator_table(
    rows: Sequence[dict], scale: str, folder: str | Path | None = None
) -> Path:
    """Save chapter 5's estimator scores (one row per activation, estimator and layer, from
    :func:`ibcore.claims.ch5_exact_quantized.estimator_table`) for the conclusions page."""
    from ibcore.paths import results_dir

    path = (Path(folder) if folder is not None else results_dir()) / ESTIMATOR_TABLE
    clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
              for k, v in r.items()} for r in rows]  # fmt: skip
    atomic_write_text(path, json.dumps({"scale": scale, "rows": clean}, indent=1) + "\n")
    return path


def estimator_section(folder: str | Path | None = None) -> list[str]:
    """The conclusions' section on the estimators against chapter 5's exact count (empty when
    chapter 5 has not run): per estimator and activation, the median Spearman ρ, the mean bias
    and the share of seeds and layers with the exact count's compression verdict."""
    from ibcore.paths import results_dir

    path = (Path(folder) if folder is not None else results_dir()) / ESTIMATOR_TABLE
    if not path.exists():
        return []
    from ibcore.claims.ch5_exact_quantized import TRACK_BIAS, TRACK_RHO, estimator_overview

    rec = json.loads(path.read_text())
    lines = [
        "## The estimators against the exact count",
        "",
        "Chapters 0, 2 and 4 judge compression with estimates. Chapter 5 counts the information "
        "of quantized nets exactly and scores each estimator on the same nets (its Table 1; "
        f"scale `{rec['scale']}`): the median Spearman ρ over snapshots, the mean absolute bias, "
        "and, where the exact count moves, how often the estimator orders the real net's fall "
        "and its permuted-label twin's as the count does. An estimator *tracks* the count where "
        f"ρ ≥ {TRACK_RHO:g} and the mean |bias| < {TRACK_BIAS:g} bit.",
        "",
        "| estimator | activation | median ρ | mean abs. bias [bits] | same verdict | tracks |",
        "|---|---|---|---|---|---|",
    ]

    def num(x: float, fmt: str) -> str:
        return format(x, fmt) if math.isfinite(x) else "–"

    for o in estimator_overview(rec["rows"]):
        lines.append(
            f"| {o['estimator']} | {o['activation']} | {num(o['rho'], '.2f')} | "
            f"{num(o['abs_bias'], '.2f')} | {num(o['same_verdict'], '.0%')} | "
            f"{'yes' if o['tracks'] else 'no'} |"
        )
    return [*lines, ""]


def seeds_to_settle(v: Verdict, confidence: float = CONFIDENCE) -> int | None:
    """About how many seeds would put the failing-side bound past the threshold if the mean and
    spread stayed as they are (None where the mean is on the wrong side or there is no spread):
    the smallest n with t(confidence, n−1)·s/√n < |mean − threshold|."""
    from scipy.stats import t

    gap = v.value - v.threshold if v.direction == ">=" else v.threshold - v.value
    if not (math.isfinite(gap) and gap > 0 and math.isfinite(v.spread) and v.spread > 0):
        return None
    for n in range(2, 100_001):
        if t.ppf(confidence, n - 1) * v.spread / math.sqrt(n) < gap:
            return n
    return None


def _primary_sentence(row: FamilyRow) -> str:
    p, v = row.primary, row.verdict
    if v is None:
        return f"The primary verdict (`{p.claim}`) has not been run in this build."
    conf = v.preregistration.get("confirmatory", "")
    where = ("on its pre-registered confirmatory seeds" if not conf
             else f"not on its pre-registered run ({conf})")  # fmt: skip
    side = "lower" if v.direction == ">=" else "upper"
    holm = ("" if v.scale == "smoke" else
            f" After Holm's correction over the book's {len(PRIMARIES)} primaries it "
            f"{'holds' if row.holm else 'does not hold'} (adjusted p = {row.holm_p:.2g}).")  # fmt: skip
    text = (
        f"Its primary verdict — *{p.statement.rstrip('.')}* — reads **{v.status}** at scale "
        f"`{v.scale}`, {where}: {v.value:.3g} ± {v.spread:.2g} over {len(v.per_seed)} seeds, 95 % "
        f"{side} bound {v.bound_text()} against the threshold {DIRECTION_SIGNS[v.direction]} {v.threshold:g}"
        + (f", one-sided p = {v.p_value:.2g}" if math.isfinite(v.p_value) else "")
        + f".{holm}"
    )
    if v.status == "inconclusive":
        n = seeds_to_settle(v)
        text += (
            f" At this spread, about {n} seeds would settle it if the mean stayed where it is."
            if n else " The mean sits on the failing side: more seeds would more likely settle "
            "it as not reproduced."
        )  # fmt: skip
    return text


def _others(vs: Sequence[Verdict]) -> str:
    sec = [v for v in vs if v.kind == "secondary"]
    chk = [v for v in vs if v.kind == "check"]
    parts = []
    if sec:
        c = Counter(v.status for v in sec)
        # name every record of a short list; of a long one, only those that reproduced
        named = sec if len(sec) <= 6 else [v for v in sec if v.status == "reproduced"]
        parts.append(
            f"Of its {len(sec)} secondary (exploratory) verdicts, "
            + ", ".join(f"{n} read {s}" for s, n in sorted(c.items()))
            + (": " + "; ".join(f"`{v.claim}` {v.status}" for v in named) if named else "")
            + ("" if named is sec else " (the others are on the verdicts page)") + "."
        )  # fmt: skip
    if chk:
        bad = [v for v in chk if v.status != "check holds"]
        parts.append(
            f"{len(chk) - len(bad)} of its {len(chk)} checks hold"
            + (": " + "; ".join(f"`{v.claim}` {v.status}" for v in bad) + "." if bad else ".")
        )
    return " ".join(parts)


def render_conclusions(folder: str | Path | None = None, other: str | Path | None = None) -> str:
    """The conclusions page (MyST Markdown) from every verdict under ``folder``; ``other``, the
    other scale's results folder, fills the scale ladder (cpu beside full)."""
    vs = load_verdicts(folder)
    lines = [
        "# Conclusions",
        "",
        "Did each paper's claim reproduce, and at what scale? This page is written by the build "
        "from the verdict records of the chapters (see [the verdicts page](verdicts.md) for "
        "every record and the rule behind it); nothing on it is typed by hand.",
        "",
    ]
    if not vs:
        return "\n".join(lines + ["No verdicts yet: run `make book` to execute the chapters.", ""])
    scales = sorted({v.scale for v in vs})
    lines += [
        f"Every record here was judged at scale {', '.join(f'`{s}`' for s in scales)}; the "
        "papers' own settings (`paper` presets) were not run for this build.",
        "",
    ]
    by_chapter: dict[str, list[Verdict]] = {}
    for v in vs:
        by_chapter.setdefault(v.chapter, []).append(v)
    for row in family(vs):
        p = row.primary
        lines += [
            f"## {p.chapter[:2].lstrip('0') or '0'}. {p.paper}",
            "",
            f"> “{p.quote}”",
            "",
            _primary_sentence(row) + " " + _others(by_chapter.get(p.chapter, [])),
            "",
        ]
    lines += scale_ladder(vs, other)
    lines += estimator_section(folder)
    by_claim = {v.claim: v for v in vs}
    lines += ["## What the chapters say together", ""]
    for thread, claims in TOGETHER.items():
        found = [(by_claim[c], what) for c, what in claims if c in by_claim]
        if not found:
            continue
        lines.append(
            f"**{thread.capitalize()}.** "
            + "; ".join(f"{what}: *{v.status}* ({v.value:+.3g})" for v, what in found)
            + "."
        )
        lines.append("")
    return "\n".join(lines) + "\n"


def write_conclusions(
    results: str | Path | None, out: str | Path, other: str | Path | None = None
) -> Path:
    """Write the conclusions page to ``out`` (``other``: the other scale's results, for the
    ladder); returns ``out``."""
    out = Path(out)
    atomic_write_text(out, render_conclusions(results, other))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ibcore.book.conclusions [RESULTS_DIR] OUT.md`` writes the conclusions page."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        print("usage: python -m ibcore.book.conclusions [RESULTS_DIR] OUT.md", file=sys.stderr)
        return 2
    write_conclusions(args[0] if len(args) == 2 else None, args[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
