"""Our binning estimator against a naive one written the way the original IDNNs code works
(chapters 0 and 2): both in this process, on the same recorded run, with the ratio printed.

The naive estimator follows the structure of Shwartz-Ziv & Tishby's released code: per layer and
snapshot, bin the activations on the fixed grid, make each row a ``np.void`` symbol, and compute
H(T|X) and H(T|Y) with a Python loop over every unique input x (and label y), masking all N
samples for each one and calling ``np.unique`` on the rows found (O(N²) per layer and snapshot).
:func:`ibcore.measures.information.information_plane` (``estimator="fixed"``) computes the same numbers
vectorised over snapshots. Quick mode runs the naive loop on 4 of the 40 snapshots (ours on the
same 4); ``--full`` on all 40.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("IBCORE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import full_mode, med_spread, record, report  # noqa: E402

from ibcore.data import load_szt12  # noqa: E402
from ibcore.measures import information as E  # noqa: E402
from ibcore.runs import szt_run  # noqa: E402


def _rows(a: np.ndarray) -> np.ndarray:
    """Each row of ``a`` as one hashable ``np.void`` symbol (the original code's trick)."""
    a = np.ascontiguousarray(a)
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


def _entropy_of_rows(t: np.ndarray) -> float:
    _, counts = np.unique(_rows(t), return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log2(p)))


def naive_plane(t: np.ndarray, x_inverse: np.ndarray, p_x: np.ndarray, y: np.ndarray,
                n_bins: int = 30) -> tuple[float, float]:  # fmt: skip
    """(I(X;T), I(T;Y)) in bits of one layer at one snapshot, with per-x Python loops."""
    bins = np.linspace(-1.0, 1.0, n_bins)
    digitized = bins[np.digitize(t.ravel(), bins) - 1].reshape(len(t), -1)
    h_t = _entropy_of_rows(digitized)
    h_t_given_x = 0.0
    for i in range(len(p_x)):  # one pass over all N samples per unique input
        h_t_given_x += p_x[i] * _entropy_of_rows(digitized[x_inverse == i])
    labels, y_inverse, y_counts = np.unique(y, return_inverse=True, return_counts=True)
    p_y = y_counts / y_counts.sum()
    h_t_given_y = 0.0
    for i in range(len(labels)):
        h_t_given_y += p_y[i] * _entropy_of_rows(digitized[y_inverse == i])
    return h_t - h_t_given_x, h_t - h_t_given_y


def naive_information_plane(h, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer at every snapshot of ``h`` with :func:`naive_plane`."""
    _, x_inverse, x_counts = np.unique(_rows(x), return_inverse=True, return_counts=True)
    p_x = x_counts / x_counts.sum()
    y = h.probe_labels
    return {
        name: np.array([naive_plane(a[s], x_inverse, p_x, y) for s in range(len(a))])
        for name, a in h.activations.items()
    }


def main() -> None:
    torch.set_num_threads(1)
    h = szt_run(seed=0, epochs=300, snapshots=50)  # the run of bench_estimators: 40 snapshots
    x = load_szt12(seed=0).x_probe.numpy()
    n_snap = len(h.epochs) if full_mode() else 4
    pick = np.linspace(0, len(h.epochs) - 1, n_snap).round().astype(int)
    sub = dataclasses.replace(
        h, epochs=h.epochs[pick], activations={k: v[pick] for k, v in h.activations.items()}
    )
    ours = E.information_plane(sub, estimator="fixed")
    naive = naive_information_plane(sub, x)
    diff = max(float(np.abs(ours[k] - naive[k]).max()) for k in ours)
    runs_naive, runs_ours = 3, 5
    t_naive, t_ours = [], []
    for _ in range(runs_naive):
        t0 = time.perf_counter()
        naive_information_plane(sub, x)
        t_naive.append(time.perf_counter() - t0)
    for _ in range(runs_ours):
        t0 = time.perf_counter()
        E.information_plane(sub, estimator="fixed")
        t_ours.append(time.perf_counter() - t0)
    label = f"{len(sub.activations)} layers x {n_snap} snapshots"
    mn, sn = med_spread(t_naive)
    mo, so = med_spread(t_ours)
    ratios = [a / b for a in t_naive for b in t_ours]
    mr, sr = med_spread(ratios)
    note = "quick mode: 4 of 40 snapshots (--full: all 40)" if not full_mode() else ""
    recs = [
        record(f"naive per-x loop binning (IDNNs style), {label}", mn, sn, runs_naive, "s", "-",
               note),
        record(f"ours, information_plane('fixed'), {label}", mo, so, runs_ours, "s", "-"),
        record("  naive / ours (same process, same data)", mr, sr, len(ratios), "x",
               "ratio printed (chapters 0, 2)"),
        record("  max |ours - naive| over layers and snapshots", diff, 0.0, 1, "bits",
               "~0 (same numbers)"),
    ]  # fmt: skip
    report("naive", recs)


if __name__ == "__main__":
    main()
