"""``--plot FILE.png``: fps across inputs for every method, and where each pipeline's time goes.

Drawn on a bare matplotlib Figure, so a notebook can show :func:`bench_figure` inline and the
command line can save it without a display or pyplot's global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from realtime.errors import SinkError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def bench_figure(report: dict) -> Figure:
    """The report drawn on a bare Figure (no pyplot state): shown by a notebook, saved by ``--plot``."""
    from matplotlib.figure import Figure

    results = report["results"]
    labels = [Path(r["input"]).name if not r["live"] else r["input"] for r in results]
    methods = list(dict.fromkeys(m["label"] for r in results for m in r["methods"]))
    fig = Figure(figsize=(14, 5.5))
    ax_fps, ax_stage = fig.subplots(1, 2)
    width = 0.8 / max(1, len(methods))
    for i, label in enumerate(methods):
        values = [next((m["fps"]["median"] for m in r["methods"] if m["label"] == label), 0.0) for r in results]
        xs = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(results))]
        bars = ax_fps.bar(xs, values, width, label=label)
        ax_fps.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax_fps.set_xticks(range(len(results)), labels, rotation=15 if len(results) > 2 else 0,
                      ha="right" if len(results) > 2 else "center")
    ax_fps.set_ylabel("frames per second (median of runs)")
    ax_fps.set_title("end-to-end fps")
    ax_fps.margins(y=0.12)  # room for the values over the bars
    # under the axes: inside, the legend would cover the bars it explains
    ax_fps.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    # per-stage median ms of every pipeline row, stacked, one horizontal bar per row
    rows = [(f"{name}: {m['method']} [{m['backend']}]", m["stage_ms"]) for name, r in zip(labels, results, strict=True)
            for m in r["methods"] if m["stage_ms"]]
    stage_names = list(dict.fromkeys(k for _, st in rows for k in st))
    lefts = [0.0] * len(rows)
    for name in stage_names:
        values = [st.get(name, {}).get("median", 0.0) or 0.0 for _, st in rows]
        ax_stage.barh(range(len(rows)), values, 0.6, left=lefts, label=name)
        lefts = [a + v for a, v in zip(lefts, values, strict=True)]
    ax_stage.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax_stage.invert_yaxis()
    if lefts and max(lefts) > 0:
        ax_stage.set_xlim(0, max(lefts) * 1.08)  # stacked bars' totals, with room to read the longest
    ax_stage.set_xlabel("ms per frame (median, wall time on the stage's thread)")
    ax_stage.set_title("per-stage time")
    if stage_names:
        ax_stage.legend(fontsize=7, loc="lower right")
    machine = report["machine"]
    fig.suptitle(f"realtime bench: {machine['cpu']}, {machine['cores']} cores"
                 + (f", {', '.join(machine['gpus'])}" if machine["gpus"] else ""), fontsize=10)
    fig.tight_layout()
    return fig


def write_plot(report: dict, path: str) -> None:
    fig = bench_figure(report)
    try:
        fig.savefig(Path(path), dpi=110)
    except OSError as e:
        raise SinkError(f"cannot write {path}: {e.strerror or e}") from e
