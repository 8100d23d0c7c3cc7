"""Shared test set-up: every test writes results and cache entries into its own temp folders."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("IBCORE_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("IBCORE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("IBCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IBCORE_DATA", str(tmp_path / "data"))
    yield


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny nets are faster on one thread, and results do not depend on it.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
