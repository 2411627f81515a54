"""What an INPUT or OUTPUT string means, decided in one place for the CLI, the API, the bench and the sinks.

Nothing is opened here: a string is classified from its shape and, for paths, from what is on
disk, so every caller agrees on what ``0``, ``shots/``, ``'*.png'``, ``udp://…`` or ``null:`` is,
and an output that is understood by nobody is an error before anything is read, instead of
whatever the last fallback happens to do (folders of PNGs under ``/dev`` for ``-o /dev/video10``).

| INPUT                                   | kind        | live |
|-----------------------------------------|-------------|------|
| ``0``, ``1``, ``/dev/video0``           | CAMERA      | yes  |
| ``rtsp://…``, ``rtmp://…``, ``udp://…`` | STREAM      | yes  |
| ``http(s)://…``, ``ftp://…``            | URL         | when opened (1) |
| ``-``, ``pipe:``                        | PIPE        | no (2) |
| ``synthetic:1280x720@30``               | SYNTHETIC   | yes  |
| ``clip.mp4``, ``clip.mkv`` …            | VIDEO       | no   |
| ``photo.jpg``                           | IMAGE       | no   |
| ``folder/``, ``'shots/*.png'``          | IMAGES      | no   |

(1) a file with a known duration is read like a local file, anything else (live HLS) as live;
(2) ``--live`` drops frames to keep up instead. ``--live``/``--lossless`` override either.

| OUTPUT                                   | kind        |
|------------------------------------------|-------------|
| ``out.mp4``, ``out.mkv``, ``out.mov`` …  | VIDEO       |
| ``udp://``, ``srt://``, ``rtmp://`` …    | STREAM      |
| ``-``, ``pipe:``, ``pipe:1``             | PIPE (MPEG-TS on standard output, or ``--format``) |
| ``virtualcam:``, ``virtualcam:/dev/video10``, ``/dev/video10`` | VIRTUALCAM |
| ``out.png``, ``out.jpg`` …               | IMAGE       |
| ``folder/`` (or an existing folder)      | FOLDER      |
| ``frames/%05d.jpg``                      | FOLDER, named by the pattern (from 1, as FFmpeg) |
| ``null:`` (or ``/dev/null``)             | NULL        |

Anything else under ``/dev`` is refused, and so is a name with no extension that is not an existing
folder (``frames``: a folder is written ``frames/``), because guessing wrong there means writing
thousands of files where the user meant something else.

Example:
    >>> parse_output("out.mkv").kind, parse_output("udp://127.0.0.1:5000").kind, parse_output("null:").kind
    (<OutputKind.VIDEO: 'video'>, <OutputKind.STREAM: 'stream'>, <OutputKind.NULL: 'null'>)
    >>> parse_output("/dev/video10").kind, parse_output("virtualcam:").device is None
    (<OutputKind.VIRTUALCAM: 'virtualcam'>, True)
    >>> parse_output("-").kind, parse_output("-").muxer
    (<OutputKind.PIPE: 'pipe'>, 'mpegts')
    >>> parse_output("frames/%05d.jpg").pattern
    'frames/%05d.jpg'
    >>> parse_output("/dev/sda")
    Traceback (most recent call last):
    ...
    realtime.errors.SinkError: OUTPUT /dev/sda is a device this tool does not write to; ...
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
#: input URL schemes of live sources (frames arrive at their own pace); other schemes (http, https,
#: ftp …) may serve a plain file, which is decided when it is opened
LIVE_SCHEMES = frozenset({"udp", "srt", "tcp", "rtp", "rtmp", "rtmps", "rtsp", "rist"})
#: muxers ``--format`` may pick for standard output and streams (all of them write without seeking)
PIPE_FORMATS = {"mpegts": "mpegts", "ts": "mpegts", "nut": "nut", "matroska": "matroska", "mkv": "matroska",
                "flv": "flv", "mp4": "mp4"}
DEFAULT_PIPE_FORMAT = "mpegts"
_STDIN = ("-", "pipe:", "pipe:0", "/dev/stdin")
_STDOUT = ("-", "pipe:", "pipe:1", "/dev/stdout")
_VIRTUALCAM = re.compile(r"^virtualcam:(.*)$")
_FRAME_PATTERN = re.compile(r"%0?\d*d")
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$")
_CAMERA_DEVICE = re.compile(r"^/dev/video\d+$")
_NULL = ("null", "null:", os.devnull)


class InputKind(enum.Enum):
    CAMERA = "camera"
    STREAM = "stream"
    URL = "url"
    PIPE = "pipe"
    SYNTHETIC = "synthetic"
    VIDEO = "video"
    IMAGE = "image"
    IMAGES = "images"

    @property
    def live(self) -> bool:
        """Frames arrive at their own pace and may be dropped to keep latency bounded (a URL is decided when
        it is opened; until then it counts as not live)."""
        return self in (InputKind.CAMERA, InputKind.STREAM, InputKind.SYNTHETIC)


class OutputKind(enum.Enum):
    VIDEO = "video"
    STREAM = "stream"
    PIPE = "pipe"
    VIRTUALCAM = "virtualcam"
    IMAGE = "image"
    FOLDER = "folder"
    NULL = "null"

    @property
    def encoded(self) -> bool:
        """Frames go through a video encoder (codec, crf and GOP options act)."""
        return self in (OutputKind.VIDEO, OutputKind.STREAM, OutputKind.PIPE)

    @property
    def live(self) -> bool:
        """Someone watches it as it is made (a stream, a virtual camera): files are read at their own speed."""
        return self in (OutputKind.STREAM, OutputKind.VIRTUALCAM)


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
    #: the FFmpeg muxer for VIDEO, STREAM and PIPE outputs
    muxer: str | None = None
    #: VIRTUALCAM: the device asked for (None: the first one the backend finds)
    device: str | None = None
    #: FOLDER: a printf-style file name pattern such as ``frames/%05d.jpg``
    pattern: str | None = None


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
        scheme = spec.split("://", 1)[0].lower()
        return InputTarget(spec, InputKind.STREAM if scheme in LIVE_SCHEMES else InputKind.URL)
    if spec in _STDIN:
        return InputTarget(spec, InputKind.PIPE)
    if os.path.isdir(spec) or (glob.has_magic(spec) and not os.path.exists(spec)):
        return InputTarget(spec, InputKind.IMAGES)
    if not os.path.exists(spec):
        raise SourceError(f"input not found: {spec}")
    if os.path.isfile(spec) and os.path.getsize(spec) == 0:
        raise SourceError(f"input is empty (0 bytes): {spec}")
    if is_image_path(spec):
        return InputTarget(spec, InputKind.IMAGE)
    return InputTarget(spec, InputKind.VIDEO)


def parse_output(spec: str, *, format: str | None = None) -> OutputTarget:
    """Classify OUTPUT, or a one-line ``SinkError`` for a string no sink understands.

    ``format`` (``--format``) names the muxer of standard output and streams.
    """
    muxer = _pipe_format(format) if format is not None else None
    if spec in _NULL:
        return OutputTarget(spec, OutputKind.NULL)
    if spec in _STDOUT:
        return OutputTarget(spec, OutputKind.PIPE, muxer or DEFAULT_PIPE_FORMAT)
    if m := _VIRTUALCAM.match(spec):
        device = m[1] or None  # /dev/video10 on Linux; the backend's own device name elsewhere
        return OutputTarget(spec, OutputKind.VIRTUALCAM, device=device)
    if is_url(spec):
        scheme = spec.split("://", 1)[0].lower()
        if scheme not in STREAM_SCHEMES:
            raise SinkError(f"cannot stream to {scheme}:// (supported: {', '.join(sorted(STREAM_SCHEMES))})")
        return OutputTarget(spec, OutputKind.STREAM, muxer or STREAM_SCHEMES[scheme])
    if spec.startswith("/dev/"):
        if _CAMERA_DEVICE.match(spec):
            return OutputTarget(spec, OutputKind.VIRTUALCAM, device=spec)
        raise SinkError(f"OUTPUT {spec} is a device this tool does not write to; give a video file, a folder/, "
                        "a stream URL, - (standard output), virtualcam: or null:")
    ext = Path(spec).suffix.lower()
    if _FRAME_PATTERN.search(Path(spec).name):
        if ext not in IMAGE_EXTENSIONS:
            raise SinkError(f"frame pattern {spec} needs an image extension, such as frames/%05d.png or .jpg")
        if len(_FRAME_PATTERN.findall(Path(spec).name)) != 1 or Path(spec).name.count("%") != 1:
            raise SinkError(f"frame pattern {spec} must hold exactly one %d (such as %05d) and no other %")
        return OutputTarget(spec, OutputKind.FOLDER, pattern=spec)
    if spec.endswith(("/", os.sep)) or os.path.isdir(spec):
        return OutputTarget(spec, OutputKind.FOLDER)
    if not ext:
        raise SinkError(f"OUTPUT {spec} has no extension and is not a folder: give {spec}/ for one image per "
                        f"frame, or a file name such as {spec}.mp4")
    if ext in IMAGE_EXTENSIONS:
        return OutputTarget(spec, OutputKind.IMAGE)
    if ext in CONTAINERS:
        return OutputTarget(spec, OutputKind.VIDEO, muxer or CONTAINERS[ext])
    raise SinkError(f"unknown output type {ext!r} for {spec}; use one of {', '.join(sorted(CONTAINERS))}, "
                    "an image extension, a folder/, a stream URL, - or virtualcam:")


def _pipe_format(name: str) -> str:
    muxer = PIPE_FORMATS.get(name.lower())
    if muxer is None:
        raise ConfigError(f"--format {name}: choose one of {', '.join(sorted(PIPE_FORMATS))}")
    return muxer
