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
from realtime.runner import Runner
from realtime.sinks import EncoderOptions, Sink, SinkOptions, open_sink
from realtime.sinks.media import CODEC_ALIASES, DEFAULT_CODEC, DEFAULT_CRF, QUALITY_CODECS
from realtime.sources import SourceOptions, open_source
from realtime.sources.media import DECODERS
from realtime.stats import LiveStats, RunReport
from realtime.targets import InputKind, OutputKind, OutputTarget, is_image_path, parse_input, parse_output


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
    audio: bool = True
    overwrite: bool = False
    compare: str | None = None


def check_options(options: EnhanceOptions, kind: InputKind, output: OutputTarget | None) -> None:
    """ConfigError for an option that cannot act on this input and output (see the module docstring)."""
    if output is None and not options.show:
        raise ConfigError("give an OUTPUT (-o FILE, folder/, URL or null:) or --show")
    encoded = output is not None and output.kind.encoded
    if options.fps is not None:
        if kind is InputKind.SYNTHETIC:
            raise ConfigError("--fps does not apply to the synthetic source: give its rate in the INPUT, "
                              "e.g. synthetic:1280x720@25")
        if kind not in (InputKind.IMAGE, InputKind.IMAGES):
            raise ConfigError(f"--fps sets the frame rate of image sequences; a {kind.value} input keeps its own "
                              "timestamps (resampling is not supported)")
        if not encoded:
            raise ConfigError("--fps has no effect unless the images are written as a video or stream")
    for flag, value in (("--codec", options.codec), ("--crf", options.crf),
                        ("--encoder-preset", options.encoder_preset)):
        if value is not None and not encoded:
            where = "no output" if output is None else f"{output.spec} ({output.kind.value})"
            raise ConfigError(f"{flag} acts on encoded video, and there is none: {where}")
    codec = CODEC_ALIASES.get(options.codec or DEFAULT_CODEC, options.codec or DEFAULT_CODEC)
    if options.crf is not None and codec not in QUALITY_CODECS:
        raise ConfigError(f"--crf sets the quality of {' and '.join(QUALITY_CODECS)}; {codec} has no crf")
    if options.decoder not in DECODERS:
        raise ConfigError(f"unknown decoder {options.decoder!r}; choose from {', '.join(DECODERS)}")
    if options.decoder == "nvdec" and kind not in (InputKind.VIDEO, InputKind.STREAM):
        raise ConfigError(f"--decoder nvdec decodes video files and streams; a {kind.value} input is not decoded by it")
    if options.compare is not None and not is_image_path(options.compare):
        raise ConfigError(f"--compare needs an image file name such as before_after.png, got {options.compare}")


class EnhanceJob:
    """A run, opened and ready: ``info`` and ``pipeline`` tell what it will do; ``run()`` does it.

    Everything that can fail on bad input fails in the constructor, with one line, before a frame
    is read or a file is created; whatever was opened by then is closed again.
    """

    def __init__(self, input: str, spec: PipelineSpec | None = None, options: EnhanceOptions | None = None,
                 *, on_written: Callable[[FramePacket, LiveStats], None] | None = None) -> None:
        options = options or EnhanceOptions()
        spec = spec or PipelineSpec()
        target = parse_input(input)
        output = parse_output(options.output) if options.output else None
        check_options(options, target.kind, output)
        if options.compare is not None:
            from realtime.sinks.media import check_output_path

            check_output_path(options.compare, overwrite=options.overwrite)
        self.options = options
        self.output = output
        #: lines about choices made for the caller (a runtime skipped, a decoder chosen)
        self.notes: list[str] = []
        self.pipeline = build_pipeline(dataclasses.replace(spec, keep_original=bool(options.compare or options.show)),
                                       notify=self.notes.append)
        display = None
        if options.show:
            from realtime.preview.window import PreviewControls, Window

            pipeline = self.pipeline
            display = Window(PreviewControls(lambda: pipeline.names, lambda: pipeline.enabled, pipeline.toggle))
        encoded = output is not None and output.kind.encoded
        source = None
        sinks: list[Sink] = []
        try:
            source = open_source(target, SourceOptions(
                max_bad_frames=options.max_bad_frames, audio=options.audio, fps=options.fps, frames=options.frames,
                decoder=options.decoder, independent_photos=not encoded))
            decoder_note = getattr(source, "decoder_note", None)
            if decoder_note and options.decoder != "software":
                self.notes.append(decoder_note)
            if target.kind is InputKind.IMAGES and encoded:
                source.check_one_size()
            if output is not None:
                encoder = EncoderOptions(codec=options.codec or DEFAULT_CODEC,
                                         crf=DEFAULT_CRF if options.crf is None else options.crf,
                                         preset=options.encoder_preset)
                sinks.append(open_sink(output, source.info, SinkOptions(overwrite=options.overwrite,
                                                                        audio=options.audio, encoder=encoder)))
        except BaseException:
            if source is not None:
                source.close()
            if display is not None:
                display.close()
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
    """Say what happened to the output when a run fails midway, on the error's own line."""
    for rep in runner.report(0.0).sinks:
        if rep.state == "finalized" and rep.frames:
            err.args = (f"{err.args[0] if err.args else err}; {rep.target} was finalized with the "
                        f"{rep.frames} frames written before the error",)
        elif rep.state == "removed":
            err.args = (f"{err.args[0] if err.args else err}; {rep.target} was removed (no frame written)",)


__all__ = ["EnhanceJob", "EnhanceOptions", "OutputKind", "check_options"]
