"""The result cache: finished runs are reused, and a change in what produced them invalidates them.

A cache key covers what actually determines a result (STYLE.md, "what users complain about" 3):
the function's name, its parameters, the whole ``ibcore`` source and a data fingerprint. Entries
are written atomically with a checksum; a corrupt or truncated entry is detected, reported and
recomputed — it never crashes a book build.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ibcore.io import atomic_write_bytes
from ibcore.paths import cache_dir

T = TypeVar("T")
MAGIC = b"IBCORE-CACHE-1\n"


@lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 over every ``.py`` file of the installed ``ibcore`` package (all chapters)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """Deterministic JSON of parameters (sorted keys; tuples as lists; numpy scalars as numbers)."""

    def default(o: Any) -> Any:
        if hasattr(o, "item"):
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, set | frozenset):
            return sorted(o)
        return str(o)

    return json.dumps(obj, sort_keys=True, default=default, separators=(",", ":"))


def params_hash(params: Mapping[str, Any]) -> str:
    """Short SHA-256 of the canonical JSON of ``params`` (used in verdicts and cache keys)."""
    return hashlib.sha256(canonical_json(dict(params)).encode()).hexdigest()[:16]


def cache_key(fn: Callable, params: Mapping[str, Any], data: str | None = None) -> str:
    """Key of a cached call: function name + parameters + ibcore source + data fingerprint."""
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    blob = canonical_json({"fn": name, "params": dict(params), "src": source_hash(), "data": data})
    return hashlib.sha256(blob.encode()).hexdigest()


def _encode(value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _decode(raw: bytes) -> Any:
    if not raw.startswith(MAGIC):
        raise ValueError("not an ibcore cache file")
    rest = raw[len(MAGIC) :]
    digest, sep, payload = rest.partition(b"\n")
    if not sep or hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ValueError("checksum mismatch (truncated or corrupt)")
    return pickle.loads(payload)


def run_cached(
    fn: Callable[..., T],
    params: Mapping[str, Any],
    *,
    data: str | None = None,
    cache: str | Path | None = None,
    enabled: bool = True,
) -> T:
    """Return ``fn(**params)``, from the cache when an entry for exactly this call exists.

    Serves every chapter (a book rebuild reuses finished runs). The key is :func:`cache_key`;
    ``data`` is a fingerprint of the input data (e.g. :meth:`ibcore.data.Dataset.fingerprint`)
    for data that does not come from ibcore's own generators. The cache folder is ``cache``
    or ``IBCORE_CACHE``. A corrupt entry is reported on stderr and recomputed.
    """
    if not enabled:
        return fn(**params)
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / f"{cache_key(fn, params, data)}.pkl"
    if path.exists():
        try:
            return _decode(path.read_bytes())
        except Exception as exc:  # corrupt, truncated, or unpicklable: recompute
            warnings.warn(
                f"ibcore cache: ignoring bad entry {path.name} ({exc}); recomputing", stacklevel=2
            )
            print(f"ibcore cache: bad entry {path.name} ({exc}); recomputing", file=sys.stderr)
    value = fn(**params)
    atomic_write_bytes(path, _encode(value))
    return value
