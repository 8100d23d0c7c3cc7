"""The teacher page's module plan with the times of the build (course module; ``book/teacher.md``).

The page's table (session, chapter, topics, exercises, wall time) and the sentence on the build's
total time and scale are written at every ``make book`` from the same rows as the status page
(:func:`ibcore.book.pipeline.render_status`: chapter, seconds, ok, and the build's scale) into
``book/_generated/teacher_times.md``, which ``teacher.md`` includes; no time on that page is typed
by hand. The topics are written here; the exercises are counted from the notebooks. Command line,
to rewrite the file from the status page of the last build:
``python -m ibcore.book.teacher [STATUS.md] [OUT.md]``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibcore.atomic import atomic_write_text
from ibcore.paths import REPO_ROOT

TEACHER_TIMES = Path("_generated") / "teacher_times.md"
"""Where the pipeline writes the generated part of the teacher page, relative to the book."""
DEFAULT_SCALE = "cpu"
SMOKE = "smoke"

PLAN: dict[str, tuple[str, str]] = {
    "00": ("0 — the information plane", "binning estimators, fitting and compression"),
    "01": ("1 — skip connections and singularities",
           "elimination, overlap, linear dependence; Hessian spectra"),
    "02": ("2 — adaptive estimators",
           "adaptive binning, kernel estimators, saturating and non-saturating activations"),
    "03": ("3 — batch entropy", "vanishing spread in deep vanilla nets; the LBE loss"),
    "04": ("4 — identity shortcuts", "Z-X and Z-Y probes, phase detection, IS and NIS models"),
}  # fmt: skip
"""Per chapter number: the short title of the table's link and the topics of its session."""

KINDS = ("coding", "predict-then-check", "pen-and-paper")
_NUMBER = re.compile(r"^\*\*(\d+)\.(.*?)\*\*", re.MULTILINE)
_EXERCISE_CELL = re.compile(r"^:tags:\s*\[[^\]]*\bexercise\b[^\]]*\]", re.MULTILINE)


def count_exercises(text: str) -> dict[str, int]:
    """The exercises of a chapter notebook's ``## Exercises`` section by kind: *coding* (a cell
    tagged ``exercise`` follows its heading ``**N. ...**``), *predict-then-check* (its heading
    says "predict") and *pen-and-paper* (the others)."""
    counts = dict.fromkeys(KINDS, 0)
    m = re.search(r"^## Exercises\s*$", text, flags=re.MULTILINE)
    if m is None:
        return counts
    section = text[m.end() :]
    end = re.search(r"^## ", section, flags=re.MULTILINE)
    section = section[: end.start()] if end else section
    heads = list(_NUMBER.finditer(section))
    for i, head in enumerate(heads):
        body = section[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(section)]
        if _EXERCISE_CELL.search(body):
            counts["coding"] += 1
        elif "predict" in head.group(2).lower():
            counts["predict-then-check"] += 1
        else:
            counts["pen-and-paper"] += 1
    return counts


def exercises_text(counts: Mapping[str, int]) -> str:
    """``"2 coding, 1 predict-then-check"``; ``"none"`` when there are none."""
    parts = [f"{counts[k]} {k}" for k in KINDS if counts.get(k)]
    return ", ".join(parts) or "none"


def _scale(row: Mapping[str, Any], parameters: Mapping[str, Any] | None) -> str:
    return str(row.get("scale") or (parameters or {}).get("scale") or DEFAULT_SCALE)


def _seconds(x: float) -> str:
    return f"{float(x):.1f} s"  # as on the status page


def _scale_words(scale: str) -> str:
    return f"`{scale}`" + (" (the default)" if scale == DEFAULT_SCALE else "")


def render_teacher_times(
    rows: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any] | None = None,
    notebooks: Sequence[Path] | None = None,
) -> str:
    """The module plan (one session per chapter: link, topics, exercises, this build's wall time
    of the chapter, or in words that it failed or did not run) and a sentence on the build's
    total time and scale, from the status page's ``rows`` (``chapter``, ``seconds``, ``ok``, and
    optionally ``scale``; else ``parameters["scale"]``, else ``cpu``)."""
    if notebooks is None:
        from ibcore.book.pipeline import notebooks as chapter_notebooks

        notebooks = chapter_notebooks()
    by_stem = {Path(nb).stem: Path(nb) for nb in notebooks}
    ran = {str(r["chapter"]): r for r in rows}
    stems = sorted(set(by_stem) | set(ran))
    scales = sorted({_scale(r, parameters) for r in rows}) or [
        str((parameters or {}).get("scale") or DEFAULT_SCALE)
    ]
    one_scale = scales[0] if len(scales) == 1 else None
    head = f"wall time at scale `{one_scale}`" if one_scale else "wall time and scale"
    lines = [
        f"| session | chapter | topics | exercises | {head}, this build |",
        "|---|---|---|---|---|",
    ]
    missing, failed = [], []
    for session, stem in enumerate(stems, start=1):
        title, topics = PLAN.get(stem[:2], (stem, "—"))
        link = f"{{doc}}`{title} </chapters/{stem}>`" if stem in by_stem else title
        nb = by_stem.get(stem)
        ex = exercises_text(count_exercises(nb.read_text())) if nb and nb.exists() else "—"
        r = ran.get(stem)
        if r is None:
            time_cell = "not run in this build"
            missing.append(stem)
        else:
            at = "" if one_scale else f" at scale `{_scale(r, parameters)}`"
            time_cell = _seconds(r["seconds"]) + at
            if not r["ok"]:
                time_cell = f"**failed** after {time_cell}: no time for a complete run"
                failed.append(stem)
        lines.append(f"| {session} | {link} | {topics} | {ex} | {time_cell} |")
    lines += ["", summary(rows, parameters, n_chapters=len(stems), missing=missing, failed=failed)]
    return "\n".join(lines) + "\n"


def summary(
    rows: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any] | None = None,
    n_chapters: int | None = None,
    missing: Sequence[str] = (),
    failed: Sequence[str] = (),
) -> str:
    """One sentence on the build's total time and scale (and one more for a smoke build)."""
    n = len(rows) if n_chapters is None else n_chapters
    total = sum(float(r["seconds"]) for r in rows)
    scales = sorted({_scale(r, parameters) for r in rows})
    if not rows:
        return "No chapter has run in this build yet, so this table has no times."
    at = (f"at scale {_scale_words(scales[0])}" if len(scales) == 1
          else "at scales " + ", ".join(f"`{s}`" for s in scales))  # fmt: skip
    if not missing and not failed:
        which = f"all {n} chapters"
    else:
        which = f"{len(rows) - len(failed)} of the {n} chapters to the end"
    text = (
        f"This build ran {which} {at} in {total / 60:.1f} min of wall time "
        f"({_seconds(total)} in all; the {{doc}}`build status </status>` page names the machine)"
    )
    if failed:
        text += "; " + ", ".join(failed) + (" failed" if len(failed) > 1 else " failed")
    if missing:
        text += "; " + ", ".join(missing) + " did not run"
    text += "."
    if SMOKE in scales:
        text += (
            " These are the times of a smoke build, seconds-long runs that only check the "
            "pipeline: they are not representative of a build at scale `cpu` or `paper`."
        )
    return text


def write_teacher_times(
    rows: Sequence[Mapping[str, Any]], path: Path, parameters: Mapping[str, Any] | None = None
) -> Path:
    """Write :func:`render_teacher_times` to ``path`` atomically (``make book``)."""
    atomic_write_text(path, render_teacher_times(rows, parameters))
    return path


_STATUS_ROW = re.compile(
    r"^\| (\S+) \| (.+?) \| ([\d.]+) s \| (ok|\*\*failed\*\*) \|$", re.MULTILINE
)


def rows_from_status(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows and the scale parameter back from a status page (:func:`render_status`)."""
    rows, params = [], {}
    for chapter, scale, seconds, ok in _STATUS_ROW.findall(text):
        rows.append({"chapter": chapter, "seconds": float(seconds), "ok": ok == "ok"})
        if scale != "cpu (the default)":
            params["scale"] = scale
    return rows, params


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ibcore.book.teacher [STATUS.md] [OUT.md]``: rewrite the generated part of the
    teacher page from a status page (by default those of ``book/``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    book = REPO_ROOT / "book"
    status = Path(args[0]) if args else book / "status.md"
    out = Path(args[1]) if len(args) > 1 else book / TEACHER_TIMES
    if not status.exists():
        print(f"{status}: no status page; run make book first", file=sys.stderr)
        return 1
    rows, params = rows_from_status(status.read_text())
    print(write_teacher_times(rows, out, params))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
