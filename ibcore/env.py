"""``ibcore.setup``: one call at the top of every chapter (seeding, device, plotting style)."""

from __future__ import annotations

import functools
import os
import platform
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Env:
    """What :func:`setup` chose: the seed, the torch device and a one-line description."""

    seed: int
    device: torch.device
    line: str


def pick_device(device: str = "auto") -> torch.device:
    """Resolve ``device`` ('auto', 'cpu', 'cuda', 'mps') to a :class:`torch.device` (all chapters).

    'auto' takes CUDA when available, then Apple MPS, else the CPU.
    """
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ValueError(f"parameter 'device' = {device!r} is not allowed; choose one of {DEVICES}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"parameter 'device' = {device!r}, but CUDA is not available here")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("parameter 'device' = 'mps', but MPS is not available here")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) with ``seed`` (all chapters)."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"parameter 'seed' must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(int(seed))


def set_plot_style() -> None:
    """The book's plotting style: seaborn 'whitegrid', readable fonts, viridis for epochs.

    In a notebook it also selects the inline backend, so figures are embedded in the executed
    notebook even when ``MPLBACKEND=Agg`` is set for headless runs.
    """
    import matplotlib as mpl
    import seaborn as sns

    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None and hasattr(ip, "kernel"):
            ip.run_line_magic("matplotlib", "inline")
    except ImportError:  # pragma: no cover
        pass

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "savefig.bbox": "tight",
            "image.cmap": "viridis",
            "axes.titleweight": "bold",
        }
    )


def setup(
    seed: int = 0, device: str = "auto", scale: str | None = None, quiet: bool = False
) -> Env:
    """Prepare a chapter: seed everything, pick the device, set the plotting style.

    Serves every chapter (the first code cell of ``notebooks/0*_*.md``), in the spirit of
    fastbook's one setup call. Deterministic algorithms are switched on where torch has them
    (``warn_only``, so an op without a deterministic kernel warns instead of failing). Prints one
    environment line (the pipeline puts the smoke banner at the top of a ``smoke`` page).

    Returns an :class:`Env` with the chosen ``device``.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    seed_everything(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False
    dev = pick_device(device)
    set_plot_style()
    from ibcore import __version__

    line = (
        f"ibcore {__version__} | python {platform.python_version()} | torch {torch.__version__} | "
        f"numpy {np.__version__} | device {dev} | threads {torch.get_num_threads()} | seed {seed}"
        + (f" | scale {scale}" if scale else "")
    )
    if not quiet:
        print(line, file=sys.stdout)
    return Env(seed=int(seed), device=dev, line=line)


@contextmanager
def cpu_threads(threads: int | None, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run with ``threads`` torch and BLAS threads, restored afterwards; no-op if None (all chapters).

    Used by :func:`runner`, the library's thread policy. Off the CPU only the numpy/BLAS side is
    limited.
    """
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or int(threads) < 1:
        raise ValueError(f"parameter 'threads' must be a positive integer or None, got {threads!r}")
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    on_cpu = torch.device(device).type == "cpu"
    if on_cpu:
        torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(int(threads)):
            yield
    finally:
        if on_cpu:
            torch.set_num_threads(old)


F = TypeVar("F", bound=Callable[..., Any])

RUN_THREADS = 1
"""CPU threads of every training run (the library's one thread policy, applied by :func:`runner`).

The book's nets are small: their autograd graphs, SVDs and probes run slower on several threads
than on one (measurements in ``bench/README.md``), and chapter 3's flush-to-zero only reaches
the thread that does the work. Parallelism comes from batching seeds into one ensemble and from
worker processes (:mod:`ibcore.parallel`), not from threads inside one small run."""


def runner(fn: F) -> F:
    """Mark ``fn`` as a training run: it computes on :data:`RUN_THREADS` CPU threads.

    Every chapter's runner carries this decorator; the thread count is restored afterwards and
    only the numpy/BLAS side is limited when the run's ``device`` keyword is not the CPU.
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with cpu_threads(RUN_THREADS, kwargs.get("device", "cpu")):
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
