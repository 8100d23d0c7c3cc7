"""Parameter sweeps of any chapter (``make sweep NB=00 GRID="activation=tanh,relu seeds=0-9"``):
one papermill execution per grid point, on local processes or a Dask cluster (``--scheduler``).

Grid: ``key=v1,v2,...``; ``a-b`` is an inclusive range; ``+`` joins a list value's items.
``seeds`` values are seed numbers, one per point. Points go to ``<results>/sweeps/<chapter>/<grid
hash>/<point>/`` with the summary beside them; a rerun runs only the unfinished points.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import os
import re
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibcore.atomic import atomic_write_bytes, atomic_write_text
from ibcore.book.interrupt import on_interrupt
from ibcore.cache import params_hash
from ibcore.parallel import imap_unordered
from ibcore.paths import cache_dir, results_dir
from ibcore.schema import SCALES, Param, ParameterError, _parse_item

SCHEDULER_ENV = ("IBCORE_DASK_SCHEDULER", "DASK_SCHEDULER_ADDRESS")
MAX_POINTS = 10_000
POINT_FILE = "point.json"
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_LOCK = threading.Lock()  # one execution at a time per process (the kernel inherits os.environ)


@dataclass(frozen=True)
class Point:
    """One grid point: its values of the grid keys, its folder name and its notebook parameters."""

    values: dict[str, Any]
    name: str
    parameters: dict[str, Any]


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: the grid folder, one record per point, and the summary files."""

    folder: Path
    keys: list[str]
    records: list[dict[str, Any]]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    table_csv: Path | None = None
    table_md: Path | None = None
    figure: Path | None = None

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Records of the points that failed (with ``error``)."""
        return [r for r in self.records if r.get("status") != "ok"]


def parse_grid(items: str | Sequence[str]) -> dict[str, list[str]]:
    """``"a=1,2 b=3-5"`` (or its items) → ``{"a": ["1", "2"], "b": ["3", "4", "5"]}`` (text)."""
    tokens = items.split() if isinstance(items, str) else [t for i in items for t in i.split()]
    if not tokens:
        raise ParameterError("the grid is empty; give items like activation=tanh,relu seeds=0-4")
    grid: dict[str, list[str]] = {}
    for tok in tokens:
        key, sep, rest = tok.partition("=")
        if not sep or not key or not rest:
            raise ParameterError(f"grid item {tok!r} is not of the form key=v1,v2 or key=a-b")
        if key in grid:
            raise ParameterError(f"grid parameter {key!r} is given twice")
        values: list[str] = []
        for v in rest.split(","):
            v = v.strip()
            if not v:
                raise ParameterError(f"grid item {tok!r} has an empty value")
            m = _RANGE.match(v)
            if not m:
                values.append(v)
                continue
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise ParameterError(f"grid range {key}={v} is empty (it needs a <= b)")
            if b - a >= MAX_POINTS:
                raise ParameterError(f"grid range {key}={v} has more than {MAX_POINTS} values")
            values += [str(i) for i in range(a, b + 1)]
        if len(set(values)) != len(values):
            raise ParameterError(f"grid parameter {key!r} repeats a value: {values}")
        grid[key] = values
    return grid


def _convert(key: str, text: str, spec: Param) -> Any:
    """Text of one grid value → the Python value the chapter's parameter expects."""
    import yaml

    if spec.many:
        return text.replace("+", ",")  # Param.check splits and converts the items
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    return yaml.safe_load(text) if bool in kinds else _parse_item(text, spec.kind)


def _fmt(v: Any) -> str:
    if isinstance(v, list | tuple):
        return "+".join(_fmt(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _what(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in values.items())


def _point_name(values: Mapping[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9._=+-]", "_", "__".join(f"{k}={_fmt(v)}" for k, v in values.items()))
    return f"{name[:100]}__{params_hash(dict(values))[:8]}" if len(name) > 120 else name


def build_points(
    chapter: str, grid: Mapping[str, Sequence[str]], fixed: Mapping[str, Any] | None = None
) -> list[Point]:
    """Expand ``grid`` into points of ``chapter``, each checked against its schema in advance."""
    from ibcore.claims import chapter as find

    ch = find(chapter)
    schema = {"scale": Param(str, "preset", choices=SCALES), **ch.params}
    fixed = dict(fixed or {})
    ch.check_names([*grid, *fixed])
    clash = sorted(set(grid) & set(fixed))
    if clash:
        raise ParameterError(f"parameter {clash[0]!r} is both in the grid and fixed")
    converted: dict[str, list[Any]] = {}
    for key, texts in grid.items():
        spec = schema[key]
        vals = []
        for t in texts:
            if key == "seeds":
                if not t.isdigit():
                    raise ParameterError(
                        f"grid parameter 'seeds' = {t!r}: in a grid, seeds are seed numbers "
                        "(e.g. seeds=0-49 or seeds=3,7), one seed per point"
                    )
                v: Any = int(t)
                spec.check(key, [v])
            else:
                v = _convert(key, t, spec)
                spec.check(key, v)  # one clear line naming the parameter and the allowed values
            vals.append(v)
        converted[key] = vals
    n = math.prod(len(v) for v in converted.values())
    if n > MAX_POINTS:
        raise ParameterError(f"the grid has {n} points; at most {MAX_POINTS} are allowed")
    points = []
    for combo in itertools.product(*converted.values()):
        values = dict(zip(converted, combo, strict=True))
        params = {**fixed, **values}
        if "seeds" in values:
            params["seeds"] = [values["seeds"]]
        scale = params.pop("scale", "cpu")
        ch.resolve(scale, **params)  # the whole set, as the notebook will check it
        points.append(Point(values, _point_name(values), {"scale": scale, **params}))
    return points


def grid_hash(nb_stem: str, grid: Mapping[str, Sequence[str]], fixed: Mapping[str, Any]) -> str:
    """Short hash naming a grid's folder: chapter, grid (keys in order, values) and fixed values."""
    return params_hash({"nb": nb_stem, "grid": [[k, list(v)] for k, v in grid.items()],
                        "fixed": dict(fixed)})  # fmt: skip


def _error_line(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}".strip()
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}".strip()


def run_point(
    nb: str,
    folder: str,
    parameters: Mapping[str, Any],
    cache: str | None = None,
    timeout_s: int | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Execute chapter ``nb`` into ``folder`` (emptied first) in a sweep worker; never raises.
    Returns the record written to ``point.json``."""
    from ibcore.book.pipeline import execute

    out = Path(folder)
    nb_path = Path(nb)
    record: dict[str, Any] = {"parameters": dict(parameters), "notebook": nb_path.name}
    t0 = time.perf_counter()
    with _LOCK:
        try:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True, exist_ok=True)
            env = {"IBCORE_RESULTS": str(out), "IBCORE_PROGRESS": "0"}
            if cache:
                env["IBCORE_CACHE"] = str(cache)
            if threads and "OMP_NUM_THREADS" not in os.environ:
                for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                    env[var] = str(threads)
            execute(nb_path, out / f"{nb_path.stem}.ipynb", parameters, env=env,
                    timeout_s=timeout_s)  # fmt: skip
            record.update(status="ok", error="")
        except BaseException as exc:  # noqa: BLE001 - reported, never raised (a failed point)
            record.update(status="failed", error=_error_line(exc))
            record["traceback"] = "".join(traceback.format_exception(exc))[-4000:]
            if isinstance(exc, KeyboardInterrupt):
                raise
    record["wall_s"] = time.perf_counter() - t0
    record["host"] = os.uname().nodename
    try:
        atomic_write_text(out / POINT_FILE, json.dumps(record, indent=2, default=str) + "\n")
    except OSError as exc:
        record.update(status="failed", error=f"could not write {POINT_FILE}: {exc}")
    return record


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def point_done(folder: Path, nb_stem: str) -> bool:
    """Whether a point's output is complete: ``point.json`` says 'ok' and the notebook exists."""
    rec = _read_json(folder / POINT_FILE)
    return rec is not None and rec.get("status") == "ok" and (folder / f"{nb_stem}.ipynb").exists()


def _run_local(tasks: list[tuple[str, tuple]], jobs: int, on_done: Callable) -> None:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    argsets = [(*args, threads) for _, args in tasks]
    reported: set[str] = set()
    try:
        for i, rec in imap_unordered(run_point, argsets, jobs):
            reported.add(tasks[i][0])
            on_done(tasks[i][0], rec)
    except Exception as exc:  # a worker process itself died: the points not reported failed
        for name, _ in tasks:
            if name not in reported:
                on_done(name, {"status": "failed", "error": _error_line(exc)})


def _run_dask(scheduler: Any, tasks: list[tuple[str, tuple]], on_done: Callable) -> str:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="15s") if own else scheduler
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from None
    try:
        futs = {
            client.submit(run_point, *args, key=f"ibcore-sweep-{name}-{params_hash({'a': args})}",
                          pure=False): name
            for name, args in tasks
        }  # fmt: skip
        for fut in dask_completed(list(futs)):
            try:
                rec = fut.result()
            except Exception as exc:  # a lost worker, a task that could not be unpickled, ...
                rec = {"status": "failed", "error": _error_line(exc)}
            on_done(futs[fut], rec)
        return str(client.scheduler.address)
    finally:
        if own:
            client.close()


def run_sweep(
    nb: str | Path,
    grid: str | Sequence[str] | Mapping[str, Sequence[str]],
    fixed: Mapping[str, Any] | None = None,
    *,
    scheduler: Any = None,
    jobs: int | None = None,
    out: str | Path | None = None,
    cache: str | Path | None = None,
    timeout_s: int | None = None,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Run a parameter grid of chapter ``nb`` and summarise it; ``scheduler``: a Dask address or
    ``Client`` (default :data:`SCHEDULER_ENV`; none: ``jobs`` local processes). Never raises for
    a failed point (``result.failed``)."""
    from ibcore.book.pipeline import find_notebook

    nb_path = find_notebook(str(nb)).resolve()
    parsed = dict(grid) if isinstance(grid, Mapping) else parse_grid(grid)
    parsed = {k: [str(v) for v in vs] for k, vs in parsed.items()}
    fixed = dict(fixed or {})
    points = build_points(nb_path.stem[:2], parsed, fixed)
    ghash = grid_hash(nb_path.stem, parsed, fixed)
    root = Path(out) if out is not None else results_dir() / "sweeps"
    folder = (root / nb_path.stem / ghash).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    cache = str(Path(cache).resolve() if cache is not None else cache_dir().resolve())
    spec = {"notebook": nb_path.name, "grid": parsed, "fixed": fixed, "points": len(points),
            "hash": ghash}  # fmt: skip
    atomic_write_text(folder / "grid.json", json.dumps(spec, indent=2, default=str) + "\n")

    todo = [p for p in points if not point_done(folder / p.name, nb_path.stem)]
    skipped = [p.name for p in points if p not in todo]
    if scheduler is None:
        scheduler = next((os.environ[v] for v in SCHEDULER_ENV if os.environ.get(v)), None)
    where = "local processes" if scheduler is None else f"Dask scheduler {scheduler}"
    log(f"sweep {nb_path.stem} [{ghash}]: {len(points)} points, {len(skipped)} already done, "
        f"{len(todo)} to run on {where}; output {folder}")  # fmt: skip
    by_name = {p.name: p for p in points}
    done_count = [0]

    def on_done(name: str, rec: dict[str, Any]) -> None:
        done_count[0] += 1
        p = by_name[name]
        rec.setdefault("parameters", p.parameters)
        if rec.get("status") != "ok" and not (folder / name / POINT_FILE).exists():
            atomic_write_text(folder / name / POINT_FILE, json.dumps(rec, default=str) + "\n")
        if rec.get("status") == "ok":
            log(f"[{done_count[0]}/{len(todo)}] ok      {_what(p.values)} "
                f"({rec.get('wall_s', 0):.1f} s)")  # fmt: skip
        else:
            log(f"[{done_count[0]}/{len(todo)}] FAILED  {_what(p.values)}: {rec.get('error')}")

    tasks = [(p.name, (str(nb_path), str(folder / p.name), p.parameters, cache, timeout_s))
             for p in todo]  # fmt: skip
    if tasks and scheduler is None:
        _run_local(tasks, max(1, min(len(tasks), jobs or os.cpu_count() or 1)), on_done)
    elif tasks:
        _run_dask(scheduler, tasks, on_done)

    records = [_load_record(folder / p.name, p) for p in points]
    result = SweepResult(folder=folder, keys=list(parsed), records=records,
                         ran=[p.name for p in todo], skipped=skipped)  # fmt: skip
    write_summary(result)
    n_fail = len(result.failed)
    log(f"sweep done: {len(points) - n_fail} ok, {n_fail} failed; table {result.table_md}, "
        f"figure {result.figure}")  # fmt: skip
    for r in result.failed:
        log(f"  failed: {_what(r['values'])}: {r.get('error')}")
    return result


def _load_record(folder: Path, p: Point) -> dict[str, Any]:
    """A point's record with its grid values and the verdicts its chapter wrote."""
    rec = _read_json(folder / POINT_FILE)
    if rec is None:
        rec = {"status": "failed", "error": "no output (the point never finished)"}
    rec["name"], rec["values"] = p.name, dict(p.values)
    verdicts = {}
    if rec.get("status") == "ok":
        for f in sorted(folder.glob("*.json")):
            d = _read_json(f)
            if isinstance(d, dict) and "claim" in d and "status" in d:
                verdicts[d["claim"]] = d
    rec["verdicts"] = verdicts
    rec.pop("traceback", None)
    return rec


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _claims(result: SweepResult) -> list[str]:
    return sorted({c for r in result.records for c in r["verdicts"]})


def _values(recs: list[dict[str, Any]], claim: str) -> np.ndarray:
    return np.array([_num(r["verdicts"][claim]["value"]) for r in recs if claim in r["verdicts"]])


def summary_rows(result: SweepResult) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the comparison table: grid values, status, per-claim status and value."""
    claims = _claims(result)
    cols = [*result.keys, "status", "wall_s"]
    cols += [*(f"{c}:{k}" for c in claims for k in ("status", "value")), "error"]
    rows = []
    for r in result.records:
        row: dict[str, Any] = {k: _fmt(r["values"][k]) for k in result.keys}
        row["status"] = r.get("status", "failed")
        row["wall_s"] = round(float(r.get("wall_s") or float("nan")), 1)
        for c in claims:
            v = r["verdicts"].get(c)
            row[f"{c}:status"] = v["status"] if v else ""
            row[f"{c}:value"] = _num(v["value"]) if v else float("nan")
        row["error"] = r.get("error", "")
        rows.append(row)
    return cols, rows


def _groups(result: SweepResult) -> dict[tuple, list[dict[str, Any]]]:
    """Records grouped by their grid values other than ``seeds``."""
    keys = [k for k in result.keys if k != "seeds"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in result.records:
        groups.setdefault(tuple(_fmt(r["values"][k]) for k in keys), []).append(r)
    return groups


def write_summary(result: SweepResult) -> None:
    """Write ``summary.csv``, ``summary.md`` and ``summary.png`` into the grid folder."""
    cols, rows = summary_rows(result)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    result.table_csv = result.folder / "summary.csv"
    atomic_write_text(result.table_csv, buf.getvalue())

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")

    claims = _claims(result)
    lines = [f"# Sweep {result.folder.parent.name} [{result.folder.name}]", "",
             f"{len(rows)} points, {len(result.failed)} failed.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]  # fmt: skip
    lines += ["| " + " | ".join(cell(row[c]) for c in cols) + " |" for row in rows]
    if "seeds" in result.keys and claims:
        head = [*(k for k in result.keys if k != "seeds"), "seeds ok", *claims]
        lines += ["", "Mean ± std over seeds (successful points only):", ""]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for g, recs in _groups(result).items():
            ok = [r for r in recs if r.get("status") == "ok"]
            vals = []
            for c in claims:
                v = _values(ok, c)
                sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
                vals.append(f"{v.mean():.4g} ± {sd:.2g}" if v.size else "")
            lines.append("| " + " | ".join([*g, f"{len(ok)}/{len(recs)}", *vals]) + " |")
    result.table_md = result.folder / "summary.md"
    atomic_write_text(result.table_md, "\n".join(lines) + "\n")
    result.figure = result.folder / "summary.png"
    _figure(result, claims, result.figure)


def _figure(result: SweepResult, claims: list[str], path: Path) -> None:
    """One panel per claim: each point's verdict value, grouped by the non-seed grid values."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    groups = _groups(result)
    labels = [", ".join(g) or "all" for g in groups]
    n = max(1, len(claims))
    fig, axes = plt.subplots(1, n, figsize=(max(4.0, 0.9 * len(groups) + 2.5) * n, 3.6),
                             squeeze=False)  # fmt: skip
    if not claims:
        axes[0, 0].text(0.5, 0.5, "no successful point (no verdicts)", ha="center", va="center")
        axes[0, 0].set_axis_off()
    for ax, c in zip(axes[0], claims, strict=False):
        thr = None
        for i, recs in enumerate(groups.values()):
            v = _values(recs, c)
            for r in recs:
                if c in r["verdicts"]:
                    thr = (r["verdicts"][c]["threshold"], r["verdicts"][c]["direction"])
            if v.size:
                jitter = np.linspace(-0.15, 0.15, v.size) if v.size > 1 else np.zeros(1)
                ax.scatter(i + jitter, v, s=14, color="C0", alpha=0.6, zorder=2)
                sd = v.std(ddof=1) if v.size > 1 else 0.0
                ax.errorbar(i, np.nanmean(v), yerr=sd, fmt="o", color="k", capsize=4, zorder=3)
            n_fail = sum(r.get("status") != "ok" for r in recs)
            if n_fail:
                ax.annotate(f"{n_fail} failed", (i, 0), xycoords=("data", "axes fraction"),
                            xytext=(0, 3), textcoords="offset points", ha="center",
                            color="C3", fontsize=8)  # fmt: skip
        if thr is not None and thr[0] is not None:
            ax.axhline(thr[0], color="C3", ls="--", lw=1, label=f"claim needs {thr[1]} {thr[0]:g}")
            ax.legend(fontsize=8, loc="best")
        metric = next((r["verdicts"][c]["metric"] for r in result.records if c in r["verdicts"]), c)
        ax.set_title(c, fontsize=10)
        ax.set_ylabel(metric, fontsize=9)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    keys = [k for k in result.keys if k != "seeds"]
    fig.suptitle(f"Sweep {result.folder.parent.name}: verdict value per point"
                 + (f" by {', '.join(keys)}" if keys else "")
                 + (" (dots: seeds; bars: mean ± std)" if "seeds" in result.keys else ""),
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, png.getvalue())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ibcore.book.sweep NB key=v1,v2 ... [-p NAME VALUE] [--scheduler ADDR] [-j N]``
    (``make sweep``): exit 0 when every point succeeded, 1 when some failed, 2 on a bad grid."""
    from ibcore.book.pipeline import _coerce

    ap = argparse.ArgumentParser(
        prog="python -m ibcore.book.sweep",
        description="Run a parameter grid of a chapter (see the module docstring).",
    )
    ap.add_argument("nb", help="chapter number or name, e.g. 00")
    ap.add_argument("grid", nargs="+", help="grid items: key=v1,v2 or key=a-b (integer range)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                    metavar=("NAME", "VALUE"), help="a fixed parameter of every point")  # fmt: skip
    ap.add_argument("--scale", default=None, help="shorthand for -p scale SCALE")
    ap.add_argument("--scheduler", default=None,
                    help="Dask scheduler address, e.g. tcp://host:8786 "
                         f"(default: ${SCHEDULER_ENV[0]} or ${SCHEDULER_ENV[1]}; none: local)")  # fmt: skip
    ap.add_argument("--jobs", "-j", type=int, default=None, help="local worker processes")
    ap.add_argument("--out", type=Path, default=None, help="sweeps root (default results/sweeps)")
    ap.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    a = ap.parse_args(argv)
    fixed = {k: _coerce(v) for k, v in a.parameter}
    if a.scale:
        fixed["scale"] = a.scale
    stop = (
        "interrupted: the sweep stopped, its local workers and kernels with it (points "
        "already sent to a Dask cluster are the scheduler's to cancel). Finished points and "
        "cached runs are kept: the same `make sweep` command resumes from them."
    )
    try:
        with on_interrupt(stop):
            res = run_sweep(a.nb, a.grid, fixed, scheduler=a.scheduler, jobs=a.jobs, out=a.out,
                            timeout_s=a.timeout)  # fmt: skip
    except (ParameterError, ValueError) as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    print(res.table_md.read_text() if res.table_md else "")
    return 1 if res.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
