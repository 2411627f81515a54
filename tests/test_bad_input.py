"""Every bad input gives one clear line on stderr and a non-zero exit: no traceback, no hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from realtime.cli import main
from tests.media import read_video, write_clip, write_corrupt_clip


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return code, lines


def assert_one_error(code: int, lines: list[str], expected_code: int, fragment: str) -> None:
    assert code == expected_code, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("realtime: error:"), lines
    assert fragment in lines[0], lines
    assert "Traceback" not in lines[0]


def test_missing_file(capsys, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, "input not found")


def test_folder_without_images(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    code, lines = run_cli(capsys, "enhance", str(tmp_path / "empty"), "-o", str(tmp_path / "out") + "/")
    assert_one_error(code, lines, 3, "no images in folder")


def test_glob_matching_nothing(capsys, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(tmp_path / "*.png"), "-o", str(tmp_path / "out") + "/")
    assert_one_error(code, lines, 3, "no images match")


def test_not_media_renamed_mp4(capsys, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is a text file, not a video\n" * 50)
    code, lines = run_cli(capsys, "enhance", str(fake), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, "not a media file")
    assert not (tmp_path / "o.mp4").exists()


def test_zero_byte_file(capsys, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    code, lines = run_cli(capsys, "enhance", str(empty), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, "empty (0 bytes)")


def test_truncated_mp4_index_at_end(capsys, tmp_path):
    clip = write_clip(tmp_path / "full.mp4", frames=30)
    cut = tmp_path / "cut.mp4"
    data = clip.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    code, lines = run_cli(capsys, "enhance", str(cut), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, "cannot read")
    assert not (tmp_path / "o.mp4").exists()


def test_truncated_mp4_index_at_start(capsys, tmp_path):
    """Faststart MP4 cut short: frames that exist are written, the file is finalized, and we say so."""
    clip = write_clip(tmp_path / "full.mp4", frames=60, container_options={"movflags": "+faststart"})
    cut = tmp_path / "cut.mp4"
    data = clip.path.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "o.mp4"
    code, lines = run_cli(capsys, "enhance", str(cut), "-o", str(out), "--quiet")
    assert_one_error(code, lines, 3, "truncated")
    assert "finalized" in lines[0]
    frames = len(read_video(out)[0])
    assert 0 < frames < 60
    assert f"{frames} frames" in lines[0]


def test_missing_camera(capsys):
    code, lines = run_cli(capsys, "enhance", "7", "--show")
    # --show is checked first when there is no display; without one, ask for a null output instead
    if "display" in lines[0]:
        code, lines = run_cli(capsys, "enhance", "7", "-o", "null:")
    assert_one_error(code, lines, 3, "camera 7")


def test_missing_camera_device_path(capsys):
    code, lines = run_cli(capsys, "enhance", "/dev/video63", "-o", "null:")
    assert_one_error(code, lines, 3, "camera /dev/video63")


def test_output_in_missing_folder(capsys, clip, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "no" / "such" / "o.mp4"))
    assert_one_error(code, lines, 4, "output folder does not exist")


def test_output_in_unwritable_place(capsys, clip):
    # /proc refuses new files for every user, root included (chmod would not stop root)
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", "/proc/realtime-out.mp4")
    assert code == 4 and len(lines) == 1 and lines[0].startswith("realtime: error:"), lines


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_output_in_read_only_folder(capsys, clip, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(ro / "o.mp4"))
    finally:
        ro.chmod(0o755)
    assert_one_error(code, lines, 4, "not writable")


def test_existing_output_needs_overwrite(capsys, clip, tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"keep me")
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(out))
    assert_one_error(code, lines, 4, "--overwrite")
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--preset", "sunny"], "unknown preset 'sunny'"),
        (["--stages", "contrast,blur"], "unknown stage 'blur'"),
        (["--stages", "clahe,clahe"], "listed twice"),
        (["--backend", "quantum"], "unknown backend"),
        (["--backend", "cuda"], "not available"),
        (["--crf", "abc"], "--crf"),
        (["--crf", "99"], "crf must be"),
        (["--max-bad-frames", "-1"], "--max-bad-frames"),
        (["--fps", "0"], "frame rate"),
        (["--frobnicate"], "unrecognized arguments"),
        (["--refiner", "magic"], "--refiner"),
        (["--codec", "nosuchcodec"], "unknown video encoder"),
    ],
)
def test_bad_option_values(capsys, clip, tmp_path, args, fragment):
    try:
        code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), *args)
    except SystemExit as e:  # argparse errors exit through SystemExit
        code = e.code
        lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and fragment in lines[0], lines
        return
    assert code == 2 or (code == 4 and "encoder" in fragment), lines
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "o.mp4").exists()


def test_invalid_toml(capsys, clip, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[clahe\nclip_limit = 2\n")
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--config", str(cfg))
    assert_one_error(code, lines, 2, "invalid TOML")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[clahe]\nclip_limit = 'lots'\n", "clip_limit"),
        ("[clahe]\nclip_limt = 2.0\n", "clip_limt"),
        ("colour = 3\n", "unknown key 'colour'"),
        ("stages = ['sharpen', 'glow']\n", "unknown stage 'glow'"),
    ],
)
def test_bad_config_values(capsys, clip, tmp_path, text, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"), "--config", str(cfg))
    assert_one_error(code, lines, 2, fragment)


def test_missing_config_file(capsys, clip, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"),
                          "--config", str(tmp_path / "nope.toml"))
    assert_one_error(code, lines, 2, "config file not found")


def test_format_cannot_hold_codec(capsys, clip, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.webm"))
    assert_one_error(code, lines, 4, "cannot hold h264")
    assert not (tmp_path / "o.webm").exists()


def test_format_cannot_hold_audio(capsys, clip_audio, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(clip_audio.path), "-o", str(tmp_path / "o.webm"),
                          "--codec", "libvpx-vp9")
    assert_one_error(code, lines, 4, "aac audio")


def test_unknown_output_extension(capsys, clip, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.xyz"))
    assert_one_error(code, lines, 4, "unknown output type")


def test_video_to_single_image_refused(capsys, clip, tmp_path):
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.png"))
    assert_one_error(code, lines, 2, "single image")


def test_no_output_and_no_show(capsys, clip):
    code, lines = run_cli(capsys, "enhance", str(clip.path))
    assert_one_error(code, lines, 2, "give an OUTPUT")


def test_bad_frames_counted_within_budget(capsys, tmp_path):
    bad = tmp_path / "bad.mkv"
    good = write_corrupt_clip(bad, (5, 6, 11))
    out = tmp_path / "o.mkv"
    code = main(["enhance", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "3 undecodable frames skipped" in err
    assert len(read_video(out)[0]) == good


def test_bad_frames_over_budget(capsys, tmp_path):
    bad = tmp_path / "bad.mkv"
    write_corrupt_clip(bad, (5, 6, 11))
    out = tmp_path / "o.mkv"
    code, lines = run_cli(capsys, "enhance", str(bad), "-o", str(out), "--max-bad-frames", "2", "--quiet")
    assert_one_error(code, lines, 3, "more than --max-bad-frames 2")
    assert "finalized with the 9 frames" in lines[0]  # frames before the budget ran out are kept
    assert len(read_video(out)[0]) == 9  # 12 packets read, 3 of them bad


def test_python_dash_m_matches_console_script(tmp_path):
    """Real processes: exit code and stderr as a user sees them."""
    proc = subprocess.run(
        [sys.executable, "-m", "realtime", "enhance", str(tmp_path / "missing.mp4"), "-o", "null:"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [f"realtime: error: input not found: {tmp_path / 'missing.mp4'}"]
    version = subprocess.run([sys.executable, "-m", "realtime", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("realtime ")


def test_unreadable_image_in_folder_counted(capsys, tmp_path):
    import cv2
    import numpy as np

    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((40, 50, 3), 40, np.uint8))
    (folder / "b.png").write_bytes(b"not a png")
    cv2.imwrite(str(folder / "c.png"), np.full((40, 50, 3), 60, np.uint8))
    out = tmp_path / "out"
    assert main(["enhance", str(folder), "-o", str(out) + "/"]) == 0
    err = capsys.readouterr().err
    assert "1 undecodable frames skipped" in err
    assert sorted(p.name for p in Path(out).iterdir()) == ["a.png", "c.png"]
