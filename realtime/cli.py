"""Command line: ``realtime enhance``, ``realtime inspect``, ``realtime bench``, ``realtime doctor``.

Every user-facing failure is a ``RealtimeError`` and ends as one line on stderr with a non-zero
exit code; argparse's own errors are folded into one line too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, NoReturn

from realtime import __version__
from realtime.errors import ConfigError, RealtimeError
from realtime.memory import keep_freed_memory

if TYPE_CHECKING:
    from realtime.assembly import PipelineSpec

EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from e
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _crf(text: str) -> int:
    value = _non_negative_int(text)
    if value > 51:
        raise argparse.ArgumentTypeError(f"crf must be 0..51, got {value}")
    return value


def _fps(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError) as e:
        raise argparse.ArgumentTypeError(f"expected a frame rate such as 25 or 30000/1001, got {text!r}") from e
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"frame rate must be in (0, 1000], got {text}")
    return value


def _list_of(kind: type[int] | type[float], example: str, rule: str):
    """An argparse type: comma-separated numbers of ``kind``, none negative (frames or seconds from the start)."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(p) for p in text.split(",") if p.strip())
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}") from e
        if not values:
            raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}")
        if min(values) < 0 or not all(v < float("inf") for v in values):
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
        return values

    return parse


def _rate(text: str) -> int:
    """A bit rate or size such as 4M, 2500k or 800000 (FFmpeg's suffixes: k = 1000, M = 10^6)."""
    t = text.strip()
    scale = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000, "g": 1_000_000_000, "G": 1_000_000_000}
    factor = scale.get(t[-1:], 1)
    try:
        value = float(t[:-1] if factor != 1 else t) * factor
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a rate such as 4M, 2500k or 800000, got {text!r}") from e
    if not 1_000 <= value <= 10_000_000_000:
        raise argparse.ArgumentTypeError(f"expected a rate between 1k and 10G, got {text!r}")
    return round(value)


def _seconds(text: str) -> float:
    """Seconds as FFmpeg writes them: 90, 2.5, 1:30 or 00:01:30.5."""
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected seconds such as 90, 2.5 or 00:01:30, got {text!r}") from e
    if not 1 <= len(parts) <= 3 or min(parts) < 0 or any(p >= 60 for p in parts[1:]):
        raise argparse.ArgumentTypeError(f"expected seconds such as 90, 2.5 or 00:01:30, got {text!r}")
    value = 0.0
    for p in parts:
        value = value * 60 + p
    if not value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite time, got {text!r}")
    return value


def _size(minimum: int, allow_keep: bool):
    """An argparse type: WxH, with -1 for one side (keep the aspect ratio) when ``allow_keep``."""

    def parse(text: str) -> tuple[int, int]:
        try:
            w, h = (int(v) for v in text.lower().split("x"))
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a size such as 1280x720, got {text!r}") from e
        sides = [v for v in (w, h) if not (allow_keep and v == -1)]
        if not sides or min(sides) < minimum or max(sides) > 16384:
            keep = " (one side may be -1)" if allow_keep else ""
            raise argparse.ArgumentTypeError(f"expected sides of {minimum}..16384{keep}, got {text!r}")
        return w, h

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from e
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


_frame_list = _list_of(int, "frame numbers such as 0,150,300", "frame numbers count from 0")
_time_list = _list_of(float, "times in seconds such as 2.5,10", "times are seconds from the first frame (0 or more)")


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    from realtime.refiner import REFINER_CHOICES

    g = p.add_argument_group("pipeline")
    g.add_argument("--preset", help="lowlight (default), haze, detail or off")
    g.add_argument("--config", metavar="FILE.toml", help="stage parameters (see realtime/presets.toml)")
    g.add_argument("--stages",
                   help="comma-separated stages in order: contrast, clahe, denoise, sharpen, or module:function")
    g.add_argument("--backend", default="auto",
                   help="auto (default), numpy, opencl or cuda (bench: a comma-separated list, e.g. numpy,opencl)")
    g.add_argument("--refiner", default="auto", choices=REFINER_CHOICES,
                   help="learned refiner runtime: auto (TensorRT, else ONNX Runtime), a named one, or off")
    g.add_argument("--refiner-model", metavar="FILE.onnx",
                   help="refiner model (default: the one shipped in the package, realtime/data/refiner.onnx)")


def _add_read_options(io: argparse._ArgumentGroup) -> None:
    """How a file is read: the same for `enhance` and every file of a `batch`."""
    io.add_argument("--max-bad-frames", type=_non_negative_int, default=25, metavar="N",
                    help="undecodable frames tolerated before stopping (default 25)")
    io.add_argument("--fps", type=_fps,
                    help="frame rate of the output: an image sequence's (default 25), or a video resampled to it "
                         "(frames dropped or repeated as FFmpeg's fps filter does, audio kept)")
    io.add_argument("-ss", "--start", type=_seconds, metavar="S",
                    help="start this far into a file (seconds or HH:MM:SS); the output starts at 0")
    io.add_argument("-t", "--duration", type=_seconds, metavar="S", help="read this much of a file (seconds)")
    io.add_argument("--scale", type=_size(2, True), metavar="WxH",
                    help="resize every frame before the stages, e.g. 1280x720 or 1280x-1 (keep the aspect)")
    io.add_argument("--decoder", default="software", choices=("software", "nvdec", "auto"),
                    help="video decoder for files and streams: software (default), nvdec (NVIDIA's hardware "
                         "decoder, insisted on) or auto (NVDEC where it opens, else software, and says which)")


def _add_encoder_options(io: argparse._ArgumentGroup) -> None:
    """How the output is encoded: the same for `enhance` and every file of a `batch`."""
    io.add_argument("--codec",
                    help="video encoder (default libx264); auto: NVENC where it opens, else libx264; "
                         "h264_nvenc insists on NVENC")
    io.add_argument("--crf", type=_crf, help="x264/x265 quality, lower is better (default 20)")
    io.add_argument("--encoder-preset",
                    help="x264 preset (default superfast for files, ultrafast for streams; veryfast: smaller files)")
    io.add_argument("--audio", choices=("copy", "none", "silent"),
                    help="copy the input's audio (default), none, or silent: a silent AAC track for streaming "
                         "services that demand audio")
    io.add_argument("--no-audio", action="store_true", help="the same as --audio none")
    io.add_argument("--bitrate", type=_rate, metavar="RATE", help="video bit rate target, e.g. 4M or 2500k")
    io.add_argument("--maxrate", type=_rate, metavar="RATE", help="video bit rate cap (with --bufsize)")
    io.add_argument("--bufsize", type=_rate, metavar="SIZE", help="rate control buffer, e.g. 8M (2x maxrate is usual)")
    io.add_argument("--gop", type=_positive_int, metavar="N", help="frames between keyframes (default 2 s of frames)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="realtime", description="Enhance dark, noisy, flat or soft video in real time.")
    parser.add_argument("--version", action="version", version=f"realtime {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    e = sub.add_parser("enhance", help="enhance a video, stream, camera, image or folder")
    e.add_argument("input", help="video file, URL, camera (0, /dev/video0), image, folder, glob or - (stdin)")
    e.add_argument("-o", "--output",
                   help="video file, stream URL (udp://, rtmp://, srt://), - (standard output), virtualcam: "
                        "(or virtualcam:/dev/video10), image, folder/, frames/%%05d.jpg or null:")
    e.add_argument("--show", action="store_true", help="open a window with a HUD (h for its keys)")
    _add_pipeline_options(e)
    io = e.add_argument_group("input and output")
    _add_read_options(io)
    io.add_argument("--frames", type=_positive_int, metavar="N", help="stop after N frames")
    pace = io.add_mutually_exclusive_group()
    pace.add_argument("--pace", dest="pace", action="store_const", const=True, default=None,
                      help="read a file at its own speed (FFmpeg's -re); default when the output is live: a "
                           "stream, a virtual camera, the window with no file")
    pace.add_argument("--no-pace", dest="pace", action="store_const", const=False,
                      help="read a file as fast as it goes, even into a live output")
    live = io.add_mutually_exclusive_group()
    live.add_argument("--live", dest="live", action="store_const", const=True, default=None,
                      help="read a URL or pipe as live: frames are dropped when the run falls behind")
    live.add_argument("--lossless", dest="live", action="store_const", const=False,
                      help="read a URL, pipe or live stream losslessly: every frame processed "
                           "(default for URLs of files with a known duration, and pipes)")
    _add_encoder_options(io)
    io.add_argument("--format", metavar="MUXER",
                    help="container of a pipe or stream: mpegts (default for - and udp://), nut, matroska, flv, mp4")
    cam = e.add_argument_group("camera")
    cam.add_argument("--camera-size", type=_size(16, False), metavar="WxH", help="ask the camera for this size")
    cam.add_argument("--camera-fps", type=_positive_float, metavar="N", help="ask the camera for this rate")
    cam.add_argument("--camera-format", metavar="FOURCC", help="ask the camera for MJPG, YUYV, H264 …")
    cam.add_argument("--camera-timeout", type=_seconds, metavar="S",
                     help="how long a lost camera or live stream is waited for before the run stops "
                          "(default 30 s; 0: stop at once)")
    io.add_argument("-y", "--overwrite", action="store_true", help="replace OUTPUT if it exists")
    io.add_argument("--compare", metavar="FILE.png", help="also write a before/after comparison image")
    io.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    e.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    e.set_defaults(func=_cmd_enhance)

    bt = sub.add_parser("batch", help="enhance many video files into a mirrored folder tree, on Ray "
                        "(local, or a cluster), resumable, with a manifest")
    bt.add_argument("inputs", nargs="*", metavar="INPUT",
                    help="video files, folders (searched recursively), globs ('in/**/*.mp4') or URLs")
    bt.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                    help="the output tree: each file at its path under its folder or glob, and manifest.jsonl")
    bt.add_argument("--pattern", metavar="GLOB",
                    help="file names to take in folders, e.g. '*.mp4' (default: every video extension)")
    bt.add_argument("--from-list", metavar="FILE", help="a text file of paths or URLs, one per line")
    bt.add_argument("--ext", metavar=".EXT", help="container of the outputs, e.g. .mkv (default: each input's own)")
    ray_group = bt.add_argument_group("Ray")
    ray_group.add_argument("--address", metavar="ADDR",
                           help="an existing Ray cluster: auto, or ray://host:10001 (default: a local Ray, "
                                "started and stopped here)")
    ray_group.add_argument("--workers", type=_positive_int, metavar="N",
                           help="workers (default: as many as the cluster's CPUs fit)")
    ray_group.add_argument("--cpus-per-worker", type=_positive_float, default=2.0, metavar="N",
                           help="CPUs per worker (default 2: the pipeline's two threads)")
    ray_group.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="N",
                           help="GPUs per worker, with --backend cuda, --refiner tensorrt or --decoder nvdec")
    ray_group.add_argument("--resume", action="store_true",
                           help="skip files the manifest has done with the same options (output unchanged)")
    ray_group.add_argument("--max-failures", type=_positive_int, metavar="N",
                           help="stop starting files after N have failed (default: go on to the end)")
    _add_pipeline_options(bt)
    bio = bt.add_argument_group("each file")
    _add_read_options(bio)
    _add_encoder_options(bio)
    bio.add_argument("-y", "--overwrite", action="store_true", help="replace outputs that exist")
    bio.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    bt.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    bt.set_defaults(func=_cmd_batch)

    b = sub.add_parser("bench", help="measure fps, per-stage ms and resources, against FFmpeg's filter chain")
    b.add_argument("input", nargs="?",
                   help="video file (file -> null sink), or a live source: camera (0), synthetic:WxH@FPS, URL")
    _add_pipeline_options(b)
    b.add_argument("--synthetic", metavar="WxH[,WxH...]",
                   help="also bench the synthetic scene at these sizes (rendered once to a temporary H.264 file)")
    b.add_argument("--frames", type=_positive_int, metavar="N",
                   help="timed frames per run (default: whole file; 120 synthetic; 300 live)")
    b.add_argument("--warmup", type=_non_negative_int, default=10, metavar="N",
                   help="frames at the start of each run left out of the timings (default 10)")
    b.add_argument("--repeat", type=_positive_int, default=3, help="runs of each method (default 3)")
    b.add_argument("--decoder", default="software", choices=("software", "nvdec", "auto"),
                   help="video decoder of our pipeline's runs (default software; see enhance --help)")
    b.add_argument("--no-baseline", action="store_true", help="skip the FFmpeg filter-chain baseline")
    b.add_argument("--methods", default="decode,ffmpeg,classical,full",
                   help="which to run (default all): decode, ffmpeg, classical, full (e.g. full alone for a long run)")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--plot", metavar="FILE.png", help="also plot fps and per-stage time (needs matplotlib)")
    b.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    b.set_defaults(func=_cmd_bench)

    i = sub.add_parser("inspect", help="contact sheet of every stage's output and the refiner's decisions; "
                                       "timeline of a clip")
    i.add_argument("input", help="image, folder of images, video file or stream")
    i.add_argument("-o", "--output", metavar="SHEET.png|DIR/",
                   help="the contact sheet (.png, .jpg, .pdf, .svg; default inspect.png), or a folder/ for "
                        "every intermediate as PNG plus inspect.json")
    i.add_argument("--frame", type=_frame_list, action="extend", metavar="N[,N...]",
                   help="video frames to trace (from 0), one block each; photos of a folder by position among "
                        "the readable ones (default: the middle frame; the photos)")
    i.add_argument("--time", type=_time_list, action="extend", metavar="S[,S...]",
                   help="video moments to trace, in seconds from the first frame: the frame on screen then")
    i.add_argument("--timeline", metavar="FILE.png",
                   help="also plot luma in/out, flicker, contrast levels, refiner decisions and scene cuts "
                        "per frame over the clip")
    i.add_argument("--frames", type=_positive_int, metavar="N",
                   help="read at most N frames (a live stream's timeline needs it)")
    _add_pipeline_options(i)
    i.add_argument("--decoder", default="software", choices=("software", "nvdec", "auto"), help=argparse.SUPPRESS)
    i.add_argument("--max-bad-frames", type=_non_negative_int, default=25, metavar="N",
                   help="undecodable frames tolerated before stopping (default 25)")
    i.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    i.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    i.set_defaults(func=_cmd_inspect)

    d = sub.add_parser("doctor", help="versions, backends, encoders, refiner runtimes and cameras")
    d.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    d.set_defaults(func=_cmd_doctor)
    return parser


# -- enhance ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _stop_on_signals(job) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: graceful stop (drain, flush). Second: abort the queues."""
    count = 0

    def handler(signum, frame) -> None:
        nonlocal count
        count += 1
        if count == 1:
            print("\nrealtime: stopping: writing the frames already read (Ctrl-C again to abort)",
                  file=sys.stderr)
            job.stop()
        else:
            job.abort()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _note(line: str) -> None:
    print(f"realtime: {line}", file=sys.stderr)


def pipeline_spec(args: argparse.Namespace) -> PipelineSpec:
    """The command line's pipeline options as the spec every caller builds pipelines from."""
    from realtime.assembly import PipelineSpec

    return PipelineSpec(preset=args.preset, stages=args.stages, config=args.config, refiner=args.refiner,
                        refiner_model=args.refiner_model, backend=args.backend)


def _file_options(args: argparse.Namespace) -> dict:
    """The EnhanceOptions fields `enhance` and `batch` share: how a file is read and encoded."""
    if args.no_audio and args.audio not in (None, "none"):
        raise ConfigError(f"--no-audio contradicts --audio {args.audio}")
    return dict(max_bad_frames=args.max_bad_frames, fps=args.fps, decoder=args.decoder, codec=args.codec,
                crf=args.crf, encoder_preset=args.encoder_preset,
                audio="none" if args.no_audio else (args.audio or "copy"), overwrite=args.overwrite,
                bitrate=args.bitrate, maxrate=args.maxrate, bufsize=args.bufsize, gop=args.gop, start=args.start,
                duration=args.duration, scale=args.scale)


def _cmd_enhance(args: argparse.Namespace) -> int:
    from realtime.job import EnhanceJob, EnhanceOptions
    from realtime.progress import FileProgress, LiveStatus

    shared = _file_options(args)
    audio = shared["audio"]
    options = EnhanceOptions(
        output=args.output, show=args.show, frames=args.frames, compare=args.compare, pace=args.pace,
        live=args.live, format=args.format, camera_size=args.camera_size, camera_fps=args.camera_fps,
        camera_format=args.camera_format, camera_timeout=args.camera_timeout, **shared)
    job = EnhanceJob(args.input, pipeline_spec(args), options)
    info = job.info
    if not args.quiet:
        size = f"{info.width}x{info.height}" if info.kind != "images" else f"(the first {info.width}x{info.height})"
        print(f"realtime: {info.name}: {info.kind} {size}"
              + (f" @ {float(info.fps):.3g} fps" if info.fps and info.kind not in ("image", "images") else "")
              + (f", {info.frame_count} frames" if info.frame_count else "")
              + (f", {len(info.audio_streams)} audio stream(s)" if info.audio_streams and audio == "copy"
                 else ""), file=sys.stderr)
        for line in job.notes:
            _note(line)
        print(f"realtime: {job.pipeline.describe()}", file=sys.stderr)
    progress = LiveStatus(enabled=not args.quiet) if info.live else FileProgress(job.total, enabled=not args.quiet)
    job.on_written = progress
    with _stop_on_signals(job):
        try:
            report = job.run()
        finally:
            progress.close()
    if job.compare_written and not args.quiet:
        print(f"realtime: comparison written to {job.compare_written}", file=sys.stderr)
    if not args.quiet:
        _print_summary(report, info)
    if report.interrupted and not args.show:
        return EXIT_INTERRUPTED
    return 0


def _print_summary(report, info) -> None:
    from realtime.pipeline import COLOR_TIMING

    state = "stopped early" if report.interrupted else "done"
    print(f"realtime: {state}: {report.frames_written} frames in {report.elapsed_s:.2f} s "
          f"({report.fps:.1f} fps)", file=sys.stderr)
    if report.stage_ms:
        parts = [f"{k} {v:.2f}" for k, v in report.stage_ms.items() if k != COLOR_TIMING]
        if COLOR_TIMING in report.stage_ms:
            parts.append(f"colour conversion {report.stage_ms[COLOR_TIMING]:.2f}")
        print(f"realtime: median ms/frame: {' | '.join(parts)}", file=sys.stderr)
    if info.live:
        lat = f"{report.latency_ms:.1f} ms" if report.latency_ms is not None else "n/a"
        print(f"realtime: capture-to-output latency (median) {lat}, dropped {report.dropped} frames",
              file=sys.stderr)
    if report.reconnects:
        print(f"realtime: the input was lost and came back {report.reconnects} time(s)", file=sys.stderr)
    if report.bad_frames or report.concealed_frames:
        print(f"realtime: {report.bad_frames} undecodable frames skipped, {report.concealed_frames} "
              "decoded with concealed errors", file=sys.stderr)
    for rep in report.sinks:
        audio = f", {rep.passthrough_packets} audio packets copied" if rep.passthrough_packets else ""
        if rep.damaged_audio_packets:
            audio += f", {rep.damaged_audio_packets} damaged audio packets skipped"
        print(f"realtime: {rep.target}: {rep.frames} frames{audio} ({rep.state})", file=sys.stderr)
        for note in rep.notes:
            print(f"realtime: note: {note}", file=sys.stderr)


# -- inspect ----------------------------------------------------------------------------------
def _cmd_inspect(args: argparse.Namespace) -> int:
    from realtime.inspection import InspectOptions, run_inspect

    options = InspectOptions(output=args.output, frames=tuple(args.frame or ()), times=tuple(args.time or ()),
                             timeline=args.timeline,
                             limit=args.frames, max_bad_frames=args.max_bad_frames, decoder=args.decoder)
    say = (lambda line: None) if args.quiet else _note
    report = run_inspect(args.input, pipeline_spec(args), options, notify=say)
    if not args.quiet:
        traced = ", ".join(_traced(t) for t in report.traces)
        if traced:
            _note(f"traced {traced}")
        if report.timeline is not None:
            _note(f"timeline of {len(report.timeline.records)} frames")
        for path in report.figures:
            _note(f"wrote {path}")
        if report.intermediates:
            _note(f"and {len(report.intermediates)} intermediate PNGs beside them")
    return 0


def _traced(trace) -> str:
    if trace.name:
        return trace.name
    if trace.index is None:
        return "the photo"
    return f"frame {trace.index}" + (f" ({trace.time_s:.2f} s)" if trace.time_s is not None else "")


# -- batch ------------------------------------------------------------------------------------
def _cmd_batch(args: argparse.Namespace) -> int:
    from realtime.batching import BatchError, BatchOptions, run_batch
    from realtime.job import EnhanceOptions

    options = BatchOptions(enhance=EnhanceOptions(**_file_options(args)), pattern=args.pattern,
                           from_list=args.from_list, ext=args.ext, address=args.address, workers=args.workers,
                           cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker,
                           resume=args.resume, max_failures=args.max_failures, progress=not args.quiet)
    say = (lambda line: None) if args.quiet else _note
    report = run_batch(args.inputs, args.output, pipeline_spec(args), options, notify=say)
    if not args.quiet:
        _print_batch_summary(report)
    if report.failed:
        raise BatchError(f"{report.failed} of {len(report.records)} files failed (each one's error is in "
                         f"{report.manifest})")
    if report.interrupted:
        return EXIT_INTERRUPTED
    return 0


def _print_batch_summary(report) -> None:
    parts = [f"{report.done} done", f"{report.failed} failed", f"{report.skipped} skipped"]
    if report.cancelled:
        parts.append(f"{report.cancelled} cancelled")
    if report.not_started:
        parts.append(f"{report.not_started} not started")
    early = report.interrupted or report.not_started or report.cancelled
    _note(f"batch {'stopped early' if early else 'finished'}: {', '.join(parts)}; "
          f"{report.frames} frames in {report.processing_s:.1f} s ({report.fps:.1f} fps over the cluster; "
          f"{report.elapsed_s:.1f} s with Ray's start-up)")
    if report.workers:
        width = max(len(w.name) for w in report.workers)
        _note(f"{'worker':<{width}}  files  frames   busy s     fps")
        for w in report.workers:
            _note(f"{w.name:<{width}}  {w.files:>5}  {w.frames:>6}  {w.busy_s:>7.1f}  {w.fps:>6.1f}")
    _note(f"manifest: {report.manifest}")


# -- bench and doctor -------------------------------------------------------------------------
def _cmd_bench(args: argparse.Namespace) -> int:
    from realtime.bench import BenchOptions, run_bench

    options = BenchOptions(input=args.input, synthetic=args.synthetic, frames=args.frames, warmup=args.warmup,
                           repeat=args.repeat, backend=args.backend, decoder=args.decoder,
                           no_baseline=args.no_baseline, methods=args.methods, json=args.json, plot=args.plot)
    return run_bench(options, pipeline_spec(args))


def _cmd_doctor(args: argparse.Namespace) -> int:
    from realtime.doctor import run_doctor

    return run_doctor()


# -- entry point ------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # frame-sized temporaries stay mapped between frames (realtime/memory.py)
    debug = getattr(args, "debug", False) or os.environ.get("REALTIME_DEBUG") == "1"
    try:
        return args.func(args)
    except RealtimeError as e:
        message = " ".join(str(e).split())
        print(f"realtime: error: {message}", file=sys.stderr)
        if debug:
            import traceback

            traceback.print_exception(e)
        return e.exit_code
    except KeyboardInterrupt:
        print("realtime: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1


def entry() -> None:
    """The ``realtime`` command: :func:`main`, then the process's exit. After a run that gave up on
    a blocked write (a peer that stopped reading) the process ends at once: the normal shutdown
    would free that output's container under the writer thread still blocked inside it, and its
    finalizer would block on the same peer."""
    code = main()
    from realtime.runner import abandoned_writes

    if abandoned_writes():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
