"""Data sets for every chapter: ``szt12`` (Shwartz-Ziv & Tishby 2017, regenerated bit-exactly;
chapters 0, 2), ``digits`` (chapters 1, 3, 4 at ``cpu`` scale) offline, torchvision sets under
``IBCORE_DATA`` for ``paper`` scale."""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ibcore.paths import data_dir
from ibcore.schema import check_choice

# Icosahedron vertex graph over the 12 input bits (our reconstruction); column indices, MSB first.
SZT_EDGES = (
    (0, 1), (0, 3), (0, 5), (0, 10), (0, 11), (1, 2), (1, 3), (1, 4), (1, 11), (2, 3),
    (2, 4), (2, 8), (2, 9), (3, 8), (3, 10), (4, 6), (4, 9), (4, 11), (5, 6), (5, 7),
    (5, 10), (5, 11), (6, 7), (6, 9), (6, 11), (7, 8), (7, 9), (7, 10), (8, 9), (8, 10),
)  # fmt: skip
SZT_ANTIPODES = ((0, 9), (1, 7), (2, 5), (3, 6), (4, 10), (8, 11))

TORCHVISION_SETS = ("mnist", "fashionmnist", "cifar10", "cifar100")
DATASETS = ("szt12", "digits", *TORCHVISION_SETS)
SPLITS = ("shuffled", "idnns_unshuffled")


class DataUnavailableError(FileNotFoundError):
    """A data set is not on disk and could not be downloaded; the message names the alternative."""


@dataclass
class Dataset:
    """A classification data set as torch tensors (all chapters); activations are recorded on
    ``x_probe`` (for the 12-bit task all 4096 inputs, as in IDNNs)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    x_probe: torch.Tensor
    y_probe: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Number of input features after flattening."""
        return int(np.prod(self.x_train.shape[1:]))

    def fingerprint(self) -> str:
        """SHA-256 of the tensors: the 'data' part of a cache key (:mod:`ibcore.cache`)."""
        h = hashlib.sha256(self.name.encode())
        for t in (self.x_train, self.y_train, self.x_test, self.y_test, self.x_probe):
            a = t.detach().cpu().contiguous().numpy()
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with every tensor on ``device``."""
        kw = {
            k: getattr(self, k).to(device)
            for k in ("x_train", "y_train", "x_test", "y_test", "x_probe", "y_probe")
        }
        return Dataset(self.name, n_classes=self.n_classes, meta=dict(self.meta), **kw)


def szt_gram() -> np.ndarray:
    """Gram matrix of the 12 icosahedron vertices behind the 12-bit task (our reconstruction)."""
    g = np.full((12, 12), -1 / np.sqrt(5))
    e = np.array(SZT_EDGES)
    a = np.array(SZT_ANTIPODES)
    g[e[:, 0], e[:, 1]] = g[e[:, 1], e[:, 0]] = 1 / np.sqrt(5)
    g[a[:, 0], a[:, 1]] = g[a[:, 1], a[:, 0]] = -1.0
    np.fill_diagonal(g, 1.0)
    return g


def szt_task() -> tuple[np.ndarray, np.ndarray]:
    """The Shwartz-Ziv & Tishby (2017) 12-bit task ``F`` (4096 × 12, MSB first), ``y`` (2118 ones),
    bit-exact from our closed form (chapters 0, 2)."""
    r = np.arange(4096)
    f = ((r[:, None] >> np.arange(11, -1, -1)) & 1).astype(np.uint8)
    x = f.astype(np.float64)
    n = x.sum(1)
    s2 = np.einsum("ni,ij,nj->n", x, szt_gram(), x)
    y = (n >= 8) | ((n == 7) & (s2 > 0.5)) | ((n == 6) & (s2 > 2.5)) | ((n == 5) & (s2 > 7))
    return f, y.astype(np.uint8)


def load_var_u(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read the original ``var_u.mat`` (``F`` 4096 × 12, ``y`` 1 × 4096) for the bit-exact check."""
    from scipy.io import loadmat

    m = loadmat(str(path))
    return np.asarray(m["F"]), np.asarray(m["y"]).reshape(-1)


def split_indices(n: int, train_frac: float, seed: int, split: str = "shuffled") -> tuple:
    """Train/test indices: a seeded shuffled split (our default) or IDNNs' unshuffled one."""
    if split not in SPLITS:
        raise ValueError(f"parameter 'split' = {split!r} is not allowed; choose one of {SPLITS}")
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"parameter 'train_frac' must be in (0, 1), got {train_frac!r}")
    n_train = int(round(train_frac * n))
    order = (
        np.arange(n) if split == "idnns_unshuffled" else np.random.default_rng(seed).permutation(n)
    )
    return np.sort(order[:n_train]), np.sort(order[n_train:])


LABELS = ("true", "permuted")


def load_szt12(
    seed: int = 0, split: str = "shuffled", train_frac: float = 0.8, labels: str = "true"
) -> Dataset:
    """The 12-bit task, probed on all 4096 inputs (chapters 0, 2); ``labels='permuted'`` is the
    null without a learning signal (a permutation per seed, same split)."""
    check_choice("labels", labels, LABELS)
    f, y = szt_task()
    if labels == "permuted":
        y = y[np.random.default_rng([seed, 0x5EED]).permutation(len(y))]
    tr, te = split_indices(len(y), train_frac, seed, split)
    x = torch.from_numpy(f.astype(np.float32))
    t = torch.from_numpy(y.astype(np.int64))
    name = "szt12" if labels == "true" else "szt12-permuted"
    return Dataset(
        name, x[tr], t[tr], x[te], t[te], 2, x_probe=x, y_probe=t,
        meta={"split": split, "seed": seed, "train_frac": train_frac, "labels": labels},
    )  # fmt: skip


def load_digits(
    seed: int = 0, test_frac: float = 0.2, probe: str = "train", labels: str = "true"
) -> Dataset:
    """scikit-learn's digits, standardised with train statistics (chapters 1, 3, 4 at ``cpu``);
    ``labels='permuted'`` is the null without a learning signal (the same split, its train and
    test labels permuted per seed)."""
    from sklearn.datasets import load_digits as _ld
    from sklearn.model_selection import train_test_split

    check_choice("labels", labels, LABELS)
    d = _ld()
    x = d.data.astype(np.float32) / 16.0
    xtr, xte, ytr, yte = train_test_split(
        x, d.target, test_size=test_frac, stratify=d.target, random_state=seed
    )
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    if labels == "permuted":
        rng = np.random.default_rng([seed, 0x5EED])
        ytr, yte = ytr[rng.permutation(len(ytr))], yte[rng.permutation(len(yte))]
    tens = [torch.from_numpy(np.ascontiguousarray(a)) for a in (xtr, xte)]
    labs = [torch.from_numpy(a.astype(np.int64)) for a in (ytr, yte)]
    probes = {"train": (tens[0], labs[0]), "test": (tens[1], labs[1]),
              "all": (torch.cat(tens), torch.cat(labs))}  # fmt: skip
    if probe not in probes:
        raise ValueError(
            f"parameter 'probe' = {probe!r} is not allowed; choose one of {tuple(probes)}"
        )
    return Dataset(
        "digits" if labels == "true" else "digits-permuted", tens[0], labs[0], tens[1], labs[1],
        10, *probes[probe], meta={"seed": seed, "test_frac": test_frac, "labels": labels},
    )  # fmt: skip


_TV = {
    "mnist": ("MNIST", (0.1307,), (0.3081,)),
    "fashionmnist": ("FashionMNIST", (0.2860,), (0.3530,)),
    "cifar10": ("CIFAR10", (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ("CIFAR100", (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def load_torchvision(
    name: str,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    n_probe: int = 1000,
    timeout_s: float = 20.0,
) -> Dataset:
    """MNIST, FashionMNIST, CIFAR-10/100 via torchvision (chapters 1, 3, 4 at ``paper`` scale);
    :class:`DataUnavailableError` without the files (or a download within ``timeout_s``)."""
    if name not in _TV:
        raise ValueError(f"parameter 'dataset' = {name!r} is not allowed; choose one of {DATASETS}")
    import torchvision

    cls_name, mean, std = _TV[name]
    cls = getattr(torchvision.datasets, cls_name)
    root = Path(root) if root is not None else data_dir()
    old = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(timeout_s)
        sets = [cls(str(root), train=tr, download=download) for tr in (True, False)]
    except Exception as exc:  # RuntimeError (missing files) or a network error on download
        raise DataUnavailableError(
            f"{cls_name} is not available under {root} ({type(exc).__name__}: {exc}). "
            f"Put the torchvision files there (or set IBCORE_DATA), pass download=True where there "
            f"is internet, or use the offline data set: dataset='digits'."
        ) from exc
    finally:
        socket.setdefaulttimeout(old)
    out = []
    for ds in sets:
        x = torch.as_tensor(np.asarray(ds.data)).float() / 255.0
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        m = torch.tensor(mean).view(1, -1, 1, 1)
        s = torch.tensor(std).view(1, -1, 1, 1)
        out.append(((x - m) / s).contiguous())
        out.append(torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64))
    xtr, ytr, xte, yte = out
    n_classes = 100 if name == "cifar100" else 10
    return Dataset(
        name, xtr, ytr, xte, yte, n_classes, xte[:n_probe], yte[:n_probe], meta={"root": str(root)}
    )


def load_dataset(name: str, seed: int = 0, **kwargs: Any) -> Dataset:
    """Load a data set by name: one of :data:`DATASETS` (all chapters)."""
    if name == "szt12":
        return load_szt12(seed=seed, **kwargs)
    if name == "digits":
        return load_digits(seed=seed, **kwargs)
    if name in TORCHVISION_SETS:
        return load_torchvision(name, **kwargs)
    raise ValueError(f"parameter 'dataset' = {name!r} is not allowed; choose one of {DATASETS}")
