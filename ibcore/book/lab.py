"""The classroom front end (``make lab``; course module): JupyterLab on the chapters' text
notebooks (``notebooks/NN_*.md``), opened as notebooks through jupytext. Each chapter is paired
with a ``.ipynb`` beside it (``formats: ipynb,md:myst``) that keeps a student's outputs and is
git-ignored. JupyterLab comes with the extra ``lab`` (pinned in requirements/constraints.txt)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ibcore.paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
SETTINGS_DIR = REPO_ROOT / "build" / "lab-settings"
INSTALL_HINT = "pip install -c requirements/constraints.txt -e '.[lab]'  (or: make lab)"

# Text notebooks open as notebooks by default (a double click), not in the text editor.
DOC_MANAGER = {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}


def write_settings(folder: Path = SETTINGS_DIR) -> Path:
    """Write the JupyterLab user settings of ``make lab`` into ``folder``; returns ``folder``."""
    from ibcore.atomic import atomic_write_text

    path = folder / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(DOC_MANAGER, indent=2) + "\n")
    return folder


def lab_command(
    root: Path = NOTEBOOKS, port: int | None = None, token: str | None = None, browser: bool = True
) -> list[str]:
    """The ``jupyter lab`` command line serving ``root`` on 127.0.0.1 (``port``: 1-65535)."""
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port = {port}: expected 1-65535")
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
           "--ServerApp.ip=127.0.0.1"]  # fmt: skip
    if port is not None:
        cmd += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if not browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI and containers run as root
    return cmd


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make lab`` (replaces this process with the JupyterLab server)."""
    ap = argparse.ArgumentParser(
        prog="python -m ibcore.book.lab", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--root", type=Path, default=NOTEBOOKS, help="folder to serve (the chapters)")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--token", default=None, help="access token (default: JupyterLab makes one)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--settings-dir", type=Path, default=SETTINGS_DIR)
    a = ap.parse_args(argv)
    try:
        import jupyterlab  # noqa: F401
        import jupytext  # noqa: F401
    except ImportError as exc:
        print(f"make lab needs JupyterLab and jupytext ({exc.name} missing): {INSTALL_HINT}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        cmd = lab_command(a.root, a.port, a.token, browser=not a.no_browser)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    os.environ["JUPYTERLAB_SETTINGS_DIR"] = str(write_settings(a.settings_dir))
    # inline figures in the kernels (make exports MPLBACKEND=Agg for headless runs)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    sys.stdout.flush()
    os.execv(cmd[0], cmd)  # no return


if __name__ == "__main__":
    raise SystemExit(main())
