"""Offline viewing: the book serves MathJax itself (book/_assets/) and loads no widget manager."""

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
    path = config["mathjax_path"]
    assert "://" not in path and (ASSETS / path).is_file(), path
    # Headless runs create no widget state: no widget manager is shipped, and an empty mapping
    # keeps MyST-NB from adding its CDN scripts should a page ever carry widget state.
    assert config["nb_ipywidgets_js"] == {}
    assert not (ASSETS / "widgets").exists() and not (ASSETS / "require.js").exists()


def test_assets_are_small_and_have_no_source_maps():
    files = [p for p in ASSETS.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".map"]
    assert sum(p.stat().st_size for p in files) < 3e6


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
        assert not [s for s in scripts if re.search(r"require|embed-amd|widget", s, re.I)], page
        for src in scripts:
            if re.search(r"mathjax", src, re.I):
                assert re.match(r"(\.\./)*_static/mathjax", src), src
