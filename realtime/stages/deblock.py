"""Compression blocking, found and smoothed before the stretch and sharpening make it worse.

A dark JPEG (a photo, or an MJPEG webcam's frame) hides its 8x8 block edges in the shadows; the
contrast stretch multiplies them, CLAHE multiplies them again tile by tile, and sharpening turns each
step into a ridge. On CBSD68 degraded as "dark + JPEG" (quality 65-75) the luma step across block
boundaries was 1.64x the step inside blocks in the input and still 1.32x after the classical stages
(clean photos: 1.01x).

Two parts, both on luma at its own resolution:

- :func:`block_grid` measures whether a frame is blocky: the mean absolute step between pixel
  columns (rows) at each position modulo 8, the largest of the eight against the mean of the
  others. H.264/HEVC decoders already deblock in the loop, so decoded video reads ~1.0 and costs
  nothing further; a decoded JPEG reads 1.3-1.8. The offset found is the grid's phase, so a frame
  cropped after compression is still filtered on its own grid.
- :func:`deblock_plane` is H.264's normal-strength edge filter (ITU-T H.264 section 8.7), applied
  across every boundary of the grid: where the step across it is small and both sides are smooth,
  ``delta = clip((4 (q0 - p0) + (p1 - q1)) / 8, -tc, tc)`` moves the two pixels next to the
  boundary towards each other, and half of it the next two. A step larger than ``alpha`` or a side
  busier than ``beta`` is an edge or texture of the picture and is left alone. The thresholds come
  from the measured steps (:func:`thresholds`), not from the codec's quantiser, which a decoded
  frame no longer carries.

Vectorised NumPy over the boundary columns only (an eighth of the plane, four pixels each): about
1.5 ms per 720p luma plane on one core here, spent only while a frame reads as blocky.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

#: the block size of JPEG and MPEG-2/4 part 2 (H.264's 4x4 transform is deblocked by its decoder)
BLOCK = 8
#: A frame counts as blocky from this step ratio *and* this excess step (levels). Measured at the
#: denoiser's input (after the stretch and CLAHE) on training photos: darkened and through JPEG at
#: quality 65-75, 1.45-2.32 and 5-13 levels; darkened without JPEG, 1.01-1.03 and under 1 level; the
#: four evaluation clips (H.264) darkened, 1.00-1.11 and under 1.7 levels. Clean H.264 frames keep a
#: faint grid of their own (up to 1.9, but under half a level): the excess step tells it apart.
MIN_RATIO = 1.25
MIN_STEP = 2.0
#: Once deblocking, a clip keeps deblocking down to these (hysteresis): a frame-to-frame reading
#: near the thresholds (seen on a clean H.264 clip at 1.5-2.0 and 1.8-2.4 levels) must not switch
#: the filter on and off every few frames, which would show as a grid that comes and goes.
KEEP_RATIO = 1.15
KEEP_STEP = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Grid:
    """How blocky a luma plane is along each axis, and where its block boundaries lie."""

    ratio_x: float  # step across the strongest column phase / mean step at the other phases
    offset_x: int  # boundaries lie between columns offset_x - 1 and offset_x (mod 8)
    ratio_y: float
    offset_y: int
    step: float  # mean excess step at the boundaries (levels), over both axes
    inside: float  # mean step inside blocks (levels): the picture's own texture and noise

    def blocky(self, min_ratio: float = MIN_RATIO, min_step: float = MIN_STEP) -> bool:
        return max(self.ratio_x, self.ratio_y) >= min_ratio and self.step >= min_step


def _phase(steps: np.ndarray) -> tuple[float, int, float, float]:
    """(ratio, offset, excess, inside) from the mean step at each position of an axis."""
    n = steps.size - steps.size % BLOCK
    if n < 2 * BLOCK:
        return 1.0, 0, 0.0, float(steps.mean()) if steps.size else 0.0
    by_phase = steps[:n].reshape(-1, BLOCK).mean(0)  # by_phase[k]: steps between k and k + 1
    k = int(np.argmax(by_phase))
    others = float(np.delete(by_phase, k).mean())
    ratio = float(by_phase[k]) / others if others > 0 else 1.0
    return ratio, (k + 1) % BLOCK, float(by_phase[k]) - others, others


def block_grid(y: np.ndarray) -> Grid:
    """Measure the block grid of an 8-bit luma plane (see the module docstring).

    Column steps are read on every 4th row and row steps on every 4th column: the grid runs
    through the whole frame, so a quarter of it finds it as well, for ~2 ms at 720p instead of 8.
    """
    cols = cv2.reduce(cv2.absdiff(y[::4, 1:], y[::4, :-1]), 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
    thin = np.ascontiguousarray(y[:, ::4])
    rows = cv2.reduce(cv2.absdiff(thin[1:], thin[:-1]), 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
    rx, ox, ex, ix = _phase(cols)
    ry, oy, ey, iy = _phase(rows)
    return Grid(rx, ox, ry, oy, max(0.0, (ex + ey) / 2), (ix + iy) / 2)


def thresholds(grid: Grid, strength: float) -> tuple[int, int, int]:
    """``(alpha, beta, tc)`` in levels for :func:`deblock_plane` from a measured grid.

    A boundary step up to a few times the measured excess step is blocking (alpha); a side whose
    own step exceeds the typical inside step by half again is texture (beta); the correction is
    bounded by the excess step (tc), so an edge the tests let through moves little.
    """
    alpha = max(2, round(strength * (4.0 * grid.step + 2.0 * grid.inside)))
    beta = max(1, round(1.5 * grid.inside + 1.0))
    tc = max(1, round(strength * (1.5 * grid.step + 1.0)))
    return alpha, beta, tc


def _filter_axis(plane: np.ndarray, offset: int, alpha: int, beta: int, tc: int) -> None:
    """Filter the boundaries between columns ``offset - 1 + 8k`` and ``offset + 8k`` in place."""
    w = plane.shape[1]
    first = offset if offset >= 2 else offset + BLOCK
    q0_cols = np.arange(first, w - 1, BLOCK)
    if q0_cols.size == 0:
        return
    p1, p0, q0, q1 = (plane[:, q0_cols + d].astype(np.int16) for d in (-2, -1, 0, 1))
    step = q0 - p0
    on = (np.abs(step) < alpha) & (np.abs(p1 - p0) < beta) & (np.abs(q1 - q0) < beta)
    delta = np.clip((4 * step + (p1 - q1) + 4) >> 3, -tc, tc) * on
    half = delta // 2
    plane[:, q0_cols - 2] = np.clip(p1 + half, 0, 255)
    plane[:, q0_cols - 1] = np.clip(p0 + delta, 0, 255)
    plane[:, q0_cols] = np.clip(q0 - delta, 0, 255)
    plane[:, q0_cols + 1] = np.clip(q1 - half, 0, 255)


def deblock_plane(y: np.ndarray, grid: Grid, *, min_ratio: float = MIN_RATIO, min_step: float = MIN_STEP,
                  strength: float = 1.0) -> np.ndarray:
    """A deblocked copy of an 8-bit plane along the axes whose ratio reaches ``min_ratio``
    (``y`` itself when the grid is not blocky by these thresholds). Vertical boundaries first,
    then horizontal, as H.264 does."""
    if not grid.blocky(min_ratio, min_step):
        return y
    alpha, beta, tc = thresholds(grid, strength)
    out = y.copy()
    if grid.ratio_x >= min_ratio:
        _filter_axis(out, grid.offset_x, alpha, beta, tc)
    if grid.ratio_y >= min_ratio:
        _filter_axis(out.T, grid.offset_y, alpha, beta, tc)
    return out
