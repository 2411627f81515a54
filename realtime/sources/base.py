"""What every source tells the rest of the program, and the protocol it follows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

from realtime.errors import BadFramesError
from realtime.frames import FramePacket, PassthroughPacket
from realtime.planes import ColorInfo


@dataclass(slots=True)
class SourceInfo:
    """Static facts about a source, known before the first frame is read."""

    name: str
    width: int
    height: int
    live: bool
    fps: Fraction | None = None
    time_base: Fraction | None = None
    frame_count: int | None = None  # an estimate for containers; None when unknown (live)
    color: ColorInfo = field(default_factory=ColorInfo)
    pix_fmt: str | None = None
    audio_streams: list[Any] = field(default_factory=list)  # av.AudioStream templates for passthrough
    kind: str = "video"  # "video" | "camera" | "stream" | "image" | "images" | "synthetic"


@dataclass(slots=True)
class SourceStats:
    """Counters a source keeps while it runs, reported at the end."""

    frames: int = 0
    bad_frames: int = 0  # undecodable frames/packets skipped (counted against --max-bad-frames)
    concealed_frames: int = 0  # decoded with errors concealed by the decoder (kept, counted)
    passthrough_packets: int = 0
    #: what the source is going through right now ("" when all is well), shown by the HUD and the
    #: status line: a reconnecting source says so here
    status: str = ""
    reconnects: int = 0  # times a lost live source came back

    def count_bad(self, error: Exception, budget: int, what: str) -> None:
        """Count one undecodable frame; past ``budget`` (``--max-bad-frames``) stop the run."""
        self.bad_frames += 1
        if self.bad_frames > budget:
            raise BadFramesError(
                f"{self.bad_frames} {what}, more than --max-bad-frames {budget} "
                f"(last: {getattr(error, 'strerror', None) or error})"
            ) from error


class Source(Protocol):
    """An iterator of frames (and passthrough packets) with a ``close``; see ``realtime.sources``."""

    info: SourceInfo
    stats: SourceStats

    def __iter__(self) -> Iterator[FramePacket | PassthroughPacket]: ...

    def close(self) -> None: ...


class Wrapped:
    """A source seen through a change made on the grabber thread (pacing, scaling, a new frame rate).

    What the wrapper does not change is the wrapped source's: its statistics, its notes and decoder
    facts (``__getattr__``), its ``interrupt`` and ``close``. A wrapper that changes what the frames
    are (their size, their rate) gives ``info`` a copy of its own; the colour description is copied
    across before every frame, because a decoder settles it on the first one.
    """

    def __init__(self, source: Source, info: SourceInfo | None = None) -> None:
        self.source = source
        self._info = info

    @property
    def info(self) -> SourceInfo:
        if self._info is None:
            return self.source.info
        self._info.color = self.source.info.color
        return self._info

    @property
    def stats(self) -> SourceStats:
        return self.source.stats

    def __getattr__(self, name: str) -> Any:
        if name == "source":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.source, name)

    def interrupt(self) -> None:
        inner = getattr(self.source, "interrupt", None)
        if inner is not None:
            inner()

    def close(self) -> None:
        self.source.close()
