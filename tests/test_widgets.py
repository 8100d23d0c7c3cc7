"""Interactive controls of the live notebooks (the book as a course module; ibcore.book.widgets)."""

from __future__ import annotations

import os

import jupytext
import pytest

from ibcore.book import pipeline, widgets
from ibcore.claims import MODULES


def test_not_live_outside_a_kernel_or_when_headless(monkeypatch):
    assert not widgets.live()  # pytest has no IPython kernel
    monkeypatch.setenv(widgets.HEADLESS_ENV, "1")
    assert not widgets.live()


def test_explore_without_frames_prints_one_line_and_draws_nothing(capsys, monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV, "0")
    calls = []
    assert (
        widgets.explore(lambda epoch: calls.append(epoch), epoch=widgets.slider([0, 1, 5])) is None
    )
    assert capsys.readouterr().out.strip() == widgets.HEADLESS_NOTE
    assert calls == []


def _frames(page: str) -> dict:
    import json
    import re

    return json.loads(re.search(r",d=(\{.*?\});var cs", page).group(1))


def test_static_frames_draw_every_setting_once_and_start_where_the_widget_starts():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls = []

    def draw(arch, epoch):
        calls.append((arch, epoch))
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, epoch + (10 if arch == "res" else 0)])
        print(f"{arch} at {epoch}")
        plt.show()

    page = widgets.static_frames(draw, arch=[("plain net", "plain"), ("residual", "res")],
                                 epoch=widgets.slider([0, 3, 40], "epoch {}"))  # fmt: skip
    d = _frames(page)
    assert sorted(calls) == sorted((a, e) for a in ("plain", "res") for e in range(3))
    assert d["sizes"] == [2, 3] and d["labels"] == [["plain net", "residual"],
                                                    ["epoch 0", "epoch 3", "epoch 40"]]  # fmt: skip
    assert len(set(d["frames"])) == 6 and all(d["frames"])  # six different PNGs
    assert d["texts"][0] == "plain at 0\n" and d["texts"][5] == "res at 2\n"  # last axis fastest
    assert f'src="data:image/png;base64,{d["frames"][2]}"' in page  # plain net, last epoch
    assert '<option value="1">residual</option>' in page and 'max="2" value="2"' in page
    assert plt.get_fignums() == []  # every frame's figure is closed


def test_static_frames_thin_a_long_slider_and_refuse_too_many_options():
    calls = []
    page = widgets.static_frames(lambda epoch: calls.append(epoch), max_frames=5,
                                 epoch=widgets.slider(range(100)))  # fmt: skip
    assert calls == [0, 25, 50, 74, 99] and len(_frames(page)["frames"]) == 5
    with pytest.raises(ValueError, match="exceed max_frames"):
        widgets.static_frames(lambda a: None, max_frames=2, a=["x", "y", "z"])
    with pytest.raises(TypeError, match="control 'a'"):
        widgets.static_frames(lambda a: None, a=3)


def test_static_frames_show_no_empty_text_panel():
    # The theme draws every <pre> as a grey panel: a control whose frames print nothing has
    # none, and one whose current frame printed nothing has it hidden until a frame prints.
    silent = widgets.static_frames(lambda epoch: None, epoch=widgets.slider([0, 1]))
    assert "<pre" not in silent and 'class="ibcore-frames-note"' in silent
    some = widgets.static_frames(lambda arch: print(arch) if arch == "res" else None,
                                 arch=["plain", "res"])  # fmt: skip
    assert '<pre class="ibcore-frames-text" hidden></pre>' in some
    assert "pre.hidden=!d.texts[i]" in some and _frames(some)["texts"] == ["", "res\n"]


def test_interactive_builds_controls_and_redraws_on_change():
    import ipywidgets as w

    calls = []
    box = widgets.interactive(
        lambda epoch, arch, kind: calls.append((epoch, arch, kind)),
        epoch=widgets.slider([0, 3, 40, 1500], "epoch {}"),
        arch=[("plain net", "plain"), ("residual net", "residual")],
        kind=["identity", "projection"],
    )
    epoch, arch, kind = box.kwargs_widgets
    assert isinstance(epoch, w.SelectionSlider) and isinstance(arch, w.Dropdown)
    assert [label for label, _ in epoch.options] == ["epoch 0", "epoch 3", "epoch 40", "epoch 1500"]
    assert calls == [(3, "plain", "identity")]  # drawn once, at the last epoch
    epoch.value = 1
    arch.value = "residual"
    assert calls[-1] == (1, "residual", "identity")


def test_bad_controls():
    with pytest.raises(ValueError, match="at least one control"):
        widgets.interactive(lambda: None)
    with pytest.raises(ValueError, match="at least one control"):
        widgets.explore(lambda: None)
    with pytest.raises(ValueError, match="at least one value"):
        widgets.slider([])
    with pytest.raises(TypeError, match="control 'x'"):
        widgets.interactive(lambda x: None, x=3)


def test_pipeline_runs_notebooks_headless_and_restores_the_environment(
    tmp_path, monkeypatch, capsys
):
    """pipeline.execute, with papermill replaced by a stand-in that looks at the kernel's view."""
    import nbformat
    import papermill

    seen = {}

    def fake_execute_notebook(notebook, output_path, **kwargs):
        seen["headless"] = os.environ.get(widgets.HEADLESS_ENV)
        seen["live"] = widgets.live()
        seen["explore"] = widgets.explore(lambda epoch: None, epoch=widgets.slider([0, 1]))
        seen["parameters"] = kwargs["parameters"]
        nbformat.write(notebook, output_path)

    monkeypatch.delenv(widgets.HEADLESS_ENV, raising=False)
    monkeypatch.setenv(widgets.STATIC_ENV, "0")
    monkeypatch.setattr(papermill, "execute_notebook", fake_execute_notebook)
    nb = tmp_path / "zz_widgets.py"
    nb.write_text("# %%\nx = 1\n")
    out = pipeline.execute(nb, tmp_path / "out" / "zz_widgets.ipynb", {"x": 2})
    assert seen == {"headless": "1", "live": False, "explore": None, "parameters": {"x": 2}}
    assert widgets.HEADLESS_NOTE in capsys.readouterr().out  # the one line instead of a widget
    assert out.is_file() and nbformat.read(out, as_version=4).cells[0].source == "x = 1"
    assert widgets.HEADLESS_ENV not in os.environ  # the caller's environment is restored


@pytest.mark.parametrize("ch", sorted(MODULES))
def test_chapter_has_one_control_shown_on_the_site_without_its_code(ch):
    cells = jupytext.read(pipeline.find_notebook(ch)).cells
    found = [c for c in cells if c.cell_type == "code" and "explore(" in c.source]
    assert len(found) == 1
    tags = found[0].metadata.get("tags", [])
    assert "remove-input" in tags and "remove-cell" not in tags  # the frames stay on the page
