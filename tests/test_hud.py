"""The preview window's drawing and keys, without a display (tests/test_window.py has the real one)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.preview.hud import (
    AMBER,
    KEYS,
    LABEL_FILL,
    LINE_H,
    RED,
    ascii_text,
    compose,
    display_size,
    divider_x,
    draw_help,
    draw_hud,
    draw_message,
    fit,
    help_rect,
    hud_lines,
    hud_rect,
    label_rects,
    message_rect,
    split_view,
    wrap,
)
from realtime.preview.window import MESSAGE_S, PreviewControls, WindowState, apply_key, apply_mouse, window_title
from realtime.stats import LiveStats

STATS = LiveStats(frames_written=10, fps=29.7, latency_ms=12.5, dropped=3, timings={"clahe": 2.5, "denoise": 4.25})


def bright(img: np.ndarray, level: int = 200) -> np.ndarray:
    """Where text is: pixels bright in every channel."""
    return (img >= level).all(axis=2)


def crop(img: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return img[y0:y1, x0:x1]


def outside(mask: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    m = mask.copy()
    x0, y0, x1, y1 = rect
    m[y0:y1, x0:x1] = False
    return m


def text_rows(mask: np.ndarray) -> int:
    """Height in pixels from the first row holding text to the last."""
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def test_split_view_halves_without_labels():
    before = np.zeros((40, 60, 3), np.uint8)
    after = np.full((40, 60, 3), 100, np.uint8)
    out = split_view(before, after, 0.5, labels=False)
    x = divider_x(60, 0.5)
    assert (out[:, : x - 2] == 0).all() and (out[:, x + 3 :] == 100).all()
    assert (out[:, x] == 255).all()  # the divider: white, with a dark edge either side
    assert before.max() == 0 and after.min() == 100  # inputs untouched


def test_split_view_labels_sit_either_side_of_the_divider_at_the_top():
    before = np.full((360, 640, 3), 30, np.uint8)
    after = np.full((360, 640, 3), 150, np.uint8)
    for position in (0.5, 0.3, 0.8):
        out = split_view(before, after, position)
        x = divider_x(640, position)
        left, right = label_rects((640, 360), position)
        assert left[2] < x < right[0] and left[1] == right[1] and left[1] < 20  # near the top, at the divider
        for rect in (left, right):
            box = crop(out, rect)
            assert (box == LABEL_FILL).all(axis=2).mean() > 0.5  # an opaque box...
            assert bright(box).sum() > 40  # ...with its word in white
        below = out[60:, :]
        assert set(np.unique(below[:, : x - 2])) == {30} and set(np.unique(below[:, x + 3 :])) == {150}


def test_split_labels_stay_inside_the_frame_at_the_edges():
    for position in (0.0, 1.0):
        for x0, y0, x1, y1 in label_rects((320, 180), position):
            assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 180


def test_hud_lines_say_speed_preset_recording_status_stages_and_hint():
    stats = LiveStats(fps=29.7, latency_ms=12.5, dropped=3, timings={"clahe": 2.5, "denoise": 4.25},
                      status="camera /dev/video0 lost, reconnecting\u2026")
    lines = hud_lines(stats, ["clahe", "denoise"], [True, False], split=True, preset="haze",
                      recording="rtmp://live.example/app/KEY?secret=1")
    text = [line.text for line in lines]
    assert text[0] == "29.7 fps  latency 12.5 ms  dropped 3"
    assert "preset haze" in text[1]
    rec = next(line for line in lines if "REC" in line.text)
    assert rec.color == RED and rec.text.startswith("\u25cf REC rtmp://live.example/app/KEY")
    assert "secret" not in rec.text  # a stream key's query string is never on screen
    status = next(line for line in lines if "lost" in line.text)
    assert status.color == AMBER
    assert any(t.startswith("[1] clahe") and "2.50 ms" in t for t in text)
    assert any(t.startswith("[2] denoise") and "off" in t for t in text)
    assert text[-1] == "h help"
    plain = [line.text for line in hud_lines(LiveStats(), ["clahe"], [True])]
    assert not any("REC" in t or "preset" in t for t in plain)


def test_hud_is_drawn_on_a_dark_panel_and_only_there():
    img = np.full((360, 640, 3), 200, np.uint8)
    lines = hud_lines(STATS, ["clahe", "denoise"], [True, False], preset="lowlight", recording="out.mp4")
    out = draw_hud(img, lines)
    rect = hud_rect((640, 360), lines)
    assert out.shape == img.shape and img.min() == 200  # input untouched
    panel = crop(out, rect)
    assert np.median(panel) < 90  # darkened
    assert bright(panel, 220).sum() > 300  # white text
    red = (panel[..., 2] > 200) & (panel[..., 1] < 120)
    assert red.sum() > 20  # the recording dot and its words
    assert (outside(out != img, rect).sum()) == 0  # nothing drawn outside the panel


def test_text_is_the_same_height_at_any_window_size():
    lines = ["29.7 fps  latency 12.5 ms  dropped 3", "[1] clahe   2.50 ms"]
    heights, widths = [], []
    for w, h in ((320, 180), (3840, 2160)):
        out = compose(np.full((h, w, 3), 120, np.uint8), None, (w, h), lines)
        assert out.shape == (h, w, 3)
        x0, y0, x1, _ = hud_rect((w, h), lines)
        heights.append(text_rows(bright(out[y0 : y0 + LINE_H, x0:x1], 180)))
        widths.append(x1 - x0)
    assert heights[0] == heights[1] and 12 <= heights[0] <= 20  # ~15 px capitals: readable, not huge
    assert widths[0] == widths[1] < 320  # the panel does not grow with the frame


def test_compose_draws_at_the_window_size_not_the_frame_size():
    frame = np.full((2160, 3840, 3), 120, np.uint8)
    original = np.full((2160, 3840, 3), 20, np.uint8)
    out = compose(frame, original, (640, 360), ["hello"], split=True, position=0.5)
    assert out.shape == (360, 640, 3)
    left, _ = label_rects((640, 360), 0.5)
    assert (crop(out, left) == LABEL_FILL).all(axis=2).mean() > 0.5
    # the HUD goes below the split labels, so neither hides the other: beside them, the picture
    assert (out[: left[3], : left[0]] == 20).all()
    assert np.median(out[left[3] + 8 : left[3] + 20, 10:40]) < 20  # and under them, the panel
    assert (out[200:, 10:300] == 20).all() and (out[200:, 340:] == 120).all()


def test_fit_scales_only_when_needed_and_display_size_keeps_the_aspect():
    img = np.zeros((360, 640, 3), np.uint8)
    assert fit(img, (640, 360)) is img
    assert fit(img, (320, 180)).shape == (180, 320, 3) and fit(img, (1280, 720)).shape == (720, 1280, 3)
    assert display_size((640, 360), None) == (640, 360)
    assert display_size((640, 360), (0, 0)) == (640, 360)
    assert display_size((3840, 2160), (1600, 900)) == (1600, 900)
    assert display_size((640, 360), (1000, 1000)) == (1000, 562)  # letterboxed, never stretched


def test_help_overlay_darkens_and_lists_every_key():
    img = np.full((360, 640, 3), 160, np.uint8)
    out = draw_help(img)
    rect = help_rect((640, 360))
    x0, y0, x1, y1 = rect
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360
    assert np.median(out[:y0]) < 80 and np.median(out[y1:]) < 80  # the picture behind is dimmed
    box = crop(out, rect)
    assert bright(box, 200).sum() > 300  # key names in white
    # one row of text per key (and the title): count the bands of text rows
    rows = bright(box[:, : (x1 - x0) // 4], 200).any(axis=1) | bright(box, 200).any(axis=1)
    bands = int((np.diff(rows.astype(int)) == 1).sum())
    assert bands >= len(KEYS)
    small = draw_help(np.full((180, 320, 3), 160, np.uint8))  # clipped, not an error, on a tiny window
    assert small.shape == (180, 320, 3)


def test_message_box_near_the_bottom():
    img = np.full((360, 640, 3), 90, np.uint8)
    out = draw_message(img, "no refiner in this pipeline")
    rect = message_rect((640, 360), "no refiner in this pipeline")
    assert rect[1] > 360 // 2
    box = crop(out, rect)
    amber = (box[..., 2] > 200) & (box[..., 1] > 140) & (box[..., 0] < 60)
    assert amber.sum() > 50
    assert outside(out != img, rect).sum() == 0


def test_text_helpers():
    assert ascii_text("reconnecting\u2026 \u2013 ok") == "reconnecting... - ok"
    assert ascii_text("caf\u00e9") == "caf?"
    lines = wrap("camera /dev/video0 lost, reconnecting... (attempt 3)", 150)
    assert len(lines) > 1 and " ".join(lines) == "camera /dev/video0 lost, reconnecting... (attempt 3)"


def controls_for(preset: str = "lowlight", refiner: str = "auto"):
    pipeline = build_pipeline(PipelineSpec(preset, refiner=refiner))
    return pipeline, PreviewControls(lambda: pipeline.names, lambda: pipeline.enabled, pipeline.toggle)


def test_keys_quit_split_help_and_move_the_split():
    _, controls = controls_for()
    s = WindowState()
    assert apply_key(s, ord("q"), controls, 0).quit and apply_key(s, ord("Q"), controls, 0).quit
    assert apply_key(s, 27, controls, 0).quit
    assert not apply_key(s, ord("x"), controls, 0).quit and apply_key(s, -1, controls, 0) == s
    s = apply_key(s, ord(" "), controls, 0)
    assert s.split and not apply_key(s, ord(" "), controls, 0).split
    s = apply_key(WindowState(), ord("]"), controls, 0)
    assert s.split and s.position == pytest.approx(0.55)  # moving the split shows it
    for _ in range(30):
        s = apply_key(s, ord("["), controls, 0)
    assert s.position == 0.0
    s = apply_key(s, ord("h"), controls, 0)
    assert s.help and not apply_key(s, ord("h"), controls, 0).help


def test_digits_and_r_toggle_stages_in_pipeline_order():
    pipeline, controls = controls_for()  # the refiner is the fourth stage
    s = WindowState()
    assert apply_key(s, ord("2"), controls, 0) == s
    assert pipeline.enabled == (True, False, True, True)
    assert pipeline.names[3] == "refiner"
    apply_key(s, ord("r"), controls, 0)
    assert pipeline.enabled == (True, False, True, False)
    apply_key(s, ord("R"), controls, 0)
    apply_key(s, ord("2"), controls, 0)
    assert pipeline.enabled == (True, True, True, True)
    s = apply_key(s, ord("9"), controls, 10.0)  # no 9th stage: said, nothing toggled
    assert pipeline.enabled == (True, True, True, True) and s.visible_message(10.5) == "no stage 9: this pipeline has 4"


def test_r_without_a_refiner_says_so_for_two_seconds():
    pipeline, controls = controls_for(refiner="off")
    assert "refiner" not in pipeline.names
    s = apply_key(WindowState(), ord("r"), controls, 100.0)
    assert s.visible_message(100.0) == "no refiner in this pipeline"
    assert s.visible_message(100.0 + MESSAGE_S - 0.1) and not s.visible_message(100.0 + MESSAGE_S + 0.1)
    assert all(pipeline.enabled)


def test_mouse_drag_moves_the_split_in_image_pixels():
    import cv2

    s = WindowState(split=True)
    s = apply_mouse(s, cv2.EVENT_LBUTTONDOWN, 160, cv2.EVENT_FLAG_LBUTTON, 641)
    assert s.dragging and s.position == pytest.approx(0.25)
    s = apply_mouse(s, cv2.EVENT_MOUSEMOVE, 480, cv2.EVENT_FLAG_LBUTTON, 641)
    assert s.position == pytest.approx(0.75)
    s = apply_mouse(s, cv2.EVENT_LBUTTONUP, 480, 0, 641)
    assert not s.dragging
    assert apply_mouse(s, cv2.EVENT_MOUSEMOVE, 0, 0, 641).position == pytest.approx(0.75)  # no button: no move
    assert apply_mouse(s, cv2.EVENT_MOUSEMOVE, 9999, cv2.EVENT_FLAG_LBUTTON, 641).position == 1.0
    off = WindowState()
    assert apply_mouse(off, cv2.EVENT_LBUTTONDOWN, 10, cv2.EVENT_FLAG_LBUTTON, 641) == off  # split off: just a click


def test_window_title_names_keys_from_the_table():
    title = window_title("clip.mp4")
    assert title.startswith("realtime: clip.mp4") and "q quit" in title and "h help" in title
    labels = [k for k, _ in KEYS]
    assert {"q / Esc", "space", "[ / ]", "drag", "1-9", "r", "h"} == set(labels)


def test_the_readme_lists_the_same_keys_as_the_window() -> None:
    from pathlib import Path

    from realtime.preview.hud import KEYS

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    readme = readme.replace("`q` / `Esc`", "`q / Esc`").replace("`[` / `]`", "`[ / ]`")
    for key, what in KEYS:
        assert f"- `{key}`: {what}" in readme
