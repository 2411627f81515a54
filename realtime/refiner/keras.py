"""The refiner's network run by Keras itself: the reference the exported graphs are checked against.

Only loaded when ``--refiner keras`` is asked for; it needs TensorFlow and a source checkout (the
architecture's custom layers live in ``models/refiner.py``). The product never imports TensorFlow
otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from realtime.errors import ModelError
from realtime.refiner.transform import OUTPUTS, RefinerParams


class KerasAnalyser:
    def __init__(self, model: str | Path) -> None:
        root = Path(__file__).resolve().parents[2]
        if not (root / "models" / "refiner.py").is_file():
            raise ModelError("the keras refiner needs a source checkout (models/refiner.py); use --refiner onnxruntime")
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        try:
            import keras

            import models.refiner  # noqa: F401  (registers the custom layers)
        except ImportError as e:
            raise ModelError(f"the keras refiner needs TensorFlow ({e.name} missing): "
                             "pip install tensorflow-cpu") from e
        try:
            self.model = keras.models.load_model(model)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load Keras refiner {model}: {e}") from e
        self.name = "keras (TensorFlow, reference)"

    def __call__(self, thumb: np.ndarray) -> RefinerParams:
        out = self.model(np.asarray(thumb, dtype=np.float32), training=False)
        return RefinerParams(*(np.asarray(out[k])[0] for k in OUTPUTS))
