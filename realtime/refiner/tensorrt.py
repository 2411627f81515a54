"""The refiner's network as a TensorRT engine: the fastest runtime on an NVIDIA GPU.

Status, stated plainly: this file is written against the TensorRT 10 Python API and the CUDA
runtime bindings of cuda-python, and it has NOT been run on any machine in this project: no
TensorRT wheel can be installed on the development machine and it has no GPU. Only the pure-Python
parts (engine cache naming, the availability check, error messages, the pinned-buffer view, the
CUDA error check) are tested for real by ``tests/test_tensorrt_runtime.py``; the build and
inference code is only walked through against hand-written stand-ins for ``tensorrt`` and the CUDA
binding, which checks our bookkeeping but not our reading of NVIDIA's APIs. That needs the test's
end-to-end case, which stops skipping itself on a machine with TensorRT and an NVIDIA GPU. Each
TensorRT or CUDA call below carries a note of where its name and signature were checked.

The network only ever sees one (1, 128, 128, 6) thumbnail pair per frame, so the engine is small,
builds in seconds and is cached on disk, keyed by GPU, TensorRT version, precision, batch range
and the ONNX file's contents (:func:`engine_cache_path`). Inference uses pinned host buffers and
one CUDA stream, so the three copies and the engine run back to back without pageable staging.

Nothing here imports ``tensorrt`` or the CUDA bindings at module level: ``--refiner auto`` asks
:func:`available` first, and importing this module must stay cheap and safe on any machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ConfigError, ModelError
from realtime.refiner.transform import OUTPUTS, THUMB, RefinerParams

__all__ = [
    "EngineSpec",
    "TensorRTAnalyser",
    "available",
    "build_engine",
    "default_cache_dir",
    "engine_cache_path",
    "load_or_build",
]

CACHE_ENV = "REALTIME_CACHE"
INSTALL_HINT = ("install tensorrt and cuda-python on a machine with an NVIDIA GPU, "
                "or use --refiner onnxruntime")
PRECISIONS = ("fp16", "fp32")
# The builder's scratch memory. The network is a few convolutions on a 128x128 input, so 256 MiB
# leaves every tactic available while staying far below what a desktop GPU can spare.
WORKSPACE_BYTES = 256 << 20
# Part of every cache key: bump it when build_engine changes in a way that alters the engine.
_CACHE_FORMAT = 1

_log = logging.getLogger(__name__)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class _Unavailable(ModelError):
    """TensorRT cannot run on this machine at all; ``reason`` is what :func:`available` reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"TensorRT runtime unavailable: {reason}; {INSTALL_HINT}")
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Lazy imports and the availability check
# ---------------------------------------------------------------------------------------------

def _import_tensorrt() -> Any:
    """``tensorrt``, or a ModelError saying why not.

    Beyond ImportError, a wheel whose shared libraries cannot be loaded fails with OSError or
    RuntimeError from inside the import; every failure means the same thing to the user.
    """
    try:
        import tensorrt
    except Exception as e:
        raise _Unavailable(f"tensorrt not importable ({_first_line(e)})") from e
    return tensorrt


def _import_cudart() -> Any:
    """The CUDA runtime binding of cuda-python, or a ModelError saying why not.

    Current cuda-python releases spell it ``cuda.bindings.runtime``; older ones only had
    ``cuda.cudart`` (NVIDIA/TensorRT samples/python/common_runtime.py and the cuda-python example
    helpers use the new path; older TensorRT samples, e.g. detectron2/build_engine.py, the old).
    """
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except Exception as e:
            raise _Unavailable(f"cuda-python not importable ({_first_line(e)})") from e
    except Exception as e:
        raise _Unavailable(f"cuda-python not importable ({_first_line(e)})") from e
    return cudart


def _error_name(cudart: Any, err: Any) -> str:
    """``cudaErrorMemoryAllocation`` and the like; the enum's own name if the lookup fails."""
    with contextlib.suppress(Exception):  # only used to word an error that is already being raised
        # cudaGetErrorName(err) -> (cudaError_t, bytes): cuda-python _example_helpers/helper_cuda.py
        status, name = cudart.cudaGetErrorName(err)
        if status == cudart.cudaError_t.cudaSuccess:
            return name.decode() if isinstance(name, bytes) else str(name)
    return str(getattr(err, "name", err))


def _check(cudart: Any, result: tuple[Any, ...], what: str) -> Any:
    """The value(s) of a cuda-python call, or a ModelError naming the call and the CUDA error.

    cuda-python returns ``(err,)`` or ``(err, value, ...)`` instead of raising, so nothing would
    notice a failed copy unless every call goes through here.
    """
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise ModelError(f"TensorRT refiner: CUDA {what} failed: {_error_name(cudart, err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


@dataclasses.dataclass(frozen=True, slots=True)
class _Gpu:
    index: int
    name: str
    capability: tuple[int, int]


def _gpu(cudart: Any) -> _Gpu:
    """The current CUDA device, or a ModelError (unavailable) when there is none."""
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess:
        raise _Unavailable(f"no CUDA device ({_error_name(cudart, err)})")
    if count < 1:
        raise _Unavailable("no CUDA device")
    index = int(_check(cudart, cudart.cudaGetDevice(), "cudaGetDevice"))
    # cudaGetDeviceProperties(dev) -> (err, cudaDeviceProp); .name is NUL-padded bytes, .major and
    # .minor the compute capability (several public callers of cuda.bindings.runtime read them so).
    props = _check(cudart, cudart.cudaGetDeviceProperties(index), "cudaGetDeviceProperties")
    raw = props.name
    name = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip("\x00").strip()
    return _Gpu(index, name or f"cuda{index}", (int(props.major), int(props.minor)))


def available() -> str | None:
    """None when TensorRT can run here, else one line saying why not. Never raises.

    ``--refiner auto`` calls this to decide, and reports the line when it skips TensorRT.
    """
    try:
        _import_tensorrt()
        cudart = _import_cudart()
        _gpu(cudart)
    except _Unavailable as e:
        return e.reason
    except ModelError as e:  # a CUDA call that failed after the device count succeeded
        return _first_line(e)
    except Exception as e:  # noqa: BLE001 - a broken driver must read as "unavailable", not crash auto
        return f"TensorRT check failed ({_first_line(e)})"
    return None


# ---------------------------------------------------------------------------------------------
# Engine specification and the on-disk cache (pure Python)
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class EngineSpec:
    """What an engine is built for: precision and the range of batch sizes it accepts.

    The shape range covers the batch only. The thumbnail is a fixed 128x128 (see
    :func:`realtime.refiner.transform.thumbnail`): the network never sees full-resolution frames,
    so there is no 360p-to-4K shape range to profile; one engine serves every video size.
    """

    precision: str = "fp16"
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 4
    input_name: str = "thumb"
    input_shape: tuple[int, int, int] = (THUMB, THUMB, 6)  # one sample, NHWC without N

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown TensorRT precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ConfigError(f"TensorRT batch range must satisfy 1 <= min <= opt <= max, got "
                              f"{self.min_batch}/{self.opt_batch}/{self.max_batch}")

    def shape(self, batch: int) -> tuple[int, ...]:
        return (batch, *self.input_shape)


def _read_model(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModelError(f"refiner model not found: {path} ({e.strerror or _first_line(e)})") from e


def _slug(text: str, limit: int = 48) -> str:
    """One safe file-name component: lower case, runs of anything but [a-z0-9.] become one dash.

    >>> _slug("NVIDIA H100 80GB HBM3/x")
    'nvidia-h100-80gb-hbm3-x'
    >>> _slug("10.7.0.post1"), _slug("  ")
    ('10.7.0.post1', 'unknown')
    """
    slug = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")[:limit].strip("-.")
    return slug or "unknown"


def default_cache_dir() -> Path:
    """``$REALTIME_CACHE`` when set, else ``~/.cache/realtime/engines``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "realtime" / "engines"


def engine_cache_path(onnx_path: str | Path, spec: EngineSpec, gpu_name: str, trt_version: str,
                      cache_dir: str | Path | None = None) -> Path:
    """Where the engine for this model, spec, GPU and TensorRT version lives.

    An engine only runs on the GPU model and TensorRT version that built it, and must be rebuilt
    when the ONNX file changes, so all of those are in the name, e.g.
    ``refiner-nvidia-h100-80gb-hbm3-trt10.7.0-fp16-b1-4-0123abcd.engine``. The hash covers the
    ONNX bytes plus the spec fields the name leaves out (input name and shape, optimal batch,
    workspace, cache format), so a change to any of them also misses the cache.
    """
    path = Path(onnx_path)
    data = _read_model(path)
    digest = hashlib.sha256(data)
    extra = f"{_CACHE_FORMAT}|{spec.input_name}|{spec.input_shape}|{spec.opt_batch}|{WORKSPACE_BYTES}"
    digest.update(extra.encode())
    name = (f"{_slug(path.stem)}-{_slug(gpu_name)}-trt{_slug(trt_version)}-{spec.precision}"
            f"-b{spec.min_batch}-{spec.max_batch}-{digest.hexdigest()[:8]}.engine")
    return Path(cache_dir) / name if cache_dir is not None else default_cache_dir() / name


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, then rename over ``path``.

    Two processes building the same engine at once, or one killed mid-write, must never leave a
    truncated engine that a later run would try to deserialize.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise ModelError(f"cannot write the TensorRT engine cache in {path.parent}: "
                         f"{e.strerror or _first_line(e)}; set {CACHE_ENV} to a writable directory") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ModelError(f"cannot write TensorRT engine {path}: {e.strerror or _first_line(e)}; "
                         f"set {CACHE_ENV} to a writable directory") from e


def _fast_fp16(capability: tuple[int, int]) -> bool:
    """Whether a GPU of this compute capability has full-rate FP16 arithmetic.

    TensorRT 10.5 deprecated ``IBuilder.platform_has_fast_fp16`` in favour of asking CUDA (C++ API
    "Deprecated List"); every GPU from sm_53 has fast FP16 except the sm_61 consumer Pascal parts.
    """
    return capability >= (5, 3) and capability != (6, 1)


def _resolve_precision(requested: str, has_fp16_flag: bool, capability: tuple[int, int]) -> str:
    """The precision an engine will really have, so cache names and ``name`` do not claim fp16 falsely.

    ``has_fp16_flag`` is False on TensorRT 11, which removed ``BuilderFlag.FP16`` with weak typing
    ("Removed Python APIs and Replacements", TensorRT 11 migration guide): an fp32 ONNX file then
    builds an fp32 engine.
    """
    if requested == "fp16" and has_fp16_flag and _fast_fp16(capability):
        return "fp16"
    return "fp32"


# ---------------------------------------------------------------------------------------------
# Building (needs TensorRT and a GPU)
# ---------------------------------------------------------------------------------------------

def _make_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` that keeps errors for our messages and sends the rest to ``logging``.

    TensorRT's stock ``trt.Logger`` prints to stdout, which would interleave with the CLI's output.
    Subclassing ``trt.ILogger`` with ``log(severity, msg)`` is the pattern of the TensorRT Python
    API documentation ("The Build Phase"). The object must outlive every builder and runtime
    created with it, so callers keep a reference.
    """

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if getattr(severity, "name", "") in ("INTERNAL_ERROR", "ERROR"):
                self.errors.append(msg)
            _log.debug("TensorRT %s: %s", getattr(severity, "name", severity), msg)

    return _Logger()


def _last_error(logger: Any) -> str:
    errors = getattr(logger, "errors", None)
    return f": {errors[-1].splitlines()[0]}" if errors else "; see the log at debug level"


def build_engine(onnx_path: str | Path, spec: EngineSpec, logger: Any = None) -> bytes:
    """A serialized engine for ``onnx_path`` (seconds to a minute; callers cache the result).

    API per NVIDIA/TensorRT samples/python/dds_faster_rcnn/build_engine.py and
    sample_weight_stripping/build_engines.py (TensorRT 10): ``create_network(0)``, ``OnnxParser``,
    ``set_memory_pool_limit(MemoryPoolType.WORKSPACE, ...)``, one optimization profile,
    ``build_serialized_network`` returning None on failure.
    """
    trt = _import_tensorrt()
    logger = logger if logger is not None else _make_logger(trt)
    path = Path(onnx_path)
    data = _read_model(path)

    builder = trt.Builder(logger)
    # TensorRT 10: explicit batch is the only mode and the EXPLICIT_BATCH flag is deprecated, so 0.
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(data):
        # ParserError.desc() is bound in TensorRT's python/src/parsers/pyOnnx.cpp.
        first = parser.get_error(0).desc() if parser.num_errors > 0 else "unknown parser error"
        raise ModelError(f"TensorRT cannot parse {path}: {str(first).splitlines()[0]}")

    inputs = {network.get_input(i).name: tuple(network.get_input(i).shape) for i in range(network.num_inputs)}
    outputs = {network.get_output(i).name for i in range(network.num_outputs)}
    if list(inputs) != [spec.input_name] or not set(OUTPUTS) <= outputs:
        raise ModelError(f"{path} is not a refiner model: expected input {spec.input_name!r} "
                         f"and outputs {', '.join(OUTPUTS)}")
    shape = inputs[spec.input_name]
    if len(shape) != 4 or tuple(shape[1:]) != spec.input_shape:
        raise ModelError(f"{path}: input {spec.input_name!r} has shape {shape}, expected (N, "
                         f"{', '.join(map(str, spec.input_shape))})")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    fp16_flag = getattr(trt.BuilderFlag, "FP16", None)  # removed in TensorRT 11 (strong typing only)
    # platform_has_fast_fp16 is deprecated since 10.5 and gone in 11; absent means "ask CUDA",
    # which load_or_build already did through _resolve_precision.
    if spec.precision == "fp16" and fp16_flag is not None and getattr(builder, "platform_has_fast_fp16", True):
        config.set_flag(fp16_flag)

    if shape[0] == -1:
        # Only the batch is dynamic; see EngineSpec for why there is no resolution range.
        profile = builder.create_optimization_profile()
        profile.set_shape(spec.input_name, min=spec.shape(spec.min_batch), opt=spec.shape(spec.opt_batch),
                          max=spec.shape(spec.max_batch))
        if config.add_optimization_profile(profile) < 0:
            raise ModelError(f"TensorRT rejected the batch range {spec.min_batch}-{spec.max_batch} for {path}")
    # A file exported with a fixed batch needs no profile; it then only runs at that batch.

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT could not build an engine from {path}{_last_error(logger)}")
    return bytes(memoryview(serialized))


def _engine_target(trt: Any, cudart: Any, spec: EngineSpec) -> tuple[EngineSpec, _Gpu]:
    gpu = _gpu(cudart)
    precision = _resolve_precision(spec.precision, hasattr(trt.BuilderFlag, "FP16"), gpu.capability)
    return dataclasses.replace(spec, precision=precision), gpu


def _load_or_build(onnx_path: str | Path, spec: EngineSpec, cache_dir: str | Path | None,
                   force: bool) -> tuple[bytes, Path, bool, EngineSpec, _Gpu]:
    trt = _import_tensorrt()
    cudart = _import_cudart()
    spec, gpu = _engine_target(trt, cudart, spec)
    path = engine_cache_path(onnx_path, spec, gpu.name, trt.__version__, cache_dir)
    if not force and path.is_file():
        try:
            return path.read_bytes(), path, False, spec, gpu
        except OSError as e:
            _log.debug("unreadable cached engine %s (%s); rebuilding", path, e)
    data = build_engine(onnx_path, spec)
    _write_atomic(path, data)
    return data, path, True, spec, gpu


def load_or_build(onnx_path: str | Path, spec: EngineSpec,
                  cache_dir: str | Path | None = None, *, force: bool = False) -> tuple[bytes, Path, bool]:
    """The engine bytes for ``onnx_path``, the cache file they live in, and whether it was just built.

    fp16 quietly becomes fp32 where it cannot be had (a GPU without fast FP16, TensorRT 11); the
    file name then says fp32. ``force`` rebuilds even when a cached engine exists.
    """
    data, path, built, _, _ = _load_or_build(onnx_path, spec, cache_dir, force)
    return data, path, built


# ---------------------------------------------------------------------------------------------
# Inference (needs TensorRT and a GPU)
# ---------------------------------------------------------------------------------------------

def _host_view(ptr: int, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array over ``prod(shape)`` floats at host address ``ptr``, without copying.

    Same construction as NVIDIA/TensorRT samples/python/common_runtime.py (PinnedHostMem.array).
    The array does not own the memory: it must not be used after the memory is freed.
    """
    return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=shape)


@dataclasses.dataclass(slots=True)
class _Binding:
    """One I/O tensor: its shape, pinned host memory (as an array) and device memory."""

    name: str
    is_input: bool
    shape: tuple[int, ...]
    nbytes: int
    host_ptr: int = 0
    device_ptr: int = 0
    host: np.ndarray | None = None


class TensorRTAnalyser:
    """Runs ``refiner.onnx`` as a cached TensorRT engine on the current CUDA device.

    Building the engine the first time takes seconds to a minute; later runs load it from
    :func:`default_cache_dir`. If a cached engine no longer deserializes (e.g. a driver update it
    was not keyed on), it is rebuilt once.
    """

    def __init__(self, onnx_path: str | Path, precision: str = "fp16",
                 cache_dir: str | Path | None = None) -> None:
        # Everything close() touches exists before anything can raise, so a half-built analyser
        # can always be cleaned up.
        self._cudart: Any = None
        self._stream: Any = None
        self._bindings: list[_Binding] = []
        self._runtime: Any = None
        self._engine: Any = None
        self._context: Any = None
        self._logger: Any = None
        self._input: _Binding | None = None
        self._outputs: dict[str, _Binding] = {}
        self._lock = threading.Lock()
        self.name = "tensorrt (not loaded)"

        spec = EngineSpec(precision=precision)  # a bad precision is a usage error on any machine
        trt = _import_tensorrt()
        cudart = _import_cudart()
        path = Path(onnx_path)
        if not path.is_file():
            raise ModelError(f"refiner model not found: {path}")
        self._cudart = cudart
        try:
            self._load(trt, cudart, path, spec, cache_dir)
        except BaseException:
            self.close()
            raise

    def _load(self, trt: Any, cudart: Any, path: Path, spec: EngineSpec, cache_dir: str | Path | None) -> None:
        self._logger = _make_logger(trt)  # must outlive the runtime and the engine
        data, engine_path, built, spec, gpu = _load_or_build(path, spec, cache_dir, force=False)
        _check(cudart, cudart.cudaSetDevice(gpu.index), "cudaSetDevice")
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None and not built:
            _log.debug("cached engine %s does not deserialize; rebuilding", engine_path)
            data, engine_path, _, spec, gpu = _load_or_build(path, spec, cache_dir, force=True)
            self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise ModelError(f"TensorRT cannot load engine {engine_path}{_last_error(self._logger)}")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise ModelError(f"TensorRT cannot create an execution context for {engine_path}"
                             f"{_last_error(self._logger)}")
        self._bind(trt, cudart, spec, path)
        # cudaStreamCreate() -> (err, cudaStream_t): samples/python/common_runtime.py
        self._stream = _check(cudart, cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.precision = spec.precision
        self.engine_path = engine_path
        self.name = f"tensorrt ({gpu.name}, {spec.precision})"

    def _bind(self, trt: Any, cudart: Any, spec: EngineSpec, path: Path) -> None:
        """Check the engine's I/O tensors and allocate pinned host and device memory for each."""
        engine, context = self._engine, self._context
        # num_io_tensors / get_tensor_name / get_tensor_mode / get_tensor_dtype / trt.nptype:
        # samples/python/common_runtime.py allocate_buffers (TensorRT 10).
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if inputs != [spec.input_name] or not set(OUTPUTS) <= set(names):
            raise ModelError(f"{path} is not a refiner model: engine has tensors {', '.join(names)}")
        for n in names:
            if np.dtype(trt.nptype(engine.get_tensor_dtype(n))) != np.float32:
                raise ModelError(f"TensorRT engine tensor {n!r} is not float32")
        in_shape = spec.shape(1)
        # IExecutionContext.setInputShape returns false for a shape outside the profile.
        if not context.set_input_shape(spec.input_name, in_shape):
            raise ModelError(f"TensorRT engine does not accept input shape {in_shape}")
        for n in names:
            shape = in_shape if n == spec.input_name else tuple(int(d) for d in context.get_tensor_shape(n))
            if any(d < 0 for d in shape) or (n != spec.input_name and (not shape or shape[0] != 1)):
                raise ModelError(f"TensorRT engine gives tensor {n!r} the unusable shape {shape}")
            self._bindings.append(_Binding(n, n == spec.input_name, shape, int(np.prod(shape)) * 4))
        for b in self._bindings:
            # cudaMallocHost(size) -> (err, ptr) and cudaMalloc(size) -> (err, ptr):
            # samples/python/common_runtime.py PinnedHostMem / DeviceMem.
            b.host_ptr = int(_check(cudart, cudart.cudaMallocHost(b.nbytes), "cudaMallocHost"))
            b.host = _host_view(b.host_ptr, b.shape)
            b.device_ptr = int(_check(cudart, cudart.cudaMalloc(b.nbytes), "cudaMalloc"))
        self._input = next(b for b in self._bindings if b.is_input)
        self._outputs = {b.name: b for b in self._bindings if b.name in OUTPUTS}

    def __call__(self, thumb: np.ndarray) -> RefinerParams:
        with self._lock:
            context, cudart, stream, inp = self._context, self._cudart, self._stream, self._input
            if context is None or stream is None or inp is None or inp.host is None:
                raise ModelError("the TensorRT refiner has been closed")
            if thumb.shape != inp.shape:
                raise ModelError(f"TensorRT refiner expects a thumbnail of shape {inp.shape}, got {thumb.shape}")
            np.copyto(inp.host, thumb, casting="same_kind")
            h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
            d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
            # cudaMemcpyAsync(dst, src, count, kind, stream) -> (err,): common_runtime.py _do_inference_base
            _check(cudart, cudart.cudaMemcpyAsync(inp.device_ptr, inp.host_ptr, inp.nbytes, h2d, stream),
                   "cudaMemcpyAsync (to device)")
            if not context.set_input_shape(inp.name, inp.shape):
                raise ModelError(f"TensorRT rejected input shape {inp.shape}")
            for b in self._bindings:
                if not context.set_tensor_address(b.name, b.device_ptr):
                    raise ModelError(f"TensorRT rejected the address of tensor {b.name!r}")
            # execute_async_v3 takes the stream handle as an integer; cudaStream_t converts with int()
            # (common_runtime.py passes the cudaStream_t object itself to the same parameter).
            if not context.execute_async_v3(int(stream)):
                raise ModelError(f"TensorRT inference failed{_last_error(self._logger)}")
            for b in self._outputs.values():
                _check(cudart, cudart.cudaMemcpyAsync(b.host_ptr, b.device_ptr, b.nbytes, d2h, stream),
                       "cudaMemcpyAsync (to host)")
            _check(cudart, cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize")
            knots, color, gain = (self._outputs[k].host for k in OUTPUTS)
            # Copies: the pinned buffers are overwritten by the next call.
            return RefinerParams(knots[0].copy(), color[0].copy(), gain[0].copy())

    def close(self) -> None:
        """Free the pinned and device buffers, the stream and the engine. Safe to call twice.

        Best effort: failures are ignored, because close() also runs from ``__del__`` and at
        interpreter exit, when raising helps no one.
        """
        cudart, stream = self._cudart, self._stream
        if cudart is not None and stream is not None:
            cudart.cudaStreamSynchronize(stream)  # no copy may still target memory about to be freed
        self._context = None
        self._engine = None
        self._runtime = None
        if cudart is not None:
            for b in self._bindings:
                b.host = None
                if b.host_ptr:
                    cudart.cudaFreeHost(b.host_ptr)
                    b.host_ptr = 0
                if b.device_ptr:
                    cudart.cudaFree(b.device_ptr)
                    b.device_ptr = 0
            if stream is not None:
                cudart.cudaStreamDestroy(stream)
        self._bindings = []
        self._input = None
        self._outputs = {}
        self._stream = None

    def __enter__(self) -> TensorRTAnalyser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise, least of all at exit
            self.close()
