"""``make data`` (``ibcore.book.getdata``): Fashion-MNIST from Debian's idx files, checked, and
loaded by ``ibcore.data`` — on a tiny idx fixture made here, and on the real files when present."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from ibcore.book import getdata
from ibcore.data import load_dataset

TINY = {
    "train-images-idx3-ubyte": (6, 28, 28),
    "train-labels-idx1-ubyte": (6,),
    "t10k-images-idx3-ubyte": (4, 28, 28),
    "t10k-labels-idx1-ubyte": (4,),
}


def _idx(shape: tuple[int, ...], values: np.ndarray) -> bytes:
    head = b"\x00\x00\x08" + bytes([len(shape)]) + b"".join(struct.pack(">I", n) for n in shape)
    return head + values.astype(np.uint8).tobytes()


def _fixture(folder: Path) -> dict[str, np.ndarray]:
    """Four gzipped idx files of the tiny shapes; returns the arrays written."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    arrays = {}
    for name, shape in TINY.items():
        hi = 10 if "labels" in name else 256
        arrays[name] = rng.integers(0, hi, size=shape)
        (folder / f"{name}.gz").write_bytes(gzip.compress(_idx(shape, arrays[name])))
    return arrays


def test_idx_header_is_read_and_checked(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(_idx((2, 3), np.arange(6)))
    assert getdata.idx_shape(p) == (2, 3)
    p.write_bytes(_idx((2, 3), np.arange(5)))  # one byte short
    with pytest.raises(ValueError, match="declares"):
        getdata.idx_shape(p)
    p.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"abcd")  # float32, not bytes
    with pytest.raises(ValueError, match="unsigned bytes"):
        getdata.idx_shape(p)


def test_install_unzips_checks_and_loads(tmp_path):
    arrays = _fixture(tmp_path / "debian")
    root = tmp_path / "data"
    assert getdata.missing(root, TINY) == list(getdata.FILES)
    folder = getdata.install_from(tmp_path / "debian", root, TINY)
    assert folder == root / "FashionMNIST" / "raw"
    assert getdata.missing(root, TINY) == []
    ds = load_dataset("fashionmnist", root=root)
    assert tuple(ds.x_train.shape) == (6, 1, 28, 28) and tuple(ds.x_test.shape) == (4, 1, 28, 28)
    # labels and pixels are the fixture's own, in order (normalised with Fashion-MNIST's stats)
    assert ds.y_train.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert ds.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    pix = ds.x_train[:, 0].numpy() * 0.3530 + 0.2860
    np.testing.assert_allclose(pix * 255, arrays["train-images-idx3-ubyte"], atol=1e-3)


def test_a_malformed_source_installs_nothing(tmp_path):
    _fixture(tmp_path / "debian")
    bad = tmp_path / "debian" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(_idx((3,), np.arange(3))))  # 3 labels for 4 images
    with pytest.raises(ValueError, match="nothing installed"):
        getdata.install_from(tmp_path / "debian", tmp_path / "data", TINY)
    assert not any((tmp_path / "data" / "FashionMNIST" / "raw").iterdir())


def test_missing_files_say_how_to_get_them(tmp_path, capsys):
    assert getdata.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "make data" in err and "dataset-fashion-mnist" in err and "\n" == err[-1]


@pytest.mark.skipif(
    not (getdata.DEBIAN / "train-labels-idx1-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)
def test_the_real_files(tmp_path):
    getdata.install_from(getdata.DEBIAN, tmp_path)
    assert getdata.missing(tmp_path) == []
    ds = load_dataset("fashionmnist", root=tmp_path)
    assert tuple(ds.x_train.shape) == (60000, 1, 28, 28) and ds.n_classes == 10
    counts = np.bincount(ds.y_train.numpy(), minlength=10)
    assert counts.tolist() == [6000] * 10  # Fashion-MNIST's training set is balanced
    assert np.bincount(ds.y_test.numpy(), minlength=10).tolist() == [1000] * 10


def test_a_full_book_checks_its_data_first(tmp_path, monkeypatch):
    from ibcore.book.pipeline import check_data, main

    monkeypatch.setenv("IBCORE_DATA", str(tmp_path / "none"))
    assert "make data" in check_data("full")  # chapters 1, 3 and 4 read Fashion-MNIST at full
    assert check_data("cpu") == "" and check_data(None) == ""
    assert main(["book", "--scale", "full"]) == 2  # one line, nothing built


def test_the_full_book_copies_only_the_hand_written_sources(tmp_path):
    from ibcore.book.pipeline import full_book_source

    book = tmp_path / "book"
    for rel in ("intro.md", "_toc.yml", "_assets/x.css", "chapters/00.ipynb", "_build/h.html",
                "verdicts.md", "status.md", "_generated/t.md"):  # fmt: skip
        (book / rel).parent.mkdir(parents=True, exist_ok=True)
        (book / rel).write_text(rel)
    dest = full_book_source(book, tmp_path / "full" / "book")
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert got == ["_assets/x.css", "_toc.yml", "intro.md"]
