"""The package as users install it: a wheel built from the checkout carries its model and runs the refiner.

The wheel is built from a copy of the tracked files (so the checkout gets no build folders) with
pip, offline, and installed with ``--no-deps`` into a folder of its own; the run then imports it
from there, outside the source tree, with the test environment's own NumPy, OpenCV, PyAV and ONNX
Runtime (installing those again would need the network). A fresh virtual environment with the
wheel and its dependencies from PyPI is the README's ``pip install`` line, checked by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import pytest

from tests.media import scene

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (built,) = out.glob("realtime_enhance-*.whl")
    return built


def test_the_wheel_carries_the_model_and_the_training_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "realtime/data/refiner.onnx" in names and "realtime/presets.toml" in names
    assert "realtime_train/architecture.py" in names
    assert not any(n.startswith(("tests/", "models/", "tools/")) for n in names)


def test_installed_outside_the_checkout_it_runs_the_refiner(wheel, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                           str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cv2.imwrite(str(tmp_path / "dark.png"), scene(1, 160, 96))
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("REALTIME_REFINER_MODEL", None)
    code = ("import realtime, sys; e = realtime.Enhancer(refiner='onnxruntime'); "
            "print(realtime.__file__); print(e.pipeline.refiner.runtime)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    where, runtime = proc.stdout.split("\n")[:2]
    assert Path(where).is_relative_to(site) and runtime.startswith("onnxruntime")
    proc = subprocess.run([sys.executable, "-m", "realtime", "enhance", "dark.png", "-o", "bright.png"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "refiner: onnxruntime" in proc.stderr and (tmp_path / "bright.png").is_file()
