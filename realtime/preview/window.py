"""The preview window (OpenCV HighGUI). It runs on the main thread, as GUI toolkits require.

Keys: q or Esc quits, space toggles the split before/after view, 1–9 toggle stages (the refiner
included: it is the last stage). The window knows nothing of pipelines or runners: it is handed
:class:`PreviewControls`, callbacks that name the stages, say which are on and toggle one.
Untested on this project's development machines, which have no display; the drawing it does is in
``hud.py`` and is tested there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2

from realtime.errors import ConfigError
from realtime.frames import FramePacket
from realtime.preview.hud import draw_hud, hud_lines, split_view
from realtime.stats import LiveStats

WINDOW = "realtime (q quit, space split, 1-9 stages)"


@dataclass(frozen=True, slots=True)
class PreviewControls:
    """What the window may ask of whatever runs the stages (a pipeline's names, flags and toggle)."""

    names: Callable[[], Sequence[str]]
    enabled: Callable[[], Sequence[bool]]
    toggle: Callable[[int], None]
QUIT_KEYS = {ord("q"), ord("Q"), 27}


def check_display() -> None:
    """Fail with one line instead of letting the GUI toolkit abort the process."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError("--show needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set")


def handle_key(key: int, split: bool, controls: PreviewControls) -> tuple[bool, bool]:
    """One key press: (keep running, split view on). Digits toggle stages 1-9 in pipeline order."""
    if key in QUIT_KEYS:
        return False, split
    if key == ord(" "):
        return True, not split
    if ord("1") <= key <= ord("9") and key - ord("1") < len(controls.names()):
        controls.toggle(key - ord("1"))
    return True, split


#: the largest window opened without asking the screen (OpenCV cannot tell its size)
MAX_WINDOW = (1600, 900)


class Window:
    def __init__(self, controls: PreviewControls, *, frame_size: tuple[int, int] | None = None, preset: str = "",
                 recording: str | None = None, title: str = "") -> None:
        check_display()
        self.controls = controls
        self.split = False
        self.preset, self.recording = preset, recording
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            if frame_size:  # open at the frame's size (scaled down to fit), not HighGUI's 400x300
                w, h = frame_size
                s = min(1.0, MAX_WINDOW[0] / w, MAX_WINDOW[1] / h)
                cv2.resizeWindow(WINDOW, max(1, round(w * s)), max(1, round(h * s)))
        except cv2.error as e:
            raise ConfigError(
                "--show needs OpenCV with GUI support (opencv-python, not opencv-python-headless)"
            ) from e
        self._open = True

    def handle_key(self, key: int) -> bool:
        """Apply one key press; False means quit."""
        keep_going, self.split = handle_key(key, self.split, self.controls)
        return keep_going

    def show(self, packet: FramePacket, stats: LiveStats) -> None:
        img = packet.image
        if self.split and packet.original is not None:
            img = split_view(packet.original_bgr(), img)
        lines = hud_lines(stats, self.controls.names(), self.controls.enabled(), self.split)
        extra = [f"preset {self.preset}"] if self.preset else []
        if self.recording:
            extra.append(f"REC {self.recording.split('?')[0][:40]}")
        if stats.status:
            extra.append(stats.status)
        lines = lines[:1] + extra + lines[1:]
        cv2.imshow(WINDOW, draw_hud(img, lines))

    def poll(self, timeout_s: float) -> bool:
        key = cv2.waitKey(max(1, int(timeout_s * 1000))) & 0xFF
        if key != 0xFF and not self.handle_key(key):
            return False
        try:  # the user closed the window with its close button
            return cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def close(self) -> None:
        if self._open:
            cv2.destroyWindow(WINDOW)
            self._open = False
