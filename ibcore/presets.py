"""Each chapter's parameter schema and its ``smoke`` / ``cpu`` / ``paper`` presets.

A chapter's ``parameters`` cell sets ``scale`` and may override any other parameter; ``None``
means "from the preset". :func:`chapter_params` validates the result (see :mod:`ibcore.params`).
"""

from __future__ import annotations

from typing import Any

from ibcore.data import SPLITS
from ibcore.env import DEVICES
from ibcore.models import ACTIVATIONS
from ibcore.params import SCALES, Param, resolve

COMMON: dict[str, Param] = {
    "seeds": Param(int, "number of seeds (0..n-1)", low=1, high=1000),
    "device": Param(str, "torch device", choices=DEVICES),
}

CHAPTERS: dict[str, tuple[dict[str, Param], dict[str, dict[str, Any]]]] = {
    "00": (
        {
            "activation": Param(str, "hidden-layer activation", choices=tuple(ACTIVATIONS)),
            "epochs": Param(int, "training epochs", low=1, high=100_000),
            "snapshots": Param(int, "log-spaced snapshot count (IDNNs formula)", low=2, high=1000),
            "n_bins": Param(int, "fixed bins on [-1, 1]", low=2, high=1000),
            "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
            "l2": Param(float, "hidden-layer L2 weight", low=0.0, high=10.0),
            "split": Param(str, "train/test split", choices=SPLITS),
            **COMMON,
        },
        {
            "smoke": dict(activation="tanh", epochs=150, snapshots=12, seeds=1),
            "cpu": dict(activation="tanh", epochs=1500, snapshots=40, seeds=3),
            "paper": dict(activation="tanh", epochs=8000, snapshots=400, seeds=50),
        },
    ),
}

# Values shared by all scales of a chapter (a scale's preset overrides them).
SHARED: dict[str, dict[str, Any]] = {
    "00": dict(n_bins=30, lr=4e-4, l2=0.0, split="shuffled", device="auto"),
}


def chapter_params(chapter: str, scale: Any, **values: Any) -> dict[str, Any]:
    """Validated parameters of ``chapter`` at ``scale`` with explicit ``values`` (all chapters).

    Raises :class:`ibcore.params.ParameterError` with one line naming a bad parameter.
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {tuple(CHAPTERS)}")
    schema, presets = CHAPTERS[chapter]
    assert set(presets) == set(SCALES), f"chapter {chapter} must define presets {SCALES}"
    full = {s: {**SHARED.get(chapter, {}), **p} for s, p in presets.items()}
    return resolve(schema, full, scale, **values)
