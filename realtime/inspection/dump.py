"""``realtime inspect -o DIR/``: every intermediate at full resolution, and the numbers behind the sheet as JSON.

For people who want the pixels: one PNG per stage (lossless, the exact BGR a run would write for
that stage's output), a sheet per frame, and ``inspect.json`` with each stage's parameters, its
time, the panels' measures and the refiner's full decision (tone curve, gain grid, chroma).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import SinkError
from realtime.inspection.measures import chroma_change, mean_luma, noise_sigma
from realtime.inspection.probe import Timeline
from realtime.pipeline import Pipeline
from realtime.sinks.images import write_image
from realtime.trace import RefinerDecision, Trace

JSON_NAME = "inspect.json"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def stage_params(pipeline: Pipeline) -> dict[str, Any]:
    """Each stage's parameters as plain values (a dataclass of built-in parameters, or a user stage's keywords)."""
    out: dict[str, Any] = {}
    for stage in pipeline.stages:
        params = getattr(stage, "params", None)
        if dataclasses.is_dataclass(params) and not isinstance(params, type):
            out[stage.name] = dataclasses.asdict(params)
        elif isinstance(params, dict):
            out[stage.name] = {k: v if isinstance(v, int | float | str | bool) else repr(v) for k, v in params.items()}
        elif getattr(stage, "runtime", None) is not None:
            out[stage.name] = {"runtime": stage.runtime, "analyse_every": getattr(stage, "analyse_every", None),
                               "smoothing": getattr(stage, "smoothing", None)}
        else:
            out[stage.name] = {}
    return out


def decision_json(decision: RefinerDecision) -> dict[str, Any]:
    def r(a: np.ndarray, nd: int = 4) -> Any:
        return np.round(np.asarray(a, np.float64), nd).tolist()

    return {"runtime": decision.runtime, "luma_range": list(decision.luma_range),
            "tone_curve": r(decision.tone_curve, 2), "knots": r(decision.knots), "gain": r(decision.gain),
            "chroma_matrix": r(decision.chroma_matrix), "chroma_luma_shift": r(decision.chroma_luma_shift),
            "chroma_offset": r(decision.chroma_offset), "curve_at_mid_grey": round(decision.curve_at(0.5), 4),
            "mean_gain": round(decision.mean_gain, 4)}


def frame_folder(trace: Trace, photo_name: str | None) -> str:
    if trace.index is None:
        return ""
    if photo_name:
        return _safe(Path(photo_name).stem) or f"photo_{trace.index:04d}"
    return f"frame_{trace.index:06d}"


def write_folder(folder: Path, traces: Sequence[Trace], *, name: str, pipeline: Pipeline,
                 sheet_for, photo_names: Sequence[str | None] | None = None,
                 timeline: Timeline | None = None) -> list[Path]:
    """Write the folder; ``sheet_for(trace, path)`` draws one frame's sheet. Returns the files written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SinkError(f"cannot create {folder}: {e.strerror or e}") from e
    written: list[Path] = []
    frames = []
    names = list(photo_names) if photo_names is not None else [None] * len(traces)
    for trace, photo in zip(traces, names, strict=True):
        sub = folder / frame_folder(trace, photo)
        sub.mkdir(parents=True, exist_ok=True)
        steps = []
        for i, step in enumerate(trace.steps):
            path = sub / f"{i:02d}_{_safe(step.name)}.png"
            write_image(path, step.image)
            written.append(path)
            entry = {"name": step.name, "file": str(path.relative_to(folder)), "ms": round(step.ms, 3),
                     "mean_luma": round(mean_luma(step.planes), 2),
                     "noise_sigma": round(noise_sigma(step.planes.y), 2)}
            if i:
                entry["chroma_change"] = round(chroma_change(trace.steps[i - 1].planes, step.planes), 2)
            steps.append(entry)
        sheet = sub / "sheet.png"
        sheet_for(trace, sheet)
        written.append(sheet)
        h, w = trace.steps[0].planes.size
        frames.append({"index": trace.index, "time_s": trace.time_s, "photo": photo, "width": w, "height": h,
                       "sheet": str(sheet.relative_to(folder)), "steps": steps,
                       "refiner": decision_json(trace.refiner) if trace.refiner is not None else None})
    doc: dict[str, Any] = {"input": name, "pipeline": pipeline.describe(), "backend": pipeline.backend.value,
                           "stages": [s.name for s in pipeline.stages], "params": stage_params(pipeline),
                           "frames": frames}
    if timeline is not None:
        doc["timeline"] = {"cut_threshold": timeline.cut_threshold, "luma_range": list(timeline.luma_range),
                           "records": [dataclasses.asdict(r) for r in timeline.records]}
    path = folder / JSON_NAME
    try:
        path.write_text(json.dumps(doc, indent=1) + "\n")
    except OSError as e:
        raise SinkError(f"cannot write {path}: {e.strerror or e}") from e
    written.append(path)
    return written
