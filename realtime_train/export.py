"""Export the trained refiner: Keras -> ONNX, check ONNX Runtime against Keras, build a TensorRT engine.

    python -m realtime_train.export               # models/refiner.keras -> realtime/data/refiner.onnx
    python -m realtime_train.export --keras K --onnx O --engine-precision fp16

The ONNX graph takes ``thumb`` (N, 128, 128, 6) and returns ``knots``, ``color`` and ``gain``; the
batch is dynamic, the thumbnail fixed, because the network never sees full-resolution pixels (the
per-pixel transform is applied by the runtime, see ``realtime/refiner/transform.py``). After export,
ONNX Runtime's outputs are compared with Keras' on random and structured thumbnails; a mismatch
beyond ``--atol`` fails the export. When TensorRT is importable (an NVIDIA machine) the engine is
built and cached exactly as the runtime would (ONNX Runtime's TensorRT provider,
``realtime/refiner/tensorrt.py``); elsewhere that step is skipped and the reason printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from realtime.refiner import default_model
from realtime.refiner.transform import OUTPUTS

OPSET = 17


def check_inputs(seed: int = 0) -> np.ndarray:
    """Thumbnails that exercise the whole input range: random, dark, bright and smooth gradients."""
    rng = np.random.default_rng(seed)
    x = rng.random((4, 128, 128, 6), dtype=np.float32)
    x[1] *= 0.1
    x[2] = 0.9 + 0.1 * x[2]
    ramp = np.linspace(0.0, 1.0, 128, dtype=np.float32)
    x[3] = ramp[None, :, None] * ramp[:, None, None]
    return x


def export_onnx(keras_path: Path, onnx_path: Path) -> None:
    import keras
    import tensorflow as tf
    import tf2onnx

    import realtime_train.architecture  # noqa: F401  (registers the custom layers)

    model = keras.models.load_model(keras_path)
    model(check_inputs()[:1])  # tf2onnx needs the model called once so its graph exists
    spec = (tf.TensorSpec((None, 128, 128, 6), tf.float32, name="thumb"),)

    @tf.function(input_signature=spec)
    def analyse(thumb):
        out = model(thumb, training=False)
        return {k: tf.identity(out[k], name=k) for k in OUTPUTS}

    onnx_model, _ = tf2onnx.convert.from_function(analyse, input_signature=spec, opset=OPSET)
    _rename_outputs(onnx_model)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = onnx_path.with_suffix(".onnx.tmp")
    tmp.write_bytes(onnx_model.SerializeToString())
    os.replace(tmp, onnx_path)


def _rename_outputs(onnx_model) -> None:
    """tf2onnx names outputs after the dict keys plus suffixes; give them the runtime's exact names."""
    graph = onnx_model.graph
    for out in graph.output:
        want = next((k for k in OUTPUTS if out.name == k or out.name.startswith(k + ":") or out.name.endswith("/" + k)),
                    None)
        if want is None or out.name == want:
            continue
        old = out.name
        for node in graph.node:
            node.output[:] = [want if o == old else o for o in node.output]
            node.input[:] = [want if i == old else i for i in node.input]
        out.name = want
    names = [o.name for o in graph.output]
    if sorted(names) != sorted(OUTPUTS):
        raise SystemExit(f"unexpected ONNX outputs {names}")


def compare(keras_path: Path, onnx_path: Path, atol: float) -> float:
    """Largest absolute difference between Keras and ONNX Runtime outputs over the check inputs."""
    import keras

    import realtime_train.architecture  # noqa: F401
    from realtime.refiner.onnxruntime import OnnxRuntimeAnalyser

    model = keras.models.load_model(keras_path)
    ort = OnnxRuntimeAnalyser(onnx_path)
    worst = 0.0
    for thumb in check_inputs():
        ref = model(thumb[None], training=False)
        got = ort(thumb[None])
        for k in OUTPUTS:
            worst = max(worst, float(np.max(np.abs(np.asarray(ref[k])[0] - getattr(got, k)))))
    if worst > atol:
        raise SystemExit(f"ONNX Runtime differs from Keras by {worst:.2e} (> {atol:.0e})")
    return worst


def build_tensorrt(onnx_path: Path, precision: str) -> str:
    """Build and cache the TensorRT engine exactly as the runtime does (ONNX Runtime's provider)."""
    from realtime.errors import ModelError
    from realtime.refiner import tensorrt

    reason = tensorrt.available()
    if reason is not None:
        return f"TensorRT engine not built: {reason}"
    try:
        analyser = tensorrt.tensorrt_analyser(onnx_path, fp16=precision == "fp16")
    except ModelError as e:
        return f"TensorRT engine not built: {e}"
    return f"TensorRT engine ready: {analyser.name}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keras", type=Path, default=default_model(".keras"),
                    help="trained model (default: the checkout's models/refiner.keras)")
    ap.add_argument("--onnx", type=Path, default=default_model(),
                    help="where the graph goes (default: the package's realtime/data/refiner.onnx)")
    ap.add_argument("--atol", type=float, default=1e-4, help="largest Keras/ONNX Runtime difference allowed")
    ap.add_argument("--engine-precision", choices=("fp16", "fp32"), default="fp16")
    ap.add_argument("--no-engine", action="store_true", help="skip the TensorRT engine")
    args = ap.parse_args(argv)
    if not args.keras.is_file():
        print(f"no Keras model at {args.keras}: train one with python -m realtime_train.train", file=sys.stderr)
        return 2
    export_onnx(args.keras, args.onnx)
    worst = compare(args.keras, args.onnx, args.atol)
    print(f"wrote {args.onnx} ({args.onnx.stat().st_size / 1024:.0f} KiB); "
          f"ONNX Runtime matches Keras within {worst:.1e}")
    if not args.no_engine:
        print(build_tensorrt(args.onnx, args.engine_precision))
    return 0


if __name__ == "__main__":
    sys.exit(main())
