"""Which GPU paths work on this machine, tried for real rather than read off a build flag.

    python tools/gpu_probe.py [--json FILE] [--clip-dir DIR]

``realtime doctor`` says what the libraries were *built* with; this tries each path and times it,
because a codec compiled into FFmpeg still fails without the driver's encode library, and an
OpenCV built with OpenCL may see no device. It reports:

- the CUDA devices PyTorch and CuPy see (when installed), and ``nvidia-smi``'s name and driver;
- the OpenCL devices OpenCV sees, and a UMat round trip on the default one;
- whether OpenCV has ``cv2.cuda`` devices (PyPI wheels never do);
- NVENC: open ``h264_nvenc`` / ``hevc_nvenc`` through PyAV and encode 1080p frames (fps, against
  ``libx264`` ``veryfast`` in the same run);
- NVDEC: decode that H.264 clip with ``h264_cuvid`` (fps, against the software ``h264`` decoder);
- ONNX Runtime's providers, and the refiner under the CUDA provider when there is one.

It writes the 1080p and 4K test clips it makes into ``--clip-dir`` so ``tools/gpu_check.sh`` can
bench them. Every probe catches its own failure and reports it in one line: a check script that
dies at the first missing piece tells nothing about the rest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np


def probe(results: dict, name: str, fn: Callable[[], object]) -> None:
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as e:  # noqa: BLE001 - every probe reports its own failure and the rest still run
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        results[name] = {"ok": False, "error": last}
    entry = results[name]
    print(f"{name:<24} {'ok  ' if entry['ok'] else 'FAIL'} {entry.get('value', entry.get('error'))}", flush=True)


def nvidia_smi() -> str:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        raise RuntimeError("nvidia-smi not on PATH")
    out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def torch_cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"torch {torch.__version__}: no CUDA device")
    return f"torch {torch.__version__}: {torch.cuda.get_device_name(0)}"


def cupy_cuda() -> str:
    import cupy

    n = cupy.cuda.runtime.getDeviceCount()
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    return f"cupy {cupy.__version__}: {n} device(s), {name}"


def opencl_devices() -> str:
    import cv2

    if not cv2.ocl.haveOpenCL():
        raise RuntimeError("OpenCV sees no OpenCL runtime")
    cv2.ocl.setUseOpenCL(True)
    dev = cv2.ocl.Device.getDefault()
    if not dev.name():
        raise RuntimeError("OpenCL runtime present but no device")
    u = cv2.UMat(np.full((1080, 1920), 7, np.uint8))
    total = int(cv2.sumElems(cv2.add(u, 1))[0])
    if total != 8 * 1080 * 1920:
        raise RuntimeError(f"UMat arithmetic gave {total}")
    return f"{dev.name()} ({dev.vendorName()}, {dev.version()}); UMat round trip ok"


def opencv_cuda() -> str:
    import cv2

    n = cv2.cuda.getCudaEnabledDeviceCount() if hasattr(cv2, "cuda") else 0
    if n <= 0:
        raise RuntimeError(f"OpenCV {cv2.__version__} has no CUDA devices (PyPI wheels are built without CUDA)")
    return f"{n} device(s)"


def synthetic_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    from realtime.sources.synthetic import render_frame

    return [render_frame(i, width=width, height=height) for i in range(count)]


def encode(path: Path, codec: str, frames: list[np.ndarray], options: dict[str, str] | None = None) -> float:
    """Encode BGR frames to ``path`` at 30 fps; returns encode fps (conversion included)."""
    import av

    h, w = frames[0].shape[:2]
    t0 = time.perf_counter()
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=Fraction(30, 1), options=options or {})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for bgr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return len(frames) / (time.perf_counter() - t0)


def decode(path: Path, codec: str | None) -> tuple[int, float]:
    """Decode every frame of ``path`` with ``codec`` (None: the stream's default); (frames, fps)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if codec:
            ctx = av.CodecContext.create(codec, "r")
            ctx.extradata = stream.codec_context.extradata
        n = 0
        t0 = time.perf_counter()
        for packet in container.demux(stream):  # the last packet is empty: it flushes the decoder
            for frame in ctx.decode(packet):
                frame.to_ndarray(format="yuv420p")
                n += 1
        elapsed = time.perf_counter() - t0
    if n == 0:
        raise RuntimeError("decoded no frames")
    return n, n / elapsed


def decode_report(path: Path, codec: str | None, expected: int) -> str:
    n, fps = decode(path, codec)
    if n != expected:
        raise RuntimeError(f"decoded {n} of {expected} frames")
    return f"{fps:.0f} fps ({n} frames)"


def driver_libraries() -> str:
    """Load the driver libraries NVDEC, NVENC and OpenCL need, as FFmpeg and OpenCV would (dlopen)."""
    import ctypes

    found = []
    for lib in ("libcuda.so.1", "libnvcuvid.so.1", "libnvidia-encode.so.1", "libnvidia-opencl.so.1"):
        try:
            ctypes.CDLL(lib)
            found.append(f"{lib} loads")
        except OSError:
            found.append(f"{lib} MISSING")
    vendors = sorted(p.name for p in Path("/etc/OpenCL/vendors").glob("*.icd"))
    return ", ".join(found) + f"; OpenCL ICDs: {', '.join(vendors) or 'none'}"


def onnxruntime_tensorrt() -> str:
    """The refiner on ONNX Runtime's TensorRT provider, as ``--refiner tensorrt`` runs it."""
    from realtime.refiner import default_model
    from realtime.refiner.tensorrt import tensorrt_analyser

    t0 = time.perf_counter()
    analyser = tensorrt_analyser(default_model())  # raises, with the reason, where it cannot run
    built = time.perf_counter() - t0
    thumb = np.random.default_rng(0).random((1, 128, 128, 6), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(100):
        analyser(thumb)
    return f"{analyser.name}: engine ready in {built:.1f} s, {(time.perf_counter() - t0) * 10:.2f} ms per analysis"


def onnxruntime_cuda() -> str:
    import onnxruntime as ort

    providers = ort.get_available_providers()
    if "CUDAExecutionProvider" not in providers:
        raise RuntimeError(f"onnxruntime {ort.__version__} providers: {', '.join(providers)} (no CUDA; "
                           "that needs onnxruntime-gpu)")
    from realtime.refiner import default_model
    from realtime.refiner.onnxruntime import OnnxRuntimeAnalyser

    analyser = OnnxRuntimeAnalyser(default_model())
    thumb = np.random.default_rng(0).random((1, 128, 128, 6), dtype=np.float32)
    analyser(thumb)
    t0 = time.perf_counter()
    for _ in range(100):
        analyser(thumb)
    return f"{analyser.name}: {(time.perf_counter() - t0) * 10:.2f} ms per analysis"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--clip-dir", type=Path, default=Path("gpu_check_clips"))
    ap.add_argument("--frames", type=int, default=120, help="frames per test clip")
    args = ap.parse_args(argv)
    args.clip_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    probe(results, "nvidia-smi", nvidia_smi)
    probe(results, "driver libraries", driver_libraries)
    probe(results, "torch cuda", torch_cuda)
    probe(results, "cupy cuda", cupy_cuda)
    probe(results, "opencv opencl", opencl_devices)
    probe(results, "opencv cuda", opencv_cuda)
    probe(results, "onnxruntime cuda", onnxruntime_cuda)
    probe(results, "onnxruntime tensorrt", onnxruntime_tensorrt)

    frames = synthetic_frames(1920, 1080, args.frames)
    sw = args.clip_dir / "synthetic_1080p.mp4"
    probe(results, "encode libx264 1080p", lambda: f"{encode(sw, 'libx264', frames, {'preset': 'veryfast'}):.0f} fps")
    for codec in ("h264_nvenc", "hevc_nvenc"):
        target = args.clip_dir / f"{codec}_1080p.mp4"
        probe(results, f"encode {codec} 1080p", lambda c=codec, t=target: f"{encode(t, c, frames):.0f} fps")
    probe(results, "decode h264 1080p", lambda: decode_report(sw, None, len(frames)))
    probe(results, "decode h264_cuvid 1080p", lambda: decode_report(sw, "h264_cuvid", len(frames)))
    del frames
    uhd = args.clip_dir / "synthetic_4k.mp4"
    frames = synthetic_frames(3840, 2160, max(30, args.frames // 2))
    probe(results, "encode libx264 4K", lambda: f"{encode(uhd, 'libx264', frames, {'preset': 'veryfast'}):.0f} fps")
    probe(results, "decode h264 4K", lambda: decode_report(uhd, None, len(frames)))
    probe(results, "decode h264_cuvid 4K", lambda: decode_report(uhd, "h264_cuvid", len(frames)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
