"""Sources: turn the INPUT argument into an iterator of frames.

| INPUT                              | source                                  | live |
|------------------------------------|-----------------------------------------|------|
| ``0``, ``1``, ``/dev/video0``      | camera (OpenCV capture, V4L2 on Linux)  | yes  |
| ``rtsp://…``, ``http://…``, ``udp://…`` … | network stream (PyAV)            | yes  |
| ``synthetic:1280x720@30``          | moving test scene paced like a camera   | yes  |
| ``clip.mp4``, ``clip.mkv`` …       | video file (PyAV)                       | no   |
| ``photo.jpg``                      | one image                               | no   |
| ``folder/``, ``'shots/*.png'``     | images sorted by name                   | no   |
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from fractions import Fraction

from realtime.errors import ConfigError, SourceError
from realtime.sources.base import ColorInfo, Source, SourceInfo, SourceStats

__all__ = ["ColorInfo", "Source", "SourceInfo", "SourceOptions", "SourceStats", "open_source"]

_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$")


@dataclass(frozen=True, slots=True)
class SourceOptions:
    max_bad_frames: int = 25
    audio: bool = True
    fps: Fraction = Fraction(25)  # for image sequences and the synthetic source
    frames: int | None = None  # synthetic source length; None is endless
    width: int | None = None  # camera capture size request
    height: int | None = None
    decoder: str = "software"  # files and streams: software, nvdec or auto


def is_live_spec(spec: str) -> bool:
    """True for the INPUTs :func:`open_source` opens as live sources: cameras, the paced
    synthetic scene and URLs."""
    return bool(spec.isdigit() or re.fullmatch(r"/dev/video\d+", spec) or _SYNTHETIC.match(spec) or "://" in spec)


def open_source(spec: str, options: SourceOptions | None = None) -> Source:
    """Open INPUT as the right kind of source, or raise ``SourceError`` with one clear line."""
    from realtime.sources.images import ImageSource, is_image_path
    from realtime.sources.media import MediaSource

    opts = options or SourceOptions()
    if spec.isdigit() or re.fullmatch(r"/dev/video\d+", spec):
        from realtime.sources.camera import CameraSource

        return CameraSource(int(spec) if spec.isdigit() else spec, width=opts.width, height=opts.height)
    if m := _SYNTHETIC.match(spec):
        from realtime.sources.synthetic import PacedSyntheticSource

        width, height = int(m[1] or 1280), int(m[2] or 720)
        fps = Fraction(m[3]) if m[3] else Fraction(30)
        if width < 16 or height < 16:
            raise ConfigError(f"synthetic source size must be at least 16x16, got {width}x{height}")
        return PacedSyntheticSource(width=width, height=height, fps=fps, frames=opts.frames)
    if "://" in spec:
        return MediaSource(spec, live=True, audio=opts.audio, max_bad_frames=opts.max_bad_frames,
                           decoder=opts.decoder)
    if os.path.isdir(spec) or (glob.has_magic(spec) and not os.path.exists(spec)):
        return ImageSource(spec, fps=opts.fps, max_bad_frames=opts.max_bad_frames)
    if not os.path.exists(spec):
        raise SourceError(f"input not found: {spec}")
    if os.path.isfile(spec) and os.path.getsize(spec) == 0:
        raise SourceError(f"input is empty (0 bytes): {spec}")
    if is_image_path(spec):
        return ImageSource(spec, fps=opts.fps, max_bad_frames=opts.max_bad_frames)
    return MediaSource(spec, live=False, audio=opts.audio, max_bad_frames=opts.max_bad_frames,
                       decoder=opts.decoder)
