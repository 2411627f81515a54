"""Before/after comparison images: what a user looks at to judge the enhancement."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.frames import FramePacket
from realtime.sinks.images import write_image
from realtime.stats import LiveStats

PANEL_WIDTH = 960  # each half is scaled to at most this width, so the PNG stays viewable


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    scale = max(0.5, img.shape[1] / 900)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(out, (0, 0), (tw + 16, th + base + 14), (0, 0, 0), -1)
    cv2.putText(out, text, (8, th + 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def fit_width(img: np.ndarray, width: int) -> np.ndarray:
    """``img`` shrunk (area-averaged) to at most ``width`` pixels across, its aspect kept; never enlarged."""
    if img.shape[1] <= width:
        return img
    h = max(1, round(img.shape[0] * width / img.shape[1]))
    return cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)


def side_by_side(pairs: list[tuple[int, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rows of [before | after], one row per sampled frame, labelled with the frame index."""
    rows = []
    for index, before, after in pairs:
        b = _label(fit_width(before, PANEL_WIDTH), f"before  #{index}")
        a = _label(fit_width(after, PANEL_WIDTH), f"after  #{index}")
        gap = np.full((b.shape[0], 8, 3), 255, np.uint8)
        rows.append(np.hstack([b, gap, a]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.vstack(rows)[:-8]


class CompareCollector:
    """Keeps (original, enhanced) for a few frames spread over the clip, then writes one PNG."""

    def __init__(self, path: str, frame_count: int | None, samples: int = 4) -> None:
        self.path = Path(path)
        if frame_count and frame_count > 1:
            # the middle of each of ``samples`` equal parts: clear of cuts at the quarter marks
            picks = {int(frame_count * (i + 0.5) / samples) for i in range(samples)}
            self._wanted = {min(p, frame_count - 1) for p in picks}
        else:
            self._wanted = {0}
        self._pairs: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._last: tuple[int, np.ndarray, np.ndarray] | None = None

    def __call__(self, packet: FramePacket, stats: LiveStats) -> None:
        if packet.original is None:
            return
        pair = (packet.index, packet.original_bgr(), packet.image)
        self._last = pair
        if packet.index in self._wanted:
            self._pairs.append(pair)

    def write(self) -> Path | None:
        pairs = self._pairs or ([self._last] if self._last else [])
        if not pairs:
            return None
        write_image(self.path, side_by_side(pairs))
        return self.path
