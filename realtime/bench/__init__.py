"""``realtime bench``: end-to-end fps, per-stage latency and resources, against FFmpeg's own filters.

Inputs: a video file; the synthetic scene at any sizes (``--synthetic 1280x720,3840x2160``: the
frames are rendered once and encoded to a temporary H.264 file, so decoding is part of the
measurement exactly as for a real file); or a live source (a camera, ``synthetic:WxH@FPS``, a
network stream), which is measured as it arrives: capture-to-sink latency and dropped frames.

Methods, interleaved run by run so that a noisy shared machine drifts on all of them alike:

- ``decode``: decoding to planes alone, the floor under everything (files only);
- ``ffmpeg``: FFmpeg's ``normalize,atadenoise,unsharp`` chain through PyAV's filter graph, the
  nearest classical equivalent of our stages, in the same process on the same input (files only);
- ``classical``: our stages without the refiner, for each backend asked for;
- ``full``: our stages and the learned refiner, for each backend asked for.

Every method runs ``--repeat`` times; the first ``--warmup`` frames of each run are left out of
its timings. Reported per method: median fps with its spread, per-stage median/p95/p99 ms,
capture-to-sink latency, dropped frames, queue high-water marks, CPU use and memory. A backend
this machine lacks (OpenCL, CUDA) is skipped with the reason, never an error: one bench command
can be run unchanged on every machine.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from realtime.bench import machine
from realtime.bench.measure import BASELINE_CHAIN, Run, decode_only, ffmpeg_chain, open_video, pipeline_run
from realtime.errors import BackendError, ConfigError, SourceError
from realtime.sources import is_live_spec

if TYPE_CHECKING:
    from realtime.assembly import PipelineSpec

__all__ = ["BenchOptions", "measure", "run_bench"]

_SIZE = re.compile(r"^(\d+)x(\d+)$")
DEFAULT_SYNTHETIC_FRAMES = 120
DEFAULT_LIVE_FRAMES = 300


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What ``realtime bench`` measures and how often (the pipeline itself is a PipelineSpec)."""

    input: str | None = None
    synthetic: str | None = None
    frames: int | None = None
    warmup: int = 10
    repeat: int = 3
    backend: str = "auto"
    decoder: str = "software"
    no_baseline: bool = False
    methods: str = "decode,ffmpeg,classical,full"
    json: str | None = None
    plot: str | None = None


@dataclass(slots=True)
class Method:
    name: str  # decode, ffmpeg, classical, full
    backend: str | None
    label: str
    runs: list[Run] = field(default_factory=list)
    pipeline: str | None = None
    refiner: str | None = None

    def summary(self, ffmpeg_fps: float | None) -> dict[str, object]:
        fps = [r.fps for r in self.runs]
        med = statistics.median(fps)
        stages: dict[str, dict[str, float]] = {}
        for name in dict.fromkeys(k for r in self.runs for k in r.stages):
            got = [r.stages[name] for r in self.runs if name in r.stages]
            stages[name] = {q: statistics.median(getattr(p, q) for p in got) for q in ("median", "p95", "p99")}
        latencies = [r.latency for r in self.runs if r.latency is not None]
        latency = ({q: statistics.median(getattr(p, q) for p in latencies) for q in ("median", "p95", "p99")}
                   if latencies else None)
        res = [r.resources for r in self.runs]
        return {
            "method": self.name,
            "backend": self.backend,
            "label": self.label,
            "pipeline": self.pipeline,
            "refiner": self.refiner,
            "frames_per_run": self.runs[-1].frames,
            "fps": {"median": med, "min": min(fps), "max": max(fps), "runs": fps},
            "ratio_vs_ffmpeg": med / ffmpeg_fps if ffmpeg_fps else None,
            "stage_ms": stages,
            "latency_ms": latency,
            "dropped": sum(r.dropped for r in self.runs),
            "queue_high_water": [max(col) for col in zip(*(r.queue_high_water for r in self.runs), strict=True)]
            if all(r.queue_high_water for r in self.runs) else [],
            "cpu_percent": statistics.median(r.cpu_percent for r in res),
            "rss_mb": {"start": res[0].rss_start_mb, "end": res[-1].rss_end_mb,
                       "peak": max(r.rss_peak_mb for r in res),
                       "timeline_last_run": [list(p) for p in res[-1].rss_timeline]},
        }


@dataclass(slots=True)
class Input:
    label: str
    spec: str  # a file path, or a live source spec
    live: bool
    size: str = "?"
    codec: str | None = None


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        m = _SIZE.match(part.strip())
        if not m or int(m[1]) < 16 or int(m[2]) < 16:
            raise ConfigError(f"--synthetic takes sizes like 1280x720 (at least 16x16), got {part.strip()!r}")
        sizes.append((int(m[1]), int(m[2])))
    return sizes


def write_synthetic_clip(path: Path, width: int, height: int, frames: int, fps: int = 30) -> None:
    """The synthetic scene as H.264 (x264, near-lossless, BT.709 limited range)."""
    import av

    from realtime.sources.synthetic import render_frame

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps), options={"crf": "16", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(render_frame(i, width=width, height=height), format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _backends(text: str) -> list[str]:
    """Backend names, checked before anything is rendered; whether each is usable is decided later."""
    from realtime.backends import Backend

    names = [b.strip() for b in text.split(",") if b.strip()]
    if not names:
        raise ConfigError("--backend needs at least one backend")
    known = ["auto", *(b.value for b in Backend)]
    for name in names:
        if name not in known:
            raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(known)}")
    return names


def _usable_backend(name: str) -> tuple[str | None, str | None]:
    """(backend value, None) when usable, else (None, why not)."""
    from realtime.backends import resolve_backend

    try:
        return resolve_backend(name).value, None
    except BackendError as e:
        return None, str(e)


def _inputs(opts: BenchOptions, tmp: Path) -> list[Input]:
    inputs: list[Input] = []
    if opts.input:
        if is_live_spec(opts.input):
            inputs.append(Input(opts.input, opts.input, live=True))
        else:
            if not Path(opts.input).is_file():
                raise SourceError(f"input not found: {opts.input}")
            inputs.append(Input(opts.input, opts.input, live=False))
    if opts.synthetic:
        frames = opts.frames or DEFAULT_SYNTHETIC_FRAMES
        for w, h in _parse_sizes(opts.synthetic):
            path = tmp / f"synthetic_{w}x{h}.mp4"
            print(f"bench: rendering {frames} synthetic {w}x{h} frames to H.264", file=sys.stderr)
            write_synthetic_clip(path, w, h, frames + opts.warmup)
            inputs.append(Input(f"synthetic {w}x{h}", str(path), live=False))
    if not inputs:
        raise ConfigError("bench needs an INPUT (file, camera, synthetic:WxH@FPS) or --synthetic WxH[,WxH...]")
    for item in inputs:
        if not item.live:
            container, stream = open_video(item.spec)
            item.size = f"{stream.codec_context.width}x{stream.codec_context.height}"
            item.codec = stream.codec_context.name
            container.close()
        else:
            m = re.match(r"^synthetic:(\d+x\d+)", item.spec)
            item.size = m[1] if m else "live"
    return inputs


def _bench_input(item: Input, backends: list[str], opts: BenchOptions,
                 base_spec: PipelineSpec) -> dict[str, object]:
    frames = opts.frames or (DEFAULT_LIVE_FRAMES if item.live else None)
    methods: list[Method] = []
    skipped: list[dict[str, str]] = []
    wanted = set(opts.methods.split(","))
    if not item.live:
        if "decode" in wanted:
            methods.append(Method("decode", None, "decode only (PyAV -> planes)"))
        if not opts.no_baseline and "ffmpeg" in wanted:
            methods.append(Method("ffmpeg", None, f"FFmpeg {BASELINE_CHAIN} (PyAV filter graph)"))
    else:
        skipped.append({"method": "decode, ffmpeg", "why": "a live source cannot be replayed for a baseline"})
    for name in backends:
        value, why = _usable_backend(name)
        if value is None:
            print(f"bench: backend {name} skipped: {why}", file=sys.stderr)
            skipped.append({"method": f"classical, full [{name}]", "why": why or ""})
            continue
        if "classical" in wanted:
            methods.append(Method("classical", value, f"realtime classical stages [{value}]"))
        if base_spec.refiner != "off" and "full" in wanted:
            methods.append(Method("full", value, f"realtime full pipeline [{value}]"))
    warmup = opts.warmup
    n_frames = frames + warmup if frames is not None else None
    for rep in range(opts.repeat):
        for m in methods:
            if m.name == "decode":
                m.runs.append(decode_only(item.spec, n_frames, warmup))
            elif m.name == "ffmpeg":
                m.runs.append(ffmpeg_chain(item.spec, n_frames, warmup))
            else:
                spec = dataclasses.replace(base_spec, backend=m.backend or "auto",
                                           refiner=base_spec.refiner if m.name == "full" else "off")
                run, m.pipeline, m.refiner = pipeline_run(item.spec, n_frames, warmup, spec, opts.decoder)
                m.runs.append(run)
        line = ", ".join(f"{m.name}{f' [{m.backend}]' if m.backend else ''} {m.runs[-1].fps:.1f}" for m in methods)
        print(f"bench: {item.label}: run {rep + 1}/{opts.repeat}: {line} fps", file=sys.stderr)
    full_missing = base_spec.refiner != "off" and any(m.name == "full" and m.refiner is None for m in methods)
    if full_missing:
        # the spec turned the refiner off (the "off" preset): the "full" rows ran the classical stages
        methods = [m for m in methods if not (m.name == "full" and m.refiner is None)]
        skipped.append({"method": "full", "why": "no refiner available (see realtime doctor)"})
    if not item.live:
        # from a file the frames are read as fast as the pipeline takes them, so "capture" to sink
        # is mostly time spent waiting in full queues: not a latency anyone experiences
        for m in methods:
            for r in m.runs:
                r.latency = None
    ffmpeg = next((m for m in methods if m.name == "ffmpeg"), None)
    ffmpeg_fps = statistics.median(r.fps for r in ffmpeg.runs) if ffmpeg else None
    return {"input": item.label, "path": item.spec, "live": item.live, "size": item.size, "codec": item.codec,
            "frames": frames, "methods": [m.summary(ffmpeg_fps) for m in methods], "skipped": skipped}


METHODS = ("decode", "ffmpeg", "classical", "full")


def measure(opts: BenchOptions, base_spec: PipelineSpec | None = None) -> dict:
    """Run the benchmark and return its report (what ``--json`` writes), printing only progress lines.

    ``base_spec`` is the pipeline; backend and refiner are set per method from ``opts``. A notebook
    shows the result with :func:`realtime.bench.report.print_report` and
    :func:`realtime.bench.plot.bench_figure`.
    """
    unknown = set(opts.methods.split(",")) - set(METHODS)
    if unknown:
        raise ConfigError(f"unknown method {sorted(unknown)[0]!r} for --methods; choose from {', '.join(METHODS)}")
    backends = _backends(opts.backend)
    from realtime.assembly import PipelineSpec

    base_spec = base_spec or PipelineSpec()
    info = machine.describe()
    with tempfile.TemporaryDirectory(prefix="realtime-bench-") as tmp:
        inputs = _inputs(opts, Path(tmp))
        results = [_bench_input(item, backends, opts, base_spec) for item in inputs]
    settings = {"repeat": opts.repeat, "warmup_frames": opts.warmup, "frames": opts.frames, "preset": base_spec.preset,
                "backends": backends, "refiner": base_spec.refiner, "methods": opts.methods.split(","),
                "decoder": opts.decoder}
    return {"machine": info, "settings": settings, "results": results}


def run_bench(opts: BenchOptions, base_spec: PipelineSpec | None = None) -> int:
    """``realtime bench``: measure, print the table, and write the JSON and the plot asked for."""
    from realtime.bench.report import print_report, write_json

    report = measure(opts, base_spec)
    print_report(report)
    if opts.json:
        write_json(report, opts.json)
    if opts.plot:
        from realtime.bench.plot import write_plot

        write_plot(report, opts.plot)
        print(f"plot: {opts.plot}")
    return 0
