"""Thresholded unsharp mask on luma: crisper edges without sharpening the noise floor.

``Y' = Y + amount * shrink(Y - GaussianBlur(Y, sigma))`` where ``shrink`` is a soft threshold:
detail smaller than ``threshold`` levels is dropped and larger detail is reduced by it. Flat areas
only carry noise-sized detail, so they are left alone, while edges, whose detail is far larger,
get nearly the full gain.

Why an all-uint8 formulation: the soft threshold is a clamp, ``shrink(Y - blur) = clamp(blur,
Y - t, Y + t) - blur``, so four saturating passes clamp the blur, one ``addWeighted`` forms the
offset detail ``128 + amount * shrink`` and a second adds it back minus the offset. No float image
and no table (a ``LUT`` pass costs as much as three of these here), identical on the CPU and under
OpenCL, and the offset's saturation at +/-128 doubles as a halo limiter on the hardest edges. CUDA
applies the same function as a 256-entry table.

Example:
    >>> import numpy as np
    >>> from realtime.planes import Planes
    >>> y = np.full((32, 32), 128, np.uint8); y[:, 16:] = 160
    >>> chroma = np.full((16, 16), 128, np.uint8)
    >>> out = sharpen_planes(Planes(y, chroma, chroma), params=SharpenParams(amount=1.0)).y
    >>> int(out[0, 16]) > 160 and int(out[0, 15]) < 128
    True
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import ClassVar

import cv2
import numpy as np

from realtime.backends import Array
from realtime.planes import Planes
from realtime.stages._dispatch import ARRAY_TYPES, GpuMat, Workspace, dispatched, thread_workspace
from realtime.stages._ops import HostOrOpenCL, clamp_around
from realtime.stages.base import StageParams, param
from realtime.stages.color import check_planes, planes_from_bgr, planes_to_bgr


@dataclasses.dataclass(frozen=True)
class SharpenParams(StageParams):
    """Parameters of the thresholded unsharp mask.

    Attributes:
        sigma: Gaussian sigma (pixels) separating detail from base; in [0.3, 5].
        amount: gain on the detail; 0 leaves the image unchanged. In [0, 4].
        threshold: detail (levels) at or below which nothing is added (whole levels: luma is
            integer, fractions round to the nearest); in [0, 64].
    """

    stage: ClassVar[str] = "sharpen"
    sigma: float = param(1.0, float, 0.3, 5.0)
    amount: float = param(0.8, float, 0.0, 4.0)
    threshold: float = param(4.0, float, 0.0, 64.0)

    @property
    def threshold_levels(self) -> int:
        return round(self.threshold)


_DEFAULT = SharpenParams()


@functools.lru_cache(maxsize=32)
def detail_table(amount: float, threshold: int) -> np.ndarray:
    """256-entry uint8 table: offset detail ``d`` -> ``128 + amount * shrink(d - 128)`` (CUDA's form).

    Cached because the table only depends on two parameters; callers must not write to it.
    """
    d = np.arange(256, dtype=np.float64) - 128.0
    shrunk = np.sign(d) * np.maximum(np.abs(d) - threshold, 0.0)
    table = np.clip(np.rint(128.0 + amount * shrunk), 0, 255).astype(np.uint8)
    table.flags.writeable = False
    return table


def gaussian_ksize(sigma: float) -> int:
    """Gaussian kernel size: +/-2 sigma, rounded up to whole pixels.

    OpenCV's own rule for 8-bit images is +/-3 sigma (7 taps at sigma 1); the outer taps hold under
    2% of the weight and cost 60% more time (0.85 vs 0.53 ms at 720p, one thread). Passed
    explicitly on every backend, so all of them use the same kernel.
    """
    return 2 * math.ceil(2.0 * sigma) + 1


@dispatched(planes=True)
def sharpen_planes(planes: Planes, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None) -> Planes:
    """Thresholded unsharp mask on the luma plane; the chroma planes are passed through (same objects).

    Args:
        planes: the frame, any chroma subsampling, range and backend; not modified.
        params: sharpening parameters.
        workspace: cache for the CUDA filter objects; ``None`` uses the calling thread's.

    Returns:
        New planes of the same backend, sizes and colour.
    """
    raise NotImplementedError


def _sharpen_luma(luma: HostOrOpenCL, params: SharpenParams) -> HostOrOpenCL:
    """The NumPy and OpenCL kernels: the same cv2 calls serve both."""
    k = gaussian_ksize(params.sigma)
    blur = cv2.GaussianBlur(luma, (k, k), params.sigma)
    # shrink(Y - blur) = clamp(blur, Y - t, Y + t) - blur, so the offset detail
    # 128 + amount * shrink(Y - blur) is one addWeighted of the clamped and the plain blur.
    clamped = clamp_around(luma, blur, params.threshold_levels)
    detail = cv2.addWeighted(clamped, params.amount, blur, -params.amount, 128.0)
    return cv2.addWeighted(luma, 1.0, detail, 1.0, -128.0)


@sharpen_planes.kernel(np.ndarray)
def _sharpen_planes_numpy(
    planes: Planes, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    check_planes(planes)
    return planes.replace(y=_sharpen_luma(planes.y, params))


@sharpen_planes.kernel(cv2.UMat)
def _sharpen_planes_umat(
    planes: Planes, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    return planes.replace(y=_sharpen_luma(planes.y, params))


# Unverified: written against OpenCV's documented cv2.cuda API; PyPI OpenCV has no CUDA to run it.
@sharpen_planes.kernel(GpuMat)
def _sharpen_planes_cuda(
    planes: Planes, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    ws = workspace if workspace is not None else thread_workspace()
    k = gaussian_ksize(params.sigma)
    gauss = ws.get(
        ("sharpen-gauss", params.sigma),
        lambda: cv2.cuda.createGaussianFilter(cv2.CV_8UC1, cv2.CV_8UC1, (k, k), params.sigma),
    )
    table = ws.get(
        ("sharpen-lut", params.amount, params.threshold_levels),
        lambda: cv2.cuda.createLookUpTable(detail_table(params.amount, params.threshold_levels).reshape(1, 256)),
    )
    luma = planes.y
    detail = cv2.cuda.addWeighted(luma, 1.0, gauss.apply(luma), -1.0, 128.0)
    return planes.replace(y=cv2.cuda.addWeighted(luma, 1.0, table.transform(detail), 1.0, -128.0))


@dispatched
def sharpen(bgr: Array, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """Thresholded unsharp mask on the luma of a BGR frame (see :func:`sharpen_planes`)."""
    raise NotImplementedError


@sharpen.kernel(*ARRAY_TYPES)
def _sharpen(bgr: Array, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    return planes_to_bgr(sharpen_planes(planes_from_bgr(bgr), params=params, workspace=workspace))


class Sharpen:
    """Sharpening stage (stateless; owns its CUDA filter cache)."""

    name: ClassVar[str] = "sharpen"
    array_types: ClassVar[tuple[type, ...]] = sharpen_planes.supported_types
    params_type: ClassVar[type[SharpenParams]] = SharpenParams

    def __init__(self, params: SharpenParams | None = None) -> None:
        self.params = params if params is not None else SharpenParams()
        self._workspace = Workspace()

    def apply_planes(self, planes: Planes) -> Planes:
        return sharpen_planes(planes, params=self.params, workspace=self._workspace)

    def __call__(self, bgr: Array) -> Array:
        return sharpen(bgr, params=self.params, workspace=self._workspace)

    def reset(self) -> None:
        """Sharpening is stateless between frames; nothing to forget."""

    def __repr__(self) -> str:
        return f"Sharpen({self.params!r})"
