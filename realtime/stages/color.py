"""BGR <-> YCrCb conversions, dispatched by array type like every stage kernel.

YCrCb (OpenCV's full-range BT.601 matrix: channel 0 is luma Y, 1 is Cr, 2 is Cb) is the working
space of the stages because it separates what they act on: contrast, CLAHE and sharpening touch
luma only, and chroma noise can be smoothed at low resolution where it is cheap. The transform is
linear, which lets the contrast stage express "one stretch of R, G and B alike" as a gain on Y and
the same gain on Cr/Cb around 128. The pipeline converts once on the way in and once on the way out.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.backends import Array
from realtime.stages._dispatch import GpuMat, dispatched


@dispatched
def to_ycc(arr: Array) -> Array:
    """BGR ``uint8`` HxWx3 -> YCrCb, on the array's own backend.

    Example:
        >>> import numpy as np
        >>> to_ycc(np.full((1, 1, 3), 255, np.uint8))[0, 0].tolist()
        [255, 128, 128]
    """
    raise NotImplementedError  # body never runs: the registered kernels do the work


@dispatched
def to_bgr(arr: Array) -> Array:
    """YCrCb ``uint8`` HxWx3 -> BGR, on the array's own backend."""
    raise NotImplementedError


def check_frame(arr: np.ndarray, what: str = "frame") -> None:
    """Fail early and clearly on host arrays that are not 8-bit 3-channel images.

    Why: OpenCV would otherwise fail deep inside a kernel with an assertion naming C++ internals.
    Only host arrays are checked; device arrays do not expose their shape without a transfer.
    """
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"{what} must be a uint8 HxWx3 array, got {arr.dtype} with shape {arr.shape}")


@to_ycc.kernel(np.ndarray)
def _to_ycc_numpy(arr: np.ndarray) -> np.ndarray:
    check_frame(arr, "BGR frame")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2YCrCb)


@to_bgr.kernel(np.ndarray)
def _to_bgr_numpy(arr: np.ndarray) -> np.ndarray:
    check_frame(arr, "YCrCb frame")
    return cv2.cvtColor(arr, cv2.COLOR_YCrCb2BGR)


@to_ycc.kernel(cv2.UMat)
def _to_ycc_umat(arr: cv2.UMat) -> cv2.UMat:
    return cv2.cvtColor(arr, cv2.COLOR_BGR2YCrCb)


@to_bgr.kernel(cv2.UMat)
def _to_bgr_umat(arr: cv2.UMat) -> cv2.UMat:
    return cv2.cvtColor(arr, cv2.COLOR_YCrCb2BGR)


# CUDA kernels: written against OpenCV's documented cv2.cuda API, never run (PyPI OpenCV has no CUDA).
@to_ycc.kernel(GpuMat)
def _to_ycc_cuda(arr: cv2.cuda.GpuMat) -> cv2.cuda.GpuMat:
    return cv2.cuda.cvtColor(arr, cv2.COLOR_BGR2YCrCb)


@to_bgr.kernel(GpuMat)
def _to_bgr_cuda(arr: cv2.cuda.GpuMat) -> cv2.cuda.GpuMat:
    return cv2.cuda.cvtColor(arr, cv2.COLOR_YCrCb2BGR)


def luma_numpy(ycc: np.ndarray) -> np.ndarray:
    """Contiguous copy of the Y plane of a host YCrCb image.

    A strided numpy view costs nothing, but OpenCV needs unit pixel stride, so one gather is
    unavoidable; numpy's strided copy measured faster here than ``cv2.extractChannel`` (whereas
    ``cv2.split`` on host arrays was ~15x slower, so it is avoided on this path).
    """
    return np.ascontiguousarray(ycc[..., 0])


def replace_luma_numpy(ycc: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A new YCrCb image with ``ycc``'s chroma and luma ``y`` (the input is left untouched)."""
    out = ycc.copy()
    out[..., 0] = y
    return out
