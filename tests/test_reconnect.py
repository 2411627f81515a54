"""A lost camera or stream, retried with backoff until it returns or --camera-timeout passes.

What is simulated: the camera. ``FlakyCamera`` delivers some frames and then raises ``SourceLost``
as ``CameraSource`` does when reads stop; the opener fails a scripted number of times before a
camera answers again, and the clock and the waits are a fake clock, so a 20-second outage takes
no time. What is real and under test: ``Reconnecting`` (the retry logic, the status it reports,
the timeline it keeps) driving the real ``Runner``, writing a real video file with ``MediaSink``.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from realtime.errors import SourceError, SourceLost
from realtime.frames import FramePacket, PassthroughPacket
from realtime.pipeline import Pipeline
from realtime.runner import Runner
from realtime.sinks.media import MediaSink
from realtime.sinks.null import NullSink
from realtime.sources.base import SourceInfo, SourceStats
from realtime.sources.reconnect import BACKOFF_S, Reconnecting
from tests.media import read_video

MS = Fraction(1, 1000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []
        self.statuses: list[str] = []
        self.on_wait = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        if self.on_wait is not None:
            return bool(self.on_wait())
        return False


class FlakyCamera:
    """``frames`` frames 40 ms apart (ms timestamps from its own start, as a camera's), then lost."""

    def __init__(self, frames: int, clock: FakeClock, *, lost: bool = True, size: tuple[int, int] = (32, 24),
                 audio: int = 0) -> None:
        self.frames, self.clock, self.lost, self.audio = frames, clock, lost, audio
        # not live, so the runner keeps every frame and the counts below are exact (a live source's
        # frames may be dropped to keep up, which tests/test_queues_runner.py tests)
        self.info = SourceInfo(name="/dev/video9", width=size[0], height=size[1], live=False, fps=Fraction(25),
                               time_base=MS, kind="camera")
        self.stats = SourceStats()
        self.closed = False

    def __iter__(self):
        for _ in range(self.audio):
            yield PassthroughPacket(packet=object(), stream_index=1)
        for i in range(self.frames):
            self.clock.now += 0.04
            self.stats.frames += 1
            img = np.full((self.info.height, self.info.width, 3), 60 + i, np.uint8)
            yield FramePacket(image=img, index=i, pts=40 * i, time_base=MS)
        if self.lost:
            raise SourceLost(f"camera {self.info.name} stopped delivering frames")

    def close(self) -> None:
        self.closed = True


class Opener:
    """Hands out the cameras of ``script`` in turn; an exception in it is raised instead (unplugged)."""

    def __init__(self, script: list) -> None:
        self.script, self.opened = list(script), []

    def __call__(self):
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        self.opened.append(item)
        return item


def test_a_lost_camera_is_retried_with_backoff_and_the_run_goes_on(tmp_path) -> None:
    clock = FakeClock()
    first, second = FlakyCamera(10, clock), FlakyCamera(15, clock, lost=False)
    unplugged = SourceError("camera /dev/video9 not found (cameras found: none)")
    opener = Opener([first, unplugged, unplugged, unplugged, second])
    lines: list[str] = []
    source = Reconnecting(opener, "camera /dev/video9", timeout_s=30, notify=lines.append, clock=clock,
                          sleep=clock.sleep)
    clock.on_wait = lambda: clock.statuses.append(source.stats.status)
    out = tmp_path / "cam.mkv"
    sink = MediaSink(str(out), source.info)
    report = Runner(source, Pipeline([]), [sink]).run()

    assert report.frames_read == report.frames_written == 25  # every frame of both connections
    assert source.stats.reconnects == report.reconnects == 1 and source.stats.status == ""
    assert first.closed and second.closed
    assert clock.waits == list(BACKOFF_S[:4])  # 0.5, 1, 2, 4: three failures, then it answered
    # while it was away, the status (which the HUD and the status line show) said so
    assert clock.statuses[0] == "camera /dev/video9 lost, reconnecting…"
    assert all("reconnecting" in s for s in clock.statuses)
    assert lines[0] == ("camera /dev/video9 stopped delivering frames; reconnecting for up to 30 s "
                        "(--camera-timeout)")
    assert lines[1] == "camera /dev/video9: back after 7.5 s (reconnect 1)"
    # one timeline: the second camera's frames come 7.5 s (the outage) after the first camera's last
    times, images, _ = read_video(out)
    assert len(times) == 25 and all(b > a for a, b in itertools.pairwise(times))
    assert times[9] == Fraction(360, 1000)
    assert times[10] - times[9] == pytest.approx(7.5, abs=0.002)
    assert int(images[10][5, 5].mean()) == pytest.approx(60, abs=3)  # the new camera's first frame


def test_the_run_fails_with_one_line_when_the_timeout_passes_first() -> None:
    clock = FakeClock()
    gone = SourceError("camera /dev/video9 not found (cameras found: none)")
    source = Reconnecting(Opener([FlakyCamera(5, clock)] + [gone] * 50), "camera /dev/video9", timeout_s=20,
                          clock=clock, sleep=clock.sleep)
    sink = NullSink()
    with pytest.raises(SourceLost) as err:
        Runner(source, Pipeline([]), [sink]).run()
    assert str(err.value) == ("camera /dev/video9 did not come back within 20 s (--camera-timeout; last: "
                              "camera /dev/video9 not found (cameras found: none))")
    assert sum(clock.waits) == pytest.approx(20)  # backoff up to 8 s, the last wait cut to the deadline
    assert clock.waits[:5] == list(BACKOFF_S) and max(clock.waits) == 8.0
    assert sink.close().frames == 5  # what came before the loss was written


def test_a_stop_while_waiting_ends_the_run_cleanly() -> None:
    clock = FakeClock()
    source = Reconnecting(Opener([FlakyCamera(5, clock)] + [SourceError("busy")] * 50), "camera /dev/video9",
                          timeout_s=30, clock=clock, sleep=clock.sleep)
    runner = Runner(source, Pipeline([]), [NullSink()])

    def stop() -> bool:
        if len(clock.waits) == 3:
            runner.stop()  # Ctrl-C during the third wait
        return source._stop.is_set()

    clock.on_wait = stop
    report = runner.run()
    assert report.frames_written == 5 and len(clock.waits) == 3


def test_timeout_zero_turns_reconnecting_off() -> None:
    clock = FakeClock()
    opener = Opener([FlakyCamera(3, clock), FlakyCamera(3, clock)])
    source = Reconnecting(opener, "camera /dev/video9", timeout_s=0, clock=clock, sleep=clock.sleep)
    with pytest.raises(SourceLost):
        list(source)
    assert clock.waits == [] and len(opener.opened) == 1


def test_a_camera_back_at_another_size_stops_the_run_with_one_line() -> None:
    clock = FakeClock()
    opener = Opener([FlakyCamera(3, clock), FlakyCamera(3, clock, size=(64, 48))])
    source = Reconnecting(opener, "camera /dev/video9", clock=clock, sleep=clock.sleep)
    with pytest.raises(SourceError, match="came back at 64x48, not the 32x24 the run began with"):
        list(source)


def test_audio_is_not_carried_across_a_reconnect() -> None:
    clock = FakeClock()
    opener = Opener([FlakyCamera(2, clock, audio=2), FlakyCamera(2, clock, audio=2, lost=False)])
    items = list(Reconnecting(opener, "rtmp://host/live", clock=clock, sleep=clock.sleep))
    assert sum(isinstance(x, PassthroughPacket) for x in items) == 2
    assert sum(isinstance(x, FramePacket) for x in items) == 4
