"""Offline viewing: the book serves MathJax and the widget manager itself (book/_assets/)."""

from __future__ import annotations

import re

import pytest
import yaml

from ibcore.paths import REPO_ROOT

ASSETS = REPO_ROOT / "book" / "_assets"
CDNS = ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "unpkg.com/mathjax", "polyfill.io")


def test_config_points_at_local_assets():
    config = yaml.safe_load((REPO_ROOT / "book" / "_config.yml").read_text())["sphinx"]["config"]
    assert config["html_static_path"] == ["_assets"]
    for path in [config["mathjax_path"], *config["nb_ipywidgets_js"]]:
        assert "://" not in path and (ASSETS / path).is_file(), path


def test_assets_are_small_and_have_no_source_maps():
    files = [p for p in ASSETS.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".map"]
    assert sum(p.stat().st_size for p in files) < 8e6


@pytest.mark.slow
def test_built_pages_reference_no_cdn(smoke_book):
    _, _, html = smoke_book
    pages = list(html.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        for cdn in CDNS:
            assert cdn not in text, f"{page.relative_to(html)} references {cdn}"
        scripts = re.findall(r'<script[^>]*\ssrc="([^"]*)"', text)
        assert not [s for s in scripts if "://" in s or s.startswith("//")], page
        for src in scripts:
            if re.search(r"mathjax|require|embed-amd", src, re.I):
                assert re.match(r"(\.\./)*_static/(mathjax|widgets|require)", src), src
