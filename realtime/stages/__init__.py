"""The classical enhancement stages: contrast stretch, CLAHE, denoise, sharpen.

Each stage is a pure function on BGR frames (``contrast``, ``clahe``, ``denoise``, ``sharpen``), a
faster twin on YCrCb frames (``*_ycc``) that the pipeline chains between one ``to_ycc`` and one
``to_bgr``, a frozen parameter dataclass, and a thin class implementing :class:`Stage` that may
keep temporal state. Kernels are chosen by the frame's type: ``numpy.ndarray`` (CPU reference),
``cv2.UMat`` (OpenCL) or ``cv2.cuda.GpuMat`` (CUDA, unverified).

Example:
    >>> import numpy as np
    >>> stages = [make_stage(name) for name in STAGES]
    >>> ycc = to_ycc(np.zeros((36, 64, 3), np.uint8))
    >>> for stage in stages:
    ...     ycc = stage.apply_ycc(ycc)
    >>> to_bgr(ycc).shape
    (36, 64, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from realtime.errors import ConfigError
from realtime.stages._dispatch import Workspace
from realtime.stages.base import Stage, StageParams
from realtime.stages.clahe import Clahe, ClaheParams, clahe, clahe_ycc
from realtime.stages.color import to_bgr, to_ycc
from realtime.stages.contrast import (
    Contrast,
    ContrastParams,
    Levels,
    apply_levels,
    contrast,
    contrast_levels,
    contrast_ycc,
    smooth_levels,
)
from realtime.stages.denoise import (
    Denoise,
    DenoiseParams,
    TemporalState,
    denoise,
    denoise_ycc,
    temporal_denoise_ycc,
)
from realtime.stages.sharpen import Sharpen, SharpenParams, sharpen, sharpen_ycc

#: Stage classes by name, in the canonical pipeline order.
STAGES: dict[str, type[Stage]] = {
    "contrast": Contrast,
    "clahe": Clahe,
    "denoise": Denoise,
    "sharpen": Sharpen,
}

#: Parameter dataclass of each stage, by name.
PARAMS: dict[str, type[StageParams]] = {
    "contrast": ContrastParams,
    "clahe": ClaheParams,
    "denoise": DenoiseParams,
    "sharpen": SharpenParams,
}


def make_stage(name: str, params: Mapping[str, Any] | None = None) -> Stage:
    """Build a stage from its name and a (possibly partial) parameter table.

    Raises:
        ConfigError: for an unknown stage name (the message lists the valid ones) or bad parameters.
    """
    try:
        cls = STAGES[name]
    except (KeyError, TypeError) as e:
        raise ConfigError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}") from e
    return cls(PARAMS[name].from_mapping(params))  # type: ignore[call-arg]


__all__ = [
    "PARAMS",
    "STAGES",
    "Clahe",
    "ClaheParams",
    "Contrast",
    "ContrastParams",
    "Denoise",
    "DenoiseParams",
    "Levels",
    "Sharpen",
    "SharpenParams",
    "Stage",
    "StageParams",
    "TemporalState",
    "Workspace",
    "apply_levels",
    "clahe",
    "clahe_ycc",
    "contrast",
    "contrast_levels",
    "contrast_ycc",
    "denoise",
    "denoise_ycc",
    "make_stage",
    "sharpen",
    "sharpen_ycc",
    "smooth_levels",
    "temporal_denoise_ycc",
    "to_bgr",
    "to_ycc",
]
