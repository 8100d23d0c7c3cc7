"""A student notebook where students are (course module): downloaded from the published site
into an environment without ibcore, its install cell installs the wheel published with the
site, the exercises run, and a pasted solution passes its check.

The fresh virtual environment sees the book's environment's packages (torch, torchvision, numpy
and ibcore's other dependencies) through a path file, every ibcore entry left out, so the test
runs offline: pip finds the dependencies present and installs ibcore from the wheel alone.
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import jupytext

from ibcore.book import site
from ibcore.book.student import student_notebook
from ibcore.paths import REPO_ROOT


def _fresh_venv(tmp: Path) -> Path:
    """A venv with pip whose only other packages are the book's, ibcore excluded."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    shared = tmp / "shared-site"
    shared.mkdir()
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():
        low = entry.name.lower()
        if low.startswith(("ibcore", "__editable__", "_ibcore", "pip", "_distutils_hack")):
            continue
        (shared / entry.name).symlink_to(entry)
    target = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (Path(target) / "book-packages.pth").write_text(f"{shared}\n")
    return py


def test_a_downloaded_student_notebook_installs_the_sites_wheel_and_its_exercise_passes(tmp_path):
    wheel = site.build_wheel(tmp_path / "dist")
    py = _fresh_venv(tmp_path)
    work = tmp_path / "home"  # not the repository: `import ibcore` must not find the source tree
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IBCORE_", "PYTHON", "VIRTUAL_ENV"))}  # fmt: skip
    env["MPLBACKEND"] = "Agg"
    before = subprocess.run([str(py), "-c", "import ibcore"], cwd=work, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert before.returncode != 0, "ibcore is importable before the install cell ran"

    nb = site.fill_install_cell(
        student_notebook(jupytext.read(REPO_ROOT / "notebooks" / "05_exact_quantized.md")),
        str(wheel),
    )  # fmt: skip
    code = [c for c in nb.cells if c.cell_type == "code"]
    install = next(c.source for c in code if site.INSTALL_TAG in c.metadata.get("tags", []))
    exercise = next(c.source for c in code if "exercise" in c.metadata.get("tags", []))
    check = next(c.source for c in code if "check" in c.metadata.get("tags", []))
    assert "raise NotImplementedError" in exercise  # the student copy has no solution
    solution = (
        "import numpy as np\n\n"
        "def exact_entropy(codes):\n"
        "    _, counts = np.unique(np.asarray(codes), axis=0, return_counts=True)\n"
        "    p = counts / counts.sum()\n"
        "    return float(-(p * np.log2(p)).sum())\n"
    )
    script = "\n\n".join([install, exercise, solution, check,
                          "import ibcore; print('ibcore from', ibcore.__file__)"])  # fmt: skip
    run = subprocess.run([str(py), "-c", script], cwd=work, env=env, capture_output=True,
                         text=True, timeout=540)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "✓ exact_entropy: all 6 cases agree" in run.stdout
    where = run.stdout.split("ibcore from", 1)[1].strip()
    assert str(tmp_path / "venv") in where, where  # installed from the wheel, not the tree
