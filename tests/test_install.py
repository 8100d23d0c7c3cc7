"""The package installs beside a host's own stack: ranges, not pins (a hosted notebook, Python 3.12)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pip(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run",
                        "--disable-pip-version-check", *args, str(ROOT)],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout


def test_installs_beside_an_installed_torch_without_the_constraints():
    out = _pip()
    would = re.findall(r"^Would install (.*)$", out, flags=re.M)
    assert would and would[-1].split() == [f"ibcore-{__import__('ibcore').__version__}"]


def test_resolves_for_python_312_without_the_constraints(tmp_path):
    out = _pip("--ignore-installed", "--python-version", "3.12", "--only-binary=:all:",
               "--target", str(tmp_path / "t"))  # fmt: skip
    would = re.findall(r"^Would install (.*)$", out, flags=re.M)[-1].split()
    names = {w.rsplit("-", 1)[0].lower() for w in would}
    assert {"ibcore", "torch", "numpy", "torchvision"} <= names
