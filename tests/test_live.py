"""Live outputs end to end over loopback: pipes, RTMP, UDP, pacing, files over HTTP, encode options.

Everything here is real: the CLI runs (in-process or as a subprocess where standard output must be
a real pipe), PyAV listens, receives and decodes; nothing is simulated.
"""

from __future__ import annotations

import functools
import http.server
import io
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from realtime.assembly import PipelineSpec
from realtime.cli import main
from realtime.job import EnhanceJob, EnhanceOptions, pace_by_default
from realtime.protocols import has_protocol
from realtime.targets import parse_input, parse_output
from tests.media import audio_packets, read_video, write_clip

OFF = PipelineSpec(preset="off", refiner="off")


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error" in line]


def _cli(*args: str, stdin=None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The command as a user runs it, so standard input and output are real pipes."""
    return subprocess.run([sys.executable, "-m", "realtime", *args], capture_output=True, stdin=stdin,
                          timeout=timeout, cwd=Path(__file__).resolve().parents[1])


@pytest.fixture()
def clip25(tmp_path):
    return write_clip(tmp_path / "clip.mp4", frames=50, width=160, height=120, fps=25, audio=True)


# -- pipes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, magic", [(None, b"\x47"), ("nut", b"nut/"), ("matroska", b"\x1a\x45\xdf\xa3")])
def test_pipe_output_is_media_and_nothing_else(clip25, fmt, magic):
    extra = ["--format", fmt] if fmt else []
    done = _cli("enhance", str(clip25.path), "-o", "-", "--refiner", "off", *extra)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.startswith(magic)  # no line of text before the container
    with av.open(io.BytesIO(done.stdout)) as c:
        assert c.streams.audio, "audio is carried through the pipe"
        times = [f.pts * f.time_base for f in c.decode(video=0)]
    assert len(times) == clip25.frames
    start = times[0]
    assert [t - start for t in times] == [Fraction(p, 25) for p in clip25.pts]
    assert b"50 frames" in done.stderr


def test_stdin_input_reads_every_frame(tmp_path):
    src = write_clip(tmp_path / "in.mkv", frames=30, width=160, height=120, fps=25, audio=True)
    out = tmp_path / "out.mkv"
    with open(src.path, "rb") as f:
        done = _cli("enhance", "-", "-o", str(out), "--refiner", "off", stdin=f)
    assert done.returncode == 0, done.stderr.decode()
    times, _, _ = read_video(out)
    assert len(times) == 30 and times == sorted(times)
    assert len(audio_packets(out)) == len(audio_packets(src.path)) > 0


def test_a_closed_pipe_is_one_line(clip25):
    proc = subprocess.Popen([sys.executable, "-m", "realtime", "enhance", str(clip25.path), "-o", "-",
                             "--refiner", "off"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()  # the reader goes away, as ffplay does when its window is closed
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 4
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "closed by its reader (broken pipe)" in errors[0], err
    assert "Traceback" not in err


# -- streams --------------------------------------------------------------------------------------
def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port``, from /proc (a probe connection would be the one
    connection FFmpeg's RTMP listener accepts)."""
    want = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if want in fields[1] + " " and fields[3] == "0A":
                    return True
        except OSError:
            continue
    return False


_RTMP_LISTENER = """
import json, sys, av
video, audio = [], 0
with av.open(sys.argv[1], options={"listen": "1"}, timeout=(20, 10)) as c:
    try:
        for packet in c.demux():
            if packet.stream.type == "audio" and packet.size:
                audio += 1
            elif packet.stream.type == "video":
                video.extend(float(f.pts * f.time_base) for f in packet.decode())
    except OSError:  # FFmpeg's RTMP server reports the sender hanging up as an I/O error
        pass
print(json.dumps({"video": video, "audio": audio}))
"""


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp to see the listener")
def test_rtmp_end_to_end_every_frame_on_time(clip25):
    """FFmpeg's RTMP listener runs in its own process: PyAV holds the GIL while it waits for a
    connection, which would stall the sender in the same interpreter."""
    import json

    port = _free_port()
    url = f"rtmp://127.0.0.1:{port}/live/test"
    listener = subprocess.Popen([sys.executable, "-c", _RTMP_LISTENER, url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not _listening(port):
            assert listener.poll() is None and time.monotonic() < deadline, "the RTMP listener did not start"
            time.sleep(0.05)
        t0 = time.monotonic()
        assert main(["enhance", str(clip25.path), "-o", url, "--refiner", "off", "--quiet"]) == 0
        took = time.monotonic() - t0
        out, err = listener.communicate(timeout=30)
    finally:
        listener.kill()
    assert out.strip(), err
    got = json.loads(out)
    assert len(got["video"]) == clip25.frames, err  # TCP: not one frame lost
    # FLV keeps milliseconds: each frame at its own time, 40 ms apart
    assert [round((t - got["video"][0]) * 1000) for t in got["video"]] == [p * 40 for p in clip25.pts]
    assert got["audio"] > 0, "the input's audio went out too"
    assert took > 1.6  # paced by default (2 s of video), not sent as fast as it decodes


def test_srt_without_the_protocol_fails_before_reading(clip25, capsys):
    if has_protocol("srt"):
        pytest.skip("this PyAV build has SRT (the PyPI wheels do not)")
    code = main(["enhance", str(clip25.path), "-o", "srt://127.0.0.1:9000"])
    lines = _errors(capsys)
    assert code == 4 and len(lines) == 1, lines
    assert "no srt:// protocol" in lines[0] and "udp://" in lines[0]


def test_protocols_are_asked_of_ffmpeg():
    assert has_protocol("udp") and has_protocol("tcp") and has_protocol("rtmp")
    assert not has_protocol("nosuchproto")


# -- pacing ---------------------------------------------------------------------------------------
def test_pacing_takes_the_clips_own_time(tmp_path):
    clip = write_clip(tmp_path / "three.mp4", frames=75, width=160, height=120, fps=25)  # 3.0 s
    with EnhanceJob(str(clip.path), OFF, EnhanceOptions(output="null:", pace=True)) as job:
        t0 = time.perf_counter()
        report = job.run()
        took = time.perf_counter() - t0
    assert report.frames_written == 75
    assert 2.7 <= took <= 3.3, took  # 3 s ± 10%
    with EnhanceJob(str(clip.path), OFF, EnhanceOptions(output="null:")) as job:
        t0 = time.perf_counter()
        job.run()
        assert time.perf_counter() - t0 < 2.0  # unpaced file to null: as fast as it decodes


def test_pacing_is_on_where_someone_watches(tmp_path):
    video = parse_input(str(write_clip(tmp_path / "c.mp4", frames=2).path)).kind
    assert pace_by_default(video, parse_output("udp://127.0.0.1:5000"), show=False)
    assert pace_by_default(video, parse_output("virtualcam:"), show=False)
    assert pace_by_default(video, None, show=True)
    assert not pace_by_default(video, parse_output(str(tmp_path / "o.mp4")), show=True)
    assert not pace_by_default(video, parse_output("-"), show=False)  # a pipe may feed a transcoder
    assert not pace_by_default(parse_input("synthetic:64x48@10").kind, parse_output("udp://1.2.3.4:5"), show=False)


def test_a_stop_wakes_a_paced_wait(tmp_path):
    clip = write_clip(tmp_path / "slow.mp4", frames=20, width=64, height=48, fps=1)  # 20 s of video
    with EnhanceJob(str(clip.path), OFF, EnhanceOptions(output="null:", pace=True)) as job:
        threading.Timer(1.2, job.stop).start()
        t0 = time.perf_counter()
        report = job.run()
    assert time.perf_counter() - t0 < 3  # not the 20 s the clip lasts
    assert report.frames_written == report.frames_read >= 2  # what was read was written


# -- files over HTTP ------------------------------------------------------------------------------
@pytest.fixture()
def http_server(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_file_over_http_is_read_like_a_file(tmp_path, http_server, capsys):
    clip = write_clip(tmp_path / "web.mp4", frames=120, width=320, height=240, fps=25, audio=True,
                      container_options={"movflags": "+faststart"})
    out = tmp_path / "out.mkv"
    assert main(["enhance", f"{http_server}/web.mp4", "-o", str(out), "--refiner", "off"]) == 0
    err = capsys.readouterr().err
    assert "a file over the network" in err  # the guess is said
    times, _, _ = read_video(out)
    assert len(times) == clip.frames  # every frame, none dropped
    assert len(audio_packets(out)) == len(audio_packets(clip.path))


# -- encode options ------------------------------------------------------------------------------
def test_silent_audio_track_spans_the_video(tmp_path):
    src = write_clip(tmp_path / "mute.mp4", frames=50, width=160, height=120, fps=25)
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(src.path), "-o", str(out), "--audio", "silent", "--refiner", "off", "-q"]) == 0
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1 and c.streams.audio[0].codec_context.name == "aac"
        audio = c.streams.audio[0]
        seconds = float(audio.duration * audio.time_base)
        peak = max(abs(f.to_ndarray()).max() for f in c.decode(audio=0))
    assert 1.9 <= seconds <= 2.2  # 2 s of video, 2 s of audio
    assert peak == 0


def test_bitrate_and_gop_reach_the_encoder(tmp_path):
    src = write_clip(tmp_path / "in.mp4", frames=100, width=320, height=240, fps=25)
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(src.path), "-o", str(out), "--bitrate", "300k", "--maxrate", "400k",
                 "--bufsize", "800k", "--gop", "10", "--refiner", "off", "-q"]) == 0
    with av.open(str(out)) as c:
        packets = [p for p in c.demux(video=0) if p.size]
    keyframes = [i for i, p in enumerate(sorted(packets, key=lambda p: p.pts)) if p.is_keyframe]
    assert keyframes == list(range(0, 100, 10))
    kbps = sum(p.size for p in packets) * 8 / 4.0 / 1000  # 4 s of video
    assert 150 <= kbps <= 450, kbps  # about the asked 300k (crf 20 on this noisy scene is ~10x more)


# -- outputs ---------------------------------------------------------------------------------------
def test_frame_pattern_writes_numbered_jpegs(tmp_path):
    src = write_clip(tmp_path / "in.mp4", frames=5, width=64, height=48)
    (tmp_path / "frames").mkdir()
    assert main(["enhance", str(src.path), "-o", str(tmp_path / "frames" / "%05d.jpg"), "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"{i:05d}.jpg" for i in range(1, 6)]  # from 1, as FFmpeg numbers them
    assert (tmp_path / "frames" / "00001.jpg").read_bytes()[:2] == b"\xff\xd8"  # JPEG, not PNG renamed


def test_existing_output_frames_are_kept_without_overwrite(tmp_path, capsys):
    src = write_clip(tmp_path / "in.mp4", frames=3, width=64, height=48)
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    code = main(["enhance", str(src.path), "-o", f"{folder}/"])
    lines = _errors(capsys)
    assert code == 4 and len(lines) == 1 and "is not empty" in lines[0] and "--overwrite" in lines[0]
    assert main(["enhance", str(src.path), "-o", f"{folder}/", "--overwrite", "-q"]) == 0
    assert len(list(folder.iterdir())) == 4 and (folder / "mine.txt").read_text() == "keep me"
    pattern = str(folder / "f%03d.png")
    assert main(["enhance", str(src.path), "-o", pattern, "-q"]) == 0  # other names in the folder: fine
    code = main(["enhance", str(src.path), "-o", pattern])
    lines = _errors(capsys)
    assert code == 4 and "exist already" in lines[0] and "f001.png" in lines[0]
