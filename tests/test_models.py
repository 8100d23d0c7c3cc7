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
