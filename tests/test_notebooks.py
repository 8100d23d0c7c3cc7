"""Smoke execution of every chapter through papermill, and a smoke build of the whole book."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ibcore.book import pipeline
from ibcore.claims.primaries import PRIMARIES
from ibcore.paths import REPO_ROOT

pytestmark = pytest.mark.slow
NOTEBOOKS = pipeline.notebooks()


# The smoke build (fixture ``smoke_book``) lives in conftest.py: built once, shared with
# test_browser.py.


def test_there_are_chapters_and_each_is_in_the_toc():
    assert NOTEBOOKS, "no notebooks/NN_*.md found"
    toc = (REPO_ROOT / "book" / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"chapters/{nb.stem}" in toc


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_smoke_execution_outputs(smoke_book, nb):
    root, book, _ = smoke_book
    executed = json.loads((book / "chapters" / f"{nb.stem}.ipynb").read_text())
    outputs = [
        o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure"
    assert any("ibcore-verdict" in "".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert executed["cells"][0]["cell_type"] == "markdown"
    # The smoke banner is the cell under the title, and the setup cell does not repeat it.
    assert pipeline.SMOKE_TAG in executed["cells"][1]["metadata"].get("tags", [])
    assert not any(
        "ibcore-smoke" in "".join(o.get("data", {}).get("text/html", "")) for o in outputs
    )
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])


def test_smoke_verdicts_are_marked_smoke_only(smoke_book):
    root, _, _ = smoke_book
    found = [json.loads(p.read_text()) for p in (root / "results").glob("*.json")]
    records = [r for r in found if "claim" in r]
    assert records, "no verdict JSON written"
    assert {r["status"] for r in records} == {"smoke-only"}
    assert all(r["scale"] == "smoke" for r in records)
    assert {r["kind"] for r in records} == {"primary", "secondary", "check"}
    assert sum(r["kind"] == "primary" for r in records) == len(PRIMARIES)  # one per chapter
    family = [r for r in found if "primaries" in r]  # the Holm family beside the verdicts
    assert len(family) == 1 and all(p["holm_holds"] is None for p in family[0]["primaries"])


def test_smoke_book_html(smoke_book):
    _, book, html = smoke_book
    assert (html / "index.html").exists()
    for nb in NOTEBOOKS:
        page = (html / "chapters" / f"{nb.stem}.html").read_text()
        assert "ibcore-verdict" in page and "<img" in page and "Smoke run: not results" in page
        body = page[page.index("<h1") :]
        assert body.count("ibcore-smoke") == 1, "one smoke banner per page"
        assert body.index("ibcore-smoke") < body.index('class="cell'), "banner above every cell"
        assert "Traceback" not in page
    verdict_page = (html / "verdicts.html").read_text()
    assert "smoke-only" in verdict_page
    assert "Shwartz-Ziv" in (html / "references.html").read_text()


def test_bad_parameter_stops_the_notebook_with_one_clear_line(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    out = tmp_path / "bad.ipynb"
    with pytest.raises(PapermillExecutionError) as exc:
        pipeline.execute(NOTEBOOKS[0], out, {"scale": "fast"})
    assert (
        "parameter 'scale' = 'fast' is not allowed; choose one of ('smoke', 'cpu', 'full', 'paper')"
        in str(exc.value)
    )
    assert not out.exists()  # nothing half-written at the target path
    assert (tmp_path / "bad.failed.ipynb").exists()


def test_unknown_parameter_is_refused_by_plain_papermill(tmp_path):
    """A misplaced name (chapter 0 has no 'dataset') stops the notebook in its first cells."""
    import jupytext
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb = jupytext.read(NOTEBOOKS[0])
    with pytest.raises(PapermillExecutionError) as exc:
        pm.execute_notebook(nb, str(tmp_path / "x.ipynb"), parameters={"dataset": "mnist"},
                            kernel_name="python3", progress_bar=False)  # fmt: skip
    assert "unknown parameter 'dataset'; chapter 00's parameters are ('scale', " in str(exc.value)


@pytest.mark.parametrize(
    "args", [["run", "01", "-p", "activation", "relu"], ["run", "00", "-p", "dataset", "mnist"]]
)
def test_run_command_line_refuses_a_name_the_chapter_lacks(tmp_path, args):
    proc = subprocess.run(
        [sys.executable, "-m", "ibcore.book.pipeline", *args, "--out", str(tmp_path / "x.ipynb")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert f"unknown parameter '{args[3]}'; chapter {args[1]}'s parameters are ('scale', " in line
    assert not (tmp_path / "x.ipynb").exists()


def test_run_command_line_reports_the_bad_parameter(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ibcore.book.pipeline", "run", "00", "-p", "activation", "sigmoid",
         "--out", str(tmp_path / "x.ipynb")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "parameter 'activation' = 'sigmoid' is not allowed" in proc.stderr


def test_find_notebook():
    assert pipeline.find_notebook("00").name == "00_information_plane.md"
    with pytest.raises(ValueError, match=r"NB='99' matches 0 notebooks; choose one of"):
        pipeline.find_notebook("99")
