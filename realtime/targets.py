"""What an INPUT or OUTPUT string means, decided in one place for the CLI, the API, the bench and the sinks.

Nothing is opened here: a string is classified from its shape and, for paths, from what is on
disk, so every caller agrees on what ``0``, ``shots/``, ``'*.png'``, ``udp://…`` or ``null:`` is,
and an output that is understood by nobody is an error before anything is read, instead of
whatever the last fallback happens to do (folders of PNGs under ``/dev`` for ``-o /dev/video10``).

| INPUT                                   | kind        | live |
|-----------------------------------------|-------------|------|
| ``0``, ``1``, ``/dev/video0``           | CAMERA      | yes  |
| ``rtsp://…``, ``http://…``, ``udp://…`` | STREAM      | yes  |
| ``synthetic:1280x720@30``               | SYNTHETIC   | yes  |
| ``clip.mp4``, ``clip.mkv`` …            | VIDEO       | no   |
| ``photo.jpg``                           | IMAGE       | no   |
| ``folder/``, ``'shots/*.png'``          | IMAGES      | no   |

| OUTPUT                                  | kind        |
|-----------------------------------------|-------------|
| ``out.mp4``, ``out.mkv``, ``out.mov`` … | VIDEO       |
| ``udp://``, ``srt://``, ``rtmp://`` …   | STREAM      |
| ``out.png``, ``out.jpg`` …              | IMAGE       |
| ``folder/``, ``frames`` (no extension)  | FOLDER      |
| ``null:`` (or ``/dev/null``)            | NULL        |

Example:
    >>> parse_output("out.mkv").kind, parse_output("udp://127.0.0.1:5000").kind, parse_output("null:").kind
    (<OutputKind.VIDEO: 'video'>, <OutputKind.STREAM: 'stream'>, <OutputKind.NULL: 'null'>)
    >>> parse_output("/dev/video10")
    Traceback (most recent call last):
    ...
    realtime.errors.SinkError: OUTPUT /dev/video10 is a device: writing to a device (a virtual camera) is not ...
    >>> parse_input("synthetic:640x360@25").kind.live
    True
"""

from __future__ import annotations

import enum
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from realtime.errors import ConfigError, SinkError, SourceError

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2", ".exr", ".hdr"}
)
#: video file extension -> FFmpeg muxer
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".ts": "mpegts",
              ".m2ts": "mpegts", ".avi": "avi", ".flv": "flv", ".nut": "nut"}
#: stream URL scheme -> FFmpeg muxer
STREAM_SCHEMES = {"udp": "mpegts", "srt": "mpegts", "tcp": "mpegts", "rtp": "rtp_mpegts", "rtmp": "flv",
                  "rtmps": "flv", "rtsp": "rtsp"}
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$")
_CAMERA_DEVICE = re.compile(r"^/dev/video\d+$")
_NULL = ("null", "null:", os.devnull)


class InputKind(enum.Enum):
    CAMERA = "camera"
    STREAM = "stream"
    SYNTHETIC = "synthetic"
    VIDEO = "video"
    IMAGE = "image"
    IMAGES = "images"

    @property
    def live(self) -> bool:
        """Frames arrive at their own pace and may be dropped to keep latency bounded."""
        return self in (InputKind.CAMERA, InputKind.STREAM, InputKind.SYNTHETIC)


class OutputKind(enum.Enum):
    VIDEO = "video"
    STREAM = "stream"
    IMAGE = "image"
    FOLDER = "folder"
    NULL = "null"

    @property
    def encoded(self) -> bool:
        """Frames go through a video encoder (codec, crf and GOP options act)."""
        return self in (OutputKind.VIDEO, OutputKind.STREAM)


@dataclass(frozen=True, slots=True)
class InputTarget:
    spec: str
    kind: InputKind
    #: SYNTHETIC: (width, height, fps) from the spec
    synthetic: tuple[int, int, str | None] | None = None


@dataclass(frozen=True, slots=True)
class OutputTarget:
    spec: str
    kind: OutputKind
    #: the FFmpeg muxer for VIDEO and STREAM outputs
    muxer: str | None = None


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_url(spec: str) -> bool:
    return "://" in spec


def parse_input(spec: str) -> InputTarget:
    """Classify INPUT; a missing or empty file is a one-line ``SourceError`` here."""
    if spec.isdigit() or _CAMERA_DEVICE.match(spec):
        return InputTarget(spec, InputKind.CAMERA)
    if m := _SYNTHETIC.match(spec):
        width, height = int(m[1] or 1280), int(m[2] or 720)
        if width < 16 or height < 16:
            raise ConfigError(f"synthetic source size must be at least 16x16, got {width}x{height}")
        return InputTarget(spec, InputKind.SYNTHETIC, (width, height, m[3]))
    if is_url(spec):
        return InputTarget(spec, InputKind.STREAM)
    if spec == "-":
        raise SourceError("reading from standard input (INPUT -) is not supported yet; give a file, folder, "
                          "camera or URL")
    if os.path.isdir(spec) or (glob.has_magic(spec) and not os.path.exists(spec)):
        return InputTarget(spec, InputKind.IMAGES)
    if not os.path.exists(spec):
        raise SourceError(f"input not found: {spec}")
    if os.path.isfile(spec) and os.path.getsize(spec) == 0:
        raise SourceError(f"input is empty (0 bytes): {spec}")
    if is_image_path(spec):
        return InputTarget(spec, InputKind.IMAGE)
    return InputTarget(spec, InputKind.VIDEO)


def parse_output(spec: str) -> OutputTarget:
    """Classify OUTPUT, or a one-line ``SinkError`` for a string no sink understands."""
    if spec in _NULL:
        return OutputTarget(spec, OutputKind.NULL)
    if is_url(spec):
        scheme = spec.split("://", 1)[0].lower()
        if scheme not in STREAM_SCHEMES:
            raise SinkError(f"cannot stream to {scheme}:// (supported: {', '.join(sorted(STREAM_SCHEMES))})")
        return OutputTarget(spec, OutputKind.STREAM, STREAM_SCHEMES[scheme])
    if spec == "-":
        raise SinkError("writing to standard output (-o -) is not supported yet; give a video file, a folder/, "
                          "a stream URL or null:")
    if spec.startswith("/dev/"):
        raise SinkError(f"OUTPUT {spec} is a device: writing to a device (a virtual camera) is not supported yet; "
                          "give a video file, a folder/, a stream URL or null:")
    ext = Path(spec).suffix.lower()
    if spec.endswith(("/", os.sep)) or os.path.isdir(spec) or not ext:
        return OutputTarget(spec, OutputKind.FOLDER)
    if ext in IMAGE_EXTENSIONS:
        return OutputTarget(spec, OutputKind.IMAGE)
    if ext in CONTAINERS:
        return OutputTarget(spec, OutputKind.VIDEO, CONTAINERS[ext])
    if not ext:
        raise SinkError(f"OUTPUT {spec} has no extension: give a folder as {spec}/ (one image per frame) or a "
                          f"file name such as {spec}.mp4")
    raise SinkError(f"unknown output type {ext!r} for {spec}; use one of {', '.join(sorted(CONTAINERS))}, "
                      "an image extension, a folder/ or a stream URL")
