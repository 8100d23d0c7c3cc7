"""The 12-bit task's training runs, shared by chapters 0 and 2 (Shwartz-Ziv & Tishby 2017, §3);
pure functions of their keywords, so :func:`ibcore.cache.run_cached` can key on them."""

from __future__ import annotations

from collections.abc import Sequence

from ibcore.data import load_szt12
from ibcore.env import runner
from ibcore.models import EnsembleMLP, build_mlp
from ibcore.train import History, log_snapshots, train

SZT_WIDTHS = (12, 10, 7, 5, 4, 3, 2)


@runner
def szt_run(
    *,
    seed: int,
    activation: str = "tanh",
    epochs: int = 2000,
    snapshots: int = 40,
    lr: float = 4e-4,
    batch_size: int = 256,
    l2: float = 0.0,
    split: str = "shuffled",
    widths: Sequence[int] = SZT_WIDTHS,
    init: str = "idnns",
    eval_every: int = 10,
    labels: str = "true",
    device: str = "cpu",
) -> History:
    """Train the 12-10-7-5-4-3-2 net on the 12-bit task, recording every layer (chapters 0, 2;
    Chelombiev et al. 2019 §4); the seed sets the split and the initial weights."""
    data = load_szt12(seed=seed, split=split, labels=labels)
    model = build_mlp(list(widths), activation, init=init, seed=seed)
    record = sorted({*log_snapshots(epochs, snapshots).tolist(), epochs})
    return train(
        model, data, epochs=epochs, lr=lr, batch_size=batch_size, l2=l2,
        record_epochs=record, shuffle=False, seed=seed, eval_every=eval_every, device=device,
        desc=f"{activation} seed {seed}",
    )  # fmt: skip


@runner
def szt_ensemble_run(
    *,
    seeds: Sequence[int],
    activation: str | Sequence[str] = "tanh",
    epochs: int = 2000,
    snapshots: int = 40,
    lr: float = 4e-4,
    batch_size: int = 256,
    l2: float | Sequence[float] = 0.0,
    split: str = "shuffled",
    widths: Sequence[int] = SZT_WIDTHS,
    init: str = "idnns",
    eval_every: int = 10,
    labels: str | Sequence[str] = "true",
    device: str = "cpu",
) -> list[History]:
    """:func:`szt_run` for many seeds as one ensemble (chapters 0, 2), equal up to round-off;
    ``activation``, ``l2`` and ``labels`` may be one value or one per seed."""
    seeds = [int(s) for s in seeds]
    acts = [activation] * len(seeds) if isinstance(activation, str) else list(activation)
    if len(acts) != len(seeds):
        raise ValueError(f"parameter 'activation' needs one value per seed ({len(seeds)})")
    labs = [labels] * len(seeds) if isinstance(labels, str) else list(labels)
    if len(labs) != len(seeds):
        raise ValueError(f"parameter 'labels' needs one value per seed ({len(seeds)})")
    datasets = [
        load_szt12(seed=s, split=split, labels=lab) for s, lab in zip(seeds, labs, strict=True)
    ]
    members = [
        build_mlp(list(widths), a, init=init, seed=s) for s, a in zip(seeds, acts, strict=True)
    ]
    record = sorted({*log_snapshots(epochs, snapshots).tolist(), epochs})
    return train(
        EnsembleMLP(members), datasets, epochs=epochs, seed=seeds, lr=lr, batch_size=batch_size,
        l2=l2, record_epochs=record, shuffle=False, eval_every=eval_every, device=device,
        desc=f"{len(seeds)} nets",
    )  # fmt: skip
