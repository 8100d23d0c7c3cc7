"""Exercises and student copies (the book as a course module; ibcore.book.student).

The solutions are checked by running only the exercise cells of each chapter (stubs, solutions,
checks) in one namespace, in this process: the checks are self-contained by design, so no
chapter has to be executed for them. One chapter's student copy is also executed whole through
papermill at smoke scale, to show that it runs through and fails only at the checks.
"""

from __future__ import annotations

import contextlib
import io
import json
import textwrap

import jupytext
import nbformat
import pytest

from ibcore.book import pipeline, student
from ibcore.book.student import (
    CHECK_TAG,
    EXERCISE_TAG,
    PLACEHOLDER,
    RAISES_TAG,
    SOLUTION_TAG,
    exercise_cells,
    strip_markdown_solutions,
    student_notebook,
    tags,
)

NOTEBOOKS = pipeline.notebooks()
WITH_EXERCISES = [nb for nb in NOTEBOOKS if exercise_cells(jupytext.read(nb))]
IDS = [nb.stem for nb in WITH_EXERCISES]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the whole module, so a run trained by one test is reused by the next."""
    return tmp_path_factory.mktemp("student-cache")


@pytest.fixture
def cache(shared_cache, monkeypatch):
    monkeypatch.setenv("IBCORE_CACHE", str(shared_cache))
    return shared_cache


def run_cells(cells):
    """Execute cells in one fresh namespace; return [(cell, exception or None, stdout)]."""
    ns: dict = {"__name__": "__exercise__"}
    results = []
    for cell in cells:
        buf = io.StringIO()
        err = None
        with contextlib.redirect_stdout(buf):
            try:
                exec(compile(cell.source, f"<{','.join(tags(cell))}>", "exec"), ns)
            except Exception as exc:  # noqa: BLE001 - reported per cell below
                err = exc
        results.append((cell, err, buf.getvalue()))
    return results


def test_chapters_0_and_4_have_two_or_three_coding_exercises():
    stems = {nb.stem[:2]: nb for nb in WITH_EXERCISES}
    for ch in ("00", "04"):
        stubs = [c for c in jupytext.read(stems[ch]).cells if EXERCISE_TAG in tags(c)]
        assert 2 <= len(stubs) <= 3, f"chapter {ch}: {len(stubs)} stubs"


@pytest.mark.parametrize("nb", WITH_EXERCISES, ids=IDS)
def test_solutions_pass_their_checks(nb, cache):
    results = run_cells(exercise_cells(jupytext.read(nb), solutions=True))
    for cell, err, out in results:
        assert err is None, f"{nb.stem}: {type(err).__name__}: {err}\n{cell.source}"
        if "check_" in cell.source:
            assert "✓" in out, f"{nb.stem}: checker printed no success line:\n{out}"


@pytest.mark.parametrize("nb", WITH_EXERCISES, ids=IDS)
def test_student_exercises_stop_at_the_stubs(nb, cache):
    """Without solutions, every check raises the stub's NotImplementedError, and nothing else."""
    results = run_cells(exercise_cells(student_notebook(jupytext.read(nb)), solutions=False))
    for cell, err, _ in results:
        if CHECK_TAG in tags(cell):
            assert isinstance(err, NotImplementedError), f"{nb.stem}: {err!r}\n{cell.source}"
            assert RAISES_TAG in tags(cell)
        else:
            assert err is None, f"{nb.stem}: the stub itself failed: {err!r}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_student_copy_contains_no_solution(nb):
    original = jupytext.read(nb)
    copy_ = student_notebook(original)
    assert not [c for c in copy_.cells if SOLUTION_TAG in tags(c)]
    text = "\n".join(c.source for c in copy_.cells)
    stubs = "\n".join(c.source for c in original.cells if EXERCISE_TAG in tags(c))
    for cell in original.cells:
        if SOLUTION_TAG in tags(cell):
            body = {ln.strip() for ln in cell.source.splitlines()} - {
                ln.strip() for ln in stubs.splitlines()
            }
            leaked = [ln for ln in body if len(ln) > 3 and ln in text]
            assert not leaked, f"{nb.stem}: solution lines in the student copy: {leaked}"
    assert not [ln for ln in text.splitlines() if student._OPEN.match(ln)]
    n_dropdowns = sum(len(student._OPEN.findall(c.source)) for c in original.cells)
    assert text.count(PLACEHOLDER) == n_dropdowns
    assert len(copy_.cells) == len(original.cells) - sum(
        SOLUTION_TAG in tags(c) for c in original.cells
    )
    again = jupytext.read(nb).cells
    assert [(c.source, c.metadata) for c in again] == [
        (c.source, c.metadata) for c in original.cells
    ]


def test_strip_markdown_solutions():
    text = textwrap.dedent(
        """\
        **1.** A question.

        :::{admonition} Solution
        :class: dropdown
        secret one
        :::

        ::::{dropdown} Solution (with a nested block)
        secret two
        :::{note}
        secret three
        :::
        ::::

        :::{admonition} Claim
        :class: tip
        kept
        :::

        :::{admonition} Solution
        not a dropdown: kept
        :::

        :::{dropdown} Solution
        unclosed secret"""
    )
    out = strip_markdown_solutions(text)
    assert "secret" not in out
    assert out.count(PLACEHOLDER) == 3
    assert "kept" in out and "not a dropdown: kept" in out and "A question" in out


def test_check_anatomy_rejects_a_misplaced_solution_or_a_stub_that_works():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": [SOLUTION_TAG]})]
    with pytest.raises(ValueError, match="must follow its 'exercise' stub"):
        student_notebook(nb)
    nb.cells = [
        nbformat.v4.new_code_cell("def f():\n    return 1", metadata={"tags": ["exercise"]})
    ]
    with pytest.raises(ValueError, match="must raise NotImplementedError"):
        student_notebook(nb)


def test_write_student_copies_covers_every_chapter(tmp_path):
    written = student.write_student_copies(tmp_path)
    assert [p.stem for p in written] == [nb.stem for nb in NOTEBOOKS]
    for p in written:
        nbformat.validate(nbformat.read(p, as_version=4))
        assert jupytext.read(p.with_suffix(".md")).cells
    assert student.main(["00", "--out", str(tmp_path / "one")]) == 0
    assert [p.name for p in sorted((tmp_path / "one").iterdir())] == [
        f"{NOTEBOOKS[0].stem}.ipynb",
        f"{NOTEBOOKS[0].stem}.md",
    ]


@pytest.mark.slow
def test_student_copy_runs_through_at_smoke_scale(tmp_path, cache):
    """Chapter 0's student copy, executed whole: every cell runs, errors only at the checks.

    The checks carry ``raises-exception``, so the kernel goes on after them; papermill still
    reports the error outputs once at the end, and :func:`ibcore.book.pipeline.execute` then keeps the
    executed copy as ``<out>.failed.ipynb``.
    """
    from papermill.exceptions import PapermillExecutionError

    nb = WITH_EXERCISES[0]
    (copy_path,) = student.write_student_copies(tmp_path / "student", [nb])
    out = tmp_path / "executed.ipynb"
    with pytest.raises(PapermillExecutionError, match="NotImplementedError"):
        pipeline.execute(copy_path.with_suffix(".md"), out, {"scale": "smoke"})
    cells = json.loads((tmp_path / "executed.failed.ipynb").read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code), "not every cell ran"
    errors = [(c, o) for c in code for o in c.get("outputs", []) if o["output_type"] == "error"]
    n_checks = sum(CHECK_TAG in c["metadata"].get("tags", []) for c in code)
    assert n_checks >= 2 and len(errors) == n_checks
    for cell, err in errors:
        assert CHECK_TAG in cell["metadata"]["tags"]
        assert err["ename"] == "NotImplementedError"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("ibcore-verdict" in "".join(o.get("data", {}).get("text/html", "")) for o in outputs)


@pytest.mark.parametrize("nb", pipeline.notebooks(), ids=lambda p: p.stem)
def test_student_copy_is_plain_jupyter_markdown(nb):
    """Jupyter and Colab show MyST directives and roles as raw text: a student copy has none,
    and no sentence about 'Show solution' buttons it does not have."""
    text = "\n".join(c.source for c in student_notebook(jupytext.read(nb)).cells
                     if c.cell_type == "markdown")  # fmt: skip
    for raw in (":::{", "{cite", "{glue", "{doc}", "{ref}", "{numref}", ":class:",
                "Show solution"):  # fmt: skip
        assert raw not in text, (nb.stem, raw)


def test_student_markdown_on_known_text():
    text = ('Try it. The solutions are hidden under\n"Show solution". Next.\n'
            ":::{admonition} Why\n:class: tip\nSee {cite:t}`saxe2018`.\n:::\n"
            "It reads {glue:md}`ch0_takeaway`.")  # fmt: skip
    out = student.student_markdown(text)
    assert out.startswith("Try it. Next.") and "> **Why**" in out and "> See saxe2018." in out
    assert "computed when the chapter runs" in out and "{glue" not in out


@pytest.mark.parametrize("nb", pipeline.notebooks(), ids=lambda p: p.stem)
def test_a_student_copy_starts_at_smoke_so_the_exercises_come_first(nb):
    cells = student_notebook(jupytext.read(nb)).cells
    params = next(c for c in cells if "parameters" in tags(c))
    assert params.source.startswith('scale = "smoke"  #') and '"cpu"' in params.source
    # the book's own notebook keeps the cpu default
    assert (
        'scale = "cpu"'
        in next(c for c in jupytext.read(nb).cells if "parameters" in tags(c)).source
    )
