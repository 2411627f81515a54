"""keep_freed_memory: a frame's temporaries stop page-faulting once glibc keeps freed memory."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from realtime.memory import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Minor page faults of 50 denoiser-like frames (four live 720p temporaries each, then freed),
# after a warm-up, in a fresh interpreter so that the default malloc settings are really in force.
_SNIPPET = """
import resource, sys
import cv2, numpy as np
from realtime.memory import keep_freed_memory
from realtime.stages._ops import despike
cv2.setNumThreads(1)
if sys.argv[1] == "keep":
    assert keep_freed_memory() is None
plane = np.random.default_rng(0).integers(0, 256, (720, 1280), np.uint8)
for _ in range(5):
    despike(plane)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    despike(plane)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _SNIPPET, mode], capture_output=True, text=True, timeout=120,
                         check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds exist only in glibc")
def test_kept_memory_stops_per_frame_page_faults() -> None:
    default, kept = _faults("default"), _faults("keep")
    # a 720p plane is 225 pages: by default each frame faults at least one plane's worth back in
    assert default > 50 * 225
    assert kept < 50 * 225 / 10


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds exist only in glibc")
def test_keep_freed_memory_is_repeatable() -> None:
    assert keep_freed_memory() is None
    assert keep_freed_memory() is None

