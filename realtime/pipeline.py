"""The ordered classical stages (and the refiner slot) applied to one frame at a time.

Frames arrive as planar Y'CbCr straight from the decoder (or as BGR from images and cameras,
converted once to 4:4:4 planes). The planes are uploaded to the chosen backend once, pass through
every enabled stage, and are downloaded once; the refiner runs before that download on OpenCL
(its apply is OpenCV calls that take ``cv2.UMat``) and on the host planes otherwise. BGR is
only made where something needs it (a window, an image file). Every stage works on the plane it
needs (luma, or chroma at its own resolution), so no stage pays for a colour conversion or a plane
copy it does not need.
"""

from __future__ import annotations

import itertools
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
# Rough relative cost of each stage per pixel, measured at 720p; only used to balance threads.
STAGE_COST = {"contrast": 1.0, "clahe": 4.5, "denoise": 3.5, "sharpen": 1.5}
#: The refiner has a slot of its own after the stages, so a thread can run it alone; measured like
#: the stages (720p, 2 cores: 6.3 ms against denoise's 4.3).
REFINER_COST = 5.0


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

    def split(self, parts: int) -> list[range]:
        """Stage positions cut into at most ``parts`` contiguous segments of similar cost.

        Each segment runs on its own thread (stage pipelining): on a 2-core machine one thread
        running every stage leaves a core idle whenever an OpenCV call is not parallel inside.
        Every stage stays on one thread, so temporal state needs no locking.
        """
        n = self.slots
        parts = max(1, min(parts, n))
        if parts == 1:
            return [range(n)]
        costs = [STAGE_COST.get(s.name, 1.0) for s in self.stages]
        if self.refiner is not None and self.backend is Backend.OPENCL:
            # refined on the device before the frame's one download: on the last stage's thread
            costs[-1] += REFINER_COST
        elif self.refiner is not None:
            costs.append(REFINER_COST)
        total = sum(costs)
        bounds, acc, k = [0], 0.0, 1
        for i, c in enumerate(costs[:-1]):
            acc += c
            if k < parts and acc >= total * k / parts:
                bounds.append(i + 1)
                k += 1
        bounds.append(n)
        return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]

    @property
    def slots(self) -> int:
        """Positions a segment covers: one per stage, then the refiner's own when there is one."""
        return len(self.stages) + (self.refiner is not None)

    def process(self, packet: FramePacket, segment: range | None = None) -> FramePacket:
        """Run the enabled stages of ``segment`` (all by default) on the packet's pixels.

        The first segment turns BGR into planes and uploads them; the one holding the last stage
        downloads them, and the one holding the refiner's slot runs it (on OpenCL, before the
        download when both are in one segment). The arrays the packet arrived with are never mutated.
        """
        n = len(self.stages)
        segment = range(self.slots) if segment is None else segment
        first = segment.start == 0
        ends_stages = segment.start < n <= segment.stop  # holds the last stage: download after it
        runs_refiner = self.refiner is not None and n in segment
        timings = packet.timings
        if first:
            packet.original = packet.planes if packet.planes is not None else packet.image
        enabled = self._enabled
        active = [self.stages[i] for i in segment if i < n and enabled[i]]
        refined = False
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
            if ends_stages:
                if runs_refiner and self.backend is Backend.OPENCL:
                    # the refiner's apply is OpenCV calls that take UMat too: refine on the device
                    # and download once, after it
                    dev = self._refine(dev, packet)
                    refined = True
                t0 = time.perf_counter_ns()
                dev = download(dev)
                transfer_ns += time.perf_counter_ns() - t0
            packet.set_planes(dev)
            if self.backend is not Backend.NUMPY:
                timings[TRANSFER_TIMING] = timings.get(TRANSFER_TIMING, 0.0) + transfer_ns / 1e6
        elif ends_stages and packet.planes is not None:
            packet.set_planes(download(packet.planes))
        if runs_refiner and not refined:
            planes = packet.planes if packet.planes is not None else planes_from_bgr(packet.image)
            packet.set_planes(self._refine(planes, packet))
        if segment.stop == self.slots and not self.keep_original:
            packet.original = None
        return packet

    def _refine(self, planes, packet: FramePacket):
        """The refiner on ``planes`` (host or OpenCL), timed; the original frame as the refiner wants it."""
        assert self.refiner is not None
        t0 = time.perf_counter_ns()
        original = packet.original
        if original is None:
            original = download(planes)
        elif isinstance(original, np.ndarray):
            original = planes_from_bgr(original)
        out = self.refiner(planes, original)
        packet.timings[REFINER_TIMING] = (time.perf_counter_ns() - t0) / 1e6
        return out
