"""ibcore: the shared library behind *ibbook*; every chapter starts with :func:`ibcore.setup`.

Three rooms, imports one way: :mod:`ibcore.book` (tooling) → :mod:`ibcore.claims` (one module per
chapter) → :mod:`ibcore.measures` (pure functions) and the core science (data, models, train...).
"""

from __future__ import annotations

__version__ = "0.1.0"

from ibcore.env import setup  # noqa: E402

__all__ = ["__version__", "setup"]
