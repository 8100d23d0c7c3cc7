"""Helpers for the benchmark scripts: repeated timing with median and spread, JSON output."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


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


def record(case: str, median: float, spread: float, runs: int, unit: str, target: str) -> dict:
    """One benchmark record (see bench/README.md)."""
    return dict(case=case, median=median, spread=spread, runs=runs, unit=unit, target=target)


def report(name: str, records: list[dict]) -> None:
    """Print a table of ``records`` and write them to ``bench/<name>.json``."""
    print(f"\n== {name}")
    print(f"{'case':58s} {'median':>10s} {'spread':>9s} {'runs':>4s}  target")
    for r in records:
        print(
            f"{r['case']:58s} {r['median']:10.4g} {r['spread']:9.3g} {r['runs']:4d}  "
            f"{r['target']} [{r['unit']}]"
        )
    (HERE / f"{name}.json").write_text(json.dumps(records, indent=2) + "\n")
