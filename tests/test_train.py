import numpy as np
import pytest
import torch

import ibcore
from ibcore.data import Dataset, load_digits, load_szt12
from ibcore.models import EnsembleMLP, build_mlp
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
        (dict(epochs=1, lr=0.0), r"parameter 'lr' must be a positive finite number, got 0.0"),
        (dict(epochs=2, record_epochs=[5]), r"record_epochs must lie in \[0, 2\]"),
        (dict(epochs=1, batch_size=0), r"parameter 'batch_size' must be an integer >= 1, got 0"),
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


# ---- the loop itself, against steps written out by hand ------------------------------------------
# A tiny data set whose first feature is the sample's index, so the batches a net sees can be read
# off its inputs; full-batch steps (batch_size = n) so one epoch is one optimiser step.

N = 8


def _indexed_data(offset: float = 0.0, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 3, generator=g)
    x[:, 0] = torch.arange(N, dtype=torch.float32) + offset
    y = torch.randint(0, 2, (N,), generator=g)
    return Dataset("indexed", x, y, x[:2], y[:2], 2, x, y)


def _seen_batches(model: torch.nn.Module) -> tuple[list[torch.Tensor], object]:
    """Inputs of every training forward pass (evaluation and snapshots run without grad)."""
    seen: list[torch.Tensor] = []

    def hook(_module, args):
        if torch.is_grad_enabled():
            seen.append(args[0].detach().clone())

    return seen, model.register_forward_pre_hook(hook)


def _expected_orders(seed: int, epochs: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(N, generator=g) for _ in range(epochs)]


@pytest.mark.parametrize("shuffle", [True, False])
def test_single_net_batch_order_reshuffles_every_epoch_only_with_shuffle(shuffle):
    m = build_mlp([3, 4, 2], "tanh", seed=0)
    seen, handle = _seen_batches(m)
    train(m, _indexed_data(), epochs=3, lr=1e-3, batch_size=3, shuffle=shuffle, seed=5)
    handle.remove()
    assert [len(b) for b in seen] == [3, 3, 2] * 3  # the last batch of an epoch is short
    orders = [torch.cat(seen[i : i + 3])[:, 0].long() for i in (0, 3, 6)]
    if shuffle:
        assert all(torch.equal(o, e) for o, e in zip(orders, _expected_orders(5, 3), strict=True))
        assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    else:
        assert all(torch.equal(o, torch.arange(N)) for o in orders)


@pytest.mark.parametrize("shuffle", [True, False])
def test_ensemble_batch_order_is_each_members_own_and_reshuffles_only_with_shuffle(shuffle):
    seeds = [5, 9]
    ens = EnsembleMLP([build_mlp([3, 4, 2], "tanh", seed=s) for s in seeds])
    data = [_indexed_data(offset=100.0 * k, seed=k) for k in range(2)]  # member k: index + 100 k
    seen, handle = _seen_batches(ens)
    train(ens, data, epochs=3, lr=1e-3, batch_size=3, shuffle=shuffle, seed=seeds)
    handle.remove()
    assert [b.shape[:2] for b in seen] == [(2, 3), (2, 3), (2, 2)] * 3
    for k, seed in enumerate(seeds):
        orders = [torch.cat([b[k] for b in seen[i : i + 3]])[:, 0] - 100.0 * k for i in (0, 3, 6)]
        orders = [o.round().long() for o in orders]
        if shuffle:
            expected = _expected_orders(seed, 3)
            assert all(torch.equal(o, e) for o, e in zip(orders, expected, strict=True)), k
            assert not torch.equal(orders[0], orders[1])
        else:
            assert all(torch.equal(o, torch.arange(N)) for o in orders), k


def _hidden_weights(m) -> list[torch.Tensor]:
    return [b.linear.weight for b in m.blocks]


def _grads(m, x, y, l2: float) -> list[torch.Tensor]:
    """d CE / d params by autograd, plus the L2 term's gradient l2 · W on hidden weights only."""
    params = list(m.parameters())
    grads = torch.autograd.grad(torch.nn.functional.cross_entropy(m(x), y), params)
    hidden = {id(w) for w in _hidden_weights(m)}
    return [
        g + l2 * p.detach() if id(p) in hidden else g for p, g in zip(params, grads, strict=True)
    ]


def _sgd_by_hand(m, x, y, *, steps: int, lr: float, l2: float) -> None:
    """SGD with momentum 0.9 (PyTorch's form: buf = 0.9 buf + g, p -= lr buf), fresh g each step."""
    bufs = None
    for _ in range(steps):
        g = _grads(m, x, y, l2)
        bufs = g if bufs is None else [0.9 * b + gi for b, gi in zip(bufs, g, strict=True)]
        with torch.no_grad():
            for p, b in zip(m.parameters(), bufs, strict=True):
                p -= lr * b


def _adam_by_hand(m, x, y, *, steps: int, lr: float, l2: float) -> None:
    """Adam with PyTorch's defaults (0.9, 0.999, eps 1e-8), fresh g each step."""
    params = list(m.parameters())
    mom = [torch.zeros_like(p) for p in params]
    var = [torch.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        g = _grads(m, x, y, l2)
        with torch.no_grad():
            for p, gi, a, v in zip(params, g, mom, var, strict=True):
                a.mul_(0.9).add_(0.1 * gi)
                v.mul_(0.999).add_(0.001 * gi * gi)
                p -= lr * (a / (1 - 0.9**t)) / ((v / (1 - 0.999**t)).sqrt() + 1e-8)


@pytest.mark.parametrize("l2", [0.0, 0.5])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_single_net_steps_equal_steps_by_hand(optimizer, l2):
    """Zeroed gradients every step and the hidden-layer L2 term (head excluded) in the loss."""
    d = _indexed_data()
    d.x_train[:, 0] /= N  # keep the inputs O(1)
    m = build_mlp([3, 4, 3, 2], "tanh", seed=1)
    ref = build_mlp([3, 4, 3, 2], "tanh", seed=1)
    lr = 0.1 if optimizer == "sgd" else 0.05
    train(m, d, epochs=3, lr=lr, batch_size=N, optimizer=optimizer, l2=l2, shuffle=False, seed=0)
    by_hand = _sgd_by_hand if optimizer == "sgd" else _adam_by_hand
    by_hand(ref, d.x_train, d.y_train, steps=3, lr=lr, l2=l2)
    for (name, p), q in zip(m.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=name)
    start = build_mlp([3, 4, 3, 2], "tanh", seed=1)
    moved = [
        float((p - q).abs().max()) for p, q in zip(m.parameters(), start.parameters(), strict=True)
    ]
    assert min(moved) > 1e-3  # every parameter really moved: the comparison is not vacuous


def test_ensemble_steps_equal_each_members_adam_steps_by_hand():
    """Per-member gradients (zeroed every step) and per-member L2 on hidden weights only."""
    l2s, seeds = [0.0, 0.5], [0, 1]
    data = [_indexed_data(seed=k) for k in range(2)]
    for d in data:
        d.x_train[:, 0] /= N
    members = [build_mlp([3, 4, 3, 2], a, seed=10 + k) for k, a in enumerate(["tanh", "relu"])]
    refs = [build_mlp([3, 4, 3, 2], a, seed=10 + k) for k, a in enumerate(["tanh", "relu"])]
    ens = EnsembleMLP(members)
    train(ens, data, epochs=3, lr=0.05, batch_size=N, l2=l2s, shuffle=False, seed=seeds)
    for k, (ref, d, lam) in enumerate(zip(refs, data, l2s, strict=True)):
        _adam_by_hand(ref, d.x_train, d.y_train, steps=3, lr=0.05, l2=lam)
        linears = [*(b.linear for b in ref.blocks), ref.head]
        for i, lin in enumerate(linears):
            torch.testing.assert_close(ens.weights[i][k], lin.weight, rtol=0, atol=1e-6)
            torch.testing.assert_close(ens.biases[i][k, 0], lin.bias, rtol=0, atol=1e-6)


def test_ensemble_of_mixed_activations_equals_its_members_in_any_order():
    # contiguous activations run slice by slice, interleaved ones through index scatter
    acts = ["tanh", "relu", "tanh", "elu"]
    members = [build_mlp([5, 4, 3, 2], a, seed=s) for s, a in enumerate(acts)]
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    ens = EnsembleMLP(members)
    assert ens._runs is None  # tanh appears twice, apart
    logits, hidden = ens(x, return_hidden=True)
    for k, m in enumerate(members):
        torch.testing.assert_close(logits[k], m(x), rtol=1e-5, atol=1e-6)
    order = [0, 2, 1, 3]
    sorted_ens = EnsembleMLP([members[i] for i in order])
    assert sorted_ens._runs is not None
    logits2, hidden2 = sorted_ens(x, return_hidden=True)
    for j, i in enumerate(order):
        torch.testing.assert_close(logits2[j], logits[i], rtol=1e-5, atol=1e-6)
        for a, b in zip(hidden2, hidden, strict=True):
            torch.testing.assert_close(a[j], b[i], rtol=1e-5, atol=1e-6)


def test_fractional_record_epochs_snapshot_inside_an_epoch():
    """Chapter 4's snapshots inside the first epoch: recorded before the nearest batch."""
    d = load_szt12(seed=0)  # 3,276 training rows: 13 batches of 256
    m = build_mlp([12, 10, 7, 5, 4, 3, 2], "tanh", init="idnns", seed=0)
    h = train(m, d, epochs=2, lr=1e-2, batch_size=256, record_epochs=[0, 0.5, 1, 2], seed=0)
    n_batches = -(-len(d.x_train) // 256)
    half = round(0.5 * n_batches) / n_batches
    assert h.epochs.dtype == np.float64
    assert h.epochs.tolist() == pytest.approx([0.0, half, 1.0, 2.0])
    a = h.activations["h1"]
    assert not np.array_equal(a[1], a[0]) and not np.array_equal(a[1], a[2])
    # the same run without the extra snapshot passes through the same weights
    m2 = build_mlp([12, 10, 7, 5, 4, 3, 2], "tanh", init="idnns", seed=0)
    h2 = train(m2, d, epochs=2, lr=1e-2, batch_size=256, record_epochs=[0, 1, 2], seed=0)
    assert h2.epochs.dtype == np.int64
    assert np.allclose(h2.activations["h1"], a[[0, 2, 3]], atol=1e-6)
    ens = EnsembleMLP([build_mlp([12, 4, 2], "tanh", seed=0)])
    with pytest.raises(ValueError, match="fractional record_epochs need a single model"):
        train(ens, [d], epochs=1, record_epochs=[0.5], seed=[0])
