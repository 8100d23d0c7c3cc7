"""Machine-readable verdicts: one record per claim, judged on the spread over seeds.

Every chapter ends by building :class:`Verdict` s from its own runs with :func:`judge`, writing them
atomically to ``results/<claim>.json`` and showing them as a box. ``python -m ibcore.verdicts
page`` gathers all of them into the book's verdicts page.

Statuses: ``reproduced`` (the claim holds even one standard deviation towards failing),
``not reproduced`` (it fails even one standard deviation towards passing), ``inconclusive``
(in between, or NaN), ``smoke-only`` (a ``smoke`` run: the pipeline ran, the numbers are not
results).
"""

from __future__ import annotations

import html
import json
import math
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibcore.atomic import atomic_write_text
from ibcore.cache import params_hash
from ibcore.paths import REPO_ROOT, results_dir

STATUSES = ("reproduced", "not reproduced", "inconclusive", "smoke-only")
DIRECTIONS = (">=", "<=")
_COLOURS = {
    "reproduced": "#1a7f37",
    "not reproduced": "#cf222e",
    "inconclusive": "#9a6700",
    "smoke-only": "#57606a",
}


def git_commit() -> str:
    """The repository's current commit (short), or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return out.stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def judge(
    values: Sequence[float], threshold: float, direction: str, scale: str
) -> tuple[str, float, float]:
    """Status, mean and spread (sample std over seeds) of a metric against a threshold.

    All chapters. ``direction`` '>=' means the claim needs ``value >= threshold``. A ``smoke`` run
    is always 'smoke-only'.
    """
    if direction not in DIRECTIONS:
        raise ValueError(
            f"parameter 'direction' = {direction!r} is not allowed; choose one of {DIRECTIONS}"
        )
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("judge needs at least one value (one per seed)")
    mean = float(v.mean())
    spread = float(v.std(ddof=1)) if v.size > 1 else 0.0
    if scale == "smoke":
        return "smoke-only", mean, spread
    if not np.isfinite(v).all():
        return "inconclusive", mean, spread
    sign = 1.0 if direction == ">=" else -1.0
    worst, best = mean - sign * spread, mean + sign * spread
    passes = (lambda x: x >= threshold) if direction == ">=" else (lambda x: x <= threshold)
    if passes(worst):
        return "reproduced", mean, spread
    if not passes(best):
        return "not reproduced", mean, spread
    return "inconclusive", mean, spread


@dataclass
class Verdict:
    """One claim's verdict, computed from the runs of its chapter (all chapters)."""

    claim: str
    chapter: str
    paper: str
    statement: str
    metric: str
    value: float
    spread: float
    per_seed: list[float]
    threshold: float
    direction: str
    status: str
    scale: str
    parameters: dict[str, Any]
    params_hash: str
    ibcore_version: str
    device: str
    runtime_s: float
    commit: str = field(default_factory=git_commit)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    note: str = ""

    def to_json(self) -> str:
        """The record as indented JSON (NaN written as null)."""
        d = asdict(self)
        for k in ("value", "spread", "threshold"):
            if isinstance(d[k], float) and not math.isfinite(d[k]):
                d[k] = None
        d["per_seed"] = [x if math.isfinite(x) else None for x in d["per_seed"]]
        return json.dumps(d, indent=2, sort_keys=False, default=str)

    def write(self, folder: str | Path | None = None) -> Path:
        """Write atomically to ``<folder>/<claim>.json`` (default: ``IBCORE_RESULTS``)."""
        folder = Path(folder) if folder is not None else results_dir()
        path = folder / f"{self.claim}.json"
        atomic_write_text(path, self.to_json() + "\n")
        return path

    def summary(self) -> str:
        """One line: claim, status, value ± spread vs threshold."""
        return (
            f"[{self.status}] {self.claim}: {self.metric} = {self.value:.3g} ± {self.spread:.2g} "
            f"(n={len(self.per_seed)}), needs {self.direction} {self.threshold:g}"
        )

    def _repr_html_(self) -> str:
        c = _COLOURS.get(self.status, "#57606a")
        e = html.escape
        seeds = ", ".join(f"{x:.3g}" for x in self.per_seed)
        return (
            f'<div class="ibcore-verdict" style="border-left:6px solid {c};padding:0.6em 1em;'
            f'margin:0.8em 0;background:#f6f8fa">'
            f'<div style="font-weight:bold;color:{c}">Verdict — {e(self.status.upper())}'
            f' <span style="color:#57606a;font-weight:normal">({e(self.claim)}, scale '
            f"{e(self.scale)})</span></div>"
            f"<div>{e(self.statement)}</div>"
            f"<div><code>{e(self.metric)}</code> = <b>{self.value:.4g} ± {self.spread:.2g}</b> "
            f"over {len(self.per_seed)} seed(s) [{e(seeds)}]; claim needs {e(self.direction)} "
            f"{self.threshold:g}</div>"
            + (f'<div style="color:#57606a">{e(self.note)}</div>' if self.note else "")
            + f'<div style="color:#57606a;font-size:85%">{e(self.paper)} · params {self.params_hash}'
            f" · ibcore {e(self.ibcore_version)} · {e(self.device)} · {self.runtime_s:.0f} s</div>"
            "</div>"
        )


def make_verdict(
    *,
    claim: str,
    chapter: str,
    paper: str,
    statement: str,
    metric: str,
    values: Sequence[float],
    threshold: float,
    direction: str,
    params: Mapping[str, Any],
    device: str,
    runtime_s: float,
    note: str = "",
) -> Verdict:
    """Judge ``values`` (one per seed) with :func:`judge` and build the :class:`Verdict`."""
    from ibcore import __version__

    scale = str(params.get("scale", "cpu"))
    status, mean, spread = judge(values, threshold, direction, scale)
    return Verdict(
        claim=claim, chapter=chapter, paper=paper, statement=statement, metric=metric,
        value=mean, spread=spread, per_seed=[float(x) for x in values], threshold=float(threshold),
        direction=direction, status=status, scale=scale, parameters=dict(params),
        params_hash=params_hash(params), ibcore_version=__version__, device=str(device),
        runtime_s=float(runtime_s), note=note,
    )  # fmt: skip


def load_verdicts(folder: str | Path | None = None) -> list[Verdict]:
    """All verdicts under ``folder`` (default ``IBCORE_RESULTS``), sorted by chapter and claim."""
    folder = Path(folder) if folder is not None else results_dir()
    out = []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text())
        if "claim" not in d or "status" not in d:
            continue
        for k in ("value", "spread", "threshold"):
            d[k] = float("nan") if d[k] is None else d[k]
        d["per_seed"] = [float("nan") if x is None else x for x in d["per_seed"]]
        out.append(Verdict(**d))
    return sorted(out, key=lambda v: (v.chapter, v.claim))


def render_page(folder: str | Path | None = None) -> str:
    """The book's verdicts page (MyST Markdown) from every verdict under ``folder``."""
    vs = load_verdicts(folder)
    lines = [
        "# Verdicts",
        "",
        "Every claim of the book, judged by the runs its chapter made when this book was built. ",
        "A claim is *reproduced* when it holds even one standard deviation (over seeds) towards ",
        "failing, *not reproduced* when it fails even one standard deviation towards passing, and ",
        "*inconclusive* in between. Pages built at `smoke` scale say *smoke-only*: their numbers ",
        "are not results. The JSON records are in `results/<claim>.json`.",
        "",
    ]
    if not vs:
        lines.append("No verdicts yet: run `make book` to execute the chapters.")
        return "\n".join(lines) + "\n"
    lines += [
        "| chapter | claim | status | metric | value ± spread | needs | seeds | scale |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in vs:
        lines.append(
            f"| {v.chapter} | {v.statement} | **{v.status}** | `{v.metric}` | "
            f"{v.value:.3g} ± {v.spread:.2g} | {v.direction} {v.threshold:g} | {len(v.per_seed)} | "
            f"{v.scale} |"
        )
    lines += ["", "Parameters, commit, device and run time of each verdict:", ""]
    lines += ["| claim | params hash | commit | device | run time |", "|---|---|---|---|---|"]
    for v in vs:
        lines.append(
            f"| `{v.claim}` | `{v.params_hash}` | `{v.commit}` | {v.device} | {v.runtime_s:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ibcore.verdicts page [RESULTS_DIR] OUT.md`` writes the verdicts page."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "page" or len(args) not in (2, 3):
        print("usage: python -m ibcore.verdicts page [RESULTS_DIR] OUT.md", file=sys.stderr)
        return 2
    folder = args[1] if len(args) == 3 else None
    atomic_write_text(args[-1], render_page(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
