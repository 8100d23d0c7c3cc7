"""Where ibcore writes results and the cache and looks for data (all chapters); each folder moves
with an environment variable: ``IBCORE_RESULTS``, ``IBCORE_CACHE``, ``IBCORE_DATA``."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _dir(var: str, default: Path) -> Path:
    return Path(os.environ.get(var) or default).expanduser()


def results_dir() -> Path:
    """Folder for verdict JSON files and figures (all chapters; ``IBCORE_RESULTS``)."""
    return _dir("IBCORE_RESULTS", REPO_ROOT / "results")


def cache_dir() -> Path:
    """Folder of the result cache used by :func:`ibcore.cache.run_cached` (``IBCORE_CACHE``)."""
    return _dir("IBCORE_CACHE", REPO_ROOT / ".cache" / "ibcore")


def data_dir() -> Path:
    """Data root for torchvision data sets (``IBCORE_DATA``); used by :mod:`ibcore.data`."""
    return _dir("IBCORE_DATA", REPO_ROOT / "data")
