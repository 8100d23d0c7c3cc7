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
``hyper``          hyper-residual (chapter 1): the mean of *all* earlier hidden outputs,
                   ``S_l = (T_1 + … + T_{l-1}) / (l-1)``; needs equal hidden widths
=================  ===========================================================================

The same names serve the chapter-4 conv and token models (:func:`build_cnn`,
:func:`build_token_net`): ``identity`` is the identity shortcut (IS); ``projection`` and ``fixed``
are non-identity shortcuts (NIS) — a 1×1 convolution in the CNN, ``nn.Linear(d, d, bias=False)``
on both residual sublayers of the ViT/MLP-Mixer blocks; ``none`` removes the shortcut (also NIS in
Lyu & Rodrigues 2024). :data:`IDENTITY_SHORTCUTS` lists the IS kinds.

``hyper`` is our interpretation of the hyper-residual nets of Orhan & Pitkow (2018, §4): their
exact definition was not recovered, so we use the mean of the earlier outputs, whose variance
stays bounded with depth. Block 2 sees ``T_1`` alone, exactly as with ``identity``.

The recorded representation of layer ``l`` (``h1`` … ``hk``) is the block output ``T_l``, i.e. what
layer ``l+1`` sees, skip contribution included (Orhan & Pitkow 2018; Lyu & Rodrigues 2024).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ibcore.schema import check_choice


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

SHORTCUTS = ("none", "identity", "projection", "fixed", "hyper")

SHORTCUT_KINDS: dict[str, str] = {
    "none": "no shortcut: a plain net, S_l = 0 (NIS in Lyu & Rodrigues 2024)",
    "identity": "identity shortcut (IS), S_l(T) = T; needs h_{l-1} == h_l",
    "projection": "non-identity shortcut (NIS), a learned linear map S_l(T) = W_s T (no bias)",
    "fixed": "NIS with a fixed random projection (not trained)",
    "hyper": "hyper-residual: the mean of all earlier hidden outputs, (T_1 + … + T_{l-1}) / (l-1)",
}
"""What each shortcut kind means (the table of the module docstring, as data)."""
IDENTITY_SHORTCUTS = frozenset({"identity"})

INITS = ("default", "idnns", "he", "lecun", "he_scaled")
"""Weight initialisations:

* ``default`` — PyTorch's (U(±1/√fan_in) for weights and biases); chapter 3 needs exactly this.
* ``idnns`` — truncated normal (redraw beyond 2 std), std = he/√fan_in with he = 1 for saturating
  activations and 2 otherwise, biases 0 (the authors' code of Chelombiev et al. 2019).
* ``he`` — normal, std = √(2/fan_in), biases 0.
* ``lecun`` — normal, std = 1/√fan_in, biases 0.
* ``he_scaled`` — ``he``, then the weights of blocks 2..k (the branches that can carry a shortcut)
  multiplied by 1/√k, k = the number of hidden blocks; stem and head stay ``he`` (chapter 1: our
  residual-branch scaling at initialisation). Unlike ``branch_scale``, which multiplies the branch
  output in every forward pass, this changes only the starting point: under Adam the branch weights
  then move at the full learning rate.
"""


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`); all chapters."""
    check_choice("activation", name, tuple(ACTIVATIONS))
    return ACTIVATIONS[name]()


class HyperShortcut(nn.Module):
    """The parameter-free ``hyper`` shortcut: returns the mean of all earlier hidden outputs.

    Chapter 1 (Orhan & Pitkow 2018, §4, hyper-residual nets; the "mean" mode is our reading).
    :class:`MLP` passes that mean in as ``history_mean``.
    """

    def forward(self, x: torch.Tensor, history_mean: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        if history_mean is None:
            raise ValueError(
                "a shortcut='hyper' block needs the mean of all earlier hidden outputs; "
                "call it through MLP.forward (or pass skip=...)"
            )
        return history_mean


class Block(nn.Module):
    """One hidden layer: ``T = f(W x + b) * branch_scale + shortcut(x)`` (see module docstring).

    For ``shortcut='hyper'`` the shortcut term is ``skip``, the mean of all earlier hidden outputs,
    which :class:`MLP` passes in.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        activation: str,
        shortcut: str = "none",
        branch_scale: float | None = None,
    ) -> None:
        super().__init__()
        check_choice("shortcut", shortcut, SHORTCUTS)
        self.linear = nn.Linear(d_in, d_out)
        self.act = make_activation(activation)
        self.branch_scale = branch_scale
        self.kind = shortcut
        if shortcut in ("identity", "hyper"):
            if d_in != d_out:
                raise ValueError(
                    f"shortcut={shortcut!r} needs equal widths, got a {d_in} -> {d_out} layer; "
                    "use equal hidden widths or shortcut='projection'"
                )
            self.shortcut: nn.Module | None = (
                nn.Identity() if shortcut == "identity" else HyperShortcut()
            )
        elif shortcut in ("projection", "fixed"):
            self.shortcut = nn.Linear(d_in, d_out, bias=False)
            if shortcut == "fixed":
                self.shortcut.weight.requires_grad_(False)
        else:
            self.shortcut = None

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:  # noqa: D102
        h = self.act(self.linear(x))
        if self.branch_scale is not None:
            h = h * self.branch_scale
        if self.kind == "hyper":
            h = h + self.shortcut(x, skip)
        elif self.shortcut is not None:
            h = h + self.shortcut(x)
        return h


class MLP(nn.Module):
    """A fully connected net of :class:`Block` s and a linear head (built by :func:`build_mlp`)."""

    def __init__(self, blocks: Sequence[Block], head: nn.Linear, config: dict) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.config = dict(config)
        self.needs_history = any(b.kind == "hyper" for b in self.blocks)

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
        total: torch.Tensor | None = None  # running sum of T_1..T_{l-1}, for 'hyper' blocks
        for i, block in enumerate(self.blocks):
            if block.kind == "hyper":
                x = block(x, total / i)
            else:
                x = block(x)
            if self.needs_history:
                total = x if total is None else total + x
            if return_hidden:
                hidden.append(x)
        logits = self.head(x)
        return (logits, hidden) if return_hidden else logits


def _trunc_normal_(w: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2 * std, b=2 * std)


def init_weights(model: MLP, init: str, activation: str) -> None:
    """Apply one of :data:`INITS` to every hidden and head layer (all chapters)."""
    check_choice("init", init, INITS)
    if init == "default":
        return
    linears = [b.linear for b in model.blocks] + [model.head]
    for lin in linears:
        fan_in = lin.weight.shape[1]
        with torch.no_grad():
            if init == "idnns":
                he = 1.0 if activation in SATURATING else 2.0
                _trunc_normal_(lin.weight, he / math.sqrt(fan_in))
            elif init in ("he", "he_scaled"):
                lin.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
            else:  # lecun
                lin.weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
            lin.bias.zero_()
    if init == "he_scaled":
        with torch.no_grad():
            for b in model.blocks[1:]:
                b.linear.weight.mul_(1.0 / math.sqrt(len(model.blocks)))


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
        branch_scale: multiplies each block's branch ``f(Wx+b)`` (our choice, chapter 1); None = 1.
        seed: if given, the weights are drawn from ``torch.manual_seed(seed)``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"parameter 'widths' needs [d_in, hidden..., d_out], got {widths}")
    if any(w < 1 for w in widths):
        raise ValueError(f"parameter 'widths' must be positive integers, got {widths}")
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_choice("init", init, INITS)
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


class ConvBlock(nn.Module):
    """One residual conv block: ``T = f(conv3x3(x)) + S(x)``, S from the same :data:`SHORTCUTS`.

    Chapter 4 (Lyu & Rodrigues 2024 §3, ResNet-like IS/NIS models): ``identity`` adds ``x``;
    ``projection`` a learned 1×1 convolution (ResNet "option C"); ``fixed`` a frozen random 1×1
    convolution; ``none`` nothing. ``hyper`` is not defined for conv nets.
    """

    def __init__(self, c_in: int, c_out: int, activation: str, shortcut: str = "none") -> None:
        super().__init__()
        check_choice("shortcut", shortcut, SHORTCUTS[:4])
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.act = make_activation(activation)
        self.kind = shortcut
        if shortcut == "identity":
            if c_in != c_out:
                raise ValueError(
                    f"shortcut='identity' needs equal channels, got {c_in} -> {c_out}; "
                    "use shortcut='projection'"
                )
            self.shortcut: nn.Module | None = nn.Identity()
        elif shortcut in ("projection", "fixed"):
            self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False)
            if shortcut == "fixed":
                self.shortcut.weight.requires_grad_(False)
        else:
            self.shortcut = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h = self.act(self.conv(x))
        return h if self.shortcut is None else h + self.shortcut(x)


class ConvNet(MLP):
    """A small residual CNN: conv stem, :class:`ConvBlock` s, flatten + linear head.

    Built by :func:`build_cnn`; a subclass of :class:`MLP` so that the book's one training loop and
    recorder treat it alike (layers ``h1`` … ``hk`` are the block outputs, flattened when recorded).
    """

    def forward(
        self, x: torch.Tensor, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits; with ``return_hidden`` also the block outputs (N × C × H × W)."""
        x = x.reshape(x.shape[0], *self.config["in_shape"])
        hidden = []
        for block in self.blocks:
            x = block(x)
            if return_hidden:
                hidden.append(x)
        logits = self.head(x.flatten(1))
        return (logits, hidden) if return_hidden else logits


def build_cnn(
    in_shape: Sequence[int],
    channels: int,
    depth: int,
    n_classes: int,
    activation: str = "relu",
    shortcut: str = "none",
    seed: int | None = None,
) -> ConvNet:
    """A small residual CNN with the shortcut kinds of :data:`SHORTCUTS` (chapter 4).

    Lyu & Rodrigues 2024 §3 (ResNet-like IS vs NIS models). Block 1 is a 3×3 conv stem
    ``in_shape[0] → channels`` without shortcut; blocks 2..depth are :class:`ConvBlock` s with
    ``shortcut``; the head is a linear map of the flattened last block. Inputs may come flat
    (e.g. digits' 64 features) and are reshaped to ``in_shape`` = (C, H, W).
    """
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) != 3 or min(in_shape) < 1:
        raise ValueError(f"parameter 'in_shape' must be (C, H, W) positive, got {in_shape}")
    if channels < 1 or depth < 1 or n_classes < 2:
        raise ValueError(
            f"build_cnn needs channels >= 1, depth >= 1, n_classes >= 2; got "
            f"{channels}, {depth}, {n_classes}"
        )
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_choice("shortcut", shortcut, SHORTCUTS[:4])
    if seed is not None:
        torch.manual_seed(seed)
    blocks = [ConvBlock(in_shape[0], channels, activation, "none")]
    blocks += [ConvBlock(channels, channels, activation, shortcut) for _ in range(depth - 1)]
    head = nn.Linear(channels * in_shape[1] * in_shape[2], n_classes)
    config = dict(
        arch="cnn", in_shape=list(in_shape), channels=channels, depth=depth,
        activation=activation, shortcut=shortcut,
    )  # fmt: skip
    return ConvNet(blocks, head, config)


def _token_shortcut(kind: str, d: int) -> nn.Module | None:
    """Shortcut of one residual sublayer of a token model: same names as :data:`SHORTCUTS`."""
    if kind == "identity":
        return nn.Identity()
    if kind in ("projection", "fixed"):
        lin = nn.Linear(d, d, bias=False)
        if kind == "fixed":
            lin.weight.requires_grad_(False)
        return lin
    return None


class PatchEmbed(nn.Module):
    """Stem of the token models: non-overlapping ``patch``×``patch`` patches → ``dim``, + position."""

    def __init__(self, in_shape: Sequence[int], patch: int, dim: int) -> None:
        super().__init__()
        c, h, w = in_shape
        if h % patch or w % patch:
            raise ValueError(f"parameter 'patch' = {patch} must divide the image size {h}×{w}")
        self.in_shape, self.patch = tuple(in_shape), patch
        self.kind = "none"  # the stem has no shortcut
        self.n_tokens = (h // patch) * (w // patch)
        self.proj = nn.Linear(c * patch * patch, dim)
        self.pos = nn.Parameter(torch.randn(self.n_tokens, dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = x.reshape(x.shape[0], *self.in_shape)
        p = nn.functional.unfold(x, self.patch, stride=self.patch)  # N × (C p p) × T
        return self.proj(p.transpose(1, 2)) + self.pos


class TokenBlock(nn.Module):
    """A ViT or MLP-Mixer block with two residual sublayers, each ``S(x) + F(LayerNorm(x))``.

    Chapter 4 (Lyu & Rodrigues 2024 §3: ViT and MLP-Mixer as IS models; our NIS version replaces
    each identity by ``nn.Linear(d, d, bias=False)``). ``arch='vit'``: multi-head self-attention,
    then an MLP (ratio 2); ``arch='mixer'``: a token-mixing MLP, then a channel-mixing MLP.
    ``shortcut`` is one of ``none``/``identity``/``projection``/``fixed``.
    """

    def __init__(self, arch: str, n_tokens: int, dim: int, shortcut: str, heads: int = 4) -> None:
        super().__init__()
        check_choice("arch", arch, ("vit", "mixer"))
        check_choice("shortcut", shortcut, SHORTCUTS[:4])
        self.arch, self.kind = arch, shortcut
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        if arch == "vit":
            self.mix = nn.MultiheadAttention(dim, heads, batch_first=True)
        else:
            self.mix = nn.Sequential(
                nn.Linear(n_tokens, 2 * n_tokens), nn.GELU(), nn.Linear(2 * n_tokens, n_tokens)
            )
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.s1, self.s2 = _token_shortcut(shortcut, dim), _token_shortcut(shortcut, dim)

    def _mix(self, x: torch.Tensor) -> torch.Tensor:
        if self.arch == "vit":
            return self.mix(x, x, x, need_weights=False)[0]
        return self.mix(x.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h = self._mix(self.norm1(x))
        x = h if self.s1 is None else h + self.s1(x)
        h = self.mlp(self.norm2(x))
        return h if self.s2 is None else h + self.s2(x)


class TokenHead(nn.Module):
    """LayerNorm, mean over tokens, linear classifier."""

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.norm, self.fc = nn.LayerNorm(dim), nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.fc(self.norm(x).mean(1))


class TokenNet(MLP):
    """A small ViT or MLP-Mixer built by :func:`build_token_net` (layers: ``h1`` = patch embedding,
    ``h2`` … = blocks, recorded as flattened N × (tokens·dim))."""

    def forward(
        self, x: torch.Tensor, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits; with ``return_hidden`` also every block's tokens (N × T × dim)."""
        hidden = []
        for block in self.blocks:
            x = block(x)
            if return_hidden:
                hidden.append(x)
        logits = self.head(x)
        return (logits, hidden) if return_hidden else logits


def build_token_net(
    arch: str,
    in_shape: Sequence[int],
    patch: int,
    dim: int,
    depth: int,
    n_classes: int,
    shortcut: str = "identity",
    heads: int = 4,
    seed: int | None = None,
) -> TokenNet:
    """A small ViT (``arch='vit'``) or MLP-Mixer (``'mixer'``) with the :data:`SHORTCUTS` names.

    Chapter 4 (Lyu & Rodrigues 2024 §3; the NIS variant is ours). Block 1 is the patch embedding (no
    shortcut); blocks 2..depth are :class:`TokenBlock` s whose two residual sublayers both use
    ``shortcut``: ``identity`` = the standard (IS) model, ``projection``/``fixed`` = NIS.
    """
    check_choice("arch", arch, ("vit", "mixer"))
    check_choice("shortcut", shortcut, SHORTCUTS[:4])
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) != 3 or min(in_shape) < 1:
        raise ValueError(f"parameter 'in_shape' must be (C, H, W) positive, got {in_shape}")
    if depth < 2 or n_classes < 2 or dim < 1 or (arch == "vit" and dim % heads):
        raise ValueError(
            f"build_token_net needs depth >= 2, n_classes >= 2 and dim divisible by heads; got "
            f"depth={depth}, n_classes={n_classes}, dim={dim}, heads={heads}"
        )
    if seed is not None:
        torch.manual_seed(seed)
    stem = PatchEmbed(in_shape, patch, dim)
    blocks = [stem] + [
        TokenBlock(arch, stem.n_tokens, dim, shortcut, heads) for _ in range(depth - 1)
    ]
    config = dict(
        arch=arch, in_shape=list(in_shape), patch=patch, dim=dim, depth=depth, heads=heads,
        shortcut=shortcut,
    )  # fmt: skip
    return TokenNet(blocks, TokenHead(dim, n_classes), config)


class EnsembleMLP(nn.Module):
    """K plain MLPs of equal widths, stacked; built from member :class:`MLP` s (weights copied).

    Every layer is one batched matmul over the K members (``torch.baddbmm``), so a training step
    of K small nets costs little more than one net's; :func:`ibcore.train.train` trains it as one
    model (chapters 0 and 2: seed sets of Shwartz-Ziv & Tishby 2017 and Chelombiev et al. 2019).
    Members may differ in activation. Shortcuts and branch scaling are not supported (members
    must be plain nets, ``shortcut='none'``).
    """

    def __init__(self, members: Sequence[MLP]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        widths = [m.config["widths"] for m in members]
        if any(w != widths[0] for w in widths):
            raise ValueError(f"ensemble members must have equal widths, got {widths}")
        for m in members:
            if m.config.get("shortcut", "none") != "none" or m.config.get("branch_scale"):
                raise ValueError("ensemble members must be plain nets (shortcut='none')")
        self.K = len(members)
        self.configs = [dict(m.config) for m in members]
        self.widths = list(widths[0])
        linears = [[*(b.linear for b in m.blocks), m.head] for m in members]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].weight.detach().clone() for ls in linears]))
            for i in range(len(linears[0]))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].bias.detach().clone() for ls in linears]).unsqueeze(1))
            for i in range(len(linears[0]))
        )
        self.activations = [m.config["activation"] for m in members]
        groups: dict[str, list[int]] = {}
        for k, a in enumerate(self.activations):
            groups.setdefault(a, []).append(k)
        self._groups = [(make_activation(a), torch.tensor(ix)) for a, ix in groups.items()]

    @property
    def layer_names(self) -> list[str]:
        """``h1`` … ``hk`` as in :class:`MLP`."""
        return [f"h{i + 1}" for i in range(len(self.weights) - 1)]

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        if len(self._groups) == 1:
            return self._groups[0][0](z)
        out = torch.empty_like(z)
        for act, ix in self._groups:
            ix = ix.to(z.device)
            out[ix] = act(z[ix])
        return out

    def forward(
        self, x: torch.Tensor, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """``x``: K × B × d_in (or B × d_in, shared). Returns logits K × B × d_out (and hidden)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.K, -1, -1)
        # list(...) rather than slicing: slicing a ParameterList builds a new module every call
        ws, bs = list(self.weights), list(self.biases)
        hidden = []
        h = x
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            h = self._act(torch.baddbmm(b, h, w.transpose(1, 2)))
            hidden.append(h)
        logits = torch.baddbmm(bs[-1], h, ws[-1].transpose(1, 2))
        return (logits, hidden) if return_hidden else logits

    def l2_penalties(self) -> torch.Tensor:
        """Per-member Σ_hidden ‖W‖²/2 (head excluded), shape K (as :func:`ibcore.train.l2_penalty`)."""
        return sum(0.5 * (w**2).sum(dim=(1, 2)) for w in list(self.weights)[:-1])  # type: ignore[return-value]
