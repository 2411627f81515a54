"""Frames changed in size or rate on the grabber thread, before they reach a stage (``--scale``, ``--fps``).

Done there, the stages work on frames of the size and rate that will be written: scaling a 4K file
down to 720p first makes everything after it cheaper, and a 60 fps file made 30 fps enhances half
the frames. Audio packets pass untouched: neither changes the clip's duration.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from fractions import Fraction

import cv2
import numpy as np

from realtime.errors import ConfigError
from realtime.frames import FramePacket, PassthroughPacket
from realtime.planes import Planes
from realtime.sources.base import Source, Wrapped


def _even(x: float) -> int:
    """The nearest even size (at least 2): 4:2:0 encoders need both sides even (FFmpeg's ``-2``)."""
    return max(2, 2 * round(x / 2))


def scaled_size(width: int, height: int, want: tuple[int, int]) -> tuple[int, int]:
    """The size ``--scale W:H`` asks for; a side given as -1 keeps the aspect ratio, rounded to even.

    >>> scaled_size(1920, 1080, (1280, -1))
    (1280, 720)
    >>> scaled_size(1920, 1080, (-1, 480))
    (854, 480)
    """
    w, h = want
    if (w == -1 and h == -1) or w == 0 or h == 0 or w < -1 or h < -1:
        raise ConfigError(f"--scale {w}x{h}: give a width and a height, or -1 for one of them to keep the aspect")
    if w == -1:
        w = _even(width * h / height)
    elif h == -1:
        h = _even(height * w / width)
    return w, h


def _resize(plane, size: tuple[int, int]):
    """One plane to ``size`` (w, h): area-averaged when it shrinks (no aliasing), bicubic when it grows."""
    h, w = plane.shape[:2] if isinstance(plane, np.ndarray) else plane.size()[::-1]
    shrink = size[0] * size[1] < w * h
    return cv2.resize(plane, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def scale_planes(planes: Planes, size: tuple[int, int]) -> Planes:
    """Planes at ``size`` (w, h), the chroma subsampling kept (4:2:0 stays 4:2:0)."""
    (h, w), (ch, cw) = planes.size, planes.chroma_size
    sx, sy = round(w / cw), round(h / ch)
    chroma = (math.ceil(size[0] / sx), math.ceil(size[1] / sy))
    return planes.replace(y=_resize(planes.y, size), cb=_resize(planes.cb, chroma), cr=_resize(planes.cr, chroma))


class Scaled(Wrapped):
    """``source`` with every frame resized to one size (FFmpeg's ``-vf scale``)."""

    def __init__(self, source: Source, want: tuple[int, int]) -> None:
        info = source.info
        self.size = scaled_size(info.width, info.height, want)
        super().__init__(source, dataclasses.replace(info, width=self.size[0], height=self.size[1]))

    def __iter__(self) -> Iterator[FramePacket | PassthroughPacket]:
        size = self.size
        for item in self.source:
            if isinstance(item, FramePacket) and (item.size[1], item.size[0]) != size:
                if item.planes is not None:
                    item.set_planes(scale_planes(item.planes, size))
                else:
                    item.image = _resize(item.image, size)
            yield item


def _round_near(x: Fraction) -> int:
    """Round half away from zero, as FFmpeg's ``AV_ROUND_NEAR_INF`` (the fps filter's default)."""
    return math.floor(x + Fraction(1, 2)) if x >= 0 else -math.floor(-x + Fraction(1, 2))


def _copy(packet: FramePacket, index: int, pts: int, tb: Fraction, again: bool) -> FramePacket:
    """The frame shown at output tick ``pts``; a repeat gets pixels of its own, so no stage that
    works in place can change a frame already sent on."""
    if not again:
        packet.index, packet.pts, packet.time_base = index, pts, tb
        return packet
    if packet.planes is not None:
        p = packet.planes
        planes = p.replace(y=p.y.copy(), cb=p.cb.copy(), cr=p.cr.copy()) if isinstance(p.y, np.ndarray) else p
        return FramePacket(planes=planes, index=index, pts=pts, time_base=tb, name=packet.name)
    return FramePacket(image=packet.image.copy(), index=index, pts=pts, time_base=tb, name=packet.name)


class Retimed(Wrapped):
    """``source`` at a constant ``fps``: frames dropped or repeated as FFmpeg's ``fps`` filter does.

    Each input frame's time is rounded to the nearest output tick (half away from zero); output
    tick *k* shows the last frame whose tick is at most *k*, from the first frame's tick to the end
    of the last frame (its time plus one input frame interval). The output is timestamped in
    ``1/fps``, so the writer gets a constant rate; the audio keeps its own timestamps and so stays
    in sync. ``tests/test_retime.py`` checks the frames chosen against FFmpeg's own filter.
    """

    def __init__(self, source: Source, fps: Fraction) -> None:
        if fps <= 0:
            raise ConfigError(f"--fps must be positive, not {fps}")
        info = source.info
        count = info.frame_count
        if count and info.fps:
            count = max(1, _round_near(Fraction(count) / info.fps * fps))
        super().__init__(source, dataclasses.replace(info, fps=fps, time_base=1 / fps, frame_count=count))
        self.fps = fps
        self.dropped = 0  # input frames never shown
        self.repeated = 0  # output frames that repeat the one before

    def __iter__(self) -> Iterator[FramePacket | PassthroughPacket]:
        fps, tb = self.fps, 1 / self.fps
        step = 1 / self.source.info.fps if self.source.info.fps else None  # an input frame's duration
        held: FramePacket | None = None
        shown = 0  # times ``held`` has been sent
        tick = prev_t = last_t = None
        out = 0
        for item in self.source:
            if not isinstance(item, FramePacket):
                yield item
                continue
            if item.pts is None or item.time_base is None:
                t = item.index * (step or Fraction(1, 25))
            else:
                t = Fraction(item.pts) * Fraction(item.time_base)
            at = _round_near(t * fps)
            if held is None:
                tick = at
            else:
                while tick < at:
                    yield _copy(held, out, tick, tb, shown > 0)
                    out, tick, shown = out + 1, tick + 1, shown + 1
                self._account(shown)
            if last_t is not None:
                prev_t = last_t
            held, shown, last_t = item, 0, t
        if held is None:
            return
        duration = step if step else (last_t - prev_t if prev_t is not None else tb)
        end = _round_near((last_t + duration) * fps)
        while tick < end:
            yield _copy(held, out, tick, tb, shown > 0)
            out, tick, shown = out + 1, tick + 1, shown + 1
        self._account(shown)

    def _account(self, shown: int) -> None:
        if shown == 0:
            self.dropped += 1
        else:
            self.repeated += shown - 1
