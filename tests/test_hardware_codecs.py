"""NVENC and NVDEC: checked before anything is written when named; ``auto`` falls back and says so."""

from __future__ import annotations

import av
import numpy as np
import pytest

from realtime.avcolor import frame_to_planes
from realtime.cli import main
from realtime.sinks.media import encoder_unavailable
from realtime.sources.media import MediaSource
from tests.media import read_video

NVENC_WHY = encoder_unavailable("h264_nvenc", 320, 240, "yuv420p")


def _refused(clip, tmp_path, capsys, flags: list[str], exit_code: int) -> str:
    """Run ``enhance`` with hardware ``flags`` that cannot work here: the one error line, no output file."""
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(clip.path), "-o", str(out), *flags, "--quiet"]) == exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert not out.exists()
    return err[0]


@pytest.mark.skipif(NVENC_WHY is None, reason="NVENC opens on this machine: nothing to refuse")
def test_nvenc_named_explicitly_without_the_hardware_is_a_clear_error_and_no_file(clip, tmp_path, capsys):
    line = _refused(clip, tmp_path, capsys, ["--codec", "h264_nvenc"], 4)
    assert "h264_nvenc cannot be opened on this machine" in line and "--codec libx264" in line


def test_codec_auto_picks_an_encoder_that_works_and_reports_it(clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(clip.path), "-o", str(out), "--codec", "auto", "--refiner", "off"]) == 0
    err = capsys.readouterr().err
    chosen = "h264_nvenc" if NVENC_WHY is None else "libx264"
    assert f"encoder: {chosen} chosen by --codec auto" in err
    if NVENC_WHY is not None:
        assert "h264_nvenc unavailable" in err
    _pts, frames, _ = read_video(out)
    assert len(frames) == clip.frames


def test_nvdec_named_explicitly_without_the_hardware_is_a_clear_error(clip, tmp_path, capsys):
    source = MediaSource(str(clip.path), live=False, decoder="auto")
    nvdec_works = "NVDEC" in source.decoder_note
    source.close()
    if nvdec_works:
        pytest.skip("NVDEC opens on this machine: nothing to refuse")
    line = _refused(clip, tmp_path, capsys, ["--decoder", "nvdec"], 3)
    assert "--decoder nvdec: h264_cuvid" in line and "--decoder software" in line


def test_decoder_auto_decodes_every_frame_and_reports_the_choice(clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(clip.path), "-o", str(out), "--decoder", "auto", "--refiner", "off"]) == 0
    assert "realtime: decoder: " in capsys.readouterr().err
    pts, frames, _ = read_video(out)
    assert len(frames) == clip.frames and tuple(pts) == tuple(p * clip.time_base for p in clip.pts)


@pytest.mark.parametrize("size", [(64, 48), (66, 50)], ids=["even", "odd"])
def test_nv12_frames_become_the_same_planes_as_yuv420p(size):
    # NVDEC hands out NV12; the planes must be exactly those of the same picture in yuv420p
    w, h = size
    rng = np.random.default_rng(0)
    yuv = av.VideoFrame.from_ndarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), format="bgr24")
    yuv = yuv.reformat(format="yuv420p")
    a, b = frame_to_planes(yuv), frame_to_planes(yuv.reformat(format="nv12"))
    for name in ("y", "cb", "cr"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
