"""Interactive controls of the live notebooks (the book as a course module; ibcore.book.widgets)."""

from __future__ import annotations

import os

import jupytext
import pytest

from ibcore.book import pipeline, widgets


def test_not_live_outside_a_kernel_or_when_headless(monkeypatch):
    assert not widgets.live()  # pytest has no IPython kernel
    monkeypatch.setenv(widgets.HEADLESS_ENV, "1")
    assert not widgets.live()


def test_explore_without_a_frontend_prints_one_line_and_draws_nothing(capsys):
    calls = []
    assert (
        widgets.explore(lambda epoch: calls.append(epoch), epoch=widgets.slider([0, 1, 5])) is None
    )
    assert capsys.readouterr().out.strip() == widgets.HEADLESS_NOTE
    assert calls == []


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
    monkeypatch.setattr(papermill, "execute_notebook", fake_execute_notebook)
    nb = tmp_path / "zz_widgets.py"
    nb.write_text("# %%\nx = 1\n")
    out = pipeline.execute(nb, tmp_path / "out" / "zz_widgets.ipynb", {"x": 2})
    assert seen == {"headless": "1", "live": False, "explore": None, "parameters": {"x": 2}}
    assert widgets.HEADLESS_NOTE in capsys.readouterr().out  # the one line instead of a widget
    assert out.is_file() and nbformat.read(out, as_version=4).cells[0].source == "x = 1"
    assert widgets.HEADLESS_ENV not in os.environ  # the caller's environment is restored


@pytest.mark.parametrize("ch", ["00", "01", "03", "04"])
def test_chapter_has_one_widget_cell_removed_from_the_book(ch):
    cells = jupytext.read(pipeline.find_notebook(ch)).cells
    found = [c for c in cells if c.cell_type == "code" and "iw.explore(" in c.source]
    assert len(found) == 1
    assert "remove-cell" in found[0].metadata.get("tags", [])
