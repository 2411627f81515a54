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
import enum
from typing import Any

import cv2
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc

from realtime.backends import download_plane, move_plane, plane_size


class MatrixCoefficients(enum.IntEnum):
    """FFmpeg's ``AVColorSpace`` (the Y'CbCr matrix a stream is tagged with), by its own numbers.

    PyAV names the range, primaries and transfer codes (``ColorRange``, ``ColorPrimaries``,
    ``ColorTrc``, used as they are here) but its ``Colorspace`` enum is swscale's ``SWS_CS_*``,
    a different numbering that has no "unspecified" and puts SMPTE 170M at 5, where FFmpeg's
    streams have BT.470BG. Values are those of ``libavutil/pixfmt.h``.
    """

    RGB = 0
    BT709 = 1
    UNSPECIFIED = 2
    FCC = 4
    BT470BG = 5
    SMPTE170M = 6
    SMPTE240M = 7
    YCGCO = 8
    BT2020_NCL = 9
    BT2020_CL = 10


def _code(enum_type: type[enum.IntEnum], value: int) -> int:
    """``value`` as a member of ``enum_type`` when it names one; codes FFmpeg knows and the enum
    does not (reserved or newer ones) stay plain integers and are copied through untouched."""
    try:
        return enum_type(int(value))
    except ValueError:
        return int(value)


@dataclasses.dataclass(frozen=True, slots=True)
class ColorInfo:
    """Colour tags of a frame (FFmpeg's codes), kept with its planes and copied onto the output.

    ``range`` is a :class:`av.video.reformatter.ColorRange`, ``space`` a :class:`MatrixCoefficients`,
    ``primaries`` and ``trc`` PyAV's ``ColorPrimaries`` and ``ColorTrc``; each defaults to
    unspecified.
    """

    range: int = ColorRange.UNSPECIFIED
    space: int = MatrixCoefficients.UNSPECIFIED
    primaries: int = ColorPrimaries.UNSPECIFIED
    trc: int = ColorTrc.UNSPECIFIED

    @classmethod
    def of(cls, range: int, space: int, primaries: int, trc: int) -> ColorInfo:
        """From the integers a decoder reports, as the enums' members where they have one."""
        return cls(_code(ColorRange, range), _code(MatrixCoefficients, space),
                   _code(ColorPrimaries, primaries), _code(ColorTrc, trc))


#: Colour of planes made from untagged BGR: full-range BT.601 (what JPEG and OpenCV's YCrCb use).
BGR_NATIVE = ColorInfo(range=ColorRange.JPEG, space=MatrixCoefficients.BT470BG)
#: BT.709 limited range, tagged: what HD players assume, used for video made from cameras and images.
HD_COLOR = ColorInfo(range=ColorRange.MPEG, space=MatrixCoefficients.BT709, primaries=ColorPrimaries.BT709,
                     trc=ColorTrc.BT709)

_M = MatrixCoefficients
_KR_KB = {_M.BT709: (0.2126, 0.0722), _M.FCC: (0.30, 0.11), _M.BT470BG: (0.299, 0.114),
          _M.SMPTE170M: (0.299, 0.114), _M.SMPTE240M: (0.212, 0.087), _M.BT2020_NCL: (0.2627, 0.0593),
          _M.BT2020_CL: (0.2627, 0.0593)}


def matrix_space(color: ColorInfo) -> MatrixCoefficients:
    """The matrix actually used for conversion: untagged or unknown means BT.601 (FFmpeg's default)."""
    return MatrixCoefficients(color.space) if color.space in _KR_KB else MatrixCoefficients.BT470BG


def is_full_range(color: ColorInfo) -> bool:
    return color.range == ColorRange.JPEG


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

    # -- backends ------------------------------------------------------------------------------
    def to_backend(self, kind: type) -> Planes:
        """Every plane on the backend whose array type is ``kind`` (no copy if already there)."""
        if isinstance(self.y, kind):
            return self
        return self.replace(y=move_plane(self.y, kind), cb=move_plane(self.cb, kind), cr=move_plane(self.cr, kind))

    def to_host(self) -> Planes:
        return self.to_backend(np.ndarray)
