"""Planted bugs (``make plants``; not part of make test or CI): each bug kind a silent error in
the book's wiring or verdict metrics would take is planted once, in a scratch copy
(``build/plants/``: ibcore/, tests/, notebooks/, book/ and pyproject.toml), the fast tests named for it are run, and
the copy is restored. Prints one line per plant: CAUGHT (with the failing tests) or MISSED.

A complement to ``make mutants``: mutmut's mutants are mechanical (an operator, a constant), these
are the realistic bugs of the kind an audit plants by hand -- a null whose labels are not permuted,
an ensemble member on another member's labels, a neighbouring layer, max for min, median for mean,
the slower comparator, an exclusion on one side of a pair, a NaN seed dropped, the phase window
rounded otherwise, probe statistics from rows they should not see, a subsample scored against other
labels, a None parameter left out of the cache key, a preset value replaced.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "build" / "plants"

PLANTS = [
    (
        "null labels not permuted (szt12 / digits / fashion: data.py)",
        "ibcore/data.py",
        "y = y[np.random.default_rng([seed, 0x5EED]).permutation(len(y))]",
        "y = y",
        "tests/test_wiring.py tests/test_data.py",
    ),
    (
        "null labels not permuted (ch4 permute_labels)",
        "ibcore/claims/ch4_identity_shortcuts.py",
        "ytr = data.y_train[torch.from_numpy(rng.permutation(len(data.y_train)))]",
        "ytr = data.y_train",
        "tests/test_wiring.py tests/test_ch4.py",
    ),
    (
        "ensemble member trained on another member's labels (run list reordered)",
        "ibcore/train.py",
        '_stack(datasets, "y_train").to(device))',
        '_stack(datasets[::-1], "y_train").to(device))',
        "tests/test_wiring.py tests/test_ensemble.py",
    ),
    (
        "verdict reads a neighbouring layer (last hidden = h4)",
        "ibcore/measures/phases.py",
        'return layers[-2] if layers[-1] == "output" else layers[-1]',
        'return layers[-3] if layers[-1] == "output" else layers[-2]',
        "tests/test_metrics_pinned.py tests/test_ch0.py",
    ),
    (
        "max for min over arms (ch4 best NIS kind)",
        "ibcore/claims/ch4_identity_shortcuts.py",
        None,
        None,
        "tests/test_metrics_pinned.py tests/test_ch4.py",
    ),
    (
        "median for mean (the rule's mean over seeds)",
        "ibcore/verdicts.py",
        "    mean = float(v.mean())\n",
        "    mean = float(np.median(v))\n",
        "tests/test_metrics_pinned.py tests/test_verdicts.py tests/test_wiring.py",
    ),
    (
        "the slower plain net as the comparator (ch1 primary)",
        "ibcore/claims/ch1_skip_singularities.py",
        "return [min(epochs_to(runs[a][i], target) for a in plain)",
        "return [max(epochs_to(runs[a][i], target) for a in plain)",
        "tests/test_metrics_pinned.py tests/test_ch1.py",
    ),
    (
        "exclusion rule on one side of a pair only (ch2 L2 accuracy floor)",
        "ibcore/claims/ch2_adaptive_estimators.py",
        "if min(base[s].test_acc, reg[s].test_acc) < floor:",
        "if base[s].test_acc < floor:",
        "tests/test_metrics_pinned.py tests/test_ch2_primary.py",
    ),
    (
        "a NaN seed dropped before the bound",
        "ibcore/verdicts.py",
        "    v = np.asarray(values, dtype=np.float64).reshape(-1)\n    if v.size == 0:",
        "    v = np.asarray(values, dtype=np.float64).reshape(-1)\n    v = v[np.isfinite(v)]\n    if v.size == 0:",
        "tests/test_wiring.py tests/test_verdicts.py",
    ),
    (
        "phase-detector window rounded differently (round)",
        "ibcore/measures/zxzy.py",
        "last = max(1, int(math.ceil(window * (len(m) - 1))))",
        "last = max(1, int(round(window * (len(m) - 1))))",
        "tests/test_wiring.py tests/test_zxzy.py",
    ),
    (
        "phase-detector window rounded differently (floor)",
        "ibcore/measures/zxzy.py",
        "last = max(1, int(math.ceil(window * (len(m) - 1))))",
        "last = max(1, int(window * (len(m) - 1)))",
        "tests/test_wiring.py tests/test_zxzy.py",
    ),
    (
        "probe standardisation statistics from every row",
        "ibcore/measures/zxzy.py",
        "    mu = z[fit].mean(0, keepdim=True)\n    sd = z[fit].std(0, keepdim=True).clamp_min(min_std)",
        "    mu = z.mean(0, keepdim=True)\n    sd = z.std(0, keepdim=True).clamp_min(min_std)",
        "tests/test_zxzy.py tests/test_metrics_pinned.py tests/test_wiring.py",
    ),
    (
        "subsampled plane scored against labels that are not the subsample's",
        "ibcore/measures/information.py",
        "        y = y[idx]\n",
        "        y = y[: len(idx)]\n",
        "tests/test_wiring.py tests/test_estimators.py",
    ),
    (
        "a parameter whose value is None left out of the cache key",
        "ibcore/cache.py",
        '{"fn": f"{module}.{qualname}", "params": dict(params),',
        '{"fn": f"{module}.{qualname}", "params": {k: v for k, v in params.items() if v is not None},',
        "tests/test_cache.py",
    ),
    (
        "a cpu preset value silently replaced (ch0 epochs)",
        "ibcore/claims/ch0_information_plane.py",
        '"cpu": dict(activation="tanh", epochs=1500,',
        '"cpu": dict(activation="tanh", epochs=1400,',
        "tests/test_wiring.py tests/test_params.py",
    ),
    (
        "ch4 null twin's fall after its own fitting end",
        "ibcore/claims/ch4_identity_shortcuts.py",
        '        if "null" in t and "identity" in t:',
        "        if False:",
        "tests/test_ch4.py tests/test_metrics_pinned.py",
    ),
]


def ch4_minmax(s):
    m = re.search(r"def generalisation_gap.*?\n(?=\n\n)", s, re.S)
    body = m.group(0)
    assert ".min(" in body or "np.min" in body or "min(" in body, body
    new = (
        body.replace("np.min(", "np.max(", 1)
        if "np.min(" in body
        else body.replace(".min(", ".max(", 1)
    )
    assert new != body
    return s.replace(body, new)


def main() -> int:
    """Copy the code, plant each bug, run its tests, restore; 1 when a plant is missed."""
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    for part in ("ibcore", "tests", "notebooks", "book"):  # the tests read notebooks and assets
        shutil.copytree(REPO / part, ROOT / part,
                        ignore=shutil.ignore_patterns("__pycache__", "_build"))  # fmt: skip
    shutil.copy(REPO / "pyproject.toml", ROOT / "pyproject.toml")

    def failing(tests: str) -> set[str]:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-o", "addopts=", *tests.split()], cwd=ROOT, capture_output=True,
                           text=True)  # fmt: skip
        return {f.split("[")[0] for f in re.findall(r"^FAILED (\S+?)(?: - |$)", r.stdout, re.M)}

    files = sorted({f for *_, tests in PLANTS for f in tests.split()})
    before = failing(" ".join(files))  # failing before any plant: not counted as a catch
    if before:
        print(f"failing without a plant (ignored): {sorted(before)}")
    missed = 0
    for name, rel, old, new, tests in PLANTS:
        p = ROOT / rel
        orig = p.read_text()
        if old is None:
            planted = ch4_minmax(orig)
        else:
            assert orig.count(old) == 1, (name, old)
            planted = orig.replace(old, new)
        try:
            p.write_text(planted)
            failed = sorted(failing(tests) - before)
        finally:
            p.write_text(orig)
        missed += not failed
        shown = "; ".join(f.split("::")[-1] for f in failed)
        print(f"{'CAUGHT' if failed else 'MISSED'} | {name} | {rel} | {shown}", flush=True)
    print(f"{len(PLANTS) - missed} of {len(PLANTS)} planted bugs caught")
    return int(missed > 0)


if __name__ == "__main__":
    raise SystemExit(main())
