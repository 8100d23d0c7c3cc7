"""Student copies of the chapters, without solutions: ``make student`` (course module).

**The exercise anatomy** (every chapter, ``notebooks/NN_*.md``; a new chapter that follows it is
picked up without any change here):

* a markdown cell stating the exercise;
* a code cell tagged ``exercise``: the stub, a function whose body raises ``NotImplementedError``;
* right after it, a code cell tagged ``solution`` (and ``hide-input``, with the prompt "Show
  solution"): the same function, solved. It runs when the book is built, so the book's checks
  and results are real, but the reader sees only a closed dropdown;
* one or more code cells tagged ``check``: they call a checker from :mod:`ibcore.book.exercises` on the
  student's function, or use the function on data. Checks are self-contained (their own imports
  and data; never the chapter's training runs), so they can be run without the chapter;
* pen-and-paper answers as MyST dropdowns in markdown: ``:::{dropdown} Solution`` or
  ``:::{admonition} Solution`` with ``:class: dropdown`` (chapters 1 and 3).

**The student copy** (:func:`student_notebook`) drops every ``solution`` cell, replaces every
"Solution" dropdown in markdown by a one-line placeholder, and tags every ``check`` cell
``raises-exception``. We chose that tag (rather than letting the copy stop at the first stub):
executed headless (``jupyter nbconvert --execute``, papermill, a teacher's CI) the whole chapter
runs, every figure is made, and each check shows the stub's ``NotImplementedError`` until the
student has written the function (papermill runs every cell too, but reports the errors once at
the end). In JupyterLab, "Run All" still stops at the first failing cell; since the exercises
come after the chapter's runs and figures, that is the first check, where the work starts. The
copies are written unexecuted as ``build/student/NN_name.ipynb`` and as MyST text notebooks
``build/student/NN_name.md`` (:func:`write_student_copies`).

Command line: ``python -m ibcore.book.student [--out DIR] [NB ...]`` (``make student``).
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ibcore.paths import REPO_ROOT

EXERCISE_TAG = "exercise"
SOLUTION_TAG = "solution"
CHECK_TAG = "check"
RAISES_TAG = "raises-exception"
STUDENT_DIR = REPO_ROOT / "build" / "student"
PLACEHOLDER = "*(Solution removed from the student copy.)*"

# An opening colon fence of a Solution dropdown: ':::{dropdown} Solution…' or
# ':::{admonition} Solution…' followed by ':class: dropdown'. Group 1 is the fence (3+ colons).
_OPEN = re.compile(
    r"^(:{3,})\{(?:dropdown|admonition)\}\s*Solution\b.*$", flags=re.IGNORECASE | re.MULTILINE
)


def tags(cell: Any) -> list[str]:
    """The cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


def _is_solution_block(lines: list[str], start: int) -> bool:
    head = lines[start]
    if "{dropdown}" in head.lower():
        return True
    opts = lines[start + 1 : start + 4]
    return any(re.match(r"^:class:.*\bdropdown\b", line.strip()) for line in opts)


def strip_markdown_solutions(text: str) -> str:
    """Replace every "Solution" dropdown block of a markdown cell by :data:`PLACEHOLDER`.

    A block opens with ``:::{dropdown} Solution`` (or ``{admonition} Solution`` plus
    ``:class: dropdown``) and ends at the next line made of exactly the same colons. An unclosed
    block is removed to the end of the cell, so no solution text can leak.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m and _is_solution_block(lines, i):
            fence = m.group(1)
            j = i + 1
            while j < len(lines) and lines[j].strip() != fence:
                j += 1
            out.append(PLACEHOLDER)
            i = j + 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def student_notebook(nb: Any) -> Any:
    """A student copy of a chapter (a jupytext/nbformat notebook); ``nb`` is left unchanged.

    Drops ``solution`` cells, strips "Solution" dropdowns from markdown cells and tags ``check``
    cells ``raises-exception`` (see the module docstring). Raises ``ValueError`` when a
    ``solution`` cell does not directly follow an ``exercise`` cell (a stub with its solution
    beside it is the anatomy the book promises).
    """
    check_anatomy(nb)
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        t = tags(cell)
        if SOLUTION_TAG in t:
            continue
        if cell.cell_type == "markdown":
            cell.source = strip_markdown_solutions(cell.source)
        if CHECK_TAG in t and RAISES_TAG not in t:
            cell.metadata["tags"] = [*t, RAISES_TAG]
        cells.append(cell)
    out.cells = cells
    return out


def check_anatomy(nb: Any) -> None:
    """Raise ``ValueError`` unless every ``solution`` cell directly follows an ``exercise`` cell
    and every ``exercise`` stub raises ``NotImplementedError``."""
    cells = nb.cells
    for i, cell in enumerate(cells):
        t = tags(cell)
        if SOLUTION_TAG in t and (i == 0 or EXERCISE_TAG not in tags(cells[i - 1])):
            raise ValueError(f"cell {i}: a 'solution' cell must follow its 'exercise' stub")
        if EXERCISE_TAG in t and "NotImplementedError" not in cell.source:
            raise ValueError(f"cell {i}: an 'exercise' stub must raise NotImplementedError")


def exercise_cells(nb: Any, solutions: bool = True) -> list[Any]:
    """The exercise code cells in order: stubs, solutions (when ``solutions``) and checks.

    Executed in this order in one namespace they run every exercise without the rest of the
    chapter (the tests do that with and without the solutions).
    """
    keep = {EXERCISE_TAG, CHECK_TAG} | ({SOLUTION_TAG} if solutions else set())
    return [c for c in nb.cells if c.cell_type == "code" and keep & set(tags(c))]


def write_student_copies(
    out: Path = STUDENT_DIR, chapters: Iterable[Path] | None = None
) -> list[Path]:
    """Write ``<out>/NN_name.ipynb`` and ``<out>/NN_name.md`` for every chapter (``make student``).

    ``chapters`` defaults to every ``notebooks/NN_*.md`` (:func:`ibcore.book.pipeline.notebooks`).
    The copies are not executed. Returns the ``.ipynb`` paths.
    """
    import jupytext

    from ibcore.atomic import atomic_write_text
    from ibcore.book.pipeline import notebooks

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for md in chapters if chapters is not None else notebooks():
        student = student_notebook(jupytext.read(md))
        ipynb = out / f"{md.stem}.ipynb"
        atomic_write_text(ipynb, jupytext.writes(student, fmt="ipynb"))
        atomic_write_text(out / f"{md.stem}.md", jupytext.writes(student, fmt="md:myst"))
        written.append(ipynb)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make student`` (see the module docstring)."""
    from ibcore.book.pipeline import find_notebook

    ap = argparse.ArgumentParser(
        prog="python -m ibcore.book.student", description=__doc__.split("\n")[0]
    )
    ap.add_argument("nb", nargs="*", help="chapters (number or name); default: all")
    ap.add_argument("--out", type=Path, default=STUDENT_DIR)
    a = ap.parse_args(argv)
    chapters = [find_notebook(n) for n in a.nb] if a.nb else None
    for p in write_student_copies(a.out, chapters):
        print(f"student copy: {p} (and {p.with_suffix('.md').name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
