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
from typing import Any, TextIO, TypeVar

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda", "mps")

PROGRESS_TTY = "IBCORE_PROGRESS_TTY"
"""Environment variable: a file (the terminal of ``make run``/``make book``) that the training
bars and the run counter write to while a chapter runs headless (set by the book's pipeline)."""

_streams: dict[str, TextIO] = {}


def progress_stream() -> TextIO | None:
    """The open :data:`PROGRESS_TTY` file, or None when it is unset or cannot be opened (all
    chapters: progress of a headless chapter reaches the terminal that started it)."""
    path = os.environ.get(PROGRESS_TTY)
    if not path:
        return None
    if path not in _streams:
        try:
            _streams[path] = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        except OSError:
            return None
    return _streams[path]


def progress_on(progress: bool | None = None) -> bool:
    """Whether bars show: ``progress`` if given, else ``IBCORE_PROGRESS`` (default on, '0' off)."""
    if progress is not None:
        return bool(progress)
    return os.environ.get("IBCORE_PROGRESS", "1") != "0"


@dataclass(frozen=True)
class Env:
    """What :func:`setup` chose: the seed, the torch device and a one-line description."""

    seed: int
    device: torch.device
    line: str


def pick_device(device: str = "auto") -> torch.device:
    """``device`` as a :class:`torch.device`; 'auto': CUDA, then MPS, then CPU (all chapters)."""
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
    """The book's plotting style (seaborn 'whitegrid', viridis); inline backend in a notebook."""
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
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "savefig.bbox": "tight",
                         "image.cmap": "viridis", "axes.titleweight": "bold"})  # fmt: skip


def setup(
    seed: int = 0, device: str = "auto", scale: str | None = None, quiet: bool = False
) -> Env:
    """Prepare a chapter (its first code cell): seed everything, pick the device, set the plot
    style, deterministic algorithms (``warn_only``); prints one environment line."""
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
    """Run with ``threads`` torch and BLAS threads (only BLAS off the CPU), restored afterwards;
    no-op if None (all chapters, through :func:`runner`)."""
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
"""CPU threads of every training run (applied by :func:`runner`): the book's small nets run
slower on several threads (``bench/README.md``); parallelism comes from ensembles and processes."""


def runner(fn: F) -> F:
    """Mark ``fn`` as a training run (every chapter's runner): it runs on :data:`RUN_THREADS`."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with cpu_threads(RUN_THREADS, kwargs.get("device", "cpu")):
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
