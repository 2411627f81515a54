"""The learned refiner's architecture (Keras 3): analyse a thumbnail, emit a cheap per-pixel transform.

Design (justified in ``models/MODEL_CARD.md``): the network never sees full-resolution pixels. It
looks at 128x128 thumbnails of the classical stages' output and of the original frame (through a
small CNN and through the thumbnails' per-channel cumulative histograms), and emits

* ``knots``: a monotone luma tone curve, ``KNOTS + 1`` values at evenly spaced input levels;
* ``color``: 8 numbers, a 2x2 matrix on (Cb, Cr), a luma-proportional chroma shift (a colour cast
  is multiplicative in RGB, so its chroma offset grows with brightness) and a constant shift;
* ``gain``: a 16x16 map of log2 luma gain (at most one stop either way), upsampled bilinearly.

Applying them to a frame is a lookup table on Y, one smooth multiply and a few operations on the
(quarter-size) chroma planes, so the refiner's cost barely grows with resolution, and the same
transform can be computed on planes by the runtime (``realtime/refiner/transform.py``) without
TensorFlow. :func:`apply_transform` here is the differentiable twin used for training; a test keeps
the two in agreement.

TensorFlow is imported by this module; the product's runtimes import only the exported ONNX graph.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers, ops

from realtime.refiner.transform import COLOR_PARAMS, MAX_RATIO, RATIO_EPS, THUMB

KNOTS = 16  # tone-curve segments
GRID = 16  # gain-map side
MAX_LOG2_GAIN = 1.0
CDF_LEVELS = 16


@keras.saving.register_keras_serializable(package="realtime")
class CurveHead(layers.Layer):
    """Dense features -> monotone curve knots; starts as the identity curve."""

    def __init__(self, knots: int = KNOTS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.knots = knots
        self.dense = layers.Dense(
            knots + 1,
            kernel_initializer="zeros",
            # softplus(b) == 1/knots: every segment starts with slope 1, so the curve is y = x
            bias_initializer=keras.initializers.Constant(math.log(math.expm1(1.0 / knots))),
        )

    def build(self, input_shape) -> None:
        self.dense.build(input_shape)

    def call(self, features):
        raw = self.dense(features)
        offset = 0.1 * ops.tanh(self._offset(raw))
        steps = ops.softplus(raw[:, 1:])
        return ops.concatenate([offset, offset + ops.cumsum(steps, axis=1)], axis=1)

    def _offset(self, raw):
        # bias of unit 0 starts at the same constant as the steps; subtract it so the black level starts at 0
        return raw[:, :1] - math.log(math.expm1(1.0 / self.knots))

    def get_config(self) -> dict:
        return {**super().get_config(), "knots": self.knots}


@keras.saving.register_keras_serializable(package="realtime")
class ColorHead(layers.Layer):
    """Dense features -> chroma transform parameters; starts as the identity transform."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = layers.Dense(COLOR_PARAMS, kernel_initializer="zeros", bias_initializer="zeros")

    def build(self, input_shape) -> None:
        self.dense.build(input_shape)

    def call(self, features):
        identity = ops.convert_to_tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]], dtype=features.dtype)
        return identity + 0.5 * ops.tanh(self.dense(features))


@keras.saving.register_keras_serializable(package="realtime")
class SoftCdf(layers.Layer):
    """Each input channel's cumulative histogram at ``levels`` points, made differentiable with sigmoids.

    A tone curve is above all a function of the histogram (histogram equalisation is the CDF
    itself); handing the network the CDFs of both thumbnails lets a small dense head learn the
    curve in a few epochs, where convolutions and pooling alone learned it slowly. It is taken on
    a 32x32 version of the thumbnails (``build_analyser``'s ``cdf_pool``): 1,024 values per channel
    are plenty for a 16-level histogram, and at 64x64 these sigmoids were a third of the network's time.
    """

    def __init__(self, levels: int = CDF_LEVELS, softness: float = 0.02, **kwargs) -> None:
        super().__init__(**kwargs)
        self.levels = levels
        self.softness = softness

    def call(self, x):
        # sigmoid((edge - x) / softness) for every channel and edge, written as one fixed 1x1
        # convolution (C -> C*L, weight -1/softness, bias edge/softness) then a sigmoid: the same
        # numbers as broadcasting x against the edges, but ONNX Runtime runs a convolution several
        # times faster than a broadcast subtraction over (B, H, W, C, L).
        channels = x.shape[-1]
        edges = [(i + 0.5) / self.levels for i in range(self.levels)]
        kernel = [[-1.0 / self.softness if j // self.levels == i else 0.0 for j in range(channels * self.levels)]
                  for i in range(channels)]
        kernel = ops.reshape(ops.convert_to_tensor(kernel, dtype=x.dtype), (1, 1, channels, channels * self.levels))
        bias = ops.convert_to_tensor([e / self.softness for e in edges] * channels, dtype=x.dtype)
        below = ops.sigmoid(ops.conv(x, kernel, padding="valid") + bias)  # (B, H, W, C*L), channel-major
        return ops.mean(below, axis=(1, 2))

    def get_config(self) -> dict:
        return {**super().get_config(), "levels": self.levels, "softness": self.softness}


def build_analyser(width: int = 32, cdf_pool: int = 4) -> keras.Model:
    """Thumbnails (B, 128, 128, 6): RGB of the stages' output and of the original, in [0, 1]."""
    act = lambda: layers.LeakyReLU(0.2)  # noqa: E731
    thumb = keras.Input((THUMB, THUMB, 6), name="thumb")
    x = thumb
    widths = (16, width, 48, 48, 64)
    feats = []
    for i, w in enumerate(widths):
        x = layers.Conv2D(w, 3, strides=2, padding="same", name=f"conv{i}")(x)
        x = act()(x)
        feats.append(x)
    local = feats[2]  # 16x16
    cdf = SoftCdf(name="cdf")(layers.AveragePooling2D(cdf_pool)(thumb))
    glob = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), cdf])
    glob = act()(layers.Dense(64, name="global")(glob))
    knots = CurveHead(name="knots")(glob)
    color = ColorHead(name="color")(glob)
    # HDRNet-style fusion: local features plus a broadcast of the global ones decide the gain map
    loc = layers.Conv2D(32, 3, padding="same", name="local")(local)
    loc = act()(loc + layers.Reshape((1, 1, 32))(layers.Dense(32, name="fuse")(glob)))
    gain = layers.Conv2D(1, 1, kernel_initializer="zeros", name="gain_conv")(loc)
    gain = layers.Reshape((GRID, GRID), name="gain")(MAX_LOG2_GAIN * ops.tanh(gain))
    return keras.Model(thumb, {"knots": knots, "color": color, "gain": gain}, name="refiner_analyser")


# -- the transform, differentiable ------------------------------------------------------------------
# Full-range BT.601 (JPEG) Y'CbCr on RGB in [0, 1]; chroma centred on 0.
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB


def rgb_to_ycc(rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = _KR * r + _KG * g + _KB * b
    return y, (b - y) / (2 * (1 - _KB)), (r - y) / (2 * (1 - _KR))


def ycc_to_rgb(y, cb, cr):
    r = y + 2 * (1 - _KR) * cr
    b = y + 2 * (1 - _KB) * cb
    g = (y - _KR * r - _KB * b) / _KG
    return tf.stack([r, g, b], axis=-1)


def eval_curve(knots, y):
    """Piecewise-linear curve through ``knots`` (B, K+1) at luma ``y`` (B, H, W) in [0, 1]."""
    k = knots.shape[-1] - 1
    t = tf.clip_by_value(y, 0.0, 1.0) * k
    i0 = tf.minimum(tf.floor(t), k - 1)
    frac = t - i0
    i0 = tf.cast(i0, tf.int32)
    lo = tf.gather(knots, i0, batch_dims=1)
    hi = tf.gather(knots, i0 + 1, batch_dims=1)
    return lo + (hi - lo) * frac


def apply_transform(rgb, knots, color, gain):
    """The refined RGB (B, H, W, 3) in [0, 1] from the stages' output ``rgb`` and the analyser's outputs."""
    y, cb, cr = rgb_to_ycc(rgb)
    h, w = tf.shape(rgb)[1], tf.shape(rgb)[2]
    g = tf.image.resize(tf.pow(2.0, gain)[..., None], (h, w), method="bilinear")[..., 0]
    y2 = tf.clip_by_value(tf.clip_by_value(eval_curve(knots, y), 0.0, 1.0) * g, 0.0, 1.0)
    ratio = tf.clip_by_value((y2 + RATIO_EPS) / (y + RATIO_EPS), 0.0, MAX_RATIO)
    c = [color[:, i, None, None] for i in range(COLOR_PARAMS)]
    cb2 = ratio * (c[0] * cb + c[1] * cr) + c[4] * y2 + c[6]
    cr2 = ratio * (c[2] * cb + c[3] * cr) + c[5] * y2 + c[7]
    cb2 = tf.clip_by_value(cb2, -0.5, 0.5)
    cr2 = tf.clip_by_value(cr2, -0.5, 0.5)
    return tf.clip_by_value(ycc_to_rgb(y2, cb2, cr2), 0.0, 1.0)


def ssim(a, b, window: int = 8, stride: int = 4):
    """Mean SSIM of luma over ``window``-pixel boxes every ``stride`` pixels (B,), for images in [0, 1].

    Box windows with a stride keep the loss's gradient cheap on a CPU (``tf.image.ssim``'s 11x11
    Gaussian made a training step 20x slower) while measuring the same local structure.
    """
    ya = rgb_to_ycc(a)[0][..., None]
    yb = rgb_to_ycc(b)[0][..., None]
    pool = lambda x: tf.nn.avg_pool2d(x, window, stride, "VALID")  # noqa: E731
    mu_a, mu_b = pool(ya), pool(yb)
    var_a = pool(ya * ya) - mu_a * mu_a
    var_b = pool(yb * yb) - mu_b * mu_b
    cov = pool(ya * yb) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return tf.reduce_mean(s, axis=[1, 2, 3])


def parameter_count(model: keras.Model) -> int:
    return int(sum(math.prod(v.shape) for v in model.weights))
