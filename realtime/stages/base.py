"""What every classical stage looks like, and how stage parameters are declared and validated.

Parameters are frozen dataclasses whose fields carry their allowed range (or, for a string, the
allowed choices), so one generic ``from_mapping`` can turn a preset/TOML table into parameters and
turn every mistake into a one-line :class:`~realtime.errors.ConfigError` naming the stage, the key
and what is allowed.
Validation runs in ``__post_init__`` too, so building parameters in code is just as safe.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from realtime.errors import ConfigError
from realtime.planes import Planes


@runtime_checkable
class Stage(Protocol):
    """One stage of a pipeline, as the pipeline drives it: built-in, the learned refiner, or a user's.

    The pipeline calls ``apply_planes`` with the frame as :class:`~realtime.planes.Planes` (the
    decoder's planar Y'CbCr, or BGR converted once), because converting to and from BGR per stage
    costs as much as a cheap stage and luma stages need only one plane. ``array_types`` are the
    array types the stage's kernels take (``numpy.ndarray``, ``cv2.UMat``, ``cv2.cuda.GpuMat``):
    the pipeline keeps a frame on its backend while the stages take it there and moves it to the
    host for one that does not, so no stage branches on a backend flag. Instances may keep temporal
    state between calls (one instance per video stream); ``reset`` forgets it.

    A stage that looks at the frame as it was read too (the refiner) sets ``wants_original`` and
    is called as ``apply_planes(planes, original)``. The built-in classical stages also take a BGR
    image directly (``stage(bgr)``) and carry their ``params``.
    """

    name: str
    array_types: tuple[type, ...]

    def apply_planes(self, planes: Planes) -> Planes: ...

    def reset(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Limits:
    """Allowed values of one numeric parameter: its kind and an interval, open or closed at each end."""

    kind: type[int] | type[float]
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def allows(self, value: float) -> bool:
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{what} in {left}{self.lo:g}, {self.hi:g}{right}"

    def coerce(self, value: Any) -> int | float | None:
        """``value`` as the declared kind when it is one and within limits, else None.

        Booleans are rejected although Python treats them as ints: ``clip_limit = true`` in a TOML
        file is a mistake, not 1.0. Integral floats are accepted for integer fields (``tile_grid = 8.0``).
        """
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
        if self.kind is int:
            if isinstance(value, numbers.Integral):
                number: int | float = int(value)
            elif math.isfinite(value) and float(value).is_integer():
                number = int(value)
            else:
                return None
        else:
            number = float(value)
            if not math.isfinite(number):
                return None
        return number if self.allows(number) else None


@dataclasses.dataclass(frozen=True)
class Choice:
    """Allowed values of one string parameter (an algorithm's name, say)."""

    options: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def coerce(self, value: Any) -> str | None:
        return value if isinstance(value, str) and value in self.options else None


def param(default: float, kind: type[int] | type[float], lo: float, hi: float, *,
          lo_open: bool = False, hi_open: bool = False) -> Any:
    """A dataclass field holding a number with its limits (read back by :class:`StageParams`)."""
    return dataclasses.field(default=default, metadata={"limits": Limits(kind, lo, hi, lo_open, hi_open)})


def choice(default: str, *options: str) -> Any:
    """A dataclass field holding one of ``options`` (exact, case-sensitive strings)."""
    if default not in options:
        raise ValueError(f"default {default!r} is not one of {options}")
    return dataclasses.field(default=default, metadata={"limits": Choice(options)})


class StageParams:
    """Base of the frozen parameter dataclasses: validation and construction from a mapping."""

    stage: ClassVar[str]

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            limits: Limits | Choice | None = f.metadata.get("limits")
            if limits is None:
                continue
            value = getattr(self, f.name)
            coerced = limits.coerce(value)
            if coerced is None:
                raise ConfigError(f"{self.stage}.{f.name} must be {limits.describe()}, got {value!r}")
            object.__setattr__(self, f.name, coerced)
        self._check()

    def _check(self) -> None:
        """Cross-field rules; subclasses override it and raise ConfigError."""

    def inert(self) -> dict[str, str]:
        """Parameters that the other values leave without effect, each with the reason.

        Why: an option that cannot act must be an error, not silence, so a config that sets one of
        these is refused (:func:`realtime.config.resolve_config`); a preset may carry them.
        """
        return {}

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Valid parameter names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None) -> Self:
        """Build parameters from a preset/config table; unspecified keys keep their defaults.

        Raises:
            ConfigError: on an unknown key or a value of the wrong type or out of range.
        """
        m = {} if m is None else m
        if not isinstance(m, Mapping):
            raise ConfigError(f"{cls.stage} parameters must be a table of key = value, got {m!r}")
        valid = cls.keys()
        unknown = [k for k in m if k not in valid]
        if unknown:
            raise ConfigError(
                f"unknown {cls.stage} parameter {unknown[0]!r}; valid keys: {', '.join(valid)}"
            )
        return cls(**m)
