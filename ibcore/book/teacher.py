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
    "05": ("5 — exact information in quantized nets",
           "fake quantization, counting H(T), the 12-bit ceiling, estimators against the truth"),
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
    for e in exercises_of(text):
        counts[e["kind"]] += 1
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


# --- the teacher edition: answer key, time estimates, rubric, quizzes, calendar ------------------

MINUTES = {"coding": 25, "predict-then-check": 10, "pen-and-paper": 20}
"""Estimated minutes a student spends per exercise kind: our estimate for a student who has read
the chapter (not a measurement); the teacher edition says so."""

RUBRIC = {
    "coding": [
        ("3", "the check prints ✓; the code is vectorised as asked and its docstring states the units"),
        ("2", "the check prints ✓, but the code loops where it need not or leaves units implicit"),
        ("1", "runs, but the check names a case that differs; the idea is right"),
        ("0", "raises, or computes another quantity"),
    ],
    "predict-then-check": [
        ("3", "a prediction written before the run, with a reason; the run compared with it in a sentence"),
        ("2", "a prediction before the run, without a reason, or without the comparison"),
        ("1", "the run's outcome restated after the fact"),
        ("0", "no prediction"),
    ],
    "pen-and-paper": [
        ("3", "a complete derivation; each step justified"),
        ("2", "the right result with a gap in one step"),
        ("1", "the right idea, the derivation does not reach the result"),
        ("0", "no derivation"),
    ],
}  # fmt: skip
"""Four-level rubric per exercise kind (points, what earns them)."""

QUIZ: dict[str, list[tuple[str, str]]] = {
    "00": [
        ("Why does I(X;T) of a deterministic net on 4096 distinct inputs equal H(T) of the binned "
         "layer, and what is its largest possible value?",
         "T is a function of X, so H(T|X) = 0 and I(X;T) = H(T); at most log2 4096 = 12 bits, "
         "reached when every input lands in its own bin pattern."),
        ("The fixed grid shows a fall of I(X;T) in the last tanh layer. Name one cause other than "
         "the net forgetting its input.",
         "Saturation: tanh units pushed to ±1 fall into the same edge bins, merging inputs; the "
         "chapter's EBAB and permuted-label null are there to tell the two apart."),
        ("What does the permuted-label twin control for?",
         "Everything a training run does without a learning signal (weight growth, saturation, "
         "binning effects): only a fall beyond the twin's counts as compression."),
    ],
    "01": [
        ("What is an elimination singularity of a unit, and why do skips move a net away from it?",
         "A unit whose incoming (or outgoing) weights are all zero: it can be removed and its "
         "gradient vanishes; an identity skip keeps the signal flowing so the unit's Jacobian is "
         "not zero there."),
        ("Why does the primary verdict compare the residual net with the fastest of three plain "
         "controls rather than with one?",
         "So that the speed-up cannot come from the skip net's initialisation alone: the plain "
         "net with the same scaled or identity-like initialisation is a control."),
        ("A ratio of epochs to 90 % training accuracy of 1.0 on every seed: what does it say?",
         "The fastest plain control is as fast as the residual net: the claim reads not "
         "reproduced (no speed-up), or neither reached the target (both counted as epochs + 1)."),
    ],
    "02": [
        ("What does EBAB adapt, and to what?",
         "The bin edges: quantiles of the layer's pooled activations, so each bin holds about the "
         "same number of values, wherever the activations are."),
        ("Why is compression measured after the fitting phase, against a permuted-label twin?",
         "Before fitting ends I(X;T) still rises; after it, a fall can come from saturation or "
         "weight growth alone, which the twin without labels shows."),
        ("Which activations does the paper's headline concern, and what would refute it here?",
         "Non-saturating ones (ReLU, softplus); their nets compressing no more than their twins "
         "(an upper 95 % bound of the paired difference at or below 0)."),
    ],
    "03": [
        ("What is a layer's batch entropy, and why is it 0 in a deep vanilla net at initialisation?",
         "The mean over units of the differential entropy of the unit's values across a batch "
         "(a Gaussian fit); deep in a vanilla ReLU net every input maps to (nearly) the same "
         "values, so the spread and the entropy vanish."),
        ("What does the LBE term add to the loss?",
         "β times the squared gap between each layer's batch entropy and a target α that "
         "decreases to α_min, summed over layers: it keeps information flowing through depth."),
        ("Why give the plain net five times the steps?",
         "So that a plain net that is merely slow cannot make the LBE net look better: only a net "
         "that does not train at all stays behind."),
    ],
    "04": [
        ("What does Z-X measure, and which direction means more information?",
         "The MSE of a probe reconstructing the input from a block's output; lower MSE (higher "
         "−ln ZX) means more information about the input."),
        ("What distinguishes an identity shortcut (IS) from a projection (NIS) at initialisation?",
         "IS adds the block's input unchanged, so the deepest block starts with the input's "
         "information; a random projection loses some, which the net then regains: a fitting "
         "phase."),
        ("Why is the fitting rise read only in the first part of training?",
         "The paper's fitting phase is initial; a rise late in training is another phenomenon, so "
         "the detector's window is ceil(0.6 (S − 1)) snapshots."),
    ],
    "05": [
        ("Why is I(X;T) of a quantized layer on the 12-bit task exact, and what bounds it?",
         "The net is deterministic and the 4096 inputs are distinct and equally likely, so "
         "I(X;T) = H(T), a count of distinct code rows; it cannot exceed log2 4096 = 12 bits."),
        ("A layer keeps all 4096 inputs apart at every snapshot. What can its information plane "
         "show?",
         "Nothing: it sits at I(X;T) = 12 bits and I(T;Y) = H(Y) whatever the net learns, so it "
         "can neither fit nor compress."),
        ("Why can the output's compression differ between the authors' measure and the exact "
         "count?",
         "Their measure re-bins the float softmax, whose probabilities saturate as the net grows "
         "confident; the exact count uses the logit codes (k1 − k2), on which the softmax is "
         "one-to-one, so saturation alone does not lower it."),
    ],
}  # fmt: skip
"""Per chapter: three short-answer questions with their answers (the teacher edition's quiz)."""

_BLOCK = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)
_DROPDOWN = re.compile(
    r":{3,}\{(?:dropdown|admonition)\}\s*Solution[^\n]*\n(.*?)\n:{3,}\s*$", re.S | re.M
)


def _cell_tags(block: str) -> set[str]:
    m = re.search(r"tags:\s*\[([^\]]*)\]", block)
    return {t.strip() for t in m.group(1).split(",")} if m else set()


def _code(block: str) -> str:
    lines = block.split("\n")
    if lines and lines[0].strip() == "---":  # a YAML header: up to its closing ---
        end = lines[1:].index("---") + 1
        lines = lines[end + 1 :]
    return "\n".join(ln for ln in lines if not ln.startswith(":tags:")).strip("\n")


def exercises_of(text: str) -> list[dict[str, Any]]:
    """A chapter notebook's exercises in order: number, title, kind, prompt, the answer (the
    solution cell's code or the Solution dropdown's text) and the check cell's code."""
    m = re.search(r"^## Exercises\s*$", text, flags=re.MULTILINE)
    if m is None:
        return []
    section = text[m.end() :]
    end = re.search(r"^## ", section, flags=re.MULTILINE)
    section = section[: end.start()] if end else section
    heads = list(_NUMBER.finditer(section))
    out = []
    for i, head in enumerate(heads):
        body = section[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(section)]
        blocks = _BLOCK.findall(body)
        sol = [_code(b) for b in blocks if "solution" in _cell_tags(b)]
        check = [_code(b) for b in blocks if "check" in _cell_tags(b)]
        dropdown = _DROPDOWN.search(body)
        prompt = re.split(r"```\{code-cell\}|^:{3,}\{", body, flags=re.M)[0].strip()
        kind = ("coding" if _EXERCISE_CELL.search(body)
                else "predict-then-check" if "predict" in head.group(2).lower()
                else "pen-and-paper")  # fmt: skip
        out.append({
            "number": int(head.group(1)), "title": head.group(2).strip(" ."), "kind": kind,
            "prompt": prompt, "solution_code": "\n\n".join(sol),
            "solution_text": re.sub(r"^:class:.*\n", "", dropdown.group(1)).strip() if dropdown
            else "",
            "check": "\n\n".join(check),
        })  # fmt: skip
    return out


WORDS_PER_MINUTE = 200
"""Reading speed for the calendar: a common figure for careful technical reading."""
TEACHING_DAYS = 10


def story_words(text: str) -> int:
    """Words of prose a student reads on a chapter's story page: its Markdown before
    ``## Exercises``, without code cells, maths or directive lines."""
    m = re.search(r"^## Exercises\s*$", text, flags=re.MULTILINE)
    story = text[: m.start()] if m else text
    story = re.sub(r"```.*?```", " ", story, flags=re.S)  # code cells
    story = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", story, flags=re.S)  # maths
    story = re.sub(r"^(:{3,}.*|:[a-z-]+:.*|---|jupytext:.*)$", " ", story, flags=re.M)
    return len(re.findall(r"[A-Za-z0-9][\w'’-]*", story))


def two_week_calendar(notebooks: Sequence[Path]) -> list[str]:
    """A two-week intensive (ten teaching days) from the reading lengths measured on the story
    pages and the exercise times: every chapter gets a day, and the days left go to the chapters
    with the most to read and do."""
    load = {}
    for nb in notebooks:
        text = nb.read_text()
        words = story_words(text)
        work = sum(MINUTES[e["kind"]] for e in exercises_of(text))
        load[nb] = (words, words / WORDS_PER_MINUTE, work)
    days = dict.fromkeys(notebooks, 1)
    for nb in sorted(notebooks, key=lambda n: -(load[n][1] + load[n][2]))[
        : max(0, TEACHING_DAYS - len(notebooks))
    ]:
        days[nb] += 1
    lines = [
        "### A two-week intensive",
        "",
        f"Ten teaching days. Reading times are the story pages' words measured at this build, at "
        f"{WORDS_PER_MINUTE} words a minute; exercise times are the estimates below. Every "
        "chapter gets a day; the remaining days go to the chapters with the most to read and do, "
        "which then spread reading and exercises over two days.",
        "",
        "| days | chapter | story words | reading | exercises |",
        "|---|---|---|---|---|",
    ]
    first = 1
    for nb in notebooks:
        words, read, work = load[nb]
        d = days[nb]
        span = f"{first}" if d == 1 else f"{first}–{first + d - 1}"
        title = PLAN.get(nb.stem[:2], (nb.stem, ""))[0]
        lines.append(f"| {span} | {title} | {words:,} | about {read:.0f} min | about {work} min |")
        first += d
    return [*lines, ""]


def render_teacher_edition(notebooks: Sequence[Path]) -> str:
    """The teacher edition (Markdown for the book): a calendar, then per chapter each exercise
    with its kind, estimated time, answer and rubric, and the chapter's quiz with answers."""
    lines = [
        "## Calendar",
        "",
        f"A {len(notebooks)}-week module, one chapter a week; chapter 0 first, chapters 2 and 5 "
        "after chapter 0, the others in any order. Each week: the session (the module plan of the "
        "{doc}`teacher page <teacher>`), the exercises in class or as homework, the quiz at the "
        "start of the next session, and every other week one of that page's assignments.",
        "",
        "| week | chapter | before the session | in the session | after it |",
        "|---|---|---|---|---|",
    ]
    for w, nb in enumerate(notebooks, 1):
        key = nb.stem[:2]
        title = PLAN.get(key, (nb.stem, ""))[0]
        lines.append(f"| {w} | {title} | read the claim and the method | the run, its figures "
                     f"and verdict; the exercises | the quiz; "
                     f"{'an assignment' if w % 2 == 0 else 'the remaining exercises'} |")  # fmt: skip
    lines += ["", *two_week_calendar(notebooks)]
    lines += [
        "## Times and rubric",
        "",
        "The times are our estimates for a student who has read the chapter, not measurements: "
        + ", ".join(f"{k} about {v} min" for k, v in MINUTES.items())
        + ".",
        "",
        "| points | " + " | ".join(KINDS) + " |",
        "|---|" + "---|" * len(KINDS),
    ]
    for level in range(4):
        lines.append(f"| {RUBRIC['coding'][level][0]} | "
                     + " | ".join(RUBRIC[k][level][1] for k in KINDS) + " |")  # fmt: skip
    lines.append("")
    for nb in notebooks:
        key = nb.stem[:2]
        exs = exercises_of(nb.read_text())
        total = sum(MINUTES[e["kind"]] for e in exs)
        lines += [f"## {PLAN.get(key, (nb.stem, ''))[0].capitalize()}", "",
                  f"{len(exs)} exercises, about {total} min in all.", ""]  # fmt: skip
        for e in exs:
            title = e["title"] or {"pen-and-paper": "Derivation"}.get(e["kind"], "Exercise")
            lines += [f"**{e['number']}. {title}** ({e['kind']}, about "
                      f"{MINUTES[e['kind']]} min)", ""]  # fmt: skip
            if not e["title"]:  # an untitled exercise: its task, so the key can be read alone
                lines += [e["prompt"], ""]
            if e["solution_code"]:
                lines += ["Answer key:", "", "```python", e["solution_code"], "```", ""]
            if e["solution_text"]:
                lines += ["Answer key:", "", *[f"> {ln}" if ln else ">" for ln in
                                               e["solution_text"].split("\n")], ""]  # fmt: skip
            if e["check"] and e["kind"] == "coding":
                lines += ["The check cell a student runs (it prints one line starting with ✓ "
                          "when the function agrees with the book's):", "", "```python",
                          e["check"], "```", ""]  # fmt: skip
        quiz = QUIZ.get(key, [])
        if quiz:
            lines += ["Quiz:", ""]
            for i, (q, a) in enumerate(quiz, 1):
                lines += [f"{i}. {q}", "", f"   *Answer.* {a}", ""]
    return "\n".join(lines) + "\n"


TEACHER_EDITION = Path("_generated") / "teacher_edition.md"
"""Where the pipeline writes the teacher edition's generated body, relative to the book."""


def write_teacher_edition(path: Path, notebooks: Sequence[Path] | None = None) -> Path:
    """Write :func:`render_teacher_edition` of ``notebooks`` (default: every chapter) to
    ``path``."""
    from ibcore.book.pipeline import notebooks as all_notebooks

    atomic_write_text(path, render_teacher_edition(list(notebooks or all_notebooks())))
    return path
