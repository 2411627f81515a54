"""The classical enhancement stages: contrast stretch, CLAHE, denoise, sharpen.

Each stage is a pure function on :class:`~realtime.planes.Planes` (``contrast_planes``,
``clahe_planes``, ``denoise_planes``/``temporal_denoise_planes``, ``sharpen_planes``) that the
pipeline chains on the decoder's own planes, a BGR twin for standalone use (``contrast``, ``clahe``,
``denoise``, ``sharpen``: BGR -> 4:4:4 planes -> kernel -> BGR), a frozen parameter dataclass, and
a thin class implementing :class:`Stage` that may keep temporal state. Kernels are chosen by the
type of the planes or image: ``numpy.ndarray`` (CPU reference), ``cv2.UMat`` (OpenCL) or
``cv2.cuda.GpuMat`` (CUDA, unverified).

Example:
    >>> import numpy as np
    >>> from realtime.planes import HD_COLOR, Planes
    >>> stages = [make_stage(name) for name in STAGES]
    >>> bgr = np.full((36, 64, 3), 30, np.uint8)
    >>> planes = Planes.from_bgr(bgr, HD_COLOR, subsample=True)  # BT.709 limited range 4:2:0, like video
    >>> for stage in stages:
    ...     planes = stage.apply_planes(planes)
    >>> planes.size, planes.chroma_size, planes.to_bgr().shape
    ((36, 64), (18, 32), (36, 64, 3))
    >>> stages[0](bgr).shape  # the BGR entry point
    (36, 64, 3)
"""

from __future__ import annotations

from realtime.stages._dispatch import Workspace
from realtime.stages.base import Stage, StageParams
from realtime.stages.clahe import Clahe, ClaheParams, clahe, clahe_planes
from realtime.stages.color import planes_from_bgr, planes_to_bgr
from realtime.stages.contrast import (
    Contrast,
    ContrastParams,
    Levels,
    apply_levels,
    contrast,
    contrast_levels,
    contrast_planes,
    smooth_levels,
)
from realtime.stages.denoise import (
    Denoise,
    DenoiseParams,
    TemporalState,
    denoise,
    denoise_planes,
    temporal_denoise_planes,
)
from realtime.stages.registry import (
    PARAMS,
    STAGES,
    StageDefinition,
    define,
    make_stage,
    register_stage,
    registered_stages,
    unregister_stage,
)
from realtime.stages.sharpen import Sharpen, SharpenParams, sharpen, sharpen_planes
from realtime.stages.user import FrameFormat, FunctionStage

__all__ = [
    "PARAMS",
    "STAGES",
    "Clahe",
    "ClaheParams",
    "Contrast",
    "ContrastParams",
    "Denoise",
    "DenoiseParams",
    "FrameFormat",
    "FunctionStage",
    "Levels",
    "Sharpen",
    "SharpenParams",
    "Stage",
    "StageDefinition",
    "StageParams",
    "TemporalState",
    "Workspace",
    "apply_levels",
    "clahe",
    "clahe_planes",
    "contrast",
    "contrast_levels",
    "contrast_planes",
    "define",
    "denoise",
    "denoise_planes",
    "make_stage",
    "planes_from_bgr",
    "planes_to_bgr",
    "register_stage",
    "registered_stages",
    "sharpen",
    "sharpen_planes",
    "smooth_levels",
    "temporal_denoise_planes",
    "unregister_stage",
]
