"""The refiner the pipeline holds: thumbnails -> any analyser runtime -> smoothed parameters -> planes.

Temporal stability comes from three things. The analyser sees area-averaged thumbnails, so sensor
noise barely moves its answer. Its answer is a global curve, a chroma transform and a 16x16 gain
map, none of which can flicker pixel by pixel. And the parameters are smoothed over frames with an
exponential moving average, reset at scene cuts (a large change in the original's coarse block
means), so a cut is corrected at once while a steady shot never pumps.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.planes import Planes
from realtime.refiner.base import Analyser
from realtime.refiner.transform import RefinerParams, Scratch, analyser_input, apply_params

#: Share of the previous frame's parameters kept at each frame (about 10 frames' memory, a third of
#: a second at 30 fps: slow enough that a steady shot never pumps, fast enough to follow a light
#: being switched on).
DEFAULT_SMOOTHING = 0.9
#: Mean absolute change of the original's 16x16 block means (RGB, 0..1) above which a frame starts
#: a new shot. Block means, not thumbnail pixels, so that noise and small motion never count.
DEFAULT_SCENE_CUT = 0.05
_BLOCKS = 16


class LearnedRefiner:
    def __init__(self, analyser: Analyser, *, smoothing: float = DEFAULT_SMOOTHING,
                 scene_cut: float = DEFAULT_SCENE_CUT) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise ValueError("smoothing must be in [0, 1)")
        self.analyser = analyser
        self.smoothing = smoothing
        self.scene_cut = scene_cut
        self.name = analyser.name
        self._params: RefinerParams | None = None
        self._thumb: np.ndarray | None = None
        self._scratch = Scratch()

    def reset(self) -> None:
        self._params = None
        self._thumb = None

    def params_for(self, planes: Planes, original: Planes) -> RefinerParams:
        """This frame's (smoothed) transform; updates the temporal state."""
        thumb = analyser_input(planes, original)
        params = self.analyser(thumb)
        blocks = cv2.resize(thumb[0, ..., 3:], (_BLOCKS, _BLOCKS), interpolation=cv2.INTER_AREA)
        same_shot = (self._thumb is not None
                     and float(np.mean(np.abs(blocks - self._thumb))) < self.scene_cut)
        if same_shot and self._params is not None:
            params = params.blend(self._params, self.smoothing)
        self._params, self._thumb = params, blocks
        return params

    def __call__(self, planes: Planes, original: Planes) -> Planes:
        return apply_params(planes, self.params_for(planes, original), self._scratch)
