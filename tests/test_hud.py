"""The preview window's drawing and keys, without a display."""

from __future__ import annotations

import numpy as np

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.preview.hud import draw_hud, hud_lines, split_view
from realtime.preview.window import PreviewControls, handle_key
from realtime.stats import LiveStats


def test_split_view_halves():
    before = np.zeros((40, 60, 3), np.uint8)
    after = np.full((40, 60, 3), 200, np.uint8)
    out = split_view(before, after, 0.5)
    assert (out[:, :28] == 0).all() and (out[:, 33:] == 200).all()  # a thin divider between
    assert before.max() == 0 and after.min() == 200  # inputs untouched


def test_hud_lists_stages_timings_and_drops():
    stats = LiveStats(frames_written=10, fps=29.7, latency_ms=12.5, dropped=3,
                      timings={"clahe": 2.5, "denoise": 4.25})
    lines = hud_lines(stats, ["clahe", "denoise"], [True, False], split=True)
    text = "\n".join(lines)
    assert "29.7 fps" in text and "12.5 ms" in text and "dropped 3" in text
    assert "[1] clahe" in text and "2.50 ms" in text
    assert "[2] denoise" in text and "off" in text
    img = np.zeros((360, 640, 3), np.uint8)
    drawn = draw_hud(img, lines)
    assert drawn.shape == img.shape and drawn.max() > 0 and img.max() == 0


def test_keys_quit_split_and_toggle_stages():
    pipeline = build_pipeline(PipelineSpec("lowlight"))  # the refiner is the fourth stage
    controls = PreviewControls(lambda: pipeline.names, lambda: pipeline.enabled, pipeline.toggle)
    assert handle_key(ord("q"), False, controls) == (False, False)
    assert handle_key(27, True, controls) == (False, True)
    assert handle_key(ord(" "), False, controls) == (True, True)
    assert handle_key(ord("2"), False, controls) == (True, False)
    assert pipeline.enabled == (True, False, True, True)
    handle_key(ord("4"), False, controls)
    assert pipeline.names[3] == "refiner" and pipeline.enabled == (True, False, True, False)
    handle_key(ord("2"), False, controls)
    handle_key(ord("4"), False, controls)
    handle_key(ord("9"), False, controls)  # no 9th stage: ignored
    assert pipeline.enabled == (True, True, True, True)
