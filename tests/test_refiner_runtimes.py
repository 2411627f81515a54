"""The refiner's runtimes: TensorRT through ONNX Runtime's provider, and how ``auto`` chooses.

No machine this suite runs on has TensorRT, so what is tested is everything around the session:
the availability check, the options the provider gets, where engines are cached, and that a
session which did not really start on TensorRT is refused rather than used (ONNX Runtime falls
back to the next provider silently). The provider list ONNX Runtime reports is simulated for that
last check; the session itself is real.
"""

from __future__ import annotations

import onnxruntime as ort
import pytest

from realtime.errors import ModelError
from realtime.refiner import default_model, load_refiner, tensorrt
from realtime.refiner.onnxruntime import CPU_PROVIDER

pytestmark = pytest.mark.skipif(tensorrt.available() is None, reason="TensorRT's provider is usable here")


def test_unavailable_is_one_line_naming_what_is_there():
    reason = tensorrt.available()
    assert "TensorRT provider" in reason and CPU_PROVIDER in reason and "\n" not in reason


def test_provider_options_are_fp16_with_engine_and_timing_caches(tmp_path):
    options = tensorrt.provider_options(tmp_path)
    assert options["trt_fp16_enable"] is True
    assert options["trt_engine_cache_enable"] is True and options["trt_engine_cache_path"] == str(tmp_path)
    assert options["trt_timing_cache_enable"] is True
    assert tensorrt.provider_options(tmp_path, fp16=False)["trt_fp16_enable"] is False


def test_the_cache_is_keyed_by_onnxruntime_and_tensorrt_versions(tmp_path, monkeypatch):
    monkeypatch.setenv(tensorrt.CACHE_ENV, str(tmp_path))
    folder = tensorrt.cache_dir()
    assert folder.parent == tmp_path / "tensorrt"
    assert folder.name == f"ort{ort.__version__}-trt{tensorrt._version('tensorrt')}"
    monkeypatch.delenv(tensorrt.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tensorrt.cache_dir().is_relative_to(tmp_path / "xdg" / "realtime" / "tensorrt")


def test_asking_for_tensorrt_is_a_model_error_with_the_way_out():
    with pytest.raises(ModelError) as err:
        load_refiner("tensorrt")
    assert "TensorRT" in str(err.value) and "--refiner onnxruntime" in str(err.value)


def test_a_session_that_fell_back_from_tensorrt_is_refused(tmp_path, monkeypatch):
    # ONNX Runtime is told (simulated) that it has the provider; the real CPU build then either
    # refuses the provider or runs the session on the CPU: both must end as a ModelError
    real = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: [tensorrt.TRT_PROVIDER, *real])
    assert tensorrt.available() is None
    with pytest.raises(ModelError) as err:
        tensorrt.tensorrt_analyser(default_model(), cache=tmp_path / "engines")
    assert "\n" not in str(err.value)


def test_auto_on_a_cpu_build_says_nothing_about_tensorrt():
    lines: list[str] = []
    refiner = load_refiner("auto", notify=lines.append)
    assert refiner is not None and refiner.runtime == f"onnxruntime ({CPU_PROVIDER})"
    assert lines == []


def test_engines_are_kept_per_model_bytes_not_per_file_name(tmp_path):
    """A model replaced at the same path, or another model named by $REALTIME_REFINER_MODEL, gets
    its own engine folder: engines are found by file name, so sharing one would run the wrong one."""
    model = tmp_path / "refiner.onnx"
    model.write_bytes(default_model().read_bytes())
    first = tensorrt.engine_folder(tmp_path / "cache", model)
    assert first.parent == tmp_path / "cache" and first.name.startswith("model-")
    assert tensorrt.engine_folder(tmp_path / "cache", default_model()) == first  # same bytes, same engines
    model.write_bytes(model.read_bytes() + b"\0")  # swapped in place
    assert tensorrt.engine_folder(tmp_path / "cache", model) != first
