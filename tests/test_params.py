import pytest

from ibcore.claims import MODULES, chapter
from ibcore.schema import Param, ParameterError, resolve, seeds_list


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(scale="fast"), r"parameter 'scale' = 'fast' is not allowed; choose one of \('smoke', 'cpu', 'full', 'paper'\)"),
        (dict(activation="sigmoid"), r"parameter 'activation' = 'sigmoid' is not allowed; choose one of \('tanh', 'relu'"),
        (dict(seeds=0), r"parameter 'seeds' = 0 is out of range; it must be >= 1"),
        (dict(seeds="3"), r"parameter 'seeds' must be of type int, got str '3'"),
        (dict(epochs=1.5), r"parameter 'epochs' must be of type int, got float 1.5"),
        (dict(lr=-1.0), r"parameter 'lr' = -1.0 is out of range; it must be >= 1e-07"),
        (dict(split="random"), r"parameter 'split' = 'random' is not allowed; choose one of \('shuffled', 'idnns_unshuffled'\)"),
        (dict(device="tpu"), r"parameter 'device' = 'tpu' is not allowed"),
        (dict(epochs=True), r"parameter 'epochs' must be of type int, got bool True"),
        (dict(colour="red"), r"unknown parameter 'colour'; this chapter's parameters are"),
    ],
)  # fmt: skip
def test_bad_chapter_parameters_have_one_clear_line(values, message):
    scale = values.pop("scale", "cpu")
    with pytest.raises(ParameterError, match=message) as exc:
        chapter("00").resolve(scale, **values)
    assert "\n" not in str(exc.value)


def test_none_takes_the_preset_and_ints_become_floats():
    ch = chapter("00")
    p = ch.resolve("smoke", lr=1, seeds=None, epochs=None)
    assert p["seeds"] == ch.preset("smoke")["seeds"] and p["epochs"] == ch.preset("smoke")["epochs"]
    assert ch.preset("smoke")["epochs"] != ch.preset("cpu")["epochs"]  # the scale's own preset
    assert p["lr"] == 1.0 and isinstance(p["lr"], float)


@pytest.mark.parametrize("key", sorted(MODULES))
@pytest.mark.parametrize("scale", ["smoke", "cpu", "full", "paper"])
def test_every_preset_validates(key, scale):
    ch = chapter(key)
    p = ch.resolve(scale)
    assert set(p) == set(ch.names)  # every parameter has a value at every scale
    for name, value in ch.preset(scale).items():  # the preset's own values pass unchanged
        assert p[name] == value and type(p[name]) is type(value), name


def test_many_values_and_seeds_list():
    schema = {"acts": Param(str, choices=("tanh", "relu"), many=True)}
    assert resolve(schema, {"cpu": {}}, "cpu", acts="tanh, relu")["acts"] == ["tanh", "relu"]
    with pytest.raises(ParameterError, match=r"parameter 'acts' = 'elu' is not allowed"):
        resolve(schema, {"cpu": {}}, "cpu", acts=["tanh", "elu"])
    assert seeds_list(3) == [0, 1, 2] and seeds_list([5, 7]) == [5, 7]


def test_comma_separated_numbers_are_converted():
    schema = {"depths": Param(int, many=True, low=2)}
    assert resolve(schema, {"cpu": {}}, "cpu", depths="10, 40")["depths"] == [10, 40]
    with pytest.raises(
        ParameterError, match=r"parameter 'depths' must be of type int, got str 'x'"
    ):
        resolve(schema, {"cpu": {}}, "cpu", depths="10,x")


# ---- the seed list of every chapter (ibcore.schema.Seeds) --------------------------------------


def _seeds_error(value) -> str:
    with pytest.raises(ParameterError) as exc:
        chapter("00").resolve("smoke", seeds=value)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("parameter 'seeds'"), msg
    return msg


@pytest.mark.parametrize("value", [[1, 1, 2], [7, 3, 7], (0, 0)], ids=str)
def test_a_seed_listed_twice_is_refused(value):
    assert "lists a seed twice" in _seeds_error(value)


@pytest.mark.parametrize(
    "value, bad",
    [([-1], "-1"), ([3, 2**31], str(2**31)), ([True, 2], "True"), ([False], "False"),
     ([1.0], "1.0"), ([2, 0.5], "0.5"), (["3"], "'3'"), ([None], "None")],
    ids=str,
)  # fmt: skip
def test_a_listed_seed_out_of_range_or_not_an_int_is_refused(value, bad):
    msg = _seeds_error(value)
    assert msg.endswith(f"every listed seed must be an int in [0, 2**31), got {bad}"), msg


@pytest.mark.parametrize("value", [[], (), True, 0, 1001, 2.0, "3"], ids=repr)
def test_an_empty_list_or_a_bad_count_is_refused(value):
    _seeds_error(value)


def test_good_seed_lists_are_kept_in_order_as_plain_ints():
    assert chapter("00").resolve("smoke", seeds=[0, 2**31 - 1])["seeds"] == [0, 2**31 - 1]
    assert chapter("00").resolve("smoke", seeds=(7, 3))["seeds"] == [7, 3]  # a tuple: a list
    assert chapter("00").resolve("smoke", seeds=5)["seeds"] == 5  # a count stays a count
