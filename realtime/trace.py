"""Every intermediate of one frame through a pipeline, and what the learned refiner decided for it.

What ``Enhancer.trace``, ``realtime inspect`` and the notebook draw. A frame is run one stage at a
time through the pipeline's own :meth:`~realtime.pipeline.Pipeline.process`, so each intermediate
is exactly what that stage handed the next one in a normal run (same kernels, same backend moves,
same temporal state), and the last one is the normal output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.frames import FramePacket
from realtime.pipeline import Pipeline
from realtime.planes import Planes, luma_range
from realtime.refiner.transform import RefinerParams, luma_lut

INPUT = "input"


@dataclass(frozen=True)
class Step:
    """One intermediate: the frame after a stage, and what the stage cost."""

    name: str
    image: np.ndarray  # in the caller's shape and channel order (BGR from a file or a camera)
    ms: float  # the stage's own time on this frame (0 for the input)
    planes: Planes  # the pipeline's own Y'CbCr planes after the stage (host arrays)


@dataclass(frozen=True)
class RefinerDecision:
    """What the learned refiner decided for a frame, as arrays that can be drawn.

    Attributes:
        tone_curve: (256,) output luma code for every input luma code (the frame's own range:
            16..235 for limited-range video, 0..255 for photos); the identity is ``arange(256)``
            within that range.
        knots: the network's curve: ``K + 1`` values on normalised luma at even input steps.
        gain: (G, G) luma gain factors (1.0 leaves a region as it is), a coarse map over the frame.
        chroma_matrix: (2, 2) applied to (Cb, Cr) around grey.
        chroma_luma_shift: (2,) chroma shift proportional to output luma (a colour cast's part
            that grows with brightness).
        chroma_offset: (2,) constant chroma shift.
        runtime: the runtime that ran the network.
        luma_range: the (black, white) codes the curve maps between.
    """

    tone_curve: np.ndarray
    knots: np.ndarray
    gain: np.ndarray
    chroma_matrix: np.ndarray
    chroma_luma_shift: np.ndarray
    chroma_offset: np.ndarray
    runtime: str
    luma_range: tuple[int, int] = (0, 255)

    @classmethod
    def of(cls, params: RefinerParams, planes: Planes, runtime: str) -> RefinerDecision:
        lo, hi = luma_range(planes.color)
        curve = luma_lut(params, lo, float(hi - lo)).ravel() + lo
        c = np.asarray(params.color, np.float32)
        return cls(tone_curve=curve.astype(np.float32), knots=np.asarray(params.knots, np.float32).copy(),
                   gain=np.exp2(np.asarray(params.gain, np.float32)), chroma_matrix=c[:4].reshape(2, 2).copy(),
                   chroma_luma_shift=c[4:6].copy(), chroma_offset=c[6:8].copy(), runtime=runtime,
                   luma_range=(int(lo), int(hi)))

    def gain_map(self, height: int, width: int) -> np.ndarray:
        """The gain as the refiner applies it: upsampled bilinearly to a ``height`` x ``width`` frame."""
        return cv2.resize(self.gain, (width, height), interpolation=cv2.INTER_LINEAR)

    def curve_at(self, x: float) -> float:
        """The curve's output (0..1 of the range) at input ``x`` (0..1 of the range): at 0.5, its
        midpoint, the one number that says how much the refiner brightened the mid-tones."""
        k = len(self.knots) - 1
        # clipped as the applied curve is (luma_lut), so the number is the curve that is drawn
        return float(np.clip(np.interp(x, np.linspace(0.0, 1.0, k + 1), self.knots), 0.0, 1.0))

    @property
    def mean_gain(self) -> float:
        """The gain map's geometric mean: above 1, the refiner brightened locally on the whole."""
        return float(np.exp2(np.mean(np.log2(self.gain))))


@dataclass(frozen=True)
class Trace:
    """Every intermediate of one frame, in order, and the refiner's decision.

    ``index`` and ``time_s`` say which frame of a video it was (None for a photo); ``name`` is a
    photo's file name when it came from a folder.
    """

    steps: tuple[Step, ...]
    refiner: RefinerDecision | None
    index: int | None = None
    time_s: float | None = None
    name: str | None = None

    @property
    def output(self) -> np.ndarray:
        """The last step's image: exactly what the pipeline outputs for the same frame."""
        return self.steps[-1].image

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.steps]

    def __getitem__(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r}; the steps are {', '.join(self.names)}")


def _same(image: np.ndarray) -> np.ndarray:
    return image


def trace_packet(pipeline: Pipeline, packet: FramePacket, *,
                 back: Callable[[np.ndarray], np.ndarray] = _same, photo: bool = False) -> Trace:
    """Run ``packet`` through ``pipeline`` stage by stage, keeping every intermediate.

    Temporal state is the caller's business: the frame is processed as the next frame of whatever
    went through ``pipeline`` before (``packet.reset_state`` clears it first, as in a normal run).
    ``back`` turns a BGR image into the caller's form (RGB, grayscale, with alpha). A ``photo``
    is not a frame of anything: its trace carries no index or time.
    """
    planes = packet.planes.to_host() if packet.planes is not None else Planes.from_bgr(packet.image)
    steps = [Step(INPUT, back(planes.to_bgr() if packet.planes is not None else packet.image), 0.0, planes)]
    decision = None
    for i, (stage, on) in enumerate(zip(pipeline.stages, pipeline.enabled, strict=True)):
        pipeline.process(packet, range(i, i + 1))
        if not on:
            continue
        host = packet.planes.to_host()
        steps.append(Step(stage.name, back(host.to_bgr()), packet.timings[stage.name], host))
        params = getattr(stage, "last_params", None)
        if params is not None:
            decision = RefinerDecision.of(params, host, stage.runtime)
    if len(steps) == 1:  # no stage ran: the output is the input
        steps.append(Step("output", steps[0].image, 0.0, steps[0].planes))
    if photo:
        return Trace(tuple(steps), decision)
    time_s = (float(packet.pts * packet.time_base)
              if packet.pts is not None and packet.time_base is not None else None)
    return Trace(tuple(steps), decision, index=packet.index, time_s=time_s)
