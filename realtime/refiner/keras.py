"""The refiner's network run by Keras itself: the reference the exported graph is checked against.

Only loaded when the ``keras`` runtime is asked for; it needs TensorFlow (the ``train`` extra) and
the architecture's custom layers, which live in the training package (``realtime_train``). The
product never imports TensorFlow otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime.errors import ModelError
from realtime.refiner.transform import OUTPUTS, RefinerParams


class KerasAnalyser:
    def __init__(self, model: str | Path) -> None:
        try:
            import keras

            import realtime_train.architecture  # noqa: F401  (registers the custom layers)
        except ImportError as e:
            raise ModelError(f"the keras refiner needs TensorFlow ({e.name} missing): "
                             "pip install 'realtime-enhance[train]'") from e
        try:
            self.model = keras.models.load_model(model)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load Keras refiner {model}: {e}") from e
        self.name = "keras (TensorFlow, reference)"

    def __call__(self, thumb: np.ndarray) -> RefinerParams:
        out = self.model(np.asarray(thumb, dtype=np.float32), training=False)
        return RefinerParams(*(np.asarray(out[k])[0] for k in OUTPUTS))
