"""Every stage a pipeline can be built from, by name: the built-in four and the user's own.

A config file or ``--stages`` names stages; so does the Python API, which also takes a function
or an object directly. Names resolve here, in one place, to a :class:`StageDefinition` that can
check a parameter table and build the stage:

- the built-in stages (``contrast``, ``clahe``, ``denoise``, ``sharpen``), whose parameters are
  validated dataclasses;
- stages registered with :func:`register_stage` (or the ``@realtime.stage`` decorator) in the
  running program: a notebook or a script registers its function once and names it in a config;
- ``"package.module:name"``: imported on first use, so a config file run from the command line can
  name a stage kept in the user's own module without any registration call (the object there may
  have been registered with options; otherwise it is a BGR stage).

A class registered as a stage is instantiated once per pipeline with the config's parameters, so
it can keep temporal state (and forget it in ``reset()``); a function gets the parameters as
keyword arguments on every call.

Example:
    >>> import numpy as np
    >>> @register_stage("brighten_example")
    ... def brighten(bgr, amount=10):
    ...     return np.clip(bgr.astype(np.int16) + amount, 0, 255).astype(np.uint8)
    >>> stage = make_stage("brighten_example", {"amount": 20})
    >>> int(stage(np.zeros((2, 2, 3), np.uint8))[0, 0, 0])
    20
    >>> make_stage("brighten_example", {"amout": 20})
    Traceback (most recent call last):
    ...
    realtime.errors.ConfigError: unknown brighten_example parameter 'amout'; valid keys: amount
    >>> unregister_stage("brighten_example")
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realtime.errors import ConfigError
from realtime.stages.base import Stage, StageParams
from realtime.stages.clahe import Clahe, ClaheParams
from realtime.stages.contrast import Contrast, ContrastParams
from realtime.stages.denoise import Denoise, DenoiseParams
from realtime.stages.sharpen import Sharpen, SharpenParams
from realtime.stages.user import FrameFormat, FunctionStage, check_parameters, keyword_parameters

#: Built-in stage classes by name, in the canonical pipeline order.
STAGES: dict[str, type[Stage]] = {"contrast": Contrast, "clahe": Clahe, "denoise": Denoise, "sharpen": Sharpen}
#: Parameter dataclass of each built-in stage, by name.
PARAMS: dict[str, type[StageParams]] = {"contrast": ContrastParams, "clahe": ClaheParams,
                                        "denoise": DenoiseParams, "sharpen": SharpenParams}
#: Names no user stage may take: the built-ins, and the refiner's slot and timing keys.
RESERVED = frozenset({*STAGES, "refiner", "input", "color", "transfer"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_MODULE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class StageDefinition:
    """How to build one named stage and which parameters it takes."""

    name: str
    target: Any  # a built-in Stage class, or the user's function / class / callable object
    frame: FrameFormat = FrameFormat.BGR
    builtin: bool = False

    def check(self, params: Mapping[str, Any] | None) -> None:
        """Raise ConfigError for a bad parameter table, before anything is built."""
        if self.builtin:
            PARAMS[self.name].from_mapping(params)
        else:
            check_parameters(self.name, self.parameters, params or {})

    def inert(self, params: Mapping[str, Any] | None) -> dict[str, str]:
        """The built-in stage's parameters that ``params`` leave without effect (see
        :meth:`~realtime.stages.base.StageParams.inert`); none for a user's stage."""
        return PARAMS[self.name].from_mapping(params).inert() if self.builtin else {}

    @property
    def parameters(self) -> tuple[str, ...] | None:
        if self.builtin:
            return PARAMS[self.name].keys()
        if inspect.isclass(self.target):
            return keyword_parameters(self.target, skip_first=False)
        return keyword_parameters(self.target, skip_first=True)

    def build(self, params: Mapping[str, Any] | None = None) -> Stage:
        if self.builtin:
            return self.target(PARAMS[self.name].from_mapping(params))
        params = dict(params or {})
        check_parameters(self.name, self.parameters, params)
        if inspect.isclass(self.target):
            try:
                instance = self.target(**params)
            except Exception as e:
                raise ConfigError(f"stage {self.name!r} could not be built: {type(e).__name__}: {e}") from e
            if hasattr(instance, "apply_planes") and hasattr(instance, "array_types"):
                return instance  # a full Stage, written against the pipeline's own protocol
            return FunctionStage(self.name, instance, frame=self.frame)
        return FunctionStage(self.name, self.target, frame=self.frame, params=params)


_USER: dict[str, StageDefinition] = {}
_BY_OBJECT: dict[int, StageDefinition] = {}


def register_stage(name: str, target: Any = None, *, frame: FrameFormat | str = FrameFormat.BGR,
                   replace: bool = False) -> Any:
    """Make ``target`` (a function on a frame, or a class of them) a stage called ``name``.

    Used bare it registers at once and returns ``target``; without ``target`` it is a decorator
    (``@register_stage("vignette")``) that returns the function unchanged. ``frame`` is what the
    stage is handed and returns: ``"bgr"`` (default), ``"rgb"`` or ``"planes"``. Registering a
    name twice is an error unless ``replace`` (a notebook cell run again).
    """
    fmt = FrameFormat.parse(frame)

    def register(obj: Any) -> Any:
        if not callable(obj):
            raise ConfigError(f"stage {name!r} must be a function or a class, not {type(obj).__name__}")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"stage name {name!r} must be a word (letters, digits, _, ., -)")
        if name in RESERVED:
            raise ConfigError(f"{name!r} is a built-in name; give the stage another one")
        if name in _USER and not replace and _USER[name].target is not obj:
            raise ConfigError(f"a stage called {name!r} is already registered (pass replace=True to replace it)")
        definition = StageDefinition(name, obj, fmt)
        _USER[name] = definition
        _BY_OBJECT[id(obj)] = definition
        return obj

    return register if target is None else register(target)


def unregister_stage(name: str) -> None:
    definition = _USER.pop(name, None)
    if definition is not None:
        _BY_OBJECT.pop(id(definition.target), None)


def registered_stages() -> tuple[str, ...]:
    """Names usable in a config or ``--stages``: the built-ins, then the user's, in registration order."""
    return (*STAGES, *_USER)


def define(item: str | Any) -> StageDefinition:
    """The definition behind a stage name, a ``module:name`` path, or a function/class/object."""
    if isinstance(item, StageDefinition):
        return item
    if not isinstance(item, str):
        known = _BY_OBJECT.get(id(item))
        if known is not None:
            return known
        if not callable(item):
            raise ConfigError(f"a stage must be a name, a function or a class, not {type(item).__name__}")
        name = getattr(item, "__name__", None) or type(item).__name__
        return StageDefinition(name, item)
    if item in STAGES:
        return StageDefinition(item, STAGES[item], builtin=True)
    if item in _USER:
        return _USER[item]
    if _MODULE_SPEC.match(item):
        return _import(item)
    choices = ", ".join(registered_stages())
    raise ConfigError(f"unknown stage {item!r}; choose from {choices}, or name your own as 'module:function'")


def _import(spec: str) -> StageDefinition:
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"stage {spec!r}: cannot import {module_name} ({e})") from e
    try:
        obj = getattr(module, attr)
    except AttributeError as e:
        raise ConfigError(f"stage {spec!r}: {module_name} has no {attr}") from e
    known = _BY_OBJECT.get(id(obj))
    return StageDefinition(spec, obj, known.frame if known else FrameFormat.BGR)


def make_stage(name: str | Any, params: Mapping[str, Any] | None = None) -> Stage:
    """Build a stage from its name (or function/class) and a possibly partial parameter table.

    Raises:
        ConfigError: for an unknown stage (the message lists the valid ones) or bad parameters.
    """
    return define(name).build(params)

