"""Progress on a terminal: a bar for files (frames, fps, ETA), a status line for live sources."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from realtime.frames import FramePacket
from realtime.stats import LiveStats


class FileProgress:
    """tqdm bar; silent when stderr is not a terminal so logs and CI output stay clean."""

    def __init__(self, total: int | None, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        stream = stream or sys.stderr
        self._bar = tqdm(
            total=total,
            unit="frame",
            file=stream,
            disable=not (enabled and stream.isatty()),
            dynamic_ncols=True,
            smoothing=0.1,
        )

    def __call__(self, packet: FramePacket, stats: LiveStats) -> None:
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


class LiveStatus:
    """One line rewritten in place at most 4 times a second: frames, fps, latency, drops."""

    def __init__(self, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self._stream = stream = stream or sys.stderr
        self._enabled = enabled and stream.isatty()
        self._last = 0.0

    def __call__(self, packet: FramePacket, stats: LiveStats) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.25:
            return
        self._last = now
        self._stream.write(
            f"\r{stats.frames_written} frames | {stats.fps:5.1f} fps | latency {stats.latency_ms:5.1f} ms"
            f" | dropped {stats.dropped}" + (f" | {stats.status}" if stats.status else "") + "   "
        )
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()
