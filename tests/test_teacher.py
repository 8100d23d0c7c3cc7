"""The teacher page's module plan: its times come from the build's rows (those of the status
page), never from typing (ibcore.book.teacher, book/teacher.md)."""

from __future__ import annotations

import re

from ibcore.book import pipeline, teacher
from ibcore.paths import REPO_ROOT

STEMS = [nb.stem for nb in pipeline.notebooks()]
ROWS = [
    {"chapter": stem, "seconds": round(41.7 * i + 3.3, 1), "ok": True}
    for i, stem in enumerate(STEMS)
]


def _row(page: str, stem: str) -> str:
    return next(line for line in page.splitlines() if f"</chapters/{stem}>`" in line)


def test_the_table_has_the_build_s_own_seconds_per_chapter():
    page = teacher.render_teacher_times(ROWS)
    for r in ROWS:
        assert _row(page, r["chapter"]).endswith(f"| {r['seconds']:.1f} s |")
    assert f"| 1 | {{doc}}`0 — the information plane </chapters/{STEMS[0]}>`" in page
    assert "wall time at scale `cpu`, this build |" in page
    total = sum(r["seconds"] for r in ROWS)
    assert f"ran all {len(STEMS)} chapters at scale `cpu` (the default)" in page
    assert f"in {total / 60:.1f} min of wall time ({total:.1f} s in all" in page
    assert "smoke" not in page and "failed" not in page and "not run" not in page


def test_the_same_rows_give_the_same_times_as_the_status_page():
    status = pipeline.render_status(ROWS, None, {"commit": "abc1234 (clean)"})
    rows, params = teacher.rows_from_status(status)
    assert rows == ROWS and params == {}
    smoke = pipeline.render_status(ROWS[:1], {"scale": "smoke"}, {})
    assert teacher.rows_from_status(smoke) == (ROWS[:1], {"scale": "smoke"})
    page = teacher.render_teacher_times(rows, params)
    for r in ROWS:
        assert f"| {r['seconds']:.1f} s |" in status and f"| {r['seconds']:.1f} s |" in page


def test_a_failed_or_missing_chapter_is_said_in_words():
    rows = [ROWS[0], {**ROWS[1], "ok": False}]  # the build stopped at the second chapter
    page = teacher.render_teacher_times(rows)
    assert _row(page, STEMS[1]).endswith(f"| **failed** after {ROWS[1]['seconds']:.1f} s: "
                                         "no time for a complete run |")  # fmt: skip
    for stem in STEMS[2:]:
        assert _row(page, stem).endswith("| not run in this build |")
    assert f"ran 1 of the {len(STEMS)} chapters to the end" in page
    assert f"; {STEMS[1]} failed; {', '.join(STEMS[2:])} did not run." in page
    assert "No chapter has run" in teacher.render_teacher_times([])


def test_a_smoke_build_says_its_times_are_not_representative():
    page = teacher.render_teacher_times(ROWS, {"scale": "smoke"})
    assert "wall time at scale `smoke`, this build |" in page
    assert "at scale `smoke` in" in page and "times of a smoke build" in page
    assert "not representative" in page
    mixed = [ROWS[0], {**ROWS[1], "scale": "smoke"}]  # one chapter at smoke scale is enough
    page = teacher.render_teacher_times(mixed)
    assert "| wall time and scale, this build |" in page and "not representative" in page
    assert _row(page, STEMS[1]).endswith(f"| {ROWS[1]['seconds']:.1f} s at scale `smoke` |")


def test_exercises_are_counted_from_the_notebooks():
    text = (
        "# T\n\n## Exercises\n\n**1.** Show that.\n\n:::{dropdown} Solution\nx\n:::\n\n"
        "**2. Write it.** Write `f`.\n\n```{code-cell} ipython3\n:tags: [exercise]\n"
        "def f():\n    raise NotImplementedError\n```\n\n"
        "**3. Predict, then check.** Guess.\n\n## Try this\n\n**4. Not an exercise.**\n"
    )
    counts = teacher.count_exercises(text)
    assert counts == {"coding": 1, "predict-then-check": 1, "pen-and-paper": 1}
    assert teacher.exercises_text(counts) == "1 coding, 1 predict-then-check, 1 pen-and-paper"
    assert teacher.exercises_text(teacher.count_exercises("# no exercises\n")) == "none"
    for nb in pipeline.notebooks():  # every chapter has exercises, each of a known kind
        assert sum(teacher.count_exercises(nb.read_text()).values()) >= 1, nb.name


def test_write_and_the_page_includes_it(tmp_path):
    out = teacher.write_teacher_times(ROWS, tmp_path / teacher.TEACHER_TIMES)
    assert out.read_text() == teacher.render_teacher_times(ROWS)
    page = (REPO_ROOT / "book" / "teacher.md").read_text()
    assert f"```{{include}} {teacher.TEACHER_TIMES.as_posix()}\n```" in page
    status = tmp_path / "status.md"
    status.write_text(pipeline.render_status(ROWS, {"scale": "smoke"}, {}))
    assert teacher.main([str(status), str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text() == teacher.render_teacher_times(ROWS, {"scale": "smoke"})


def test_the_teacher_page_types_no_times_and_says_the_controls_work_without_a_kernel():
    page = (REPO_ROOT / "book" / "teacher.md").read_text()
    typed = re.findall(r"\d\s*(?:s|sec|seconds?|min|minutes?|h|hours?)\b", page)
    assert typed == [], f"times typed by hand on teacher.md: {typed}"
    assert "left out" not in page
    assert "works without a kernel" in page.replace("\n", " ")


# --- the teacher edition ------------------------------------------------------------------------


def test_every_exercise_has_an_answer_a_kind_and_a_time():
    from ibcore.book.pipeline import notebooks
    from ibcore.book.teacher import MINUTES, exercises_of

    for nb in notebooks():
        exs = exercises_of(nb.read_text())
        assert [e["number"] for e in exs] == list(range(1, len(exs) + 1)) and len(exs) >= 3, nb
        for e in exs:
            assert e["kind"] in MINUTES
            assert e["solution_code"] or e["solution_text"], (nb.stem, e["number"])
            if e["kind"] == "coding":
                assert e["solution_code"] and "NotImplementedError" not in e["solution_code"]
                assert "check_" in e["check"], (nb.stem, e["number"])


def test_the_teacher_edition_page_on_a_known_notebook(tmp_path):
    from ibcore.book.teacher import QUIZ, render_teacher_edition

    nb = tmp_path / "00_x.md"
    nb.write_text(
        "# x\n\n## Exercises\n\n**1. Entropy.** Write it.\n\n```{code-cell} ipython3\n"
        ":tags: [exercise]\n\ndef f():\n    raise NotImplementedError\n```\n\n"
        "```{code-cell} ipython3\n---\ntags: [solution, hide-input]\n---\ndef f():\n"
        "    return 1\n```\n\n```{code-cell} ipython3\n:tags: [check]\n\ncheck_f(f)\n```\n\n"
        "**2. Predict, then check.** Guess.\n\n:::{dropdown} Solution\nIt falls.\n:::\n\n"
        "**3.** Show that 1 = 1.\n\n:::{admonition} Solution\n:class: dropdown\nBy reflexivity.\n"
        ":::\n\n## Try this\n"
    )  # fmt: skip
    page = render_teacher_edition([nb])
    assert "**1. Entropy** (coding, about 25 min)" in page and "    return 1" in page
    assert "check_f(f)" in page and "NotImplementedError" not in page
    assert "**2. Predict, then check** (predict-then-check, about 10 min)" in page
    assert "> It falls." in page and "> By reflexivity." in page and ":class:" not in page
    assert "3 exercises, about 55 min in all." in page
    assert "## Calendar" in page and "| 1 |" in page and "## Times and rubric" in page
    assert all(q in page for q, _ in QUIZ["00"])


def test_the_book_has_the_teacher_edition_page():
    from ibcore.paths import REPO_ROOT

    toc = (REPO_ROOT / "book" / "_toc.yml").read_text()
    assert "file: teacher_edition" in toc
    assert (
        "_generated/teacher_edition.md" in (REPO_ROOT / "book" / "teacher_edition.md").read_text()
    )
    from ibcore.book.teacher import QUIZ
    from ibcore.claims import MODULES

    assert set(QUIZ) == set(MODULES) and all(len(q) >= 3 for q in QUIZ.values())


def test_story_words_count_the_prose_before_the_exercises_only():
    from ibcore.book.teacher import story_words

    text = (
        "# Title here\n\n:::{admonition} Claim\n:class: tip\nOne two three.\n:::\n\n"
        "```{code-cell} ipython3\nx = not counted at all\n```\n\n"
        "Four $I(X;T)$ five.\n\n$$ H(T) = - \\sum p $$\n\n## Exercises\n\nnot counted either\n"
    )
    # Title here / One two three / Four five: 7 words; code, maths and exercises left out
    assert story_words(text) == 7


def test_the_two_week_calendar_gives_every_chapter_a_day_and_the_rest_to_the_longest(tmp_path):
    from ibcore.book import teacher

    paths = []
    for i, words in enumerate((100, 3000, 200, 2500, 300, 150)):
        p = tmp_path / f"0{i}_x.md"
        p.write_text("# T\n\n" + "word " * words + "\n\n## Exercises\n")
        paths.append(p)
    lines = teacher.two_week_calendar(paths)
    rows = [ln for ln in lines if ln.startswith("| ") and "chapter" not in ln]
    spans = [r.split("|")[1].strip() for r in rows]
    # ten days: one each, the four extra days to the four longest (3000, 2500, 300, 200)
    assert spans == ["1", "2–3", "4–5", "6–7", "8–9", "10"]
    assert "3,001" in rows[1] and "about 15 min" in rows[1]
