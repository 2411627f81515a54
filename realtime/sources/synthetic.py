"""A synthetic moving low-light scene: frames for tests, benchmarks and demos without any file.

The scene is built to exercise every stage: smooth gradients (where banding and CLAHE halos
show), saturated shapes (colour casts, hue shifts), lines of small text and 1-2 pixel gratings
(what sharpening should restore and denoising must not erase), and a textured object that moves
every frame (what temporal filters must not smear). It is rendered dark, flat and colour-cast, with
per-channel sensor-like noise that changes every frame, the way a cheap camera sees a room at night.

Every frame is a pure function of ``(index, width, height, seed)``, so tests can compare runs and
the benchmark measures the same work every time. :func:`clean_frame` gives the same instant
well-exposed and noise-free, as the reference for quality metrics (PSNR/SSIM of an enhanced frame).

Speed matters because the benchmark must measure the pipeline, not the source: everything expensive
is computed once per ``(width, height, seed)`` and cached (the clean and dark scenes, the object
sprite, and a noise bank a little larger than the frame). A frame then costs one saturating add
of the dark scene and a noise window at a per-frame random offset, plus pasting the small object:
about 1.5 ms at 1080p on two cores, instead of the ~60 ms that drawing fresh normal noise costs.

Example:
    >>> src = SyntheticSource(width=320, height=180, frames=3, seed=1)
    >>> [p.image.shape for p in src]
    [(180, 320, 3), (180, 320, 3), (180, 320, 3)]
    >>> a, b = (render_frame(2, width=320, height=180, seed=1) for _ in range(2))
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import cv2
import numpy as np

from realtime.errors import ConfigError
from realtime.frames import FramePacket
from realtime.planes import HD_COLOR, Planes
from realtime.sources.base import SourceInfo, SourceStats

__all__ = ["SyntheticSource", "clean_frame", "object_box", "render_frame"]

MIN_SIZE = 16  # below this the shapes and text no longer fit; matches ``open_source``'s check

# Noise is stored biased by +NOISE_CLIP as uint8 and added to a dark scene lowered by NOISE_CLIP, so
# one saturating uint8 add yields ``dark + noise`` exactly (the dark scene's black level is above
# NOISE_CLIP, so the lowering never clips). Sigmas are per BGR channel: after white balance the
# blue channel of a warm-lit sensor is the noisiest, as in real night footage. The noise does not
# grow with the signal (read noise, not shot noise): that would need a per-pixel multiply, several
# times the cost of the add; tools/make_demo_clip.py models the full Poisson-Gaussian physics.
NOISE_CLIP = 16
NOISE_SIGMA_BGR = (7.0, 5.0, 5.5)
NOISE_PAD = 64  # the bank is this much larger than the frame: 64 x 64 distinct noise windows
BLACK_LEVEL = 20  # the dark scene's lifted black (hazy, low contrast); must exceed NOISE_CLIP
EXPOSURE = 0.07  # linear-light gain from the clean scene to the dark one
CAST_BGR = (0.7, 1.0, 1.2)  # warm, slightly green white-balance error, as under street lights

# the object's path: a Lissajous figure, so it moves every frame in both axes and revisits
# positions only after lcm(periods) frames; the periods are in frames, not seconds, so the motion
# per frame is the same whatever the frame rate
PERIOD_X, PERIOD_Y = 160, 110


def _as_fraction(fps: Fraction | float | int) -> Fraction:
    """Frame rates as exact fractions (29.97 → 2997/100), so pts stay integers in 1/fps units."""
    value = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
    if value <= 0:
        raise ConfigError(f"synthetic source fps must be positive, got {fps}")
    return value


def _check_size(width: int, height: int) -> None:
    if width < MIN_SIZE or height < MIN_SIZE:
        raise ConfigError(
            f"synthetic source size must be at least {MIN_SIZE}x{MIN_SIZE}, got {width}x{height}"
        )


def _darken_lut() -> np.ndarray:
    """Per-channel 256-entry table: clean sRGB → under-exposed, colour-cast, lifted-black sRGB.

    Done in linear light so the shadows crush and the highlights keep a little detail, as an
    under-exposed sensor does (scaling sRGB values directly would look merely dimmed).
    """
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    out = np.empty((256, 1, 3), np.uint8)
    for c, cast in enumerate(CAST_BGR):
        x = np.clip(lin * EXPOSURE * cast, 0.0, 1.0)
        s = np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)
        out[:, 0, c] = np.clip(np.rint(BLACK_LEVEL + (200 - BLACK_LEVEL) * s), 0, 255)
    return out


def _draw_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Well-exposed BGR scene: gradients, coloured shapes, text and gratings (no moving object)."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    cx, cy = rng.uniform(0.3, 0.7, 2)
    glow = np.exp(-(((x - cx) * width / height) ** 2 + (y - cy) ** 2) / 0.18)  # a lamp's pool of light
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 60 + 90 * x + 40 * glow  # smooth ramps in every channel: banding shows here first
    img[..., 1] = 70 + 70 * y + 60 * glow
    img[..., 2] = 150 - 60 * x * y + 70 * glow
    img = np.clip(img, 0, 255).astype(np.uint8)

    unit = min(width, height)
    aa = cv2.LINE_AA
    for _ in range(6):  # saturated shapes: colour cast and hue fidelity show on these
        color = tuple(int(c) for c in rng.choice([20, 90, 200, 245], 3))
        px, py = int(rng.uniform(0.05, 0.95) * width), int(rng.uniform(0.05, 0.95) * height)
        size = max(3, int(rng.uniform(0.06, 0.14) * unit))
        kind = rng.integers(3)
        if kind == 0:
            cv2.circle(img, (px, py), size, color, -1, aa)
        elif kind == 1:
            cv2.rectangle(img, (px - size, py - size // 2), (px + size, py + size // 2), color, -1, aa)
        else:
            pts = np.array([[px, py - size], [px - size, py + size], [px + size, py + size]], np.int32)
            cv2.fillPoly(img, [pts], color, aa)

    # lines of text, each smaller than the last down to a few pixels tall: dense, high-frequency
    # detail like signs, labels and screens, at the scales where denoisers start erasing it
    words = "REALTIME low light 0123456789 the quick brown fox jumps over the lazy dog"
    font = cv2.FONT_HERSHEY_SIMPLEX
    y_text = int(0.04 * height)
    for row in range(6):
        scale = max(0.2, unit / 900 * (1.0 - 0.13 * row))
        (_, text_h), baseline = cv2.getTextSize(words, font, scale, 1)
        y_text += text_h + baseline + max(1, text_h // 3)
        shade = int(rng.integers(200, 256))
        line = words[row * 5 :] + " " + words[: row * 5]
        cv2.putText(img, line, (int(0.04 * width), y_text), font, scale, (shade, shade, shade), 1, aa)

    # gratings of 1-, 2- and 3-pixel lines: the finest detail a sharpener must keep, a denoiser must
    # not blur away, and where a resampling bug shows as moiré
    gw, gh = max(4, width // 6), max(4, height // 8)
    gx, gy = width - gw - width // 20, height - gh - height // 12
    for k, period in enumerate((2, 4, 6)):
        x0 = gx + k * gw // 3
        cols = np.arange(gw // 3)
        stripes = np.where((cols // (period // 2)) % 2 == 0, 235, 30).astype(np.uint8)
        region = img[gy : gy + gh, x0 : x0 + gw // 3]
        region[:] = stripes[None, : region.shape[1], None]
    return img


def _draw_sprite(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The moving object: a textured disc (checkerboard + ring), so motion estimators have corners
    to track and a temporal filter that ghosts shows it at once. Returns BGR sprite and its mask."""
    yy, xx = np.mgrid[0:size, 0:size]
    cell = max(2, size // 6)
    checker = ((yy // cell + xx // cell) % 2).astype(np.uint8)
    base = np.array([30, 170, 240], np.uint8) if rng.random() < 0.5 else np.array([240, 160, 30], np.uint8)
    sprite = np.where(checker[..., None] == 1, base, (base * 0.35).astype(np.uint8)).astype(np.uint8)
    c = (size - 1) / 2
    cv2.circle(sprite, (size // 2, size // 2), max(1, size // 2 - max(1, size // 12)), (245, 245, 245),
               max(1, size // 16), cv2.LINE_AA)
    mask = ((yy - c) ** 2 + (xx - c) ** 2) <= (size / 2) ** 2
    return sprite, mask


@dataclass(frozen=True, slots=True)
class _Scene:
    """Everything precomputed for one ``(width, height, seed)``; shared, never written to."""

    clean: np.ndarray  # BGR uint8, well exposed, no object
    dark_low: np.ndarray  # dark scene minus NOISE_CLIP (uint8, never clipped)
    noise: np.ndarray  # (H + pad, W + pad, 3) uint8: noise + NOISE_CLIP, in [0, 2 * NOISE_CLIP]
    sprite_clean: np.ndarray
    sprite_dark_low: np.ndarray
    mask: np.ndarray  # (s, s) uint8, 1 inside the disc: cv2.copyTo's mask (np.copyto(where=) is 50x slower)
    phase: tuple[float, float]


@lru_cache(maxsize=8)
def _scene(width: int, height: int, seed: int) -> _Scene:
    _check_size(width, height)
    rng = np.random.default_rng([seed, width, height])
    clean = _draw_background(width, height, rng)
    size = max(6, round(0.18 * min(width, height)))
    sprite, mask = _draw_sprite(size, rng)
    lut = _darken_lut()

    # noise bank: Gaussian, slightly correlated (a demosaic spreads each sample over its
    # neighbours), rescaled back to the wanted sigma, clipped to +-NOISE_CLIP and biased to uint8
    noise = rng.standard_normal((height + NOISE_PAD, width + NOISE_PAD, 3), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
    noise *= np.asarray(NOISE_SIGMA_BGR, np.float32) / noise.reshape(-1, 3).std(axis=0)
    noise = np.clip(np.rint(noise), -NOISE_CLIP, NOISE_CLIP) + NOISE_CLIP

    return _Scene(
        clean=_readonly(clean),
        dark_low=_readonly(cv2.LUT(clean, lut) - np.uint8(NOISE_CLIP)),
        noise=_readonly(noise.astype(np.uint8)),
        sprite_clean=_readonly(sprite),
        sprite_dark_low=_readonly(cv2.LUT(sprite, lut) - np.uint8(NOISE_CLIP)),
        mask=_readonly(mask.astype(np.uint8)),
        phase=(float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi))),
    )


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def object_box(index: int, *, width: int, height: int, seed: int = 0) -> tuple[int, int, int, int]:
    """Where the moving object is in frame ``index``: ``(x, y, w, h)`` in pixels, inside the frame.

    Public so motion-aware tests can check that a stage follows the object (or at least that
    pixels outside this box are unaffected by its motion).
    """
    if index < 0:
        raise ValueError(f"frame index must be >= 0, got {index}")
    scene = _scene(width, height, seed)
    size = scene.sprite_clean.shape[0]
    px, py = scene.phase
    x = round((width - size) * (0.5 + 0.45 * math.sin(2 * math.pi * index / PERIOD_X + px)))
    y = round((height - size) * (0.5 + 0.45 * math.sin(2 * math.pi * index / PERIOD_Y + py)))
    return x, y, size, size


def render_frame(index: int, *, width: int, height: int, seed: int = 0) -> np.ndarray:
    """The noisy, dark frame ``index`` (BGR uint8, ``height x width x 3``), a pure function.

    The noise window's offset is drawn from a generator seeded with ``(seed, index)``, so the noise
    is new every frame (a temporal denoiser has real work) yet any frame can be rebuilt alone.
    """
    scene = _scene(width, height, seed)
    x, y, w, h = object_box(index, width=width, height=height, seed=seed)
    dy, dx = np.random.default_rng([seed, index]).integers(0, NOISE_PAD, 2)
    noise = scene.noise[dy : dy + height, dx : dx + width]
    frame = cv2.add(scene.dark_low, noise)  # one pass over the frame: this is the whole cost
    obj = cv2.add(scene.sprite_dark_low, noise[y : y + h, x : x + w])
    cv2.copyTo(obj, scene.mask, frame[y : y + h, x : x + w])  # writes through the view, in place
    return frame


def clean_frame(index: int, *, width: int, height: int, seed: int = 0) -> np.ndarray:
    """The same instant as :func:`render_frame`, well exposed and noise-free: the ground truth that
    quality metrics compare an enhanced frame against (it has no colour cast and full contrast)."""
    scene = _scene(width, height, seed)
    x, y, w, h = object_box(index, width=width, height=height, seed=seed)
    frame = scene.clean.copy()
    cv2.copyTo(scene.sprite_clean, scene.mask, frame[y : y + h, x : x + w])
    return frame


class SyntheticSource:
    """An iterator of :class:`FramePacket` from :func:`render_frame`, as fast as they can be made.

    Not paced: a file-like source (``live=False``) that never waits, so benchmarks measure the
    pipeline. Pacing like a camera is a wrapper's job. ``pts`` counts frames in ``1/fps`` units.

    Args:
        width, height: frame size in pixels (odd sizes are fine; at least 16x16).
        fps: frame rate, a ``Fraction`` or a number (``29.97`` becomes ``2997/100``).
        frames: how many frames before the iterator ends; ``None`` never ends.
        seed: the scene's layout, colours, motion and noise; same seed, identical frames.

    Example:
        >>> with SyntheticSource(width=64, height=48, frames=2) as src:
        ...     [(p.index, p.pts, p.time_base) for p in src]
        [(0, 0, Fraction(1, 25)), (1, 1, Fraction(1, 25))]
    """

    def __init__(
        self,
        *,
        width: int = 1280,
        height: int = 720,
        fps: Fraction | float = Fraction(25),
        frames: int | None = None,
        seed: int = 0,
    ) -> None:
        _check_size(width, height)
        if frames is not None and frames < 0:
            raise ConfigError(f"synthetic source frames must be >= 0 or None, got {frames}")
        rate = _as_fraction(fps)
        self.width, self.height, self.fps, self.frames, self.seed = width, height, rate, frames, seed
        self.info = SourceInfo(
            name=f"synthetic:{width}x{height}@{float(rate):g}",
            width=width,
            height=height,
            live=False,
            fps=rate,
            time_base=1 / rate,
            frame_count=frames,
            # frames are generated as sRGB; tagging the HD convention lets a sink write proper tags
            color=HD_COLOR,
            kind="synthetic",
        )
        self.stats = SourceStats()
        self._next = 0
        self._closed = False
        _scene(width, height, seed)  # build the cache now, so the first frame is as fast as the rest

    def __iter__(self) -> Iterator[FramePacket]:
        return self

    def __next__(self) -> FramePacket:
        if self._closed or (self.frames is not None and self._next >= self.frames):
            raise StopIteration
        i = self._next
        image = render_frame(i, width=self.width, height=self.height, seed=self.seed)
        self._next += 1
        self.stats.frames += 1
        return FramePacket(image=image, index=i, pts=i, time_base=self.info.time_base)

    def close(self) -> None:
        """Stop the iteration; later ``next()`` calls raise ``StopIteration``. Idempotent."""
        self._closed = True

    def __enter__(self) -> SyntheticSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PacedSyntheticSource:
    """The synthetic scene delivered like a camera: live, one frame every ``1/fps`` seconds.

    Used for ``realtime enhance synthetic:WxH@FPS`` (try the live path with no camera) and for
    latency measurements: ``t_capture_ns`` is stamped when a frame is due, as a camera would.
    The wait is the camera's frame interval, not a poll: nothing else is checked while sleeping.
    """

    def __init__(self, *, width: int, height: int, fps: Fraction, frames: int | None = None,
                 seed: int = 0) -> None:
        self._inner = SyntheticSource(width=width, height=height, fps=fps, frames=frames, seed=seed)
        self.info = self._inner.info
        self.info.live = True
        self.info.frame_count = None
        self.stats = self._inner.stats
        self._period_ns = int(1e9 / float(self.info.fps))

    def __iter__(self) -> Iterator[FramePacket]:
        t0 = time.perf_counter_ns()
        for packet in self._inner:
            due = t0 + packet.index * self._period_ns
            delay = due - time.perf_counter_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
            # Like a camera (see camera.py): 4:2:0 BT.709 planes, converted on the grabber thread.
            packet.set_planes(Planes.from_bgr(packet.image, HD_COLOR, subsample=True))
            packet.t_capture_ns = time.perf_counter_ns()
            yield packet

    def close(self) -> None:
        self._inner.close()
