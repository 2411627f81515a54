"""Time the refiner alone per frame at 720p, 1080p and 4K, split into its three parts.

    python tools/bench_refiner.py [--model models/refiner.onnx] [--runtime onnxruntime] [--repeat 50]

Parts: ``thumbnail`` (two area-averaged 128x128 thumbnails from the planes), ``network`` (the
runtime's inference on them) and ``apply`` (tone curve, gain and chroma on the full-size planes).
Frames are 4:2:0 BT.709 planes of a synthetic scene, like a decoded H.264 video. Medians over
``--repeat`` runs after warm-up, in one process, with OpenCV on one thread (as in the pipeline,
whose own threads fill the cores).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime.planes import HD_COLOR, Planes
from realtime.refiner import load_refiner
from realtime.refiner.transform import Scratch, analyser_input, apply_params
from realtime.sources.synthetic import render_frame

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4K": (3840, 2160)}


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="refiner ONNX (default: models/refiner.onnx)")
    ap.add_argument("--runtime", default="onnxruntime", choices=("onnxruntime", "tensorrt", "keras"))
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (the pipeline uses 1 per call)")
    args = ap.parse_args(argv)
    cv2.setNumThreads(args.threads)
    refiner = load_refiner(args.runtime, args.model)
    print(f"refiner: {refiner.name}; {platform.processor() or platform.machine()}, "
          f"OpenCV threads {args.threads}; median of {args.repeat}")
    print("| size | pixels | thumbnail ms | network ms | apply ms | total ms | total / 720p |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for label, (w, h) in SIZES.items():
        bgr = render_frame(0, width=w, height=h)
        planes = Planes.from_bgr(bgr, HD_COLOR, subsample=True)
        thumb = analyser_input(planes, planes)
        params = refiner.analyser(thumb)
        t_thumb = _median_ms(lambda p=planes: analyser_input(p, p), args.repeat)
        t_net = _median_ms(lambda t=thumb: refiner.analyser(t), args.repeat)
        scratch = Scratch()
        t_apply = _median_ms(lambda p=planes, q=params, s=scratch: apply_params(p, q, s), args.repeat)
        refiner.reset()
        t_total = _median_ms(lambda p=planes: refiner(p, p), args.repeat)
        base = base or t_total
        print(f"| {label} {w}x{h} | {w * h / 1e6:.1f} M | {t_thumb:.2f} | {t_net:.2f} | {t_apply:.2f} | "
              f"{t_total:.2f} | {t_total / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
