"""How many cores this process may use: the thread counts of OpenCV, the decoder and the runner
follow it."""

from __future__ import annotations

import os

#: set by whoever runs several enhancers on one machine (a batch worker given N CPUs by Ray), so
#: each sizes its threads to its share instead of to the whole machine
CORES_ENV = "REALTIME_CORES"


def available_cores() -> int:
    """The CPUs this process is allowed to run on, capped by ``$REALTIME_CORES`` when set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    share = os.environ.get(CORES_ENV)
    if share and share.isdigit() and int(share) > 0:
        cores = min(cores, int(share))
    return max(1, cores)
