"""A sink that keeps nothing: the benchmark's file → null path, and ``-o null:``."""

from __future__ import annotations

from realtime.frames import FramePacket, PassthroughPacket
from realtime.stats import SinkReport


class NullSink:
    target = "null:"

    def __init__(self) -> None:
        self._report = SinkReport(target=self.target, state="nothing written")

    def write(self, packet: FramePacket) -> None:
        self._report.frames += 1

    def write_passthrough(self, packet: PassthroughPacket) -> None:
        self._report.passthrough_packets += 1

    def close(self, *, failed: bool = False) -> SinkReport:
        return self._report
