"""The ordered classical stages (and the refiner slot) applied to one frame at a time.

Frames arrive as planar Y'CbCr straight from the decoder (or as BGR from images and cameras,
converted once to 4:4:4 planes). The planes are uploaded to the chosen backend once, pass through
every enabled stage, and are downloaded once; BGR is only made where something needs it (the
refiner, a window, an image file). Every stage works on the plane it needs (luma, or chroma at its
own resolution), so no stage pays for a colour conversion or a plane copy it does not need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from realtime.backends import Backend
from realtime.frames import FramePacket
from realtime.planes import download, upload
from realtime.refiner.base import Refiner
from realtime.stages import Stage
from realtime.stages.color import planes_from_bgr

COLOR_TIMING = "color"  # BGR -> planes for sources that deliver BGR
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
        """Enhance the packet's pixels (the arrays it arrived with are never mutated)."""
        timings = packet.timings
        original = packet.planes if packet.planes is not None else packet.image
        active = [s for s, on in zip(self.stages, self._enabled, strict=True) if on]
        if active:
            planes = packet.planes
            if planes is None:
                t0 = time.perf_counter_ns()
                planes = planes_from_bgr(packet.image)
                timings[COLOR_TIMING] = (time.perf_counter_ns() - t0) / 1e6
            t0 = time.perf_counter_ns()
            dev = upload(planes, self.backend.array_type)
            transfer_ns = time.perf_counter_ns() - t0
            for stage in active:
                t0 = time.perf_counter_ns()
                dev = stage.apply_planes(dev)
                timings[stage.name] = (time.perf_counter_ns() - t0) / 1e6
            t0 = time.perf_counter_ns()
            packet.set_planes(download(dev))
            transfer_ns += time.perf_counter_ns() - t0
            if self.backend is not Backend.NUMPY:
                timings[TRANSFER_TIMING] = transfer_ns / 1e6
        if self.refiner is not None:
            t0 = time.perf_counter_ns()
            original_bgr = original if isinstance(original, np.ndarray) else original.to_bgr()
            packet.image = self.refiner(packet.image, original_bgr)
            timings[REFINER_TIMING] = (time.perf_counter_ns() - t0) / 1e6
        if self.keep_original:
            packet.original = original
        return packet
