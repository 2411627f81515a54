"""Tests of the synthetic moving scene (realtime.sources.synthetic).

Tests, benchmarks and demos lean on this source being exactly reproducible, cheap, and actually
hard: dark, noisy, with an object that moves. Each of those promises is checked here.
"""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest

from realtime.errors import ConfigError
from realtime.frames import FramePacket
from realtime.sources.synthetic import SyntheticSource, clean_frame, object_box, render_frame

W, H = 320, 180


def _luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _outside_boxes(shape: tuple[int, ...], *boxes: tuple[int, int, int, int]) -> np.ndarray:
    """Mask of pixels that no object box covers: the static part of the scene."""
    keep = np.ones(shape[:2], bool)
    for x, y, w, h in boxes:
        keep[y : y + h, x : x + w] = False
    return keep


# ----------------------------------------------------------------------------------- determinism
def test_same_seed_same_frames():
    a = [p.image for p in SyntheticSource(width=W, height=H, frames=4, seed=3)]
    b = [p.image for p in SyntheticSource(width=W, height=H, frames=4, seed=3)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_source_frames_equal_render_frame():
    for packet in SyntheticSource(width=W, height=H, frames=3, seed=5):
        np.testing.assert_array_equal(packet.image, render_frame(packet.index, width=W, height=H, seed=5))


def test_frames_can_be_rebuilt_out_of_order():
    later = render_frame(7, width=W, height=H, seed=1)
    render_frame(2, width=W, height=H, seed=1)
    np.testing.assert_array_equal(later, render_frame(7, width=W, height=H, seed=1))


def test_different_seeds_differ():
    a = render_frame(0, width=W, height=H, seed=0)
    b = render_frame(0, width=W, height=H, seed=1)
    assert not np.array_equal(a, b)
    clean_a, clean_b = (clean_frame(0, width=W, height=H, seed=seed) for seed in (0, 1))
    assert not np.array_equal(clean_a, clean_b)


def test_returned_frames_are_fresh_and_writable():
    """Callers (stages working in place) may write to a frame; the cached scene must not change."""
    first = render_frame(0, width=W, height=H, seed=2)
    expected = first.copy()
    first[:] = 255
    clean = clean_frame(0, width=W, height=H, seed=2)
    clean[:] = 0
    np.testing.assert_array_equal(render_frame(0, width=W, height=H, seed=2), expected)
    assert clean_frame(0, width=W, height=H, seed=2).max() > 0


# ----------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", [(W, H), (641, 363), (16, 16), (17, 31), (1280, 720)])
def test_shape_dtype_and_layout(size):
    w, h = size
    for frame in (render_frame(3, width=w, height=h), clean_frame(3, width=w, height=h)):
        assert frame.shape == (h, w, 3)
        assert frame.dtype == np.uint8
        assert frame.flags["C_CONTIGUOUS"] and frame.flags["WRITEABLE"]
    x, y, bw, bh = object_box(3, width=w, height=h)
    assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h


@pytest.mark.parametrize("size", [(15, 100), (100, 8), (0, 0)])
def test_too_small_is_a_config_error(size):
    with pytest.raises(ConfigError):
        SyntheticSource(width=size[0], height=size[1])
    with pytest.raises(ValueError):  # ConfigError is a ValueError too
        render_frame(0, width=size[0], height=size[1])


def test_bad_arguments():
    with pytest.raises(ConfigError):
        SyntheticSource(width=W, height=H, fps=0)
    with pytest.raises(ConfigError):
        SyntheticSource(width=W, height=H, frames=-1)
    with pytest.raises(ValueError):
        render_frame(-1, width=W, height=H)


# ----------------------------------------------------------------------------------- iteration
@pytest.mark.parametrize("n", [0, 1, 5])
def test_frame_count_honoured(n):
    src = SyntheticSource(width=W, height=H, frames=n)
    packets = list(src)
    assert [p.index for p in packets] == list(range(n))
    assert src.stats.frames == n
    assert src.info.frame_count == n
    assert list(src) == []  # a source is single-pass, like a camera or a file


def test_endless_when_frames_is_none():
    src = SyntheticSource(width=64, height=48, frames=None)
    assert src.info.frame_count is None
    assert len(list(itertools.islice(src, 300))) == 300


def test_close_stops_iteration():
    with SyntheticSource(width=64, height=48) as src:
        next(src)
        src.close()
        assert list(src) == []
    src.close()  # idempotent


@pytest.mark.parametrize(
    ("fps", "rate"),
    [(25, Fraction(25)), (Fraction(30000, 1001), Fraction(30000, 1001)), (29.97, Fraction(2997, 100))],
)
def test_packets_carry_pts_and_time_base(fps, rate):
    src = SyntheticSource(width=64, height=48, fps=fps, frames=3)
    packets = list(src)
    assert all(isinstance(p, FramePacket) for p in packets)
    assert [p.pts for p in packets] == [0, 1, 2]
    assert all(p.time_base == 1 / rate for p in packets)
    assert src.info.fps == rate and src.info.time_base == 1 / rate
    assert src.info.kind == "synthetic" and not src.info.live
    assert (src.info.width, src.info.height) == (64, 48)


# ----------------------------------------------------------------------------------- content
def test_object_moves_every_frame():
    boxes = [object_box(i, width=W, height=H) for i in range(60)]
    assert all(a[:2] != b[:2] for a, b in itertools.pairwise(boxes))
    xs, ys = zip(*(b[:2] for b in boxes), strict=True)
    assert max(xs) - min(xs) > W // 4 and max(ys) - min(ys) > H // 4  # it travels, not jitters


def test_only_the_object_changes_in_clean_frames():
    a, b = clean_frame(10, width=W, height=H), clean_frame(11, width=W, height=H)
    box_a, box_b = object_box(10, width=W, height=H), object_box(11, width=W, height=H)
    static = _outside_boxes(a.shape, box_a, box_b)
    np.testing.assert_array_equal(a[static], b[static])
    x, y, w, h = box_a
    assert np.abs(a[y : y + h, x : x + w].astype(int) - b[y : y + h, x : x + w]).mean() > 5


def test_noisy_frame_is_darker_and_flatter_than_clean():
    noisy, clean = _luma(render_frame(4, width=W, height=H)), _luma(clean_frame(4, width=W, height=H))
    assert 20 < noisy.mean() < 70  # dark, but not black: there is something to recover
    assert noisy.mean() < 0.6 * clean.mean()
    assert np.percentile(noisy, 99) - np.percentile(noisy, 1) < 0.6 * (
        np.percentile(clean, 99) - np.percentile(clean, 1)
    )


def test_noise_is_fresh_every_frame():
    """Over the static background, two noisy frames differ (temporal noise) while clean ones do not."""
    boxes = [object_box(i, width=W, height=H) for i in (4, 5)]
    static = _outside_boxes((H, W), *boxes)
    a, b = (_luma(render_frame(i, width=W, height=H)) for i in (4, 5))
    diff = (a - b)[static]
    assert 1.5 < diff.std() < 10  # visible grain, yet not so strong the scene drowns
    assert abs(diff.mean()) < 0.5  # zero-mean: noise, not flicker
    ca, cb = (clean_frame(i, width=W, height=H) for i in (4, 5))
    np.testing.assert_array_equal(ca[static], cb[static])


def _noise_sigma(img: np.ndarray) -> float:
    """Robust noise estimate (Immerkaer's Laplacian mask, median instead of mean so edges, text and
    gratings do not count as noise)."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(_luma(img), -1, mask)[1:-1, 1:-1]
    return float(np.median(np.abs(response)) * 1.4826 / 6)


@pytest.mark.parametrize("size", [(W, H), (641, 363)])
def test_noisy_frame_is_noisier_than_clean(size):
    w, h = size
    assert _noise_sigma(render_frame(0, width=w, height=h)) > 1.0  # ~1.5: grain is ~1 px correlated
    assert _noise_sigma(clean_frame(0, width=w, height=h)) < 0.5


# ----------------------------------------------------------------------------------- speed
def test_fast_enough_for_benchmarks():
    """The source must cost far less than the pipeline it feeds (target ~1.5 ms at 1080p, 2 cores).

    The bound is loose so a busy CI machine passes; drawing fresh full-frame noise per frame (~60 ms)
    would still fail it.
    """
    w, h = 1920, 1080
    render_frame(0, width=w, height=h)  # build the cached scene outside the timing
    times = []
    for i in range(1, 21):
        t = time.perf_counter()
        render_frame(i, width=w, height=h)
        times.append(time.perf_counter() - t)
    assert float(np.median(times)) < 0.015
