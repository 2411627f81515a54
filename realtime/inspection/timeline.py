"""The timeline: per frame over a clip, brightness in and out and what every adaptive stage decided.

Flicker and pumping are temporal faults that no single frame shows. Here they are lines: the
output's mean luma should follow the input's smoothly, its frame-to-frame change should stay near
the input's, and the contrast levels and the refiner's curve and gain should move only where the
scene does. Scene cuts (where the refiner resets its smoothing) are drawn across every panel, and
the frames on the contact sheet are marked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from realtime.inspection.probe import Timeline

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_IN = "0.55"
_OUT = "#1f5fa8"
_CUT = "#d35400"
_FONT = 8.5


#: the refiner's curve midpoint and mean gain are drawn over at least this span, so that a drift of
#: a few thousandths (invisible in the picture) does not fill the panel and read as pumping
_MIN_SPAN = 0.05


def _min_span(ax, values: np.ndarray, span: float) -> None:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < span:
        mid = (lo + hi) / 2.0
        lo, hi = mid - span / 2.0, mid + span / 2.0
    pad = (hi - lo) * 0.08
    ax.set_ylim(lo - pad, hi + pad)


def _series(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def draw_timeline(timeline: Timeline, *, dpi: float = 110) -> Figure:
    """The timeline of a clip as a figure (show it in a notebook, or ``savefig``)."""
    from matplotlib.figure import Figure

    recs = timeline.records
    x = np.array([r.index for r in recs])
    has_levels = any(r.levels is not None for r in recs)
    has_refiner = any(r.curve_mid is not None for r in recs)
    panels = ["luma", "flicker"] + (["levels"] if has_levels else []) + (["refiner"] if has_refiner else []) + ["cuts"]
    heights = {"luma": 1.6, "flicker": 1.2, "levels": 1.2, "refiner": 1.3, "cuts": 0.9}
    fig = Figure(figsize=(12, sum(heights[p] for p in panels) + 0.9), dpi=dpi, facecolor="white",
                 layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, height_ratios=[heights[p] for p in panels])
    ax_of = dict(zip(panels, np.atleast_1d(axes), strict=True))
    lo, hi = timeline.luma_range
    luma_in = np.array([r.luma_in for r in recs])
    luma_out = np.array([r.luma_out for r in recs])

    ax = ax_of["luma"]
    ax.plot(x, luma_in, color=_IN, linewidth=1.2, label="in")
    ax.plot(x, luma_out, color=_OUT, linewidth=1.4, label="out")
    ax.set_ylim(lo - 4, hi + 4)
    for level in (lo, hi):
        ax.axhline(level, color="0.75", linewidth=0.6, linestyle=":")
    ax.set_ylabel("mean luma", fontsize=_FONT)
    ax.legend(fontsize=_FONT - 1, frameon=False, ncol=2, loc="best")

    ax = ax_of["flicker"]
    ax.axhline(0, color="0.8", linewidth=0.6)
    if len(recs) > 1:
        ax.plot(x[1:], np.diff(luma_in), color=_IN, linewidth=1.0, label="in")
        ax.plot(x[1:], np.diff(luma_out), color=_OUT, linewidth=1.2, label="out")
        worst = float(np.nanmax(np.abs(np.concatenate([np.diff(luma_in), np.diff(luma_out)]))))
        ax.set_ylim(-max(1.0, worst) * 1.15, max(1.0, worst) * 1.15)
        steady = [r.cut for r in recs[1:]]
        calm = np.abs(np.diff(luma_out))[~np.array(steady)] if not all(steady) else np.array([0.0])
        ax.text(0.005, 0.95, f"out, within shots: median |Δ| {float(np.median(calm)):.2f}, "
                f"max {float(np.max(calm)):.2f} levels/frame", transform=ax.transAxes, fontsize=_FONT - 1,
                va="top", color=_OUT)
    ax.set_ylabel("Δ mean luma\nper frame", fontsize=_FONT)

    if has_levels:
        ax = ax_of["levels"]
        lv = [r.levels for r in recs]
        ax.plot(x, _series([v[0] if v else None for v in lv]), color="0.2", linewidth=1.2, label="black level")
        ax.plot(x, _series([v[1] if v else None for v in lv]), color="#b9770e", linewidth=1.2, label="white level")
        ax.set_ylabel("contrast\nlevels in", fontsize=_FONT)
        ax.legend(fontsize=_FONT - 1, frameon=False, ncol=2, loc="best")

    if has_refiner:
        ax = ax_of["refiner"]
        mid = _series([r.curve_mid for r in recs])
        gain = _series([r.mean_gain for r in recs])
        ax.plot(x, mid, color="#c0392b", linewidth=1.3, label="tone curve at mid-grey (left)")
        analysed = np.array([bool(r.analysed) for r in recs])
        ax.plot(x[analysed], mid[analysed], "o", color="#c0392b", markersize=1.8, label="network ran")
        ax.set_ylabel("curve\nmid-grey", fontsize=_FONT)
        _min_span(ax, mid, _MIN_SPAN)
        twin = ax.twinx()
        twin.plot(x, gain, color="#7d3c98", linewidth=1.1, label="mean gain (right)")
        twin.set_ylabel("mean\ngain ×", fontsize=_FONT)
        _min_span(twin, gain, _MIN_SPAN)
        twin.tick_params(labelsize=_FONT - 1)
        handles = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        # above the panel: with two y axes no spot inside is sure to be clear of both
        ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=_FONT - 1, frameon=False, ncol=3,
                  loc="lower right", bbox_to_anchor=(1.0, 0.98), borderaxespad=0.0)

    ax = ax_of["cuts"]
    change = _series([r.change for r in recs])
    ax.plot(x, change, color="0.35", linewidth=1.0)
    ax.axhline(timeline.cut_threshold, color=_CUT, linewidth=0.8, linestyle="--")
    ax.text(0.005, 0.92, f"scene change (threshold {timeline.cut_threshold:g}, dashed)", transform=ax.transAxes,
            fontsize=_FONT - 1, va="top", color="0.3")
    ax.set_ylabel("scene\nchange", fontsize=_FONT)
    ax.set_ylim(0, max(timeline.cut_threshold * 1.6, float(np.nanmax(change)) * 1.1 if np.isfinite(change).any()
                       else 0.0))
    ax.set_xlabel("frame", fontsize=_FONT)

    cuts = [r.index for r in recs[1:] if r.cut]
    for a in ax_of.values():
        a.tick_params(labelsize=_FONT - 1)
        for side in ("top", "right"):
            a.spines[side].set_visible(False)
        for c in cuts:
            a.axvline(c, color=_CUT, linewidth=1.0, alpha=0.8)
        for t in timeline.traced:
            a.axvline(t, color="0.3", linewidth=0.8, linestyle=":")
    if has_refiner:
        ax_of["refiner"].spines["right"].set_visible(True)
    top = ax_of["luma"]
    for t in timeline.traced:
        top.annotate(f"sheet #{t}", (t, 1.0), xycoords=("data", "axes fraction"), fontsize=_FONT - 1.5,
                     ha="center", va="bottom", color="0.3")
    ax_of["cuts"].set_xlim(x[0] - 0.5, x[-1] + 0.5)
    duration = f", {timeline.duration_s:.2f} s" if timeline.duration_s is not None else ""
    fig.suptitle(f"{timeline.name}: {len(recs)} frames{duration}, {len(cuts)} scene cut(s)"
                 + (f"\n{timeline.description}" if timeline.description else ""), fontsize=_FONT + 1.5,
                 x=0.01, ha="left")
    return fig
