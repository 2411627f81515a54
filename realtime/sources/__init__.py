"""Sources: an INPUT (see :mod:`realtime.targets` for what each string means) opened as an iterator of frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from realtime.sources.base import Source, SourceInfo, SourceStats
from realtime.targets import InputKind, InputTarget, parse_input

__all__ = ["Source", "SourceInfo", "SourceOptions", "SourceStats", "is_live_spec", "open_source"]

#: live inputs opened again when they are lost (a camera always; streams with a connection to lose)
RECONNECTING_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt")
#: Frame rate given to image sequences when none is asked for.
DEFAULT_IMAGE_FPS = Fraction(25)


@dataclass(frozen=True, slots=True)
class SourceOptions:
    max_bad_frames: int = 25
    audio: bool = True
    #: image sequences: their frame rate (default 25); videos: converted to it (FFmpeg's fps filter)
    fps: Fraction | None = None
    frames: int | None = None  # synthetic source length; None is endless
    decoder: str = "software"  # files and streams: software, nvdec or auto
    #: images of a folder or glob are unrelated photos (each processed with fresh state), not a
    #: sequence; a run writing them into one video turns this off
    independent_photos: bool = True
    #: a URL or pipe read as live (True) or losslessly (False); None: guessed when it is opened
    live: bool | None = None
    start: float | None = None  # files: seconds to skip (FFmpeg's input -ss)
    duration: float | None = None  # files: seconds to read (-t)
    scale: tuple[int, int] | None = None  # every frame resized on the grabber thread; -1 keeps the aspect
    camera_size: tuple[int, int] | None = None
    camera_fps: float | None = None
    camera_format: str | None = None  # a V4L2 fourcc such as MJPG or YUYV
    #: seconds a lost camera or live stream is waited for before the run fails (0: not at all)
    camera_timeout: float | None = None
    #: where lines about choices made and events (a guess, a reconnect) go
    notify: Callable[[str], None] | None = None


def is_live_spec(spec: str) -> bool:
    """True for the INPUTs opened as live sources: cameras, the paced synthetic scene and URLs."""
    return parse_input(spec).kind.live


def open_source(spec: str | InputTarget, options: SourceOptions | None = None) -> Source:
    """Open INPUT as the right kind of source, or raise ``SourceError`` with one clear line."""
    target = spec if isinstance(spec, InputTarget) else parse_input(spec)
    opts = options or SourceOptions()
    kind = target.kind
    reconnect = kind is InputKind.CAMERA or (kind is InputKind.STREAM and target.spec.split("://")[0].lower()
                                               in RECONNECTING_SCHEMES)
    if reconnect and opts.camera_timeout != 0:
        from realtime.sources.camera import camera_label
        from realtime.sources.reconnect import DEFAULT_TIMEOUT_S, Reconnecting

        what = f"camera {camera_label(target.spec)}" if kind is InputKind.CAMERA else target.spec
        source = Reconnecting(lambda: _open(target, opts), what, notify=opts.notify,
                              timeout_s=DEFAULT_TIMEOUT_S if opts.camera_timeout is None else opts.camera_timeout)
    else:
        source = _open(target, opts)
    try:
        if opts.fps is not None and kind not in (InputKind.IMAGE, InputKind.IMAGES):
            from realtime.sources.retime import Retimed

            if opts.notify is not None and source.info.fps != opts.fps:
                was = f"{float(source.info.fps):g} fps" if source.info.fps else "its own timestamps"
                opts.notify(f"--fps {float(opts.fps):g}: frames dropped or repeated to make {float(opts.fps):g} "
                            f"fps from {was}, as FFmpeg's fps filter does")
            source = Retimed(source, opts.fps)
        if opts.scale is not None:
            from realtime.sources.retime import Scaled

            source = Scaled(source, opts.scale)
    except BaseException:
        source.close()
        raise
    return source


def _open(target: InputTarget, opts: SourceOptions) -> Source:
    kind = target.kind
    if kind is InputKind.CAMERA:
        from realtime.sources.camera import CameraSource

        device = int(target.spec) if target.spec.isdigit() else target.spec
        width, height = opts.camera_size or (None, None)
        return CameraSource(device, width=width, height=height, fps=opts.camera_fps, fourcc=opts.camera_format,
                            notify=opts.notify)
    if kind is InputKind.SYNTHETIC:
        from realtime.sources.synthetic import PacedSyntheticSource

        width, height, rate = target.synthetic or (1280, 720, None)
        return PacedSyntheticSource(width=width, height=height, fps=Fraction(rate) if rate else Fraction(30),
                                    frames=opts.frames)
    if kind in (InputKind.IMAGE, InputKind.IMAGES):
        from realtime.sources.images import ImageSource

        return ImageSource(target.spec, fps=opts.fps or DEFAULT_IMAGE_FPS, max_bad_frames=opts.max_bad_frames,
                           independent=opts.independent_photos)
    from realtime.sources.media import MediaSource

    if kind is InputKind.PIPE:
        live, name, source_kind = bool(opts.live), "pipe:0", "stream" if opts.live else "video"
    elif kind is InputKind.URL:
        live, name, source_kind = opts.live, target.spec, None
    else:
        live = (kind is InputKind.STREAM) if opts.live is None else opts.live
        name, source_kind = target.spec, None if live == (kind is InputKind.STREAM) else (
            "stream" if live else "video")
    source = MediaSource(name, live=live, audio=opts.audio, max_bad_frames=opts.max_bad_frames,
                         decoder=opts.decoder, kind=source_kind, start=opts.start, duration=opts.duration)
    if source.live_note and opts.notify is not None:
        opts.notify(source.live_note)
    return source
