"""Pure drawing for the preview window: the split before/after view and the heads-up display.

Kept apart from the window so it can be tested (and looked at) without a display.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from realtime.stats import LiveStats

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def split_view(before: np.ndarray, after: np.ndarray, position: float = 0.5) -> np.ndarray:
    """Left of ``position`` shows the input, right shows the output, with a thin divider."""
    if before.shape != after.shape:
        before = cv2.resize(before, (after.shape[1], after.shape[0]), interpolation=cv2.INTER_AREA)
    x = round(after.shape[1] * min(max(position, 0.0), 1.0))
    out = after.copy()
    out[:, :x] = before[:, :x]
    cv2.line(out, (x, 0), (x, out.shape[0] - 1), (255, 255, 255), 1, cv2.LINE_AA)
    return out


def hud_lines(stats: LiveStats, stage_names: Sequence[str], enabled: Sequence[bool], split: bool) -> list[str]:
    lines = [
        f"{stats.fps:5.1f} fps  latency {stats.latency_ms:5.1f} ms  dropped {stats.dropped}",
    ]
    for i, (name, on) in enumerate(zip(stage_names, enabled, strict=True)):
        ms = stats.timings.get(name)
        timing = f"{ms:5.2f} ms" if (on and ms is not None) else "  off   " if not on else ""
        lines.append(f"[{i + 1}] {name:<9}{timing}")
    for extra in ("color", "transfer"):
        if extra in stats.timings:
            lines.append(f"    {extra:<9}{stats.timings[extra]:5.2f} ms")
    lines.append("space split view" + (" (on)" if split else "") + "   q quit")
    return lines


def draw_hud(img: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Text on a translucent panel in the top-left corner, scaled to the frame's size."""
    out = img.copy()
    scale = max(0.4, min(1.0, img.shape[0] / 1000))
    thick = 1
    line_h = int(26 * scale) + 4
    width = max(cv2.getTextSize(t, _FONT, scale, thick)[0][0] for t in lines) + 16
    height = line_h * len(lines) + 10
    width, height = min(width, out.shape[1]), min(height, out.shape[0])
    roi = out[:height, :width]
    cv2.addWeighted(roi, 0.35, np.zeros_like(roi), 0.65, 0, dst=roi)
    for i, text in enumerate(lines):
        y = 6 + line_h * (i + 1) - 6
        cv2.putText(out, text, (8, y), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
