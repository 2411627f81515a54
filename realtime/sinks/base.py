"""The sink protocol: a context manager that takes frames and flushes on close."""

from __future__ import annotations

from typing import Protocol

from realtime.frames import FramePacket, PassthroughPacket
from realtime.stats import SinkReport

__all__ = ["Sink", "SinkReport"]


class Sink(Protocol):
    target: str

    def write(self, packet: FramePacket) -> None: ...

    def write_passthrough(self, packet: PassthroughPacket) -> None: ...

    def close(self, *, failed: bool = False) -> SinkReport:
        """Flush and finalize. With ``failed``, a sink that wrote nothing removes its file."""
        ...
