"""The book's verdicts page (all chapters): a forest plot of every verdict above a table linking
to each one (``python -m ibcore.book.verdicts_page [RESULTS_DIR] OUT.md``)."""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from ibcore.atomic import atomic_write_bytes, atomic_write_text
from ibcore.verdicts import _COLOURS, Verdict, load_verdicts

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
        "| chapter | claim | status | metric | value ± spread | 95 % bound | needs | seeds "
        "(pass) | null | robust | calibration seeds | scale |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in vs:
        c = _COLOURS.get(v.status, "#57606a")
        null = f"{float(v.null['value']):.3g}" if v.null else "—"
        robust = f"{v.robustness} settings" if v.robustness else "—"
        cal = ", ".join(str(s) for s in v.calibration_seeds) or "—"
        lines.append(
            f'| {v.chapter} | <a href="chapters/{v.chapter}.html#verdict-{v.claim}">'
            f"{v.statement}</a> | "
            f'<span class="ibv-status" data-status="{v.status}" '
            f'style="color:{c};font-weight:bold">{v.status}</span> | `{v.metric}` | '
            f"{v.value:.3g} ± {v.spread:.2g} | {v.bound:.3g} | {v.direction} {v.threshold:g} | "
            f"{len(v.per_seed)} ({v.n_pass}) | {null} | {robust} | {cal} | {v.scale} |"
        )
    lines += ["", "Parameters, commit, device and run time of each verdict:", ""]
    lines += ["| claim | params hash | commit | device | run time |", "|---|---|---|---|---|"]
    for v in vs:
        lines.append(
            f"| `{v.claim}` | `{v.params_hash}` | `{v.commit}` | {v.device} | {v.runtime_s:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def write_page(results: str | Path | None, out: str | Path) -> Path:
    """Write the verdicts page to ``out`` and its forest plot beside it; returns ``out``."""
    out = Path(out)
    vs = load_verdicts(results)
    if vs:
        atomic_write_bytes(out.parent / FOREST, forest_png(vs))
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
