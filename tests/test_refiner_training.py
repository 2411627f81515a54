"""The refiner's training side (TensorFlow): architecture, loss, training, export, parity, evaluation.

TensorFlow is a training and test dependency only; the product never imports it (also tested).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[1]

from realtime.planes import Planes  # noqa: E402
from realtime.refiner import load_refiner  # noqa: E402
from realtime.refiner.transform import RefinerParams, apply_params  # noqa: E402
from realtime_train import architecture as arch  # noqa: E402
from realtime_train import data as refiner_data  # noqa: E402
from realtime_train import evaluate  # noqa: E402
from realtime_train import export as export_refiner  # noqa: E402
from realtime_train import train as train_refiner  # noqa: E402
from tests.media import write_clip  # noqa: E402


def _photo(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth, colourful synthetic 'photo' with some edges."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(xx * 6 + seed) * 0.4 + 0.5, yy, np.cos(yy * 5 + xx * 3) * 0.3 + 0.5], -1)
    img[h // 4: h // 2, w // 3: w // 2] = rng.random(3)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def perturbed_model():
    """An analyser whose heads are no longer the identity, so parity tests exercise every term."""
    keras.utils.set_random_seed(1)
    model = arch.build_analyser()
    rng = np.random.default_rng(1)
    for layer_name in ("knots", "color", "gain_conv"):
        layer = model.get_layer(layer_name)
        layer.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def test_architecture_fits_the_budget_and_starts_as_identity():
    model = arch.build_analyser()
    assert arch.parameter_count(model) <= 100_000
    out = model(np.random.default_rng(0).random((2, 128, 128, 6), dtype=np.float32))
    assert out["knots"].shape == (2, arch.KNOTS + 1)
    assert out["color"].shape == (2, 8)
    assert out["gain"].shape == (2, arch.GRID, arch.GRID)
    rgb = np.random.default_rng(1).random((2, 40, 56, 3), dtype=np.float32)
    same = arch.apply_transform(rgb, out["knots"], out["color"], out["gain"]).numpy()
    assert np.abs(same - rgb).max() < 1e-4


def test_numpy_transform_matches_the_keras_one(perturbed_model):
    bgr = _photo(3, 72, 100)
    thumb = np.random.default_rng(2).random((1, 128, 128, 6), dtype=np.float32)
    out = perturbed_model(thumb)
    rgb = bgr[..., ::-1].astype(np.float32)[None] / 255.0
    ref = arch.apply_transform(rgb, out["knots"], out["color"], out["gain"]).numpy()[0]
    params = RefinerParams(*(np.asarray(out[k])[0] for k in ("knots", "color", "gain")))
    assert np.abs(params.knots - np.linspace(0, 1, 17)).max() > 0.01  # really not the identity
    got = apply_params(Planes.from_bgr(bgr), params).to_bgr()[..., ::-1] / 255.0
    diff = np.abs(got - ref) * 255
    # 8-bit planes in between: rounding, amplified by steep curves and clipped out-of-gamut colours
    assert diff.mean() < 0.8 and np.percentile(diff, 99) < 2.5


def test_a_few_training_steps_lower_the_loss():
    classical = refiner_data.Classical()
    examples = [refiner_data.make_example(_photo(i), 100 + i, classical, 64) for i in range(6)]
    batch = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
    thumb = tf.constant(batch["thumb"])
    stages = tf.constant(batch["stages"], tf.float32) / 255.0
    target = tf.constant(batch["target"], tf.float32) / 255.0
    keras.utils.set_random_seed(0)
    model = arch.build_analyser()
    opt = keras.optimizers.Adam(3e-3)
    first = float(train_refiner.refiner_loss(model, thumb, stages, target)[0])
    for _ in range(25):
        with tf.GradientTape() as tape:
            loss = train_refiner.refiner_loss(model, thumb, stages, target, True)[0]
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    last = float(train_refiner.refiner_loss(model, thumb, stages, target)[0])
    assert last < 0.9 * first, (first, last)


def test_onnx_export_matches_keras_and_loads_in_every_cpu_runtime(tmp_path, perturbed_model):
    keras_path = tmp_path / "refiner.keras"
    onnx_path = tmp_path / "refiner.onnx"
    perturbed_model.save(keras_path)
    export_refiner.export_onnx(keras_path, onnx_path)
    assert export_refiner.compare(keras_path, onnx_path, atol=1e-4) < 1e-4
    frame = Planes.from_bgr(_photo(5), subsample=False)
    ort = load_refiner("onnxruntime", onnx_path)
    ref = load_refiner("keras", onnx_path)
    assert ort.runtime.startswith("onnxruntime") and ref.runtime.startswith("keras")
    a, b = ort.apply_planes(frame, frame), ref.apply_planes(frame, frame)
    assert np.abs(a.y.astype(int) - b.y).max() <= 1


def _photo_folder(tmp_path) -> Path:
    """A folder of four small photos to train on."""
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(4):
        cv2.imwrite(str(data / f"{i}.png"), _photo(i))
    return data


def test_train_script_trains_checkpoints_resumes_and_refuses_eval(tmp_path):
    data = _photo_folder(tmp_path)
    out = tmp_path / "run"
    common = ["--data", str(data), "--out", str(out), "--size", "64", "--variants", "1", "--batch", "2",
              "--workers", "1", "--allow-regression"]  # one epoch on four photos need not beat the stages
    assert train_refiner.main([*common, "--epochs", "1"]) == 0
    assert (out / "refiner.keras").is_file() and any((out / "checkpoints").iterdir())
    assert train_refiner.main([*common, "--epochs", "2", "--resume"]) == 0
    # fine-tuning starts from a trained model's weights, into a fresh run folder
    tuned = tmp_path / "tuned"
    init = ["--data", str(data), "--out", str(tuned), *common[4:], "--epochs", "1"]
    assert train_refiner.main([*init, "--init", str(out / "refiner.keras")]) == 0
    assert (tuned / "refiner.keras").is_file()
    assert train_refiner.main([*init, "--init", str(tmp_path / "missing.keras")]) == 2
    eval_dir = tmp_path / "eval" / "clean"
    eval_dir.mkdir(parents=True)
    assert train_refiner.main(["--data", str(eval_dir), "--out", str(out)]) == 2


def test_a_model_that_makes_a_condition_worse_is_not_saved(tmp_path, capsys):
    """A learning rate that wrecks the network leaves every condition below the classical stages:
    nothing is saved as refiner.keras and the run says so, with its own exit status."""
    data = _photo_folder(tmp_path)
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--size", "64", "--variants", "1", "--batch", "2",
            "--workers", "1", "--epochs", "1", "--lr", "3.0", "--conditions", "mixed:3", "dim haze:1"]
    assert train_refiner.main(args) == train_refiner.REGRESSED
    assert not (out / "refiner.keras").exists()
    captured = capsys.readouterr()
    assert "BELOW THE STAGES" in captured.out and "not saved" in captured.err
    # a run from scratch meant to replace a model is held to that model too (--baseline)
    model = tmp_path / "kept" / "refiner.keras"
    kept = ["--data", str(data), "--out", str(model.parent), "--size", "64", "--variants", "1", "--batch", "2",
            "--workers", "1", "--epochs", "1", "--allow-regression"]
    assert train_refiner.main(kept) == 0
    assert train_refiner.main([*args, "--baseline", str(tmp_path / "missing.keras")]) == 2
    assert train_refiner.main([*args, "--baseline", str(model)]) == train_refiner.REGRESSED
    assert "baseline" in capsys.readouterr().out


def test_condition_mixes_parse_and_reject_unknown_names():
    assert train_refiner.parse_mix(["mixed:2", "dim haze:1", "dark"]) == pytest.approx(
        {"mixed": 0.5, "dim haze": 0.25, "dark": 0.25})
    for bad in (["fog"], ["mixed:x"], ["mixed:0"]):
        with pytest.raises(SystemExit):
            train_refiner.parse_mix(bad)


def test_evaluate_runs_on_a_tiny_folder_and_a_clip(tmp_path, perturbed_model, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        cv2.imwrite(str(photos / f"{i}.png"), _photo(10 + i))
    perturbed_model.save(tmp_path / "m.keras")
    export_refiner.export_onnx(tmp_path / "m.keras", tmp_path / "m.onnx")
    clip = write_clip(tmp_path / "clip.mp4", frames=6, width=96, height=64)
    sheet = tmp_path / "sheet.png"
    code = evaluate.main(["--clean", str(photos), "--lowlight", str(photos), "--sheet", str(sheet),
                          "--video", str(clip.path), "--model", str(tmp_path / "m.onnx"),
                          "--timing-repeats", "1", "--json", str(tmp_path / "r.json")])
    assert code == 0
    text = capsys.readouterr().out
    for method in ("input", "classical", "refiner", "full"):
        assert f"| {method} |" in text
    assert "PSNR" in text and "ΔE2000" in text and "mean |ΔY| per frame" in text
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[0] >= 3 * 180
    import json

    results = json.loads((tmp_path / "r.json").read_text())
    assert results["clean"]["photos"] == 3
    assert set(results["clean"]["conditions"]) == {"dark", "dim haze", "dark + JPEG", "mixed"}
    for table in results["clean"]["conditions"].values():
        assert table["input"]["psnr"] < 60 and table["input"]["gt_mean_psnr"] >= table["input"]["psnr"] - 3
    assert "GT-mean PSNR" in text and "warping error ÷ clean" in text
    assert results["video"]["moving"]["full"]["frames"] == 6
    assert results["video"]["moving"]["clean"]["warp_ratio"] == 1.0
    assert results["video"]["static"]["clean"]["mean_abs_change"] == 0.0


def test_the_product_never_imports_tensorflow():
    code = ("import sys, numpy as np; from realtime.refiner.transform import RefinerParams; "
            "import realtime, realtime.cli, realtime.pipeline, realtime.refiner, realtime.refiner.onnxruntime, "
            "realtime_train, realtime_train.degrade, realtime_train.data; "
            "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
