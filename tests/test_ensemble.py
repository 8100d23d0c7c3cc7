import numpy as np
import pytest

from ibcore.data import load_szt12
from ibcore.models import EnsembleMLP, build_mlp
from ibcore.train import train

WIDTHS = [12, 10, 7, 5, 4, 3, 2]


def test_ensemble_equals_sequential_runs_for_k3():
    seeds, acts, l2 = [0, 1, 2], ["tanh", "relu", "tanh"], [0.0, 0.015, 0.0]
    data = [load_szt12(seed=s) for s in seeds]
    kw = dict(epochs=6, lr=1e-3, batch_size=256, record_epochs=[0, 3, 6], shuffle=True)
    sequential = [
        train(build_mlp(WIDTHS, a, init="idnns", seed=s), d, l2=lam, seed=s, **kw)
        for s, a, lam, d in zip(seeds, acts, l2, data, strict=True)
    ]
    members = [build_mlp(WIDTHS, a, init="idnns", seed=s) for s, a in zip(seeds, acts, strict=True)]
    batched = train(EnsembleMLP(members), data, seed=seeds, l2=l2, **kw)
    for a, b in zip(sequential, batched, strict=True):
        assert a.layers == b.layers and np.array_equal(a.epochs, b.epochs)
        for k in a.activations:
            np.testing.assert_allclose(a.activations[k], b.activations[k], atol=1e-5)
        for k in ("train_loss", "train_acc", "test_loss", "test_acc", "epoch"):
            np.testing.assert_allclose(a.metrics[k], b.metrics[k], atol=1e-5)
        assert a.meta["l2"] == b.meta["l2"] and a.meta["seed"] == b.meta["seed"]
    # the members really differ from each other
    assert not np.allclose(batched[0].activations["h1"], batched[2].activations["h1"])


def test_ensemble_rejects_mismatched_members():
    with pytest.raises(ValueError, match="equal widths"):
        EnsembleMLP([build_mlp([12, 4, 2]), build_mlp([12, 5, 2])])
    with pytest.raises(ValueError, match="plain nets"):
        EnsembleMLP([build_mlp([12, 4, 4, 2], shortcut="identity")])
    with pytest.raises(ValueError, match=r"parameter 'l2' needs one value per member \(1\)"):
        train(EnsembleMLP([build_mlp(WIDTHS)]), [load_szt12()], epochs=1, seed=[0], l2=[0.0, 0.1])
    with pytest.raises(ValueError, match="one data set and one seed per member"):
        train(EnsembleMLP([build_mlp(WIDTHS)]), load_szt12(), epochs=1, seed=0)


def test_szt_ensemble_run_equals_szt_runs_fixed_order_no_l2():
    # the chapter 0/2 path: fixed batch order (batches are slices) and no L2 term (skipped)
    from ibcore.runs import szt_ensemble_run, szt_run

    kw = dict(epochs=5, snapshots=4, eval_every=2)
    batched = szt_ensemble_run(seeds=[3, 4], **kw)
    for seed, b in zip([3, 4], batched, strict=True):
        a = szt_run(seed=seed, **kw)
        assert a.layers == b.layers and np.array_equal(a.epochs, b.epochs)
        for k in a.activations:
            assert b.activations[k].flags.c_contiguous
            np.testing.assert_allclose(a.activations[k], b.activations[k], atol=1e-5)
        np.testing.assert_allclose(a.metrics["train_loss"], b.metrics["train_loss"], atol=1e-5)
        assert b.meta["seed"] == seed and b.meta["ensemble"]["K"] == 2


def test_an_ensemble_flattens_images_as_a_single_net_does():
    """Chapter 3 at ``full`` trains vanilla nets on Fashion-MNIST images (B × 1 × 28 × 28)."""
    import torch

    from ibcore.models import EnsembleMLP, build_mlp

    nets = [build_mlp([12, 5, 3], "relu", seed=s) for s in (0, 1)]
    ens = EnsembleMLP(nets)
    x = torch.randn(4, 1, 3, 4)
    out = ens(x)
    for k, net in enumerate(nets):
        torch.testing.assert_close(out[k], net(x.flatten(1)))
