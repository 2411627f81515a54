"""A researcher's own stage, beside the built-in ones: from Python, from a config, from the command line."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import realtime
from realtime.cli import main
from tests.media import read_video, scene, write_clip


def _img() -> np.ndarray:
    return scene(3, 96, 64)


def invert(bgr: np.ndarray) -> np.ndarray:
    return 255 - bgr


def test_a_plain_function_runs_in_a_pipeline_in_order():
    e = realtime.Enhancer(stages=["contrast", invert], refiner="off")
    assert e.stages == ["contrast", "invert"]
    img = _img()
    contrast_only = realtime.Enhancer(stages=["contrast"], refiner="off").enhance(img)
    out = e.enhance(img)
    # inverted after the stretch: the means mirror around mid-grey (a level of colour rounding)
    assert abs(float(out.mean()) - (255 - float(contrast_only.mean()))) < 1.5
    trace = e.trace(img)
    assert trace.names == ["input", "contrast", "invert"] and trace["invert"].ms >= 0


def test_a_registered_stage_takes_its_parameters_from_a_config():
    @realtime.stage("gain_test", replace=True)
    def gain(bgr, factor=1.0):
        return np.clip(bgr * factor, 0, 255).astype(np.uint8)

    try:
        img = _img()
        e = realtime.Enhancer(stages=["gain_test"], refiner="off", config={"gain_test": {"factor": 2.0}})
        assert abs(float(e.enhance(img).mean()) - 2 * float(img.mean())) < 2
        with pytest.raises(realtime.ConfigError, match="unknown gain_test parameter 'factr'; valid keys: factor"):
            realtime.Enhancer(stages=["gain_test"], config={"gain_test": {"factr": 2.0}})
        with pytest.raises(realtime.ConfigError, match="already registered"):
            realtime.register_stage("gain_test", invert)
        with pytest.raises(realtime.ConfigError, match="built-in name"):
            realtime.register_stage("sharpen", invert)
    finally:
        realtime.unregister_stage("gain_test")


def test_a_class_keeps_state_and_is_reset_for_each_photo():
    class Counter:
        """Brightens each frame by how many it has seen: temporal state, forgotten by reset()."""

        def __init__(self, step: int = 10) -> None:
            self.step, self.seen = step, 0

        def __call__(self, bgr):
            self.seen += 1
            return np.clip(bgr.astype(int) + self.step * self.seen, 0, 255).astype(np.uint8)

        def reset(self):
            self.seen = 0

    e = realtime.Enhancer(stages=[Counter], refiner="off", config={"Counter": {"step": 20}})
    img = np.full((16, 16, 3), 50, np.uint8)
    assert int(e.enhance(img)[0, 0, 0]) == int(e.enhance(img)[0, 0, 0])  # photos: fresh state each
    frames = list(e.stream([img] * 3))
    assert [int(f[0, 0, 0]) for f in frames] == [70, 90, 110]  # video: state carries over


def test_planes_and_rgb_stages():
    seen = {}

    def luma_only(planes):
        seen["type"] = type(planes).__name__
        return planes.replace(y=255 - planes.y)

    def red_up(rgb):
        out = rgb.copy()
        out[..., 0] = 255  # channel 0 is red for an RGB stage
        return out

    realtime.register_stage("luma_only_test", luma_only, frame="planes", replace=True)
    realtime.register_stage("red_up_test", red_up, frame="rgb", replace=True)
    try:
        img = np.full((8, 8, 3), 40, np.uint8)
        out = realtime.Enhancer(stages=["luma_only_test"], refiner="off").enhance(img)
        assert seen["type"] == "Planes" and out.mean() > 150
        red = realtime.Enhancer(stages=["red_up_test"], refiner="off").enhance(img)
        assert red[..., 2].mean() > 200 and red[..., 0].mean() < 100  # BGR out: red is channel 2
    finally:
        realtime.unregister_stage("luma_only_test")
        realtime.unregister_stage("red_up_test")


def test_a_stage_named_in_a_config_file_runs_from_the_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "mylab").mkdir()
    (tmp_path / "mylab" / "__init__.py").write_text("")
    (tmp_path / "mylab" / "stages.py").write_text(textwrap.dedent("""
        import numpy as np

        def darken(bgr, by=30):
            return np.clip(bgr.astype(np.int16) - by, 0, 255).astype(np.uint8)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('stages = ["mylab.stages:darken"]\n\n["mylab.stages:darken"]\nby = 60\n')
    clip = write_clip(tmp_path / "in.mp4", frames=6, width=96, height=64)
    assert main(["enhance", str(clip.path), "-o", str(tmp_path / "o.mkv"), "--config", str(cfg),
                 "--refiner", "off"]) == 0
    assert "stages: mylab.stages:darken;" in capsys.readouterr().err
    _, original, _ = read_video(clip.path)
    _, darker, _ = read_video(tmp_path / "o.mkv")
    assert len(darker) == 6 and np.mean(darker) < np.mean(original) - 20
    sys.modules.pop("mylab.stages", None)


def test_a_stage_that_breaks_is_one_line_naming_it(tmp_path, capsys):
    def broken(bgr):
        return bgr[:4]  # wrong shape

    def raising(bgr):
        raise RuntimeError("boom")

    with pytest.raises(realtime.StageError, match="stage 'broken' must return a uint8 image shaped like"):
        realtime.Enhancer(stages=[broken], refiner="off").enhance(_img())
    with pytest.raises(realtime.StageError, match="stage 'raising' failed: RuntimeError: boom"):
        realtime.Enhancer(stages=[raising], refiner="off").enhance(_img())
    assert main(["enhance", str(write_clip(tmp_path / "c.mp4", frames=3).path), "-o", str(tmp_path / "o.mp4"),
                 "--stages", "tests.test_user_stages:_bad_stage", "--refiner", "off"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(err) == 1 and "stage 'tests.test_user_stages:_bad_stage' must return" in err[0]
    assert "was removed" in err[0] and not (tmp_path / "o.mp4").exists()


def _bad_stage(bgr):
    return bgr.astype(np.float32)
