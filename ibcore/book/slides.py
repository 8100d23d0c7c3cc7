"""Slides per chapter (course module): reveal.js decks built by nbconvert from the story layer of
each executed chapter — its claim and takeaway, intuition, main experiment, figures and primary
verdict — never from the evidence, the exercises or the code the book hides.

``python -m ibcore.book.slides [CHAPTERS_DIR] [OUT_DIR]`` (``make slides``) writes
``OUT_DIR/NN_<name>.slides.html`` for every executed chapter in ``CHAPTERS_DIR`` (default: the
book's ``book/chapters/``, filled by ``make book``; ``OUT_DIR`` default ``build/slides/``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ibcore.atomic import atomic_write_text
from ibcore.paths import REPO_ROOT

DROP_TAGS = {"remove-cell", "parameters", "ibcore-install", "hide-output", "exercise", "solution",
             "check"}  # fmt: skip
"""Cells that are not part of the story: set-up, the evidence (collapsed outputs), exercises."""
EVIDENCE = re.compile(r"^\*\*(The evidence|Seen from all sides)\.\*\*")
SETUP = re.compile(r"^## Setup and parameters\b")
STORY_END = re.compile(r"^## (Exercises|Try this|References)\b", re.M)


def _has_figure(cell: Any) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def story_cells(nb: Any) -> list[Any]:
    """The cells of an executed chapter that make its slides, each with its reveal.js
    ``slide_type``: a heading opens a slide, a figure or a paragraph a sub-slide, code
    continues the slide it is on."""
    from ibcore.book.rerun import plain_cells

    out = []
    in_setup = False
    for cell in plain_cells(nb).cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "markdown" and STORY_END.search(cell.source):
            break
        if cell.cell_type == "markdown" and re.match(r"^## ", cell.source):
            in_setup = bool(SETUP.match(cell.source))
        if in_setup:  # the parameter tables and the set-up call: a reader's, not a lecture's
            continue
        if tags & DROP_TAGS or (cell.cell_type == "markdown" and EVIDENCE.match(cell.source)):
            continue
        if cell.cell_type == "code":
            if not cell.outputs and tags & {"remove-input", "hide-input"}:
                continue
            kind = "subslide" if _has_figure(cell) else "-"
        else:
            kind = "slide" if re.match(r"^#{1,2} ", cell.source) else "subslide"
        cell.metadata["slideshow"] = {"slide_type": kind}
        out.append(cell)
    return out


def chapter_slides(notebook: Path, out: Path) -> Path:
    """Write the reveal.js deck of one executed chapter ``notebook`` to ``out``."""
    import nbformat
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    from ibcore.book.rerun import export_with_book_css

    nb = nbformat.read(notebook, as_version=4)
    nb.cells = story_cells(nb)
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = ("remove-input", "hide-input", "hide-cell")
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.SlidesExporter.reveal_scroll = True  # a long claim box scrolls instead of being cut
    atomic_write_text(out, export_with_book_css(SlidesExporter(config=c), nb, c))
    return out


def write_slides(chapters: Path | None = None, out: Path | None = None) -> list[Path]:
    """Decks of every executed chapter in ``chapters`` into ``out`` (see the module)."""
    chapters = chapters or REPO_ROOT / "book" / "chapters"
    out = out or REPO_ROOT / "build" / "slides"
    found = sorted(p for p in chapters.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no executed chapters in {chapters}: run `make book` first")
    out.mkdir(parents=True, exist_ok=True)
    return [chapter_slides(nb, out / f"{nb.stem}.slides.html") for nb in found]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line of the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 2:
        print("usage: python -m ibcore.book.slides [CHAPTERS_DIR] [OUT_DIR]", file=sys.stderr)
        return 2
    try:
        paths = write_slides(*(Path(a) for a in args))
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    for p in paths:
        print(f"slides: {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
