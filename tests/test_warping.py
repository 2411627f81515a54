"""The warping-error metric (realtime_train/warping.py) on synthetic clips of known motion.

The clip is a textured scene panning a few pixels a frame, so the optical flow has something to
follow; flicker is added as it would look on a screen: a brightness change per frame, or fresh
noise on every frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_train.warping import clean_motion, warping_error


def _pan(frames: int = 8, step: int = 3, size: tuple[int, int] = (96, 128)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    h, w = size
    texture = rng.integers(0, 256, (h // 4, (w + step * frames) // 4 + 1, 3), np.uint8)
    import cv2

    big = cv2.resize(texture, (texture.shape[1] * 4, texture.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 1.5)
    return [np.ascontiguousarray(big[:h, i * step: i * step + w]) for i in range(frames)]


@pytest.fixture(scope="module")
def clip():
    frames = _pan()
    return frames, clean_motion(frames)


def test_the_flow_follows_a_pan_and_masks_what_enters_the_frame(clip) -> None:
    _, motion = clip
    m = motion[0]
    # the scene moves 3 px left each frame: each pixel of frame t was 3 px to its right in t-1
    inner = m.backward[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.3)
    assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.3)
    assert m.mask[:, -2:].mean() < 0.5  # what entered at the right edge has no source in t-1
    assert m.mask[16:-16, 16:-16].mean() > 0.9


def test_a_clip_compared_with_itself_is_one(clip) -> None:
    frames, motion = clip
    clean = warping_error(frames, motion)
    assert clean > 0
    assert warping_error([f.copy() for f in frames], motion) / clean == pytest.approx(1.0)


def test_it_grows_with_flicker(clip) -> None:
    frames, motion = clip
    clean = warping_error(frames, motion)
    ratios = []
    for amplitude in (4, 8, 16):
        flicker = [np.clip(f.astype(int) + (amplitude if i % 2 else -amplitude), 0, 255).astype(np.uint8)
                   for i, f in enumerate(frames)]
        ratios.append(warping_error(flicker, motion) / clean)
    assert 1.5 < ratios[0] < ratios[1] < ratios[2]
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 6, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert warping_error(noisy, motion) / clean > 1.5  # shimmer: fresh noise every frame


def test_frames_and_motion_must_match(clip) -> None:
    frames, motion = clip
    with pytest.raises(ValueError, match="need"):
        warping_error(frames[:3], motion)


def test_named_conditions_draw_what_their_names_say() -> None:
    from realtime_train import degrade

    for seed in range(20):
        rng = np.random.default_rng(seed)
        dark = degrade.sample(rng, degrade.CONDITIONS["dark"])
        assert dark.exposure <= 0.15 and dark.haze == 0 and dark.codec == "none"
        haze = degrade.sample(rng, degrade.CONDITIONS["dim haze"])
        assert 0.2 <= haze.exposure <= 0.4 and haze.haze >= 0.25 and haze.flatness <= 0.85
        jpeg = degrade.sample(rng, degrade.CONDITIONS["dark + JPEG"])
        assert jpeg.exposure <= 0.15 and jpeg.codec == "jpeg" and 65 <= jpeg.quality <= 75


def test_gt_mean_psnr_ignores_the_brightness_chosen() -> None:
    from realtime_train.evaluate import gt_mean_psnr, psnr

    clean = _pan(frames=1)[0]
    brighter = np.clip(clean.astype(np.float64) * 1.3, 0, 255).astype(np.uint8)
    assert gt_mean_psnr(brighter, clean) > psnr(brighter, clean) + 5
    rng = np.random.default_rng(2)
    noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
    assert gt_mean_psnr(noisy, clean) == pytest.approx(psnr(noisy, clean), abs=0.3)  # nothing to rescale


def test_texture_tells_wax_from_noise() -> None:
    """Blurring lowers both numbers; noise raises the energy but not the detail kept."""
    from realtime_train.evaluate import texture

    rng = np.random.default_rng(3)
    clean = cv2.resize(rng.integers(40, 220, (60, 80, 3), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
    assert texture(clean, clean) == pytest.approx((1.0, 1.0))
    waxy = cv2.GaussianBlur(clean, (0, 0), 2.0)
    noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
    hf_wax, detail_wax = texture(waxy, clean)
    hf_noise, detail_noise = texture(noisy, clean)
    assert hf_wax < 0.5 and detail_wax < 0.6
    assert hf_noise > 1.2 and detail_noise == pytest.approx(1.0, abs=0.05)
    brighter = np.clip(clean.astype(np.float64) * 1.3, 0, 255).astype(np.uint8)
    assert texture(brighter, clean)[1] == pytest.approx(1.0, abs=0.1)  # brightness is not texture


def test_crops_find_the_dark_flat_area_and_the_texture() -> None:
    from realtime_train.evaluate import crop_boxes

    img = np.full((240, 320, 3), 120, np.uint8)
    img[:80, 200:] = 30  # a dark flat "sky", top right
    rng = np.random.default_rng(4)
    texture = cv2.resize(rng.integers(0, 255, (20, 20), dtype=np.uint8), (80, 80), interpolation=cv2.INTER_NEAREST)
    img[140:220, 20:100] = texture[..., None]  # a coarse texture, bottom left
    img[10:15, 10:60] = 255  # one strong edge is not texture
    boxes = crop_boxes(img, 64)
    x, y = boxes["dark flat"]
    assert x >= 200 and y + 64 <= 80
    x, y = boxes["texture"]
    assert 20 <= x + 32 <= 100 and 140 <= y + 32 <= 220
