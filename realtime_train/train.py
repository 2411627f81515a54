"""Train the refiner on clean photos degraded on the fly.

    python -m realtime_train.train --data ../shared/datasets/train --epochs 30

Every run starts by degrading each clean photo ``--variants`` times with the camera model in
``realtime_train/degrade.py`` (new random crop, flip, exposure, noise, cast, haze, blur and compression
for each, drawn from ``--seed``) and running the classical stages on the result; the network then
learns to turn the stages' output into the clean photo. Nothing degraded is written to disk, and the
same seed reproduces the same run. Every 10th photo is held out to report validation PSNR.

Checkpoints (model, optimiser, epoch, best score) go to ``<out>/checkpoints`` after each epoch;
``--resume`` continues from the latest. ``<out>/refiner.keras`` holds the epoch with the best
validation PSNR (held-out photos), not merely the last one.

Losses: L1 (tracks PSNR but is not dominated by the few pixels noise or clipping ruin), 1 - SSIM
(on luma over 8x8 boxes: keeps local contrast and structure, which L1 alone lets the model flatten), a colour-angle term
(penalises hue and cast errors even in dark areas where L1 differences are small), and total
variation on the gain map (a smooth gain cannot draw halos around edges). ``--psnr-weight`` adds
the negated per-example PSNR, which the benchmark averages (see ``refiner_loss``).

``--init refiner.keras`` starts from a trained model's weights (a fine-tune on fresh degradations:
change ``--seed``), into this checkout's architecture.

``--conditions mixed:2 "dim haze:1" dark:1`` draws each training example's degradation from the
named conditions of ``realtime_train/degrade.py`` in those proportions (default: ``mixed`` only).
Validation is scored per condition (every named condition, whatever the training mix), and a
model is only saved as ``refiner.keras`` from an epoch where the refiner is at least as good as its
input (the classical stages) in **every** condition: the refiner must never make the classical
output worse. A fine-tune (``--init``) must also be at least as good as the model it started
from in every condition, or it would not be a model to ship in that one's place; a run from
scratch meant to replace the shipped model names it with ``--baseline models/refiner.keras`` and is
held to the same rule. With no such epoch nothing is saved there and the run exits with status 3.
``--allow-regression`` lifts that (quick checks, experiments: never for a model to ship).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from realtime.refiner import default_model
from realtime_train import data as refiner_data

W_SSIM, W_COLOR, W_TV = 0.1, 0.2, 0.02
_worker_classical: refiner_data.Classical | None = None
_worker_stages: tuple[str, ...] = ()
_worker_ranges = refiner_data.degrade.DEFAULT_RANGES
#: the exit status of a run whose every epoch regressed some condition (nothing shipped)
REGRESSED = 3


def _ranges(condition: str) -> refiner_data.degrade.DegradationRanges:
    """``mixed`` is the training draw (with ``--exposure`` applied); the others as named."""
    return _worker_ranges if condition == "mixed" else refiner_data.degrade.CONDITIONS[condition]


def parse_mix(items: list[str]) -> dict[str, float]:
    """``["mixed:2", "dim haze:1"]`` -> ``{"mixed": 2/3, "dim haze": 1/3}``; a bare name weighs 1."""
    mix: dict[str, float] = {}
    for item in items:
        name, _, weight = item.rpartition(":") if ":" in item else (item, "", "1")
        if name not in refiner_data.degrade.CONDITIONS:
            raise SystemExit(f"unknown condition {name!r}: choose from {', '.join(refiner_data.degrade.CONDITIONS)}")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise SystemExit(f"bad weight in {item!r}: NAME or NAME:WEIGHT") from None
        if mix[name] <= 0:
            raise SystemExit(f"weight of {name!r} must be positive")
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


def _build_one(job: tuple[str, int, int, int, str]) -> dict[str, np.ndarray]:
    global _worker_classical
    if _worker_classical is None:
        import cv2

        cv2.setNumThreads(1)
        _worker_classical = refiner_data.Classical(stages=_worker_stages)
    path, seed, size, loss_size, condition = job
    ex = refiner_data.make_example(refiner_data.read_bgr(Path(path)), seed, _worker_classical, size, _ranges(condition))
    if loss_size and loss_size != size:
        import cv2

        for k in ("stages", "target"):
            ex[k] = cv2.resize(ex[k], (loss_size, loss_size), interpolation=cv2.INTER_AREA)
    ex["thumb"] = ex["thumb"].astype(np.float16)  # halves the in-memory set; float16 keeps 1/2000 steps
    return ex


def build_examples(paths: list[Path], variants: int, size: int, seed: int, workers: int, desc: str,
                   loss_size: int = 0, mix: dict[str, float] | None = None) -> dict:
    """Every photo ``variants`` times, each with its own degradation; ``mix`` (condition ->
    share, default all ``mixed``) says which condition each variant is drawn from, in proportion."""
    mix = mix or {"mixed": 1.0}
    names = list(mix)
    pick = np.random.default_rng(seed + 7).choice(len(names), size=len(paths) * variants, p=list(mix.values()))
    jobs = [(str(p), seed * 1_000_003 + i * 97 + v, size, loss_size, names[pick[i * variants + v]])
            for i, p in enumerate(paths) for v in range(variants)]
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            examples = list(tqdm(pool.imap(_build_one, jobs, chunksize=4), total=len(jobs), desc=desc))
    else:
        examples = [_build_one(j) for j in tqdm(jobs, desc=desc)]
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="folders of clean photos (never eval/)")
    ap.add_argument("--out", default=str(default_model(".keras").parent),
                    help="where refiner.keras and checkpoints go (default: the checkout's models/)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=256, help="side of the square training frames")
    ap.add_argument("--loss-size", type=int, default=128,
                    help="frames are area-downscaled to this side for the loss (0: full size); the transform "
                         "is per pixel, so this keeps its fit while making steps 4x cheaper")
    ap.add_argument("--variants", type=int, default=8, help="degraded versions of each photo")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--exposure", type=float, nargs=2, metavar=("LO", "HI"),
                    default=refiner_data.degrade.DEFAULT_RANGES.exposure,
                    help="linear exposure range of the training degradations (log-uniform); the evaluation "
                         "benchmark keeps the module's default")
    ap.add_argument("--stages", default=",".join(refiner_data.REFINER_STAGES),
                    help="classical stages the refiner's input comes from (the preset's refiner_stages)")
    ap.add_argument("--conditions", nargs="+", default=["mixed"], metavar="NAME[:WEIGHT]",
                    help="degradation conditions of the training examples and their shares "
                         f"({', '.join(refiner_data.degrade.CONDITIONS)}; default: mixed)")
    ap.add_argument("--allow-regression", action="store_true",
                    help="save the best epoch even if it leaves a condition below the classical stages "
                         "(experiments only: such a model is not to be shipped)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N photos (quick checks)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--psnr-weight", type=float, default=0.0,
                    help="weight of the per-photo PSNR term (dB) added to the loss (0: off)")
    ap.add_argument("--init", type=Path,
                    help="start from this trained refiner.keras's weights (fine-tuning; same layers)")
    ap.add_argument("--baseline", type=Path,
                    help="a trained refiner.keras this run must match or beat in every condition before an epoch "
                         "is saved (default: the --init model; a run from scratch meant to replace the shipped "
                         "model names it here)")
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in <out>/checkpoints")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = refiner_data.find_images(args.data)
    if any("eval" in Path(p).parts for p in args.data):
        print("refusing to train on an eval/ folder: those photos are held out for evaluation", file=sys.stderr)
        return 2
    for model in (args.init, args.baseline):
        if model and not model.is_file():
            print(f"no trained model at {model}", file=sys.stderr)
            return 2
    if args.limit:
        paths = paths[: args.limit]
    if len(paths) < 2:
        print(f"need at least 2 photos, found {len(paths)} under {' '.join(args.data)}", file=sys.stderr)
        return 2
    val_paths = paths[::10]
    train_paths = [p for p in paths if p not in set(val_paths)]
    global _worker_stages, _worker_ranges
    _worker_stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    _worker_ranges = dataclasses.replace(_worker_ranges, exposure=tuple(args.exposure))
    mix = parse_mix(args.conditions)
    t0 = time.perf_counter()
    train = build_examples(train_paths, args.variants, args.size, args.seed, args.workers, "degrading (train)",
                           args.loss_size, mix)
    vals = {c: build_examples(val_paths, 2, args.size, args.seed + 1, args.workers, f"degrading (val, {c})",
                              args.loss_size, {c: 1.0})
            for c in refiner_data.degrade.CONDITIONS}
    print(f"{len(train['thumb'])} training examples ({', '.join(f'{k} {v:.0%}' for k, v in mix.items())}) and "
          f"{sum(len(v['thumb']) for v in vals.values())} validation examples in {len(vals)} conditions "
          f"from {len(paths)} photos in {time.perf_counter() - t0:.0f} s")
    history = fit(train, vals, args)
    print(f"final validation PSNR: stages {history['val_stages_psnr']:.2f} dB, refined {history['val_psnr']:.2f} dB")
    if history.get("shipped") is False:
        print(f"not saved as {Path(args.out) / 'refiner.keras'}: every epoch left some condition below the "
              "classical stages or the starting model (see the per-condition lines)", file=sys.stderr)
        return REGRESSED
    return 0


def refiner_loss(model, thumb, stages, target, training: bool = False, psnr_weight: float = 0.0):
    """(total loss, per-example MSE) of ``model`` turning ``stages`` into ``target`` (RGB in [0, 1]).

    ``psnr_weight`` adds the negated mean per-example PSNR (in dB): the benchmark averages PSNR over
    photos, and where a frame's true brightness is ambiguous L1 settles on the median guess while
    per-photo PSNR rewards the one that minimises each photo's squared error.
    """
    import tensorflow as tf

    from realtime_train.architecture import apply_transform, ssim

    p = model(thumb, training=training)
    pred = apply_transform(stages, p["knots"], p["color"], p["gain"])
    l1 = tf.reduce_mean(tf.abs(pred - target))
    ssim_loss = 1.0 - tf.reduce_mean(ssim(pred, target))
    dot = tf.reduce_sum(pred * target, -1)
    norms = tf.norm(pred, axis=-1) * tf.norm(target, axis=-1) + 1e-4
    color = tf.reduce_mean(1.0 - dot / norms)
    g = p["gain"]
    tv = tf.reduce_mean(tf.abs(g[:, 1:] - g[:, :-1])) + tf.reduce_mean(tf.abs(g[:, :, 1:] - g[:, :, :-1]))
    total = l1 + W_SSIM * ssim_loss + W_COLOR * color + W_TV * tv
    mse = tf.reduce_mean(tf.square(pred - target), axis=[1, 2, 3])
    if psnr_weight:
        total += psnr_weight * tf.reduce_mean(10.0 * tf.math.log(mse + 1e-6) / math.log(10.0))
    return total, mse


def fit(train: dict, vals: dict[str, dict], args: argparse.Namespace) -> dict:
    """Train in memory; returns the last epoch's metrics. Imports TensorFlow only now (after forking).

    ``vals`` holds a validation set per condition. The saved model is the epoch with the best mean
    validation PSNR among those that keep every condition at or above the classical stages.
    """
    import keras
    import tensorflow as tf

    from realtime_train.architecture import build_analyser

    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = build_analyser()
    optimizer = keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=args.weight_decay)
    epoch_var = tf.Variable(0, dtype=tf.int64)
    best_var = tf.Variable(-1.0, dtype=tf.float64)  # best validation PSNR so far
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var, best=best_var)
    manager = tf.train.CheckpointManager(ckpt, str(out / "checkpoints"), max_to_keep=3)
    if args.resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
        print(f"resumed from {manager.latest_checkpoint} (epoch {int(epoch_var.numpy())})")
    elif args.init:
        import realtime_train.architecture  # noqa: F401  (registers the custom layers)

        # weights only: the architecture is this checkout's, so a fine-tune can change weightless
        # layers (the CDF's pooling, say) and keep everything the earlier run learned
        model.set_weights(keras.models.load_model(args.init).get_weights())
        print(f"starting from the weights of {args.init}")

    def losses(thumb, stages, target, training):
        return refiner_loss(model, thumb, stages, target, training, args.psnr_weight)

    @tf.function(reduce_retracing=True)
    def train_step(thumb, stages, target):
        with tf.GradientTape() as tape:
            total, _ = losses(thumb, stages, target, True)
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return total

    @tf.function(reduce_retracing=True)
    def eval_step(thumb, stages, target):
        return losses(thumb, stages, target, False)[1]

    def to_float(a):
        return tf.convert_to_tensor(a, dtype=tf.float32) / 255.0

    def validate_one(val: dict, step=eval_step) -> tuple[float, float]:
        mses, base = [], []
        for i in range(0, len(val["thumb"]), args.batch):
            s, t = to_float(val["stages"][i:i + args.batch]), to_float(val["target"][i:i + args.batch])
            mses.append(step(tf.constant(val["thumb"][i:i + args.batch], tf.float32), s, t).numpy())
            base.append(tf.reduce_mean(tf.square(s - t), axis=[1, 2, 3]).numpy())
        psnr = lambda m: float(np.mean(10 * np.log10(1.0 / np.maximum(np.concatenate(m), 1e-10))))  # noqa: E731
        return psnr(mses), psnr(base)

    def validate() -> tuple[float, float]:
        """Mean refined and stages PSNR over the conditions; each condition printed, and
        ``regressed`` set to those where the refiner scores below its input or, fine-tuning, below
        the model it started from (the one it would replace)."""
        scores = {c: validate_one(v) for c, v in vals.items()}
        regressed[:] = [c for c, (refined, stages) in scores.items() if refined < max(stages, floor.get(c, stages))]
        print("  per condition: " + "; ".join(f"{c} {r:.2f} dB (stages {s:.2f})" for c, (r, s) in scores.items())
              + (f"; BELOW THE STAGES{' OR THE BASELINE MODEL' if floor else ''}: {', '.join(regressed)}"
                 if regressed else ""))
        last.clear()
        last.update({c: r for c, (r, _) in scores.items()})
        return (float(np.mean([r for r, _ in scores.values()])), float(np.mean([s for _, s in scores.values()])))

    regressed: list[str] = []
    floor: dict[str, float] = {}  # fine-tuning: the starting model's PSNR per condition
    last: dict[str, float] = {}

    n = len(train["thumb"])
    steps = n // args.batch
    total_steps = steps * args.epochs
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, max(1, total_steps), alpha=0.05)
    rng = np.random.default_rng(args.seed)
    metrics = {}
    if args.baseline:
        # the model this run would replace, scored on the same validation examples
        reference = keras.models.load_model(args.baseline)
        floor.update({c: validate_one(v, lambda th, s, t: refiner_loss(reference, th, s, t)[1])[0]
                      for c, v in vals.items()})
        print(f"baseline {args.baseline}: " + "; ".join(f"{c} {r:.2f} dB" for c, r in floor.items()))
    elif args.init and int(epoch_var.numpy()) == 0:
        val_psnr, base_psnr = validate()
        print(f"before fine-tuning: val PSNR {val_psnr:.2f} dB (stages {base_psnr:.2f})")
        floor.update(last)  # a fine-tune must not make any condition worse than where it started
    for epoch in range(int(epoch_var.numpy()), args.epochs):
        order = np.random.default_rng(args.seed + epoch).permutation(n)
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{args.epochs}")
        run = []
        for s in bar:
            optimizer.learning_rate.assign(schedule(epoch * steps + s))
            idx = np.sort(order[s * args.batch:(s + 1) * args.batch])
            loss = train_step(tf.constant(train["thumb"][idx], tf.float32), to_float(train["stages"][idx]),
                              to_float(train["target"][idx]))
            run.append(float(loss))
            bar.set_postfix(loss=f"{np.mean(run[-20:]):.4f}")
        val_psnr, base_psnr = validate()
        epoch_var.assign(epoch + 1)
        if val_psnr > float(best_var.numpy()) and (args.allow_regression or not regressed):
            # the shipped model is the best epoch on held-out photos, not merely the last one, and
            # never one that makes some condition worse than the classical stages
            best_var.assign(val_psnr)
            model.save(out / "refiner.keras")
        manager.save()
        metrics = {"loss": float(np.mean(run)) if run else float("nan"), "val_psnr": val_psnr,
                   "val_stages_psnr": base_psnr}
        print(f"epoch {epoch + 1}: loss {metrics['loss']:.4f}  val PSNR {val_psnr:.2f} dB (stages {base_psnr:.2f})")
    del rng
    if not metrics:
        val_psnr, base_psnr = validate()
        metrics = {"loss": float("nan"), "val_psnr": val_psnr, "val_stages_psnr": base_psnr}
    acceptable = args.allow_regression or not regressed
    if float(best_var.numpy()) < 0 and acceptable and not (out / "refiner.keras").is_file():
        model.save(out / "refiner.keras")  # no epoch ran (resumed at the end, say): the model as it is
        best_var.assign(metrics["val_psnr"])
    metrics["shipped"] = float(best_var.numpy()) >= 0
    metrics["best_val_psnr"] = float(best_var.numpy())
    if metrics["shipped"]:
        print(f"saved {out / 'refiner.keras'} (best validation PSNR {metrics['best_val_psnr']:.2f} dB)")
    return metrics


if __name__ == "__main__":
    sys.exit(main())
