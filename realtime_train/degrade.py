"""A seeded camera degradation model: what a cheap camera does to a scene in poor conditions.

Training and evaluation both need dark, noisy, flat, tinted, soft and compressed versions of clean
photos whose clean originals are known. This one module makes them for both, so the refiner is
scored on the same kind of damage it learned to undo, and a seed reproduces a benchmark exactly.

The order follows the light: haze in the scene, optical blur, white-balance error (a colour cast),
under-exposure, then sensor noise in linear space (Poisson shot noise plus Gaussian read noise),
the camera's tone curve back to sRGB (with a flat, low-contrast rendering), 8-bit quantisation and
finally lossy compression (JPEG, or one H.264 frame through PyAV).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import av
import cv2
import numpy as np


@dataclasses.dataclass(frozen=True, slots=True)
class DegradationRanges:
    """Where each parameter is drawn from. The defaults are dark, noisy, consumer-camera footage."""

    exposure: tuple[float, float] = (0.04, 0.35)  # linear scale, drawn log-uniform
    photons_at_white: tuple[float, float] = (300.0, 4000.0)  # electrons at full scale, log-uniform
    read_noise: tuple[float, float] = (0.0005, 0.006)  # std of Gaussian read noise, linear units
    cast_sigma: float = 0.12  # std of log white-balance gains for R and B (G is the reference)
    haze_probability: float = 0.4
    haze: tuple[float, float] = (0.05, 0.35)  # fraction of airlight mixed into the scene
    flatness: tuple[float, float] = (0.8, 1.0)  # tone-curve contrast around mid-grey (1 = none)
    blur_probability: float = 0.5
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    jpeg_probability: float = 0.4
    jpeg_quality: tuple[int, int] = (40, 92)
    h264_probability: float = 0.3
    h264_crf: tuple[int, int] = (20, 32)


DEFAULT_RANGES = DegradationRanges()

#: Named conditions, each scored on its own: averaged together, a method that fails one kind of
#: scene hides behind its wins on another (the refiner over-brightened dim, hazy scenes while it
#: gained 2 dB on dark ones). ``mixed`` is the default draw, as training uses it.
CONDITIONS: dict[str, DegradationRanges] = {
    # very dark, heavy shot noise, nothing else in the way
    "dark": DegradationRanges(exposure=(0.03, 0.15), photons_at_white=(300.0, 1200.0), haze_probability=0.0,
                              flatness=(0.95, 1.0), jpeg_probability=0.0, h264_probability=0.0),
    # not very dark, but strong haze (lifted blacks) and a flat tone curve, light noise
    "dim haze": DegradationRanges(exposure=(0.2, 0.4), photons_at_white=(3000.0, 8000.0), read_noise=(0.0005, 0.002),
                                  haze_probability=1.0, haze=(0.25, 0.45), flatness=(0.7, 0.85),
                                  jpeg_probability=0.0, h264_probability=0.0),
    # dark, then JPEG at quality ~70: blocking and ringing the brightening must not amplify
    "dark + JPEG": DegradationRanges(exposure=(0.03, 0.15), photons_at_white=(300.0, 1200.0), haze_probability=0.0,
                                     flatness=(0.95, 1.0), jpeg_probability=1.0, jpeg_quality=(65, 75),
                                     h264_probability=0.0),
    "mixed": DEFAULT_RANGES,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Degradation:
    """The parameters one degraded image was made with (reported by the evaluation tool)."""

    exposure: float
    photons_at_white: float
    read_noise: float
    gains: tuple[float, float, float]  # B, G, R white-balance multipliers
    haze: float
    flatness: float
    blur_sigma: float
    codec: str  # "none", "jpeg" or "h264"
    quality: int  # JPEG quality or H.264 CRF


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """The sRGB EOTF (IEC 61966-2-1) on values in [0, 1]."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


_SRGB_TO_LINEAR = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, np.float32(1 / 2.4)) - 0.055)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def sample(rng: np.random.Generator, ranges: DegradationRanges = DEFAULT_RANGES) -> Degradation:
    """Draw one set of degradation parameters."""
    r = ranges
    gains_rb = np.exp(rng.normal(0.0, r.cast_sigma, size=2))
    haze = rng.uniform(*r.haze) if rng.random() < r.haze_probability else 0.0
    blur = rng.uniform(*r.blur_sigma) if rng.random() < r.blur_probability else 0.0
    u = rng.random()
    if u < r.jpeg_probability:
        codec, quality = "jpeg", int(rng.integers(r.jpeg_quality[0], r.jpeg_quality[1] + 1))
    elif u < r.jpeg_probability + r.h264_probability:
        codec, quality = "h264", int(rng.integers(r.h264_crf[0], r.h264_crf[1] + 1))
    else:
        codec, quality = "none", 0
    return Degradation(
        exposure=_log_uniform(rng, *r.exposure),
        photons_at_white=_log_uniform(rng, *r.photons_at_white),
        read_noise=float(rng.uniform(*r.read_noise)),
        gains=(float(gains_rb[1]), 1.0, float(gains_rb[0])),
        haze=float(haze),
        flatness=float(rng.uniform(*r.flatness)),
        blur_sigma=float(blur),
        codec=codec,
        quality=quality,
    )


def apply(bgr: np.ndarray, d: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Degrade a clean BGR uint8 photo with parameters ``d``; ``rng`` draws the noise."""
    lin = _SRGB_TO_LINEAR[bgr]
    if d.haze > 0:
        airlight = float(np.clip(np.percentile(lin, 99), 0.5, 1.0))
        lin = lin * (1.0 - d.haze) + airlight * d.haze
    if d.blur_sigma > 0:
        lin = cv2.GaussianBlur(lin, (0, 0), d.blur_sigma)
    lin = lin * np.asarray(d.gains, dtype=np.float32) * d.exposure
    # Shot noise: photon counts are Poisson; read noise adds a Gaussian floor that dominates in the dark.
    electrons = rng.poisson(np.clip(lin, 0, None) * d.photons_at_white).astype(np.float32)
    lin = electrons / d.photons_at_white + rng.normal(0.0, d.read_noise, size=lin.shape).astype(np.float32)
    out = linear_to_srgb(lin)
    out = 0.5 + d.flatness * (out - 0.5)  # a flat camera rendering lifts blacks and dims whites
    out8 = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
    if d.codec == "jpeg":
        return jpeg(out8, d.quality)
    if d.codec == "h264":
        return h264(out8, d.quality)
    return out8


def degrade(
    bgr: np.ndarray, seed: int, ranges: DegradationRanges = DEFAULT_RANGES
) -> tuple[np.ndarray, Degradation]:
    """Degrade ``bgr`` with parameters and noise drawn from ``seed``: the same seed, the same image."""
    rng = np.random.default_rng(seed)
    d = sample(rng, ranges)
    return apply(bgr, d, rng), d


def jpeg(bgr: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def h264(bgr: np.ndarray, crf: int) -> np.ndarray:
    """One frame through x264 (4:2:0, as cameras stream it) and back, in memory with PyAV."""
    h, w = bgr.shape[:2]
    even = np.pad(bgr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = even.shape[1], even.shape[0]
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"crf": str(int(crf)), "preset": "veryfast", "tune": "zerolatency"}
    frame = av.VideoFrame.from_ndarray(even, format="bgr24")
    frame.pts = 0
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    frames = []
    for p in packets:
        frames.extend(decoder.decode(p))
    frames.extend(decoder.decode(None))
    if not frames:
        raise ValueError("H.264 round trip produced no frame")
    return frames[0].to_ndarray(format="bgr24")[:h, :w]
