"""What `make run` leaves behind (ibcore.book.rerun, ibcore.book.plainmd): a folder per run that
never mixes with another run's, a summary line per verdict, the index and latest link, a
standalone HTML page, and MyST as plain Markdown."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest

from ibcore.book import rerun
from ibcore.book.plainmd import plain_markdown
from ibcore.paths import REPO_ROOT
from ibcore.verdicts import make_verdict


def test_a_run_folder_follows_the_resolved_parameters():
    a = rerun.run_folder("00_information_plane", {"scale": "smoke"})
    # the same run spelt out (the smoke preset's own values) shares the folder
    same = rerun.run_folder("00_information_plane", {"scale": "smoke", "activation": "tanh"})
    other = rerun.run_folder("00_information_plane", {"scale": "smoke", "activation": "relu"})
    assert a == same != other and a.name.startswith("00-") and a.parent == rerun.RUNS
    assert rerun.run_folder("01_skip_singularities", {"scale": "smoke"}).name.startswith("01-")


def _verdict(claim, values, **kw):
    return make_verdict(claim=claim, chapter="00_information_plane", paper="p", statement="s",
                        values=values, params={"scale": "cpu"}, device="cpu", runtime_s=1.0,
                        threshold=0.0, direction=">=", metric="m", **kw)  # fmt: skip


def test_summary_lines_say_status_value_bound_and_seeds_or_why_there_is_no_value():
    good = _verdict("ch0-a", [0.3, 0.4, 0.5])
    lonely = _verdict("ch0-b", [0.3])
    empty = _verdict("ch0-c", [math.nan], note="every pair fell below the accuracy floor")
    lines = rerun.summary_lines([good, lonely, empty])
    assert "ch0-a" in lines[0] and good.status in lines[0] and "+0.4 (bound +" in lines[0]
    assert "needs >= 0; 3 seeds)" in lines[0]
    assert "no bound (one seed)" in lines[1] and "1 seed)" in lines[1]
    assert "no value: every pair fell below the accuracy floor" in lines[2]
    assert "nan" not in " ".join(lines).lower()


def test_start_clears_the_last_runs_records_and_finish_links_and_indexes(tmp_path):
    root = tmp_path / "runs"
    folder = root / "00-abc"
    folder.mkdir(parents=True)
    _verdict("ch0-old", [0.1, 0.2]).write(folder)
    rerun.start(folder, "00_information_plane", {"scale": "smoke"})
    assert not (folder / "ch0-old.json").exists()  # a claim the new run does not make goes
    assert json.loads((folder / "run.json").read_text())["status"] == "running"
    _verdict("ch0-new", [0.1, 0.2]).write(folder)
    lines = rerun.finish(folder, "00_information_plane", {"scale": "smoke"}, 3.0, root=root)
    assert len(lines) == 1 and lines[0].startswith("ch0-new")
    assert os.readlink(root / "latest") == "00-abc"
    index = (root / "index.md").read_text()
    assert "`00-abc`" in index and "scale=smoke" in index and "1 " in index
    rec = json.loads((folder / "run.json").read_text())
    assert rec["status"] == "ok" and rec["verdicts"] == {"ch0-new": lines[0].split()[2]}


def test_plain_markdown_turns_directives_and_roles_into_plain_markdown():
    text = (":::{admonition} Claim\n:class: tip\nSee {cite:t}`saxe2018` and "
            "{doc}`the verdicts </verdicts>`; {math}`x^2`.\n:::\nafter")  # fmt: skip
    out = plain_markdown(text)
    assert out.splitlines()[0] == "> **Claim**"
    assert "> See saxe2018 and the verdicts; $x^2$." in out
    assert ":class:" not in out and ":::" not in out and out.endswith("after")
    assert plain_markdown("::::{dropdown} More\nbody\n::::") == "> **More**\n> \n> body\n"


@pytest.mark.slow
def test_make_run_writes_its_folder_summary_and_page(tmp_path):
    env = {**os.environ, "IBCORE_CACHE": str(tmp_path / "cache"), "IBCORE_PROGRESS": "0"}
    env.pop("IBCORE_RESULTS", None)
    code = (
        "import sys; from pathlib import Path; from ibcore.book import rerun, pipeline; "
        f"rerun.RUNS = Path({str(tmp_path / 'runs')!r}); "
        "sys.exit(pipeline.main(['run', '00', '-p', 'scale', 'smoke', '--html']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "verdicts of 00_information_plane" in proc.stdout
    assert re.search(r"ch0-primary +primary +smoke-only +[+-]", proc.stdout)
    assert str(tmp_path / "runs") in proc.stdout
    latest = tmp_path / "runs" / "latest"
    assert (latest / "00_information_plane.ipynb").exists()
    assert {p.name for p in latest.glob("ch0-*.json")} >= {"ch0-primary.json"}
    page = (latest / "00_information_plane.html").read_text()
    assert "Primary verdict" in page and "{glue" not in page and ":::{" not in page


def test_a_rerun_clears_the_old_notebook_page_and_figures_and_a_stop_is_recorded(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(rerun, "RUNS", tmp_path)
    folder = tmp_path / "00-abc"
    (folder / "figures" / "00").mkdir(parents=True)
    for name in ("00_information_plane.ipynb", "00_information_plane.html", "figures/00/f.png"):
        (folder / name).write_text("old")
    rerun.start(folder, "00_information_plane", {"scale": "smoke"})
    assert not (folder / "00_information_plane.ipynb").exists()
    assert not (folder / "00_information_plane.html").exists() and not (folder / "figures").exists()
    rerun.stopped(folder, "00_information_plane", {"scale": "smoke"}, "interrupted")
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    assert "| interrupted |" in (tmp_path / "index.md").read_text()


def test_a_shared_results_folder_reports_only_this_runs_records(tmp_path):
    import time

    old = _verdict("ch0-old", [0.1, 0.2])
    old.write(tmp_path)
    past = time.time() - 100
    os.utime(tmp_path / "ch0-old.json", (past, past))
    since = time.time() - 1
    _verdict("ch0-new", [0.1, 0.2]).write(tmp_path)
    lines = rerun.finish(tmp_path, "00_information_plane", {}, 1.0, root=tmp_path / "none",
                         since=since)  # fmt: skip
    assert [ln.split()[0] for ln in lines] == ["ch0-new"]


def test_bound_text_never_says_nan():
    v = _verdict("ch0-x", [math.nan, math.nan])
    assert "nan" not in v.summary().lower() and "nan" not in v._repr_html_().lower()
    assert v.bound_text() == "none (fewer than two values)"
