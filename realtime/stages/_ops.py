"""Nonlinear per-pixel building blocks of the stages, as a few saturating uint8 passes.

Why not lookup tables: at 720p on this machine a ``cv2.LUT`` pass costs as much as two or three
saturating ``add``/``subtract``/``min``/``max`` passes and an ``addWeighted`` (float inside) as much
as three, while the stages' nonlinearities (a soft threshold, a clamp, a motion-adaptive blend)
are piecewise linear in a pixel difference. Expressed with saturating integer arithmetic they need
no offset image, no table and at most one float pass, and the same calls run on ``np.ndarray``
and on ``cv2.UMat`` (OpenCL). :func:`pull_table` gives the same blend as a table, for backends
where a table lookup is the cheaper form (CUDA) and for tests.

Integer thresholds: OpenCV rounds a scalar operand to the array's type before saturating
arithmetic, so thresholds are rounded here, explicitly and once, to whole levels.
"""

from __future__ import annotations

import functools
from typing import TypeVar

import cv2
import numpy as np

HostOrOpenCL = TypeVar("HostOrOpenCL", np.ndarray, cv2.UMat)

#: The eight neighbours of a pixel, without the pixel: the structuring element of :func:`despike`.
RING = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.uint8)
RING.flags.writeable = False


def despike(plane: HostOrOpenCL) -> HostOrOpenCL:
    """Each pixel clamped into the range of its eight neighbours: isolated impulses removed.

    A pixel brighter (darker) than all of its neighbours is set to the brightest (darkest) of them.
    Lines and edges one pixel wide keep neighbours of their own level along them, so only lone
    pixels change: the noise outliers that survive any threshold and that sharpening would turn
    into salt-and-pepper. An erosion, a dilation (3x3, cheap rectangular-size morphology) and two
    saturating passes; the border value of OpenCV's morphology is neutral.
    """
    return cv2.min(cv2.max(plane, cv2.erode(plane, RING)), cv2.dilate(plane, RING))


def clamp_around(center: HostOrOpenCL, value: HostOrOpenCL, t: int) -> HostOrOpenCL:
    """``value`` clamped into ``[center - t, center + t]``, per pixel (four saturating passes).

    With ``value`` a blur of ``center`` this is ``center - clamp(center - value, -t, t)``: the
    blur where the detail is within ``t`` (coring), ``center`` moved ``t`` towards it elsewhere.
    Saturation of ``center -/+ t`` at 0 and 255 cannot change the result, as ``value`` lies in
    [0, 255] itself.
    """
    return cv2.min(cv2.max(value, cv2.subtract(center, t)), cv2.add(center, t))


def pull(cur: HostOrOpenCL, towards: HostOrOpenCL, strength: float, threshold: int) -> HostOrOpenCL:
    """Move ``cur`` towards ``towards`` where they differ by less than ``threshold`` levels.

    With ``d = towards - cur`` the result is ``cur + strength * sign(d) * min(|d|, threshold - |d|)``
    (and ``cur`` where ``|d| >= threshold``), rounded: a full ``strength`` blend for ``|d|`` up to
    ``threshold / 2``, then a correction falling linearly to none at ``threshold``. It is continuous
    in ``d`` (no flicker between blended and unblended pixels) and bounded by
    ``strength * threshold / 2`` levels. Eight saturating passes and one ``addWeighted``; equal to
    ``cur + pull_table(strength, threshold)[d + 128] - 128`` but where ``strength * triangle``
    ends in exactly .5 (the two round such ties differently: at most one level apart).
    """
    up = cv2.subtract(towards, cur)  # d where d > 0, else 0
    down = cv2.subtract(cur, towards)  # -d where d < 0, else 0
    up = cv2.min(up, cv2.subtract(threshold, up))  # the triangle min(|d|, threshold - |d|), >= 0
    down = cv2.min(down, cv2.subtract(threshold, down))
    offset = cv2.subtract(cv2.add(up, 128), down)  # 128 +/- at most threshold / 2: never saturates
    return cv2.addWeighted(cur, 1.0, offset, strength, -128.0 * strength)


@functools.lru_cache(maxsize=32)
def pull_table(strength: float, threshold: int) -> np.ndarray:
    """:func:`pull` as a 256-entry uint8 table indexed by the offset difference ``clip(d + 128)``.

    Its entries are ``128 + round(strength * triangle(d))``; ``cur + table[...] - 128`` matches
    :func:`pull` (saturated differences, ``|d| >= 128``, are beyond any threshold, where both give
    no correction). Read-only and cached.
    """
    d = np.arange(256, dtype=np.float64) - 128.0
    triangle = np.sign(d) * np.maximum(np.minimum(np.abs(d), threshold - np.abs(d)), 0.0)
    table = np.clip(np.rint(128.0 + strength * triangle), 0, 255).astype(np.uint8)
    table.flags.writeable = False
    return table



def static_weight(cur: HostOrOpenCL, towards: HostOrOpenCL, strength: float, threshold: int,
                  area: int, ramp: float | None = None) -> HostOrOpenCL:
    """How much of ``towards`` to blend into ``cur`` (times 255), judged *on average over an area*.

    Why an area: a per-pixel motion test (:func:`pull`) sees noise as motion once the noise is
    near the threshold, so in the dark, where averaging over time pays most, static pixels blend
    least. The mean absolute difference ``m`` over an ``area`` x ``area`` box has a fraction of
    the noise's spread, while real motion moves it as much as ever. The weight is a ramp falling
    from ``ramp`` at ``m = 0`` to none at ``m = threshold``, capped at ``strength``:
    ``min(255 * strength, 255 * ramp * (threshold - m) / threshold)``; ``ramp`` defaults to
    ``2 * strength`` (full blending up to half the threshold). A ramp below twice the cap keeps the
    full weight for the stillest areas only: a strong cap (long averaging where nothing moves)
    without more blending where something might. A few saturating uint8 passes and a box filter
    (a table lookup would cost more than all of them; :func:`static_weight_table` is the same as a
    table).
    """
    ramp = 2.0 * strength if ramp is None else ramp
    mean_diff = cv2.blur(cv2.absdiff(cur, towards), (area, area))
    top = round(255.0 * strength)
    return cv2.min(cv2.convertScaleAbs(cv2.subtract(threshold, mean_diff), alpha=255.0 * ramp / threshold), top)


def blend_weighted(cur: HostOrOpenCL, towards: HostOrOpenCL, weight: HostOrOpenCL) -> HostOrOpenCL:
    """``cur + weight / 255 * (towards - cur)``, per pixel: the whole difference times the weight,
    so a pixel that noise pushed far off in a static area is pulled back too. Two saturated
    differences and two scaled multiplies, all uint8 (16-bit arithmetic costs several times more);
    with :func:`static_weight` ~1.9 ms at 720p on one core, against 0.7 ms for the per-pixel
    :func:`pull`. OpenCL runs the same calls."""
    up = cv2.subtract(towards, cur)  # d where d > 0, else 0
    down = cv2.subtract(cur, towards)  # -d where d < 0, else 0
    scale = 1.0 / 255.0
    return cv2.subtract(cv2.add(cur, cv2.multiply(up, weight, scale=scale)), cv2.multiply(down, weight, scale=scale))


@functools.lru_cache(maxsize=32)
def static_weight_table(strength: float, threshold: int, ramp: float | None = None) -> np.ndarray:
    """:func:`static_weight` (times 255) for each mean absolute difference 0-255, as a
    (1, 256) uint8 table: for backends where a lookup is the cheaper form (CUDA) and for tests.
    Read-only and cached."""
    ramp = 2.0 * strength if ramp is None else ramp
    m = np.arange(256, dtype=np.float64)
    line = np.clip(np.rint(np.maximum(threshold - m, 0.0) * (255.0 * ramp / threshold)), 0, 255)
    table = np.minimum(line, round(255.0 * strength)).astype(np.uint8)[None]
    table.flags.writeable = False
    return table
