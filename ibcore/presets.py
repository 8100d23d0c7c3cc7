"""Each chapter's parameter schema and its ``smoke`` / ``cpu`` / ``paper`` presets.

A chapter's ``parameters`` cell sets ``scale`` and may override any other parameter; ``None``
means "from the preset". :func:`chapter_params` validates the result (see :mod:`ibcore.params`).
"""

from __future__ import annotations

from typing import Any

from ibcore.adaptive import CH2_ESTIMATORS
from ibcore.data import DATASETS, SPLITS
from ibcore.env import DEVICES
from ibcore.models import ACTIVATIONS, SHORTCUTS
from ibcore.params import SCALES, Param, Seeds, resolve

COMMON: dict[str, Param] = {
    "seeds": Seeds(int, "number of seeds (0..n-1), or a list of seeds", low=1, high=1000),
    "device": Param(str, "torch device", choices=DEVICES),
}

CHAPTERS: dict[str, tuple[dict[str, Param], dict[str, dict[str, Any]]]] = {
    "00": (
        {
            "activation": Param(str, "hidden-layer activation", choices=tuple(ACTIVATIONS)),
            "epochs": Param(int, "training epochs", low=1, high=100_000),
            "snapshots": Param(int, "log-spaced snapshot count (IDNNs formula)", low=2, high=1000),
            "n_bins": Param(int, "fixed bins on [-1, 1]", low=2, high=1000),
            "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
            "l2": Param(float, "hidden-layer L2 weight", low=0.0, high=10.0),
            "split": Param(str, "train/test split", choices=SPLITS),
            **COMMON,
        },
        {
            "smoke": dict(activation="tanh", epochs=150, snapshots=12, seeds=1),
            "cpu": dict(activation="tanh", epochs=1500, snapshots=40, seeds=3),
            "paper": dict(activation="tanh", epochs=8000, snapshots=400, seeds=50),
        },
    ),
    "01": (
        {
            "dataset": Param(
                str,
                "data set (cifar10/100 need the files)",
                choices=("digits", "cifar10", "cifar100"),
            ),
            "depth": Param(int, "hidden layers of the deep nets", low=2, high=200),
            "width": Param(int, "units per hidden layer", low=2, high=4096),
            "epochs": Param(int, "training epochs (Adam)", low=1, high=10_000),
            "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
            "batch_size": Param(int, "mini-batch size", low=1, high=100_000),
            "measure_every": Param(int, "epochs between unit measurements", low=1, high=10_000),
            "hessian_depth": Param(
                int, "hidden layers of the Hessian net (digits)", low=1, high=100
            ),
            "hessian_width": Param(int, "units per layer of the Hessian net", low=1, high=256),
            "hessian_samples": Param(int, "training samples in the Hessian loss", low=2, high=1437),
            "hessian_epochs": Param(int, "epochs at which the Hessian is taken", low=0, many=True),
            "toy_depth": Param(int, "weights of the scalar toy chain", low=1, high=100),
            "toy_steps": Param(int, "gradient steps of the toy chain", low=1, high=1_000_000),
            **COMMON,
        },
        {
            "smoke": dict(
                depth=6,
                width=16,
                epochs=4,
                measure_every=2,
                seeds=1,
                hessian_depth=3,
                hessian_width=4,
                hessian_samples=100,
                hessian_epochs=[0, 4],
                toy_steps=3000,
            ),
            "cpu": dict(
                depth=20,
                width=32,
                epochs=30,
                measure_every=5,
                seeds=3,
                hessian_depth=10,
                hessian_width=8,
                hessian_samples=500,
                hessian_epochs=[0, 30],
                toy_steps=20_000,
            ),
            "paper": dict(
                dataset="cifar100",
                depth=30,
                width=128,
                epochs=100,
                batch_size=256,
                measure_every=10,
                seeds=3,
                hessian_depth=30,
                hessian_width=16,
                hessian_samples=1000,
                hessian_epochs=[0, 1, 5, 20, 100],
                toy_steps=20_000,
            ),
        },
    ),
    "02": (
        {
            "activations": Param(
                str, "hidden-layer activations", choices=tuple(ACTIVATIONS), many=True
            ),
            "epochs": Param(int, "training epochs (Adam, lr 4e-4, batch 256)", low=1, high=100_000),
            "snapshots": Param(int, "log-spaced snapshot count (IDNNs formula)", low=2, high=1000),
            "estimators": Param(str, "information estimators", choices=CH2_ESTIMATORS, many=True),
            "n_bins": Param(int, "bins of the binning estimators", low=2, high=1000),
            "kde_noise": Param(float, "KDE noise variance σ²", low=1e-12, high=100.0),
            "akde_alpha": Param(float, "aKDE: σ² = alpha · max|T|", low=1e-12, high=100.0),
            "kde_samples": Param(int, "inputs used by the kernel estimators", low=2, high=4096),
            "l2": Param(float, "L2 weight of the regularised runs (> 0)", low=1e-9, high=10.0),
            "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
            "split": Param(str, "train/test split", choices=SPLITS),
            "group_size": Param(int, "nets trained together as one ensemble", low=1, high=10_000),
            "workers": Param(int, "processes training groups in parallel", low=1, high=64),
            **COMMON,
        },
        {
            "smoke": dict(
                activations=["tanh", "relu"], epochs=60, snapshots=10, seeds=2, kde_samples=256
            ),
            "cpu": dict(epochs=1500, snapshots=40, seeds=3, workers=2),
            "paper": dict(epochs=8000, snapshots=400, seeds=20, kde_samples=4096, group_size=24),
        },
    ),
    "03": (
        {
            "dataset": Param(
                str,
                "data set (mnist etc. need the files)",
                choices=("digits", "mnist", "fashionmnist", "cifar10", "cifar100"),
            ),
            "depth": Param(int, "Linear+ReLU layers of the vanilla net", low=3, high=2000),
            "width": Param(int, "units per hidden layer", low=1, high=8192),
            "epochs": Param(int, "training epochs (Adam)", low=1, high=100_000),
            "lr": Param(float, "Adam learning rate", low=1e-9, high=1.0),
            "batch_size": Param(int, "mini-batch size (>= 2 for entropy)", low=2, high=65_536),
            "lbe_alpha": Param(float, "initial LBE target entropy [nats]", low=0.0, high=100.0),
            "lbe_alpha_min": Param(float, "floor of the LBE targets [nats]", low=0.0, high=100.0),
            "lbe_beta": Param(float, "LBE weight (> 0 for the LBE runs)", low=1e-12, high=1e6),
            "record_every": Param(int, "epochs between entropy snapshots", low=1, high=100_000),
            "eval_every": Param(int, "epochs between accuracy evaluations", low=1, high=100_000),
            "sweep_depths": Param(int, "depths of the depth sweep", low=3, high=2000, many=True),
            "sweep_epochs": Param(int, "training epochs of the depth sweep", low=1, high=100_000),
            "sweep_seeds": Param(int, "seeds of the depth sweep (0..n-1)", low=1, high=1000),
            **COMMON,
        },
        {
            "smoke": dict(
                depth=12,
                width=32,
                epochs=6,
                seeds=2,
                record_every=1,
                eval_every=1,
                sweep_depths=[4, 12],
                sweep_epochs=6,
                sweep_seeds=1,
            ),
            "cpu": dict(
                depth=50,
                width=128,
                epochs=67,
                seeds=3,
                sweep_depths=[10, 20, 30, 50],
                sweep_epochs=67,
                sweep_seeds=1,
            ),
            "paper": dict(
                dataset="mnist",
                depth=500,
                width=1000,
                epochs=1000,
                lr=1e-6,
                lbe_alpha=2.0,
                lbe_alpha_min=0.2,
                lbe_beta=0.1,
                seeds=5,
                record_every=10,
                eval_every=5,
                sweep_depths=[10, 20, 30, 40, 50, 100, 250],
                sweep_epochs=100,
                sweep_seeds=3,
            ),
        },
    ),
    "04": (
        {
            "dataset": Param(str, "data set (cifar10 needs the files)", choices=DATASETS),
            "shortcuts": Param(str, "shortcut kinds to compare", choices=SHORTCUTS[:4], many=True),
            "depth": Param(int, "hidden blocks (block 1 = stem)", low=2, high=64),
            "width": Param(int, "units per block", low=2, high=4096),
            "epochs": Param(int, "training epochs (Adam, batch 64)", low=1, high=10_000),
            "snapshots": Param(int, "log-spaced snapshots (about)", low=2, high=200),
            "lr": Param(float, "Adam learning rate", low=1e-7, high=1.0),
            "probe_steps": Param(int, "Adam steps of every Z-X/Z-Y probe", low=1, high=100_000),
            "probe_hidden": Param(int, "probe hidden units (0 = linear)", low=0, high=4096),
            "min_change": Param(float, "phase threshold [nats of -ln ZX]", low=1e-6, high=10.0),
            "extra_shortcuts": Param(
                str, "shortcut kinds of the CNN, ViT and Mixer", choices=SHORTCUTS[:4], many=True
            ),
            "cnn_seeds": Param(int, "seeds of the residual CNN (0 = skip it)", low=0, high=1000),
            "cnn_depth": Param(int, "CNN conv blocks (block 1 = stem)", low=2, high=64),
            "cnn_width": Param(int, "CNN channels", low=1, high=1024),
            "cnn_lr": Param(float, "CNN/ViT/Mixer Adam learning rate", low=1e-7, high=1.0),
            "tf_seeds": Param(int, "seeds of the ViT and MLP-Mixer (0 = skip)", low=0, high=1000),
            "tf_depth": Param(int, "ViT/Mixer blocks (block 1 = patch embedding)", low=2, high=64),
            "tf_width": Param(int, "ViT/Mixer token dimension", low=4, high=1024),
            **COMMON,
        },
        {
            "smoke": dict(
                shortcuts=["identity", "projection"],
                depth=3,
                epochs=3,
                snapshots=4,
                probe_steps=40,
                probe_hidden=32,
                seeds=1,
                cnn_seeds=1,
                cnn_depth=2,
                tf_seeds=1,
                tf_depth=2,
            ),
            "cpu": dict(
                depth=8,
                epochs=30,
                snapshots=10,
                probe_steps=300,
                probe_hidden=64,
                seeds=3,
                cnn_seeds=3,
                tf_seeds=0,
            ),
            "paper": dict(
                dataset="cifar10",
                depth=8,
                width=256,
                epochs=60,
                snapshots=16,
                probe_steps=2000,
                probe_hidden=256,
                seeds=3,
                cnn_seeds=3,
                cnn_depth=8,
                cnn_width=32,
                tf_seeds=3,
                tf_depth=8,
                tf_width=128,
            ),
        },
    ),
}

# Values shared by all scales of a chapter (a scale's preset overrides them).
SHARED: dict[str, dict[str, Any]] = {
    "00": dict(n_bins=30, lr=4e-4, l2=0.0, split="shuffled", device="auto"),
    "01": dict(dataset="digits", lr=1e-3, batch_size=128, toy_depth=10, device="auto"),
    "02": dict(
        activations=["tanh", "relu", "elu", "softplus", "swish", "leaky_relu"],
        estimators=["fixed", "kde", "ebab", "akde", "saxe_max"],
        n_bins=30,
        kde_noise=1e-3,
        akde_alpha=0.1,
        kde_samples=1024,
        l2=0.015,
        lr=4e-4,
        split="shuffled",
        group_size=18,
        workers=1,
        device="auto",
    ),
    "03": dict(
        dataset="digits",
        lr=3e-4,
        batch_size=128,
        lbe_alpha=0.5,
        lbe_alpha_min=0.5,
        lbe_beta=1.0,
        record_every=3,
        eval_every=3,
        device="auto",
    ),
    "04": dict(
        dataset="digits",
        shortcuts=["identity", "projection", "none"],
        extra_shortcuts=["identity", "projection"],
        tf_depth=4,
        tf_width=16,
        cnn_depth=6,
        cnn_width=8,
        cnn_lr=1e-3,
        width=64,
        lr=2e-4,
        min_change=0.05,
        device="auto",
    ),
}


def chapter_params(chapter: str, scale: Any, **values: Any) -> dict[str, Any]:
    """Validated parameters of ``chapter`` at ``scale`` with explicit ``values`` (all chapters).

    Raises :class:`ibcore.params.ParameterError` with one line naming a bad parameter.
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {tuple(CHAPTERS)}")
    schema, presets = CHAPTERS[chapter]
    assert set(presets) == set(SCALES), f"chapter {chapter} must define presets {SCALES}"
    full = {s: {**SHARED.get(chapter, {}), **p} for s, p in presets.items()}
    return resolve(schema, full, scale, **values)
