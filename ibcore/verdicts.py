"""Machine-readable verdicts (all chapters): one record per claim, ``results/<claim>.json``.

The rule (:func:`judge`): the one-sided 95 % Student-t bounds m ± t(0.95, n−1)·s/√n over seeds.
A claim needing ``value >= threshold`` is ``reproduced`` when the lower bound clears it, ``not
reproduced`` when the upper one does not reach it, else (or n < 2, NaN) ``inconclusive``;
``smoke-only`` at scale smoke; mirrored for ``<=``. Not a bootstrap: too narrow at 5–10 seeds.
The same test gives a one-sided p-value (``p < 0.05`` exactly when the bound clears the threshold).

Every record has a *kind* (:data:`KINDS`): the chapter's one ``primary`` verdict, pre-registered
on confirmatory seeds (:class:`Primary`) and Holm-corrected with the other chapters' primaries
(:func:`holm`); ``secondary`` (exploratory) verdicts; and ``check`` records, which test what holds
by construction or cannot fail in practice and read ``check holds`` / ``check fails``, never
``reproduced``.
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
CHECK_STATUSES = {"reproduced": "check holds", "not reproduced": "check fails",
                  "inconclusive": "check unclear", "smoke-only": "smoke-only"}  # fmt: skip
"""A check's status for each status of the rule: a check is never *reproduced*."""
KINDS = ("primary", "secondary", "check")
KIND_LABELS = {"primary": "primary (pre-registered)", "secondary": "secondary (exploratory)",
               "check": "check"}  # fmt: skip
DIRECTIONS = (">=", "<=")
DIRECTION_SIGNS = {">=": "≥", "<=": "≤"}
"""How a direction is printed on the book's pages."""
FAMILY_ALPHA = 0.05
"""Family-wise error rate of the Holm correction over the chapters' primary verdicts."""
_COLOURS = {"reproduced": "#116329", "not reproduced": "#cf222e", "inconclusive": "#875b00",
            "smoke-only": "#57606a", "check holds": "#0550ae", "check fails": "#6639ba",
            "check unclear": "#57606a"}  # fmt: skip


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
    calibration_values: tuple[float, ...] = ()
    """The metric on each calibration seed (shown beside the threshold); empty where the
    threshold was fixed by principle before any run."""

    def __post_init__(self) -> None:
        check_choice("direction", self.direction, DIRECTIONS)


MIN_PRIMARY_SEEDS = {"full": 3}
"""Fewest confirmatory seeds of a primary, by scale (5 where not listed): a `full` run pays for
its scale with fewer seeds, and its Student-t bound is the wider for it."""


@dataclass(frozen=True)
class Primary:
    """A chapter's primary verdict: the one answer to its paper's headline sentence (``quote``),
    pre-registered with its metric, threshold, direction, confirmatory seeds, settings and null in
    a commit older than its first run (all chapters; the five primaries form one Holm family).

    ``settings``: the chapter parameters (and analysis settings) it is judged with; a run whose
    scale, seeds or parameters differ is reported but marked not confirmatory. ``fails_if``: the
    outcome of the runs that would read *not reproduced*."""

    claim: str
    chapter: str
    paper: str
    quote: str
    statement: str
    metric: str
    threshold: float
    direction: str
    seeds: tuple[int, ...]
    scale: str
    settings: Mapping[str, Any]
    null: str
    reasoning: str
    fails_if: str

    def __post_init__(self) -> None:
        check_choice("direction", self.direction, DIRECTIONS)
        least = MIN_PRIMARY_SEEDS.get(self.scale, 5)
        if len(self.seeds) < least or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"primary {self.claim!r} at scale {self.scale!r} needs at least "
                             f"{least} distinct seeds")  # fmt: skip

    def preregistration(self) -> Preregistration:
        """The rule part of the record, as every verdict carries it."""
        return Preregistration(self.claim, self.metric, self.threshold, self.direction, (),
                               self.reasoning, self.null)  # fmt: skip

    def confirmatory(self, params: Mapping[str, Any], seeds: Sequence[int]) -> str:
        """'' when a run with ``params`` on ``seeds`` is the pre-registered one, else why not."""
        if str(params.get("scale")) != self.scale:
            return f"scale {params.get('scale')!r}, not the pre-registered {self.scale!r}"
        if [int(s) for s in seeds] != list(self.seeds):
            return "other seeds than the pre-registered confirmatory seeds"
        for k, v in self.settings.items():
            if k in params and _plain(params[k]) != _plain(v):
                return f"parameter {k!r} = {params[k]!r}, not the pre-registered {v!r}"
        return ""


def _plain(v: Any) -> Any:
    """``v`` with tuples as lists, for comparing a parameter with its registered value."""
    return [_plain(x) for x in v] if isinstance(v, list | tuple) else v


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
    p_value: float
    """One-sided p-value of the t-test of 'the mean is on the failing side of the threshold'."""


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


def p_value(values: Sequence[float], threshold: float, direction: str) -> float:
    """One-sided p-value of Student's t-test of H0 'mean <= threshold' (``>=`` claims; mirrored
    for ``<=``); ``p < 1 − CONFIDENCE`` exactly when :func:`judge`'s bound clears the threshold.
    NaN for n < 2 or a non-finite value; with no spread, 0 if the mean passes strictly, else 1."""
    from scipy.stats import t

    check_choice("direction", direction, DIRECTIONS)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size < 2 or not np.isfinite(v).all():
        return math.nan
    gap = float(v.mean()) - threshold if direction == ">=" else threshold - float(v.mean())
    se = float(v.std(ddof=1)) / math.sqrt(v.size)
    if se == 0.0:
        return 0.0 if gap > 0 else 1.0
    return float(t.sf(gap / se, v.size - 1))


def holm(p_values: Sequence[float], alpha: float = FAMILY_ALPHA) -> tuple[list[float], list[bool]]:
    """Holm's step-down adjusted p-values and decisions (adjusted p <= ``alpha``) for one family
    (the book's primary verdicts). A NaN p-value (no usable run) counts as 1."""
    p = np.array([1.0 if not math.isfinite(float(x)) else float(x) for x in p_values])
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist(), [bool(a <= alpha) for a in adjusted]


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
    p = p_value(v, threshold, direction)
    return Judgement(status, mean, spread, int(v.size), bound, other, n_pass, p)


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
    kind: str = "secondary"
    """One of :data:`KINDS`."""
    p_value: float = math.nan
    """One-sided p-value of the rule's t-test (:func:`p_value`)."""
    calibration_values: list[float] = field(default_factory=list)
    unit: str = "seed"
    """What one value of ``per_seed`` is: a seed, or (for a correlation over seeds) a cell."""
    preregistration: dict[str, Any] = field(default_factory=dict)
    """Primaries: the quote, seeds, settings, ``fails_if``, the pre-registration commit and date,
    the first run's commit and date, and ``confirmatory`` ('' or why this run is not)."""

    @property
    def counts(self) -> bool:
        """Whether the record is a verdict (primary or secondary), not a check."""
        return self.kind != "check"

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

    def mean_text(self, digits: int = 3, signed: bool = False) -> str:
        """``value ± spread`` to ``digits`` significant digits, or, when no seed gave a value,
        the reason in words (never ``nan``)."""
        if not math.isfinite(self.value):
            return "no value — " + (self.note or "no seed gave a usable value")
        sign = "+" if signed else ""
        return f"{self.value:{sign}.{digits}g} ± {self.spread:.2g}"

    def bound_text(self, digits: int = 3) -> str:
        """The bound on the failing side to ``digits`` significant digits, or why there is none
        (never ``nan``)."""
        if not math.isfinite(self.bound):
            return "none (fewer than two values)"
        return f"{self.bound:.{digits}g}"

    def summary(self) -> str:
        """One line: claim, status, value ± spread, its bound vs threshold."""
        return (
            f"[{self.status}] {self.claim}: {self.metric} = {self.mean_text()} "
            f"(n={len(self.per_seed)}, 95% bound {self.bound_text()}, {self.n_pass} seeds pass), "
            f"needs {self.direction} {self.threshold:g}"
        )

    @property
    def robustness(self) -> str:
        """'k of m' settings of the sensitivity record in which the status holds, or ''."""
        s = self.sensitivity
        return f"{s['holds']} of {s['of']}" if s.get("of") else ""

    def _repr_html_(self) -> str:
        # A translucent background and inherited text; the book's ibcore.css swaps the status
        # colour for a lighter one in dark mode (``data-status``).
        c = _COLOURS.get(self.status, "#57606a")
        e = html.escape
        seeds = ", ".join(f"{x:.3g}" if math.isfinite(x) else "no value" for x in self.per_seed)
        side = "lower" if self.direction == ">=" else "upper"
        title = {"primary": "Primary verdict", "secondary": "Secondary verdict (exploratory)",
                 "check": "Check"}.get(self.kind, "Verdict")  # fmt: skip
        cal = ""
        if self.calibration_values:
            cal = " (calibration seeds gave " + ", ".join(
                f"{x:.3g}" for x in self.calibration_values) + ")"  # fmt: skip
        p = f"; one-sided p = {self.p_value:.2g}" if math.isfinite(self.p_value) else ""
        rows = [
            f'<div class="ibv-head" style="font-weight:bold;color:{c}">{e(title)} — '
            f"{e(self.status.upper())}"
            f' <span style="opacity:0.75;font-weight:normal">({e(self.claim)}, scale '
            f"{e(self.scale)})</span></div>",
        ]
        pre = self.preregistration
        if pre.get("quote"):
            rows.append(f"<div><i>“{e(pre['quote'])}”</i></div>")
        rows += [
            f"<div>{e(self.statement)}</div>",
            f"<div><code>{e(self.metric)}</code> = <b>{e(self.mean_text(4))}</b> "
            f"over {len(self.per_seed)} {e(self.unit)}(s) [{e(seeds)}]; 95 % {side} bound "
            f"<b>{e(self.bound_text(4))}</b>{p}; needs {e(self.direction)} {self.threshold:g}"
            f"{e(cal)}; {self.n_pass} of {len(self.per_seed)} {e(self.unit)}s pass on their own"
            "</div>",
        ]
        if self.null:
            rows.append(
                f"<div>Null: {e(str(self.null.get('name', '')))} — "
                f"{float(self.null.get('value', math.nan)):.4g} (mean over its seeds)</div>"
            )
        if self.sensitivity.get("of"):
            rows.append(
                f"<div>The status holds in {self.robustness} analysis settings (see the "
                "chapter's sensitivity table)</div>"
            )
        if self.kind == "primary":
            rows.append(f'<div class="ibv-muted">{e(primary_provenance(pre))}</div>')
            if self.reasoning:
                rows.append(f'<div class="ibv-muted">Threshold: {e(self.reasoning)}</div>')
        else:
            cals = ", ".join(str(x) for x in self.calibration_seeds) or "none recorded"
            why = f"Threshold fixed on calibration seeds {cals}"
            rows.append(f'<div class="ibv-muted">{e(why)}' + (
                f": {e(self.reasoning)}</div>" if self.reasoning else "</div>"))  # fmt: skip
        if self.note:
            rows.append(f'<div class="ibv-muted">{e(self.note)}</div>')
        rows.append(
            f'<div class="ibv-muted" style="font-size:85%">{e(self.paper)} · params {self.params_hash}'
            f" · ibcore {e(self.ibcore_version)} · {e(self.device)} · {self.runtime_s:.0f} s</div>"
        )
        return (
            f'<div class="ibcore-verdict" id="verdict-{e(self.claim)}" '
            f'data-status="{e(self.status)}" data-kind="{e(self.kind)}" style="border-left:6px '
            f"solid {c};padding:0.6em 1em;margin:0.8em 0;background:rgba(127,127,127,0.10);"
            f'color:inherit">' + "".join(rows) + "</div>"
        )


def primary_provenance(pre: Mapping[str, Any]) -> str:
    """One sentence on a primary's pre-registration: its commit and date, the first run on its
    confirmatory seeds, and whether this run is the confirmatory one."""
    seeds = ", ".join(str(s) for s in pre.get("seeds", []))
    out = f"Pre-registered on confirmatory seeds {seeds}"
    if pre.get("prereg_commit"):
        out += f" in commit {pre['prereg_commit']} ({pre.get('prereg_date', '?')})"
    else:
        out += " (pre-registration commit not recorded)"
    if pre.get("first_run_commit"):
        out += f"; first run on them at commit {pre['first_run_commit']} ({pre.get('first_run_date', '?')})"
    why = pre.get("confirmatory", "")
    out += ". " + ("This run is the confirmatory one." if not why
                   else f"This run is not confirmatory: {why}.")  # fmt: skip
    if pre.get("fails_if"):
        out += f" It would read not reproduced if {pre['fails_if']}."
    return out


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
    kind: str = "secondary",
    unit: str = "seed",
) -> Verdict:
    """Judge ``values`` (one per seed) and build the :class:`Verdict`; ``prereg`` supplies metric,
    threshold and direction (a different ``threshold``, a reader's parameter, is noted). A
    ``check`` reads ``check holds`` / ``check fails`` (:data:`CHECK_STATUSES`); primaries are
    built by :func:`make_primary`."""
    from ibcore import __version__

    check_choice("kind", kind, KINDS)
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
    status = CHECK_STATUSES[j.status] if kind == "check" else j.status
    return Verdict(
        claim=claim, chapter=chapter, paper=paper, statement=statement, metric=metric,
        value=j.mean, spread=j.spread, per_seed=[float(x) for x in values],
        threshold=float(threshold), direction=direction, status=status, scale=scale,
        parameters=dict(params), params_hash=params_hash(params), ibcore_version=__version__,
        device=str(device), runtime_s=float(runtime_s), note=note, n=j.n, bound=j.bound,
        n_pass=j.n_pass,
        calibration_seeds=list(prereg.calibration_seeds) if prereg else [],
        reasoning=prereg.reasoning if prereg else "", null=nul,
        sensitivity=dict(sensitivity or {}), kind=kind, p_value=j.p_value, unit=unit,
        calibration_values=list(prereg.calibration_values) if prereg else [],
    )  # fmt: skip


def make_primary(
    primary: Primary,
    *,
    values: Sequence[float],
    seeds: Sequence[int],
    params: Mapping[str, Any],
    device: str,
    runtime_s: float,
    record: Mapping[str, Any] | None = None,
    null: Mapping[str, Any] | None = None,
    sensitivity: Mapping[str, Any] | None = None,
    note: str = "",
) -> Verdict:
    """The chapter's primary verdict from ``values`` (one per seed of ``seeds``, in order), judged
    by the pre-registered rule of ``primary``; ``record`` holds the commits and dates of its
    pre-registration and first run (all chapters). A run off the registered scale, seeds or
    settings is judged the same way and marked not confirmatory."""
    if len(values) != len(seeds):
        raise ValueError(f"{len(values)} values for {len(seeds)} seeds: one value per seed")
    v = make_verdict(
        claim=primary.claim, chapter=primary.chapter, paper=primary.paper,
        statement=primary.statement, values=values, params=params, device=device,
        runtime_s=runtime_s, prereg=primary.preregistration(), null=null,
        sensitivity=sensitivity, note=note, kind="primary",
    )  # fmt: skip
    v.preregistration = {
        "quote": primary.quote, "seeds": [int(s) for s in primary.seeds],
        "scale": primary.scale, "settings": dict(primary.settings),
        "fails_if": primary.fails_if, **dict(record or {}),
        "run_seeds": [int(s) for s in seeds],
        "confirmatory": primary.confirmatory(params, seeds),
    }  # fmt: skip
    return v


def sensitivity_record(
    settings: Sequence[Mapping[str, Any]],
    values: Sequence[Sequence[float]],
    threshold: float | Sequence[float],
    direction: str,
    scale: str,
    status: str,
) -> dict[str, Any]:
    """A verdict's status under each analysis setting (``settings[i]`` gave ``values[i]``);
    ``holds`` counts those equal to ``status`` (for a check, those whose rule status reads as it:
    ``reproduced`` is ``check holds``). ``threshold`` may be one per setting."""
    if len(settings) != len(values):
        raise ValueError(f"{len(settings)} settings but {len(values)} value lists")
    thresholds = [threshold] * len(settings) if np.isscalar(threshold) else list(threshold)
    if len(thresholds) != len(settings):
        raise ValueError(f"{len(settings)} settings but {len(thresholds)} thresholds")
    rows = []
    for st, vs, thr in zip(settings, values, thresholds, strict=True):
        j = judge(vs, float(thr), direction, scale)
        rows.append({**dict(st), "value": j.mean, "bound": j.bound, "status": j.status})
    holds = sum(status in (r["status"], CHECK_STATUSES.get(r["status"])) for r in rows)
    return {"settings": rows, "holds": int(holds), "of": len(rows)}


def load_verdicts(folder: str | Path | None = None) -> list[Verdict]:
    """All verdicts under ``folder`` (default ``IBCORE_RESULTS``), sorted by chapter and claim."""
    folder = Path(folder) if folder is not None else results_dir()
    out = []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text())
        if "claim" not in d or "status" not in d:
            continue
        for k in ("value", "spread", "threshold", "bound", "p_value"):
            d[k] = _nan_for_none(d.get(k, math.nan))
        d["per_seed"] = _nan_for_none(d["per_seed"])
        known = set(Verdict.__dataclass_fields__)
        out.append(Verdict(**{k: v for k, v in d.items() if k in known}))
    return sorted(out, key=lambda v: (v.chapter, v.claim))
