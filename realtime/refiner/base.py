"""The interfaces every refiner runtime implements, so the pipeline never knows which one it has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from realtime.planes import Planes
    from realtime.refiner.transform import RefinerParams


class Refiner(Protocol):
    """A learned per-frame refinement run after the classical stages, on host planes.

    ``original`` is the frame as captured, for designs that look at both. Implementations must not
    mutate either and return planes of the same size, chroma layout and colour.
    """

    name: str  # e.g. "onnxruntime (CPUExecutionProvider)"

    def __call__(self, planes: Planes, original: Planes) -> Planes: ...

    def reset(self) -> None:
        """Forget temporal state at the start of a new clip."""
        ...


class Analyser(Protocol):
    """One inference runtime for the refiner's network: thumbnails in, transform parameters out.

    ``thumb`` is (1, 128, 128, 6) float32 (see :func:`realtime.refiner.transform.analyser_input`).
    One file per runtime (``onnxruntime.py``, ``tensorrt.py``, ``keras.py``), each importing its
    library lazily, so choosing one never loads the others.
    """

    name: str

    def __call__(self, thumb: np.ndarray) -> RefinerParams: ...
