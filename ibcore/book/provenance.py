"""What produced a chapter: parameters, scale, commit, package versions, device, wall time."""

from __future__ import annotations

import html
import platform
import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any

PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "matplotlib", "seaborn")


def provenance(params: Mapping[str, Any], device: str, t0: float) -> dict[str, Any]:
    """A record of what produced a chapter's page (all chapters; shown at the end of each)."""
    from ibcore import __version__
    from ibcore.cache import params_hash
    from ibcore.verdicts import git_commit

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = "not installed"
    return {
        "parameters": dict(params),
        "params hash": params_hash(params),
        "scale": params.get("scale"),
        "ibcore": __version__,
        "commit": git_commit(),
        "python": platform.python_version(),
        "packages": versions,
        "device": str(device),
        "wall time": f"{time.perf_counter() - t0:.0f} s",
        "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


class ProvenanceTable:
    """HTML table of :func:`provenance`, collapsed in a ``<details>`` element."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = dict(record)

    def _repr_html_(self) -> str:
        rows = []
        for k, v in self.record.items():
            if isinstance(v, Mapping):
                v = ", ".join(f"{a}={b}" for a, b in v.items())
            rows.append(
                f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code></td></tr>"
            )
        return (
            '<details class="ibcore-provenance"><summary>Provenance: what produced this page'
            f"</summary><table>{''.join(rows)}</table></details>"
        )


def show_provenance(params: Mapping[str, Any], device: str, t0: float) -> ProvenanceTable:
    """The collapsible provenance table for the end of a chapter."""
    return ProvenanceTable(provenance(params, device, t0))
