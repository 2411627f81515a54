"""Published low-light networks, rebuilt in PyTorch so evaluation can set our output beside theirs.

These are *anchors*: fixed reference points for ``tools/evaluate.py``, never part of the product. The
product does not depend on PyTorch, so ``torch`` is imported only inside functions: importing this
module always works, and :func:`torch_available` says why anchors cannot run when they cannot.

Networks (weights in ``../shared/anchors``, see its README.md; all PyTorch state dicts):

``zero-dce``
    Zero-DCE (Guo et al., CVPR 2020; ``Li-Chongyi/Zero-DCE`` ``model.enhance_net_nopool``). Seven
    3x3 convolutions of 32 channels, the last three fed skip concatenations (3+4, 2+5, 1+6), tanh
    gives 24 maps = 8 per-pixel RGB curve parameters, applied as ``x = x + r * (x**2 - x)``.
``zero-dce++``
    Zero-DCE++ (Li et al., TPAMI 2021; ``Li-Chongyi/Zero-DCE_extension`` ``Zero-DCE++/model.py``).
    The same graph with depthwise-separable convolutions (``CSDN_Tem``), 3 curve maps reused for all
    8 iterations, estimated on the input downscaled by 12 and upsampled back before the curves.
``sci-easy``, ``sci-medium``, ``sci-difficult``
    SCI (Ma et al., CVPR 2022; ``vis-opt-group/SCI`` ``model.Finetunemodel``). The files hold the
    whole training network, but at inference only the illumination net ``enhance`` runs (the
    self-calibration net is a training aid): ``i = clamp(sigmoid(net(x)) + x, 1e-4, 1)``,
    output ``clamp(x / i, 0, 1)``.

The forward passes follow the official code operation for operation, so the numbers we report for
these networks are theirs and not a look-alike's. The one deliberate difference: the official
Zero-DCE++ test crops the image to a multiple of 12; here the curve maps are upsampled to the exact
input size instead (identical for multiples of 12), so every method is scored on the same pixels.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ANCHORS: dict[str, str] = {
    "zero-dce": "zerodce_epoch99.pth",
    "zero-dce++": "zerodcepp_epoch99.pth",
    "sci-easy": "sci_easy.pt",
    "sci-medium": "sci_medium.pt",
    "sci-difficult": "sci_difficult.pt",
}

ZERO_DCE_PP_SCALE = 12  # the scale factor the published Zero-DCE++ weights were trained and tested with
_SCI_PREFIX = "enhance."  # Finetunemodel keeps only these keys of the saved training network


def torch_available() -> str | None:
    """``None`` when PyTorch can run the anchors, else a one-line reason (for a "skipped" message)."""
    try:
        import torch
    except ImportError as e:  # an optional dependency: absence is a normal, reportable state
        return f"PyTorch is not installed ({e}); pip install 'realtime-enhance[anchors]' to compare against the anchors"
    except Exception as e:  # noqa: BLE001 - a broken install (bad wheel, missing libs) must not crash evaluation
        return f"PyTorch failed to import: {type(e).__name__}: {e}"
    if not hasattr(torch.nn, "Conv2d"):
        return "PyTorch import is incomplete (torch.nn.Conv2d missing)"
    return None


def available_anchors(anchors_dir: str | Path) -> list[str]:
    """Names in :data:`ANCHORS` whose weight file is present in ``anchors_dir`` (in ANCHORS order)."""
    folder = Path(anchors_dir)
    return [name for name, filename in ANCHORS.items() if (folder / filename).is_file()]


def _check_name(name: str) -> None:
    if name not in ANCHORS:
        raise ValueError(f"unknown anchor {name!r}; known: {', '.join(ANCHORS)}")


@functools.cache
def _modules() -> SimpleNamespace:
    """Define the network classes on first use, because they subclass ``torch.nn.Module``.

    Cached so each class is defined once and ``isinstance`` checks stay meaningful.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    def apply_curves(x: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        """The light-enhancement curve LE(x) = x + r (x^2 - x), once per map, in order."""
        for r in maps:
            x = x + r * (torch.pow(x, 2) - x)
        return x

    def curve_maps(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The seven-layer DCE-Net trunk both Zero-DCE versions share (skips 3+4, 2+5, 1+6), then tanh."""
        x1 = net.relu(net.e_conv1(x))
        x2 = net.relu(net.e_conv2(x1))
        x3 = net.relu(net.e_conv3(x2))
        x4 = net.relu(net.e_conv4(x3))
        x5 = net.relu(net.e_conv5(torch.cat([x3, x4], 1)))
        x6 = net.relu(net.e_conv6(torch.cat([x2, x5], 1)))
        return torch.tanh(net.e_conv7(torch.cat([x1, x6], 1)))

    class ZeroDCE(nn.Module):
        """Zero-DCE ``enhance_net_nopool``: attribute names match the published state dict."""

        def __init__(self) -> None:
            super().__init__()
            nf = 32
            self.relu = nn.ReLU(inplace=True)
            self.e_conv1 = nn.Conv2d(3, nf, 3, 1, 1, bias=True)
            self.e_conv2 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
            self.e_conv3 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
            self.e_conv4 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
            self.e_conv5 = nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=True)
            self.e_conv6 = nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=True)
            self.e_conv7 = nn.Conv2d(nf * 2, 24, 3, 1, 1, bias=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x_r = curve_maps(self, x)
            return apply_curves(x, list(torch.split(x_r, 3, dim=1)))

    class CSDNTem(nn.Module):
        """Depthwise 3x3 then pointwise 1x1 (``CSDN_Tem``), the block that makes Zero-DCE++ small."""

        def __init__(self, in_ch: int, out_ch: int) -> None:
            super().__init__()
            self.depth_conv = nn.Conv2d(in_ch, in_ch, kernel_size=3, stride=1, padding=1, groups=in_ch)
            self.point_conv = nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=1, padding=0, groups=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.point_conv(self.depth_conv(x))

    class ZeroDCEPP(nn.Module):
        """Zero-DCE++ ``enhance_net_nopool(scale_factor)``: curves estimated at 1/scale, applied at full size."""

        def __init__(self, scale_factor: int = ZERO_DCE_PP_SCALE) -> None:
            super().__init__()
            nf = 32
            self.scale_factor = scale_factor
            self.relu = nn.ReLU(inplace=True)
            self.e_conv1 = CSDNTem(3, nf)
            self.e_conv2 = CSDNTem(nf, nf)
            self.e_conv3 = CSDNTem(nf, nf)
            self.e_conv4 = CSDNTem(nf, nf)
            self.e_conv5 = CSDNTem(nf * 2, nf)
            self.e_conv6 = CSDNTem(nf * 2, nf)
            self.e_conv7 = CSDNTem(nf * 2, 3)

        def _downscale(self, x: torch.Tensor) -> torch.Tensor:
            s = self.scale_factor
            if s == 1:
                return x
            h, w = x.shape[-2:]
            if h >= s and w >= s:
                # the official call: with scale_factor given, sampling uses exactly 1/s, size floor(h/s)
                return F.interpolate(x, scale_factor=1 / s, mode="bilinear")
            # smaller than one cell: the official call would produce an empty tensor; keep one pixel
            return F.interpolate(x, size=(max(1, h // s), max(1, w // s)), mode="bilinear")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x_r = curve_maps(self, self._downscale(x))
            if x_r.shape[-2:] != x.shape[-2:]:
                # nn.UpsamplingBilinear2d is bilinear with align_corners=True; asking for the exact input
                # size gives the same result for multiples of scale_factor and a full-size map otherwise
                x_r = F.interpolate(x_r, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=True)
            return apply_curves(x, [x_r] * 8)

    class SCIEnhance(nn.Module):
        """SCI ``EnhanceNetwork``: estimates the illumination map i, which the image is divided by.

        ``blocks`` holds the *same* ``conv`` module ``layers`` times (weights shared, as published),
        which is why the state dict carries both ``conv.*`` and ``blocks.0.*``.
        """

        def __init__(self, layers: int = 1, channels: int = 3) -> None:
            super().__init__()
            self.in_conv = nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1), nn.ReLU())
            self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.ReLU())
            self.blocks = nn.ModuleList([self.conv for _ in range(layers)])
            self.out_conv = nn.Sequential(nn.Conv2d(channels, 3, 3, 1, 1), nn.Sigmoid())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            fea = self.in_conv(x)
            for conv in self.blocks:
                fea = fea + conv(fea)
            fea = self.out_conv(fea)
            return torch.clamp(fea + x, 0.0001, 1)

    class SCI(nn.Module):
        """SCI ``Finetunemodel``: the inference half of the network, output ``clamp(x / i, 0, 1)``."""

        def __init__(self) -> None:
            super().__init__()
            self.enhance = SCIEnhance(layers=1, channels=3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            i = self.enhance(x)
            return torch.clamp(x / i, 0, 1)

    return SimpleNamespace(ZeroDCE=ZeroDCE, CSDNTem=CSDNTem, ZeroDCEPP=ZeroDCEPP, SCIEnhance=SCIEnhance, SCI=SCI)


def build_network(name: str) -> Any:
    """A fresh ``torch.nn.Module`` for anchor ``name`` in eval mode, randomly initialised.

    Separate from loading so tests can check the architectures without the (non-redistributable)
    weight files.
    """
    _check_name(name)
    m = _modules()
    if name == "zero-dce":
        net = m.ZeroDCE()
    elif name == "zero-dce++":
        net = m.ZeroDCEPP(ZERO_DCE_PP_SCALE)
    else:
        net = m.SCI()
    return net.eval()


def _select_keys(name: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a saved state dict the inference network uses.

    SCI checkpoints hold the training network (``enhance`` + ``calibrate``); the official
    Finetunemodel keeps only ``enhance.*``. Zero-DCE files are used whole.
    """
    if name.startswith("sci-"):
        return {k: v for k, v in state.items() if k.startswith(_SCI_PREFIX)}
    return dict(state)


class Anchor:
    """A loaded anchor: call it on an RGB float32 HxWx3 image in [0, 1] to get the enhanced image."""

    def __init__(self, name: str, net: Any) -> None:
        self.name = name
        self.net = net.eval()

    def __repr__(self) -> str:
        return f"Anchor({self.name!r})"

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Enhance one image on the CPU; thread count is whatever the caller set with torch.set_num_threads."""
        import torch

        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"{self.name}: expected an RGB image HxWx3, got shape {rgb.shape}")
        if rgb.shape[0] < 1 or rgb.shape[1] < 1:
            raise ValueError(f"{self.name}: empty image, shape {rgb.shape}")
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
        with torch.no_grad():
            y = self.net(x)
        out = y[0].permute(1, 2, 0).clamp_(0.0, 1.0).contiguous().numpy()
        return out.astype(np.float32, copy=False)


def build_anchor(name: str, state_dict: Mapping[str, Any] | None = None) -> Anchor:
    """Anchor ``name`` with ``state_dict`` loaded strictly (every key present, none left over).

    Strict loading is the check that the architecture is the published one: a missing or unexpected
    key, or a shape mismatch, means the numbers would not be the paper's network's numbers.
    ``None`` keeps random weights (tests).
    """
    net = build_network(name)
    if state_dict is not None:
        state = _select_keys(name, state_dict)
        problems = _mismatches(net.state_dict(), state)
        if problems:
            raise ValueError(f"{name}: weights do not match the architecture: {problems}")
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:  # anything the key/shape comparison above did not foresee
            detail = " ".join(str(e).split())[:300]
            raise ValueError(f"{name}: weights do not match the architecture: {detail}") from e
    return Anchor(name, net)


def _mismatches(expected: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    """One line naming missing, unexpected and wrongly shaped keys ("" when they all agree).

    torch's own strict-load error spans many lines; evaluation prints one line per skipped method.
    """

    def sample(keys: list[str]) -> str:
        return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")

    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k} {tuple(given[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in given and tuple(getattr(given[k], "shape", ())) != tuple(v.shape)
    ]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({sample(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({sample(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} wrong shape ({sample(shapes)})")
    return "; ".join(parts)


def load_anchor(name: str, anchors_dir: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """Load anchor ``name`` from ``anchors_dir``; returns RGB float32 HxWx3 [0, 1] -> same shape [0, 1].

    Raises ValueError for an unknown name or weights that do not fit, FileNotFoundError when the
    file is absent, ImportError when PyTorch cannot be used.
    """
    _check_name(name)
    path = Path(anchors_dir) / ANCHORS[name]
    if not path.is_file():
        raise FileNotFoundError(f"{name}: weight file not found: {path}")
    reason = torch_available()
    if reason is not None:
        raise ImportError(f"{name}: cannot load anchors: {reason}")
    import torch

    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        raise ValueError(f"{name}: cannot read {path}: {type(e).__name__}: {e}") from e
    if not isinstance(state, Mapping):
        raise ValueError(f"{name}: {path} is not a state dict (got {type(state).__name__})")
    return build_anchor(name, state)
