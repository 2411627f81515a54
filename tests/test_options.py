"""An option that cannot act is an error naming it, and an OUTPUT nobody understands is one too."""

from __future__ import annotations

import cv2
import pytest

from realtime.cli import main
from tests.media import scene, write_clip


def _errors(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"{i}.png"), scene(i, 64, 48))
    return folder


@pytest.mark.parametrize("case, extra, fragment", [
    ("video", ["--camera-fps", "30"], "--camera-fps acts on a camera input"),
    ("video", ["--live"], "--live decides how a URL or pipe is read; a video input is read losslessly"),
    ("video", ["--format", "nut"], "--format picks the container of a pipe or stream"),
    ("video", ["--crf", "18", "--bitrate", "4M"], "--crf (a quality) and --bitrate (a rate) exclude each other"),
    ("video", ["--bufsize", "8M"], "--bufsize sizes the buffer of --maxrate"),
    ("synthetic", ["--pace"], "--pace acts on files; a synthetic input comes at its own pace"),
    ("synthetic", ["--start", "2"], "--start trims a video file; a synthetic input cannot be trimmed"),
    ("images->folder", ["--audio", "silent"], "--audio silent adds a track to encoded video"),
    ("images->folder", ["--bitrate", "2M"], "--bitrate acts on encoded video"),
    ("synthetic", ["--fps", "30"], "give its rate in the INPUT"),
    ("images->folder", ["--fps", "30"], "--fps has no effect unless the frames are written as a video, stream or pipe"),
    ("images->folder", ["--crf", "18"], "--crf acts on encoded video, and there is none"),
    ("images->folder", ["--codec", "libx264"], "--codec acts on encoded video"),
    ("images->folder", ["--encoder-preset", "fast"], "--encoder-preset acts on encoded video"),
    ("video", ["--crf", "18", "--codec", "mpeg4"], "--crf sets the quality of libx264 and libx265; mpeg4 has no crf"),
    ("images->folder", ["--decoder", "nvdec"], "--decoder nvdec decodes video files and streams"),
    ("video", ["--refiner", "off", "--refiner-model", "x.onnx"], "is given but the refiner is off"),
    ("video", ["--preset", "off", "--refiner-model", "x.onnx"], "the off preset runs no refiner"),
])
def test_an_option_that_cannot_act_is_an_error(tmp_path, capsys, images, case, extra, fragment):
    if case == "video":
        args = [str(write_clip(tmp_path / "c.mp4", frames=3).path), "-o", str(tmp_path / "o.mp4")]
    elif case == "synthetic":
        args = ["synthetic:64x48@10", "-o", str(tmp_path / "o.mp4"), "--frames", "2"]
    else:
        args = [str(images), "-o", str(tmp_path / "out") + "/"]
    code = main(["enhance", *args, *extra])
    lines = _errors(capsys)
    assert code == 2 and len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "out").exists()


def test_clahe_parameters_with_the_refiner_on_are_an_error_with_the_way_out(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=3)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[clahe]\nclip_limit = 3.0\n")
    code = main(["enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--config", str(cfg)])
    lines = _errors(capsys)
    assert code == 2 and len(lines) == 1
    assert "[clahe] is set but clahe does not run with the refiner on" in lines[0] and "refiner_stages" in lines[0]
    # the same config acts with the refiner off, and with clahe listed in front of the refiner
    assert main(["enhance", str(clip.path), "-o", str(tmp_path / "a.mp4"), "--config", str(cfg),
                 "--refiner", "off", "-q"]) == 0
    cfg.write_text('refiner_stages = ["contrast", "clahe", "denoise", "sharpen"]\n[clahe]\nclip_limit = 3.0\n')
    assert main(["enhance", str(clip.path), "-o", str(tmp_path / "b.mp4"), "--config", str(cfg)]) == 0
    assert "stages: contrast -> clahe -> denoise -> sharpen -> refiner;" in capsys.readouterr().err


def test_parameters_for_a_stage_left_out_of_the_list_are_an_error(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=3)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[sharpen]\namount = 1.0\n")
    code = main(["enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--config", str(cfg),
                 "--stages", "contrast,denoise", "--refiner", "off"])
    lines = _errors(capsys)
    assert code == 2 and "[sharpen] is set but sharpen does not run: it is not in the stages" in lines[0]


@pytest.mark.parametrize("output, fragment", [
    ("/dev/sda", "is a device this tool does not write to"),
    ("frames", "has no extension and is not a folder: give frames/"),
    ("frames/%05d.txt", "needs an image extension"),
    ("frames/%d_%d.png", "exactly one %d"),
    ("out.xyz", "unknown output type '.xyz'"),
    ("ftp://host/x.mp4", "cannot stream to ftp://"),
])
def test_an_output_nobody_understands_is_one_line(tmp_path, capsys, output, fragment, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clip = write_clip(tmp_path / "c.mp4", frames=3)
    code = main(["enhance", str(clip.path), "-o", output])
    lines = _errors(capsys)
    assert code == 4 and len(lines) == 1 and fragment in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]  # nothing created (no folder "-")


def test_dev_null_is_the_null_sink(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=3)
    assert main(["enhance", str(clip.path), "-o", "/dev/null"]) == 0
    assert "null:: 3 frames" in capsys.readouterr().err
