"""Keep the primaries' pre-registration record (all chapters): which commit registered each
primary, and at which commit and date its confirmatory seeds first ran.

``python -m ibcore.book.preregister registered COMMIT [full]`` writes COMMIT (and its date) as the
pre-registration of every primary (of the ``full`` registrations, key ``claim@full``) that has
none; ``python -m ibcore.book.preregister first-run [RESULTS_DIR]`` takes, for every primary
still without one, the commit and date of its first confirmatory record in ``RESULTS_DIR``
(default ``IBCORE_RESULTS``), at the record's own scale. Neither ever overwrites an entry: a
record of the past is not edited.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ibcore.atomic import atomic_write_text
from ibcore.claims.primaries import FULL_PRIMARIES, PRIMARIES, RECORDS, record_key
from ibcore.paths import REPO_ROOT
from ibcore.verdicts import load_verdicts


def _load(path: Path) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else {}


def _save(path: Path, rec: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(path, json.dumps(rec, indent=2, sort_keys=True) + "\n")


def register(commit: str, path: Path = RECORDS, scale: str = "cpu") -> dict[str, dict[str, Any]]:
    """Record ``commit`` (resolved to its short hash) and its commit date as the pre-registration
    of every primary of ``scale`` (``cpu`` or ``full``) that has none yet."""
    if scale not in ("cpu", "full"):
        raise ValueError(f"parameter 'scale' = {scale!r}; choose one of ('cpu', 'full')")
    out = subprocess.run(["git", "show", "-s", "--format=%h %cI", commit], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    rec = _load(path)
    for p in (FULL_PRIMARIES if scale == "full" else PRIMARIES).values():
        entry = rec.setdefault(record_key(p.claim, scale), {})
        if not entry.get("prereg_commit"):
            entry.update(prereg_commit=out[0], prereg_date=out[1])
    _save(path, rec)
    return rec


def first_run(results: str | Path | None = None, path: Path = RECORDS) -> dict[str, dict[str, Any]]:
    """Record the commit and date of each primary's first confirmatory run found in ``results``
    (a record whose run was the pre-registered one), for primaries without one yet."""
    rec = _load(path)
    for v in load_verdicts(results):
        if v.kind != "primary" or v.preregistration.get("confirmatory", "x"):
            continue
        entry = rec.setdefault(record_key(v.claim, v.scale), {})
        if not entry.get("first_run_commit"):
            entry.update(first_run_commit=v.commit, first_run_date=v.created)
    _save(path, rec)
    return rec


def main(argv: Sequence[str] | None = None) -> int:
    """The command line of the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["registered"] and len(args) in (2, 3):
        print(json.dumps(register(args[1], scale=args[2] if len(args) == 3 else "cpu"), indent=2))
        return 0
    if args[:1] == ["first-run"] and len(args) in (1, 2):
        print(json.dumps(first_run(args[1] if len(args) == 2 else None), indent=2))
        return 0
    print("usage: python -m ibcore.book.preregister registered COMMIT [full] | first-run [RESULTS_DIR]",
          file=sys.stderr)  # fmt: skip
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
