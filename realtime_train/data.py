"""Training and evaluation examples for the refiner: clean photo -> degraded -> classical stages.

Shared by ``train`` and ``evaluate`` so both see the same degradation model, the same
classical stages and the same thumbnails the runtime computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

import realtime
from realtime.planes import Planes
from realtime.refiner.transform import analyser_input
from realtime_train import degrade

#: The lowlight preset's stages when the refiner runs (``refiner_stages`` in presets.toml): no CLAHE,
#: whose tile-wise remapping the refiner would have to undo; its learned gain map does that job.
REFINER_STAGES = ("contrast", "denoise", "sharpen")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def find_images(dirs: Iterable[str | Path]) -> list[Path]:
    """Every image under the given folders, sorted, so a seed picks the same photos everywhere."""
    found: list[Path] = []
    for d in dirs:
        p = Path(d)
        if p.is_file():
            found.append(p)
            continue
        if not p.is_dir():
            raise FileNotFoundError(f"no such folder: {p}")
        found.extend(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


def read_bgr(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return img


class Classical:
    """The classical stages of a preset, run on one still image at a time with fresh temporal state."""

    def __init__(self, preset: str = "lowlight", stages: Sequence[str] | None = None) -> None:
        self.enhancer = realtime.Enhancer(preset, stages=stages, refiner="off", backend="numpy")

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        return self.enhancer.enhance(bgr)


def random_frame(clean: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` x ``size`` crop after a random rescale and flip: one training 'frame'."""
    h, w = clean.shape[:2]
    scale = size / min(h, w) * rng.uniform(1.0, 1.6)
    img = cv2.resize(clean, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=cv2.INTER_AREA)
    y = int(rng.integers(0, img.shape[0] - size + 1))
    x = int(rng.integers(0, img.shape[1] - size + 1))
    img = img[y:y + size, x:x + size]
    return np.ascontiguousarray(img[:, ::-1] if rng.random() < 0.5 else img)


def make_example(clean: np.ndarray, seed: int, classical: Classical, size: int | None = None,
                 ranges: degrade.DegradationRanges = degrade.DEFAULT_RANGES) -> dict[str, np.ndarray]:
    """One example: analyser input, the stages' output and the clean target (RGB uint8), from ``seed``."""
    rng = np.random.default_rng(seed)
    frame = random_frame(clean, size, rng) if size else clean
    degraded, _ = degrade.degrade(frame, seed, ranges)
    stages = classical(degraded)
    thumb = analyser_input(Planes.from_bgr(stages), Planes.from_bgr(degraded))[0]
    return {"thumb": thumb.astype(np.float32), "stages": stages[..., ::-1].copy(), "target": frame[..., ::-1].copy()}
