"""Run every bench/bench_*.py in its own process and print one combined table (``make bench``).

``--full`` (``make bench FULL=1``) is passed on to every script: the long figures are then
measured at full size instead of extrapolated from shorter runs (see bench/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _num(x: object, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def main() -> int:
    args = [a for a in sys.argv[1:] if a == "--full"]
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name} {' '.join(args)}...", flush=True)
        proc = subprocess.run([sys.executable, str(script), *args], cwd=HERE.parent)
        if proc.returncode != 0:
            failed.append(script.name)
    rows = []
    for js in sorted(HERE.glob("*.json")):
        if js.name == "results.json":
            continue
        data = json.loads(js.read_text())
        for r in data if isinstance(data, list) else data.get("records", []):
            rows.append({"suite": js.stem, **r})
    (HERE / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n== all benchmarks ({'full' if args else 'quick'} mode; medians and spreads of "
          "several runs; bench/results.json)")  # fmt: skip
    print(f"{'suite':13s} {'case':62s} {'median':>10s} {'spread':>9s} {'runs':>4s}  target")
    for r in rows:
        med = r.get("median", r.get("median_s"))
        print(f"{r['suite']:13s} {str(r.get('case', r.get('name', '?'))):62s} "
              f"{_num(med, '10.4g'):>10s} {_num(r.get('spread'), '9.3g'):>9s} "
              f"{r.get('runs', 0):4d}  {r.get('target', '-')} [{r.get('unit', '')}]"
              + (f"  ({r['note']})" if r.get("note") else ""))  # fmt: skip
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
