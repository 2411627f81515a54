"""Compute backends for the classical stages, chosen as explicit values rather than flags.

A frame lives on one backend for the whole pipeline: it is uploaded once before the first stage
and downloaded once after the last, so stages never copy between host and device.

- ``NUMPY``: ``np.ndarray`` on the CPU; always available and the reference every kernel is tested against.
- ``OPENCL``: ``cv2.UMat`` (OpenCV's transparent API). OpenCV runs UMat code on an OpenCL device when
  one exists and silently on the CPU otherwise, so ``auto`` only picks it when
  ``cv2.ocl.haveOpenCL()`` says a device is present.
- ``CUDA``: ``cv2.cuda.GpuMat``. PyPI's opencv-python wheels are built without CUDA, so this path
  only exists with a custom OpenCV build. It has never run on the machines this project is
  developed on; it is written against OpenCV's documented ``cv2.cuda`` API and is unverified.
"""

from __future__ import annotations

import enum
from typing import Any, TypeAlias

import cv2
import numpy as np

from realtime.errors import BackendError

Array: TypeAlias = "np.ndarray | cv2.UMat | cv2.cuda.GpuMat"

# PyPI wheels expose the ``cv2.cuda.GpuMat`` class even without CUDA (its methods then raise
# "No CUDA support"), while builds without the cuda module lack it entirely; ``None`` means
# CUDA kernels are not registered at all.
GpuMat: type | None = getattr(getattr(cv2, "cuda", None), "GpuMat", None)

#: Every array type a kernel may be registered for, host first (the order errors list them in).
ARRAY_TYPES: tuple[type, ...] = (np.ndarray, cv2.UMat) + ((GpuMat,) if GpuMat is not None else ())


class Backend(enum.Enum):
    NUMPY = "numpy"
    OPENCL = "opencl"
    CUDA = "cuda"

    @property
    def array_type(self) -> type:
        """The array type frames have on this backend; stage kernels are dispatched by it."""
        if self is Backend.NUMPY:
            return np.ndarray
        if self is Backend.OPENCL:
            return cv2.UMat
        return cv2.cuda.GpuMat


def cuda_device_count() -> int:
    """CUDA devices OpenCV can use; 0 for builds without CUDA (every PyPI wheel)."""
    try:
        return int(cv2.cuda.getCudaEnabledDeviceCount())
    except (AttributeError, cv2.error):
        return 0


def opencl_device_name() -> str | None:
    """Name of the OpenCL device OpenCV would use, or None when it has none."""
    try:
        if not cv2.ocl.haveOpenCL() or not cv2.ocl.useOpenCL():
            return None
        # The default device is only filled in once OpenCV has made its context: touch a UMat.
        cv2.UMat(1, 1, cv2.CV_8UC1).get()
        return str(cv2.ocl.Device.getDefault().name()) or "unnamed OpenCL device"
    except (AttributeError, cv2.error):
        return None


def available_backends() -> list[Backend]:
    """Backends usable on this machine, fastest first."""
    found = []
    if cuda_device_count() > 0:
        found.append(Backend.CUDA)
    if opencl_device_name() is not None:
        found.append(Backend.OPENCL)
    found.append(Backend.NUMPY)
    return found


def resolve_backend(name: str | Backend) -> Backend:
    """Turn ``auto`` or a backend name into a usable backend, or say plainly why it is unusable."""
    if isinstance(name, Backend):
        wanted = name
    elif name == "auto":
        return available_backends()[0]
    else:
        try:
            wanted = Backend(name)
        except ValueError as e:
            choices = ", ".join(["auto"] + [b.value for b in Backend])
            raise BackendError(f"unknown backend {name!r}; choose one of: {choices}") from e
    if wanted not in available_backends():
        reason = {
            Backend.CUDA: "this OpenCV build has no CUDA devices (PyPI wheels are built without CUDA)",
            Backend.OPENCL: "OpenCV reports no OpenCL device on this machine",
        }[wanted]
        raise BackendError(f"backend {wanted.value!r} is not available: {reason}")
    if wanted is Backend.OPENCL:
        cv2.ocl.setUseOpenCL(True)
    return wanted


# -- one plane on any backend: size and transfers -------------------------------------------------
# cv::Range::all(): the UMat ROI constructor treats it as "every row/column" without bounds checks.
_ALL = (-(2**31), 2**31 - 1)


def umat_size(u: cv2.UMat) -> tuple[int, int]:
    """``(width, height)`` of a ``cv2.UMat``, which its Python wrapper does not expose.

    Why: kernels that work at reduced resolution must resize back to the exact size, and odd sizes
    do not survive a 2x round trip. Downloading one row and one column (``Range::all()`` on the
    other axis) costs two tiny reads instead of a full-frame transfer or reduction.
    """
    width = cv2.UMat(u, (0, 1), _ALL).get().shape[1]
    height = cv2.UMat(u, _ALL, (0, 1)).get().shape[0]
    return int(width), int(height)


def plane_size(arr: Any) -> tuple[int, int]:
    """(height, width) of one plane, whatever its backend."""
    if isinstance(arr, np.ndarray):
        return arr.shape[0], arr.shape[1]
    if isinstance(arr, cv2.UMat):
        w, h = umat_size(arr)
        return h, w
    w, h = arr.size()  # cv2.cuda.GpuMat
    return h, w


def upload_plane(arr: np.ndarray, kind: type) -> Any:
    """A host plane on the backend whose array type is ``kind`` (the same object for the host)."""
    if kind is np.ndarray:
        return arr
    if kind is cv2.UMat:
        return cv2.UMat(arr)
    gpu = cv2.cuda.GpuMat()
    gpu.upload(arr)
    return gpu


def download_plane(arr: Any) -> np.ndarray:
    """A plane on the host (the same object when it is already there)."""
    if isinstance(arr, np.ndarray):
        return arr
    if isinstance(arr, cv2.UMat):
        return arr.get()
    return arr.download()


def move_plane(arr: Any, kind: type) -> Any:
    """A plane moved to the backend whose array type is ``kind``, through the host if need be."""
    if isinstance(arr, kind):
        return arr
    return upload_plane(download_plane(arr), kind)
