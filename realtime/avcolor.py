"""Colour-correct conversion between PyAV frames and the pipeline's BGR arrays.

swscale needs to be told the YUV matrix and range explicitly: by default it assumes BT.601 limited
range, which shifts hues on BT.709 (HD) video and crushes full-range (JPEG) video. The decoder and
the encoder both go through here with the *same* tags, so a frame that no stage touches comes
back out with the same Y'CbCr values it went in with, and the output carries the input's tags.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation

from realtime.sources.base import ColorInfo

# FFmpeg AVColorSpace values that swscale understands; anything else falls back to BT.601,
# which is also what FFmpeg assumes for untagged video.
_SWS_SPACES = {1: 1, 4: 4, 5: 5, 6: 6, 7: 7, 9: 9, 10: 9}
_BT601 = 5
_RANGE_MPEG, _RANGE_JPEG = 1, 2
# (Kr, Kb) luma weights per AVColorSpace, for the encode-side matrix.
_KR_KB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114),
          7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


def color_of(frame: av.VideoFrame) -> ColorInfo:
    """The colour tags of a decoded frame, with full range implied by the old yuvj formats."""
    rng = int(frame.color_range)
    if frame.format.name.startswith("yuvj"):
        rng = _RANGE_JPEG
    return ColorInfo(
        range=rng,
        space=int(frame.colorspace),
        primaries=int(frame.color_primaries),
        trc=int(frame.color_trc),
    )


def _sws_args(color: ColorInfo) -> tuple[int, int]:
    space = _SWS_SPACES.get(color.space, _BT601)
    rng = _RANGE_JPEG if color.range == _RANGE_JPEG else _RANGE_MPEG
    return space, rng


_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


def frame_to_bgr(frame: av.VideoFrame, color: ColorInfo | None = None) -> np.ndarray:
    """Decode-side conversion: any pixel format to BGR uint8 using the frame's own matrix/range.

    swscale's fast YUV->RGB path truncates and lands 1-1.5 levels below the exact BT.709 result
    on typical footage, so 8-bit planar YUV (nearly every decoded video) is converted here
    with OpenCV: chroma upsampled bilinearly, then one rounding ``cv2.transform`` with the exact
    inverse of :func:`ycbcr_matrix`. Anything else goes through swscale in accurate mode.
    """
    color = color or color_of(frame)
    name = frame.format.name
    if name == "bgr24":
        return frame.to_ndarray()
    if name in _PLANAR_YUV:
        h, w = frame.height, frame.width
        y, cb, cr = (_read_plane(p) for p in frame.planes[:3])
        if cb.shape != (h, w):
            cb = cv2.resize(cb, (w, h), interpolation=cv2.INTER_LINEAR)
            cr = cv2.resize(cr, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.transform(cv2.merge((y, cb, cr)), _inverse_matrix(color))
    space, rng = _sws_args(color)
    return frame.to_ndarray(format="bgr24", src_colorspace=space, src_color_range=rng,
                            interpolation=Interpolation.BILINEAR | Interpolation.ACCURATE_RND)


def _read_plane(plane: av.video.plane.VideoPlane) -> np.ndarray:
    data = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return data[:, : plane.width]


def _inverse_matrix(color: ColorInfo) -> np.ndarray:
    """3x4 matrix taking [Y, Cb, Cr, 1] to [B, G, R]: the exact inverse of ``ycbcr_matrix``."""
    m = ycbcr_matrix(color).astype(np.float64)
    inv = np.linalg.inv(m[:, :3])
    return np.hstack([inv, -(inv @ m[:, 3])[:, None]]).astype(np.float32)


def ycbcr_matrix(color: ColorInfo) -> np.ndarray:
    """3x4 matrix taking [B, G, R, 1] (0..255) to [Y, Cb, Cr] in the video's matrix and range."""
    space, rng = _sws_args(color)
    kr, kb = _KR_KB.get(space, _KR_KB[_BT601])
    kg = 1.0 - kr - kb
    y = np.array([kb, kg, kr])
    cb = (np.array([1.0, 0.0, 0.0]) - y) / (2 * (1 - kb))
    cr = (np.array([0.0, 0.0, 1.0]) - y) / (2 * (1 - kr))
    if rng == _RANGE_JPEG:
        ys, cs, yo = 1.0, 1.0, 0.0
    else:
        ys, cs, yo = 219 / 255, 224 / 255, 16.0
    return np.array(
        [[*(y * ys), yo], [*(cb * cs), 128.0], [*(cr * cs), 128.0]], dtype=np.float32
    )


def bgr_to_frame(img: np.ndarray, pix_fmt: str, color: ColorInfo) -> av.VideoFrame:
    """Encode-side conversion: BGR uint8 to ``pix_fmt`` with the input's matrix/range, tags set.

    swscale's fast path truncates instead of rounding, which darkens every frame by about one
    level per decode/encode round trip; its accurate-rounding mode costs 3x more. One
    ``cv2.transform`` (rounding, saturating) plus an area downsample of the chroma is both exact
    and faster, so it is used for the common 4:2:0 and 4:4:4 layouts.
    """
    space, rng = _sws_args(color)
    h, w = img.shape[:2]
    if pix_fmt == "yuv420p" and not (h % 2 or w % 2):
        ycc = cv2.transform(img, ycbcr_matrix(color))
        y, cb, cr = cv2.split(ycc)
        half = (w // 2, h // 2)
        cb = cv2.resize(cb, half, interpolation=cv2.INTER_AREA)
        cr = cv2.resize(cr, half, interpolation=cv2.INTER_AREA)
        out = av.VideoFrame(w, h, "yuv420p")
        for plane, data in zip(out.planes, (y, cb, cr), strict=True):
            _fill_plane(plane, data)
    elif pix_fmt == "yuv444p":
        ycc = cv2.transform(img, ycbcr_matrix(color))
        out = av.VideoFrame(w, h, "yuv444p")
        for plane, data in zip(out.planes, cv2.split(ycc), strict=True):
            _fill_plane(plane, data)
    else:
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        out = frame.reformat(format=pix_fmt, dst_colorspace=space, dst_color_range=rng,
                             interpolation=Interpolation.BILINEAR | Interpolation.ACCURATE_RND)
    out.color_range = rng
    if color.space != 2:
        out.colorspace = color.space
    if color.primaries != 2:
        out.color_primaries = color.primaries
    if color.trc != 2:
        out.color_trc = color.trc
    return out


def _fill_plane(plane: av.video.plane.VideoPlane, data: np.ndarray) -> None:
    """Copy a 2-D uint8 array into a frame plane, respecting the plane's row padding."""
    data = data.reshape(plane.height, plane.width)
    if plane.line_size == plane.width:
        plane.update(np.ascontiguousarray(data))
    else:
        dst = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        dst[:, : plane.width] = data
