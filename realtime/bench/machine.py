"""What a benchmark ran on: CPU, cores, GPU and driver, library versions.

A number without its machine is useless, and on shared hardware even the same machine drifts, so
every ``realtime bench`` report starts with this. The GPU is read from the NVIDIA driver's files in
``/proc`` where they exist, else from ``nvidia-smi``; no GPU is a line that says so, not an error.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path

_DRIVER = Path("/proc/driver/nvidia")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> tuple[list[str], str | None]:
    """(GPU names, driver version); ([], None) without an NVIDIA driver."""
    names: list[str] = []
    driver = None
    try:
        for info in sorted((_DRIVER / "gpus").glob("*/information")):
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        version = (_DRIVER / "version").read_text().split()
        driver = next((w for w in version if w[:1].isdigit() and "." in w), None)
    except OSError:
        pass
    if names:
        return names, driver
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], None
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return [], None
    rows = [[c.strip() for c in line.split(",")] for line in out.splitlines() if line.strip()]
    return [r[0] for r in rows], (rows[0][1] if rows and len(rows[0]) > 1 else None)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, object]:
    import av
    import cv2
    import numpy as np

    names, driver = gpus()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpus": names,
        "gpu_driver": driver,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "pyav": av.__version__,
        "onnxruntime": _version("onnxruntime") or _version("onnxruntime-gpu"),
    }


def one_line(machine: dict[str, object]) -> str:
    gpu = ", ".join(machine["gpus"]) if machine["gpus"] else "no NVIDIA GPU"  # type: ignore[arg-type]
    if machine["gpu_driver"]:
        gpu += f" (driver {machine['gpu_driver']})"
    return (f"{machine['cpu']}, {machine['cores']} cores; {gpu}; python {machine['python']}, "
            f"numpy {machine['numpy']}, opencv {machine['opencv']}, pyav {machine['pyav']}, "
            f"onnxruntime {machine['onnxruntime']}")
