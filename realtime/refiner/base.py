"""The interface every refiner runtime implements, so the refiner stage never knows which one it has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from realtime.refiner.transform import RefinerParams


class Analyser(Protocol):
    """One inference runtime for the refiner's network: thumbnails in, transform parameters out.

    ``thumb`` is (1, 128, 128, 6) float32 (see :func:`realtime.refiner.transform.analyser_input`).
    One file per runtime (``onnxruntime.py``, ``tensorrt.py`` on top of it, ``keras.py``), each importing its
    library lazily, so choosing one never loads the others.
    """

    name: str

    def __call__(self, thumb: np.ndarray) -> RefinerParams: ...
