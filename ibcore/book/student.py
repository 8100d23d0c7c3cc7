"""Student copies of the chapters, without solutions: ``make student`` (course module).

The exercise anatomy: a cell tagged ``exercise`` (a stub raising ``NotImplementedError``), then
one tagged ``solution``, then ``check`` cells (:mod:`ibcore.book.exercises`); a copy drops the
solutions and "Solution" dropdowns and tags checks ``raises-exception`` (``book/teacher.md``).
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

# The opening fence of a Solution dropdown or admonition; group 1 is the fence (3+ colons).
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
    """Replace every "Solution" dropdown (unclosed: to the end) by :data:`PLACEHOLDER`."""
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


STUDENT_SCALE = re.compile(r'^scale = "cpu"$', re.M)
STUDENT_SCALE_LINE = (
    'scale = "smoke"  # the exercises first: "Run all" reaches them in about a minute; set '
    '"cpu" for the chapter\'s real run (minutes)'
)
"""A student copy runs at ``smoke`` until the student asks for the real run."""
_STALE = re.compile(r"\s*The solutions are hidden under\s+\"Show solution\"\.")
_GLUE = re.compile(r"\{glue(?::md|:text)?\}`[^`]+`")


def student_markdown(text: str) -> str:
    """A chapter's Markdown as a student copy shows it in Jupyter or Colab: MyST directives and
    roles as plain Markdown (:func:`ibcore.book.plainmd.plain_markdown`), a glued result as a
    pointer to the run that computes it, and no sentence about solutions the copy does not
    have."""
    from ibcore.book.plainmd import plain_markdown

    text = _STALE.sub("", text)
    text = _GLUE.sub("*(computed when the chapter runs: run the cells above, or see the book)*",
                     text)  # fmt: skip
    return plain_markdown(text)


def student_notebook(nb: Any) -> Any:
    """A student copy of a chapter (``nb`` is left unchanged; see :func:`check_anatomy`)."""
    check_anatomy(nb)
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        t = tags(cell)
        if SOLUTION_TAG in t:
            continue
        if cell.cell_type == "markdown":
            cell.source = student_markdown(strip_markdown_solutions(cell.source))
        if "parameters" in t and cell.cell_type == "code":
            cell.source = STUDENT_SCALE.sub(STUDENT_SCALE_LINE, cell.source, count=1)
        if CHECK_TAG in t and RAISES_TAG not in t:
            cell.metadata["tags"] = [*t, RAISES_TAG]
        cells.append(cell)
    out.cells = cells
    return out


def check_anatomy(nb: Any) -> None:
    """``ValueError`` unless each ``solution`` follows its ``exercise`` stub, which raises."""
    cells = nb.cells
    for i, cell in enumerate(cells):
        t = tags(cell)
        if SOLUTION_TAG in t and (i == 0 or EXERCISE_TAG not in tags(cells[i - 1])):
            raise ValueError(f"cell {i}: a 'solution' cell must follow its 'exercise' stub")
        if EXERCISE_TAG in t and "NotImplementedError" not in cell.source:
            raise ValueError(f"cell {i}: an 'exercise' stub must raise NotImplementedError")


def exercise_cells(nb: Any, solutions: bool = True) -> list[Any]:
    """The exercise code cells in order: stubs, solutions (when ``solutions``) and checks."""
    keep = {EXERCISE_TAG, CHECK_TAG} | ({SOLUTION_TAG} if solutions else set())
    return [c for c in nb.cells if c.cell_type == "code" and keep & set(tags(c))]


def write_student_copies(
    out: Path = STUDENT_DIR, chapters: Iterable[Path] | None = None
) -> list[Path]:
    """Write unexecuted ``<out>/NN_name.ipynb`` and ``.md`` for ``chapters`` (default: all)."""
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
