"""One enhancement run from an INPUT to OUTPUTs: what ``realtime enhance`` and :func:`realtime.enhance_file` do.

:class:`EnhanceJob` checks the options against what the input and output are (an option that
cannot act is an error, before anything is opened), builds the pipeline through the one assembly
function, opens the source and the sinks, and runs them on the threaded runner. The command line
adds only what a terminal needs around it: the progress bar, signal handling and the summary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.errors import ConfigError, RealtimeError
from realtime.frames import FramePacket
from realtime.pipeline import Pipeline
from realtime.runner import Runner
from realtime.sinks import AudioMode, EncoderOptions, Sink, SinkOptions, open_sink, preflight
from realtime.sinks.media import CODEC_ALIASES, DEFAULT_CODEC, QUALITY_CODECS
from realtime.sources import SourceOptions, open_source
from realtime.sources.media import DECODERS
from realtime.stats import LiveStats, RunReport
from realtime.targets import InputKind, OutputKind, OutputTarget, is_image_path, parse_input, parse_output

#: inputs whose frames come from a file (local, over the network or piped), not from a live device
_FILE_KINDS = (InputKind.VIDEO, InputKind.URL, InputKind.PIPE)


@dataclass(frozen=True, slots=True)
class EnhanceOptions:
    """Everything about a run that is not the pipeline itself. ``None`` means "not given": the
    default applies, and an option that was given must be able to act."""

    output: str | None = None
    show: bool = False
    max_bad_frames: int = 25
    frames: int | None = None
    fps: Fraction | None = None
    decoder: str = "software"
    codec: str | None = None
    crf: int | None = None
    encoder_preset: str | None = None
    #: copy (the input's audio, bit-exact), none, or silent (a silent track for services that demand
    #: one); True and False mean copy and none
    audio: AudioMode | str | bool = AudioMode.COPY
    overwrite: bool = False
    compare: str | None = None
    #: read a file at its own speed (FFmpeg's -re); None: when the output is watched live (a stream, a
    #: virtual camera, the window without a file)
    pace: bool | None = None
    #: a URL or pipe read as live (frames dropped to keep up) or losslessly; None: guessed and said
    live: bool | None = None
    format: str | None = None  # the muxer of a pipe or stream (--format)
    bitrate: int | None = None  # bits/s
    maxrate: int | None = None
    bufsize: int | None = None  # bits
    gop: int | None = None  # frames between keyframes
    start: float | None = None  # seconds into a file (-ss)
    duration: float | None = None  # seconds of it (-t)
    scale: tuple[int, int] | None = None  # (width, height), -1 for one side: keep the aspect ratio
    camera_size: tuple[int, int] | None = None
    camera_fps: float | None = None
    camera_format: str | None = None
    #: seconds a lost camera or live stream is waited for (0: not at all)
    camera_timeout: float | None = None


def check_options(options: EnhanceOptions, kind: InputKind, output: OutputTarget | None) -> None:
    """ConfigError for an option that cannot act on this input and output (see the module docstring)."""
    if output is None and not options.show:
        raise ConfigError("give an OUTPUT (-o FILE, folder/, URL, -, virtualcam: or null:) or --show")
    encoded = output is not None and output.kind.encoded
    audio = AudioMode.of(options.audio)
    if options.fps is not None:
        if kind is InputKind.SYNTHETIC:
            raise ConfigError("--fps does not apply to the synthetic source: give its rate in the INPUT, "
                              "e.g. synthetic:1280x720@25")
        if kind is InputKind.CAMERA:
            raise ConfigError("--fps does not resample a camera: ask the camera for a rate with --camera-fps")
        if kind is InputKind.STREAM:
            raise ConfigError("--fps resamples files; a live stream keeps its own timestamps")
        if not encoded and output is not None and output.kind is not OutputKind.VIRTUALCAM:
            raise ConfigError("--fps has no effect unless the frames are written as a video, stream or pipe")
    for flag, value in (("--codec", options.codec), ("--crf", options.crf),
                        ("--encoder-preset", options.encoder_preset), ("--bitrate", options.bitrate),
                        ("--maxrate", options.maxrate), ("--bufsize", options.bufsize), ("--gop", options.gop),
                        ("--format", options.format)):
        if value is not None and not encoded:
            where = "no output" if output is None else f"{output.spec} ({output.kind.value})"
            raise ConfigError(f"{flag} acts on encoded video, and there is none: {where}")
    if options.format is not None and output is not None and output.kind is OutputKind.VIDEO:
        raise ConfigError(f"--format picks the container of a pipe or stream; {output.spec} gets its container "
                          "from its extension")
    codec = CODEC_ALIASES.get(options.codec or DEFAULT_CODEC, options.codec or DEFAULT_CODEC)
    if options.crf is not None and codec not in QUALITY_CODECS:
        raise ConfigError(f"--crf sets the quality of {' and '.join(QUALITY_CODECS)}; {codec} has no crf")
    if options.crf is not None and options.bitrate is not None:
        raise ConfigError("--crf (a quality) and --bitrate (a rate) exclude each other; give one "
                          "(--crf with --maxrate and --bufsize caps the rate of a quality)")
    if options.bufsize is not None and options.maxrate is None and options.bitrate is None:
        raise ConfigError("--bufsize sizes the buffer of --maxrate (or --bitrate): give one of them too")
    if audio is AudioMode.SILENT and not encoded:
        raise ConfigError("--audio silent adds a track to encoded video, and there is none")
    if options.decoder not in DECODERS:
        raise ConfigError(f"unknown decoder {options.decoder!r}; choose from {', '.join(DECODERS)}")
    if options.decoder == "nvdec" and kind not in (*_FILE_KINDS, InputKind.STREAM):
        raise ConfigError(f"--decoder nvdec decodes video files and streams; a {kind.value} input is not decoded by it")
    if options.compare is not None and not is_image_path(options.compare):
        raise ConfigError(f"--compare needs an image file name such as before_after.png, got {options.compare}")
    if options.pace is not None and kind.live:
        raise ConfigError(f"--{'' if options.pace else 'no-'}pace acts on files; a {kind.value} input comes at "
                          "its own pace")
    if options.pace is not None and kind in (InputKind.IMAGE,):
        raise ConfigError("--pace acts on videos and image sequences; a single photo has no pace")
    if options.live is not None and kind not in (InputKind.URL, InputKind.PIPE, InputKind.STREAM):
        flag = "--live" if options.live else "--lossless"
        raise ConfigError(f"{flag} decides how a URL or pipe is read; a {kind.value} input is "
                          f"{'live' if kind.live else 'read losslessly'} by nature")
    if options.live and kind is InputKind.STREAM:
        raise ConfigError(f"--live: a {kind.value} input is live already")
    for flag, value in (("--start", options.start), ("--duration", options.duration)):
        if value is not None and kind not in (InputKind.VIDEO, InputKind.URL):
            raise ConfigError(f"{flag} trims a video file; a {kind.value} input cannot be trimmed")
    for flag, value in (("--camera-size", options.camera_size), ("--camera-fps", options.camera_fps),
                        ("--camera-format", options.camera_format), ("--camera-timeout", options.camera_timeout)):
        if value is not None and kind is not InputKind.CAMERA and not (
                flag == "--camera-timeout" and kind is InputKind.STREAM):
            raise ConfigError(f"{flag} acts on a camera input (--camera-timeout also on live streams); "
                              f"this input is a {kind.value}")


def pace_by_default(kind: InputKind, output: OutputTarget | None, show: bool) -> bool:
    """Files are read at their own speed when someone watches the output as it is made: a stream, a
    virtual camera, or the window with no file being written. File to file goes as fast as it can."""
    if kind.live or kind is InputKind.IMAGE:
        return False
    if output is None:
        return show
    return output.kind.live


class EnhanceJob:
    """A run, opened and ready: ``info`` and ``pipeline`` tell what it will do; ``run()`` does it.

    Everything that can fail on bad input fails in the constructor, with one line, before a frame
    is read or a file is created; whatever was opened by then is closed again.
    """

    def __init__(self, input: str, spec: PipelineSpec | None = None, options: EnhanceOptions | None = None,
                 *, on_written: Callable[[FramePacket, LiveStats], None] | None = None,
                 pipeline: Pipeline | None = None) -> None:
        """``pipeline``: one built already from ``spec`` (by :func:`build_pipeline`), reused across
        runs so the refiner is loaded once (a batch worker); it is reset to start a new shot."""
        options = options or EnhanceOptions()
        spec = spec or PipelineSpec()
        target = parse_input(input)
        output = parse_output(options.output, format=options.format) if options.output else None
        check_options(options, target.kind, output)
        audio = AudioMode.of(options.audio)
        if options.compare is not None:
            from realtime.sinks.media import check_output_path

            check_output_path(options.compare, overwrite=options.overwrite, create=False)  # written at the end
        if options.show:
            from realtime.preview.window import check_display

            check_display()
        if output is not None:
            preflight(output)  # a virtual camera with no device, a protocol missing: before reading anything
        if target.kind is InputKind.STREAM:
            from realtime.protocols import require_protocol

            require_protocol(target.spec, "input")
        self.options = options
        self.output = output
        #: lines about choices made for the caller (a runtime skipped, a decoder chosen)
        self.notes: list[str] = []
        keep = bool(options.compare or options.show)  # before/after views need the frame as read
        if pipeline is not None:
            if keep:
                raise ConfigError("--compare and --show need a pipeline that keeps the original frame; "
                                  "build one for this run")
            pipeline.reset()
            self.pipeline = pipeline
        else:
            self.pipeline = build_pipeline(dataclasses.replace(spec, keep_original=keep), notify=self.notes.append)
        encoded = output is not None and output.kind.encoded
        source = display = None
        sinks: list[Sink] = []
        try:
            source = open_source(target, SourceOptions(
                max_bad_frames=options.max_bad_frames, audio=audio is AudioMode.COPY, fps=options.fps,
                frames=options.frames, decoder=options.decoder, independent_photos=not encoded, live=options.live,
                start=options.start, duration=options.duration, scale=options.scale,
                camera_size=options.camera_size, camera_fps=options.camera_fps,
                camera_format=options.camera_format, camera_timeout=options.camera_timeout,
                notify=self.notes.append))
            decoder_note = getattr(source, "decoder_note", None)
            if decoder_note and options.decoder != "software":
                self.notes.append(decoder_note)
            if target.kind is InputKind.IMAGES and encoded:
                source.check_one_size()
            pace = options.pace if options.pace is not None else (
                pace_by_default(target.kind, output, options.show) and not source.info.live)
            if pace:
                from realtime.sources.pace import Paced

                if options.pace is None:
                    why = "the window shows it" if output is None else f"{output.spec} is watched live"
                    self.notes.append(f"pacing: reading {source.info.name} at its own speed, as {why} "
                                      "(--no-pace: as fast as it goes)")
                source = Paced(source)
            self.paced = pace
            if output is not None:
                low_latency = output.kind is OutputKind.STREAM or (output.kind is OutputKind.PIPE
                                                                   and source.info.live)
                encoder = EncoderOptions(codec=options.codec or DEFAULT_CODEC, crf=options.crf,
                                         preset=options.encoder_preset, bitrate=options.bitrate,
                                         maxrate=options.maxrate, bufsize=options.bufsize, gop=options.gop,
                                         low_latency=low_latency)
                sinks.append(open_sink(output, source.info, SinkOptions(overwrite=options.overwrite,
                                                                        audio=audio, encoder=encoder,
                                                                        max_bad_packets=options.max_bad_frames)))
            if options.show:
                from realtime.preview.window import PreviewControls, Window

                pipeline = self.pipeline
                info = source.info
                display = Window(PreviewControls(lambda: pipeline.names, lambda: pipeline.enabled, pipeline.toggle),
                                 frame_size=(info.width, info.height), preset=spec.preset or "lowlight",
                                 recording=output.spec if output is not None and output.kind is not OutputKind.NULL
                                 else None, title=info.name)
        except BaseException:
            for sink in sinks:
                sink.close(failed=True)
            if source is not None:
                source.close()
            raise
        self.source, self.sinks, self.display = source, sinks, display
        self.info = source.info
        counts = [x for x in (self.info.frame_count, options.frames) if x]
        #: frames the run will write, when known (for a progress bar)
        self.total = min(counts) if counts else None
        self.compare = None
        if options.compare is not None:
            from realtime.compare import CompareCollector

            self.compare = CompareCollector(options.compare, self.total)
        self.on_written = on_written
        self.runner = Runner(source, self.pipeline, sinks, display=display, max_frames=options.frames,
                             on_written=self._written)
        self.compare_written: str | None = None

    def _written(self, packet: FramePacket, stats: LiveStats) -> None:
        if self.on_written is not None:
            self.on_written(packet, stats)
        if self.compare is not None:
            self.compare(packet, stats)

    def stop(self) -> None:
        """Graceful stop (safe from a signal handler): what was read is processed and written."""
        self.runner.stop()

    def abort(self) -> None:
        self.runner.abort()

    def run(self) -> RunReport:
        """Run to the end of the input (or a stop). A failure midway says what became of the output."""
        try:
            report = self.runner.run()
        except RealtimeError as err:
            _tell_partial(self.runner, err)
            raise
        if self.compare is not None:
            written = self.compare.write()
            self.compare_written = str(written) if written else None
        return report

    def close(self) -> None:
        """Release what was opened when :meth:`run` is never called (run closes everything itself)."""
        if not self.runner.started:
            self.source.close()
            for sink in self.sinks:
                sink.close(failed=True)
            if self.display is not None:
                self.display.close()

    def __enter__(self) -> EnhanceJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tell_partial(runner: Runner, err: RealtimeError) -> None:
    """Say what happened to the output when a run fails midway, on the error's own line (and how
    many frames a live input's queue dropped on the way: they are not in the output either)."""
    if runner.dropped:
        err.args = (f"{err.args[0] if err.args else err}; {runner.dropped} frames were dropped on the way to "
                    "keep up with the live input",)
    for rep in runner.report(0.0).sinks:
        if rep.state == "finalized" and rep.frames:
            err.args = (f"{err.args[0] if err.args else err}; {rep.target} was finalized with the "
                        f"{rep.frames} frames written before the error",)
        elif rep.state == "sent" and rep.frames:
            err.args = (f"{err.args[0] if err.args else err}; {rep.frames} frames were sent to {rep.target} "
                        "before it",)
        elif rep.state == "partial":
            err.args = (f"{err.args[0] if err.args else err}; a partial file is left at {rep.target} that plays "
                        f"{rep.playable_frames} frames",)
        elif rep.state == "removed":
            why = "it could not be finalized and would not play" if rep.frames else "no frame written"
            err.args = (f"{err.args[0] if err.args else err}; {rep.target} was removed ({why})",)


__all__ = ["EnhanceJob", "EnhanceOptions", "OutputKind", "check_options"]
