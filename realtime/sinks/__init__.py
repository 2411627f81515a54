"""Sinks: turn the OUTPUT argument into something frames can be written to.

| OUTPUT                                   | sink                                         |
|------------------------------------------|----------------------------------------------|
| ``out.mp4``, ``out.mkv``, ``out.mov`` …  | encoded video (H.264 by default), audio copied |
| ``udp://host:port``, ``srt://…``         | MPEG-TS stream                               |
| ``rtmp://server/app/key``                | FLV stream                                   |
| ``out.png``, ``out.jpg`` …               | one image (the input must be one image)      |
| ``folder/`` (or an existing folder)      | one image per frame, input names kept        |
| ``null:``                                | discard (benchmarks)                         |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from realtime.errors import ConfigError, SinkError
from realtime.sinks.base import Sink, SinkReport
from realtime.sinks.media import EncoderOptions, is_stream_url
from realtime.sources.base import SourceInfo

__all__ = ["EncoderOptions", "Sink", "SinkOptions", "SinkReport", "open_sink"]


@dataclass(frozen=True, slots=True)
class SinkOptions:
    overwrite: bool = False
    audio: bool = True
    encoder: EncoderOptions = field(default_factory=EncoderOptions)


def _is_folder_target(target: str) -> bool:
    return target.endswith(("/", os.sep)) or os.path.isdir(target) or not Path(target).suffix


def open_sink(target: str, info: SourceInfo, options: SinkOptions | None = None) -> Sink:
    """Open OUTPUT for frames shaped like ``info``, or raise ``SinkError``/``ConfigError`` first."""
    from realtime.sinks.images import ImageFileSink, ImageFolderSink
    from realtime.sinks.media import MediaSink
    from realtime.sinks.null import NullSink
    from realtime.sources.images import is_image_path

    opts = options or SinkOptions()
    if target in ("null", "null:"):
        return NullSink()
    if is_stream_url(target):
        return MediaSink(target, info, opts.encoder, audio=opts.audio)
    if os.path.exists(info.name) and os.path.exists(target) and os.path.samefile(info.name, target):
        raise SinkError(f"output {target} is the input; choose another name")
    if _is_folder_target(target):
        parent = Path(target.rstrip("/" + os.sep) or ".").parent
        if not parent.is_dir():
            raise SinkError(f"output folder does not exist: {parent}")
        return ImageFolderSink(target, default_ext=".png")
    if is_image_path(target):
        if info.kind != "image":
            raise ConfigError(
                f"{target} is a single image but the input is a {info.kind}; give a folder as OUTPUT "
                "to write one image per frame, or a video file"
            )
        from realtime.sinks.media import check_output_path

        check_output_path(target, overwrite=opts.overwrite)
        return ImageFileSink(target)
    return MediaSink(target, info, opts.encoder, overwrite=opts.overwrite, audio=opts.audio)
