"""``realtime inspect``: see what every stage did to a frame, and what the adaptive stages did over a clip.

Three products, all drawn from what :mod:`realtime.trace` records of a normal run:

- a contact sheet (:func:`draw_sheet`): the frame after each stage with its time, noise level,
  signed change and histogram, and the refiner's tone curve, gain map and chroma transform;
- a timeline (:func:`draw_timeline`) of a clip: luma in and out, the frame-to-frame change that
  shows flicker, the contrast levels, the refiner's curve and gain, and the scene cuts;
- a folder (``-o DIR/``) with every intermediate as a PNG and the numbers as JSON.

:func:`run_inspect` is what the command does; the notebook calls the same pieces
(:meth:`realtime.Enhancer.trace` then :func:`draw_sheet`, :func:`record_timeline` then
:func:`draw_timeline`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.errors import ConfigError, SinkError
from realtime.inspection.dump import JSON_NAME
from realtime.inspection.probe import (
    FrameRecord,
    ProbeResult,
    Selection,
    Timeline,
    check_selection,
    frames_at,
    probe,
)
from realtime.pipeline import Pipeline
from realtime.sources import SourceInfo, SourceOptions, open_source
from realtime.targets import InputKind, InputTarget, parse_input

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from realtime.trace import Trace

__all__ = ["FrameRecord", "InspectOptions", "InspectReport", "Selection", "Timeline", "draw_sheet", "draw_timeline",
           "record_timeline", "run_inspect"]

#: What a sheet or a timeline can be saved as (matplotlib's writers).
FIGURE_FORMATS = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
DEFAULT_SHEET = "inspect.png"
#: Blocks on one sheet; more frames make a sheet too tall to read (a folder takes any number).
MAX_ROWS = 8


def draw_sheet(traces, **kwargs) -> Figure:
    """See :func:`realtime.inspection.sheet.draw_sheet` (imported here so matplotlib loads on use)."""
    from realtime.inspection.sheet import draw_sheet as draw

    return draw(traces, **kwargs)


def draw_timeline(timeline: Timeline, **kwargs) -> Figure:
    """See :func:`realtime.inspection.timeline.draw_timeline`."""
    from realtime.inspection.timeline import draw_timeline as draw

    return draw(timeline, **kwargs)


@dataclass(frozen=True, slots=True)
class InspectOptions:
    """What to inspect and where the results go (the pipeline is a :class:`PipelineSpec`)."""

    output: str | None = None  # a sheet (.png, .jpg, .pdf, .svg) or a folder/; default inspect.png
    frames: tuple[int, ...] = ()
    times: tuple[float, ...] = ()
    timeline: str | None = None
    limit: int | None = None  # frames read at most (a timeline of a live source needs it)
    max_bad_frames: int = 25
    decoder: str = "software"


@dataclass
class InspectReport:
    """What an inspection traced and wrote."""

    traces: list[Trace]
    timeline: Timeline | None
    figures: list[Path] = field(default_factory=list)  # sheets, the timeline, inspect.json
    intermediates: list[Path] = field(default_factory=list)  # a folder's PNG per stage
    frames_read: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def written(self) -> list[Path]:
        return self.figures + self.intermediates


def _figure_path(text: str, flag: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise ConfigError(f"{flag} writes a figure: give a file ending in {', '.join(FIGURE_FORMATS)}, got {text}")
    if path.is_dir():
        raise SinkError(f"{flag} {text} is a folder; give a file name, or DIR/ for -o")
    return path


def _output(text: str | None) -> tuple[Path, bool]:
    """(path, is_folder): a trailing slash, an existing folder or no extension is a folder."""
    if text is None:
        return Path(DEFAULT_SHEET), False
    path = Path(text)
    if text.endswith(("/", "\\")) or path.is_dir() or not path.suffix:
        if path.exists() and not path.is_dir():
            raise SinkError(f"-o {text} exists and is not a folder")
        if path.is_dir() and any(path.iterdir()) and not (path / JSON_NAME).is_file():
            raise SinkError(f"-o {text} is not empty and is not an earlier inspect folder (no {JSON_NAME}); "
                            "choose a new or empty folder")
        return path, True
    return _figure_path(text, "-o"), False


def _parent_ready(path: Path) -> None:
    """Make the folder a file will go to, now, so a bad place fails before any work is done."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SinkError(f"cannot write {path}: {e.strerror or e}") from e


def _save(fig: Figure, path: Path) -> Path:
    try:
        _parent_ready(path)
        fig.savefig(path)
    except OSError as e:
        raise SinkError(f"cannot write {path}: {e.strerror or e}") from e
    return path


def _check_timeline(kind: InputKind, limit: int | None, bound: str) -> None:
    """ConfigError when a timeline cannot be drawn: photos have none, a live input never ends."""
    if kind in (InputKind.IMAGE, InputKind.IMAGES):
        raise ConfigError("a timeline plots a video over time; a photo has no timeline")
    if kind.live and limit is None:
        raise ConfigError(f"a live input ({kind.value}) has no end: give {bound} to bound the timeline")


def _probe_source(target: InputTarget, pipeline: Pipeline, choose: Callable[[SourceInfo], Selection], *,
                  timeline: bool, limit: int | None, options: SourceOptions) -> tuple[ProbeResult, SourceInfo, int]:
    """Open the input, choose the frames from what it says of itself, walk it (see
    :func:`~realtime.inspection.probe.probe`) and close it: the result, the source's facts and how
    many unreadable frames it skipped."""
    src = open_source(target, options)
    try:
        selection = choose(src.info)
        result = probe(src, pipeline, selection, timeline=timeline, limit=limit, description=pipeline.describe())
        return result, src.info, src.stats.bad_frames
    finally:
        src.close()


def record_timeline(source: str, spec: PipelineSpec | None = None, *, limit: int | None = None,
                    traced: tuple[int, ...] = ()) -> tuple[Timeline, list[Trace]]:
    """Read a clip through a pipeline and record every frame (and trace the ``traced`` ones).

    The Python side of ``realtime inspect CLIP --timeline``; draw the result with :func:`draw_timeline`.
    """
    target = parse_input(source)
    _check_timeline(target.kind, limit, "a limit of frames")
    pipeline = build_pipeline(spec or PipelineSpec())
    result, _, _ = _probe_source(target, pipeline, lambda info: Selection(frames=traced), timeline=True, limit=limit,
                                 options=SourceOptions(audio=False, frames=limit))
    assert result.timeline is not None
    return dataclasses.replace(result.timeline, name=Path(source).name), result.traces


def run_inspect(source: str, spec: PipelineSpec, options: InspectOptions,
                notify: Callable[[str], None] | None = None) -> InspectReport:
    """Trace, draw and write what ``options`` ask for; every mistake is a one-line ``RealtimeError``.

    Frames: for a video, ``options.frames`` / ``options.times`` (default: the middle frame, or the
    first when the length is unknown); for a photo, the photo; for a folder of photos, the ones at
    those positions among the readable ones (default: all of them into a folder, the first
    ``MAX_ROWS`` onto one sheet).
    """
    notes: list[str] = []
    say = notify or notes.append
    target = parse_input(source)
    kind = target.kind
    photo = kind in (InputKind.IMAGE, InputKind.IMAGES)
    sheet_wanted = bool(options.output is not None or options.frames or options.times or not options.timeline)
    out_path, folder = _output(options.output)
    timeline_path = _figure_path(options.timeline, "--timeline") if options.timeline else None
    if timeline_path is not None:
        _check_timeline(kind, options.limit, "--frames N")
    if options.times and photo:
        raise ConfigError("--time picks a moment of a video; for photos in a folder use --frame N (their position)")
    if kind is InputKind.IMAGE and options.frames:
        raise ConfigError("--frame picks frames of a video or photos of a folder; this input is one photo")
    if options.limit is not None and photo:
        raise ConfigError("--frames bounds how much of a video is read; it does not apply to photos")
    if (sheet_wanted and not folder and timeline_path is not None
            and timeline_path.resolve() == out_path.resolve()):
        raise ConfigError(f"the sheet and the timeline would both be {out_path}: give them different names")
    for path in ([] if folder or not sheet_wanted else [out_path]) + ([timeline_path] if timeline_path else []):
        _parent_ready(path)
    pipeline = build_pipeline(spec, notify=say)
    source_options = SourceOptions(max_bad_frames=options.max_bad_frames, audio=False, decoder=options.decoder,
                                   frames=options.limit)

    def choose(info: SourceInfo) -> Selection:
        """The frames to trace, from what the opened source says of itself (its length, timestamps)."""
        frames, times = set(options.frames), tuple(sorted(set(options.times)))
        if times and not kind.live:  # a file's moments, from its timestamps
            frames |= set(frames_at(times, info.name))
            times = ()
        selection = Selection(frames=tuple(sorted(frames)), times=times)
        known = info.frame_count if options.limit is None else min(info.frame_count or options.limit, options.limit)
        if sheet_wanted and not selection:
            if kind is InputKind.IMAGE:
                selection = Selection(first=1)
            elif kind is InputKind.IMAGES:
                selection = Selection(first=(info.frame_count or 1) if folder else MAX_ROWS)
                if not folder and (info.frame_count or 0) > MAX_ROWS:
                    say(f"tracing the first {MAX_ROWS} of {info.frame_count} photos (choose with --frame N,N..., "
                        "or write them all with -o DIR/)")
            else:
                middle = (known or 1) // 2
                selection = Selection(frames=(middle,))
                say(f"tracing frame {middle} ({'the middle of the clip' if middle else 'the first'}; "
                    "choose with --frame N or --time SECONDS)")
        check_selection(selection, info.frame_count, info.name)
        count = len(selection.frames) + len(selection.times)
        if not folder and count > MAX_ROWS:
            what = "photos" if photo else "frames"
            raise ConfigError(f"{count} {what} make a sheet too tall to read: pick at most {MAX_ROWS} with --frame, "
                              "or write them all to a folder with -o DIR/")
        return selection if sheet_wanted else Selection()

    result, info, skipped = _probe_source(target, pipeline, choose, timeline=timeline_path is not None,
                                          limit=options.limit, options=source_options)
    if skipped:
        say(f"{skipped} unreadable {'images' if photo else 'frames'} skipped"
            + (" (--frame counts the readable photos)" if kind is InputKind.IMAGES else ""))
    name = Path(info.name).name if not kind.live else info.name
    if result.timeline is not None:
        result.timeline = dataclasses.replace(result.timeline, name=name)
    report = InspectReport(result.traces, result.timeline, frames_read=result.frames_read, notes=notes)
    caption = pipeline.describe()
    if result.traces:
        from realtime.inspection.sheet import draw_sheet as sheet

        if folder:
            from realtime.inspection.dump import write_folder

            def one(trace: Trace, path: Path) -> None:
                _save(sheet(trace, name=name, caption=caption), path)

            files = write_folder(out_path, result.traces, name=info.name, pipeline=pipeline, sheet_for=one,
                                 photo_names=[t.name for t in result.traces], timeline=result.timeline)
            report.figures += [p for p in files if p.name in ("sheet.png", JSON_NAME)]
            report.intermediates += [p for p in files if p.name not in ("sheet.png", JSON_NAME)]
        else:
            report.figures.append(_save(sheet(result.traces, name=name, caption=caption), out_path))
    if result.timeline is not None and timeline_path is not None:
        from realtime.inspection.timeline import draw_timeline as timeline

        report.figures.append(_save(timeline(result.timeline), timeline_path))
    return report
