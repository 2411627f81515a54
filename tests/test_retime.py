"""Trimming (--start/--duration), scaling (--scale) and frame-rate conversion (--fps) of files.

Frame-rate conversion is checked against FFmpeg's own ``fps`` filter (through ``av.filter``): the
same input timestamps must pick the same frames at the same output ticks. The sources fed to
``Retimed`` in the unit tests are lists of frame packets (a test double for a decoder); the end to
end tests run the CLI on real clips made with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from realtime.cli import main
from realtime.errors import ConfigError
from realtime.frames import FramePacket, PassthroughPacket
from realtime.planes import Planes
from realtime.sources.base import SourceInfo, SourceStats
from realtime.sources.retime import Retimed, Scaled, scale_planes, scaled_size
from tests.media import audio_packets, read_video, write_clip

OFF = ["--preset", "off", "--refiner", "off", "--overwrite"]


class ListSource:
    """Frames from a list, each a flat image whose value is its index (stands in for a decoder)."""

    def __init__(self, pts: list[int], tb: Fraction, fps: Fraction | None, *, extra: list | None = None) -> None:
        self.pts, self.tb, self.extra = pts, tb, extra or []
        self.info = SourceInfo(name="list", width=8, height=8, live=False, fps=fps, time_base=tb,
                               frame_count=len(pts))
        self.stats = SourceStats()
        self.closed = False

    def __iter__(self):
        yield from self.extra
        for i, p in enumerate(self.pts):
            self.stats.frames += 1
            yield FramePacket(image=np.full((8, 8, 3), i, np.uint8), index=i, pts=p, time_base=self.tb)

    def close(self) -> None:
        self.closed = True


def ffmpeg_fps(pts: list[int], tb: Fraction, fps: Fraction, last_duration: int) -> list[tuple[int, int]]:
    """(output pts, input index) of each frame FFmpeg's fps filter makes of these timestamps."""
    graph = av.filter.Graph()
    src = graph.add_buffer(width=16, height=16, format="gray", time_base=tb)
    graph.link_nodes(src, graph.add("fps", f"fps={fps}"), graph.add("buffersink")).configure()
    out: list[tuple[int, int]] = []

    def drain() -> None:
        while True:
            try:
                frame = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            out.append((frame.pts, int(frame.to_ndarray()[0, 0])))

    for i, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(np.full((16, 16), i, np.uint8), format="gray")
        frame.pts, frame.time_base = p, tb
        if i == len(pts) - 1:
            frame.duration = last_duration
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return out


def retimed(pts: list[int], tb: Fraction, fps: Fraction, source_fps: Fraction | None) -> list[tuple[int, int]]:
    frames = [p for p in Retimed(ListSource(pts, tb, source_fps), fps) if isinstance(p, FramePacket)]
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.time_base == 1 / fps for f in frames)
    return [(f.pts, int(f.image[0, 0, 0])) for f in frames]


@pytest.mark.parametrize(("pts", "tb", "fps", "source_fps"), [
    (list(range(60)), Fraction(1, 24), Fraction(10), Fraction(24)),  # 24 -> 10: frames dropped
    (list(range(25)), Fraction(1, 10), Fraction(25), Fraction(10)),  # 10 -> 25: frames repeated
    (list(range(50)), Fraction(1, 25), Fraction(30000, 1001), Fraction(25)),  # to NTSC
    (list(range(0, 3000, 20)), Fraction(1, 1000), Fraction(24), Fraction(50)),  # ms timestamps
    ([p * 1001 for p in range(40)], Fraction(1, 60000), Fraction(25), Fraction(60000, 1001)),  # 59.94 -> 25
])
def test_frame_rate_conversion_picks_what_ffmpeg_fps_filter_picks(pts, tb, fps, source_fps) -> None:
    step = round(1 / source_fps / tb)  # the filter is told the last frame's duration, as a decoder says it
    assert retimed(pts, tb, fps, source_fps) == ffmpeg_fps(pts, tb, fps, step)


def test_variable_frame_rate_is_made_constant_as_ffmpeg_does() -> None:
    tb = Fraction(1, 1000)
    pts, t = [], 0
    for i in range(40):
        pts.append(t)
        t += (33, 40, 100, 17)[i % 4]  # uneven gaps, one longer than an output frame
    last = pts[-1] - pts[-2]
    mine = retimed(pts, tb, Fraction(30), None)  # no frame rate known: the last gap is its duration
    assert mine == ffmpeg_fps(pts, tb, Fraction(30), last)
    shown = [i for _, i in mine]
    assert len(set(shown)) < len(pts) and len(shown) > len(set(shown))  # some dropped and some repeated


def test_retimed_counts_dropped_and_repeated_and_passes_audio_untouched() -> None:
    audio = [PassthroughPacket(packet=object(), stream_index=1) for _ in range(3)]
    src = ListSource(list(range(10)), Fraction(1, 10), Fraction(10), extra=audio)
    r = Retimed(src, Fraction(5))
    items = list(r)
    assert [x for x in items if isinstance(x, PassthroughPacket)] == audio
    frames = [x for x in items if isinstance(x, FramePacket)]
    assert len(frames) == 5 and r.dropped == 5 and r.repeated == 0
    assert r.info.fps == 5 and r.info.time_base == Fraction(1, 5) and r.info.frame_count == 5
    assert src.info.fps == 10  # the wrapped source's facts are not changed

    up = Retimed(ListSource(list(range(4)), Fraction(1, 10), Fraction(10)), Fraction(30))
    frames = list(up)
    assert len(frames) == 12 and up.repeated == 8 and up.dropped == 0
    # a repeat has pixels of its own: a stage working in place on one cannot change the other
    frames[0].image[:] = 99
    assert frames[1].image[0, 0, 0] == 0


def test_retimed_rejects_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ConfigError, match="positive"):
        Retimed(ListSource([0], Fraction(1, 10), Fraction(10)), Fraction(0))


def test_scaled_size_keeps_the_aspect_on_even_sides() -> None:
    assert scaled_size(1920, 1080, (1280, 720)) == (1280, 720)
    assert scaled_size(1920, 1080, (1280, -1)) == (1280, 720)
    assert scaled_size(1920, 1080, (-1, 480)) == (854, 480)  # 853.3 -> nearest even
    assert scaled_size(640, 480, (-1, 101)) == (134, 101)  # a given side is kept as asked
    for bad in ((-1, -1), (0, 10), (-2, 10)):
        with pytest.raises(ConfigError, match="--scale"):
            scaled_size(640, 480, bad)


def test_scaled_planes_keep_their_subsampling() -> None:
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 255, (121, 161, 3), np.uint8)
    p420 = Planes.from_bgr(bgr, subsample=True)
    out = scale_planes(p420, (81, 61))
    assert out.size == (61, 81) and out.chroma_size == (31, 41)
    p444 = Planes.from_bgr(bgr)
    out = scale_planes(p444, (320, 240))
    assert out.size == (240, 320) and out.chroma_size == (240, 320)


def test_scaled_resizes_planes_and_images_and_says_so_in_its_info() -> None:
    src = ListSource([0, 1], Fraction(1, 10), Fraction(10))
    s = Scaled(src, (4, -1))
    frames = list(s)
    assert s.info.width == 4 and s.info.height == 4 and src.info.width == 8
    assert all(f.image.shape == (4, 4, 3) for f in frames)
    assert int(frames[1].image[0, 0, 0]) == 1  # a flat image stays flat, values kept
    s.close()
    assert src.closed


def _level(i: int, w: int, h: int) -> np.ndarray:
    """Frame ``i`` as a flat grey, so frames are told apart after lossy coding."""
    return np.full((h, w, 3), (i * 4) % 256, np.uint8)


def _which(images: list[np.ndarray], reference: list[np.ndarray]) -> list[int]:
    return [int(np.argmin([np.abs(im.astype(int) - r.astype(int)).mean() for r in reference])) for im in images]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("retime") / "in.mp4"
    write_clip(path, frames=60, fps=24, audio=True, width=160, height=120, image=_level)
    return path


def test_start_and_duration_cut_frame_exact_with_audio_in_sync(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "cut.mp4"
    assert main(["enhance", str(clip), "-o", str(out), "-ss", "0.5", "-t", "1", *OFF]) == 0
    _, reference, _ = read_video(clip)
    times, images, _ = read_video(out)
    # 0.5 s into 24 fps is frame 12 (not the keyframe before it), and 1 s is 24 frames
    assert _which(images, reference) == list(range(12, 36))
    assert times == [Fraction(i, 24) for i in range(24)]  # the output starts at 0
    before = {payload: t for payload, t in audio_packets(clip)}
    after = audio_packets(out)
    assert after, "the audio of the cut was lost"
    # every audio packet is a bit-exact copy of one of the input's, moved by the same 0.5 s
    for payload, t in after:
        assert before[payload] - Fraction(1, 2) == pytest.approx(t, abs=1e-3)
    # the packets cover the cut to within one packet (1024 samples at 48 kHz) at each end
    assert after[0][1] < Fraction(1024, 48000) and after[-1][1] > 1 - 2 * Fraction(1024, 48000)


def test_duration_alone_keeps_the_timestamps(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "head.mp4"
    assert main(["enhance", str(clip), "-o", str(out), "-t", "0.5", *OFF]) == 0
    times, _, _ = read_video(out)
    assert times == [Fraction(i, 24) for i in range(12)]


def test_start_past_the_end_is_one_line(clip: Path, tmp_path: Path, capsys) -> None:
    assert main(["enhance", str(clip), "-o", str(tmp_path / "x.mp4"), "-ss", "9", *OFF]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("realtime: error: --start 9 s is past the end of") and "(2.5" in err[-1]
    assert not (tmp_path / "x.mp4").exists()


def test_fps_on_a_video_matches_ffmpeg_and_keeps_the_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "ten.mp4"
    assert main(["enhance", str(clip), "-o", str(out), "--fps", "10", *OFF]) == 0
    _, reference, _ = read_video(clip)
    times, images, _ = read_video(out)
    expected = ffmpeg_fps(list(range(60)), Fraction(1, 24), Fraction(10), 1)
    assert times == [Fraction(p, 10) for p, _ in expected]
    assert _which(images, reference) == [i for _, i in expected]
    assert audio_packets(out) == audio_packets(clip)  # untouched, bit for bit and in time


def test_scale_resizes_the_output_and_keeps_every_frame(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.mp4"
    assert main(["enhance", str(clip), "-o", str(out), "--scale", "80x-1", *OFF]) == 0
    times, images, _ = read_video(out)
    assert len(images) == 60 and images[0].shape == (60, 80, 3)
    assert times == [Fraction(i, 24) for i in range(60)]


def test_fps_on_a_live_stream_is_refused(capsys) -> None:
    assert main(["enhance", "udp://127.0.0.1:5999", "-o", "null:", "--fps", "10"]) != 0
    assert "--fps resamples files" in capsys.readouterr().err
