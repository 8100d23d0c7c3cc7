"""The verdict record's JSON Schema (ibcore/verdict.schema.json): itself valid, naming every field
the code writes, and validating every record the chapters write, primaries and checks included;
a record that breaks it is refused."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ibcore.claims.primaries import PRIMARIES
from ibcore.paths import REPO_ROOT
from ibcore.verdicts import Verdict, make_primary, make_verdict

SCHEMA_PATH = REPO_ROOT / "ibcore" / "verdict.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = Draft202012Validator(SCHEMA)


def _errors(record: dict) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(record)]


def _as_json(v: Verdict) -> dict:
    return json.loads(v.to_json())


def test_the_schema_is_valid_and_documents_every_field_the_code_writes():
    Draft202012Validator.check_schema(SCHEMA)
    fields = {f.name for f in dataclasses.fields(Verdict)} | {"preregistration"}
    assert fields == set(SCHEMA["properties"]), fields ^ set(SCHEMA["properties"])
    for name, spec in SCHEMA["properties"].items():
        assert spec.get("description") or name in ("ibcore_version",), name
    for key in ("spread", "bound", "n_pass", "sensitivity", "kind", "p_value"):
        assert len(SCHEMA["properties"][key]["description"]) > 20, key


def _secondary(values, **kw):
    return make_verdict(claim="ch9-x", chapter="09_x", paper="p", statement="s", metric="m",
                        values=values, params={"scale": "cpu"}, device="cpu", runtime_s=1.0,
                        threshold=0.0, direction=">=", **kw)  # fmt: skip


@pytest.mark.parametrize("kind", ["secondary", "check"])
def test_records_of_every_kind_validate_and_a_nan_is_null(kind):
    v = _secondary([0.1, 0.3, math.nan], kind=kind)
    rec = _as_json(v)
    assert rec["bound"] is None and rec["per_seed"][2] is None
    assert _errors(rec) == []
    assert "nan" not in v.mean_text() and "no value" in _secondary([math.nan]).mean_text()


def test_a_primary_record_validates_with_its_registration():
    pr = PRIMARIES["01"]
    v = make_primary(pr, values=[1.5, 1.4, 1.6, 1.3, 1.5], seeds=list(pr.seeds),
                     params={**pr.settings, "scale": "cpu"}, device="cpu", runtime_s=1.0)  # fmt: skip
    rec = _as_json(v)
    assert _errors(rec) == []
    del rec["preregistration"]["fails_if"]
    assert _errors(rec)  # a primary without its registered failure outcome is refused


@pytest.mark.parametrize(
    "change",
    [{"status": "passed"}, {"kind": "tertiary"}, {"direction": ">"}, {"n_pass": -1},
     {"unknown_field": 1}, {"scale": "huge"}],
)  # fmt: skip
def test_a_record_that_breaks_the_schema_is_refused(change):
    rec = {**_as_json(_secondary([0.1, 0.2])), **change}
    assert _errors(rec)


def test_a_check_never_reads_reproduced():
    rec = {**_as_json(_secondary([0.1, 0.2], kind="check")), "status": "reproduced"}
    assert _errors(rec)


@pytest.mark.slow
def test_every_record_of_the_smoke_book_validates(smoke_book):
    root, _, _ = smoke_book
    records = [json.loads(p.read_text()) for p in sorted((root / "results").glob("ch*.json"))]
    assert len(records) > 20
    bad = {r["claim"]: _errors(r) for r in records if _errors(r)}
    assert not bad, bad


def test_the_readme_links_the_schema():
    assert "ibcore/verdict.schema.json" in (Path(REPO_ROOT) / "README.md").read_text()
