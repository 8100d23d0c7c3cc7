"""Interactive controls for the notebooks of chapters 0–4 (course module). In a live kernel
:func:`explore` shows ipywidgets; headless (``IBCORE_HEADLESS=1``, set by the pipeline) it renders
every setting of its controls to a frame and writes them with a few lines of JavaScript, so the
same controls work on the static site without a kernel (:func:`static_frames`)."""

from __future__ import annotations

import base64
import contextlib
import html
import io
import itertools
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HEADLESS_ENV = "IBCORE_HEADLESS"
HEADLESS_NOTE = (
    "(interactive control: open this chapter in Jupyter with a live kernel to use it; "
    "the static figures above show the same data)"
)
MAX_FRAMES = 36
"""At most this many pre-rendered frames per control (a long slider is thinned, ends kept)."""
FRAME_DPI = 64
STATIC_ENV = "IBCORE_STATIC_FRAMES"
"""``0``: headless :func:`explore` prints :data:`HEADLESS_NOTE` instead of rendering frames."""


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


def _options(name: str, spec: Any) -> tuple[str, list[tuple[str, Any]]]:
    """(kind, [(label, value)]) of one control: ``"slider"`` (values are indices) or ``"select"``."""
    if isinstance(spec, Slider):
        return "slider", [(spec.label.format(v), i) for i, v in enumerate(spec.values)]
    opts = getattr(spec, "options", None) if not isinstance(spec, Sequence) else spec
    if isinstance(opts, str) or not opts:
        raise TypeError(f"control {name!r}: a static page needs a list of options or a slider")
    pairs = [o if isinstance(o, tuple) and len(o) == 2 else (str(o), o) for o in opts]
    return "select", [(str(k), v) for k, v in pairs]


def _thin(n: int, keep: int) -> list[int]:
    """``keep`` positions of ``range(n)``, evenly spread, first and last included."""
    if n <= keep:
        return list(range(n))
    if keep < 2:
        return [n - 1]
    return sorted({round(i * (n - 1) / (keep - 1)) for i in range(keep)})


def _render(draw: Callable[..., Any], values: dict[str, Any]) -> tuple[str, str]:
    """``draw(**values)`` to (base64 PNG of its figure, its printed text); figures are closed."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    out = io.StringIO()
    show = plt.show
    plt.show = lambda *a, **k: None  # the frame is saved, not shown
    try:
        with contextlib.redirect_stdout(out):
            draw(**values)
    finally:
        plt.show = show
    new = [n for n in plt.get_fignums() if n not in before]
    png = ""
    if new:
        buf = io.BytesIO()
        plt.figure(new[-1]).savefig(buf, format="png", dpi=FRAME_DPI, bbox_inches="tight")
        png = base64.b64encode(buf.getvalue()).decode()
    for n in new:
        plt.close(n)
    return png, out.getvalue()


def static_frames(draw: Callable[..., Any], max_frames: int = MAX_FRAMES, **controls: Any) -> str:
    """HTML that replays ``draw`` under ``controls`` without a kernel (chapters 0–4 on the site).

    Every combination of the controls' options is drawn once (a slider is thinned so that at most
    ``max_frames`` frames are drawn; dropdowns are kept whole) and stored as a PNG; a select per
    dropdown and a range input per slider swap the frame in the browser.
    """
    if not controls:
        raise ValueError("explore needs at least one control, e.g. epoch=slider(epochs)")
    specs = {name: _options(name, spec) for name, spec in controls.items()}
    combos = 1
    for kind, opts in specs.values():
        combos *= len(opts) if kind == "select" else 1
    n_sliders = sum(kind == "slider" for kind, _ in specs.values())
    if combos > max_frames:
        raise ValueError(f"{combos} option combinations exceed max_frames = {max_frames}")
    per = max(2, int((max_frames // combos) ** (1 / n_sliders))) if n_sliders else 1
    axes = []  # (name, kind, [(label, value)] after thinning)
    for name, (kind, opts) in specs.items():
        if kind == "slider":
            opts = [opts[i] for i in _thin(len(opts), per)]
        axes.append((name, kind, opts))
    frames, texts = [], []
    for pick in itertools.product(*(range(len(o)) for _, _, o in axes)):
        png, text = _render(draw, {n: o[i][1] for (n, _, o), i in zip(axes, pick, strict=True)})
        frames.append(png)
        texts.append(text)
    uid = f"ibf-{uuid.uuid4().hex[:10]}"
    ctl = []
    for j, (name, kind, opts) in enumerate(axes):
        label = html.escape(name)
        if kind == "select":
            options = "".join(f'<option value="{i}">{html.escape(k)}</option>'
                              for i, (k, _) in enumerate(opts))  # fmt: skip
            ctl.append(f'<label>{label} <select data-axis="{j}">{options}</select></label>')
        else:
            last = len(opts) - 1
            ctl.append(f'<label>{label} <input type="range" min="0" max="{last}" value="{last}" '
                       f'data-axis="{j}"> <span data-label="{j}"></span></label>')  # fmt: skip
    start = [0 if kind == "select" else len(o) - 1 for _, kind, o in axes]
    first = sum(p * _stride(axes, j) for j, p in enumerate(start))
    data = {"frames": frames, "texts": texts, "sizes": [len(o) for _, _, o in axes],
            "labels": [[k for k, _ in o] for _, _, o in axes]}  # fmt: skip
    # The printed text of a frame goes to a <pre>, hidden while the frame printed nothing and left
    # out when no frame prints (the theme gives every <pre> a grey panel, empty or not).
    pre = ""
    if any(texts):
        hidden = "" if texts[first] else " hidden"
        pre = f'<pre class="ibcore-frames-text"{hidden}>{html.escape(texts[first])}</pre>'
    return (
        f'<div class="ibcore-frames" id="{uid}">'
        f'<div class="ibcore-frames-controls">{" ".join(ctl)}</div>'
        f'<img alt="pre-rendered frame" src="data:image/png;base64,{frames[first]}">{pre}'
        f'<small class="ibcore-frames-note">pre-rendered: {len(frames)} frames of this run; '
        f"a live kernel draws every setting</small></div>"
        f"<script>(function(){{var r=document.getElementById('{uid}'),d={json.dumps(data)};"
        "var cs=r.querySelectorAll('[data-axis]'),img=r.querySelector('img'),"
        "pre=r.querySelector('pre');function upd(){var i=0,s=1;"
        "for(var j=d.sizes.length-1;j>=0;j--){var c=r.querySelector('[data-axis=\"'+j+'\"]');"
        "i+=s*parseInt(c.value);s*=d.sizes[j];"
        "var l=r.querySelector('[data-label=\"'+j+'\"]');if(l){l.textContent=d.labels[j][c.value];}}"
        "img.src='data:image/png;base64,'+d.frames[i];"
        "if(pre){pre.textContent=d.texts[i];pre.hidden=!d.texts[i];}}"
        "cs.forEach(function(c){c.addEventListener('input',upd);});upd();})();</script>"
    )


def _stride(axes: list, j: int) -> int:
    s = 1
    for _, _, o in axes[j + 1 :]:
        s *= len(o)
    return s


def explore(draw: Callable[..., Any], frames: int = MAX_FRAMES, **controls: Any) -> None:
    """Show ``draw(**values)`` under controls (chapters 0–4): ipywidgets in a live kernel;
    headless, the pre-rendered frames of :func:`static_frames` (one line where they cannot be
    made, or with ``IBCORE_STATIC_FRAMES=0``); ``frames``: at most this many frames."""
    if not controls:
        raise ValueError("explore needs at least one control, e.g. epoch=slider(epochs)")
    from IPython.display import HTML, display

    if live():
        display(interactive(draw, **controls))
        return
    if os.environ.get(STATIC_ENV, "1") == "0":
        print(HEADLESS_NOTE)
        return
    try:
        page = static_frames(draw, max_frames=frames, **controls)
    except (TypeError, ValueError) as exc:
        print(f"{HEADLESS_NOTE} [{exc}]")
        return
    display(HTML(page))
