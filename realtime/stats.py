"""Run statistics: what a run measured, shared by the runner, the sinks, the HUD, progress and the bench.

They live on the ground floor so that whatever shows or records them (a window, a progress bar, a
benchmark report) never has to import the runner that produces them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Per-stage timing samples kept for medians; bounded so long live runs keep flat memory.
MAX_SAMPLES = 20_000


@dataclass(slots=True)
class LiveStats:
    """Numbers the HUD and progress line read while the run goes on (written by worker threads)."""

    frames_written: int = 0
    fps: float = 0.0
    latency_ms: float = 0.0
    dropped: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: what the source is going through, for the HUD and status line ("" when all is well), e.g.
    #: "camera /dev/video0 lost: reconnecting (attempt 3, 24 s left)"
    status: str = ""


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Median, 95th and 99th percentile of a set of samples (ms): what a latency budget is judged by."""

    median: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Percentiles:
        data = sorted(samples)
        if len(data) < 2:
            return cls(data[0], data[0], data[0]) if data else cls(math.nan, math.nan, math.nan)
        q = statistics.quantiles(data, n=100, method="inclusive")
        return cls(statistics.median(data), q[94], q[98])


class SampleWindow:
    """The last ``size`` samples of one timing series, in an array allocated (and touched) up front.

    Why not a deque of floats: each Python float costs about 34 bytes, so a 30 fps run's six
    series grew the process by 0.37 MB a minute until the windows were full (11 minutes at 30 fps),
    which is indistinguishable from a leak in a memory check. An array of 8-byte samples is the
    same size from the first frame to the last.
    """

    def __init__(self, size: int = MAX_SAMPLES) -> None:
        self._data = np.empty(size)
        self._data.fill(0.0)  # written once here, so its pages are resident from the start
        self._count = 0

    def append(self, value: float) -> None:
        self._data[self._count % len(self._data)] = value
        self._count += 1

    def __len__(self) -> int:
        return min(self._count, len(self._data))

    def values(self) -> np.ndarray:
        """The samples kept (oldest first is not guaranteed: percentiles do not need the order)."""
        return self._data[: len(self)]


@dataclass(slots=True)
class SinkReport:
    """What a sink did, so the CLI can tell the user exactly what is on disk."""

    target: str
    frames: int = 0
    passthrough_packets: int = 0
    #: audio packets the output's muxer refused as invalid data (damaged in the input): skipped
    damaged_audio_packets: int = 0
    state: str = "finalized"  # "finalized" | "sent" (a stream) | "partial" | "removed" | "nothing written"
    #: for a "partial" file (writing or finalizing failed, a full disk say): the frames it plays
    playable_frames: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunReport:
    frames_read: int
    frames_written: int
    dropped: int
    bad_frames: int
    concealed_frames: int
    elapsed_s: float
    interrupted: bool
    stage_ms: dict[str, float]  # median per stage
    latency_ms: float | None  # median capture-to-sink
    sinks: list[SinkReport]
    queue_high_water: tuple[int, ...]
    #: per stage, over the frames after the warm-up
    stage_stats: dict[str, Percentiles] = field(default_factory=dict)
    #: capture-to-sink, over the frames after the warm-up
    latency: Percentiles | None = None
    #: frames written after the warm-up, per second from the warm-up's last frame to the last frame
    steady_fps: float = 0.0
    reconnects: int = 0  # times a lost live source came back

    @property
    def fps(self) -> float:
        return self.frames_written / self.elapsed_s if self.elapsed_s > 0 else 0.0
