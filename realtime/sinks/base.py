"""The sink protocol: a context manager that takes frames and flushes on close."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from realtime.frames import FramePacket, PassthroughPacket


@dataclass(slots=True)
class SinkReport:
    """What a sink did, so the CLI can tell the user exactly what is on disk."""

    target: str
    frames: int = 0
    passthrough_packets: int = 0
    state: str = "finalized"  # "finalized" | "removed" | "nothing written"
    notes: list[str] = field(default_factory=list)


class Sink(Protocol):
    target: str

    def write(self, packet: FramePacket) -> None: ...

    def write_passthrough(self, packet: PassthroughPacket) -> None: ...

    def close(self, *, failed: bool = False) -> SinkReport:
        """Flush and finalize. With ``failed``, a sink that wrote nothing removes its file."""
        ...
