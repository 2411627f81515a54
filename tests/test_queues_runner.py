"""Threading contracts: drop policies, end of stream, error propagation, graceful stop."""

from __future__ import annotations

import sys
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from realtime.errors import SourceError
from realtime.frames import END_OF_STREAM, FramePacket
from realtime.pipeline import Pipeline
from realtime.queues import DropPolicy, FrameQueue, QueueClosed
from realtime.runner import GIL_SWITCH_INTERVAL_S, InternalError, Runner
from realtime.sinks.media import MediaSink
from realtime.sinks.null import NullSink
from realtime.sources.base import SourceInfo, SourceStats
from realtime.sources.media import MediaSource
from realtime.stats import SampleWindow
from tests.media import read_video, write_clip


def _frame(i: int) -> FramePacket:
    return FramePacket(image=np.zeros((8, 8, 3), np.uint8), index=i, pts=i, time_base=Fraction(1, 30))


class ListSource:
    """A real in-memory source (the runner is under test, not the source)."""

    def __init__(self, n: int, *, live: bool, period_s: float = 0.0, fail_at: int | None = None):
        self.n, self.period_s, self.fail_at = n, period_s, fail_at
        self.info = SourceInfo(name="list", width=8, height=8, live=live, fps=Fraction(30),
                               time_base=Fraction(1, 30))
        self.stats = SourceStats()
        self.closed = False

    def __iter__(self):
        for i in range(self.n):
            if self.fail_at == i:
                raise SourceError("camera unplugged")
            if self.period_s:
                time.sleep(self.period_s)  # pace like a camera
            self.stats.frames += 1
            yield _frame(i)

    def close(self):
        self.closed = True


class SlowSink(NullSink):
    def __init__(self, delay_s: float):
        super().__init__()
        self.delay_s = delay_s
        self.indices: list[int] = []

    def write(self, packet):
        time.sleep(self.delay_s)
        self.indices.append(packet.index)
        super().write(packet)


def test_block_queue_never_drops():
    q = FrameQueue(2, DropPolicy.BLOCK)
    got = []

    def consume():
        while (item := q.get()) is not END_OF_STREAM:
            got.append(item.index)
            time.sleep(0.001)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(50):
        q.put(_frame(i))
    q.put_final(END_OF_STREAM)
    t.join(5)
    assert got == list(range(50)) and q.dropped == 0


def test_latest_queue_drops_oldest_and_counts():
    q = FrameQueue(2, DropPolicy.LATEST)
    for i in range(5):
        q.put(_frame(i))
    assert q.dropped == 3
    assert [q.get().index, q.get().index] == [3, 4]


def test_latest_never_drops_end_of_stream():
    q = FrameQueue(1, DropPolicy.LATEST)
    q.put(_frame(0))
    q.put_final(END_OF_STREAM)
    q.put(_frame(1))  # drops frame 0, not the marker
    assert q.get() is END_OF_STREAM
    assert q.get().index == 1


def test_cancel_wakes_blocked_producer():
    q = FrameQueue(1, DropPolicy.BLOCK)
    q.put(_frame(0))
    errors = []

    def produce():
        try:
            q.put(_frame(1))
        except QueueClosed:
            errors.append("closed")

    t = threading.Thread(target=produce)
    t.start()
    time.sleep(0.05)
    q.cancel()
    t.join(2)
    assert errors == ["closed"]


def test_live_source_slow_sink_drops_and_counts():
    source = ListSource(60, live=True, period_s=0.002)
    sink = SlowSink(0.02)
    report = Runner(source, Pipeline([]), [sink]).run()
    assert report.dropped > 0
    assert report.frames_written + report.dropped == 60
    assert sink.indices == sorted(sink.indices)  # drops never reorder
    assert sink.indices[-1] == 59  # the newest frame always gets through


def test_file_source_slow_sink_never_drops():
    source = ListSource(40, live=False)
    sink = SlowSink(0.002)
    report = Runner(source, Pipeline([]), [sink]).run()
    assert report.dropped == 0
    assert sink.indices == list(range(40))


def test_run_shortens_the_gil_switch_interval_and_restores_it():
    seen: list[float] = []

    class IntervalSink(NullSink):
        def write(self, packet):
            seen.append(sys.getswitchinterval())
            super().write(packet)

    before = sys.getswitchinterval()
    Runner(ListSource(5, live=False), Pipeline([]), [IntervalSink()]).run()
    assert seen == [min(before, GIL_SWITCH_INTERVAL_S)] * 5
    assert sys.getswitchinterval() == before


def test_sample_window_keeps_the_last_samples_in_fixed_memory():
    window = SampleWindow(5)
    assert len(window) == 0 and window.values().size == 0
    buffer = window.values().base
    for value in range(1, 8):
        window.append(float(value))
    assert len(window) == 5
    assert sorted(window.values().tolist()) == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert window.values().base is buffer  # the same array from the first sample to the last


def test_report_percentiles_come_from_the_timing_windows():
    report = Runner(ListSource(30, live=False), Pipeline([]), [NullSink()]).run()
    assert report.latency is not None and report.latency_ms is not None
    assert 0.0 <= report.latency.median <= report.latency.p95 <= report.latency.p99
    assert report.latency.median == report.latency_ms


def test_source_error_reaches_main_thread_with_sink_closed():
    source = ListSource(20, live=False, fail_at=7)
    sink = NullSink()
    with pytest.raises(SourceError, match="camera unplugged"):
        Runner(source, Pipeline([]), [sink]).run()
    assert source.closed


def test_unexpected_error_is_wrapped_with_cause():
    class Broken(NullSink):
        def write(self, packet):
            raise ZeroDivisionError("bug")

    with pytest.raises(InternalError) as info:
        Runner(ListSource(5, live=False), Pipeline([]), [Broken()]).run()
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_stop_mid_file_leaves_playable_output(tmp_path):
    """A graceful stop (what Ctrl-C does) drains, flushes and leaves every read frame in the file."""
    src = write_clip(tmp_path / "long.mp4", frames=120, width=160, height=120, audio=True)
    source = MediaSource(str(src.path), live=False)
    sink = MediaSink(str(tmp_path / "out.mp4"), source.info)
    holder = {}

    def on_written(packet, stats):
        if packet.index == 30:
            holder["runner"].stop()

    runner = Runner(source, Pipeline([]), [sink], on_written=on_written)
    holder["runner"] = runner
    report = runner.run()
    assert report.interrupted
    assert 30 < report.frames_written < 120
    assert report.frames_written == report.frames_read  # everything read was written
    times, _, _ = read_video(tmp_path / "out.mp4")
    assert len(times) == report.frames_written
