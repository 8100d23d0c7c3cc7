"""``make data``: put the real image data sets where :mod:`ibcore.data` reads them (``IBCORE_DATA``).

Fashion-MNIST (the ``full`` scale's data) comes from Debian's package ``dataset-fashion-mnist``
(``apt-get install dataset-fashion-mnist`` as root; ``.ci/run`` does), whose four gzipped idx files
are unzipped into ``<IBCORE_DATA>/FashionMNIST/raw/`` where torchvision's ``FashionMNIST`` loads
them. On a machine with internet and no Debian package, ``--download`` lets torchvision fetch them
instead (opted into explicitly: nothing here downloads by default).

``python -m ibcore.book.getdata [--download] [--check]``
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Sequence
from pathlib import Path

from ibcore.atomic import atomic_write_bytes
from ibcore.paths import data_dir

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# idx header: magic (0, 0, type 0x08 = unsigned byte, number of dimensions), then the sizes
SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
HOW = (
    "Fashion-MNIST is missing: run `make data` (it needs Debian's dataset-fashion-mnist: "
    "`apt-get install dataset-fashion-mnist` as root), or `make data ARGS=--download` on a "
    "machine with internet"
)


def raw_dir(root: str | Path | None = None) -> Path:
    """Where torchvision's ``FashionMNIST`` looks for the idx files under ``root``."""
    return (Path(root) if root is not None else data_dir()) / "FashionMNIST" / "raw"


def idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an idx file of unsigned bytes declares in its header (ValueError if it is not
    one, or if the file is shorter than the shape says)."""
    data = path.read_bytes()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path.name}: not an idx file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = 1
    for n in shape:
        size *= n
    if len(data) != 4 + 4 * ndim + size:
        raise ValueError(f"{path.name}: {len(data)} bytes, but the header declares {shape}")
    return shape


def missing(
    root: str | Path | None = None, shapes: dict[str, tuple[int, ...]] = SHAPES
) -> list[str]:
    """The Fashion-MNIST idx files that are absent or malformed under ``root`` (empty: ready)."""
    folder = raw_dir(root)
    bad = []
    for name in FILES:
        try:
            ok = idx_shape(folder / name) == shapes[name]
        except (OSError, ValueError):
            ok = False
        if not ok:
            bad.append(name)
    return bad


def install_from(
    source: Path, root: str | Path | None = None, shapes: dict[str, tuple[int, ...]] = SHAPES
) -> Path:
    """Unzip the four ``*.gz`` idx files of ``source`` into :func:`raw_dir` (atomically, one file
    at a time; a malformed file is refused before anything is written)."""
    folder = raw_dir(root)
    blobs = {}
    for name in FILES:
        gz = source / f"{name}.gz"
        if not gz.is_file():
            raise FileNotFoundError(f"{gz} not found. {HOW}")
        with gzip.open(gz) as f:
            blobs[name] = f.read()
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in blobs.items():
        atomic_write_bytes(folder / name, blob)
    bad = missing(root, shapes)
    if bad:
        for name in FILES:
            (folder / name).unlink(missing_ok=True)
        raise ValueError(f"{source}: malformed idx files {bad}; nothing installed")
    return folder


def download(root: str | Path | None = None) -> Path:
    """Fetch Fashion-MNIST with torchvision (internet needed)."""
    import torchvision

    root = Path(root) if root is not None else data_dir()
    for train in (True, False):
        torchvision.datasets.FashionMNIST(str(root), train=train, download=True)
    return raw_dir(root)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ibcore.book.getdata", description=__doc__)
    ap.add_argument("--download", action="store_true", help="let torchvision download the files")
    ap.add_argument("--check", action="store_true", help="only say whether the files are there")
    ap.add_argument("--root", default=None, help="data root (default: IBCORE_DATA or ./data)")
    args = ap.parse_args(argv)
    if not missing(args.root):
        print(f"Fashion-MNIST ready in {raw_dir(args.root)}")
        return 0
    if args.check:
        print(HOW, file=sys.stderr)
        return 1
    try:
        if DEBIAN.is_dir():
            folder = install_from(DEBIAN, args.root)
        elif args.download:
            folder = download(args.root)
        else:
            print(HOW, file=sys.stderr)
            return 1
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"make data: {exc}", file=sys.stderr)
        return 1
    print(f"Fashion-MNIST ready in {folder}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
