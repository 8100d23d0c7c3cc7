"""One training loop and one activation recorder for every chapter.

:func:`train` runs mini-batch training, evaluates train/test loss and accuracy, and at chosen
epochs records per-layer activations on a fixed probe set through forward hooks
(:class:`ActivationRecorder`), optionally reducing them to per-snapshot measures on the fly. It
returns a :class:`History` that saves to and loads from ``.npz``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ibcore.data import Dataset
from ibcore.io import atomic_open
from ibcore.models import MLP

Criterion = Callable[[torch.Tensor, torch.Tensor, list[torch.Tensor]], torch.Tensor]
Measure = Callable[[dict[str, torch.Tensor]], Any]
OPTIMIZERS = ("adam", "sgd")


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or inf during training."""


def log_snapshots(epochs: int, n: int = 400) -> np.ndarray:
    """Log-spaced snapshot epochs as in IDNNs (spec claim 2 §4; chapters 0 and 2).

    ``np.unique(np.logspace(0, log2(epochs), n, base=2, dtype=int)) - 1``: 274 epochs for
    ``epochs=8000, n=400``. Epoch ``e`` is recorded before that epoch's updates (0 = at init).
    """
    if epochs < 1 or n < 1:
        raise ValueError(f"log_snapshots needs epochs >= 1 and n >= 1, got {epochs}, {n}")
    return np.unique(np.logspace(0, np.log2(epochs), n, base=2, dtype=int)) - 1


class ActivationRecorder:
    """Record named layers' outputs with forward hooks (all chapters).

    ``layers`` maps a name to a module (default: :meth:`MLP.named_layers`). The ``output`` layer
    (the head) is stored as softmax probabilities when ``output='softmax'`` (the IDNNs convention:
    the last "layer" of an information plane is the softmax output), as logits with 'logits', or
    left out with None.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Mapping[str, nn.Module] | None = None,
        output: str | None = "softmax",
    ) -> None:
        if output not in ("softmax", "logits", None):
            raise ValueError(f"parameter 'output' = {output!r}; choose 'softmax', 'logits' or None")
        if layers is None:
            if not isinstance(model, MLP):
                raise ValueError("ActivationRecorder needs 'layers' for models other than MLP")
            layers = model.named_layers()
        layers = dict(layers)
        if output is None:
            layers.pop("output", None)
        self.model = model
        self.layers = layers
        self.output = output
        self._store: dict[str, torch.Tensor] = {}

    def _hook(self, name: str) -> Callable:
        def fn(_module: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            t = out.detach().flatten(1)
            if name == "output" and self.output == "softmax":
                t = torch.softmax(t, dim=1)
            self._store[name] = t

        return fn

    @torch.no_grad()
    def capture(self, x: torch.Tensor, batch_size: int = 8192) -> dict[str, torch.Tensor]:
        """Run ``x`` through the model in eval mode; return {layer: (N × d) tensor on its device}."""
        handles = [m.register_forward_hook(self._hook(n)) for n, m in self.layers.items()]
        was_training = self.model.training
        self.model.eval()
        parts: dict[str, list[torch.Tensor]] = {n: [] for n in self.layers}
        try:
            for i in range(0, len(x), batch_size):
                self._store.clear()
                self.model(x[i : i + batch_size])
                for n in self.layers:
                    parts[n].append(self._store[n])
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)
        return {n: torch.cat(p) for n, p in parts.items()}


@dataclass
class History:
    """What a training run produced (all chapters).

    * ``epochs`` — snapshot epochs (int array, S); activations were recorded before each one's updates.
    * ``activations`` — {layer: float32 array S × N × d} on the probe set (may be empty).
    * ``measures`` — {measure name: array with leading dimension S}.
    * ``metrics`` — {train_loss, train_acc, test_loss, test_acc, epoch}: per evaluated epoch.
    * ``probe_labels`` — labels of the probe set (N,).
    * ``meta`` — JSON-able: model config, training parameters, seed, device, wall time.
    """

    epochs: np.ndarray
    activations: dict[str, np.ndarray]
    measures: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    probe_labels: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[str]:
        """Names of the recorded layers, in network order."""
        return list(self.activations)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``path`` (``.npz``) atomically; returns the path."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {"epochs": self.epochs, "probe_labels": self.probe_labels}
        for prefix, d in (("act", self.activations), ("mea", self.measures), ("met", self.metrics)):
            for k, v in d.items():
                arrays[f"{prefix}/{k}"] = np.asarray(v)
        arrays["meta"] = np.frombuffer(json.dumps(self.meta, default=str).encode(), dtype=np.uint8)
        arrays["order"] = np.frombuffer(json.dumps(list(self.activations)).encode(), dtype=np.uint8)
        with atomic_open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        """Read a :class:`History` written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as z:
            order = json.loads(bytes(z["order"]).decode())
            groups: dict[str, dict[str, np.ndarray]] = {"act": {}, "mea": {}, "met": {}}
            for k in z.files:
                if "/" in k:
                    p, name = k.split("/", 1)
                    groups[p][name] = z[k]
            acts = {n: groups["act"][n] for n in order}
            return cls(
                epochs=z["epochs"],
                activations=acts,
                measures=groups["mea"],
                metrics=groups["met"],
                probe_labels=z["probe_labels"],
                meta=json.loads(bytes(z["meta"]).decode()),
            )


def l2_penalty(model: MLP) -> torch.Tensor:
    """Σ over hidden layers of ‖W‖²/2 (head excluded): Chelombiev et al. 2019 code, spec claim 2 §4."""
    return sum(0.5 * (b.linear.weight**2).sum() for b in model.blocks)  # type: ignore[return-value]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 8192) -> tuple:
    """Mean cross-entropy (nats) and accuracy of ``model`` on ``(x, y)`` (all chapters)."""
    was = model.training
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        yb = y[i : i + batch_size]
        loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    model.train(was)
    return loss / len(x), correct / len(x)


def train(
    model: MLP,
    data: Dataset,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    optimizer: str = "adam",
    l2: float = 0.0,
    criterion: Criterion | None = None,
    record_epochs: Sequence[int] | None = None,
    keep_activations: bool = True,
    measures: Mapping[str, Measure] | None = None,
    output: str | None = "softmax",
    shuffle: bool = True,
    seed: int = 0,
    eval_every: int = 1,
    device: torch.device | str = "cpu",
    progress: bool | None = None,
    desc: str = "train",
) -> History:
    """Train ``model`` on ``data`` — the one training loop of the book (all chapters).

    Args:
        epochs: passes over the training set.
        lr, batch_size, optimizer: the optimiser ('adam' or 'sgd') and its mini-batches.
        l2: weight of the hidden-layer L2 term :func:`l2_penalty` (Chelombiev et al. §4).
        criterion: ``criterion(logits, y, hidden) -> loss`` replacing cross-entropy (e.g. the LBE
            loss of chapter 3); if it is an ``nn.Module`` its parameters are trained too.
        record_epochs: epochs at which the probe activations are recorded (before that epoch's
            updates; ``epochs`` itself means after training). Default: none.
        keep_activations: store raw probe activations in the history.
        measures: {name: fn(acts)} applied to each snapshot's activations (torch tensors).
        output: how the head is recorded ('softmax', 'logits', None).
        shuffle: reshuffle mini-batches every epoch (False = fixed order, as in IDNNs).
        seed: seeds the mini-batch order.
        eval_every: evaluate train/test loss and accuracy every this many epochs (and at the end).
        device: where to train; data and model are moved there.
        progress: show a tqdm bar (default: unless ``IBCORE_PROGRESS=0``).
    """
    if epochs < 0:
        raise ValueError(f"parameter 'epochs' must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"parameter 'batch_size' must be >= 1, got {batch_size}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"parameter 'optimizer' = {optimizer!r} is not allowed; choose one of {OPTIMIZERS}"
        )
    if not lr > 0:
        raise ValueError(f"parameter 'lr' must be > 0, got {lr!r}")
    if len(data.x_train) == 0:
        raise ValueError("the training set is empty")
    device = torch.device(device)
    record = sorted({int(e) for e in (record_epochs if record_epochs is not None else [])})
    if record and (record[0] < 0 or record[-1] > epochs):
        raise ValueError(f"record_epochs must lie in [0, {epochs}], got {record[0]}..{record[-1]}")
    if progress is None:
        progress = os.environ.get("IBCORE_PROGRESS", "1") != "0"

    model.to(device)
    d = data.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if isinstance(criterion, nn.Module):
        criterion.to(device)
        params += [p for p in criterion.parameters() if p.requires_grad]
    opt = (
        torch.optim.Adam(params, lr=lr)
        if optimizer == "adam"
        else torch.optim.SGD(params, lr=lr, momentum=0.9)
    )
    recorder = ActivationRecorder(model, output=output)
    gen = torch.Generator().manual_seed(seed)
    n = len(d.x_train)

    acts: dict[str, list[np.ndarray]] = {k: [] for k in recorder.layers}
    meas: dict[str, list[Any]] = {k: [] for k in (measures or {})}
    mets: dict[str, list[float]] = {
        k: [] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
    }

    def snapshot() -> None:
        a = recorder.capture(d.x_probe)
        for k, v in a.items():
            if not torch.isfinite(v).all():
                raise TrainingDivergedError(f"layer {k!r} has NaN or inf activations at a snapshot")
        if keep_activations:
            for k, v in a.items():
                acts[k].append(v.float().cpu().numpy())
        for k, fn in (measures or {}).items():
            r = fn(a)
            meas[k].append(r.detach().cpu().numpy() if torch.is_tensor(r) else np.asarray(r))

    def log_metrics(epoch: int) -> None:
        trl, tra = evaluate(model, d.x_train, d.y_train)
        tel, tea = evaluate(model, d.x_test, d.y_test) if len(d.x_test) else (np.nan, np.nan)
        for k, v in zip(mets, (epoch, trl, tra, tel, tea), strict=True):
            mets[k].append(v)

    t0 = time.perf_counter()
    model.train()
    rec_set = set(record)
    log_metrics(0)
    bar = tqdm(range(epochs), desc=desc, disable=not progress, mininterval=2.0, leave=False)
    for epoch in bar:
        if epoch in rec_set:
            snapshot()
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        order = order.to(device)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            xb, yb = d.x_train[idx], d.y_train[idx]
            logits, hidden = model(xb, return_hidden=True)
            if criterion is None:
                loss = nn.functional.cross_entropy(logits, yb)
            else:
                loss = criterion(logits, yb, hidden)
            if l2:
                loss = loss + l2 * l2_penalty(model)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"loss became {float(loss)} at epoch {epoch}; lower 'lr' or change the init"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
            log_metrics(epoch + 1)
            bar.set_postfix(
                loss=f"{mets['train_loss'][-1]:.3f}", acc=f"{mets['train_acc'][-1]:.3f}"
            )
    if epochs in rec_set:
        snapshot()
    bar.close()
    wall = time.perf_counter() - t0

    meta = {
        "model": getattr(model, "config", {}),
        "dataset": data.name,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "l2": l2,
        "seed": seed,
        "shuffle": shuffle,
        "device": str(device),
        "wall_s": wall,
    }
    return History(
        epochs=np.asarray(record, dtype=np.int64),
        activations={k: np.stack(v) for k, v in acts.items() if v},
        measures={k: np.stack(v) for k, v in meas.items() if v},
        metrics={k: np.asarray(v, dtype=np.float64) for k, v in mets.items()},
        probe_labels=d.y_probe.cpu().numpy(),
        meta=meta,
    )
