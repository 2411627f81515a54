"""The refiner's network run by ONNX Runtime: the CPU default, CUDA when onnxruntime-gpu has it.

The network only analyses two 128x128 thumbnails (about 12 M multiply-adds), so on a CPU one
intra-op thread is enough and leaves the other cores to the pipeline's threads. The TensorRT
runtime (``tensorrt.py``) is this class with TensorRT's provider in front.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ModelError
from realtime.refiner.transform import OUTPUTS, THUMB, RefinerParams

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def _provider_name(entry: Any) -> str:
    return entry[0] if isinstance(entry, tuple) else entry


class OnnxRuntimeAnalyser:
    """Runs the refiner's ONNX graph; ``providers`` defaults to CUDA when available, else CPU."""

    def __init__(self, model: str | Path, providers: list[Any] | None = None, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ModelError("ONNX Runtime is not installed: pip install onnxruntime") from e
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in (CUDA_PROVIDER, CPU_PROVIDER) if p in available]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model), sess_options=options, providers=providers)
        except Exception as e:
            raise ModelError(f"cannot load refiner model {model}: {str(e).splitlines()[0]}") from e
        names = {o.name for o in self.session.get_outputs()}
        if not set(OUTPUTS) <= names or [i.name for i in self.session.get_inputs()] != ["thumb"]:
            raise ModelError(f"{model} is not a refiner model: expected input 'thumb' and outputs {', '.join(OUTPUTS)}")
        self.provider = self.session.get_providers()[0]
        self.requested = [_provider_name(p) for p in providers]
        self.name = f"onnxruntime ({self.provider})"

    def warm_up(self) -> None:
        """One inference, so lazy initialisation (a TensorRT engine build) happens now."""
        try:
            self(np.zeros((1, THUMB, THUMB, 6), np.float32))
        except Exception as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelError(f"the refiner's first inference failed on {self.provider}: {first}") from e

    def __call__(self, thumb: np.ndarray) -> RefinerParams:
        knots, color, gain = self.session.run(OUTPUTS, {"thumb": np.ascontiguousarray(thumb, dtype=np.float32)})
        return RefinerParams(knots[0], color[0], gain[0])
