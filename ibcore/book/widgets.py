"""Interactive controls for the live notebooks (the book as a course module).

Chapters 0, 1, 3 and 4 end their figure sections with one small cell that lets a reader step
through a result interactively: epochs of the information plane (chapter 0), architectures and
singularity measures (chapter 1), layers of the batch-entropy profile (chapter 3), models,
measures and blocks of the Z-X / Z-Y curves (chapter 4). The chapter supplies a ``draw`` function
that makes one matplotlib figure; :func:`explore` wraps it in ipywidgets controls.

The static book keeps the static figures. Under papermill (``make book``, ``make run``, the smoke
tests) there is no frontend to talk to, so :func:`explore` draws nothing and prints one line
instead; :mod:`ibcore.book.pipeline` marks such runs with ``IBCORE_HEADLESS=1``, and the chapters tag
the widget cell ``remove-cell`` so the book shows neither the cell nor that line. In Jupyter,
JupyterLab, VS Code, Binder or Colab the control appears under the cell.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HEADLESS_ENV = "IBCORE_HEADLESS"
HEADLESS_NOTE = (
    "(interactive control: open this chapter in Jupyter with a live kernel to use it; "
    "the static figures above show the same data)"
)


def live() -> bool:
    """True when widgets can be shown: inside a Jupyter kernel and not a headless run.

    False in plain Python (no IPython kernel) and when ``IBCORE_HEADLESS`` is set to anything but
    ``""``/``"0"`` (set by :func:`ibcore.book.pipeline.execute` for every papermill run).
    """
    if os.environ.get(HEADLESS_ENV, "") not in ("", "0"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is part of the book stack
        return False
    ip = get_ipython()
    return ip is not None and hasattr(ip, "kernel")


@dataclass(frozen=True)
class Slider:
    """A slider over the positions of ``values`` (see :func:`slider`); built into a widget only
    when :func:`explore` has a live frontend."""

    values: tuple[Any, ...]
    label: str = "{}"


def slider(values: Sequence[Any], label: str = "{}") -> Slider:
    """A slider over ``values`` (any numbers, not necessarily evenly spaced; chapters 0, 3, 4).

    The value passed to ``draw`` is the *index* into ``values``; each position is labelled
    ``label.format(value)``, e.g. ``slider(epochs, "epoch {}")``. It starts at the last value.
    """
    vals = tuple(values)
    if not vals:
        raise ValueError("slider needs at least one value")
    return Slider(vals, label)


def _control(name: str, spec: Any) -> Any:
    """Turn one control spec of :func:`explore` into a widget."""
    import ipywidgets as w

    if isinstance(spec, Slider):
        return w.SelectionSlider(
            options=[(spec.label.format(v), i) for i, v in enumerate(spec.values)],
            value=len(spec.values) - 1,
            description=name,
            continuous_update=False,
            layout={"width": "520px"},
        )
    if isinstance(spec, w.Widget):
        if not spec.description:
            spec.description = name
        return spec
    if isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) > 0:
        return w.Dropdown(options=list(spec), description=name)
    raise TypeError(
        f"control {name!r}: expected a non-empty list of options or an ipywidgets widget, "
        f"got {spec!r}"
    )


def interactive(draw: Callable[..., Any], **controls: Any) -> Any:
    """Build (not show) an ``ipywidgets.interactive`` box: one control per keyword, ``draw`` below.

    Each control is a list of options (a dropdown; ``(label, value)`` pairs allowed), a
    :func:`slider`, or any ipywidgets widget. ``draw`` receives the current values as keywords and
    should draw one figure (``plt.show()``); ipywidgets calls it once now and on every change.
    """
    import ipywidgets as w

    if not controls:
        raise ValueError("explore needs at least one control, e.g. epoch=slider(epochs)")
    return w.interactive(draw, **{name: _control(name, spec) for name, spec in controls.items()})


def explore(draw: Callable[..., Any], **controls: Any) -> None:
    """Show ``draw(**values)`` under interactive controls in a live notebook (chapters 0, 1, 3, 4).

    The controls are those of :func:`interactive`. Without a live frontend (:func:`live` is
    False, e.g. under papermill) it prints one line and creates no widget at all: a headless
    kernel would store the widgets' state in the notebook, and the book would then load the
    widget JavaScript for nothing. It never fails for a missing frontend, so the cell is safe in
    ``make book``; returns None, so the cell shows the control once.
    """
    if not controls:
        raise ValueError("explore needs at least one control, e.g. epoch=slider(epochs)")
    if not live():
        print(HEADLESS_NOTE)
        return
    from IPython.display import display

    display(interactive(draw, **controls))
