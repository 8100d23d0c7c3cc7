"""Shared test set-up: every test writes results and cache entries into its own temp folders."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from ibcore.book import pipeline
from ibcore.paths import REPO_ROOT

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


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every chapter executed at smoke scale and the book built from them, once per session.

    Returns ``(root, book, html)``: the temp folder (``results/``, ``cache/``), the copied book
    sources with ``chapters/`` and the folder of ``index.html``. Used by ``test_notebooks.py``
    and ``test_browser.py``.
    """
    root = tmp_path_factory.mktemp("smoke")
    book = root / "book"
    shutil.copytree(
        REPO_ROOT / "book",
        book,
        ignore=shutil.ignore_patterns(
            "_build", "chapters", "verdicts.md", "conclusions.md", "status.md"
        ),
    )
    env = {"IBCORE_RESULTS": str(root / "results"), "IBCORE_CACHE": str(root / "cache"),
           "IBCORE_PROGRESS": "0"}  # fmt: skip
    html = pipeline.build_book(
        book, parameters={"scale": "smoke"}, env=env, results=root / "results"
    )
    return root, book, html
