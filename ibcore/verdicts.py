"""Machine-readable verdicts (all chapters): one record per claim, ``results/<claim>.json``.

The rule (:func:`judge`): the one-sided 95 % Student-t bounds m ± t(0.95, n−1)·s/√n over seeds.
A claim needing ``value >= threshold`` is ``reproduced`` when the lower bound clears it, ``not
reproduced`` when the upper one does not reach it, else (or n < 2, NaN) ``inconclusive``;
``smoke-only`` at scale smoke; mirrored for ``<=``. Not a bootstrap: too narrow at 5–10 seeds.
"""

from __future__ import annotations

import html
import json
import math
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ibcore.atomic import atomic_write_text
from ibcore.cache import params_hash
from ibcore.paths import REPO_ROOT, results_dir
from ibcore.schema import check_choice

STATUSES = ("reproduced", "not reproduced", "inconclusive", "smoke-only")
DIRECTIONS = (">=", "<=")
_COLOURS = {"reproduced": "#116329", "not reproduced": "#cf222e", "inconclusive": "#875b00",
            "smoke-only": "#57606a"}  # fmt: skip


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


def versions() -> dict[str, str]:
    """Python, torch and numpy versions of the run behind a verdict (all chapters)."""
    import platform

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__}  # fmt: skip


CONFIDENCE = 0.95
"""One-sided confidence of the bounds :func:`judge` uses."""


@dataclass(frozen=True)
class Preregistration:
    """What one verdict is judged against, fixed on calibration seeds (never final seeds) before
    the final runs; held by each claim module's ``PREREGISTERED``. ``null``: the run without the
    effect that the metric is compared with."""

    claim: str
    metric: str
    threshold: float
    direction: str
    calibration_seeds: tuple[int, ...]
    reasoning: str
    null: str = ""

    def __post_init__(self) -> None:
        check_choice("direction", self.direction, DIRECTIONS)


class Judgement(NamedTuple):
    """What :func:`judge` returns: the status and the numbers behind it."""

    status: str
    mean: float
    spread: float
    n: int
    bound: float
    """The bound on the side of failing: the lower one for '>=', the upper one for '<='."""
    other_bound: float
    n_pass: int
    """Seeds whose own value passes the threshold."""


def confidence_bounds(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """One-sided Student-t bounds (lower, upper) of the mean of ``values``; NaN for n < 2."""
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size < 2 or not np.isfinite(v).all():
        return math.nan, math.nan
    half = float(t.ppf(confidence, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return float(v.mean()) - half, float(v.mean()) + half


def judge(values: Sequence[float], threshold: float, direction: str, scale: str) -> Judgement:
    """Status of a metric against a threshold by a one-sided 95 % t-bound over seeds (the rule
    of the module docstring; all chapters)."""
    check_choice("direction", direction, DIRECTIONS)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("judge needs at least one value (one per seed)")
    mean = float(v.mean())
    spread = float(v.std(ddof=1)) if v.size > 1 else 0.0
    lower, upper = confidence_bounds(v)
    if direction == ">=":
        bound, other = lower, upper
        n_pass = int((v >= threshold).sum())
    else:
        bound, other = upper, lower
        n_pass = int((v <= threshold).sum())

    def passes(x: float) -> bool:  # strictly: a bound on the threshold does not clear it
        return x > threshold if direction == ">=" else x < threshold

    if scale == "smoke":
        status = "smoke-only"
    elif not math.isfinite(bound):
        status = "inconclusive"
    elif passes(bound):
        status = "reproduced"
    elif not passes(other):
        status = "not reproduced"
    else:
        status = "inconclusive"
    return Judgement(status, mean, spread, int(v.size), bound, other, n_pass)


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
    n: int = 0
    bound: float = math.nan
    """The one-sided 95 % bound on the side of failing (see :func:`judge`)."""
    n_pass: int = 0
    calibration_seeds: list[int] = field(default_factory=list)
    reasoning: str = ""
    null: dict[str, Any] = field(default_factory=dict)
    """The run without the effect, when there is one: ``{"name", "per_seed", "value"}``."""
    sensitivity: dict[str, Any] = field(default_factory=dict)
    """:func:`sensitivity_record`: ``{"settings": [...], "holds", "of"}``."""
    versions: dict[str, str] = field(default_factory=versions)
    """Python, torch and numpy of the run (:func:`versions`)."""

    def to_json(self) -> str:
        """The record as indented JSON (NaN written as null)."""
        d = _finite_or_none(asdict(self))
        return json.dumps(d, indent=2, sort_keys=False, default=str)

    def write(self, folder: str | Path | None = None) -> Path:
        """Write atomically to ``<folder>/<claim>.json`` (default: ``IBCORE_RESULTS``)."""
        folder = Path(folder) if folder is not None else results_dir()
        path = folder / f"{self.claim}.json"
        atomic_write_text(path, self.to_json() + "\n")
        return path

    def summary(self) -> str:
        """One line: claim, status, value ± spread, its bound vs threshold."""
        return (
            f"[{self.status}] {self.claim}: {self.metric} = {self.value:.3g} ± {self.spread:.2g} "
            f"(n={len(self.per_seed)}, 95% bound {self.bound:.3g}, {self.n_pass} seeds pass), "
            f"needs {self.direction} {self.threshold:g}"
        )

    @property
    def robustness(self) -> str:
        """'holds in k/m settings' of the sensitivity record, or '' when there is none."""
        s = self.sensitivity
        return f"{s['holds']}/{s['of']}" if s.get("of") else ""

    def _repr_html_(self) -> str:
        # A translucent background and inherited text; the book's ibcore.css swaps the status
        # colour for a lighter one in dark mode (``data-status``).
        c = _COLOURS.get(self.status, "#57606a")
        e = html.escape
        seeds = ", ".join(f"{x:.3g}" for x in self.per_seed)
        side = "lower" if self.direction == ">=" else "upper"
        rows = [
            f'<div class="ibv-head" style="font-weight:bold;color:{c}">Verdict — '
            f"{e(self.status.upper())}"
            f' <span style="opacity:0.75;font-weight:normal">({e(self.claim)}, scale '
            f"{e(self.scale)})</span></div>",
            f"<div>{e(self.statement)}</div>",
            f"<div><code>{e(self.metric)}</code> = <b>{self.value:.4g} ± {self.spread:.2g}</b> "
            f"over {len(self.per_seed)} seed(s) [{e(seeds)}]; 95 % {side} bound "
            f"<b>{self.bound:.4g}</b>; claim needs {e(self.direction)} {self.threshold:g}; "
            f"{self.n_pass} of {len(self.per_seed)} seeds pass on their own</div>",
        ]
        if self.null:
            rows.append(
                f"<div>Null: {e(str(self.null.get('name', '')))} — "
                f"{float(self.null.get('value', math.nan)):.4g} (mean over its seeds)</div>"
            )
        if self.sensitivity.get("of"):
            rows.append(
                f"<div>Robust in {self.sensitivity['holds']}/{self.sensitivity['of']} analysis "
                "settings (see the chapter's sensitivity table)</div>"
            )
        cal = ", ".join(str(x) for x in self.calibration_seeds) or "none recorded"
        pre = f"Pre-registered on calibration seeds {cal}"
        rows.append(f'<div style="opacity:0.75">{e(pre)}' + (
            f": {e(self.reasoning)}</div>" if self.reasoning else "</div>"))  # fmt: skip
        if self.note:
            rows.append(f'<div style="opacity:0.75">{e(self.note)}</div>')
        rows.append(
            f'<div style="opacity:0.75;font-size:85%">{e(self.paper)} · params {self.params_hash}'
            f" · ibcore {e(self.ibcore_version)} · {e(self.device)} · {self.runtime_s:.0f} s</div>"
        )
        return (
            f'<div class="ibcore-verdict" id="verdict-{e(self.claim)}" '
            f'data-status="{e(self.status)}" style="border-left:6px '
            f"solid {c};padding:0.6em 1em;margin:0.8em 0;background:rgba(127,127,127,0.10);"
            f'color:inherit">' + "".join(rows) + "</div>"
        )


def _finite_or_none(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (for JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    return obj


def _nan_for_none(obj: Any) -> Any:
    if obj is None:
        return math.nan
    if isinstance(obj, list):
        return [_nan_for_none(v) for v in obj]
    return obj


def make_verdict(
    *,
    claim: str,
    chapter: str,
    paper: str,
    statement: str,
    values: Sequence[float],
    params: Mapping[str, Any],
    device: str,
    runtime_s: float,
    prereg: Preregistration | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    direction: str | None = None,
    null: Mapping[str, Any] | None = None,
    sensitivity: Mapping[str, Any] | None = None,
    note: str = "",
) -> Verdict:
    """Judge ``values`` (one per seed) and build the :class:`Verdict`; ``prereg`` supplies metric,
    threshold and direction (a different ``threshold``, a reader's parameter, is noted)."""
    from ibcore import __version__

    if prereg is not None:
        if prereg.claim != claim:
            raise ValueError(
                f"pre-registration {prereg.claim!r} does not belong to claim {claim!r}"
            )
        if threshold is not None and threshold != prereg.threshold:
            note = (f"threshold {threshold:g} set by a parameter, not the pre-registered "
                    f"{prereg.threshold:g}. " + note).strip()  # fmt: skip
        else:
            threshold = prereg.threshold
        direction = prereg.direction
        metric = metric or prereg.metric
    if metric is None or threshold is None or direction is None:
        raise ValueError("make_verdict needs 'prereg', or 'metric', 'threshold' and 'direction'")
    scale = str(params.get("scale", "cpu"))
    j = judge(values, threshold, direction, scale)
    nul: dict[str, Any] = {}
    if null:
        nul = dict(null)
        per = [float(x) for x in nul.get("per_seed", [])]
        nul["per_seed"] = per
        nul.setdefault("value", float(np.mean(per)) if per else math.nan)
    return Verdict(
        claim=claim, chapter=chapter, paper=paper, statement=statement, metric=metric,
        value=j.mean, spread=j.spread, per_seed=[float(x) for x in values],
        threshold=float(threshold), direction=direction, status=j.status, scale=scale,
        parameters=dict(params), params_hash=params_hash(params), ibcore_version=__version__,
        device=str(device), runtime_s=float(runtime_s), note=note, n=j.n, bound=j.bound,
        n_pass=j.n_pass,
        calibration_seeds=list(prereg.calibration_seeds) if prereg else [],
        reasoning=prereg.reasoning if prereg else "", null=nul,
        sensitivity=dict(sensitivity or {}),
    )  # fmt: skip


def sensitivity_record(
    settings: Sequence[Mapping[str, Any]],
    values: Sequence[Sequence[float]],
    threshold: float | Sequence[float],
    direction: str,
    scale: str,
    status: str,
) -> dict[str, Any]:
    """A verdict's status under each analysis setting (``settings[i]`` gave ``values[i]``);
    ``holds`` counts those equal to ``status``. ``threshold`` may be one per setting."""
    if len(settings) != len(values):
        raise ValueError(f"{len(settings)} settings but {len(values)} value lists")
    thresholds = [threshold] * len(settings) if np.isscalar(threshold) else list(threshold)
    if len(thresholds) != len(settings):
        raise ValueError(f"{len(settings)} settings but {len(thresholds)} thresholds")
    rows = []
    for st, vs, thr in zip(settings, values, thresholds, strict=True):
        j = judge(vs, float(thr), direction, scale)
        rows.append({**dict(st), "value": j.mean, "bound": j.bound, "status": j.status})
    holds = sum(r["status"] == status for r in rows)
    return {"settings": rows, "holds": int(holds), "of": len(rows)}


def load_verdicts(folder: str | Path | None = None) -> list[Verdict]:
    """All verdicts under ``folder`` (default ``IBCORE_RESULTS``), sorted by chapter and claim."""
    folder = Path(folder) if folder is not None else results_dir()
    out = []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text())
        if "claim" not in d or "status" not in d:
            continue
        for k in ("value", "spread", "threshold", "bound"):
            d[k] = _nan_for_none(d.get(k, math.nan))
        d["per_seed"] = _nan_for_none(d["per_seed"])
        known = set(Verdict.__dataclass_fields__)
        out.append(Verdict(**{k: v for k, v in d.items() if k in known}))
    return sorted(out, key=lambda v: (v.chapter, v.claim))
