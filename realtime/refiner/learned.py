"""The refiner the pipeline holds: thumbnails -> any analyser runtime -> smoothed parameters -> planes.

Temporal stability comes from three things. The analyser sees area-averaged thumbnails, so sensor
noise barely moves its answer. Its answer is a global curve, a chroma transform and a 16x16 gain
map, none of which can flicker pixel by pixel. And the parameters are smoothed over frames with an
exponential moving average, reset at scene cuts (a large change in the original's thumbnail), so a
cut is corrected at once while a steady shot never pumps.
"""

from __future__ import annotations

import numpy as np

from realtime.planes import Planes
from realtime.refiner.base import Analyser
from realtime.refiner.transform import RefinerParams, Scratch, analyser_input, apply_params

#: Share of the previous frame's parameters kept at each frame (about 4 frames' memory).
DEFAULT_SMOOTHING = 0.75
#: Mean absolute change of the original's RGB thumbnail (0..1) above which a frame starts a new shot.
DEFAULT_SCENE_CUT = 0.06


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
        same_shot = (self._thumb is not None
                     and float(np.mean(np.abs(thumb[..., 3:] - self._thumb[..., 3:]))) < self.scene_cut)
        if same_shot and self._params is not None:
            params = params.blend(self._params, self.smoothing)
        self._params, self._thumb = params, thumb
        return params

    def __call__(self, planes: Planes, original: Planes) -> Planes:
        return apply_params(planes, self.params_for(planes, original), self._scratch)
