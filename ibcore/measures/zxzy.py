"""Z-X and Z-Y measures and a fitting/compression phase detector (chapter 4).

Lyu, Aminian & Rodrigues (2023, §3) and Lyu & Rodrigues (2024, §3): ZX is the per-feature MSE
of decoding the standardised input X from Z, ZY the cross-entropy (nats) of predicting Y, both
by probes trained on a fit split and scored on a held-out split. :func:`zx_information`
(``−ln ZX``) and :func:`zy_information` (``ln K − ZY``) turn them into the information
direction (fitting = up). :func:`zxzy` trains all layers' probes as one batched model. The
papers' probe architectures were not recovered: ours are documented defaults, all parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn

Reps = Mapping[str, torch.Tensor | np.ndarray]


def _as_tensor(a: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(a).detach().float().cpu()


def _check_inputs(reps: Reps, x: torch.Tensor | np.ndarray | None, y: torch.Tensor | None) -> tuple:
    if not isinstance(reps, Mapping) or not reps:
        raise ValueError("parameter 'reps' must be a non-empty mapping {layer: N × d array}")
    zs = {}
    n = None
    for k, v in reps.items():
        t = _as_tensor(v)
        if t.ndim < 2:
            raise ValueError(
                f"parameter 'reps[{k!r}]' must be N × d (2-D or more), got shape {tuple(t.shape)}"
            )
        t = t.flatten(1)
        if not torch.isfinite(t).all():
            raise ValueError(f"parameter 'reps[{k!r}]' contains NaN or inf")
        if n is None:
            n = t.shape[0]
        elif t.shape[0] != n:
            raise ValueError(
                f"parameter 'reps' has layers with different sample counts ({n} and "
                f"{t.shape[0]} for {k!r}); every layer must be recorded on the same inputs"
            )
        zs[k] = t
    xt = None
    if x is not None:
        xt = _as_tensor(x)
        if xt.ndim < 2:
            raise ValueError(f"parameter 'x' must be N × d_X, got shape {tuple(xt.shape)}")
        xt = xt.flatten(1)
        if xt.shape[0] != n:
            raise ValueError(f"parameter 'x' has {xt.shape[0]} rows but the representations {n}")
        if not torch.isfinite(xt).all():
            raise ValueError("parameter 'x' contains NaN or inf")
    yt = None
    if y is not None:
        yt = torch.as_tensor(y).detach().cpu()
        if yt.ndim != 1 or yt.shape[0] != n:
            raise ValueError(
                f"parameter 'y' must be a 1-D label vector of length {n}, got {tuple(yt.shape)}"
            )
        if torch.is_floating_point(yt):
            if not torch.isfinite(yt).all():
                raise ValueError("parameter 'y' contains NaN or inf")
            if not torch.equal(yt, yt.round()):
                raise ValueError("parameter 'y' must hold integer class labels")
        yt = yt.long()
        if yt.min() < 0:
            raise ValueError("parameter 'y' must hold class labels >= 0")
    return zs, xt, yt, n


def _split(n: int, n_fit: int | None, fit_frac: float, split_seed: int) -> tuple:
    if n_fit is not None:
        if not 1 <= n_fit < n:
            raise ValueError(f"parameter 'n_fit' must be in [1, {n - 1}], got {n_fit}")
        idx = torch.arange(n)
        return idx[:n_fit], idx[n_fit:]
    if not 0 < fit_frac < 1:
        raise ValueError(f"parameter 'fit_frac' must be in (0, 1), got {fit_frac}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    k = min(max(int(round(fit_frac * n)), 1), n - 1)
    return perm[:k], perm[k:]


def _standardise(z: torch.Tensor, fit: torch.Tensor, min_std: float) -> torch.Tensor:
    """(z − mean) / max(std, min_std) with fit-split statistics (dead units stay ≈ 0)."""
    mu = z[fit].mean(0, keepdim=True)
    sd = z[fit].std(0, keepdim=True).clamp_min(min_std)
    return (z - mu) / sd


def _mse_grad(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d mean((out − target)²) / d out of every probe (``L × B × d``), in place of ``out``."""
    return out.sub_(target).mul_(2.0 / out[0].numel())


def _ce_grad(logits: torch.Tensor, rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d mean(cross-entropy) / d logits of every probe (``L × B × K``): (softmax − one-hot) / B."""
    p = torch.softmax(logits, dim=2)
    p[:, rows, labels] -= 1.0
    return p.div_(logits.shape[1])


class StackedProbes(nn.Module):
    """``L`` independent MLPs ``d → hidden → out`` as one batched op (``hidden=0``: linear).

    Chapter 4 (Lyu et al. 2023 §3). Input ``L × B × d``, output ``L × B × out``.
    """

    def __init__(self, n: int, d: int, out: int, hidden: int, generator: torch.Generator) -> None:
        super().__init__()

        def lin(i: int, o: int) -> tuple[nn.Parameter, nn.Parameter]:
            b = 1.0 / math.sqrt(i)  # PyTorch's nn.Linear default range
            w = (torch.rand(n, i, o, generator=generator) * 2 - 1) * b
            c = (torch.rand(n, 1, o, generator=generator) * 2 - 1) * b
            return nn.Parameter(w), nn.Parameter(c)

        self.hidden = hidden
        if hidden:
            self.w1, self.b1 = lin(d, hidden)
            self.w2, self.b2 = lin(hidden, out)
        else:
            self.w2, self.b2 = lin(d, out)

    def tile(self, copies: int) -> StackedProbes:
        """These ``L`` probes repeated ``copies`` times (``copies · L`` probes, the same initial
        weights in every copy), in place."""
        for name in ("w1", "b1", "w2", "b2"):
            if hasattr(self, name):
                setattr(self, name, nn.Parameter(getattr(self, name).detach().repeat(copies, 1, 1)))
        return self

    def keep(self, rows: Sequence[int]) -> StackedProbes:
        """Only the probes ``rows`` of these (their initial weights unchanged), in place."""
        for name in ("w1", "b1", "w2", "b2"):
            if hasattr(self, name):
                setattr(self, name, nn.Parameter(getattr(self, name).detach()[list(rows)].clone()))
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.hidden:
            z = torch.relu(torch.baddbmm(self.b1, z, self.w1))
        return torch.baddbmm(self.b2, z, self.w2)

    def accumulate_grad(
        self, z: torch.Tensor, loss_grad: Callable[[torch.Tensor], torch.Tensor]
    ) -> None:
        """Forward ``z`` (``L × B × d``) and write every parameter's gradient to its ``.grad``.

        The gradients autograd would give for the loss whose gradient with respect to the
        output ``loss_grad(out)`` returns (it may overwrite ``out``), computed by hand into
        buffers reused from step to step: a probe's training step is then a few matmuls and no
        autograd graph (chapter 4's probes are most of its run time on a CPU).
        """
        L, B, _ = z.shape
        buf = self.__dict__.setdefault("_buf", {})
        if buf.get("shape") != (L, B):
            buf.clear()
            buf["shape"] = (L, B)
            for p in self.parameters():
                p.grad = torch.zeros_like(p)
            if self.hidden:
                buf["h"] = z.new_empty(L, B, self.hidden)
                buf["gh"] = z.new_empty(L, B, self.hidden)
            buf["out"] = z.new_empty(L, B, self.w2.shape[2])
        inp = z
        if self.hidden:
            inp = torch.baddbmm(self.b1, z, self.w1, out=buf["h"]).clamp_(min=0)
        g = loss_grad(torch.baddbmm(self.b2, inp, self.w2, out=buf["out"]))
        torch.sum(g, 1, keepdim=True, out=self.b2.grad)
        torch.bmm(inp.transpose(1, 2), g, out=self.w2.grad)
        if self.hidden:
            gh = torch.bmm(g, self.w2.detach().transpose(1, 2), out=buf["gh"])
            gh.mul_(inp > 0)  # the ReLU's gradient
            torch.sum(gh, 1, keepdim=True, out=self.b1.grad)
            torch.bmm(z.transpose(1, 2), gh, out=self.w1.grad)


@dataclass
class ZXZY:
    """Z-X (per-feature MSE) and Z-Y (nats) of several layers at one snapshot (chapter 4).

    Lyu et al. 2023 §3. Arrays of length L; NaN where a measure was not requested.
    """

    layers: list[str]
    zx_test: np.ndarray
    zx_train: np.ndarray
    zy_test: np.ndarray
    zy_train: np.ndarray

    def as_array(self) -> np.ndarray:
        """L × 4 array: columns ``zx_test, zx_train, zy_test, zy_train`` (:data:`COLUMNS`)."""
        return np.stack([self.zx_test, self.zx_train, self.zy_test, self.zy_train], axis=1)


COLUMNS = ("zx_test", "zx_train", "zy_test", "zy_train")


def zxzy(
    reps: Reps,
    x: torch.Tensor | np.ndarray | None = None,
    y: torch.Tensor | np.ndarray | None = None,
    **kwargs,
) -> ZXZY:
    """Z-X (if ``x`` is given) and Z-Y (if ``y`` is given) of every layer in ``reps``, batched.

    Chapter 4 (Lyu, Aminian & Rodrigues 2023 §3; Lyu & Rodrigues 2024 §3; the probe protocol is
    ours). ``reps`` {layer: N × d}; probes ``d → hidden → out`` trained by Adam for ``steps``
    mini-batches of the fit split (the first ``n_fit`` rows, else a seeded ``fit_frac`` split);
    ``probe_seed`` seeds them. Returns score-split ("test") and fit-split ("train") errors.
    Input dimensions that differ from their median in fewer than ``x_min_support`` of the fit
    rows (a border pixel lit in a few training images) are left out of Z-X: standardised by
    their tiny spread they would dominate the decoder's error. ``kwargs``: ``n_classes``,
    ``steps`` (300), ``hidden`` (128), ``lr`` (1e-3), ``batch_size`` (256), ``n_fit``,
    ``fit_frac`` (0.8), ``split_seed`` (0), ``probe_seed`` (0), ``min_std`` (1e-2),
    ``x_min_support`` (0.01).
    """
    return zxzy_snapshots([reps], x, y, **kwargs)[0]


def zxzy_snapshots(
    snapshots: Sequence[Reps],
    x: torch.Tensor | np.ndarray | None = None,
    y: torch.Tensor | np.ndarray | None = None,
    *,
    n_classes: int | None = None,
    steps: int = 300,
    hidden: int = 128,
    lr: float = 1e-3,
    batch_size: int = 256,
    n_fit: int | None = None,
    fit_frac: float = 0.8,
    split_seed: int = 0,
    probe_seed: int = 0,
    min_std: float = 1e-2,
    x_min_support: float = 0.01,
    zy_layers: Sequence[str] | None = None,
) -> list[ZXZY]:
    """:func:`zxzy` of several snapshots of the same layers, all probes trained side by side.

    Chapter 4 (a run's snapshots, Lyu & Rodrigues 2024 §4). Every snapshot gets the probes that
    :func:`zxzy` alone would give it (the same initial weights and the same mini-batches), so the
    result equals one :func:`zxzy` call per snapshot up to round-off; one batched model trains
    them all, which is what makes it faster. ``zy_layers`` (default: all) names the layers whose
    Z-Y is probed (the others' Z-Y is NaN); their probes start as they would with every layer
    probed, so every other number is unchanged. Returns one :class:`ZXZY` per snapshot.
    """
    if x is None and y is None:
        raise ValueError("zxzy needs 'x' (for Z-X), 'y' (for Z-Y) or both")
    for name, v, lo in (("steps", steps, 1), ("hidden", hidden, 0), ("batch_size", batch_size, 1)):
        if not isinstance(v, int) or v < lo:
            raise ValueError(f"parameter {name!r} must be an int >= {lo}, got {v!r}")
    if not lr > 0:
        raise ValueError(f"parameter 'lr' must be > 0, got {lr!r}")
    if not min_std > 0:
        raise ValueError(f"parameter 'min_std' must be > 0, got {min_std!r}")
    if not 0 <= x_min_support < 1:
        raise ValueError(f"parameter 'x_min_support' must be in [0, 1), got {x_min_support!r}")
    if isinstance(snapshots, Mapping) or not snapshots:
        raise ValueError("parameter 'snapshots' must be a non-empty sequence of {layer: N × d}")
    # x and y are checked once; every snapshot's layers on their own
    checked = [_check_inputs(snapshots[0], x, y)]
    checked += [_check_inputs(reps, None, None) for reps in snapshots[1:]]
    zs0, xt, yt, n = checked[0]
    names = list(zs0)
    dims = [z.shape[1] for z in zs0.values()]
    for zs, *_ in checked[1:]:
        if list(zs) != names or [z.shape[1] for z in zs.values()] != dims:
            raise ValueError(
                "parameter 'snapshots' must hold the same layers (names and widths) in every "
                f"snapshot, got {names} and {list(zs)}"
            )
    if any(c[3] != n for c in checked):
        raise ValueError("parameter 'snapshots' has snapshots with different sample counts")
    zy_rows = list(range(len(names)))
    if zy_layers is not None:
        unknown = [k for k in zy_layers if k not in names]
        if unknown or not zy_layers:
            raise ValueError(
                f"parameter 'zy_layers' = {list(zy_layers)!r} must name some of the layers {names}"
            )
        zy_rows = [i for i, k in enumerate(names) if k in zy_layers]
    fit, score = _split(n, n_fit, fit_frac, split_seed)
    L, S = len(names), len(checked)
    dmax = max(dims)
    Z = torch.zeros(S * L, n, dmax)  # snapshot-major: snapshot s, layer i at row s * L + i
    for s, (zs, *_) in enumerate(checked):
        for i, k in enumerate(names):
            Z[s * L + i, :, : zs[k].shape[1]] = _standardise(zs[k], fit, min_std)
    del checked
    gen = torch.Generator().manual_seed(probe_seed)
    probes: dict[str, StackedProbes] = {}
    if xt is not None:
        xf = xt[fit]
        support = (xf != xf.median(0).values).float().mean(0)
        keep = (xf.std(0) > 1e-8) & (support >= x_min_support)
        if not keep.any():
            raise ValueError(
                "parameter 'x' is constant (or nearly, see 'x_min_support') on the fit split; "
                "Z-X is undefined"
            )
        xs = xt[:, keep]
        xs = (xs - xs[fit].mean(0)) / xs[fit].std(0)
        probes["zx"] = StackedProbes(L, dmax, xs.shape[1], hidden, gen).tile(S)
    if yt is not None:
        k = int(yt.max()) + 1 if n_classes is None else int(n_classes)
        if k < 2 or int(yt.max()) >= k:
            raise ValueError(f"parameter 'n_classes' = {n_classes} does not cover the labels")
        probes["zy"] = StackedProbes(L, dmax, k, hidden, gen).keep(zy_rows).tile(S)
    # the rows of Z (snapshot-major) whose Z-Y is probed
    zy_index = torch.tensor([s * L + i for s in range(S) for i in zy_rows])
    all_zy = len(zy_rows) == L
    params = [p for m in probes.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=lr, fused=True)  # one kernel per step, the same update
    nf = len(fit)

    def losses(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        zb = Z.index_select(1, idx)
        out = {}
        if "zx" in probes:
            err = (probes["zx"](zb) - xs[idx].unsqueeze(0)) ** 2  # SL × B × d_X
            out["zx"] = err.mean(dim=(1, 2))
        if "zy" in probes:
            logits = probes["zy"](zb[zy_index])  # S·len(zy_rows) × B × K
            lab = yt[idx].unsqueeze(0).expand(len(zy_index), -1)
            ce = nn.functional.cross_entropy(logits.transpose(1, 2), lab, reduction="none")
            out["zy"] = ce.mean(1)
        return out

    # training: the gradients of the per-probe mean losses above (each probe's own), by hand
    bs = min(batch_size, nf)
    zb = Z.new_empty(S * L, bs, dmax)
    rows = torch.arange(bs)
    for _ in range(steps):
        b = fit[torch.randint(nf, (bs,), generator=gen)]
        torch.index_select(Z, 1, b, out=zb)
        with torch.no_grad():
            if "zx" in probes:
                probes["zx"].accumulate_grad(zb, partial(_mse_grad, target=xs[b].unsqueeze(0)))
            if "zy" in probes:
                zy_b = zb if all_zy else zb[zy_index]
                probes["zy"].accumulate_grad(zy_b, partial(_ce_grad, rows=rows, labels=yt[b]))
        opt.step()
    with torch.no_grad():
        te, tr = losses(score), losses(fit)
    nan = np.full(S * L, np.nan)

    def get(d: dict, k: str) -> np.ndarray:
        if k not in d:
            return nan.copy()
        v = d[k].numpy().astype(np.float64)
        if k == "zy" and not all_zy:
            full = nan.copy()
            full[zy_index.numpy()] = v
            return full
        return v

    cols = [get(te, "zx"), get(tr, "zx"), get(te, "zy"), get(tr, "zy")]
    return [ZXZY(list(names), *(c[s * L : (s + 1) * L] for c in cols)) for s in range(S)]


def zxzy_measure(
    x: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    layers: Sequence[str] | None = None,
    **kwargs,
):
    """A ``measures`` callback for :func:`ibcore.train.train`: snapshot acts → L × 4 array.

    Chapter 4. Columns are :data:`COLUMNS`; rows follow ``layers`` (default: the order of the
    recorded activations, output layer excluded). ``kwargs`` go to :func:`zxzy`.
    """

    def fn(acts: dict[str, torch.Tensor]) -> np.ndarray:
        names = list(layers) if layers is not None else [k for k in acts if k != "output"]
        return zxzy({k: acts[k] for k in names}, x, y, **kwargs).as_array()

    return fn


def zx_information(zx: np.ndarray | float) -> np.ndarray:
    """Z-X in the information direction: ``−ln ZX`` (nats per input feature; chapter 4).

    Lyu & Rodrigues (2024) plot the MSE; this monotone transform is our choice.
    """
    a = np.asarray(zx, dtype=np.float64)
    if np.any(a <= 0):
        raise ValueError("parameter 'zx' must be > 0 (an MSE)")
    return -np.log(a)


def zy_information(zy: np.ndarray | float, n_classes: int) -> np.ndarray:
    """Z-Y in the information direction: ``ln K − ZY`` (nats; chapter 4).

    A lower bound of I(Z;Y) for K balanced classes (H(Y) = ln K); 0 = no label information.
    """
    if n_classes < 2:
        raise ValueError(f"parameter 'n_classes' must be >= 2, got {n_classes}")
    return math.log(n_classes) - np.asarray(zy, dtype=np.float64)


# --- Phase detector ---

PHASE_KINDS = ("fit-then-compress", "compress-only", "fit-only", "flat")


@dataclass
class Phases:
    """Fitting and compression phases of one information trajectory (chapter 4).

    ``fitting_rise``/``compression_fall`` (≥ 0, units of the curve), their (start, end) epochs or
    None below ``min_change``, ``kind`` in :data:`PHASE_KINDS` and the ``smoothed`` curve.
    """

    kind: str
    fitting_rise: float
    compression_fall: float
    fit_epochs: tuple[float, float] | None
    compress_epochs: tuple[float, float] | None
    smoothed: np.ndarray


def smooth_trajectory(info: np.ndarray, width: int = 3) -> np.ndarray:
    """Seed mean, then a running median of ``width`` snapshots (edge values repeated).

    Chapter 4. ``info`` is S (one seed) or seeds × S; NaNs are ignored in the seed mean.
    """
    a = np.asarray(info, dtype=np.float64)
    if a.ndim == 2:
        a = np.nanmean(a, axis=0)
    if a.ndim != 1:
        raise ValueError(f"parameter 'info' must be S or seeds × S, got shape {np.shape(info)}")
    if not isinstance(width, int) or width < 1 or width % 2 == 0:
        raise ValueError(f"parameter 'width' must be an odd int >= 1, got {width!r}")
    h = width // 2
    padded = np.pad(a, h, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.median(windows, axis=1)


def detect_phases(
    epochs: Sequence[int],
    info: np.ndarray,
    *,
    width: int = 3,
    window: float = 0.6,
    min_change: float = 0.05,
) -> Phases:
    """Fitting and compression phases of an information-direction trajectory (higher = more info).

    Chapter 4 (Lyu & Rodrigues 2024 §4: NIS models fit then compress, IS models compress only; the
    rule is ours). Fitting: the largest rise within the first ``window`` of snapshots of the
    :func:`smooth_trajectory` curve; compression: the largest fall after it; each counts when
    ``≥ min_change``.
    """
    e = np.asarray(epochs)
    m = smooth_trajectory(info, width)
    if e.ndim != 1 or len(e) != len(m):
        raise ValueError(f"parameter 'epochs' needs {len(m)} entries, got shape {e.shape}")
    if len(m) < 2:
        raise ValueError("a trajectory needs at least 2 snapshots")
    if not np.isfinite(m).all():
        raise ValueError("parameter 'info' contains NaN or inf after the seed mean")
    if not 0 < window <= 1:
        raise ValueError(f"parameter 'window' must be in (0, 1], got {window}")
    if not min_change > 0:
        raise ValueError(f"parameter 'min_change' must be > 0, got {min_change}")
    last = max(1, int(math.ceil(window * (len(m) - 1))))
    run_min = np.minimum.accumulate(m)
    rises = m[1 : last + 1] - run_min[:last]
    t2 = int(np.argmax(rises)) + 1
    rise = max(float(rises[t2 - 1]), 0.0)
    fits = rise >= min_change
    fit_ep = None
    if fits:
        t1 = int(np.argmin(m[:t2]))
        fit_ep = (e[t1].item(), e[t2].item())
    start = t2 if fits else 0
    tail = m[start:]
    run_max = np.maximum.accumulate(tail)
    falls = run_max - tail
    c2 = int(np.argmax(falls))
    fall = float(falls[c2])
    comp = fall >= min_change
    comp_ep = None
    if comp:
        c1 = int(np.argmax(tail[: c2 + 1]))
        comp_ep = (e[start + c1].item(), e[start + c2].item())
    kind = {
        (True, True): "fit-then-compress",
        (False, True): "compress-only",
        (True, False): "fit-only",
        (False, False): "flat",
    }[(fits, comp)]
    return Phases(kind, rise, fall, fit_ep, comp_ep, m)
