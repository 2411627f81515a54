"""Thresholded unsharp mask on luma: crisper edges without sharpening the noise floor.

``Y' = Y + amount * shrink(Y - GaussianBlur(Y, sigma))`` where ``shrink`` is a soft threshold:
detail smaller than ``threshold`` levels is dropped and larger detail is reduced by it. Flat areas
only carry noise-sized detail, so they are left alone, while edges, whose detail is far larger,
get nearly the full gain.

Why an all-uint8 formulation: the detail is taken with a saturating offset difference
(``addWeighted(Y, 1, blur, -1, 128)``), one 256-entry table applies ``128 + amount * shrink(d - 128)``
and a second ``addWeighted`` adds it back minus the offset. That is three memory-bound passes with
no float image, identical on the CPU and under OpenCL, and the saturation at +/-128 doubles as a
halo limiter on the hardest edges.

Example:
    >>> import numpy as np
    >>> ycc = np.full((32, 32, 3), 128, np.uint8); ycc[:, 16:, 0] = 160
    >>> out = sharpen_ycc(ycc, params=SharpenParams(amount=1.0))
    >>> int(out[0, 16, 0]) > 160 and int(out[0, 15, 0]) < 128
    True
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

import cv2
import numpy as np

from realtime.backends import Array
from realtime.stages._dispatch import ARRAY_TYPES, GpuMat, Workspace, dispatched, thread_workspace
from realtime.stages.base import StageParams, param
from realtime.stages.color import check_frame, luma_numpy, replace_luma_numpy, to_bgr, to_ycc


@dataclasses.dataclass(frozen=True)
class SharpenParams(StageParams):
    """Parameters of the thresholded unsharp mask.

    Attributes:
        sigma: Gaussian sigma (pixels) separating detail from base; in [0.3, 5].
        amount: gain on the detail; 0 leaves the image unchanged. In [0, 4].
        threshold: detail (levels) at or below which nothing is added; in [0, 64].
    """

    stage: ClassVar[str] = "sharpen"
    sigma: float = param(1.0, float, 0.3, 5.0)
    amount: float = param(0.8, float, 0.0, 4.0)
    threshold: float = param(4.0, float, 0.0, 64.0)


_DEFAULT = SharpenParams()


@functools.lru_cache(maxsize=32)
def detail_table(amount: float, threshold: float) -> np.ndarray:
    """256-entry uint8 table: offset detail ``d`` -> ``128 + amount * shrink(d - 128)``.

    Cached because the table only depends on two parameters; callers must not write to it.
    """
    d = np.arange(256, dtype=np.float64) - 128.0
    shrunk = np.sign(d) * np.maximum(np.abs(d) - threshold, 0.0)
    table = np.clip(np.rint(128.0 + amount * shrunk), 0, 255).astype(np.uint8)
    table.flags.writeable = False
    return table


def gaussian_ksize(sigma: float) -> int:
    """The kernel size OpenCV derives for an 8-bit image from ``sigma`` (3 sigma each side, odd).

    The CUDA filter needs it explicitly; using OpenCV's own rule keeps all backends on one kernel.
    """
    return round(sigma * 3 * 2 + 1) | 1


@dispatched
def sharpen_ycc(ycc: Array, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """Thresholded unsharp mask on the Y channel of a YCrCb frame; chroma is copied unchanged.

    Args:
        ycc: YCrCb uint8 HxWx3 frame; not modified.
        params: sharpening parameters.
        workspace: cache for the CUDA filter objects; ``None`` uses the calling thread's.

    Returns:
        A new YCrCb frame of the same type, shape and dtype.
    """
    raise NotImplementedError


@sharpen_ycc.kernel(np.ndarray)
def _sharpen_ycc_numpy(
    ycc: np.ndarray, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None
) -> np.ndarray:
    check_frame(ycc, "YCrCb frame")
    luma = luma_numpy(ycc)
    blur = cv2.GaussianBlur(luma, (0, 0), params.sigma)
    detail = cv2.addWeighted(luma, 1.0, blur, -1.0, 128.0)
    detail = cv2.LUT(detail, detail_table(params.amount, params.threshold))
    return replace_luma_numpy(ycc, cv2.addWeighted(luma, 1.0, detail, 1.0, -128.0))


@sharpen_ycc.kernel(cv2.UMat)
def _sharpen_ycc_umat(
    ycc: cv2.UMat, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None
) -> cv2.UMat:
    planes = list(cv2.split(ycc))
    luma = planes[0]
    blur = cv2.GaussianBlur(luma, (0, 0), params.sigma)
    detail = cv2.addWeighted(luma, 1.0, blur, -1.0, 128.0)
    detail = cv2.LUT(detail, detail_table(params.amount, params.threshold))
    planes[0] = cv2.addWeighted(luma, 1.0, detail, 1.0, -128.0)
    return cv2.merge(planes)


# Unverified: written against OpenCV's documented cv2.cuda API; PyPI OpenCV has no CUDA to run it.
@sharpen_ycc.kernel(GpuMat)
def _sharpen_ycc_cuda(
    ycc: cv2.cuda.GpuMat, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None
) -> cv2.cuda.GpuMat:
    ws = workspace if workspace is not None else thread_workspace()
    k = gaussian_ksize(params.sigma)
    gauss = ws.get(
        ("sharpen-gauss", params.sigma),
        lambda: cv2.cuda.createGaussianFilter(cv2.CV_8UC1, cv2.CV_8UC1, (k, k), params.sigma),
    )
    table = ws.get(
        ("sharpen-lut", params.amount, params.threshold),
        lambda: cv2.cuda.createLookUpTable(detail_table(params.amount, params.threshold).reshape(1, 256)),
    )
    planes = list(cv2.cuda.split(ycc))
    luma = planes[0]
    detail = cv2.cuda.addWeighted(luma, 1.0, gauss.apply(luma), -1.0, 128.0)
    planes[0] = cv2.cuda.addWeighted(luma, 1.0, table.transform(detail), 1.0, -128.0)
    return cv2.cuda.merge(planes)


@dispatched
def sharpen(bgr: Array, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """Thresholded unsharp mask on the luma of a BGR frame (see :func:`sharpen_ycc`)."""
    raise NotImplementedError


@sharpen.kernel(*ARRAY_TYPES)
def _sharpen(bgr: Array, *, params: SharpenParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    return to_bgr(sharpen_ycc(to_ycc(bgr), params=params, workspace=workspace))


class Sharpen:
    """Sharpening stage (stateless; owns its CUDA filter cache)."""

    name: ClassVar[str] = "sharpen"
    params_type: ClassVar[type[SharpenParams]] = SharpenParams

    def __init__(self, params: SharpenParams | None = None) -> None:
        self.params = params if params is not None else SharpenParams()
        self._workspace = Workspace()

    def apply_ycc(self, ycc: Array) -> Array:
        return sharpen_ycc(ycc, params=self.params, workspace=self._workspace)

    def __call__(self, bgr: Array) -> Array:
        return sharpen(bgr, params=self.params, workspace=self._workspace)

    def reset(self) -> None:
        """Sharpening is stateless between frames; nothing to forget."""

    def __repr__(self) -> str:
        return f"Sharpen({self.params!r})"
