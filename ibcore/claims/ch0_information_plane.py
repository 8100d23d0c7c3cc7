"""Chapter 0: the information plane of the 12-bit task (Shwartz-Ziv & Tishby 2017, §3–§4).

The chapter's run is :func:`ibcore.runs.szt_run` (the 12-10-7-5-4-3-2 tanh net, one per seed),
its estimator the fixed grid of §3.1. This module holds the chapter's parameter schema with its
``smoke``/``cpu``/``paper`` presets and its two verdict metrics: fitting (the output's I(T;Y)
rises) and compression (the last hidden layer's I(X;T) falls after its peak, §4).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ibcore.data import SPLITS
from ibcore.measures.information import compression
from ibcore.models import ACTIVATIONS
from ibcore.schema import Chapter, Param, common_params

FITTING_THRESHOLD = 0.5
"""Bits of output I(T;Y) gain; fixed on two calibration seeds at ``cpu`` (0.88 and 0.90 bits)."""
COMPRESSION_THRESHOLD = 0.5
"""Bits of I(X;T) peak − final; fixed on two calibration seeds at ``cpu`` (1.15 and 1.43 bits)."""


def fitting_gain(plane: Mapping[str, np.ndarray], layer: str = "output") -> float:
    """I(T;Y) of ``layer`` at the end minus at initialisation, in bits (the fitting metric)."""
    return float(plane[layer][-1, 1] - plane[layer][0, 1])


def last_hidden_compression(plane: Mapping[str, np.ndarray]) -> tuple[str, float]:
    """The last hidden layer's name and its compression (I(X;T) peak − final, bits)."""
    layers = list(plane)
    name = layers[-2] if layers[-1] == "output" else layers[-1]
    return name, compression(plane[name])


# ---------------------------------------------------------------------------------------------
# Parameters: the schema, the values shared by all scales, the smoke / cpu / paper presets
# ---------------------------------------------------------------------------------------------

PARAMS: dict[str, Param] = {
    "activation": Param(
        str,
        "hidden-layer activation (`tanh`, `relu`, `elu`, `softplus`, `swish`, …)",
        choices=tuple(ACTIVATIONS),
    ),
    "epochs": Param(int, "training epochs (Adam, batch 256)", low=1, high=100_000),
    "snapshots": Param(
        int,
        "log-spaced snapshot count (IDNNs formula; 400 gives 274 distinct epochs)",
        low=2,
        high=1000,
    ),
    "n_bins": Param(int, "fixed bins on [-1, 1]", low=2, high=1000),
    "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
    "l2": Param(float, "hidden-layer L2 weight", low=0.0, high=10.0),
    "split": Param(str, "80/20 split: `shuffled` or `idnns_unshuffled`", choices=SPLITS),
    **common_params(),
}

CHAPTER = Chapter(
    "00",
    PARAMS,
    shared=dict(n_bins=30, lr=4e-4, l2=0.0, split="shuffled", device="auto"),
    presets={
        "smoke": dict(activation="tanh", epochs=150, snapshots=12, seeds=1),
        "cpu": dict(activation="tanh", epochs=1500, snapshots=40, seeds=3),
        "paper": dict(activation="tanh", epochs=8000, snapshots=400, seeds=50),
    },
)
