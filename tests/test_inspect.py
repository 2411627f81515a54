"""``realtime inspect`` and what it draws: sheets, timelines, folders of intermediates, and its errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import realtime
from realtime.assembly import PipelineSpec
from realtime.cli import main
from realtime.inspection import InspectOptions, draw_sheet, draw_timeline, record_timeline, run_inspect
from realtime.inspection.measures import noise_sigma
from tests.media import scene, write_clip

FULL = ["input", "contrast", "denoise", "sharpen", "refiner"]


def panel_titles(fig) -> list[str]:
    """The first word of each image panel's title in the sheet's top row (stages, then the decision)."""
    tops = [ax for ax in fig.axes if ax.images and ax.get_title(loc="left")]
    rows = sorted({round(ax.get_position().y1, 3) for ax in tops}, reverse=True)
    first = sorted((ax for ax in tops if round(ax.get_position().y1, 3) == rows[0]),
                   key=lambda ax: ax.get_position().x0)
    return [ax.get_title(loc="left").split()[0] for ax in first]


def two_scenes(index: int, width: int, height: int) -> np.ndarray:
    """A dark shot for 12 frames, then a cut to a brighter, different one."""
    img = scene(index, width, height)
    if index >= 12:
        img = np.clip(img.astype(np.int16)[:, ::-1] * 2 + 30, 0, 255).astype(np.uint8)
    return img


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "cut.mp4", frames=24, width=192, height=128,
                      image=two_scenes)


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "dark.png"
    cv2.imwrite(str(path), scene(3, 160, 112))
    return path


def test_a_photo_gets_a_sheet_with_one_panel_per_stage_and_the_refiner(photo, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert main(["inspect", str(photo), "-o", str(sheet)]) == 0
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] > 1500  # six readable panels across
    assert f"wrote {sheet}" in capsys.readouterr().err
    trace = realtime.Enhancer().trace(cv2.imread(str(photo)))
    assert trace.names == FULL
    assert panel_titles(draw_sheet(trace)) == [*FULL, "refiner:"]  # the last column: its gain map


def test_the_sheet_follows_the_stages_asked_for(photo, tmp_path):
    report = run_inspect(str(photo), PipelineSpec(stages=("contrast", "sharpen"), refiner="off"),
                         InspectOptions(output=str(tmp_path / "s.png")))
    (trace,) = report.traces
    assert trace.names == ["input", "contrast", "sharpen"] and trace.refiner is None
    assert panel_titles(draw_sheet(trace)) == ["input", "contrast", "sharpen"]
    assert all(step.ms > 0 for step in trace.steps[1:])  # each stage's own time (median of three runs)


def test_a_folder_holds_every_intermediate_and_the_numbers(photo, tmp_path):
    out = tmp_path / "dump"
    assert main(["inspect", str(photo), "-o", f"{out}/", "-q"]) == 0
    doc = json.loads((out / "inspect.json").read_text())
    (frame,) = doc["frames"]
    assert [s["name"] for s in frame["steps"]] == FULL
    trace = realtime.Enhancer().trace(cv2.imread(str(photo)))
    for step, entry in zip(trace.steps, frame["steps"], strict=True):
        # the PNG is that stage's exact output
        assert np.array_equal(cv2.imread(str(out / entry["file"])), step.image), step.name
    assert sorted(p.name for p in out.iterdir()) == sorted([*(s["file"] for s in frame["steps"]), "sheet.png",
                                                            "inspect.json"])
    assert doc["params"]["contrast"]["max_gain"] == 4.0 and doc["params"]["sharpen"]["amount"] == 0.6
    decision = frame["refiner"]
    assert len(decision["tone_curve"]) == 256 and np.array(decision["gain"]).shape == (16, 16)
    # rounded as the dump rounds it (in float64: float32 rounding differs at .xx5)
    curve = np.asarray(trace.refiner.tone_curve, np.float64)
    assert decision["tone_curve"] == pytest.approx(np.round(curve, 2).tolist())


def test_a_video_frame_is_traced_as_the_run_makes_it(clip, tmp_path):
    """Frame 9 of ``realtime enhance`` equals the last intermediate of ``inspect --frame 9``: the
    frames before it went through the pipeline first (the denoiser's history, smoothed levels)."""
    frames = tmp_path / "frames"
    assert main(["enhance", str(clip.path), "-o", f"{frames}/", "-q"]) == 0
    out = tmp_path / "dump"
    assert main(["inspect", str(clip.path), "--frame", "3,9", "-o", f"{out}/", "-q"]) == 0
    doc = json.loads((out / "inspect.json").read_text())
    assert [f["index"] for f in doc["frames"]] == [3, 9]
    assert doc["frames"][1]["time_s"] == pytest.approx(9 / 24)
    for f in doc["frames"]:
        last = cv2.imread(str(out / f["steps"][-1]["file"]))
        assert np.array_equal(last, cv2.imread(str(frames / f"frame_{f['index']:06d}.png"))), f["index"]
        assert (out / f"frame_{f['index']:06d}" / "sheet.png").is_file()


def test_time_picks_the_frame_shown_at_that_moment(clip, tmp_path):
    report = run_inspect(str(clip.path), PipelineSpec(refiner="off"),
                         InspectOptions(output=str(tmp_path / "s.png"), times=(0.5,)))
    assert [t.index for t in report.traces] == [12]  # 24 fps: frame 12 starts at 0.5 s


def test_the_timeline_shows_the_cut_and_the_adaptive_stages(clip, tmp_path):
    path = tmp_path / "timeline.png"
    assert main(["inspect", str(clip.path), "--timeline", str(path), "-q"]) == 0
    assert cv2.imread(str(path)) is not None
    assert not (tmp_path / "inspect.png").exists()  # a timeline alone asks for no sheet
    timeline, _ = record_timeline(str(clip.path))
    recs = timeline.records
    assert [r.index for r in recs] == list(range(24))
    assert [r.index for r in recs if r.cut] == [0, 12]  # the first frame starts a shot, and so does the cut
    assert all(r.levels is not None and r.curve_mid is not None for r in recs)
    assert recs[20].luma_in > recs[5].luma_in + 20  # the second shot is brighter going in
    assert all(r.luma_out > r.luma_in for r in recs[:12])  # and the dark one is brightened
    assert sum(bool(r.analysed) for r in recs) < 24  # the network skips frames between analyses
    fig = draw_timeline(timeline)
    assert len([ax for ax in fig.axes if ax.get_ylabel()]) >= 5  # luma, flicker, levels, refiner (2), cuts


def test_the_timeline_finds_cuts_without_the_refiner(clip):
    timeline, _ = record_timeline(str(clip.path), PipelineSpec(refiner="off"))
    assert [r.index for r in timeline.records if r.cut] == [0, 12]
    assert all(r.curve_mid is None for r in timeline.records)
    assert len([ax for ax in draw_timeline(timeline).axes if ax.get_ylabel()]) == 4


def test_enhancer_traces_video_frames_with_their_state():
    frames = [scene(i, 96, 64) for i in range(5)]
    enhancer = realtime.Enhancer()
    expected = list(enhancer.stream(frames))
    enhancer.reset()
    traced = [enhancer.trace(f, video=True) for f in frames]
    assert all(np.array_equal(t.output, e) for t, e in zip(traced, expected, strict=True))
    assert [t.index for t in traced] == list(range(5))


def test_noise_estimate_tracks_added_noise():
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(30, 200, 320, dtype=np.float32), (240, 1))
    for sigma in (2.0, 6.0, 12.0):
        noisy = np.clip(ramp + rng.normal(0, sigma, ramp.shape), 0, 255).astype(np.uint8)
        assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.15)
    assert noise_sigma(ramp.astype(np.uint8)) < 0.5


@pytest.mark.parametrize(("args", "code", "words"), [
    (["missing.png"], 3, "not found"),
    (["{clip}", "--frame", "99"], 3, "frame 99 is past the end"),
    (["{clip}", "--frame", "30"], 3, "frame 30 is past the end"),  # near the end: settled by reading
    (["{clip}", "--time", "5"], 3, "past the end"),
    (["{clip}", "--stages", "contrast,nosuch"], 2, "unknown stage 'nosuch'"),
    (["{clip}", "-o", "out.mp4"], 2, "writes a figure"),
    (["{photo}", "--timeline", "t.png"], 2, "a photo has no timeline"),
    (["{photo}", "--frame", "2"], 2, "one photo"),
    (["{clip}", "--frame", "x"], 2, "frame numbers"),
    (["{clip}", "--frame", "0,1,2,3,4,5,6,7,8"], 2, "too tall"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(clip, photo, tmp_path, monkeypatch, capsys, args, code, words):
    monkeypatch.chdir(tmp_path)
    args = [a.format(clip=clip.path, photo=photo) for a in args]
    assert _exit_code(["inspect", *args]) == code
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0], err
    assert not (tmp_path / "inspect.png").exists()


def _exit_code(argv: list[str]) -> int:
    """main's return value, or the code argparse exits with on a malformed option."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


@pytest.mark.parametrize(("time", "frame"), [(0.0, 0), (0.02, 0), (0.49, 11), (0.5, 12), (0.99, 23)])
def test_time_is_the_frame_on_screen(clip, tmp_path, time, frame):
    report = run_inspect(str(clip.path), PipelineSpec(refiner="off"),
                         InspectOptions(output=str(tmp_path / "s.png"), times=(time,)))
    assert [t.index for t in report.traces] == [frame]


def test_a_reused_folder_holds_one_run_and_photos_keep_apart(tmp_path):
    photos = tmp_path / "shots"
    photos.mkdir()
    for name in ("a.png", "a.jpg", "a b.png", "a_b.png"):  # names that a careless folder naming would merge
        cv2.imwrite(str(photos / name), scene(len(name), 64, 48))
    out = tmp_path / "out"
    assert main(["inspect", str(photos), "-o", f"{out}/", "-q", "--refiner", "off"]) == 0
    assert main(["inspect", str(photos), "-o", f"{out}/", "-q", "--stages", "denoise", "--refiner", "off"]) == 0
    doc = json.loads((out / "inspect.json").read_text())
    assert sorted(f["photo"] for f in doc["frames"]) == ["a b.png", "a.jpg", "a.png", "a_b.png"]
    sheets = {f["sheet"] for f in doc["frames"]}
    assert len(sheets) == 4 and all((out / s).is_file() for s in sheets)
    listed = {s["file"] for f in doc["frames"] for s in f["steps"]} | sheets | {"inspect.json"}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk == listed  # nothing left from the first run's contrast and clahe panels


def test_outputs_are_checked_before_any_work(clip, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main(["inspect", str(clip.path), "-o", f"{busy}/"]) == 4
    assert main(["inspect", str(clip.path), "-o", str(tmp_path / "x.png"), "--timeline", str(tmp_path / "x.png")]) == 2
    (tmp_path / "dir.png").mkdir()
    assert main(["inspect", str(clip.path), "--timeline", str(tmp_path / "dir.png")]) == 4
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 3 and "not empty" in err[0] and "both be" in err[1] and "is a folder" in err[2], err
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_frames_bounds_the_default_frame_and_names_itself(clip, tmp_path, capsys):
    report = run_inspect(str(clip.path), PipelineSpec(refiner="off"),
                         InspectOptions(output=str(tmp_path / "s.png"), limit=6))
    assert [t.index for t in report.traces] == [3]  # the middle of the frames read
    assert main(["inspect", str(clip.path), "--frames", "5", "--frame", "10", "-o", str(tmp_path / "t.png")]) == 2
    assert "beyond --frames 5" in capsys.readouterr().err


def test_a_folder_skips_an_unreadable_photo_and_says_so(tmp_path):
    photos = tmp_path / "shots"
    photos.mkdir()
    for i in range(10):
        cv2.imwrite(str(photos / f"p{i}.png"), scene(i, 48, 32))
    (photos / "p3.png").write_bytes(b"not an image")
    report = run_inspect(str(photos), PipelineSpec(refiner="off"), InspectOptions(output=str(tmp_path / "s.png")))
    assert [t.name for t in report.traces] == ["p0.png", "p1.png", "p2.png", "p4.png", "p5.png", "p6.png", "p7.png",
                                               "p8.png"]  # the first eight readable ones fit a sheet
    assert any("first 8 of 10" in n for n in report.notes) and any("1 unreadable" in n for n in report.notes)


def test_odd_shapes_draw_clean_sheets(tmp_path, recwarn):
    for name, (w, h) in {"wide.png": (4000, 4), "tiny.png": (2, 2), "tall.png": (20, 600)}.items():
        cv2.imwrite(str(tmp_path / name), scene(1, w, h))
        assert main(["inspect", str(tmp_path / name), "-o", str(tmp_path / f"{name}.sheet.png"), "-q"]) == 0
    assert not [w for w in recwarn if "matplotlib" in str(w.filename)]
