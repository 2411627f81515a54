"""The pipeline with the shipped refiner, end to end through the CLI, and its runtime choices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import realtime
from realtime.cli import main
from realtime.refiner import default_model, tensorrt
from tests.media import read_video, write_clip


def test_the_refiner_model_is_package_data():
    model = default_model()
    assert model.is_file() and model.parent == Path(realtime.__file__).parent / "data", model
    assert default_model(".keras").is_file(), "models/refiner.keras (the reference) must be in the checkout"


def test_enhance_runs_the_refiner_after_its_own_stages(tmp_path, capsys):
    clip = write_clip(tmp_path / "dark.mp4", frames=12, width=256, height=144, audio=True)
    out_ref = tmp_path / "refined.mp4"
    out_cls = tmp_path / "classical.mp4"
    assert main(["enhance", str(clip.path), "-o", str(out_ref), "--refiner", "onnxruntime"]) == 0
    err = capsys.readouterr().err
    assert "stages: contrast -> denoise -> sharpen -> refiner (clahe left out" in err  # lowlight's refiner_stages
    assert "refiner: onnxruntime (CPUExecutionProvider)" in err and "refiner " in err.split("median ms/frame")[1]
    assert main(["enhance", str(clip.path), "-o", str(out_cls), "--refiner", "off", "--quiet"]) == 0
    times_ref, frames_ref, _ = read_video(out_ref)
    times_cls, frames_cls, _ = read_video(out_cls)
    assert len(frames_ref) == len(frames_cls) == clip.frames
    assert times_ref == times_cls
    diff = np.abs(np.stack(frames_ref).astype(int) - np.stack(frames_cls)).mean()
    assert diff > 1.0  # the refiner really changed the frames


def test_preset_off_keeps_the_refiner_off(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=4, width=96, height=64)
    assert main(["enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--preset", "off"]) == 0
    assert "refiner: none" in capsys.readouterr().err


@pytest.mark.skipif(tensorrt.available() is None, reason="TensorRT is usable on this machine")
def test_asking_for_tensorrt_without_it_is_one_clear_line(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=4, width=96, height=64)
    code = main(["enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--refiner", "tensorrt"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 5
    assert len(err) == 1 and "TensorRT" in err[0] and "--refiner onnxruntime" in err[0]
    assert not (tmp_path / "o.mp4").exists()


def test_missing_model_file_is_one_clear_line(tmp_path, capsys):
    clip = write_clip(tmp_path / "c.mp4", frames=4, width=96, height=64)
    code = main(["enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--refiner-model",
                 str(tmp_path / "nope.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 5 and len(err) == 1 and "not found" in err[0]
