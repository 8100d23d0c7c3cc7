"""Fitting and compression read off an information plane (chapters 0 and 2; Shwartz-Ziv & Tishby
2017 §4, Chelombiev et al. 2019 §4): where the fitting phase ends, and how far I(X;T) falls after
it. Pure functions of planes ``{layer: S × 2}`` (I(X;T), I(T;Y) in bits, snapshots in order)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

FIT_FRACTIONS = (0.8, 0.9, 0.95)
"""Where the fitting phase ends: the output's I(T;Y) has made this share of its rise."""
FIT_FRACTION = 0.9
"""The default of :data:`FIT_FRACTIONS`."""


def last_hidden(plane: Mapping[str, np.ndarray]) -> str:
    """The name of the last hidden layer of a plane (the layer before ``output``)."""
    layers = list(plane)
    return layers[-2] if layers[-1] == "output" else layers[-1]


def fitting_end(plane: Mapping[str, np.ndarray], fraction: float = FIT_FRACTION) -> int:
    """Index of the first snapshot at which the output's I(T;Y) has made ``fraction`` of its rise.

    The rise is from initialisation to the maximum over snapshots; the fitting phase of §4 ends
    there. With no rise at all the phase ends at the first snapshot.
    """
    ity = np.asarray(plane["output"][:, 1], dtype=float)
    rise = ity.max() - ity[0]
    if not rise > 0:
        return 0
    return int(np.argmax(ity >= ity[0] + fraction * rise))


def compression_after(ixt: np.ndarray, start: int) -> float:
    """max over snapshots ``start..`` of an I(X;T) trajectory minus its final value (>= 0)."""
    a = np.asarray(ixt, dtype=float)
    if a.ndim == 2:
        a = a[:, 0]
    return float(a[start:].max() - a[-1])
