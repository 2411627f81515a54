"""Encoded video through PyAV: files (MP4, MKV, MOV, …), network streams (UDP/SRT MPEG-TS, RTMP) and
standard output (MPEG-TS, NUT, Matroska for ``realtime enhance 0 -o - | ffplay -``).

Timestamps are the source's own (variable frame rate survives), audio packets are muxed as they
came (bit-exact, never re-encoded), and the colour tags of the input are written on the output.
Closing always flushes the encoder, so an interrupted run leaves a playable file.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import io
import os
import re
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange

from realtime.avcolor import bgr_to_frame, planes_to_frame
from realtime.errors import ConfigError, SinkError, SourceError
from realtime.frames import FramePacket, PassthroughPacket
from realtime.planes import HD_COLOR, ColorInfo, MatrixCoefficients
from realtime.sinks.base import WriteWatch
from realtime.sinks.deadline import Deadline
from realtime.sources.base import SourceInfo
from realtime.stats import SinkReport
from realtime.targets import OutputKind, OutputTarget, parse_output

DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 20
#: encoders with a constant-quality scale (``--crf``)
QUALITY_CODECS = ("libx264", "libx265")
CODEC_ALIASES = {"h264": "libx264", "hevc": "libx265", "h265": "libx265", "vp9": "libvpx-vp9"}
# mp4/mov: index first so a file plays while downloading. Matroska: by default FFmpeg shifts every
# timestamp so the first audio packet (AAC priming, slightly negative) starts at 0, which moves
# the video too; Matroska can store the negative time, so keep the input's times as they are.
_CONTAINER_OPTIONS = {
    "mp4": {"movflags": "+faststart"},
    "mov": {"movflags": "+faststart"},
    "matroska": {"avoid_negative_ts": "disabled"},
    "webm": {"avoid_negative_ts": "disabled"},
}
# Non-seekable outputs (a pipe, a stream) cannot have an MP4 index written at the end: fragments.
_UNSEEKABLE_OPTIONS = {"mp4": {"movflags": "frag_keyframe+empty_moov+default_base_moof"}}
# A recording from a live source can end in a crash, a kill or a power cut, which leave an
# ordinary MP4 without its index (no player opens it). Fragmented, each fragment carries its own
# index: what was written before the kill plays, up to about a second before it.
_CRASH_SAFE_OPTIONS = {fmt: {**_UNSEEKABLE_OPTIONS["mp4"], "frag_duration": "1000000"} for fmt in ("mp4", "mov")}
#: Seconds a network write may wait for its peer (which may accept the connection and never read).
WRITE_TIMEOUT_S = 5.0
#: Seconds the first write to a network output may take: it connects and sends the header (an RTMP
#: server's handshake and publish answers), and a server that accepts and never answers blocks it.
OPEN_TIMEOUT_S = 10.0
#: Seconds a connected stream's trailer may take to go out when the output is closed.
TRAILER_TIMEOUT_S = 8.0
#: TCP outputs time out in FFmpeg, which fails the write cleanly; the runner's watch is the backstop.
_WATCH_MARGIN_S = 5.0
# Audio packets waiting for the video stream to exist (the header is written on the first frame).
MAX_EARLY_AUDIO = 4096
#: the silent track of ``--audio silent``: what streaming services accept everywhere
SILENT_RATE = 48_000
SILENT_CODECS = {"webm": "libopus"}  # everything else gets AAC


class AudioMode(enum.Enum):
    """What becomes of audio: the input's packets copied bit-exact, none, or a silent track (streaming
    services such as YouTube Live refuse a stream without audio, and cameras have none)."""

    COPY = "copy"
    NONE = "none"
    SILENT = "silent"

    @classmethod
    def of(cls, value: AudioMode | str | bool) -> AudioMode:
        if isinstance(value, AudioMode):
            return value
        if isinstance(value, bool):
            return cls.COPY if value else cls.NONE
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"audio must be one of {', '.join(m.value for m in cls)}, not {value!r}") from None


@dataclass(frozen=True, slots=True)
class EncoderOptions:
    """How to encode video. ``preset`` None picks superfast for files, ultrafast+zerolatency when
    ``low_latency`` (live outputs)."""

    codec: str = DEFAULT_CODEC
    #: None: DEFAULT_CRF unless a bitrate is given (a bitrate target and a quality target exclude each other)
    crf: int | None = None
    preset: str | None = None
    bitrate: int | None = None  # bits/s target (FFmpeg -b:v)
    maxrate: int | None = None  # bits/s cap (FFmpeg -maxrate; with crf, a capped quality)
    bufsize: int | None = None  # bits of the rate control's buffer (FFmpeg -bufsize)
    gop: int | None = None  # frames between keyframes; None: 2 s of frames
    gop_seconds: float = 2.0
    low_latency: bool = False  # x264 tune zerolatency and ultrafast (streams, live pipes)


def container_format(target: str) -> str:
    """The FFmpeg muxer for OUTPUT, from its URL scheme or file extension (see :mod:`realtime.targets`)."""
    muxer = parse_output(target).muxer
    if muxer is None:
        raise SinkError(f"{target} is not a video file or stream")
    return muxer


#: Encoders that need hardware (and its driver) besides being compiled into FFmpeg: opened once
#: on a throwaway context before anything is written, so a missing GPU is a clear error up front.
HARDWARE_ENCODERS = ("h264_nvenc", "hevc_nvenc", "av1_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox")
#: ``--codec auto``: NVENC where it opens, else x264.
AUTO_ENCODERS = ("h264_nvenc", "libx264")


def encoder_unavailable(name: str, width: int, height: int, pix_fmt: str) -> str | None:
    """None when the encoder opens on this machine; else FFmpeg's reason, in one line."""
    try:
        cc = av.CodecContext.create(name, "w")
        cc.width, cc.height, cc.pix_fmt = width, height, pix_fmt
        cc.time_base = Fraction(1, 30)
        cc.framerate = Fraction(30)
        cc.open()
    except (av.error.FFmpegError, ValueError, OSError) as e:
        return " ".join(str(getattr(e, "strerror", None) or e).split())
    return None


def resolve_codec(name: str) -> av.Codec:
    name = CODEC_ALIASES.get(name, name)
    try:
        codec = av.Codec(name, "w")
    except (av.error.FFmpegError, ValueError) as e:
        raise SinkError(f"unknown video encoder {name!r} in this PyAV build (see `realtime doctor`)") from e
    if codec.type != "video":
        raise SinkError(f"{name!r} is not a video encoder")
    return codec


# Muxers whose codec tables FFmpeg can be asked about; for the rest (MPEG-TS, RTP, RTSP) the
# answer is incomplete (MPEG-TS "cannot hold" H.264, its most common payload), so it is not asked.
_CODEC_TABLES = {"mp4", "mov", "matroska", "webm", "flv", "avi", "nut"}


def _supported_codecs(fmt: str) -> set[str] | None:
    """Codec names the muxer can hold, or None when FFmpeg/PyAV cannot say reliably."""
    if fmt not in _CODEC_TABLES:
        return None
    try:
        with av.open(io.BytesIO(), mode="w", format=fmt) as probe:
            return set(probe.supported_codecs)
    except (AttributeError, av.error.FFmpegError, ValueError):
        return None


def _tcp_timeout_us(url: str) -> int | None:
    """The socket timeout a TCP output URL sets itself (``?timeout=`` in µs), or None."""
    own = re.search(r"[?&]timeout=(-?\d+)", url)
    return int(own.group(1)) if own else None


def _with_write_timeout(url: str) -> str:
    """A TCP output URL with FFmpeg's socket I/O timeout, unless the user set one: a peer that
    accepts the connection and never reads would otherwise block the run forever (and PyAV's
    ``timeout`` covers reads, not writes). UDP never blocks on its peer; other protocols keep
    their own settings."""
    if not url.startswith("tcp://") or _tcp_timeout_us(url) is not None:
        return url
    return f"{url}{'&' if '?' in url else '?'}timeout={int(WRITE_TIMEOUT_S * 1e6)}"


def _write_watch(out: OutputTarget) -> WriteWatch | None:
    """How long this output's writes may block (see :class:`WriteWatch`). Files: no watch, they
    must be finalized however long the disk takes. A pipe's reader may pause as long as it likes,
    but after a stop the run does not wait on it forever. A network output gets WRITE_TIMEOUT_S,
    or for TCP FFmpeg's own timeout (the user's, if the URL sets one) plus a margin."""
    if out.kind is OutputKind.VIDEO:
        return None
    if out.kind is OutputKind.PIPE:
        return WriteWatch(limit_s=None, first_limit_s=None)
    limit: float | None = WRITE_TIMEOUT_S
    if out.spec.startswith("tcp://"):
        micros = _tcp_timeout_us(out.spec)
        micros = int(WRITE_TIMEOUT_S * 1e6) if micros is None else micros
        limit = None if micros < 0 else micros / 1e6 + _WATCH_MARGIN_S
    return WriteWatch(limit_s=limit, first_limit_s=None if limit is None else max(limit, OPEN_TIMEOUT_S))


def check_compatible(fmt: str, codec: av.Codec, audio_streams: list, target: str) -> None:
    """Fail before any file is created when the container cannot hold the streams."""
    supported = _supported_codecs(fmt)
    if supported is None:
        return
    if codec.canonical_name not in supported:
        raise SinkError(
            f"{target}: the {fmt} format cannot hold {codec.canonical_name} video ({codec.name}); "
            "pick another --codec or extension"
        )
    for stream in audio_streams:
        name = stream.codec_context.name
        if name not in supported:
            raise SinkError(
                f"{target}: the {fmt} format cannot hold the input's {name} audio; "
                "use .mkv, or drop audio with --no-audio"
            )


def check_output_path(target: str, *, overwrite: bool, create: bool = True) -> None:
    """Missing folders, unwritable folders and accidental overwrites, caught before any work.

    ``create`` makes the (empty) file now, so an unwritable place fails before any work; an output
    written only at the end of a run (``--compare``) is not created, so a run that fails before
    then leaves nothing behind. A FIFO is opened without blocking: with no reader that fails at
    once instead of waiting forever.
    """
    path = Path(target)
    if path.exists() and stat.S_ISFIFO(path.stat().st_mode):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as e:
            if e.errno == errno.ENXIO:
                raise SinkError(f"output {target} is a FIFO with no reader: start the reader first") from e
            raise SinkError(f"cannot open {target}: {e.strerror}") from e
        return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SinkError(f"output folder does not exist: {parent}")
    if path.is_dir():
        raise SinkError(f"output {target} is a folder; give a file name such as {target.rstrip('/')}/out.mp4")
    if path.is_symlink():  # writing through it would fill whatever file it points to
        if not overwrite:
            raise SinkError(f"output {target} is a symbolic link (use --overwrite to replace the link, never what "
                            "it points to)")
        if create:
            path.unlink()
    if path.exists() and not overwrite:
        raise SinkError(f"output exists: {target} (use --overwrite to replace it)")
    if not os.access(parent, os.W_OK):
        raise SinkError(f"output folder is not writable: {parent}")
    if not create:
        return
    # FFmpeg opens the file only when the header is written, i.e. after the first frame has been
    # processed; create it now so an unwritable place fails before any work.
    try:
        with path.open("ab"):
            pass
    except OSError as e:
        raise SinkError(f"cannot create {target}: {e.strerror}") from e


def _pick_pix_fmt(codec: av.Codec, info: SourceInfo) -> tuple[str, str | None]:
    """Keep the input's chroma layout where the encoder allows; 4:2:0 needs even sizes."""
    formats = {f.name for f in (codec.video_formats or [])}
    wanted = info.pix_fmt or "yuv420p"
    wanted = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p"}.get(wanted, wanted)
    if wanted not in ("yuv420p", "yuv422p", "yuv444p"):
        wanted = "yuv420p"
    note = None
    odd = info.width % 2 or info.height % 2
    if odd and wanted in ("yuv420p", "yuv422p") and "yuv444p" in formats:
        note = (
            f"{info.width}x{info.height} has an odd side, which 4:2:0 video cannot hold: encoding 4:4:4 "
            "(plays in FFmpeg/VLC/mpv; some hardware players need even sizes)"
        )
        wanted = "yuv444p"
    if formats and wanted not in formats:
        wanted = "yuv420p" if "yuv420p" in formats else sorted(formats)[0]
    return wanted, note


def output_color(info: SourceInfo) -> ColorInfo:
    """The input's own tags for video; for images and cameras (BGR, untagged) BT.709 limited range,
    the HD convention every player assumes, written out explicitly."""
    if info.kind in ("video", "stream"):
        return info.color
    return HD_COLOR


class MediaSink:
    """Encode frames with PyAV; copy audio packets (or write a silent track); flush on close."""

    def __init__(
        self,
        target: str | OutputTarget,
        info: SourceInfo,
        options: EncoderOptions | None = None,
        *,
        overwrite: bool = False,
        audio: AudioMode | str | bool = AudioMode.COPY,
        max_bad_packets: int = 25,
    ) -> None:
        out = target if isinstance(target, OutputTarget) else parse_output(target)
        #: damaged audio packets skipped before the input's audio counts as unusable (--max-bad-frames)
        self.max_bad_packets = max_bad_packets
        if out.muxer is None:
            raise SinkError(f"{out.spec} is not a video file, stream or pipe")
        self.target = target = out.spec
        self.options = options or EncoderOptions()
        self._info = info
        # a stream or a pipe: nothing to check or remove on disk, and nothing can be seeked back to
        self._stream_out = out.kind is not OutputKind.VIDEO
        self._pipe = out.kind is OutputKind.PIPE
        self._fmt = out.muxer
        self._report = SinkReport(target=target, state="nothing written")
        #: read by the runner: a write to a stream blocked past its limit ends the run (not a hang)
        self.watch = _write_watch(out)
        #: a network output with a connection (not UDP/RTP datagrams): its peer can stop answering
        self._connected = out.kind is OutputKind.STREAM and not target.startswith(("udp:", "rtp:"))
        self._write_failed = False  # a mux or the trailer failed: what is on disk must be judged
        self._codec = self._choose_codec(info)
        mode = AudioMode.of(audio)
        audio_in = list(info.audio_streams) if mode is AudioMode.COPY else []
        check_compatible(self._fmt, self._codec, audio_in, target)
        if not self._stream_out:
            check_output_path(target, overwrite=overwrite)
        self._pix_fmt, note = _pick_pix_fmt(self._codec, info)
        if note:
            self._report.notes.append(note)
        try:
            container_options = dict(_CONTAINER_OPTIONS.get(self._fmt, {}))
            if self._stream_out:
                container_options.update(_UNSEEKABLE_OPTIONS.get(self._fmt, {}))
            elif info.live and self._fmt in _CRASH_SAFE_OPTIONS:
                container_options.update(_CRASH_SAFE_OPTIONS[self._fmt])
                self._report.notes.append(f"recording a live source: {target} is a fragmented MP4, so a crash or "
                                          "a kill leaves a file that plays up to about a second before it")
            # FFmpeg's pipe protocol writes file descriptor 1 itself: no Python in the way of each packet
            self._container = av.open("pipe:1" if self._pipe else _with_write_timeout(target), mode="w",
                                      format=self._fmt,
                                      options=container_options,
                                      timeout=10.0 if self._stream_out and not self._pipe else None)
        except PermissionError as e:
            raise SinkError(f"cannot create {target}: permission denied") from e
        except (av.error.FFmpegError, OSError) as e:
            raise SinkError(f"cannot open output {target}: {getattr(e, 'strerror', None) or e}") from e
        # Every stream is added now, while the input's audio streams (the templates) are surely
        # open: the source closes its container as soon as it has read everything.
        try:
            self._video = self._add_video(info)
            self._audio_out = {src.index: self._container.add_stream_from_template(src) for src in audio_in}
            self._silent = self._add_silence() if mode is AudioMode.SILENT else None
        except (av.error.FFmpegError, ValueError) as e:
            self._container.close()
            self._remove_file()
            raise SinkError(f"cannot set up the streams of {target}: {e}") from e
        self._early_audio: deque[PassthroughPacket] = deque()
        self._started = False
        self._last_pts: int | None = None
        self._pts_offset = 0  # added to every frame's time since a jump back (see write)
        self._silent_samples = 0  # samples of silence written so far

    def _add_silence(self) -> av.AudioStream:
        name = SILENT_CODECS.get(self._fmt, "aac")
        try:
            stream = self._container.add_stream(name, rate=SILENT_RATE)
        except (av.error.FFmpegError, ValueError) as e:
            raise SinkError(f"cannot add a silent {name} track to {self.target}: {e}") from e
        stream.layout = "stereo"
        stream.time_base = Fraction(1, SILENT_RATE)
        return stream

    def _write_silence(self, until_s: float) -> None:
        """Silent audio frames up to ``until_s`` seconds, so the track keeps pace with the video."""
        stream = self._silent
        assert stream is not None
        cc = stream.codec_context
        size = cc.frame_size or 1024
        fmt = cc.format.name if cc.format else "fltp"
        layout = cc.layout.name if cc.layout else "stereo"
        channels = cc.layout.nb_channels if cc.layout else 2
        while self._silent_samples / SILENT_RATE < until_s:
            planar = fmt.endswith("p")
            dtype = {"flt": np.float32, "s16": np.int16, "s32": np.int32, "dbl": np.float64}[fmt.rstrip("p")]
            zeros = np.zeros((channels, size) if planar else (1, size * channels), dtype)
            frame = av.AudioFrame.from_ndarray(zeros, format=fmt, layout=layout)
            frame.sample_rate = SILENT_RATE
            frame.pts = self._silent_samples
            frame.time_base = Fraction(1, SILENT_RATE)
            self._silent_samples += size
            self._mux(stream.encode(frame))

    def _choose_codec(self, info: SourceInfo) -> av.Codec:
        """The encoder: ``auto`` tries NVENC then x264 and says which; a hardware encoder named
        explicitly must open here, or the run stops before anything is written."""
        name = CODEC_ALIASES.get(self.options.codec, self.options.codec)
        if name == "auto":
            reasons = []
            for candidate in AUTO_ENCODERS:
                codec = resolve_codec(candidate)
                why = (encoder_unavailable(candidate, info.width, info.height, "yuv420p")
                       if candidate in HARDWARE_ENCODERS else None)
                if why is None:
                    skipped = f" ({'; '.join(reasons)})" if reasons else ""
                    self._report.notes.append(f"encoder: {candidate} chosen by --codec auto{skipped}")
                    return codec
                reasons.append(f"{candidate} unavailable: {why}")
            raise SinkError(f"no encoder for --codec auto: {'; '.join(reasons)}")
        codec = resolve_codec(name)
        if codec.name in HARDWARE_ENCODERS:
            why = encoder_unavailable(codec.name, info.width, info.height, "yuv420p")
            if why is not None:
                raise SinkError(f"encoder {codec.name} cannot be opened on this machine ({why}): it needs its GPU "
                                "and driver (NVENC: an NVIDIA GPU with a video encoder); use --codec libx264 or auto")
        return codec

    def _add_video(self, info: SourceInfo) -> av.VideoStream:
        rate = info.fps or Fraction(25)
        tb = info.time_base or 1 / rate
        stream = self._container.add_stream(self._codec.name, rate=rate)
        cc = stream.codec_context
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = self._pix_fmt
        stream.time_base = tb
        cc.time_base = tb
        cc.framerate = rate
        cc.gop_size = self.options.gop or max(1, round(float(rate) * self.options.gop_seconds))
        if self.options.bitrate:
            cc.bit_rate = self.options.bitrate
        cc.options = self._encoder_options()
        return stream

    def _start(self) -> None:
        """Colour tags are final once the source has decoded its first frame, i.e. now."""
        cc = self._video.codec_context
        color = self._color = output_color(self._info)
        if color.range in (ColorRange.MPEG, ColorRange.JPEG):
            cc.color_range = color.range
        # code 0 is RGB for the matrix and reserved for primaries and transfer: none is a tag to write
        for attr, value in (("colorspace", color.space), ("color_primaries", color.primaries),
                            ("color_trc", color.trc)):
            if value not in (0, MatrixCoefficients.UNSPECIFIED):  # every UNSPECIFIED is FFmpeg's 2
                setattr(cc, attr, value)
        self._started = True

    def _encoder_options(self) -> dict[str, str]:
        """The encoder's options; maxrate and bufsize are FFmpeg's generic ones, which every encoder
        with rate control reads (x264 turns them into its VBV)."""
        o = self.options
        opts: dict[str, str] = {}
        name = self._codec.name
        if name in QUALITY_CODECS:
            # superfast keeps a 2-core machine above 30 fps at 720p while it also enhances (veryfast: ~20 fps)
            opts["preset"] = o.preset or ("ultrafast" if o.low_latency else "superfast")
            if o.bitrate is None:
                opts["crf"] = str(DEFAULT_CRF if o.crf is None else o.crf)
            if o.low_latency:
                opts["tune"] = "zerolatency"
        elif o.preset:
            opts["preset"] = o.preset
        if o.bitrate:
            opts["b"] = str(o.bitrate)
        if o.maxrate:
            opts["maxrate"] = str(o.maxrate)
        if o.bufsize:
            opts["bufsize"] = str(o.bufsize)
        return opts

    # -- writing ------------------------------------------------------------------------------
    def write(self, packet: FramePacket) -> None:
        if not self._started:
            self._start()
        h, w = packet.size
        if (w, h) != (self._video.width, self._video.height):
            raise SinkError(
                f"frame {packet.index} is {w}x{h} but the video is {self._video.width}x{self._video.height}; "
                "a video needs one size (write to a folder instead)"
            )
        if packet.planes is not None:
            frame = planes_to_frame(packet.planes, self._pix_fmt, self._color)
        else:
            frame = bgr_to_frame(packet.image, self._pix_fmt, self._color)
        tb = self._video.codec_context.time_base
        # The packet's time is in its own time base (a raw H.264 stream has none of its own, so the
        # source numbers its frames at 1/fps while the stream's time base is 1/1200000): rescaled.
        if packet.pts is not None:
            pts = packet.pts if not packet.time_base or packet.time_base == tb else \
                round(packet.pts * packet.time_base / tb)
        else:
            step = 1 / self._video.codec_context.framerate if self._video.codec_context.framerate else tb
            pts = round(packet.index * step / tb)
        pts += self._pts_offset
        if self._last_pts is not None and pts <= self._last_pts:
            # Encoders need increasing times. A live clock can repeat a millisecond, and a damaged
            # file can jump back (a garbage first timestamp, a wrapped clock): the frames from here
            # on are shifted to continue just after the last one, keeping their own spacing, where
            # pinning each to "last + 1" squashed the rest of a file into a few milliseconds.
            self._pts_offset += self._last_pts + 1 - pts
            pts = self._last_pts + 1
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = tb
        self._mux(self._video.encode(frame))
        if self._silent is not None:
            self._write_silence(float((pts + 1) * frame.time_base))
        self._report.frames += 1
        self._report.state = "sent" if self._stream_out else "finalized"  # a stream is not a file
        while self._early_audio:
            self._mux_audio(self._early_audio.popleft())

    def write_passthrough(self, packet: PassthroughPacket) -> None:
        if packet.stream_index not in self._audio_out:
            return
        # Muxing starts the file (header, encoder settings): not before the first video frame.
        if not self._report.frames:
            if len(self._early_audio) >= MAX_EARLY_AUDIO:
                raise SinkError("too much audio before the first video frame to buffer")
            self._early_audio.append(packet)
            return
        self._mux_audio(packet)

    def _mux_audio(self, packet: PassthroughPacket) -> None:
        """Copy one audio packet. One the muxer refuses as invalid data (a damaged ADTS header in an
        MPEG-TS, say) was damaged in the input: it is skipped and counted, as a bad video frame is,
        and the run goes on; the output is not to blame."""
        pkt = packet.packet
        pkt.stream = self._audio_out[packet.stream_index]
        try:
            with self._writing():
                self._container.mux(pkt)
        except av.error.InvalidDataError:
            self._report.damaged_audio_packets += 1
            if self._report.damaged_audio_packets > self.max_bad_packets:
                raise SourceError(f"{self._report.damaged_audio_packets} damaged audio packets in the input, "
                                  f"more than --max-bad-frames {self.max_bad_packets} (--no-audio drops its audio)"
                                  ) from None
            return
        except (av.error.FFmpegError, OSError) as e:
            self._mux_failed(e)
        self._report.passthrough_packets += 1

    def _mux(self, packets) -> None:
        try:
            for p in packets:
                with self._writing():
                    self._container.mux(p)
        except (av.error.FFmpegError, OSError) as e:
            self._mux_failed(e)

    def _writing(self, *, closing: bool = False) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if self.watch is None else self._watched(closing)

    @contextlib.contextmanager
    def _watched(self, closing: bool) -> Iterator[None]:
        """A write on the runner's clock; the connection's opening (the first write) and the trailer
        hold the GIL in PyAV, so for a connected stream those are also on the watchdog outside the
        interpreter (:mod:`realtime.sinks.deadline`). So is a pipe's last flush after a stop (its
        reader may have stopped reading; at a normal end a slow reader is waited for)."""
        assert self.watch is not None
        guard = (self._connected and (closing or self.watch.writes == 0)) or (closing and self.watch.stopped)
        if guard:
            if closing:
                Deadline.arm(TRAILER_TIMEOUT_S, f"closing {self._what()} timed out: it accepted no data for "
                             f"{TRAILER_TIMEOUT_S:.0f} s, after {self._report.frames} frames were sent; the "
                             "process was ended by its watchdog")
            else:
                Deadline.arm(OPEN_TIMEOUT_S + 2, f"{self._no_answer(OPEN_TIMEOUT_S + 2)}; the process was ended "
                             "by its watchdog")
        try:
            with self.watch.writing():
                yield
        finally:
            if guard:
                Deadline.disarm()

    def write_timed_out(self, blocked_s: float) -> SinkError:
        """The error for a write the runner gave up on (see :class:`WriteWatch`)."""
        if self._report.frames == 0 and not self._pipe:
            return SinkError(self._no_answer(blocked_s))
        return SinkError(f"writing {self._what()} timed out: it accepted no data for {blocked_s:.0f} s")

    def _no_answer(self, seconds: float) -> str:
        return (f"cannot open output {self.target}: no answer in {seconds:.0f} s (is a server there, "
                "accepting the stream?)")

    def abandon(self) -> SinkReport:
        """The report of an output whose write is blocked for good, without touching the container
        (the blocked writer thread is inside it): what was sent is what it got."""
        self._report.notes.append(f"{self._what()} stopped accepting data: the frames after the "
                                  f"{self._report.frames} sent were dropped")
        return self._report

    def _mux_failed(self, e: Exception) -> None:
        self._write_failed = True
        if isinstance(e, BrokenPipeError):
            raise SinkError(f"{self._what()} was closed by its reader (broken pipe) after "
                            f"{self._report.frames} frames") from e
        raise SinkError(f"writing {self._what()} failed: {getattr(e, 'strerror', None) or e}") from e

    def _what(self) -> str:
        return "standard output" if self._pipe else self.target

    def close(self, *, failed: bool = False) -> SinkReport:
        """Flush the encoder and finalize; a file that got no frame is removed, not left empty.

        When writing or finalizing failed (a full disk, say) the file is what it is: it is probed,
        and kept as ``partial`` if it plays (Matroska and MPEG-TS play up to where they stop), or
        removed if it does not (an MP4 without its index). The report says which.
        """
        problem: Exception | None = None
        try:
            if self._started:
                self._mux(self._video.encode(None))
                if self._silent is not None:
                    self._mux(self._silent.encode(None))
        except SinkError as e:
            problem = e
        finally:
            try:
                with self._writing(closing=True):
                    self._container.close()
            except (av.error.FFmpegError, OSError) as e:
                problem = problem or e
                self._write_failed = True
        if not self._stream_out and self._report.frames and self._write_failed:
            self._judge_partial()
        elif self._report.frames == 0 and not self._stream_out:
            self._remove_file()
        if problem is not None and not failed:
            what = (f"a partial file is left at {self.target} that plays {self._report.playable_frames} frames"
                    if self._report.state == "partial" else f"{self.target} was removed (it would not play)")
            raise SinkError(f"finalizing {self.target} failed: {getattr(problem, 'strerror', None) or problem}; "
                            f"{what}") from problem
        return self._report

    def _judge_partial(self) -> None:
        """Keep a file that could not be finished if it plays, with the frames it plays; else remove it."""
        frames = 0
        try:
            with av.open(self.target, metadata_errors="replace") as probe:
                if probe.streams.video:
                    frames = sum(1 for p in probe.demux(probe.streams.video[0]) if p.size)
        except (av.error.FFmpegError, OSError, ValueError):
            frames = 0
        if frames:
            self._report.state = "partial"
            self._report.playable_frames = frames
        else:
            self._remove_file()

    def _remove_file(self) -> None:
        try:
            os.remove(self.target)
            self._report.state = "removed"
        except OSError:
            pass
