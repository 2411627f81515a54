"""Colour-correct conversion between PyAV frames and the pipeline's BGR arrays.

swscale needs to be told the YUV matrix and range explicitly: by default it assumes BT.601 limited
range, which shifts hues on BT.709 (HD) video and crushes full-range (JPEG) video. The decoder and
the encoder both go through here with the *same* tags, so a frame that no stage touches comes
back out with the same Y'CbCr values it went in with, and the output carries the input's tags.
"""

from __future__ import annotations

import av
import numpy as np

from realtime.sources.base import ColorInfo

# FFmpeg AVColorSpace values that swscale understands; anything else falls back to BT.601,
# which is also what FFmpeg assumes for untagged video.
_SWS_SPACES = {1: 1, 4: 4, 5: 5, 6: 6, 7: 7, 9: 9, 10: 9}
_BT601 = 5
_RANGE_MPEG, _RANGE_JPEG = 1, 2


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


def frame_to_bgr(frame: av.VideoFrame, color: ColorInfo | None = None) -> np.ndarray:
    """Decode-side conversion: any pixel format to BGR uint8 using the frame's own matrix/range."""
    color = color or color_of(frame)
    if frame.format.name == "bgr24":
        return frame.to_ndarray()
    space, rng = _sws_args(color)
    return frame.to_ndarray(format="bgr24", src_colorspace=space, src_color_range=rng)


def bgr_to_frame(img: np.ndarray, pix_fmt: str, color: ColorInfo) -> av.VideoFrame:
    """Encode-side conversion: BGR uint8 to ``pix_fmt`` with the input's matrix/range, tags set."""
    space, rng = _sws_args(color)
    frame = av.VideoFrame.from_ndarray(img, format="bgr24")
    out = frame.reformat(format=pix_fmt, dst_colorspace=space, dst_color_range=rng)
    out.color_range = rng
    if color.space != 2:
        out.colorspace = color.space
    if color.primaries != 2:
        out.color_primaries = color.primaries
    if color.trc != 2:
        out.color_trc = color.trc
    return out
