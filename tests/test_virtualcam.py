"""The virtual camera sink: refusing without a device, packing frames for it, and sending one per packet.

No real virtual camera is reachable here (v4l2loopback cannot be loaded on these machines), so:
the error paths run against this machine as it is and against a small simulated sysfs tree (a
stand-in for the kernel's view of its video devices); the pixel tests check the packed frames
against OpenCV's own I420 conversion and the planes they came from; and the sending test
registers a simulated device with pyvirtualcam's own ``register_backend`` mechanism, so the real
``pyvirtualcam.Camera`` checks every frame's size and type before it reaches the simulation.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from av.video.reformatter import ColorRange

from realtime.errors import SinkError
from realtime.frames import FramePacket
from realtime.planes import BGR_NATIVE, HD_COLOR, ColorInfo, MatrixCoefficients, Planes
from realtime.sinks.virtualcam import (
    CONSUMER_COLOR,
    DeviceFormat,
    VirtualCameraSink,
    _color_transform,
    convert_color,
    device_frame,
    loopback_devices,
    preflight,
    virtualcam_backends,
)
from realtime.sources.base import SourceInfo

LINUX = platform.system() == "Linux"
needs_no_loopback = pytest.mark.skipif(not LINUX or bool(loopback_devices()),
                                       reason="checks a Linux machine with no v4l2loopback device")


def _image(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth colourful BGR image: gradients in all three channels, inside every gamut."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    b = 40 + 170 * xx / max(w - 1, 1)
    g = 200 - 150 * yy / max(h - 1, 1)
    r = 60 + 120 * (xx + yy) / max(w + h - 2, 1)
    return np.clip(np.rint(np.dstack([b, g, r])), 0, 255).astype(np.uint8)


def _one_line(err: pytest.ExceptionInfo[SinkError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


# -- preflight, on this machine ------------------------------------------------------------------------
@needs_no_loopback
def test_preflight_without_a_device_says_how_to_install_v4l2loopback() -> None:
    with pytest.raises(SinkError) as err:
        preflight(None)
    text = _one_line(err)
    assert "v4l2loopback" in text and "sudo modprobe v4l2loopback" in text and "apt install" in text
    assert err.value.exit_code == 4


@needs_no_loopback
@pytest.mark.parametrize("device", ["/dev/null", "/dev/video57"])
def test_preflight_refuses_a_named_path_that_is_not_a_loopback_device(device: str) -> None:
    with pytest.raises(SinkError) as err:
        preflight(device)
    text = _one_line(err)
    assert device in text
    assert ("is not a v4l2loopback device" in text) == os.path.exists(device)
    assert "modprobe v4l2loopback" in text


# -- preflight, against a simulated sysfs -----------------------------------------------------------------
def _fake_machine(root: Path, *, camera: bool = True, loopback: bool = True, module: bool = True
                  ) -> tuple[Path, Path]:
    """A sysfs and /dev standing in for a machine with a real webcam (video0) and a v4l2loopback
    device (video10): the webcam has the standard attributes, the loopback one also ``max_openers``."""
    sysfs, dev = root / "sys", root / "dev"
    dev.mkdir(parents=True)
    (sysfs / "class" / "video4linux").mkdir(parents=True)
    nodes = ([("video0", "Integrated Camera", False)] if camera else []) + \
            ([("video10", "realtime", True)] if loopback else [])
    for name, label, is_loopback in nodes:
        entry = sysfs / "class" / "video4linux" / name
        entry.mkdir()
        (entry / "name").write_text(label + "\n")
        (entry / "dev").write_text("81:0\n")
        if is_loopback:
            (entry / "max_openers").write_text("10\n")
        (dev / name).write_bytes(b"")
    if module:
        (sysfs / "module" / "v4l2loopback").mkdir(parents=True)
    return sysfs, dev


def test_loopback_devices_are_told_from_cameras_by_their_sysfs_attributes(tmp_path: Path) -> None:
    sysfs, dev = _fake_machine(tmp_path)
    found = loopback_devices(sysfs=sysfs, dev=dev)
    assert [(d.path, d.label) for d in found] == [(str(dev / "video10"), "realtime")]


@pytest.mark.skipif(not LINUX, reason="the v4l2loopback checks run on Linux")
def test_preflight_accepts_a_loopback_device_and_refuses_the_webcam(tmp_path: Path) -> None:
    sysfs, dev = _fake_machine(tmp_path)
    preflight(None, sysfs=sysfs, dev=dev)
    preflight(str(dev / "video10"), sysfs=sysfs, dev=dev)
    with pytest.raises(SinkError) as err:
        preflight(str(dev / "video0"), sysfs=sysfs, dev=dev)
    text = _one_line(err)
    assert "is not a v4l2loopback device (it is 'Integrated Camera')" in text
    assert f"{dev / 'video10'} 'realtime'" in text  # points at the device that would work


@pytest.mark.skipif(not LINUX, reason="the v4l2loopback checks run on Linux")
def test_preflight_tells_a_loaded_module_without_devices_apart(tmp_path: Path) -> None:
    sysfs, dev = _fake_machine(tmp_path, loopback=False)
    with pytest.raises(SinkError) as err:
        preflight(None, sysfs=sysfs, dev=dev)
    assert "loaded but has no device" in _one_line(err) and "modprobe -r v4l2loopback" in str(err.value)
    sysfs, dev = _fake_machine(tmp_path / "bare", loopback=False, module=False)
    with pytest.raises(SinkError) as err:
        preflight(None, sysfs=sysfs, dev=dev)
    assert "no v4l2loopback device" in _one_line(err) and "apt install v4l2loopback-dkms" in str(err.value)


@pytest.mark.skipif(not LINUX or os.geteuid() == 0, reason="Linux, and not root (root may write anything)")
def test_preflight_refuses_a_device_it_may_not_write(tmp_path: Path) -> None:
    sysfs, dev = _fake_machine(tmp_path)
    (dev / "video10").chmod(0o444)
    with pytest.raises(SinkError) as err:
        preflight(None, sysfs=sysfs, dev=dev)
    assert "video group" in _one_line(err)


def test_without_pyvirtualcam_the_hint_is_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``None`` in sys.modules makes ``import pyvirtualcam`` fail as if it were not installed."""
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    sysfs, dev = _fake_machine(tmp_path)
    with pytest.raises(SinkError) as err:
        preflight(None, sysfs=sysfs, dev=dev)
    assert "pip install 'realtime-enhance[virtualcam]'" in _one_line(err)
    assert dict(virtualcam_backends(sysfs=sysfs, dev=dev))["pyvirtualcam"].startswith("not usable")
    with pytest.raises(SinkError) as err:
        VirtualCameraSink(None, SourceInfo("synthetic", 64, 48, live=True))
    assert "realtime-enhance[virtualcam]" in _one_line(err)
    if LINUX:  # both missing: one line names both
        bare_sysfs, bare_dev = _fake_machine(tmp_path / "bare", loopback=False, module=False)
        with pytest.raises(SinkError) as err:
            preflight(None, sysfs=bare_sysfs, dev=bare_dev)
        text = _one_line(err)
        assert "realtime-enhance[virtualcam]" in text and "modprobe v4l2loopback" in text


@pytest.mark.skipif(not LINUX, reason="the v4l2loopback lines are Linux's")
def test_doctor_lines_name_what_was_found(tmp_path: Path) -> None:
    sysfs, dev = _fake_machine(tmp_path)
    lines = virtualcam_backends(sysfs=sysfs, dev=dev)
    assert ("v4l2loopback", f"{dev / 'video10'} 'realtime'") in lines
    assert lines[0][0] == "pyvirtualcam"
    empty_sysfs, empty_dev = _fake_machine(tmp_path / "none", loopback=False, module=False)
    (_name, found), = [line for line in virtualcam_backends(sysfs=empty_sysfs, dev=empty_dev)
                      if line[0] == "v4l2loopback"]
    assert found.startswith("no device (") and "modprobe v4l2loopback" in found


# -- pixels ----------------------------------------------------------------------------------------------
def _i420_parts(frame: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    flat = frame.reshape(-1)
    n = h * w
    return flat[:n].reshape(h, w), flat[n:n + n // 4].reshape(h // 2, w // 2), flat[n + n // 4:].reshape(h // 2, w // 2)


def test_consumer_420_planes_are_packed_bit_exact_as_i420_and_nv12() -> None:
    h, w = 48, 64
    planes = Planes.from_bgr(_image(h, w), CONSUMER_COLOR, subsample=True)
    packet = FramePacket(planes=planes)
    i420 = device_frame(packet, DeviceFormat.I420)
    assert i420.shape == (h * 3 // 2, w) and i420.dtype == np.uint8 and i420.flags.c_contiguous
    y, u, v = _i420_parts(i420, h, w)
    np.testing.assert_array_equal(y, planes.y)
    np.testing.assert_array_equal(u, planes.cb)
    np.testing.assert_array_equal(v, planes.cr)
    nv12 = device_frame(packet, DeviceFormat.NV12)
    assert nv12.shape == (h * 3 // 2, w)
    np.testing.assert_array_equal(nv12[:h], planes.y)
    uv = nv12[h:].reshape(h // 2, w // 2, 2)
    np.testing.assert_array_equal(uv[..., 0], planes.cb)
    np.testing.assert_array_equal(uv[..., 1], planes.cr)


def test_bt709_camera_planes_reach_a_bt601_reader_with_their_colours() -> None:
    """Cameras give BT.709 planes; a reader decodes the I420 as BT.601 limited (OpenCV does too)."""
    h, w = 48, 64
    planes = Planes.from_bgr(_image(h, w), HD_COLOR, subsample=True)
    seen = cv2.cvtColor(device_frame(FramePacket(planes=planes), DeviceFormat.I420), cv2.COLOR_YUV2BGR_I420)
    truth = planes.to_bgr()
    error = np.abs(seen.astype(int) - truth)
    # OpenCV's reader rounds its coefficients and repeats chroma where to_bgr interpolates it
    assert error.max() <= 6 and error.mean() <= 1.5
    y, u, v = (part.copy() for part in _i420_parts(device_frame(FramePacket(planes=planes), DeviceFormat.I420), h, w))
    assert np.abs(Planes(y, u, v, CONSUMER_COLOR).to_bgr().astype(int) - truth).max() <= 3
    # the same planes packed untouched are visibly wrong: the conversion is what makes it right
    naive = np.concatenate([planes.y.ravel(), planes.cb.ravel(), planes.cr.ravel()]).reshape(h * 3 // 2, w)
    assert np.abs(cv2.cvtColor(naive, cv2.COLOR_YUV2BGR_I420).astype(int) - truth).max() > 10


@pytest.mark.parametrize("color", [HD_COLOR, BGR_NATIVE,
                                   ColorInfo(range=ColorRange.JPEG, space=MatrixCoefficients.BT2020_NCL)])
def test_convert_color_agrees_with_the_round_trip_through_bgr(color: ColorInfo) -> None:
    planes = Planes.from_bgr(_image(), color, subsample=True)
    converted = convert_color(planes, CONSUMER_COLOR)
    reference = Planes.from_bgr(planes.to_bgr(), CONSUMER_COLOR, subsample=True)
    assert converted.color == CONSUMER_COLOR
    for ours, ref in zip((converted.y, converted.cb, converted.cr), (reference.y, reference.cb, reference.cr),
                         strict=True):
        assert ours.shape == ref.shape and ours.dtype == np.uint8
        assert np.abs(ours.astype(int) - ref).max() <= 2


def test_new_chroma_never_depends_on_luma() -> None:
    """What convert_color relies on to compute chroma at its own resolution: a grey is Cb = Cr = 128
    in every matrix and range, so the chroma rows have no Y term."""
    colors = [ColorInfo(range=r, space=s) for r in (ColorRange.MPEG, ColorRange.JPEG)
              for s in (MatrixCoefficients.BT709, MatrixCoefficients.BT470BG, MatrixCoefficients.BT2020_NCL)]
    for src in colors:
        for dst in colors:
            assert np.abs(_color_transform(src, dst)[1:, 0]).max() < 1e-6


def test_bgr_images_agree_with_opencvs_i420() -> None:
    img = _image()
    ours = device_frame(FramePacket(img), DeviceFormat.I420)
    theirs = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs).max() <= 2


@pytest.mark.parametrize("subsample", ["4:4:4", "4:2:2"])
def test_fuller_chroma_is_brought_to_420_once(subsample: str) -> None:
    h, w = 48, 64
    full = Planes.from_bgr(_image(h, w), CONSUMER_COLOR)
    planes = full if subsample == "4:4:4" else full.replace(
        cb=cv2.resize(full.cb, (w // 2, h), interpolation=cv2.INTER_AREA),
        cr=cv2.resize(full.cr, (w // 2, h), interpolation=cv2.INTER_AREA))
    y, u, v = _i420_parts(device_frame(FramePacket(planes=planes), DeviceFormat.I420), h, w)
    reference = Planes.from_bgr(_image(h, w), CONSUMER_COLOR, subsample=True)
    np.testing.assert_array_equal(y, planes.y)
    assert np.abs(u.astype(int) - reference.cb).max() <= 1
    assert np.abs(v.astype(int) - reference.cr).max() <= 1


def test_uyvy_puts_each_chroma_pair_between_its_two_pixels() -> None:
    h, w = 4, 6
    y = np.arange(h * w, dtype=np.uint8).reshape(h, w) + 50
    cb = np.full((h, w // 2), 100, np.uint8) + np.arange(w // 2, dtype=np.uint8)
    cr = np.full((h, w // 2), 200, np.uint8)
    out = device_frame(FramePacket(planes=Planes(y, cb, cr, CONSUMER_COLOR)), DeviceFormat.UYVY)
    assert out.shape == (h, 2 * w)
    np.testing.assert_array_equal(out[0, :8], [100, y[0, 0], 200, y[0, 1], 101, y[0, 2], 200, y[0, 3]])


def test_rgba_and_bgr_frames() -> None:
    img = _image()
    np.testing.assert_array_equal(device_frame(FramePacket(img), DeviceFormat.RGBA)[..., :3], img[..., ::-1])
    assert device_frame(FramePacket(img), DeviceFormat.RGBA).shape == (48, 64, 4)
    np.testing.assert_array_equal(device_frame(FramePacket(img), DeviceFormat.BGR), img)


@pytest.mark.parametrize(("w", "h", "fmt"), [(63, 48, DeviceFormat.I420), (64, 47, DeviceFormat.NV12),
                                             (63, 48, DeviceFormat.UYVY)])
def test_odd_sizes_are_refused_in_one_line(w: int, h: int, fmt: DeviceFormat) -> None:
    with pytest.raises(SinkError) as err:
        device_frame(FramePacket(np.zeros((h, w, 3), np.uint8)), fmt)
    assert "even" in _one_line(err) and f"{w}x{h}" in str(err.value)
    device_frame(FramePacket(np.zeros((47, 64, 3), np.uint8)), DeviceFormat.UYVY)  # UYVY halves widths only


# -- the sink ------------------------------------------------------------------------------------------
@needs_no_loopback
def test_opening_without_a_device_is_one_sink_error() -> None:
    """The real pyvirtualcam.Camera, which finds no device on this machine."""
    with pytest.raises(SinkError) as err:
        VirtualCameraSink(None, SourceInfo("synthetic", 64, 48, live=True))
    text = _one_line(err)
    assert "cannot open the virtual camera" in text and "v4l2loopback" in text and "modprobe" in text
    with pytest.raises(SinkError) as err:
        VirtualCameraSink(None, SourceInfo("synthetic", 63, 48, live=True))
    assert "even" in _one_line(err)  # refused for its size before any device is tried


class SimulatedDevice:
    """Stands in for a virtual camera device behind pyvirtualcam: a backend class as pyvirtualcam's
    ``Backend`` describes it, recording the frames the real ``pyvirtualcam.Camera`` passes on."""

    instances: ClassVar[list[SimulatedDevice]] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None) -> None:
        self.size, self.fps, self.fourcc = (width, height), fps, fourcc
        self.name = device or "/dev/video42"
        self.frames: list[np.ndarray] = []
        self.closed = 0
        SimulatedDevice.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed += 1

    def device(self) -> str:
        return self.name

    def native_fourcc(self) -> int | None:
        return self.fourcc


@pytest.mark.skipif(not LINUX, reason="the simulated device replaces the Linux backend")
def test_each_packet_is_sent_once_in_the_devices_format(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyvirtualcam.camera
    from pyvirtualcam.util import encode_fourcc

    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "v4l2loopback", SimulatedDevice)
    SimulatedDevice.instances = []
    h, w = 48, 64
    sink = VirtualCameraSink(None, SourceInfo("synthetic", w, h, live=True, kind="synthetic"))
    device, = SimulatedDevice.instances
    assert sink.target == "virtualcam:/dev/video42" and sink.format is DeviceFormat.I420
    assert device.fourcc == encode_fourcc("I420") and device.fps == 30.0 and device.size == (w, h)
    packets = [FramePacket(planes=Planes.from_bgr(np.roll(_image(h, w), i, axis=1), HD_COLOR, subsample=True),
                           index=i) for i in range(3)]
    for packet in packets:
        sink.write(packet)
    sink.write_passthrough(object())  # audio has nowhere to go: ignored
    assert len(device.frames) == 3
    for sent, packet in zip(device.frames, packets, strict=True):
        assert sent.dtype == np.uint8 and sent.shape == (w * h * 3 // 2,)
        np.testing.assert_array_equal(sent, device_frame(packet, DeviceFormat.I420).reshape(-1))
    with pytest.raises(SinkError) as err:
        sink.write(FramePacket(np.zeros((h, w + 2, 3), np.uint8), index=3))
    assert "one size" in _one_line(err)
    report = sink.close()
    sink.close()
    assert device.closed == 1 and (report.frames, report.state) == (3, "finalized")
    assert report.target == "virtualcam:/dev/video42"


@pytest.mark.skipif(not LINUX, reason="the simulated device replaces the Linux backend")
def test_the_rate_asked_for_is_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyvirtualcam.camera

    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "v4l2loopback", SimulatedDevice)
    SimulatedDevice.instances = []
    from fractions import Fraction

    VirtualCameraSink("/dev/video7", SourceInfo("clip.mp4", 64, 48, live=False, fps=Fraction(25))).close()
    VirtualCameraSink("/dev/video7", SourceInfo("clip.mp4", 64, 48, live=False, fps=Fraction(25)), fps=12.5).close()
    assert [d.fps for d in SimulatedDevice.instances] == [25.0, 12.5]
    assert SimulatedDevice.instances[0].name == "/dev/video7"


# -- end to end ---------------------------------------------------------------------------------------------
@needs_no_loopback
@pytest.mark.parametrize("output", ["virtualcam:", "virtualcam:/dev/video10"])
def test_cli_refuses_a_virtual_camera_it_does_not_have(output: str) -> None:
    done = subprocess.run([sys.executable, "-m", "realtime", "enhance", "synthetic:64x48@10", "-o", output],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("realtime: error:")
    assert "v4l2loopback" in lines[0] and "Traceback" not in done.stderr
