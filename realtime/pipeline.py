"""The ordered stages (classical, the user's, the learned refiner last) applied to one frame at a time.

Frames arrive as planar Y'CbCr straight from the decoder (or as BGR from images and cameras,
converted once to 4:4:4 planes). Each stage declares the array types its kernels take; the
pipeline puts the planes on the chosen backend for every stage that takes them there and on the
host for one that does not (a user's stage, or the refiner under CUDA), and brings them to the
host after the last one. So on OpenCL the frame is uploaded once, refined on the device and
downloaded once, with no stage and no line here asking which backend it is. BGR is only made
where something needs it (a window, an image file, a user's stage).

Build pipelines with :func:`realtime.assembly.build_pipeline`; this class only runs them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence

import numpy as np

from realtime.backends import Backend
from realtime.frames import FramePacket
from realtime.planes import Planes
from realtime.refiner.learned import LearnedRefiner
from realtime.stages import Stage
from realtime.stages.color import planes_from_bgr

COLOR_TIMING = "color"  # BGR -> planes for sources that deliver BGR
TRANSFER_TIMING = "transfer"  # uploads and downloads for device backends
REFINER_TIMING = LearnedRefiner.name
# Rough cost of each stage, ms per 720p frame inside the pipeline on 2 cores (`realtime bench`
# stage medians, 2026-12-03); only used to balance threads. The denoiser grew with issue 13's
# motion test, chroma clamp and deblocking check (4.3 -> 6.1 ms).
STAGE_COST = {"contrast": 0.9, "clahe": 4.7, "denoise": 6.1, "sharpen": 1.2, REFINER_TIMING: 5.0}


class Pipeline:
    """Runs on one thread per segment; ``set_enabled`` may be called from another (the window's keys)."""

    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        backend: Backend = Backend.NUMPY,
        keep_original: bool = False,
        left_out: Sequence[str] = (),
    ) -> None:
        self.stages = list(stages)
        self.backend = backend
        self.keep_original = keep_original
        #: stages of the preset left out because the refiner does their job (for ``describe``)
        self.left_out = tuple(left_out)
        self._enabled = tuple(True for _ in self.stages)
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def refiner(self) -> LearnedRefiner | None:
        return next((s for s in self.stages if isinstance(s, LearnedRefiner)), None)

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
        """Forget every stage's temporal state (a new clip, a scene cut, an unrelated photo)."""
        for stage in self.stages:
            stage.reset()

    def describe(self) -> str:
        stages = " -> ".join(self.names) or "(no stages)"
        if self.left_out:
            stages += f" ({', '.join(self.left_out)} left out in front of the refiner, which does its job)"
        refiner = self.refiner
        runtime = refiner.runtime if refiner is not None else "none (classical stages only)"
        return f"stages: {stages}; backend: {self.backend.value}; refiner: {runtime}"

    # -- threads ------------------------------------------------------------------------------
    def _runs_on(self, stage: Stage) -> type:
        """The array type ``stage`` gets: the backend's when its kernels take it, else the host's."""
        kind = self.backend.array_type
        return kind if kind in stage.array_types else np.ndarray

    def split(self, parts: int) -> list[range]:
        """Stage positions cut into at most ``parts`` contiguous segments of similar cost.

        Each segment runs on its own thread (stage pipelining): on a 2-core machine one thread
        running every stage leaves a core idle whenever an OpenCV call is not parallel inside.
        Every stage stays on one thread, so temporal state needs no locking. On a device backend
        the refiner stays on the thread of the stage before it, so it refines the frame where that
        stage left it, before the one download (as measured on an H200 with OpenCL).
        """
        n = len(self.stages)
        parts = max(1, min(parts, n))
        if parts == 1:
            return [range(n)]
        groups: list[list[int]] = []  # positions that must share a thread, with their cost
        costs: list[float] = []
        for i, stage in enumerate(self.stages):
            cost = STAGE_COST.get(stage.name, 1.0)
            on_device = self._runs_on(stage) is not np.ndarray
            if groups and isinstance(stage, LearnedRefiner) and on_device:
                groups[-1].append(i)
                costs[-1] += cost
            else:
                groups.append([i])
                costs.append(cost)
        # the cut whose costliest segment is cheapest: the slowest thread sets the frame rate
        def slowest(cuts: tuple[int, ...]) -> float:
            return max(sum(costs[a:b]) for a, b in itertools.pairwise((0, *cuts, len(groups))))

        cuts = min(itertools.combinations(range(1, len(groups)), min(parts, len(groups)) - 1), key=slowest)
        bounds = [0, *(groups[c][0] for c in cuts), n]
        return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]

    # -- one frame ----------------------------------------------------------------------------
    def process(self, packet: FramePacket, segment: range | None = None) -> FramePacket:
        """Run the enabled stages of ``segment`` (all by default) on the packet's pixels.

        The first segment keeps the frame as read (``packet.original``: the refiner looks at it,
        before/after views show it); a packet that starts a new photo or shot resets the temporal
        state of this segment's stages first. The arrays the packet arrived with are never mutated.
        """
        segment = range(len(self.stages)) if segment is None else segment
        last = segment.stop >= len(self.stages)
        timings = packet.timings
        if segment.start == 0:
            packet.original = packet.planes if packet.planes is not None else packet.image
        if packet.reset_state:
            for i in segment:
                self.stages[i].reset()
        enabled = self._enabled
        active = [self.stages[i] for i in segment if enabled[i]]
        planes = packet.planes
        if active and planes is None:
            t0 = time.perf_counter_ns()
            planes = planes_from_bgr(packet.image)
            timings[COLOR_TIMING] = (time.perf_counter_ns() - t0) / 1e6
        transfer_ns = 0
        for stage in active:
            kind = self._runs_on(stage)
            if not isinstance(planes.y, kind):
                t0 = time.perf_counter_ns()
                planes = planes.to_backend(kind)
                transfer_ns += time.perf_counter_ns() - t0
            t0 = time.perf_counter_ns()
            if getattr(stage, "wants_original", False):
                planes = stage.apply_planes(planes, self._original(packet, planes))
            else:
                planes = stage.apply_planes(planes)
            timings[stage.name] = (time.perf_counter_ns() - t0) / 1e6
        if last and planes is not None and not isinstance(planes.y, np.ndarray):
            t0 = time.perf_counter_ns()
            planes = planes.to_host()
            transfer_ns += time.perf_counter_ns() - t0
        if planes is not None and planes is not packet.planes:
            packet.set_planes(planes)
        if transfer_ns:
            timings[TRANSFER_TIMING] = timings.get(TRANSFER_TIMING, 0.0) + transfer_ns / 1e6
        if last and not self.keep_original:
            packet.original = None
        return packet

    @staticmethod
    def _original(packet: FramePacket, planes: Planes) -> Planes:
        """The frame as read, as host planes (what the refiner's thumbnails are made from)."""
        original = packet.original
        if original is None:
            return planes.to_host()
        if isinstance(original, np.ndarray):
            return planes_from_bgr(original)
        return original
