"""CameraSource against a stand-in camera, FFmpeg's v4l2 format listing parsed, doctor's camera section.

No camera is attached to the machines this runs on, so :class:`FakeCapture` simulates the V4L2
device behind ``cv2.VideoCapture``: it records what is set, answers ``get`` with what the "camera"
settled on (which may differ from what was asked) and delivers frames, failed reads or
``cv2.error`` from a script. What is under test is CameraSource's own logic: the order the settings
are applied in, the one-line report of what the camera gives instead, and the detection of a camera
that has gone away. Real V4L2 drivers, OpenCV's V4L2 backend and FFmpeg's device listing on real
hardware are not exercised.
"""

from __future__ import annotations

import av
import av.error
import av.logging
import cv2
import numpy as np
import pytest

from realtime import doctor
from realtime.errors import ConfigError, SourceError, SourceLost
from realtime.sources import camera as camera_mod
from realtime.sources.camera import (
    LOST_AFTER_S,
    MAX_CONSECUTIVE_FAILURES,
    CameraMode,
    CameraSource,
    SizeRange,
    camera_modes,
    decode_fourcc,
    parse_fourcc,
    parse_v4l2_formats,
)

DEVICE = "/dev/video-fake-0"  # does not exist: only the injected capture opens it

PROP_NAMES = {cv2.CAP_PROP_FOURCC: "fourcc", cv2.CAP_PROP_FRAME_WIDTH: "width",
              cv2.CAP_PROP_FRAME_HEIGHT: "height", cv2.CAP_PROP_FPS: "fps", cv2.CAP_PROP_BUFFERSIZE: "buffersize"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeCapture:
    """A V4L2 camera behind the cv2.VideoCapture interface.

    ``offers`` is what the camera settles on whatever it is asked ({"width": 1280, ...}); what it
    does not fix follows the request (defaults 640x480 at 30 fps in YUYV). ``script`` lists what the
    reads after the first return: "frame", "fail" (not ok) or "raise" (cv2.error); once it runs out
    every read fails. Each read advances ``clock`` by ``read_s``.
    """

    def __init__(self, *, offers=None, script=(), opened=True, clock=None, read_s=0.0, first_ok=True,
                 report_fps=True):
        self.calls: list[tuple[str, float]] = []
        self.state = {"width": 640, "height": 480, "fps": 30.0, "fourcc": cv2.VideoWriter_fourcc(*"YUYV")}
        self.offers = dict(offers or {})
        self.script = list(script)
        self.opened = opened
        self.clock = clock
        self.read_s = read_s
        self.first_ok = first_ok
        self.report_fps = report_fps
        self.reads = 0
        self.released = False
        self.device = self.api = None

    def __call__(self, device, api):  # the factory: CameraSource(..., capture=fake)
        self.device, self.api = device, api
        return self

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop, value) -> bool:
        name = PROP_NAMES[prop]
        self.calls.append((name, value))
        if name != "buffersize":
            self.state[name] = self.offers.get(name, value)
        return True

    def get(self, prop) -> float:
        name = PROP_NAMES[prop]
        if name == "fps" and not self.report_fps:
            return 0.0
        return float(self.state.get(name, 0))

    def read(self):
        self.reads += 1
        if self.clock is not None:
            self.clock.now += self.read_s
        step = "frame" if self.reads == 1 and self.first_ok else \
            "fail" if self.reads == 1 else (self.script.pop(0) if self.script else "fail")
        if step == "raise":
            raise cv2.error("VIDIOC_DQBUF: No such device")
        if step == "fail":
            return False, None
        frame = np.full((int(self.state["height"]), int(self.state["width"]), 3), self.reads % 256, np.uint8)
        return True, frame

    def release(self) -> None:
        self.released = True


def open_camera(fake: FakeCapture, **kwargs) -> CameraSource:
    return CameraSource(DEVICE, capture=fake, **kwargs)


# -- opening and settings ------------------------------------------------------------------------

def test_settings_are_applied_fourcc_size_fps_then_buffer():
    fake = FakeCapture()
    src = open_camera(fake, width=1280, height=720, fps=60, fourcc="mjpg")
    assert [name for name, _ in fake.calls] == ["fourcc", "width", "height", "fps", "buffersize"]
    assert fake.calls[0] == ("fourcc", cv2.VideoWriter_fourcc(*"MJPG"))
    assert fake.calls[1:] == [("width", 1280), ("height", 720), ("fps", 60), ("buffersize", 1)]
    assert fake.device == DEVICE
    assert src.info.kind == "camera" and src.info.live
    assert (src.info.width, src.info.height, src.info.fps) == (1280, 720, 60)
    assert src.fourcc == "MJPG" and src.note is None


def test_nothing_asked_sets_only_the_buffer():
    fake = FakeCapture()
    open_camera(fake)
    assert fake.calls == [("buffersize", 1)]


@pytest.mark.parametrize("bad", ["xx", "MJPEG", "", "MJ\tG", "MJPé"])
def test_fourcc_must_be_four_printable_ascii_characters(bad):
    fake = FakeCapture()
    with pytest.raises(ConfigError) as info:
        open_camera(fake, fourcc=bad)
    message = str(info.value)
    assert message == f"--camera-format must be a 4-character V4L2 code such as MJPG or YUYV, not {bad!r}"
    assert "\n" not in message
    assert fake.device is None  # refused before the camera is touched


def test_fourcc_is_upper_cased_and_decoded():
    assert parse_fourcc("yuyv") == "YUYV"
    assert decode_fourcc(float(cv2.VideoWriter_fourcc(*"MJPG"))) == "MJPG"
    assert decode_fourcc(0.0) is None
    assert decode_fourcc(float(0x01020304)) is None  # not printable: not a code


def test_mismatch_is_reported_in_one_line():
    notes: list[str] = []
    fake = FakeCapture(offers={"width": 1280, "height": 720, "fps": 30.0, "fourcc": cv2.VideoWriter_fourcc(*"YUYV")})
    src = open_camera(fake, width=1920, height=1080, fps=60, fourcc="MJPG", notify=notes.append)
    assert notes == [f"camera {DEVICE}: asked 1920x1080 at 60 fps MJPG, got 1280x720 at 30 fps YUYV"]
    assert src.note == notes[0]
    assert (src.info.width, src.info.height) == (1280, 720)  # what the frames are, not what was asked


def test_mismatch_mentions_only_what_was_asked():
    notes: list[str] = []
    open_camera(FakeCapture(offers={"fps": 15.0}), fps=30, notify=notes.append)
    assert notes == [f"camera {DEVICE}: asked 30 fps, got 15 fps"]
    notes.clear()
    open_camera(FakeCapture(offers={"width": 800, "height": 600}), width=1024, notify=notes.append)
    assert notes == [f"camera {DEVICE}: asked width 1024, got width 800"]


def test_unknown_fps_is_said_so():
    notes: list[str] = []
    src = open_camera(FakeCapture(report_fps=False), width=640, height=480, fps=30, notify=notes.append)
    assert notes == [f"camera {DEVICE}: asked 640x480 at 30 fps, got 640x480 (fps unknown)"]
    assert src.info.fps is None


def test_no_note_when_everything_matches():
    notes: list[str] = []
    src = open_camera(FakeCapture(), width=1280, height=720, fps=30, fourcc="YUYV", notify=notes.append)
    assert notes == [] and src.note is None
    src = open_camera(FakeCapture(offers={"fps": 29.97}), fps=30, notify=notes.append)  # within 1 %
    assert notes == []


def test_opening_failures_are_one_line_source_errors():
    fake = FakeCapture(opened=False)
    with pytest.raises(SourceError, match=r"^cannot open camera .* \(busy or not a capture device\)$") as info:
        open_camera(fake)
    assert not isinstance(info.value, SourceLost)
    assert fake.released
    fake = FakeCapture(first_ok=False)
    with pytest.raises(SourceError, match="opened but delivers no frames"):
        open_camera(fake)
    assert fake.released


def test_default_capture_still_checks_the_device_exists():
    with pytest.raises(SourceError, match="camera /dev/video-nowhere not found"):
        CameraSource("/dev/video-nowhere")


# -- frames and loss -----------------------------------------------------------------------------

def test_frames_have_increasing_ms_timestamps_and_420_planes():
    fake = FakeCapture(script=["frame"] * 4)
    src = open_camera(fake, width=320, height=240)
    packets = []
    with pytest.raises(SourceLost):
        for packet in src:
            packets.append(packet)
    assert [p.index for p in packets] == [0, 1, 2, 3, 4]
    pts = [p.pts for p in packets]
    assert pts[0] == 0 and pts == sorted(pts)
    assert all(p.time_base == camera_mod.MS for p in packets)
    assert packets[0].planes.size == (240, 320)
    assert packets[0].planes.chroma_size == (120, 160)
    assert src.stats.frames == 5
    src.close()
    assert fake.released


def test_lost_after_consecutive_failures():
    fake = FakeCapture(script=["frame", "fail", "fail", "frame"])  # then every read fails
    src = open_camera(fake, clock=FakeClock())
    frames = 0
    with pytest.raises(SourceLost) as info:
        for _ in src:
            frames += 1
    assert str(info.value) == f"camera {DEVICE} stopped delivering frames"
    assert frames == 3
    assert src.stats.bad_frames == 2 + MAX_CONSECUTIVE_FAILURES  # the two early failures counted too
    assert fake.reads == 1 + 4 + MAX_CONSECUTIVE_FAILURES


def test_lost_after_two_seconds_without_a_frame():
    clock = FakeClock()
    fake = FakeCapture(script=["frame"], clock=clock, read_s=0.5)
    src = open_camera(fake, clock=clock)
    frames = 0
    with pytest.raises(SourceLost):
        for _ in src:
            frames += 1
    assert frames == 2
    failures = int(LOST_AFTER_S / 0.5)
    assert failures < MAX_CONSECUTIVE_FAILURES
    assert src.stats.bad_frames == failures


def test_time_spent_downstream_does_not_count_as_silence():
    clock = FakeClock()
    fake = FakeCapture(script=["frame", "fail", "frame"], clock=clock)
    src = open_camera(fake, clock=clock)
    frames = 0
    with pytest.raises(SourceLost):
        for _ in src:
            frames += 1
            clock.now += 10  # a slow consumer between frames
    assert frames == 3


def test_cv2_error_counts_as_a_failure():
    fake = FakeCapture(script=["raise", "frame"] + ["raise"] * MAX_CONSECUTIVE_FAILURES)
    src = open_camera(fake, clock=FakeClock())
    frames = sum(1 for _ in _until_lost(src))
    assert frames == 2
    assert src.stats.bad_frames == 1 + MAX_CONSECUTIVE_FAILURES


def test_interrupt_ends_iteration_quietly():
    fake = FakeCapture(script=["frame"] * 100)
    src = open_camera(fake)
    got = []
    for packet in src:
        got.append(packet)
        if len(got) == 3:
            src.interrupt()
    assert len(got) == 3


def test_interrupt_during_failures_is_not_a_loss():
    fake = FakeCapture()  # every read after the first fails
    src = open_camera(fake, clock=FakeClock())
    it = iter(src)
    next(it)
    src.interrupt()
    assert list(it) == []


def _until_lost(src):
    try:
        yield from src
    except SourceLost:
        return


# -- formats -------------------------------------------------------------------------------------

# Built from libavdevice/v4l2.c: list_formats prints "Raw       : %11s : %20s :" or
# "Compressed: %11s : %20s :", maybe " Emulated :", then list_framesizes " %ux%u" per size or
# " {%u-%u, %u}x{%u-%u, %u}" for a stepwise range, then "\n". Older FFmpeg used %9s for the name.
PREFIX = "[video4linux2,v4l2 @ 0x55f1c3a4b2c0] "


def line(kind: str, name: str, description: str, sizes: str = "", width: int = 11) -> str:
    """One format as list_formats prints it, e.g. ``"Raw       : %11s : %20s :"`` then the sizes."""
    return f"{kind + ' ' * (10 - len(kind))}: {name:>{width}} : {description:>20} :{sizes}"


FFMPEG_LINES = [
    "Input #0, video4linux2,v4l2, from '/dev/video0':",  # not a format line
    PREFIX + line("Raw", "yuyv422", "YUYV 4:2:2", " 640x480 1280x720"),
    PREFIX + line("Compressed", "mjpeg", "Motion-JPEG", " 640x480 1280x720 1920x1080"),
    line("Raw", "nv12", "Y/UV 4:2:0", " {16-1920, 8}x{16-1080, 8}"),
    line("Raw", "yuv420p", "Planar YVU 4:2:0", " Emulated : 640x480", width=9),
    line("Compressed", "h264", "H.264"),
    line("Raw", "Unsupported", "Y/UV 4:2:2", " 320x240"),
    line("Raw", "Unsupported", "Vendor thing 7", " 320x240"),
    PREFIX + "Immediate exit requested",
    "",
]


def test_format_lines_look_like_ffmpeg_s():
    assert line("Raw", "yuyv422", "YUYV 4:2:2") == "Raw       :     yuyv422 :           YUYV 4:2:2 :"
    assert line("Compressed", "mjpeg", "Motion-JPEG") == "Compressed:       mjpeg :          Motion-JPEG :"


def test_parse_v4l2_formats():
    modes = parse_v4l2_formats(FFMPEG_LINES)
    assert [(m.fourcc, m.description, m.compressed) for m in modes] == [
        ("YUYV", "YUYV 4:2:2", False),
        ("MJPG", "Motion-JPEG", True),
        ("NV12", "Y/UV 4:2:0", False),
        ("YV12", "Planar YVU 4:2:0", False),  # yuv420p, but the description says which
        ("H264", "H.264", True),
        ("NV16", "Y/UV 4:2:2", False),  # FFmpeg has no name for it; the kernel's description does
        (None, "Vendor thing 7", False),
    ]
    yuyv, mjpg, nv12, yv12, h264, _, vendor = modes
    assert yuyv.sizes == ((640, 480), (1280, 720)) and yuyv.ranges == ()
    assert mjpg.describe() == "MJPG Motion-JPEG: 640x480, 1280x720, 1920x1080"
    assert nv12.sizes == () and nv12.ranges == (SizeRange(16, 1920, 8, 16, 1080, 8),)
    assert nv12.describe() == "NV12 Y/UV 4:2:0: 16x16 to 1920x1080 in steps of 8x8"
    assert yv12.emulated and yv12.sizes == ((640, 480),) and yv12.ffmpeg_name == "yuv420p"
    assert h264.describe() == "H264 H.264: sizes not listed"
    assert vendor.describe() == "???? Vendor thing 7 (FFmpeg: Unsupported): 320x240"


def test_parse_ignores_everything_else():
    assert parse_v4l2_formats(["", "Raw", "Raw :", "Stream #0:0: Video: rawvideo", "640x480"]) == []


def test_camera_modes_captures_ffmpeg_log_pieces(monkeypatch):
    """Stand-in for av.open that logs the listing in FFmpeg's pieces and exits as FFmpeg does."""
    opened = {}

    def fake_open(path, format=None, options=None):
        opened.update(path=path, format=format, options=options)
        for piece in [line("Raw", "yuyv422", "YUYV 4:2:2"), " 640x480", " 640x480", "\n",
                      line("Compressed", "mjpeg", "Motion-JPEG"), " 1280x720", "\n"]:
            av.logging.log(av.logging.INFO, "video4linux2,v4l2", piece)
        raise av.error.ExitError(1414092869, "Immediate exit requested")

    monkeypatch.setattr(av, "open", fake_open)
    before = av.logging.get_level()
    modes = camera_modes("/dev/video0")
    assert opened == {"path": "/dev/video0", "format": "v4l2", "options": {"list_formats": "all"}}
    assert [m.describe() for m in modes] == ["YUYV YUYV 4:2:2: 640x480, 640x480", "MJPG Motion-JPEG: 1280x720"]
    assert av.logging.get_level() == before


def test_camera_modes_of_something_that_is_not_a_camera():
    with pytest.raises(SourceError) as info:
        camera_modes("/dev/null")
    assert str(info.value).startswith("cannot list the formats of /dev/null: ")
    assert "\n" not in str(info.value)


# -- doctor --------------------------------------------------------------------------------------

def test_doctor_lists_cameras_and_their_formats(monkeypatch, capsys):
    def fake_modes(path):
        if path == "/dev/video1":
            raise SourceError("cannot list the formats of /dev/video1: Not a video capture device.")
        return [CameraMode("MJPG", "Motion-JPEG", "mjpeg", True, sizes=((640, 480), (1280, 720), (1920, 1080)))]

    cams = [("/dev/video0", "HD Webcam"), ("/dev/video1", "HD Webcam")]
    monkeypatch.setattr(camera_mod, "list_cameras", lambda: cams)
    monkeypatch.setattr(camera_mod, "camera_modes", fake_modes)
    doctor._cameras()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cameras")
    assert lines[1].split() == ["/dev/video0", "HD", "Webcam"]
    assert lines[2].strip() == "MJPG Motion-JPEG: 640x480, 1280x720, 1920x1080"
    assert lines[3].split()[0] == "/dev/video1"
    assert lines[4].strip() == ("formats not readable: cannot list the formats of /dev/video1: "
                                "Not a video capture device.")
    assert len(lines) == 5


def test_doctor_with_no_camera(monkeypatch, capsys):
    monkeypatch.setattr(camera_mod, "list_cameras", lambda: [])
    doctor._cameras()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "none found" in out[1]
