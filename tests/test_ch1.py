"""Chapter 1 (Orhan & Pitkow 2018): architectures, the cacheable runners, the verdict metrics
(the primary included), the toy chain, presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibcore.claims import ch1_skip_singularities as claim
from ibcore.claims import chapter
from ibcore.claims.ch1_skip_singularities import (
    ARCHITECTURES,
    DEEP_ARCHS,
    DOSE_ARCHS,
    HESSIAN_ARCHS,
    UNIT_MEASURES,
    build_net,
    hessian_run,
    skip_matrices,
    skip_run,
)
from ibcore.claims.primaries import PRIMARIES
from ibcore.measures.singularities import toy_chain, toy_chain_hessian, toy_chain_loss
from ibcore.paths import REPO_ROOT
from ibcore.schema import ParameterError, seeds_list
from ibcore.train import History


@pytest.fixture(autouse=True)
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ------------------------------------------------------------------ architectures


def test_architectures_change_one_thing_at_a_time():
    A = ARCHITECTURES
    assert (A["plain"]["shortcut"], A["plain"]["init"]) == ("none", "he")
    assert (A["residual"]["shortcut"], A["residual"]["init"]) == ("identity", "he_scaled")
    assert A["plain_scaled"]["init"] == A["residual"]["init"]
    assert A["residual_he"]["init"] == A["plain"]["init"]
    # every skip-matrix arm shares the residual net's initialisation
    for a in (*DOSE_ARCHS, "shrunk_25", "shrunk_50"):
        assert (A[a]["shortcut"], A[a]["init"]) == ("fixed", "he_scaled"), a
    assert [A[a]["zeroed"] for a in DOSE_ARCHS] == sorted(A[a]["zeroed"] for a in DOSE_ARCHS)
    assert set(DEEP_ARCHS) <= set(A) and set(HESSIAN_ARCHS) <= set(A)
    with pytest.raises(ValueError, match=r"parameter 'arch' = 'dense' is not allowed"):
        build_net("dense", [64, 8, 8, 10], seed=0)


def test_skip_matrices_orthogonal_rank_and_norm():
    n = 16
    for zeroed, norm in ((0.0, "preserve"), (0.25, "preserve"), (0.5, "shrink")):
        (q,) = skip_matrices(n, 1, zeroed, norm, seed=3)
        s = torch.linalg.svdvals(q.double())
        k = round(zeroed * n)
        assert int((s > 1e-6).sum()) == n - k
        if norm == "preserve":
            assert float(torch.linalg.norm(q.double())) == pytest.approx(math.sqrt(n), rel=1e-5)
        else:
            assert torch.allclose(s[: n - k], torch.ones(n - k, dtype=torch.float64), atol=1e-5)
    q0 = skip_matrices(n, 1, 0.0, seed=3)[0].double()
    assert torch.allclose(q0.T @ q0, torch.eye(n, dtype=torch.float64), atol=1e-5)
    # the same U, V for every dose of one seed: the kept directions are nested
    a, b = skip_matrices(n, 2, 0.25, seed=3), skip_matrices(n, 2, 0.0, seed=3)
    assert not torch.allclose(a[0], a[1])  # one matrix per layer
    u_a = torch.linalg.svd(a[0].double()).U[:, : n - 4]
    proj = u_a.T @ b[0].double()  # the kept left directions are rows of the orthogonal Q's U
    assert torch.linalg.matrix_rank(proj) == n - 4
    with pytest.raises(ValueError, match=r"parameter 'zeroed' must be in \[0, 1\)"):
        skip_matrices(n, 1, 1.0)
    with pytest.raises(ValueError, match=r"parameter 'norm' = 'keep' is not allowed"):
        skip_matrices(n, 1, 0.0, "keep")


def test_skip_matrix_nets_share_branch_weights_with_the_identity_net():
    widths = [64, 8, 8, 8, 10]
    res, orth = build_net("residual", widths, 5), build_net("degenerate_50", widths, 5)
    rs, os_ = res.state_dict(), orth.state_dict()
    assert set(rs) < set(os_)
    assert all(torch.equal(rs[k], os_[k]) for k in rs)
    q = orth.blocks[1].shortcut.weight
    assert not q.requires_grad and int(torch.linalg.matrix_rank(q)) == 4
    ident = build_net("plain_identity", widths, 5)
    for b in ident.blocks[1:]:
        assert float((b.linear.weight.detach() - torch.eye(8)).abs().max()) < 0.06
    assert float(ident.blocks[0].linear.weight.detach().std()) > 0.1  # the input layer stays He


# ------------------------------------------------------------------ runners


def test_skip_run_tiny_config_records_every_measure_per_layer():
    kw = dict(seed=0, depth=3, width=8, epochs=2, measure_every=1, batch_size=256)
    h = skip_run(arch="residual", **kw)
    p = skip_run(arch="plain", **kw)
    o = skip_run(arch="degenerate_25", **kw)
    for run in (h, p, o):
        assert run.epochs.tolist() == [0, 1, 2]
        assert run.metrics["epoch"].tolist() == [0, 1, 2]
        assert set(run.measures) == set(UNIT_MEASURES) and not run.activations
        for name in UNIT_MEASURES:
            m = run.measures[name]
            assert m.shape == (3, 3) and np.all((m >= -1) & (m <= 1)), name
    # with an identity skip a unit is never constant: its skip input varies
    assert float(h.measures["elim_frac"].max()) == 0.0
    # in a plain net F = H: branch and layer measures agree
    for k in ("elim_frac", "overlap_frac", "norm_rank"):
        assert np.allclose(p.measures[k], p.measures[f"branch_{k}"])
    assert np.all(p.measures["dead_relu_frac"] <= p.measures["elim_frac"] + 1e-12)
    assert h.meta["arch"] == "residual" and h.meta["model"]["init"] == "he_scaled"
    with pytest.raises(ValueError, match=r"parameter 'measure_every' must be a positive"):
        skip_run(arch="plain", seed=0, depth=3, epochs=1, measure_every=0)
    with pytest.raises(ValueError, match=r"parameter 'arch' = 'resnet' is not allowed"):
        skip_run(arch="resnet", seed=0, depth=3, epochs=1)


def test_hessian_run_tiny_config_returns_raw_and_rescaled_spectra():
    h = hessian_run(arch="plain", seed=0, hessian_epochs=(1, 0), depth=2, width=4, n_samples=50)
    P = 64 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10
    assert h.meta["n_params"] == P and h.epochs.tolist() == [0, 1]
    for key in ("hessian_eigs", "hessian_eigs_rescaled"):
        ev = h.measures[key]
        assert ev.shape == (2, P) and np.all(np.diff(ev, axis=1) >= 0)
    o = hessian_run(arch="orthogonal", seed=0, hessian_epochs=(0,), depth=3, width=4, n_samples=50)
    assert o.meta["n_params"] == 64 * 4 + 4 + 2 * (4 * 4 + 4) + 4 * 10 + 10  # Q is frozen
    with pytest.raises(ValueError, match=r"parameter 'n_samples' must be an integer >= 2"):
        hessian_run(arch="plain", seed=0, depth=2, width=4, n_samples=1)


# ------------------------------------------------------------------ verdict metrics


def _fake(loss, acc=None, **measures):
    loss = np.asarray(loss, dtype=float)
    acc = np.linspace(0.1, 1.0, loss.size) if acc is None else np.asarray(acc, dtype=float)
    base = {k: np.zeros((2, 3)) for k in UNIT_MEASURES}
    base.update({k: np.full((2, 3), float(v)) for k, v in measures.items()})
    ep = np.arange(loss.size, dtype=float)
    return History(np.array([0, loss.size - 1]), {}, base,
                   {"epoch": ep, "train_loss": loss, "train_acc": acc}, np.zeros(1))  # fmt: skip


def test_verdict_metrics_can_read_either_way():
    E = 10
    falling = np.geomspace(2.0, 0.01, E)
    runs = {a: [_fake(falling)] * 2 for a in ARCHITECTURES}
    runs["plain"] = [_fake(falling, elim_frac=0.2, norm_rank=0.8)] * 2
    runs["residual"] = [_fake(falling, branch_elim_frac=0.05, branch_norm_rank=0.9)] * 2
    assert claim.elimination_gap(runs) == pytest.approx([0.15, 0.15])
    assert claim.rank_gap(runs) == pytest.approx([0.1, 0.1])
    runs["residual"] = [_fake(falling, branch_elim_frac=0.3, branch_norm_rank=0.7)] * 2
    assert all(v < 0 for v in claim.elimination_gap(runs) + claim.rank_gap(runs))
    # identity-like plain net: ahead early and behind late reads positive, ahead throughout not
    behind_late = falling * np.linspace(0.5, 3.0, E)
    runs["plain_identity"] = [_fake(behind_late)] * 2
    assert all(v > 0.3 for v in claim.identity_init_drift(runs))
    runs["plain_identity"] = [_fake(falling * 0.5)] * 2
    assert claim.identity_init_drift(runs) == pytest.approx([0.0, 0.0], abs=1e-12)
    # dose–response: monotone slower -> rho 1, the reverse -> -1
    for j, a in enumerate(DOSE_ARCHS):
        runs[a] = [_fake(falling * (1 + j))] * 2
    assert claim.dose_response(runs) == pytest.approx([1.0, 1.0])
    for j, a in enumerate(DOSE_ARCHS):
        runs[a] = [_fake(falling / (1 + j))] * 2
    assert claim.dose_response(runs) == pytest.approx([-1.0, -1.0])
    # speed: never reaching the target counts as epochs + 1
    slow = np.full(E, 0.5)
    for a in claim.PLAIN_ARCHS:
        runs[a] = [_fake(falling, acc=slow)] * 2
    runs["residual"] = [_fake(falling, acc=np.r_[np.zeros(4), np.ones(E - 4)])] * 2
    assert claim.primary_speed_ratio(runs) == pytest.approx([E / 4] * 2)
    specs = claim.chapter_verdicts(runs)
    assert {s["claim"] for s in specs} == set(claim.PREREGISTERED) - {"ch1-hessian"}
    assert "ch1-speed" not in claim.PREREGISTERED  # replaced by the primary
    kinds = {s["claim"]: s["kind"] for s in specs}
    assert kinds == {"ch1-branch-elimination": "secondary", "ch1-branch-rank": "secondary",
                     "ch1-identity-init-slows": "secondary", "ch1-orthogonal-skip": "check",
                     "ch1-degeneracy-dose": "check"}  # fmt: skip
    for s in specs:
        assert len(s["grid"]) == len(s["grid_values"]) >= 3


def _reaching(at, E=20):
    """A run whose training accuracy jumps to 1 at epoch ``at`` (never when ``at`` >= E)."""
    return _fake(np.geomspace(2.0, 0.01, E), acc=(np.arange(E) >= at).astype(float))


def test_primary_speed_ratio_is_the_fastest_plain_control_over_the_residual_net():
    E = 20
    # seed 0: plain at 12, scaled init never (epochs + 1 = 20), identity-like at 6, residual at 4
    # seed 1: plain at 8, scaled init at 15, identity-like at 10, residual at 2
    runs = {"plain": [_reaching(12), _reaching(8)],
            "plain_scaled": [_reaching(E), _reaching(15)],
            "plain_identity": [_reaching(6), _reaching(10)],
            "residual": [_reaching(4), _reaching(2)],
            "hyper": [_reaching(3), _reaching(E)]}  # fmt: skip
    right = claim.primary_speed_ratio(runs)
    assert right == pytest.approx([6 / 4, 8 / 2])
    # the plausible wrong variants give other numbers
    slowest = [max(12, E, 6) / 4, max(8, 15, 10) / 2]
    no_identity = claim.primary_speed_ratio(runs, plain=("plain", "plain_scaled"))
    mean_plain = [np.mean([12, E, 6]) / 4, np.mean([8, 15, 10]) / 2]
    assert no_identity == pytest.approx([12 / 4, 8 / 2])
    for wrong in (slowest, no_identity, mean_plain):
        assert not np.allclose(wrong, right)
    # a residual net that never gets there counts as epochs + 1; other targets and skip nets
    assert claim.primary_speed_ratio(runs, skip="hyper") == pytest.approx([6 / 3, 8 / E])
    runs["plain"][0] = _fake(np.ones(E), acc=np.r_[np.zeros(5), np.full(E - 5, 0.85)])
    assert claim.primary_speed_ratio(runs, target=0.8)[0] == pytest.approx(5 / 4)
    assert claim.primary_speed_ratio(runs, target=0.9)[0] == pytest.approx(6 / 4)
    with pytest.raises(ValueError, match=r"parameter 'arch' = 'resnet' is not allowed"):
        claim.primary_speed_ratio(runs, skip="resnet")
    with pytest.raises(ValueError, match=r"parameter 'plain' must name"):
        claim.primary_speed_ratio(runs, plain=())


def test_chapter_primary_spec_null_and_sensitivity_grid():
    E = 20
    runs = {"plain": [_reaching(12), _reaching(8)],
            "plain_scaled": [_reaching(E), _reaching(15)],
            "plain_identity": [_reaching(6), _reaching(10)],
            "residual": [_reaching(4), _reaching(2)],
            "hyper": [_reaching(3), _reaching(5)]}  # fmt: skip
    spec = claim.chapter_primary(runs)
    assert spec["values"] == pytest.approx([1.5, 4.0])
    assert spec["null"]["per_seed"] == pytest.approx([6, 8])
    assert "identity-like init 6, 10" in spec["note"]
    grid = spec["grid"]
    assert {g["accuracy_target"] for g in grid} == {0.8, 0.9, 0.95}
    assert {g["skip net"] for g in grid} == {"residual", "hyper"}
    assert len(grid) == len(spec["grid_values"]) == 6
    i = grid.index({"accuracy_target": 0.9, "skip net": "hyper"})
    assert spec["grid_values"][i] == pytest.approx([2.0, 1.6])
    # the pre-registered record is the one judged: metric, threshold, direction, seeds
    assert claim.PRIMARY is PRIMARIES["01"] and claim.PRIMARY.claim == "ch1-primary"
    assert (claim.PRIMARY.threshold, claim.PRIMARY.direction) == (1.25, ">=")
    assert claim.PRIMARY.settings["accuracy_target"] == 0.9


def test_hessian_gap_compares_matched_initialisations():
    P = 20

    def spec(n_zero):
        ev = np.r_[np.zeros(n_zero), np.linspace(1, 2, P - n_zero)]
        return _hess(ev)

    def _hess(ev):
        e = np.stack([ev, ev])
        return History(np.array([0, 1]), {}, {"hessian_eigs": e, "hessian_eigs_rescaled": e},
                       {}, np.zeros(1))  # fmt: skip

    # degenerate fractions: plain 0.5, residual at He 0.2, plain at the scaled init 0.4 (its
    # signal dies), residual at the scaled init 0.4
    hess = {"plain": [spec(10)], "residual_he": [spec(4)], "plain_scaled": [spec(8)],
            "residual": [spec(8)]}  # fmt: skip
    right = claim.hessian_gap(hess)  # the verdict: the He pair alone
    assert right == pytest.approx([0.3])
    assert claim.hessian_gap(hess, pairs=["he"]) == pytest.approx(right)
    wrong = {"scaled": [0.0], "he+scaled": [0.15], "unmatched": [0.1]}
    for pairs, value in wrong.items():
        assert claim.hessian_gap(hess, pairs=pairs.split("+")) == pytest.approx(value)
        assert not np.allclose(value, right)
    with pytest.raises(ValueError, match=r"parameter 'pairs' = 'identity' is not allowed"):
        claim.hessian_gap(hess, pairs=["identity"])
    # the chapter's verdict reads the He pair; the grid keeps the scaled pair and the average
    E = 4
    runs = {a: [_fake(np.geomspace(2.0, 0.1, E))] for a in ARCHITECTURES}
    hess["plain"][0].meta["dataset"] = "digits"
    (hs,) = [s for s in claim.chapter_verdicts(runs, hess) if s["claim"] == "ch1-hessian"]
    assert hs["values"] == pytest.approx(right) and hs["kind"] == "secondary"
    by_pairs = {g["pairs"]: v for g, v in zip(hs["grid"], hs["grid_values"], strict=True)
                if g["eps_rel"] == 1e-4 and g["rescaled"] and g["epochs"] == "all"}  # fmt: skip
    assert by_pairs["he"] == pytest.approx([0.3])
    assert by_pairs["he+scaled"] == pytest.approx([0.15])
    assert by_pairs["scaled"] == pytest.approx([0.0])


def test_hessian_net_follows_the_chapter_dataset():
    # the runner trains and measures on the data set it is given: 12 inputs and 2 classes
    h = hessian_run(arch="plain", seed=0, hessian_epochs=(0,), dataset="szt12", depth=2, width=3,
                    n_samples=50)  # fmt: skip
    assert h.meta["dataset"] == "szt12"
    assert h.meta["n_params"] == claim.hessian_n_params(12, 2, 2, 3) == 13 * 3 + 4 * 3 + 4 * 2
    # the notebook's jobs carry the chapter's dataset, whatever the scale
    for scale, ds in (("smoke", "digits"), ("smoke", "cifar10"), ("paper", "cifar100")):
        P = chapter("01").resolve(scale, dataset=ds)
        jobs = claim.hessian_jobs(P, "cpu")
        assert len(jobs) == len(HESSIAN_ARCHS) * len(seeds_list(P["seeds"]))
        assert {kw["dataset"] for _, kw in jobs} == {ds}
        assert {kw["width"] for _, kw in jobs} == {P["hessian_width"]}
    # every Hessian arm has the parameters hessian_n_params counts
    for a in HESSIAN_ARCHS:
        net = build_net(a, [12, 3, 3, 3, 2], seed=0)
        n = sum(p.numel() for p in net.parameters() if p.requires_grad)
        assert n == claim.hessian_n_params(12, 2, 3, 3), a
    # the paper preset's Hessian net fits on CIFAR-100 (3072 inputs, 100 classes); a wider one
    # is refused with one line naming the chapter's parameters
    P = chapter("01").resolve("paper")
    assert claim.check_hessian_size("cifar100", 3072, 100, P["hessian_depth"],
                                    P["hessian_width"]) <= claim.HESSIAN_MAX_PARAMS  # fmt: skip
    with pytest.raises(ValueError, match=r"parameters 'hessian_depth' = 30 and 'hessian_width' "
                       r"= 16 give a Hessian net of 58756 parameters on 'cifar100'"):  # fmt: skip
        claim.check_hessian_size("cifar100", 3072, 100, 30, 16)
    with pytest.raises(ValueError, match=r"Hessian net of \d+ parameters on 'digits'"):
        hessian_run(arch="plain", seed=0, depth=2, width=200, n_samples=50)


def test_notebook_takes_the_hessian_on_the_chapter_dataset():
    text = (REPO_ROOT / "notebooks" / "01_skip_singularities.md").read_text()
    assert "claim.hessian_jobs(P" in text
    assert "n_samples=P[" not in text  # no hand-built Hessian jobs that could drop `dataset`


# ------------------------------------------------------------------ toy chain


def test_toy_chain_gradient_matches_autograd():
    rng = np.random.default_rng(0)
    for residual in (False, True):
        w0 = rng.normal(0, 0.5, 6)
        r = toy_chain(depth=6, residual=residual, steps=1, lr=1e-3, init_std=0.5, seed=3)
        w0 = r["w0"][0]
        wt = torch.tensor(w0, requires_grad=True)
        toy_chain_loss(wt, residual).backward()
        expected = w0 - 1e-3 * wt.grad.numpy()
        assert np.allclose(r["w"][0], expected, rtol=1e-12, atol=1e-15)
        assert r["loss"][0, 0] == pytest.approx(float(toy_chain_loss(torch.tensor(w0), residual)))


def test_toy_chain_plain_plateaus_and_residual_does_not():
    """Our toy-chain check: after T/10 steps the residual loss is lower than the plain one."""
    T = 2000
    plain = toy_chain(depth=10, residual=False, steps=T, n_runs=5, seed=0)["loss"]
    res = toy_chain(depth=10, residual=True, steps=T, n_runs=5, seed=0)["loss"]
    # plain: stuck on the plateau at ½c² = 2 for the whole run
    assert np.all(plain[:, -1] > 0.999 * plain[:, 0])
    # residual: the loss has fallen by orders of magnitude well before T/10
    assert np.all(res[:, T // 10] < 1e-6 * res[:, 0])
    # a shallow plain chain does escape: the plateau length grows with depth
    shallow = toy_chain(depth=2, residual=False, steps=T, n_runs=5, seed=0)["loss"]
    assert np.all(shallow[:, -1] < 1e-3 * shallow[:, 0])


def test_toy_chain_hessian_near_zero_start_and_ghost():
    w = np.random.default_rng(1).normal(0, 0.1, 10)
    plain = toy_chain_hessian(w, residual=False)
    res = toy_chain_hessian(w, residual=True)
    ghost = toy_chain_hessian(w - 1.0, residual=True)
    assert np.abs(plain).max() < 1e-6  # fully degenerate
    assert np.abs(res).max() > 0.5 and np.median(np.abs(res)) > 0.5
    assert np.allclose(ghost, plain, atol=1e-12)  # the singularity moved to w = -1
    assert np.allclose(toy_chain_hessian(np.zeros(10), residual=True), 1.0)  # I for c = 2


def test_toy_chain_bad_input():
    with pytest.raises(ValueError, match=r"depth must be a positive integer"):
        toy_chain(depth=0, residual=False)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0"):
        toy_chain(residual=False, lr=0.0)
    with pytest.raises(ValueError, match=r"w contains NaN"):
        toy_chain_hessian([0.1, math.nan], residual=False)
    with pytest.raises(FloatingPointError, match=r"diverged"):
        toy_chain(depth=10, residual=True, steps=200, lr=5.0, init_std=0.5)


# ------------------------------------------------------------------ presets


@pytest.mark.parametrize("scale", ["smoke", "cpu", "full", "paper"])
def test_chapter1_presets_validate(scale):
    P = chapter("01").resolve(scale)
    assert P["hessian_epochs"] and len(seeds_list(P["seeds"])) >= 1
    if scale == "cpu":
        assert (P["depth"], P["width"], P["dataset"]) == (20, 32, "digits")
        # the cpu runs are the primary's confirmatory runs: its seeds, its settings
        assert P["seeds"] == list(PRIMARIES["01"].seeds)
        assert not PRIMARIES["01"].confirmatory(P, P["seeds"])
    if scale == "paper":
        assert P["dataset"] == "cifar100"
    assert set(ARCHITECTURES) >= {"plain", "residual", "hyper", "plain_scaled"}


def test_chapter1_bad_parameters():
    with pytest.raises(ParameterError, match=r"parameter 'dataset' = 'svhn' is not allowed"):
        chapter("01").resolve("cpu", dataset="svhn")
    with pytest.raises(ParameterError, match=r"parameter 'hessian_samples' = 5000 is out of range"):
        chapter("01").resolve("cpu", hessian_samples=5000)


def test_secondary_verdicts_carry_their_calibration_values():
    for name, pre in claim.PREREGISTERED.items():
        assert len(pre.calibration_values) == len(pre.calibration_seeds) == 2, name
        for x in pre.calibration_values:  # the values are the ones its reasoning states
            assert f"{x:.3f}".rstrip("0").rstrip(".") in pre.reasoning.replace(".000", ""), name
