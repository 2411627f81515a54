"""Cameras through OpenCV's capture API (V4L2 on Linux), one buffered frame so what we read is fresh.

The capture object is injectable (``CameraSource(..., capture=factory)``): the development machines
have no camera, so the settings order, the report of what the camera actually delivers and the
detection of a camera that has gone away are tested against a stand-in for ``cv2.VideoCapture``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2

from realtime.errors import ConfigError, SourceError, SourceLost
from realtime.frames import FramePacket
from realtime.planes import HD_COLOR, Planes
from realtime.sources.base import SourceInfo, SourceStats

# A camera that fails this many reads in a row has gone away (unplugged, taken by another app) ...
MAX_CONSECUTIVE_FAILURES = 30
# ... and so has one that has delivered nothing for this long, whichever comes first.
LOST_AFTER_S = 2.0
MS = Fraction(1, 1000)

#: ``(device, api) -> capture`` where capture has cv2.VideoCapture's isOpened/set/get/read/release
CaptureFactory = Callable[[Any, int], Any]


def list_cameras() -> list[tuple[str, str]]:
    """Video capture devices as (path, name); Linux only, empty elsewhere or with none plugged in."""
    found = []
    for dev in sorted(Path("/dev").glob("video*"), key=lambda p: (len(p.name), p.name)):
        name_file = Path("/sys/class/video4linux") / dev.name / "name"
        try:
            name = name_file.read_text().strip()
        except OSError:
            name = "?"
        found.append((str(dev), name))
    return found


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    """OpenCV prints multi-line warnings when a camera is missing; we report one line ourselves."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _describe_found() -> str:
    cams = list_cameras()
    return ", ".join(p for p, _ in cams) if cams else "none"


def camera_label(device: int | str) -> str:
    """How a camera is named in messages: a V4L2 index as its device path (0 -> /dev/video0)."""
    if isinstance(device, int) or device.isdigit():
        return f"/dev/video{device}"
    return device


def parse_fourcc(code: str) -> str:
    """A V4L2 pixel format code as given to ``--camera-format``, upper-cased ("mjpg" -> "MJPG")."""
    if len(code) != 4 or not all(" " <= c <= "~" for c in code):
        raise ConfigError(f"--camera-format must be a 4-character V4L2 code such as MJPG or YUYV, not {code!r}")
    return code.upper()


def decode_fourcc(value: float) -> str | None:
    """``CAP_PROP_FOURCC`` as read back (a float holding four little-endian bytes); None if unknown."""
    n = int(value) & 0xFFFFFFFF
    chars = [chr((n >> (8 * i)) & 0xFF) for i in range(4)]
    if n == 0 or not all(" " <= c <= "~" for c in chars):
        return None
    return "".join(chars)


def _size_text(width: int | None, height: int | None) -> str | None:
    if width and height:
        return f"{width}x{height}"
    if width:
        return f"width {width}"
    if height:
        return f"height {height}"
    return None


def _fps_text(fps: float | None, after_size: bool) -> str:
    if not fps or fps <= 0:
        return "(fps unknown)"
    return f"{'at ' if after_size else ''}{fps:g} fps"


def mismatch_note(
    label: str,
    asked: tuple[int | None, int | None, float | None, str | None],
    got: tuple[int, int, float, str | None],
) -> str | None:
    """One line saying how what the camera gives differs from what was asked; None when it does not.

    ``asked`` is (width, height, fps, fourcc) with None for what was not asked; ``got`` is what the
    camera delivers (fps 0 when it does not say). Only what was asked is mentioned.
    """
    want_w, want_h, want_fps, want_fourcc = asked
    got_w, got_h, got_fps, got_fourcc = got
    size_differs = bool(want_w and got_w != want_w) or bool(want_h and got_h != want_h)
    fps_differs = bool(want_fps) and (got_fps <= 0 or abs(got_fps - want_fps) > 0.01 * want_fps)
    fourcc_differs = bool(want_fourcc) and (got_fourcc or "").upper() != want_fourcc
    if not (size_differs or fps_differs or fourcc_differs):
        return None
    want, have = [], []
    size = _size_text(want_w, want_h)
    if size:
        want.append(size)
        have.append(_size_text(got_w if want_w else None, got_h if want_h else None) or "")
    if want_fps:
        want.append(_fps_text(want_fps, bool(size)))
        have.append(_fps_text(got_fps, bool(size)))
    if want_fourcc:
        want.append(want_fourcc)
        have.append(got_fourcc or "format unknown")
    return f"camera {label}: asked {' '.join(want)}, got {' '.join(have)}"


class CameraSource:
    """A live camera; frames are timestamped in milliseconds from the first one.

    ``fourcc`` (a V4L2 code such as MJPG), then ``width``/``height``, then ``fps`` are asked of the
    camera in that order (V4L2 drivers pick the sizes and rates a format offers once the format is
    set). What the camera actually gives is read back after the first frame; where it differs from
    what was asked, ``notify`` gets one line (also kept as ``self.note``).

    ``capture`` builds the capture object, ``(device, api) -> cv2.VideoCapture``-like; the default
    is ``cv2.VideoCapture``, and only then is the device path checked for first. ``clock`` (seconds,
    monotonic) times how long the camera has delivered nothing.

    Iterating raises :class:`SourceLost` once :data:`MAX_CONSECUTIVE_FAILURES` reads in a row have
    failed (returned no frame or raised ``cv2.error``) or :data:`LOST_AFTER_S` seconds have passed
    without a frame, whichever comes first.
    """

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        fourcc: str | None = None,
        notify: Callable[[str], None] | None = None,
        capture: CaptureFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        want_fourcc = parse_fourcc(fourcc) if fourcc is not None else None
        label = camera_label(device)
        linux = sys.platform.startswith("linux")
        if capture is None:
            if linux and not os.path.exists(label):
                raise SourceError(f"camera {device} not found (cameras found: {_describe_found()})")
            capture = cv2.VideoCapture
        api = cv2.CAP_V4L2 if linux else cv2.CAP_ANY
        self._clock = clock
        self._interrupted = False
        with _opencv_quiet():
            try:
                cap = capture(device, api)
            except cv2.error as e:
                raise SourceError(f"cannot open camera {device}: {_one_line(e)}") from e
            if not cap.isOpened():
                cap.release()
                raise SourceError(f"cannot open camera {device} (busy or not a capture device)")
            if want_fourcc:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*want_fourcc))
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            try:
                ok, first = cap.read()
            except cv2.error:
                ok, first = False, None
        if not ok or first is None:
            cap.release()
            raise SourceError(f"camera {device} opened but delivers no frames")
        self._cap = cap
        self._first = first
        self.stats = SourceStats()
        cam_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
        #: the V4L2 code the camera delivers in, as it reports it (None when it does not say)
        self.fourcc = decode_fourcc(cap.get(cv2.CAP_PROP_FOURCC) or 0)
        self.info = SourceInfo(
            name=str(label),
            width=first.shape[1],
            height=first.shape[0],
            live=True,
            fps=Fraction(cam_fps).limit_denominator(1001) if cam_fps > 0 else None,
            time_base=MS,
            color=HD_COLOR,
            kind="camera",
        )
        #: what differs from what was asked, in one line (None when nothing does or nothing was asked)
        self.note = mismatch_note(str(label), (width, height, fps, want_fourcc),
                                  (self.info.width, self.info.height, cam_fps, self.fourcc))
        if self.note and notify is not None:
            notify(self.note)

    def __iter__(self) -> Iterator[FramePacket]:
        t0 = time.perf_counter_ns()
        img, self._first = self._first, None
        failures = 0
        last_frame = self._clock()
        while not self._interrupted:
            if img is not None:
                now = time.perf_counter_ns()
                index = self.stats.frames
                self.stats.frames += 1
                failures = 0
                # 4:2:0 planes made here, on the grabber thread: the stages then work on quarter-size
                # chroma (cameras deliver 4:2:2 or 4:2:0 anyway) and the encoder takes them as they are.
                yield FramePacket(
                    planes=Planes.from_bgr(img, HD_COLOR, subsample=True),
                    index=index,
                    pts=(now - t0) // 1_000_000,
                    time_base=MS,
                    t_capture_ns=now,
                )
                # time spent downstream is not time the camera was silent
                last_frame = self._clock()
            try:
                ok, img = self._cap.read()
            except cv2.error:
                ok, img = False, None
            if not ok or img is None:
                img = None
                failures += 1
                self.stats.bad_frames += 1
                if self._interrupted:
                    return
                if failures >= MAX_CONSECUTIVE_FAILURES or self._clock() - last_frame >= LOST_AFTER_S:
                    raise SourceLost(f"camera {self.info.name} stopped delivering frames")

    def interrupt(self) -> None:
        """A stop request: iteration ends after the read in progress (if any) returns."""
        self._interrupted = True

    def close(self) -> None:
        self._cap.release()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


# -- what a camera offers ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SizeRange:
    """A stepwise (or continuous, step 1) range of frame sizes, as V4L2 reports it."""

    min_width: int
    max_width: int
    step_width: int
    min_height: int
    max_height: int
    step_height: int

    def __str__(self) -> str:
        steps = "" if (self.step_width, self.step_height) == (1, 1) else \
            f" in steps of {self.step_width}x{self.step_height}"
        return f"{self.min_width}x{self.min_height} to {self.max_width}x{self.max_height}{steps}"


@dataclass(frozen=True, slots=True)
class CameraMode:
    """One pixel format a camera offers and the frame sizes it offers it at.

    FFmpeg's listing gives no frame rates, so there are none here.
    """

    fourcc: str | None  # the V4L2 code (MJPG, YUYV, ...) where known; what --camera-format takes
    description: str  # the driver's name for it ("Motion-JPEG", "YUYV 4:2:2")
    ffmpeg_name: str  # FFmpeg's pixel format or codec name, "Unsupported" where it has none
    compressed: bool
    sizes: tuple[tuple[int, int], ...] = ()
    ranges: tuple[SizeRange, ...] = ()
    emulated: bool = False  # converted by libv4l, not native to the camera

    def describe(self) -> str:
        """One line: ``MJPG Motion-JPEG: 640x480, 1280x720, 1920x1080``."""
        sizes = [f"{w}x{h}" for w, h in self.sizes] + [str(r) for r in self.ranges]
        head = f"{self.fourcc or '????'} {self.description}"
        if self.fourcc is None:
            head += f" (FFmpeg: {self.ffmpeg_name})"
        if self.emulated:
            head += " (emulated)"
        return f"{head}: {', '.join(sizes) or 'sizes not listed'}"


#: FFmpeg's name for a format -> the V4L2 code, after libavdevice/v4l2-common.c's conversion table.
#: Where several codes share a name (yuv420p: YU12 and YV12), the description decides (below).
FFMPEG_TO_FOURCC = {
    "yuv420p": "YU12", "yuv422p": "422P", "yuyv422": "YUYV", "uyvy422": "UYVY", "yuv411p": "411P",
    "yuv410p": "YUV9", "rgb555le": "RGBO", "rgb555be": "RGBQ", "rgb565le": "RGBP", "rgb565be": "RGBR",
    "bgr24": "BGR3", "rgb24": "RGB3", "bgr0": "XR24", "0rgb": "BX24", "bgra": "AR24", "argb": "BA24",
    "gray": "GREY", "gray16le": "Y16 ", "nv12": "NV12", "mjpeg": "MJPG", "h264": "H264", "mpeg4": "MPG4",
    "cpia": "CPIA", "bayer_bggr8": "BA81", "bayer_gbrg8": "GBRG", "bayer_grbg8": "GRBG",
    "bayer_rggb8": "RGGB",
}
#: The kernel's descriptions (v4l2-ioctl.c) -> code: they settle the shared names above and name
#: formats FFmpeg lists as "Unsupported".
DESCRIPTION_TO_FOURCC = {
    "Planar YUV 4:2:0": "YU12", "Planar YVU 4:2:0": "YV12", "Planar YUV 4:1:0": "YUV9",
    "Planar YVU 4:1:0": "YVU9", "32-bit BGRA/X 8-8-8-8": "BGR4", "32-bit A/XRGB 8-8-8-8": "RGB4",
    "32-bit BGRX 8-8-8-8": "XR24", "32-bit XRGB 8-8-8-8": "BX24", "32-bit BGRA 8-8-8-8": "AR24",
    "32-bit ARGB 8-8-8-8": "BA24", "16-bit Greyscale": "Y16 ", "16-bit Depth": "Z16 ",
    "Motion-JPEG": "MJPG", "JFIF JPEG": "JPEG", "YUYV 4:2:2": "YUYV", "UYVY 4:2:2": "UYVY",
    "YVYU 4:2:2": "YVYU", "VYUY 4:2:2": "VYUY", "Y/UV 4:2:0": "NV12", "Y/VU 4:2:0": "NV21",
    "Y/UV 4:2:2": "NV16", "Y/VU 4:2:2": "NV61", "8-bit Greyscale": "GREY", "10-bit Greyscale": "Y10 ",
    "H.264": "H264", "HEVC": "HEVC",
}

# "[video4linux2,v4l2 @ 0x55d0c8] " (FFmpeg's own log prefix, when the lines come from its stderr),
# then list_formats' "Raw       : %11s : %20s :" or "Compressed: %11s : %20s :", then an optional
# " Emulated :", then list_framesizes' " %ux%u" or " {%u-%u, %u}x{%u-%u, %u}" for each size.
_FORMAT_LINE = re.compile(
    r"^(?:\[[^\]]*\]\s*)?(?P<kind>Raw|Compressed)\s*:\s*(?P<name>\S+)\s+:\s*(?P<desc>.*?)\s:"
    r"(?P<emulated>\s*Emulated\s*:)?(?P<sizes>(?:\s.*)?)$"
)
_SIZE = re.compile(r"\{(\d+)-(\d+), (\d+)\}x\{(\d+)-(\d+), (\d+)\}|(\d+)x(\d+)")


def _fourcc_for(ffmpeg_name: str, description: str) -> str | None:
    return DESCRIPTION_TO_FOURCC.get(description) or FFMPEG_TO_FOURCC.get(ffmpeg_name)


def parse_v4l2_formats(lines: Iterable[str]) -> list[CameraMode]:
    """The formats in FFmpeg's v4l2 demuxer ``-list_formats all`` output; other lines are ignored."""
    modes = []
    for line in lines:
        m = _FORMAT_LINE.match(line.strip())
        if m is None:
            continue
        sizes, ranges = [], []
        for s in _SIZE.finditer(m["sizes"]):
            if s[7] is not None:
                sizes.append((int(s[7]), int(s[8])))
            else:
                ranges.append(SizeRange(*(int(s[i]) for i in range(1, 7))))
        name, desc = m["name"], m["desc"].strip()
        modes.append(CameraMode(
            fourcc=_fourcc_for(name, desc), description=desc, ffmpeg_name=name,
            compressed=m["kind"] == "Compressed", sizes=tuple(sizes), ranges=tuple(ranges),
            emulated=m["emulated"] is not None,
        ))
    return modes


def camera_modes(path: str) -> list[CameraMode]:
    """The pixel formats and frame sizes the V4L2 device at ``path`` offers, as FFmpeg lists them.

    Unverified: the development machines have no camera. What is tested is the parsing of the lines
    (:func:`parse_v4l2_formats`, with lines built from FFmpeg's format strings) and the capture of
    FFmpeg's log around a stand-in for ``av.open``. Raises :class:`SourceError` with one line where
    the device cannot be asked (not a capture device, busy, no v4l2 demuxer in this FFmpeg).

    FFmpeg prints the list through its log (at INFO, in pieces: a format, then each size, then the
    newline) and then stops with "Immediate exit requested"; PyAV's log level is raised to INFO
    for the call and put back after.
    """
    import av
    import av.logging

    previous_level, previous_skip = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.INFO)
    av.logging.set_skip_repeated(False)  # two formats may well list the same size one after the other
    try:
        with av.logging.Capture() as logs:
            try:
                container = av.open(path, format="v4l2", options={"list_formats": "all"})
            except av.error.ExitError:
                pass
            except (av.error.FFmpegError, ValueError) as e:
                errors = [msg.strip() for level, _name, msg in logs if level <= av.logging.ERROR and msg.strip()]
                reason = errors[-1] if errors else getattr(e, "strerror", None) or _one_line(e)
                raise SourceError(f"cannot list the formats of {path}: {reason}") from e
            else:
                container.close()
    finally:
        av.logging.set_level(previous_level)
        av.logging.set_skip_repeated(previous_skip)
    text = "".join(msg for level, _name, msg in logs if level == av.logging.INFO)
    return parse_v4l2_formats(text.splitlines())
