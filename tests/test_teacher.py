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
