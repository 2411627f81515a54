"""Export the trained refiner to ONNX and check it against Keras.

A thin script over ``realtime_train/export.py`` (``python -m realtime_train.export`` is the same).
"""

import sys

from realtime_train.export import main

if __name__ == "__main__":
    sys.exit(main())
