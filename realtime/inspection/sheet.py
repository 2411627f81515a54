"""The contact sheet: every stage's output side by side, what each one changed, and the refiner's decision.

One block per traced frame, in three rows:

1. the frame after each stage (the input first), titled with the stage's name, its time on this
   frame and the estimated noise level (:func:`~realtime.inspection.measures.noise_sigma`);
2. what the stage changed: luma after minus luma before, red brighter, blue darker, on a scale
   fitted to each panel (its ± is printed), with the mean change of chroma;
3. the luma histogram, with the input's drawn behind every later one for reference.

When the refiner ran, a last column shows its decision: the gain map over the frame it was applied
to, the tone curve against the identity, and the chroma transform in numbers.

Drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no global state), so a notebook can
show it and a command-line run can save it without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from realtime.compare import fit_width
from realtime.inspection.measures import chroma_change, luma_change, luma_histogram, noise_sigma
from realtime.planes import luma_range
from realtime.trace import INPUT, RefinerDecision, Trace

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

PANEL_IN = 3.0  # width of one panel, inches
HIST_IN = 0.85  # height of the histogram row
HEADER_IN = 0.45  # a block's title
MIDDLE_MIN_IN = 1.6  # the middle row holds the tone curve: it needs this height even under a panorama
DPI = 120
_DOWNSCALE = 2.0  # images are drawn from at most this many pixels per displayed pixel
_TITLE = 9.5
_SMALL = 8.0
_CHANGE_CMAP = "RdBu_r"
_MIN_CHANGE_SCALE = 4.0  # levels: a stage that barely changed anything shows pale, not amplified noise


_BIN = 4  # codes per histogram bin: a stretch leaves every other code empty, which would draw a comb
_BIN_CENTRES = np.arange(0, 256, _BIN) + (_BIN - 1) / 2.0


def _binned(hist: np.ndarray) -> np.ndarray:
    return hist.reshape(-1, _BIN).sum(axis=1)


def _rgb(bgr: np.ndarray, width_px: int) -> np.ndarray:
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(fit_width(np.ascontiguousarray(bgr[..., :3]), width_px)[..., ::-1])


def _signed(value: float) -> str:
    """``+1.2``, ``-0.3``, and ``0.0`` for what rounds to nothing (never ``-0.0``)."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def _pool_signed(diff: np.ndarray, width_px: int) -> np.ndarray:
    """``diff`` shrunk to about ``width_px`` wide, keeping each block's largest change with its sign.

    Averaging would cancel what sharpening does (a bright and a dark fringe either side of every
    edge) and show a blank panel; the largest change per block keeps every fringe visible.
    """
    fx = -(-diff.shape[1] // width_px)
    if fx <= 1:
        return diff
    fy = min(fx, diff.shape[0])  # a frame fewer rows high than the factor keeps one row
    h, w = (diff.shape[0] // fy) * fy, (diff.shape[1] // fx) * fx
    blocks = diff[:h, :w].reshape(h // fy, fy, w // fx, fx)
    hi, lo = blocks.max(axis=(1, 3)), blocks.min(axis=(1, 3))
    return np.where(-lo > hi, lo, hi)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _block_title(trace: Trace, name: str | None) -> str:
    parts = []
    if trace.name:  # a photo of a folder: its own name says it all
        parts.append(trace.name)
    elif name:
        parts.append(name)
    if trace.index is not None and not trace.name:
        parts.append(f"frame {trace.index}")
    if trace.time_s is not None:
        parts.append(f"{trace.time_s:.2f} s")
    h, w = trace.steps[0].planes.size
    parts.append(f"{w}x{h}")
    total = sum(s.ms for s in trace.steps)
    parts.append(f"stages {total:.1f} ms in all")
    return "  ·  ".join(parts)


def _draw_block(sub: SubFigure, trace: Trace, name: str | None, image_in: float, block_in: float,
                dpi: float) -> None:
    steps = trace.steps
    decision = trace.refiner
    cols = len(steps) + (1 if decision is not None else 0)
    width_px = round(PANEL_IN * dpi * _DOWNSCALE)
    grid = sub.add_gridspec(3, cols, height_ratios=[image_in, max(image_in, MIDDLE_MIN_IN), HIST_IN],
                            hspace=0.22, wspace=0.06,
                            left=0.01, right=0.99, top=1.0 - HEADER_IN / block_in, bottom=0.25 / block_in)
    sub.suptitle(_block_title(trace, name), x=0.01, y=1.0 - 0.08 / block_in, ha="left", va="top",
                 fontsize=_TITLE + 1, fontweight="bold")
    base_hist = _binned(luma_histogram(steps[0].planes))
    lo, hi = luma_range(steps[0].planes.color)
    hist_axes = []
    for col, step in enumerate(steps):
        ax = sub.add_subplot(grid[0, col])
        ax.imshow(_rgb(step.image, width_px), interpolation="antialiased")
        _bare(ax)
        timing = "" if step.name == INPUT else f"  {step.ms:.2f} ms"
        ax.set_title(f"{step.name}{timing}", loc="left", fontsize=_TITLE, fontweight="bold")
        sigma = noise_sigma(step.planes.y)
        ax.set_title(f"noise σ {sigma:.1f}" if sigma == sigma else "noise σ n/a", loc="right", fontsize=_SMALL,
                     color="0.3")

        cax = sub.add_subplot(grid[1, col])
        _bare(cax)
        if col == 0:
            cax.text(0.02, 0.5, "what each stage changed:\nluma after − luma before\nred brighter, blue darker\n"
                     "(scale fitted to each panel)\n\nbelow: luma histograms\n(grey: the input's)",
                     transform=cax.transAxes, va="center", ha="left", fontsize=_SMALL, color="0.25")
        else:
            prev = steps[col - 1].planes
            diff = luma_change(prev, step.planes)
            scale = max(_MIN_CHANGE_SCALE, float(np.percentile(np.abs(diff), 99.5)))
            cax.imshow(_pool_signed(diff, round(PANEL_IN * dpi)), cmap=_CHANGE_CMAP, vmin=-scale, vmax=scale,
                       interpolation="antialiased")
            cax.set_title(f"Δ luma {_signed(float(diff.mean()))}  (±{scale:.0f} shown)", loc="left", fontsize=_SMALL)
            cax.set_title(f"|Δ chroma| {chroma_change(prev, step.planes):.1f}", loc="right", fontsize=_SMALL,
                          color="0.3")

        hax = sub.add_subplot(grid[2, col])
        hist = _binned(luma_histogram(step.planes))
        codes = _BIN_CENTRES
        if col > 0:
            hax.fill_between(codes, base_hist, step="mid", color="0.82", linewidth=0)
        hax.fill_between(codes, hist, step="mid", color="#1f5fa8" if col else "0.45", linewidth=0, alpha=0.9)
        if (lo, hi) != (0, 255):
            for level in (lo, hi):
                hax.axvline(level, color="0.5", linewidth=0.6, linestyle=":")
        hax.set_xlim(0, 255)
        hax.set_yticks([])
        hax.set_xticks([0, 64, 128, 192, 255])
        hax.tick_params(labelsize=_SMALL - 1, length=2)
        for side in ("top", "right", "left"):
            hax.spines[side].set_visible(False)
        hax.text(0.98, 0.92, f"mean {float(step.planes.y.mean()):.0f}", transform=hax.transAxes, ha="right",
                 va="top", fontsize=_SMALL - 0.5, color="0.3")
        hist_axes.append(hax)
    shares = [_binned(luma_histogram(s.planes)) for s in steps]
    top = max(float(np.max(h)) for h in shares)
    # a clipped spike (black or white) must not flatten every other bin: the scale follows the bulk
    bulk = max(float(np.percentile(h[h > 0], 90)) for h in shares if (h > 0).any())
    top = min(top, 2.5 * bulk)
    for hax in hist_axes:
        hax.set_ylim(0, top * 1.05)
    if decision is not None:
        _draw_decision(sub, grid, cols - 1, decision, trace, width_px)


def _draw_decision(sub: SubFigure, grid, col: int, decision: RefinerDecision, trace: Trace, width_px: int) -> None:
    before = next((s for s in reversed(trace.steps) if s.name != "refiner"), trace.steps[0])
    # the gain map over the frame the refiner was given, in grey so the colours are the gain's alone
    ax = sub.add_subplot(grid[0, col])
    grey = fit_width(before.planes.y, width_px)
    h, w = grey.shape
    gain = np.log2(decision.gain_map(h, w))
    span = max(0.1, float(np.abs(gain).max()))
    ax.imshow(grey, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
    im = ax.imshow(gain, cmap=_CHANGE_CMAP, vmin=-span, vmax=span, alpha=0.6, interpolation="bilinear")
    _bare(ax)
    ax.set_title("refiner: gain map", loc="left", fontsize=_TITLE, fontweight="bold")
    ax.set_title(f"×{decision.gain.min():.2f} … ×{decision.gain.max():.2f}", loc="right", fontsize=_SMALL,
                 color="0.3")
    # the colour bar sits inside the frame's bottom edge, on a white card so its labels read on any
    # image; a frame much wider than high has no room for it (the title gives the range)
    if h / w >= 0.4:
        from matplotlib.patches import Rectangle

        ax.add_patch(Rectangle((0.02, 0.03), 0.56, 0.2, transform=ax.transAxes, facecolor="white", alpha=0.85,
                               edgecolor="none"))
        bar = ax.inset_axes((0.09, 0.06, 0.42, 0.05))
        colorbar = sub.colorbar(im, cax=bar, orientation="horizontal")
        ticks = [-span, 0.0, span]
        colorbar.set_ticks(ticks, labels=[f"×{2 ** t:.2f}" for t in ticks])
        colorbar.ax.xaxis.set_ticks_position("top")
        colorbar.ax.tick_params(labelsize=_SMALL - 1.5, length=1.5, pad=1)
        colorbar.outline.set_visible(False)


    # the tone curve, in the frame's own codes
    cax = sub.add_subplot(grid[1, col])
    lo, hi = decision.luma_range
    codes = np.arange(256)
    inside = (codes >= lo) & (codes <= hi)
    cax.plot([lo, hi], [lo, hi], color="0.6", linestyle="--", linewidth=0.9, label="identity")
    cax.plot(codes[inside], decision.tone_curve[inside], color="#c0392b", linewidth=1.6, label="tone curve")
    knots_x = lo + np.linspace(0.0, 1.0, len(decision.knots)) * (hi - lo)
    cax.plot(knots_x, lo + np.clip(decision.knots, 0.0, 1.0) * (hi - lo), "o", color="#c0392b", markersize=2.2)
    cax.set_xlim(lo, hi)
    cax.set_ylim(lo, hi)
    cax.set_aspect("equal", adjustable="box")
    cax.tick_params(labelsize=_SMALL - 1, length=2)
    cax.set_xlabel("luma in", fontsize=_SMALL - 0.5, labelpad=1)
    cax.set_ylabel("luma out", fontsize=_SMALL - 0.5, labelpad=1)
    for side in ("top", "right"):
        cax.spines[side].set_visible(False)
    cax.set_title(f"tone curve: mid-grey → {decision.curve_at(0.5):.2f}", loc="left", fontsize=_SMALL)
    cax.legend(fontsize=_SMALL - 1.5, frameon=False, loc="lower right")

    # the chroma transform in numbers
    tax = sub.add_subplot(grid[2, col])
    tax.axis("off")
    m, s, o = decision.chroma_matrix, decision.chroma_luma_shift, decision.chroma_offset
    text = (f"chroma (Cb, Cr) around grey\n"
            f"matrix  [{m[0, 0]:+.3f} {m[0, 1]:+.3f}]\n"
            f"        [{m[1, 0]:+.3f} {m[1, 1]:+.3f}]\n"
            f"+ Y' ×  ({s[0]:+.3f}, {s[1]:+.3f})\n"
            f"+       ({o[0]:+.3f}, {o[1]:+.3f})")
    tax.text(0.0, 1.0, text, transform=tax.transAxes, va="top", ha="left", fontsize=_SMALL - 0.5,
             family="monospace", color="0.15")


def draw_sheet(traces: Trace | Sequence[Trace], *, name: str | None = None, caption: str | None = None,
               dpi: float = DPI) -> Figure:
    """A contact sheet of one or more traced frames (one block each), ready to show or save.

    Args:
        traces: what :meth:`realtime.Enhancer.trace` or ``realtime inspect`` traced.
        name: the input's name, for the block titles.
        caption: a line under everything (the pipeline's description, say).
        dpi: pixels per inch of the saved or shown image (a panel is 3 inches wide); a notebook
            keeps its outputs small with 60-80.
    """
    from matplotlib.figure import Figure

    traces = [traces] if isinstance(traces, Trace) else list(traces)
    if not traces:
        raise ValueError("draw_sheet needs at least one trace")
    cols = max(len(t.steps) + (1 if t.refiner is not None else 0) for t in traces)
    heights = []
    for t in traces:
        h, w = t.steps[0].planes.size
        # portrait frames are drawn no taller than 1.6 widths, panoramas no flatter than a quarter
        image_in = PANEL_IN * min(max(h / w, 0.25), 1.6)
        heights.append((image_in, image_in + max(image_in, MIDDLE_MIN_IN) + HIST_IN + HEADER_IN + 0.35))
    caption_in = 0.3 if caption else 0.0
    fig = Figure(figsize=(cols * PANEL_IN + 0.2, sum(b for _, b in heights) + caption_in), dpi=dpi,
                 facecolor="white")
    subs = fig.subfigures(len(traces) + (1 if caption else 0), 1, squeeze=False,
                          height_ratios=[b for _, b in heights] + ([caption_in] if caption else []))[:, 0]
    for sub, trace, (image_in, block_in) in zip(subs, traces, heights, strict=False):
        _draw_block(sub, trace, name, image_in, block_in, dpi)
    if caption:
        subs[-1].text(0.01, 0.5, caption, ha="left", va="center", fontsize=_SMALL, color="0.3")
    return fig
