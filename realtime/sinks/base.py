"""The sink protocol: a context manager that takes frames and flushes on close, and the watch a
sink keeps on its own writes so that a write blocked for good does not hang the run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from realtime.frames import FramePacket, PassthroughPacket
from realtime.stats import SinkReport

__all__ = ["Sink", "SinkReport", "WriteWatch"]


class Sink(Protocol):
    target: str

    def write(self, packet: FramePacket) -> None: ...

    def write_passthrough(self, packet: PassthroughPacket) -> None: ...

    def close(self, *, failed: bool = False) -> SinkReport:
        """Flush and finalize. With ``failed``, a sink that wrote nothing removes its file."""
        ...


@dataclass
class WriteWatch:
    """The clock on a sink's writes, read by the runner's main thread.

    A write blocked inside FFmpeg (an RTMP server that accepted the stream and stopped reading, a
    pipe whose reader stopped) cannot be interrupted from Python, and the writer thread doing it
    cannot be joined. FFmpeg's own socket timeout exists for TCP only, and PyAV opens outputs with
    no interrupt callback, so the runner watches this clock instead and gives up on the output
    (see ``Runner._join``): an output with nothing on disk loses nothing by being abandoned. After
    a stop (Ctrl-C) a write still blocked is given up on too. Files have no watch: they are never
    given up, since an MP4 needs its index written however long the disk takes.
    """

    #: a write blocked this long fails the run; None: no limit (a pipe's reader may pause at will)
    limit_s: float | None
    #: the first write connects and sends the header (the handshake of an RTMP server, say)
    first_limit_s: float | None
    #: ``time.monotonic()`` when the write in progress began; None between writes
    busy_since: float | None = None
    writes: int = 0
    #: set by the runner on a stop (Ctrl-C): from then on the output's last writes are bounded too
    stopped: bool = False

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        self.busy_since = time.monotonic()
        try:
            yield
        finally:
            self.busy_since = None
            self.writes += 1

    def overdue(self, now: float) -> float | None:
        """Seconds the write in progress has been blocked, once past its limit; else None."""
        since = self.busy_since
        limit = self.first_limit_s if self.writes == 0 else self.limit_s
        if since is None or limit is None or now - since <= limit:
            return None
        return now - since

    def blocked(self, now: float) -> float:
        since = self.busy_since
        return 0.0 if since is None else now - since
