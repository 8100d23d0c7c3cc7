"""The primary verdicts: p-values, Holm's correction, kinds, confirmatory seeds kept apart, the
pre-registration record older than the first run, and no result typed into a chapter's prose."""

import importlib
import json
import math
import re
import subprocess

import numpy as np
import pytest

from ibcore import verdicts
from ibcore.book.verdicts_page import family, render_page
from ibcore.claims import MODULES, primaries
from ibcore.claims.primaries import (
    CONFIRMATORY_BLOCK,
    EXACT_BLOCK,
    EXACT_FULL_BLOCK,
    FULL_BLOCK,
    FULL_PRIMARIES,
    PRIMARIES,
)
from ibcore.paths import REPO_ROOT
from ibcore.schema import SCALES, seeds_list
from ibcore.verdicts import holm, judge, make_primary, make_verdict, p_value

# --- the rule's p-value ------------------------------------------------------------------------


def test_p_value_on_known_values():
    from scipy.stats import t

    v = [0.5, 0.75, 1.0, 1.25, 1.5]  # mean 1, sd 0.3953, se 0.1768
    se = np.std(v, ddof=1) / math.sqrt(5)
    assert p_value(v, 0.6, ">=") == pytest.approx(t.sf((1.0 - 0.6) / se, 4))
    assert p_value(v, 1.4, "<=") == pytest.approx(t.sf((1.4 - 1.0) / se, 4))
    # a two-sided p, or the other side, would give other numbers
    assert p_value(v, 0.6, ">=") != pytest.approx(2 * t.sf((1.0 - 0.6) / se, 4))
    assert p_value(v, 0.6, "<=") == pytest.approx(1 - t.sf((1.0 - 0.6) / se, 4))
    assert math.isnan(p_value([1.0], 0.0, ">="))
    assert math.isnan(p_value([1.0, math.nan, 2.0], 0.0, ">="))
    assert p_value([2.0, 2.0, 2.0], 1.0, ">=") == 0.0
    assert p_value([1.0, 1.0, 1.0], 1.0, ">=") == 1.0  # on the threshold: not cleared


@pytest.mark.parametrize("seed", range(20))
def test_p_value_agrees_with_the_bound(seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(rng.uniform(-1, 1), rng.uniform(0.1, 1), rng.integers(3, 11))
    for direction in (">=", "<="):
        j = judge(v, 0.0, direction, "cpu")
        assert (j.status == "reproduced") == (j.p_value < 0.05)


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_on_known_values():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    adjusted, decisions = holm(p)
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1, made monotone
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    assert decisions == [True, False, False, True, False]
    # Bonferroni (0.05 for 0.01) or no correction (0.04 reject) would decide differently
    assert holm([0.011, 0.02])[1] == [True, True]  # 0.022, 0.022
    adj, dec = holm([0.03, 0.02])  # 0.02 x 2 = 0.04, then max(0.04, 0.03 x 1)
    assert adj == pytest.approx([0.04, 0.04]) and dec == [True, True]
    adj, dec = holm([0.03, 0.03, 0.03])  # Bonferroni would give 0.09 for each as well,
    assert dec == [False, False, False]  # but Holm's monotone step keeps 0.09, not 0.06/0.03


def test_holm_counts_a_missing_primary_as_one():
    adj, dec = holm([0.001, math.nan, 0.02])
    assert adj == pytest.approx([0.003, 1.0, 0.04]) and dec == [True, False, True]


# --- kinds --------------------------------------------------------------------------------------


def _kw(**over):
    kw = dict(
        claim="ch9-x", chapter="09_test", paper="A & B 2020", statement="x rises",
        metric="gain", values=[1.0, 1.1, 0.9, 1.2, 1.0], threshold=0.5, direction=">=",
        params={"scale": "cpu", "seeds": 5}, device="cpu", runtime_s=1.0,
    )  # fmt: skip
    kw.update(over)
    return kw


def test_a_check_is_never_reproduced():
    assert make_verdict(**_kw(kind="check")).status == "check holds"
    assert make_verdict(**_kw(kind="check", values=[0.1, 0.2, 0.1])).status == "check fails"
    assert make_verdict(**_kw(kind="check", values=[0.1, 0.9, 0.5])).status == "check unclear"
    v = make_verdict(**_kw(kind="check"))
    assert not v.counts and "Check" in v._repr_html_() and 'data-kind="check"' in v._repr_html_()
    assert make_verdict(**_kw()).kind == "secondary"
    with pytest.raises(ValueError, match="parameter 'kind'"):
        make_verdict(**_kw(kind="tertiary"))


def _primary(**over):
    kw = dict(
        claim="ch9-primary", chapter="09_test", paper="A & B 2020", quote="x rises",
        statement="x rises beyond the null", metric="gain", threshold=0.0, direction=">=",
        seeds=(7, 8, 9, 10, 11), scale="cpu", settings={"epochs": 10, "estimator": "e"},
        null="no x", reasoning="r", fails_if="x did not rise",
    )  # fmt: skip
    kw.update(over)
    return verdicts.Primary(**kw)


def test_make_primary_records_its_registration_and_confirmatory_state(tmp_path):
    pr = _primary()
    params = {"scale": "cpu", "seeds": [7, 8, 9, 10, 11], "epochs": 10}
    rec = {"prereg_commit": "abc1234", "prereg_date": "2026-12-06"}
    v = make_primary(pr, values=[0.2, 0.3, 0.1, 0.25, 0.2], seeds=[7, 8, 9, 10, 11],
                     params=params, device="cpu", runtime_s=1.0, record=rec)  # fmt: skip
    assert v.kind == "primary" and v.status == "reproduced" and v.p_value < 0.05
    assert v.preregistration["confirmatory"] == ""
    assert v.preregistration["prereg_commit"] == "abc1234"
    assert "x rises" in v._repr_html_() and "abc1234" in v._repr_html_()
    back = verdicts.load_verdicts(v.write(tmp_path).parent)[0]
    assert back.kind == "primary" and back.p_value == pytest.approx(v.p_value)
    # other seeds, another scale or another registered parameter: judged, not confirmatory
    other = make_primary(pr, values=[0.2] * 5, seeds=[0, 1, 2, 3, 4], params=params,
                         device="cpu", runtime_s=1.0)  # fmt: skip
    assert "other seeds" in other.preregistration["confirmatory"]
    assert "scale" in pr.confirmatory({**params, "scale": "smoke"}, pr.seeds)
    assert "'epochs'" in pr.confirmatory({**params, "epochs": 11}, pr.seeds)
    with pytest.raises(ValueError, match="one value per seed"):
        make_primary(pr, values=[0.1], seeds=[7, 8], params=params, device="cpu", runtime_s=1)
    with pytest.raises(ValueError, match="at least 5 distinct seeds"):
        _primary(seeds=(1, 2, 3))


def test_the_verdicts_page_leads_with_the_family_and_its_holm_column(tmp_path):
    pr = PRIMARIES["00"]
    make_primary(pr, values=[0.2, 0.3, 0.1, 0.25, 0.2], seeds=list(range(5)),
                 params={"scale": "cpu"}, device="cpu", runtime_s=1.0).write(tmp_path)  # fmt: skip
    make_verdict(**_kw(kind="check")).write(tmp_path)
    rows = family(verdicts.load_verdicts(tmp_path))
    assert [r.primary.claim for r in rows] == [p.claim for p in PRIMARIES.values()]
    assert rows[0].verdict is not None and all(r.verdict is None for r in rows[1:])
    n = len(PRIMARIES)
    assert n == 6  # one per paper, chapters 0–5
    assert rows[0].holm_p == pytest.approx(min(1.0, n * rows[0].p))  # the missing count as 1
    page = render_page(tmp_path, forest=False)
    assert page.index("One answer per paper") < page.index("Every record")
    assert "after Holm" in page and "Holm-adjusted" in page and "check holds" in page
    assert "not confirmatory (other seeds" in page
    from ibcore.book.verdicts_page import FAMILY, write_page

    write_page(tmp_path, tmp_path / "page" / "verdicts.md")
    fam = json.loads((tmp_path / FAMILY).read_text())
    assert fam["alpha"] == 0.05 and len(fam["primaries"]) == 6
    assert fam["primaries"][0]["holm_p"] == pytest.approx(rows[0].holm_p)
    assert fam["primaries"][1]["status"] is None and fam["primaries"][1]["holm_holds"] is None
    assert len(verdicts.load_verdicts(tmp_path)) == 2  # the family file is not a verdict


# --- the confirmatory seeds are kept apart ------------------------------------------------------


REGISTRIES = [  # chapter 5 was registered later, on blocks of its own (63xx at cpu, 64xx at full)
    ("cpu", PRIMARIES, CONFIRMATORY_BLOCK + EXACT_BLOCK, r"(?<![\d.])6[13](0\d)(?![\d.])"),
    ("full", FULL_PRIMARIES, FULL_BLOCK + EXACT_FULL_BLOCK, r"(?<![\d.])6[24](0\d)(?![\d.])"),
]


@pytest.mark.parametrize("scale, registry, block, _", REGISTRIES)
def test_each_chapter_runs_its_primary_on_its_confirmatory_block(scale, registry, block, _):
    for key, pr in registry.items():
        m = importlib.import_module(f"ibcore.claims.{MODULES[key]}")
        assert pr.chapter.startswith(key) and pr.scale == scale
        assert primaries.for_scale(key, scale) is pr
        assert set(pr.seeds) <= set(block)
        assert seeds_list(m.CHAPTER.preset(scale)["seeds"]) == list(pr.seeds), key
        for name, value in pr.settings.items():
            if name in m.PARAMS:
                assert m.CHAPTER.preset(pr.scale)[name] == value, (key, name)
        # the preset's own run is the registered one
        assert pr.confirmatory(m.CHAPTER.resolve(scale), pr.seeds) == "", key


def test_the_full_primaries_keep_the_claim_metric_rule_and_null_of_the_cpu_ones():
    for key, pr in FULL_PRIMARIES.items():
        cpu = PRIMARIES[key]
        assert (pr.claim, pr.threshold, pr.direction, pr.null, pr.quote) == (
            cpu.claim,
            cpu.threshold,
            cpu.direction,
            cpu.null,
            cpu.quote,
        )
    blocks = [CONFIRMATORY_BLOCK, FULL_BLOCK, EXACT_BLOCK, EXACT_FULL_BLOCK]
    assert len(set().union(*map(set, blocks))) == sum(map(len, blocks))  # disjoint
    assert set(PRIMARIES["05"].seeds) == set(EXACT_BLOCK)  # no seed another chapter has run
    assert primaries.for_scale("00", "smoke") is PRIMARIES["00"]
    assert primaries.record_key("ch0-primary", "full") == "ch0-primary@full"
    assert primaries.record_key("ch0-primary", "cpu") == "ch0-primary"


@pytest.mark.parametrize("scale, registry, block, regex", REGISTRIES)
def test_confirmatory_seeds_appear_in_no_other_seed_list(scale, registry, block, regex):
    block = set(block)
    for key, name in MODULES.items():
        m = importlib.import_module(f"ibcore.claims.{name}")
        for sc in SCALES:
            for pname, value in m.CHAPTER.preset(sc).items():
                if "seed" not in pname or (sc == scale and pname == "seeds"):
                    continue
                seeds = seeds_list(value) if isinstance(value, int | list | tuple) else []
                assert not block & set(seeds), (key, sc, pname)
            if sc != scale:
                assert not block & set(seeds_list(m.CHAPTER.preset(sc)["seeds"])), (key, sc)
        for attr in dir(m):  # calibration seeds and any other seed constant
            if "SEED" in attr and isinstance(getattr(m, attr), tuple | list):
                assert not block & {x for x in getattr(m, attr) if isinstance(x, int)}, attr
    # no file but the registry names a seed of the block (tests, benches, notebooks, code, book)
    pattern = re.compile(regex)
    allowed = {REPO_ROOT / "ibcore" / "claims" / "primaries.py"}
    found = []
    for folder in ("ibcore", "tests", "bench", "notebooks", "book"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".yml", ".toml", ".json", ".cfg", ".txt"):
                continue
            if path in allowed or "_build" in path.parts or "chapters" in path.parts:
                continue
            if path.name == "preregistration.json":
                continue
            if pattern.search(path.read_text(errors="replace")):
                found.append(str(path.relative_to(REPO_ROOT)))
    assert not found, f"confirmatory seeds named outside the registry: {found}"
    assert all(pattern.fullmatch(str(s)) for s in block)  # the pattern sees them


# --- the pre-registration record ----------------------------------------------------------------


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def _has_history() -> bool:
    try:
        return bool(_git("rev-parse", "HEAD"))
    except Exception:
        return False


def test_the_record_names_every_primary():
    rec = json.loads(primaries.RECORDS.read_text())
    assert set(rec) == {p.claim for p in PRIMARIES.values()} | {
        primaries.record_key(p.claim, "full") for p in FULL_PRIMARIES.values()
    }
    for claim, r in rec.items():
        assert r.get("prereg_commit") and r.get("prereg_date"), claim


@pytest.mark.skipif(not _has_history(), reason="needs the git history of the repository")
def test_each_primary_is_unchanged_since_its_preregistration_commit():
    rec = json.loads(primaries.RECORDS.read_text())
    for name, p in [("PRIMARIES", p) for p in PRIMARIES.values()] + [
        ("FULL_PRIMARIES", p) for p in FULL_PRIMARIES.values()
    ]:
        r = rec[primaries.record_key(p.claim, p.scale)]
        commit = r["prereg_commit"]
        try:
            _git("merge-base", "--is-ancestor", commit, "HEAD")
        except subprocess.CalledProcessError:
            pytest.fail(f"{p.claim}: pre-registration commit {commit} is not in this history")
        then: dict = {"__file__": primaries.__file__, "__name__": "registered"}
        exec(_git("show", f"{commit}:ibcore/claims/primaries.py"), then)  # noqa: S102
        assert then[name][p.chapter[:2]] == p, f"{p.claim} ({p.scale}) changed after {commit}"
        date = _git("show", "-s", "--format=%cI", commit)
        assert date.startswith(r["prereg_date"][:10])
        if r.get("first_run_commit"):
            _git("merge-base", "--is-ancestor", commit, r["first_run_commit"])
            assert r["first_run_date"] > date, f"{p.claim}: first run before its registration"


# --- no result typed into the prose -------------------------------------------------------------

STATUS = re.compile(
    r"\b(not reproduced|reproduced|inconclusive|reproduces|does not reproduce|check holds|"
    r"check fails|does not hold)\b", re.I
)  # fmt: skip
CONDITIONAL = re.compile(r"\b(when|if|would|where|whether|unless)\b", re.I)


def typed_results(markdown: str) -> list[str]:
    """Sentences of a markdown cell that state a status without a condition (a typed result)."""
    text = re.sub(r"`[^`]*`|\$[^$]*\$|\{[a-z:]+\}`[^`]*`", " ", markdown)  # code, maths, roles
    sentences = re.split(r"(?<=[.!?:;])\s+|\n\s*[-*]\s+|\n\n", text)
    return [s.strip() for s in sentences if STATUS.search(s) and not CONDITIONAL.search(s)]


def test_the_typed_result_rule_on_known_sentences():
    assert typed_results("The claim is not reproduced at this scale.") != []
    assert typed_results("The plain net stays at chance. It is inconclusive here.") != []
    assert typed_results("A claim reads *reproduced* when the bound clears it.") == []
    assert typed_results("It would read *not reproduced* if the null fell as far.") == []
    assert typed_results("Each bin holds the same number of values.") == []
    assert typed_results("The fitting check holds; the claim reproduces.") != []


@pytest.mark.parametrize("key", sorted(MODULES))
def test_no_chapter_states_a_status_outside_its_generated_cells(key):
    import jupytext

    path = next((REPO_ROOT / "notebooks").glob(f"{key}_*.md"))
    nb = jupytext.read(path)
    found = [s for c in nb.cells if c.cell_type == "markdown" for s in typed_results(c.source)]
    assert not found, f"{path.name} states results in its prose: {found}"


@pytest.mark.skipif(not _has_history(), reason="needs the git history of the repository")
def test_the_record_keeper_never_overwrites_a_past_entry(tmp_path):
    from ibcore.book import preregister

    path = tmp_path / "rec.json"
    rec = preregister.register("HEAD", path)
    head = _git("rev-parse", "--short", "HEAD")
    assert {r["prereg_commit"] for r in rec.values()} == {head}
    path.write_text(json.dumps({"ch0-primary": {"prereg_commit": "0ld", "prereg_date": "d"}}))
    rec = preregister.register("HEAD", path)
    assert rec["ch0-primary"]["prereg_commit"] == "0ld" and rec["ch1-primary"]["prereg_commit"]
    res = tmp_path / "res"
    pr = PRIMARIES["00"]
    params = {**{k: v for k, v in pr.settings.items()}, "scale": pr.scale}
    make_primary(pr, values=[0.1] * 10, seeds=list(pr.seeds), params=params, device="cpu",
                 runtime_s=1.0).write(res)  # fmt: skip
    make_primary(PRIMARIES["01"], values=[0.1] * 5, seeds=list(range(5)), params={"scale": "cpu"},
                 device="cpu", runtime_s=1.0).write(res)  # fmt: skip
    rec = preregister.first_run(res, path)
    assert rec["ch0-primary"]["first_run_commit"]  # the confirmatory run is recorded
    assert "first_run_commit" not in rec["ch1-primary"]  # a run on other seeds is not
    first = rec["ch0-primary"]["first_run_date"]
    assert preregister.first_run(res, path)["ch0-primary"]["first_run_date"] == first
    # the full registrations are kept under their own keys, the cpu ones untouched
    rec = preregister.register("HEAD", path, scale="full")
    assert rec["ch0-primary@full"]["prereg_commit"] == head
    assert rec["ch0-primary"]["prereg_commit"] == "0ld"
    full = FULL_PRIMARIES["00"]
    make_primary(full, values=[0.1] * 10, seeds=list(full.seeds),
                 params={**full.settings, "scale": "full"}, device="cpu",
                 runtime_s=1.0).write(tmp_path / "full")  # fmt: skip
    rec = preregister.first_run(tmp_path / "full", path)
    assert (
        rec["ch0-primary@full"]["first_run_commit"]
        and rec["ch0-primary"]["first_run_date"] == first
    )
    with pytest.raises(ValueError, match="'scale'"):
        preregister.register("HEAD", path, scale="paper")
