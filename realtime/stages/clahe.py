"""CLAHE on luma only: local contrast without touching colour.

Why luma only: equalising R, G and B separately shifts hue, and CLAHE on L of Lab costs three
times as much here (the conversions dominate). Chroma passes through untouched: the result shares
the input's Cb/Cr planes, so the stage costs exactly one CLAHE of the Y plane.

Range: CLAHE's tables span 0..255 whatever the video's range. On the limited-range demo clip,
after the contrast stage has put its levels at 16..235, it moved under 0.1% of the pixels below 16
and none above 235, so limited range is left alone rather than paying two more passes over Y to
remap it.

``cv2.CLAHE`` objects hold scratch buffers and are not thread-safe, so they are cached in a
:class:`~realtime.stages._dispatch.Workspace`: a :class:`Clahe` instance owns one, and direct calls
of the pure functions use a per-thread one.

Example:
    >>> import numpy as np
    >>> from realtime.planes import Planes
    >>> y = np.random.default_rng(0).integers(60, 90, (64, 64), dtype=np.uint8)
    >>> chroma = np.full((32, 32), 128, np.uint8)
    >>> planes = Planes(y, chroma, chroma.copy())
    >>> out = clahe_planes(planes, params=ClaheParams(clip_limit=3.0))
    >>> bool(out.y.std() > y.std()) and out.cb is planes.cb and out.cr is planes.cr
    True
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import cv2
import numpy as np

from realtime.backends import Array
from realtime.planes import Planes
from realtime.stages._dispatch import ARRAY_TYPES, GpuMat, Workspace, dispatched, thread_workspace
from realtime.stages.base import StageParams, param
from realtime.stages.color import check_planes, planes_from_bgr, planes_to_bgr


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


@dispatched(planes=True)
def clahe_planes(planes: Planes, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None) -> Planes:
    """CLAHE on the luma plane; the chroma planes are passed through (the very same objects).

    Args:
        planes: the frame, any chroma subsampling, range and backend; not modified.
        params: CLAHE parameters.
        workspace: where the CLAHE object is cached; ``None`` uses the calling thread's.

    Returns:
        New planes of the same backend, sizes and colour.
    """
    raise NotImplementedError


@clahe_planes.kernel(np.ndarray)
def _clahe_planes_numpy(
    planes: Planes, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    check_planes(planes)
    return planes.replace(y=_engine("cpu", params, workspace).apply(planes.y))


@clahe_planes.kernel(cv2.UMat)
def _clahe_planes_umat(
    planes: Planes, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    return planes.replace(y=_engine("ocl", params, workspace).apply(planes.y))


# Unverified: written against OpenCV's documented cv2.cuda API; PyPI OpenCV has no CUDA to run it.
@clahe_planes.kernel(GpuMat)
def _clahe_planes_cuda(
    planes: Planes, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    # cuda::CLAHE::apply has no default stream argument in the Python binding.
    return planes.replace(y=_engine("cuda", params, workspace).apply(planes.y, cv2.cuda.Stream_Null()))


@dispatched
def clahe(bgr: Array, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """CLAHE on the luma of a BGR frame (see :func:`clahe_planes`)."""
    raise NotImplementedError


@clahe.kernel(*ARRAY_TYPES)
def _clahe(bgr: Array, *, params: ClaheParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    return planes_to_bgr(clahe_planes(planes_from_bgr(bgr), params=params, workspace=workspace))


class Clahe:
    """CLAHE stage; owns its CLAHE objects so instances can run on different threads."""

    name: ClassVar[str] = "clahe"
    array_types: ClassVar[tuple[type, ...]] = clahe_planes.supported_types
    params_type: ClassVar[type[ClaheParams]] = ClaheParams

    def __init__(self, params: ClaheParams | None = None) -> None:
        self.params = params if params is not None else ClaheParams()
        self._workspace = Workspace()

    def apply_planes(self, planes: Planes) -> Planes:
        return clahe_planes(planes, params=self.params, workspace=self._workspace)

    def __call__(self, bgr: Array) -> Array:
        return clahe(bgr, params=self.params, workspace=self._workspace)

    def reset(self) -> None:
        """CLAHE is stateless between frames; nothing to forget."""

    def __repr__(self) -> str:
        return f"Clahe({self.params!r})"
