"""What every refiner runtime shares: the analyser's input, its parameters, and applying them to planes.

The network (``realtime_train/architecture.py``) only ever sees two 128x128 thumbnails; it answers with a luma
tone curve, a chroma transform and a coarse gain map (:class:`RefinerParams`). Applying those is
done here, on the frame's own Y'CbCr planes: a lookup table on Y, one multiply by a smooth gain,
and a few operations on the chroma planes at their own (usually quarter) size. That keeps the
refiner's cost nearly flat as resolution grows and spares the BGR round trip a pixel network would
need. :func:`apply_params` is the NumPy twin of ``realtime_train.architecture.apply_transform`` (what training
differentiates through); a test keeps them in agreement.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from realtime.backends import plane_size
from realtime.planes import Planes, bgr_matrix, is_full_range, luma_range
from realtime.stages._dispatch import dispatched

THUMB = 128  # side of the square thumbnails the analyser sees
RATIO_EPS = 0.05  # keeps chroma's follow-the-luma ratio from exploding in near-black areas
MAX_RATIO = 4.0
COLOR_PARAMS = 8
#: The network's outputs, by name, in the order of :class:`RefinerParams`' fields (one ONNX graph for every runtime).
OUTPUTS = ("knots", "color", "gain")


@dataclasses.dataclass(frozen=True, slots=True)
class RefinerParams:
    """One frame's transform: ``knots`` (K+1,) tone curve on normalised luma, ``color`` (8,), ``gain`` (G, G) log2."""

    knots: np.ndarray
    color: np.ndarray
    gain: np.ndarray

    def blend(self, previous: RefinerParams, keep: float) -> RefinerParams:
        """``keep`` of ``previous`` plus the rest of ``self``: an exponential moving average step."""
        mix = lambda a, b: (keep * b + (1.0 - keep) * a).astype(np.float32)  # noqa: E731
        return RefinerParams(mix(self.knots, previous.knots), mix(self.color, previous.color),
                             mix(self.gain, previous.gain))

    @classmethod
    def identity(cls, knots: int = 16, grid: int = 16) -> RefinerParams:
        color = np.array([1, 0, 0, 1, 0, 0, 0, 0], dtype=np.float32)
        return cls(np.linspace(0, 1, knots + 1, dtype=np.float32), color, np.zeros((grid, grid), np.float32))


def _sample(plane: np.ndarray) -> np.ndarray:
    """THUMB x THUMB uint8 mean of 2x2 pixels read on a fixed grid over the plane.

    The cost is the same at any resolution: nearest-neighbour resizing reads only the grid's
    pixels, then OpenCV's integer-factor area path averages them. Every plane takes 2x2 samples
    per thumbnail pixel: that halves the noise, as the training thumbnails' 2x2 means of 256-pixel
    crops do, so the network sees the noise level it learned on (4x4 cost six times as much, for
    a quieter thumbnail than any it was trained on).
    """
    side = 2 * THUMB
    if plane_size(plane) != (side, side):
        plane = cv2.resize(plane, (side, side), interpolation=cv2.INTER_NEAREST)
    thumb = cv2.resize(plane, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    return thumb.get() if isinstance(thumb, cv2.UMat) else thumb  # a 16 KiB download from a device


@functools.lru_cache(maxsize=8)
def _rgb_matrix(color) -> np.ndarray:
    """[Y, Cb, Cr, 1] -> [R, G, B] in 0..1: the BGR matrix with its rows reversed and scaled."""
    return (bgr_matrix(color)[::-1] / 255.0).astype(np.float32)


def thumbnail(planes: Planes) -> np.ndarray:
    """THUMB x THUMB x 3 float32 RGB in [0, 1] from host planes, converted with their own matrix.

    Its cost does not grow with resolution (see :func:`_sample`); the analyser's answer is further
    smoothed over frames by :class:`~realtime.refiner.learned.LearnedRefiner`, so the noise of
    a sampled thumbnail does not reach the output.
    """
    ycc = cv2.merge([_sample(planes.y), _sample(planes.cb), _sample(planes.cr)]).astype(np.float32)
    rgb = cv2.transform(ycc, _rgb_matrix(planes.color))
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def analyser_input(stages: Planes, original: Planes) -> np.ndarray:
    """(1, THUMB, THUMB, 6) float32: the classical stages' output, then the original frame."""
    return stack_thumbnails(thumbnail(stages), thumbnail(original))


def stack_thumbnails(stages_thumb: np.ndarray, original_thumb: np.ndarray) -> np.ndarray:
    """The analyser's input from two :func:`thumbnail` results (the refiner reuses the original's)."""
    return np.concatenate([stages_thumb, original_thumb], axis=-1)[None]


def _chroma_scale(planes: Planes) -> float:
    return 255.0 if is_full_range(planes.color) else 224.0


def luma_lut(params: RefinerParams, lo: int, span: float) -> np.ndarray:
    """The tone curve for every 8-bit code, in levels above black (0..span), float32 for cv2.LUT."""
    k = len(params.knots) - 1
    codes = np.clip((np.arange(256, dtype=np.float32) - lo) / span, 0.0, 1.0)
    curve = np.clip(np.interp(codes, np.linspace(0.0, 1.0, k + 1), params.knots), 0.0, 1.0)
    return (curve * span).astype(np.float32).reshape(256, 1)


class Scratch:
    """What :func:`apply_params` keeps between frames: float buffers, and what it derived from the params.

    A 4K frame needs several 33 MB float planes; allocating them anew every frame costs more in
    page faults than the arithmetic itself, so a refiner keeps one ``Scratch`` and passes it in.
    The tone curve's table and the full-size gain depend on the params alone, and a refiner that
    analyses every third frame passes the same params object three times in a row: the later frames
    reuse them (at 720p the gain's upsampling is a tenth of the apply).
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self._params: RefinerParams | None = None
        self._derived: dict[tuple, object] = {}

    def derived(self, params: RefinerParams, key: tuple, make):
        """``make()``, made once for as long as the same ``params`` object comes back."""
        if params is not self._params:  # the reference held here keeps its id from being reused
            self._params, self._derived = params, {}
        value = self._derived.get(key)
        if value is None:
            value = self._derived[key] = make()
        return value

    def get(self, role: str, shape: tuple[int, int]) -> np.ndarray:
        buf = self._buffers.get((role, shape))
        if buf is None:
            buf = self._buffers[(role, shape)] = np.empty(shape, np.float32)
        return buf


def _full_gain(params: RefinerParams, size: tuple[int, int], host: bool, dst: np.ndarray | None):
    """The gain map as linear factors, upsampled to the luma plane (on the device for OpenCL)."""
    gain = np.exp2(params.gain.astype(np.float32))
    return cv2.resize(gain if host else cv2.UMat(gain), size[::-1], dst=dst, interpolation=cv2.INTER_LINEAR)


def _as_float(plane, dst: np.ndarray | None, offset: float = 0.0):
    """An 8-bit plane plus ``offset`` as float32. On the host NumPy casts into a scratch buffer and
    adds in place, the fastest way there; on a device OpenCV does both in one call."""
    if dst is None:
        return cv2.add(plane, offset, dtype=cv2.CV_32F)
    np.copyto(dst, plane, casting="unsafe")
    if offset:
        dst += np.float32(offset)
    return dst


def _offset(plane, offset: float, dst: np.ndarray | None):
    """A float plane plus a constant, into ``dst`` on the host (NumPy: twice OpenCV's speed there)."""
    if dst is None:
        return cv2.add(plane, offset)
    return np.add(plane, np.float32(offset), out=dst)


@dispatched(planes=True)
def apply_params(planes: Planes, params: RefinerParams, scratch: Scratch | None = None) -> Planes:
    """Refined planes: tone curve and gain on Y, then chroma made to follow Y and recoloured.

    One kernel serves host planes (``np.ndarray``) and OpenCL planes (``cv2.UMat``): every step is
    an OpenCV call that takes either, so on a GPU backend the frame is refined where the stages
    left it and is downloaded once, afterwards. There is no ``cv2.cuda`` kernel: on that backend
    the pipeline brings the frame to the host first.
    """
    raise NotImplementedError  # body never runs: the registered kernel does the work


@apply_params.kernel(np.ndarray, cv2.UMat)
def _apply_params(planes: Planes, params: RefinerParams, scratch: Scratch | None = None) -> Planes:
    """The refiner's apply on host or OpenCL planes (see :func:`apply_params`).

    Luma costs one table lookup, the gain's upsampling and one multiply that rounds straight to 8
    bits (plus two 8-bit passes for limited range's black and white levels); the chroma work runs at
    chroma size (a quarter of the pixels for 4:2:0), with the 8-bit to float conversions, the
    centring on 128 and the constant terms folded into the arithmetic calls' offsets and output
    types rather than spent as passes of their own. On the host every float temporary lives in
    ``scratch``; only the three output planes are new arrays.
    """
    host = isinstance(planes.y, np.ndarray)
    store = scratch or Scratch()
    buf = store.get if host else (lambda role, shape: None)
    lo, hi = luma_range(planes.color)
    span = float(hi - lo)
    h, w = plane_size(planes.y)
    lut = store.derived(params, ("lut", lo, span), lambda: luma_lut(params, lo, span))
    y_lvl = cv2.LUT(planes.y, lut, dst=buf("y_lvl", (h, w)))  # levels above black
    gain = store.derived(params, ("gain", host, h, w), lambda: _full_gain(params, (h, w), host, buf("gain", (h, w))))
    y8 = cv2.multiply(y_lvl, gain, dtype=cv2.CV_8U)  # rounded and saturated at 255 in the same pass
    if hi - lo < 255:
        cv2.min(y8, hi - lo, dst=y8)
        cv2.add(y8, lo, dst=y8)

    shape = plane_size(planes.cb)
    # Luma at chroma size, before and after, from the 8-bit planes: the float luma is never
    # materialised at full size, and half a level does not move the ratio.
    if shape == (h, w):
        y_in8, y_out8 = cv2.max(planes.y, lo), y8  # a new array: the input planes are never modified
    else:
        y_in8 = cv2.resize(planes.y, shape[::-1], interpolation=cv2.INTER_AREA)
        y_out8 = cv2.resize(y8, shape[::-1], interpolation=cv2.INTER_AREA)
        cv2.max(y_in8, lo, dst=y_in8)
    cv2.min(y_in8, hi, dst=y_in8)
    # ratio = clip((y_out + eps) / (y_in + eps)), both in levels above black (eps in levels too);
    # never negative, as y_out >= lo after the area average
    eps = RATIO_EPS * span
    den = _as_float(y_in8, buf("den", shape), eps - lo)
    y_out_c = _as_float(y_out8, buf("y_out_c", shape))  # code units: lo is folded into the offsets below
    ratio = _offset(y_out_c, eps - lo, buf("ratio", shape))
    ratio = cv2.divide(ratio, den, dst=ratio if host else None)
    ratio = cv2.min(ratio, MAX_RATIO, dst=ratio if host else None)
    scale = _chroma_scale(planes)
    c = [float(v) for v in params.color]
    cb, cr = _as_float(planes.cb, buf("cb", shape)), _as_float(planes.cr, buf("cr", shape))
    # chroma in code units: ratio * (M @ [cb - 128, cr - 128]) + scale * (c_y * y_out_norm + c_0) + 128
    k_y = scale / span
    half = 0.5 * scale
    c_lo, c_hi = round(128.0 - half), round(128.0 + half)  # 16..240 limited range, 0..256 full
    out = []
    for (a, b, cy, c0), role in zip(((c[0], c[1], c[4], c[6]), (c[2], c[3], c[5], c[7])), ("t0", "t1"), strict=True):
        tmp = cv2.addWeighted(cb, a, cr, b, -128.0 * (a + b), dst=buf(role, shape))
        tmp = cv2.multiply(tmp, ratio, dst=tmp if host else None)
        plane = cv2.addWeighted(y_out_c, cy * k_y, tmp, 1.0, c0 * scale + 128.0 - cy * k_y * lo, dtype=cv2.CV_8U)
        if c_lo > 0:  # limited range; full range's bounds are the 8-bit saturation itself
            cv2.max(plane, c_lo, dst=plane)
            cv2.min(plane, c_hi, dst=plane)
        out.append(plane)
    return planes.replace(y=y8, cb=out[0], cr=out[1])
