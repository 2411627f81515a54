"""Measure the refiner's quality against the classical stages and published low-light networks.

    python -m realtime_train.evaluate --clean ../shared/datasets/eval/clean/cbsd68 --anchors ../shared/anchors
    python -m realtime_train.evaluate --lowlight ../shared/datasets/eval/lowlight/lime --sheet lime.png
    python -m realtime_train.evaluate --video ../shared/datasets/eval/video/bikes.mp4

``--clean``: each photo is degraded with ``realtime_train/degrade.py`` under each named condition
(``--conditions``: dark, dim haze, dark + JPEG, mixed; seed = ``--seed`` + its index, so every
method sees the same inputs), then every method's output is scored against the clean photo: PSNR,
GT-mean PSNR (the output scaled to the reference's mean luma first), SSIM (on luma, scikit-image)
and mean CIEDE2000 colour difference, texture (the high-frequency energy against the clean photo's
and the share of its detail kept, see :func:`texture`), JPEG blocking (:func:`blocking`), plus the
median ms per frame of each method on a 1280x720 frame on this machine (first condition only).

``--lowlight``: real dark photos with no reference. Writes a contact sheet (input, classical, full
pipeline and anchors side by side, each photo's row followed by 100% crops of its darkest flat area
and its most textured one, see :func:`crop_boxes`) and prints no-reference statistics: mean brightness (Y, 0-255),
an estimated noise sigma (Immerkaer's Laplacian estimator on Y) and colourfulness (Hasler and
Suesstrunk).

``--video``: temporal stability. The clip is taken as clean; each frame is degraded with the same
camera settings and fresh noise, as a dark camera would film it, then enhanced as a stream. Reports
the mean frame-to-frame change of mean brightness for the clean clip, the classical stages and the
full pipeline, on the moving clip and on a static shot (its first frame repeated with fresh noise,
where the clean change is zero and anything else is flicker). Also the warping error
(``realtime_train/warping.py``: frame t-1 warped onto frame t by the clean clip's DIS flow,
occlusions masked) as a ratio to the clean clip's, and PSNR/SSIM against the clean frames (every
10th frame). On the static shot the clean clip's warping error is zero, so only the moving ratio
is meaningful.

Methods: ``input`` (as is), ``classical`` (the lowlight preset's stages), ``refiner`` (the refiner
alone on the input), ``full`` (the preset's ``refiner_stages``, then the refiner) and, when PyTorch
is installed and ``--anchors`` points at their weights, Zero-DCE, Zero-DCE++ and SCI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from realtime_train import data as refiner_data
from realtime_train import degrade, warping

Method = Callable[[np.ndarray], np.ndarray]  # BGR uint8 -> BGR uint8
DEFAULT_ANCHORS = ("zero-dce", "zero-dce++", "sci-medium")


# -- methods ---------------------------------------------------------------------------------------
def build_methods(args: argparse.Namespace) -> dict[str, Method]:
    """Every method as a still-photo function, each an Enhancer (so each photo starts afresh)."""
    import realtime

    common = {"refiner": args.refiner, "refiner_model": args.model, "backend": "numpy"}
    classical = realtime.Enhancer(args.preset, refiner="off", backend="numpy", config=args.config)
    refiner_alone = realtime.Enhancer(args.preset, stages=[], **common)
    # the preset's refiner_stages, then the refiner (--config sets stages, so not the refiner alone)
    full = realtime.Enhancer(args.preset, config=args.config, **common)
    methods: dict[str, Method] = {
        "input": lambda bgr: bgr,
        "classical": classical.enhance,
        "refiner": refiner_alone.enhance,
        "full": full.enhance,
    }
    methods.update(anchor_methods(args.anchors, args.anchor_names))
    return methods


def anchor_methods(anchors_dir: str | None, names: list[str]) -> dict[str, Method]:
    if not anchors_dir:
        return {}
    from realtime_train import anchors

    reason = anchors.torch_available()
    if reason is not None:
        print(f"anchors skipped: {reason}", file=sys.stderr)
        return {}
    out: dict[str, Method] = {}
    for name in names:
        if name not in anchors.available_anchors(anchors_dir):
            print(f"anchor {name} skipped: no weights in {anchors_dir}", file=sys.stderr)
            continue
        net = anchors.load_anchor(name, anchors_dir)

        def run(bgr: np.ndarray, net=net) -> np.ndarray:
            rgb = net(bgr[..., ::-1].astype(np.float32) / 255.0)
            return np.clip(np.rint(rgb[..., ::-1] * 255.0), 0, 255).astype(np.uint8)

        out[name] = run
    return out


# -- metrics ---------------------------------------------------------------------------------------
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    ya = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
    yb = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
    return float(structural_similarity(ya, yb, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def gt_mean_psnr(out: np.ndarray, clean: np.ndarray) -> float:
    """PSNR after scaling the output so its mean luma is the reference's (the "GT-mean" protocol of
    low-light papers): what is left is structure, noise and colour, not the chosen brightness."""
    mean_out = float(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).mean())
    mean_ref = float(cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY).mean())
    scaled = np.clip(out.astype(np.float64) * (mean_ref / max(mean_out, 1e-6)), 0, 255)
    return psnr(np.rint(scaled).astype(np.uint8), clean)


def _scaled_luma(out: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both lumas as float, the output scaled to the reference's mean (as :func:`gt_mean_psnr`)."""
    y_out, y_ref = (cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float64) for x in (out, clean))
    return y_out * (y_ref.mean() / max(y_out.mean(), 1e-6)), y_ref


def _high_pass(y: np.ndarray) -> np.ndarray:
    """Detail finer than about 2 pixels: texture, grain, edges' fine structure."""
    return y - cv2.GaussianBlur(y, (0, 0), 1.5)


def texture(out: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """``(hf_ratio, detail)``: how the output's fine detail compares with the clean photo's.

    ``hf_ratio`` is the high-frequency energy of the output over the clean photo's (after matching
    mean brightness): below 1 is detail lost (waxy, painterly), above 1 is detail added (noise,
    oversharpening). It cannot tell the two apart when both happen, so ``detail`` is the share of
    the clean photo's own high frequencies found in the output (their projection, which noise,
    being uncorrelated with them, does not raise): 1 keeps all texture, 0.5 half of it.
    """
    y_out, y_ref = _scaled_luma(out, clean)
    hf_out, hf_ref = _high_pass(y_out), _high_pass(y_ref)
    energy_ref = float((hf_ref**2).sum())
    if energy_ref <= 0:
        return float("nan"), float("nan")
    return float((hf_out**2).sum()) / energy_ref, float((hf_out * hf_ref).sum()) / energy_ref


def blocking(bgr: np.ndarray) -> float:
    """The mean luma step across the 8x8 grid's boundaries over the mean step inside blocks,
    averaged over both axes: ~1.0 for a photo without blocking, higher as JPEG's block edges show
    (the dark + JPEG condition's input reads ~1.6 on CBSD68). The grid is JPEG's, from the
    top-left corner, as the degradation model makes it."""
    y = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    ratios = []
    for steps in (np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0)).T):
        at = steps[:, 7::8]
        inside = np.delete(steps, np.s_[7::8], axis=1)
        ratios.append(float(at.mean()) / max(float(inside.mean()), 1e-6))
    return float(np.mean(ratios))


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = [rgb2lab(x[..., ::-1].astype(np.float64) / 255.0) for x in (a, b)]
    return float(np.mean(deltaE_ciede2000(lab[0], lab[1])))


def noise_sigma(bgr: np.ndarray) -> float:
    """Immerkaer (1996): noise std from a Laplacian-difference kernel that cancels smooth structure."""
    y = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    conv = cv2.filter2D(y, -1, k)[1:-1, 1:-1]
    h, w = y.shape
    return float(np.sqrt(np.pi / 2) * np.sum(np.abs(conv)) / (6 * (w - 2) * (h - 2)))


def colourfulness(bgr: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness metric M."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def brightness(bgr: np.ndarray) -> float:
    return float(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).mean())


# -- modes -----------------------------------------------------------------------------------------
def time_720p(method: Method, frame: np.ndarray, repeats: int) -> float:
    method(frame)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        method(frame)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def evaluate_clean(paths: list[Path], methods: dict[str, Method], seed: int, timing_repeats: int,
                   condition: str = "mixed") -> dict:
    """Each photo degraded under ``condition`` (one of ``degrade.CONDITIONS``) and every method scored."""
    ranges = degrade.CONDITIONS[condition]
    metrics = ("psnr", "gt_mean_psnr", "ssim", "de2000", "hf_ratio", "detail", "blocking")
    scores: dict[str, dict[str, list[float]]] = {m: {k: [] for k in metrics} for m in methods}
    for i, path in enumerate(paths):
        clean = refiner_data.read_bgr(path)
        degraded, _ = degrade.degrade(clean, seed + i, ranges)
        for name, method in methods.items():
            out = method(degraded)
            scores[name]["psnr"].append(psnr(out, clean))
            scores[name]["gt_mean_psnr"].append(gt_mean_psnr(out, clean))
            scores[name]["ssim"].append(ssim(out, clean))
            scores[name]["de2000"].append(delta_e(out, clean))
            hf_ratio, detail = texture(out, clean)
            scores[name]["hf_ratio"].append(hf_ratio)
            scores[name]["detail"].append(detail)
            scores[name]["blocking"].append(blocking(out))
        print(f"\r{condition}: {i + 1}/{len(paths)} photos", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    frame = cv2.resize(degrade.degrade(refiner_data.read_bgr(paths[0]), seed, ranges)[0], (1280, 720),
                       interpolation=cv2.INTER_LINEAR)
    table = {}
    for name, method in methods.items():
        row = {k: float(np.mean(v)) for k, v in scores[name].items()}
        row["ms_720p"] = time_720p(method, frame, timing_repeats) if timing_repeats else float("nan")
        table[name] = row
    return table


def evaluate_lowlight(paths: list[Path], methods: dict[str, Method], sheet: Path | None, tile_h: int) -> dict:
    stats: dict[str, dict[str, list[float]]] = {m: {"brightness": [], "noise": [], "colourfulness": []}
                                                for m in methods if m != "refiner"}
    rows = []
    for path in paths:
        img = refiner_data.read_bgr(path)
        tiles, crops = [], []
        for name in stats:
            out = methods[name](img)
            stats[name]["brightness"].append(brightness(out))
            stats[name]["noise"].append(noise_sigma(out))
            stats[name]["colourfulness"].append(colourfulness(out))
            tiles.append(_tile(out, tile_h, f"{name}" if not rows else ""))
            crops.append(out)
        rows.append(np.hstack(tiles))
        rows.append(_crop_row(img, crops, tile_h))
    if sheet is not None:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
        sheet.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(sheet), np.vstack(rows)):
            raise SystemExit(f"cannot write {sheet}")
    return {m: {k: float(np.mean(v)) for k, v in s.items()} for m, s in stats.items()}


def crop_boxes(bgr: np.ndarray, size: int) -> dict[str, tuple[int, int]]:
    """Top-left corners of two ``size`` x ``size`` crops worth looking at 100%: the flattest dark
    area (a night sky, a shadowed wall: where noise shows once brightened) and the most textured
    one (fur, foliage, a face: where a denoiser turns detail into wax).

    The choice is made on the input smoothed at a quarter of its size, where noise has averaged
    out and structure has not, over cells on a half-crop grid; texture is the cell's median
    Laplacian, so a single strong edge (a lamp against the sky) does not count as texture. "Dark"
    is a mean luma of 8-60: clipped black holds nothing to see, and brighter areas hide the noise.
    """
    y = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h, w = y.shape
    size = min(size, h, w)
    small = cv2.resize(y, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    detail = np.abs(cv2.Laplacian(small, cv2.CV_32F, ksize=3))
    step = max(1, size // 2)
    best_flat, best_texture = (float("inf"), (0, 0)), (-1.0, (0, 0))
    for top in range(0, h - size + 1, step):
        for left in range(0, w - size + 1, step):
            cell = (slice(top, top + size), slice(left, left + size))
            texture_score = float(np.median(detail[cell]))  # texture fills the cell; one bright edge does not
            level = float(small[cell].mean())
            # the flattest; among equally flat, the darker; outside 8-60 only if nothing is inside
            flat_score = texture_score + 0.01 * level + (0.0 if 8.0 <= level <= 60.0 else 1000.0 + abs(level - 34.0))
            best_flat = min(best_flat, (flat_score, (left, top)))
            best_texture = max(best_texture, (texture_score, (left, top)))
    return {"dark flat": best_flat[1], "texture": best_texture[1]}


def _crop_row(source: np.ndarray, outputs: list[np.ndarray], height: int) -> np.ndarray:
    """Under each method's whole frame (a tile ``height`` high), its two crops of
    :func:`crop_boxes` side by side, at 1:1: as large as fit under the tile."""
    h, w = source.shape[:2]
    tile_w = max(1, round(w * height / h))  # the whole-frame tiles' width above
    side = max(1, min(height, h, w, tile_w // 2))
    boxes = crop_boxes(source, side)
    tiles = []
    for out in outputs:
        row = np.hstack([out[y:y + side, x:x + side] for x, y in boxes.values()])
        row = np.pad(row, ((0, 0), (0, tile_w - row.shape[1]), (0, 0)))
        tiles.append(cv2.copyMakeBorder(row, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(0, 0, 0)))
    return np.hstack(tiles)


def _tile(img: np.ndarray, height: int, label: str) -> np.ndarray:
    h, w = img.shape[:2]
    tile = cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    tile = cv2.copyMakeBorder(tile, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    if label:
        cv2.putText(tile, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def evaluate_video(path: str, args: argparse.Namespace, max_frames: int) -> dict:
    """Frame-to-frame change of mean brightness (Y, 0-255) on the clip and on a static shot.

    ``moving``: the clip, each frame degraded with the same camera settings and fresh noise. The
    output's change includes the scene's own change, scaled by however much contrast a method
    adds, so it is compared with the clean clip's. ``static``: the clip's first frame repeated
    with fresh noise, where the clean change is zero by construction and any change is flicker.
    """
    import av

    import realtime

    settings = degrade.sample(np.random.default_rng(args.seed))

    def pipelines() -> dict[str, realtime.Enhancer]:
        return {"classical": realtime.Enhancer(args.preset, refiner="off", backend="numpy", config=args.config),
                "full": realtime.Enhancer(args.preset, refiner=args.refiner, refiner_model=args.model,
                                          config=args.config, backend="numpy")}

    with av.open(path) as container:
        clean_frames = [f.to_ndarray(format="bgr24") for _, f in zip(range(max_frames),
                                                                       container.decode(video=0), strict=False)]
    results = {}
    for shot, frames in (("moving", clean_frames), ("static", [clean_frames[0]] * min(60, max_frames))):
        series: dict[str, list[float]] = {"clean": [], "degraded": [], "classical": [], "full": []}
        warp: dict[str, list[float]] = {k: [] for k in series}
        quality: dict[str, list[tuple[float, float]]] = {k: [] for k in series if k != "clean"}
        previous: dict[str, np.ndarray] = {}
        methods = pipelines()
        for i, clean in enumerate(frames):
            dark = degrade.apply(clean, settings, np.random.default_rng(args.seed + 1 + i))
            outputs = {"clean": clean, "degraded": dark, **{name: pipe.process(dark) for name, pipe in methods.items()}}
            motion = warping.clean_motion([previous["clean"], clean])[0] if previous else None
            for name, out in outputs.items():
                series[name].append(brightness(out))
                if motion is not None and i >= 5:  # after the temporal filters have settled
                    warp[name].append(warping.warping_error([previous[name], out], [motion]))
                if name != "clean" and i % 10 == 0:
                    quality[name].append((psnr(out, clean), ssim(out, clean)))
            previous = outputs
        skip = 5 if shot == "static" else 0  # let temporal filters settle on the repeated frame
        table = {}
        clean_warp = float(np.mean(warp["clean"])) if warp["clean"] else 0.0
        for k, v in series.items():
            row = {"mean_abs_change": float(np.mean(np.abs(np.diff(v[skip:])))) if len(v) > skip + 1 else 0.0,
                   "mean": float(np.mean(v)), "frames": len(v)}
            row["warp_error"] = float(np.mean(warp[k])) if warp[k] else 0.0
            row["warp_ratio"] = row["warp_error"] / clean_warp if clean_warp > 0 else float("nan")
            row["psnr"] = float(np.mean([q[0] for q in quality[k]])) if quality.get(k) else float("nan")
            row["ssim"] = float(np.mean([q[1] for q in quality[k]])) if quality.get(k) else float("nan")
            table[k] = row
        results[shot] = table
    return results


def print_table(title: str, table: dict, columns: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    print("| method | " + " | ".join(c[1] for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(format(row[c[0]], c[2]) for c in columns) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clean", nargs="+", help="folders of clean photos for the synthetic benchmark")
    ap.add_argument("--lowlight", nargs="+", help="folders of real low-light photos (no reference)")
    ap.add_argument("--video", help="a real clip for the flicker check")
    ap.add_argument("--conditions", nargs="+", default=list(degrade.CONDITIONS), choices=list(degrade.CONDITIONS),
                    metavar="NAME", help="degradation conditions for --clean (default: all)")
    ap.add_argument("--anchors", help="folder with the published networks' weights (needs PyTorch)")
    ap.add_argument("--anchor-names", nargs="+", default=list(DEFAULT_ANCHORS))
    ap.add_argument("--model", help="refiner ONNX (default: models/refiner.onnx)")
    ap.add_argument("--refiner", default="onnxruntime", choices=("onnxruntime", "keras", "tensorrt"))
    ap.add_argument("--preset", default="lowlight")
    ap.add_argument("--config", help="a TOML file of stage settings over the preset's, as realtime enhance --config")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--limit", type=int, default=0, help="first N photos per folder")
    ap.add_argument("--timing-repeats", type=int, default=10, help="720p timing runs per method (0: skip)")
    ap.add_argument("--sheet", type=Path, help="contact sheet PNG for --lowlight")
    ap.add_argument("--tile-height", type=int, default=180)
    ap.add_argument("--video-frames", type=int, default=150)
    ap.add_argument("--json", type=Path, help="also write every number as JSON")
    args = ap.parse_args(argv)
    if not (args.clean or args.lowlight or args.video):
        ap.error("give --clean, --lowlight and/or --video")
    cv2.setRNGSeed(args.seed)
    methods = build_methods(args)
    results: dict = {"methods": list(methods), "seed": args.seed}
    if args.clean:
        paths = _limit(args.clean, args.limit)
        results["clean"] = {"photos": len(paths), "conditions": {}}
        for n, condition in enumerate(args.conditions):
            table = evaluate_clean(paths, methods, args.seed, args.timing_repeats if n == 0 else 0, condition)
            results["clean"]["conditions"][condition] = table
            print_table(f"synthetic, {condition}: {len(paths)} photos from {', '.join(args.clean)} (seed {args.seed})",
                        table, [("psnr", "PSNR dB", ".2f"), ("gt_mean_psnr", "GT-mean PSNR", ".2f"),
                                ("ssim", "SSIM", ".3f"), ("de2000", "ΔE2000", ".2f"),
                                ("hf_ratio", "HF energy ÷ clean", ".2f"), ("detail", "detail kept", ".2f"),
                                ("blocking", "blocking", ".2f"),
                                ("ms_720p", "ms @720p", ".1f")])
    if args.lowlight:
        paths = _limit(args.lowlight, args.limit)
        table = evaluate_lowlight(paths, methods, args.sheet, args.tile_height)
        results["lowlight"] = {"photos": len(paths), "table": table}
        print_table(f"real low light: {len(paths)} photos, no reference", table,
                    [("brightness", "mean Y", ".1f"), ("noise", "noise σ", ".2f"),
                     ("colourfulness", "colourfulness", ".1f")])
        if args.sheet:
            print(f"contact sheet: {args.sheet}")
    if args.video:
        tables = evaluate_video(args.video, args, args.video_frames)
        results["video"] = {"path": args.video, **tables}
        for shot, table in tables.items():
            print_table(f"flicker, {shot} shot from {args.video} (degraded as a dark camera)", table,
                        [("mean", "mean Y", ".1f"), ("mean_abs_change", "mean |ΔY| per frame", ".3f"),
                         ("warp_ratio", "warping error ÷ clean", ".2f"), ("psnr", "PSNR dB", ".2f"),
                         ("ssim", "SSIM", ".3f")])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _limit(dirs: list[str], limit: int) -> list[Path]:
    paths: list[Path] = []
    for d in dirs:
        found = refiner_data.find_images([d])
        paths.extend(found[:limit] if limit else found)
    if not paths:
        raise SystemExit(f"no images under {', '.join(dirs)}")
    return paths


if __name__ == "__main__":
    sys.exit(main())
