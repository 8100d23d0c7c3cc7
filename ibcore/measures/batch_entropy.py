"""Batch entropy and the layerwise batch-entropy (LBE) loss, in nats (chapter 3).

Peer, Keulen, Stabinger, Piater & Rodríguez-Sánchez, TMLR 2022 (arXiv 2208.01134): §3 batch
entropy, §4 the LBE loss (section numbers not checked against the PDF). Term for term the
authors' ``experiment_fnn/batch_entropy.py`` (``peerdavid/layerwise-batch-entropy`` at
``be2337b``), except that the variance is ``x.var(unbiased=True)`` (finite gradient at zero),
``lbe_alpha_min`` is a buffer (runs on CPU), half precision is upcast to float32, and bad input
raises one ``ValueError`` line naming the layer. Batch on dim 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LBELoss",
    "EnsembleLBELoss",
    "MiddleLayersLBELoss",
    "batch_entropy",
    "ensemble_batch_entropy",
    "batch_entropy_per_layer",
]

_PI_E = math.pi * math.e


def _check_activation(x: torch.Tensor, name: str) -> None:
    """Check the shape and dtype of one activation tensor (no device sync)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must have shape (B, ...) with at least 2 dims (batch first), "
            f"got shape {tuple(x.shape)}"
        )
    if x.shape[0] < 2:
        raise ValueError(
            f"batch_entropy needs a batch of at least 2 samples, got {x.shape[0]} "
            f"({name} has shape {tuple(x.shape)})"
        )
    if x[0].numel() == 0:
        raise ValueError(f"{name} has no units: shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def _entropy_unchecked(x: torch.Tensor) -> torch.Tensor:
    """Mean over units of 0.5*ln(pi*e*var_u + 1); no validation, no device sync."""
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    x = torch.flatten(x, start_dim=1)  # (B, U); for conv maps U = C*H*W
    var = x.var(dim=0, unbiased=True)  # (U,), divides by B - 1 like torch.std's default
    return torch.mean(0.5 * torch.log(_PI_E * var + 1.0))


def _raise_not_finite(x: torch.Tensor, name: str) -> None:
    """Explain a non-finite entropy: bad input, or finite input whose variance overflowed."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf activations")
    raise ValueError(
        f"batch entropy of {name} is not finite: the batch variance overflowed {x.dtype} "
        f"(max |activation| = {x.abs().max().item():.3g})"
    )


def batch_entropy(x: torch.Tensor) -> torch.Tensor:
    """Batch entropy in nats: ``mean_u 0.5 * ln(pi * e * var_u + 1)`` over units of ``x`` (B, ...).

    ``var_u`` is the unbiased variance over the batch (B ≥ 2); 0 exactly for a constant unit. Not
    the textbook Gaussian entropy. Chapter 3; Peer et al. 2022, §3; authors' ``batch_entropy``.
    Raises ``ValueError`` for fewer than 2 dims or samples, no units, non-float or non-finite input.
    """
    _check_activation(x, "x")
    h = _entropy_unchecked(x)
    if not bool(torch.isfinite(h)):
        _raise_not_finite(x, "x")
    return h


class _StackedEntropy(torch.autograd.Function):
    """Batch entropies of ``(..., B, U)`` over the batch dim -2, mean over units: ``(...)``.

    The same values as ``mean_u 0.5 ln(pi e var_u + 1)`` with autograd; the backward is one
    product, ``dH/da_bu = pi e (a_bu - mean_b) / (U (B - 1) (pi e var_u + 1))`` (the mean's own
    term vanishes: the deviations sum to zero), instead of autograd's passes through mean,
    subtraction, square and sum.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor) -> torch.Tensor:  # noqa: D102
        d = a - a.mean(dim=-2, keepdim=True)
        s = (d * d).sum(dim=-2).mul_(_PI_E / (a.shape[-2] - 1)).add_(1.0)  # pi e var + 1
        ctx.save_for_backward(d, s)
        return torch.log(s).mean(dim=-1).mul_(0.5)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # noqa: D102
        d, s = ctx.saved_tensors
        coef = g.unsqueeze(-1) * (_PI_E / (d.shape[-1] * (d.shape[-2] - 1))) / s  # (..., U)
        return d * coef.unsqueeze(-2)


class _FeatureMajorEntropies(torch.autograd.Function):
    """``(L, ...)`` batch entropies of ``L`` feature-major layers ``(..., U, B)`` (the batch on
    the last, contiguous dim), mean over units; the ensemble's layers as they lie.

    Chapter 3 (Peer et al. 2022, §3). Layer by layer, no stacked copy: the deviations from the
    batch mean are kept, and the backward, ``dH/da = pi e (a - mean_b) / (U (B - 1) (pi e var +
    1))``, is one product per layer.
    """

    @staticmethod
    def forward(ctx, *layers: torch.Tensor) -> torch.Tensor:  # noqa: D102
        out, saved = [], []
        for a in layers:
            d = a - a.mean(dim=-1, keepdim=True)
            s = (d * d).sum(dim=-1, keepdim=True).mul_(_PI_E / (a.shape[-1] - 1)).add_(1.0)
            out.append(torch.log(s).mean(dim=(-2, -1)).mul_(0.5))  # s: pi e var + 1
            saved += [d, s]
        ctx.save_for_backward(*saved)
        return torch.stack(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, ...]:  # noqa: D102
        saved = ctx.saved_tensors
        grads = []
        for i in range(len(saved) // 2):
            d, s = saved[2 * i : 2 * i + 2]
            n_units, n_batch = d.shape[-2], d.shape[-1]
            coef = g[i][..., None, None] * (_PI_E / (n_units * (n_batch - 1))) / s
            grads.append(d * coef)
        return tuple(grads)


def _entropies_stacked(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(L,)`` entropies of equally shaped layers in one pass over ``(L, B, U)``, unchecked."""
    a = torch.stack([h.flatten(1) for h in hidden])  # (L, B, U)
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()
    return _StackedEntropy.apply(a)


def _stack_entropies(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """Differentiable ``(L,)`` batch entropies, checked (same batch size), with one device sync."""
    first = hidden[0]
    _check_activation(first, "hidden[0]")
    same = True  # a layer shaped like hidden[0] passes the same checks: test only the others
    for i, a in enumerate(hidden):
        if (
            isinstance(a, torch.Tensor)
            and a.shape == first.shape
            and a.dtype == first.dtype
            and a.device == first.device
        ):
            continue
        same = False
        _check_activation(a, f"hidden[{i}]")
        if a.shape[0] != first.shape[0]:
            raise ValueError(
                f"hidden[{i}] has batch size {a.shape[0]} but hidden[0] has "
                f"{first.shape[0]}: every layer must come from the same batch"
            )
    if len(hidden) > 1 and same:
        entropies = _entropies_stacked(hidden)
    else:
        entropies = torch.stack([_entropy_unchecked(a) for a in hidden])
    if not bool(torch.isfinite(entropies).all()):
        bad = int((~torch.isfinite(entropies)).nonzero()[0, 0])
        _raise_not_finite(hidden[bad], f"hidden[{bad}]")
    return entropies


def batch_entropy_per_layer(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(L,)`` tensor of ``batch_entropy(hidden[l])`` in nats, differentiable; one batch size.

    Chapter 3; Peer et al. 2022, §3 and the information-flow figure; authors'
    ``experiment_info_flow/train.py``. Errors name the layer as ``hidden[i]``.
    """
    if len(hidden) == 0:
        raise ValueError("batch_entropy_per_layer needs at least one layer, got an empty sequence")
    return _stack_entropies(hidden)


def _check_hyper(name: str, value: float) -> float:
    try:
        if isinstance(value, bool | str | bytes):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a finite number >= 0, got {type(value).__name__} {value!r}"
        ) from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v


def _is_count(value: object, low: int) -> bool:
    """Whether ``value`` is a whole number >= ``low`` (an int, or a float such as 3.0)."""
    if isinstance(value, bool | str | bytes):
        return False
    try:
        return int(value) == value and value >= low  # type: ignore[call-overload, operator]
    except (TypeError, ValueError, OverflowError):
        return False


class LBELoss(nn.Module):
    """Cross-entropy with layerwise batch-entropy regularisation (chapter 3; Peer et al. 2022, §4).

    ``total = CE * (1 + lbe_beta * mean_l (H_l - tau_l)**2)`` with ``tau_l = max(lbe_alpha_min,
    |lbe_alpha_p[l]|)`` over the ``len(hidden)`` layers passed. As in the authors' code
    ``lbe_alpha`` is the target entropy (nats) and ``lbe_beta`` the weight; the targets
    ``lbe_alpha_p`` are learnable, so give ``criterion.parameters()`` to the optimiser.
    ``lbe_beta == 0`` returns plain ``F.cross_entropy``. Authors' ``LBELoss``; paper 500-layer
    values 2.0 / 0.2 / 0.1.
    """

    lbe_alpha_min: torch.Tensor

    def __init__(
        self,
        num_layers: int,
        lbe_alpha: float = 0.5,
        lbe_alpha_min: float = 0.5,
        lbe_beta: float = 1.0,
    ) -> None:
        super().__init__()
        if not _is_count(num_layers, 1):
            raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        self.num_layers = int(num_layers)
        self.lbe_alpha = _check_hyper("lbe_alpha", lbe_alpha)
        self.lbe_beta = _check_hyper("lbe_beta", lbe_beta)
        alpha_min = _check_hyper("lbe_alpha_min", lbe_alpha_min)
        self.lbe_alpha_p = nn.Parameter(torch.full((self.num_layers,), self.lbe_alpha))
        self.register_buffer("lbe_alpha_min", torch.tensor(alpha_min))

    def extra_repr(self) -> str:
        return (
            f"num_layers={self.num_layers}, lbe_alpha={self.lbe_alpha}, "
            f"lbe_alpha_min={float(self.lbe_alpha_min)}, lbe_beta={self.lbe_beta}"
        )

    def targets(self, num: int | None = None) -> torch.Tensor:
        """``tau_l = max(lbe_alpha_min, |alpha_l|)``, shape ``(num,)`` (Peer et al. 2022, §4)."""
        n = self.num_layers if num is None else num
        return torch.maximum(self.lbe_alpha_min, self.lbe_alpha_p[:n].abs())

    def components(
        self, logits: torch.Tensor, target: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Loss terms: ``total``, ``ce``, ``lbe`` (0-dim) and detached ``entropies``, ``targets``.

        Chapter 3; Peer et al. 2022, §4. Raises ``ValueError`` if ``len(hidden) > num_layers``, if
        ``hidden`` is empty while ``lbe_beta > 0``, or if an activation fails the checks.
        """
        n = len(hidden)
        if n > self.num_layers:
            raise ValueError(
                f"LBELoss got {n} hidden activations but was built with num_layers="
                f"{self.num_layers}; build it with num_layers >= {n}"
            )
        ce = F.cross_entropy(logits, target)
        if self.lbe_beta == 0.0:
            with torch.no_grad():
                entropies = _stack_entropies(hidden) if n else ce.new_zeros(0)
                targets = self.targets(n).detach()
            return {
                "total": ce,
                "ce": ce,
                "lbe": torch.zeros_like(ce),
                "entropies": entropies,
                "targets": targets,
            }
        if n == 0:
            raise ValueError(
                "LBELoss got no hidden activations while lbe_beta > 0; pass the regularised "
                "layers, or use lbe_beta=0 for plain cross-entropy"
            )
        entropies = _stack_entropies(hidden)  # (L,)
        tau = self.targets(n)  # (L,)
        lbe = torch.mean(self.lbe_beta * (entropies - tau) ** 2) * ce
        return {
            "total": ce + lbe,
            "ce": ce,
            "lbe": lbe,
            "entropies": entropies.detach(),
            "targets": tau.detach(),
        }

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """``CE * (1 + lbe_beta * mean_l (H_l - tau_l)**2)`` in nats (Peer et al. 2022, §4)."""
        return self.components(logits, target, hidden)["total"]


# --- chapter 3: LBE on the middle layers of the authors' deep vanilla FNN ---


class MiddleLayersLBELoss(nn.Module):
    """:class:`LBELoss` on ``hidden[1:-1]``, the ``depth - 2`` middle layers of a deep FNN.

    The authors' deep vanilla FNN regularises neither the first nor the last hidden layer.
    Chapter 3; Peer et al. 2022, §4 and §5.
    """

    def __init__(
        self, depth: int, lbe_alpha: float = 0.5, lbe_alpha_min: float = 0.5, lbe_beta: float = 1.0
    ) -> None:
        super().__init__()
        if not _is_count(depth, 3):
            raise ValueError(f"parameter 'depth' must be an integer >= 3, got {depth!r}")
        self.depth = int(depth)
        self.lbe = LBELoss(self.depth - 2, lbe_alpha, lbe_alpha_min, lbe_beta)

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """``CE * (1 + beta * mean_l (H_l - tau_l)**2)`` over ``hidden[1:-1]`` (nats)."""
        if len(hidden) != self.depth:
            raise ValueError(
                f"MiddleLayersLBELoss was built for depth={self.depth} but got {len(hidden)} "
                "hidden layers"
            )
        return self.lbe(logits, target, hidden[1:-1])


# --- chapter 3: the same loss for K stacked nets (ibcore.models.EnsembleMLP), one row each ---


def ensemble_batch_entropy(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(K, L)`` batch entropies in nats of ``L`` layers of ``K`` stacked nets, each ``(K, B, U)``.

    Row ``k`` equals :func:`batch_entropy_per_layer` of member ``k``'s layers (unbiased variance
    over the batch dimension 1). Chapter 3; Peer et al. 2022, §3. Unchecked: the ensemble's
    own layers.
    """
    if all(
        h.dim() == 3
        and h.dtype in (torch.float32, torch.float64)
        and h.transpose(1, 2).is_contiguous()
        for h in hidden
    ):
        # views of feature-major (K, U, B) layers (EnsembleMLP's): read as they lie, no copy
        return _FeatureMajorEntropies.apply(*[h.transpose(1, 2) for h in hidden]).transpose(0, 1)
    a = torch.stack(list(hidden))  # (L, K, B, U)
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()
    return _StackedEntropy.apply(a).transpose(0, 1)


class EnsembleLBELoss(nn.Module):
    """Per-member LBE loss of ``K`` stacked deep FNNs on their middle layers ``hidden[1:-1]``.

    Member ``k``: ``CE_k * (1 + beta_k * mean_l (H_kl - tau_kl)**2)``, ``tau_kl =
    max(alpha_min_k, |alpha_kl|)``, the learnable targets starting at ``lbe_alpha[k]``; exactly
    :class:`MiddleLayersLBELoss` for each member, and plain cross-entropy where ``beta_k = 0``.
    ``forward`` returns the ``(K,)`` member losses. Chapter 3; Peer et al. 2022, §4 and §5.
    """

    lbe_alpha_min: torch.Tensor
    lbe_beta: torch.Tensor

    def __init__(
        self,
        depth: int,
        lbe_alpha: Sequence[float],
        lbe_alpha_min: Sequence[float],
        lbe_beta: Sequence[float],
    ) -> None:
        super().__init__()
        if not _is_count(depth, 3):
            raise ValueError(f"parameter 'depth' must be an integer >= 3, got {depth!r}")
        k = len(lbe_alpha)
        if k < 1 or len(lbe_alpha_min) != k or len(lbe_beta) != k:
            raise ValueError(
                "EnsembleLBELoss needs one lbe_alpha, lbe_alpha_min and lbe_beta per member, got "
                f"{len(lbe_alpha)}, {len(lbe_alpha_min)}, {len(lbe_beta)}"
            )
        self.depth, self.K = int(depth), k
        alpha = [_check_hyper("lbe_alpha", a) for a in lbe_alpha]
        amin = [_check_hyper("lbe_alpha_min", a) for a in lbe_alpha_min]
        beta = [_check_hyper("lbe_beta", b) for b in lbe_beta]
        self.lbe_alpha_p = nn.Parameter(
            torch.tensor(alpha)[:, None].repeat(1, self.depth - 2).contiguous()
        )  # (K, L)
        self.register_buffer("lbe_alpha_min", torch.tensor(amin)[:, None])
        self.register_buffer("lbe_beta", torch.tensor(beta))

    def targets(self) -> torch.Tensor:
        """``tau = max(alpha_min, |alpha|)``, shape ``(K, depth - 2)`` (Peer et al. 2022, §4)."""
        return torch.maximum(self.lbe_alpha_min, self.lbe_alpha_p.abs())

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """``(K,)`` member losses from logits ``(K, B, C)``, labels ``(K, B)``, hidden ``(K, B, U)``."""
        if len(hidden) != self.depth:
            raise ValueError(
                f"EnsembleLBELoss was built for depth={self.depth} but got {len(hidden)} "
                "hidden layers"
            )
        ce = F.cross_entropy(logits.transpose(1, 2), target, reduction="none").mean(1)  # (K,)
        h = ensemble_batch_entropy(hidden[1:-1])  # (K, L)
        off = ((h - self.targets()) ** 2).mean(1)  # (K,)
        return ce * (1.0 + self.lbe_beta * off)
