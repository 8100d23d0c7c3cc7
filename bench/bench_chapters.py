"""Each chapter's ``cpu`` default executed end to end (chapters 1–4): wall time against its target.

Full mode only (``--full``; minutes per chapter): every chapter runs once through papermill with
its default parameters, a cold cache and temporary results, one after the other. Quick mode
(default) lists the figures and their targets without running them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

from common import full_mode, record, report  # noqa: E402

from ibcore.book.pipeline import execute, notebooks  # noqa: E402

# target per chapter: its cpu default executes in under this many minutes on 2 cores
TARGETS = {"00": None, "01": 4, "02": 6, "03": 5, "04": 8}


def main() -> None:
    recs = []
    for nb in notebooks():
        minutes = TARGETS.get(nb.stem[:2])
        target = f"< {minutes} min" if minutes else "-"
        case = f"chapter {nb.stem}, cpu default, cold cache"
        if not full_mode():
            recs.append(record(case, None, None, 0, "s", target, "not run in quick mode (--full)"))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            env = {"IBCORE_RESULTS": str(Path(tmp) / "results"),
                   "IBCORE_CACHE": str(Path(tmp) / "cache"), "IBCORE_PROGRESS": "0"}  # fmt: skip
            t0 = time.perf_counter()
            try:
                execute(nb, Path(tmp) / f"{nb.stem}.ipynb", {"scale": "cpu"}, env=env)
                wall, note = time.perf_counter() - t0, "one run"
            except Exception as exc:
                wall, note = None, f"failed: {str(exc).strip().splitlines()[-1][:80]}"
        recs.append(record(case, wall, 0.0 if wall is not None else None, 1, "s", target, note))
    report("chapters", recs)


if __name__ == "__main__":
    main()
