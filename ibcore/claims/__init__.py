"""The claims: one module per chapter, named after its notebook.

``chN_*`` holds all of chapter N's own code — its runners, its parameter schema and presets
(:class:`ibcore.schema.Chapter`) and its verdict metrics and thresholds. :func:`chapter` finds a
chapter's schema by its number.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from ibcore.schema import Chapter, ParameterError

MODULES = {
    "00": "ch0_information_plane",
    "01": "ch1_skip_singularities",
    "02": "ch2_adaptive_estimators",
    "03": "ch3_batch_entropy",
    "04": "ch4_identity_shortcuts",
    "05": "ch5_exact_quantized",
}
"""Chapter number → claim module (``ibcore.claims.<name>``); the notebook is ``NN_<rest>.md``."""


def module(key: str) -> ModuleType:
    """The claim module of chapter ``key`` ('00' … '05')."""
    if key not in MODULES:
        raise ParameterError(f"unknown chapter {key!r}; the chapters are {tuple(MODULES)}")
    return import_module(f"ibcore.claims.{MODULES[key]}")


def chapter(key: str) -> Chapter:
    """The parameter schema and presets of chapter ``key``."""
    return module(key).CHAPTER
