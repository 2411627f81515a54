"""BGR <-> :class:`~realtime.planes.Planes` on any backend, and checks of host frames and planes.

The stages work on planes: luma stages touch ``y`` only, chroma is smoothed at its own (usually
quarter) resolution, and the contrast stretch scales Cb/Cr around 128 by the luma gain, which is
one linear stretch of R, G and B alike. The public BGR functions (``contrast(bgr)``, ...) convert
with :func:`planes_from_bgr` and :func:`planes_to_bgr`: OpenCV's full-range BT.601 YCrCb
(:data:`~realtime.planes.BGR_NATIVE`) at 4:4:4, one ``cvtColor`` plus ``split`` each way, which
loses nothing to chroma subsampling and runs unchanged on ``np.ndarray``, ``cv2.UMat`` and
``cv2.cuda.GpuMat``.

Planes are treated as read-only: stages never write into the planes they are given, and their
results may share unchanged planes with their input (a luma stage returns the input's very ``cb``
and ``cr`` objects), so nobody should write into planes they did not allocate.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from realtime.backends import Array
from realtime.planes import BGR_NATIVE, ColorInfo, Planes, bgr_matrix, ycbcr_matrix
from realtime.stages._dispatch import GpuMat, dispatched, umat_size


def check_frame(arr: np.ndarray, what: str = "frame") -> None:
    """Fail early and clearly on host arrays that are not 8-bit 3-channel images.

    Why: OpenCV would otherwise fail deep inside a kernel with an assertion naming C++ internals.
    Only host arrays are checked; device arrays do not expose their shape without a transfer.
    """
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"{what} must be a uint8 HxWx3 array, got {arr.dtype} with shape {arr.shape}")


def check_planes(planes: Planes) -> None:
    """Fail early and clearly on host planes of the wrong dtype, rank or chroma size.

    Chroma may be full size (4:4:4), half width (4:2:2) or half width and height (4:2:0), halves
    rounded up. A few attribute reads: cheap enough to run on every frame.
    """
    for name in ("y", "cb", "cr"):
        p = getattr(planes, name)
        if p.ndim != 2 or p.dtype != np.uint8:
            raise ValueError(f"plane {name} must be a uint8 2-D array, got {p.dtype} with shape {p.shape}")
    h, w = planes.y.shape
    half_w, half_h = (w + 1) // 2, (h + 1) // 2
    if planes.cb.shape != planes.cr.shape or planes.cb.shape not in ((h, w), (h, half_w), (half_h, half_w)):
        raise ValueError(
            f"chroma planes of a {w}x{h} frame must both be {w}x{h}, {half_w}x{h} or {half_w}x{half_h}, "
            f"got cb {planes.cb.shape[1]}x{planes.cb.shape[0]} and cr {planes.cr.shape[1]}x{planes.cr.shape[0]}"
        )


def subsampling(luma_size: tuple[int, int], chroma_size: tuple[int, int]) -> tuple[int, int]:
    """``(fy, fx)``: how many luma rows and columns one chroma sample spans (1 or 2 each).

    Rounded, so odd sizes (a 641-wide frame has 321-wide 4:2:0 chroma) still give exactly 2.
    """
    return round(luma_size[0] / chroma_size[0]), round(luma_size[1] / chroma_size[1])


@functools.lru_cache(maxsize=16)
def is_native(color: ColorInfo) -> bool:
    """Whether ``color`` converts exactly like OpenCV's ``COLOR_BGR2YCrCb`` (full-range BT.601)."""
    return bool(np.array_equal(ycbcr_matrix(color), ycbcr_matrix(BGR_NATIVE)))


# ------------------------------------------------------------------------------------- BGR -> planes


@dispatched
def planes_from_bgr(arr: Array) -> Planes:
    """BGR ``uint8`` HxWx3 -> 4:4:4 :data:`~realtime.planes.BGR_NATIVE` planes on the same backend.

    Example:
        >>> import numpy as np
        >>> planes = planes_from_bgr(np.full((2, 3, 3), 255, np.uint8))
        >>> [int(p[0, 0]) for p in (planes.y, planes.cb, planes.cr)], planes.size
        ([255, 128, 128], (2, 3))
    """
    raise NotImplementedError  # body never runs: the registered kernels do the work


@planes_from_bgr.kernel(np.ndarray)
def _planes_from_bgr_numpy(arr: np.ndarray) -> Planes:
    check_frame(arr, "BGR frame")
    y, cr, cb = cv2.split(cv2.cvtColor(arr, cv2.COLOR_BGR2YCrCb))
    return Planes(y, cb, cr, BGR_NATIVE)


@planes_from_bgr.kernel(cv2.UMat)
def _planes_from_bgr_umat(arr: cv2.UMat) -> Planes:
    y, cr, cb = cv2.split(cv2.cvtColor(arr, cv2.COLOR_BGR2YCrCb))
    return Planes(y, cb, cr, BGR_NATIVE)


# CUDA kernels: written against OpenCV's documented cv2.cuda API, never run (PyPI OpenCV has no CUDA).
@planes_from_bgr.kernel(GpuMat)
def _planes_from_bgr_cuda(arr: cv2.cuda.GpuMat) -> Planes:
    y, cr, cb = cv2.cuda.split(cv2.cuda.cvtColor(arr, cv2.COLOR_BGR2YCrCb))
    return Planes(y, cb, cr, BGR_NATIVE)


# ------------------------------------------------------------------------------------- planes -> BGR


@dispatched(planes=True)
def planes_to_bgr(planes: Planes) -> Array:
    """Planes -> BGR ``uint8`` HxWx3 on the planes' backend.

    4:4:4 planes in OpenCV's own YCrCb (what :func:`planes_from_bgr` makes) take one ``merge`` and
    one ``cvtColor``, its exact inverse. Anything else (subsampled chroma, BT.709, limited range)
    upsamples chroma bilinearly and applies the colour's matrix, as :meth:`Planes.to_bgr` does.
    """
    raise NotImplementedError


@planes_to_bgr.kernel(np.ndarray)
def _planes_to_bgr_numpy(planes: Planes) -> np.ndarray:
    check_planes(planes)
    if is_native(planes.color) and planes.cb.shape == planes.y.shape:
        return cv2.cvtColor(cv2.merge([planes.y, planes.cr, planes.cb]), cv2.COLOR_YCrCb2BGR)
    return planes.to_bgr()


@planes_to_bgr.kernel(cv2.UMat)
def _planes_to_bgr_umat(planes: Planes) -> cv2.UMat:
    size = umat_size(planes.y)
    cb, cr = planes.cb, planes.cr
    if umat_size(cb) != size:
        cb = cv2.resize(cb, size, interpolation=cv2.INTER_LINEAR)
        cr = cv2.resize(cr, size, interpolation=cv2.INTER_LINEAR)
    if is_native(planes.color):
        return cv2.cvtColor(cv2.merge([planes.y, cr, cb]), cv2.COLOR_YCrCb2BGR)
    return cv2.transform(cv2.merge([planes.y, cb, cr]), bgr_matrix(planes.color))


# Unverified (see above). cv2.cuda has no general 3x4 transform, so for other matrices each of B, G, R
# is two addWeighted calls: a float partial sum of Y and Cb, then Cr added with rounding to uint8.
@planes_to_bgr.kernel(GpuMat)
def _planes_to_bgr_cuda(planes: Planes) -> cv2.cuda.GpuMat:
    size = planes.y.size()
    cb, cr = planes.cb, planes.cr
    if cb.size() != size:
        cb = cv2.cuda.resize(cb, size, interpolation=cv2.INTER_LINEAR)
        cr = cv2.cuda.resize(cr, size, interpolation=cv2.INTER_LINEAR)
    if is_native(planes.color):
        return cv2.cuda.cvtColor(cv2.cuda.merge([planes.y, cr, cb]), cv2.COLOR_YCrCb2BGR)
    channels = []
    for m in bgr_matrix(planes.color).astype(float):
        partial = cv2.cuda.addWeighted(planes.y, m[0], cb, m[1], m[3], dtype=cv2.CV_32F)
        channels.append(cv2.cuda.addWeighted(partial, 1.0, cr, m[2], 0.0, dtype=cv2.CV_8U))
    return cv2.cuda.merge(channels)
