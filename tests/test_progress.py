"""Progress of a headless chapter reaches the terminal that started it (make run / make book)."""

import re

import ibcore
from ibcore import cache, env
from ibcore.book.pipeline import progress_env
from ibcore.data import load_szt12
from ibcore.models import build_mlp
from ibcore.train import train


def test_training_bar_and_run_counter_write_to_the_progress_file(tmp_path, monkeypatch):
    tty = tmp_path / "tty"
    monkeypatch.setenv(env.PROGRESS_TTY, str(tty))
    monkeypatch.setenv("IBCORE_PROGRESS", "1")
    ibcore.setup(0, device="cpu", quiet=True)
    m = build_mlp([12, 6, 2], "tanh", seed=0)
    train(m, load_szt12(seed=0), epochs=2, lr=1e-3, batch_size=256, desc="bar-under-test")
    from ibcore.runs import szt_run

    ps = [dict(seed=s, epochs=1, snapshots=2, eval_every=1) for s in (0, 1)]
    out = cache.run_cached_many(szt_run, ps, workers=1, cache=tmp_path / "c")
    assert [h.meta["seed"] for h in out] == [0, 1]
    text = tty.read_text()
    assert "bar-under-test" in text
    assert "szt_run: 1 of 2 runs done" in text and "szt_run: 2 of 2 runs done" in text
    assert re.search(r"szt_run: 2 of 2 runs done, \d+ s, about 0 s left", text)


def test_no_bars_without_a_terminal_unless_asked(monkeypatch):
    monkeypatch.delenv(env.PROGRESS_TTY, raising=False)
    monkeypatch.delenv("IBCORE_PROGRESS", raising=False)
    assert progress_env() == {"IBCORE_PROGRESS": "0"}  # pytest's stderr is not a terminal
    monkeypatch.setenv(env.PROGRESS_TTY, "/some/terminal")
    assert progress_env() == {"IBCORE_PROGRESS": "1", env.PROGRESS_TTY: "/some/terminal"}
    monkeypatch.setenv("IBCORE_PROGRESS", "0")
    assert progress_env()["IBCORE_PROGRESS"] == "0"
    assert env.progress_on(None) is False and env.progress_on(True) is True


def test_an_unwritable_progress_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv(env.PROGRESS_TTY, str(tmp_path / "no" / "such" / "dir" / "tty"))
    assert env.progress_stream() is None
