"""Synthetic media written with PyAV for the tests: clips with and without audio, odd sizes, VFR."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Clip:
    path: Path
    frames: int
    width: int
    height: int
    pts: tuple[int, ...]
    time_base: Fraction
    audio: bool


def scene(index: int, width: int, height: int) -> np.ndarray:
    """A dark, noisy frame with a moving bright square, deterministic per index."""
    rng = np.random.default_rng(index)
    y = np.linspace(20, 60, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 30, width, dtype=np.float32)[None, :]
    base = (y + x)[..., None] * np.array([0.8, 1.0, 1.2], np.float32)
    img = base + rng.normal(0, 6, (height, width, 3)).astype(np.float32)
    s = max(4, min(width, height) // 6)
    x0 = (index * 7) % max(1, width - s)
    img[height // 3 : height // 3 + s, x0 : x0 + s] += 90
    return np.clip(img, 0, 255).astype(np.uint8)


def write_clip(
    path: Path,
    *,
    frames: int = 24,
    width: int = 320,
    height: int = 240,
    fps: int = 24,
    audio: bool = False,
    vfr: bool = False,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    colorspace: int | None = None,
    container_options: dict[str, str] | None = None,
    image: Callable[[int, int, int], np.ndarray] | None = None,
) -> Clip:
    """Write a clip; with ``vfr`` the frame durations vary (1, 2 or 3 ticks of 1/(2*fps)).

    ``image(index, width, height)`` draws frame ``index`` as BGR (default :func:`scene`).
    """
    draw = image or scene
    tb = Fraction(1, fps * 2) if vfr else Fraction(1, fps)
    pts: list[int] = []
    t = 0
    for i in range(frames):
        pts.append(t)
        t += (1 + (i * 7) % 3) if vfr else 1
    out = av.open(str(path), mode="w", options=container_options or {})
    v = out.add_stream(codec, rate=fps)
    v.width, v.height, v.pix_fmt = width, height, pix_fmt
    v.time_base = tb
    v.codec_context.time_base = tb
    if codec == "libx264":
        v.codec_context.options = {"preset": "ultrafast", "crf": "18"}
    if colorspace is not None:
        cc = v.codec_context
        cc.colorspace = colorspace
        cc.color_primaries = colorspace
        cc.color_trc = colorspace
        cc.color_range = 1
    a = None
    if audio:
        a = out.add_stream("aac", rate=48000)
        a.layout = "stereo"
    for i, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(draw(i, width, height), format="bgr24")
        frame = frame.reformat(format=pix_fmt)
        frame.pts = p
        frame.time_base = tb
        for packet in v.encode(frame):
            out.mux(packet)
    for packet in v.encode():
        out.mux(packet)
    if a is not None:
        seconds = float((pts[-1] + 1) * tb)
        samples = int(seconds * 48000)
        n = 1024
        rng = np.random.default_rng(1)
        for start in range(0, samples, n):
            t_ = (np.arange(start, start + n) / 48000.0).astype(np.float32)
            tone = 0.2 * np.sin(2 * np.pi * 440 * t_) + 0.02 * rng.standard_normal(n).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([tone, tone]).astype(np.float32), format="fltp",
                                            layout="stereo")
            af.sample_rate = 48000
            af.pts = start
            af.time_base = Fraction(1, 48000)
            for packet in a.encode(af):
                out.mux(packet)
        for packet in a.encode():
            out.mux(packet)
    out.close()
    return Clip(path, frames, width, height, tuple(pts), tb, audio)


def read_video(path: Path) -> tuple[list[Fraction], list[np.ndarray], Fraction]:
    """Presentation times (seconds, exact fractions), BGR images of every frame, stream time base."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        times, images = [], []
        for f in c.decode(s):
            times.append(f.pts * f.time_base)
            images.append(f.to_ndarray(format="bgr24"))
        return times, images, s.time_base


def audio_packets(path: Path) -> list[tuple[bytes, Fraction | None]]:
    """Payload and presentation time of every audio packet, in order."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        s = c.streams.audio[0]
        return [(bytes(p), p.pts * p.time_base if p.pts is not None else None)
                for p in c.demux(s) if p.size]


def write_corrupt_clip(path: Path, bad_indices: tuple[int, ...], *, frames: int = 20) -> int:
    """An MJPEG/MKV clip whose packets at ``bad_indices`` hold random bytes; returns good frames."""
    src = write_clip(path.with_name(path.stem + "_clean.mkv"), frames=frames, codec="mjpeg",
                     pix_fmt="yuvj420p")
    rng = np.random.default_rng(0)
    with av.open(str(src.path)) as inp, av.open(str(path), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        i = 0
        for p in inp.demux(vin):
            if not p.size:
                continue
            if i in bad_indices:
                q = av.Packet(rng.integers(0, 256, p.size, dtype=np.uint8).tobytes())
                q.pts, q.dts, q.time_base = p.pts, p.dts, p.time_base
                p = q
            p.stream = vout
            out.mux(p)
            i += 1
    return frames - len(bad_indices)
