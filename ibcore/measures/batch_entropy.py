"""Batch-entropy and the layerwise batch-entropy (LBE) loss.

Serves Chapter 3 (``notebooks/03_batch_entropy``), which reproduces Peer, Keulen, Stabinger, Piater
and Rodríguez-Sánchez, *Improving the Trainability of Deep Neural Networks through Layerwise
Batch-Entropy Regularization*, TMLR 2022 (arXiv 2208.01134): §3 defines batch entropy, §4 the LBE
loss. The code follows the authors' ``experiment_fnn/batch_entropy.py`` (repository
``peerdavid/layerwise-batch-entropy`` at ``be2337b``) term for term. The section numbers cited
here (§3 batch entropy, §4 LBE loss) have not been checked against the paper PDF.

All entropies are in **nats**. Every public function expects activation tensors with the batch
on dim 0. Only two things differ from the authors' code, and neither changes a value:

* the per-unit variance is ``x.var(dim=0, unbiased=True)`` instead of ``torch.std(...)**2``.
  The two are mathematically identical, but ``var`` avoids the square root at zero, so a dead layer
  has a finite (zero) gradient;
* ``lbe_alpha_min`` is a registered buffer rather than a tensor hard-coded to ``"cuda"``, so
  :class:`LBELoss` runs on CPU and follows ``.to(device)``.

There are two further additions. Bad input (not finite, a batch that is too small, layers of
different batch sizes) raises :class:`ValueError` with one line saying what is wrong and naming
the layer; it is checked once, at the public functions. Half-precision (float16/bfloat16)
activations are upcast to float32 before the variance is taken, which the authors' code did not
do. Only for such inputs can the value differ (it is more accurate).

Layers of one shape (a deep net of equal widths) are handled in one vectorised pass over the
stacked ``(L, B, U)`` activations.

:class:`MiddleLayersLBELoss` applies LBE to the authors' ``D-2`` middle layers; the chapter's
runner is :func:`ibcore.claims.ch3_batch_entropy.lbe_run`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LBELoss",
    "MiddleLayersLBELoss",
    "batch_entropy",
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
    """Batch entropy of one layer's activations, in nats (Peer et al. 2022, §3).

    The entropy of each unit is estimated from the mini-batch under a Gaussian assumption, using the
    authors' form, and averaged over units::

        x -> (B, U) (flatten from dim 1),  var_u = unbiased variance over the batch (divides by B-1)
        h_u = 0.5 * ln(pi * e * var_u + 1),   H = mean_u h_u

    This is **not** the textbook Gaussian entropy ``0.5*ln(2*pi*e*var)``. It uses ``pi*e`` and adds
    ``+1`` inside the log, so ``h_u >= 0``, ``h_u == 0`` exactly when a unit is constant over the
    batch, and the gradient at that point is finite (it is zero).

    Chapter 3 (``notebooks/03_batch_entropy``); Peer et al. 2022, §3 (batch entropy); authors' code
    ``experiment_fnn/batch_entropy.py::batch_entropy``.

    Args:
        x: activations of shape ``(B, ...)`` with ``B >= 2``, batch on dim 0. Every remaining entry
            is its own unit: for a conv map ``(B, C, H, W)`` there are ``U = C*H*W`` units. Floating
            point; float16/bfloat16 inputs are upcast to float32.

    Returns:
        A 0-dim tensor (nats, ``>= 0``) that is differentiable with respect to ``x``. Its dtype is
        that of ``x`` (float32 for half-precision input).

    Raises:
        ValueError: if ``x`` has fewer than 2 dims or fewer than 2 samples, has no units, is not
            floating point, or contains NaN/inf (or its batch variance overflows).
    """
    _check_activation(x, "x")
    h = _entropy_unchecked(x)
    if not bool(torch.isfinite(h)):
        _raise_not_finite(x, "x")
    return h


def _entropies_stacked(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(L,)`` entropies of equally shaped layers in one vectorised pass (no validation).

    The layers are stacked to ``(L, B, U)`` and the unbiased variance over the batch is taken
    in two passes (mean, then squared deviations): a handful of tensor operations for the whole
    net instead of a handful per layer. Equal to the per-layer loop up to float rounding; a unit
    that is constant over the batch still gives exactly 0, since ``1 + pi*e*var`` rounds to 1.
    """
    a = torch.stack([h.flatten(1) for h in hidden])  # (L, B, U)
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()
    d = a - a.mean(dim=1, keepdim=True)
    var = (d * d).sum(dim=1) / (a.shape[1] - 1)  # (L, U), divides by B - 1
    return torch.mean(0.5 * torch.log(_PI_E * var + 1.0), dim=1)


def _stack_entropies(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """Differentiable ``(L,)`` batch entropies with one finiteness check (one device sync).

    The input check of :func:`batch_entropy_per_layer` and :class:`LBELoss`: every layer passes
    :func:`_check_activation` and has the batch size of ``hidden[0]``. Layers of one shape, dtype
    and device (a deep net of equal widths) go through :func:`_entropies_stacked` in one pass;
    anything else is computed layer by layer.
    """
    for i, a in enumerate(hidden):
        _check_activation(a, f"hidden[{i}]")
        if a.shape[0] != hidden[0].shape[0]:
            raise ValueError(
                f"hidden[{i}] has batch size {a.shape[0]} but hidden[0] has "
                f"{hidden[0].shape[0]}: every layer must come from the same batch"
            )
    first = hidden[0]
    if len(hidden) > 1 and all(
        a.shape == first.shape and a.dtype == first.dtype and a.device == first.device
        for a in hidden
    ):
        entropies = _entropies_stacked(hidden)
    else:
        entropies = torch.stack([_entropy_unchecked(a) for a in hidden])
    if not bool(torch.isfinite(entropies).all()):
        bad = int((~torch.isfinite(entropies)).nonzero()[0, 0])
        _raise_not_finite(hidden[bad], f"hidden[{bad}]")
    return entropies


def batch_entropy_per_layer(hidden: Sequence[torch.Tensor]) -> torch.Tensor:
    """Batch entropy of every layer in ``hidden``, stacked into shape ``(L,)``, in nats.

    Element ``l`` equals ``batch_entropy(hidden[l])``. The result stays differentiable; call
    ``.detach()`` before logging. Layers may have different shapes, but every layer must share
    the same batch size ``B >= 2`` and device. The authors' logged summaries are ``H_out = H[-1]``,
    ``H_avg = H.mean()`` and ``H_pos_count = (H > 0).sum()``. Their info-flow plots show
    ``log(1 + H)``.

    Chapter 3 (``notebooks/03_batch_entropy``, per-layer entropy plots); Peer et al. 2022, §3 and
    the information-flow figure; authors' code ``experiment_info_flow/train.py``.

    Args:
        hidden: a non-empty sequence of L activation tensors, each of shape ``(B, ...)``.

    Returns:
        Tensor of shape ``(L,)`` with the per-layer batch entropies (nats).

    Raises:
        ValueError: if ``hidden`` is empty, if any layer fails the checks of
            :func:`batch_entropy`, or if a layer's batch size differs from that of ``hidden[0]``.
            The message names the offending layer as ``hidden[i]``.
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
    """Cross-entropy with layerwise batch-entropy regularisation (Peer et al. 2022, §4).

    For logits, targets and L regularised hidden activations ``A = [a_0, ..., a_{L-1}]``::

        H_l   = batch_entropy(a_l)                               (nats)
        tau_l = max(lbe_alpha_min, |lbe_alpha_p[l]|)             (learnable target entropy)
        lbe   = mean_l( lbe_beta * (H_l - tau_l)**2 ) * CE
        total = CE + lbe  =  CE * (1 + lbe_beta * mean_l (H_l - tau_l)**2)

    The LBE term **multiplies** the cross-entropy, so it fades as CE goes to 0. The mean is taken
    over the ``len(hidden)`` layers actually passed. Those layers use ``lbe_alpha_p[:len(hidden)]``.
    Any extra alphas (``num_layers > len(hidden)``, as in the authors' deep vanilla FNN) get zero
    gradient.

    **Naming trap (kept from the authors' code):** ``lbe_alpha`` is the *target entropy* (nats) and
    ``lbe_beta`` is the *weight* of the regulariser. It is not the other way round.

    **The targets are learnable.** ``lbe_alpha_p`` is an :class:`~torch.nn.Parameter`. Pass the
    criterion's parameters to the optimiser, e.g.
    ``torch.optim.Adam(list(model.parameters()) + list(criterion.parameters()), lr=...)``.
    Otherwise the targets stay frozen at ``lbe_alpha``. This is a silent change of method. The
    gradient on ``alpha_l`` is ``-2 * lbe_beta * CE / L * (H_l - |alpha_l|) * sign(alpha_l)`` while
    ``|alpha_l| > lbe_alpha_min``, so each target moves towards its layer's current entropy. Once
    ``|alpha_l| < lbe_alpha_min`` the floor holds and the gradient is exactly zero. Optimiser
    weight decay also decays the alphas, as in the authors' ResNet/AE runs. Move the criterion to
    the model's device with ``criterion.to(device)``.

    ``lbe_beta == 0`` is the authors' ``CELoss`` baseline: ``forward`` returns
    ``F.cross_entropy(logits, target)`` exactly. Entropies are still computed (detached) for
    logging. The authors' scripts exit when ``(lbe_alpha == 0) != (lbe_beta == 0)``. This class
    allows every combination. For example, ``lbe_alpha = 0`` with ``lbe_beta > 0`` simply leaves
    ``lbe_alpha_min`` as the target.

    Chapter 3 (``notebooks/03_batch_entropy``); Peer et al. 2022, §4 (LBE loss); authors' code
    ``experiment_fnn/batch_entropy.py::LBELoss``. The defaults (used by the CPU notebook) are
    ``lbe_alpha=0.5, lbe_alpha_min=0.5, lbe_beta=1.0``. The paper's 500-layer values are
    ``2.0 / 0.2 / 0.1``.

    Args:
        num_layers: number of learnable targets, ``>= 1``. Must be ``>= len(hidden)`` at every call.
        lbe_alpha: initial target entropy for every layer (nats, ``>= 0``).
        lbe_alpha_min: fixed floor on the target entropy (nats, ``>= 0``), stored as a buffer.
        lbe_beta: weight of the LBE term (``>= 0``). ``0`` gives plain cross-entropy.

    Attributes:
        lbe_alpha_p: ``nn.Parameter`` of shape ``(num_layers,)``, initialised to ``lbe_alpha``.
        lbe_alpha_min: 0-dim float32 buffer.
        lbe_beta: float.
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
        """Current target entropies ``tau_l = max(lbe_alpha_min, |alpha_l|)``, shape ``(num,)``, nats.

        Differentiable with respect to ``lbe_alpha_p``. ``num`` defaults to ``num_layers``.
        Chapter 3; Peer et al. 2022, §4 (adaptive targets).
        """
        n = self.num_layers if num is None else num
        return torch.maximum(self.lbe_alpha_min, self.lbe_alpha_p[:n].abs())

    def components(
        self, logits: torch.Tensor, target: torch.Tensor, hidden: Sequence[torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """All terms of the loss, for training and logging (Peer et al. 2022, §4; Chapter 3).

        Args:
            logits: ``(B, K)`` class scores (anything :func:`torch.nn.functional.cross_entropy`
                accepts).
            target: ``(B,)`` integer class labels (or class probabilities of the same shape as
                ``logits``).
            hidden: the L regularised activations, each ``(B, ...)`` with the same ``B``, with
                ``1 <= L <= num_layers`` (``L = 0`` is allowed only when ``lbe_beta == 0``).

        Returns:
            A dict of tensors:

            * ``"total"``: 0-dim, differentiable. ``ce + lbe``; the value to backpropagate.
            * ``"ce"``: 0-dim, differentiable. Mean cross-entropy (nats).
            * ``"lbe"``: 0-dim, differentiable. The product term ``mean_l(beta*(H_l-tau_l)**2)*ce``,
              which is exactly 0 when ``lbe_beta == 0``.
            * ``"entropies"``: ``(L,)``, detached. Per-layer batch entropies ``H_l`` (nats).
            * ``"targets"``: ``(L,)``, detached. Per-layer targets ``tau_l`` (nats).

        Raises:
            ValueError: if ``len(hidden) > num_layers``, if ``hidden`` is empty while
                ``lbe_beta > 0``, or if an activation fails the checks of
                :func:`batch_entropy_per_layer` (those of :func:`batch_entropy`, one batch size).
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
        """Total loss ``CE * (1 + lbe_beta * mean_l (H_l - tau_l)**2)``, a 0-dim tensor (nats).

        Shapes and errors are as in :meth:`components`. Chapter 3; Peer et al. 2022, §4; authors'
        ``LBELoss.__call__`` (which also returned ``ce`` and ``lbe``; use :meth:`components` for
        those).
        """
        return self.components(logits, target, hidden)["total"]


# ------------------------------------------------------------------------------------------------
# Chapter 3 runner: the authors' deep vanilla FNN, trained with or without LBE
# ------------------------------------------------------------------------------------------------


class MiddleLayersLBELoss(nn.Module):
    """:class:`LBELoss` on the ``depth - 2`` middle layers of a deep vanilla FNN (Chapter 3).

    The authors' FNN (``experiment_fnn`` / ``experiment_deep_vanilla_fnn``) has ``depth``
    Linear+ReLU layers and a linear classifier, and regularises only the post-ReLU outputs of
    layers ``2 .. depth-1``: not the first layer (``fc_in``), not the last hidden layer
    (``fc_embeddings``), not the logits. Given the hidden list ``[T_1, ..., T_depth]`` of
    :meth:`ibcore.models.MLP.forward`, this criterion passes ``hidden[1:-1]`` to an
    :class:`LBELoss` with ``num_layers = depth - 2``, so it plugs into
    :func:`ibcore.train.train` as ``criterion=``. Its only parameters are the learnable targets
    ``self.lbe.lbe_alpha_p``, which :func:`~ibcore.train.train` optimises with the model.

    Peer et al. 2022, §4 and §5 (deep vanilla FNN).

    Args:
        depth: number of hidden (Linear+ReLU) layers, ``>= 3``.
        lbe_alpha, lbe_alpha_min, lbe_beta: as in :class:`LBELoss` (target entropy in nats,
            its floor, the weight).
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
