"""The refiner as the pipeline's last stage: thumbnails -> an analyser runtime -> smoothed parameters -> planes.

It is an ordinary :class:`~realtime.stages.Stage` named ``refiner``: its per-pixel work
(:func:`~realtime.refiner.transform.apply_params`) is dispatched by the planes' array type like
the classical stages' kernels (host and OpenCL), and it is the one stage that also looks at the
frame as it was read (``wants_original``).

Temporal stability comes from three things. The analyser sees area-averaged thumbnails, so sensor
noise barely moves its answer. Its answer is a global curve, a chroma transform and a 16x16 gain
map, none of which can flicker pixel by pixel. And the parameters are smoothed over frames with an
exponential moving average, reset at scene cuts (a large change in the original's coarse block
means), so a cut is corrected at once while a steady shot never pumps.

Because the answer is smoothed over about ten frames anyway, the network need not run on every
frame: by default it runs on every third one (and at once on a scene cut, which is checked on
every frame), and the frames in between reuse the smoothed parameters. The smoothing is scaled to
the frames elapsed, so its time constant in frames does not change. That cuts the analysis's share
of the refiner's cost (thumbnail of the stages' output plus the network) to a third at no visible
cost: between two analyses the smoothed parameters would have moved by a fifth of the way at most.
Measured on ``bikes.mp4`` degraded as a dark camera (``tools/evaluate.py --video``): static-shot
flicker 0.118 levels a frame analysing every second frame, 0.122 every third (classical stages
alone: 0.098); the full 720p pipeline on 2 cores used 2% less CPU a frame.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from realtime.planes import Planes
from realtime.refiner.base import Analyser
from realtime.refiner.transform import RefinerParams, Scratch, apply_params, stack_thumbnails, thumbnail

#: Share of the previous frame's parameters kept at each frame (about 10 frames' memory, a third of
#: a second at 30 fps: slow enough that a steady shot never pumps, fast enough to follow a light
#: being switched on).
DEFAULT_SMOOTHING = 0.9
#: Mean absolute change of the original's 16x16 block means (RGB, 0..1) above which a frame starts
#: a new shot. Block means, not thumbnail pixels, so that noise and small motion never count.
DEFAULT_SCENE_CUT = 0.05
#: Run the analyser on every Nth frame of a shot (and on the first frame of every shot).
DEFAULT_ANALYSE_EVERY = 3
_BLOCKS = 16


class ShotCuts:
    """Scene-cut detection on the frames as read, from the mean change of their coarse block means.

    The refiner resets its smoothing where this fires; ``realtime inspect --timeline`` plots
    ``change`` against ``threshold`` (and, with the refiner off, runs one of these itself), so
    the cuts drawn are the ones the refiner acted on.
    """

    def __init__(self, threshold: float = DEFAULT_SCENE_CUT) -> None:
        self.threshold = threshold
        self._blocks: np.ndarray | None = None
        #: mean absolute change of the 16x16 RGB block means (0..1) at the last frame; None at the first
        self.change: float | None = None
        self.cut = False

    def update(self, original_thumb: np.ndarray) -> bool:
        """Fold in the next frame's :func:`~realtime.refiner.transform.thumbnail`; True when it starts a shot."""
        blocks = cv2.resize(original_thumb, (_BLOCKS, _BLOCKS), interpolation=cv2.INTER_AREA)
        self.change = None if self._blocks is None else float(np.mean(np.abs(blocks - self._blocks)))
        self.cut = self.change is None or self.change >= self.threshold
        self._blocks = blocks
        return self.cut

    def reset(self) -> None:
        self._blocks, self.change, self.cut = None, None, False


class LearnedRefiner:
    """The learned refiner stage; ``runtime`` names the analyser that runs its network."""

    name: ClassVar[str] = "refiner"
    array_types: ClassVar[tuple[type, ...]] = apply_params.supported_types
    wants_original: ClassVar[bool] = True

    def __init__(self, analyser: Analyser, *, smoothing: float = DEFAULT_SMOOTHING,
                 scene_cut: float = DEFAULT_SCENE_CUT, analyse_every: int = DEFAULT_ANALYSE_EVERY) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise ValueError("smoothing must be in [0, 1)")
        if analyse_every < 1:
            raise ValueError("analyse_every must be at least 1")
        self.analyser = analyser
        self.smoothing = smoothing
        self.cuts = ShotCuts(scene_cut)
        self.analyse_every = analyse_every
        self.runtime = analyser.name
        self._params: RefinerParams | None = None
        self._since = 0  # frames since the last analysis
        #: whether the network ran on the last frame (else it reused the smoothed parameters)
        self.analysed = False
        self._scratch = Scratch()

    def reset(self) -> None:
        self._params = None
        self.cuts.reset()
        self._since = 0
        self.analysed = False

    def params_for(self, planes: Planes, original: Planes) -> RefinerParams:
        """This frame's (smoothed) transform; updates the temporal state."""
        original_thumb = thumbnail(original)
        cut = self.cuts.update(original_thumb)
        self._since += 1
        self.analysed = cut or self._params is None or self._since >= self.analyse_every
        if self.analysed:
            params = self.analyser(stack_thumbnails(thumbnail(planes), original_thumb))
            if not cut and self._params is not None:
                params = params.blend(self._params, self.smoothing ** self._since)
            self._params, self._since = params, 0
        return self._params

    @property
    def last_params(self) -> RefinerParams | None:
        """What the refiner applied to the last frame (None after a reset): for ``trace``."""
        return self._params

    def apply_planes(self, planes: Planes, original: Planes) -> Planes:
        return apply_params(planes, self.params_for(planes, original), self._scratch)

    __call__ = apply_planes

    def __repr__(self) -> str:
        return f"LearnedRefiner({self.runtime!r}, analyse_every={self.analyse_every})"
