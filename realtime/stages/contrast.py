"""Robust contrast stretch: map luma percentiles to the video's black and white levels, colours kept.

Why percentiles and not min/max: a single hot pixel or black border would pin the extremes and
leave the stretch doing nothing. The statistics come from a subsampled copy of luma (every 4th
pixel each way by default), which moves the percentiles by well under a level on natural images
while costing a sixteenth of a full histogram.

Why the target depends on the range: limited-range ("TV") video puts black at Y = 16 and white at
235, so stretching it to 0..255 would crush shadows and clip highlights on every player. The
percentiles are mapped to :func:`~realtime.planes.luma_range` of the frame's colour instead.

Why chroma is scaled too: stretching Y alone leaves Cb/Cr untouched, which makes a brightened
image look washed out. Scaling Cb/Cr around 128 by the same gain is exactly one linear stretch of
R, G and B alike (Y'CbCr is an affine function of R'G'B' in every matrix and range: Y's offset
absorbs the stretch's offset, and Cb/Cr have none), so hue is kept and no cast is introduced. The
chroma planes are scaled at their own resolution, with a 256-entry table.

Noise-only frames (a lens cap, a black screen) would otherwise be stretched into loud noise, so
the gain is capped (``max_gain``) and fades back to 1 as the percentile span drops below
``min_span``. The :class:`Contrast` class smooths the levels over time so video does not flicker;
the pure functions take explicit levels.

Example:
    >>> import numpy as np
    >>> dark = np.random.default_rng(0).integers(10, 60, (48, 64, 3), dtype=np.uint8)
    >>> out = contrast(dark, params=ContrastParams())
    >>> bool(out.max() - out.min() > dark.max() - dark.min())
    True
    >>> from realtime.planes import HD_COLOR, Planes
    >>> ramp = np.linspace(40, 120, 64).astype(np.uint8)[None, :, None].repeat(8, 0).repeat(3, 2)
    >>> tv = Planes.from_bgr(ramp, HD_COLOR, subsample=True)  # limited-range BT.709
    >>> out = contrast_planes(tv, params=ContrastParams(low_percentile=0, high_percentile=100))
    >>> int(out.y.min()), int(out.y.max()), int(out.cb.min()), int(out.cr.max())  # grey stays grey
    (16, 235, 128, 128)
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import cv2
import numpy as np

from realtime.backends import Array
from realtime.planes import BGR_NATIVE, ColorInfo, Planes, luma_range
from realtime.stages._dispatch import ARRAY_TYPES, GpuMat, dispatched, umat_size
from realtime.stages.base import StageParams, param
from realtime.stages.color import check_planes, planes_from_bgr, planes_to_bgr


@dataclasses.dataclass(frozen=True)
class ContrastParams(StageParams):
    """Parameters of the contrast stretch.

    Attributes:
        low_percentile: luma percentile mapped to black, in [0, 50).
        high_percentile: luma percentile mapped to white, in (50, 100].
        max_gain: largest slope of the stretch, so dark noise is not blown up; in [1, 16].
        min_span: percentile span (levels) below which the frame counts as featureless and the gain
            fades towards 1; in [0, 255].
        temporal_smoothing: weight of the previous black level in the class's moving average; 0
            follows every frame, values near 1 adapt slowly. In [0, 1).
        white_smoothing: the same for the white level, slower by default: a small bright object
            entering the picture (a white car, headlights, a lamp) lifts the high percentile and
            would darken the whole frame within a few frames (pumping). At 0.95 that takes ~20
            frames instead of ~5 (0.7 s at 30 fps, as a camera's auto-exposure would), which on
            a darkened fixed-camera clip cut the warping error by 2.5x (see the model card).
            In [0, 1).
        sample_step: luma is sampled every ``sample_step`` pixels in each direction; in [1, 16].
    """

    stage: ClassVar[str] = "contrast"
    low_percentile: float = param(0.5, float, 0.0, 50.0, hi_open=True)
    high_percentile: float = param(99.5, float, 50.0, 100.0, lo_open=True)
    max_gain: float = param(4.0, float, 1.0, 16.0)
    min_span: float = param(8.0, float, 0.0, 255.0)
    temporal_smoothing: float = param(0.8, float, 0.0, 1.0, hi_open=True)
    white_smoothing: float = param(0.95, float, 0.0, 1.0, hi_open=True)
    sample_step: int = param(4, int, 1, 16)


_DEFAULT = ContrastParams()


@dataclasses.dataclass(frozen=True)
class Levels:
    """Input luma levels mapped to black (``lo``) and white (``hi``); fractional after smoothing."""

    lo: float
    hi: float


# --------------------------------------------------------------------------------------- statistics


@dispatched(planes=True)
def contrast_levels(planes: Planes, *, params: ContrastParams = _DEFAULT) -> Levels:
    """Robust black/white levels of a frame, from a subsampled histogram of its luma plane."""
    raise NotImplementedError


def levels_from_histogram(hist: np.ndarray, params: ContrastParams) -> Levels:
    """Percentile levels from a 256-bin luma histogram (any numeric dtype)."""
    cdf = np.cumsum(np.asarray(hist, dtype=np.float64).ravel())
    total = cdf[-1]
    if total <= 0:
        return Levels(0.0, 255.0)
    # lo: first level strictly above the low quantile mass, so p=0 gives the minimum;
    # hi: first level reaching the high quantile mass, so p=100 gives the maximum.
    lo = int(np.searchsorted(cdf, total * params.low_percentile / 100.0, side="right"))
    hi = int(np.searchsorted(cdf, total * params.high_percentile / 100.0, side="left"))
    lo = min(lo, 255)
    return Levels(float(lo), float(max(min(hi, 255), lo)))


def sample_grid(width: int, height: int, step: int) -> tuple[int, int, int]:
    """``(step, columns, rows)`` of the luma sample: pixels ``(step * i, step * j)``.

    Every backend samples exactly these pixels (a strided view on the host; a nearest-neighbour
    resize of the ``step``-aligned region on devices, whose scale is then exactly ``step``), so
    their levels agree. Frames under 8 samples across are counted in full.
    """
    if width < 8 * step or height < 8 * step:
        step = 1
    return step, width // step, height // step


@contrast_levels.kernel(np.ndarray)
def _contrast_levels_numpy(planes: Planes, *, params: ContrastParams = _DEFAULT) -> Levels:
    check_planes(planes)
    y = planes.y
    step, cols, rows = sample_grid(y.shape[1], y.shape[0], params.sample_step)
    sample = y[: rows * step : step, : cols * step : step]  # a view: only the sample is copied
    return levels_from_histogram(np.bincount(sample.ravel(), minlength=256), params)


@contrast_levels.kernel(cv2.UMat)
def _contrast_levels_umat(planes: Planes, *, params: ContrastParams = _DEFAULT) -> Levels:
    # Subsample on the device and download only the small sample: the histogram is then counted
    # on the host, where a 256-bin count of a few thousand pixels is trivial.
    step, cols, rows = sample_grid(*umat_size(planes.y), params.sample_step)
    region = cv2.UMat(planes.y, (0, rows * step), (0, cols * step))
    small = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_NEAREST).get()
    return levels_from_histogram(cv2.calcHist([small], [0], None, [256], [0, 256]), params)


# Unverified: written against OpenCV's documented cv2.cuda API; PyPI OpenCV has no CUDA to run it.
@contrast_levels.kernel(GpuMat)
def _contrast_levels_cuda(planes: Planes, *, params: ContrastParams = _DEFAULT) -> Levels:
    step, cols, rows = sample_grid(*planes.y.size(), params.sample_step)
    region = cv2.cuda.GpuMat(planes.y, (0, rows * step), (0, cols * step))  # ROI header, no copy
    small = cv2.cuda.resize(region, (cols, rows), interpolation=cv2.INTER_NEAREST)
    hist = cv2.cuda.calcHist(small)  # 1x256 CV_32SC1, counted on the device
    return levels_from_histogram(hist.download(), params)


def smooth_levels(prev: Levels | None, new: Levels, smoothing: float, white_smoothing: float | None = None) -> Levels:
    """Exponential moving average of levels; ``prev=None`` starts afresh (first frame of a clip).

    ``smoothing`` is the previous black level's weight, ``white_smoothing`` the white level's
    (``None``: the same as the black level's).
    """
    if prev is None:
        return new
    keep_lo = smoothing
    keep_hi = smoothing if white_smoothing is None else white_smoothing
    return Levels(keep_lo * prev.lo + (1.0 - keep_lo) * new.lo, keep_hi * prev.hi + (1.0 - keep_hi) * new.hi)


# ------------------------------------------------------------------------------------------ mapping


def stretch_coefficients(
    levels: Levels, params: ContrastParams = _DEFAULT, color: ColorInfo = BGR_NATIVE
) -> tuple[float, float]:
    """``(gain, offset)`` of the stretch ``Y' = gain * Y + offset`` (chroma: ``gain`` around 128).

    ``levels`` go to the black and white of ``color``'s range (0/255 full, 16/235 limited). When the
    gain is limited (by ``max_gain`` or a small span) the output is narrower than that range; it is
    placed so that the slack below and above keeps the input's proportions. That makes the map
    slide continuously from the identity (gain 1) to the full stretch, instead of pinning dark
    frames to black or bright ones to white. A limited-range frame whose percentiles lie outside
    16..235 gets a gain below 1: the levels are mapped to black and white all the same.
    """
    black, white = luma_range(color)
    full = float(white - black)
    lo, hi = levels.lo, max(levels.hi, levels.lo)
    span = hi - lo
    gain = params.max_gain if span <= 0.0 else min(full / span, params.max_gain)
    if span < params.min_span:
        gain = 1.0 + (gain - 1.0) * span / params.min_span
    out_lo = black + (lo - black) * (full - gain * span) / (full - span) if span < full else float(black)
    return gain, out_lo - gain * lo


def stretch_tables(
    levels: Levels, params: ContrastParams = _DEFAULT, color: ColorInfo = BGR_NATIVE
) -> tuple[np.ndarray, np.ndarray]:
    """The stretch as two (1, 256) uint8 tables for ``LUT``: one for Y, one for Cb and Cr."""
    gain, offset = stretch_coefficients(levels, params, color)
    v = np.arange(256, dtype=np.float64)
    y = np.clip(np.rint(gain * v + offset), 0, 255).astype(np.uint8)
    c = np.clip(np.rint(gain * (v - 128.0) + 128.0), 0, 255).astype(np.uint8)
    return y[None], c[None]


@dispatched(planes=True)
def apply_levels(planes: Planes, levels: Levels, *, params: ContrastParams = _DEFAULT) -> Planes:
    """Stretch a frame so ``levels`` map to its black and white levels (gain-limited, hue kept)."""
    raise NotImplementedError


@apply_levels.kernel(np.ndarray)
def _apply_levels_numpy(planes: Planes, levels: Levels, *, params: ContrastParams = _DEFAULT) -> Planes:
    check_planes(planes)
    gain, offset = stretch_coefficients(levels, params, planes.color)
    # The stretch is affine, and cv2.transform with a 1x2 matrix measured 3x faster than cv2.LUT on
    # the luma plane (0.19 vs 0.64 ms at 720p, one thread). It rounds through float32, so it may
    # differ from the exact table (the OpenCL/CUDA kernels) by one level where gain * Y lands on .5.
    luma = np.array([[gain, offset]], dtype=np.float32)
    chroma = np.array([[gain, 128.0 * (1.0 - gain)]], dtype=np.float32)
    return planes.replace(y=cv2.transform(planes.y, luma), cb=cv2.transform(planes.cb, chroma),
                          cr=cv2.transform(planes.cr, chroma))


@apply_levels.kernel(cv2.UMat)
def _apply_levels_umat(planes: Planes, levels: Levels, *, params: ContrastParams = _DEFAULT) -> Planes:
    # Table lookups: OpenCL's LUT kernel is memory-bound and exact.
    luma, chroma = stretch_tables(levels, params, planes.color)
    return planes.replace(y=cv2.LUT(planes.y, luma), cb=cv2.LUT(planes.cb, chroma), cr=cv2.LUT(planes.cr, chroma))


# Unverified (see above).
@apply_levels.kernel(GpuMat)
def _apply_levels_cuda(planes: Planes, levels: Levels, *, params: ContrastParams = _DEFAULT) -> Planes:
    luma, chroma = (cv2.cuda.createLookUpTable(t) for t in stretch_tables(levels, params, planes.color))
    return planes.replace(y=luma.transform(planes.y), cb=chroma.transform(planes.cb),
                          cr=chroma.transform(planes.cr))


# --------------------------------------------------------------------------------- stage functions


@dispatched(planes=True)
def contrast_planes(planes: Planes, *, params: ContrastParams = _DEFAULT, levels: Levels | None = None) -> Planes:
    """Percentile contrast stretch of a frame's planes.

    Args:
        planes: the frame, any chroma subsampling, range and backend; not modified.
        params: stretch parameters.
        levels: black/white luma levels to use; ``None`` measures them on this frame.

    Returns:
        New planes of the same backend, sizes and colour.
    """
    raise NotImplementedError


@contrast_planes.kernel(*ARRAY_TYPES)
def _contrast_planes(planes: Planes, *, params: ContrastParams = _DEFAULT, levels: Levels | None = None) -> Planes:
    if levels is None:
        levels = contrast_levels(planes, params=params)
    return apply_levels(planes, levels, params=params)


@dispatched
def contrast(bgr: Array, *, params: ContrastParams = _DEFAULT, levels: Levels | None = None) -> Array:
    """Percentile contrast stretch of a BGR frame (full range; see :func:`contrast_planes`)."""
    raise NotImplementedError


@contrast.kernel(*ARRAY_TYPES)
def _contrast(bgr: Array, *, params: ContrastParams = _DEFAULT, levels: Levels | None = None) -> Array:
    return planes_to_bgr(contrast_planes(planes_from_bgr(bgr), params=params, levels=levels))


class Contrast:
    """Contrast stage for one video stream: levels are smoothed over time so video does not flicker.

    Example:
        >>> import numpy as np
        >>> stage = Contrast(ContrastParams(temporal_smoothing=0.5))
        >>> out = stage(np.full((8, 8, 3), 40, np.uint8))
        >>> stage.levels is not None
        True
    """

    name: ClassVar[str] = "contrast"
    array_types: ClassVar[tuple[type, ...]] = contrast_planes.supported_types
    params_type: ClassVar[type[ContrastParams]] = ContrastParams

    def __init__(self, params: ContrastParams | None = None) -> None:
        self.params = params if params is not None else ContrastParams()
        self._levels: Levels | None = None

    @property
    def levels(self) -> Levels | None:
        """The smoothed levels used on the last frame (None before the first)."""
        return self._levels

    def update_levels(self, planes: Planes) -> Levels:
        """Measure ``planes`` and fold them into the smoothed levels."""
        raw = contrast_levels(planes, params=self.params)
        self._levels = smooth_levels(self._levels, raw, self.params.temporal_smoothing, self.params.white_smoothing)
        return self._levels

    def apply_planes(self, planes: Planes) -> Planes:
        return contrast_planes(planes, params=self.params, levels=self.update_levels(planes))

    def __call__(self, bgr: Array) -> Array:
        return planes_to_bgr(self.apply_planes(planes_from_bgr(bgr)))

    def reset(self) -> None:
        self._levels = None

    def __repr__(self) -> str:
        return f"Contrast({self.params!r})"
