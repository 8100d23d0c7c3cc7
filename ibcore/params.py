"""Parameter presets per scale and validation of papermill parameters (all chapters).

Every chapter has one ``parameters`` cell. Its values go through :func:`resolve`, which fills
``None`` values from the preset of the chosen ``scale`` and checks every value against a
:class:`Param` schema. A bad value stops the notebook in its first cells with one line that names
the parameter and what is allowed (:class:`ParameterError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCALES = ("smoke", "cpu", "paper")


class ParameterError(ValueError):
    """A notebook parameter has a wrong type, is out of range, or is not one of the choices."""


@dataclass(frozen=True)
class Param:
    """Schema of one parameter: its type, optional choices or range, and a one-line doc."""

    kind: type | tuple[type, ...]
    doc: str = ""
    choices: Sequence[Any] | None = None
    low: float | None = None
    high: float | None = None
    many: bool = False  # a list of values (each checked), e.g. several activations

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` (normalised) or raise :class:`ParameterError` naming ``name``."""
        if self.many:
            if isinstance(value, str):
                value = [_parse_item(v.strip(), self.kind) for v in value.split(",") if v.strip()]
            if not isinstance(value, list | tuple) or not value:
                raise ParameterError(
                    f"parameter {name!r} must be a non-empty list (or comma-separated string), got {value!r}"
                )
            return [self._check_one(name, v) for v in value]
        return self._check_one(name, value)

    def _check_one(self, name: str, value: Any) -> Any:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            want = " or ".join(k.__name__ for k in kinds)
            raise ParameterError(
                f"parameter {name!r} must be of type {want}, got {type(value).__name__} {value!r}"
            )
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter {name!r} = {value!r} is not allowed; choose one of {tuple(self.choices)}"
            )
        if self.low is not None and value < self.low:
            raise ParameterError(
                f"parameter {name!r} = {value!r} is out of range; it must be >= {self.low}"
            )
        if self.high is not None and value > self.high:
            raise ParameterError(
                f"parameter {name!r} = {value!r} is out of range; it must be <= {self.high}"
            )
        return value


@dataclass(frozen=True)
class Seeds(Param):
    """The ``seeds`` parameter: a count ``n`` (seeds 0..n-1) or an explicit list of seeds.

    All chapters (their ``seeds``); the list form lets a sweep (issue 7, :mod:`ibcore.sweep`) run
    one seed per grid point, e.g. ``seeds=[7]``, and still share the cached runs of a chapter run
    with ``seeds=50``. ``low``/``high`` bound the count; listed seeds must lie in [0, 2**31).
    """

    kind: type | tuple[type, ...] = int

    def check(self, name: str, value: Any) -> Any:
        """An int count as :class:`Param` checks it, or a non-empty list of distinct seeds."""
        if not isinstance(value, list | tuple):
            try:
                return self._check_one(name, value)
            except ParameterError as exc:
                raise ParameterError(
                    f"{exc} (a count n for seeds 0..n-1, or a list of seeds such as [3, 7])"
                ) from None
        if not value:
            raise ParameterError(f"parameter {name!r} must not be an empty list of seeds")
        for s in value:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**31:
                raise ParameterError(
                    f"parameter {name!r}: every listed seed must be an int in [0, 2**31), got {s!r}"
                )
        if len(set(value)) != len(value):
            raise ParameterError(f"parameter {name!r} lists a seed twice: {list(value)!r}")
        return [int(s) for s in value]


def _parse_item(text: str, kind: type | tuple[type, ...]) -> Any:
    """One item of a comma-separated parameter ("10,40"), converted to int/float when expected."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in (int, float):
        if k in kinds:
            try:
                return k(text)
            except ValueError:
                pass
    return text


def resolve(
    schema: Mapping[str, Param],
    presets: Mapping[str, Mapping[str, Any]],
    scale: Any,
    **values: Any,
) -> dict[str, Any]:
    """Merge the ``scale`` preset with explicitly given values and validate everything.

    Every chapter calls this right after its ``parameters`` cell. A value of ``None`` means "take
    it from the preset". Unknown parameter names and values outside the schema raise
    :class:`ParameterError` with one line naming the parameter and what is allowed.
    Returns a dict including ``scale``.
    """
    if not isinstance(scale, str) or scale not in presets:
        raise ParameterError(
            f"parameter 'scale' = {scale!r} is not allowed; choose one of {tuple(presets)}"
        )
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise ParameterError(
            f"unknown parameter {unknown[0]!r}; this chapter's parameters are {tuple(schema)}"
        )
    merged: dict[str, Any] = dict(presets[scale])
    merged.update({k: v for k, v in values.items() if v is not None})
    missing = [k for k in schema if k not in merged]
    if missing:
        raise ParameterError(f"parameter {missing[0]!r} has no value at scale {scale!r}")
    out = {"scale": scale}
    for name, spec in schema.items():
        out[name] = spec.check(name, merged[name])
    return out


def seeds_list(seeds: int | Sequence[int]) -> list[int]:
    """``seeds`` as a list: an int n means seeds 0..n-1 (all chapters)."""
    if isinstance(seeds, int):
        return list(range(seeds))
    return [int(s) for s in seeds]
