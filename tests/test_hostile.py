"""Hostile media (issue 14): each class the fuzzer found ends in one line and the right exit code,
or in a correct result. The files are made here, as ``tools/fuzz.py`` makes them."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import av
import pytest

from tests.media import write_clip, write_corrupt_clip
from tests.test_bad_input import assert_one_error, run_cli

_spec = importlib.util.spec_from_file_location("fuzz", Path(__file__).parents[1] / "tools" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["fuzz"] = fuzz
_spec.loader.exec_module(fuzz)


def test_an_unknown_video_codec_is_an_input_error(capsys, tmp_path):
    clip = tmp_path / "ok.mkv"
    fuzz.write_video(clip, codec="ffv1")
    bogus = tmp_path / "bogus.mkv"
    bogus.write_bytes(clip.read_bytes().replace(b"V_FFV1", b"V_ZZZZ"))
    code, lines = run_cli(capsys, "enhance", str(bogus), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, "video codec is unknown")
    assert not (tmp_path / "o.mp4").exists()


def test_an_unknown_audio_codec_is_an_input_error_until_audio_is_dropped(capsys, tmp_path):
    clip = tmp_path / "ok.mkv"
    fuzz.write_video(clip, codec="ffv1", audio="aac")
    bogus = tmp_path / "bogus.mkv"
    bogus.write_bytes(clip.read_bytes().replace(b"A_AAC", b"A_ZZZ"))
    code, lines = run_cli(capsys, "enhance", str(bogus), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, "--no-audio")
    code, _ = run_cli(capsys, "enhance", str(bogus), "-o", str(tmp_path / "o.mp4"), "--no-audio", "-q")
    assert code == 0 and fuzz.decodable_frames(tmp_path / "o.mp4") == 24


def test_a_latin1_title_does_not_stop_a_valid_file(capsys, tmp_path):
    clip = tmp_path / "ok.mkv"
    fuzz.write_video(clip, codec="ffv1", metadata={"title": "FUZZTITLEFUZZTITLE"})
    latin = tmp_path / "latin.mkv"
    latin.write_bytes(fuzz._metadata(clip.read_bytes(), None))
    with pytest.raises(UnicodeDecodeError):  # what PyAV does by default: the traceback users saw
        av.open(str(latin)).close()
    code, _ = run_cli(capsys, "enhance", str(latin), "-o", str(tmp_path / "o.mp4"), "-q")
    assert code == 0 and fuzz.decodable_frames(tmp_path / "o.mp4") == 24


def test_a_decompression_bomb_is_refused_from_its_header(capsys, tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    fuzz.png_bomb(bomb, side=9000)  # 81 megapixels in ~80 kB
    assert bomb.stat().st_size < 200_000
    code, lines = run_cli(capsys, "enhance", str(bomb), "-o", str(tmp_path / "o.png"))
    assert_one_error(code, lines, 3, "9000x9000, 81 megapixels: over the limit of 64 megapixels")
    assert "REALTIME_MAX_PIXELS" in lines[0] and not (tmp_path / "o.png").exists()
    photo = tmp_path / "photo.png"
    fuzz.write_png(photo, size=(120, 90))
    monkeypatch.setenv("REALTIME_MAX_PIXELS", "10000")  # the budget is the user's to set
    code, lines = run_cli(capsys, "enhance", str(photo), "-o", str(tmp_path / "p.png"))
    assert_one_error(code, lines, 3, "120x90")
    monkeypatch.setenv("REALTIME_MAX_PIXELS", "lots")
    code, lines = run_cli(capsys, "enhance", str(photo), "-o", str(tmp_path / "p.png"))
    assert_one_error(code, lines, 3, "REALTIME_MAX_PIXELS must be a whole number")


@pytest.mark.parametrize("kind", ["png", "jpg"])
def test_an_image_header_beyond_opencv_limits_is_an_input_error(capsys, tmp_path, kind, monkeypatch):
    path = tmp_path / f"huge.{kind}"
    base = tmp_path / f"base.{kind}"
    (fuzz.write_png if kind == "png" else fuzz.write_jpeg)(base)
    lie = fuzz.png_with_size if kind == "png" else fuzz.jpeg_with_size
    path.write_bytes(lie(base.read_bytes(), 65000, 65000))
    code, lines = run_cli(capsys, "enhance", str(path), "-o", str(tmp_path / "o.png"))
    assert_one_error(code, lines, 3, "65000x65000")
    # with the budget lifted, OpenCV's own limit answers, in one line too
    monkeypatch.setenv("REALTIME_MAX_PIXELS", str(10**12))
    code, lines = run_cli(capsys, "enhance", str(path), "-o", str(tmp_path / "o.png"))
    assert code == 3 and len(lines) == 1 and lines[0].startswith("realtime: error:"), lines


@pytest.mark.parametrize("size", [(2, 2), (1, 1)])
def test_a_video_too_small_to_enhance_is_said_so(capsys, tmp_path, size):
    clip = tmp_path / "tiny.mkv"
    fuzz.write_video(clip, size=size, codec="ffv1")
    code, lines = run_cli(capsys, "enhance", str(clip), "-o", str(tmp_path / "o.mp4"))
    assert_one_error(code, lines, 3, f"its frames are {size[0]}x{size[1]}; the stages need at least 8x8")


def test_a_file_whose_every_frame_is_damaged_is_an_input_error(capsys, tmp_path):
    clip = tmp_path / "dead.mkv"
    write_corrupt_clip(clip, tuple(range(12)), frames=12)
    code, lines = run_cli(capsys, "enhance", str(clip), "-o", str(tmp_path / "o.mp4"), "--max-bad-frames", "100",
                          "-q")
    assert_one_error(code, lines, 3, "no frame of")
    assert "all 12 were damaged" in lines[0] and "o.mp4 was removed" in lines[0]
    assert not (tmp_path / "o.mp4").exists()


def test_a_file_cut_before_its_first_frame_is_an_input_error(capsys, tmp_path):
    clip = tmp_path / "ok.mkv"
    fuzz.write_video(clip, codec="ffv1")
    cut = tmp_path / "cut.mkv"
    data = clip.read_bytes()
    cut.write_bytes(data[: data.find(b"\x1f\x43\xb6\x75") + 12])  # into the first Cluster, before its frame
    code, lines = run_cli(capsys, "enhance", str(cut), "-o", str(tmp_path / "o.mp4"), "-q")
    assert_one_error(code, lines, 3, "ends before its first frame")
    assert not (tmp_path / "o.mp4").exists()


def test_a_raw_h264_stream_keeps_its_frame_times(capsys, tmp_path):
    """No container timestamps: the frames are numbered at the stream's frame rate, and the output
    spans what they span (it used to be 39 microseconds for 48 frames)."""
    raw = tmp_path / "raw.h264"
    fuzz.write_video(raw, fmt="h264", frames=48)
    code, _ = run_cli(capsys, "enhance", str(raw), "-o", str(tmp_path / "o.mp4"), "-q")
    frames_in, _, rate = fuzz.video_timing(raw)
    frames_out, span, _ = fuzz.video_timing(tmp_path / "o.mp4")
    assert code == 0 and frames_out == frames_in == 48
    assert span == pytest.approx(47 / rate, abs=0.5 / rate)


def test_timestamps_of_an_ordinary_clip_are_unchanged(capsys, tmp_path):
    clip = write_clip(tmp_path / "vfr.mkv", frames=20, vfr=True)
    code, _ = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.mkv"), "-q")
    with av.open(str(tmp_path / "o.mkv")) as c:
        got = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    assert code == 0 and got == pytest.approx([float(p * clip.time_base) for p in clip.pts], abs=1e-3)


def test_compare_is_not_created_before_the_input_is_read(capsys, tmp_path):
    cmp_png = tmp_path / "cmp.png"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    code, lines = run_cli(capsys, "enhance", str(junk), "-o", str(tmp_path / "o.mp4"), "--compare", str(cmp_png))
    assert_one_error(code, lines, 3, "cannot read")
    assert not cmp_png.exists() and not (tmp_path / "o.mp4").exists()


def test_a_fifo_output_with_no_reader_fails_at_once(tmp_path):
    import os
    import subprocess

    clip = write_clip(tmp_path / "in.mkv", frames=4)
    fifo = tmp_path / "out.ts"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "realtime", "enhance", str(clip.path), "-o", str(fifo), "-q"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4 and "FIFO with no reader" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_folder_outputs_never_write_through_a_link_or_outside_the_folder(capsys, tmp_path):
    import cv2
    import numpy as np

    src = tmp_path / "in"
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
        cv2.imwrite(str(src / sub / f"{sub}.png"), np.full((32, 48, 3), 40, np.uint8))
    cv2.imwrite(str(src / "top.png"), np.full((32, 48, 3), 60, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "top.png").symlink_to(victim)
    # the folder holds something: refused without --overwrite
    code, lines = run_cli(capsys, "enhance", f"{src}/*", "-o", f"{out}/")
    assert code == 4 and "not empty" in lines[-1]
    # with it, the link is replaced by the image and what it pointed to is untouched
    code, _ = run_cli(capsys, "enhance", str(src / "top.png"), "-o", f"{out}/", "--overwrite", "-q")
    assert code == 0 and victim.read_text() == "keep me"
    assert not (out / "top.png").is_symlink() and cv2.imread(str(out / "top.png")) is not None
    # '..' after a wildcard names the top folder's files once, inside the output folder
    fresh = tmp_path / "fresh"
    code, _ = run_cli(capsys, "enhance", f"{src}/*/../*.png", "-o", f"{fresh}/", "-q")
    assert code == 0 and sorted(p.name for p in fresh.rglob("*") if p.is_file()) == ["top.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "in", "out", "victim.txt"]


def test_the_refiner_model_from_the_environment_is_named(capsys, tmp_path, monkeypatch):
    from realtime.refiner import default_model

    model = tmp_path / "other.onnx"
    model.write_bytes(default_model().read_bytes())
    monkeypatch.setenv("REALTIME_REFINER_MODEL", str(model))
    clip = write_clip(tmp_path / "in.mkv", frames=3)
    code, lines = run_cli(capsys, "enhance", str(clip.path), "-o", str(tmp_path / "o.mp4"))
    assert code == 0 and any(f"refiner model: {model} (from $REALTIME_REFINER_MODEL" in ln for ln in lines), lines


def _mp4(tmp_path, name: str, **kw) -> tuple[Path, bytes]:
    path = tmp_path / name
    fuzz.write_video(path, frames=24, options={"movflags": "faststart"}, **kw)  # the index first
    return path, path.read_bytes()


def test_damage_is_not_called_truncation_and_counts_against_the_budget(capsys, tmp_path):
    """Zeroed bytes inside the media data: every packet is still there, some decode to nothing
    without an error. Those frames are damaged (counted, against --max-bad-frames), not missing."""
    _, data = _mp4(tmp_path, "ok.mp4")
    start = data.find(b"mdat") + (len(data) - data.find(b"mdat")) // 2
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data[:start] + bytes(600) + data[start + 600:])
    good = fuzz.decodable_frames(damaged)
    with av.open(str(damaged)) as c:  # what makes it damage: every packet is there, few decode errors
        packets = sum(1 for p in c.demux(video=0) if p.size)
    assert packets == 24 and 0 < good < 22
    code, lines = run_cli(capsys, "enhance", str(damaged), "-o", str(tmp_path / "o.mp4"))
    assert code == 0 and fuzz.decodable_frames(tmp_path / "o.mp4") == good
    assert any(f"{24 - good} undecodable frames skipped" in ln for ln in lines), lines
    code, lines = run_cli(capsys, "enhance", str(damaged), "-o", str(tmp_path / "o2.mp4"), "--max-bad-frames", "0",
                          "-q")
    assert code == 3 and "more than --max-bad-frames 0" in lines[0] and "truncated" not in lines[0], lines


def test_a_cut_file_is_called_truncated(capsys, tmp_path):
    _, data = _mp4(tmp_path, "ok.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    code, lines = run_cli(capsys, "enhance", str(cut), "-o", str(tmp_path / "o.mp4"), "-q")
    assert_one_error(code, lines, 3, "input is truncated: its index lists 24 frames but the file holds")
    assert "finalized with the" in lines[0]


def _ts_with_bad_audio(tmp_path, bad: tuple[int, ...]) -> Path:
    """An MPEG-TS (H.264 + ADTS AAC) whose audio packets at ``bad`` hold random bytes, as a damaged
    broadcast recording has them; the MP4 muxer's ADTS conversion refuses such a packet."""
    import numpy as np

    src = tmp_path / "clean.ts"
    fuzz.write_video(src, fmt="mpegts", audio="aac", frames=48)
    out_path = tmp_path / "bad_audio.ts"
    rng = np.random.default_rng(0)
    with av.open(str(src)) as inp, av.open(str(out_path), "w", format="mpegts") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        k = 0
        for p in inp.demux():
            if not p.size:
                continue
            index = p.stream.index
            if p.stream.type == "audio":
                k += 1
                if k in bad:
                    q = av.Packet(rng.integers(0, 256, p.size, dtype=np.uint8).tobytes())
                    q.pts, q.dts, q.time_base = p.pts, p.dts, p.time_base
                    p = q
            p.stream = streams[index]
            out.mux(p)
    return out_path


def test_a_damaged_audio_packet_is_skipped_and_counted_not_blamed_on_the_output(capsys, tmp_path):
    damaged = _ts_with_bad_audio(tmp_path, (10,))
    code, lines = run_cli(capsys, "enhance", str(damaged), "-o", str(tmp_path / "o.mp4"))
    assert code == 0, lines
    assert any("48 frames" in ln and "1 damaged audio packets skipped" in ln for ln in lines), lines
    assert fuzz.decodable_frames(tmp_path / "o.mp4") == 48
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert len(c.streams.audio) == 1
    code, lines = run_cli(capsys, "enhance", str(damaged), "-o", str(tmp_path / "o2.mp4"), "-q",
                          "--max-bad-frames", "0")
    assert code == 3 and "damaged audio packets in the input" in lines[0] and "writing" not in lines[0], lines


@pytest.fixture
def full_disk(tmp_path):
    """A 256 kB tmpfs: the disk a recording fills. Needs root (CI runs as root); skips elsewhere."""
    import os
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture(scope="module")
def noisy_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("noisy") / "noisy.mkv"
    fuzz.write_video(path, frames=60, size=(320, 240), codec="ffv1")
    return path


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_a_full_disk_says_what_was_left(capsys, full_disk, noisy_clip, ext):
    out = full_disk / f"out.{ext}"
    code, lines = run_cli(capsys, "enhance", str(noisy_clip), "-o", str(out), "--crf", "0", "-q")
    assert code == 4 and len(lines) == 1 and "No space left on device" in lines[0], lines
    if ext == "mp4":  # no room for its index: it would not play
        assert "was removed (it could not be finalized and would not play)" in lines[0] and not out.exists()
    else:  # Matroska plays up to where it stops, and the line says how far
        plays = fuzz.decodable_frames(out)
        assert 0 < plays < 60 and f"a partial file is left at {out} that plays {plays} frames" in lines[0], lines


def test_a_full_disk_leaves_no_half_written_image(capsys, full_disk, noisy_clip):
    out = full_disk / "frames"
    code, lines = run_cli(capsys, "enhance", str(noisy_clip), "-o", f"{out}/", "-q")
    assert code == 4 and "finalized with the" in lines[0], lines
    import cv2

    written = sorted(out.iterdir())
    assert written and all(cv2.imread(str(p)) is not None for p in written)
    assert f"finalized with the {len(written)} frames" in lines[0]


def test_a_killed_live_recording_still_plays(tmp_path):
    """SIGKILL (or a power cut) gives no chance to write an MP4's index at the end: a recording
    from a live source is a fragmented MP4, so what was written before the kill plays."""
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "live.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "realtime", "enhance", "synthetic:320x240@30", "-o", str(out),
                             "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 300_000):
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    frames, span, rate = fuzz.video_timing(out)
    assert frames is not None and frames >= 30, (frames, out.stat().st_size)
    assert span == pytest.approx((frames - 1) / rate, abs=2 / rate)


@pytest.fixture
def deaf_peer():
    """A TCP server that accepts connections and never reads (a stuck network sink)."""
    import socket
    import threading

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                held.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_a_network_peer_that_never_reads_ends_the_run_in_bounded_time(deaf_peer):
    import subprocess
    import time

    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "realtime", "enhance", "synthetic:640x360@30", "-o", deaf_peer,
                           "--frames", "900", "-q"], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert proc.returncode == 4 and "timed out" in proc.stderr and "frames were sent to" in proc.stderr, proc.stderr
    assert took < 45, took  # the socket's write timeout is 5 s; the frames before it went into buffers


def test_ctrl_c_ends_a_run_stuck_on_a_network_peer_within_15_s(deaf_peer):
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-m", "realtime", "enhance", "synthetic:640x360@30", "-o", deaf_peer],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(6)  # started, and stuck behind the full socket buffer
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 15, err
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert re.search(r"\d+ frames \(sent\)", err), err  # the truth about what reached the peer


def test_a_stalled_network_input_is_called_stalled_not_damaged(capsys, tmp_path, monkeypatch):
    """An HTTP server that sends half of a file and then goes quiet: the read timeout ends the
    run, and the line says the input stalled (with the frames written), not that it is damaged."""
    import http.server
    import threading
    import time

    import realtime.sources.media as media

    clip = tmp_path / "clip.mkv"
    fuzz.write_video(clip, frames=120, size=(160, 120), codec="ffv1")
    data = clip.read_bytes()

    class Half(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(8)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Half)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(media, "READ_TIMEOUT_S", 1.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.mkv"
        code, lines = run_cli(capsys, "enhance", url, "-o", str(tmp_path / "o.mkv"), "-q")
    finally:
        server.shutdown()
    assert_one_error(code, lines, 3, "stalled after")
    assert "no data for 1 s" in lines[0] and "damaged" not in lines[0]
    assert f"finalized with the {fuzz.decodable_frames(tmp_path / 'o.mkv')} frames" in lines[0]


def test_ctrl_c_with_a_slow_reader_ends_within_15_s(tmp_path):
    """A pipe whose reader takes 40 kB/s (a slow sink): the first Ctrl-C ends the run with the
    frames already read written and the count said, in bounded time."""
    import signal
    import subprocess
    import time

    reader = tmp_path / "slow.py"
    reader.write_text("import sys, time\nwhile sys.stdin.buffer.read(2048):\n    time.sleep(0.05)\n")
    run = subprocess.Popen([sys.executable, "-m", "realtime", "enhance", "synthetic:640x360@30", "-o", "-"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    slow = subprocess.Popen([sys.executable, str(reader)], stdin=run.stdout)
    run.stdout.close()
    try:
        time.sleep(6)
        t0 = time.monotonic()
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        slow.kill()
    assert took < 15 and run.returncode == 130, (took, err)
    assert re.search(r"-: \d+ frames \(sent\)", err), err


def test_times_that_jump_back_keep_their_spacing(tmp_path):
    """A damaged file's first frame carries a garbage time (a wrapped clock: 4294901783 ms, then
    65, 106, ...). Encoders need increasing times; the frames after the jump keep their own
    spacing instead of being pinned one tick apart (24 frames had come out spanning 23 ms)."""
    from fractions import Fraction

    import numpy as np

    from realtime.frames import FramePacket
    from realtime.sinks.media import MediaSink
    from realtime.sources.base import SourceInfo

    tb = Fraction(1, 1000)
    info = SourceInfo(name="damaged", width=64, height=48, live=False, fps=Fraction(24), time_base=tb)
    out = tmp_path / "o.mkv"
    sink = MediaSink(str(out), info)
    stamps = [4294901783, *(65 + round(i * 1000 / 24) for i in range(23))]
    for i, pts in enumerate(stamps):
        sink.write(FramePacket(image=np.full((48, 64, 3), 40 + i, np.uint8), index=i, pts=pts, time_base=tb))
    sink.close()
    with av.open(str(out)) as c:
        times = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    steps = np.diff(times)
    assert len(times) == 24 and (steps > 0).all()
    assert np.allclose(steps[1:], 1 / 24, atol=0.002), steps  # the good frames' own spacing


def test_a_header_declaring_an_impossible_size_is_damage_in_one_line(capsys, tmp_path):
    """An MP4 whose first sample claims a billion bytes: FFmpeg refuses the allocation. The
    line says the file is damaged, not that the machine is out of memory."""
    import struct

    clip = tmp_path / "ok.mp4"
    fuzz.write_video(clip)
    data = bytearray(clip.read_bytes())
    i = data.find(b"stsz")
    data[i + 16:i + 20] = struct.pack(">I", 0x3FFFFFFF)  # the first sample size: a billion bytes
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    code, lines = run_cli(capsys, "enhance", str(bad), "-o", str(tmp_path / "o.mp4"), "-q")
    assert_one_error(code, lines, 3, "declares more data than can be allocated")
    assert not (tmp_path / "o.mp4").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# An RTMP server made of FFmpeg's own listen mode (a real peer: handshake, connect, publish), which
# reads some packets and then stops reading while keeping the connection open.
_RTMP_SERVER = """
import av, sys, time
c = av.open(sys.argv[1], mode="r", options={"listen": "1"}, timeout=60)
for n, _ in enumerate(c.demux(), 1):
    if n == 30:
        print("stopped reading", flush=True)
        time.sleep(120)
"""


def test_an_rtmp_server_that_stops_reading_ends_the_run_in_bounded_time(tmp_path):
    """FFmpeg has no write timeout for RTMP: the runner's clock on the sink's writes gives up after
    5 s without progress, says what was sent, and the process ends (its writer stays blocked)."""
    import subprocess
    import time

    url = f"rtmp://127.0.0.1:{_free_port()}/live/test"
    server = subprocess.Popen([sys.executable, "-c", _RTMP_SERVER, url], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "realtime", "enhance", "synthetic:640x360@30", "-o", url,
                               "-q"], capture_output=True, text=True, timeout=90)
        took = time.monotonic() - t0
    finally:
        server.kill()
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 4 and len(lines) == 1, proc.stderr
    assert "timed out: it accepted no data for 5 s" in lines[0], lines
    assert re.search(r"\d+ frames were sent to rtmp://", lines[0]), lines
    assert took < 60, took  # the frames before the stall went into the socket buffers


def test_an_rtmp_server_that_never_answers_is_ended_by_the_watchdog():
    """The handshake happens with Python's GIL held (in PyAV), where nothing in the process can run:
    the watchdog process says so in one line and ends it."""
    import socket
    import subprocess
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    url = f"rtmp://127.0.0.1:{server.getsockname()[1]}/live/test"
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "realtime", "enhance", "synthetic:320x240@30", "-o", url,
                               "-q"], capture_output=True, text=True, timeout=60)
    finally:
        server.close()
        for conn in held:
            conn.close()
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == -9 and held, (proc.returncode, proc.stderr)  # SIGKILL: exit status 137
    assert lines == [f"realtime: error: cannot open output {url}: no answer in 12 s (is a server there, "
                     "accepting the stream?); the process was ended by its watchdog"], lines
    assert time.monotonic() - t0 < 30


def test_the_watchdog_disarmed_in_time_does_nothing():
    import subprocess

    code = ("import time\nfrom realtime.sinks.deadline import Deadline\n"
            "Deadline.arm(0.3, 'too late')\nDeadline.disarm()\ntime.sleep(1.0)\nprint('alive')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == "alive\n" and "too late" not in proc.stderr, proc


def test_ctrl_c_ends_a_run_whose_pipe_reader_stopped_reading_within_15_s():
    """A reader that never reads (and did not get the Ctrl-C): the write to the pipe stays blocked,
    and the run gives up on it STOP_GIVE_UP_S after the stop, saying what the pipe got."""
    import os
    import signal
    import subprocess
    import time

    r, w = os.pipe()
    try:
        run = subprocess.Popen([sys.executable, "-m", "realtime", "enhance", "synthetic:640x360@30", "-o", "-"],
                               stdout=w, stderr=subprocess.PIPE, text=True)
        os.close(w)
        time.sleep(6)  # the pipe's 64 kB are full long before this
        t0 = time.monotonic()
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        os.close(r)
    assert run.returncode == 130 and took < 15, (took, err)
    assert "standard output stopped accepting data" in err and "Traceback" not in err, err
