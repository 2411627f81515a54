"""``realtime bench``: end-to-end fps (decode included, null sink) against FFmpeg's own filters.

The baseline is FFmpeg's ``normalize,atadenoise,unsharp`` chain, the nearest classical equivalent
of our stages, run through PyAV's filter graph in the same process on the same input, so the ratio
holds on a noisy shared machine where absolute fps do not. Methods are interleaved run by run and
reported as medians with their spread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av

from realtime.errors import SourceError

BASELINE_CHAIN = "normalize,atadenoise,unsharp"


@dataclass(slots=True)
class MethodResult:
    name: str
    fps: list[float] = field(default_factory=list)
    frames: int = 0
    stage_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median_fps(self) -> float:
        return statistics.median(self.fps) if self.fps else 0.0


def machine_description() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "pyav": av.__version__,
    }


def _open_video(path: str) -> tuple[av.container.InputContainer, av.VideoStream]:
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


def run_ffmpeg_chain(path: str, frames: int | None, chain: str = BASELINE_CHAIN) -> tuple[int, float]:
    """Decode + FFmpeg filter chain, frames pulled and discarded. Returns (frames, seconds)."""
    container, stream = _open_video(path)
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
    done = 0

    def drain() -> None:
        nonlocal done
        while True:
            try:
                graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            done += 1

    t0 = time.perf_counter()
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
    return done, time.perf_counter() - t0


def run_decode_only(path: str, frames: int | None) -> tuple[int, float]:
    """Decode to the pipeline's planes and discard: the floor under every method."""
    from realtime.avcolor import frame_to_bgr, frame_to_planes

    container, stream = _open_video(path)
    n = 0
    t0 = time.perf_counter()
    try:
        for frame in container.decode(stream):
            if frames is not None and n >= frames:
                break
            if frame_to_planes(frame) is None:
                frame_to_bgr(frame)
            n += 1
    finally:
        container.close()
    return n, time.perf_counter() - t0


def run_pipeline(path: str, frames: int | None, args: argparse.Namespace):
    """Our full threaded runner: file source → pipeline → null sink."""
    from realtime.backends import resolve_backend
    from realtime.config import resolve_config
    from realtime.pipeline import Pipeline
    from realtime.refiner import choose_refiner
    from realtime.runner import Runner
    from realtime.sinks.null import NullSink
    from realtime.sources.media import MediaSource

    config = resolve_config(args.preset, args.config, args.stages)
    refiner = choose_refiner(config, args)
    pipeline = Pipeline(config.build_stages(refined=refiner is not None), backend=resolve_backend(args.backend),
                        refiner=refiner)
    source = MediaSource(path, live=False, audio=False)
    report = Runner(source, pipeline, [NullSink()], max_frames=frames).run()
    return report, pipeline


def run_bench(args: argparse.Namespace) -> int:
    path = args.input
    if not os.path.isfile(path):
        raise SourceError(f"input not found: {path}")
    container, stream = _open_video(path)
    size = f"{stream.codec_context.width}x{stream.codec_context.height}"
    codec = stream.codec_context.name
    container.close()
    ours = MethodResult("realtime (full pipeline)" if args.refiner != "off" else "realtime (classical stages)")
    decode = MethodResult("decode only (PyAV -> planes)")
    base = MethodResult(f"FFmpeg {BASELINE_CHAIN} (PyAV filter graph)")
    description = ""
    for rep in range(args.repeat):
        n, s = run_decode_only(path, args.frames)
        decode.fps.append(n / s)
        decode.frames = n
        if not args.no_baseline:
            n, s = run_ffmpeg_chain(path, args.frames)
            base.fps.append(n / s)
            base.frames = n
        report, pipeline = run_pipeline(path, args.frames, args)
        description = pipeline.describe()
        ours.fps.append(report.fps)
        ours.frames = report.frames_written
        for k, v in report.stage_ms.items():
            ours.stage_ms.setdefault(k, []).append(v)
        print(f"bench: run {rep + 1}/{args.repeat}: ours {ours.fps[-1]:.1f} fps"
              + (f", ffmpeg chain {base.fps[-1]:.1f} fps" if base.fps else ""), file=sys.stderr)
    machine = machine_description()
    methods = [m for m in (decode, base, ours) if m.fps]
    print(f"\ninput: {path} ({size} {codec}, {ours.frames} frames per run, {args.repeat} runs)")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; python {machine['python']}, "
          f"opencv {machine['opencv']}, pyav {machine['pyav']}")
    print(f"pipeline: {description}\n")
    print(f"{'method':<52} {'median fps':>10} {'min':>7} {'max':>7} {'vs ffmpeg':>9}")
    for m in methods:
        ratio = f"{m.median_fps / base.median_fps:.2f}x" if base.fps else "-"
        print(f"{m.name:<52} {m.median_fps:10.1f} {min(m.fps):7.1f} {max(m.fps):7.1f} {ratio:>9}")
    if ours.stage_ms:
        print("\nper-stage median ms/frame, median over runs (wall time on the stage's thread while decode and"
              " the other pipeline thread share the cores, so it exceeds the stage's cost alone):")
        for k, v in ours.stage_ms.items():
            print(f"  {k:<10} {statistics.median(v):6.2f}")
    if args.json:
        result = {
            "input": path, "size": size, "codec": codec, "machine": machine, "pipeline": description,
            "methods": [dict(asdict(m), median_fps=m.median_fps) for m in methods],
            "ratio_vs_ffmpeg": ours.median_fps / base.median_fps if base.fps else None,
        }
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0
