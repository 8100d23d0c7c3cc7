"""Chapter 1 (Orhan & Pitkow 2018): architectures, the cacheable runners, the toy chain, presets."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from ibcore.claims import chapter
from ibcore.claims.ch1_skip_singularities import (
    ARCHITECTURES,
    UNIT_MEASURES,
    architecture,
    hessian_run,
    skip_run,
)
from ibcore.measures.singularities import toy_chain, toy_chain_hessian, toy_chain_loss
from ibcore.schema import ParameterError


@pytest.fixture(autouse=True)
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ------------------------------------------------------------------ architectures


def test_architectures_share_the_base_init_and_scale_only_the_skip_nets():
    assert architecture("plain", 16) == {"shortcut": "none", "init": "he", "branch_scale": None}
    assert architecture("residual", 16) == {
        "shortcut": "identity",
        "init": "he_scaled",
        "branch_scale": None,
    }
    assert architecture("hyper", 16)["shortcut"] == "hyper"
    control = architecture("plain_scaled", 16)
    assert control == {"shortcut": "none", "init": "he_scaled", "branch_scale": None}
    assert architecture("residual_bs", 16)["branch_scale"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"parameter 'arch' = 'dense' is not allowed"):
        architecture("dense", 16)
    with pytest.raises(ValueError, match=r"parameter 'depth' must be a positive integer"):
        architecture("plain", 0)


# ------------------------------------------------------------------ runners


def test_skip_run_tiny_config_records_every_measure_per_layer():
    t0 = time.perf_counter()
    kw = dict(seed=0, depth=3, width=8, epochs=2, measure_every=1, batch_size=256)
    h = skip_run(**architecture("residual", 3), **kw)
    p = skip_run(**architecture("plain", 3), **kw)
    assert time.perf_counter() - t0 < 10
    for run in (h, p):
        assert run.epochs.tolist() == [0, 1, 2]
        assert run.metrics["epoch"].tolist() == [0, 1, 2]
        assert set(run.measures) == set(UNIT_MEASURES) and not run.activations
        for name in UNIT_MEASURES:
            m = run.measures[name]
            assert m.shape == (3, 3) and np.all((m >= 0) & (m <= 1)), name
    # with an identity skip a unit is never constant: its skip input varies
    assert float(h.measures["elim_frac"].max()) == 0.0
    # in a plain net (no branch scale) F = H, so a dead ReLU is an eliminated unit
    assert np.all(p.measures["dead_relu_frac"] <= p.measures["elim_frac"] + 1e-12)
    assert h.meta["shortcut"] == "identity" and h.meta["model"]["init"] == "he_scaled"
    with pytest.raises(ValueError, match=r"parameter 'measure_every' must be a positive"):
        skip_run(**architecture("plain", 3), seed=0, depth=3, epochs=1, measure_every=0)


def test_hessian_run_tiny_config_returns_full_spectra():
    h = hessian_run(
        **architecture("plain", 2), seed=0, hessian_epochs=(1, 0), depth=2, width=4, n_samples=50
    )
    P = 64 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10
    assert h.meta["n_params"] == P and h.epochs.tolist() == [0, 1]
    ev = h.measures["hessian_eigs"]
    assert ev.shape == (2, P) and np.all(np.diff(ev, axis=1) >= 0)
    with pytest.raises(ValueError, match=r"parameter 'n_samples' must be an integer >= 2"):
        hessian_run(**architecture("plain", 2), seed=0, depth=2, width=4, n_samples=1)


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
