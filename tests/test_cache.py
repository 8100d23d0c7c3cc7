import pytest

from ibcore import cache

CALLS = []


def square(x, tag="a"):
    CALLS.append((x, tag))
    return {"value": x * x, "tag": tag}


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


def test_hit_returns_cached_value_without_recomputing(tmp_path):
    a = cache.run_cached(square, {"x": 3}, cache=tmp_path)
    b = cache.run_cached(square, {"x": 3}, cache=tmp_path)
    assert a == b == {"value": 9, "tag": "a"}
    assert CALLS == [(3, "a")]
    assert len(list(tmp_path.glob("*.pkl"))) == 1 and not list(tmp_path.glob(".*tmp"))


def test_parameters_data_and_source_invalidate(tmp_path, monkeypatch):
    cache.run_cached(square, {"x": 3}, cache=tmp_path)
    cache.run_cached(square, {"x": 4}, cache=tmp_path)
    cache.run_cached(square, {"x": 3, "tag": "b"}, cache=tmp_path)
    cache.run_cached(square, {"x": 3}, data="fingerprint-1", cache=tmp_path)
    assert len(CALLS) == 4
    monkeypatch.setattr(cache, "source_hash", lambda module: "an edited ibcore")
    cache.run_cached(square, {"x": 3}, cache=tmp_path)
    assert len(CALLS) == 5


def test_key_ignores_dict_order_but_not_values():
    k1 = cache.cache_key(square, {"x": 1, "tag": "a"})
    assert k1 == cache.cache_key(square, {"tag": "a", "x": 1})
    assert k1 != cache.cache_key(square, {"x": 1.5, "tag": "a"})


def _copy_package(tmp_path):
    """A copy of ibcore whose files a test may edit; returns (package dir, hash function)."""
    import shutil

    pkg = tmp_path / "ibcore"
    shutil.copytree(cache.PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def test_source_hash_follows_computing_code_not_docstrings_or_tooling(tmp_path, monkeypatch):
    pkg = _copy_package(tmp_path)
    monkeypatch.setattr(cache, "PACKAGE", pkg)

    def fresh() -> str:
        cache.core_hash.cache_clear()
        return cache.core_hash()

    base = fresh()
    assert len(base) == 64 and fresh() == base
    train = pkg / "train.py"
    text = train.read_text()
    # a docstring or a comment: same hash
    train.write_text(text.replace('"""Train ``model`` on ``data``', '"""Train the model on the data', 1)
                     .replace("# foreach Adam", "# the foreach Adam"))  # fmt: skip
    assert fresh() == base
    # the tooling: same hash
    (pkg / "book" / "widgets.py").write_text("x = 1\n")
    assert fresh() == base
    # a computing line of the core or of a measure: a new hash
    train.write_text(text.replace("momentum=0.9", "momentum=0.8"))
    assert fresh() != base
    train.write_text(text)
    assert fresh() == base
    info = pkg / "measures" / "information.py"
    info.write_text(info.read_text().replace("_LN2 = math.log(2.0)", "_LN2 = math.log(2.0001)"))
    assert fresh() != base
    cache.core_hash.cache_clear()


def test_source_hash_covers_the_defining_module(tmp_path, monkeypatch):
    mod = tmp_path / "ibtmp_runner.py"
    mod.write_text("def run():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    a = cache.source_hash("ibtmp_runner")
    cache._module_hash.cache_clear()
    mod.write_text('def run():\n    """Now documented."""\n    return 1\n')
    assert cache.source_hash("ibtmp_runner") == a
    cache._module_hash.cache_clear()
    mod.write_text("def run():\n    return 2\n")
    assert cache.source_hash("ibtmp_runner") != a
    cache._module_hash.cache_clear()
    # claim modules differ from each other; core modules share the core hash
    assert cache.source_hash("ibcore.claims.ch0_information_plane") != cache.source_hash(
        "ibcore.claims.ch3_batch_entropy"
    )
    assert cache.source_hash("ibcore.runs") == cache.source_hash("ibcore.train")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip", "payload"])
def test_corrupt_entry_is_recomputed_not_fatal(tmp_path, damage):
    cache.run_cached(square, {"x": 5}, cache=tmp_path)
    (entry,) = tmp_path.glob("*.pkl")
    raw = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"not a cache file")
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "flip":
        entry.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    else:  # a flipped byte inside the pickled value that still unpickles: only the checksum sees it
        i = raw.index(b"tag")  # the key of the cached dict
        bad = raw[:i] + b"tug" + raw[i + 3 :]
        import pickle

        payload = bad.split(b"\n", 3)[3]
        assert pickle.loads(payload) == {"value": 25, "tug": "a"}  # the damage is not loud
        entry.write_bytes(bad)
    with pytest.warns(UserWarning, match="ignoring bad entry"):
        value = cache.run_cached(square, {"x": 5}, cache=tmp_path)
    assert value == {"value": 25, "tag": "a"} and len(CALLS) == 2
    assert cache.run_cached(square, {"x": 5}, cache=tmp_path) == value  # repaired entry is a hit
    assert len(CALLS) == 2


def test_failed_computation_leaves_nothing(tmp_path):
    def boom():
        raise RuntimeError("fails")

    with pytest.raises(RuntimeError):
        cache.run_cached(boom, {}, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_default_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IBCORE_CACHE", str(tmp_path / "c"))
    cache.run_cached(square, {"x": 2})
    assert len(list((tmp_path / "c").glob("*.pkl"))) == 1


def test_prune_removes_only_unreachable_entries(tmp_path, monkeypatch):
    cache.run_cached(square, {"x": 2}, cache=tmp_path)
    cache.run_cached(square, {"x": 3}, cache=tmp_path)
    (tmp_path / "old.pkl").write_bytes(b"IBCORE-CACHE-1\nsomething")  # an old format
    assert cache.prune(tmp_path) == [tmp_path / "old.pkl"]
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    monkeypatch.setattr(cache, "source_hash", lambda module: "the code changed")
    assert len(cache.prune(tmp_path, dry_run=True)) == 2 and len(list(tmp_path.glob("*.pkl"))) == 2
    assert len(cache.prune(tmp_path)) == 2 and not list(tmp_path.glob("*.pkl"))


def test_run_cached_many_with_two_workers_equals_one(tmp_path):
    import numpy as np

    from ibcore.runs import szt_run

    ps = [dict(seed=s, epochs=3, snapshots=2, eval_every=1) for s in (0, 1, 2)]
    two = cache.run_cached_many(szt_run, ps, workers=2, cache=tmp_path / "a")
    assert len(list((tmp_path / "a").glob("*.pkl"))) == 3
    one = cache.run_cached_many(szt_run, ps, workers=1, cache=tmp_path / "b")
    for a, b in zip(one, two, strict=True):
        assert a.meta["seed"] == b.meta["seed"]
        for k in a.activations:
            np.testing.assert_array_equal(a.activations[k], b.activations[k])
    assert not np.array_equal(one[0].activations["h1"], one[1].activations["h1"])


CALLS: list[int] = []


def record_call(x: int) -> int:
    CALLS.append(x)
    return x * 10


def test_run_cached_many_runs_the_costliest_first_and_keeps_the_order(tmp_path):
    CALLS.clear()
    ps = [{"x": 1}, {"x": 3}, {"x": 2}]
    out = cache.run_cached_many(record_call, ps, cache=tmp_path, cost=lambda p: p["x"])
    assert CALLS == [3, 2, 1] and out == [10, 30, 20]


def test_a_parameter_set_to_none_is_part_of_the_key():
    """``{'dataset': None}`` (the chapter's default) and a missing parameter are different runs."""

    def fn(**kw):
        return kw

    base = cache.cache_key(fn, {"a": 1})
    assert cache.cache_key(fn, {"a": 1, "dataset": None}) != base
    assert cache.cache_key(fn, {"a": 1, "dataset": None}) != cache.cache_key(
        fn, {"a": 1, "dataset": "digits"}
    )
