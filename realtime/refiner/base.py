"""The interface every refiner runtime implements, so the pipeline never knows which one it has."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Refiner(Protocol):
    """A learned per-frame refinement run after the classical stages.

    ``original`` is the frame as captured, for designs that look at both; implementations must
    not mutate either array and must return BGR uint8 of the same shape.
    """

    name: str  # e.g. "onnxruntime (CPUExecutionProvider)"

    def __call__(self, bgr: np.ndarray, original: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None:
        """Forget temporal state at the start of a new clip."""
        ...
