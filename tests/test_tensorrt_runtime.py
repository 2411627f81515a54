"""The TensorRT runtime's pure-Python parts; the engine itself only where TensorRT and a GPU exist.

The development machine has neither, so everything but the last test checks what must hold
everywhere: the module imports without TensorRT, says why it cannot run, fails with a useful
one-line ModelError, and names cached engines so a different GPU, TensorRT, precision, batch
range or model never reuses the wrong engine.
"""

from __future__ import annotations

import ctypes
import enum
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from realtime.errors import ConfigError, ModelError
from realtime.refiner import tensorrt
from realtime.refiner.tensorrt import EngineSpec, TensorRTAnalyser, available, engine_cache_path

ROOT = Path(__file__).resolve().parents[1]
REASON = available()
H100 = "NVIDIA H100 80GB HBM3"


@pytest.fixture
def onnx(tmp_path) -> Path:
    path = tmp_path / "refiner.onnx"
    path.write_bytes(b"\x08\x07not really an onnx graph")  # only its bytes matter to the cache key
    return path


def test_module_imports_without_tensorrt_or_cuda():
    # A fresh interpreter, so a test elsewhere that imported tensorrt cannot hide an eager import.
    code = ("import sys, realtime.refiner.tensorrt as m; "
            "assert 'tensorrt' not in sys.modules and 'cuda' not in sys.modules, sorted(sys.modules); "
            "assert callable(m.available)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


@pytest.mark.skipif(REASON is None, reason="TensorRT is usable here")
def test_available_says_why_not_in_one_line():
    reason = available()
    assert isinstance(reason, str) and reason.strip()
    assert "\n" not in reason
    assert reason == REASON  # stable: the same answer every time


@pytest.mark.skipif(REASON is None, reason="TensorRT is usable here")
def test_analyser_raises_model_error_with_a_hint(onnx):
    with pytest.raises(ModelError) as info:
        TensorRTAnalyser(onnx)
    message = str(info.value)
    assert "TensorRT" in message and "--refiner onnxruntime" in message and "install tensorrt" in message
    assert "\n" not in message
    assert info.value.__cause__ is not None  # chained to the ImportError (or CUDA failure) behind it
    assert info.value.exit_code == 5


@pytest.mark.skipif(REASON is None, reason="TensorRT is usable here")
def test_load_or_build_raises_the_same_model_error(onnx, tmp_path):
    with pytest.raises(ModelError, match="TensorRT runtime unavailable"):
        tensorrt.load_or_build(onnx, EngineSpec(), cache_dir=tmp_path / "engines")
    assert not (tmp_path / "engines").exists()


def test_bad_precision_is_a_usage_error_before_any_import(onnx):
    with pytest.raises(ConfigError, match="precision"):
        TensorRTAnalyser(onnx, precision="int8")
    with pytest.raises(ConfigError, match="batch range"):
        EngineSpec(min_batch=2, opt_batch=1)


def test_cache_path_is_stable_and_names_what_it_was_built_for(onnx, tmp_path):
    spec = EngineSpec()
    a = engine_cache_path(onnx, spec, H100, "10.7.0", tmp_path)
    assert a == engine_cache_path(onnx, EngineSpec(), H100, "10.7.0", tmp_path)
    assert a.parent == tmp_path
    assert re.fullmatch(r"refiner-nvidia-h100-80gb-hbm3-trt10\.7\.0-fp16-b1-4-[0-9a-f]{8}\.engine", a.name)


def test_cache_path_changes_with_every_part_of_the_key(onnx, tmp_path):
    spec = EngineSpec()
    base = engine_cache_path(onnx, spec, H100, "10.7.0", tmp_path)
    variants = {
        "gpu": engine_cache_path(onnx, spec, "NVIDIA GeForce RTX 4090", "10.7.0", tmp_path),
        "trt": engine_cache_path(onnx, spec, H100, "10.8.0", tmp_path),
        "precision": engine_cache_path(onnx, EngineSpec(precision="fp32"), H100, "10.7.0", tmp_path),
        "max batch": engine_cache_path(onnx, EngineSpec(max_batch=8), H100, "10.7.0", tmp_path),
        "min batch": engine_cache_path(onnx, EngineSpec(min_batch=1, opt_batch=2), H100, "10.7.0", tmp_path),
    }
    for what, path in variants.items():
        assert path != base, what
    onnx.write_bytes(onnx.read_bytes() + b"\x00")
    changed = engine_cache_path(onnx, spec, H100, "10.7.0", tmp_path)
    assert changed != base
    assert changed.name.rsplit("-", 1)[0] == base.name.rsplit("-", 1)[0]  # only the hash moved


@pytest.mark.parametrize("gpu", ["NVIDIA H100 80GB HBM3/x", "..\\..\\evil", "  ", "Tesla T4:MIG 1g.5gb", "ü" * 80])
def test_cache_name_is_one_safe_component_for_odd_gpu_names(onnx, tmp_path, gpu):
    path = engine_cache_path(onnx, EngineSpec(), gpu, "10.7.0 (custom)", tmp_path)
    assert path.parent == tmp_path
    assert not set(path.name) & set("/\\ :")
    assert not path.name.startswith(".")
    assert len(path.name) < 120


def test_default_cache_dir_follows_the_environment(onnx, tmp_path, monkeypatch):
    monkeypatch.setenv("REALTIME_CACHE", str(tmp_path / "cache"))
    assert tensorrt.default_cache_dir() == tmp_path / "cache"
    assert engine_cache_path(onnx, EngineSpec(), H100, "10.7.0").parent == tmp_path / "cache"
    monkeypatch.delenv("REALTIME_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tensorrt.default_cache_dir() == tmp_path / "home" / ".cache" / "realtime" / "engines"


def test_cache_path_of_a_missing_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="refiner model not found"):
        engine_cache_path(tmp_path / "nope.onnx", EngineSpec(), H100, "10.7.0", tmp_path)


def test_atomic_write_leaves_only_the_engine(tmp_path):
    target = tmp_path / "sub" / "x.engine"
    tensorrt._write_atomic(target, b"one")
    tensorrt._write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["x.engine"]


def test_precision_falls_back_to_fp32_where_fp16_cannot_be_had():
    resolve = tensorrt._resolve_precision
    assert resolve("fp16", True, (8, 9)) == "fp16"
    assert resolve("fp16", True, (6, 1)) == "fp32"  # consumer Pascal: slow FP16
    assert resolve("fp16", False, (9, 0)) == "fp32"  # TensorRT 11: no BuilderFlag.FP16
    assert resolve("fp32", True, (9, 0)) == "fp32"


def test_host_view_writes_through_to_the_pointer():
    buf = (ctypes.c_float * 6)()
    view = tensorrt._host_view(ctypes.addressof(buf), (1, 2, 3))
    assert view.shape == (1, 2, 3) and view.dtype == np.float32
    np.copyto(view, np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    assert list(buf) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


class _FakeError(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2


def test_cuda_errors_become_model_errors_naming_the_call():
    fake = SimpleNamespace(cudaError_t=_FakeError,
                           cudaGetErrorName=lambda err: (_FakeError.cudaSuccess, err.name.encode()))
    assert tensorrt._check(fake, (_FakeError.cudaSuccess,), "cudaFree") is None
    assert tensorrt._check(fake, (_FakeError.cudaSuccess, 1234), "cudaMalloc") == 1234
    with pytest.raises(ModelError, match=r"CUDA cudaMalloc failed: cudaErrorMemoryAllocation"):
        tensorrt._check(fake, (_FakeError.cudaErrorMemoryAllocation, 0), "cudaMalloc")


@pytest.mark.skipif(REASON is not None, reason=REASON or "TensorRT is usable")
def test_engine_builds_caches_and_matches_onnxruntime(tmp_path):
    from realtime.refiner import default_model
    from realtime.refiner.onnxruntime import OnnxRuntimeAnalyser

    model = default_model()
    if not model.is_file():
        pytest.skip(f"no refiner model at {model}")
    _, path, built = tensorrt.load_or_build(model, EngineSpec(precision="fp32"), cache_dir=tmp_path)
    assert built and path.is_file()
    assert tensorrt.load_or_build(model, EngineSpec(precision="fp32"), cache_dir=tmp_path)[1:] == (path, False)

    thumb = np.random.default_rng(0).random((1, 128, 128, 6), dtype=np.float32)
    want = OnnxRuntimeAnalyser(model, providers=["CPUExecutionProvider"])(thumb)
    for precision, atol in (("fp32", 1e-3), ("fp16", 3e-2)):
        with TensorRTAnalyser(model, precision=precision, cache_dir=tmp_path) as analyser:
            assert analyser.name.startswith("tensorrt (")
            got = analyser(thumb)
            again = analyser(thumb)
        for field in ("knots", "color", "gain"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), atol=atol, err_msg=field)
            np.testing.assert_array_equal(getattr(got, field), getattr(again, field))


# --- Our control flow against stand-ins -------------------------------------------------------
# The fakes below implement only the calls tensorrt.py makes, as the TensorRT 10 and cuda-python
# documentation describe them; they catch mistakes in our own code (order, bookkeeping, copies,
# cleanup), not mistakes in our reading of the real APIs.

class _FakeStream:
    def __int__(self) -> int:
        return 0x5EED


def _fake_cudart() -> SimpleNamespace:
    memory: dict[int, ctypes.Array] = {}

    def alloc(nbytes: int):
        buf = ctypes.create_string_buffer(nbytes)
        memory[ctypes.addressof(buf)] = buf
        return _FakeError.cudaSuccess, ctypes.addressof(buf)

    def free(ptr: int):
        del memory[ptr]
        return (_FakeError.cudaSuccess,)

    def memcpy(dst: int, src: int, count: int, kind, stream):
        ctypes.memmove(dst, src, count)
        return (_FakeError.cudaSuccess,)

    ok = (_FakeError.cudaSuccess,)
    return SimpleNamespace(
        memory=memory, cudaError_t=_FakeError,
        cudaMemcpyKind=SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2),
        cudaGetErrorName=lambda err: (_FakeError.cudaSuccess, err.name.encode()),
        cudaGetDeviceCount=lambda: (_FakeError.cudaSuccess, 1),
        cudaGetDevice=lambda: (_FakeError.cudaSuccess, 0),
        cudaGetDeviceProperties=lambda i: (_FakeError.cudaSuccess,
                                           SimpleNamespace(name=b"Fake GPU 9000\x00\x00", major=8, minor=9)),
        cudaSetDevice=lambda i: ok, cudaMallocHost=alloc, cudaMalloc=alloc, cudaFreeHost=free, cudaFree=free,
        cudaStreamCreate=lambda: (_FakeError.cudaSuccess, _FakeStream()),
        cudaStreamDestroy=lambda s: ok, cudaStreamSynchronize=lambda s: ok, cudaMemcpyAsync=memcpy,
    )


def _fake_tensorrt(log: list[str]) -> SimpleNamespace:
    shapes = {"thumb": (-1, 128, 128, 6), "knots": (-1, 17), "color": (-1, 8), "gain": (-1, 16, 16)}
    io_mode = SimpleNamespace(INPUT="in", OUTPUT="out")

    class ILogger:
        def __init__(self) -> None:
            pass

    class Network:
        num_inputs, num_outputs = 1, 3

        def get_input(self, i):
            return SimpleNamespace(name="thumb", shape=shapes["thumb"])

        def get_output(self, i):
            return SimpleNamespace(name=("knots", "color", "gain")[i])

    class Config:
        def set_memory_pool_limit(self, pool, size):
            log.append(f"workspace {size}")

        def set_flag(self, flag):
            log.append(f"flag {flag}")

        def add_optimization_profile(self, profile):
            log.append(f"profile {profile.shapes}")
            return 0

    class Profile:
        def set_shape(self, name, min, opt, max):  # TensorRT's keyword names
            self.shapes = (name, min, opt, max)

    class Builder:
        platform_has_fast_fp16 = True

        def __init__(self, logger) -> None:
            pass

        def create_network(self, flags):
            assert flags == 0
            return Network()

        create_builder_config = staticmethod(Config)
        create_optimization_profile = staticmethod(Profile)

        def build_serialized_network(self, network, config):
            log.append("build")
            return b"ENGINE"

    class Parser:
        num_errors = 0

        def __init__(self, network, logger) -> None:
            pass

        def parse(self, data):
            return True

    class Context:
        def __init__(self) -> None:
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name, shape):
            return tuple(shape) == (1, 128, 128, 6)

        def get_tensor_shape(self, name):
            return (1, *shapes[name][1:])

        def set_tensor_address(self, name, ptr):
            self.addresses[name] = ptr
            return True

        def execute_async_v3(self, stream):
            assert stream == 0x5EED and set(self.addresses) == set(shapes)
            mean = float(np.ctypeslib.as_array(
                ctypes.cast(self.addresses["thumb"], ctypes.POINTER(ctypes.c_float)), (128 * 128 * 6,)).mean())
            for name in ("knots", "color", "gain"):
                n = int(np.prod(shapes[name][1:]))
                out = np.ctypeslib.as_array(ctypes.cast(self.addresses[name], ctypes.POINTER(ctypes.c_float)), (n,))
                out[:] = mean
            return True

    class Engine:
        num_io_tensors = 4

        def get_tensor_name(self, i):
            return list(shapes)[i]

        def get_tensor_mode(self, name):
            return io_mode.INPUT if name == "thumb" else io_mode.OUTPUT

        def get_tensor_dtype(self, name):
            return "float"

        create_execution_context = staticmethod(Context)

    class Runtime:
        def __init__(self, logger) -> None:
            pass

        def deserialize_cuda_engine(self, data):
            log.append(f"deserialize {bytes(data)!r}")
            return Engine() if bytes(data) == b"ENGINE" else None

    return SimpleNamespace(
        __version__="10.99.0", ILogger=ILogger, Builder=Builder, OnnxParser=Parser, Runtime=Runtime,
        MemoryPoolType=SimpleNamespace(WORKSPACE="workspace"), BuilderFlag=SimpleNamespace(FP16="fp16"),
        TensorIOMode=io_mode, nptype=lambda dtype: np.float32,
    )


def test_build_cache_and_inference_flow_against_fakes(onnx, tmp_path, monkeypatch):
    log: list[str] = []
    fake_cudart = _fake_cudart()
    monkeypatch.setitem(sys.modules, "tensorrt", _fake_tensorrt(log))
    monkeypatch.setitem(sys.modules, "cuda", SimpleNamespace(bindings=SimpleNamespace(runtime=fake_cudart)))
    monkeypatch.setitem(sys.modules, "cuda.bindings", sys.modules["cuda"].bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", fake_cudart)
    assert available() is None

    with TensorRTAnalyser(onnx, cache_dir=tmp_path) as analyser:
        assert analyser.name == "tensorrt (Fake GPU 9000, fp16)"
        assert analyser.engine_path.name.startswith("refiner-fake-gpu-9000-trt10.99.0-fp16-b1-4-")
        assert log[:4] == [f"workspace {256 << 20}", "flag fp16",
                           "profile ('thumb', (1, 128, 128, 6), (1, 128, 128, 6), (4, 128, 128, 6))", "build"]
        thumb = np.full((1, 128, 128, 6), 0.25, np.float32)
        params = analyser(thumb)
        assert params.knots.shape == (17,) and params.color.shape == (8,) and params.gain.shape == (16, 16)
        np.testing.assert_allclose(params.gain, 0.25)
        second = analyser(np.full((1, 128, 128, 6), 0.5, np.float32))
        np.testing.assert_allclose(params.knots, 0.25)  # the first result is a copy, not a view
        np.testing.assert_allclose(second.color, 0.5)
        with pytest.raises(ModelError, match="shape"):
            analyser(np.zeros((2, 128, 128, 6), np.float32))
    assert fake_cudart.memory == {}  # every pinned and device buffer freed
    with pytest.raises(ModelError, match="closed"):
        analyser(thumb)

    log.clear()
    data, path, built = tensorrt.load_or_build(onnx, EngineSpec(), cache_dir=tmp_path)
    assert (data, built) == (b"ENGINE", False) and "build" not in log

    path.write_bytes(b"stale")  # e.g. written by a driver the engine no longer loads with
    TensorRTAnalyser(onnx, cache_dir=tmp_path).close()
    assert log[-2:] == ["build", "deserialize b'ENGINE'"] and path.read_bytes() == b"ENGINE"
