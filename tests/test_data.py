import os
import struct

import numpy as np
import pytest
import torch

from ibcore import data


def test_szt_task_counts_from_spec():
    f, y = data.szt_task()
    assert f.shape == (4096, 12) and f.dtype == np.uint8
    assert y.shape == (4096,) and int(y.sum()) == 2118
    # row r is the binary expansion of r, MSB first
    assert f[5].tolist() == [0] * 9 + [1, 0, 1]
    weights = f.sum(1)
    per_weight = [int(y[weights == n].sum()) for n in range(13)]
    assert per_weight == [0, 0, 0, 0, 0, 60, 532, 732, 495, 220, 66, 12, 1]


def test_szt_labels_invariant_under_antipodal_map():
    f, y = data.szt_task()
    perm = np.arange(12)
    for a, b in data.SZT_ANTIPODES:
        perm[a], perm[b] = b, a
    g = f[:, perm]
    idx = (g.astype(np.int64) << np.arange(11, -1, -1)).sum(1)
    assert np.array_equal(y[idx], y)


def test_szt_gram_is_rank_three():
    ev = np.linalg.eigvalsh(data.szt_gram())
    assert np.allclose(np.sort(ev)[-3:], 4.0) and np.allclose(ev[:-3], 0.0, atol=1e-9)


@pytest.mark.skipif(
    not os.environ.get("IBCORE_SZT_REFERENCE"), reason="IBCORE_SZT_REFERENCE (var_u.mat) not set"
)
def test_szt_bit_exact_against_var_u():
    f_ref, y_ref = data.load_var_u(os.environ["IBCORE_SZT_REFERENCE"])
    f, y = data.szt_task()
    assert np.array_equal(f_ref.astype(np.uint8), f)
    assert np.array_equal(y_ref.astype(np.uint8), y)


def test_szt_splits():
    d = data.load_szt12(seed=0)
    assert len(d.x_train) == 3277 and len(d.x_test) == 819 and len(d.x_probe) == 4096
    assert d.fingerprint() == data.load_szt12(seed=0).fingerprint()
    assert d.fingerprint() != data.load_szt12(seed=1).fingerprint()
    u = data.load_szt12(split="idnns_unshuffled")
    assert torch.equal(u.x_train, u.x_probe[:3277])
    assert abs(float(u.y_test.float().mean()) - 0.836) < 0.001  # IDNNs split: test 83.6 % positive


def test_digits_split_and_standardisation():
    d = data.load_digits(seed=0)
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64) and d.n_classes == 10
    assert torch.allclose(d.x_train.mean(0), torch.zeros(64), atol=1e-5)
    assert len(data.load_digits(probe="all").x_probe) == 1797


def test_digits_permuted_labels_keep_the_split():
    d, n = data.load_digits(seed=3), data.load_digits(seed=3, labels="permuted")
    assert torch.equal(d.x_train, n.x_train) and torch.equal(d.x_test, n.x_test)
    assert not torch.equal(d.y_train, n.y_train)
    assert torch.equal(torch.sort(d.y_train).values, torch.sort(n.y_train).values)
    assert n.name == "digits-permuted" and d.fingerprint() != n.fingerprint()
    with pytest.raises(ValueError, match="labels"):
        data.load_digits(labels="shuffled")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="imagenet"), r"parameter 'dataset' = 'imagenet' is not allowed; choose one of"),
        (dict(name="szt12", split="random"), r"parameter 'split' = 'random' is not allowed"),
        (dict(name="digits", probe="val"), r"parameter 'probe' = 'val' is not allowed"),
    ],
)
def test_bad_dataset_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_dataset(**kwargs)


def test_torchvision_offline_names_alternative(tmp_path):
    with pytest.raises(data.DataUnavailableError, match=r"dataset='digits'"):
        data.load_dataset("mnist", root=tmp_path)


def _write_idx(path, arr, magic):
    with open(path, "wb") as fh:
        fh.write(struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape))
        fh.write(arr.astype(np.uint8).tobytes())


def test_torchvision_real_loader_on_local_files(tmp_path):
    """The real torchvision MNIST class reads files we write, offline (the paper-scale path)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)), 2049)
    d = data.load_dataset("mnist", root=tmp_path, n_probe=5)
    assert d.x_train.shape == (20, 1, 28, 28) and d.x_test.shape == (10, 1, 28, 28)
    assert d.y_train.dtype == torch.int64 and len(d.x_probe) == 5 and d.n_features == 784
