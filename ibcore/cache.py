"""The result cache (all chapters): finished runs are reused until what produced them changes.

A key covers the function, its parameters, a data fingerprint, torch/numpy versions and the code
(core, measures, the function's module) as syntax trees without docstrings; ``ibcore/book`` and
comments never invalidate a run. :func:`prune` removes unreachable entries (``make cache-prune``).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import pickle
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

from ibcore.atomic import atomic_write_bytes
from ibcore.paths import cache_dir

T = TypeVar("T")
MAGIC = b"IBCORE-CACHE-2\n"
PACKAGE = Path(__file__).resolve().parent


def _is_string_statement(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _code_digest(path: Path) -> str:
    """SHA-256 of a module's syntax tree with docstrings removed (comments never enter it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):  # docstrings, and string statements after assignments
            kept = [s for s in body if not _is_string_statement(s)]
            node.body = kept or [ast.Pass()]  # type: ignore[attr-defined]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


@lru_cache(maxsize=1)
def core_hash() -> str:
    """Hash of the computing code every run depends on: core modules, measures, torch, numpy."""
    import numpy
    import torch

    h = hashlib.sha256(f"torch {torch.__version__} numpy {numpy.__version__}".encode())
    files = sorted(PACKAGE.glob("*.py")) + sorted((PACKAGE / "measures").glob("*.py"))
    for p in files:
        h.update(p.relative_to(PACKAGE).as_posix().encode())
        h.update(_code_digest(p).encode())
    return h.hexdigest()


@lru_cache(maxsize=64)
def _module_hash(module: str) -> str:
    """Hash of the module that defines a cached function (a claim module, or a test's)."""
    try:
        mod = import_module(module)
        path = Path(inspect.getsourcefile(mod) or "")
    except (ImportError, TypeError):
        return "unknown"
    if not path.is_file():
        return "unknown"
    path = path.resolve()
    if path.parent == PACKAGE or path.parent == PACKAGE / "measures":
        return "core"  # already in core_hash
    return _code_digest(path)


def source_hash(module: str) -> str:
    """What a cached function of ``module`` depends on: :func:`core_hash` + its module's code."""
    return hashlib.sha256(f"{core_hash()} {_module_hash(module)}".encode()).hexdigest()


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


def _fn_name(fn: Callable) -> tuple[str, str]:
    return getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn))


def cache_key(fn: Callable, params: Mapping[str, Any], data: str | None = None) -> str:
    """Key of a cached call: function name + parameters + computing code + data fingerprint."""
    module, qualname = _fn_name(fn)
    blob = canonical_json(
        {"fn": f"{module}.{qualname}", "params": dict(params), "src": source_hash(module),
         "data": data}
    )  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()


def _encode(value: Any, header: Mapping[str, str]) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    head = json.dumps(dict(header), sort_keys=True).encode()
    return MAGIC + head + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _split(raw: bytes) -> tuple[dict[str, str], bytes, bytes]:
    if not raw.startswith(MAGIC):
        raise ValueError("not an ibcore cache file of this version")
    head, sep1, rest = raw[len(MAGIC) :].partition(b"\n")
    digest, sep2, payload = rest.partition(b"\n")
    if not sep1 or not sep2:
        raise ValueError("truncated entry")
    return json.loads(head.decode()), digest, payload


def _decode(raw: bytes) -> Any:
    _, digest, payload = _split(raw)
    if hashlib.sha256(payload).hexdigest().encode() != digest:
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
    """``fn(**params)``, from the cache (``cache`` or ``IBCORE_CACHE``) when this call has an entry;
    ``data``: a fingerprint of input data not made by ibcore's own generators (all chapters)."""
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
    module, qualname = _fn_name(fn)
    atomic_write_bytes(path, _encode(value, {"module": module, "fn": qualname,
                                             "src": source_hash(module)}))  # fmt: skip
    return value


def prune(cache: str | Path | None = None, dry_run: bool = False) -> list[Path]:
    """Remove (and return) the entries no current key can reach: changed or missing code, or not
    a readable entry of this cache version."""
    folder = Path(cache) if cache is not None else cache_dir()
    gone = []
    for path in sorted(folder.glob("*.pkl")) if folder.is_dir() else []:
        try:
            with path.open("rb") as fh:
                head = fh.read(len(MAGIC) + 4096)
            meta, _, _ = _split(head + b"\n" if head.count(b"\n") < 3 else head)
            stale = meta.get("src") != source_hash(meta.get("module", "?"))
        except (OSError, ValueError):
            stale = True
        if stale:
            gone.append(path)
            if not dry_run:
                path.unlink(missing_ok=True)
    return gone


def main(argv: list[str] | None = None) -> int:
    """``python -m ibcore.cache prune [--dry-run]``: remove unreachable entries."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m ibcore.cache", description=main.__doc__)
    ap.add_argument("command", choices=["prune"])
    ap.add_argument("--dry-run", action="store_true", help="list the entries, remove nothing")
    args = ap.parse_args(argv)
    gone = prune(dry_run=args.dry_run)
    size = sum(p.stat().st_size for p in gone if p.exists()) if args.dry_run else None
    verb = "would remove" if args.dry_run else "removed"
    extra = f" ({size / 1e6:.1f} MB)" if size is not None else ""
    print(f"ibcore cache {cache_dir()}: {verb} {len(gone)} unreachable entries{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def run_cached_many(
    fn: Callable[..., T],
    params_list: Sequence[Mapping[str, Any]],
    *,
    workers: int = 1,
    data: str | None = None,
    cache: str | Path | None = None,
    cost: Callable[[Mapping[str, Any]], float] | None = None,
) -> list[T]:
    """``[run_cached(fn, p) for p in params_list]``; with ``workers`` > 1 the missing entries are
    first computed side by side in worker processes (:mod:`ibcore.parallel`), one thread each.

    Results are the same as with one worker: each run is a pure function of its parameters.
    ``cost`` (an estimate of a run's cost from its parameters) hands out the costliest runs first,
    so that the workers finish together; the results keep the order of ``params_list``.
    A line per finished run counts the runs still to compute, with the time left (on
    :func:`ibcore.env.progress_stream` when a chapter runs headless, else stderr; off with
    ``IBCORE_PROGRESS=0``).
    """
    import time

    from ibcore.env import progress_on, progress_stream

    folder = Path(cache) if cache is not None else cache_dir()
    todo = [dict(p) for p in params_list if not (folder / f"{cache_key(fn, p, data)}.pkl").exists()]
    if cost is not None:
        todo.sort(key=cost, reverse=True)  # stable: equal costs keep their order
    name = _fn_name(fn)[1]
    out = (progress_stream() or sys.stderr) if progress_on() and todo else None
    t0 = time.perf_counter()

    def tick(done: int) -> None:
        if out is None:
            return
        el = time.perf_counter() - t0
        left = el / done * (len(todo) - done)
        print(f"{name}: {done} of {len(todo)} runs done, {el:.0f} s, about {left:.0f} s left",
              file=out, flush=True)  # fmt: skip

    if workers > 1 and len(todo) > 1:
        from ibcore.parallel import imap_unordered

        args = [(fn, p, data, str(folder)) for p in todo]
        for k, _ in enumerate(imap_unordered(_fill, args, workers), 1):
            tick(k)
    else:
        for k, p in enumerate(todo, 1):
            run_cached(fn, p, data=data, cache=folder)
            tick(k)
    return [run_cached(fn, p, data=data, cache=folder) for p in params_list]


def _fill(fn: Callable, params: dict[str, Any], data: str | None, cache: str) -> None:
    import os

    os.environ["IBCORE_PROGRESS"] = "0"  # a worker's bars would garble the counter's line
    run_cached(fn, params, data=data, cache=cache)  # the result stays in the cache, not the pipe
