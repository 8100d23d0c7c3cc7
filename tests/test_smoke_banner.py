"""The 'smoke run: not results' banner sits at the top of every chapter built at smoke scale."""

from __future__ import annotations

import jupytext
import nbformat
import pytest

import ibcore
from ibcore.book import pipeline

NOTEBOOKS = pipeline.notebooks()


def _tagged(cell):
    return pipeline.SMOKE_TAG in cell.metadata.get("tags", [])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_banner_goes_right_under_the_chapter_title(nb):
    original = jupytext.read(nb)
    text = [c.source for c in original.cells]
    out = pipeline.add_smoke_banner(jupytext.read(nb))
    assert out.cells[0].source.startswith("# "), "the title stays first"
    assert _tagged(out.cells[1]) and "Smoke run: not results" in out.cells[1].source
    assert ":class: warning ibcore-smoke" in out.cells[1].source
    assert sum(map(_tagged, out.cells)) == 1
    # Nothing else changed: the title cell was only split around the banner.
    rest = [c.source for c in out.cells if not _tagged(c)]
    assert "\n".join(rest).split() == "\n".join(text).split()
    assert [c.cell_type for c in out.cells[3:]] == [c.cell_type for c in original.cells[1:]]
    nbformat.validate(out)
    assert len(pipeline.add_smoke_banner(out).cells) == len(out.cells), "idempotent"


def test_banner_without_a_title_cell_goes_first():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    pipeline.add_smoke_banner(nb)
    assert _tagged(nb.cells[0]) and nb.cells[1].source == "x = 1"


def test_title_alone_is_not_split():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("(label)=\n# Title\n")])
    pipeline.add_smoke_banner(nb)
    assert [c.source for c in nb.cells][0] == "(label)=\n# Title" and len(nb.cells) == 2


def test_setup_shows_no_second_banner(capsys):
    ibcore.setup(scale="smoke")
    assert "not results" not in capsys.readouterr().out
