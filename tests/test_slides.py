"""Slides per chapter (course module): the story layer of an executed chapter as a reveal.js
deck — headings open slides, glue is resolved, and the evidence, exercises, set-up and hidden
code stay out."""

import nbformat
import pytest

from ibcore.book import slides


def _chapter(tmp_path):
    nb = nbformat.v4.new_notebook()
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

    def tagged(cell, *tags):
        cell.metadata["tags"] = list(tags)
        return cell

    glue_out = nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/markdown": "the TAKEAWAY-TEXT"},
        metadata={"scrapbook": {"name": "ch9_takeaway", "mime_prefix": ""}},
    )  # fmt: skip
    nb.cells = [
        md(
            "# 9. A chapter\n\n:::{admonition} Claim\n:class: tip\nThe CLAIM-TEXT.\n:::\n\n"
            "{glue:md}`ch9_takeaway`"
        ),  # fmt: skip
        tagged(code("pip install ibcore"), "remove-cell", "ibcore-install"),
        md("## Setup and parameters\n\nSETUP-TEXT"),
        tagged(code("scale = 'cpu'"), "parameters"),
        code("env = ibcore.setup()"),
        md("## The experiment\n\nSTORY-TEXT"),
        tagged(code("HIDDEN_CODE"), "hide-input"),
        code("VISIBLE_CODE"),
        tagged(code("glue('ch9_takeaway', ...)"), "remove-input"),
        md("**The evidence.** EVIDENCE-TEXT"),
        tagged(code("show_records(...)"), "hide-output"),
        md("## Exercises\n\nEXERCISE-TEXT"),
        tagged(code("raise NotImplementedError"), "exercise"),
    ]
    nb.cells[6].outputs = [nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]  # fmt: skip
    nb.cells[8].outputs = [glue_out]
    path = tmp_path / "09_chapter.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_deck_holds_the_story_and_nothing_else(tmp_path):
    nb = nbformat.read(_chapter(tmp_path), as_version=4)
    cells = slides.story_cells(nb)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in cells]
    text = "\n".join(c.source for c in cells)
    assert kinds == ["slide", "slide", "subslide", "-"]  # two headings, a figure, code
    assert "CLAIM-TEXT" in text and "the TAKEAWAY-TEXT" in text and ":::" not in text
    for gone in ("pip install", "scale = ", "SETUP-TEXT", "ibcore.setup", "EVIDENCE", "show_records",
                 "EXERCISE", "glue("):  # fmt: skip
        assert gone not in text, gone


def test_make_slides_writes_a_reveal_deck_per_executed_chapter(tmp_path):
    _chapter(tmp_path)
    out = tmp_path / "slides"
    (path,) = slides.write_slides(tmp_path, out)
    html = path.read_text()
    assert path.name == "09_chapter.slides.html" and "Reveal.initialize" in html
    assert "STORY-TEXT" in html and "VISIBLE_CODE" in html and "HIDDEN_CODE" not in html
    assert "EXERCISE-TEXT" not in html and "EVIDENCE-TEXT" not in html
    with pytest.raises(FileNotFoundError, match="make book"):
        slides.write_slides(tmp_path / "none", out)
    assert slides.main([str(tmp_path / "none"), str(out)]) == 1
