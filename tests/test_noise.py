"""Noise estimation (realtime/stages/noise.py) on synthetic images of known noise."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.stages.noise import estimate_noise


def _scene(h: int = 240, w: int = 320) -> np.ndarray:
    """Smooth shading with hard-edged shapes: flat areas, and edges that must not read as noise."""
    y = np.linspace(50, 190, h, dtype=np.float32)[:, None] + np.linspace(0, 20, w, dtype=np.float32)[None, :]
    y[40:120, 60:160] += 40
    y[150:220, 200:300] -= 35
    y[:, 250:254] = 230  # a thin bright line
    return y


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0, 20.0])
def test_the_estimate_is_within_ten_percent_of_the_true_sigma(sigma: float) -> None:
    rng = np.random.default_rng(int(sigma))
    noisy = np.clip(np.rint(_scene() + rng.normal(0, sigma, (240, 320))), 0, 255).astype(np.uint8)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.10)


def test_edges_alone_do_not_read_as_noise() -> None:
    clean = np.rint(_scene()).astype(np.uint8)
    assert estimate_noise(clean) < 1.0  # quantisation, and nothing else


def test_clipped_black_areas_are_left_out() -> None:
    rng = np.random.default_rng(3)
    scene = _scene()
    scene[:, :160] = -40  # half the frame crushed to black: flat, and noiseless after clipping
    noisy = np.clip(np.rint(scene + rng.normal(0, 8, scene.shape)), 0, 255).astype(np.uint8)
    assert estimate_noise(noisy) == pytest.approx(8.0, rel=0.12)


def test_a_plane_too_small_or_not_a_plane_is_refused() -> None:
    with pytest.raises(ValueError, match="luma plane"):
        estimate_noise(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="luma plane"):
        estimate_noise(np.zeros((32, 32, 3), np.uint8))


def test_the_denoiser_strength_follows_the_estimate() -> None:
    import dataclasses

    from realtime.planes import Planes
    from realtime.stages.denoise import NOISE_EVERY, Denoise, DenoiseParams, temporal_denoise_planes

    rng = np.random.default_rng(7)
    frames = []
    for sigma in (3.0, 12.0):
        y = np.clip(np.rint(_scene() + rng.normal(0, sigma, (240, 320))), 0, 255).astype(np.uint8)
        frames.append(Planes.from_bgr(np.dstack([y, y, y]), subsample=True))
    auto = DenoiseParams(strength="auto", noise_gain=2.5, temporal_strength=0.0)
    estimates = []
    for planes in frames:
        stage = Denoise(auto)
        out = stage.apply_planes(planes)
        estimates.append(stage.noise)
        assert stage.noise == pytest.approx(estimate_noise(planes.y[::4, ::4]))
        fixed = dataclasses.replace(auto, strength="fixed", sigma_color=2.5 * stage.noise)
        same, _ = temporal_denoise_planes(planes, None, params=fixed)
        assert np.array_equal(out.y, same.y)  # the strength used is the estimate times the gain
    assert estimates[0] < 6 < 9 < estimates[1]
    # estimated again after NOISE_EVERY frames, and afresh after a reset (a new photo)
    stage = Denoise(auto)
    stage.apply_planes(frames[0])
    first = stage.noise
    for _ in range(NOISE_EVERY - 1):
        stage.apply_planes(frames[1])
    assert stage.noise == first
    stage.apply_planes(frames[1])
    assert stage.noise > first
    stage.reset()
    stage.apply_planes(frames[0])
    assert stage.noise == first


def test_the_motion_threshold_follows_the_estimate() -> None:
    """Under ``motion = "auto"`` a noisier clip gets a higher motion threshold, by ``motion_gain``
    per level: two frames of a static scene are blended exactly as a fixed threshold of that value
    blends them."""
    import dataclasses

    from realtime.planes import Planes
    from realtime.stages.denoise import Denoise, DenoiseParams, temporal_denoise_planes

    rng = np.random.default_rng(8)
    thresholds = []
    for sigma in (3.0, 12.0):
        pair = []
        for _ in range(2):
            y = np.clip(np.rint(_scene() + rng.normal(0, sigma, (240, 320))), 0, 255).astype(np.uint8)
            pair.append(Planes.from_bgr(np.dstack([y, y, y]), subsample=True))
        auto = DenoiseParams(motion="auto", motion_gain=1.4, temporal_strength=0.9, sigma_color=0.0)
        stage = Denoise(auto)
        for planes in pair:
            out = stage.apply_planes(planes)
        used = stage.following(stage.noise)
        assert used.motion_threshold == pytest.approx(max(2.0, 1.4 * stage.noise))
        assert used.sigma_color == 0.0  # strength stays fixed: only what is "auto" follows
        fixed = dataclasses.replace(auto, motion="fixed", motion_threshold=used.motion_threshold)
        _, state = temporal_denoise_planes(pair[0], None, params=fixed)
        same, _ = temporal_denoise_planes(pair[1], state, params=fixed)
        assert np.array_equal(out.y, same.y)
        thresholds.append(used.motion_threshold)
    assert thresholds[0] < 6 and thresholds[1] > 13


def test_a_setting_the_others_make_inert_is_refused() -> None:
    """The lowlight preset sets the strength and the motion threshold from the measured noise, so a
    config that sets them by value would be silently ignored: it is an error naming the key and
    what to change; with the switch set to fixed the value is taken."""
    from realtime.config import resolve_config
    from realtime.errors import ConfigError

    for key, value in (("sigma_color", 30.0), ("motion_threshold", 24.0)):
        with pytest.raises(ConfigError, match=rf"denoise\.{key} has no effect here.*fixed"):
            resolve_config("lowlight", {"denoise": {key: value}})
    switch = {"sigma_color": "strength", "motion_threshold": "motion"}
    for key, value in (("sigma_color", 30.0), ("motion_threshold", 24.0)):
        resolved = resolve_config("lowlight", {"denoise": {switch[key]: "fixed", key: value}})
        assert resolved.params["denoise"][key] == value
    with pytest.raises(ConfigError, match=r"denoise\.motion_gain has no effect"):
        resolve_config("detail", {"denoise": {"motion_gain": 2.0}})  # detail's motion is fixed
    with pytest.raises(ConfigError, match=r"denoise\.motion_ramp has no effect"):
        resolve_config("lowlight", {"denoise": {"motion_area": 1, "motion_ramp": 1.0}})
