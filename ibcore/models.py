"""The one model builder: fully connected nets from widths, an activation and a shortcut kind.

This module is the single place where activations, initialisations and shortcut kinds are
defined (chapters 0–4). A net with ``widths = [d_in, h_1, ..., h_k, d_out]`` has ``k`` hidden
blocks and a linear head. Block 1 (the stem) maps the input to ``h_1`` and has no shortcut;
every later block computes

    T_l = f(W_l T_{l-1} + b_l) · s  +  S_l(T_{l-1})

where ``f`` is the activation, ``s`` the optional branch scale and ``S_l`` the shortcut:

=================  ===========================================================================
``none``           no shortcut: a plain net, ``S_l = 0``
``identity``       identity shortcut (IS), ``S_l(T) = T``; needs ``h_{l-1} == h_l``
``projection``     non-identity shortcut (NIS), a learned linear map ``S_l(T) = W_s T`` (no bias)
``fixed``          NIS with a fixed random projection (not trained), an ablation for chapter 4
=================  ===========================================================================

The recorded representation of layer ``l`` (``h1`` … ``hk``) is the block output ``T_l``, i.e. what
layer ``l+1`` sees, skip contribution included (Orhan & Pitkow 2018; Lyu & Rodrigues 2024).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn


class CenteredSoftplus(nn.Module):
    """softplus(x) − ln 2, zero at the origin (Chelombiev et al. 2019 code comment)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return nn.functional.softplus(x) - math.log(2.0)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "centered_softplus": CenteredSoftplus,
    "softsign": nn.Softsign,
    "swish": nn.SiLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "linear": nn.Identity,
}
SATURATING = frozenset({"tanh", "softsign"})

SHORTCUTS = ("none", "identity", "projection", "fixed")
IDENTITY_SHORTCUTS = frozenset({"identity"})

INITS = ("default", "idnns", "he", "lecun")
"""Weight initialisations:

* ``default`` — PyTorch's (U(±1/√fan_in) for weights and biases); chapter 3 needs exactly this.
* ``idnns`` — truncated normal (redraw beyond 2 std), std = he/√fan_in with he = 1 for saturating
  activations and 2 otherwise, biases 0 (Chelombiev et al. code; spec claim 2 §4).
* ``he`` — normal, std = √(2/fan_in), biases 0.
* ``lecun`` — normal, std = 1/√fan_in, biases 0.
"""


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(
            f"parameter {name!r} = {value!r} is not allowed; choose one of {tuple(allowed)}"
        )


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`); all chapters."""
    _check_choice("activation", name, tuple(ACTIVATIONS))
    return ACTIVATIONS[name]()


class Block(nn.Module):
    """One hidden layer: ``T = f(W x + b) * branch_scale + shortcut(x)`` (see module docstring)."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        activation: str,
        shortcut: str = "none",
        branch_scale: float | None = None,
    ) -> None:
        super().__init__()
        _check_choice("shortcut", shortcut, SHORTCUTS)
        self.linear = nn.Linear(d_in, d_out)
        self.act = make_activation(activation)
        self.branch_scale = branch_scale
        self.kind = shortcut
        if shortcut == "identity":
            if d_in != d_out:
                raise ValueError(
                    f"shortcut='identity' needs equal widths, got a {d_in} -> {d_out} layer; "
                    "use equal hidden widths or shortcut='projection'"
                )
            self.shortcut: nn.Module | None = nn.Identity()
        elif shortcut in ("projection", "fixed"):
            self.shortcut = nn.Linear(d_in, d_out, bias=False)
            if shortcut == "fixed":
                self.shortcut.weight.requires_grad_(False)
        else:
            self.shortcut = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h = self.act(self.linear(x))
        if self.branch_scale is not None:
            h = h * self.branch_scale
        if self.shortcut is not None:
            h = h + self.shortcut(x)
        return h


class MLP(nn.Module):
    """A fully connected net of :class:`Block` s and a linear head (built by :func:`build_mlp`)."""

    def __init__(self, blocks: Sequence[Block], head: nn.Linear, config: dict) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.config = dict(config)

    @property
    def layer_names(self) -> list[str]:
        """Names of the recordable hidden representations: ``h1`` … ``hk``."""
        return [f"h{i + 1}" for i in range(len(self.blocks))]

    def named_layers(self) -> dict[str, nn.Module]:
        """Map layer name → module whose output is that layer's representation (for hooks)."""
        out: dict[str, nn.Module] = dict(zip(self.layer_names, self.blocks, strict=True))
        out["output"] = self.head
        return out

    def forward(
        self, x: torch.Tensor, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits; with ``return_hidden`` also the list of hidden representations ``T_1..T_k``."""
        x = x.flatten(1)
        hidden = []
        for block in self.blocks:
            x = block(x)
            if return_hidden:
                hidden.append(x)
        logits = self.head(x)
        return (logits, hidden) if return_hidden else logits


def _trunc_normal_(w: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2 * std, b=2 * std)


def init_weights(model: MLP, init: str, activation: str) -> None:
    """Apply one of :data:`INITS` to every hidden and head layer (all chapters)."""
    _check_choice("init", init, INITS)
    if init == "default":
        return
    linears = [b.linear for b in model.blocks] + [model.head]
    for lin in linears:
        fan_in = lin.weight.shape[1]
        with torch.no_grad():
            if init == "idnns":
                he = 1.0 if activation in SATURATING else 2.0
                _trunc_normal_(lin.weight, he / math.sqrt(fan_in))
            elif init == "he":
                lin.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
            else:  # lecun
                lin.weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
            lin.bias.zero_()


def build_mlp(
    widths: Sequence[int],
    activation: str = "relu",
    shortcut: str = "none",
    init: str = "default",
    branch_scale: float | None = None,
    seed: int | None = None,
) -> MLP:
    """Build a fully connected net — the one model builder of the book.

    Serves every chapter: the 12-10-7-5-4-3-2 net of chapters 0 and 2 (Shwartz-Ziv & Tishby 2017;
    Chelombiev et al. 2019 §4), the deep plain/residual nets of chapter 1 (Orhan & Pitkow 2018
    §4), the deep vanilla net of chapter 3 (Peer et al. 2022 §5) and the IS/NIS MLPs of chapter 4
    (Lyu & Rodrigues 2024 §3).

    Args:
        widths: ``[d_in, h_1, ..., h_k, d_out]``; at least one hidden layer.
        activation: one of :data:`ACTIVATIONS`.
        shortcut: one of :data:`SHORTCUTS` (applied to hidden blocks 2..k; see module docstring).
        init: one of :data:`INITS`.
        branch_scale: multiplies each block's branch ``f(Wx+b)`` (Orhan & Pitkow spec §6b); None = 1.
        seed: if given, the weights are drawn from ``torch.manual_seed(seed)``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"parameter 'widths' needs [d_in, hidden..., d_out], got {widths}")
    if any(w < 1 for w in widths):
        raise ValueError(f"parameter 'widths' must be positive integers, got {widths}")
    _check_choice("activation", activation, tuple(ACTIVATIONS))
    _check_choice("shortcut", shortcut, SHORTCUTS)
    _check_choice("init", init, INITS)
    if branch_scale is not None and not branch_scale > 0:
        raise ValueError(f"parameter 'branch_scale' must be > 0 or None, got {branch_scale!r}")
    if seed is not None:
        torch.manual_seed(seed)
    blocks = [
        Block(widths[i], widths[i + 1], activation, "none" if i == 0 else shortcut, branch_scale)
        for i in range(len(widths) - 2)
    ]
    head = nn.Linear(widths[-2], widths[-1])
    config = dict(
        widths=widths,
        activation=activation,
        shortcut=shortcut,
        init=init,
        branch_scale=branch_scale,
    )
    model = MLP(blocks, head, config)
    init_weights(model, init, activation)
    return model
