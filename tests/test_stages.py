"""Tests of the classical stages (realtime.stages).

Three layers, after torchvision and scikit-image:

- one contract test over every kernel form (BGR function, YCrCb function, class, both class entry
  points): input untouched, type/shape/dtype kept, odd sizes included;
- backend agreement: every ``cv2.UMat`` kernel against the NumPy reference on the same input,
  within a per-stage tolerance stated in ``UMAT_TOLERANCE``; CUDA only where a device exists;
- golden *metrics* on synthetic degraded images (luma span, hue, local contrast, PSNR, gradient
  energy), never golden pixel arrays, so kernels may be reimplemented without rewriting tests.

Images are made here from a seeded RNG; nothing is read from disk.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from realtime.backends import cuda_device_count
from realtime.errors import ConfigError
from realtime.stages import (
    STAGES,
    Clahe,
    ClaheParams,
    Contrast,
    ContrastParams,
    Denoise,
    DenoiseParams,
    Levels,
    Sharpen,
    SharpenParams,
    Stage,
    apply_levels,
    clahe,
    clahe_ycc,
    contrast,
    contrast_levels,
    contrast_ycc,
    denoise,
    denoise_ycc,
    make_stage,
    sharpen,
    sharpen_ycc,
    temporal_denoise_ycc,
    to_ycc,
)
from realtime.stages.contrast import stretch_coefficients

SIZES = [(363, 641), (48, 64), (5, 7)]  # (height, width): odd, small, smaller than a CLAHE tile


# ----------------------------------------------------------------------------------- synthetic media


def make_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A clean BGR scene: smooth colour gradients, flat shapes with hard edges, a striped texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 60 + 120 * xx / width
    img[..., 1] = 90 + 80 * yy / height
    img[..., 2] = 150 - 60 * (xx + yy) / (width + height)
    for _ in range(10):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w = int(rng.integers(width // 20 + 1, width // 5 + 2))
        h = int(rng.integers(height // 20 + 1, height // 5 + 2))
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), rng.uniform(20, 235, 3).tolist(), -1)
        radius = int(rng.integers(height // 30 + 1, height // 8 + 2))
        cv2.circle(img, (int(rng.integers(0, width)), int(rng.integers(0, height))), radius,
                   rng.uniform(20, 235, 3).tolist(), -1)
    img += (25 * np.sin(xx / 3.0) * (yy > height * 0.6) * (xx < width * 0.3))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def add_noise(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0.0, sigma, img.shape), 0, 255).astype(np.uint8)


def darken(img: np.ndarray, gain: float = 0.25, offset: float = 6.0) -> np.ndarray:
    return np.clip(img * gain + offset, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return make_scene(363, 641)


def luma(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def gradient_magnitude(y: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(y, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_64F, 0, 1, ksize=3)
    return np.hypot(gx, gy)


# ---------------------------------------------------------------------------- every kernel, one form

# name -> (BGR function, YCrCb function); YCrCb forms that need state are adapted to image -> image.
FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "contrast": (contrast, contrast_ycc),
    "clahe": (clahe, clahe_ycc),
    "denoise": (denoise, denoise_ycc),
    "sharpen": (sharpen, sharpen_ycc),
}


def _denoise_second_frame(ycc: Any) -> Any:
    """The temporal path proper: a second frame filtered against the first one's state."""
    _, state = temporal_denoise_ycc(ycc, None)
    return temporal_denoise_ycc(ycc, state)[0]


def _class_call(name: str) -> Callable[[Any], Any]:
    stage = make_stage(name)
    return lambda img: stage(img)


def _class_ycc(name: str) -> Callable[[Any], Any]:
    stage = make_stage(name)

    def run(img: Any) -> Any:
        stage.apply_ycc(img)  # second call exercises the temporal state
        return stage.apply_ycc(img)

    return run


KERNEL_FORMS: dict[str, Callable[[], Callable[[Any], Any]]] = {
    **{f"{n}-bgr": (lambda f=f: f) for n, (f, _) in FUNCTIONS.items()},
    **{f"{n}-ycc": (lambda f=f: f) for n, (_, f) in FUNCTIONS.items()},
    **{f"{n}-class": (lambda n=n: _class_call(n)) for n in STAGES},
    **{f"{n}-class-ycc": (lambda n=n: _class_ycc(n)) for n in STAGES},
    "denoise-temporal-ycc": lambda: _denoise_second_frame,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("form", list(KERNEL_FORMS))
def test_kernel_contract(form: str, size: tuple[int, int]) -> None:
    """torchvision check_kernel: the input is not mutated; type, shape and dtype are kept."""
    img = add_noise(darken(make_scene(*size)), 4.0)
    before = img.copy()
    out = KERNEL_FORMS[form]()(img)
    assert type(out) is np.ndarray
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(img, before)


# ------------------------------------------------------------------------------------ backends agree

# Per stage: (max |UMat - NumPy|, mean |UMat - NumPy|) in levels on the YCrCb form, same input.
# The BGR form gets twice these: YCrCb -> BGR turns a one-level Cr/Cb difference into up to two
# levels of R or B. Measured on an NVIDIA H200 through OpenCL (OpenCV 5.0), 1280x720 and 641x363:
# contrast 0 / 0 (same sampled pixels, exact table), clahe max 1 / mean 0.0004, sharpen 0 / 0,
# denoise max 2 / mean 0.27 on YCrCb and 3 / 0.60 on BGR (the OpenCL bilateral filter rounds
# differently). On a machine without an OpenCL device, UMat runs the CPU code and all agree exactly.
UMAT_TOLERANCE: dict[str, tuple[float, float]] = {
    "contrast": (1.0, 0.05),
    "clahe": (2.0, 0.05),
    "denoise": (3.0, 0.4),
    "sharpen": (1.0, 0.05),
}


@pytest.mark.parametrize("size", SIZES[:2], ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("form", [0, 1], ids=["bgr", "ycc"])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_umat_matches_numpy(name: str, form: int, size: tuple[int, int]) -> None:
    img = add_noise(darken(make_scene(*size)), 4.0)
    fn = FUNCTIONS[name][form]
    expected = fn(img)
    umat = cv2.UMat(img)
    got = fn(umat)
    assert isinstance(got, cv2.UMat)
    np.testing.assert_array_equal(umat.get(), img)  # the device input is not mutated either
    got = got.get()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    max_abs, mean_abs = UMAT_TOLERANCE[name]
    if form == 0:  # BGR
        max_abs, mean_abs = 2 * max_abs, 2 * mean_abs
    assert diff.max() <= max_abs and diff.mean() <= mean_abs, (diff.max(), diff.mean())


def test_umat_temporal_denoise_matches_numpy(scene: np.ndarray) -> None:
    frames = [to_ycc(add_noise(scene, 6.0, seed=s)) for s in range(3)]
    state_np = state_um = None
    for ycc in frames:
        out_np, state_np = temporal_denoise_ycc(ycc, state_np)
        out_um, state_um = temporal_denoise_ycc(cv2.UMat(ycc), state_um)
    diff = np.abs(out_um.get().astype(np.int16) - out_np.astype(np.int16))
    max_abs, mean_abs = UMAT_TOLERANCE["denoise"]
    assert diff.max() <= max_abs and diff.mean() <= mean_abs


def test_umat_contrast_agrees_given_the_same_levels(scene: np.ndarray) -> None:
    """With the statistics taken out of the comparison, only rounding may differ (one level)."""
    ycc = to_ycc(darken(scene))
    levels = contrast_levels(ycc)
    got = apply_levels(cv2.UMat(ycc), levels).get()
    expected = apply_levels(ycc, levels)
    assert np.abs(got.astype(np.int16) - expected).max() <= 1
    umat_levels = contrast_levels(cv2.UMat(ycc))
    assert abs(umat_levels.lo - levels.lo) <= 2 and abs(umat_levels.hi - levels.hi) <= 2


@pytest.mark.skipif(cuda_device_count() == 0, reason="needs an OpenCV build with CUDA and a CUDA device")
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_cuda_matches_numpy(name: str, scene: np.ndarray) -> None:  # pragma: no cover - no CUDA here
    img = add_noise(darken(scene), 4.0)
    fn = FUNCTIONS[name][0]
    gpu = cv2.cuda.GpuMat()
    gpu.upload(img)
    diff = np.abs(fn(gpu).download().astype(np.int16) - fn(img).astype(np.int16))
    max_abs, mean_abs = UMAT_TOLERANCE[name]
    assert diff.max() <= 2 * max_abs and diff.mean() <= 2 * mean_abs


# ---------------------------------------------------------------------------------- classes, errors


def test_stage_registry_order_and_protocol() -> None:
    assert list(STAGES) == ["contrast", "clahe", "denoise", "sharpen"]
    for name, cls in STAGES.items():
        stage = make_stage(name)
        assert isinstance(stage, cls) and isinstance(stage, Stage)
        assert cls.name == name


def test_classes_agree_with_functions(scene: np.ndarray) -> None:
    bgr = add_noise(darken(scene), 4.0)
    ycc = to_ycc(bgr)
    for cls, fn, fn_ycc in [(Contrast, contrast, contrast_ycc), (Clahe, clahe, clahe_ycc),
                            (Denoise, denoise, denoise_ycc), (Sharpen, sharpen, sharpen_ycc)]:
        np.testing.assert_array_equal(cls()(bgr), fn(bgr), err_msg=cls.name)
        np.testing.assert_array_equal(cls().apply_ycc(ycc), fn_ycc(ycc), err_msg=cls.name)


def test_stateful_classes_follow_their_explicit_state_functions(scene: np.ndarray) -> None:
    frames = [to_ycc(add_noise(darken(scene, gain=g), 4.0, seed=i)) for i, g in enumerate([0.2, 0.3, 0.25])]
    params = ContrastParams(temporal_smoothing=0.7)
    stage = Contrast(params)
    expected_levels = None
    for ycc in frames:
        raw = contrast_levels(ycc, params=params)
        if expected_levels is None:
            expected_levels = raw
        else:
            expected_levels = Levels(0.7 * expected_levels.lo + 0.3 * raw.lo,
                                     0.7 * expected_levels.hi + 0.3 * raw.hi)
        expected = contrast_ycc(ycc, params=params, levels=expected_levels)
        np.testing.assert_array_equal(stage.apply_ycc(ycc), expected)

    denoiser, state = Denoise(), None
    for ycc in frames:
        expected, state = temporal_denoise_ycc(ycc, state)
        np.testing.assert_array_equal(denoiser.apply_ycc(ycc), expected)


def test_reset_forgets_temporal_state(scene: np.ndarray) -> None:
    a, b = add_noise(scene, 8.0, seed=1), add_noise(darken(scene), 8.0, seed=2)
    for stage in (Contrast(), Denoise()):
        first = stage(a)
        stage(b)
        stage.reset()
        np.testing.assert_array_equal(stage(a), first, err_msg=stage.name)


def test_temporal_state_of_another_size_is_ignored(scene: np.ndarray) -> None:
    ycc = to_ycc(add_noise(scene, 6.0))
    _, small_state = temporal_denoise_ycc(to_ycc(make_scene(48, 64)), None)
    out, state = temporal_denoise_ycc(ycc, small_state)
    np.testing.assert_array_equal(out, denoise_ycc(ycc))
    assert state.size == (ycc.shape[1], ycc.shape[0])


@pytest.mark.parametrize("fn", [contrast, clahe_ycc, denoise, sharpen_ycc, to_ycc, contrast_levels])
def test_unsupported_type_is_a_type_error_naming_supported_types(fn: Callable[..., Any]) -> None:
    with pytest.raises(TypeError, match=r"supports numpy\.ndarray, cv2\.UMat") as info:
        fn([[1, 2, 3]])
    assert "got builtins.list" in str(info.value)


def test_host_frames_of_the_wrong_layout_are_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        clahe(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        sharpen_ycc(np.zeros((8, 8, 3), np.float32))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("clahe", {"clip_limit": "x"}, r"^clahe\.clip_limit must be a number in \(0, 40\], got 'x'$"),
        ("clahe", {"clip_limit": 0}, r"clahe\.clip_limit must be a number in \(0, 40\]"),
        ("clahe", {"tile_grid": 2.5}, r"clahe\.tile_grid must be an integer in \[1, 64\], got 2\.5"),
        ("clahe", {"tile_grid": True}, r"clahe\.tile_grid must be an integer"),
        ("contrast", {"low_percentile": 60}, r"contrast\.low_percentile must be a number in \[0, 50\)"),
        ("contrast", {"temporal_smoothing": 1.0}, r"contrast\.temporal_smoothing .* \[0, 1\)"),
        ("denoise", {"diameter": 11}, r"denoise\.diameter must be an integer in \[3, 9\]"),
        ("denoise", {"motion_threshold": float("nan")}, r"denoise\.motion_threshold"),
        ("sharpen", {"amount": -1}, r"sharpen\.amount must be a number in \[0, 4\]"),
        ("sharpen", {"radius": 2}, r"unknown sharpen parameter 'radius'; valid keys: sigma, amount, thr"),
    ],
)
def test_bad_params_are_config_errors(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        make_stage(name, params)
    assert "\n" not in str(info.value)


def test_params_accept_valid_mappings_and_keep_defaults() -> None:
    stage = make_stage("clahe", {"clip_limit": 3, "tile_grid": 4.0})
    assert stage.params == ClaheParams(clip_limit=3.0, tile_grid=4)
    assert isinstance(stage.params.clip_limit, float) and isinstance(stage.params.tile_grid, int)
    assert make_stage("denoise").params == DenoiseParams()
    with pytest.raises(ConfigError):
        SharpenParams(sigma=0.0)  # direct construction is validated too


def test_unknown_stage_is_a_config_error_listing_valid_names() -> None:
    message = "unknown stage 'blur'; valid stages: contrast, clahe, denoise, sharpen"
    with pytest.raises(ConfigError, match=message):
        make_stage("blur")


# ----------------------------------------------------------------------------------- golden metrics


def test_contrast_widens_luma_span_without_colour_cast(scene: np.ndarray) -> None:
    dark = add_noise(darken(scene), 1.0)
    out = contrast(dark)
    span = lambda img: np.subtract(*np.percentile(luma(img), [99, 1]))  # noqa: E731
    assert span(out) > 2.5 * span(dark)

    # Hue: Cr/Cb are scaled by one gain around 128, so the chroma angle of coloured pixels is kept.
    ycc_in = to_ycc(dark).astype(np.float64) - 128
    ycc_out = to_ycc(out).astype(np.float64) - 128
    coloured = np.hypot(ycc_in[..., 1], ycc_in[..., 2]) > 6
    unclipped = (out.min(axis=-1) > 0) & (out.max(axis=-1) < 255)
    mask = coloured & unclipped
    angle = lambda c: np.arctan2(c[..., 1], c[..., 2])[mask]  # noqa: E731
    delta = np.angle(np.exp(1j * (angle(ycc_out) - angle(ycc_in))))
    assert np.degrees(np.abs(delta)).mean() < 3.0

    # No cast: a neutral grey ramp stays neutral, and mean channel ratios hold on the scene.
    ramp = np.repeat(np.linspace(20, 70, 256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(16, axis=0)
    stretched = contrast(ramp).astype(np.int16)
    assert np.abs(stretched - stretched[..., 1:2]).max() <= 1
    assert stretched[..., 1].max() - stretched[..., 1].min() >= 195  # span 50, gain capped at 4
    ratios = lambda img: img.reshape(-1, 3).mean(axis=0) / img.mean()  # noqa: E731
    np.testing.assert_allclose(ratios(out), ratios(dark), atol=0.06)


def test_contrast_guards_against_noise_only_frames() -> None:
    params = ContrastParams(max_gain=4.0, min_span=8.0)
    flat = np.full((64, 64, 3), 40, np.uint8)
    np.testing.assert_array_equal(contrast(flat, params=params), flat)  # zero span: identity
    noise = add_noise(flat, 1.0)
    out = contrast(noise, params=params)
    assert luma(out).std() <= 4.0 * luma(noise).std() + 0.5
    assert abs(luma(out).mean() - luma(noise).mean()) < 10  # not dragged to black or white
    gain, _ = stretch_coefficients(Levels(10.0, 20.0), params)
    assert gain == pytest.approx(4.0)
    assert stretch_coefficients(Levels(10.0, 14.0), params)[0] == pytest.approx(1.0 + 3.0 * 4 / 8)


def test_contrast_smoothing_steadies_levels_over_flicker(scene: np.ndarray) -> None:
    frames = [to_ycc(darken(scene, gain=0.2 if i % 2 else 0.35)) for i in range(12)]
    params = ContrastParams(temporal_smoothing=0.8)
    stage = Contrast(params)
    raw = [contrast_levels(f, params=params) for f in frames]
    smoothed = [stage.update_levels(f) for f in frames]

    def jumps(levels: list[Levels]) -> float:
        settled = levels[4:]  # skip the moving average's warm-up
        return float(np.mean([abs(a.hi - b.hi) + abs(a.lo - b.lo) for a, b in itertools.pairwise(settled)]))

    assert jumps(smoothed) < 0.5 * jumps(raw)


def test_clahe_raises_local_contrast_in_dark_regions(scene: np.ndarray) -> None:
    dark = darken(scene, gain=0.3)
    out = clahe(dark, params=ClaheParams(clip_limit=2.0))

    def local_std(y: np.ndarray) -> np.ndarray:
        mean = cv2.blur(y, (9, 9))
        return np.sqrt(np.maximum(cv2.blur(y * y, (9, 9)) - mean * mean, 0))

    y_in, y_out = luma(dark), luma(out)
    dark_region = y_in < np.percentile(y_in, 50)
    assert local_std(y_out)[dark_region].mean() > 1.5 * local_std(y_in)[dark_region].mean()
    assert gradient_magnitude(y_out)[dark_region].mean() > 1.5 * gradient_magnitude(y_in)[dark_region].mean()
    ycc_in = to_ycc(dark)
    np.testing.assert_array_equal(clahe_ycc(ycc_in)[..., 1:], ycc_in[..., 1:])  # chroma untouched


def test_spatial_denoise_raises_psnr(scene: np.ndarray) -> None:
    noisy = add_noise(scene, 10.0)
    out = denoise(noisy, params=DenoiseParams(sigma_color=30.0))
    assert psnr(out, scene) > psnr(noisy, scene) + 3.0


def test_temporal_denoise_improves_static_scenes_without_ghosting(scene: np.ndarray) -> None:
    stage = Denoise()  # defaults: temporal_strength 0.6, motion_threshold 16
    spatial = DenoiseParams(temporal_strength=0.0)
    static_frames = [add_noise(scene, 8.0, seed=s) for s in range(10)]
    for frame in static_frames:
        out = stage(frame)
    spatial_only = denoise(static_frames[-1], params=spatial)
    y = lambda img: to_ycc(img)[..., 0]  # noqa: E731  (luma: where the temporal filter does its work)
    assert psnr(y(out), y(scene)) > psnr(y(spatial_only), y(scene)) + 2.0
    assert psnr(out, scene) > psnr(spatial_only, scene)

    # A bright square moving 8 px per frame over a static background: where it is and where it was
    # must match the current frame (no trail), while the static background still gets averaged.
    stage.reset()
    size, step = 40, 8
    for i in range(10):
        clean = scene.copy()
        x = 100 + step * i
        clean[150:150 + size, x:x + size] = (230, 230, 230)
        out = stage(add_noise(clean, 8.0, seed=100 + i))
    ref = denoise(add_noise(clean, 8.0, seed=109), params=spatial)
    square = (slice(150, 150 + size), slice(x, x + size))
    trail = (slice(150, 150 + size), slice(x - 3 * step, x))
    for region in (square, trail):
        err = np.abs(out[region].astype(float) - clean[region]).mean()
        ref_err = np.abs(ref[region].astype(float) - clean[region]).mean()
        assert err < ref_err * 1.3 + 1.0, (region, err, ref_err)
    bg = (slice(0, 120), slice(0, 641))
    assert psnr(y(out[bg]), y(clean[bg])) > psnr(y(ref[bg]), y(clean[bg])) + 1.0


def test_sharpen_raises_edge_energy_not_flat_noise() -> None:
    # Bars and a disc with ~140-level luma steps, softened like a slightly defocused camera.
    target = np.full((200, 300, 3), 60, np.uint8)
    for i in range(5):
        cv2.rectangle(target, (20 + 55 * i, 20), (45 + 55 * i, 180), (200, 190, 180), -1)
    cv2.circle(target, (150, 100), 30, (30, 40, 220), -1)
    edges = cv2.Canny(cv2.cvtColor(target, cv2.COLOR_BGR2GRAY), 50, 150) > 0
    blurred = cv2.GaussianBlur(target, (0, 0), 1.0)
    energy = lambda img: np.mean(gradient_magnitude(luma(img))[edges] ** 2)  # noqa: E731
    assert energy(sharpen(blurred)) > 1.15 * energy(blurred)  # default parameters

    # A flat grey patch with sensor-like noise: the threshold keeps it from being amplified.
    flat = add_noise(np.full((128, 128, 3), 110, np.uint8), 1.5, seed=3)
    flat_std = lambda img: luma(img)[8:-8, 8:-8].std()  # noqa: E731
    thresholded = sharpen(flat, params=SharpenParams(threshold=4.0))
    unthresholded = sharpen(flat, params=SharpenParams(threshold=0.0))
    assert flat_std(thresholded) <= 1.05 * flat_std(flat)
    assert flat_std(unthresholded) > 1.3 * flat_std(thresholded)
