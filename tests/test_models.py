import math
import re

import pytest
import torch

from ibcore.models import ACTIVATIONS, SHORTCUTS, build_mlp


def test_widths_layers_and_hidden():
    m = build_mlp([12, 10, 7, 5, 4, 3, 2], "tanh", init="idnns", seed=0)
    assert m.layer_names == ["h1", "h2", "h3", "h4", "h5"]
    logits, hidden = m(torch.zeros(3, 12), return_hidden=True)
    assert logits.shape == (3, 2) and [h.shape[1] for h in hidden] == [10, 7, 5, 4, 3]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    m = build_mlp([4, 6, 6, 3], activation, shortcut="identity", seed=0)
    assert torch.isfinite(m(torch.randn(5, 4))).all()


def test_identity_shortcut_adds_input():
    m = build_mlp([3, 4, 4, 2], "relu", shortcut="identity", seed=0)
    x = torch.randn(6, 3)
    _, (h1, h2) = m(x, return_hidden=True)
    b = m.blocks[1]
    assert torch.allclose(h2, torch.relu(b.linear(h1)) + h1)


def test_projection_and_fixed_shortcuts():
    p = build_mlp([3, 4, 5, 2], "relu", shortcut="projection", seed=0)
    assert p.blocks[1].shortcut.weight.shape == (5, 4) and p.blocks[1].shortcut.weight.requires_grad
    f = build_mlp([3, 4, 4, 2], "relu", shortcut="fixed", seed=0)
    assert not f.blocks[1].shortcut.weight.requires_grad
    assert build_mlp([3, 4, 4, 2], shortcut="none").blocks[1].shortcut is None


def test_identity_needs_equal_widths():
    with pytest.raises(ValueError, match=r"shortcut='identity' needs equal widths, got a 4 -> 5"):
        build_mlp([3, 4, 5, 2], "relu", shortcut="identity")


def test_idnns_init_std_and_zero_bias():
    torch.manual_seed(0)
    m = build_mlp([400, 400, 2], "relu", init="idnns", seed=0)
    w = m.blocks[0].linear.weight
    # truncated at 2 std: the std of a 2-sigma truncated normal is 0.8796 * sigma; he = 2 for ReLU
    assert abs(float(w.std()) - 0.8796 * 2 / math.sqrt(400)) < 0.002
    assert float(w.abs().max()) <= 2 * 2 / math.sqrt(400) + 1e-6
    assert float(m.blocks[0].linear.bias.abs().max()) == 0.0


def test_seed_makes_identical_models():
    a = build_mlp([5, 8, 3], "tanh", seed=3)
    b = build_mlp([5, 8, 3], "tanh", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(widths=[3, 2]), r"parameter 'widths' needs \[d_in, hidden..., d_out\]"),
        (dict(widths=[3, 0, 2]), r"parameter 'widths' must be positive"),
        (dict(widths=[3, 4, 2], activation="sigmoid"), r"parameter 'activation' = 'sigmoid'"),
        (dict(widths=[3, 4, 2], shortcut="dense"), re.escape(f"choose one of {SHORTCUTS}")),
        (dict(widths=[3, 4, 2], init="xavier"), r"parameter 'init' = 'xavier' is not allowed"),
        (dict(widths=[3, 4, 2], branch_scale=0.0), r"parameter 'branch_scale' must be > 0"),
    ],
)
def test_bad_builder_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_mlp(**kwargs)


def test_hyper_shortcut_adds_mean_of_all_earlier_hidden_outputs():
    """Chapter 1: hyper-residual block l adds (T_1 + ... + T_{l-1}) / (l-1) (our "mean" mode)."""
    m = build_mlp([3, 4, 4, 4, 4, 2], "relu", shortcut="hyper", branch_scale=0.5, seed=0)
    assert "hyper" in SHORTCUTS and m.blocks[0].kind == "none"
    assert not list(m.blocks[1].shortcut.parameters())  # parameter-free
    x = torch.randn(6, 3)
    logits, hidden = m(x, return_hidden=True)
    assert torch.allclose(hidden[0], 0.5 * torch.relu(m.blocks[0].linear(x)))
    for i in range(1, 4):
        branch = 0.5 * torch.relu(m.blocks[i].linear(hidden[i - 1]))
        expected = branch + torch.stack(hidden[:i]).mean(0)
        assert torch.allclose(hidden[i], expected, atol=1e-6)
    assert torch.allclose(logits, m.head(hidden[-1]))
    # block 2 of a hyper net is the identity-shortcut block: same weights, same output
    r = build_mlp([3, 4, 4, 2], "relu", shortcut="identity", seed=1)
    h = build_mlp([3, 4, 4, 2], "relu", shortcut="hyper", seed=1)
    assert torch.allclose(r(x), h(x))


def test_hyper_shortcut_errors():
    with pytest.raises(ValueError, match=r"shortcut='hyper' needs equal widths, got a 4 -> 5"):
        build_mlp([3, 4, 5, 2], "relu", shortcut="hyper")
    m = build_mlp([3, 4, 4, 2], "relu", shortcut="hyper", seed=0)
    with pytest.raises(ValueError, match=r"needs the mean of all earlier hidden outputs"):
        m.blocks[1](torch.randn(2, 4))


def test_cnn_shortcut_kinds_share_the_names_and_record_every_block():
    from ibcore.models import build_cnn
    from ibcore.train import ActivationRecorder

    x = torch.randn(5, 64)
    for kind in ("none", "identity", "projection", "fixed"):
        m = build_cnn((1, 8, 8), 4, 3, 10, shortcut=kind, seed=0)
        logits, hidden = m(x, return_hidden=True)
        assert logits.shape == (5, 10) and [h.shape[1:] for h in hidden] == [(4, 8, 8)] * 3
        acts = ActivationRecorder(m, output=None).capture(x)
        assert list(acts) == ["h1", "h2", "h3"] and acts["h3"].shape == (5, 256)
    m = build_cnn((1, 8, 8), 4, 2, 10, shortcut="identity", seed=0)
    _, (h1, h2) = m(x, return_hidden=True)
    assert torch.allclose(h2, torch.relu(m.blocks[1].conv(h1)) + h1)
    fixed = build_cnn((1, 8, 8), 4, 2, 10, shortcut="fixed", seed=0)
    assert not fixed.blocks[1].shortcut.weight.requires_grad
    with pytest.raises(ValueError, match="shortcut"):
        build_cnn((1, 8, 8), 4, 2, 10, shortcut="hyper")
    with pytest.raises(ValueError, match="in_shape"):
        build_cnn((8, 8), 4, 2, 10)


@pytest.mark.parametrize("arch", ["vit", "mixer"])
def test_token_nets_shortcut_kinds_and_recording(arch):
    from ibcore.models import build_token_net
    from ibcore.train import ActivationRecorder

    x = torch.randn(5, 64)
    for kind in ("none", "identity", "projection", "fixed"):
        m = build_token_net(arch, (1, 8, 8), 2, 8, 3, 10, shortcut=kind, heads=2, seed=0)
        logits, hidden = m(x, return_hidden=True)
        assert logits.shape == (5, 10) and [h.shape[1:] for h in hidden] == [(16, 8)] * 3
        assert ActivationRecorder(m, output=None).capture(x)["h3"].shape == (5, 128)
    m = build_token_net(arch, (1, 8, 8), 2, 8, 2, 10, shortcut="identity", heads=2, seed=0)
    b = m.blocks[1]
    _, (h1, h2) = m(x, return_hidden=True)
    mid = b._mix(b.norm1(h1)) + h1
    assert torch.allclose(h2, b.mlp(b.norm2(mid)) + mid, atol=1e-6)
    with pytest.raises(ValueError, match="patch"):
        build_token_net(arch, (1, 8, 8), 3, 8, 2, 10)


def test_he_scaled_init_scales_only_the_branch_blocks():
    """Chapter 1 (our branch scaling): blocks 2..k drawn from He, times 1/sqrt(k); stem, head He."""
    he = build_mlp([16, *[64] * 9, 4], "relu", shortcut="identity", init="he", seed=0)
    sc = build_mlp([16, *[64] * 9, 4], "relu", shortcut="identity", init="he_scaled", seed=0)
    assert torch.equal(he.blocks[0].linear.weight, sc.blocks[0].linear.weight)
    assert torch.equal(he.head.weight, sc.head.weight)
    for a, b in zip(he.blocks[1:], sc.blocks[1:], strict=True):
        assert torch.allclose(b.linear.weight, a.linear.weight / 3.0)
        assert float(b.linear.bias.abs().max()) == 0.0
    plain = build_mlp([16, *[64] * 9, 4], "relu", init="he_scaled", seed=0)  # same init, no skips
    assert torch.equal(plain.blocks[3].linear.weight, sc.blocks[3].linear.weight)
