"""The smoke book in a real browser: headless Debian Chromium driven by Playwright.

Serves the smoke build (fixture ``smoke_book`` in conftest.py, shared with test_notebooks.py) on
localhost and opens every page of the table of contents: the intro, every chapter, the verdicts,
the references and the rest. Each page must load
without a request leaving localhost and without a failed request; chapter pages must show their
figures, a verdict box and the smoke banner above the first cell, with no error output and every
formula typeset by MathJax, and a download button offering the executed and the student notebook;
every same-origin link (its #anchor, and the downloads) must resolve.

A full-page screenshot of each page is saved in ``build/browser-screenshots/<page>.png``.
Needs ``/usr/bin/chromium`` (Debian: ``apt-get install chromium chromium-driver``; ``.ci/run``
installs it); without it the test is skipped. Playwright's own browser download is never used.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
import yaml

from ibcore.paths import REPO_ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Chromium not installed: browser test skipped; install with apt-get install chromium "
        "chromium-driver",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "build" / "browser-screenshots"


def _toc_pages(entry: dict) -> list[str]:
    """Every page of the book's table of contents, in order, as ``<file>.html``."""
    own = [f"{entry[k]}.html" for k in ("root", "file") if k in entry]
    kids = [*entry.get("parts", []), *entry.get("chapters", []), *entry.get("sections", [])]
    return own + [page for kid in kids for page in _toc_pages(kid)]


# The intro, every chapter, verdicts, references and any other page of the table of contents.
PAGES = _toc_pages(yaml.safe_load((REPO_ROOT / "book" / "_toc.yml").read_text()))
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def site(smoke_book):
    """The smoke book's HTML served on 127.0.0.1 (a free port) from a background thread."""
    _, _, html = smoke_book
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium (fresh profile) for all pages."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


@functools.cache
def _fetch(url: str) -> tuple[int, str]:
    """Status and text of a same-origin URL (cached: many pages link the same targets)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read()
            text = body.decode("utf-8", "replace") if url.endswith((".html", "/")) else ""
            return r.status, text
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _open(browser, url: str):
    """Load ``url``; return the page and the requests that left localhost or failed."""
    page = browser.new_page()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    outside, failed = [], []
    page.on("request", lambda r: r.url.startswith(origin) or outside.append(r.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} ({r.status})"))
    page.goto(url, wait_until="networkidle")
    # Wait for MathJax to finish typesetting (pages without maths have no MathJax).
    page.evaluate("() => window.MathJax?.startup?.promise")
    return page, outside, failed


_MOVE_JS = """(root) => {
  for (const c of root.querySelectorAll('[data-axis]')) {
    if (c.type === 'range' && Number(c.max) > 0) { c.value = '0'; }
    else if (c.tagName === 'SELECT' && c.options.length > 1) { c.value = '1'; }
    else continue;
    c.dispatchEvent(new Event('input'));
    return true;
  }
  return false;
}"""


@pytest.mark.parametrize("name", PAGES)
def test_page_in_chromium(site, browser, name):
    page, outside, failed = _open(browser, site + name)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}.png"), full_page=True)
        assert not outside, f"{name}: requests left localhost (offline assets?): {outside}"
        assert not failed, f"{name}: failed requests: {failed}"
        text = page.inner_text("main")

        # No error output.
        assert "Traceback" not in text
        stderr = page.locator(".output.stderr, .output.traceback").all_inner_texts()
        assert not [s for s in stderr if "Error" in s], f"{name}: error output: {stderr}"

        # Every formula typeset: no raw TeX delimiters, each math node holds a MathJax container.
        assert "$$" not in text and "\\(" not in text and "\\[" not in text
        untypeset = page.evaluate(
            "() => [...document.querySelectorAll('main .math')]"
            ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent)"
        )
        assert not untypeset, f"{name}: maths not rendered by MathJax: {untypeset[:3]}"

        # Every image loaded.
        images = page.evaluate(
            "() => [...document.querySelectorAll('main img')]"
            ".map(i => ({src: i.currentSrc, ok: i.complete && i.naturalWidth > 0}))"
        )
        assert all(i["ok"] for i in images), f"{name}: images not loaded: {images}"

        if name in CHAPTERS:
            assert len(images) >= 1, f"{name}: no figure"
            assert page.locator("main .math").count() > 0, f"{name}: no maths found"
            assert page.locator(".ibcore-verdict").first.is_visible(), f"{name}: no verdict box"
            banner = page.locator("main .ibcore-smoke")
            assert banner.count() == 1 and banner.is_visible(), f"{name}: smoke banner"
            assert "not results" in banner.inner_text()
            first_cell = page.locator("main .cell").first.bounding_box()
            assert banner.bounding_box()["y"] < first_cell["y"], "banner above the first cell"
            # The download button offers both notebooks, named so (followed with the links).
            downloads = page.evaluate(
                "() => Object.fromEntries([...document.querySelectorAll('a[href$=\".ipynb\"]')]"
                ".map(a => [a.textContent.trim(), a.href]))"
            )
            stem = Path(name).stem
            # The chapter's control works without a kernel: moving it swaps the frame.
            frames = page.locator("main .ibcore-frames")
            assert frames.count() == 1, f"{name}: no pre-rendered control"
            before = frames.locator("img").get_attribute("src")
            moved = page.evaluate(_MOVE_JS, frames.element_handle())
            assert moved, f"{name}: the control has a single setting"
            assert frames.locator("img").get_attribute("src") != before, f"{name}: frame unchanged"
            assert downloads.get("executed notebook (.ipynb)", "").endswith(f"/{stem}.ipynb")
            assert downloads.get("student notebook (.ipynb)", "").endswith(f"/{stem}.student.ipynb")

        # Tables render as tables: no markdown table rule left as text on any page.
        prose = page.evaluate(
            "() => [...document.querySelectorAll('main p, main li, main td, main .cell_output')]"
            ".map(e => e.innerText).join('\\n')"
        )
        assert not re.search(r"\|\s*:?-{3,}:?\s*\|", prose), f"{name}: a table left as raw text"
        # No warning, local path or NumPy repr in any output.
        outputs = "\n".join(page.locator("main .cell_output, main .output").all_inner_texts())
        leak = _LEAK.search(outputs)
        assert not leak, f"{name}: output leaks {leak.group(0)!r}"

        # Internal links resolve, #anchors included.
        hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    finally:
        page.close()
    bad = []
    for href in sorted({h for h in hrefs if h.startswith(site)}):
        target, anchor = urldefrag(href)
        status, body = _fetch(target)
        if status != 200:
            bad.append(f"{href} ({status})")
        elif anchor and body and not re.search(rf'id="{re.escape(anchor)}"', body):
            bad.append(f"{href} (no #{anchor})")
    assert not bad, f"{name}: broken internal links: {bad}"


_LEAK = re.compile(
    r"\w*Warning\b|/home/|/tmp/|/work/|/root/|/usr/|site-packages|np\.float\d+\(|array\(\[|"
    r"<Figure size|<matplotlib"
)

# What a reader sees of a chapter: closed dropdowns and collapsed outputs are the evidence layer.
_STORY_JS = """() => {
  const main = document.querySelector('main');
  const hidden = e => !!e.closest('details:not([open])');
  const prose = [...main.querySelectorAll('p, li')].filter(e => !hidden(e) && !e.closest(
    '.cell_output, .output, .ibcore-verdict, table, .cell_input, .bibliography, li p, '
    + '.toctree-wrapper, .admonition.dropdown'));
  const plain = e => {  // a formula counts as one word, as in the source
    const c = e.cloneNode(true);
    c.querySelectorAll('mjx-container, .math').forEach(m => m.replaceWith(' x '));
    return c.textContent;
  };
  const words = prose.map(e => plain(e).split(/\\s+/).filter(Boolean).length)
                     .reduce((a, b) => a + b, 0);
  const visible = sel => [...main.querySelectorAll(sel)].filter(e => !hidden(e));
  const imgs = visible('img').map(i => ({src: i.getAttribute('src'), natural: i.naturalWidth,
                                         shown: i.getBoundingClientRect().width}));
  const texts = prose.map(e => e.innerText).join('\\n');
  const figs = [...texts.matchAll(/\\bFigures? (\\d+)/g)].map(m => Number(m[1]));
  const top = [...main.querySelectorAll('.admonition')].find(
    a => a.querySelector('.admonition-title')?.innerText.trim() === 'Takeaway');
  const bottom = [...main.querySelectorAll('.cell_output p')].filter(
    p => p.innerText.startsWith('Takeaway.'));
  const card = main.querySelector('.ibcore-verdict');
  const y = e => e.getBoundingClientRect().top + window.scrollY;
  return {words, imgs, figs, cards: visible('.ibcore-verdict').length,
          top: top ? top.innerText.replace('Takeaway', '').trim() : '',
          topY: top ? y(top) : -1, bottomY: bottom.length ? y(bottom.at(-1)) : -1,
          cardY: card ? y(card) : -1};
}"""

# Figures are drawn at 100 dpi with 11 pt tick labels (seaborn's notebook context): shown at
# 0.78 of their natural width or more, the labels are 12 px (9 pt) or larger on the page.
MIN_FIGURE_SCALE = 0.78
STORY_WORDS = 2000
STORY_CARDS = 3


@pytest.mark.parametrize("name", CHAPTERS)
def test_story_page(site, browser, name):
    """A chapter's story: about 2,000 words, at most three cards, a takeaway at the top and
    under the verdict, legible figures, figures referenced in order of appearance."""
    page, _, _ = _open(browser, site + name)
    try:
        r = page.evaluate(_STORY_JS)
    finally:
        page.close()
    assert r["words"] <= STORY_WORDS, f"{name}: {r['words']} words of story prose"
    assert 1 <= r["cards"] <= STORY_CARDS, f"{name}: {r['cards']} verdict cards shown"
    assert len(r["top"]) > 80, f"{name}: no takeaway at the top: {r['top']!r}"
    assert 0 < r["topY"] < r["cardY"] < r["bottomY"], f"{name}: takeaway top and bottom: {r}"
    small = [i for i in r["imgs"] if i["natural"] and i["shown"] / i["natural"] < MIN_FIGURE_SCALE]
    assert not small, f"{name}: figures shrunk below legible size: {small}"
    first_seen = list(dict.fromkeys(r["figs"]))
    assert first_seen == sorted(first_seen), f"{name}: figures referenced out of order {first_seen}"
    assert first_seen == list(range(1, len(first_seen) + 1)), f"{name}: figure numbers {first_seen}"


_CONTRAST_JS = """() => {
  const rgba = s => { const v = s.match(/[\\d.]+/g).map(Number); return v.length > 3 ? v : [...v, 1]; };
  const lum = c => { const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backdrop = el => {  // the colour behind el: translucent layers blended up to an opaque one
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out;
  };
  const words = [...document.querySelectorAll('.ibv-status')].map(w => ({
    theme: document.documentElement.dataset.theme, status: w.dataset.status,
    text: ratio(rgba(getComputedStyle(w).color), backdrop(w)), head: 99, code: 99}));
  return words.concat([...document.querySelectorAll('.ibcore-verdict')].map(box => {
    const bg = backdrop(box);
    const head = box.querySelector('.ibv-head');
    const code = box.querySelector('code');
    return {theme: document.documentElement.dataset.theme, status: box.dataset.status,
            text: ratio(rgba(getComputedStyle(box).color), bg),
            head: ratio(rgba(getComputedStyle(head).color), bg),
            code: code ? ratio(rgba(getComputedStyle(code).color), backdrop(code)) : 99};
  }));
}"""


def _themed(browser, url: str, scheme: str):
    """``url`` opened in ``scheme`` (light or dark), its colours settled."""
    page = browser.new_page()
    page.emulate_media(color_scheme=scheme)
    page.goto(url, wait_until="networkidle")
    # the theme follows the system scheme by default; set it as its switch would
    page.evaluate(f"() => {{ localStorage.setItem('theme', '{scheme}'); "
                  f"document.documentElement.dataset.theme = '{scheme}'; }}")  # fmt: skip
    page.add_style_tag(content="* { transition: none !important; }")  # read settled colours
    page.wait_for_timeout(300)
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("where", ["chapter", "verdicts"])
def test_verdicts_are_readable_in_light_and_dark_mode(site, browser, scheme, where):
    page = _themed(browser, site + (CHAPTERS[0] if where == "chapter" else "verdicts.html"), scheme)
    try:
        target = ".ibcore-verdict" if where == "chapter" else ".ibv-status"
        page.locator(target).first.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"verdicts-{where}-{scheme}.png"))
        boxes = page.evaluate(_CONTRAST_JS)
        assert boxes, f"no {target} on the page"
        for b in boxes:
            assert b["theme"] == scheme
            assert b["text"] >= 4.5 and b["head"] >= 4.5 and b["code"] >= 4.5, b
    finally:
        page.close()


_TEXT_CONTRAST_JS = """(selectors) => {
  const rgba = s => { const v = s.match(/[\\d.]+/g).map(Number); return v.length > 3 ? v : [...v, 1]; };
  const lum = c => { const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backdrop = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let out = document.documentElement.dataset.theme === 'dark' ? [18, 18, 18] : [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out;
  };
  const out = [];
  for (const sel of selectors)
    for (const e of document.querySelectorAll(sel)) {
      if (!e.innerText.trim() || e.closest('details:not([open])')) continue;
      out.push({sel, text: e.innerText.trim().slice(0, 40),
                ratio: ratio(rgba(getComputedStyle(e).color), backdrop(e))});
    }
  return out;
}"""

# Text that a reader must read in both themes: cards, the records table, the pre-rendered
# controls and their note on a chapter; the status words and labels of the verdicts forest.
_TEXT = {
    "chapter": [".ibcore-verdict .ibv-head", ".ibcore-records td", ".ibcore-frames label",
                ".ibcore-frames-note", ".ibv-muted"],
    "verdicts": [".ibf-label", ".ibf-status", ".ibf-meta", ".ibv-status"],
}  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("where", ["chapter", "verdicts"])
def test_text_contrast_in_light_and_dark_mode(site, browser, scheme, where):
    page = _themed(browser, site + (CHAPTERS[0] if where == "chapter" else "verdicts.html"), scheme)
    try:
        found = page.evaluate(_TEXT_CONTRAST_JS, _TEXT[where])
    finally:
        page.close()
    seen = {f["sel"] for f in found}
    must = {".ibcore-frames label"} if where == "chapter" else {".ibf-label", ".ibf-status"}
    assert must <= seen, f"{where}: nothing found for {must - seen}"
    low = [f for f in found if f["ratio"] < 4.5]
    assert not low, f"{where} ({scheme}): text below 4.5:1: {low[:5]}"
