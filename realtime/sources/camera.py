"""Cameras through OpenCV's capture API (V4L2 on Linux), one buffered frame so what we read is fresh."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2

from realtime.errors import SourceError
from realtime.frames import FramePacket
from realtime.planes import HD_COLOR, Planes
from realtime.sources.base import SourceInfo, SourceStats

# A camera that fails this many reads in a row has gone away (unplugged, taken by another app).
MAX_CONSECUTIVE_FAILURES = 30
MS = Fraction(1, 1000)


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


class CameraSource:
    """A live camera; frames are timestamped in milliseconds from the first one."""

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        label = f"/dev/video{device}" if isinstance(device, int) else device
        if sys.platform.startswith("linux") and not os.path.exists(label):
            raise SourceError(f"camera {device} not found (cameras found: {_describe_found()})")
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        with _opencv_quiet():
            cap = cv2.VideoCapture(device, api)
            if not cap.isOpened():
                raise SourceError(f"cannot open camera {device} (busy or not a capture device)")
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
            ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise SourceError(f"camera {device} opened but delivers no frames")
        self._cap = cap
        self._first = first
        self.stats = SourceStats()
        cam_fps = cap.get(cv2.CAP_PROP_FPS) or 0
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

    def __iter__(self) -> Iterator[FramePacket]:
        t0 = time.perf_counter_ns()
        img = self._first
        failures = 0
        while True:
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
            ok, img = self._cap.read()
            if not ok:
                img = None
                failures += 1
                self.stats.bad_frames += 1
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise SourceError(f"camera {self.info.name} stopped delivering frames")

    def close(self) -> None:
        self._cap.release()
