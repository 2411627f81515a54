"""`realtime batch` (issue 15): the plan of inputs and outputs, the manifest, and whole batches on a
real local Ray: failures isolated, a killed worker replaced, resume, Ctrl-C and a killed driver.

The batches here run on one Ray started once for the module (two CPUs: the machine's); the
command-line tests start their own, as a user's shell does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from realtime.batching import Manifest, Record, Status, plan
from realtime.batching.manifest import checksum
from realtime.errors import ConfigError, SourceError
from tests.media import audio_packets, read_video, write_clip
from tests.test_bad_input import assert_one_error, run_cli

ray = pytest.importorskip("ray", reason="realtime batch needs Ray: pip install -e '.[batch]'")


def clip(path: Path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_clip(path, **kw)


# -- the plan: no Ray ------------------------------------------------------------------------
def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_a_folder_is_mirrored_under_outdir(tmp_path):
    src = tmp_path / "footage"
    for rel in ("cam1/a.mp4", "cam1/b.MKV", "cam2/night/c.ts", "cam2/notes.txt", ".hidden/d.mp4", "cam2/e.mpg"):
        _touch(src / rel)
    items = plan([str(src)], tmp_path / "out")
    assert [i.rel for i in items] == ["cam1/a.mp4", "cam1/b.MKV", "cam2/e.mkv", "cam2/night/c.ts"]
    assert items[2].output == str(tmp_path / "out" / "cam2" / "e.mkv")  # .mpg is read, not written
    first = Path(items[0].partial())
    assert first.name == ".a.partial.mp4" and first.parent == tmp_path / "out" / "cam1"
    assert Path(items[0].partial(2)).name == ".a.partial2.mp4"  # a retry never shares its temporary file
    assert [i.rel for i in plan([str(src)], tmp_path / "out", pattern="*.ts", ext="mkv")] == ["cam2/night/c.mkv"]


def test_a_name_with_brackets_is_a_file_not_a_pattern(tmp_path):
    _touch(tmp_path / "Movie [1080p].mkv")
    _touch(tmp_path / "Movie 1.mkv")  # what the brackets would match as a glob
    items = plan([str(tmp_path / "Movie [1080p].mkv")], tmp_path / "out")
    assert [i.rel for i in items] == ["Movie [1080p].mkv"]


def test_outdir_inside_an_input_folder_is_not_read_back(tmp_path):
    _touch(tmp_path / "in" / "a.mp4")
    _touch(tmp_path / "in" / "out" / "a.mp4")  # an earlier batch's output
    assert [i.rel for i in plan([str(tmp_path / "in")], tmp_path / "in" / "out")] == ["a.mp4"]


def test_globs_mirror_below_their_root_and_never_climb_out(tmp_path):
    _touch(tmp_path / "in" / "x" / "a.mp4")
    _touch(tmp_path / "in" / "y" / "b.mp4")
    items = plan([f"{tmp_path}/in/**/*.mp4"], tmp_path / "out")
    assert [i.rel for i in items] == ["x/a.mp4", "y/b.mp4"]
    climbing = plan([f"{tmp_path}/in/*/../y/*.mp4"], tmp_path / "out")
    assert [i.output for i in climbing] == [str(tmp_path / "out" / "y" / "b.mp4")]


def test_a_list_file_holds_paths_and_urls(tmp_path):
    _touch(tmp_path / "clips" / "a.mp4")
    listing = tmp_path / "list.txt"
    listing.write_text("# tonight's footage\nclips/a.mp4\n\nhttp://cams.example/feed/b.mp4\nclips/missing.mp4\n")
    items = plan([], tmp_path / "out", from_list=str(listing))
    assert [(i.input, i.rel) for i in items] == [(str(tmp_path / "clips" / "a.mp4"), "a.mp4"),
                                                ("http://cams.example/feed/b.mp4", "b.mp4"),
                                                (str(tmp_path / "clips" / "missing.mp4"), "missing.mp4")]


def test_bad_plans_are_one_line_before_anything_runs(tmp_path):
    _touch(tmp_path / "a" / "x.mp4")
    _touch(tmp_path / "b" / "x.mp4")
    with pytest.raises(ConfigError, match="would both be written to"):
        plan([str(tmp_path / "a" / "x.mp4"), str(tmp_path / "b" / "x.mp4")], tmp_path / "out")
    with pytest.raises(SourceError, match="input not found"):
        plan([str(tmp_path / "nope.mp4")], tmp_path / "out")
    with pytest.raises(SourceError, match="no file matches"):
        plan([f"{tmp_path}/*.mov"], tmp_path / "out")
    with pytest.raises(ConfigError, match=r"--ext \.png: not a video container"):
        plan([str(tmp_path / "a")], tmp_path / "out", ext=".png")
    with pytest.raises(ConfigError, match="overwritten by its own output"):
        plan([str(tmp_path / "a" / "x.mp4")], tmp_path / "a")


def test_the_manifest_keeps_the_last_record_and_skips_a_cut_line(tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"video")
    m = Manifest(tmp_path)
    m.append(Record(input="i", output=str(out), status=Status.FAILED, error="boom"))
    done = Record(input="i", output=str(out), status=Status.DONE, options_hash="h", size=5, checksum=checksum(out))
    m.append(done)
    with open(m.path, "a") as f:
        f.write('{"input": "j", "outp')  # a kill in the middle of a line
    known = m.load()
    assert list(known) == [str(out)] and known[str(out)].status is Status.DONE
    assert Manifest.still_done(known[str(out)], "h")
    assert not Manifest.still_done(known[str(out)], "other options")
    out.write_bytes(b"vide0")  # same size, other bytes
    assert not Manifest.still_done(known[str(out)], "h")


# -- batches on a local Ray ------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    root = tmp_path_factory.mktemp("footage")
    clips = {
        "cam1/a.mp4": clip(root / "cam1" / "a.mp4", frames=30, audio=True),
        "cam1/vfr.mkv": clip(root / "cam1" / "vfr.mkv", frames=24, vfr=True),
        "cam2/b.mp4": clip(root / "cam2" / "b.mp4", frames=20, width=256, height=144, audio=True),
    }
    (root / "cam2" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    return root, clips


def _records(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / "manifest.jsonl").read_text().splitlines()]


def test_a_batch_enhances_every_file_and_isolates_the_broken_one(local_ray, footage, tmp_path):
    import realtime

    root, clips = footage
    out = tmp_path / "out"
    seen: list[str] = []
    report = realtime.batch(root, out, workers=2, cpus_per_worker=1, on_file=lambda r: seen.append(r.output))
    assert (report.done, report.failed, report.skipped) == (3, 1, 0)
    assert sorted(seen) == sorted(r.output for r in report.records)
    for rel, clip in clips.items():
        times, frames, _ = read_video(out / rel)
        in_times, _, _ = read_video(clip.path)
        assert len(frames) == clip.frames and times == in_times, rel  # every frame, at its time
        if clip.audio:
            assert audio_packets(out / rel) == audio_packets(clip.path), rel  # bit-exact audio
    broken = next(r for r in report.records if r.status is Status.FAILED)
    assert broken.exit_code == 3 and broken.error_kind == "input" and "broken.mp4" in broken.error
    assert not (out / "cam2" / "broken.mp4").exists()
    assert not [p for p in out.rglob(".*")]  # no temporary output left
    lines = _records(out)
    assert len(lines) == 4 and {ln["status"] for ln in lines} == {"done", "failed"}
    for ln in lines:
        if ln["status"] == "done":
            assert ln["checksum"] == checksum(ln["output"]) and ln["size"] == os.path.getsize(ln["output"])
            assert ln["frames_in"] == ln["frames_out"] > 0 and ln["worker"] and ln["host"]
    assert sum(w.files for w in report.workers) == 4 and report.frames == sum(c.frames for c in clips.values())


def test_a_worker_reusing_its_pipeline_gives_what_a_run_of_its_own_gives(local_ray, tmp_path):
    """One worker, two files: the second goes through the pipeline the first warmed (temporal
    state, refiner smoothing), reset in between; its frames equal those of its own run."""
    import av
    import numpy as np

    import realtime

    clip(tmp_path / "in" / "a.mp4", frames=30)
    clip(tmp_path / "in" / "b.mp4", frames=30, image=lambda i, w, h: np.full((h, w, 3), 25 + i, np.uint8))
    report = realtime.batch(tmp_path / "in", tmp_path / "out", workers=1, cpus_per_worker=1)
    assert report.done == 2 and len({r.worker for r in report.records}) == 1
    realtime.enhance_file(tmp_path / "in" / "b.mp4", tmp_path / "alone.mp4")

    def planes(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]

    together, alone = planes(tmp_path / "out" / "b.mp4"), planes(tmp_path / "alone.mp4")
    assert len(together) == len(alone) == 30
    assert all(np.array_equal(x, y) for x, y in zip(together, alone, strict=True))


def test_resume_skips_what_is_done_and_refuses_what_it_cannot_trust(local_ray, footage, tmp_path):
    import realtime

    root, _ = footage
    out = tmp_path / "out"
    good = [str(root / "cam1"), str(root / "cam2" / "b.mp4")]
    first = realtime.batch(good, out, workers=1, cpus_per_worker=1)
    assert first.done == 3
    with pytest.raises(ConfigError, match="exists already: --resume skips"):
        realtime.batch(good, out)
    again = realtime.batch(good, out, resume=True)
    assert (again.done, again.skipped) == (0, 3)
    assert [ln["status"] for ln in _records(out)] == ["done"] * 3 + ["skipped"] * 3
    with pytest.raises(ConfigError, match="made from another input or with other options"):
        realtime.batch(good, out, resume=True, crf=30)  # other options: the outputs are not theirs
    again = realtime.batch(good, out, resume=True, preset="lowlight", audio="copy", max_bad_frames=3)
    assert again.skipped == 3  # the same choices said another way: the same outputs
    (out / "b.mp4").write_bytes(b"changed")
    redo = realtime.batch(good, out, resume=True, overwrite=True, workers=1, cpus_per_worker=1)
    assert (redo.done, redo.skipped) == (1, 2) and redo.records[-1].output.endswith("b.mp4")
    assert len(read_video(out / "b.mp4")[1]) == 20
    source = root / "cam2" / "b.mp4"
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))  # recorded again
    with pytest.raises(ConfigError, match="made from another input"):
        realtime.batch(good, out, resume=True)


def test_the_command_line_exits_6_when_a_file_failed(local_ray, capsys, tmp_path):
    clip(tmp_path / "in" / "good.mp4", frames=8)
    (tmp_path / "in" / "bad.mp4").write_bytes(b"not a video")
    code, lines = run_cli(capsys, "batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q")
    assert code == 6 and lines == [f"realtime: error: 1 of 2 files failed (each one's error is in "
                                   f"{tmp_path / 'out' / 'manifest.jsonl'})"], lines


def test_max_failures_stops_starting_files(local_ray, tmp_path):
    import realtime

    for name in ("a", "b", "c"):
        (tmp_path / "in" / f"{name}.mp4").parent.mkdir(exist_ok=True)
        (tmp_path / "in" / f"{name}.mp4").write_bytes(b"not a video")
    clip(tmp_path / "in" / "d.mp4", frames=10)
    report = realtime.batch(tmp_path / "in", tmp_path / "out", workers=1, cpus_per_worker=1, max_failures=1)
    assert report.failed == 1 and report.done == 0 and report.not_started == 3


def test_a_worker_that_dies_is_replaced_and_its_file_tried_again(local_ray, tmp_path):
    """The worker's process is killed (SIGKILL) in the middle of a file: the file is tried once
    more on a new worker, and the batch ends with every file done."""
    import psutil

    import realtime

    clip(tmp_path / "in" / "long.mp4", frames=240, width=640, height=360)
    clip(tmp_path / "in" / "short.mp4", frames=12)
    killed: list[int] = []

    def kill_the_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                if "ray::BatchWorker.process" in " ".join(proc.info["cmdline"] or ()):
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed.append(proc.info["pid"])
                    break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_busy_worker, daemon=True)
    killer.start()
    report = realtime.batch(tmp_path / "in", tmp_path / "out", workers=1, cpus_per_worker=1)
    killer.join(timeout=5)
    assert killed, "no busy worker was found to kill"
    assert report.done == 2 and report.failed == 0, [r.error for r in report.records]
    retried = [r for r in report.records if r.attempts == 2]
    assert len(retried) == 1 and retried[0].worker != f"{os.uname().nodename}:{killed[0]}"
    assert len(read_video(Path(retried[0].output))[1]) == (240 if "long" in retried[0].output else 12)
    assert not [p for p in (tmp_path / "out").rglob(".*")]


# -- the command line ------------------------------------------------------------------------
def test_without_ray_the_batch_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    clip(tmp_path / "a.mp4", frames=4)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    code, lines = run_cli(capsys, "batch", str(tmp_path / "a.mp4"), "-o", str(tmp_path / "out"))
    assert_one_error(code, lines, 2, "pip install 'realtime-enhance[batch]'")


def test_options_that_cannot_act_fail_before_ray_starts(capsys, tmp_path):
    clip(tmp_path / "a.mp4", frames=4)
    code, lines = run_cli(capsys, "batch", str(tmp_path / "a.mp4"), "-o", str(tmp_path / "out"),
                          "--gpus-per-worker", "1")
    assert_one_error(code, lines, 2, "--gpus-per-worker gives workers a GPU, and nothing would use it")
    code, lines = run_cli(capsys, "batch", str(tmp_path / "a.mp4"), "-o", str(tmp_path / "out"), "--codec",
                          "libvpx-vp9", "--crf", "30")
    assert_one_error(code, lines, 2, "has no crf")


def _batch(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "realtime", "batch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def _wait_for_lines(manifest: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"the manifest never reached {n} lines")


@pytest.fixture
def six_clips(tmp_path):
    for i in range(6):
        clip(tmp_path / "in" / f"clip{i}.mp4", frames=120, width=640, height=360, audio=i % 2 == 0)
    return tmp_path


def test_ctrl_c_finishes_the_files_in_progress_and_resume_does_the_rest(six_clips):
    tmp = six_clips
    out = tmp / "out"
    proc = _batch(str(tmp / "in"), "-o", str(out), "--workers", "1", "--cpus-per-worker", "1")
    _wait_for_lines(out / "manifest.jsonl", 1, proc)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole process group, Ray's too
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "stopping: finishing the 1 files in progress" in err and "not started" in err, err
    done = [r for r in _records(out) if r["status"] == "done"]
    assert 1 <= len(done) < 6 and not [p for p in out.rglob(".*")]
    proc = _batch(str(tmp / "in"), "-o", str(out), "--resume", "--workers", "1", "--cpus-per-worker", "1")
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert f"{6 - len(done)} done, 0 failed, {len(done)} skipped" in err, err
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"clip{i}.mp4" for i in range(6)]  # none hidden left


def test_a_killed_batch_resumes_without_redoing_work_or_leaving_half_files(six_clips):
    tmp = six_clips
    out = tmp / "out"
    proc = _batch(str(tmp / "in"), "-o", str(out), "--workers", "1", "--cpus-per-worker", "1", "-q")
    _wait_for_lines(out / "manifest.jsonl", 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # a power cut for the driver and its local Ray
    proc.wait(timeout=30)
    finished = {r["output"]: r["checksum"] for r in _records(out) if r["status"] == "done"}
    assert all(not p.name.startswith(".") or ".partial" in p.name for p in out.rglob("*"))
    real = sorted(p for p in out.glob("*.mp4") if not p.name.startswith("."))
    assert {str(p) for p in real} == set(finished)  # no half-written file under a real name
    proc = _batch(str(tmp / "in"), "-o", str(out), "--resume", "--workers", "1", "--cpus-per-worker", "1")
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert not [p for p in out.rglob(".*")]  # the partial file of the killed run was removed
    records = _records(out)
    assert sum(1 for r in records if r["status"] == "skipped") == len(finished)
    for path, digest in finished.items():
        assert checksum(path) == digest  # finished work was not redone
    assert len([r for r in records if r["status"] == "done"]) == 6


def test_a_second_ctrl_c_cancels_the_files_in_progress(tmp_path):
    clip(tmp_path / "in" / "long.mp4", frames=900, width=640, height=360)
    out = tmp_path / "out"
    proc = _batch(str(tmp_path / "in"), "-o", str(out), "--workers", "1", "--cpus-per-worker", "1")
    deadline = time.monotonic() + 90
    while not (out / ".long.partial.mp4").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert (out / ".long.partial.mp4").exists(), "the file never started"
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - t0 < 15, err
    assert "0 done, 0 failed, 0 skipped, 1 cancelled" in err and "Traceback" not in err, err
    assert not list(out.rglob("*.mp4"))  # neither the output nor its temporary file
