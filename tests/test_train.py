import numpy as np
import pytest
import torch

import ibcore
from ibcore.data import load_digits, load_szt12
from ibcore.models import build_mlp
from ibcore.train import (
    ActivationRecorder,
    History,
    TrainingDivergedError,
    log_snapshots,
    train,
)


def _run(seed, epochs=4):
    ibcore.setup(seed, device="cpu", quiet=True)
    d = load_szt12(seed=seed)
    m = build_mlp([12, 10, 7, 5, 4, 3, 2], "tanh", init="idnns", seed=seed)
    return train(m, d, epochs=epochs, lr=4e-4, batch_size=256, record_epochs=[0, 2, epochs],
                 shuffle=True, seed=seed)  # fmt: skip


def test_same_seed_gives_identical_histories():
    a, b = _run(0), _run(0)
    assert np.array_equal(a.epochs, b.epochs)
    for k in a.activations:
        assert np.array_equal(a.activations[k], b.activations[k])
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k], equal_nan=True)
    c = _run(1)
    assert not np.array_equal(a.activations["h1"], c.activations["h1"])


def test_history_shapes_and_recording_before_updates():
    d = load_szt12(seed=0)
    m = build_mlp([12, 10, 7, 5, 4, 3, 2], "tanh", init="idnns", seed=0)
    at_init = ActivationRecorder(m).capture(d.x_probe)
    h = train(m, d, epochs=3, lr=1e-2, batch_size=256, record_epochs=[0, 3], seed=0)
    assert h.layers == ["h1", "h2", "h3", "h4", "h5", "output"]
    assert h.activations["h3"].shape == (2, 4096, 5)
    assert np.allclose(h.activations["output"].sum(-1), 1.0, atol=1e-5)  # softmax output
    assert np.array_equal(h.activations["h1"][0], at_init["h1"].numpy())  # epoch 0 = at init
    assert not np.array_equal(h.activations["h1"][1], h.activations["h1"][0])
    assert h.metrics["epoch"].tolist() == [0, 1, 2, 3]
    assert h.meta["epochs"] == 3 and h.meta["model"]["activation"] == "tanh"


def test_history_save_load_roundtrip(tmp_path):
    h = _run(0, epochs=2)
    h.measures["dummy"] = np.arange(3.0)
    p = h.save(tmp_path / "h.npz")
    g = History.load(p)
    assert g.layers == h.layers and np.array_equal(g.epochs, h.epochs)
    assert np.array_equal(g.activations["h5"], h.activations["h5"])
    assert np.array_equal(g.measures["dummy"], h.measures["dummy"])
    assert g.meta == h.meta
    assert not list(tmp_path.glob(".*tmp"))


def test_measures_and_custom_criterion_learnable_params():
    d = load_digits(seed=0)
    m = build_mlp([64, 16, 16, 10], "relu", seed=0)
    crit = torch.nn.Module()
    crit.scale = torch.nn.Parameter(torch.tensor(1.0))
    crit.forward = lambda logits, y, hidden: torch.nn.functional.cross_entropy(
        logits * crit.scale, y
    )
    h = train(m, d, epochs=2, lr=1e-2, criterion=crit, record_epochs=[0, 2], keep_activations=False,
              measures={"mean_h1": lambda a: a["h1"].mean()}, seed=0)  # fmt: skip
    assert h.activations == {} and h.measures["mean_h1"].shape == (2,)
    assert float(crit.scale) != 1.0  # the criterion's parameter was optimised


def test_divergence_is_a_clear_error():
    d = load_digits(seed=0)
    m = build_mlp([64, 16, 10], "relu", seed=0)
    with torch.no_grad():
        m.head.weight.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at epoch 0"):
        train(m, d, epochs=1, seed=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=-1), r"parameter 'epochs' must be an integer >= 0"),
        (dict(epochs=1, optimizer="rmsprop"), r"parameter 'optimizer' = 'rmsprop' is not allowed"),
        (dict(epochs=1, lr=0.0), r"parameter 'lr' must be > 0"),
        (dict(epochs=2, record_epochs=[5]), r"record_epochs must lie in \[0, 2\]"),
        (dict(epochs=1, batch_size=0), r"parameter 'batch_size' must be >= 1"),
    ],
)
def test_bad_training_arguments(kwargs, message):
    m = build_mlp([12, 4, 2], "tanh")
    with pytest.raises(ValueError, match=message):
        train(m, load_szt12(), **kwargs)


def test_log_snapshots_matches_idnns():
    assert len(log_snapshots(8000, 400)) == 274
    s = log_snapshots(2000, 40)
    assert s[0] == 0 and np.all(np.diff(s) > 0) and s[-1] < 2000


def test_setup_seeds_and_device(capsys):
    env = ibcore.setup(7, device="cpu", scale="smoke")
    out = capsys.readouterr().out
    assert "device cpu" in out and "seed 7" in out and "scale smoke" in out
    assert env.device == torch.device("cpu") and torch.are_deterministic_algorithms_enabled()
    a = torch.rand(3)
    ibcore.setup(7, device="cpu", quiet=True)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match=r"parameter 'device' = 'tpu' is not allowed"):
        ibcore.setup(0, device="tpu")
    with pytest.raises(ValueError, match=r"parameter 'seed' must be a non-negative integer"):
        ibcore.setup(-1)
