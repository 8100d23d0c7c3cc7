"""Chapter 1 (Orhan & Pitkow 2018): architectures, the cacheable runners, the toy chain, presets."""

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
from ibcore.measures.singularities import toy_chain, toy_chain_hessian, toy_chain_loss
from ibcore.schema import ParameterError
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
    runs["plain"] = [_fake(falling, acc=slow)] * 2
    runs["plain_scaled"] = [_fake(falling, acc=slow)] * 2
    runs["residual"] = [_fake(falling, acc=np.r_[np.zeros(4), np.ones(E - 4)])] * 2
    assert claim.speed_ratio(runs) == pytest.approx([E / 4] * 2)
    specs = claim.chapter_verdicts(runs)
    assert {s["claim"] for s in specs} == set(claim.PREREGISTERED) - {"ch1-hessian"}
    for s in specs:
        assert len(s["grid"]) == len(s["grid_values"]) >= 3


def test_hessian_gap_compares_matched_initialisations():
    P = 20

    def spec(n_zero):
        ev = np.r_[np.zeros(n_zero), np.linspace(1, 2, P - n_zero)]
        return _hess(ev)

    def _hess(ev):
        e = np.stack([ev, ev])
        return History(np.array([0, 1]), {}, {"hessian_eigs": e, "hessian_eigs_rescaled": e},
                       {}, np.zeros(1))  # fmt: skip

    hess = {"plain": [spec(10)], "residual_he": [spec(4)], "plain_scaled": [spec(8)],
            "residual": [spec(8)]}  # fmt: skip
    assert claim.hessian_gap(hess, pairs=["he"]) == pytest.approx([0.3])
    assert claim.hessian_gap(hess, pairs=["scaled"]) == pytest.approx([0.0])
    assert claim.hessian_gap(hess) == pytest.approx([0.15])


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


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_chapter1_presets_validate(scale):
    P = chapter("01").resolve(scale)
    assert P["hessian_epochs"] and P["seeds"] >= 1
    if scale == "cpu":
        assert (P["depth"], P["width"], P["dataset"]) == (20, 32, "digits")
    if scale == "paper":
        assert P["dataset"] == "cifar100"
    assert set(ARCHITECTURES) >= {"plain", "residual", "hyper", "plain_scaled"}


def test_chapter1_bad_parameters():
    with pytest.raises(ParameterError, match=r"parameter 'dataset' = 'svhn' is not allowed"):
        chapter("01").resolve("cpu", dataset="svhn")
    with pytest.raises(ParameterError, match=r"parameter 'hessian_samples' = 5000 is out of range"):
        chapter("01").resolve("cpu", hessian_samples=5000)
