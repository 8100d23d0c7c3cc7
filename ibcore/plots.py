"""Figures shared by the chapters: information planes coloured by epoch, curves with seed bands."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ibcore.atomic import atomic_write_bytes
from ibcore.paths import results_dir
from ibcore.schema import check_choice


def epoch_norm(epochs: Sequence[int]) -> LogNorm:
    """Log colour scale for epochs (epoch 0 is drawn as epoch 1)."""
    e = np.maximum(np.asarray(epochs, dtype=float), 1.0)
    return LogNorm(vmin=e.min(), vmax=max(e.max(), e.min() + 1))


def mean_planes(planes: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Average information planes over seeds: {layer: S × 2} (IDNNs averages before plotting)."""
    if not planes:
        raise ValueError("mean_planes needs at least one information plane")
    return {k: np.mean([p[k] for p in planes], axis=0) for k in planes[0]}


def draw_plane(
    ax: Axes,
    plane: Mapping[str, np.ndarray],
    epochs: Sequence[int],
    *,
    cmap: str = "viridis",
    norm: LogNorm | None = None,
    label_layers: bool = True,
) -> LogNorm:
    """Draw one information plane {layer: S × 2 (I(X;T), I(T;Y)) bits}, by epoch (chapters 0, 2)."""
    norm = norm or epoch_norm(epochs)
    e = np.maximum(np.asarray(epochs, dtype=float), 1.0)
    for name, xy in plane.items():
        ax.plot(xy[:, 0], xy[:, 1], color="0.75", lw=0.8, zorder=1)
        ax.scatter(xy[:, 0], xy[:, 1], c=e, cmap=cmap, norm=norm, s=14, zorder=2, edgecolors="none")
        if label_layers:
            ax.annotate(name, xy[-1], textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel("I(X;T) [bits]")
    ax.set_ylabel("I(T;Y) [bits]")
    return norm


def epoch_colorbar(fig: Figure, ax: Axes | Sequence[Axes], norm: LogNorm, cmap: str = "viridis"):
    """Add the book's log-scaled 'Epoch' colour bar."""
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    return fig.colorbar(sm, ax=ax, label="Epoch")


def band(
    ax: Axes,
    x: Sequence[float],
    ys: np.ndarray,
    label: str | None = None,
    color: str | None = None,
    kind: str = "std",
) -> None:
    """Mean curve of ``ys`` (seeds × len(x)) with a ±1 std or min–max band (all chapters)."""
    ys = np.atleast_2d(np.asarray(ys, dtype=float))
    m = np.nanmean(ys, axis=0)
    check_choice("kind", kind, ("std", "range"))
    if kind == "range":
        lo, hi = np.nanmin(ys, axis=0), np.nanmax(ys, axis=0)
    else:
        s = np.nanstd(ys, axis=0)
        lo, hi = m - s, m + s
    (line,) = ax.plot(x, m, label=label, color=color, lw=1.8)
    if ys.shape[0] > 1:
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)


def save(fig: Figure, chapter: str, name: str) -> str:
    """Save ``fig`` as ``results/figures/<chapter>/<name>.png`` (atomically); returns the path."""
    path = results_dir() / "figures" / chapter / f"{name}.png"
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return str(path)
