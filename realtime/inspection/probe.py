"""Walk an input through a pipeline as ``realtime enhance`` would, tracing chosen frames and recording a timeline.

A video's frame 150 is only what a run makes of it after frames 0 to 149 (the denoiser's history,
the smoothed contrast levels, the refiner's smoothed decision), so every frame up to the last one
asked for goes through the pipeline in order; the chosen ones are traced stage by stage
(:func:`~realtime.trace.trace_packet`) and the rest processed normally. Frames come from the same
sources as a run, decoded to the same planes with the same colour description, so the sheet shows
exactly what the output file will contain. Photos are traced on their own, three times, and each
stage's median time is kept (a single photo's first pass pays for one-off allocations).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from realtime.errors import ConfigError, SourceError
from realtime.frames import FramePacket
from realtime.inspection.measures import mean_luma
from realtime.pipeline import Pipeline
from realtime.planes import Planes, luma_range
from realtime.refiner.learned import DEFAULT_SCENE_CUT, LearnedRefiner, ShotCuts
from realtime.refiner.transform import thumbnail
from realtime.sources import Source
from realtime.stages.contrast import Contrast
from realtime.trace import RefinerDecision, Trace, trace_packet

PHOTO_REPEATS = 3


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One frame on the timeline: what went in, what came out, and what the adaptive stages decided."""

    index: int
    time_s: float | None
    luma_in: float  # mean Y' code of the frame as read
    luma_out: float  # mean Y' code of the output
    levels: tuple[float, float] | None  # the contrast stage's smoothed black and white levels
    curve_mid: float | None  # the refiner's tone curve at mid-grey (0..1 of the range)
    mean_gain: float | None  # the refiner's gain map, geometric mean
    analysed: bool | None  # whether the refiner's network ran on this frame
    change: float | None  # scene change measure (see ShotCuts); None on the first frame
    cut: bool  # this frame starts a new shot


@dataclass(frozen=True)
class Timeline:
    """Every frame's :class:`FrameRecord` over a clip, with what is needed to draw them."""

    name: str
    records: tuple[FrameRecord, ...]
    luma_range: tuple[int, int]
    cut_threshold: float
    traced: tuple[int, ...] = ()  # frames that have a block on the sheet
    description: str = ""
    duration_s: float | None = None  # to the end of the last frame


@dataclass(frozen=True, slots=True)
class Selection:
    """Which frames to trace: by index, by time (s, from the first frame), the first ``first``, or none.

    Times are the moments a live source's frames are shown (the frame on screen at ``t``, from its
    frame rate); a file's times are turned into frame numbers before reading, from its timestamps.
    """

    frames: tuple[int, ...] = ()
    times: tuple[float, ...] = ()
    first: int | None = None

    def __bool__(self) -> bool:
        return bool(self.frames or self.times or self.first)


@dataclass
class ProbeResult:
    traces: list[Trace] = field(default_factory=list)
    timeline: Timeline | None = None
    frames_read: int = 0


def _time(packet: FramePacket) -> float | None:
    if packet.pts is None or packet.time_base is None:
        return None
    return float(packet.pts * packet.time_base)


class _Recorder:
    """Builds a :class:`FrameRecord` per frame from the stages' exposed state (no extra pass over pixels)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.contrast = next((s for s in pipeline.stages if isinstance(s, Contrast)), None)
        self.refiner: LearnedRefiner | None = pipeline.refiner
        # with the refiner off, the same detector runs here, so the cuts drawn are the ones it would act on
        self.cuts = self.refiner.cuts if self.refiner is not None else ShotCuts(DEFAULT_SCENE_CUT)
        self.records: list[FrameRecord] = []

    def record(self, index: int, time_s: float | None, original: Planes, output: Planes) -> None:
        if self.refiner is None:
            self.cuts.update(thumbnail(original))
        levels = self.contrast.levels if self.contrast is not None else None
        params = self.refiner.last_params if self.refiner is not None else None
        decision = RefinerDecision.of(params, output, self.refiner.runtime) if params is not None else None
        self.records.append(FrameRecord(
            index=index, time_s=time_s, luma_in=mean_luma(original), luma_out=mean_luma(output),
            levels=(levels.lo, levels.hi) if levels is not None else None,
            curve_mid=decision.curve_at(0.5) if decision else None,
            mean_gain=decision.mean_gain if decision else None,
            analysed=self.refiner.analysed if self.refiner is not None else None,
            change=self.cuts.change, cut=self.cuts.cut))


def _median_timings(traces: Sequence[Trace]) -> Trace:
    """The last trace, with each step's time the median over ``traces`` (same photo, same stages)."""
    last = traces[-1]
    steps = tuple(dataclasses.replace(step, ms=statistics.median(t.steps[i].ms for t in traces))
                  for i, step in enumerate(last.steps))
    return dataclasses.replace(last, steps=steps)


def probe(source: Source, pipeline: Pipeline, selection: Selection, *, timeline: bool = False,
          limit: int | None = None, description: str = "") -> ProbeResult:
    """Read ``source`` through ``pipeline``: trace the selected frames, record every frame if ``timeline``.

    Reading stops after the last selected frame unless a timeline is wanted (then at the end, or
    after ``limit`` frames). A selected frame the input does not reach is a ``SourceError``.
    """
    info = source.info
    photos = info.kind in ("image", "images")
    recorder = _Recorder(pipeline) if timeline else None
    wanted_frames = set(selection.frames)
    wanted_times = sorted(selection.times)
    last_wanted = max(wanted_frames, default=-1)
    first = selection.first or 0
    frame_s = float(1 / info.fps) if info.fps else 0.0
    result = ProbeResult()
    start: float | None = None
    pipeline.reset()
    for packet in source:
        if not isinstance(packet, FramePacket):
            continue  # audio passes through a run untouched; nothing to inspect
        if limit is not None and result.frames_read >= limit:
            break
        result.frames_read += 1
        t = _time(packet)
        if start is None:
            start = t
        rel = t - start if t is not None and start is not None else None
        chosen = packet.index in wanted_frames or len(result.traces) < first
        # the frame on screen at t: the first one that is still showing then
        while wanted_times and rel is not None and rel + frame_s > wanted_times[0] + 1e-6:
            wanted_times.pop(0)
            chosen = True
        if chosen:
            wanted_frames.discard(packet.index)
            if photos:
                runs = []
                for _ in range(PHOTO_REPEATS):
                    pipeline.reset()
                    again = FramePacket(image=packet.image, index=packet.index, name=packet.name)
                    runs.append(trace_packet(pipeline, again, photo=True))
                pipeline.reset()
                folder = info.kind == "images"
                trace = dataclasses.replace(_median_timings(runs), index=packet.index if folder else None,
                                            name=packet.name if folder else None)
            else:
                trace = dataclasses.replace(trace_packet(pipeline, packet), time_s=rel)
            result.traces.append(trace)
            if recorder is not None:
                recorder.record(packet.index, rel, trace.steps[0].planes, trace.steps[-1].planes)
        elif not photos and (recorder is not None or packet.index < last_wanted or wanted_times):
            # a video frame before the chosen ones: its state is what the chosen ones inherit
            if recorder is None:
                pipeline.process(packet)
            else:  # the frame as read is kept only when the timeline records it
                original = packet.planes.to_host() if packet.planes is not None else Planes.from_bgr(packet.image)
                pipeline.process(packet)
                out = packet.planes if packet.planes is not None else Planes.from_bgr(packet.image)
                recorder.record(packet.index, rel, original, out.to_host())
        if recorder is None and not wanted_frames and not wanted_times and len(result.traces) >= first:
            break
    missing = sorted(wanted_frames)
    if missing and limit is not None and result.frames_read >= limit:
        raise ConfigError(f"frame {missing[0]} is beyond --frames {limit} (the frames read)")
    if missing:
        what = ("photo", "readable photos") if photos else ("frame", "frames")
        raise SourceError(f"{what[0]} {missing[0]} is past the end of {info.name} "
                          f"({result.frames_read} {what[1]}, numbered from 0)")
    if wanted_times:
        end = f"{rel:.2f} s" if result.frames_read and rel is not None else "no timestamps"
        raise SourceError(f"time {wanted_times[0]:g} s is past the end of {info.name} (its last frame is at {end})")
    if recorder is not None:
        if not recorder.records:
            raise SourceError(f"no frames could be read from {info.name}")
        lo, hi = luma_range(info.color)  # the source sets it from the first frame it decoded
        last = recorder.records[-1].time_s
        result.timeline = Timeline(name=info.name, records=tuple(recorder.records), luma_range=(int(lo), int(hi)),
                                   cut_threshold=recorder.cuts.threshold,
                                   traced=tuple(t.index for t in result.traces if t.index is not None),
                                   description=description,
                                   duration_s=last + frame_s if last is not None else None)
    return result


def frames_at(times: Sequence[float], target: str) -> tuple[int, ...]:
    """The frames of a file on screen at ``times`` (s from its first frame), from its timestamps."""
    import bisect

    from realtime.sources.media import presentation_times

    starts, end = presentation_times(target)
    frames = []
    for t in times:
        if not starts or t >= end - 1e-9:
            raise SourceError(f"time {t:g} s is past the end of {target} (it lasts {end:.3f} s)")
        frames.append(bisect.bisect_right(starts, t + 1e-9) - 1)
    return tuple(frames)


def check_selection(selection: Selection, frame_count: int | None, name: str) -> None:
    """Refuse at once what is certainly past the end (the count from a container index can be trusted
    to a frame or two; anything nearer is settled by reading)."""
    if frame_count and selection.frames and max(selection.frames) > frame_count * 1.05 + 5:
        raise SourceError(f"frame {max(selection.frames)} is past the end of {name} (about {frame_count} frames)")
    if any(f < 0 for f in selection.frames) or any(t < 0 for t in selection.times):
        raise ConfigError("--frame and --time count from 0 (the first frame)")
