"""CLAHE on luma only: local contrast without touching colour.

Why luma only: equalising R, G and B separately shifts hue, and CLAHE on L of Lab costs three
times as much here (the conversions dominate). Chroma passes through untouched.

``cv2.CLAHE`` objects hold scratch buffers and are not thread-safe, so they are cached in a
:class:`~realtime.stages._dispatch.Workspace`: a :class:`Clahe` instance owns one, and direct calls
of the pure functions use a per-thread one.

Example:
    >>> import numpy as np
    >>> ycc = np.random.default_rng(0).integers(60, 90, (64, 64, 3), dtype=np.uint8)
    >>> out = clahe_ycc(ycc, params=ClaheParams(clip_limit=3.0))
    >>> bool(out[..., 0].std() > ycc[..., 0].std()) and bool((out[..., 1:] == ycc[..., 1:]).all())
    True
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import cv2
import numpy as np

from realtime.backends import Array
from realtime.stages._dispatch import ARRAY_TYPES, GpuMat, Workspace, dispatched, thread_workspace
from realtime.stages.base import StageParams, param
from realtime.stages.color import check_frame, luma_numpy, replace_luma_numpy, to_bgr, to_ycc


@dataclasses.dataclass(frozen=True)
class ClaheParams(StageParams):
    """Parameters of CLAHE.

    Attributes:
        clip_limit: histogram clip, relative to a flat histogram; higher means stronger local
            contrast (and more amplified noise). In (0, 40].
        tile_grid: the image is split into ``tile_grid`` x ``tile_grid`` tiles; in [1, 64].
    """

    stage: ClassVar[str] = "clahe"
    clip_limit: float = param(2.0, float, 0.0, 40.0, lo_open=True)
    tile_grid: int = param(8, int, 1, 64)


_DEFAULT = ClaheParams()


def _engine(kind: str, params: ClaheParams, workspace: Workspace | None) -> cv2.CLAHE:
    ws = workspace if workspace is not None else thread_workspace()
    grid = (params.tile_grid, params.tile_grid)
    create = cv2.cuda.createCLAHE if kind == "cuda" else cv2.createCLAHE
    # One object per backend: the CPU and OpenCL paths keep different scratch buffers.
    key = ("clahe", kind, params.clip_limit, params.tile_grid)
    return ws.get(key, lambda: create(params.clip_limit, grid))


@dispatched
def clahe_ycc(ycc: Array, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """CLAHE on the Y channel of a YCrCb frame; chroma is copied unchanged.

    Args:
        ycc: YCrCb uint8 HxWx3 frame; not modified.
        params: CLAHE parameters.
        workspace: where the CLAHE object is cached; ``None`` uses the calling thread's.

    Returns:
        A new YCrCb frame of the same type, shape and dtype.
    """
    raise NotImplementedError


@clahe_ycc.kernel(np.ndarray)
def _clahe_ycc_numpy(
    ycc: np.ndarray, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None
) -> np.ndarray:
    check_frame(ycc, "YCrCb frame")
    luma = _engine("cpu", params, workspace).apply(luma_numpy(ycc))
    return replace_luma_numpy(ycc, luma)


@clahe_ycc.kernel(cv2.UMat)
def _clahe_ycc_umat(
    ycc: cv2.UMat, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None
) -> cv2.UMat:
    # UMat has no views; split/merge are single device kernels and keep everything on the device.
    planes = list(cv2.split(ycc))
    planes[0] = _engine("ocl", params, workspace).apply(planes[0])
    return cv2.merge(planes)


# Unverified: written against OpenCV's documented cv2.cuda API; PyPI OpenCV has no CUDA to run it.
@clahe_ycc.kernel(GpuMat)
def _clahe_ycc_cuda(
    ycc: cv2.cuda.GpuMat, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None
) -> cv2.cuda.GpuMat:
    planes = list(cv2.cuda.split(ycc))
    # cuda::CLAHE::apply has no default stream argument in the Python binding.
    planes[0] = _engine("cuda", params, workspace).apply(planes[0], cv2.cuda.Stream_Null())
    return cv2.cuda.merge(planes)


@dispatched
def clahe(bgr: Array, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """CLAHE on the luma of a BGR frame (see :func:`clahe_ycc`)."""
    raise NotImplementedError


@clahe.kernel(*ARRAY_TYPES)
def _clahe(bgr: Array, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    return to_bgr(clahe_ycc(to_ycc(bgr), params=params, workspace=workspace))


class Clahe:
    """CLAHE stage; owns its CLAHE objects so instances can run on different threads."""

    name: ClassVar[str] = "clahe"
    params_type: ClassVar[type[ClaheParams]] = ClaheParams

    def __init__(self, params: ClaheParams | None = None) -> None:
        self.params = params if params is not None else ClaheParams()
        self._workspace = Workspace()

    def apply_ycc(self, ycc: Array) -> Array:
        return clahe_ycc(ycc, params=self.params, workspace=self._workspace)

    def __call__(self, bgr: Array) -> Array:
        return clahe(bgr, params=self.params, workspace=self._workspace)

    def reset(self) -> None:
        """CLAHE is stateless between frames; nothing to forget."""

    def __repr__(self) -> str:
        return f"Clahe({self.params!r})"
