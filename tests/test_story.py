"""The chapters' story layer, read from their sources (the browser test reads the rendered pages).

A story page is what a student reads in about 15 minutes: at most about 2,000 words of prose
outside the collapsed evidence (dropdowns), figures numbered in order of appearance, drawn at a
width that the page shows at its natural size (≤ 8 in at 100 dpi) with text of 9 pt or more.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ibcore.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("0*.md"))
STORY_WORDS = 1800  # in the source; the rendered page adds the generated takeaway (≤ 2,000)
MAX_WIDTH_IN = 8.0


def story_words(text: str) -> int:
    """Words of prose a reader sees without opening anything: outside code cells, dropdowns
    (``{dropdown}`` or an admonition of class ``dropdown``), tables, maths blocks and markup."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    text = re.sub(r"```\{code-cell\}.*?\n```", "", text, flags=re.S)
    out, closing = [], None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if closing is not None:
            closing = None if line.strip() == closing else closing
            continue
        m = re.match(r"^(:{3,})\{([\w-]+)\}", line)
        if m:
            options = []
            for nxt in lines[i + 1 :]:
                if not nxt.startswith(":") or nxt.startswith(":::"):
                    break
                options.append(nxt)
            if m.group(2) == "dropdown" or any(re.match(r":class:.*dropdown", o) for o in options):
                closing = m.group(1)
                continue
        if line.startswith(("|", ":")):
            continue
        out.append(line)
    body = re.sub(r"\$\$.*?\$\$", " ", "\n".join(out), flags=re.S)
    return len(body.split())


def test_story_words_counts_what_a_reader_sees():
    text = "\n".join([
        "---", "jupytext: x", "---", "one two three",
        "```{code-cell} ipython3", "hidden code words", "```",
        "::::{dropdown} Title", "evidence words here", ":::{margin} inner", "x", ":::", "::::",
        ":::{admonition} Solution", ":class: dropdown", "solution words", ":::",
        ":::{admonition} Claim", "four five", ":::",
        "| a | b |", "|---|---|", "$$ x + y $$", "six",
    ])  # fmt: skip
    assert story_words(text) == 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_story_is_short(path: Path):
    words = story_words(path.read_text(encoding="utf-8"))
    assert words <= STORY_WORDS, f"{path.name}: {words} words of story prose (≤ {STORY_WORDS})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_dropdowns_are_closed(path: Path):
    """Every ``::::{dropdown}`` fence is closed, and never inside a code cell."""
    text = re.sub(r"```\{code-cell\}.*?\n```", "", path.read_text(encoding="utf-8"), flags=re.S)
    opened = re.findall(r"^(:{3,})\{dropdown\}", text, flags=re.M)
    for fence in set(opened):
        closes = len(re.findall(rf"^{fence}$", text, flags=re.M))
        assert closes >= opened.count(fence), f"{path.name}: an unclosed {fence}{{dropdown}}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_numbered_in_order_and_legible(path: Path):
    text = path.read_text(encoding="utf-8")
    cells = "\n".join(re.findall(r"```\{code-cell\}.*?\n```", text, flags=re.S))
    numbers = [int(n) for n in re.findall(r"Fig\. (\d+)[a-z]?(?:\{[^}]*\})? —", cells)]
    first = list(dict.fromkeys(numbers))
    assert first == list(range(1, len(first) + 1)), f"{path.name}: figures drawn as {first}"
    prose = re.sub(r"```\{code-cell\}.*?\n```", "", text, flags=re.S)
    cited = list(dict.fromkeys(int(n) for n in re.findall(r"\bFigures? (\d+)", prose)))
    assert cited == sorted(cited), f"{path.name}: figures cited out of order {cited}"
    assert set(cited) <= set(first), f"{path.name}: cites figures it does not draw"
    for w in re.findall(r"figsize=\(([\d.]+)\s*,", cells):
        assert float(w) <= MAX_WIDTH_IN, f"{path.name}: a figure {w} in wide"
    small = re.findall(r"fontsize=(\d+)\b", cells)
    assert all(int(s) >= 9 for s in small), f"{path.name}: text below 9 pt: {small}"
