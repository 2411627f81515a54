"""A virtual camera output (``-o virtualcam:``): the enhanced video as a webcam for Zoom, Meet, Teams or OBS.

Frames go through `pyvirtualcam <https://github.com/letmaik/pyvirtualcam>`_ (the
``[virtualcam]`` extra) to its platform backend: v4l2loopback on Linux, OBS Virtual Camera on
Windows and macOS, Unity Capture on Windows.

**Unverified:** sending to a real device. The machines this was written on cannot load the
v4l2loopback kernel module and have no OBS, so no frame has reached a real virtual camera from
here. What is verified: the pixel packing and colour conversion (:func:`device_frame`), the checks
that refuse to start without a device (:func:`preflight`), the error a real ``pyvirtualcam.Camera``
gives when it finds none, and that the sink hands pyvirtualcam one correctly shaped frame per
packet (through a simulated backend registered with pyvirtualcam's own ``register_backend``).

**Pixel format.** Each backend is sent the format it stores, so pyvirtualcam converts nothing and
our frames are converted once: I420 for v4l2loopback (written to the device as it is; our planes
are usually 4:2:0 already, so packing them is a copy), NV12 for OBS on Windows, UYVY for OBS on
macOS, RGBA for Unity Capture (read from pyvirtualcam's native backends, ``native_fourcc()``).

**Colour.** pyvirtualcam tags nothing: it makes its own Y'CbCr with libyuv's ``RGB24ToI420``
(BT.601, limited range), v4l2loopback reports ``V4L2_COLORSPACE_SRGB`` whose default Y'CbCr
encoding is BT.601 limited range, and OBS and browsers read webcam YUV the same way. So that is
what consumers assume, and planes in anything else (cameras and synthetic scenes give BT.709,
photos full-range BT.601) are converted to :data:`CONSUMER_COLOR` first; sent as they are, BT.709
planes would come out with greens and reds visibly off.
"""

from __future__ import annotations

import enum
import importlib
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from av.video.reformatter import ColorRange

from realtime.avcolor import same_conversion
from realtime.errors import SinkError
from realtime.frames import FramePacket, PassthroughPacket
from realtime.planes import ColorInfo, MatrixCoefficients, Planes, bgr_matrix, ycbcr_matrix
from realtime.sources.base import SourceInfo
from realtime.stats import SinkReport

__all__ = ["CONSUMER_COLOR", "DeviceFormat", "LoopbackDevice", "VirtualCameraSink", "convert_color", "device_frame",
           "loopback_devices", "preflight", "virtualcam_backends"]

#: What apps reading a virtual camera take its Y'CbCr to be: BT.601, limited range (see the module docstring).
CONSUMER_COLOR = ColorInfo(range=ColorRange.MPEG, space=MatrixCoefficients.SMPTE170M)
#: frames a second announced when neither the source nor the caller knows its rate
DEFAULT_FPS = 30.0

PIP_HINT = "pip install 'realtime-enhance[virtualcam]'"
LOAD_HINT = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="realtime"'
INSTALL_HINT = f"sudo apt install v4l2loopback-dkms, then {LOAD_HINT}"

SYSFS = Path("/sys")
DEV = Path("/dev")


class DeviceFormat(enum.Enum):
    """Pixel formats a frame is packed in for pyvirtualcam; the values are ``pyvirtualcam.PixelFormat`` names."""

    I420 = "I420"  # planar Y, U, V; 4:2:0
    NV12 = "NV12"  # planar Y, then U and V interleaved; 4:2:0
    UYVY = "UYVY"  # packed U Y V Y; 4:2:2
    RGBA = "RGBA"
    BGR = "BGR"


#: Per platform, the backends tried in order with the format each stores natively (pyvirtualcam's
#: ``native_fourcc()``). On Windows OBS is tried first, as pyvirtualcam itself does.
BACKENDS: dict[str, tuple[tuple[str, DeviceFormat], ...]] = {
    "Linux": (("v4l2loopback", DeviceFormat.I420),),
    "Windows": (("obs", DeviceFormat.NV12), ("unitycapture", DeviceFormat.RGBA)),
    "Darwin": (("obs", DeviceFormat.UYVY),),
}

_YUV = (DeviceFormat.I420, DeviceFormat.NV12, DeviceFormat.UYVY)


# -- finding a device ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoopbackDevice:
    """A v4l2loopback device as sysfs shows it."""

    path: str  # /dev/video10
    label: str  # the card_label it was loaded with ("Dummy video device (0x0000)" by default)

    def __str__(self) -> str:
        return f"{self.path} '{self.label}'"


def _video_entries(sysfs: Path) -> dict[str, Path]:
    """``videoN`` -> its sysfs directory, from /sys/class/video4linux (every V4L2 node) and, should that
    be missing, /sys/devices/virtual/video4linux (where devices without hardware such as v4l2loopback's live)."""
    found: dict[str, Path] = {}
    for root in (sysfs / "class" / "video4linux", sysfs / "devices" / "virtual" / "video4linux"):
        try:
            for entry in root.iterdir():
                if re.fullmatch(r"video\d+", entry.name):
                    found.setdefault(entry.name, entry)
        except OSError:
            continue
    return dict(sorted(found.items(), key=lambda kv: int(kv[0][5:])))


def _label(entry: Path) -> str:
    try:
        return (entry / "name").read_text(errors="replace").strip()
    except OSError:
        return "?"


def _is_loopback(entry: Path) -> bool:
    # v4l2loopback alone creates ``max_openers`` next to the standard attributes (v4l2loopback.c,
    # v4l2loopback_create_sysfs, along with format/buffers/state), so its presence tells a loopback
    # device from a real camera without opening either.
    return (entry / "max_openers").is_file()


def loopback_devices(*, sysfs: Path = SYSFS, dev: Path = DEV) -> list[LoopbackDevice]:
    """The v4l2loopback devices of this machine, read from sysfs (nothing opened). Empty off Linux."""
    return [LoopbackDevice(str(dev / name), _label(entry))
            for name, entry in _video_entries(sysfs).items() if _is_loopback(entry)]


def _import_pyvirtualcam() -> ModuleType:
    """pyvirtualcam, or one SinkError saying how to get it (it is an extra, imported only when used)."""
    try:
        return importlib.import_module("pyvirtualcam")
    except ImportError as e:
        if getattr(e, "name", None) == "pyvirtualcam":
            raise SinkError(f"virtualcam: needs pyvirtualcam, which is not installed: {PIP_HINT}") from e
        raise SinkError(f"virtualcam: pyvirtualcam is installed but does not load ({e}); reinstall it: "
                        f"{PIP_HINT}") from e
    except OSError as e:  # its native backend library cannot be loaded
        raise SinkError(f"virtualcam: pyvirtualcam is installed but does not load ({e}); reinstall it: "
                        f"{PIP_HINT}") from e


def _linux_problem(device: str | None, sysfs: Path, dev: Path) -> str | None:
    """Why no v4l2loopback device can take frames (one clause), or None when one can."""
    devices = loopback_devices(sysfs=sysfs, dev=dev)
    listed = ", ".join(map(str, devices))
    if device is None:
        if not devices:
            if (sysfs / "module" / "v4l2loopback").is_dir():
                return ("v4l2loopback is loaded but has no device; reload it with one: sudo modprobe -r "
                        f"v4l2loopback && {LOAD_HINT}")
            return f"no v4l2loopback device on this machine (the virtual camera driver); install and load it: " \
                   f"{INSTALL_HINT}"
        if not any(os.access(d.path, os.W_OK) for d in devices):
            return (f"no permission to write {listed}; add yourself to the video group (sudo usermod -aG video "
                    "$USER) and log in again")
        return None
    real = Path(os.path.realpath(device))
    entries = _video_entries(sysfs)
    entry = entries.get(real.name) if real.parent == Path(os.path.realpath(dev)) else None
    where = (f"the v4l2loopback devices here are {listed}" if devices
             else f"install and load v4l2loopback: {INSTALL_HINT}")
    if entry is not None and _is_loopback(entry):
        if not os.access(device, os.W_OK):
            return (f"no permission to write {device}; add yourself to the video group (sudo usermod -aG video "
                    "$USER) and log in again")
        return None
    if not os.path.exists(device):
        number = re.fullmatch(r"video(\d+)", real.name)
        if number and not devices:
            where = (f"install v4l2loopback (sudo apt install v4l2loopback-dkms) and load it there: sudo modprobe "
                     f'v4l2loopback video_nr={number[1]} exclusive_caps=1 card_label="realtime"')
        return f"{device} does not exist; {where}"
    what = f" (it is '{_label(entry)}')" if entry is not None else ""
    return f"{device} is not a v4l2loopback device{what}; {where}"


def preflight(device: str | None, *, sysfs: Path = SYSFS, dev: Path = DEV) -> None:
    """Refuse, in one line and before the input is opened, a virtual camera that cannot work here.

    On Linux the v4l2loopback devices are read from sysfs, so the check is honest without opening
    one; elsewhere only pyvirtualcam's import can be checked (OBS and Unity Capture say whether
    they are installed only when opened, and :class:`VirtualCameraSink` reports that).

    Raises:
        SinkError: pyvirtualcam missing, no v4l2loopback device, ``device`` not one, or not writable.
    """
    try:
        _import_pyvirtualcam()
        missing = None
    except SinkError as e:
        missing = e
    system = platform.system()
    if system not in BACKENDS:
        raise SinkError(f"virtualcam: virtual cameras work on Linux (v4l2loopback), Windows and macOS (OBS); "
                        f"not on {system}")
    problem = _linux_problem(device, sysfs, dev) if system == "Linux" else None
    if missing is not None and problem is not None:
        raise SinkError(f"virtualcam: pyvirtualcam is not installed ({PIP_HINT}) and {problem}") from missing
    if missing is not None:
        raise missing
    if problem is not None:
        raise SinkError(f"virtualcam{':' + device if device else ''}: {problem}")


def virtualcam_backends(*, sysfs: Path = SYSFS, dev: Path = DEV) -> list[tuple[str, str]]:
    """(name, what was found) lines for ``realtime doctor``: pyvirtualcam, then this platform's backends.

    Never raises: a check that fails says so on its line.
    """
    lines: list[tuple[str, str]] = []
    try:
        pvc = _import_pyvirtualcam()
        lines.append(("pyvirtualcam", getattr(pvc, "__version__", "installed")))
    except SinkError as e:
        lines.append(("pyvirtualcam", f"not usable ({str(e).removeprefix('virtualcam: ')})"))
    except Exception as e:  # noqa: BLE001 - doctor reports, it does not crash
        lines.append(("pyvirtualcam", f"check failed: {e}"))
    system = platform.system()
    try:
        if system == "Linux":
            devices = loopback_devices(sysfs=sysfs, dev=dev)
            if not devices:
                loaded = (sysfs / "module" / "v4l2loopback").is_dir()
                lines.append(("v4l2loopback", f"loaded, no device ({LOAD_HINT})" if loaded
                              else f"no device ({INSTALL_HINT})"))
            for d in devices:
                writable = "" if os.access(d.path, os.W_OK) else " (not writable: join the video group)"
                lines.append(("v4l2loopback", f"{d}{writable}"))
        elif system in BACKENDS:
            for backend, fmt in BACKENDS[system]:
                app = "OBS Virtual Camera (OBS 26+)" if backend == "obs" else "Unity Video Capture"
                lines.append((backend, f"{app}, {fmt.value}; found only when opened"))
        else:
            lines.append(("virtualcam", f"no backend on {system}"))
    except Exception as e:  # noqa: BLE001 - doctor reports, it does not crash
        lines.append(("virtualcam", f"check failed: {e}"))
    return lines


# -- pixels ------------------------------------------------------------------------------------------
def _color_transform(src: ColorInfo, dst: ColorInfo) -> np.ndarray:
    """3x4 float64 matrix taking [Y, Cb, Cr, 1] in ``src`` to [Y, Cb, Cr] in ``dst`` (through linear BGR)."""
    to_bgr = bgr_matrix(src).astype(np.float64)
    to_ycc = ycbcr_matrix(dst).astype(np.float64)
    return np.hstack([to_ycc[:, :3] @ to_bgr[:, :3], (to_ycc[:, :3] @ to_bgr[:, 3] + to_ycc[:, 3])[:, None]])


def convert_color(planes: Planes, color: ColorInfo) -> Planes:
    """Host planes re-expressed in ``color``'s matrix and range, chroma kept at its own resolution.

    Why not through BGR: a grey is Cb = Cr = 128 in every matrix, so new chroma depends on old chroma
    alone and is computed exactly at its native (quarter) size; only luma needs chroma, as a small
    correction term upsampled bilinearly. That is one full-size pass instead of BGR's three, and no
    chroma resampled twice.
    """
    if same_conversion(planes.color, color):
        return planes.replace(color=color)
    m = _color_transform(planes.color, color)
    y, cb, cr = (np.asarray(p) for p in (planes.y, planes.cb, planes.cr))
    chroma = cv2.transform(cv2.merge((cb, cr)), m[1:, 1:].astype(np.float32))
    new_cb, new_cr = cv2.split(chroma)
    h, w = y.shape
    if abs(m[0, 1]) < 1e-9 and abs(m[0, 2]) < 1e-9:  # same matrix, other range: luma alone
        lut = np.clip(np.rint(np.arange(256) * m[0, 0] + m[0, 3]), 0, 255).astype(np.uint8)
        new_y = cv2.LUT(y, lut)
    else:
        term = cb.astype(np.float32) * np.float32(m[0, 1]) + cr.astype(np.float32) * np.float32(m[0, 2])
        term += np.float32(m[0, 3])
        if term.shape != (h, w):
            term = cv2.resize(term, (w, h), interpolation=cv2.INTER_LINEAR)
        new_y = cv2.addWeighted(y, float(m[0, 0]), term, 1.0, 0.0, dtype=cv2.CV_8U)
    return Planes(new_y, new_cb, new_cr, color)


def _resample(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if plane.shape == shape:
        return plane
    shrink = plane.shape[0] >= shape[0] and plane.shape[1] >= shape[1]
    return cv2.resize(plane, (shape[1], shape[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def check_size(fmt: DeviceFormat, width: int, height: int) -> None:
    """SinkError when ``fmt`` cannot hold a frame this size: I420 and NV12 need an even width and height,
    UYVY an even width (pyvirtualcam sizes them ``w * h * 3 // 2`` and ``w * h * 2``, halving with
    integer division, so an odd side would misplace every chroma row)."""
    odd = width % 2 or (fmt is not DeviceFormat.UYVY and height % 2)
    if fmt in _YUV and odd:
        raise SinkError(f"virtualcam: the virtual camera takes {fmt.value} frames, which need an even "
                        f"{'width and height' if fmt is not DeviceFormat.UYVY else 'width'}; this input is "
                        f"{width}x{height}: resize it, e.g. --scale {width - width % 2}x{height - height % 2}")


def _consumer_planes(packet: FramePacket, chroma: tuple[int, int]) -> Planes:
    """Host planes in :data:`CONSUMER_COLOR` with chroma of shape ``chroma``."""
    if packet.planes is None:
        planes = Planes.from_bgr(packet.image, CONSUMER_COLOR, subsample=chroma != packet.size)
    else:
        planes = convert_color(packet.planes.to_host(), CONSUMER_COLOR)
    if planes.chroma_size != chroma:
        planes = planes.replace(cb=_resample(planes.cb, chroma), cr=_resample(planes.cr, chroma))
    return planes


def device_frame(packet: FramePacket, fmt: DeviceFormat) -> np.ndarray:
    """The packet's pixels as one C-contiguous uint8 array in ``fmt``, what ``pyvirtualcam.Camera.send`` takes.

    Shapes: I420 and NV12 ``(H*3//2, W)`` (Y rows, then U then V, or UV pairs), UYVY ``(H, 2*W)``,
    RGBA ``(H, W, 4)``, BGR ``(H, W, 3)``. Y'CbCr formats are in :data:`CONSUMER_COLOR`: 4:2:0 planes
    already in it are packed with no arithmetic at all; other planes and BGR images are converted once.

    Example:
        >>> img = np.zeros((4, 6, 3), np.uint8)
        >>> device_frame(FramePacket(img), DeviceFormat.I420).shape
        (6, 6)
    """
    if fmt is DeviceFormat.BGR:
        return np.ascontiguousarray(packet.image)
    if fmt is DeviceFormat.RGBA:
        return cv2.cvtColor(packet.image, cv2.COLOR_BGR2RGBA)
    h, w = packet.size
    check_size(fmt, w, h)
    if fmt is DeviceFormat.UYVY:
        p = _consumer_planes(packet, (h, w // 2))
        out = np.empty((h, w * 2), np.uint8)
        quads = out.reshape(h, w // 2, 4)
        quads[..., 0], quads[..., 1], quads[..., 2], quads[..., 3] = p.cb, p.y[:, 0::2], p.cr, p.y[:, 1::2]
        return out
    p = _consumer_planes(packet, (h // 2, w // 2))
    n = h * w
    out = np.empty(n * 3 // 2, np.uint8)
    out[:n].reshape(h, w)[...] = p.y
    if fmt is DeviceFormat.I420:
        out[n:n + n // 4].reshape(h // 2, w // 2)[...] = p.cb
        out[n + n // 4:].reshape(h // 2, w // 2)[...] = p.cr
    else:
        pairs = out[n:].reshape(h // 2, w // 2, 2)
        pairs[..., 0], pairs[..., 1] = p.cb, p.cr
    return out.reshape(h * 3 // 2, w)


# -- the sink ------------------------------------------------------------------------------------------
def _one_line(error: BaseException) -> str:
    # pyvirtualcam joins its backends' errors with newlines; a SinkError is one line
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


class VirtualCameraSink:
    """Frames to a virtual camera through pyvirtualcam, at the size and rate of the source.

    Pacing is upstream: a camera delivers at its own rate and files are paced by the job, so the
    sink sends each frame as it comes and never calls pyvirtualcam's ``sleep_until_next_frame``,
    which would add a frame of latency and stall the pipeline behind it.

    Raises:
        SinkError: pyvirtualcam missing, an odd frame size, or no backend opens (one line, exit 4).
    """

    def __init__(self, device: str | None, info: SourceInfo, *, fps: float | None = None) -> None:
        pvc = _import_pyvirtualcam()
        system = platform.system()
        candidates = BACKENDS.get(system)
        if not candidates:
            raise SinkError(f"virtualcam: virtual cameras work on Linux, Windows and macOS; not on {system}")
        width, height = info.width, info.height
        rate = float(fps or info.fps or DEFAULT_FPS)
        self._size = (height, width)
        errors: list[str] = []
        self._camera = None
        for backend, fmt in candidates:
            check_size(fmt, width, height)
            try:
                self._camera = pvc.Camera(width, height, rate, fmt=pvc.PixelFormat[fmt.value], device=device,
                                          backend=backend)
            except (RuntimeError, ValueError, KeyError, OSError) as e:
                errors.append(_one_line(e))
                continue
            self._format = fmt
            break
        if self._camera is None:
            hint = ""
            if system == "Linux" and not loopback_devices():
                hint = f" (install and load v4l2loopback: {INSTALL_HINT})"
            raise SinkError(f"virtualcam{':' + device if device else ''}: cannot open the virtual camera: "
                            f"{'; '.join(errors)}{hint}")
        self.device: str = self._camera.device
        self.target = f"virtualcam:{self.device}"
        opened = f"{self._camera.backend}, {self._format.value} {width}x{height} at {rate:g} fps"
        self._report = SinkReport(target=self.target, state="nothing written",
                                  notes=[f"virtual camera {self.device} ({opened})"])

    @property
    def format(self) -> DeviceFormat:
        """The pixel format frames are sent in (the backend's native one)."""
        return self._format

    def write(self, packet: FramePacket) -> None:
        if self._camera is None:
            raise SinkError(f"{self.target}: written after close")
        if packet.size != self._size:
            raise SinkError(f"{self.target}: frame {packet.index} is {packet.size[1]}x{packet.size[0]} but the "
                            f"virtual camera was opened at {self._size[1]}x{self._size[0]}; a camera has one size")
        frame = device_frame(packet, self._format)
        try:
            self._camera.send(frame)
        except (RuntimeError, ValueError, TypeError, OSError) as e:
            raise SinkError(f"{self.target}: cannot send frame {packet.index}: {_one_line(e)}") from e
        self._report.frames += 1
        self._report.state = "finalized"

    def write_passthrough(self, packet: PassthroughPacket) -> None:
        # A camera device carries pictures only: v4l2loopback, OBS and Unity Capture have no audio
        # channel, and call apps take sound from a microphone, not from the camera.
        pass

    def close(self, *, failed: bool = False) -> SinkReport:
        """Release the device (other programs can then write to it). Safe to call twice."""
        if self._camera is not None:
            self._camera.close()
            self._camera = None
        return self._report

    def __enter__(self) -> VirtualCameraSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(failed=exc[0] is not None)
