"""What produced a chapter (ibcore.book.provenance): the record and its HTML table."""

from __future__ import annotations

import platform
import time
from importlib import metadata

import ibcore
from ibcore.book.provenance import PACKAGES, ProvenanceTable, provenance, show_provenance
from ibcore.cache import params_hash

PARAMS = {"scale": "smoke", "seeds": [3, 7], "activation": "tanh", "note": "a<b & c"}


def test_provenance_records_parameters_versions_device_and_time():
    t0 = time.perf_counter() - 42.0
    rec = provenance(PARAMS, "cpu", t0)
    assert rec["parameters"] == PARAMS and rec["parameters"] is not PARAMS
    assert rec["params hash"] == params_hash(PARAMS) and len(rec["params hash"]) == 16
    assert rec["params hash"] != params_hash({**PARAMS, "seeds": [3, 8]})
    assert rec["scale"] == "smoke" and rec["device"] == "cpu"
    assert rec["ibcore"] == ibcore.__version__ and rec["python"] == platform.python_version()
    assert list(rec["packages"]) == list(PACKAGES)
    for name in ("torch", "numpy", "matplotlib"):  # installed in the project's environment
        assert rec["packages"][name] == metadata.version(name)
    assert rec["wall time"] in ("42 s", "43 s")  # 42 s ago, plus the time of the call
    assert rec["commit"] and " " not in rec["commit"]
    time.strptime(rec["built"][:19], "%Y-%m-%d %H:%M:%S")


def test_provenance_marks_a_missing_package(monkeypatch):
    from ibcore.book import provenance as mod

    monkeypatch.setattr(mod, "PACKAGES", ("numpy", "no-such-package-ibcore"))
    assert mod.provenance({}, "cpu", time.perf_counter())["packages"] == {
        "numpy": metadata.version("numpy"),
        "no-such-package-ibcore": "not installed",
    }


def test_show_provenance_renders_the_record_as_escaped_html():
    table = show_provenance(PARAMS, "cuda:0", time.perf_counter())
    assert isinstance(table, ProvenanceTable)
    html = table._repr_html_()
    assert html.startswith('<details class="ibcore-provenance"><summary>Provenance')
    assert html.endswith("</table></details>")
    assert html.count("<tr>") == len(table.record)
    torch_v, numpy_v = metadata.version("torch"), metadata.version("numpy")
    assert f"torch={torch_v}" in html and f"numpy={numpy_v}" in html
    assert "<th>device</th><td><code>cuda:0</code></td>" in html
    assert f"<th>ibcore</th><td><code>{ibcore.__version__}</code></td>" in html
    # parameters: one row "name=value, ..."; HTML special characters escaped
    assert "seeds=[3, 7]" in html and "note=a&lt;b &amp; c" in html and "a<b" not in html
