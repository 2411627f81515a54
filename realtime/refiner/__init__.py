"""Choosing and loading the learned refiner (``--refiner auto|onnxruntime|tensorrt|keras|off``).

``auto`` takes the fastest runtime this machine can run: TensorRT when it and an NVIDIA GPU are
present, else ONNX Runtime (its CUDA provider when onnxruntime-gpu is installed, else the CPU), and
says why when TensorRT is installed but cannot run or fails. Naming a runtime that cannot run is
an error, not a silent switch. If no model file can be found, ``auto`` runs the classical stages
alone and says so.
"""

from __future__ import annotations

import importlib.util
import os
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from realtime.errors import ModelError
from realtime.refiner.base import Analyser, Refiner
from realtime.refiner.learned import LearnedRefiner

if TYPE_CHECKING:
    from realtime.config import PipelineConfig

__all__ = ["REFINER_CHOICES", "Refiner", "choose_refiner", "default_model", "load_refiner"]

REFINER_CHOICES = ("auto", "onnxruntime", "tensorrt", "keras", "off")
MODEL_ENV = "REALTIME_REFINER_MODEL"
_MODELS = Path(__file__).resolve().parents[2] / "models"


def default_model(suffix: str = ".onnx") -> Path:
    """The shipped model in a source checkout (``models/refiner.onnx``), or ``$REALTIME_REFINER_MODEL``.

    The environment variable names the ONNX file; the Keras file is looked for beside it.
    """
    env = os.environ.get(MODEL_ENV)
    base = Path(env) if env else _MODELS / "refiner.onnx"
    return base.with_suffix(suffix)


def _analyser(choice: str, model: Path) -> Analyser:
    if choice == "onnxruntime":
        from realtime.refiner.onnxruntime import OnnxRuntimeAnalyser

        return OnnxRuntimeAnalyser(model)
    if choice == "tensorrt":
        from realtime.refiner.tensorrt import TensorRTAnalyser

        return TensorRTAnalyser(model)
    from realtime.refiner.keras import KerasAnalyser

    return KerasAnalyser(model.with_suffix(".keras"))


def choose_refiner(config: PipelineConfig, args: Namespace,
                   notify: Callable[[str], None] | None = None) -> Refiner | None:
    """The refiner for a command line: ``--refiner`` / ``--refiner-model``, unless the preset says off."""
    if args.refiner == "auto" and config.refiner == "off":
        return None
    return load_refiner(args.refiner, getattr(args, "refiner_model", None), notify)


def load_refiner(choice: str, model: str | Path | None = None,
                 notify: Callable[[str], None] | None = None) -> Refiner | None:
    """The refiner for ``--refiner``; None means classical stages only.

    ``notify`` receives one line for each runtime ``auto`` skipped and why.
    """
    if choice not in REFINER_CHOICES:
        raise ModelError(f"unknown refiner {choice!r}; choose from {', '.join(REFINER_CHOICES)}")
    if choice == "off":
        return None
    say = notify or (lambda _line: None)
    path = Path(model) if model else default_model()
    if choice == "keras":
        path = path.with_suffix(".keras")
    if not path.is_file():
        if choice == "auto" and model is None:
            say(f"refiner: no model at {path}; running the classical stages alone")
            return None
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
    elif importlib.util.find_spec("tensorrt") is not None:
        # installed but unusable (no GPU, no cuda-python) is worth a line; absent is the normal CPU case
        say(f"refiner: TensorRT skipped ({reason})")
    return LearnedRefiner(_analyser("onnxruntime", path))
