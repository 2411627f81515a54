"""What every refiner runtime shares: the analyser's input, its parameters, and applying them to planes.

The network (``models/refiner.py``) only ever sees two 128x128 thumbnails; it answers with a luma
tone curve, a chroma transform and a coarse gain map (:class:`RefinerParams`). Applying those is
done here, on the frame's own Y'CbCr planes: a lookup table on Y, one multiply by a smooth gain,
and a few operations on the chroma planes at their own (usually quarter) size. That keeps the
refiner's cost nearly flat as resolution grows and spares the BGR round trip a pixel network would
need. :func:`apply_params` is the NumPy twin of ``models.refiner.apply_transform`` (what training
differentiates through); a test keeps them in agreement.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from realtime.planes import Planes, bgr_matrix, is_full_range, luma_range

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


def _sample(plane: np.ndarray, samples: int) -> np.ndarray:
    """THUMB x THUMB uint8 mean of ``samples`` x ``samples`` pixels read on a fixed grid over the plane.

    The cost is the same at any resolution: nearest-neighbour resizing reads only the grid's
    pixels, then OpenCV's integer-factor area path averages them. Luma takes 4x4 samples per
    thumbnail pixel (noise divided by four before the network sees it); chroma, already smoothed
    by subsampling and the denoiser, takes 2x2.
    """
    side = samples * THUMB
    if plane.shape != (side, side):
        plane = cv2.resize(plane, (side, side), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(plane, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


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
    ycc = cv2.merge([_sample(planes.y, 4), _sample(planes.cb, 2), _sample(planes.cr, 2)]).astype(np.float32)
    rgb = cv2.transform(ycc, _rgb_matrix(planes.color))
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def analyser_input(stages: Planes, original: Planes) -> np.ndarray:
    """(1, THUMB, THUMB, 6) float32: the classical stages' output, then the original frame."""
    return np.concatenate([thumbnail(stages), thumbnail(original)], axis=-1)[None]


def _chroma_scale(planes: Planes) -> float:
    return 255.0 if is_full_range(planes.color) else 224.0


def _luma_lut(params: RefinerParams, lo: int, span: float) -> np.ndarray:
    """The tone curve for every 8-bit code, in levels above black (0..span), float32 for cv2.LUT."""
    k = len(params.knots) - 1
    codes = np.clip((np.arange(256, dtype=np.float32) - lo) / span, 0.0, 1.0)
    curve = np.clip(np.interp(codes, np.linspace(0.0, 1.0, k + 1), params.knots), 0.0, 1.0)
    return (curve * span).astype(np.float32).reshape(256, 1)


class Scratch:
    """Reusable float buffers for :func:`apply_params`, one per shape and role.

    A 4K frame needs several 33 MB float planes; allocating them anew every frame costs more in
    page faults than the arithmetic itself, so a refiner keeps one ``Scratch`` and passes it in.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, tuple[int, int]], np.ndarray] = {}

    def get(self, role: str, shape: tuple[int, int]) -> np.ndarray:
        buf = self._buffers.get((role, shape))
        if buf is None:
            buf = self._buffers[(role, shape)] = np.empty(shape, np.float32)
        return buf


def apply_params(planes: Planes, params: RefinerParams, scratch: Scratch | None = None) -> Planes:
    """Refined host planes: tone curve and gain on Y, then chroma made to follow Y and recoloured.

    Luma costs one table lookup, one multiply by the upsampled gain and one rounding pass; the
    chroma work runs at chroma size (a quarter of the pixels for 4:2:0). Every float temporary
    lives in ``scratch``; only the three output planes are new arrays.
    """
    buf = (scratch or Scratch()).get
    lo, hi = luma_range(planes.color)
    span = float(hi - lo)
    h, w = planes.y.shape
    y_out = cv2.LUT(planes.y, _luma_lut(params, lo, span), dst=buf("y_out", (h, w)))
    gain = cv2.resize(np.exp2(params.gain.astype(np.float32)), (w, h), dst=buf("gain", (h, w)),
                      interpolation=cv2.INTER_LINEAR)
    cv2.multiply(y_out, gain, dst=y_out)
    cv2.min(y_out, span, dst=y_out)  # float levels above black, 0..span
    y8 = cv2.convertScaleAbs(y_out, alpha=1.0, beta=float(lo))

    ch, cw = planes.cb.shape
    shape = (ch, cw)
    # Luma at chroma size, before and after, from the 8-bit planes: the float luma is not read
    # again (at 720p it no longer fits in cache by now), and half a level does not move the ratio.
    y_in_c, y_out_c = buf("y_in_c", shape), buf("y_out_c", shape)
    if shape == (h, w):
        np.copyto(y_in_c, planes.y, casting="unsafe")
        np.copyto(y_out_c, y8, casting="unsafe")
    else:
        np.copyto(y_in_c, cv2.resize(planes.y, (cw, ch), interpolation=cv2.INTER_AREA), casting="unsafe")
        np.copyto(y_out_c, cv2.resize(y8, (cw, ch), interpolation=cv2.INTER_AREA), casting="unsafe")
    y_out_c -= lo  # levels above black, like y_out
    # ratio = clip((y_out + eps) / (y_in + eps)), both normalised to 0..1 (y_in clipped to it)
    eps = RATIO_EPS * span
    np.clip(y_in_c, lo, hi, out=y_in_c)
    y_in_c += eps - lo
    ratio = buf("ratio", shape)
    np.add(y_out_c, eps, out=ratio)
    np.divide(ratio, y_in_c, out=ratio)
    np.clip(ratio, 0.0, MAX_RATIO, out=ratio)
    scale = _chroma_scale(planes)
    c = [float(v) for v in params.color]
    cb, cr = buf("cb", shape), buf("cr", shape)
    np.subtract(planes.cb, np.float32(128.0), out=cb)
    np.subtract(planes.cr, np.float32(128.0), out=cr)
    # chroma in code units: ratio * (M @ [cb, cr]) + scale * (c_y * y_out_norm + c_0) + 128
    k_y = scale / span
    half = 0.5 * scale
    out = []
    for (a, b, cy, c0), tmp in zip(((c[0], c[1], c[4], c[6]), (c[2], c[3], c[5], c[7])),
                                   (buf("t0", shape), buf("t1", shape)), strict=True):
        cv2.addWeighted(cb, a, cr, b, 0.0, dst=tmp)
        cv2.multiply(tmp, ratio, dst=tmp)
        cv2.scaleAdd(y_out_c, cy * k_y, tmp, dst=tmp)
        tmp += c0 * scale + 128.0
        np.clip(tmp, 128.0 - half, 128.0 + half, out=tmp)
        out.append(cv2.convertScaleAbs(tmp))
    return planes.replace(y=y8, cb=out[0], cr=out[1])
