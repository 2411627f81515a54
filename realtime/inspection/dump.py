"""``realtime inspect -o DIR/``: every intermediate at full resolution, and the numbers behind the sheet as JSON.

For people who want the pixels: one PNG per stage (lossless, the exact BGR a run would write for
that stage's output), a sheet per frame, and ``inspect.json`` with each stage's parameters, its
time, the panels' measures and the refiner's full decision (tone curve, gain grid, chroma).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
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


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


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
    """A frame's subfolder: ``frame_000150``, a photo's name with its extension (``a_b.png`` ->
    ``a_b_png``), or none for a single photo."""
    if trace.index is None:
        return ""
    if photo_name:
        return _safe(photo_name.replace(".", "_")) or f"photo_{trace.index:04d}"
    return f"frame_{trace.index:06d}"


def _clear_earlier(folder: Path) -> None:
    """Remove what an earlier inspection wrote here (the files its inspect.json lists), so a
    reused folder never mixes two runs' stages."""
    path = folder / JSON_NAME
    if not path.is_file():
        return
    try:
        doc = json.loads(path.read_text())
        names = [f["sheet"] for f in doc.get("frames", [])]
        names += [s["file"] for f in doc.get("frames", []) for s in f.get("steps", [])]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SinkError(f"{path} is not an inspect.json this version can read ({e}); choose another folder") from e
    for name in names:
        target = (folder / name).resolve()
        if folder.resolve() in target.parents:  # never outside the folder, whatever the file says
            target.unlink(missing_ok=True)
            if target.parent != folder.resolve() and not any(target.parent.iterdir()):
                target.parent.rmdir()
    path.unlink()


def write_folder(folder: Path, traces: Sequence[Trace], *, name: str, pipeline: Pipeline,
                 sheet_for, photo_names: Sequence[str | None] | None = None,
                 timeline: Timeline | None = None) -> list[Path]:
    """Write the folder; ``sheet_for(trace, path)`` draws one frame's sheet. Returns the files written.

    A failure part way removes what this call wrote, and says so: a folder is complete or absent.
    """
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _clear_earlier(folder)
        _write(folder, traces, name, pipeline, sheet_for, photo_names, timeline, written)
    except OSError as e:
        _remove(written)
        raise SinkError(f"cannot write into {folder}: {e.strerror or e}; the files written were removed") from e
    except SinkError as e:
        _remove(written)
        raise SinkError(f"{e}; the files written were removed") from e
    return written


def _remove(paths: list[Path]) -> None:
    for path in reversed(paths):
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when empty


def _write(folder: Path, traces: Sequence[Trace], name: str, pipeline: Pipeline, sheet_for,
           photo_names: Sequence[str | None] | None, timeline: Timeline | None, written: list[Path]) -> None:
    frames = []
    names = list(photo_names) if photo_names is not None else [None] * len(traces)
    used: set[str] = set()
    for trace, photo in zip(traces, names, strict=True):
        base = frame_folder(trace, photo)
        label, n = base, 1
        while label in used:  # two photos whose names differ only in what _safe replaced
            n += 1
            label = f"{base}_{n}"
        used.add(label)
        sub = folder / label
        sub.mkdir(parents=True, exist_ok=True)
        steps = []
        for i, step in enumerate(trace.steps):
            path = sub / f"{i:02d}_{_safe(step.name)}.png"
            written.append(path)  # before writing: a half-written file is removed too
            write_image(path, step.image)
            entry = {"name": step.name, "file": str(path.relative_to(folder)), "ms": round(step.ms, 3),
                     "mean_luma": round(mean_luma(step.planes), 2),
                     "noise_sigma": _round(noise_sigma(step.planes.y))}
            if i:
                entry["chroma_change"] = round(chroma_change(trace.steps[i - 1].planes, step.planes), 2)
            steps.append(entry)
        sheet = sub / "sheet.png"
        written.append(sheet)
        sheet_for(trace, sheet)
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
    written.append(path)
    path.write_text(json.dumps(doc, indent=1) + "\n")
