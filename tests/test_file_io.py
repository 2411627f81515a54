"""File mode end to end: no frame lost, timestamps kept, audio copied bit-exact, colour tags kept."""

from __future__ import annotations

import av
import pytest

from realtime.cli import main
from tests.media import audio_packets, read_video, write_clip


def _enhance(*args: str) -> int:
    return main(["enhance", *args, "--quiet"])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("plain", {}),
        ("audio", {"audio": True}),
        ("odd_444", {"width": 641, "height": 363, "pix_fmt": "yuv444p"}),
        ("odd_420_mpeg4", {"width": 641, "height": 363, "codec": "mpeg4"}),
        ("vfr_audio", {"vfr": True, "audio": True}),
    ],
)
@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_frames_timestamps_and_audio_preserved(tmp_path, name, kwargs, ext):
    src = write_clip(tmp_path / f"{name}.mp4", frames=20, **kwargs)
    out = tmp_path / f"out{ext}"
    assert _enhance(str(src.path), "-o", str(out)) == 0
    in_times, _, _ = read_video(src.path)
    out_times, out_images, time_base = read_video(out)
    assert len(out_times) == len(in_times) == src.frames
    # Matroska stores milliseconds, so there each time is the input's rounded to that tick;
    # MP4 keeps the input's own time base: exact presentation times, variable frame rate included.
    tick = time_base / 2 if ext == ".mkv" else 0
    assert all(abs(o - i) <= tick for o, i in zip(out_times, in_times, strict=True)), (out_times, in_times)
    assert out_images[0].shape == (src.height, src.width, 3)
    if src.audio:
        a_in, a_out = audio_packets(src.path), audio_packets(out)
        assert len(a_in) > 10
        assert [p for p, _ in a_out] == [p for p, _ in a_in]  # bit-exact payloads, none lost
        assert all(abs(to - ti) <= tick for (_, to), (_, ti) in zip(a_out, a_in, strict=True))


def test_colour_tags_copied(tmp_path):
    src = write_clip(tmp_path / "bt709.mp4", frames=8, colorspace=1)
    out = tmp_path / "out.mkv"
    assert _enhance(str(src.path), "-o", str(out)) == 0
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert (int(cc.colorspace), int(cc.color_primaries), int(cc.color_trc)) == (1, 1, 1)
        assert int(cc.color_range) == 1


def test_off_preset_roundtrip_keeps_colours(tmp_path):
    """With every stage off, decode -> BGR -> encode must give back the same Y'CbCr levels.

    A matrix or range mismatch between the two conversions shifts levels by several units; the
    decoder's fast swscale path truncates, which costs at most half a level on average.
    """
    src = write_clip(tmp_path / "bt709.mp4", frames=4, colorspace=1)
    out = tmp_path / "out.mp4"
    assert _enhance(str(src.path), "-o", str(out), "--preset", "off", "--crf", "0") == 0

    def planes(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray().astype(int) for f in c.decode(video=0)][2]

    a, b = planes(src.path), planes(out)
    h = src.height
    assert abs((a[:h] - b[:h]).mean()) < 0.75  # luma: no level shift
    assert abs((a[h:] - b[h:]).mean()) < 0.5  # chroma: no hue shift
    assert abs(a[:h] - b[:h]).mean() < 1.0


def test_audio_can_be_dropped(tmp_path, clip_audio):
    out = tmp_path / "out.mp4"
    assert _enhance(str(clip_audio.path), "-o", str(out), "--no-audio") == 0
    assert audio_packets(out) == []
    assert len(read_video(out)[0]) == clip_audio.frames


def test_frames_limit(tmp_path, clip):
    out = tmp_path / "out.mp4"
    assert _enhance(str(clip.path), "-o", str(out), "--frames", "5") == 0
    assert len(read_video(out)[0]) == 5
