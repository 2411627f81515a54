"""Train the refiner on clean photos degraded on the fly.

A thin script over ``realtime_train/train.py`` (``python -m realtime_train.train`` is the same).
"""

import sys

from realtime_train.train import main

if __name__ == "__main__":
    sys.exit(main())
