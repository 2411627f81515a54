"""Make the built-in low-light demo clip, ``realtime/data/demo_lowlight.mp4``.

``make demo`` needs a short clip that looks like what people actually feed this tool: a dark, grainy,
flat phone video shot at night. Shipping someone's real footage raises licence questions, so we make
one from the public-domain / CC0 photos that scikit-image ships (``skimage.data``), filmed by a
virtual camera:

1. **Camera motion.** Each photo gets a few seconds of slow pan and zoom (Ken Burns) plus a little
   handheld shake, rendered with ``cv2.warpAffine`` at sub-pixel precision so motion is smooth (no
   integer-pixel judder that a temporal denoiser would mistake for noise), with short dissolves.
2. **Sensor physics.** In linear light (the photos' sRGB gamma undone) the scene is lit by a warm
   street-light illuminant, blurred by the lens, vignetted, under-exposed by x0.06-0.12 with the
   auto-exposure slowly hunting, and recorded with Poisson shot noise plus Gaussian read noise, row
   noise and a fixed column pattern, fresh each frame and per channel, exactly where a real sensor
   adds them (before white balance, which then amplifies the starved blue channel's noise).
3. **Cheap ISP.** Imperfect white balance (a warm/greenish cast), veiling glare, demosaic softening,
   sRGB gamma, a lifted black level (flat, hazy look) and 8-bit quantisation.
4. **Encoding.** H.264 (libx264, yuv420p, BT.709 limited range, tagged) in MP4 with ``+faststart``,
   and a quiet synthetic AAC ambience track so the demo also exercises audio passthrough.

Everything derives from ``--seed``: the same command makes the same frames. Only PyAV is used for
encoding (no ``ffmpeg`` subprocess). Needs the ``demo`` extra: ``pip install -e ".[demo]"``.

Example:
    python tools/make_demo_clip.py --out realtime/data/demo_lowlight.mp4 --seed 7
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
AUDIO_RATE = 48_000
AAC_FRAME = 1024  # the AAC encoder consumes exactly 1024 samples per channel per frame


# ----------------------------------------------------------------------------------------------
# Colour: sRGB transfer function (IEC 61966-2-1). Noise, blur, exposure and dissolves happen in
# linear light because that is where photons add up; doing them on gamma-encoded values gives
# noise that is too strong in highlights and too weak in shadows, which real footage never shows.
# ----------------------------------------------------------------------------------------------
def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Undo sRGB gamma: values in [0, 1] → linear light in [0, 1]."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Apply sRGB gamma: linear light in [0, 1] → encoded values in [0, 1] (input clipped first)."""
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def load_photos() -> list[np.ndarray]:
    """The four skimage photos as linear-light float32 RGB arrays.

    Imported lazily so that ``--help`` works without the ``demo`` extra installed.
    """
    try:
        from skimage import data
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SystemExit('scikit-image is needed: pip install -e ".[demo]"') from e
    return [srgb_to_linear(getattr(data, name)().astype(np.float32) / 255.0) for name in PHOTOS]


# ----------------------------------------------------------------------------------------------
# Camera motion
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shot:
    """One photo filmed from ``start`` to ``end`` seconds: a pan from ``c0`` to ``c1`` (window centre
    in photo pixels) while the zoom goes from ``z0`` to ``z1`` (1 = the largest window of the output's
    aspect ratio that fits in the photo)."""

    photo: np.ndarray
    start: float
    end: float
    c0: tuple[float, float]
    c1: tuple[float, float]
    z0: float
    z1: float
    shake_phase: tuple[float, ...]


def _fit_window(ph: int, pw: int, aspect: float) -> tuple[float, float]:
    """Largest (height, width) with the output's aspect ratio inside a ``ph`` x ``pw`` photo."""
    return (ph, ph * aspect) if pw / ph > aspect else (pw / aspect, pw)


def plan_shots(
    photos: list[np.ndarray], seconds: float, aspect: float, rng: np.random.Generator, fade: float = 0.5
) -> list[Shot]:
    """Split ``seconds`` between the photos, overlapping neighbours by ``fade`` seconds for dissolves.

    Zooms stay >= 1.06 so the handheld shake never shows the photo's border.
    """
    n = len(photos)
    fade = min(fade, seconds / (2 * n))
    length = (seconds + (n - 1) * fade) / n
    shots = []
    for i, photo in enumerate(photos):
        ph, pw = photo.shape[:2]
        z0, z1 = rng.uniform(1.06, 1.14), rng.uniform(1.2, 1.35)
        if rng.random() < 0.5:  # half the shots zoom out instead of in, like a real operator
            z0, z1 = z1, z0
        centres = []
        for z in (z0, z1):
            wh, ww = _fit_window(ph, pw, aspect)
            wh, ww = wh / z, ww / z
            # keep the pan inside the photo and away from its edges, where the subject rarely is
            cx = rng.uniform(ww / 2, pw - ww / 2) * 0.6 + pw / 2 * 0.4
            cy = rng.uniform(wh / 2, ph - wh / 2) * 0.6 + ph / 2 * 0.4
            centres.append((cx, cy))
        start = i * (length - fade)
        shots.append(
            Shot(photo, start, start + length, centres[0], centres[1], z0, z1,
                 tuple(rng.uniform(0, 2 * math.pi, 6)))
        )
    return shots


def _ease(u: float) -> float:
    """Cosine ease-in/out: a camera operator accelerates and stops smoothly."""
    u = min(max(u, 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * u)


def render_shot(shot: Shot, t: float, width: int, height: int) -> np.ndarray:
    """The shot's view at time ``t`` as linear float32 RGB, ``height`` x ``width``.

    The affine map sends output pixel centres to photo coordinates (pixel centres at integers), so
    pans and zooms move by fractions of a pixel per frame without stepping.
    """
    ph, pw = shot.photo.shape[:2]
    u = _ease((t - shot.start) / (shot.end - shot.start))
    z = shot.z0 * (shot.z1 / shot.z0) ** u  # geometric interpolation: constant perceived zoom speed
    cx = shot.c0[0] + (shot.c1[0] - shot.c0[0]) * u
    cy = shot.c0[1] + (shot.c1[1] - shot.c0[1]) * u
    ww = _fit_window(ph, pw, width / height)[1] / z
    s = ww / width  # photo pixels per output pixel
    # handheld shake: a few incommensurate low frequencies, about +-2 output pixels and +-0.15 degrees
    p = shot.shake_phase
    jx = 1.2 * math.sin(2 * math.pi * 0.7 * t + p[0]) + 0.6 * math.sin(2 * math.pi * 1.9 * t + p[1])
    jy = 1.0 * math.sin(2 * math.pi * 0.9 * t + p[2]) + 0.5 * math.sin(2 * math.pi * 2.3 * t + p[3])
    rot = math.radians(0.12 * math.sin(2 * math.pi * 0.5 * t + p[4]))
    cx, cy = cx + jx * s, cy + jy * s
    a, b = s * math.cos(rot), s * math.sin(rot)
    ox, oy = (width - 1) / 2, (height - 1) / 2
    # photo = R*s*(out - o) + (c - 0.5): continuous centre c, pixel-centre coordinates offset by 0.5
    m = np.array(
        [[a, -b, cx - 0.5 - a * ox + b * oy], [b, a, cy - 0.5 - b * ox - a * oy]], dtype=np.float64
    )
    out = cv2.warpAffine(
        shot.photo, m, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.maximum(out, 0.0, out=out)  # bicubic overshoots slightly below zero near dark edges


def render_scene(shots: list[Shot], t: float, width: int, height: int) -> np.ndarray:
    """The clean scene at time ``t``: the active shot, or a dissolve of two in linear light."""
    active = [s for s in shots if s.start <= t < s.end] or [shots[-1]]
    if len(active) == 1:
        return render_shot(active[0], t, width, height)
    a, b = active[:2]
    w = (t - b.start) / (a.end - b.start)
    return cv2.addWeighted(render_shot(a, t, width, height), 1 - w, render_shot(b, t, width, height), w, 0)


# ----------------------------------------------------------------------------------------------
# The cheap night-time camera
# ----------------------------------------------------------------------------------------------
@dataclass
class NightCamera:
    """A small phone sensor and ISP at night; every number below is chosen to look like one.

    Signal in ``expose`` is in electrons: ``full_well`` electrons is a white that would fill the
    pixel. A tiny pixel at high gain only counts a few hundred, so mid-grey under x0.065 exposure gets
    ~3.5 electrons and shot noise (sqrt of that) is half the signal; after the ISP's blur it shows as
    the blotchy, flickering grain of night phone video, which also survives H.264 at crf 23 (finer,
    per-pixel noise would be smoothed away by the encoder and the clip would look clean).
    """

    width: int
    height: int
    seed: int
    full_well: float = 300.0
    read_noise: float = 2.5  # electrons RMS, per pixel, per frame
    row_noise: float = 0.35  # electrons RMS, one offset per row per frame (rolling-shutter banding)
    column_fpn: float = 0.25  # electrons RMS, fixed per column (the same every frame)
    illuminant: tuple[float, float, float] = (1.25, 1.0, 0.55)  # warm sodium/LED street light, RGB
    wb_gains: tuple[float, float, float] = (0.86, 1.0, 1.45)  # AWB corrects only part of it
    exposure_base: float = 0.065  # for a scene of mean linear light 0.2 (a typical photo)
    exposure_range: tuple[float, float] = (0.06, 0.12)
    black_lift: float = 0.05  # output black level (sRGB fraction): flat, milky shadows
    flare: float = 0.05  # veiling glare: fraction of the mean scene light spread over the frame
    isp_blur: float = 1.2  # demosaic + ISP noise reduction: correlates noise into blotchy grain

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 1])
        self._fpn = (rng.standard_normal(self.width) * self.column_fpn).astype(np.float32)[None, :, None]
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        r2 = ((xx - self.width / 2) ** 2 + (yy - self.height / 2) ** 2) / (self.width / 2) ** 2
        # cos^4-style falloff of a wide phone lens: about 0.55 in the corners
        self._vignette = ((1.0 + 0.45 * r2) ** -2.0).astype(np.float32)[:, :, None]
        self._scale = self.height / 720  # blur radii are specified for 720p
        self._ae_phase = rng.uniform(0, 2 * math.pi, 2)

    def exposure(self, t: float, scene_mean: float) -> float:
        """Auto-exposure: out of gain at night, it only partly compensates a darker scene
        (``** 0.3``), and it hunts slowly, so brightness breathes a little as real phones do."""
        lo, hi = self.exposure_range
        wanted = self.exposure_base * (0.2 / max(scene_mean, 1e-4)) ** 0.3
        hunt = math.exp(
            0.12 * math.sin(2 * math.pi * t / 2.9 + self._ae_phase[0])
            + 0.05 * math.sin(2 * math.pi * t / 1.1 + self._ae_phase[1])
        )
        return float(np.clip(wanted * hunt, lo, hi))

    def capture(self, scene: np.ndarray, index: int, t: float) -> np.ndarray:
        """Turn a linear RGB scene into the 8-bit sRGB frame the phone would record."""
        rng = np.random.default_rng([self.seed, 2, index])  # fresh noise per frame, reproducible
        # optics: lens blur, then vignetting, then the coloured street light
        light = cv2.GaussianBlur(scene, (0, 0), 0.9 * self._scale)
        light *= self._vignette
        light *= np.asarray(self.illuminant, dtype=np.float32)
        light += self.flare * float(light.mean())  # veiling glare lifts the blacks
        # sensor: photons → electrons (Poisson), plus read noise, banding and fixed pattern
        electrons = light * (self.exposure(t, float(scene.mean())) * self.full_well)
        raw = rng.poisson(electrons).astype(np.float32)
        raw += rng.standard_normal(raw.shape, dtype=np.float32) * self.read_noise
        raw += rng.standard_normal((self.height, 1, 3), dtype=np.float32) * self.row_noise
        raw += self._fpn
        # ISP: black clip, then white balance, which amplifies the photon-starved blue channel's noise
        lin = np.maximum(raw, 0.0) * (np.asarray(self.wb_gains, dtype=np.float32) / self.full_well)
        lin = cv2.GaussianBlur(lin, (0, 0), self.isp_blur * self._scale)
        out = linear_to_srgb(lin)
        out = self.black_lift + (0.92 - self.black_lift) * out  # lifted black, soft white: low contrast
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Audio: quiet night ambience
# ----------------------------------------------------------------------------------------------
def make_audio(seconds: float, rng: np.random.Generator, rate: int = AUDIO_RATE) -> np.ndarray:
    """A quiet stereo ambience, float32 planar ``(2, n)`` in [-1, 1].

    Distant-traffic rumble (brown-ish noise shaped in the frequency domain, partly decorrelated
    between channels for width), a faint mains-like hum and a soft tone with slow tremolo. Quiet
    (about -35 dBFS RMS) so nobody is startled, but not silent: an encoder given silence can make a
    track that hides passthrough bugs.
    """
    n = round(seconds * rate)
    f = np.fft.rfftfreq(n, 1 / rate)
    shape = 1.0 / np.sqrt(1.0 + (f / 150.0) ** 2) / np.sqrt(np.maximum(f, 20.0) / 20.0)  # rumble
    shape *= 1.0 / (1.0 + (f / 4000.0) ** 4)  # distant: no highs
    common = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
    t = np.arange(n) / rate
    tone = 0.25 * np.sin(2 * np.pi * 110.0 * t) + 0.12 * np.sin(2 * np.pi * 220.0 * t + 0.3)
    tone *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t)  # slow swell
    chans = []
    for _ in range(2):
        own = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
        noise = 0.7 * common + 0.3 * own
        chans.append(noise / np.sqrt(np.mean(noise**2)) * 0.015 + tone * 0.03)
    audio = np.stack(chans)
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.25)  # 0.25 s fades: no clicks at the ends
    return (audio * fade).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------------
def encode(
    out: Path,
    frames: Iterator[np.ndarray],
    n_frames: int,
    fps: Fraction,
    width: int,
    height: int,
    audio: np.ndarray,
    crf: int,
) -> None:
    """Write RGB frames and planar float audio to an MP4, interleaved in time order.

    Video is converted RGB → yuv420p with the BT.709 matrix in limited range and tagged as such,
    the usual HD convention: players that guess from the resolution then agree with the tags.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w", format="mp4", container_options={"movflags": "+faststart"}) as box:
        video = box.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = 1 / fps
        video.codec_context.time_base = 1 / fps
        video.codec_context.options = {"crf": str(crf), "preset": "medium", "g": str(2 * round(fps))}
        cc = video.codec_context
        cc.colorspace, cc.color_range = Colorspace.ITU709, ColorRange.MPEG
        cc.color_primaries, cc.color_trc = ColorPrimaries.BT709, ColorTrc.BT709

        sound = box.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        sound.bit_rate = 96_000
        sound.time_base = Fraction(1, AUDIO_RATE)

        to_yuv = VideoReformatter()
        sent = 0  # audio samples handed to the encoder so far
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            yuv = to_yuv.reformat(
                frame, format="yuv420p", src_colorspace=Colorspace.ITU709, dst_colorspace=Colorspace.ITU709,
                src_color_range=ColorRange.JPEG, dst_color_range=ColorRange.MPEG,
                dst_color_trc=ColorTrc.BT709, dst_color_primaries=ColorPrimaries.BT709,
            )
            yuv.pts, yuv.time_base = i, 1 / fps
            box.mux(video.encode(yuv))
            # keep audio up to the end of this frame, so the muxer interleaves without buffering
            last = i + 1 == n_frames
            until = audio.shape[1] if last else min(audio.shape[1], round((i + 1) / fps * AUDIO_RATE))
            # whole 1024-sample frames only, except the very last one (the encoder pads it)
            while until - sent >= AAC_FRAME or (last and sent < until):
                chunk = np.ascontiguousarray(audio[:, sent : sent + AAC_FRAME])
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = AUDIO_RATE, sent, Fraction(1, AUDIO_RATE)
                box.mux(sound.encode(af))
                sent += chunk.shape[1]
        box.mux(video.encode(None))  # flush: x264 holds lookahead frames until told the stream ended
        box.mux(sound.encode(None))


# ----------------------------------------------------------------------------------------------
def make_clip(
    out: Path, *, seed: int, width: int, height: int, fps: Fraction, seconds: float, crf: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Render, degrade and encode the clip; returns simple statistics of what was written."""
    rng = np.random.default_rng(seed)
    n_frames = max(1, round(seconds * fps))
    duration = n_frames / fps
    shots = plan_shots(load_photos(), float(duration), width / height, rng)
    camera = NightCamera(width, height, seed)
    audio = make_audio(float(duration), np.random.default_rng([seed, 3]))
    lumas: list[float] = []

    def frames() -> Iterator[np.ndarray]:
        for i in range(n_frames):
            t = float(i / fps)
            rgb = camera.capture(render_scene(shots, t, width, height), i, t)
            lumas.append(float(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).mean()))
            if progress:
                progress(i + 1, n_frames)
            yield rgb

    encode(out, frames(), n_frames, fps, width, height, audio, crf)
    return {"frames": n_frames, "seconds": float(duration), "mean_luma": float(np.mean(lumas)),
            "min_luma": float(np.min(lumas)), "max_luma": float(np.max(lumas)), "bytes": out.stat().st_size}


def _fps(text: str) -> Fraction:
    """Accept ``25``, ``29.97`` or ``30000/1001``; snap decimals to the usual NTSC fractions."""
    try:
        value = Fraction(text).limit_denominator(1001)
    except (ValueError, ZeroDivisionError) as e:
        raise argparse.ArgumentTypeError(f"not a frame rate: {text!r}") from e
    if value <= 0:
        raise argparse.ArgumentTypeError(f"frame rate must be positive: {text!r}")
    return value


def _even(text: str) -> int:
    """yuv420p needs even dimensions; say so up front rather than failing inside the encoder."""
    value = int(text)
    if value < 16 or value % 2:
        raise argparse.ArgumentTypeError(f"must be an even number >= 16, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("realtime/data/demo_lowlight.mp4"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--width", type=_even, default=1280)
    parser.add_argument("--height", type=_even, default=720)
    parser.add_argument("--fps", type=_fps, default=Fraction(25))
    parser.add_argument("--seconds", type=float, default=8.0)
    # 25, not x264's usual 23: sensor grain is expensive to encode, and at 23 the default clip is
    # ~4 MB; 25 keeps it near 2 MB while the grain still survives (at 27+ it turns to smooth mush)
    parser.add_argument("--crf", type=int, default=25, help="x264 quality (lower = bigger file)")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"{done}/{total} frames", file=sys.stderr, flush=True)

    stats = make_clip(args.out, seed=args.seed, width=args.width, height=args.height, fps=args.fps,
                      seconds=args.seconds, crf=args.crf, progress=progress)
    print(
        f"wrote {args.out}: {args.width}x{args.height} @ {args.fps} fps, {stats['frames']} frames, "
        f"{stats['seconds']:.2f} s, {stats['bytes'] / 1e6:.2f} MB, mean luma {stats['mean_luma']:.1f} "
        f"(min {stats['min_luma']:.1f}, max {stats['max_luma']:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
