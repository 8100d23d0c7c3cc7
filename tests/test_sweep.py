"""Sweeps: grid parsing and validation, a real Dask LocalCluster, failures, reruns."""

from __future__ import annotations

import csv
import json

import pytest

from ibcore.book import sweep
from ibcore.claims import chapter
from ibcore.schema import ParameterError

# A stand-in chapter 00 (same schema, no training): fails for activation=relu, in one cell.
FAKE_00 = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

```{code-cell} ipython3
:tags: [parameters]

scale = "cpu"
activation = None
seeds = None
```

```{code-cell} ipython3
import os, json, pathlib
if activation == "relu":
    raise RuntimeError("relu is not welcome here")
out = pathlib.Path(os.environ["IBCORE_RESULTS"])
json.dump({"claim": "fake", "status": "smoke-only", "value": 1.0 + seeds[0], "metric": "m",
           "threshold": 0.5, "direction": ">="}, open(out / "fake.json", "w"))
```
"""


def test_parse_grid_lists_ranges_and_errors():
    g = sweep.parse_grid("activation=tanh,relu seeds=0-3,7")
    assert g == {"activation": ["tanh", "relu"], "seeds": ["0", "1", "2", "3", "7"]}
    assert sweep.parse_grid(["lr=1e-3,2e-4", "epochs=10"]) == {
        "lr": ["1e-3", "2e-4"],
        "epochs": ["10"],
    }
    for bad, msg in [
        ("", "the grid is empty"),
        ("activation", "is not of the form key=v1,v2"),
        ("seeds=5-2", "is empty"),
        ("seeds=1,1", "repeats a value"),
        ("a=1 a=2", "given twice"),
        ("a=1,,2", "empty value"),
    ]:
        with pytest.raises(ParameterError, match=msg):
            sweep.parse_grid(bad)


def test_build_points_validates_against_the_chapter_schema():
    pts = sweep.build_points(
        "00", sweep.parse_grid("activation=tanh,relu seeds=0-1 lr=1e-3"), {"scale": "smoke"}
    )
    assert len(pts) == 4 and len({p.name for p in pts}) == 4
    p = pts[1]
    assert p.values == {"activation": "tanh", "seeds": 1, "lr": 1e-3}
    assert p.parameters == {"scale": "smoke", "activation": "tanh", "seeds": [1], "lr": 1e-3}
    assert p.name == "activation=tanh__seeds=1__lr=0.001"
    # a chapter accepts the explicit seed list the sweep passes, and still a count
    assert chapter("00").resolve("smoke", seeds=[1])["seeds"] == [1]
    assert chapter("00").resolve("smoke", seeds=3)["seeds"] == 3
    cases = [
        ("colour=red", r"unknown parameter 'colour'; chapter 00's parameters are \('scale'"),
        ("activation=sigmoid", r"parameter 'activation' = 'sigmoid' is not allowed; choose one"),
        ("epochs=0", r"parameter 'epochs' = 0 is out of range; it must be >= 1"),
        ("epochs=1.5", r"parameter 'epochs' must be of type int, got str '1.5'"),
        ("seeds=x", r"in a grid, seeds are seed numbers"),
        ("scale=huge", r"parameter 'scale' = 'huge' is not allowed; choose one of \('smoke'"),
    ]
    for text, msg in cases:
        with pytest.raises(ParameterError, match=msg) as exc:
            sweep.build_points("00", sweep.parse_grid(text))
        assert "\n" not in str(exc.value)
    with pytest.raises(ParameterError, match="both in the grid and fixed"):
        sweep.build_points("00", {"activation": ["tanh"]}, {"activation": "relu"})
    with pytest.raises(ParameterError, match=r"unknown chapter '99'; the chapters are \('00'"):
        sweep.build_points("99", {"seeds": ["0"]})
    # list-valued parameters: '+' joins the items of one value
    pts = sweep.build_points("03", {"sweep_depths": ["4+12", "20"]}, {"scale": "smoke"})
    assert [p.parameters["sweep_depths"] for p in pts] == ["4,12", "20"]


def test_failing_point_is_reported_and_rerun_runs_only_what_is_missing(tmp_path):
    nb = tmp_path / "00_fake.md"
    nb.write_text(FAKE_00)
    logs: list[str] = []
    grid = "activation=tanh,relu seeds=0-1"
    res = sweep.run_sweep(nb, grid, {"scale": "smoke"}, jobs=2, log=logs.append)
    assert len(res.records) == 4 and len(res.ran) == 4 and not res.skipped
    failed = res.failed
    assert [f["values"] for f in failed] == [
        {"activation": "relu", "seeds": 0},
        {"activation": "relu", "seeds": 1},
    ]
    assert all("RuntimeError: relu is not welcome here" in f["error"] for f in failed)
    assert any("FAILED  activation=relu seeds=0: RuntimeError" in line for line in logs)
    ok = [r for r in res.records if r["status"] == "ok"]
    assert [r["verdicts"]["fake"]["value"] for r in ok] == [1.0, 2.0]
    rows = list(csv.DictReader(res.table_csv.open()))
    assert [(r["activation"], r["seeds"], r["status"]) for r in rows] == [
        ("tanh", "0", "ok"),
        ("tanh", "1", "ok"),
        ("relu", "0", "failed"),
        ("relu", "1", "failed"),
    ]
    assert rows[1]["fake:value"] == "2.0" and "relu is not welcome" in rows[2]["error"]
    md = res.table_md.read_text()
    assert "Mean ± std over seeds" in md and "| tanh | 2/2 | 1.5 ± 0.71 |" in md
    assert res.figure.stat().st_size > 1000
    # rerun: only the failed points run again; the successful ones are skipped
    res2 = sweep.run_sweep(nb, grid, {"scale": "smoke"}, jobs=2, log=logs.append)
    assert res2.folder == res.folder
    assert sorted(res2.ran) == ["activation=relu__seeds=0", "activation=relu__seeds=1"]
    assert sorted(res2.skipped) == ["activation=tanh__seeds=0", "activation=tanh__seeds=1"]
    # CLI: exit 1 when some points failed, 2 on a bad grid
    assert sweep.main([str(nb), "activation=relu", "seeds=0", "-p", "scale", "smoke"]) == 1
    assert sweep.main([str(nb), "activation=nope"]) == 2


@pytest.mark.slow
def test_chapter_00_grid_on_a_dask_local_cluster(tmp_path):
    from dask.distributed import Client, LocalCluster

    grid = "seeds=0-1"
    fixed = {"scale": "smoke", "epochs": 60}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        # by address, as `make sweep SCHEDULER=tcp://...` does (run_sweep opens its own Client)
        res = sweep.run_sweep("00", grid, fixed, scheduler=cluster.scheduler_address)
        assert len(client.scheduler_info()["workers"]) == 2
        # rerun of the finished grid: nothing to run, the same table
        res2 = sweep.run_sweep("00", grid, fixed, scheduler=client)
    assert not res.failed, res.failed
    assert sorted(res.ran) == ["seeds=0", "seeds=1"]
    for r in res.records:
        assert r["host"] and r["verdicts"], r
        for v in r["verdicts"].values():
            assert v["status"] == "smoke-only" and v["parameters"]["seeds"] == [
                r["values"]["seeds"]
            ]
        assert (res.folder / r["name"] / "00_information_plane.ipynb").exists()
    # the training runs landed in the result cache (IBCORE_CACHE of the test)
    from ibcore.paths import cache_dir

    assert len(list(cache_dir().glob("*.pkl"))) >= 2
    assert res.table_csv.exists() and res.table_md.exists() and res.figure.exists()
    assert res2.ran == [] and res2.skipped == ["seeds=0", "seeds=1"] and not res2.failed
    assert res2.table_csv.read_text() == res.table_csv.read_text()
    grid_spec = json.loads((res.folder / "grid.json").read_text())
    assert grid_spec["points"] == 2 and grid_spec["fixed"] == fixed
