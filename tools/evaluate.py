"""Measure the refiner against the classical stages and published networks.

A thin script over ``realtime_train/evaluate.py`` (``python -m realtime_train.evaluate`` is the same).
"""

import sys

from realtime_train.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
