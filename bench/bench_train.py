"""Training-loop benchmarks: the 12-10-7-5-4-3-2 net on the 12-bit task (chapters 0 and 2)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

from common import record, report, timeit  # noqa: E402

from ibcore.experiments import szt_run  # noqa: E402


def main() -> None:
    recs = []
    med, spr = timeit(lambda: szt_run(seed=0, epochs=100, snapshots=10), runs=5)
    recs.append(record("szt net, 100 epochs, 10 snapshots (one seed)", med, spr, 5, "s", "-"))
    recs.append(record("  -> per epoch", med / 100, spr / 100, 5, "s", "-"))
    recs.append(
        record(
            "  -> paper run estimate (8000 epochs)",
            med * 80,
            spr * 80,
            5,
            "s",
            "< 180 s (issue 4, with EBAB at 274 snapshots)",
        )  # fmt: skip
    )
    report("train", recs)


if __name__ == "__main__":
    main()
