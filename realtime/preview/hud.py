"""Pure drawing for the preview window: split view, heads-up display, help overlay, messages.

Everything here is a function of NumPy arrays (and plain values), so it is tested, and can be
looked at, without a display. The window (``window.py``) only decides *what* to draw.

Text is drawn at a fixed pixel size on an image already scaled to the window's display size
(:func:`fit`), so it reads the same in a 320x180 window and on a 4K frame shown full screen:
scaling the frame after drawing would make it tiny on 4K and huge in small windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.stats import LiveStats

#: the preview window's keys, in the order the help overlay lists them (the README's table, too)
KEYS: tuple[tuple[str, str], ...] = (
    ("q / Esc", "quit"),
    ("space", "split view on/off: original | enhanced"),
    ("[ / ]", "move the split 5% left / right"),
    ("drag", "move the split (left mouse button)"),
    ("1-9", "stage 1-9 on/off, in pipeline order"),
    ("r", "refiner on/off"),
    ("h", "this help on/off"),
)

BGR = tuple[int, int, int]
WHITE: BGR = (255, 255, 255)
AMBER: BGR = (0, 191, 255)  # warnings: a source lost, a key with nothing to do
RED: BGR = (60, 60, 255)  # recording
DIM: BGR = (170, 170, 170)  # the hint line

_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: 15 px from the top of a capital to the baseline (19 px with descenders) at any window size
FONT_SCALE = 0.55
THICK = 1
LINE_H = 22
MARGIN = 8  # from the image's edges
PAD = 6  # inside a panel or box
DOT = "\u25cf "  # "● ": Hershey fonts have no such glyph, so it is drawn as a filled circle

# Hershey fonts draw ASCII only (anything else comes out as "?"): what the HUD's strings may hold
_ASCII = str.maketrans({"\u2026": "...", "\u2013": "-", "\u2014": "-", "\u00d7": "x", "\u2019": "'"})


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the HUD: its text and colour."""

    text: str
    color: BGR = WHITE


def ascii_text(text: str) -> str:
    return text.translate(_ASCII).encode("ascii", "replace").decode()


def text_width(text: str) -> int:
    """Pixels ``text`` takes at the HUD's size (a leading :data:`DOT` counted as drawn)."""
    if text.startswith(DOT):
        return 18 + text_width(text[len(DOT):])
    return cv2.getTextSize(ascii_text(text), _FONT, FONT_SCALE, THICK)[0][0]


def fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` scaled to ``size`` (width, height) or returned as it is when it already has that size.

    INTER_AREA when shrinking (no aliasing), INTER_LINEAR when enlarging (INTER_AREA is slow there).
    """
    w, h = size
    if (img.shape[1], img.shape[0]) == (w, h):
        return img
    shrink = w * h < img.shape[1] * img.shape[0]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def display_size(frame: tuple[int, int], window: tuple[int, int] | None) -> tuple[int, int]:
    """The size to draw at: the frame's aspect ratio filling the window's image area (KEEPRATIO
    letterboxes the rest), or the frame's own size when the window's is unknown."""
    fw, fh = frame
    if not window or window[0] <= 0 or window[1] <= 0:
        return fw, fh
    s = min(window[0] / fw, window[1] / fh)
    return max(1, round(fw * s)), max(1, round(fh * s))


def _put(img: np.ndarray, text: str, x: int, baseline: int, color: BGR) -> None:
    if text.startswith(DOT):  # a filled circle the size of a capital, then the rest
        r = 6
        cv2.circle(img, (x + r, baseline - 7), r, color, -1, cv2.LINE_AA)
        x, text = x + 2 * r + 6, text[len(DOT):]
    cv2.putText(img, ascii_text(text), (x, baseline), _FONT, FONT_SCALE, color, THICK, cv2.LINE_AA)


def _box(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, alpha: float) -> None:
    """Darken ``img[y0:y1, x0:x1]`` in place, to ``alpha`` of its brightness (0: opaque black)."""
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(img.shape[1], x1), min(img.shape[0], y1)
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi.astype(np.uint16) * round(alpha * 256) >> 8).astype(np.uint8)


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels (a word wider stays whole)."""
    out: list[str] = []
    for word in text.split(" "):
        if out and text_width(out[-1] + " " + word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return out or [""]


# --- split view -------------------------------------------------------------------------------------

LABELS = ("original", "enhanced")
LABEL_FILL: BGR = (40, 40, 40)  # opaque, so the labels read over any picture
LABEL_H = LINE_H + 2
#: how far the HUD moves down in the split view, to sit below the labels
SPLIT_HUD_TOP = LABEL_H + 4


def label_rects(size: tuple[int, int], position: float) -> tuple[tuple[int, int, int, int], ...]:
    """(x0, y0, x1, y1) of the "original" and "enhanced" boxes: at the top, either side of the divider."""
    w, _ = size
    x = divider_x(w, position)
    rects = []
    for i, label in enumerate(LABELS):
        bw = text_width(label) + 2 * PAD
        x0 = x - 6 - bw if i == 0 else x + 6
        x0 = min(max(MARGIN, x0), max(MARGIN, w - MARGIN - bw))  # kept inside the frame near an edge
        rects.append((x0, MARGIN, x0 + bw, MARGIN + LABEL_H))
    return tuple(rects)


def divider_x(width: int, position: float) -> int:
    return round((width - 1) * min(max(position, 0.0), 1.0))


def split_view(before: np.ndarray, after: np.ndarray, position: float = 0.5, *, labels: bool = True) -> np.ndarray:
    """Left of ``position`` (0-1) the input, right of it the output, a divider between and, with
    ``labels``, a small "original" and "enhanced" box at the top either side of it."""
    if before.shape != after.shape:
        before = cv2.resize(before, (after.shape[1], after.shape[0]), interpolation=cv2.INTER_AREA)
    h, w = after.shape[:2]
    x = divider_x(w, position)
    out = after.copy()
    out[:, :x] = before[:, :x]
    # a white line with a dark edge each side: visible over bright and dark pictures alike
    out[:, max(0, x - 2):x + 3] = 0
    out[:, max(0, x - 1):x + 2] = 255
    if labels:
        for label, (x0, y0, x1, y1) in zip(LABELS, label_rects((w, h), position), strict=True):
            cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), LABEL_FILL, -1)
            _put(out, label, x0 + PAD, y1 - 7, WHITE)
    return out


# --- the heads-up display ---------------------------------------------------------------------------

def hud_lines(stats: LiveStats, stage_names: Sequence[str], enabled: Sequence[bool], split: bool = False, *,
              preset: str = "", recording: str | None = None) -> list[Line]:
    """What the HUD says: speed, preset, recording, the source's trouble, stages, a hint."""
    lines = [Line(f"{stats.fps:.1f} fps  latency {stats.latency_ms:.1f} ms  dropped {stats.dropped}")]
    if preset:
        lines.append(Line(f"preset {preset}" + ("   split view" if split else "")))
    elif split:
        lines.append(Line("split view"))
    if recording:
        lines.append(Line(f"{DOT}REC {recording.split('?')[0][:40]}", RED))  # no stream keys on screen
    if stats.status:
        lines.append(Line(stats.status, AMBER))
    for i, (name, on) in enumerate(zip(stage_names, enabled, strict=True)):
        ms = stats.timings.get(name)
        timing = f"{ms:5.2f} ms" if (on and ms is not None) else "  on" if on else "  off"
        lines.append(Line(f"[{i + 1}] {name:<9}{timing}", WHITE if on else DIM))
    for extra in ("color", "transfer"):
        if extra in stats.timings:
            lines.append(Line(f"    {extra:<9}{stats.timings[extra]:5.2f} ms"))
    lines.append(Line("h help", DIM))
    return lines


def hud_rect(size: tuple[int, int], lines: Sequence[Line | str], top: int = 0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the HUD's panel for ``lines`` in an image of ``size``."""
    w, h = size
    rows = _layout(lines, w)
    width = max(text_width(t) for t, _ in rows) + 2 * PAD if rows else 0
    height = LINE_H * len(rows) + 2 * PAD - 4
    x1, y1 = min(w, MARGIN + width), min(h, MARGIN + top + height)
    return MARGIN, min(h, MARGIN + top), x1, y1


def _layout(lines: Sequence[Line | str], width: int) -> list[tuple[str, BGR]]:
    room = max(40, width - 2 * MARGIN - 2 * PAD)
    rows = []
    for line in lines:
        line = Line(line) if isinstance(line, str) else line
        rows += [(t, line.color) for t in wrap(line.text, room)]
    return rows


def draw_hud(img: np.ndarray, lines: Sequence[Line | str], *, top: int = 0) -> np.ndarray:
    """``lines`` on a translucent dark panel in the top-left corner (``top`` pixels lower), at a fixed
    text size; lines too long for the image wrap, lines beyond its bottom are left out."""
    out = img.copy()
    rows = _layout(lines, img.shape[1])
    x0, y0, x1, y1 = hud_rect((img.shape[1], img.shape[0]), lines, top)
    _box(out, x0, y0, x1, y1, 0.35)
    for i, (text, color) in enumerate(rows):
        baseline = y0 + PAD + LINE_H * i + 15
        if baseline + 4 > img.shape[0]:
            break
        _put(out, text, x0 + PAD, baseline, color)
    return out


# --- help overlay and messages ----------------------------------------------------------------------

HELP_TITLE = "keys"


def help_rect(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the help box: centred, clipped to the image."""
    w, h = size
    col = max(text_width(k) for k, _ in KEYS) + 16
    bw = col + max(text_width(d) for _, d in KEYS) + 2 * PAD + 8
    bh = LINE_H * (len(KEYS) + 1) + 2 * PAD + 4
    bw, bh = min(bw, w), min(bh, h)
    x0, y0 = (w - bw) // 2, (h - bh) // 2
    return x0, y0, x0 + bw, y0 + bh


def draw_help(img: np.ndarray, keys: Sequence[tuple[str, str]] = KEYS) -> np.ndarray:
    """The picture darkened, and a box in its middle listing ``keys`` (key, what it does)."""
    out = img.copy()
    _box(out, 0, 0, out.shape[1], out.shape[0], 0.4)
    x0, y0, x1, y1 = help_rect((out.shape[1], out.shape[0]))
    _box(out, x0, y0, x1, y1, 0.2)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), DIM, 1)
    col = max(text_width(k) for k, _ in keys) + 16
    _put(out, HELP_TITLE, x0 + PAD + 4, y0 + PAD + 15, AMBER)
    for i, (key, what) in enumerate(keys):
        baseline = y0 + PAD + LINE_H * (i + 1) + 17
        if baseline + 4 > y1:
            break
        _put(out, key, x0 + PAD + 4, baseline, WHITE)
        _put(out, what, x0 + PAD + 4 + col, baseline, DIM)
    return out


def message_rect(size: tuple[int, int], text: str) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a message's box: centred near the bottom."""
    w, h = size
    bw = min(w, text_width(text) + 2 * PAD + 4)
    bh = LABEL_H
    x0 = (w - bw) // 2
    y1 = max(bh, h - 3 * MARGIN)
    return x0, y1 - bh, x0 + bw, y1


def draw_message(img: np.ndarray, text: str, color: BGR = AMBER) -> np.ndarray:
    """A short message (a key with nothing to do) in a box near the bottom."""
    out = img.copy()
    x0, y0, x1, y1 = message_rect((out.shape[1], out.shape[0]), text)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), LABEL_FILL, -1)
    cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), color, 1)
    _put(out, text, x0 + PAD + 2, y1 - 7, color)
    return out


def compose(image: np.ndarray, original: np.ndarray | None, size: tuple[int, int], lines: Sequence[Line | str], *,
            split: bool = False, position: float = 0.5, help: bool = False, message: str = "") -> np.ndarray:
    """The whole picture the window shows, drawn at ``size`` (the window's display size).

    The frame (and with ``split`` the original) is scaled to ``size`` first, then the split view,
    the HUD (below the split labels), the help overlay and a message are drawn over it.
    """
    out = fit(image, size)
    top = 0
    if split and original is not None:
        out = split_view(fit(original, size), out, position)
        top = SPLIT_HUD_TOP
    out = draw_hud(out, lines, top=top)
    if help:
        out = draw_help(out)
    if message:
        out = draw_message(out, message)
    return out
