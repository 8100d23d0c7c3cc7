"""Interactive controls for the live notebooks of chapters 0, 1, 3 and 4 (course module); headless
(``IBCORE_HEADLESS=1``, set by the pipeline) :func:`explore` prints one line instead."""

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
    """True inside a Jupyter kernel unless ``IBCORE_HEADLESS`` is set (not ``""``/``"0"``)."""
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
    """A slider over the positions of ``values`` (see :func:`slider`)."""

    values: tuple[Any, ...]
    label: str = "{}"


def slider(values: Sequence[Any], label: str = "{}") -> Slider:
    """A slider over ``values`` (chapters 0, 3, 4): ``draw`` gets the *index*; positions are
    labelled ``label.format(value)``, e.g. ``slider(epochs, "epoch {}")``; starts at the last."""
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
            value=len(spec.values) - 1, description=name, continuous_update=False,
            layout={"width": "520px"},
        )  # fmt: skip
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
    """An ``ipywidgets.interactive`` box: a control per keyword (options, slider or widget)."""
    import ipywidgets as w

    if not controls:
        raise ValueError("explore needs at least one control, e.g. epoch=slider(epochs)")
    return w.interactive(draw, **{name: _control(name, spec) for name, spec in controls.items()})


def explore(draw: Callable[..., Any], **controls: Any) -> None:
    """Show ``draw(**values)`` under controls (chapters 0, 1, 3, 4); headless, print one line."""
    if not controls:
        raise ValueError("explore needs at least one control, e.g. epoch=slider(epochs)")
    if not live():
        print(HEADLESS_NOTE)
        return
    from IPython.display import display

    display(interactive(draw, **controls))
