"""The preview window for real: ``realtime enhance clip.mp4 --show`` on a virtual X display (Xvfb).

Keys are sent with xdotool and the display is read back with Pillow's X11 screen grab, so what is
checked is what a user would see: the window at the frame's size, the HUD in it, the help overlay
on ``h``, the split view's labels on ``space`` (moved by ``]`` and by a mouse drag), the HUD the
same size after the window is resized, ``r`` turning the refiner off, and ``q`` ending the run
cleanly. Skipped where Xvfb, xdotool, OpenCV's GUI or Pillow's X11 support is missing. Screenshots
are kept in tmp_path and copied to /tmp/window_shots/ to be looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.preview.hud import DIM, LABEL_FILL, LINE_H, MARGIN, PAD, SPLIT_HUD_TOP, help_rect, label_rects
from tests.media import scene, write_clip

SHOTS = Path("/tmp/window_shots")
W, H = 640, 360


def _gui_missing() -> str | None:
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (apt-get install xvfb xdotool)"
    import cv2

    gui = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    if gui is None or gui.group(1).upper() == "NONE":
        return "this OpenCV has no GUI (opencv-python-headless?)"
    from PIL import features

    if not features.check("xcb"):
        return "Pillow was built without X11 (xcb) screen grabbing"
    return None


pytestmark = pytest.mark.skipif(_gui_missing() is not None, reason=_gui_missing() or "")


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    pytest.skip("no free X display number between :90 and :199")


@pytest.fixture
def display():
    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        # the socket appears before the server takes clients (a CI run once lost the race: Qt
        # "could not connect to display"), so wait until a client actually gets an answer
        env = {**os.environ, "DISPLAY": f":{n}"}
        while not (Path(f"/tmp/.X11-unix/X{n}").exists()
                   and subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True).returncode == 0):
            if xvfb.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Xvfb :{n} did not start")
            time.sleep(0.05)
        yield f":{n}"
    finally:
        xvfb.terminate()
        try:
            xvfb.wait(5)
        except subprocess.TimeoutExpired:
            xvfb.kill()
            xvfb.wait()


def _xdotool(dsp: str, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": dsp}, capture_output=True,
                          text=True, timeout=10)
    return done.stdout


def _find_window(dsp: str, proc: subprocess.Popen, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the CLI ended (status {proc.returncode}) before its window appeared")
        ids = _xdotool(dsp, "search", "--onlyvisible", "--name", "^realtime").split()
        if ids:
            return ids[-1]
        time.sleep(0.2)
    pytest.fail(f"no window named realtime... appeared within {timeout_s} s")


def _geometry(dsp: str, wid: str) -> tuple[int, int, int, int]:
    out = _xdotool(dsp, "getwindowgeometry", wid)
    pos = re.search(r"Position:\s*(-?\d+),(-?\d+)", out)
    size = re.search(r"Geometry:\s*(\d+)x(\d+)", out)
    assert pos and size, out
    return int(pos[1]), int(pos[2]), int(size[1]), int(size[2])


class Screen:
    """Screenshots of the window, kept under names that say what they show."""

    def __init__(self, dsp: str, wid: str, folder: Path) -> None:
        self.dsp, self.wid, self.folder = dsp, wid, folder
        SHOTS.mkdir(parents=True, exist_ok=True)

    def grab(self, name: str) -> np.ndarray:
        from PIL import ImageGrab

        x, y, w, h = _geometry(self.dsp, self.wid)
        shot = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=self.dsp)
        path = self.folder / f"{name}.png"
        shot.save(path)
        shutil.copy(path, SHOTS / path.name)
        return np.asarray(shot.convert("RGB"))[..., ::-1]  # BGR, as the HUD drew it

    def wait_for(self, name: str, check, timeout_s: float = 6) -> np.ndarray:
        """Screenshots until ``check(img)`` holds (a key's effect shows on the next frame drawn)."""
        deadline = time.monotonic() + timeout_s
        while True:
            img = self.grab(name)
            if check(img) or time.monotonic() > deadline:
                return img
            time.sleep(0.15)


def _bright(img: np.ndarray) -> np.ndarray:
    return (img >= 200).all(axis=2)


def _hud_drawn(img: np.ndarray) -> bool:
    """A dark panel with white text in the top-left corner, the picture brighter elsewhere."""
    panel = img[12:70, 12:150]
    elsewhere = img[img.shape[0] - 100 : img.shape[0] - 10, img.shape[1] - 150 : img.shape[1] - 10]
    return bool(_bright(panel).sum() > 60 and np.median(panel) < 0.6 * np.median(elsewhere))


def _help_drawn(img: np.ndarray) -> bool:
    """The help box: its grey border exactly where hud.help_rect says, dark inside, with text."""
    x0, y0, x1, y1 = help_rect((img.shape[1], img.shape[0]))
    border = np.concatenate([img[y0, x0:x1], img[y1 - 1, x0:x1], img[y0:y1, x0], img[y0:y1, x1 - 1]]).astype(int)
    framed = (np.abs(border - DIM) <= 3).all(axis=1).mean() > 0.9
    box = img[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2]
    return bool(framed and np.median(box) < 40 and _bright(box).sum() > 300)


def _labels_at(img: np.ndarray, position: float) -> bool:
    for x0, y0, x1, y1 in label_rects((img.shape[1], img.shape[0]), position):
        box = img[y0:y1, x0:x1].astype(int)
        fill = (np.abs(box - LABEL_FILL) <= 3).all(axis=2).mean()
        if fill < 0.5 or _bright(img[y0:y1, x0:x1]).sum() < 20:
            return False
        below = img[y1 + 1, x0:x1].astype(int)  # the box ends where drawn: not an image scaled up by HighGUI
        if (np.abs(below - LABEL_FILL) <= 3).all(axis=1).mean() > 0.5:
            return False
    return True


def _text_height(img: np.ndarray, top: int = 0) -> int:
    """Rows from the first to the last holding text in the HUD's first line (``top`` below the usual)."""
    rows = np.flatnonzero(_bright(img[MARGIN + top : MARGIN + top + LINE_H, MARGIN:200]).any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def test_window_under_xvfb(tmp_path, display):
    base = scene(0, W, H)

    def frame(i: int, w: int, h: int) -> np.ndarray:  # cheap frames: a moving square on a dark scene
        out = base.copy()
        x = (i * 4) % (w - 60)
        out[200:260, x : x + 60] += 80
        return out

    clip = write_clip(tmp_path / "clip.mp4", frames=500, width=W, height=H, fps=25, image=frame)  # 20 s
    err_path = tmp_path / "stderr.txt"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    with open(err_path, "wb") as err:
        # pacing is on by default for a file into the window: it plays in real time, 20 s at most
        proc = subprocess.Popen([sys.executable, "-m", "realtime", "enhance", str(clip.path), "--show"],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wid = _find_window(display, proc)
        _, _, w, h = _geometry(display, wid)
        # no window manager under bare Xvfb, so no decorations: the frame's size, give or take
        assert abs(w - W) <= 4 and abs(h - H) <= 4, f"the window is {w}x{h}, the frames {W}x{H}"
        screen = Screen(display, wid, tmp_path)

        img = screen.wait_for("1_hud", _hud_drawn, timeout_s=15)
        assert _hud_drawn(img), "no HUD panel with text in the top-left corner"
        assert not _help_drawn(img) and not _labels_at(img, 0.5)
        height = _text_height(img)
        assert 10 <= height <= 22

        _xdotool(display, "key", "--window", wid, "h")
        img = screen.wait_for("2_help", _help_drawn)
        assert _help_drawn(img), "h did not bring up the help overlay"

        _xdotool(display, "key", "--window", wid, "h")
        _xdotool(display, "key", "--window", wid, "space")
        img = screen.wait_for("3_split", lambda im: _labels_at(im, 0.5) and not _help_drawn(im))
        assert not _help_drawn(img), "a second h did not hide the help"
        assert _labels_at(img, 0.5), "space did not show the split view's original/enhanced labels"

        _xdotool(display, "key", "--window", wid, "bracketright")
        img = screen.wait_for("4_split_055", lambda im: _labels_at(im, 0.55))
        assert _labels_at(img, 0.55), "] did not move the split 5% right"

        # a bigger window: the picture is drawn at its size, the HUD's text stays the same size,
        # and a drag at window pixel x moves the split to x / width
        _xdotool(display, "windowsize", wid, "960", "540")
        img = screen.wait_for("5_resized", lambda im: im.shape[:2] == (540, 960) and _labels_at(im, 0.55)
                              and abs(_text_height(im, SPLIT_HUD_TOP) - height) <= 2)
        assert img.shape[:2] == (540, 960) and _labels_at(img, 0.55), "the labels are not at the resized split"
        assert abs(_text_height(img, SPLIT_HUD_TOP) - height) <= 2, "the HUD's text changed size with the window"
        _xdotool(display, "mousemove", "--window", wid, "528", "300", "mousedown", "1",
                 "mousemove", "--window", wid, "720", "300", "mouseup", "1")
        img = screen.wait_for("6_dragged", lambda im: _labels_at(im, 720 / 959))
        assert _labels_at(img, 720 / 959), "a drag with the left button did not move the split"

        # r: the refiner (the 4th stage, 6th HUD line after speed and preset) goes grey, "off"
        def refiner_line(im: np.ndarray) -> np.ndarray:
            y = MARGIN + SPLIT_HUD_TOP + PAD + LINE_H * 5
            return _bright(im[y : y + LINE_H, MARGIN : MARGIN + 250])

        assert refiner_line(img).sum() > 30, "no white text where the refiner's HUD line should be"
        _xdotool(display, "key", "--window", wid, "r")
        img = screen.wait_for("7_refiner_off", lambda im: refiner_line(im).sum() == 0)
        assert refiner_line(img).sum() == 0, "r did not turn the refiner off (its HUD line is still white)"

        assert proc.poll() is None, "the run ended before q was pressed (clip too short?)"
        _xdotool(display, "key", "--window", wid, "q")
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("q did not end the run within 10 s")
        stderr = err_path.read_text(errors="replace")
        assert rc == 0, stderr
        assert "Traceback" not in stderr, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
