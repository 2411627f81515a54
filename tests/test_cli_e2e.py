"""The CLI end to end on an image, a folder, a video, and a live source stopped by a signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2

from realtime.cli import main
from tests.media import read_video, scene


def test_single_image(tmp_path, capsys):
    src = tmp_path / "dark.jpg"
    cv2.imwrite(str(src), scene(3, 201, 133))
    out = tmp_path / "bright.png"
    assert main(["enhance", str(src), "-o", str(out), "--quiet"]) == 0
    before, after = cv2.imread(str(src)), cv2.imread(str(out))
    assert after.shape == before.shape
    assert after.mean() > before.mean() + 10  # the lowlight preset brightens a dark image


def test_folder_keeps_names(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    names = ["b_002.png", "a_001.jpg", "c_003.bmp"]
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), scene(i, 96 + i * 10, 64))
    out = tmp_path / "enhanced"
    assert main(["enhance", str(folder), "-o", f"{out}/", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert cv2.imread(str(out / name)).shape == cv2.imread(str(folder / name)).shape


def test_glob_input(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), scene(i, 64, 48))
    (tmp_path / "skip.txt").write_text("no")
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "f*.png"), "-o", f"{out}/", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["f0.png", "f1.png", "f2.png"]


def test_folder_to_video(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in range(10):
        cv2.imwrite(str(folder / f"{i:03d}.png"), scene(i, 128, 96))
    out = tmp_path / "seq.mp4"
    assert main(["enhance", str(folder), "-o", str(out), "--fps", "10", "--quiet"]) == 0
    times, _, _ = read_video(out)
    assert len(times) == 10 and times[1] - times[0] == Fraction(1, 10)


def test_video_with_compare_and_summary(tmp_path, clip_audio, capsys):
    out = tmp_path / "out.mp4"
    cmp_png = tmp_path / "cmp.png"
    assert main(["enhance", str(clip_audio.path), "-o", str(out), "--compare", str(cmp_png)]) == 0
    err = capsys.readouterr().err
    assert "refiner: onnxruntime" in err  # the shipped model, found by --refiner auto
    assert "median ms/frame" in err and "audio packets copied" in err
    sheet = cv2.imread(str(cmp_png))
    assert sheet.shape[1] > 2 * clip_audio.width
    assert len(read_video(out)[0]) == clip_audio.frames


def test_video_to_folder(tmp_path, clip):
    out = tmp_path / "frames"
    assert main(["enhance", str(clip.path), "-o", f"{out}/", "--quiet", "--frames", "4"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:06d}.png" for i in range(4)]


def _run_until_signal(tmp_path: Path, sig: int) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "live.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime", "enhance", "synthetic:320x240@30", "-o", str(out)],
        stderr=subprocess.PIPE, text=True,
    )
    time.sleep(2.5)  # the synthetic camera delivers 30 frames a second
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err), out


def test_sigint_on_live_source_leaves_playable_file(tmp_path):
    done, out = _run_until_signal(tmp_path, signal.SIGINT)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    times, _, _ = read_video(out)
    assert len(times) > 10
    assert f"{out}: {len(times)} frames" in done.stderr  # the summary tells exactly what is on disk


def test_sigterm_behaves_like_ctrl_c(tmp_path):
    done, out = _run_until_signal(tmp_path, signal.SIGTERM)
    assert done.returncode == 130, done.stderr
    assert len(read_video(out)[0]) > 10


def test_synthetic_paced_source_has_no_drops_with_fast_sink(capsys):
    assert main(["enhance", "synthetic:160x120@60", "-o", "null:", "--frames", "30"]) == 0
    err = capsys.readouterr().err
    assert "dropped 0 frames" in err


def test_doctor_runs(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for section in ("versions", "stage backends", "pyav codecs", "network protocols", "refiner runtimes",
                    "virtual camera", "cameras"):
        assert section in out


def test_udp_mpegts_stream_output(tmp_path):
    """Stream to udp:// and receive it with PyAV in a thread: a real MPEG-TS stream over loopback."""
    import socket
    import threading

    import av

    from tests.media import write_clip

    src = write_clip(tmp_path / "in.mp4", frames=48, width=320, height=240)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    received: list[int] = []

    def receive() -> None:
        url = f"udp://127.0.0.1:{port}?timeout=3000000&fifo_size=100000&overrun_nonfatal=1"
        try:
            with av.open(url, format="mpegts", timeout=10) as c:
                received.extend(f.pts for f in c.decode(video=0))
        except OSError:
            pass  # the read times out once the sender has finished

    receiver = threading.Thread(target=receive)
    receiver.start()
    time.sleep(0.5)  # the receiver must be listening before the first packet goes out
    assert main(["enhance", str(src.path), "-o", f"udp://127.0.0.1:{port}", "--quiet"]) == 0
    receiver.join(30)
    assert len(received) >= 24  # UDP may drop a little on a loaded machine; a broken stream gives 0
    assert received == sorted(received)
