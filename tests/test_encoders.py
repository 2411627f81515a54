"""Hardware encoders: checked before anything is written; ``--codec auto`` falls back and says so."""

from __future__ import annotations

import pytest

from realtime.cli import main
from realtime.sinks.media import encoder_unavailable
from tests.media import read_video

NVENC_WHY = encoder_unavailable("h264_nvenc", 320, 240, "yuv420p")


@pytest.mark.skipif(NVENC_WHY is None, reason="NVENC opens on this machine: nothing to refuse")
def test_nvenc_named_explicitly_without_the_hardware_is_a_clear_error_and_no_file(clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(clip.path), "-o", str(out), "--codec", "h264_nvenc", "--quiet"]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "h264_nvenc cannot be opened on this machine" in err[0] and "--codec libx264" in err[0]
    assert not out.exists()


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
