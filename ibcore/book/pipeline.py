"""The notebook → book pipeline behind ``make book``, ``make run`` and the smoke tests (all
chapters): jupytext → papermill → the verdicts page → Jupyter Book 1.x. Command line:
``python -m ibcore.book.pipeline run NB [-p NAME VALUE ...] [--out FILE]`` or ``... book``."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibcore.book.interrupt import on_interrupt
from ibcore.paths import REPO_ROOT
from ibcore.schema import ParameterError

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK = REPO_ROOT / "book"
KERNEL = "python3"


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """Every chapter notebook (``NN_*.md``), in order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.md"))


def find_notebook(nb: str, folder: Path = NOTEBOOKS) -> Path:
    """Resolve ``NB`` ('02', '02_adaptive_estimators' or a path) to a chapter notebook."""
    p = Path(nb)
    if p.suffix == ".md" and p.exists():
        return p
    hits = [q for q in notebooks(folder) if q.stem == nb or q.stem.startswith(f"{nb}_")]
    if len(hits) != 1:
        names = ", ".join(q.stem for q in notebooks(folder))
        raise ValueError(f"NB={nb!r} matches {len(hits)} notebooks; choose one of: {names}")
    return hits[0]


def _coerce(value: str) -> Any:
    """Parse a command-line parameter value like papermill's ``-p`` does (YAML scalars)."""
    import yaml

    return yaml.safe_load(value)


SMOKE_TAG = "ibcore-smoke-banner"
SMOKE_TEXT = (
    "Built at scale 'smoke': a seconds-long run that only checks the pipeline. "
    "The numbers and verdicts on this page are not results; rerun at scale 'cpu' or 'paper'."
)


def add_smoke_banner(notebook: Any) -> Any:
    """Put the 'smoke run: not results' banner right under the ``# title`` (idempotent)."""
    import nbformat

    cells = notebook.cells
    if any(SMOKE_TAG in c.get("metadata", {}).get("tags", []) for c in cells):
        return notebook
    banner = nbformat.v4.new_markdown_cell(
        ":::{admonition} Smoke run: not results\n:class: warning ibcore-smoke\n"
        f"{SMOKE_TEXT}\n:::",
        metadata={"tags": [SMOKE_TAG]},
    )
    first = cells[0] if cells else None
    lines = first.source.split("\n") if first is not None and first.cell_type == "markdown" else []
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if title is None:
        cells.insert(0, banner)
        return notebook
    rest = "\n".join(lines[title + 1 :]).strip("\n")
    first.source = "\n".join(lines[: title + 1])
    new = [first, banner]
    if rest:
        new.append(nbformat.v4.new_markdown_cell(rest))
    notebook.cells = new + cells[1:]
    return notebook


def progress_env() -> dict[str, str]:
    """``IBCORE_PROGRESS`` and :data:`ibcore.env.PROGRESS_TTY` for a headless chapter: bars on the
    terminal of ``make run``/``make book`` when there is one (unless ``IBCORE_PROGRESS=0``),
    else off, so that no bar is stored in a notebook's outputs."""
    from ibcore.env import PROGRESS_TTY

    tty = None
    if sys.stderr.isatty():
        try:
            tty = os.ttyname(sys.stderr.fileno())
        except OSError:
            tty = None
    if os.environ.get(PROGRESS_TTY):
        tty = os.environ[PROGRESS_TTY]
    on = os.environ.get("IBCORE_PROGRESS", "1" if tty else "0")
    return {"IBCORE_PROGRESS": on, **({PROGRESS_TTY: tty} if tty else {})}


def execute(
    nb: Path,
    out: Path,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: int | None = None,
    on_stop: Sequence[Any] = (),
) -> Path:
    """Execute ``nb`` headless with papermill into ``out``, written only on success (else
    ``<out>.failed.ipynb``); an unknown parameter raises before anything runs (all chapters)."""
    import jupytext
    import papermill as pm

    from ibcore.claims import MODULES, chapter

    if nb.stem[:2] in MODULES:
        chapter(nb.stem[:2]).check_names(list(parameters or {}))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.running.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    # no widget frontend (ibcore.book.widgets.live); on a terminal the training bars and the
    # run counter write to it (papermill keeps a kernel's own stderr in the notebook)
    env = {"IBCORE_HEADLESS": "1", **progress_env(), **(env or {})}
    notebook = jupytext.read(nb)
    if (parameters or {}).get("scale") == "smoke":
        add_smoke_banner(notebook)
    saved = {k: os.environ.get(k) for k in ["MPLBACKEND", *env]}
    os.environ["MPLBACKEND"] = "Agg"
    os.environ.update(env)
    t0 = time.perf_counter()
    resume = f"make run NB={nb.stem[:2]}" + "".join(
        f" -p {k} {v}" for k, v in (parameters or {}).items())  # fmt: skip
    stop = (f"interrupted: {nb.name} stopped, its kernel and workers with it; nothing "
            f"half-written is left. Runs finished before the interrupt are cached: the same "
            f"command (for this chapter: {resume}) resumes from them.")  # fmt: skip
    try:
        with on_interrupt(stop, cleanup=[lambda: tmp.unlink(missing_ok=True), *on_stop]):
            pm.execute_notebook(notebook, str(tmp), parameters=dict(parameters or {}),
                                kernel_name=KERNEL, cwd=str(nb.parent),
                                progress_bar=sys.stderr.isatty(),  # cells done / left
                                execution_timeout=timeout_s)  # fmt: skip
    except BaseException:
        if tmp.exists():
            os.replace(tmp, failed)
        raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    os.replace(tmp, out)
    failed.unlink(missing_ok=True)
    print(f"executed {nb.name} -> {out} in {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def build_book(
    book: Path = BOOK,
    out: Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    results: Path | None = None,
) -> Path:
    """Execute every chapter into ``<book>/chapters/``, write the verdicts and conclusions pages
    from ``results`` and build the HTML book (``make book``); returns the folder of
    ``index.html``."""
    from ibcore.book.conclusions import write_conclusions
    from ibcore.book.teacher import (
        TEACHER_EDITION,
        TEACHER_TIMES,
        write_teacher_edition,
        write_teacher_times,
    )
    from ibcore.book.verdicts_page import write_page

    chapters = book / "chapters"
    shutil.rmtree(chapters, ignore_errors=True)  # a renamed or removed chapter never stays
    env = dict(env or {})
    if results is not None:
        env["IBCORE_RESULTS"] = str(results)
    res = env.get("IBCORE_RESULTS") or os.environ.get("IBCORE_RESULTS") or REPO_ROOT / "results"
    clear_verdicts(Path(res))  # a renamed or removed claim never stays on the verdicts page
    rows = []
    for nb in notebooks():
        t0 = time.perf_counter()
        try:
            execute(nb, chapters / f"{nb.stem}.ipynb", parameters, env=env)
        except BaseException:
            rows.append({"chapter": nb.stem, "seconds": time.perf_counter() - t0, "ok": False})
            write_status(rows, book / "status.md", parameters)
            raise
        rows.append({"chapter": nb.stem, "seconds": time.perf_counter() - t0, "ok": True})
    write_status(rows, book / "status.md", parameters)
    write_teacher_times(rows, book / TEACHER_TIMES, parameters)  # the teacher page's times
    write_teacher_edition(book / TEACHER_EDITION)  # answer key, rubric, quizzes, calendar
    other = REPO_ROOT / "results" if Path(res) == FULL_RESULTS else FULL_RESULTS
    write_page(res, book / "verdicts.md", other=other)  # the ladder reads the other scale's
    write_conclusions(res, book / "conclusions.md", other=other)
    return jupyter_book(book, out)


FULL_BOOK = REPO_ROOT / "build" / "full" / "book"
"""The ``full`` book's own source copy: its chapters, pages and HTML never mix with ``cpu``'s."""
FULL_RESULTS = REPO_ROOT / "results" / "full"
"""The ``full`` book's verdict records (the ``cpu`` verdicts page reads them for its ladder)."""
GENERATED = ("chapters", "_build", "_generated", "verdicts.md", "conclusions.md", "status.md")


def full_book_source(book: Path = BOOK, dest: Path = FULL_BOOK) -> Path:
    """A fresh copy of the book's hand-written sources (not its generated pages) at ``dest``."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(book, dest, ignore=lambda d, names: [n for n in names if n in GENERATED
                                                         and Path(d) == book])  # fmt: skip
    return dest


def check_data(scale: str | None) -> str:
    """'' when every chapter's data at ``scale`` is on disk, else one line saying how to get it."""
    from ibcore.book.getdata import HOW, missing
    from ibcore.claims import chapter

    needs = (
        {chapter(nb.stem[:2]).resolve(scale).get("dataset") for nb in notebooks()}
        if scale
        else set()
    )
    if "fashionmnist" in needs and missing():
        return HOW
    return ""


def build_facts() -> dict[str, str]:
    """Commit (and whether the tree is dirty), device and versions of this build (status page)."""
    import torch

    import ibcore
    from ibcore.verdicts import git_commit, versions

    try:
        dirty = bool(subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=10).stdout.strip())  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        dirty = False
    try:
        from importlib.metadata import version

        jb = version("jupyter-book")
    except Exception:  # noqa: BLE001 - a missing distribution is just not reported
        jb = "not installed"
    return {
        "built": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": git_commit() + (" (uncommitted changes)" if dirty else " (clean)"),
        "device": "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "cpu cores": str(os.cpu_count()),
        "ibcore": ibcore.__version__,
        **versions(),
        "jupyter-book": jb,
    }


def render_status(
    rows: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any] | None = None,
    facts: Mapping[str, str] | None = None,
) -> str:
    """The build status page: one row per chapter (scale, wall time, ok or failed) and the
    build's commit, device and versions (``make book``)."""
    facts = dict(facts if facts is not None else build_facts())
    scale = (parameters or {}).get("scale", "cpu (the default)")
    lines = ["# Build status", "",
             "Written by `make book` while it built these pages: which chapter ran, at what scale,",
             "how long it took, and on what.", "",
             "| chapter | scale | wall time | status |", "|---|---|---|---|"]  # fmt: skip
    for r in rows:
        status = "ok" if r["ok"] else "**failed**"
        lines.append(f"| {r['chapter']} | {scale} | {float(r['seconds']):.1f} s | {status} |")
    total = sum(float(r["seconds"]) for r in rows)
    lines += ["", f"All chapters: {total / 60:.1f} min.", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]
    return "\n".join(lines) + "\n"


def write_status(
    rows: Sequence[Mapping[str, Any]], path: Path, parameters: Mapping[str, Any] | None = None
) -> Path:
    """Write :func:`render_status` to ``path`` atomically."""
    from ibcore.atomic import atomic_write_text

    atomic_write_text(path, render_status(rows, parameters))
    return path


def clear_verdicts(folder: Path) -> list[Path]:
    """Remove (and return) the verdict records ``<folder>/*.json`` before a book build; figures
    and other files stay. A file that is not a verdict record is left alone."""
    import json

    gone = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and {"claim", "status", "chapter"} <= set(record):
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


def jupyter_book(book: Path = BOOK, out: Path | None = None) -> Path:
    """Run ``jupyter-book build`` (HTML, warnings as errors, keep going to report all of them)."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe), "build", str(book), "--builder", "html", "--warningiserror", "--keep-going"]
    if out is not None:
        cmd += ["--path-output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(proc.stdout[-6000:])
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-6000:])
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}); see the log above")
    html = (out or book) / "_build" / "html"
    print(f"book built: {html / 'index.html'}")
    return html


def _run(nb: Path, params: dict[str, Any], out: Path | None, html: bool) -> int:
    """``make run``: execute one chapter into its own run folder (:mod:`ibcore.book.rerun`; or
    into ``IBCORE_RESULTS`` when set), then print one line per verdict."""
    from ibcore.book import rerun

    env: dict[str, str] = {}
    chosen = os.environ.get("IBCORE_RESULTS")
    try:
        folder = Path(chosen) if chosen else rerun.run_folder(nb.stem, params)
        if not chosen:
            rerun.start(folder, nb.stem, params)
            env["IBCORE_RESULTS"] = str(folder)
        out = out or folder / f"{nb.stem}.ipynb"
        t0, since = time.perf_counter(), time.time()
        on_stop = [] if chosen else [lambda: rerun.stopped(folder, nb.stem, params, "interrupted")]
        execute(nb, out, params, env=env, on_stop=on_stop)
    except ParameterError as exc:
        print(f"{nb.name}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not chosen and folder.is_dir():
            rerun.stopped(folder, nb.stem, params, "failed")
        print(f"\n{nb.name} failed: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
        return 1
    lines = rerun.finish(folder, nb.stem, params, time.perf_counter() - t0, listed=not chosen,
                         since=since - 1.0)  # fmt: skip
    print(f"\nverdicts of {nb.stem} ({folder}):")
    print("\n".join(f"  {line}" for line in lines) or "  none")
    if html:
        page = rerun.html_page(out, out.with_suffix(".html"))
        print(f"page: {page}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the pipeline (see module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m ibcore.book.pipeline")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute one chapter with parameters")
    r.add_argument("nb", help="chapter number or name, e.g. 02")
    r.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    r.add_argument("--out", type=Path, default=None)
    r.add_argument("--html", action="store_true", help="also write a standalone HTML page")
    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--scale", default=None, help="pass this scale to every chapter (e.g. smoke)")
    b.add_argument("--book", type=Path, default=BOOK)
    b.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.cmd == "run":
        return _run(find_notebook(a.nb), {k: _coerce(v) for k, v in a.parameter}, a.out, a.html)
    params = {"scale": a.scale} if a.scale else None
    how = check_data(a.scale)
    if how:
        print(f"make book SCALE={a.scale}: {how}", file=sys.stderr)
        return 2
    if a.scale == "full" and a.book == BOOK:  # its own book folder and results, beside cpu's
        FULL_RESULTS.mkdir(parents=True, exist_ok=True)
        build_book(full_book_source(), a.out, params, results=FULL_RESULTS)
        return 0
    build_book(a.book, a.out, params)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
