"""Mutation testing of the verdict and metric code (``make mutants``; not part of make test or CI).

mutmut 3 (the extra ``mutants``; its settings are ``[tool.mutmut]`` in pyproject.toml) runs in a
scratch copy, ``build/mutmut/``: ibcore/, tests/ and pyproject.toml are copied there, mutmut
writes every mutant of ``ibcore/verdicts.py``, ``ibcore/measures/*.py`` and the claim modules
into ``build/mutmut/mutants/`` and runs, for each mutant of the functions in scope, the fast tests
of ``[tool.mutmut]`` that call that function. Nothing in the working tree is touched.

The scope is a list of functions (mutmut names each mutant after its function, so the run is
restricted by name):

* ``verdicts`` (default, with ``metrics``): the rule of ``ibcore.verdicts`` -- the t-bounds, the
  p-value, Holm, ``judge``, ``make_verdict``, ``make_primary``, ``sensitivity_record`` and the
  confirmatory check; not the HTML card, the JSON writer or the git/version helpers.
* ``metrics`` (default): the phase detectors (``ibcore.measures.phases``, and
  ``detect_phases``/``smooth_trajectory``/the −ln ZX and ln K − ZY transforms of
  ``ibcore.measures.zxzy``) and every claim-module function that computes a verdict's value, its
  null, its sensitivity grid or its kind (chapters 0–4).
* ``full``: all of ``ibcore/verdicts.py`` and ``ibcore/measures/*.py`` besides (the estimators,
  the probes, the Hessian code: about 6,000 more mutants, several hours on 2 cores).

Prints the kill rate per part and every surviving mutant as a one-line diff, marked ``text`` when
it only changes the content of a string literal (a statement, a note, an error message); writes
``build/mutmut/summary.json`` and every survivor's full diff to ``build/mutmut/survivors.txt``.

    python bench/mutants.py [--scope verdicts|metrics|default|full] [--jobs N] [--keep]
                            [--report] [--without TEST_FILE] [GLOB ...]

``--jobs``: mutants tested side by side (default 2); ``--keep``: reuse the mutants and the test
statistics of the last run (only the mutants in scope are rerun); ``--report``: print the last
run's results without running; ``--without``: empty a test file in the copy (the kill rate
before it); ``GLOB``: mutant names instead of a scope, e.g. ``'ibcore.verdicts.x_judge__mutmut_*'``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutmut"

VERDICTS = {
    "ibcore/verdicts.py": [
        "confidence_bounds", "p_value", "holm", "judge", "make_verdict", "make_primary",
        "sensitivity_record", "_plain", "Primary.confirmatory", "Primary.preregistration",
        "Primary.__post_init__", "Preregistration.__post_init__",
    ],
}  # fmt: skip
"""The rule: every function that computes a verdict's status, bound, p-value or record."""

METRICS = {
    "ibcore/measures/phases.py": ["*"],
    "ibcore/measures/zxzy.py": [
        "zx_information", "zy_information", "smooth_trajectory", "detect_phases",
    ],
    "ibcore/claims/ch0_information_plane.py": [
        "setting", "fitting_gain", "compression_metrics", "primary_values",
    ],
    "ibcore/claims/ch1_skip_singularities.py": [
        "_n", "measure_at", "epochs_to", "elimination_gap", "rank_gap", "primary_speed_ratio",
        "identity_init_drift", "dose_response", "orthogonal_ratio", "degenerate_fraction",
        "hessian_gap", "chapter_primary", "chapter_verdicts",
    ],
    "ibcore/claims/ch2_adaptive_estimators.py": [
        "select", "compression_from", "_check_fraction", "fit_start", "member_compression",
        "non_saturating", "paired_compression", "paired_null", "null_excess", "primary_values",
        "primary_spec", "adaptive_contrast", "group_excess", "mean_compression", "l2_delta_c",
        "_spearman_pearson", "cells", "cell_spearman", "seed_spread", "_variant",
        "chapter_verdicts",
    ],
    "ibcore/claims/ch3_batch_entropy.py": [
        "accuracy_at", "snapshot", "accuracy_gaps", "entropy_gaps", "primary_values",
        "verdict_values", "sensitivity_settings",
    ],
    "ibcore/claims/ch4_identity_shortcuts.py": [
        "nis_kinds", "phase_table", "curve_phase_table", "verdict_kind", "judged_status",
        "_phase_specs", "family_verdicts", "generalisation_gap", "_skip_gap", "_paired",
        "primary_values", "primary_sensitivity",
    ],
}  # fmt: skip
"""Every function of the measures and claim modules that a verdict's value, null, sensitivity
record or kind is computed with (the audit of tests/test_metrics_pinned.py)."""

FULL = {"ibcore/verdicts.py": ["*"], "ibcore/measures/*.py": ["*"]}


def module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def globs(scope: dict[str, list[str]]) -> list[str]:
    """mutmut's mutant names of ``scope``: ``pkg.mod.x_func__mutmut_N``,
    ``pkg.mod.xǁClassǁmethod__mutmut_N``."""
    out = []
    for path, names in scope.items():
        for name in names:
            if name == "*":
                out.append(f"{module(path)}.*")
            elif "." in name:
                cls, meth = name.split(".")
                out.append(f"{module(path)}.xǁ{cls}ǁ{meth}__mutmut_*")
            else:
                out.append(f"{module(path)}.x_{name}__mutmut_*")
    return out


SCOPES = {
    "verdicts": VERDICTS,
    "metrics": METRICS,
    "default": {**VERDICTS, **METRICS},
    "full": {**METRICS, **FULL},
}


def prepare(keep: bool, without: list[str]) -> None:
    """Copy ibcore/, tests/ and pyproject.toml into build/mutmut/ (a fresh mutants/ unless
    ``keep``); the test files named in ``without`` are emptied there (a run without them)."""
    WORK.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("ibcore", "tests"):
        shutil.rmtree(WORK / name, ignore_errors=True)
        shutil.copytree(ROOT / name, WORK / name, ignore=ignore)
    for name in without:
        (WORK / "tests" / Path(name).name).write_text('"""Left out of this run."""\n')
    shutil.copy2(ROOT / "pyproject.toml", WORK / "pyproject.toml")
    if not keep:
        shutil.rmtree(WORK / "mutants", ignore_errors=True)


def run(patterns: list[str], jobs: int) -> int:
    env = {**os.environ, "MPLBACKEND": "Agg", "IBCORE_PROGRESS": "0", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(jobs), *patterns]
    return subprocess.run(cmd, cwd=WORK, env=env).returncode


STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          37: "caught by type check", None: "not checked"}  # fmt: skip
KILLED = ("killed", "timeout", "caught by type check")


def results(patterns: list[str]) -> dict[str, str]:
    """Status of every mutant in ``patterns`` from the run's .meta files."""
    out = {}
    for meta in sorted((WORK / "mutants" / "ibcore").rglob("*.py.meta")):
        keys = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for k, code in keys.items():
            if any(fnmatch(k, p) for p in patterns):
                out[k] = STATUS.get(code, "suspicious")
    return out


def diff_of(name: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    path = name.split(".x_")[0].split(".xǁ")[0].replace(".", "/") + ".py"
    return get_diff_for_mutant(name, path=path)


def one_line(diff: str) -> tuple[str, bool]:
    """The changed lines of a mutant's diff (``- old  =>  + new``) and whether only the content
    of a string literal changed (mutmut's XX…XX wrapping or a case change)."""
    lines = diff.splitlines()[2:]
    old = [ln[1:].strip() for ln in lines if ln.startswith("-")]
    new = [ln[1:].strip() for ln in lines if ln.startswith("+")]
    a, b = " ".join(old), " ".join(new)
    text = bool(old) and re.sub("XX", "", b).lower() == a.lower() and ('"' in a or "'" in a)
    return f"- {a}  =>  + {b}", text


def function_of(name: str) -> str:
    return re.sub(r"__mutmut_\d+$", "", name).replace("xǁ", "").replace("ǁ", ".")


def part_of(name: str) -> str:
    if name.startswith("ibcore.verdicts."):
        return "verdicts"
    if name.startswith("ibcore.measures."):
        return "measures"
    return "claims"


def report(patterns: list[str], wall_s: float | None) -> int:
    res = results(patterns)
    if not res:
        print("no results: run `make mutants` first")
        return 1
    os.chdir(WORK)  # mutmut reads its mutants relative to the working directory
    rows = {}
    for part in ("verdicts", "measures", "claims", "all"):
        st = Counter(s for k, s in res.items() if part in ("all", part_of(k)))
        tested = sum(st.values()) - st["skipped"] - st["not checked"]
        if not tested:
            continue
        killed = sum(st[s] for s in KILLED)
        rows[part] = {"mutants": sum(st.values()), "killed": killed, "survived": st["survived"],
                      "no tests": st["no tests"], "timeout": st["timeout"],
                      "kill rate": round(100 * killed / tested, 1)}  # fmt: skip
    survivors = sorted(k for k, s in res.items() if s not in (*KILLED, "skipped", "not checked"))
    lines, n_text = [], 0
    with open(WORK / "survivors.txt", "w") as f:
        for k in survivors:
            d = diff_of(k)
            short, text = one_line(d)
            n_text += text
            tag = "text" if text else res[k]
            lines.append((function_of(k), f"  {k.rsplit('__mutmut_', 1)[1]:>4} [{tag}] {short}"))
            f.write(f"# {k}: {res[k]}{' (string content only)' if text else ''}\n{d}\n\n")
    print(f"\n== mutation testing, {len(res)} mutants in scope (build/mutmut/summary.json)")
    print(f"{'part':9s} {'mutants':>8s} {'killed':>7s} {'survived':>9s} {'no tests':>9s} "
          f"{'kill rate':>10s}")  # fmt: skip
    for part, r in rows.items():
        print(f"{part:9s} {r['mutants']:8d} {r['killed']:7d} {r['survived']:9d} "
              f"{r['no tests']:9d} {r['kill rate']:9.1f}%")  # fmt: skip
    print(f"surviving mutants: {len(survivors)}, of which {n_text} only change a string's content"
          " (full diffs: build/mutmut/survivors.txt)")  # fmt: skip
    current = None
    for func, line in lines:
        if func != current:
            print(func)
            current = func
        print(line)
    summary = {"parts": rows, "survivors": survivors, "text_only": n_text, "wall_s": wall_s}
    (WORK / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scope", choices=sorted(SCOPES), default="default")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--without", action="append", default=[], metavar="TEST_FILE",
                    help="run without this test file (emptied in the copy), e.g. to measure "
                    "the kill rate before it")  # fmt: skip
    ap.add_argument("glob", nargs="*")
    a = ap.parse_args(argv)
    patterns = a.glob or globs(SCOPES[a.scope])
    if a.report:
        return report(patterns, None)
    t0 = time.perf_counter()
    prepare(a.keep, a.without)
    rc = run(patterns, max(1, a.jobs))
    wall = time.perf_counter() - t0
    print(f"mutmut finished with exit code {rc} after {wall / 60:.1f} min")
    return report(patterns, round(wall, 1)) or rc


if __name__ == "__main__":
    sys.exit(main())
