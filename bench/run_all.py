"""Run every bench/bench_*.py in its own process and print one combined table (``make bench``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name} ...", flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
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
    print("\n== all benchmarks (medians; see bench/results.json)")
    for r in rows:
        med = r.get("median", r.get("median_s", float("nan")))
        print(f"{r['suite']:14s} {str(r.get('case', r.get('name', '?'))):58s} {med:10.4g} "
              f"{r.get('unit', '')}  target: {r.get('target', '-')}")  # fmt: skip
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
