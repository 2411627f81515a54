"""Wires source → pipeline → sinks on threads joined by bounded queues.

    grabber --q_in--> pipeline thread(s) --q_out--> writer thread (owns every sink)
                        \\--display queue (LATEST, 1)--> main thread (window)

The stages are split into (by default two) contiguous segments, each on its own thread joined
by a queue like the others, so on two cores neither core idles while the other runs a
single-threaded OpenCV call.

Files use ``BLOCK`` queues (lossless); live sources use ``LATEST`` (the oldest frame is dropped
and counted so latency stays bounded). A worker that fails sends its exception downstream; the
writer always closes its sinks (flushing encoders) and the main thread re-raises the error.
``stop()`` (Ctrl-C, SIGTERM, the window's q key) stops reading; what was read is still processed
and written.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

import cv2

from realtime.cores import available_cores
from realtime.errors import RealtimeError
from realtime.frames import END_OF_STREAM, FramePacket, PassthroughPacket, WorkerFailure
from realtime.pipeline import Pipeline
from realtime.queues import DropPolicy, FrameQueue, QueueClosed
from realtime.sinks.base import Sink
from realtime.sources.base import Source
from realtime.stats import LiveStats, Percentiles, RunReport, SampleWindow, SinkReport

# After a stop request, how long the grabber may stay blocked in a read (a silent network peer)
# before end of stream is forced so what was read can still be written.
GRABBER_STOP_TIMEOUT_S = 5.0
#: The interpreter's GIL switch interval while a run goes on (Python's default is 5 ms). Every
#: thread here spends its time in C calls that release the GIL and must take it back to start the
#: next one; when another thread holds it, the shorter interval hands it over sooner. Measured on
#: the 2-core bench machine (720p, full pipeline, 5 interleaved runs each, twice): 4-6% more fps
#: and 4-7% less CPU per frame than with 5 ms.
GIL_SWITCH_INTERVAL_S = 0.001
#: with no new frame, the window redraws the last one this often (status changes, key presses)
REDRAW_IDLE_S = 0.25
#: After a stop, how long a write to a stream or a pipe may stay blocked before the run gives up on
#: that output (a peer that stopped reading): the first Ctrl-C ends a run in bounded time.
STOP_GIVE_UP_S = 8.0
#: how often the main thread looks at the writes' clocks while it waits for the writer
WATCH_INTERVAL_S = 0.2
#: Runners whose writer thread was left blocked inside a sink. Kept referenced for the life of the
#: process: freeing the sink's container would write its trailer, or free memory the blocked thread
#: is using. The command line ends the process at once after such a run (see ``abandoned_writes``).
_ABANDONED: list[Runner] = []


def abandoned_writes() -> bool:
    """Whether a run of this process gave up on a blocked write (the command line then exits at once:
    interpreter shutdown would free the blocked sink under its writer)."""
    return bool(_ABANDONED)


class InternalError(RealtimeError):
    """A bug in a worker thread; carries the original exception as its cause."""

    exit_code = 70


class Display(Protocol):
    """Something the main thread shows frames in (the OpenCV window)."""

    def show(self, packet: FramePacket, stats: LiveStats) -> None: ...

    def poll(self, timeout_s: float) -> bool:
        """Pump window events for up to ``timeout_s``; False when the user asked to quit."""
        ...

    def close(self) -> None: ...


class Runner:
    def __init__(
        self,
        source: Source,
        pipeline: Pipeline,
        sinks: list[Sink],
        *,
        display: Display | None = None,
        queue_size: int | None = None,
        max_frames: int | None = None,
        pipeline_threads: int = 2,
        on_written: Callable[[FramePacket, LiveStats], None] | None = None,
        warmup_frames: int = 0,
    ) -> None:
        self.source = source
        # the first frames pay for cold caches, lazy initialisation and filling the queues: a
        # benchmark leaves them out of its timings (they are still processed and written)
        self.warmup_frames = warmup_frames
        self._t_steady: int | None = None
        self._t_last: int | None = None
        self.pipeline = pipeline
        self.sinks = sinks
        self.display = display
        self.max_frames = max_frames
        self.on_written = on_written
        live = source.info.live
        policy = DropPolicy.LATEST if live else DropPolicy.BLOCK
        size = queue_size or (2 if live else 8)
        self.segments = pipeline.split(pipeline_threads)
        # queues[0] feeds the first pipeline thread, queues[-1] feeds the writer
        self.queues = [FrameQueue(size, policy) for _ in range(len(self.segments) + 1)]
        self.q_in, self.q_out = self.queues[0], self.queues[-1]
        self.q_display = FrameQueue(1, DropPolicy.LATEST) if display else None
        self.stats = LiveStats()
        self._stop = threading.Event()
        self._stopped_at: float | None = None
        self._abandoned = False
        self.started = False
        self._interrupted = False
        self._failure: WorkerFailure | None = None
        self._samples: dict[str, SampleWindow] = {}
        self._latency = SampleWindow()
        self._sink_reports: list[SinkReport] = []
        self._grabber = threading.Thread(target=self._grab, name="grabber", daemon=True)
        self._workers = [
            threading.Thread(target=self._process, args=(i,), name=f"pipeline-{i}", daemon=True)
            for i in range(len(self.segments))
        ]
        self._writer = threading.Thread(target=self._write, name="writer", daemon=True)

    # -- control ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Graceful stop: read no more; process and write what was read; flush.

        Safe to call from a signal handler. A grabber blocked in a read (a silent network peer)
        cannot see the request, so a watchdog ends the stream for it after a grace period.
        """
        if self._stop.is_set() and self._interrupted:
            return
        self._interrupted = True
        self._stopped_at = self._stopped_at or time.monotonic()
        for sink in self.sinks:
            watch = getattr(sink, "watch", None)
            if watch is not None:
                watch.stopped = True
        self._stop.set()
        # a source waiting on purpose (pacing, a reconnect's backoff) is woken to see the stop
        interrupt = getattr(self.source, "interrupt", None)
        if interrupt is not None:
            interrupt()
        watchdog = threading.Timer(GRABBER_STOP_TIMEOUT_S, self._force_end)
        watchdog.daemon = True
        watchdog.start()

    @property
    def dropped(self) -> int:
        return sum(q.dropped for q in self.queues)

    def _force_end(self) -> None:
        if self._grabber.is_alive():
            self.q_in.put_final(END_OF_STREAM)

    def abort(self) -> None:
        """Hard stop (second Ctrl-C): drop queued frames; sinks are still closed and flushed."""
        self.stop()
        self._cancel_all()

    def _cancel_all(self) -> None:
        for q in self.queues:
            q.cancel()

    # -- workers ------------------------------------------------------------------------------
    def _grab(self) -> None:
        frames = 0
        try:
            items = iter(self.source)
            # Check for a stop *before* reading, so every item read is also passed on.
            while not self._stop.is_set():
                try:
                    item = next(items)
                except StopIteration:
                    break
                self.q_in.put(item)
                if isinstance(item, FramePacket):
                    frames += 1
                    if self.max_frames is not None and frames >= self.max_frames:
                        break
        except QueueClosed:
            pass
        except BaseException as e:  # noqa: BLE001 - every failure must reach the main thread
            self.q_in.put_final(WorkerFailure(e, "source"))
            self._stop.set()
        finally:
            self.q_in.put_final(END_OF_STREAM)
            # closing a half-dead source must not hide the real error
            with contextlib.suppress(Exception):
                self.source.close()

    def _process(self, position: int) -> None:
        """Pipeline thread ``position``: runs its segment of the stages, in frame order."""
        q_from, q_to = self.queues[position], self.queues[position + 1]
        segment = self.segments[position]
        last = position == len(self.segments) - 1
        try:
            while True:
                item = q_from.get()
                if item is END_OF_STREAM or isinstance(item, WorkerFailure):
                    q_to.put_final(item)
                    return
                if isinstance(item, PassthroughPacket):
                    q_to.put(item)
                    continue
                try:
                    self.pipeline.process(item, segment)
                except BaseException as e:  # noqa: BLE001
                    self._stop.set()
                    for q in self.queues[: position + 1]:
                        q.cancel()
                    q_to.put_final(WorkerFailure(e, "pipeline"))
                    return
                q_to.put(item)
                if last and self.q_display is not None:
                    self.q_display.put(item)
        except QueueClosed:
            q_to.put_final(END_OF_STREAM)

    def _write(self) -> None:
        failure: WorkerFailure | None = None
        t_first: int | None = None
        try:
            while True:
                item = self.q_out.get()
                if item is END_OF_STREAM:
                    break
                if isinstance(item, WorkerFailure):
                    failure = item
                    break
                if isinstance(item, PassthroughPacket):
                    for sink in self.sinks:
                        sink.write_passthrough(item)
                    continue
                for sink in self.sinks:
                    sink.write(item)
                now = time.perf_counter_ns()
                t_first = t_first or now
                self._record(item, now, t_first)
        except QueueClosed:
            pass
        except BaseException as e:  # noqa: BLE001
            failure = WorkerFailure(e, "writer")
            self._stop.set()
            self._cancel_all()
        finally:
            # unless the main thread gave up on this thread (blocked in a sink) and reported for it
            if not self._abandoned:
                self._close_sinks(failure)

    def _close_sinks(self, failure: WorkerFailure | None) -> None:
        for sink in self.sinks:
            try:
                self._sink_reports.append(sink.close(failed=failure is not None))
            except BaseException as e:  # noqa: BLE001
                failure = failure or WorkerFailure(e, "writer")
        self._failure = failure
        if self.q_display is not None:
            self.q_display.put_final(END_OF_STREAM)

    def _record(self, packet: FramePacket, now: int, t_first: int) -> None:
        st = self.stats
        st.frames_written += 1
        if st.frames_written > 1:
            st.fps = (st.frames_written - 1) / ((now - t_first) / 1e9)
        st.latency_ms = (now - packet.t_capture_ns) / 1e6
        st.dropped = self.dropped
        st.timings = packet.timings
        st.status = self.source.stats.status
        self._t_last = now
        if st.frames_written == self.warmup_frames:
            self._t_steady = now
        if st.frames_written > self.warmup_frames:
            self._latency.append(st.latency_ms)
            for name, ms in packet.timings.items():
                window = self._samples.get(name)
                if window is None:
                    window = self._samples[name] = SampleWindow()
                window.append(ms)
        if self.on_written is not None:
            self.on_written(packet, st)

    # -- main thread --------------------------------------------------------------------------
    def run(self) -> RunReport:
        self.started = True
        # Our threads already keep the cores busy (decode, each pipeline segment, encode). OpenCV's
        # own worker pool on top of them mostly spins and steals time: on 2 cores, one OpenCV
        # thread per call measured 15-20% more fps at 720p and 1080p. Cores beyond our threads
        # are left to OpenCV.
        previous_threads, previous_interval = cv2.getNumThreads(), sys.getswitchinterval()
        cv2.setNumThreads(max(1, available_cores() - len(self._workers) - 1))
        sys.setswitchinterval(min(previous_interval, GIL_SWITCH_INTERVAL_S))
        try:
            return self._run()
        finally:
            cv2.setNumThreads(previous_threads)
            sys.setswitchinterval(previous_interval)

    def _run(self) -> RunReport:
        t0 = time.perf_counter()
        self._grabber.start()
        for worker in self._workers:
            worker.start()
        self._writer.start()
        try:
            if self.display is not None:
                self._display_loop()
            self._join()
        except KeyboardInterrupt:
            # no signal handler of ours is installed (the Python API, a notebook): stop as the
            # command line's first Ctrl-C does, let the writer finalize the output, then re-raise
            self.stop()
            self._join()
            raise
        elapsed = time.perf_counter() - t0
        if self._failure is not None:
            err = self._failure.error
            if isinstance(err, RealtimeError):
                raise err
            raise InternalError(f"the {self._failure.worker} thread failed: {err!r}") from err
        return self.report(elapsed)

    def _join(self) -> None:
        # Signal handlers still run while the main thread waits here (lock waits are interruptible
        # on POSIX); they call stop(), and the writer finishes once the stream has ended. A write
        # blocked past its sink's limit, or still blocked STOP_GIVE_UP_S after a stop, is given up.
        while self._writer.is_alive():
            self._writer.join(timeout=WATCH_INTERVAL_S)
            if self._writer.is_alive() and self._give_up_on_blocked_write():
                break
        for worker in self._workers:
            worker.join(timeout=GRABBER_STOP_TIMEOUT_S)

    def _give_up_on_blocked_write(self) -> bool:
        if self._abandoned:  # given up already (by the window's loop, say): once is enough
            return True
        now = time.monotonic()
        for sink in self.sinks:
            watch = getattr(sink, "watch", None)
            if watch is None:
                continue
            overdue = watch.overdue(now)
            after_stop = (self._stopped_at is not None and now - self._stopped_at > STOP_GIVE_UP_S
                          and watch.blocked(now) > 0)
            if overdue is None and not after_stop:
                continue
            # Only the writer touches sinks, and it is blocked inside this one, so this one alone
            # is reported (the command line and the API open one sink per run).
            self._abandoned = True
            _ABANDONED.append(self)
            self._sink_reports = [sink.abandon()]
            if overdue is not None and self._failure is None:
                self._failure = WorkerFailure(sink.write_timed_out(overdue), "writer")
            self._cancel_all()
            return True
        return False

    def _display_loop(self) -> None:
        """Show frames as they come; with none coming (a camera reconnecting, a paced gap) the last
        one is drawn again a few times a second, so the HUD's status and keys stay live."""
        assert self.display is not None and self.q_display is not None
        last: FramePacket | None = None
        shown_at = watched_at = time.monotonic()
        try:
            while True:
                try:
                    item = self.q_display.get(timeout=1 / 120)
                except TimeoutError:
                    item = None
                if item is END_OF_STREAM:
                    break
                self.stats.status = self.source.stats.status
                now = time.monotonic()
                if isinstance(item, FramePacket):
                    last = item
                if last is not None and (item is not None or now - shown_at >= REDRAW_IDLE_S):
                    self.display.show(last, self.stats)
                    shown_at = now
                if not self.display.poll(0.001):
                    self.stop()
                    break
                if now - watched_at >= WATCH_INTERVAL_S:  # a write blocked for good ends the run here too
                    watched_at = now
                    if self._writer.is_alive() and self._give_up_on_blocked_write():
                        break
        finally:
            self.display.close()

    def report(self, elapsed_s: float) -> RunReport:
        stats = self.source.stats
        stage_stats = {k: Percentiles.of(v.values().tolist()) for k, v in self._samples.items() if len(v)}
        latency = Percentiles.of(self._latency.values().tolist()) if len(self._latency) else None
        return RunReport(
            frames_read=stats.frames,
            frames_written=self.stats.frames_written,
            dropped=self.dropped,
            bad_frames=stats.bad_frames,
            concealed_frames=stats.concealed_frames,
            reconnects=stats.reconnects,
            elapsed_s=elapsed_s,
            interrupted=self._interrupted,
            stage_ms={k: p.median for k, p in stage_stats.items()},
            latency_ms=latency.median if latency else None,
            sinks=self._sink_reports,
            queue_high_water=tuple(q.high_water for q in self.queues),
            stage_stats=stage_stats,
            latency=latency,
            steady_fps=self._steady_fps(elapsed_s),
        )

    def _steady_fps(self, elapsed_s: float) -> float:
        steady = self.stats.frames_written - self.warmup_frames
        if self.warmup_frames == 0 or self._t_steady is None or self._t_last is None or steady <= 0:
            return self.stats.frames_written / elapsed_s if elapsed_s > 0 else 0.0
        span = (self._t_last - self._t_steady) / 1e9
        return steady / span if span > 0 else 0.0
