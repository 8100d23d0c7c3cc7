"""Batched ensembles: K small nets with different seeds trained as one batched model.

Information-plane claims are seed-sensitive (Saxe et al. average 50 runs; Chelombiev et al.
stress the variation between initialisations). Training K copies of a small net one after another
pays Python and kernel-launch overhead K times per step. Here the K nets' weights are stacked
(K × out × in) and every layer is one batched matmul (``torch.baddbmm``), so a step costs little
more than one net's. Each member keeps its own data split, batch order, initial weights, activation
and L2 weight; the loss is the *sum* of the members' losses, so every member receives exactly the
gradient of its own run, and Adam (element-wise) updates it exactly as a separate run would. The
results equal K separate :func:`ibcore.train.train` runs up to float round-off (tested for K = 3).

Serves chapters 0 and 2 (their seed sets) and the sweeps of the scale issue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ibcore.data import Dataset
from ibcore.models import MLP, make_activation
from ibcore.train import History, TrainingDivergedError


class EnsembleMLP(nn.Module):
    """K plain MLPs of equal widths, stacked; built from member :class:`MLP` s (weights copied).

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


def _stack(datasets: Sequence[Dataset], attr: str) -> torch.Tensor:
    ts = [getattr(d, attr) for d in datasets]
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(
            f"ensemble members need equally sized '{attr}', got {[t.shape for t in ts]}"
        )
    return torch.stack([t.flatten(1) if t.dim() > 1 else t for t in ts])


@torch.no_grad()
def _evaluate(
    model: EnsembleMLP, x: torch.Tensor, y: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    logits = model(x)
    loss = nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)
    acc = (logits.argmax(-1) == y).float().mean(1)
    return loss.cpu().numpy(), acc.cpu().numpy()


def train_ensemble(
    members: Sequence[MLP],
    datasets: Sequence[Dataset],
    *,
    epochs: int,
    seeds: Sequence[int],
    lr: float = 1e-3,
    batch_size: int = 128,
    l2: float | Sequence[float] = 0.0,
    record_epochs: Sequence[int] | None = None,
    output: str | None = "softmax",
    shuffle: bool = True,
    eval_every: int = 1,
    device: torch.device | str = "cpu",
    progress: bool | None = None,
    desc: str = "ensemble",
) -> list[History]:
    """Train K plain MLPs as one batched model with Adam; one :class:`History` per member.

    Same semantics as :func:`ibcore.train.train` with ``optimizer='adam'`` and cross-entropy (plus
    the hidden-layer L2 term): ``members[k]`` is trained on ``datasets[k]`` with batch order
    seeded by ``seeds[k]`` and L2 weight ``l2[k]``. All members' training, test and probe sets
    must have equal sizes; activations are recorded on each member's probe set.
    Chapters 0 and 2 (seed sets of Shwartz-Ziv & Tishby 2017 and Chelombiev et al. 2019).
    """
    K = len(members)
    if len(datasets) != K or len(seeds) != K:
        raise ValueError(
            f"members ({K}), datasets ({len(datasets)}) and seeds ({len(seeds)}) differ"
        )
    l2s = [float(l2)] * K if np.isscalar(l2) else [float(v) for v in l2]  # type: ignore[arg-type]
    if len(l2s) != K:
        raise ValueError(f"parameter 'l2' needs one value per member ({K}), got {len(l2s)}")
    if epochs < 0:
        raise ValueError(f"parameter 'epochs' must be >= 0, got {epochs}")
    if progress is None:
        progress = os.environ.get("IBCORE_PROGRESS", "1") != "0"
    device = torch.device(device)
    model = EnsembleMLP(members).to(device)
    xtr, ytr = _stack(datasets, "x_train").to(device), _stack(datasets, "y_train").to(device)
    xte, yte = _stack(datasets, "x_test").to(device), _stack(datasets, "y_test").to(device)
    xpr = _stack(datasets, "x_probe").to(device)
    l2_t = torch.tensor(l2s, device=device)
    use_l2 = any(v != 0.0 for v in l2s)  # adding 0 * penalty changes nothing: skip its graph
    # foreach Adam: one multi-tensor kernel per update step instead of a Python loop over the
    # parameters (the same element-wise update as torch.optim.Adam's default).
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    n = xtr.shape[1]
    rows = torch.arange(K, device=device)[:, None]
    record = sorted({int(e) for e in (record_epochs if record_epochs is not None else [])})
    if record and (record[0] < 0 or record[-1] > epochs):
        raise ValueError(f"record_epochs must lie in [0, {epochs}], got {record[0]}..{record[-1]}")
    names = [*model.layer_names, "output"] if output else model.layer_names
    # Activations go straight into one preallocated K × S × N × d buffer per layer; member k's
    # history gets the contiguous view buf[k] (no per-snapshot lists, no final np.stack copy: at
    # 50 seeds × 274 snapshots × 4096 inputs that copy alone would be several GB).
    dims = [*model.widths[1:-1], model.widths[-1]] if output else model.widths[1:-1]
    n_probe = xpr.shape[1]
    bufs = {
        k: np.empty((K, len(record), n_probe, d), np.float32)
        for k, d in zip(names, dims, strict=True)
    }
    n_snap = 0
    mets: dict[str, list[np.ndarray]] = {
        k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")
    }
    ep_logged: list[int] = []

    @torch.no_grad()
    def snapshot() -> None:
        nonlocal n_snap
        logits, hidden = model(xpr, return_hidden=True)
        outs = [*hidden]
        if output == "softmax":
            outs.append(torch.softmax(logits, -1))
        elif output == "logits":
            outs.append(logits)
        for name, t in zip(names, outs, strict=True):
            if not torch.isfinite(t).all():
                raise TrainingDivergedError(
                    f"layer {name!r} has NaN or inf activations at a snapshot"
                )
            bufs[name][:, n_snap] = t.float().cpu().numpy()
        n_snap += 1

    def log_metrics(epoch: int) -> None:
        trl, tra = _evaluate(model, xtr, ytr)
        tel, tea = _evaluate(model, xte, yte) if xte.shape[1] else (np.full(K, np.nan),) * 2
        for k, v in zip(mets, (trl, tra, tel, tea), strict=True):
            mets[k].append(v)
        ep_logged.append(epoch)

    rec_set = set(record)
    starts = range(0, n, batch_size)
    t0 = time.perf_counter()
    log_metrics(0)
    bar = tqdm(range(epochs), desc=desc, disable=not progress, mininterval=2.0, leave=False)
    for epoch in bar:
        if epoch in rec_set:
            snapshot()
        if shuffle:
            # every member's epoch order, gathered once per epoch (K × n); batches are slices
            order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
            xs, ys = xtr[rows, order], ytr[rows, order]
        else:
            xs, ys = xtr, ytr
        for i in starts:
            xb, yb = xs[:, i : i + batch_size], ys[:, i : i + batch_size]
            logits = model(xb)
            ce = nn.functional.cross_entropy(logits.transpose(1, 2), yb, reduction="none").mean(1)
            loss = ce.sum()
            if use_l2:
                loss = loss + (l2_t * model.l2_penalties()).sum()
            if not torch.isfinite(loss):
                raise TrainingDivergedError(f"loss became {float(loss)} at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
            log_metrics(epoch + 1)
            if progress:
                bar.set_postfix(loss=f"{mets['train_loss'][-1].mean():.3f}")
    if epochs in rec_set:
        snapshot()
    bar.close()
    wall = time.perf_counter() - t0
    acts = {k: b for k, b in bufs.items() if b.shape[1]}

    out = []
    for k, (m, d) in enumerate(zip(members, datasets, strict=True)):
        meta = {
            "model": m.config, "dataset": d.name, "epochs": epochs, "lr": lr,
            "batch_size": batch_size, "optimizer": "adam", "l2": l2s[k], "seed": int(seeds[k]),
            "shuffle": shuffle, "device": str(device), "wall_s": wall / K,
            "ensemble": {"K": K, "wall_s": wall},
        }  # fmt: skip
        metrics = {"epoch": np.asarray(ep_logged, dtype=np.float64)}
        metrics.update(
            {n_: np.asarray([v[k] for v in vs], dtype=np.float64) for n_, vs in mets.items()}
        )
        out.append(
            History(
                epochs=np.asarray(record, dtype=np.int64),
                activations={n_: b[k] for n_, b in acts.items()},
                measures={},
                metrics=metrics,
                probe_labels=d.y_probe.cpu().numpy(),
                meta=meta,
            )
        )
    return out
