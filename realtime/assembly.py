"""The one way to build a pipeline: a frozen :class:`PipelineSpec` in, a ready :class:`Pipeline` out.

The command line, the Python API (:class:`realtime.Enhancer`), the benchmark, the training and
evaluation tools and the notebook all describe what they want as a spec and call
:func:`build_pipeline`, so a preset, a config file, a stage list, a refiner choice and a backend
mean the same thing from every caller, and every check runs for all of them: a parameter that
would act on no stage is an error here, not a silent no-op downstream.

Example:
    >>> spec = PipelineSpec(preset="lowlight", refiner="off", backend="numpy")
    >>> build_pipeline(spec).names
    ['contrast', 'clahe', 'denoise', 'sharpen']
    >>> build_pipeline(PipelineSpec(refiner="off", config={"sharpen": {"amount": 0.5}},
    ...                             stages=("contrast", "denoise"))).names
    Traceback (most recent call last):
    ...
    realtime.errors.ConfigError: config: [sharpen] is set but sharpen does not run: it is not in the stages ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from realtime.backends import Backend, resolve_backend
from realtime.config import ConfigLike, PipelineConfig, resolve_config
from realtime.errors import ConfigError
from realtime.pipeline import Pipeline
from realtime.refiner import REFINER_CHOICES, load_refiner


@dataclass(frozen=True)
class PipelineSpec:
    """What to build, from any caller; nothing is loaded or checked until :func:`build_pipeline`.

    Attributes:
        preset: a preset of ``presets.toml`` (``lowlight``, ``haze``, ``detail``, ``off``).
        stages: the stages to run, in order, overriding the preset's: names (built-in,
            registered, or ``"module:function"``) and, from Python, functions or classes.
        config: a TOML file, or a mapping of the same shape, overriding the preset's parameters.
        refiner: ``auto``, ``onnxruntime``, ``tensorrt``, ``keras`` or ``off``.
        refiner_model: another refiner model file than the shipped one.
        backend: ``auto``, ``numpy``, ``opencl``, ``cuda`` or a :class:`Backend`.
        keep_original: keep the frame as read on each packet after the last stage, for
            before/after views (a window, ``--compare``).
    """

    preset: str | None = None
    stages: tuple[Any, ...] | None = None
    config: ConfigLike | None = None
    refiner: str = "auto"
    refiner_model: str | Path | None = None
    backend: str | Backend = "auto"
    keep_original: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.stages, str):
            object.__setattr__(self, "stages", tuple(s.strip() for s in self.stages.split(",") if s.strip()))
        elif self.stages is not None and not isinstance(self.stages, tuple):
            object.__setattr__(self, "stages", tuple(self.stages))
        if isinstance(self.config, Mapping):  # a read-only copy, so a spec cannot change after it is made
            frozen = {k: MappingProxyType(dict(v)) if isinstance(v, Mapping) else v for k, v in self.config.items()}
            object.__setattr__(self, "config", MappingProxyType(frozen))
        if self.refiner not in REFINER_CHOICES:
            raise ConfigError(f"unknown refiner {self.refiner!r}; choose from {', '.join(REFINER_CHOICES)}")


def refiner_wanted(spec: PipelineSpec, config: PipelineConfig) -> bool:
    """Whether the spec asks for the refiner at all (the ``off`` preset turns ``auto`` off)."""
    return spec.refiner != "off" and not (spec.refiner == "auto" and config.refiner == "off")


def build_pipeline(spec: PipelineSpec, notify: Callable[[str], None] | None = None) -> Pipeline:
    """Resolve, validate and build everything ``spec`` names.

    ``notify`` receives one line for each choice made on the caller's behalf (a refiner runtime
    skipped, say); the line saying what was built is :meth:`Pipeline.describe`.

    Raises:
        ConfigError: a bad preset, stage, parameter, or a setting that cannot act.
        BackendError: a backend this machine lacks.
        ModelError: the refiner cannot be loaded.
    """
    config = resolve_config(spec.preset, spec.config, spec.stages)
    backend = resolve_backend(spec.backend)
    wanted = refiner_wanted(spec, config)
    if spec.refiner_model is not None and not wanted:
        why = "the refiner is off" if spec.refiner == "off" else f"the {config.preset} preset runs no refiner"
        raise ConfigError(f"a refiner model ({spec.refiner_model}) is given but {why}")
    refiner = load_refiner(spec.refiner, spec.refiner_model, notify) if wanted else None
    refined = refiner is not None
    names = config.stage_names(refined)
    _check_user_params(config, names, refined)
    stages = config.build_stages(refined)
    if refiner is not None:
        stages.append(refiner)
    _check_names([s.name for s in stages])
    left_out = [n for n in config.stage_names(False) if n not in names] if refined else []
    return Pipeline(stages, backend=backend, keep_original=spec.keep_original, left_out=left_out)


def _check_user_params(config: PipelineConfig, running: Sequence[str], refined: bool) -> None:
    """Parameters the user set for a stage that will not run are an error, with the way out."""
    for stage, where in config.user_params.items():
        if stage in running:
            continue
        if refined and stage in config.stage_names(False):
            raise ConfigError(
                f"{where}: [{stage}] is set but {stage} does not run with the refiner on: the {config.preset} "
                f"preset runs {', '.join(running) or 'no stages'} in front of it (its refiner_stages); "
                f"list {stage} in refiner_stages, or turn the refiner off")
        raise ConfigError(f"{where}: [{stage}] is set but {stage} does not run: it is not in the stages "
                          f"({', '.join(running) or 'none'})")


def _check_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"two stages are called {name!r}; register one under another name")
        seen.add(name)
