"""Sinks: an OUTPUT (see :mod:`realtime.targets` for what each string means) opened for writing frames."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from realtime.errors import ConfigError, SinkError
from realtime.sinks.base import Sink, SinkReport
from realtime.sinks.media import AudioMode, EncoderOptions
from realtime.sources.base import SourceInfo
from realtime.targets import OutputKind, OutputTarget, parse_output

__all__ = ["AudioMode", "EncoderOptions", "Sink", "SinkOptions", "SinkReport", "open_sink", "preflight"]


@dataclass(frozen=True, slots=True)
class SinkOptions:
    overwrite: bool = False
    audio: AudioMode = AudioMode.COPY
    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    #: damaged input packets (audio copied as is) a sink skips before it stops (--max-bad-frames)
    max_bad_packets: int = 25
    #: frames a second the output is fed at (a virtual camera announces it); None: the source's
    fps: float | None = None


def preflight(target: OutputTarget) -> None:
    """What can be known about OUTPUT before the input is opened: a virtual camera with no device, a
    stream protocol this PyAV build lacks. One line each, before anything is read."""
    if target.kind is OutputKind.VIRTUALCAM:
        from realtime.sinks.virtualcam import preflight as virtualcam_preflight

        virtualcam_preflight(target.device)
    if target.kind is OutputKind.STREAM:
        from realtime.protocols import require_protocol

        require_protocol(target.spec, "output")


def open_sink(target: str | OutputTarget, info: SourceInfo, options: SinkOptions | None = None) -> Sink:
    """Open OUTPUT for frames shaped like ``info``, or raise ``SinkError``/``ConfigError`` first."""
    from realtime.sinks.images import ImageFileSink, ImageFolderSink
    from realtime.sinks.media import MediaSink, check_output_path
    from realtime.sinks.null import NullSink

    out = target if isinstance(target, OutputTarget) else parse_output(target)
    opts = options or SinkOptions()
    spec = out.spec
    if out.kind is OutputKind.NULL:
        return NullSink()
    if out.kind in (OutputKind.STREAM, OutputKind.PIPE):
        return MediaSink(out, info, opts.encoder, audio=opts.audio, max_bad_packets=opts.max_bad_packets)
    if out.kind is OutputKind.VIRTUALCAM:
        from realtime.sinks.virtualcam import VirtualCameraSink

        return VirtualCameraSink(out.device, info, fps=opts.fps)
    if os.path.exists(info.name) and os.path.exists(spec) and os.path.samefile(info.name, spec):
        raise SinkError(f"output {spec} is the input; choose another name")
    if out.kind is OutputKind.FOLDER:
        folder = str(Path(out.pattern).parent) if out.pattern else spec
        parent = Path(folder.rstrip("/" + os.sep) or ".").parent
        if not parent.is_dir():
            raise SinkError(f"output folder does not exist: {parent}")
        return ImageFolderSink(folder, default_ext=".png", pattern=out.pattern, overwrite=opts.overwrite)
    if out.kind is OutputKind.IMAGE:
        if info.kind != "image":
            raise ConfigError(
                f"{spec} is a single image but the input is a {info.kind}; give a folder as OUTPUT "
                "to write one image per frame, or a video file"
            )
        check_output_path(spec, overwrite=opts.overwrite)
        return ImageFileSink(spec)
    return MediaSink(out, info, opts.encoder, overwrite=opts.overwrite, audio=opts.audio,
                     max_bad_packets=opts.max_bad_packets)
