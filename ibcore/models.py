"""The one model builder (chapters 0–4): activations, initialisations and shortcut kinds.

A stem, then blocks ``T_l = f(W_l T_{l-1} + b_l) · s + S_l(T_{l-1})`` (:data:`SHORTCUT_KINDS`)
and a linear head; layer ``hl`` records ``T_l``, skip included (Orhan & Pitkow 2018 §4, whose
``hyper`` we read as a mean; Lyu & Rodrigues 2024 §3, whose CNN and ViT/Mixer share the names).
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
    "tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "softplus": nn.Softplus,
    "centered_softplus": CenteredSoftplus, "softsign": nn.Softsign, "swish": nn.SiLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01), "linear": nn.Identity,
}  # fmt: skip
SATURATING = frozenset({"tanh", "softsign"})

SHORTCUTS = ("none", "identity", "projection", "fixed", "hyper")

SHORTCUT_KINDS: dict[str, str] = {
    "none": "no shortcut: a plain net, S_l = 0 (a control beside the non-identity shortcuts of Lyu & Rodrigues 2024, not one of them)",
    "identity": "identity shortcut (IS), S_l(T) = T; needs h_{l-1} == h_l",
    "projection": "non-identity shortcut (NIS), a learned linear map S_l(T) = W_s T (no bias)",
    "fixed": "NIS with a fixed random projection (not trained)",
    "hyper": "hyper-residual: the mean of all earlier hidden outputs, (T_1 + … + T_{l-1}) / (l-1)",
}
"""What each shortcut kind means."""
IDENTITY_SHORTCUTS = frozenset({"identity"})

INITS = ("default", "idnns", "he", "lecun", "he_scaled", "near_identity")
"""Weight initialisations: PyTorch's ``default`` (chapter 3 needs it); ``idnns`` (truncated
normal, std he/√fan_in, he = 1 for saturating activations else 2; Chelombiev et al. 2019 code);
``he``; ``lecun``; ``he_scaled`` (chapter 1, ours: ``he`` with blocks 2..k scaled by 1/√k once);
``near_identity`` (chapter 1: ``he``, then every square hidden weight ``W = I + 0.01·N(0, 1)``,
the plain net started where a residual net starts; Orhan & Pitkow 2018 §4's control)."""

NEAR_IDENTITY_STD = 0.01
"""Noise of the ``near_identity`` initialisation around the identity."""


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`); all chapters."""
    check_choice("activation", name, tuple(ACTIVATIONS))
    return ACTIVATIONS[name]()


class HyperShortcut(nn.Module):
    """The ``hyper`` shortcut: the mean of all earlier hidden outputs (chapter 1, Orhan & Pitkow
    2018 §4, our reading), passed in by :class:`MLP`."""

    def forward(self, x: torch.Tensor, history_mean: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        if history_mean is None:
            raise ValueError(
                "a shortcut='hyper' block needs the mean of all earlier hidden outputs; "
                "call it through MLP.forward (or pass skip=...)"
            )
        return history_mean


class Block(nn.Module):
    """One hidden layer: ``T = f(W x + b) * branch_scale + shortcut(x)`` (``skip`` for hyper)."""

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
        """Logits; with ``return_hidden`` also ``T_1..T_k``."""
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
            elif init in ("he", "he_scaled", "near_identity"):
                lin.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
            else:  # lecun
                lin.weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
            lin.bias.zero_()
    if init == "he_scaled":
        with torch.no_grad():
            for b in model.blocks[1:]:
                b.linear.weight.mul_(1.0 / math.sqrt(len(model.blocks)))
    if init == "near_identity":
        with torch.no_grad():
            for b in model.blocks:
                w = b.linear.weight
                if w.shape[0] == w.shape[1]:
                    w.copy_(torch.eye(w.shape[0]) + NEAR_IDENTITY_STD * torch.randn_like(w))


def build_mlp(
    widths: Sequence[int],
    activation: str = "relu",
    shortcut: str = "none",
    init: str = "default",
    branch_scale: float | None = None,
    seed: int | None = None,
    stem_shortcut: bool = False,
) -> MLP:
    """Build a fully connected net: chapters 0, 2 (Chelombiev et al. 2019 §4), 1 (Orhan & Pitkow
    2018 §4; ``branch_scale`` is ours), 3 (Peer et al. 2022 §5), 4 (Lyu & Rodrigues 2024 §3).

    Block 1 (the stem) has no shortcut unless ``stem_shortcut`` (chapter 4's stemless control:
    every block, the first included, carries ``shortcut``)."""
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
        Block(
            widths[i],
            widths[i + 1],
            activation,
            "none" if i == 0 and not stem_shortcut else shortcut,
            branch_scale,
        )  # fmt: skip
        for i in range(len(widths) - 2)
    ]
    head = nn.Linear(widths[-2], widths[-1])
    config = dict(widths=widths, activation=activation, shortcut=shortcut, init=init,
                  branch_scale=branch_scale, stem_shortcut=stem_shortcut)  # fmt: skip
    model = MLP(blocks, head, config)
    init_weights(model, init, activation)
    return model


class ZeroPadChannels(nn.Module):
    """The parameter-free identity shortcut between unequal channel counts: the input's channels,
    then ``extra`` zero channels (He et al. 2016's option A; chapter 4's stemless CNN)."""

    def __init__(self, extra: int) -> None:
        super().__init__()
        self.extra = int(extra)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))


class ConvBlock(nn.Module):
    """``T = f(conv3x3(x)) + S(x)``; NIS = a 1×1 conv (chapter 4, Lyu & Rodrigues 2024 §3)."""

    def __init__(
        self, c_in: int, c_out: int, activation: str, shortcut: str = "none", pad: bool = False
    ) -> None:
        super().__init__()
        check_choice("shortcut", shortcut, SHORTCUTS[:4])
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.act = make_activation(activation)
        self.kind = shortcut
        if shortcut == "identity":
            if c_in != c_out and not (pad and c_in < c_out):
                raise ValueError(
                    f"shortcut='identity' needs equal channels, got {c_in} -> {c_out}; "
                    "use shortcut='projection'"
                )
            self.shortcut: nn.Module | None = (
                ZeroPadChannels(c_out - c_in) if c_in != c_out else nn.Identity()
            )
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
    """A small residual CNN (:func:`build_cnn`); an :class:`MLP` to the training loop."""

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
    stem_shortcut: bool = False,
) -> ConvNet:
    """A small residual CNN, IS or NIS (chapter 4, Lyu & Rodrigues 2024 §3); flat inputs are
    reshaped to ``in_shape`` = (C, H, W). Block 1 (the stem) has no shortcut unless
    ``stem_shortcut`` (chapter 4's stemless control, ``shortcut='identity'`` only): then its
    shortcut is the input, zero-padded to ``channels``."""
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
    if stem_shortcut and shortcut != "identity":
        raise ValueError(f"stem_shortcut needs shortcut 'identity', got {shortcut!r}")
    stem = "identity" if stem_shortcut else "none"
    blocks = [ConvBlock(in_shape[0], channels, activation, stem, pad=stem_shortcut)]
    blocks += [ConvBlock(channels, channels, activation, shortcut) for _ in range(depth - 1)]
    head = nn.Linear(channels * in_shape[1] * in_shape[2], n_classes)
    config = dict(
        arch="cnn", in_shape=list(in_shape), channels=channels, depth=depth,
        activation=activation, shortcut=shortcut, stem_shortcut=stem_shortcut,
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
    """A ViT or MLP-Mixer block, two sublayers ``S(x) + F(LayerNorm(x))`` (chapter 4, Lyu &
    Rodrigues 2024 §3; the NIS version is ours)."""

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
    """A small ViT or MLP-Mixer (:func:`build_token_net`; ``h1`` = patch embedding)."""

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
    """A small ViT or MLP-Mixer, IS or NIS (chapter 4, Lyu & Rodrigues 2024 §3)."""
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
    """K plain MLPs of equal widths as batched matmuls (chapters 0, 2: seed sets of Shwartz-Ziv &
    Tishby 2017 and Chelombiev et al. 2019); members may differ in activation."""

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
        # members whose activations form contiguous runs are activated slice by slice and
        # concatenated: index gathers and scatters cost more than the small nets' matmuls
        runs: list[tuple[nn.Module, int, int]] = []
        for k, a in enumerate(self.activations):
            if runs and self.activations[k - 1] == a:
                runs[-1] = (runs[-1][0], runs[-1][1], k + 1)
            else:
                runs.append((make_activation(a), k, k + 1))
        self._runs = runs if len(runs) == len(groups) else None

    @property
    def layer_names(self) -> list[str]:
        """``h1`` … ``hk`` as in :class:`MLP`."""
        return [f"h{i + 1}" for i in range(len(self.weights) - 1)]

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        if len(self._groups) == 1:
            return self._groups[0][0](z)
        if self._runs is not None:
            parts = z.split([b - a for _, a, b in self._runs])
            return torch.cat([act(p) for (act, _, _), p in zip(self._runs, parts, strict=True)])
        out = torch.empty_like(z)
        for act, ix in self._groups:
            ix = ix.to(z.device)
            out[ix] = act(z[ix])
        return out

    def forward(
        self, x: torch.Tensor, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """``x``: K × B × d_in (or B × d_in, or B images, shared). Returns logits K × B × d_out
        (and hidden)."""
        if x.dim() == 4:  # B × C × H × W images, flattened as :class:`MLP` does
            x = x.flatten(1)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.K, -1, -1)
        # list(...) rather than slicing: slicing a ParameterList builds a new module every call
        ws, bs = list(self.weights), list(self.biases)
        # feature-major (K × d × B): W @ Hᵀ has the batch as its long side, which CPU batched
        # matmuls run several times faster than H @ Wᵀ for these narrow layers
        hidden = []
        h = x.transpose(1, 2)
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            h = self._act(torch.baddbmm(b.transpose(1, 2), w, h))
            if return_hidden:  # else every layer's activations would stay alive to the end
                hidden.append(h.transpose(1, 2))
        logits = torch.baddbmm(bs[-1].transpose(1, 2), ws[-1], h).transpose(1, 2).contiguous()
        return (logits, hidden) if return_hidden else logits

    def l2_penalties(self) -> torch.Tensor:
        """Per-member Σ_hidden ‖W‖²/2, shape K (as :func:`ibcore.train.l2_penalty`)."""
        return sum(0.5 * (w**2).sum(dim=(1, 2)) for w in list(self.weights)[:-1])  # type: ignore[return-value]
