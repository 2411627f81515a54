"""Video files, network streams and capture devices through PyAV (FFmpeg's demuxers and decoders).

Audio is never decoded: its packets travel beside the frames, in demux order, and the writer
copies them bit-exact. Undecodable video packets are counted against a budget rather than
silently skipped or allowed to end the run on the first glitch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from realtime.avcolor import color_of, frame_to_bgr, frame_to_planes
from realtime.cores import available_cores
from realtime.errors import SourceError, SourceLost
from realtime.frames import FramePacket, PassthroughPacket
from realtime.planes import ColorInfo
from realtime.sources.base import SourceInfo, SourceStats

#: Up to this many cores, files are decoded with slice threading, one decoder thread per core
#: (see MediaSource.__init__).
SLICE_THREADING_MAX_CORES = 2
# Seconds to wait for a network peer to answer, then between packets, before giving up on a
# stream instead of hanging forever.
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
#: The smallest frame side the stages work on. Below it chroma planes have four samples or fewer,
#: which OpenCV's arithmetic takes for a scalar (a 1x1 plane comes back 4x1).
MIN_SIDE = 8


def _open_container(target: str, *, live: bool, options: dict[str, str] | None, fmt: str | None):
    try:
        return av.open(
            target,
            mode="r",
            format=fmt,
            options=options or {},
            timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S) if live else None,
            # a title tag in Latin-1 (or any bytes) must not stop a valid file from opening
            metadata_errors="replace",
        )
    except FileNotFoundError as e:
        raise SourceError(f"input not found: {target}") from e
    except av.error.InvalidDataError as e:
        raise SourceError(
            f"cannot read {target}: not a media file PyAV/FFmpeg understands, or it is damaged "
            f"(for MP4: truncated before its index) ({e.strerror})"
        ) from e
    except av.error.MemoryError as e:  # a damaged header declaring an impossible size
        raise SourceError(f"cannot open {target}: it declares more data than can be allocated (damaged?)") from e
    except av.error.FFmpegError as e:
        raise SourceError(f"cannot open {target}: {e.strerror or e}") from e
    except OSError as e:
        raise SourceError(f"cannot open {target}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:  # older PyAV, or text outside the metadata
        raise SourceError(f"cannot open {target}: text in it is not valid UTF-8 ({e.reason})") from e


#: NVDEC decoders in FFmpeg, by the stream's codec
NVDEC = {"h264": "h264_cuvid", "hevc": "hevc_cuvid", "av1": "av1_cuvid", "vp9": "vp9_cuvid",
         "mpeg2video": "mpeg2_cuvid", "mpeg4": "mpeg4_cuvid", "vc1": "vc1_cuvid", "mjpeg": "mjpeg_cuvid"}
DECODERS = ("software", "nvdec", "auto")


def _nvdec_context(stream: av.VideoStream) -> tuple[av.CodecContext | None, str]:
    """An opened NVDEC decoder for ``stream``, or (None, why not)."""
    name = NVDEC.get(stream.codec_context.name)
    if name is None:
        return None, f"NVDEC has no decoder for {stream.codec_context.name}"
    if name not in av.codecs_available:
        return None, f"this PyAV build has no {name}"
    try:
        ctx = av.CodecContext.create(name, "r")
        ctx.extradata = stream.codec_context.extradata
        ctx.open()
    except (av.error.FFmpegError, ValueError, OSError) as e:
        return None, f"{name} does not open: {' '.join(str(getattr(e, 'strerror', None) or e).split())}"
    return ctx, name


def presentation_times(target: str) -> tuple[list[float], float]:
    """Every video frame's presentation time (s, from the first frame) and the end of the last one.

    From the packets alone (demuxed, never decoded), so a file's moments can be mapped to frame
    numbers before a run, variable frame rate included. A frame the decoder later fails on still
    has a time here, so with damaged frames the mapping is off by those frames.
    """
    container = _open_container(target, live=False, options=None, fmt=None)
    try:
        if not container.streams.video:
            raise SourceError(f"no video stream in {target}")
        video = container.streams.video[0]
        tb = video.time_base
        stamps: list[tuple[int, int]] = []  # (pts, duration)
        try:
            for packet in container.demux(video):
                if packet.pts is not None and packet.size > 0:
                    stamps.append((packet.pts, packet.duration or 0))
        except av.error.FFmpegError as e:
            raise SourceError(f"input is damaged or truncated: {e.strerror or e}") from e
    finally:
        container.close()
    if not stamps or tb is None:
        return [], 0.0
    stamps.sort()
    times = [float((p - stamps[0][0]) * tb) for p, _ in stamps]
    last = stamps[-1][1]
    step = float(last * tb) if last else (times[-1] - times[-2] if len(times) > 1 else 0.0)
    return times, times[-1] + step


@dataclass(slots=True)
class _Trim:
    """``--start``/``--duration`` on a file (FFmpeg's input ``-ss``/``-t``): frame-exact video, audio to
    the packet.

    The demuxer seeks to the keyframe at or before the start, and the frames decoded from there up
    to the start are discarded, so the first frame written is the one shown at the start (as
    FFmpeg's accurate seek does), not the keyframe before it. Timestamps are moved so the start is
    at 0; audio packets are moved by the same time, so the two stay in sync, and are kept whole:
    the first one starting at or after the start and the last one starting before the end.
    """

    begin: int  # video pts of the start (the stream's time base)
    end: int | None  # video pts of the end; None: to the end of the file
    tb: Fraction  # the video stream's time base
    start_s: float
    shift: bool  # timestamps moved so the start is at 0 (with --start; --duration alone keeps them)
    done: bool = False

    @classmethod
    def of(cls, container, video: av.VideoStream, start: float | None, duration: float | None) -> _Trim:
        tb = video.time_base
        origin = video.start_time if video.start_time is not None else 0
        begin = origin + round(Fraction(start or 0).limit_denominator(10**6) / tb)
        end = begin + round(Fraction(duration).limit_denominator(10**6) / tb) if duration else None
        length = container.duration / 1e6 if container.duration and container.duration > 0 else None
        if start and length is not None and start >= length:
            container.close()
            raise SourceError(f"--start {start:g} s is past the end of {container.name} ({length:.2f} s long)")
        if start:
            # not seekable (some network files): decoded from the beginning and discarded instead
            with contextlib.suppress(av.error.FFmpegError, OSError):
                container.seek(begin, stream=video, backward=True, any_frame=False)
        return cls(begin=begin, end=end, tb=tb, start_s=start or 0.0, shift=bool(start))

    def frames(self, count: int | None, fps: Fraction | None) -> int | None:
        """An estimate of the frames within the cut, for a progress bar."""
        if not fps:
            return None
        left = None if count is None else max(1, count - round(self.start_s * fps))
        if self.end is None:
            return left
        span = max(1, round((self.end - self.begin) * self.tb * fps))
        return span if left is None else min(left, span)

    def video_pts(self, pts: int) -> int | None:
        """The frame's pts after the cut, or None when it falls outside (``done`` once past the end)."""
        if pts < self.begin:
            return None
        if self.end is not None and pts >= self.end:
            self.done = True
            return None
        return pts - self.begin if self.shift else pts

    def keep_audio(self, packet: av.Packet) -> bool:
        """Whether an audio packet starts inside the cut; one that does has its timestamps moved."""
        atb = packet.time_base
        if packet.pts is None or atb is None:
            return not self.shift
        at = Fraction(packet.pts) * atb
        if (self.shift and at < self.begin * self.tb) or (self.end is not None and at >= self.end * self.tb):
            return False
        if self.shift:
            moved = round(self.begin * self.tb / atb)
            packet.pts -= moved
            if packet.dts is not None:
                packet.dts -= moved
        return packet.dts is None or packet.dts >= 0

    def check_any(self, frames: int, name: str) -> None:
        if not frames:
            raise SourceError(f"no frame of {name} lies within --start/--duration "
                              f"(from {self.start_s:g} s)")


class MediaSource:
    """A PyAV-demuxed source: file (lossless, exact timestamps), URL or v4l2 device (live)."""

    def __init__(
        self,
        target: str,
        *,
        live: bool | None,
        max_bad_frames: int = 25,
        audio: bool = True,
        fmt: str | None = None,
        decoder: str = "software",
        options: dict[str, str] | None = None,
        kind: str | None = None,
        start: float | None = None,
        duration: float | None = None,
    ) -> None:
        if not live and not target.startswith(("/dev/", "pipe:")) and "://" not in target:
            if not os.path.exists(target):
                raise SourceError(f"input not found: {target}")
            if os.path.isfile(target) and os.path.getsize(target) == 0:
                raise SourceError(f"input is empty (0 bytes): {target}")
        self.max_bad_frames = max_bad_frames
        self.stats = SourceStats()
        guess = live is None  # a URL: a file served over the network, or a live stream?
        self._container = _open_container(target, live=guess or bool(live), options=options, fmt=fmt)
        #: how a URL was taken, for the caller to say (None when nothing was guessed)
        self.live_note: str | None = None
        if guess:
            length = self._container.duration
            live = length is None or length <= 0
            self.live_note = (f"{target}: live (no known duration): frames may be dropped to keep up "
                              "(--lossless keeps every frame)" if live else
                              f"{target}: a file over the network ({length / 1e6:.1f} s): every frame read "
                              "(--live to drop frames instead)")
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"no video stream in {target}")
        video = self._container.streams.video[0]
        if video.codec_context is None:  # FFmpeg knows no decoder for the stream's codec id
            self._container.close()
            raise SourceError(f"cannot decode {target}: its video codec is unknown to this FFmpeg build "
                              "(a bogus or unsupported codec id)")
        if min(video.codec_context.width or MIN_SIDE, video.codec_context.height or MIN_SIDE) < MIN_SIDE:
            size = f"{video.codec_context.width}x{video.codec_context.height}"
            self._container.close()
            raise SourceError(f"cannot enhance {target}: its frames are {size}; the stages need at least "
                              f"{MIN_SIDE}x{MIN_SIDE}")
        # Frame threading adds a frame of latency per thread: worth it for files, not for live. On
        # two cores it is not worth it for files either: its extra decoder threads compete with the
        # pipeline's own, and slice threading measured about 8% more fps (720p, full pipeline).
        # There FFmpeg's own count (cores + 1) is one thread too many as well: one per core
        # measured 5-7% more fps than it at 720p and 3% at 1080p (the same as no decoder thread
        # at all, which costs more latency on large frames).
        cores = available_cores()
        small = cores <= SLICE_THREADING_MAX_CORES
        video.thread_type = "SLICE" if live or small else "AUTO"
        if small:
            video.thread_count = cores
        self._video = video
        self._audio = list(self._container.streams.audio) if audio else []
        unknown = [a.index for a in self._audio if a.codec_context is None]
        if unknown:
            self._container.close()
            raise SourceError(f"cannot copy the audio of {target}: stream {unknown[0]}'s codec is unknown to this "
                              "FFmpeg build (use --no-audio to drop it)")
        # NVDEC: named explicitly it must work (or the run stops here, before anything is written);
        # under "auto" it is used where it opens and software decoding otherwise. Which one ran
        # is in ``decoder_note``.
        self._hw = None
        self.decoder_note = f"decoder: {video.codec_context.name} (software)"
        if decoder not in DECODERS:
            self._container.close()
            raise SourceError(f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}")
        if decoder != "software":
            self._hw, why = _nvdec_context(video)
            if self._hw is None and decoder == "nvdec":
                self._container.close()
                raise SourceError(f"--decoder nvdec: {why} (NVDEC needs an NVIDIA GPU and its driver); "
                                  "use --decoder software or auto")
            self.decoder_note = (f"decoder: {why} (NVDEC)" if self._hw is not None
                                 else f"decoder: {video.codec_context.name} (software; {why})")
        cc = video.codec_context
        if not cc.width or not cc.height:
            self._container.close()
            raise SourceError(f"cannot read {target}: the video stream has no frame size")
        fps = video.average_rate or video.guessed_rate or video.base_rate
        frame_count = video.frames or None
        if frame_count is None and video.duration and fps and video.time_base:
            frame_count = max(1, round(float(video.duration * video.time_base * fps)))
        self.info = SourceInfo(
            name=target,
            width=cc.width,
            height=cc.height,
            live=live,
            fps=Fraction(fps) if fps else None,
            time_base=video.time_base,
            frame_count=None if live else frame_count,
            color=ColorInfo.of(cc.color_range, cc.colorspace, cc.color_primaries, cc.color_trc),
            pix_fmt=cc.pix_fmt,
            audio_streams=self._audio,
            kind=kind or ("stream" if live else "video"),
        )
        self._listed_frames = video.frames or 0
        self._video_packets = 0  # non-empty video packets demuxed: what the file holds, decodable or not
        self._color: ColorInfo | None = None
        self._trim = _Trim.of(self._container, video, start, duration) if start or duration else None
        if self._trim is not None:
            self.info.frame_count = self._trim.frames(frame_count, self.info.fps)

    def __iter__(self) -> Iterator[FramePacket | PassthroughPacket]:
        video = self._video
        demux = self._container.demux(video, *self._audio)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.error.EOFError:
                break
            except av.error.FFmpegError as e:
                # PyAV's read timeout interrupts FFmpeg (ExitError): the peer went quiet, which is
                # neither damage nor truncation
                why = (f"no data for {READ_TIMEOUT_S:g} s" if isinstance(e, av.error.ExitError)
                       else "it declares more data than can be allocated" if isinstance(e, av.error.MemoryError)
                       else e.strerror or str(e))
                if self.info.live and self.stats.frames:  # it was working: gone away, maybe back soon
                    raise SourceLost(f"{self.info.name} stopped after {self.stats.frames} frames: {why}") from e
                if isinstance(e, av.error.ExitError):
                    raise SourceError(f"{self.info.name} stalled after {self.stats.frames} frames: {why}") from e
                raise SourceError(f"input is damaged or truncated after {self.stats.frames} frames: {why}") from e
            if packet.stream.index == video.index:
                if packet.size:
                    self._video_packets += 1
                yield from self._decode(packet)
                if self._trim is not None and self._trim.done:
                    break
            elif packet.dts is not None and packet.size > 0:
                if self._trim is not None and not self._trim.keep_audio(packet):
                    continue
                self.stats.passthrough_packets += 1
                yield PassthroughPacket(packet=packet, stream_index=packet.stream.index)
        if self._trim is not None:
            self._trim.check_any(self.stats.frames, self.info.name)
        else:
            self._check_complete()
        if not self.stats.frames and self.stats.bad_frames:
            raise SourceError(f"no frame of {self.info.name} could be decoded: all {self.stats.bad_frames} were "
                              "damaged")
        if not self.stats.frames and not self.info.live and self._trim is None:
            raise SourceError(f"no frame in {self.info.name}: it ends before its first frame (truncated?)")

    def _decode(self, packet: av.Packet) -> Iterator[FramePacket]:
        try:
            frames = self._hw.decode(packet) if self._hw is not None else packet.decode()
        except av.error.FFmpegError as e:
            self.stats.count_bad(e, self.max_bad_frames, f"undecodable frames in {self.info.name}")
            return
        for frame in frames:
            if getattr(frame, "is_corrupt", False):
                self.stats.concealed_frames += 1
            if self._color is None:
                # The first frame's tags decided how it was converted; the writer tags the output
                # with the same ones (it reads them after this frame has crossed the queues).
                self._color = color_of(frame)
                self.info.color = self._color
            pts = frame.pts
            tb = frame.time_base or self._video.time_base
            if pts is None and self.info.fps:
                tb = 1 / self.info.fps
                pts = self.stats.frames
            elif self._trim is not None and pts is not None:
                pts = self._trim.video_pts(pts)
                if pts is None:  # before the start (decoded from the keyframe before it) or past the end
                    if self._trim.done:
                        return
                    continue
            # Planar Y'CbCr stays planar (no colour conversion); anything else becomes BGR.
            planes = frame_to_planes(frame, self._color)
            image = frame_to_bgr(frame, self._color) if planes is None else None
            index = self.stats.frames
            self.stats.frames += 1  # counted before the yield: a consumer that stops here has read it
            yield FramePacket(image=image, planes=planes, index=index, pts=pts, time_base=tb)

    def _check_complete(self) -> None:
        """MP4/MOV index every frame: fewer packets than it lists means the file was cut short.

        All the packets there but fewer frames decoded means damage, not truncation: the decoder
        dropped some without an error (bit flips in H.264 slices do that). Those count as bad frames,
        against ``--max-bad-frames`` like any other.
        """
        listed = self._listed_frames
        if not listed or self.info.live:
            return
        if self._video_packets < listed:
            raise SourceError(
                f"input is truncated: its index lists {listed} frames but the file holds {self._video_packets} "
                f"({self.stats.frames} could be decoded)"
            )
        dropped = listed - self.stats.frames - self.stats.bad_frames
        for _ in range(max(0, dropped)):
            self.stats.count_bad(SourceError("dropped by the decoder"), self.max_bad_frames,
                                 f"damaged frames in {self.info.name}")

    def close(self) -> None:
        self._container.close()
