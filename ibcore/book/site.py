"""The published site and hosted notebooks (``make site``; the book as a site to publish).

- One setting, ``IBBOOK_REPOSITORY`` (``OWNER/NAME`` or ``https://github.com/OWNER/NAME``,
  unset by default), names the public repository. Only when it is set do the chapter pages get
  Binder and Colab buttons; they open the executed notebook that the publish workflow pushes to
  the branch :data:`LAUNCH_BRANCH` (the HTML site, served by GitHub Pages).
- Each chapter carries one install cell (tag :data:`INSTALL_TAG`) as its first code cell: in a
  hosted notebook it installs ibcore beside the host's own torch, torchvision and numpy; where
  ibcore is importable, or in the book's own headless build, it does nothing.
- As a Sphinx extension of the book (``_config.yml``), this module writes next to each chapter
  page its executed notebook (``NN_name.ipynb``) and a student copy without solutions
  (``NN_name.student.ipynb``), and the page's download button offers both, named so.
- ``python -m ibcore.book.site`` (``make site``) builds the book and its student edition
  (solutions removed, under ``student/``), adds the Binder configuration for the published
  branch and, where Chromium is installed, a PDF of the book.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibcore.paths import REPO_ROOT

REPOSITORY_ENV = "IBBOOK_REPOSITORY"
LAUNCH_BRANCH = "gh-pages"
BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
INSTALL_TAG = "ibcore-install"
STUDENT_SUFFIX = ".student.ipynb"
PDF_NAME = "ibbook.pdf"

_REPO = re.compile(
    r"^(?:https://github\.com/)?(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/"
    r"(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$"
)

# The install cell, verbatim as in every chapter (tests/test_site.py checks it). _IBCORE_SOURCE
# is filled in the notebooks that the published site offers: the URL of the ibcore wheel
# published with the site (or a repository@commit, installed from git).
INSTALL_SOURCE = """\
# Hosted notebooks (Colab, Binder, a downloaded copy): install ibcore next to the host's own
# torch, torchvision and numpy, which are held at their installed versions. Where ibcore is
# importable already (a clone with `make`, the book's own build) this cell does nothing.
import importlib.metadata as _md, importlib.util as _iu, os as _os, subprocess as _sp, sys as _sys

_IBCORE_SOURCE = ""
if _iu.find_spec("ibcore") is None and not _os.environ.get("IBCORE_HEADLESS"):
    if not _IBCORE_SOURCE:
        raise RuntimeError("ibcore is not installed: pip install 'ibcore @ git+<repository URL>'")
    _hold = [f"{d}=={_md.version(d)}" for d in ("torch", "torchvision", "numpy") if _iu.find_spec(d)]
    with open("ibcore-hold.txt", "w") as _f:
        _f.write("\\n".join(_hold) + "\\n")
    _spec = _IBCORE_SOURCE if _IBCORE_SOURCE.endswith(".whl") else f"ibcore @ git+{_IBCORE_SOURCE}"
    _sp.check_call([_sys.executable, "-m", "pip", "install", "-q", "-c", "ibcore-hold.txt", _spec])"""

_SOURCE_LINE = re.compile(r'^_IBCORE_SOURCE = ".*"$', flags=re.MULTILINE)


def repository(value: str | None = None) -> str | None:
    """The public repository as ``https://github.com/OWNER/NAME``, from ``value`` or else the
    ``IBBOOK_REPOSITORY`` environment variable; ``None`` when neither is set."""
    raw = (value if value is not None else os.environ.get(REPOSITORY_ENV, "")).strip()
    if not raw:
        return None
    m = _REPO.match(raw)
    if m is None:
        raise ValueError(
            f"{REPOSITORY_ENV} = {raw!r} is not a GitHub repository; "
            "use OWNER/NAME or https://github.com/OWNER/NAME"
        )
    return f"https://github.com/{m['owner']}/{m['name']}"


def launch_options(repo: str | None) -> dict[str, Any]:
    """The theme options that put Binder and Colab buttons on the chapter pages for ``repo``
    (see :func:`repository`); without a repository, options that show no launch button."""
    if repo is None:
        return {"launch_buttons": {}, "use_repository_button": False}
    return {
        "repository_url": repo,
        "repository_branch": LAUNCH_BRANCH,
        "path_to_docs": "",
        "use_repository_button": True,
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "binderhub_url": BINDERHUB_URL,
            "colab_url": COLAB_URL,
        },
    }


def _source_line(source: str) -> str:
    if not re.fullmatch(r"[\w.:/@+~%-]*", source):
        raise ValueError(f"source = {source!r}: expected a URL like https://github.com/o/n@commit")
    return f'_IBCORE_SOURCE = "{source}"'


def install_source(source: str = "") -> str:
    """The install cell's code, with ``_IBCORE_SOURCE`` set to ``source`` (``repo@commit``)."""
    return _SOURCE_LINE.sub(_source_line(source), INSTALL_SOURCE)


def install_cells(nb: Any) -> list[Any]:
    """The cells of ``nb`` tagged :data:`INSTALL_TAG`."""
    return [c for c in nb.cells if INSTALL_TAG in c.get("metadata", {}).get("tags", [])]


def fill_install_cell(nb: Any, source: str) -> Any:
    """Set ``_IBCORE_SOURCE`` in ``nb``'s install cell (in place; returns ``nb``)."""
    line = _source_line(source)
    for cell in install_cells(nb):
        cell.source = _SOURCE_LINE.sub(line, cell.source)
    return nb


def ibcore_source(repo: str | None) -> str:
    """``repo@commit`` for the install cell of published notebooks ("" without a repository)."""
    if repo is None:
        return ""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{repo}@{commit}" if re.fullmatch(r"[0-9a-f]{40}", commit) else repo


WHEEL_DIR = "dist"
"""Where the published site keeps the wheel of ibcore that its notebooks install."""
SITE_URL_ENV = "IBBOOK_SITE_URL"


def wheel_name() -> str:
    """The file name of this version's ibcore wheel (pure Python)."""
    from ibcore import __version__

    return f"ibcore-{__version__}-py3-none-any.whl"


def site_url(repo: str | None) -> str | None:
    """Where the site is published: ``IBBOOK_SITE_URL``, else the GitHub Pages address of
    ``repo`` (``https://OWNER.github.io/NAME/``); ``None`` without either."""
    url = os.environ.get(SITE_URL_ENV, "").strip()
    if url:
        return url.rstrip("/") + "/"
    if repo is None:
        return None
    owner, name = repo.rstrip("/").split("/")[-2:]
    return f"https://{owner.lower()}.github.io/{name}/"


def wheel_source(repo: str | None) -> str:
    """The install cell's source in the published notebooks: the URL of the wheel published
    with the site ("" where the site's address is unknown)."""
    url = site_url(repo)
    return f"{url}{WHEEL_DIR}/{wheel_name()}" if url else ""


def build_wheel(out_dir: Path) -> Path:
    """Build this tree's ibcore wheel into ``out_dir`` (no dependencies); returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out_dir), str(REPO_ROOT)], check=True)  # fmt: skip
    path = out_dir / wheel_name()
    if not path.exists():
        raise FileNotFoundError(f"pip wheel did not write {path}")
    return path


def write_chapter_downloads(
    executed: Path, source: Path, out_dir: Path, ibcore_src: str = ""
) -> tuple[Path, Path]:
    """Write ``<out_dir>/<stem>.ipynb`` (the executed notebook) and ``<stem>.student.ipynb``
    (the unexecuted text notebook ``source`` without solutions), install cells filled in."""
    import jupytext
    import nbformat

    from ibcore.atomic import atomic_write_text
    from ibcore.book.student import student_notebook

    out_dir.mkdir(parents=True, exist_ok=True)
    done = fill_install_cell(nbformat.read(executed, as_version=4), ibcore_src)
    student = fill_install_cell(student_notebook(jupytext.read(source)), ibcore_src)
    paths = out_dir / f"{executed.stem}.ipynb", out_dir / f"{executed.stem}{STUDENT_SUFFIX}"
    atomic_write_text(paths[0], nbformat.writes(done))
    atomic_write_text(paths[1], jupytext.writes(student, fmt="ipynb"))
    return paths


def download_buttons(stem: str, pathto: Any) -> list[dict[str, str]]:
    """The two notebook entries of a chapter page's download button."""
    return [
        {"type": "link", "url": pathto(f"chapters/{stem}.ipynb", 1),
         "text": "executed notebook (.ipynb)", "icon": "fas fa-code",
         "tooltip": "The notebook as built for this page, with its outputs",
         "label": "download-executed-notebook-button"},
        {"type": "link", "url": pathto(f"chapters/{stem}{STUDENT_SUFFIX}", 1),
         "text": "student notebook (.ipynb)", "icon": "fas fa-graduation-cap",
         "tooltip": "Without solutions and unexecuted: for exercises",
         "label": "download-student-notebook-button"},
    ]  # fmt: skip


# --- Sphinx extension (listed in book/_config.yml) ---------------------------------------------


def _chapter_stem(pagename: str) -> str | None:
    m = re.fullmatch(r"chapters/([0-9][0-9]_\w+)", pagename)
    return m.group(1) if m else None


def _on_config(app: Any, config: Any) -> None:
    config.html_theme_options = {**config.html_theme_options, **launch_options(repository())}


def _on_page(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    stem = _chapter_stem(pagename)
    if stem is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            # the theme's ".ipynb" and source entries are both the executed notebook, unnamed
            theirs = {"download-notebook-button", "download-source-button"}
            rest = [b for b in group["buttons"] if b.get("label") not in theirs]
            group["buttons"] = download_buttons(stem, context["pathto"]) + rest


def _on_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.name != "html":
        return
    from ibcore.book.pipeline import NOTEBOOKS

    src = wheel_source(repository())
    if src:  # the notebooks below install this wheel from the site
        build_wheel(Path(app.outdir) / WHEEL_DIR)
    for docname in sorted(app.env.found_docs):
        stem = _chapter_stem(docname)
        executed = Path(app.env.doc2path(docname))
        if stem is None or executed.suffix != ".ipynb":
            continue
        write_chapter_downloads(
            executed, NOTEBOOKS / f"{stem}.md", Path(app.outdir) / "chapters", src
        )


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: launch buttons from the setting, the notebook downloads."""
    app.connect("config-inited", _on_config)
    app.connect("html-page-context", _on_page, priority=600)  # after the theme's buttons
    app.connect("build-finished", _on_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- make site ---------------------------------------------------------------------------------


def write_binder(html: Path, repo: str | None, src: str) -> Path | None:
    """Copy ``binder/`` and the constraints into ``<html>/binder/`` for launches on the
    published branch, with ``source`` naming ``repository@commit``; nothing without a repo."""
    if repo is None:
        return None
    from ibcore.atomic import atomic_write_text

    out = html / "binder"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "binder", out)
    shutil.copy2(REPO_ROOT / "requirements" / "constraints.txt", out / "constraints.txt")
    atomic_write_text(out / "source", src + "\n")
    atomic_write_text(html / ".nojekyll", "")  # serve _static/ as it is
    return out


def chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def build_pdf(book: Path, out: Path, browser: str) -> Path:
    """The whole book as one PDF: Jupyter Book's ``singlehtml`` page printed by headless
    Chromium (offline: MathJax comes from the book's own assets)."""
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(exe), "build", str(book), "--builder", "singlehtml", "--keep-going"],
        capture_output=True, text=True,
    )  # fmt: skip
    page = book / "_build" / "singlehtml" / "index.html"
    if proc.returncode != 0 or not page.is_file():
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"singlehtml build failed (exit {proc.returncode})")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--no-pdf-header-footer", "--virtual-time-budget=30000",
             f"--print-to-pdf={tmp}", page.as_uri()]  # fmt: skip
    subprocess.run([browser, *flags], capture_output=True, text=True, timeout=300, check=True)
    if not tmp.is_file() or not tmp.read_bytes().startswith(b"%PDF"):
        raise RuntimeError(f"Chromium wrote no PDF for {page}")
    os.replace(tmp, out)
    return out


def student_chapter(nb: Any) -> Any:
    """An executed chapter for the student edition: solutions and "Solution" dropdowns removed
    (:func:`ibcore.book.student.student_notebook`), and the outputs of the check cells cleared,
    since they ran against the solutions."""
    from ibcore.book.student import CHECK_TAG, student_notebook, tags

    out = student_notebook(nb)
    for cell in out.cells:
        if cell.cell_type == "code" and CHECK_TAG in tags(cell):
            cell.outputs, cell.execution_count = [], None
    return out


def build_student_edition(book: Path, out: Path) -> Path:
    """Build the student edition of the built ``book`` (its executed ``chapters/``) into
    ``out`` (``<html>/student/`` in ``make site``): the same pages without solutions."""
    import nbformat
    import yaml

    from ibcore.atomic import atomic_write_text
    from ibcore.book.pipeline import jupyter_book

    src = book / "_build" / "student-edition"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(book, src / "book", ignore=shutil.ignore_patterns("_build"))
    for path in sorted((src / "book" / "chapters").glob("*.ipynb")):
        nb = student_chapter(nbformat.read(path, as_version=4))
        atomic_write_text(path, nbformat.writes(nb))
    config = src / "book" / "_config.yml"
    data = yaml.safe_load(config.read_text())
    data["title"] = f"{data['title']} (student edition)"
    atomic_write_text(config, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    html = jupyter_book(src / "book", src)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(html, out)
    return out


def build_site(
    book: Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    pdf: bool = True,
) -> Path:
    """``make site``: the HTML book with both notebook downloads per chapter, its student
    edition (``<html>/student/``), the slides of each chapter (``<html>/slides/``), the Binder
    configuration of the published branch and the
    PDF (``<html>/ibbook.pdf``)."""
    from ibcore.book.pipeline import BOOK, build_book

    book = book or BOOK
    repo = repository()  # a bad setting fails before anything runs
    html = build_book(book, parameters=parameters, env=env)
    print(f"student edition: {build_student_edition(book, html / 'student')}")
    from ibcore.book.slides import write_slides

    print(
        f"slides: {len(write_slides(book / 'chapters', html / 'slides'))} decks in {html / 'slides'}"
    )
    write_binder(html, repo, ibcore_source(repo))
    if pdf:
        browser = chromium()
        if browser is None:
            print("no Chromium found: the PDF is left out", file=sys.stderr)
        else:
            print(f"pdf: {build_pdf(book, html / PDF_NAME, browser)}")
    print(f"site: {html}" + ("" if repo else f" (no launch buttons: {REPOSITORY_ENV} unset)"))
    return html


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make site``."""
    ap = argparse.ArgumentParser(
        prog="python -m ibcore.book.site", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default=None, help="pass this scale to every chapter (e.g. smoke)")
    ap.add_argument("--no-pdf", action="store_true", help="leave the PDF out")
    a = ap.parse_args(argv)
    build_site(parameters={"scale": a.scale} if a.scale else None, pdf=not a.no_pdf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
