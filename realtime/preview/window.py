"""The preview window (OpenCV HighGUI). It runs on the main thread, as GUI toolkits require.

Its keys are :data:`~realtime.preview.hud.KEYS` (the title, the help overlay on ``h`` and the
README list them from that one table). The window knows nothing of pipelines or runners: it is
handed :class:`PreviewControls`, callbacks that name the stages, say which are on and toggle one.

What a key or a mouse drag does is pure (:func:`apply_key`, :func:`apply_mouse`: a
:class:`WindowState` in, a new one out) and so is all the drawing (``hud.py``, drawn at the
window's display size so the text is the same size in any window); both are tested without a
display in ``tests/test_hud.py``. ``tests/test_window.py`` runs ``realtime enhance clip.mp4 --show``
for real under Xvfb with OpenCV's Qt backend (skipped where Xvfb, xdotool or OpenCV's GUI is
missing), sends keys and a mouse drag with xdotool and reads the screen back: the window opens at
the frame's size, the HUD is drawn in it, ``h`` shows and hides the help overlay, ``space`` shows
the split view with its labels where the divider is, ``]`` and a left-button drag move it, a
resized window gets the picture drawn at its new size with the HUD's text the same size, and ``q``
ends the run with status 0 and no traceback. Not tested: Wayland, a window manager's decorations,
HighGUI's GTK backend (the opencv-python wheel ships Qt), the close button.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2

from realtime.errors import ConfigError
from realtime.frames import FramePacket
from realtime.preview.hud import KEYS, compose, display_size, hud_lines
from realtime.stats import LiveStats

#: HighGUI's name for the window (what it is looked up by); what the title bar says is set apart
WINDOW = "realtime"
#: how long a message (a key with nothing to do) stays on screen
MESSAGE_S = 2.0
#: how far ``[`` and ``]`` move the split
SPLIT_STEP = 0.05


@dataclass(frozen=True, slots=True)
class PreviewControls:
    """What the window may ask of whatever runs the stages (a pipeline's names, flags and toggle)."""

    names: Callable[[], Sequence[str]]
    enabled: Callable[[], Sequence[bool]]
    toggle: Callable[[int], None]


@dataclass(frozen=True, slots=True)
class WindowState:
    """What the window shows besides the frame; keys and the mouse make new ones."""

    split: bool = False
    #: where the divider is, 0 (left edge) to 1 (right edge)
    position: float = 0.5
    help: bool = False
    message: str = ""
    #: time.monotonic() after which ``message`` is no longer shown
    message_until: float = 0.0
    dragging: bool = False
    quit: bool = False

    def visible_message(self, now: float) -> str:
        return self.message if now < self.message_until else ""


def _say(state: WindowState, text: str, now: float) -> WindowState:
    return dataclasses.replace(state, message=text, message_until=now + MESSAGE_S)


def apply_key(state: WindowState, key: int, controls: PreviewControls, now: float) -> WindowState:
    """One key press (a code from ``cv2.waitKey``): the new state, ``quit`` set for q or Esc.

    Stage toggles go to ``controls`` (their state lives in the pipeline, not here).
    """
    if key < 0:
        return state
    ch = chr(key & 0xFF).lower()
    if key == 27 or ch == "q":
        return dataclasses.replace(state, quit=True)
    if ch == " ":
        return dataclasses.replace(state, split=not state.split)
    if ch in "[]":  # moving the split shows it
        step = -SPLIT_STEP if ch == "[" else SPLIT_STEP
        return dataclasses.replace(state, split=True, position=round(min(1.0, max(0.0, state.position + step)), 4))
    if ch == "h":
        return dataclasses.replace(state, help=not state.help)
    if "1" <= ch <= "9":
        names = list(controls.names())
        i = ord(ch) - ord("1")
        if i < len(names):
            controls.toggle(i)
            return state
        return _say(state, f"no stage {i + 1}: this pipeline has {len(names)}", now)
    if ch == "r":
        names = list(controls.names())
        if "refiner" not in names:
            return _say(state, "no refiner in this pipeline", now)
        controls.toggle(names.index("refiner"))
    return state


def apply_mouse(state: WindowState, event: int, x: int, flags: int, width: int) -> WindowState:
    """A mouse event at ``x`` (a pixel of the shown image, ``width`` wide): a left-button drag moves
    the split while the split view is on (a click alone elsewhere does nothing else)."""
    if not state.split or width <= 0:
        return state
    position = min(1.0, max(0.0, x / max(1, width - 1)))
    if event == cv2.EVENT_LBUTTONDOWN:
        return dataclasses.replace(state, dragging=True, position=position)
    if event == cv2.EVENT_LBUTTONUP:
        return dataclasses.replace(state, dragging=False)
    if event == cv2.EVENT_MOUSEMOVE and (state.dragging or flags & cv2.EVENT_FLAG_LBUTTON):
        return dataclasses.replace(state, position=position)
    return state


def window_title(name: str = "") -> str:
    """``realtime: NAME (q quit, space split, h help)``, the keys named from :data:`KEYS`."""
    short = {"q / Esc": "q quit", "space": "space split", "h": "h help"}
    keys = ", ".join(short[k] for k, _ in KEYS if k in short)
    return f"realtime: {name} ({keys})" if name else f"realtime ({keys})"


def check_display() -> None:
    """Fail with one line instead of letting the GUI toolkit abort the process."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError("--show needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set")


#: the largest window opened without asking the screen (OpenCV cannot tell its size)
MAX_WINDOW = (1600, 900)


class Window:
    def __init__(self, controls: PreviewControls, *, frame_size: tuple[int, int] | None = None, preset: str = "",
                 recording: str | None = None, title: str = "") -> None:
        check_display()
        self.controls = controls
        self.state = WindowState()
        self.preset, self.recording = preset, recording
        self._shown_width = 0
        #: the size asked for, used until HighGUI has laid the window out (its image rect is
        #: letterboxed garbage, e.g. 640x182 for 640x360, until events are pumped after a first imshow)
        self._asked: tuple[int, int] | None = None
        self._laid_out = False
        try:
            # GUI_NORMAL: no Qt toolbar or status bar, so the window's area is the picture's
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
            if frame_size:  # open at the frame's size (scaled down to fit), not HighGUI's 400x300
                w, h = frame_size
                s = min(1.0, MAX_WINDOW[0] / w, MAX_WINDOW[1] / h)
                self._asked = max(1, round(w * s)), max(1, round(h * s))
                cv2.resizeWindow(WINDOW, *self._asked)
            cv2.setMouseCallback(WINDOW, self._mouse)
        except cv2.error as e:
            raise ConfigError(
                "--show needs OpenCV with GUI support (opencv-python, not opencv-python-headless)"
            ) from e
        with contextlib.suppress(cv2.error):  # a backend without titles: the window's name stays
            cv2.setWindowTitle(WINDOW, window_title(title))
        self._open = True

    @property
    def split(self) -> bool:
        return self.state.split

    def handle_key(self, key: int) -> bool:
        """Apply one key press; False means quit."""
        self.state = apply_key(self.state, key, self.controls, time.monotonic())
        return not self.state.quit

    def _mouse(self, event: int, x: int, y: int, flags: int, param: object = None) -> None:
        # HighGUI gives x in pixels of the image shown (WINDOW_NORMAL maps the window's own
        # coordinates back), and the image shown is the one drawn at the window's size
        self.state = apply_mouse(self.state, event, x, flags, self._shown_width)

    def _window_size(self) -> tuple[int, int] | None:
        if not self._laid_out:
            return self._asked
        try:
            _, _, w, h = cv2.getWindowImageRect(WINDOW)
        except cv2.error:
            return None
        return (w, h) if w > 0 and h > 0 else None

    def show(self, packet: FramePacket, stats: LiveStats) -> None:
        img = packet.image
        size = display_size((img.shape[1], img.shape[0]), self._window_size())
        st = self.state
        original = packet.original_bgr() if st.split and packet.original is not None else None
        lines = hud_lines(stats, self.controls.names(), self.controls.enabled(), st.split,
                          preset=self.preset, recording=self.recording)
        out = compose(img, original, size, lines, split=original is not None, position=st.position,
                      help=st.help, message=st.visible_message(time.monotonic()))
        self._shown_width = out.shape[1]
        cv2.imshow(WINDOW, out)

    def poll(self, timeout_s: float) -> bool:
        key = cv2.waitKey(max(1, int(timeout_s * 1000)))
        self._laid_out = self._laid_out or self._shown_width > 0
        if key != -1 and (key & 0xFF) != 0xFF and not self.handle_key(key & 0xFF):
            return False
        try:  # the user closed the window with its close button
            return cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def close(self) -> None:
        if self._open:
            cv2.destroyWindow(WINDOW)
            self._open = False


__all__ = ["KEYS", "PreviewControls", "Window", "WindowState", "apply_key", "apply_mouse", "check_display"]
