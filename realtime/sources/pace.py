"""Reading a file at its own speed (FFmpeg's ``-re``), for outputs someone watches as they are made.

A file decodes far faster than real time: sent to ``udp://`` or ``rtmp://`` as fast as it decodes,
a 25 fps clip went out at ~97 fps (receivers drop or stall), and ``--show`` on a file was over in
two seconds. Paced, each frame is released when the wall clock reaches its presentation time,
measured from the first frame, so variable frame rate is paced as it was recorded. Frames are never
dropped here: when the pipeline cannot keep up, the run falls behind real time instead (as
FFmpeg's ``-re`` does), and the writer's queues still block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from realtime.frames import FramePacket, PassthroughPacket
from realtime.sources.base import Source, Wrapped


class Paced(Wrapped):
    """``source`` with each frame held back until its presentation time has come.

    :meth:`interrupt` (the runner calls it on a stop request) cuts a wait short and releases the
    frame at once, so Ctrl-C is immediate even on a clip with a long gap between frames, and every
    frame read is still passed on. The capture time of a held frame is set when it is released,
    so the latency measured is that of the run, not of the pacing.
    """

    def __init__(self, source: Source, *, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        super().__init__(source)
        self.speed = speed
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[FramePacket | PassthroughPacket]:
        t0: float | None = None
        first: float | None = None
        for item in self.source:
            if isinstance(item, FramePacket) and item.pts is not None and item.time_base is not None:
                at = float(item.pts * item.time_base)
                now = time.perf_counter()
                if t0 is None or first is None:
                    t0, first = now, at
                else:
                    wait = t0 + (at - first) / self.speed - now
                    if wait > 0:
                        self._stop.wait(wait)
                item.t_capture_ns = time.perf_counter_ns()
            yield item

    def interrupt(self) -> None:
        """Wake a frame's wait (a stop request): it and the ones after it are released at once."""
        self._stop.set()
        super().interrupt()
