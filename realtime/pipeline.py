"""The ordered classical stages (and the refiner slot) applied to one frame at a time.

A frame enters as BGR, is uploaded to the chosen backend and converted to YCrCb once, passes
through every enabled stage's YCrCb kernel, and is converted back and downloaded once. Every
stage is luma-aware, so this saves one BGR<->YCrCb round trip per stage without changing the
BGR contract at the pipeline's edges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from realtime.backends import Backend, download, upload
from realtime.frames import FramePacket
from realtime.refiner.base import Refiner
from realtime.stages import Stage
from realtime.stages.color import to_bgr, to_ycc

COLOR_TIMING = "color"  # the two colour conversions, reported as one pseudo-stage
TRANSFER_TIMING = "transfer"  # upload + download for device backends
REFINER_TIMING = "refiner"


class Pipeline:
    """Runs on one thread; ``set_enabled`` may be called from another (the window's keys)."""

    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        backend: Backend = Backend.NUMPY,
        refiner: Refiner | None = None,
        keep_original: bool = False,
    ) -> None:
        self.stages = list(stages)
        self.backend = backend
        self.refiner = refiner
        self.keep_original = keep_original
        self._enabled = tuple(True for _ in self.stages)
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def enabled(self) -> tuple[bool, ...]:
        return self._enabled

    def set_enabled(self, position: int, enabled: bool) -> None:
        with self._lock:
            flags = list(self._enabled)
            flags[position] = enabled
            self._enabled = tuple(flags)

    def toggle(self, position: int) -> None:
        if 0 <= position < len(self.stages):
            self.set_enabled(position, not self._enabled[position])

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()
        if self.refiner is not None:
            self.refiner.reset()

    def describe(self) -> str:
        stages = " -> ".join(self.names) or "(no stages)"
        refiner = self.refiner.name if self.refiner else "none (classical stages only)"
        return f"stages: {stages}; backend: {self.backend.value}; refiner: {refiner}"

    def process(self, packet: FramePacket) -> FramePacket:
        """Enhance ``packet.image`` in place of the packet (the array itself is never mutated)."""
        timings = packet.timings
        original = packet.image
        active = [s for s, on in zip(self.stages, self._enabled, strict=True) if on]
        img = original
        if active:
            t = time.perf_counter_ns()
            dev = upload(original, self.backend)
            t_up = time.perf_counter_ns()
            ycc = to_ycc(dev)
            color_ns = time.perf_counter_ns() - t_up
            for stage in active:
                t0 = time.perf_counter_ns()
                ycc = stage.apply_ycc(ycc)
                timings[stage.name] = (time.perf_counter_ns() - t0) / 1e6
            t0 = time.perf_counter_ns()
            bgr = to_bgr(ycc)
            t1 = time.perf_counter_ns()
            img = download(bgr)
            t2 = time.perf_counter_ns()
            timings[COLOR_TIMING] = (color_ns + t1 - t0) / 1e6
            if self.backend is not Backend.NUMPY:
                timings[TRANSFER_TIMING] = (t_up - t + t2 - t1) / 1e6
        if self.refiner is not None:
            t0 = time.perf_counter_ns()
            img = self.refiner(img, original)
            timings[REFINER_TIMING] = (time.perf_counter_ns() - t0) / 1e6
        packet.image = img
        if self.keep_original:
            packet.original = original
        return packet
