"""Parameter schemas (all chapters): each chapter's parameters, written once in its claim module;
a bad value stops a notebook with one line. :func:`check_choice`, :func:`check_int`,
:func:`check_real` and :func:`check_positive` are the library's one set of value checks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

SCALES = ("smoke", "cpu", "full", "paper")


class ParameterError(ValueError):
    """A notebook parameter has a wrong type, is out of range, or is not one of the choices."""


def describe(value: object) -> str:
    """A short one-line description of a value of the wrong type, for an error message."""
    r = " ".join(repr(value).split())
    return f"{type(value).__name__} {r if len(r) <= 40 else r[:37] + '...'}"


def check_int(name: str, value: object, low: int) -> int:
    """``value`` as an int >= ``low``, or one line naming ``name`` (a bool or float is refused)."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"parameter '{name}' must be an integer >= {low}, got {describe(value)}")
    if value < low:
        raise ValueError(f"parameter '{name}' must be an integer >= {low}, got {value!r}")
    return int(value)


def _real(name: str, value: object, what: str) -> float:
    try:
        if isinstance(value, bool | str | bytes):
            raise TypeError
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"parameter '{name}' must be {what}, got {describe(value)}") from None


def check_real(name: str, value: object) -> float:
    """``value`` as a finite float, or one line naming ``name`` (a string is a wrong type)."""
    v = _real(name, value, "a finite real number")
    if not math.isfinite(v):
        raise ValueError(f"parameter '{name}' must be a finite real number, got {v!r}")
    return v


def check_positive(name: str, value: object) -> float:
    """``value`` as a finite float > 0, or one line naming ``name``."""
    v = _real(name, value, "a positive finite number")
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"parameter '{name}' must be a positive finite number, got {value!r}")
    return v


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; else raise one line naming ``name``."""
    try:
        ok = value in allowed
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            f"parameter {name!r} = {value!r} is not allowed; choose one of {tuple(allowed)}"
        )
    return value


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
    """The ``seeds`` parameter (all chapters): a count ``n`` (seeds 0..n-1) or a list of seeds in
    [0, 2**31) (a sweep's one seed per point); ``low``/``high`` bound the count."""

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
    """The ``scale`` preset merged with the given values (``None`` = from the preset), validated;
    a dict including ``scale``. Raises :class:`ParameterError` (all chapters)."""
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


# Names every IPython namespace holds besides the user's own (skipped by from_namespace).
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})

SCALE_DOC = (
    "preset: smoke (seconds, CI), cpu (minutes on a laptop), full (toward the paper: about half "
    "an hour on 2 cores, real images) or paper (GPU)"
)


def common_params() -> dict[str, Param]:
    """``seeds`` and ``device``: the parameters every chapter has."""
    from ibcore.env import DEVICES

    return {
        "seeds": Seeds(int, "number of seeds (0..n-1), or a list of seeds", low=1, high=1000),
        "device": Param(str, "torch device", choices=DEVICES),
    }


@dataclass(frozen=True)
class Chapter:
    """One chapter's parameters: the schema, the values shared by all scales, the presets
    (written once, in its claim module; the notebook's ``parameters`` cell names exactly these)."""

    key: str
    params: Mapping[str, Param]
    shared: Mapping[str, Any]
    presets: Mapping[str, Mapping[str, Any]]
    notes: Mapping[str, str] = field(default_factory=dict)
    differs: Mapping[str, str] = field(default_factory=dict)
    """Per scale (``cpu``, ``full``): what still differs from the paper's setting, in words."""

    def __post_init__(self) -> None:
        if set(self.presets) != set(SCALES):
            raise ValueError(f"chapter {self.key}: presets must be exactly {SCALES}")
        for scale in SCALES:
            extra = set(self.preset(scale)) - set(self.params)
            if extra:
                raise ValueError(
                    f"chapter {self.key}: preset {scale!r} sets unknown {sorted(extra)}"
                )

    @property
    def names(self) -> tuple[str, ...]:
        """``scale`` and the chapter's parameters, in the order of the ``parameters`` cell."""
        return ("scale", *self.params)

    def preset(self, scale: str) -> dict[str, Any]:
        """The full preset of ``scale``: the shared values, overridden by the scale's own."""
        return {**self.shared, **self.presets[scale]}

    def resolve(self, scale: Any, **values: Any) -> dict[str, Any]:
        """Validated parameters at ``scale`` with explicit ``values`` (``None`` = from the preset)."""
        return resolve(self.params, {s: self.preset(s) for s in SCALES}, scale, **values)

    def from_namespace(self, namespace: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a notebook's parameters from its global namespace; any other value (a misspelt
        ``-p``) is refused. Modules, callables and IPython's own names are skipped."""
        known = set(self.names)
        unknown = sorted(
            name
            for name, value in namespace.items()
            if not name.startswith("_")
            and name not in _IPYTHON_NAMES
            and name not in known
            and not isinstance(value, ModuleType)
            and not callable(value)
        )
        if unknown:
            raise ParameterError(
                f"unknown parameter {unknown[0]!r}; chapter {self.key}'s parameters are "
                f"{self.names}"
            )
        if "scale" not in namespace:
            raise ParameterError(f"parameter 'scale' is not set; choose one of {SCALES}")
        return self.resolve(namespace["scale"], **{k: namespace.get(k) for k in self.params})

    def check_names(self, names: Sequence[str]) -> None:
        """Raise :class:`ParameterError` for the first of ``names`` this chapter does not have."""
        for name in names:
            if name not in self.names:
                raise ParameterError(
                    f"unknown parameter {name!r}; chapter {self.key}'s parameters are {self.names}"
                )

    def table(self) -> str:
        """The chapter's parameter table (Markdown): meaning and the value at every scale."""

        def fmt(v: Any) -> str:
            if isinstance(v, list | tuple):
                return ", ".join(str(x) for x in v)
            return "" if v is None else str(v)

        rows = [
            "| parameter | meaning | `smoke` | `cpu` (default) | `full` | `paper` |",
            "|---|---|---|---|---|---|",
            f"| `scale` | {SCALE_DOC} | | | | |",
        ]
        for name, spec in self.params.items():
            vals = [fmt(self.preset(s).get(name)) for s in SCALES]
            note = self.notes.get(name)
            doc = spec.doc + (f" ({note})" if note else "")
            rows.append(f"| `{name}` | {doc} | " + " | ".join(vals) + " |")
        return "\n".join(rows)

    def scale_table(self) -> str:
        """The scale ladder of the chapter's setting (Markdown): data, size, training and seeds
        at ``cpu``, ``full`` and ``paper``, and what still differs from the paper."""
        shown = ("dataset", "activation", "activations", "depth", "width", "cnn_depth",
                 "cnn_width", "epochs", "plain_epochs", "seeds", "cnn_seeds", "tf_seeds")  # fmt: skip
        scales = ("cpu", "full", "paper")
        rows = ["| | `cpu` (default) | `full` | `paper` |", "|---|---|---|---|"]
        for name in (n for n in shown if n in self.params):
            vals = [self.preset(s).get(name) for s in scales]
            if name.endswith("seeds"):  # how many, whether given as a count or a list
                vals = [len(seeds_list(v)) if v is not None else "" for v in vals]
            cells = [", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
                     for v in vals]  # fmt: skip
            rows.append(f"| `{name}` | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        gaps = [self.differs.get(s, "") for s in scales]
        rows.append("| still differs from the paper | " + " | ".join(g.replace("|", "\\|")
                                                                      for g in gaps) + " |")  # fmt: skip
        return "\n".join(rows)

    def show_scales(self) -> Any:
        """:meth:`scale_table` as a Markdown display object (each chapter's setup)."""
        from IPython.display import Markdown

        return Markdown(self.scale_table())

    def show_table(self) -> Any:
        """:meth:`table` as a Markdown display object (a notebook's parameter table)."""
        from IPython.display import Markdown

        return Markdown(self.table())
