"""Choosing and loading the learned refiner (``auto``, ``onnxruntime``, ``tensorrt``, ``keras``, ``off``).

``auto`` takes the fastest runtime this machine can run: TensorRT (through ONNX Runtime's TensorRT
provider) when it is there, else ONNX Runtime (its CUDA provider with onnxruntime-gpu, else the
CPU), and says why when a GPU runtime is installed but cannot run. Naming a runtime that cannot run
is an error, not a silent switch.

The shipped model is package data (``realtime/data/refiner.onnx``), so any install of the package
(editable, a wheel, pipx) has it; ``$REALTIME_REFINER_MODEL`` or an explicit path replaces it. The
Keras file is the training reference and is not shipped: ``keras`` looks for it beside the ONNX
model, then in a source checkout's ``models/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from realtime.errors import ModelError
from realtime.refiner.base import Analyser
from realtime.refiner.learned import LearnedRefiner

__all__ = ["REFINER_CHOICES", "LearnedRefiner", "default_model", "load_refiner"]

REFINER_CHOICES = ("auto", "onnxruntime", "tensorrt", "keras", "off")
MODEL_ENV = "REALTIME_REFINER_MODEL"
#: where a source checkout keeps the Keras reference (not part of the installed package)
_CHECKOUT_MODELS = Path(__file__).resolve().parents[2] / "models"


def default_model(suffix: str = ".onnx") -> Path:
    """The model a run uses when none is named: ``$REALTIME_REFINER_MODEL``, else the shipped one.

    ``suffix=".keras"`` asks for the Keras reference: beside that ONNX file, else in the checkout.
    """
    env = os.environ.get(MODEL_ENV)
    onnx = Path(env) if env else Path(str(resources.files("realtime").joinpath("data", "refiner.onnx")))
    if suffix == ".onnx":
        return onnx
    beside = onnx.with_suffix(suffix)
    return beside if env or beside.is_file() else _CHECKOUT_MODELS / f"refiner{suffix}"


def _analyser(choice: str, model: Path) -> Analyser:
    if choice == "onnxruntime":
        from realtime.refiner.onnxruntime import OnnxRuntimeAnalyser

        return OnnxRuntimeAnalyser(model)
    if choice == "tensorrt":
        from realtime.refiner.tensorrt import tensorrt_analyser

        return tensorrt_analyser(model)
    from realtime.refiner.keras import KerasAnalyser

    return KerasAnalyser(model)


def load_refiner(choice: str = "auto", model: str | Path | None = None,
                 notify: Callable[[str], None] | None = None) -> LearnedRefiner | None:
    """The refiner stage for ``choice``; None for ``off``.

    ``notify`` receives one line for each runtime ``auto`` skipped and why.

    Raises:
        ModelError: an unknown choice, a missing model, or a named runtime that cannot run.
    """
    if choice not in REFINER_CHOICES:
        raise ModelError(f"unknown refiner {choice!r}; choose from {', '.join(REFINER_CHOICES)}")
    if choice == "off":
        return None
    say = notify or (lambda _line: None)
    path = Path(model) if model else default_model(".keras" if choice == "keras" else ".onnx")
    if model is None and os.environ.get(MODEL_ENV):
        say(f"refiner model: {path} (from ${MODEL_ENV}, not the shipped one)")  # never a silent swap
    if choice == "keras" and path.suffix != ".keras":
        path = path.with_suffix(".keras")
    if not path.is_file():
        if choice == "keras" and model is None:
            raise ModelError(f"the keras reference runtime needs refiner.keras, which installed packages do not "
                             f"ship (looked at {path}); give the file as the refiner model")
        raise ModelError(f"refiner model not found: {path}")
    if choice != "auto":
        return LearnedRefiner(_analyser(choice, path))
    from realtime.refiner import tensorrt

    reason = tensorrt.available()
    if reason is None:
        try:
            return LearnedRefiner(_analyser("tensorrt", path))
        except ModelError as e:
            say(f"refiner: TensorRT failed ({e}); falling back to ONNX Runtime")
    elif _has_gpu_onnxruntime():
        # a GPU build without TensorRT is worth a line; the CPU build is the normal case
        say(f"refiner: TensorRT skipped ({reason})")
    return LearnedRefiner(_analyser("onnxruntime", path))


def _has_gpu_onnxruntime() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    from realtime.refiner.onnxruntime import CUDA_PROVIDER

    return CUDA_PROVIDER in ort.get_available_providers()
