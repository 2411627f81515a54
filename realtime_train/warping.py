"""Temporal stability as warping error: how much a video changes where its scene did not.

Lai et al. (2018), "Learning Blind Video Temporal Consistency": frame t-1 is warped onto frame t by
the optical flow between them, pixels the flow cannot follow (occluded, or where forward and
backward flow disagree) are masked out, and the error is the mean squared difference over what is
left. The flow comes from the *clean* clip, so every method is judged on the same motion, and the
result is given as a ratio to the clean clip's own error (flow is never perfect, and a real scene
changes a little from frame to frame): 1.0 is as stable as the clean video, 2.0 twice as unstable.
Brightness flicker and shimmering noise in static areas both raise it; real motion does not.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Motion:
    """The clean clip's motion from frame t-1 to frame t: where each pixel of t was, and whether to trust it."""

    backward: np.ndarray  # HxWx2 float32: pixel (x, y) of frame t came from (x, y) + backward in t-1
    mask: np.ndarray  # HxW bool: the flow is consistent there (not occluded)


def _gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr


def _warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def clean_motion(frames: Sequence[np.ndarray]) -> list[Motion]:
    """Flow between each pair of clean frames (OpenCV's DIS, medium preset) and its occlusion mask.

    A pixel is kept when following the backward flow and then the forward flow brings it back to
    where it started, within Sundaram et al.'s (2010) tolerance (0.01 of the flows' squared length
    plus half a pixel squared), and its source lies inside the previous frame.
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    out = []
    for prev, cur in itertools.pairwise(frames):
        g0, g1 = _gray(prev), _gray(cur)
        forward = dis.calc(g0, g1, None)
        backward = dis.calc(g1, g0, None)
        forward_at_source = _warp(forward, backward)  # the forward flow where each pixel of t came from
        loop = backward + forward_at_source
        tolerance = 0.01 * ((backward**2).sum(-1) + (forward_at_source**2).sum(-1)) + 0.5
        h, w = g1.shape
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        sx, sy = gx + backward[..., 0], gy + backward[..., 1]
        inside = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
        out.append(Motion(backward=backward, mask=((loop**2).sum(-1) < tolerance) & inside))
    return out


def warping_error(frames: Sequence[np.ndarray], motion: Sequence[Motion]) -> float:
    """Mean over frame pairs of the masked mean squared difference (values scaled to 0-1) between
    frame t and frame t-1 warped onto it by ``motion`` (from :func:`clean_motion`)."""
    if len(frames) != len(motion) + 1:
        raise ValueError(f"{len(frames)} frames need {len(frames) - 1} motions, got {len(motion)}")
    errors = []
    for prev, cur, m in zip(frames, frames[1:], motion, strict=False):
        if not m.mask.any():
            continue
        warped = _warp(prev.astype(np.float32) / 255.0, m.backward)
        diff = (cur.astype(np.float32) / 255.0 - warped) ** 2
        if diff.ndim == 3:
            diff = diff.mean(-1)
        errors.append(float(diff[m.mask].mean()))
    return float(np.mean(errors)) if errors else 0.0
