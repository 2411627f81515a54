"""Frames as separate Y, Cb and Cr planes: the pipeline's working form.

Decoders hand out planar Y'CbCr (almost always 4:2:0) and encoders want it back. Converting every
frame to interleaved BGR and back costs more than a cheap stage at each end, and every luma-only
stage would then have to pull Y out of the interleaved image and put it back. So frames travel as
:class:`Planes` from decoder to encoder, each stage works on the plane it needs (chroma at its
native, usually quarter, resolution), and BGR is made only where something needs it (a window,
an image file, the refiner). The BGR contract at the pipeline's edges is kept by
:meth:`Planes.from_bgr` / :meth:`Planes.to_bgr`, which are exact inverses up to rounding.

The matrix and range travel with the planes (:class:`ColorInfo`), so conversions are right for
BT.601, BT.709 and BT.2020, limited or full range. BGR images with no tags of their own (photos,
cameras) use full-range BT.601, the JPEG convention, which loses no levels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

from realtime.backends import Array
from realtime.sources.base import ColorInfo

#: Colour of planes made from untagged BGR: full-range BT.601 (what JPEG and OpenCV's YCrCb use).
BGR_NATIVE = ColorInfo(range=2, space=5, primaries=2, trc=2)
#: BT.709 limited range, tagged: what HD players assume, used for video made from cameras and images.
HD_COLOR = ColorInfo(range=1, space=1, primaries=1, trc=1)

_KR_KB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114),
          7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT601 = 5
_RANGE_JPEG = 2


def matrix_space(color: ColorInfo) -> int:
    """The AVColorSpace actually used for conversion: untagged or unknown means BT.601 (FFmpeg's default)."""
    return color.space if color.space in _KR_KB else _BT601


def is_full_range(color: ColorInfo) -> bool:
    return color.range == _RANGE_JPEG


def luma_range(color: ColorInfo) -> tuple[int, int]:
    """Black and white levels of Y: (0, 255) full range, (16, 235) limited."""
    return (0, 255) if is_full_range(color) else (16, 235)


def ycbcr_matrix(color: ColorInfo) -> np.ndarray:
    """3x4 float32 matrix taking [B, G, R, 1] (0..255) to [Y, Cb, Cr] in ``color``'s matrix and range."""
    kr, kb = _KR_KB[matrix_space(color)]
    kg = 1.0 - kr - kb
    y = np.array([kb, kg, kr])
    cb = (np.array([1.0, 0.0, 0.0]) - y) / (2 * (1 - kb))
    cr = (np.array([0.0, 0.0, 1.0]) - y) / (2 * (1 - kr))
    ys, cs, yo = (1.0, 1.0, 0.0) if is_full_range(color) else (219 / 255, 224 / 255, 16.0)
    return np.array([[*(y * ys), yo], [*(cb * cs), 128.0], [*(cr * cs), 128.0]], dtype=np.float32)


def bgr_matrix(color: ColorInfo) -> np.ndarray:
    """3x4 float32 matrix taking [Y, Cb, Cr, 1] to [B, G, R]: the exact inverse of :func:`ycbcr_matrix`."""
    m = ycbcr_matrix(color).astype(np.float64)
    inv = np.linalg.inv(m[:, :3])
    return np.hstack([inv, -(inv @ m[:, 3])[:, None]]).astype(np.float32)


@dataclasses.dataclass(frozen=True, slots=True)
class Planes:
    """One frame as Y, Cb, Cr uint8 planes on one backend (all ndarray, all UMat or all GpuMat).

    ``y`` is full size. ``cb``/``cr`` are full size (4:4:4), half width (4:2:2) or half width and
    height rounded up (4:2:0). Instances are immutable; stages return new ones (``replace``).
    """

    y: Any
    cb: Any
    cr: Any
    color: ColorInfo = BGR_NATIVE

    def replace(self, **changes: Any) -> Planes:
        return dataclasses.replace(self, **changes)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frame."""
        return plane_size(self.y)

    @property
    def chroma_size(self) -> tuple[int, int]:
        return plane_size(self.cb)

    # -- host conversions ----------------------------------------------------------------------
    @classmethod
    def from_bgr(cls, bgr: np.ndarray, color: ColorInfo = BGR_NATIVE, *, subsample: bool = False) -> Planes:
        """BGR uint8 -> planes in ``color``'s matrix/range, 4:4:4 or 4:2:0 (area-averaged chroma)."""
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            raise ValueError(f"BGR frame must be a uint8 HxWx3 array, got {bgr.dtype} with shape {bgr.shape}")
        ycc = cv2.transform(bgr, ycbcr_matrix(color))
        y, cb, cr = cv2.split(ycc)
        if subsample:
            h, w = y.shape
            half = ((w + 1) // 2, (h + 1) // 2)
            cb = cv2.resize(cb, half, interpolation=cv2.INTER_AREA)
            cr = cv2.resize(cr, half, interpolation=cv2.INTER_AREA)
        return cls(y, cb, cr, color)

    def to_bgr(self) -> np.ndarray:
        """Host BGR uint8: chroma upsampled bilinearly, then one rounding matrix transform."""
        y, cb, cr = (download_plane(p) for p in (self.y, self.cb, self.cr))
        h, w = y.shape
        if cb.shape != (h, w):
            cb = cv2.resize(cb, (w, h), interpolation=cv2.INTER_LINEAR)
            cr = cv2.resize(cr, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.transform(cv2.merge((y, cb, cr)), bgr_matrix(self.color))


def plane_size(arr: Array) -> tuple[int, int]:
    """(height, width) of one plane, whatever its backend."""
    if isinstance(arr, np.ndarray):
        return arr.shape[0], arr.shape[1]
    if isinstance(arr, cv2.UMat):
        from realtime.stages._dispatch import umat_size

        w, h = umat_size(arr)
        return h, w
    w, h = arr.size()  # cv2.cuda.GpuMat
    return h, w


def upload_plane(arr: np.ndarray, kind: type) -> Array:
    if kind is np.ndarray:
        return arr
    if kind is cv2.UMat:
        return cv2.UMat(arr)
    gpu = cv2.cuda.GpuMat()
    gpu.upload(arr)
    return gpu


def download_plane(arr: Array) -> np.ndarray:
    if isinstance(arr, np.ndarray):
        return arr
    if isinstance(arr, cv2.UMat):
        return arr.get()
    return arr.download()


def upload(planes: Planes, kind: type) -> Planes:
    """Move every plane to the backend whose array type is ``kind`` (no copy if already there)."""
    if isinstance(planes.y, kind):
        return planes
    return planes.replace(y=upload_plane(planes.y, kind), cb=upload_plane(planes.cb, kind),
                          cr=upload_plane(planes.cr, kind))


def download(planes: Planes) -> Planes:
    if isinstance(planes.y, np.ndarray):
        return planes
    return planes.replace(y=download_plane(planes.y), cb=download_plane(planes.cb),
                          cr=download_plane(planes.cr))
