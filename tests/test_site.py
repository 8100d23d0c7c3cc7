"""The book as a site to publish (ibcore.book.site): the launch-button setting, the install cell
of each chapter, the notebook downloads next to each page, the Binder files."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from ibcore.book import pipeline, site, student
from ibcore.book.student import SOLUTION_TAG, tags
from ibcore.paths import REPO_ROOT

NOTEBOOKS = pipeline.notebooks()
IDS = [nb.stem for nb in NOTEBOOKS]


def test_repository_setting(monkeypatch):
    monkeypatch.delenv(site.REPOSITORY_ENV, raising=False)
    assert site.repository() is None
    monkeypatch.setenv(site.REPOSITORY_ENV, "  ")
    assert site.repository() is None
    monkeypatch.setenv(site.REPOSITORY_ENV, "some-one/ib.book")
    assert site.repository() == "https://github.com/some-one/ib.book"
    assert site.repository("https://github.com/a/b.git/") == "https://github.com/a/b"
    for bad in ["ibbook", "https://gitlab.com/a/b", "a/b/c", "a b/c"]:
        with pytest.raises(ValueError, match="IBBOOK_REPOSITORY = .* use OWNER/NAME"):
            site.repository(bad)


def test_launch_options_with_and_without_the_setting():
    off = site.launch_options(None)
    assert not any(off["launch_buttons"].values()) and off["use_repository_button"] is False
    assert "repository_url" not in off
    on = site.launch_options("https://github.com/a/b")
    assert on["repository_url"] == "https://github.com/a/b"
    assert on["repository_branch"] == site.LAUNCH_BRANCH and on["path_to_docs"] == ""
    assert on["launch_buttons"]["binderhub_url"] and on["launch_buttons"]["colab_url"]


def test_the_book_config_names_no_repository_itself():
    import yaml

    config = yaml.safe_load((REPO_ROOT / "book" / "_config.yml").read_text())
    assert "repository" not in config and "launch_buttons" not in config
    assert "ibcore.book.site" in config["sphinx"]["extra_extensions"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_each_chapter_has_the_install_cell_first(nb):
    cells = jupytext.read(nb).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert len(site.install_cells(jupytext.read(nb))) == 1
    first = code[0]
    assert site.INSTALL_TAG in tags(first) and "remove-cell" in tags(first)
    assert first.source == site.INSTALL_SOURCE, f"{nb.stem}: install cell differs from site.py"
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")


def _run_install_cell(source, monkeypatch, tmp_path, *, ibcore_found, headless):
    """Execute the install cell with ibcore importable or not; return the pip commands."""
    calls = []
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ibcore" and not ibcore_found else real(name, *a),
    )
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, *a, **k: calls.append(cmd))
    if headless:
        monkeypatch.setenv("IBCORE_HEADLESS", "1")
    else:
        monkeypatch.delenv("IBCORE_HEADLESS", raising=False)
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__main__"}
    exec(compile(source, "<install cell>", "exec"), ns)
    # no public name left behind: the chapter's parameter check refuses unknown globals
    assert [k for k in ns if not k.startswith("_")] == []
    return calls


def test_install_cell_is_inert_where_ibcore_is_importable_or_headless(monkeypatch, tmp_path):
    src = site.install_source("https://github.com/a/b@" + "0" * 40)
    assert _run_install_cell(src, monkeypatch, tmp_path, ibcore_found=True, headless=False) == []
    assert _run_install_cell(src, monkeypatch, tmp_path, ibcore_found=False, headless=True) == []
    assert not (tmp_path / "ibcore-hold.txt").exists()


def test_install_cell_holds_the_hosts_torch(monkeypatch, tmp_path):
    source = "https://github.com/a/b@" + "0" * 40
    src = site.install_source(source)
    (cmd,) = _run_install_cell(src, monkeypatch, tmp_path, ibcore_found=False, headless=False)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert cmd[-1] == f"ibcore @ git+{source}"
    hold = (tmp_path / cmd[cmd.index("-c") + 1]).read_text().split()
    assert f"torch=={importlib.metadata.version('torch')}" in hold
    assert f"numpy=={importlib.metadata.version('numpy')}" in hold


def test_install_cell_without_a_source_says_how_to_install(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match="ibcore is not installed: pip install"):
        _run_install_cell(
            site.INSTALL_SOURCE, monkeypatch, tmp_path, ibcore_found=False, headless=False
        )


def test_install_source_rejects_a_source_that_is_not_a_url():
    with pytest.raises(ValueError, match="source = .*expected a URL"):
        site.install_source('x"; import os')


def test_chapter_downloads(tmp_path):
    nb = NOTEBOOKS[0]
    executed = tmp_path / "in" / f"{nb.stem}.ipynb"
    executed.parent.mkdir()
    executed.write_text(jupytext.writes(jupytext.read(nb), fmt="ipynb"))
    src = "https://github.com/a/b@" + "1" * 40
    done, student = site.write_chapter_downloads(executed, nb, tmp_path / "out", src)
    assert done.name == f"{nb.stem}.ipynb" and student.name == f"{nb.stem}.student.ipynb"
    for path in (done, student):
        copy = nbformat.read(path, as_version=4)
        nbformat.validate(copy)
        (cell,) = site.install_cells(copy)
        assert f'_IBCORE_SOURCE = "{src}"' in cell.source
    original = jupytext.read(nb)
    student_nb = nbformat.read(student, as_version=4)
    assert not [c for c in student_nb.cells if SOLUTION_TAG in tags(c)]
    if any(SOLUTION_TAG in tags(c) for c in original.cells):
        assert len(student_nb.cells) < len(original.cells)


def test_binder_files():
    post = REPO_ROOT / "binder" / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash") and post.stat().st_mode & 0o111
    assert "-c requirements/constraints.txt" in text and "-c binder/constraints.txt" in text
    assert re.search(r"python-3\.1[1-9]", (REPO_ROOT / "binder" / "runtime.txt").read_text())
    subprocess.run(["bash", "-n", str(post)], check=True)


def test_write_binder(tmp_path):
    assert site.write_binder(tmp_path, None, "") is None and not (tmp_path / "binder").exists()
    out = site.write_binder(tmp_path, "https://github.com/a/b", "https://github.com/a/b@c0ffee")
    assert (out / "postBuild").is_file() and (out / "constraints.txt").is_file()
    assert (out / "source").read_text().strip() == "https://github.com/a/b@c0ffee"
    assert (tmp_path / ".nojekyll").exists()


def _mini_book(tmp_path):
    """The book with chapter 0 only, unexecuted (the launch and download parts need no run)."""
    book = tmp_path / "book"
    shutil.copytree(REPO_ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "chapters"))
    (book / "chapters").mkdir()
    nb = NOTEBOOKS[0]
    (book / "chapters" / f"{nb.stem}.ipynb").write_text(
        jupytext.writes(jupytext.read(nb), fmt="ipynb")
    )
    (book / "_toc.yml").write_text(
        f"format: jb-book\nroot: intro\nchapters:\n  - file: chapters/{nb.stem}\n"
    )
    return book, nb.stem


def _build(book, env):
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [exe, "build", str(book), "--builder", "html"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return book / "_build" / "html"


@pytest.mark.slow
@pytest.mark.parametrize("repo", [None, "someone/ibbook"])
def test_built_page_launch_buttons_and_downloads(tmp_path, repo):
    book, stem = _mini_book(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop(site.REPOSITORY_ENV, None)
    if repo:
        env[site.REPOSITORY_ENV] = repo
    html = _build(book, env)
    page = (html / "chapters" / f"{stem}.html").read_text()
    hrefs = set(re.findall(r'href="([^"]+)"', page))
    launch = [h for h in hrefs if "mybinder.org" in h or "colab.research.google.com" in h]
    if repo is None:
        assert launch == []
    else:
        assert sorted(launch) == [
            f"https://colab.research.google.com/github/someone/ibbook/blob/gh-pages/chapters/{stem}.ipynb",
            f"https://mybinder.org/v2/gh/someone/ibbook/gh-pages?urlpath=lab/tree/chapters/{stem}.ipynb",
        ]
    assert "executed notebook (.ipynb)" in page and "student notebook (.ipynb)" in page
    for name in (f"{stem}.ipynb", f"{stem}.student.ipynb"):
        assert name in hrefs and (html / "chapters" / name).is_file()
    student = json.loads((html / "chapters" / f"{stem}.student.ipynb").read_text())
    assert not [c for c in student["cells"] if SOLUTION_TAG in c["metadata"].get("tags", [])]
    filled = "".join(site.install_cells(nbformat.reads(json.dumps(student), 4))[0].source)
    assert ('_IBCORE_SOURCE = ""' in filled) == (repo is None)


def test_publish_workflow_builds_the_site_then_the_full_book():
    import yaml

    flow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "publish.yml").read_text())
    trigger = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert list(trigger) == ["push"] and trigger["push"]["tags"]
    assert list(flow["jobs"]) == ["site", "full"]
    steps = flow["jobs"]["site"]["steps"]
    assert [s["run"].strip() for s in steps if "run" in s] == ["make site"]
    used = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert used == [
        "actions/checkout",
        "actions/setup-python",
        "peaceiris/actions-gh-pages",
        "softprops/action-gh-release",
    ]
    pages, release = [s["with"] for s in steps if "uses" in s and "with" in s][-2:]
    assert (
        pages["publish_dir"] == "book/_build/html" and pages["publish_branch"] == site.LAUNCH_BRANCH
    )
    files = release["files"].split()
    assert f"book/_build/html/{site.PDF_NAME}" in files
    assert "book/_build/html/chapters/*.ipynb" in files
    for job in flow["jobs"].values():
        assert job["env"][site.REPOSITORY_ENV] == "${{ github.repository }}"
    make = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^site: ", make, re.M) and "-m ibcore.book.site" in make
    # the full book: after the site, within a hosted job's 6 hours, under /full/ of the same site
    full = flow["jobs"]["full"]
    assert full["needs"] == "site" and full["timeout-minutes"] <= 360
    runs = [s["run"] for s in full["steps"] if "run" in s]
    assert "make data || make data ARGS=--download" in runs[0]
    assert runs[1].strip() == "make book SCALE=full"
    deploy = full["steps"][-1]["with"]
    assert deploy["publish_dir"] == "build/full/book/_build/html"
    assert deploy["destination_dir"] == "full" and deploy["keep_files"] is True
    assert deploy["publish_branch"] == site.LAUNCH_BRANCH
    # the site's own deploy keeps /full/ (an orphan commit would wipe it until the full job ends)
    assert pages.get("keep_files") is True and not pages.get("force_orphan")


@pytest.mark.slow
def test_pdf_of_the_smoke_book(smoke_book, tmp_path):
    browser = site.chromium()
    if browser is None:
        pytest.skip("no Chromium: the PDF is left out (apt-get install chromium)")
    _, book, _ = smoke_book
    pdf = site.build_pdf(book, tmp_path / site.PDF_NAME, browser)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 100_000
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= len(NOTEBOOKS) + 2


def test_student_chapter_drops_solutions_and_check_outputs():
    nb = jupytext.read(NOTEBOOKS[0])
    for cell in nb.cells:
        if cell.cell_type == "code" and "check" in tags(cell):
            cell.outputs = [nbformat.v4.new_output("stream", text="✓ passed\n")]
    assert any(c.get("outputs") for c in nb.cells if "check" in tags(c))
    out = site.student_chapter(nb)
    assert not [c for c in out.cells if SOLUTION_TAG in tags(c)]
    checks = [c for c in out.cells if "check" in tags(c)]
    assert checks and all(c.outputs == [] for c in checks)


@pytest.mark.slow
def test_student_edition_of_the_smoke_book(smoke_book, tmp_path):
    _, book, html = smoke_book
    out = site.build_student_edition(book, tmp_path / "student")
    assert "(student edition)" in (out / "intro.html").read_text()
    for nb in NOTEBOOKS:
        teacher = (html / "chapters" / f"{nb.stem}.html").read_text()
        page = (out / "chapters" / f"{nb.stem}.html").read_text()
        assert "ibcore-verdict" in page and "<img" in page
        assert "tag_solution" not in page
        if "tag_solution" in teacher:
            assert "tag_exercise" in page and "tag_check" in page
        assert page.count("Solution removed from the student copy") == sum(
            len(student._OPEN.findall(c.source)) for c in jupytext.read(nb).cells
        )


def test_install_cell_installs_a_wheel_url_as_it_is(monkeypatch, tmp_path):
    url = "https://o.github.io/n/dist/" + site.wheel_name()
    (cmd,) = _run_install_cell(site.install_source(url), monkeypatch, tmp_path,
                               ibcore_found=False, headless=False)  # fmt: skip
    assert cmd[-1] == url  # a wheel is pip's argument as it is, not "ibcore @ git+…"


def test_the_published_notebooks_install_the_wheel_published_with_the_site(monkeypatch):
    monkeypatch.delenv(site.SITE_URL_ENV, raising=False)
    assert site.wheel_source(None) == ""
    assert site.site_url("https://github.com/Owner/ibbook") == "https://owner.github.io/ibbook/"
    assert site.wheel_source("https://github.com/Owner/ibbook") == (
        f"https://owner.github.io/ibbook/dist/{site.wheel_name()}"
    )
    monkeypatch.setenv(site.SITE_URL_ENV, "https://example.org/book")
    assert site.wheel_source(None) == f"https://example.org/book/dist/{site.wheel_name()}"
