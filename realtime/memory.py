"""Keep freed frame-sized memory in the process, so a frame's temporaries do not page-fault every frame.

Why: every OpenCV call that returns a new array allocates it, and a 720p plane is 0.9 MB. glibc's
malloc hands large freed blocks back to the kernel (``munmap``, or trimming the heap's top once
more than its trim threshold is free), and its thresholds adapt to the last large block freed:
after a 0.9 MB plane is freed it trims anything above 1.8 MB. A stage holding four such
temporaries at once frees 3.6 MB, the heap is trimmed, and the next frame's arrays come back as
fresh zero-filled pages, one minor fault per 4 KiB. Measured at 720p on the 2-core bench machine,
with the pages kept: the denoiser 5.8 -> 3.7 ms a frame, sharpening 2.5 -> 1.6 ms, the faults of a
300-frame run 199 k -> 29 k (the rest is start-up), the full pipeline 71 -> 87 fps in the same run.

Setting the two thresholds explicitly turns glibc's adaptation off: blocks up to
:data:`MMAP_THRESHOLD` (glibc's ceiling, enough for a 4K float plane) come from the heap, and up
to :data:`TRIM_THRESHOLD` of free heap is kept for the next frame. The cost is that resident memory
stays at its high-water mark instead of shrinking between frames, which is what a long run wants
anyway (flat, no churn). Other C libraries (macOS, Windows, musl) have allocators of their own and
no ``mallopt``; there this does nothing and says so.
"""

from __future__ import annotations

import ctypes
import platform

#: glibc's ``M_TRIM_THRESHOLD`` and ``M_MMAP_THRESHOLD`` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit (``HEAP_MAX_SIZE / 2``); a 4K float plane is 31.6 MiB.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free heap kept rather than returned, per malloc arena (one per thread that allocates): more than
#: a 4K frame's live temporaries (8 MB 8-bit planes); 64 and 256 MB measured the same fps and
#: resident memory at 1080p.
TRIM_THRESHOLD = 64 * 1024 * 1024


def keep_freed_memory(trim_threshold: int = TRIM_THRESHOLD, mmap_threshold: int = MMAP_THRESHOLD) -> str | None:
    """Set glibc's malloc thresholds for the whole process; None on success, else why not.

    Process-wide and permanent, so the command line calls it once at start-up; a program that
    embeds the pipeline may call it too.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "not glibc: the C library's own allocator is left as it is"
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError) as e:
        return f"mallopt not found ({e})"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 for a value it refuses
    if not mallopt(_M_MMAP_THRESHOLD, mmap_threshold):
        return f"glibc refused an mmap threshold of {mmap_threshold} bytes"
    if not mallopt(_M_TRIM_THRESHOLD, trim_threshold):
        return f"glibc refused a trim threshold of {trim_threshold} bytes"
    return None
