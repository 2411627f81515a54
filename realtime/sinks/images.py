"""Image outputs: one file, or a folder that mirrors the input folder's file names."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.errors import SinkError
from realtime.frames import FramePacket, PassthroughPacket
from realtime.stats import SinkReport

_ENCODE_PARAMS = {
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95],
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 3],
}


def write_image(path: Path, img: np.ndarray) -> None:
    """cv2.imencode + tofile: works for non-ASCII paths and reports failures instead of returning False."""
    ext = path.suffix.lower()
    try:
        ok, buf = cv2.imencode(ext, img, _ENCODE_PARAMS.get(ext, []))
    except cv2.error as e:
        raise SinkError(f"cannot encode {path.name}: OpenCV cannot write {ext} files") from e
    if not ok:
        raise SinkError(f"cannot encode {path.name} as {ext}")
    try:
        buf.tofile(path)
    except OSError as e:
        raise SinkError(f"cannot write {path}: {e.strerror}") from e


class ImageFileSink:
    """Exactly one frame to one image file."""

    def __init__(self, path: str) -> None:
        self.target = path
        self._path = Path(path)
        self._report = SinkReport(target=path, state="nothing written")

    def write(self, packet: FramePacket) -> None:
        if self._report.frames:
            raise SinkError(
                f"{self.target} is a single image but the input has more than one frame; "
                "give a folder as OUTPUT to write one image per frame"
            )
        write_image(self._path, packet.image)
        self._report.frames = 1
        self._report.state = "finalized"

    def write_passthrough(self, packet: PassthroughPacket) -> None:
        pass  # an image has nowhere to put audio

    def close(self, *, failed: bool = False) -> SinkReport:
        return self._report


class ImageFolderSink:
    """One image per frame. Input names are kept (same file names as the input folder)."""

    def __init__(self, folder: str, *, default_ext: str = ".png") -> None:
        self.target = folder
        self._root = Path(folder)
        self._ext = default_ext
        self._report = SinkReport(target=folder, state="nothing written")
        try:
            self._root.mkdir(exist_ok=True)
        except OSError as e:
            raise SinkError(f"cannot create output folder {folder}: {e.strerror}") from e

    def write(self, packet: FramePacket) -> None:
        name = packet.name or f"frame_{packet.index:06d}{self._ext}"
        path = self._root / name
        if path.parent != self._root:
            path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, packet.image)
        self._report.frames += 1
        self._report.state = "finalized"

    def write_passthrough(self, packet: PassthroughPacket) -> None:
        pass

    def close(self, *, failed: bool = False) -> SinkReport:
        return self._report
