"""The refiner's network on TensorRT, through ONNX Runtime's TensorRT execution provider.

Status, stated plainly: UNVERIFIED. No machine this project has run on had TensorRT with an NVIDIA
GPU (the development machines have no GPU; the H200 lent on 2026-11-26 had no TensorRT and an
onnxruntime without GPU providers), so no engine has been built through this file. What is tested
is everything around the session: the availability check, the provider options, the cache
directory and the one-line errors (``tests/test_refiner_runtimes.py``).

Why the execution provider and not TensorRT's own Python API: ONNX Runtime builds the engine from
the same ONNX graph the CPU runtime runs, caches it, and keeps up with TensorRT's API (TensorRT 11
removed ``BuilderFlag.FP16``, which hand-written builders used). The options are the ones its
documentation lists: FP16 (the network's answers are smoothed over frames, and a tone curve does
not need 23 bits of mantissa), the engine cache and the timing cache. ONNX Runtime names each
cached engine after the graph's hash, the precision and the GPU's compute capability; its
documentation says to discard the cache when ONNX Runtime or TensorRT change version, so the cache
directory carries both versions in its name (:func:`cache_dir`). Nodes TensorRT cannot take run on
the CUDA provider, and the session is checked to have TensorRT first before it is used: ONNX
Runtime otherwise falls back to the next provider silently.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path
from typing import Any

from realtime.errors import ModelError
from realtime.refiner.onnxruntime import CPU_PROVIDER, CUDA_PROVIDER, OnnxRuntimeAnalyser

TRT_PROVIDER = "TensorrtExecutionProvider"
CACHE_ENV = "REALTIME_CACHE"
INSTALL_HINT = ("it needs onnxruntime-gpu, TensorRT's libraries and an NVIDIA GPU "
                "(pip install onnxruntime-gpu tensorrt); or use --refiner onnxruntime")


def available() -> str | None:
    """None when ONNX Runtime offers its TensorRT provider here, else why not (one line)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "ONNX Runtime is not installed"
    providers = ort.get_available_providers()
    if TRT_PROVIDER not in providers:
        return f"this onnxruntime ({ort.__version__}) has no TensorRT provider (it offers {', '.join(providers)})"
    return None


def _version(dist: str) -> str:
    for name in (dist, f"{dist}-cu12", f"{dist}_cu12"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Where built engines are kept: ``$REALTIME_CACHE`` or ``~/.cache/realtime``, then
    ``tensorrt/ort<version>-trt<version>`` (engine files are named per graph and GPU inside)."""
    import onnxruntime as ort

    base = Path(root or os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                / "realtime")
    return base / "tensorrt" / f"ort{ort.__version__}-trt{_version('tensorrt')}"


def engine_folder(cache: Path, model: str | Path) -> Path:
    """The cache folder of one model: ``cache/model-<the first 16 hex digits of its SHA-256>``.

    Why: the engines of a folder are found by file name, so a model replaced at the same path (or
    ``$REALTIME_REFINER_MODEL`` pointing elsewhere) must never pick up another model's engine;
    keyed by the bytes, it cannot. Reading the file costs ~1 ms for the 400 kB shipped model.
    """
    digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()[:16]
    return cache / f"model-{digest}"


def provider_options(cache: Path, *, fp16: bool = True) -> dict[str, Any]:
    """The TensorRT provider's options, as its documentation names them."""
    return {
        "trt_fp16_enable": fp16,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(cache),
    }


def tensorrt_analyser(model: str | Path, *, fp16: bool = True, cache: str | Path | None = None) -> OnnxRuntimeAnalyser:
    """An analyser whose session runs on TensorRT, or ModelError saying why it cannot."""
    reason = available()
    if reason is not None:
        raise ModelError(f"TensorRT refiner unavailable: {reason}; {INSTALL_HINT}")
    folder = engine_folder(Path(cache) if cache is not None else cache_dir(), model)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create the TensorRT engine cache {folder}: {e.strerror}") from e
    providers: list[Any] = [(TRT_PROVIDER, provider_options(folder, fp16=fp16)), CUDA_PROVIDER, CPU_PROVIDER]
    analyser = OnnxRuntimeAnalyser(model, providers=providers)
    if analyser.provider != TRT_PROVIDER:
        raise ModelError(f"TensorRT did not start (ONNX Runtime fell back to {analyser.provider}); {INSTALL_HINT}")
    analyser.warm_up()  # the engine is built (or read from the cache) on the first run: now, not mid-video
    analyser.name = f"tensorrt ({TRT_PROVIDER}{', FP16' if fp16 else ''}; engines in {folder})"
    return analyser
