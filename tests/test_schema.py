"""Each chapter parameter is written once, in its claim module (ibcore.schema, ibcore.claims)."""

from __future__ import annotations

import re

import jupytext
import pytest

from ibcore.book import pipeline
from ibcore.claims import MODULES, chapter, module
from ibcore.schema import SCALES, ParameterError, check_choice, seeds_list

NOTEBOOKS = pipeline.notebooks()


def _cells(nb):
    return jupytext.read(nb).cells


def test_every_notebook_has_a_claim_module_named_after_it():
    assert [nb.stem[:2] for nb in NOTEBOOKS] == sorted(MODULES)
    for nb in NOTEBOOKS:
        assert MODULES[nb.stem[:2]] == f"ch{int(nb.stem[:2])}_{nb.stem[3:]}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_parameters_cell_names_exactly_the_schema(nb):
    cells = _cells(nb)
    idx = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(idx) == 1, f"{nb.name}: exactly one 'parameters' cell expected, found {len(idx)}"
    source = cells[idx[0]].source
    names = re.findall(r"^(\w+) = ", source, re.M)
    ch = chapter(nb.stem[:2])
    assert sorted(names) == sorted(ch.names), f"{nb.name}: parameters cell vs schema"
    assert len(names) == len(set(names))
    assert re.search(r'^scale = "cpu"$', source, re.M), "default scale must be 'cpu'"
    assert all(re.search(rf"^{n} = None$", source, re.M) for n in ch.params), "others: None"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_parameter_table_is_generated_from_the_schema_and_resolved_once(nb):
    text = nb.read_text()
    key = nb.stem[:2]
    mod = f"ibcore.claims import {MODULES[key]} as claim"
    assert mod in text and "claim.CHAPTER.show_table()" in text
    assert "| parameter |" not in text, "a hand-written parameter table"
    assert text.count("claim.CHAPTER.from_namespace(globals())") == 1
    assert "chapter_params" not in text


def test_table_lists_every_parameter_with_its_value_at_every_scale():
    ch = chapter("00")
    rows = ch.table().splitlines()
    assert rows[0].split("|")[3:7] == [" `smoke` ", " `cpu` (default) ", " `full` ", " `paper` "]
    body = {r.split("|")[1].strip(" `"): r.split("|") for r in rows[2:]}
    assert set(body) == set(ch.names)
    assert body["epochs"][3:7] == [" 150 ", " 1500 ", " 8000 ", " 8000 "]
    assert body["n_bins"][3:7] == [" 30 "] * 4  # a shared value appears at every scale


def test_from_namespace_refuses_a_name_the_chapter_lacks_and_skips_ipython_names():
    import math

    ch = chapter("01")
    ns = {name: None for name in ch.names}
    ns.update(scale="smoke", In=[], Out={}, _i1="", math=math, get_ipython=print)
    p = ch.from_namespace(ns)
    assert p["depth"] == ch.preset("smoke")["depth"] and p["scale"] == "smoke"
    ns["activation"] = "relu"  # papermill's -p activation relu on chapter 1
    with pytest.raises(ParameterError) as exc:
        ch.from_namespace(ns)
    msg = str(exc.value)
    assert msg.startswith("unknown parameter 'activation'; chapter 01's parameters are ('scale', ")
    assert "'toy_steps'" in msg and "\n" not in msg
    with pytest.raises(ParameterError, match="parameter 'scale' is not set"):
        ch.from_namespace({k: v for k, v in ns.items() if k not in ("scale", "activation")})


@pytest.mark.parametrize("key", sorted(MODULES))
def test_presets_cover_exactly_the_schema(key):
    ch = chapter(key)
    assert set(ch.presets) == set(SCALES)
    for scale in SCALES:
        assert set(ch.preset(scale)) == set(ch.params), f"chapter {key} {scale}"


def test_unknown_chapter_and_bad_choice_have_one_line():
    with pytest.raises(ParameterError, match=r"unknown chapter '07'; the chapters are"):
        module("07")
    with pytest.raises(
        ValueError, match=r"^parameter 'x' = 'c' is not allowed; choose one of \('a', 'b'\)$"
    ):
        check_choice("x", "c", ("a", "b"))
    with pytest.raises(ValueError, match="parameter 'x' = \\[1\\] is not allowed"):
        check_choice("x", [1], ("a", "b"))  # an unhashable value is refused, not a TypeError
    assert check_choice("x", "a", ("a", "b")) == "a"


@pytest.mark.parametrize("key", sorted(MODULES))
def test_calibration_seeds_are_never_final_seeds(key):
    from ibcore.schema import seeds_list

    mod = module(key)
    prereg = mod.PREREGISTERED
    assert prereg, f"chapter {key} has no pre-registered verdicts"
    ch = mod.CHAPTER
    for scale in SCALES:
        final = set(seeds_list(ch.preset(scale)["seeds"]))
        for name, pre in prereg.items():
            assert pre.claim == name and pre.calibration_seeds, name
            assert pre.reasoning and pre.metric
            clash = final & set(pre.calibration_seeds)
            assert not clash, (
                f"{name}: calibration seed(s) {sorted(clash)} are final seeds at {scale}"
            )


def test_the_calibration_check_catches_a_clash():
    from ibcore.schema import seeds_list
    from ibcore.verdicts import Preregistration

    pre = Preregistration("c", "m", 0.0, ">=", (1,), "r")
    assert set(seeds_list(3)) & set(pre.calibration_seeds) == {1}


def test_every_chapter_states_its_scales_and_what_still_differs():
    """The scale ladder of a chapter's setting: cpu, full and paper side by side, seeds counted,
    and in words what each scale still lacks of the paper's setting."""
    for key in sorted(MODULES):
        ch = chapter(key)
        rows = ch.scale_table().splitlines()
        assert rows[0] == "| | `cpu` (default) | `full` | `paper` |"
        body = {
            r.split("|")[1].strip(" `"): [c.strip() for c in r.split("|")[2:5]] for r in rows[2:]
        }
        assert body["seeds"] == [
            str(len(seeds_list(ch.preset(s)["seeds"]))) for s in ("cpu", "full", "paper")
        ]
        assert all(body["still differs from the paper"]), key
    ch3 = {r.split("|")[1].strip(" `"): r for r in chapter("03").scale_table().splitlines()}
    assert "| digits | fashionmnist | mnist |" in ch3["dataset"]
    assert "| 50 | 500 | 500 |" in ch3["depth"]
