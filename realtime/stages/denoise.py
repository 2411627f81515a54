"""Real-time denoising: edge-preserving luma filter, chroma filter at chroma resolution, temporal recursion.

Budget first (one thread, 1280x720, 4:2:0): colour non-local means costs ~800 ms per frame and a
bilateral filter of the Y plane ~5-7 ms at d=5 (~2.2-2.8 ms at d=3), while the whole stage must
stay near 3 ms, so the work is split by what each plane needs:

- Luma carries the detail, so it gets an edge-preserving filter. The default is *coring*
  (``spatial = "coring"``): ``Y - clamp(Y - mean(Y), -t, t)`` with a 5x5 box mean. Detail smaller
  than ``t`` levels (noise) is replaced by the local mean; larger detail (edges, text) is kept,
  shrunk by ``t`` (the sharpen stage after it restores part of that). Lone pixels outside the
  range of their eight neighbours are clamped into it first (:func:`~realtime.stages._ops.despike`):
  coring would only shrink those impulses, and sharpening then turns them into salt-and-pepper.
  All of it is a box filter, a 3x3 erosion and dilation and six saturating uint8 passes, about a
  quarter of a bilateral filter of the same size (``spatial = "bilateral"``, still available).
  Measured on the synthetic low-light scene at its place in the default chain (after contrast and
  CLAHE), coring at the defaults is 0.4 dB (luma PSNR) better than the bilateral filter at d=5
  and 1.6 dB better than at d=3. Where the noise is small next to the threshold (the same frames
  before the stretch, or well-exposed footage) the bilateral filter is 1-3.5 dB better: coring's
  shrunk edges are a bias that no averaging removes. A box mean rather than a Gaussian: for the
  same cost it averages more pixels, which measured better here.
- Low-light chroma noise is blotchy and low-frequency, and the eye barely resolves chroma detail,
  so Cb/Cr are smoothed at their own resolution (a quarter of the pixels for 4:2:0 video, so no
  resampling at all). A plain blur would bleed colour across edges (a glow around saturated
  objects, thin coloured lines turning grey), so the blur's change to each chroma sample is kept
  only while it is noise-sized and faded out where it exceeds ``chroma_edge`` levels (a sigma
  filter: the same operation as the temporal step below, towards the blur). Denser chroma (4:4:4
  from BGR, 4:2:2) is first averaged to 4:2:0's noise level, see :func:`dense_chroma_box`.
- Static parts of a video are the same scene observed again, so a motion-adaptive recursive
  filter averages over time: strong blending where the frame barely changed, none where it moved
  (no ghost trails). Every plane is filtered at its own resolution, against its own state.

The temporal step's motion test looks at an area, not a pixel (``motion_area``, default 5): the
mean absolute difference between the frame and the filtered previous one over a 5x5 box
(:func:`realtime.stages._ops.static_weight`). A per-pixel test, as FFmpeg's hqdn3d makes, cannot
tell noise from motion once the noise nears the threshold, and dark footage after the contrast
stretch is exactly there: on a darkened fixed-camera clip (car-detection.mp4) it left static areas
shimmering (warping error 23x the clean clip's, see the model card) while raising the threshold
enough to average them (64 levels) smeared the panning clip (bikes.mp4, -1.9 dB). Averaged over
25 pixels the noise shrinks and real motion does not. ``motion_area = 1`` keeps the per-pixel
test: the triangle ``strength * sign(d) * min(|d|, threshold - |d|)`` of the difference ``d``
(:func:`realtime.stages._ops.pull`), which the chroma sigma filter also uses, with strength 1,
to pull each chroma sample towards its blur. Both are saturating uint8 passes, the same calls on
the CPU and under OpenCL.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.full((64, 64, 3), 100, np.uint8)
    >>> noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
    >>> out = denoise(noisy, params=DenoiseParams())
    >>> bool(np.abs(out.astype(int) - 100).mean() < np.abs(noisy.astype(int) - 100).mean())
    True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import cv2
import numpy as np

from realtime.backends import Array, download_plane, plane_size, upload_plane
from realtime.planes import Planes
from realtime.stages._dispatch import ARRAY_TYPES, GpuMat, Workspace, dispatched, thread_workspace
from realtime.stages._ops import (
    RING,
    HostOrOpenCL,
    blend_weighted,
    clamp_around,
    despike,
    pull,
    pull_table,
    static_weight,
    static_weight_table,
)
from realtime.stages.base import StageParams, choice, param
from realtime.stages.color import check_planes, planes_from_bgr, planes_to_bgr, subsampling
from realtime.stages.deblock import KEEP_RATIO, KEEP_STEP, Grid, block_grid, deblock_plane
from realtime.stages.noise import estimate_noise


@dataclasses.dataclass(frozen=True)
class DenoiseParams(StageParams):
    """Parameters of the denoiser.

    Attributes:
        spatial: the luma filter: ``"coring"`` (default: impulse clamp, box mean and soft
            threshold, ~1-1.5 ms at 720p on one core) or ``"bilateral"`` (~5-7 ms at d=5, ~2.5 at
            d=3). See the module docstring for how they compare.
        sigma_color: noise level the luma filter removes (levels): the bilateral range sigma, and
            twice the coring threshold (detail up to ``sigma_color / 2`` levels is smoothed away).
            0 disables the spatial luma filter. In [0, 100].
        diameter: luma filter neighbourhood (pixels): the bilateral diameter or the box size. The
            bilateral filter's cost grows with its square, the box filter's hardly at all. In [3, 9].
        chroma_strength: sigma of the Cb/Cr blur (a box filter of matching variance), in 4:2:0
            chroma samples (half the frame's resolution; scaled to the planes' actual subsampling,
            so the blur covers the same area of the picture for 4:2:0, 4:2:2 and 4:4:4). 0 disables
            chroma filtering, temporal included, and passes the chroma planes through. In [0, 5].
        chroma_edge: chroma change (levels) treated as a real colour edge: the blur's correction
            is applied fully up to half of it and fades to none at it (whole levels). In [2, 100].
        temporal_strength: largest weight of the previous frame in static areas; 0 disables the
            temporal filter. In [0, 0.95].
        motion_threshold: frame-to-frame change (levels; with ``motion_area`` above 1 the mean
            absolute change over the area) treated as motion: blending is full below half of it and
            fades to none at it (whole levels; fractions round). In [2, 100].
        motion_area: side (luma pixels) of the box the motion test averages the change over; 1
            tests each pixel alone (the filter before issue 13). Chroma uses the same part of the
            picture at its own resolution. In [1, 9].
        motion_ramp: with the area test, the weight falls linearly from ``motion_ramp`` at no
            change to none at ``motion_threshold`` and is capped at ``temporal_strength``. The
            default 1.2 is twice the default strength: full blending up to half the threshold.
            With a higher strength (the lowlight preset's 0.9) the cap is reached only where the
            change is smallest, so the stillest areas average many frames while areas that might
            be moving blend no more than at 0.6. In [0.1, 2].
        motion: ``"fixed"`` (default: ``motion_threshold`` as given) or ``"auto"`` (the lowlight
            preset's): the threshold is ``motion_gain`` times the estimated noise (as for
            ``strength = "auto"``), since what a still area's frame-to-frame change looks like is
            the noise: a fixed threshold is too low for very noisy footage (it shimmers) and too
            high for clean footage (moving things smear).
        motion_gain: ``motion_threshold`` per level of estimated noise under ``motion = "auto"``.
            In [0.5, 8].
        deblock: ``"auto"`` (default): every :data:`NOISE_EVERY` frames the luma's 8x8 block grid
            is measured (:func:`realtime.stages.deblock.block_grid`), and while a frame reads as
            blocky (a decoded JPEG or MJPEG frame, not H.264, whose decoder deblocks) H.264's edge
            filter smooths the block boundaries before the spatial filter. ``"off"`` never does.
        deblock_strength: scales the deblocking thresholds (how large a boundary step is
            taken for blocking, and how far it is corrected). In [0.5, 4].
        strength: ``"fixed"`` (default: ``sigma_color`` as given) or ``"auto"`` (the lowlight
            preset's): the noise is estimated (:func:`realtime.stages.noise.estimate_noise`, every
            :data:`NOISE_EVERY` frames, on every 4th pixel of the luma) and ``sigma_color`` set to
            ``noise_gain`` times it, so a clean frame is not smoothed into wax and a noisy one gets
            what it needs.
        noise_gain: ``sigma_color`` per level of estimated noise under ``strength = "auto"``. In [0.5, 8].
        chroma_spikes: ``"clamp"`` (default): a chroma sample outside the range of its eight
            neighbours is clamped into it first (:func:`~realtime.stages._ops.despike`, at chroma
            resolution), as luma's impulses are. Such a sample differs from its blur by more than
            ``chroma_edge``, so the sigma filter keeps it as a colour edge: a coloured speck once
            the stretch has amplified it. ``"keep"`` leaves them.
    """

    stage: ClassVar[str] = "denoise"
    spatial: str = choice("coring", "coring", "bilateral")
    sigma_color: float = param(20.0, float, 0.0, 100.0)
    diameter: int = param(5, int, 3, 9)
    chroma_strength: float = param(1.5, float, 0.0, 5.0)
    chroma_edge: float = param(16.0, float, 2.0, 100.0)
    temporal_strength: float = param(0.6, float, 0.0, 0.95)
    motion_threshold: float = param(16.0, float, 2.0, 100.0)
    motion_area: int = param(5, int, 1, 9)
    strength: str = choice("fixed", "fixed", "auto")
    noise_gain: float = param(2.0, float, 0.5, 8.0)
    chroma_spikes: str = choice("clamp", "clamp", "keep")
    motion_ramp: float = param(1.2, float, 0.1, 2.0)
    motion: str = choice("fixed", "fixed", "auto")
    motion_gain: float = param(1.4, float, 0.5, 8.0)
    deblock: str = choice("auto", "auto", "off")
    deblock_strength: float = param(2.0, float, 0.5, 4.0)

    def inert(self) -> dict[str, str]:
        inert = {}
        if self.strength == "auto":
            inert["sigma_color"] = 'strength = "auto" sets it from the measured noise (set strength = "fixed")'
        else:
            inert["noise_gain"] = 'it acts only under strength = "auto"'
        if self.motion == "auto":
            inert["motion_threshold"] = 'motion = "auto" sets it from the measured noise (set motion = "fixed")'
        else:
            inert["motion_gain"] = 'it acts only under motion = "auto"'
        if self.deblock == "off":
            inert["deblock_strength"] = 'it acts only under deblock = "auto"'
        if self.motion_area <= 1:
            inert["motion_ramp"] = "the per-pixel motion test (motion_area = 1) has no ramp"
        return inert

    @property
    def measures_noise(self) -> bool:
        """Whether a parameter follows the frame's measured noise (the stage then estimates it)."""
        return self.strength == "auto" or self.motion == "auto"

    @property
    def sigma_space(self) -> float:
        """Bilateral spatial sigma: wide enough that the range term alone decides what is an edge."""
        return self.diameter / 2.0

    @property
    def coring_threshold(self) -> int:
        """Coring threshold in whole levels (planes are integer, so a fraction would only round)."""
        return round(self.sigma_color / 2.0)

    @property
    def motion_levels(self) -> int:
        """``motion_threshold`` in whole levels, as the temporal blend uses it."""
        return round(self.motion_threshold)

    @property
    def chroma_edge_levels(self) -> int:
        """``chroma_edge`` in whole levels, as the chroma sigma filter uses it."""
        return round(self.chroma_edge)


_DEFAULT = DenoiseParams()


@dataclasses.dataclass(frozen=True)
class TemporalState:
    """What the temporal filter carries between frames, per plane, on the frames' backend.

    The sizes are kept alongside because device arrays do not expose them cheaply; a state whose
    sizes or backend differ from the next frame's (resolution or subsampling change, another
    backend) is ignored, so the filter restarts by itself rather than failing.
    """

    luma: Array  # filtered Y of the previous frame
    chroma: tuple[Any, Any] | None  # Cb and Cr after temporal filtering (before smoothing), or None
    sizes: tuple[tuple[int, int], tuple[int, int]]  # (height, width) of the luma and chroma planes


def box_width(sigma: float) -> int:
    """Odd width of the box filter whose variance is closest to a Gaussian's of ``sigma``.

    A box of width ``w`` has variance ``(w * w - 1) / 12``. Used for chroma smoothing because it
    costs a third of a Gaussian of the same sigma here, and the sigma filter that follows it keeps
    colour edges either way.
    """
    return 2 * round((math.sqrt(12.0 * sigma * sigma + 1.0) - 1.0) / 2.0) + 1


def chroma_box(strength: float, factors: tuple[int, int]) -> tuple[int, int]:
    """``(kx, ky)``: the chroma box filter for planes subsampled by ``factors`` (from :func:`subsampling`).

    ``strength`` is in 4:2:0 chroma samples; a plane sampled twice as densely along an axis gets
    twice the width there, so the blur covers the same part of the picture.
    """
    fy, fx = factors
    return box_width(strength * 2.0 / fx), box_width(strength * 2.0 / fy)


def dense_chroma_box(factors: tuple[int, int]) -> tuple[int, int] | None:
    """``(kx, ky)`` of the box that first brings denser-than-4:2:0 chroma to 4:2:0's noise level.

    Why: the sigma filter and the motion test compare one chroma sample with a threshold, and a
    4:2:0 sample is the mean of a 2x2 block, with half the noise of a 4:4:4 one; compared as they
    are, noisy 4:4:4 samples would exceed ``chroma_edge`` and keep their noise. A width-3 box along
    each fully sampled axis averages at least as much. None for 4:2:0, which needs nothing.
    """
    fy, fx = factors
    if fy >= 2 and fx >= 2:
        return None
    return (3 if fx < 2 else 1), (3 if fy < 2 else 1)


def _spatial_luma(luma: HostOrOpenCL, params: DenoiseParams) -> HostOrOpenCL:
    """The spatial luma filter (host or OpenCL plane); returns ``luma`` itself when disabled."""
    if params.sigma_color <= 0.0:
        return luma
    if params.spatial == "bilateral":
        return cv2.bilateralFilter(luma, params.diameter, params.sigma_color, params.sigma_space)
    # Coring: Y - clamp(Y - mean, -t, t) is the mean clamped into [Y - t, Y + t]; impulses first,
    # since coring would only shrink them by t.
    luma = despike(luma)
    mean = cv2.blur(luma, (params.diameter, params.diameter))
    return clamp_around(luma, mean, params.coring_threshold)


def _sizes(planes: Planes) -> tuple[tuple[int, int], tuple[int, int]]:
    return plane_size(planes.y), plane_size(planes.cb)


def chroma_area(area: int, factors: tuple[int, int]) -> int:
    """The motion test's box side on chroma planes subsampled by ``factors``: the same part of
    the picture, odd, at least 1 (3 for 4:2:0 when luma's is 5; 1, the per-pixel test, for 1)."""
    return max(1, round(area / max(factors[1], 1))) | 1


def _blend(cur: HostOrOpenCL, prev: HostOrOpenCL, params: DenoiseParams, area: int,
           also: HostOrOpenCL | None = None) -> tuple[HostOrOpenCL, HostOrOpenCL | None]:
    """The temporal step on one host or OpenCL plane: ``(blended, weight)``, the area test's
    weight, or None for the per-pixel test (``area`` 1).

    ``also`` (area test only) is a weight from another plane (luma's, at this plane's size) that
    caps this one's: a change in luma is motion for chroma too. Why: a grey object moving over a
    nearly grey background changes chroma by less than noise does, and chroma's own test alone
    left a faint colour trail behind it.
    """
    if area <= 1:
        return pull(cur, prev, params.temporal_strength, params.motion_levels), None
    weight = static_weight(cur, prev, params.temporal_strength, params.motion_levels, area, params.motion_ramp)
    if also is not None:
        weight = cv2.min(weight, also)
    return blend_weighted(cur, prev, weight), weight


def _usable(prev: TemporalState | None, planes: Planes, sizes: Any, params: DenoiseParams) -> bool:
    return (prev is not None and params.temporal_strength > 0.0 and prev.sizes == sizes
            and type(prev.luma) is type(planes.y))


# ------------------------------------------------------------------------------------------ kernels


@dispatched(planes=True)
def temporal_denoise_planes(
    planes: Planes, prev: TemporalState | None, *, params: DenoiseParams = _DEFAULT,
    workspace: Workspace | None = None,
) -> tuple[Planes, TemporalState]:
    """Denoise one frame of a clip: spatial filtering, then recursive temporal filtering, per plane.

    Luma is filtered spatially, then blended with the previous filtered luma. Chroma is blended
    with the previous frame's (temporally filtered) chroma, then smoothed; both at the chroma
    planes' own resolution.

    Args:
        planes: the frame, any chroma subsampling, range and backend; not modified.
        prev: the state returned for the previous frame of the same clip; ``None`` on the first
            frame (the result then equals :func:`denoise_planes`). A state of other plane sizes or
            another backend is ignored.
        params: denoising parameters.
        workspace: cache for the CUDA filter objects; ``None`` uses the calling thread's.

    Returns:
        ``(denoised, state)``: new planes of the input's backend, sizes and colour (sharing the
        input's chroma planes when chroma filtering is off), and the state to pass as ``prev``
        with the next frame.
    """
    raise NotImplementedError


def _temporal_denoise_host_or_opencl(
    planes: Planes, prev: TemporalState | None, params: DenoiseParams
) -> tuple[Planes, TemporalState]:
    """The NumPy and OpenCL kernels: the cv2 calls are the same on both."""
    sizes = _sizes(planes)
    prev = prev if _usable(prev, planes, sizes, params) else None
    luma = _spatial_luma(planes.y, params)
    luma_weight = None
    if prev is not None:
        luma, luma_weight = _blend(luma, prev.luma, params, params.motion_area)
    if params.chroma_strength <= 0.0:
        return planes.replace(y=luma), TemporalState(luma, None, sizes)
    factors = subsampling(*sizes)
    chroma = (planes.cb, planes.cr)
    if params.chroma_spikes == "clamp":
        chroma = (despike(chroma[0]), despike(chroma[1]))
    dense = dense_chroma_box(factors)
    if dense is not None:
        chroma = (cv2.blur(chroma[0], dense), cv2.blur(chroma[1], dense))
    if prev is not None and prev.chroma is not None:
        area = chroma_area(params.motion_area, factors)
        also = None
        if luma_weight is not None:  # luma's weight at chroma's size, the mean of each block
            h, w = sizes[1]
            also = cv2.resize(luma_weight, (w, h), interpolation=cv2.INTER_AREA)
        chroma = tuple(_blend(c, p, params, area, also)[0] for c, p in zip(chroma, prev.chroma, strict=True))
    ksize = chroma_box(params.chroma_strength, factors)
    cb, cr = (pull(c, cv2.blur(c, ksize), 1.0, params.chroma_edge_levels) for c in chroma)
    return planes.replace(y=luma, cb=cb, cr=cr), TemporalState(luma, chroma, sizes)


@temporal_denoise_planes.kernel(np.ndarray)
def _temporal_denoise_planes_numpy(
    planes: Planes, prev: TemporalState | None, *, params: DenoiseParams = _DEFAULT,
    workspace: Workspace | None = None,
) -> tuple[Planes, TemporalState]:
    check_planes(planes)
    return _temporal_denoise_host_or_opencl(planes, prev, params)


@temporal_denoise_planes.kernel(cv2.UMat)
def _temporal_denoise_planes_umat(
    planes: Planes, prev: TemporalState | None, *, params: DenoiseParams = _DEFAULT,
    workspace: Workspace | None = None,
) -> tuple[Planes, TemporalState]:
    return _temporal_denoise_host_or_opencl(planes, prev, params)


# Unverified: written against OpenCV's documented cv2.cuda API; PyPI OpenCV has no CUDA to run it.
# Same algorithm as _temporal_denoise_host_or_opencl, with cv2.cuda calls and filter/table objects
# cached in the workspace.
@temporal_denoise_planes.kernel(GpuMat)
def _temporal_denoise_planes_cuda(
    planes: Planes, prev: TemporalState | None, *, params: DenoiseParams = _DEFAULT,
    workspace: Workspace | None = None,
) -> tuple[Planes, TemporalState]:
    ws = workspace if workspace is not None else thread_workspace()
    sizes = _sizes(planes)
    prev = prev if _usable(prev, planes, sizes, params) else None

    def table(strength: float, threshold: int) -> Any:  # pull() as a table: cheaper on a GPU
        host_table = pull_table(strength, threshold).reshape(1, 256)
        return ws.get(("denoise-lut", strength, threshold), lambda: cv2.cuda.createLookUpTable(host_table))

    def pull(cur: cv2.cuda.GpuMat, towards: cv2.cuda.GpuMat, lut: Any) -> cv2.cuda.GpuMat:
        diff = lut.transform(cv2.cuda.addWeighted(towards, 1.0, cur, -1.0, 128.0))
        return cv2.cuda.addWeighted(cur, 1.0, diff, 1.0, -128.0)

    def blend(cur: cv2.cuda.GpuMat, towards: cv2.cuda.GpuMat, area: int, also: Any = None) -> tuple[Any, Any]:
        """(blended, weight): _blend's twin, the weight as a table; None as the weight per pixel."""
        if area <= 1:
            return pull(cur, towards, motion), None
        up, down = cv2.cuda.subtract(towards, cur), cv2.cuda.subtract(cur, towards)
        size = (area, area)
        box = ws.get(("denoise-box", size), lambda: cv2.cuda.createBoxFilter(cv2.CV_8UC1, cv2.CV_8UC1, size))
        weight = static.transform(box.apply(cv2.cuda.max(up, down)))
        if also is not None:
            weight = cv2.cuda.min(weight, also)
        scale = 1.0 / 255.0
        return cv2.cuda.subtract(cv2.cuda.add(cur, cv2.cuda.multiply(up, weight, scale=scale)),
                                 cv2.cuda.multiply(down, weight, scale=scale)), weight

    motion = table(params.temporal_strength, params.motion_levels)
    key = ("denoise-static", params.temporal_strength, params.motion_levels, params.motion_ramp)
    static = ws.get(key, lambda: cv2.cuda.createLookUpTable(
        static_weight_table(params.temporal_strength, params.motion_levels, params.motion_ramp)))
    luma = planes.y
    if params.sigma_color > 0.0 and params.spatial == "bilateral":
        luma = cv2.cuda.bilateralFilter(luma, params.diameter, params.sigma_color, params.sigma_space)
    elif params.sigma_color > 0.0:
        d, t = params.diameter, params.coring_threshold
        erode = ws.get("denoise-erode", lambda: cv2.cuda.createMorphologyFilter(cv2.MORPH_ERODE, cv2.CV_8UC1, RING))
        dilate = ws.get("denoise-dilate", lambda: cv2.cuda.createMorphologyFilter(cv2.MORPH_DILATE, cv2.CV_8UC1, RING))
        luma = cv2.cuda.min(cv2.cuda.max(luma, erode.apply(luma)), dilate.apply(luma))
        box = ws.get(("denoise-box", (d, d)), lambda: cv2.cuda.createBoxFilter(cv2.CV_8UC1, cv2.CV_8UC1, (d, d)))
        mean = box.apply(luma)
        # cv2.cuda's add/subtract take no Python scalars before OpenCV 4.11 (opencv_contrib#3814),
        # so the threshold is a constant plane, made once per size in the workspace.
        w, h = luma.size()
        const = ws.get(("denoise-const", w, h, t), lambda: cv2.cuda.GpuMat(h, w, cv2.CV_8UC1, (t, 0, 0, 0)))
        low = cv2.cuda.subtract(luma, const)
        high = cv2.cuda.add(luma, const)
        luma = cv2.cuda.min(cv2.cuda.max(mean, low), high)
    luma_weight = None
    if prev is not None:
        luma, luma_weight = blend(luma, prev.luma, params.motion_area)
    if params.chroma_strength <= 0.0:
        return planes.replace(y=luma), TemporalState(luma, None, sizes)
    factors = subsampling(*sizes)
    chroma = (planes.cb, planes.cr)
    if params.chroma_spikes == "clamp":
        erode = ws.get("denoise-erode", lambda: cv2.cuda.createMorphologyFilter(cv2.MORPH_ERODE, cv2.CV_8UC1, RING))
        dilate = ws.get("denoise-dilate", lambda: cv2.cuda.createMorphologyFilter(cv2.MORPH_DILATE, cv2.CV_8UC1, RING))
        chroma = tuple(cv2.cuda.min(cv2.cuda.max(c, erode.apply(c)), dilate.apply(c)) for c in chroma)
    dense = dense_chroma_box(factors)
    if dense is not None:
        pre = ws.get(("denoise-box", dense), lambda: cv2.cuda.createBoxFilter(cv2.CV_8UC1, cv2.CV_8UC1, dense))
        chroma = (pre.apply(chroma[0]), pre.apply(chroma[1]))
    if prev is not None and prev.chroma is not None:
        area = chroma_area(params.motion_area, factors)
        also = None
        if luma_weight is not None:
            also = cv2.cuda.resize(luma_weight, sizes[1][::-1], interpolation=cv2.INTER_AREA)
        chroma = (blend(chroma[0], prev.chroma[0], area, also)[0], blend(chroma[1], prev.chroma[1], area, also)[0])
    ksize = chroma_box(params.chroma_strength, factors)
    blur = ws.get(("denoise-box", ksize), lambda: cv2.cuda.createBoxFilter(cv2.CV_8UC1, cv2.CV_8UC1, ksize))
    edge = table(1.0, params.chroma_edge_levels)
    cb, cr = (pull(c, blur.apply(c), edge) for c in chroma)
    return planes.replace(y=luma, cb=cb, cr=cr), TemporalState(luma, chroma, sizes)


# --------------------------------------------------------------------------------- stage functions


@dispatched(planes=True)
def denoise_planes(planes: Planes, *, params: DenoiseParams = _DEFAULT, workspace: Workspace | None = None) -> Planes:
    """Spatially denoise a single frame (luma filter + chroma smoothing at chroma resolution).

    The temporal part needs the previous frame: use :func:`temporal_denoise_planes` or :class:`Denoise`.
    """
    raise NotImplementedError


@denoise_planes.kernel(*ARRAY_TYPES)
def _denoise_planes(
    planes: Planes, *, params: DenoiseParams = _DEFAULT, workspace: Workspace | None = None
) -> Planes:
    return temporal_denoise_planes(planes, None, params=params, workspace=workspace)[0]


@dispatched
def denoise(bgr: Array, *, params: DenoiseParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    """Spatially denoise a single BGR frame (see :func:`denoise_planes`)."""
    raise NotImplementedError


@denoise.kernel(*ARRAY_TYPES)
def _denoise(bgr: Array, *, params: DenoiseParams = _DEFAULT, workspace: Workspace | None = None) -> Array:
    return planes_to_bgr(denoise_planes(planes_from_bgr(bgr), params=params, workspace=workspace))


#: frames between two noise estimates under ``strength = "auto"``
NOISE_EVERY = 15


class Denoise:
    """Denoising stage for one video stream; keeps the temporal filter's state between frames."""

    name: ClassVar[str] = "denoise"
    array_types: ClassVar[tuple[type, ...]] = temporal_denoise_planes.supported_types
    params_type: ClassVar[type[DenoiseParams]] = DenoiseParams

    def __init__(self, params: DenoiseParams | None = None) -> None:
        self.params = params if params is not None else DenoiseParams()
        self._state: TemporalState | None = None
        self._workspace = Workspace()
        #: the noise (levels) estimated last under ``strength = "auto"``; None otherwise
        self.noise: float | None = None
        self._since_estimate = 0
        #: the block grid measured last under ``deblock = "auto"``; None otherwise
        self.grid: Grid | None = None
        #: whether frames are being deblocked now
        self.deblocking = False
        self._since_grid = 0

    def apply_planes(self, planes: Planes) -> Planes:
        params = self.params
        if params.measures_noise:
            # every 4th pixel each way and every NOISE_EVERY frames: noise changes with the light,
            # not from frame to frame, and the estimate costs ~15 ms on a full 720p luma plane
            if self.noise is None or self._since_estimate >= NOISE_EVERY:
                h, w = planes.size
                step = max(1, min(4, min(h, w) // 32))  # a small frame is read more densely
                # a frame too small to estimate from (under 8 pixels a side) keeps the given values
                self.noise = estimate_noise(download_plane(planes.y)[::step, ::step]) if min(h, w) >= 8 else None
                self._since_estimate = 0
            self._since_estimate += 1
            params = self.following(self.noise)
        if params.deblock == "auto":
            planes = self._deblock(planes)
        out, self._state = temporal_denoise_planes(
            planes, self._state, params=params, workspace=self._workspace
        )
        return out

    def _deblock(self, planes: Planes) -> Planes:
        """The frame with its luma deblocked while the last measurement found blocking."""
        if min(planes.size) < 16:
            return planes
        host = None
        if self.grid is None or self._since_grid >= NOISE_EVERY:
            host = download_plane(planes.y)
            self.grid = block_grid(host)  # ~0.6 ms at 720p, every NOISE_EVERY frames
            self._since_grid = 0
            # on from the blocky thresholds, off only below the lower ones (no toggling)
            self.deblocking = self.grid.blocky(KEEP_RATIO, KEEP_STEP) if self.deblocking else self.grid.blocky()
        self._since_grid += 1
        if not self.deblocking:
            return planes
        host = download_plane(planes.y) if host is None else host
        y = deblock_plane(host, self.grid, min_ratio=KEEP_RATIO, min_step=KEEP_STEP,
                          strength=self.params.deblock_strength)
        return planes.replace(y=upload_plane(y, type(planes.y)))

    def following(self, noise: float | None) -> DenoiseParams:
        """The parameters in effect at a measured ``noise`` (levels; None: as given)."""
        params = self.params
        if noise is None:
            return params
        changes: dict[str, float] = {}
        if params.strength == "auto":
            changes["sigma_color"] = min(100.0, params.noise_gain * noise)
        if params.motion == "auto":
            changes["motion_threshold"] = min(100.0, max(2.0, params.motion_gain * noise))
        return dataclasses.replace(params, **changes) if changes else params

    def __call__(self, bgr: Array) -> Array:
        return planes_to_bgr(self.apply_planes(planes_from_bgr(bgr)))

    def reset(self) -> None:
        self._state = None
        self.noise = None  # an unrelated photo: its own noise
        self.grid = None  # and its own compression
        self.deblocking = False

    def __repr__(self) -> str:
        return f"Denoise({self.params!r})"
