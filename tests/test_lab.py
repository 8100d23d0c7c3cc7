"""``make lab`` (ibcore.book.lab): JupyterLab on the chapters, text notebooks paired to .ipynb.

The server test starts JupyterLab on a free port of 127.0.0.1 over a copy of the chapters,
lists them over HTTP, opens one as a notebook through jupytext, saves it and finds the paired
``.ipynb`` beside it; then stops the server. Skipped without JupyterLab (extra ``lab``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jupytext
import pytest

from ibcore.book import lab, pipeline
from ibcore.paths import REPO_ROOT

NOTEBOOKS = pipeline.notebooks()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_chapters_pair_with_an_ignored_ipynb(nb):
    formats = jupytext.read(nb).metadata["jupytext"]["formats"]
    assert formats.split(",") == ["ipynb", "md:myst"], f"{nb.name}: outputs would not be saved"
    paired = nb.with_suffix(".ipynb").relative_to(REPO_ROOT)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(paired)], cwd=REPO_ROOT)
    assert ignored.returncode == 0, f"{paired} is not git-ignored"


def test_lab_command_and_settings(tmp_path):
    cmd = lab.lab_command(tmp_path, port=8899, token="t", browser=False)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in cmd and "--ServerApp.ip=127.0.0.1" in cmd
    assert "--ServerApp.port=8899" in cmd and "--no-browser" in cmd
    with pytest.raises(ValueError, match="port = 0: expected 1-65535"):
        lab.lab_command(tmp_path, port=0)
    settings = lab.write_settings(tmp_path / "s")
    plugin = settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    viewers = json.loads(plugin.read_text())["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.slow
def test_lab_serves_the_chapters(tmp_path):
    pytest.importorskip("jupyterlab", reason="JupyterLab not installed: pip install -e '.[lab]'")
    root = tmp_path / "notebooks"
    root.mkdir()
    for nb in NOTEBOOKS:
        shutil.copy2(nb, root / nb.name)
    port, token = _free_port(), "ibbook-test"
    cmd = [sys.executable, "-m", "ibcore.book.lab", "--root", str(root), "--port", str(port),
           "--token", token, "--no-browser", "--settings-dir", str(tmp_path / "settings")]  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env={
            **os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/contents"
    try:
        listing = None
        for _ in range(120):  # at most about a minute
            if server.poll() is not None:
                break
            try:
                listing = _get(f"{base}?token={token}")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert listing is not None, (tmp_path / "lab.log").read_text()[-3000:]
        names = {item["name"] for item in listing["content"]}
        assert {nb.name for nb in NOTEBOOKS} <= names
        nb = NOTEBOOKS[0]
        model = _get(f"{base}/{nb.name}?type=notebook&content=1&token={token}")
        assert model["type"] == "notebook"
        assert len(model["content"]["cells"]) == len(jupytext.read(nb).cells)
        body = json.dumps({"type": "notebook", "format": "json", "content": model["content"]})
        req = urllib.request.Request(
            f"{base}/{nb.name}?token={token}", data=body.encode(), method="PUT",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        assert (root / f"{nb.stem}.ipynb").is_file(), "no paired .ipynb beside the chapter"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
