"""realtime: enhance live camera feeds, video files and photos in real time.

The Python API in six names: :class:`Enhancer` (photos, video frames and every intermediate of a
photo, with :meth:`~Enhancer.trace`), :func:`enhance_file` (what ``realtime enhance`` does),
:func:`batch` (what ``realtime batch`` does: many files on Ray),
:func:`register_stage` / :func:`stage` (a function of your own as a pipeline stage), and the
:class:`RealtimeError` family of errors. Names load on first use, so ``import realtime`` stays
cheap for the command line.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__version__ = "0.2.0"

_EXPORTS = {
    "Enhancer": "realtime.api",
    "Trace": "realtime.api",
    "Step": "realtime.api",
    "RefinerDecision": "realtime.api",
    "enhance_file": "realtime.api",
    "batch": "realtime.api",
    "demo_clip": "realtime.samples",
    "sample_photo": "realtime.samples",
    "PipelineSpec": "realtime.assembly",
    "build_pipeline": "realtime.assembly",
    "Pipeline": "realtime.pipeline",
    "RunReport": "realtime.stats",
    "FrameFormat": "realtime.stages.user",
    "register_stage": "realtime.stages.registry",
    "unregister_stage": "realtime.stages.registry",
    "registered_stages": "realtime.stages.registry",
    "RealtimeError": "realtime.errors",
    "ConfigError": "realtime.errors",
    "SourceError": "realtime.errors",
    "SinkError": "realtime.errors",
    "ModelError": "realtime.errors",
    "BackendError": "realtime.errors",
    "StageError": "realtime.errors",
    "FrameError": "realtime.errors",
}

__all__ = [
    "BackendError",
    "ConfigError",
    "Enhancer",
    "FrameError",
    "FrameFormat",
    "ModelError",
    "Pipeline",
    "PipelineSpec",
    "RealtimeError",
    "RefinerDecision",
    "RunReport",
    "SinkError",
    "SourceError",
    "StageError",
    "Step",
    "Trace",
    "__version__",
    "batch",
    "build_pipeline",
    "demo_clip",
    "enhance_file",
    "register_stage",
    "registered_stages",
    "sample_photo",
    "stage",
    "unregister_stage",
]


def stage(name: str, *, frame: str = "bgr", replace: bool = False) -> _Any:
    """Decorator: register a function (or a class) as a stage called ``name``.

    Example:
        >>> import numpy as np, realtime
        >>> @realtime.stage("warm_example", replace=True)
        ... def warm(bgr, amount=8):
        ...     out = bgr.astype(np.int16)
        ...     out[..., 2] += amount  # more red
        ...     return np.clip(out, 0, 255).astype(np.uint8)
        >>> realtime.Enhancer(stages=["contrast", "warm_example"], refiner="off").stages
        ['contrast', 'warm_example']
        >>> realtime.unregister_stage("warm_example")
    """
    from realtime.stages.registry import register_stage

    return register_stage(name, frame=frame, replace=replace)


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if _TYPE_CHECKING:
    from realtime.api import Enhancer, RefinerDecision, Step, Trace, batch, enhance_file
    from realtime.assembly import PipelineSpec, build_pipeline
    from realtime.errors import (
        BackendError,
        ConfigError,
        FrameError,
        ModelError,
        RealtimeError,
        SinkError,
        SourceError,
        StageError,
    )
    from realtime.pipeline import Pipeline
    from realtime.samples import demo_clip, sample_photo
    from realtime.stages.registry import register_stage, registered_stages, unregister_stage
    from realtime.stages.user import FrameFormat
    from realtime.stats import RunReport
