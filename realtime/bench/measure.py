"""One timed run of each method: decode alone, FFmpeg's filter chain, and our runner.

Each run is wrapped in a :class:`ResourceMonitor`, which reports the process's CPU use (as a share
of one core: 180% is nearly two cores busy) and its resident memory at the start, at the end and
at its peak, sampled every 50 ms on a thread of its own. The first ``warmup`` frames of every run
are processed but left out of its fps and its stage timings: they pay for cold caches, lazy
initialisation (ONNX Runtime's first inference, OpenCL kernel builds) and filling the queues.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av

from realtime.errors import SourceError
from realtime.stats import Percentiles, RunReport

if TYPE_CHECKING:
    from realtime.assembly import PipelineSpec

BASELINE_CHAIN = "normalize,atadenoise,unsharp"
MAX_TIMELINE = 7200  # two hours of one-second RSS samples
_PAGE = resource.getpagesize()


def rss_mb() -> float:
    """Resident memory of this process now (MB), from /proc; 0 where there is none."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * _PAGE / 2**20


@dataclass(slots=True)
class Resources:
    cpu_percent: float
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    #: (seconds since the start, MB) once a second: a leak is a slope, a warm-up is a step
    rss_timeline: list[tuple[float, float]] = field(default_factory=list)


class ResourceMonitor:
    """CPU time over wall time, and RSS sampled on a thread, for the span of a ``with`` block."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._peak = 0.0
        self.result: Resources | None = None

    def _sample(self) -> None:
        next_mark = 1.0
        while not self._stop.wait(self.interval_s):
            now = rss_mb()
            self._peak = max(self._peak, now)
            elapsed = time.perf_counter() - self._wall0
            if elapsed >= next_mark and len(self._timeline) < MAX_TIMELINE:
                self._timeline.append((round(elapsed, 2), round(now, 1)))
                next_mark += 1.0

    def __enter__(self) -> ResourceMonitor:
        self._start_rss = self._peak = rss_mb()
        self._timeline: list[tuple[float, float]] = []
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self._thread = threading.Thread(target=self._sample, name="bench-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        cpu, wall = time.process_time() - self._cpu0, time.perf_counter() - self._wall0
        self._stop.set()
        self._thread.join()
        end = rss_mb()
        self.result = Resources(100.0 * cpu / wall if wall > 0 else 0.0, self._start_rss, end,
                                max(self._peak, end), self._timeline)


@dataclass(slots=True)
class Run:
    """One run of one method."""

    frames: int
    fps: float
    resources: Resources
    stages: dict[str, Percentiles] = field(default_factory=dict)
    latency: Percentiles | None = None
    dropped: int = 0
    queue_high_water: tuple[int, ...] = ()


def open_video(path: str) -> tuple[av.container.InputContainer, av.VideoStream]:
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError) as e:
        raise SourceError(f"cannot open {path} for benchmarking: {getattr(e, 'strerror', None) or e}") from e
    if not container.streams.video:
        container.close()
        raise SourceError(f"no video stream in {path}")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


class _Clock:
    """Counts frames and starts the clock once ``warmup`` of them are done."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.count = 0
        self.t0 = time.perf_counter()

    def tick(self) -> None:
        self.count += 1
        if self.count == self.warmup:
            self.t0 = time.perf_counter()

    def fps(self) -> float:
        steady = self.count - self.warmup if self.count > self.warmup else self.count
        elapsed = time.perf_counter() - self.t0
        return steady / elapsed if elapsed > 0 else 0.0


def decode_only(path: str, frames: int | None, warmup: int) -> Run:
    """Decode to the pipeline's planes and discard: the floor under every method."""
    from realtime.avcolor import frame_to_bgr, frame_to_planes

    container, stream = open_video(path)
    clock = _Clock(warmup)
    with ResourceMonitor() as mon:
        try:
            for frame in container.decode(stream):
                if frames is not None and clock.count >= frames:
                    break
                if frame_to_planes(frame) is None:
                    frame_to_bgr(frame)
                clock.tick()
        finally:
            container.close()
    return Run(clock.count, clock.fps(), mon.result)


def ffmpeg_chain(path: str, frames: int | None, warmup: int, chain: str = BASELINE_CHAIN) -> Run:
    """Decode + FFmpeg's filter chain through PyAV's filter graph, frames pulled and discarded."""
    container, stream = open_video(path)
    graph = av.filter.Graph()
    last = graph.add_buffer(template=stream)
    for spec in chain.split(","):
        name, _, args = spec.partition("=")
        node = graph.add(name, args or None)
        last.link_to(node)
        last = node
    sink = graph.add("buffersink")
    last.link_to(sink)
    graph.configure()
    clock = _Clock(warmup)

    def drain() -> None:
        while True:
            try:
                graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            clock.tick()

    with ResourceMonitor() as mon:
        try:
            for i, frame in enumerate(container.decode(stream)):
                if frames is not None and i >= frames:
                    break
                graph.push(frame)
                drain()
            graph.push(None)
            drain()
        finally:
            container.close()
    return Run(clock.count, clock.fps(), mon.result)


def pipeline_run(source_spec: str, frames: int | None, warmup: int, spec: PipelineSpec,
                 decoder: str = "software") -> tuple[Run, str, str | None]:
    """Our threaded runner into a null sink: (run, pipeline description, refiner runtime)."""
    from realtime.assembly import build_pipeline
    from realtime.runner import Runner
    from realtime.sinks.null import NullSink
    from realtime.sources import SourceOptions, open_source

    pipeline = build_pipeline(spec)
    source = open_source(source_spec, SourceOptions(audio=False, frames=frames, decoder=decoder))
    runner = Runner(source, pipeline, [NullSink()], max_frames=frames, warmup_frames=warmup)
    with ResourceMonitor() as mon:
        report: RunReport = runner.run()
    run = Run(report.frames_written, report.steady_fps, mon.result, report.stage_stats, report.latency,
              report.dropped, report.queue_high_water)
    refiner = pipeline.refiner
    return run, pipeline.describe(), refiner.runtime if refiner else None
