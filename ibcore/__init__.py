"""ibcore: the shared library behind *ibbook*.

Three rooms, and imports run one way (book → claims → measures and core):

* ``ibcore`` itself — the shared science: :mod:`~ibcore.data` → :mod:`~ibcore.models` →
  :mod:`~ibcore.train` (the one training loop; ensembles are a case of it) →
  :mod:`~ibcore.cache`, :mod:`~ibcore.verdicts`, :mod:`~ibcore.plots`, :mod:`~ibcore.env`;
* :mod:`ibcore.measures` — pure functions over arrays, tensors and modules (information
  estimators, batch entropy and the LBE loss, singularity measures and Hessians, Z-X/Z-Y);
* :mod:`ibcore.claims` — one module per chapter: its runners, parameters and verdict metrics;
* :mod:`ibcore.book` — the tooling that runs and teaches the book (pipeline, sweeps, student
  copies, exercise checkers, widgets, provenance).

Every chapter starts with :func:`ibcore.setup`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ibcore.env import setup  # noqa: E402

__all__ = ["__version__", "setup"]
