"""ibcore: the shared library behind *ibbook*.

Data flows one way: :mod:`ibcore.data` → :mod:`ibcore.models` → :mod:`ibcore.train` (one loop, one
activation recorder) → measures (:mod:`ibcore.estimators`, :mod:`ibcore.entropy`,
:mod:`ibcore.singularities`) → :mod:`ibcore.verdicts` and :mod:`ibcore.plots`.
Every chapter starts with :func:`ibcore.setup`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ibcore.env import setup  # noqa: E402

__all__ = ["__version__", "setup"]
