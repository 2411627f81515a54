"""PyAV frames <-> the pipeline's :class:`~realtime.planes.Planes` (and BGR where needed).

Planar 8-bit Y'CbCr (nearly every decoded video) is copied plane by plane with no colour
conversion at all, and written back the same way when the output uses the same layout, matrix and
range. Other pixel formats go through swscale in accurate-rounding mode: its fast mode truncates,
which darkens every frame by a level or more.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, Interpolation

from realtime.planes import ColorInfo, MatrixCoefficients, Planes, is_full_range, matrix_space

_ACCURATE = Interpolation.BILINEAR | Interpolation.ACCURATE_RND
#: pixel format -> (chroma subsampled horizontally, vertically)
PLANAR_YUV = {
    "yuv420p": (True, True), "yuvj420p": (True, True),
    "yuv422p": (True, False), "yuvj422p": (True, False),
    "yuv444p": (False, False), "yuvj444p": (False, False),
}


def color_of(frame: av.VideoFrame) -> ColorInfo:
    """The colour tags of a decoded frame, with full range implied by the old yuvj formats."""
    rng = ColorRange.JPEG if frame.format.name.startswith("yuvj") else frame.color_range
    return ColorInfo.of(rng, frame.colorspace, frame.color_primaries, frame.color_trc)


def _read_plane(plane) -> np.ndarray:
    """A contiguous copy of one plane (decoder buffers are recycled; line padding is dropped)."""
    data = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return np.ascontiguousarray(data[:, : plane.width])


def _write_plane(plane, data: np.ndarray) -> None:
    data = data.reshape(plane.height, plane.width)
    if plane.line_size == plane.width:
        plane.update(np.ascontiguousarray(data))
    else:
        dst = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        dst[:, : plane.width] = data


def frame_to_planes(frame: av.VideoFrame, color: ColorInfo | None = None) -> Planes | None:
    """Planes of an 8-bit planar Y'CbCr frame (or NV12, what NVDEC gives), or None for any other format."""
    name = frame.format.name
    if name == "nv12":
        # NV12 is 4:2:0 with Cb and Cr interleaved in one plane: de-interleaving is a copy
        y, uv = _read_plane(frame.planes[0]), frame.planes[1]
        pairs = np.frombuffer(uv, dtype=np.uint8).reshape(uv.height, uv.line_size)[:, : uv.width * 2]
        pairs = pairs.reshape(uv.height, uv.width, 2)
        return Planes(y, np.ascontiguousarray(pairs[..., 0]), np.ascontiguousarray(pairs[..., 1]),
                      color or color_of(frame))
    if name not in PLANAR_YUV:
        return None
    y, cb, cr = (_read_plane(p) for p in frame.planes[:3])
    return Planes(y, cb, cr, color or color_of(frame))


def frame_to_bgr(frame: av.VideoFrame, color: ColorInfo | None = None) -> np.ndarray:
    """Any pixel format to BGR uint8, with the frame's own matrix and range."""
    color = color or color_of(frame)
    if frame.format.name == "bgr24":
        return frame.to_ndarray()
    planes = frame_to_planes(frame, color)
    if planes is not None:
        return planes.to_bgr()
    return frame.to_ndarray(format="bgr24", src_colorspace=_swscale_space(color),
                            src_color_range=_av_range(color), interpolation=_ACCURATE)


def same_conversion(a: ColorInfo, b: ColorInfo) -> bool:
    """True when planes in ``a`` can be written as ``b`` without touching a pixel."""
    return matrix_space(a) == matrix_space(b) and is_full_range(a) == is_full_range(b)


def chroma_shape(pix_fmt: str, height: int, width: int) -> tuple[int, int]:
    sub_x, sub_y = PLANAR_YUV[pix_fmt]
    return ((height + 1) // 2 if sub_y else height, (width + 1) // 2 if sub_x else width)


def planes_to_frame(planes: Planes, pix_fmt: str, color: ColorInfo) -> av.VideoFrame:
    """Host planes to a frame in ``pix_fmt`` tagged with ``color``; pixels untouched when they fit."""
    h, w = planes.size
    if (pix_fmt in PLANAR_YUV and same_conversion(planes.color, color)
            and planes.chroma_size == chroma_shape(pix_fmt, h, w)):
        frame = av.VideoFrame(w, h, pix_fmt)
        for plane, data in zip(frame.planes, (planes.y, planes.cb, planes.cr), strict=True):
            _write_plane(plane, data)
        _tag(frame, color)
        return frame
    return bgr_to_frame(planes.to_bgr(), pix_fmt, color)


def bgr_to_frame(img: np.ndarray, pix_fmt: str, color: ColorInfo) -> av.VideoFrame:
    """BGR uint8 to a frame in ``pix_fmt`` with ``color``'s matrix and range, tags set."""
    if pix_fmt in ("yuv420p", "yuvj420p", "yuv444p", "yuvj444p"):
        # planes made to fit, so planes_to_frame writes them as they are
        return planes_to_frame(Planes.from_bgr(img, color, subsample=PLANAR_YUV[pix_fmt][0]), pix_fmt, color)
    frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(
        format=pix_fmt, dst_colorspace=_swscale_space(color), dst_color_range=_av_range(color),
        interpolation=_ACCURATE)
    _tag(frame, color)
    return frame


#: FFmpeg's matrix codes -> swscale's (PyAV's ``Colorspace``), which ``reformat`` takes.
_SWSCALE = {MatrixCoefficients.BT709: Colorspace.ITU709, MatrixCoefficients.FCC: Colorspace.FCC,
            MatrixCoefficients.BT470BG: Colorspace.ITU601, MatrixCoefficients.SMPTE170M: Colorspace.SMPTE170M,
            MatrixCoefficients.SMPTE240M: Colorspace.SMPTE240M, MatrixCoefficients.BT2020_NCL: Colorspace.BT2020,
            MatrixCoefficients.BT2020_CL: Colorspace.BT2020}


def _swscale_space(color: ColorInfo) -> Colorspace:
    return _SWSCALE[matrix_space(color)]


def _av_range(color: ColorInfo) -> ColorRange:
    return ColorRange.JPEG if is_full_range(color) else ColorRange.MPEG


def _tag(frame: av.VideoFrame, color: ColorInfo) -> None:
    frame.color_range = _av_range(color)
    if color.space != MatrixCoefficients.UNSPECIFIED:
        frame.colorspace = color.space
    if color.primaries != ColorPrimaries.UNSPECIFIED:
        frame.color_primaries = color.primaries
    if color.trc != ColorTrc.UNSPECIFIED:
        frame.color_trc = color.trc
