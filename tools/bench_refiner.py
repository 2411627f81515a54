"""Time the refiner alone per frame at 720p, 1080p and 4K, split into its three parts.

    python tools/bench_refiner.py [--model FILE.onnx] [--runtime onnxruntime] [--repeat 50]

Parts, each timed alone: ``thumbnail`` (the two area-averaged 128x128 thumbnails the network
sees), ``network`` (the runtime's inference on them) and ``apply`` (tone curve, gain and chroma on
the full-size planes). Then the refiner as the pipeline runs it, on a stream of ``--repeat``
frames: it analyses every third frame (``LearnedRefiner``'s default; every frame with
``--analyse-every 1``), so the table gives the median of the frames that ran the network, the
median of those that did not, and the **mean per frame**, which is what the refiner costs a video.
Frames are 4:2:0 BT.709 planes of a synthetic scene, like a decoded H.264 video; OpenCV on one
thread (as in the pipeline, whose own threads fill the cores).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import cv2

from realtime.memory import keep_freed_memory
from realtime.planes import HD_COLOR, Planes
from realtime.refiner import load_refiner
from realtime.refiner.learned import DEFAULT_ANALYSE_EVERY, LearnedRefiner
from realtime.refiner.transform import RefinerParams, Scratch, analyser_input, apply_params
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


def _fresh(params: RefinerParams) -> RefinerParams:
    """The same transform as a new object, so ``apply_params`` cannot reuse what it made for the last one."""
    return RefinerParams(params.knots, params.color, params.gain)


class _Counting:
    """Wraps an analyser to tell which frames of a stream ran the network."""

    def __init__(self, analyser) -> None:
        self.analyser = analyser
        self.name = analyser.name
        self.calls = 0

    def __call__(self, thumb):
        self.calls += 1
        return self.analyser(thumb)


def stream_ms(refiner: LearnedRefiner, planes: Planes, frames: int) -> tuple[list[float], list[float]]:
    """Per-frame ms of ``refiner`` over a stream: (frames that ran the network, frames that did not)."""
    counter = refiner.analyser
    refiner.reset()
    for _ in range(4):
        refiner(planes, planes)
    analysed, reused = [], []
    for _ in range(frames):
        calls = counter.calls
        t0 = time.perf_counter()
        refiner(planes, planes)
        ms = (time.perf_counter() - t0) * 1000
        (analysed if counter.calls > calls else reused).append(ms)
    return analysed, reused


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="refiner ONNX (default: the shipped one)")
    ap.add_argument("--runtime", default="onnxruntime", choices=("onnxruntime", "tensorrt", "keras"))
    ap.add_argument("--repeat", type=int, default=100, help="runs of each part, and frames in the stream")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (the pipeline uses 1 per call)")
    ap.add_argument("--analyse-every", type=int, default=DEFAULT_ANALYSE_EVERY,
                    help="run the network on every Nth frame of the stream")
    args = ap.parse_args(argv)
    keep_freed_memory()  # as the command line does, so temporaries are not page-faulted in anew
    cv2.setNumThreads(args.threads)
    loaded = load_refiner(args.runtime, args.model)
    analyser = _Counting(loaded.analyser)
    refiner = LearnedRefiner(analyser, analyse_every=args.analyse_every)
    print(f"refiner: {refiner.name}; {platform.processor() or platform.machine()}, "
          f"OpenCV threads {args.threads}; medians of {args.repeat}; network on every "
          f"{'' if args.analyse_every == 1 else f'{args.analyse_every}th '}frame".replace("every 2th", "every 2nd")
          .replace("every 3th", "every 3rd"))
    print("| size | pixels | thumbnails ms | network ms | apply ms | frame with network ms | frame without ms "
          "| **mean per frame ms** | mean / 720p |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = None
    for label, (w, h) in SIZES.items():
        bgr = render_frame(0, width=w, height=h)
        planes = Planes.from_bgr(bgr, HD_COLOR, subsample=True)
        thumb = analyser_input(planes, planes)
        params = loaded.analyser(thumb)
        t_thumb = _median_ms(lambda p=planes: analyser_input(p, p), args.repeat)
        t_net = _median_ms(lambda t=thumb: loaded.analyser(t), args.repeat)
        scratch = Scratch()
        # a new params object each time, as after every analysis: the full cost (the frames between
        # analyses reuse the table and gain made for their params, see "frame without")
        t_apply = _median_ms(lambda p=planes, q=params, s=scratch: apply_params(p, _fresh(q), s), args.repeat)
        analysed, reused = stream_ms(refiner, planes, args.repeat)
        mean = statistics.fmean(analysed + reused)
        base = base or mean
        without = f"{statistics.median(reused):.2f}" if reused else "-"
        print(f"| {label} {w}x{h} | {w * h / 1e6:.1f} M | {t_thumb:.2f} | {t_net:.2f} | {t_apply:.2f} | "
              f"{statistics.median(analysed):.2f} | {without} | **{mean:.2f}** | {mean / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
