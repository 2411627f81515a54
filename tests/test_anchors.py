"""The published low-light anchors (realtime_train/anchors.py): architectures, forward passes, loading, errors.

Runs on random weights written by the tests themselves, so it needs PyTorch but not ../shared.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from realtime_train import anchors  # noqa: E402  (after the skip: the module needs torch to be useful)

NAMES = list(anchors.ANCHORS)


def _image(h: int = 36, w: int = 52, seed: int = 0) -> np.ndarray:
    """A dark random RGB image, float32 in [0, 0.4]: the kind of input the anchors exist for."""
    return (np.random.default_rng(seed).random((h, w, 3)) * 0.4).astype(np.float32)


def _randomised(name: str, seed: int = 0):
    """The network for ``name`` with random weights, BatchNorm statistics included (not the identity)."""
    torch.manual_seed(seed)
    net = anchors.build_network(name)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    return net


def _save(net, folder: Path, name: str, extra: dict | None = None) -> Path:
    state = dict(net.state_dict())
    state.update(extra or {})
    path = folder / anchors.ANCHORS[name]
    torch.save(state, path)
    return path


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("h", "w"), [(36, 52), (25, 37), (5, 7), (1, 1)])
def test_output_shape_dtype_range(name: str, h: int, w: int) -> None:
    out = anchors.Anchor(name, _randomised(name))(_image(h, w))
    assert out.shape == (h, w, 3)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_strict_round_trip_through_a_weight_file(name: str, tmp_path: Path) -> None:
    net = _randomised(name, seed=3)
    _save(net, tmp_path, name)
    assert anchors.available_anchors(tmp_path) == [name]
    loaded = anchors.load_anchor(name, tmp_path)
    img = _image(48, 60, seed=1)
    np.testing.assert_array_equal(loaded(img), anchors.Anchor(name, net)(img))


def test_sci_file_with_training_network_loads_inference_half(tmp_path: Path) -> None:
    """SCI checkpoints carry the self-calibration net too; only ``enhance.*`` is used, like Finetunemodel."""
    net = _randomised("sci-medium", seed=5)
    keys = set(net.state_dict())
    # the shared conv block appears under both names, as in the published files
    assert {"enhance.conv.0.weight", "enhance.blocks.0.0.weight", "enhance.out_conv.0.weight"} <= keys
    extra = {"calibrate.in_conv.0.weight": torch.zeros(16, 3, 3, 3), "calibrate.out_conv.0.bias": torch.zeros(3)}
    _save(net, tmp_path, "sci-medium", extra)
    img = _image(seed=2)
    np.testing.assert_array_equal(
        anchors.load_anchor("sci-medium", tmp_path)(img), anchors.Anchor("sci-medium", net)(img)
    )


def test_mismatched_weights_raise_value_error(tmp_path: Path) -> None:
    _save(_randomised("zero-dce"), tmp_path, "zero-dce++")  # Zero-DCE weights under Zero-DCE++'s name
    with pytest.raises(ValueError, match=r"zero-dce\+\+: weights do not match the architecture") as err:
        anchors.load_anchor("zero-dce++", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "28 missing (e_conv1.depth_conv.weight" in msg and "14 unexpected (e_conv1.weight" in msg


def test_wrong_shape_is_named(tmp_path: Path) -> None:
    state = _randomised("sci-easy").state_dict()
    state["enhance.in_conv.0.weight"] = torch.zeros(4, 3, 3, 3)
    torch.save(state, tmp_path / anchors.ANCHORS["sci-easy"])
    with pytest.raises(
        ValueError, match=r"1 wrong shape \(enhance\.in_conv\.0\.weight \(4, 3, 3, 3\) vs \(3, 3, 3, 3\)"
    ):
        anchors.load_anchor("sci-easy", tmp_path)


def test_unreadable_file_raises_value_error(tmp_path: Path) -> None:
    (tmp_path / anchors.ANCHORS["sci-easy"]).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="sci-easy: cannot read"):
        anchors.load_anchor("sci-easy", tmp_path)


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    assert anchors.available_anchors(tmp_path) == []
    with pytest.raises(FileNotFoundError, match=r"zero-dce: weight file not found: .*zerodce_epoch99\.pth"):
        anchors.load_anchor("zero-dce", tmp_path)
    with pytest.raises(ValueError, match="unknown anchor 'retinex'"):
        anchors.load_anchor("retinex", tmp_path)


def test_bad_image_shape_raises() -> None:
    net = anchors.Anchor("sci-easy", _randomised("sci-easy"))
    with pytest.raises(ValueError, match="expected an RGB image"):
        net(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="expected an RGB image"):
        net(np.zeros((8, 8, 4), np.float32))


def _set_curve_bias(conv, value: float) -> None:
    """Zero the last conv's weights and set its bias, so every curve parameter is tanh(value)."""
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.fill_(value)


@pytest.mark.parametrize("name", ["zero-dce", "zero-dce++"])
def test_zero_dce_curves(name: str) -> None:
    """r = 0 leaves the image alone; r = tanh(b) applies LE(x) = x + r (x^2 - x) eight times."""
    net = _randomised(name)
    last = net.e_conv7 if name == "zero-dce" else net.e_conv7.point_conv
    img = _image(37, 50)
    _set_curve_bias(last, 0.0)
    np.testing.assert_allclose(anchors.Anchor(name, net)(img), img, atol=1e-7)
    _set_curve_bias(last, -0.8)
    r = np.float32(np.tanh(-0.8))
    want = img.copy()
    for _ in range(8):
        want = want + r * (want**2 - want)
    out = anchors.Anchor(name, net)(img)
    np.testing.assert_allclose(out, want, atol=1e-5)
    assert out.mean() > img.mean() * 1.5  # negative r brightens


def test_zero_dce_pp_matches_official_formulation_on_multiples_of_12() -> None:
    """Official: downsample by F.interpolate(scale_factor=1/12), upsample by nn.UpsamplingBilinear2d(12)."""
    net = _randomised("zero-dce++", seed=7)
    x = torch.from_numpy(_image(48, 72, seed=4)).permute(2, 0, 1)[None]
    with torch.no_grad():
        xd = torch.nn.functional.interpolate(x, scale_factor=1 / 12, mode="bilinear")
        x1 = net.relu(net.e_conv1(xd))
        x2 = net.relu(net.e_conv2(x1))
        x3 = net.relu(net.e_conv3(x2))
        x4 = net.relu(net.e_conv4(x3))
        x5 = net.relu(net.e_conv5(torch.cat([x3, x4], 1)))
        x6 = net.relu(net.e_conv6(torch.cat([x2, x5], 1)))
        r = torch.nn.UpsamplingBilinear2d(scale_factor=12)(torch.tanh(net.e_conv7(torch.cat([x1, x6], 1))))
        want = x
        for _ in range(8):
            want = want + r * (want**2 - want)
        got = net(x)
    assert got.shape == x.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_sci_divides_by_clamped_illumination() -> None:
    """i = clamp(sigmoid(out_conv) + x, 1e-4, 1); output = clamp(x / i, 0, 1)."""
    net = _randomised("sci-difficult")
    with torch.no_grad():
        net.enhance.out_conv[0].weight.zero_()
        net.enhance.out_conv[0].bias.fill_(-1.0)
    img = _image(20, 30)
    s = 1.0 / (1.0 + np.exp(1.0))
    want = np.clip(img / np.clip(s + img, 1e-4, 1.0), 0.0, 1.0)
    np.testing.assert_allclose(anchors.Anchor("sci-difficult", net)(img), want, rtol=1e-5, atol=1e-6)


def test_import_and_torch_available_without_torch() -> None:
    """The module imports and reports a reason when torch is absent (it is an optional dependency)."""
    code = (
        "import sys; sys.modules['torch'] = None; from realtime_train import anchors; "
        "r = anchors.torch_available(); assert isinstance(r, str) and 'PyTorch' in r, r; print(r)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "\n" not in proc.stdout.strip()
    assert anchors.torch_available() is None
