"""Helpers for the benchmark scripts: repeated timing with median and spread, JSON output.

Every script runs in a quick mode by default and in full mode with ``--full`` (``make bench
FULL=1``): quick mode measures the long figures (the paper-scale run, the 50-seed ensemble, the
chapters' ``cpu`` defaults) on shorter runs and extrapolates, or leaves them out, and says so in
the record's ``note``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def full_mode() -> bool:
    """Whether the benchmarks run at full size (``--full`` or ``IBCORE_BENCH_FULL=1``)."""
    return "--full" in sys.argv[1:] or os.environ.get("IBCORE_BENCH_FULL", "0") == "1"


def timeit(fn: Callable[[], object], runs: int = 5, warmup: int = 1) -> tuple[float, float]:
    """Median and spread (max − min) in seconds of ``runs`` calls of ``fn`` after ``warmup``."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), max(ts) - min(ts)


def med_spread(xs: list[float]) -> tuple[float, float]:
    """Median and spread (max − min) of ``xs``."""
    return float(statistics.median(xs)), float(max(xs) - min(xs))


def record(
    case: str,
    median: float | None,
    spread: float | None,
    runs: int,
    unit: str,
    target: str,
    note: str = "",
) -> dict:
    """One benchmark record (see bench/README.md); ``median`` None = not measured (see note)."""
    r = dict(case=case, median=median, spread=spread, runs=runs, unit=unit, target=target)
    if note:
        r["note"] = note
    return r


def load() -> str:
    """The machine's 1-minute load average and core count, e.g. 'load 2.31 on 2 cores'."""
    try:
        la = os.getloadavg()[0]
    except OSError:
        return f"{os.cpu_count()} cores"
    return f"load {la:.2f} on {os.cpu_count()} cores"


def _num(x: float | None, fmt: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, fmt)


def report(name: str, records: list[dict]) -> None:
    """Print a table of ``records`` and write them to ``bench/<name>.json``."""
    print(f"\n== {name} ({load()}{', full mode' if full_mode() else ''})")
    print(f"{'case':62s} {'median':>10s} {'spread':>9s} {'runs':>4s}  target")
    for r in records:
        print(
            f"{r['case']:62s} {_num(r['median'], '10.4g'):>10s} {_num(r['spread'], '9.3g'):>9s} "
            f"{r['runs']:4d}  {r['target']} [{r['unit']}]"
            + (f"  ({r['note']})" if r.get("note") else "")
        )
    (HERE / f"{name}.json").write_text(json.dumps(records, indent=2) + "\n")
