"""``realtime doctor``: what this machine and these libraries can do, in one screen.

Nothing here raises: a missing piece is a line that says so, because doctor is what people run
when something is missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import sys

ENCODERS = ("libx264", "libx265", "h264_nvenc", "hevc_nvenc", "h264_qsv", "h264_vaapi",
            "h264_videotoolbox", "libopenh264", "libvpx-vp9", "libsvtav1", "aac")
DECODERS = ("h264", "hevc", "h264_cuvid", "hevc_cuvid", "h264_qsv")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _line(label: str, value: str) -> None:
    print(f"  {label:<22} {value}")


def _versions() -> None:
    import av
    import cv2
    import numpy as np

    from realtime import __version__

    print("versions")
    _line("realtime", __version__)
    _line("python", f"{platform.python_version()} ({sys.executable})")
    _line("platform", f"{platform.system()} {platform.release()} {platform.machine()}")
    _line("numpy", np.__version__)
    _line("opencv", f"{cv2.__version__} (threads {cv2.getNumThreads()})")
    ffmpeg = ", ".join(f"{k} {'.'.join(map(str, v))}" for k, v in sorted(av.library_versions.items())
                       if k in ("libavcodec", "libavformat", "libavfilter"))
    _line("pyav", f"{av.__version__} ({ffmpeg})")
    _line("onnxruntime", _version("onnxruntime"))
    ray = _version("ray")
    _line("ray", f"{ray} (realtime batch)" if ray != "not installed" else
          "not installed: realtime batch needs pip install 'realtime-enhance[batch]'")
    from realtime.cores import available_cores

    _line("cores", f"{available_cores()} this process may use")
    from realtime.memory import keep_freed_memory

    why = keep_freed_memory()
    _line("malloc", "glibc, freed frame memory kept between frames" if why is None else why)


def _backends() -> None:
    from realtime.backends import available_backends, cuda_device_count, opencl_device_name

    print("stage backends (auto picks the first available)")
    _line("numpy", "yes (reference)")
    ocl = opencl_device_name()
    _line("opencl (cv2.UMat)", f"yes: {ocl}" if ocl else "no OpenCL device (UMat code runs on the CPU)")
    n = cuda_device_count()
    _line("cuda (cv2.cuda)", f"yes: {n} device(s) (unverified path)" if n else
          "no (this OpenCV build has no CUDA; PyPI wheels never do)")
    _line("auto", available_backends()[0].value)


def _codecs() -> None:
    import av

    print("pyav codecs of interest")
    have = av.codecs_available
    _line("encoders", ", ".join(f"{c}{'' if c in have else ' (no)'}" for c in ENCODERS))
    _line("decoders", ", ".join(f"{c}{'' if c in have else ' (no)'}" for c in DECODERS))
    from realtime.sinks.media import AUTO_ENCODERS, HARDWARE_ENCODERS, encoder_unavailable

    # compiled in is not the same as usable: a hardware encoder also needs its device and driver
    for name in (c for c in ENCODERS if c in have and c in HARDWARE_ENCODERS):
        why = encoder_unavailable(name, 640, 360, "yuv420p")
        _line(f"  {name}", "opens here (--codec auto picks it)" if why is None and name in AUTO_ENCODERS
              else "opens here" if why is None else f"compiled in, does not open here: {why}")
    filters = {"normalize", "atadenoise", "unsharp"} <= set(av.filter.filters_available)
    _line("bench baseline", "normalize,atadenoise,unsharp available" if filters else "FFmpeg filters missing")


def _refiners() -> None:
    from realtime.refiner import default_model, tensorrt

    print("refiner runtimes")
    try:
        import onnxruntime as ort

        _line("onnxruntime", f"{ort.__version__}: {', '.join(ort.get_available_providers())}")
    except ImportError:
        _line("onnxruntime", "not installed (pip install onnxruntime)")
    reason = tensorrt.available()
    _line("tensorrt", f"ONNX Runtime's TensorRT provider is there (unverified path; engines cached in "
          f"{tensorrt.cache_dir()})" if reason is None else f"unavailable: {reason}")
    found = importlib.util.find_spec("tensorflow") is not None
    _line("keras", "TensorFlow installed (reference runtime)" if found
          else "TensorFlow not installed (training/export only; pip install 'realtime-enhance[train]')")
    model = default_model()
    _line("refiner model", f"{model} ({model.stat().st_size // 1024} KiB)" if model.is_file()
          else f"missing: {model} (reinstall the package, or set $REALTIME_REFINER_MODEL)")


def _protocols() -> None:
    from realtime.protocols import NETWORK_PROTOCOLS, has_protocol

    print("network protocols (asked of this PyAV build's FFmpeg)")
    have = [p for p in NETWORK_PROTOCOLS if has_protocol(p)]
    missing = [p for p in NETWORK_PROTOCOLS if p not in have]
    _line("available", ", ".join(have) or "none")
    _line("missing", ", ".join(missing) + (" (the PyPI wheels are built without SRT: stream with udp:// or "
                                           "rtmp://)" if "srt" in missing else "") if missing else "none")


def _virtualcam() -> None:
    from realtime.sinks.virtualcam import virtualcam_backends

    print("virtual camera (-o virtualcam:)")
    for name, found in virtualcam_backends():
        _line(name, found)


def _cameras() -> None:
    from realtime.sources.camera import camera_modes, list_cameras

    print("cameras (formats as FFmpeg lists them; --camera-format takes the 4-letter code)")
    cams = list_cameras()
    if not cams:
        _line("none found", "no /dev/video* devices")
    for path, name in cams:
        _line(path, name)
        try:
            modes = camera_modes(path)
        except Exception as e:  # noqa: BLE001 - one camera that cannot be asked does not end the section
            _line("", f"formats not readable: {e}")
            continue
        if not modes:
            _line("", "no capture formats listed (a metadata node, or not a capture device)")
        for mode in modes:
            _line("", mode.describe())


def run_doctor() -> int:
    for section in (_versions, _backends, _codecs, _protocols, _refiners, _virtualcam, _cameras):
        try:
            section()
        except Exception as e:  # noqa: BLE001 - doctor reports, it does not crash
            print(f"  ({section.__name__.strip('_')} check failed: {e})")
    return 0
