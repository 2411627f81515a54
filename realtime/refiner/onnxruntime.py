"""The refiner's network run by ONNX Runtime: the CPU default, and CUDA when onnxruntime-gpu has it.

The network only analyses two 128x128 thumbnails (about 12 M multiply-adds), so on a CPU one
intra-op thread is enough and leaves the other cores to the pipeline's threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime.errors import ModelError
from realtime.refiner.transform import OUTPUTS, RefinerParams

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class OnnxRuntimeAnalyser:
    """Runs ``refiner.onnx``; ``providers`` defaults to CUDA when available, else CPU."""

    def __init__(self, model: str | Path, providers: list[str] | None = None, threads: int = 1) -> None:
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
        self.name = f"onnxruntime ({self.provider})"

    def __call__(self, thumb: np.ndarray) -> RefinerParams:
        knots, color, gain = self.session.run(OUTPUTS, {"thumb": np.ascontiguousarray(thumb, dtype=np.float32)})
        return RefinerParams(knots[0], color[0], gain[0])
