"""The numbers an inspection sheet prints under each panel: noise level, histogram, what changed.

All of them are measured on luma (Y'), the plane the classical stages work on and where noise and
sharpening are seen; chroma changes are summarised as one mean.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from realtime.planes import Planes

# Immerkær's operator: the difference of two Laplacians, which cancels smooth image structure
# (up to second order) and leaves mostly noise.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
# Pixels whose gradient is in the top tenth are left out: edges and texture would otherwise count
# as noise (the adaptive variant of Tai & Yang, 2008).
_EDGE_QUANTILE = 0.9


def noise_sigma(y: np.ndarray) -> float:
    """Estimated standard deviation of the additive noise in a luma plane, in levels.

    Immerkær's fast estimator (1996, "Fast noise variance estimation"), with edge pixels left
    out: ``sqrt(pi / 2) / 6 * mean(|I * N|)`` over the flat part of the frame. It reads a few
    levels on clean photos with fine texture (no estimator can tell texture from noise) and is
    meant for comparing the panels of one sheet: denoising lowers it, sharpening and CLAHE raise it.
    NaN for a plane too small to hold the 3x3 operator.
    """
    if min(y.shape[:2]) < 3:
        return math.nan
    plane = y.astype(np.float32)
    response = np.abs(cv2.filter2D(plane, cv2.CV_32F, _IMMERKAER)[1:-1, 1:-1])
    gx = cv2.Sobel(plane, cv2.CV_32F, 1, 0, ksize=3)[1:-1, 1:-1]
    gy = cv2.Sobel(plane, cv2.CV_32F, 0, 1, ksize=3)[1:-1, 1:-1]
    gradient = np.abs(gx) + np.abs(gy)
    flat = gradient <= np.quantile(gradient, _EDGE_QUANTILE)
    if not flat.any():
        return 0.0
    return float(math.sqrt(math.pi / 2.0) / 6.0 * response[flat].mean())


def luma_histogram(planes: Planes) -> np.ndarray:
    """(256,) share of the frame's pixels at each luma code."""
    hist = np.bincount(planes.y.ravel(), minlength=256).astype(np.float64)
    return hist / max(1.0, hist.sum())


def luma_change(before: Planes, after: Planes) -> np.ndarray:
    """Signed luma difference ``after - before`` (float32, levels), at the luma planes' size."""
    a, b = after.y, before.y
    if b.shape != a.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return a.astype(np.float32) - b.astype(np.float32)


def chroma_change(before: Planes, after: Planes) -> float:
    """Mean absolute change of Cb and Cr together (levels): how much a stage moved the colours."""
    total = 0.0
    for a, b in ((after.cb, before.cb), (after.cr, before.cr)):
        if b.shape != a.shape:
            b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
        total += float(cv2.absdiff(a, b).mean())
    return total / 2.0


def mean_luma(planes: Planes) -> float:
    return float(planes.y.mean())
