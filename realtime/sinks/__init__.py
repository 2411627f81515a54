"""Sinks: an OUTPUT (see :mod:`realtime.targets` for what each string means) opened for writing frames."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from realtime.errors import ConfigError, SinkError
from realtime.sinks.base import Sink, SinkReport
from realtime.sinks.media import EncoderOptions
from realtime.sources.base import SourceInfo
from realtime.targets import OutputKind, OutputTarget, parse_output

__all__ = ["EncoderOptions", "Sink", "SinkOptions", "SinkReport", "open_sink"]


@dataclass(frozen=True, slots=True)
class SinkOptions:
    overwrite: bool = False
    audio: bool = True
    encoder: EncoderOptions = field(default_factory=EncoderOptions)


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
    if out.kind is OutputKind.STREAM:
        return MediaSink(spec, info, opts.encoder, audio=opts.audio)
    if os.path.exists(info.name) and os.path.exists(spec) and os.path.samefile(info.name, spec):
        raise SinkError(f"output {spec} is the input; choose another name")
    if out.kind is OutputKind.FOLDER:
        parent = Path(spec.rstrip("/" + os.sep) or ".").parent
        if not parent.is_dir():
            raise SinkError(f"output folder does not exist: {parent}")
        return ImageFolderSink(spec, default_ext=".png")
    if out.kind is OutputKind.IMAGE:
        if info.kind != "image":
            raise ConfigError(
                f"{spec} is a single image but the input is a {info.kind}; give a folder as OUTPUT "
                "to write one image per frame, or a video file"
            )
        check_output_path(spec, overwrite=opts.overwrite)
        return ImageFileSink(spec)
    return MediaSink(spec, info, opts.encoder, overwrite=opts.overwrite, audio=opts.audio)
