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
    monkeypatch.setattr(cache, "source_hash", lambda: "an edited ibcore")
    cache.run_cached(square, {"x": 3}, cache=tmp_path)
    assert len(CALLS) == 5


def test_key_ignores_dict_order_but_not_values():
    k1 = cache.cache_key(square, {"x": 1, "tag": "a"})
    assert k1 == cache.cache_key(square, {"tag": "a", "x": 1})
    assert k1 != cache.cache_key(square, {"x": 1.5, "tag": "a"})


def test_source_hash_covers_the_package():
    h = cache.source_hash()
    assert len(h) == 64 and h == cache.source_hash()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip"])
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
    else:
        entry.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
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
    assert list(tmp_path.iterdir()) == [] if tmp_path.exists() else True


def test_default_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IBCORE_CACHE", str(tmp_path / "c"))
    cache.run_cached(square, {"x": 2})
    assert len(list((tmp_path / "c").glob("*.pkl"))) == 1
