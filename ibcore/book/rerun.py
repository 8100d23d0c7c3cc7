"""What ``make run`` leaves behind (all chapters): one folder per run, a summary of its verdicts,
an index of runs and, on request, a standalone HTML page.

Each run of a chapter with given parameters writes into ``results/runs/<NN>-<hash>/`` (the hash of
its resolved parameters: the same parameters, however spelt, share a folder; other parameters
never mix with them): the executed notebook, its verdict records, its figures and ``run.json``.
A rerun with the same parameters replaces that folder's records. ``results/runs/latest`` points
to the newest run and ``results/runs/index.md`` lists every run, newest first.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibcore.atomic import atomic_write_text
from ibcore.cache import params_hash
from ibcore.paths import REPO_ROOT
from ibcore.verdicts import Verdict, load_verdicts

RUNS = REPO_ROOT / "results" / "runs"
"""Where ``make run`` puts each run's folder (unless ``IBCORE_RESULTS`` names another)."""
LATEST = "latest"
INDEX = "index.md"
RECORD = "run.json"


def resolved(stem: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The chapter's parameters as its notebook will resolve them: the scale's preset with the
    given values over it (a chapter without a schema keeps the given ones)."""
    from ibcore.claims import MODULES, chapter

    given = dict(parameters)
    if stem[:2] not in MODULES:
        return given
    scale = given.pop("scale", "cpu")
    return chapter(stem[:2]).resolve(scale, **given)


def run_folder(stem: str, parameters: Mapping[str, Any], root: Path | None = None) -> Path:
    """``root/<NN>-<hash>`` (``root`` defaults to :data:`RUNS`): the folder of chapter ``stem``
    run with ``parameters``."""
    h = params_hash({"chapter": stem, **resolved(stem, parameters)})[:10]
    return (root or RUNS) / f"{stem[:2]}-{h}"


def summary_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """One line per verdict: claim, kind, status, value, bound and the threshold, seeds; a
    verdict without a value says why in words."""
    lines = []
    width = max((len(v.claim) for v in verdicts), default=0)
    for v in verdicts:
        head = f"{v.claim:<{width}}  {v.kind:<9}  {v.status:<15}"
        if not math.isfinite(v.value):
            why = v.note or "no seed gave a usable value"
            lines.append(f"{head}  no value: {why}")
            continue
        bound = f"bound {v.bound:+.3g}" if math.isfinite(v.bound) else "no bound (one seed)"
        lines.append(f"{head}  {v.value:+.3g} ({bound}; needs {v.direction} {v.threshold:g}; "
                     f"{v.n} seed{'s' if v.n != 1 else ''})")  # fmt: skip
    return lines


def start(folder: Path, stem: str, parameters: Mapping[str, Any]) -> None:
    """Prepare ``folder`` for a run: the previous run's verdict records, notebook, page and
    figures there are removed (nothing of it can pass for the new run's), and ``run.json`` says
    the run is under way."""
    import shutil

    from ibcore.book.pipeline import clear_verdicts

    folder.mkdir(parents=True, exist_ok=True)
    clear_verdicts(folder)
    for old in (folder / f"{stem}.ipynb", folder / f"{stem}.html"):
        old.unlink(missing_ok=True)
    shutil.rmtree(folder / "figures", ignore_errors=True)
    _record(folder, stem, parameters, status="running")


def stopped(folder: Path, stem: str, parameters: Mapping[str, Any], why: str) -> None:
    """Record in ``run.json`` that the run in ``folder`` did not finish (``why``: failed,
    interrupted), and list it so in the index."""
    _record(folder, stem, parameters, status=why)
    if folder.parent == RUNS:
        write_index(RUNS)


def _record(folder: Path, stem: str, parameters: Mapping[str, Any], **extra: Any) -> None:
    from ibcore.verdicts import git_commit

    rec = {
        "chapter": stem, "parameters": dict(parameters), "resolved": resolved(stem, parameters),
        "folder": folder.name, "commit": git_commit(), "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }  # fmt: skip
    atomic_write_text(folder / RECORD, json.dumps(rec, indent=2, default=str) + "\n")


def finish(
    folder: Path,
    stem: str,
    parameters: Mapping[str, Any],
    seconds: float,
    root: Path | None = None,
    since: float | None = None,
    listed: bool = True,
) -> list[str]:
    """Record a finished run: ``run.json``, the ``latest`` link and the index (when ``folder``
    is in ``root``, default :data:`RUNS`); returns the summary lines of its verdicts — only
    records written at or after ``since`` (a time stamp) when given, so that a shared results
    folder's older records are not reported as this run's. ``listed=False`` (a folder named by
    ``IBCORE_RESULTS``) is never linked or indexed."""
    root = root or RUNS
    vs = [v for v in load_verdicts(folder) if v.chapter.startswith(stem[:2])
          and (since is None or (folder / f"{v.claim}.json").stat().st_mtime >= since)]  # fmt: skip
    _record(folder, stem, parameters, status="ok", seconds=round(seconds, 1),
            verdicts={v.claim: v.status for v in vs})  # fmt: skip
    if listed and folder.parent == root:  # a folder of IBCORE_RESULTS is not a run folder
        link = root / LATEST
        tmp = root / f".{LATEST}.{os.getpid()}.tmp"  # two runs finishing together never clash
        tmp.unlink(missing_ok=True)
        os.symlink(folder.name, tmp)
        os.replace(tmp, link)
        write_index(root)
    return summary_lines(vs)


def write_index(root: Path = RUNS) -> Path:
    """``root/index.md``: every run folder, newest first, with its chapter, parameters and
    statuses."""
    rows = []
    for rec_path in root.glob(f"*/{RECORD}"):
        if rec_path.parent.is_symlink():
            continue
        try:
            rec = json.loads(rec_path.read_text())
        except (OSError, ValueError):
            continue
        rows.append(rec)
    rows.sort(key=lambda r: r.get("updated", ""), reverse=True)
    lines = ["# Runs of `make run`", "", f"Newest first; `{LATEST}` is the first row.", "",
             "| when | chapter | parameters | folder | status | verdicts |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r.get("parameters", {}).items()) or "defaults"
        counts: dict[str, int] = {}
        for s in r.get("verdicts", {}).values():
            counts[s] = counts.get(s, 0) + 1
        told = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "—"
        lines.append(f"| {r.get('updated', '')} | {r.get('chapter', '')} | {params} | "
                     f"`{r.get('folder', '')}` | {r.get('status', '')} | {told} |")  # fmt: skip
    atomic_write_text(root / INDEX, "\n".join(lines) + "\n")
    return root / INDEX


GLUE_ROLE = re.compile(r"\{glue(?::md|:text)?\}`([^`]+)`")


def glue_values(nb: Any) -> dict[str, str]:
    """The values a notebook glued (myst-nb's ``glue``, stored as papermill records): name →
    its Markdown (or plain text) form."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            data = o.get("data", {})
            for mime in ("text/markdown", "text/plain"):
                key = f"application/papermill.record/{mime}"
                if name and key in data:
                    out[name] = str(data[key]).strip("'\"")
                    break
    return out


def plain_cells(nb: Any) -> Any:
    """``nb`` (in place) as a notebook outside the book shows it: glued values where they are
    cited (their glue outputs dropped) and MyST as plain Markdown
    (:func:`ibcore.book.plainmd.plain_markdown`); returns ``nb``."""
    from ibcore.book.plainmd import plain_markdown

    glued = glue_values(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":  # a glued value shows where it is cited, not where glued
            cell.outputs = [o for o in cell.outputs if "scrapbook" not in o.get("metadata", {})]
        if cell.cell_type == "markdown":
            text = GLUE_ROLE.sub(lambda m: glued.get(m.group(1), m.group(0)), cell.source)
            cell.source = plain_markdown(text)
    return nb


def export_with_book_css(exporter: Any, nb: Any, config: Any) -> str:
    """``exporter``'s page of ``nb``, the inputs the book hides left out (its ``remove-input``,
    ``hide-*`` tags, as set in ``config``) and the book's styles (``book/_assets/*.css``)
    inlined, so verdict cards look as in the book."""
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter.register_preprocessor(TagRemovePreprocessor(config=config), True)
    with warnings.catch_warnings():  # papermill's glue records have no HTML form: skipped
        warnings.simplefilter("ignore", UserWarning)
        body, _ = exporter.from_notebook_node(nb)
    css = "".join(p.read_text() for p in sorted((REPO_ROOT / "book" / "_assets").glob("*.css")))
    return body.replace("</head>", f"<style>{css}</style></head>", 1)


def html_page(notebook: Path, out: Path) -> Path:
    """A standalone HTML page of an executed chapter: nbconvert's lab template, the inputs the
    book hides left out (its ``remove-*``, ``hide-*`` tags), MyST as plain Markdown
    (:func:`plain_cells`) and the book's verdict-card and forest styles inlined, so the verdict
    boxes look as in the book."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = plain_cells(nbformat.read(notebook, as_version=4))
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = ("remove-cell",)
    c.TagRemovePreprocessor.remove_input_tags = ("remove-input", "hide-input", "hide-cell")
    c.TagRemovePreprocessor.remove_all_outputs_tags = ("remove-output",)
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    atomic_write_text(out, export_with_book_css(HTMLExporter(config=c, template_name="lab"), nb, c))
    return out
