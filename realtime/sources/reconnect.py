"""A live source that comes back: a camera unplugged and plugged in again, an RTSP/RTMP feed that drops.

Without this a webcam that glitches for a second ends a two-hour stream. With it the run goes on:
the source's :class:`~realtime.errors.SourceLost` is caught, the source is opened again with
backoff (0.5, 1, 2, 4, 8, 8 … s) until it answers or ``--camera-timeout`` has passed, and meanwhile
``stats.status`` says so, which the window's HUD and the status line show. Frames resume on the
same timeline: the gap is kept as it happened in wall time (a player shows the last frame through
it), so the output's timestamps keep increasing and stay in step with the clock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction

from realtime.errors import SourceError, SourceLost
from realtime.frames import FramePacket, PassthroughPacket
from realtime.sources.base import Source, SourceInfo, SourceStats, Wrapped

#: seconds between attempts to open a lost source again; the last one repeats
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
#: how long a lost source is waited for when no --camera-timeout is given
DEFAULT_TIMEOUT_S = 30.0


class Reconnecting(Wrapped):
    """The source ``open_source()`` returns, opened again by it whenever it is lost.

    ``what`` names the source in messages ("camera /dev/video0"). ``timeout_s`` 0 turns reconnecting
    off (the loss ends the run, as without this wrapper). ``clock`` and ``sleep`` are injectable so a
    test can run through a long outage without waiting; ``sleep(seconds)`` returns True when the
    wait was cut short by :meth:`interrupt` (a stop request). Counters accumulate across sources in
    :attr:`stats`; audio is not carried across a reconnect (its timestamps and stream belong to the
    connection that was lost), and the first run of a source's audio is kept.
    """

    def __init__(self, open_source: Callable[[], Source], what: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 notify: Callable[[str], None] | None = None, delays: Sequence[float] = BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], bool] | None = None) -> None:
        super().__init__(open_source())
        self._open, self.what, self.timeout_s = open_source, what, timeout_s
        self._notify = notify or (lambda line: None)
        self._delays, self._clock = tuple(delays), clock
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._stats = SourceStats()
        self._first_info: SourceInfo = self.source.info

    @property
    def info(self) -> SourceInfo:
        return self._first_info

    @property
    def stats(self) -> SourceStats:
        return self._stats

    def interrupt(self) -> None:
        self._stop.set()
        super().interrupt()

    def __iter__(self) -> Iterator[FramePacket | PassthroughPacket]:
        tb = self._first_info.time_base
        shift: Fraction | None = Fraction(0)  # seconds added to the current source's timestamps
        resume_at: Fraction | None = None  # where the next source's first frame goes on the timeline
        last: Fraction | None = None  # the time of the last frame passed on
        reconnected = False
        while True:
            counted = (self._stats.frames, self._stats.bad_frames)
            source = self.source
            try:
                for item in source:
                    self._stats.frames = counted[0] + source.stats.frames
                    self._stats.bad_frames = counted[1] + source.stats.bad_frames
                    if isinstance(item, PassthroughPacket):
                        if not reconnected:
                            yield item
                        continue
                    if item.pts is not None and item.time_base is not None:
                        t = Fraction(item.pts) * Fraction(item.time_base)
                        if shift is None:
                            shift = resume_at - t
                        if shift or (tb is not None and item.time_base != tb):
                            item.pts, item.time_base = round((t + shift) / tb), tb
                        last = t + shift
                    yield item
                return
            except SourceLost as lost:
                if self.timeout_s == 0 or self._stop.is_set():
                    raise
                lost_at = self._clock()
                self._close(source)
                if not self._reopen(lost, lost_at):
                    return  # stopped while waiting: the run ends cleanly with what it has
                gap = Fraction(self._clock() - lost_at).limit_denominator(10**6)
                resume_at = (last or Fraction(0)) + gap
                shift, reconnected = None, True

    def _reopen(self, lost: SourceLost, lost_at: float) -> bool:
        """Open the source again, with backoff; False when a stop came first. Raises SourceLost
        when ``timeout_s`` passes first."""
        self._stats.status = f"{self.what} lost, reconnecting…"
        self._notify(f"{lost}; reconnecting for up to {self.timeout_s:g} s (--camera-timeout)")
        attempt, why = 0, str(lost)
        while True:
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            attempt += 1
            waited = self._clock() - lost_at
            if waited + delay > self.timeout_s:
                delay = max(0.0, self.timeout_s - waited)
            if self._sleep(delay) or self._stop.is_set():
                self._stats.status = ""
                return False
            try:
                source = self._open()
            except SourceError as e:
                why = str(e)
                if self._clock() - lost_at >= self.timeout_s:
                    self._stats.status = f"{self.what} lost"
                    raise SourceLost(f"{self.what} did not come back within {self.timeout_s:g} s "
                                     f"(--camera-timeout; last: {why})") from e
                self._stats.status = f"{self.what} lost, reconnecting… (attempt {attempt + 1})"
                continue
            info, first = source.info, self._first_info
            if (info.width, info.height) != (first.width, first.height):
                self._close(source)
                raise SourceError(f"{self.what} came back at {info.width}x{info.height}, not the "
                                  f"{first.width}x{first.height} the run began with")
            self.source = source
            self._stats.reconnects += 1
            self._stats.status = ""
            self._notify(f"{self.what}: back after {self._clock() - lost_at:.1f} s "
                         f"(reconnect {self._stats.reconnects})")
            return True

    @staticmethod
    def _close(source: Source) -> None:
        with contextlib.suppress(Exception):  # a source already gone may fail to close; nothing to save
            source.close()
