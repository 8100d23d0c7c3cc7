"""One training loop and one activation recorder for every chapter (ensembles are a case of it)."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ibcore.atomic import atomic_open
from ibcore.data import Dataset
from ibcore.env import progress_on, progress_stream
from ibcore.models import MLP, EnsembleMLP
from ibcore.schema import check_choice, check_int, check_positive

Criterion = Callable[[torch.Tensor, torch.Tensor, list[torch.Tensor]], torch.Tensor]
Measure = Callable[[dict[str, torch.Tensor]], Any]
OPTIMIZERS = ("adam", "sgd")


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or inf during training."""


def log_snapshots(epochs: int, n: int = 400) -> np.ndarray:
    """Log-spaced snapshot epochs as in the IDNNs code (Shwartz-Ziv & Tishby 2017; chapters 0, 2):
    274 for ``epochs=8000, n=400``; epoch ``e`` is recorded before its updates (0 = init)."""
    if epochs < 1 or n < 1:
        raise ValueError(f"log_snapshots needs epochs >= 1 and n >= 1, got {epochs}, {n}")
    return np.unique(np.logspace(0, np.log2(epochs), n, base=2, dtype=int)) - 1


class ActivationRecorder:
    """Record named layers' outputs with forward hooks (all chapters); the head as softmax (the
    IDNNs convention), logits or not at all, by ``output``."""

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
    """What a training run produced (all chapters): snapshot epochs (S), activations {layer:
    S × N × d} on the probe set, measures {name: S × ...}, metrics per evaluated epoch, meta."""

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
    """Σ over hidden layers of ‖W‖²/2 (head excluded), as in Chelombiev et al. 2019, §4."""
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


_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


class _Single:
    """One net: hook-recorded probe activations, per-snapshot measures, any criterion."""

    def __init__(self, model, data, *, seed, l2, criterion, output, measures, keep, device):
        if isinstance(seed, Sequence) or isinstance(l2, Sequence):
            raise ValueError("parameters 'seed' and 'l2' take one value for a single net")
        if len(data.x_train) == 0:
            raise ValueError("the training set is empty")
        self.model, self.l2, self.criterion = model.to(device), float(l2), criterion
        self.d = data.to(device)
        self.data, self.device, self.seed = data, device, int(seed)
        self.recorder = ActivationRecorder(model, output=output)
        self.measures, self.keep = dict(measures or {}), keep
        self.gen = torch.Generator().manual_seed(int(seed))
        self.n = len(self.d.x_train)
        self.acts: dict[str, list[np.ndarray]] = {k: [] for k in self.recorder.layers}
        self.meas: dict[str, list[Any]] = {k: [] for k in self.measures}
        self.mets: dict[str, list[float]] = {k: [] for k in ("epoch", *_METRICS)}

    def parameters(self) -> list[torch.Tensor]:
        params = [p for p in self.model.parameters() if p.requires_grad]
        if isinstance(self.criterion, nn.Module):
            self.criterion.to(self.device)
            params += [p for p in self.criterion.parameters() if p.requires_grad]
        return params

    def batches(self, shuffle: bool, batch_size: int):
        order = torch.randperm(self.n, generator=self.gen) if shuffle else torch.arange(self.n)
        order = order.to(self.device)
        for i in range(0, self.n, batch_size):
            idx = order[i : i + batch_size]
            yield self.d.x_train[idx], self.d.y_train[idx]

    def loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        logits, hidden = self.model(xb, return_hidden=True)
        if self.criterion is None:
            loss = nn.functional.cross_entropy(logits, yb)
        else:
            loss = self.criterion(logits, yb, hidden)
        if self.l2:
            loss = loss + self.l2 * l2_penalty(self.model)
        return loss

    def snapshot(self) -> None:
        a = self.recorder.capture(self.d.x_probe)
        for k, v in a.items():
            _check_finite(k, v)
        if self.keep:
            for k, v in a.items():
                self.acts[k].append(v.float().cpu().numpy())
        for k, fn in self.measures.items():
            r = fn(a)
            self.meas[k].append(r.detach().cpu().numpy() if torch.is_tensor(r) else np.asarray(r))

    def log_metrics(self, epoch: int) -> str:
        d = self.d
        trl, tra = evaluate(self.model, d.x_train, d.y_train)
        tel, tea = evaluate(self.model, d.x_test, d.y_test) if len(d.x_test) else (np.nan, np.nan)
        for k, v in zip(self.mets, (epoch, trl, tra, tel, tea), strict=True):
            self.mets[k].append(v)
        return f"loss {trl:.3f} acc {tra:.3f}"

    def histories(self, record: list[int], meta: dict[str, Any]) -> History:
        meta = {"model": getattr(self.model, "config", {}), "dataset": self.data.name, **meta}
        meta.update(l2=self.l2, seed=self.seed)
        return History(
            epochs=np.asarray(
                record, dtype=np.int64 if all(float(e).is_integer() for e in record) else np.float64
            ),
            activations={k: np.stack(v) for k, v in self.acts.items() if v},
            measures={k: np.stack(v) for k, v in self.meas.items() if v},
            metrics={k: np.asarray(v, dtype=np.float64) for k, v in self.mets.items()},
            probe_labels=self.d.y_probe.cpu().numpy(), meta=meta,
        )  # fmt: skip


def _stack(datasets: Sequence[Dataset], attr: str) -> torch.Tensor:
    ts = [getattr(d, attr) for d in datasets]
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(
            f"ensemble members need equally sized '{attr}', got {[t.shape for t in ts]}"
        )
    return torch.stack([t.flatten(1) if t.dim() > 1 else t for t in ts])


class _Ensemble:
    """K stacked plain nets; the loss is the sum of the members' losses, so each member's run
    equals a single run up to round-off. Activations go into preallocated K × S × N × d buffers."""

    def __init__(
        self,
        model,
        datasets,
        *,
        seed,
        l2,
        output,
        n_record,
        device,
        criterion=None,
        measures=None,
        keep=True,
    ):
        K = model.K
        seeds = [int(s) for s in seed] if isinstance(seed, Sequence) else None
        if isinstance(datasets, Dataset) or seeds is None or len(datasets) != K or len(seeds) != K:
            raise ValueError(
                f"an ensemble of {K} nets needs one data set and one seed per member "
                "(sequences of that length for 'data' and 'seed')"
            )
        l2s = [float(l2)] * K if np.isscalar(l2) else [float(v) for v in l2]
        if len(l2s) != K:
            raise ValueError(f"parameter 'l2' needs one value per member ({K}), got {len(l2s)}")
        if any(len(d.x_train) == 0 for d in datasets):
            raise ValueError("the training set is empty")
        self.K, self.model, self.datasets, self.seeds, self.l2s = (K, model.to(device), datasets,
                                                                   seeds, l2s)  # fmt: skip
        self.output, self.device = output, device
        self.xtr, self.ytr = (_stack(datasets, "x_train").to(device),
                              _stack(datasets, "y_train").to(device))  # fmt: skip
        self.xte, self.yte = (_stack(datasets, "x_test").to(device),
                              _stack(datasets, "y_test").to(device))  # fmt: skip
        self.xpr = _stack(datasets, "x_probe").to(device)
        self.l2_t = torch.tensor(l2s, device=device)
        self.use_l2 = any(v != 0.0 for v in l2s)  # adding 0 * penalty changes nothing: no graph
        self.gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.n = self.xtr.shape[1]
        self.rows = torch.arange(K, device=device)[:, None]
        self.names = [*model.layer_names, "output"] if output else model.layer_names
        dims = [*model.widths[1:-1], model.widths[-1]] if output else model.widths[1:-1]
        n_probe = self.xpr.shape[1]
        self.bufs = {
            k: np.empty((K, n_record, n_probe, d), np.float32)
            for k, d in zip(self.names, dims, strict=True)
        }
        if not keep:
            self.bufs = {k: np.empty((K, 0, n_probe, 1), np.float32) for k in self.names}
        self.criterion = criterion
        self.measures = dict(measures or {})
        self.meas: dict[str, list[np.ndarray]] = {k: [] for k in self.measures}
        self.keep = keep
        self.n_snap = 0
        self.mets: dict[str, list[np.ndarray]] = {k: [] for k in _METRICS}
        self.ep_logged: list[int] = []

    def parameters(self) -> list[torch.Tensor]:
        params = list(self.model.parameters())
        if isinstance(self.criterion, nn.Module):
            self.criterion.to(self.device)
            params += [p for p in self.criterion.parameters() if p.requires_grad]
        return params

    def batches(self, shuffle: bool, batch_size: int):
        if shuffle:  # every member's epoch order, gathered once per epoch; batches are slices
            order = torch.stack([torch.randperm(self.n, generator=g) for g in self.gens])
            order = order.to(self.device)
            xs, ys = self.xtr[self.rows, order], self.ytr[self.rows, order]
        else:
            xs, ys = self.xtr, self.ytr
        for i in range(0, self.n, batch_size):
            yield xs[:, i : i + batch_size], ys[:, i : i + batch_size]

    def loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if self.criterion is not None:  # per-member losses (K,) from logits, labels, hidden
            logits, hidden = self.model(xb, return_hidden=True)
            loss = self.criterion(logits, yb, hidden).sum()
        else:
            logits = self.model(xb)
            ce = nn.functional.cross_entropy(logits.transpose(1, 2), yb, reduction="none")
            loss = ce.mean(1).sum()
        if self.use_l2:
            loss = loss + (self.l2_t * self.model.l2_penalties()).sum()
        return loss

    @torch.no_grad()
    def snapshot(self) -> None:
        with _eval_mode(self.model):  # frozen ranges of a quantized ensemble (chapter 5)
            logits, hidden = self.model(self.xpr, return_hidden=True)
        outs = [*hidden]
        if self.output == "softmax":
            outs.append(torch.softmax(logits, -1))
        elif self.output == "logits":
            outs.append(logits)
        for name, t in zip(self.names, outs, strict=True):
            _check_finite(name, t)
            if self.keep:
                self.bufs[name][:, self.n_snap] = t.float().cpu().numpy()
        if self.measures:  # each measure returns one row per member (leading dimension K)
            acts = dict(zip(self.names, outs, strict=True))
            for k, fn in self.measures.items():
                r = fn(acts)
                self.meas[k].append(
                    r.detach().cpu().numpy() if torch.is_tensor(r) else np.asarray(r)
                )
        self.n_snap += 1

    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with _eval_mode(self.model):
            logits = self.model(x)
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)
        acc = (logits.argmax(-1) == y).float().mean(1)
        return loss.cpu().numpy(), acc.cpu().numpy()

    def log_metrics(self, epoch: int) -> str:
        trl, tra = self._evaluate(self.xtr, self.ytr)
        if self.xte.shape[1]:
            tel, tea = self._evaluate(self.xte, self.yte)
        else:
            tel, tea = (np.full(self.K, np.nan),) * 2
        for k, v in zip(self.mets, (trl, tra, tel, tea), strict=True):
            self.mets[k].append(v)
        self.ep_logged.append(epoch)
        return f"loss {trl.mean():.3f}"

    def histories(self, record: list[int], meta: dict[str, Any]) -> list[History]:
        acts = {k: b for k, b in self.bufs.items() if b.shape[1]}
        wall = meta["wall_s"]
        out = []
        for k, d in enumerate(self.datasets):
            m = {"model": self.model.configs[k], "dataset": d.name, **meta}
            m.update(l2=self.l2s[k], seed=self.seeds[k], wall_s=wall / self.K)
            m["ensemble"] = {"K": self.K, "wall_s": wall}
            metrics = {"epoch": np.asarray(self.ep_logged, dtype=np.float64)}
            metrics.update(
                {n: np.asarray([v[k] for v in vs], dtype=np.float64) for n, vs in self.mets.items()}
            )
            out.append(History(
                epochs=np.asarray(record, dtype=np.int64),
                activations={n: b[k] for n, b in acts.items()},
                measures={n: np.stack([r[k] for r in v]) for n, v in self.meas.items() if v},
                metrics=metrics,
                probe_labels=d.y_probe.cpu().numpy(), meta=m,
            ))  # fmt: skip
        return out


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside the block, then back in the mode it was in."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def _check_finite(name: str, t: torch.Tensor) -> None:
    if not torch.isfinite(t).all():
        raise TrainingDivergedError(f"layer {name!r} has NaN or inf activations at a snapshot")


def train(
    model: MLP | EnsembleMLP,
    data: Dataset | Sequence[Dataset],
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    optimizer: str = "adam",
    l2: float | Sequence[float] = 0.0,
    criterion: Criterion | None = None,
    record_epochs: Sequence[int] | None = None,
    keep_activations: bool = True,
    measures: Mapping[str, Measure] | None = None,
    output: str | None = "softmax",
    shuffle: bool = True,
    seed: int | Sequence[int] = 0,
    eval_every: int = 1,
    device: torch.device | str = "cpu",
    progress: bool | None = None,
    desc: str = "train",
) -> History | list[History]:
    """Train ``model`` on ``data`` — the one training loop of the book (all chapters).

    An :class:`~ibcore.models.EnsembleMLP` takes one data set and seed per member (Adam only)
    and returns one :class:`History` each; its ``criterion`` returns one loss per member (K,),
    its ``measures`` one row per member. ``l2``: the hidden-layer term
    (Chelombiev et al. 2019 §4); ``criterion(logits, y, hidden)`` replaces cross-entropy (chapter
    3's LBE loss; a module's parameters train too); ``record_epochs`` are recorded before that
    epoch's updates (``epochs`` = after training); ``shuffle=False`` is IDNNs' fixed order.
    """
    check_int("epochs", epochs, 0)
    check_int("batch_size", batch_size, 1)
    check_int("eval_every", eval_every, 1)
    check_positive("lr", lr)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("output", output, ("softmax", "logits", None))
    device = torch.device(device)
    record = sorted({float(e) for e in (record_epochs if record_epochs is not None else [])})
    if record and (record[0] < 0 or record[-1] > epochs):
        raise ValueError(f"record_epochs must lie in [0, {epochs}], got {record[0]}..{record[-1]}")
    fractional = [e for e in record if not e.is_integer()]
    progress = progress_on(progress)

    ensemble = isinstance(model, EnsembleMLP)
    if ensemble and fractional:
        raise ValueError("fractional record_epochs need a single model, not an ensemble")
    if ensemble:
        if optimizer != "adam":
            raise ValueError("an ensemble trains with Adam (parameter 'optimizer' = 'adam')")
        task: Any = _Ensemble(
            model, data, seed=seed, l2=l2, output=output, n_record=len(record), device=device,
            criterion=criterion, measures=measures, keep=keep_activations,
        )  # fmt: skip
        # foreach Adam: one multi-tensor kernel per update step (the same element-wise update)
        opt = torch.optim.Adam(task.parameters(), lr=lr, fused=True)
    else:
        task = _Single(
            model, data, seed=seed, l2=l2, criterion=criterion, output=output,
            measures=measures, keep=keep_activations, device=device,
        )  # fmt: skip
        params = task.parameters()
        opt = (torch.optim.Adam(params, lr=lr) if optimizer == "adam"
               else torch.optim.SGD(params, lr=lr, momentum=0.9))  # fmt: skip

    t0 = time.perf_counter()
    model.train()
    # a fractional epoch e is recorded before batch round(frac(e) · batches) of epoch floor(e),
    # and stored as the epoch it really is (floor(e) + that batch / batches)
    n_batches = max(1, math.ceil(task.n / batch_size))
    within: dict[int, set[int]] = {}
    for e in fractional:
        k = min(n_batches - 1, max(1, round((e - math.floor(e)) * n_batches)))
        within.setdefault(math.floor(e), set()).add(k)
    record = sorted(
        {e for e in record if e.is_integer()}
        | {ep + k / n_batches for ep, ks in within.items() for k in ks}
    )
    if not fractional:
        record = [int(e) for e in record]
    rec_set = {e for e in record if float(e).is_integer()}
    task.log_metrics(0)
    bar = tqdm(range(epochs), desc=desc, disable=not progress, mininterval=2.0, leave=False,
               file=progress_stream())  # fmt: skip
    for epoch in bar:
        if epoch in rec_set:
            task.snapshot()
        steps = within.get(epoch, ())
        for i, (xb, yb) in enumerate(task.batches(shuffle, batch_size)):
            if i in steps:
                task.snapshot()
            loss = task.loss(xb, yb)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"loss became {float(loss)} at epoch {epoch}; lower 'lr' or change the init"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
            line = task.log_metrics(epoch + 1)
            if progress:
                bar.set_postfix_str(line)
    if epochs in rec_set:
        task.snapshot()
    bar.close()
    meta = {
        "epochs": epochs, "lr": lr, "batch_size": batch_size, "optimizer": optimizer,
        "shuffle": shuffle, "device": str(device), "wall_s": time.perf_counter() - t0,
    }  # fmt: skip
    return task.histories(record, meta)
