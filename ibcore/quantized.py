"""Quantized networks whose information can be counted exactly (chapter 5; Lorenzen, Igel &
Nielsen 2022, §3 and their code's quantization: TensorFlow Model Optimization's fake quantization).

A quantized net is a case of the book's one model and training loop: :class:`QuantizedEnsembleMLP`
is an :class:`~ibcore.models.EnsembleMLP` (K members trained side by side by
:func:`ibcore.train.train`) whose layers pass through fake quantization with straight-through
gradients, as the authors' networks do:

========================  ==================================  ==================================
tensor                    tanh network                        ReLU network
========================  ==================================  ==================================
hidden kernels            float                               last-value range, ``bits``
hidden activations        tanh, then the range of the current  ReLU, then a moving-average range
                          tensor (not learned), ``bits``      (decay 0.999, from ∓6), ``bits``
output kernel             last-value range, ``bits``          the same
logits                    moving-average range, ``bits``;     the same
                          the softmax is not quantized
biases                    never quantized                     never quantized
========================  ==================================  ==================================

The op is TensorFlow's ``fake_quant_with_min_max_vars`` (:func:`fake_quant`): the range is nudged
so that 0 is a grid point, values are clamped to it and rounded by ``floor(x/s + 0.5)`` (ties go
up, unlike NumPy's and torch's round-half-to-even), and the gradient passes where the value was
inside the range (to the range's ends where it was outside). ``bits=None`` is the float net (the
authors' "32-bit" networks are plain float32 networks).

In eval mode (snapshots, evaluation) the moving averages and the last-value ranges are frozen and
:attr:`QuantizedEnsembleMLP.codes` holds the integer codes of every layer of the latest forward
(``K × N × d``, logits last): :mod:`ibcore.measures.exact` counts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ibcore.models import MLP, EnsembleMLP, build_mlp
from ibcore.schema import check_choice

BITS = (4, 8)
"""The authors' bit widths (their code allows 4 and 8; "32" is the float net, ``bits=None``)."""
QUANT_ACTIVATIONS = ("tanh", "relu")
EMA_DECAY = 0.999
"""Decay of the moving-average ranges (TensorFlow Model Optimization's default)."""
EMA_START = 6.0
"""The moving-average ranges start at ``[-6, 6]``."""


def nudged_range(
    lo: torch.Tensor, hi: torch.Tensor, bits: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TensorFlow's ``Nudge``: the step ``s`` and the range ``[nlo, nhi]`` on which 0 is a grid
    point, from ``[lo, hi]`` (chapter 5). A range of zero width gets a step of 1e-12."""
    qmax = float(2**bits - 1)
    s = ((hi - lo) / qmax).clamp_min(1e-12)
    zp = (-lo / s).clamp(0.0, qmax)
    zp = torch.floor(zp + 0.5)  # std::round on a value >= 0
    return s, -zp * s, (qmax - zp) * s


def quant_codes(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bits: int) -> torch.Tensor:
    """The integer codes ``0 … 2**bits − 1`` of :func:`fake_quant` (int16; chapter 5)."""
    s, nlo, nhi = nudged_range(lo, hi, bits)
    return torch.floor((torch.minimum(torch.maximum(x, nlo), nhi) - nlo) / s + 0.5).to(torch.int16)


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi, bits):  # type: ignore[override]  # noqa: D102
        s, nlo, nhi = nudged_range(lo, hi, bits)
        xc = torch.minimum(torch.maximum(x, nlo), nhi)
        out = torch.floor((xc - nlo) / s + 0.5) * s + nlo
        ctx.save_for_backward(x, nlo, nhi)
        ctx.lo_shape, ctx.hi_shape = lo.shape, hi.shape
        return out

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]  # noqa: D102
        x, nlo, nhi = ctx.saved_tensors
        below, above = x < nlo, x > nhi
        dx = g * ~(below | above)
        dlo = (g * below).sum_to_size(ctx.lo_shape)  # the broadcast dimensions summed away
        dhi = (g * above).sum_to_size(ctx.hi_shape)
        return dx, dlo, dhi, None


def fake_quant(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bits: int) -> torch.Tensor:
    """TensorFlow's ``fake_quant_with_min_max_vars(x, lo, hi, bits)`` with its gradient
    (chapter 5; Lorenzen et al. 2022 quantize with it). ``lo``/``hi`` broadcast against ``x``
    (one range per ensemble member: ``K × 1 × 1``)::

        s = (hi − lo) / (2^b − 1);  zp = round(clamp(−lo / s, 0, 2^b − 1))
        nlo = −zp s;  nhi = (2^b − 1 − zp) s
        out = floor((clamp(x, nlo, nhi) − nlo) / s + 0.5) s + nlo

    Gradients: ``x`` where ``nlo ≤ x ≤ nhi``; ``lo`` (``hi``) the sum where ``x`` is below
    (above) the range.
    """
    if bits not in BITS:
        raise ValueError(f"parameter 'bits' = {bits!r}; choose one of {BITS}")
    return _FakeQuant.apply(x, lo, hi, bits)


class QuantizedEnsembleMLP(EnsembleMLP):
    """K quantized MLPs of one activation (``tanh`` or ``relu``) trained side by side: the
    authors' networks (chapter 5; Lorenzen et al. 2022 §3, table of the module docstring).
    ``bits=None``: the float net with the same code path."""

    def __init__(self, members: Sequence[MLP], bits: int | None = 8) -> None:
        super().__init__(members)
        acts = set(self.activations)
        if len(acts) != 1 or next(iter(acts)) not in QUANT_ACTIVATIONS:
            raise ValueError(
                f"a quantized ensemble needs one activation of {QUANT_ACTIVATIONS}, got "
                f"{sorted(acts)}"
            )
        if bits is not None and bits not in BITS:
            raise ValueError(f"parameter 'bits' = {bits!r}; choose one of {BITS} or None (float)")
        self.bits = bits
        self.activation = next(iter(acts))
        n = len(self.weights)
        # moving-average ranges of the ReLU activations (hidden) and of the logits (last)
        self.register_buffer("ema_lo", torch.full((n, self.K, 1, 1), -EMA_START))
        self.register_buffer("ema_hi", torch.full((n, self.K, 1, 1), EMA_START))
        # last-value ranges of the quantized kernels (all for ReLU, the output's for tanh): set
        # by each training forward; like TensorFlow's, ∓6 until the first one
        self.register_buffer("w_lo", torch.full((n, self.K, 1, 1), -EMA_START))
        self.register_buffer("w_hi", torch.full((n, self.K, 1, 1), EMA_START))
        self.codes: list[torch.Tensor] = []
        for c in self.configs:
            c["bits"] = bits

    def _kernel(self, i: int, w: torch.Tensor) -> torch.Tensor:
        last = i == len(self.weights) - 1
        if self.bits is None or not (last or self.activation == "relu"):
            return w
        if self.training:
            with torch.no_grad():
                self.w_lo[i] = w.amin(dim=(1, 2), keepdim=True).clamp_max(0.0)
                self.w_hi[i] = w.amax(dim=(1, 2), keepdim=True).clamp_min(0.0)
        return fake_quant(w, self.w_lo[i], self.w_hi[i], self.bits)

    def _ema(self, i: int, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            with torch.no_grad():
                lo = a.amin(dim=(1, 2), keepdim=True).clamp_max(0.0)
                hi = a.amax(dim=(1, 2), keepdim=True).clamp_min(0.0)
                self.ema_lo[i].mul_(EMA_DECAY).add_((1 - EMA_DECAY) * lo)
                self.ema_hi[i].mul_(EMA_DECAY).add_((1 - EMA_DECAY) * hi)
        return self.ema_lo[i], self.ema_hi[i]

    def _quantize(self, i: int, a: torch.Tensor, dynamic: bool) -> torch.Tensor:
        if self.bits is None:
            return a
        if dynamic:  # the range of the current tensor, gradients through min and max
            lo, hi = a.amin(dim=(1, 2), keepdim=True), a.amax(dim=(1, 2), keepdim=True)
        else:
            lo, hi = self._ema(i, a)
        if not self.training:
            self.codes.append(quant_codes(a.detach(), lo.detach(), hi.detach(), self.bits))
        return fake_quant(a, lo, hi, self.bits)

    def forward(
        self, x: torch.Tensor, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """``x``: K × B × d_in (or B × d_in, shared). Returns the quantized logits K × B × d_out
        (and the dequantized hidden layers); in eval mode :attr:`codes` holds every layer's
        integer codes (logits last)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.K, -1, -1)
        self.codes = []
        ws, bs = list(self.weights), list(self.biases)
        hidden = []
        h = x
        for i, (w, b) in enumerate(zip(ws[:-1], bs[:-1], strict=True)):
            z = torch.baddbmm(b, h, self._kernel(i, w).transpose(1, 2))
            a = torch.tanh(z) if self.activation == "tanh" else torch.relu(z)
            h = self._quantize(i, a, dynamic=self.activation == "tanh")
            hidden.append(h)
        i = len(ws) - 1
        z = torch.baddbmm(bs[-1], h, self._kernel(i, ws[-1]).transpose(1, 2))
        logits = self._quantize(i, z, dynamic=False)
        return (logits, hidden) if return_hidden else logits


def build_quantized_ensemble(
    widths: Sequence[int], activation: str, seeds: Sequence[int], bits: int | None = 8
) -> QuantizedEnsembleMLP:
    """One quantized member per seed of ``seeds``: ``widths`` (the authors' 12-10-7-5-4-3-2),
    Glorot-uniform kernels and zero biases (Keras's defaults, which their networks keep). Chapter
    5; Lorenzen et al. 2022 §3."""
    check_choice("activation", activation, QUANT_ACTIVATIONS)
    members = []
    for s in seeds:
        m = build_mlp(widths, activation, seed=int(s))
        with torch.no_grad():
            for lin in [*(blk.linear for blk in m.blocks), m.head]:
                nn.init.xavier_uniform_(lin.weight)
                lin.bias.zero_()
        m.config["init"] = "glorot_uniform"
        members.append(m)
    return QuantizedEnsembleMLP(members, bits)
