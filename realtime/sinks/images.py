"""Image outputs: one file, a folder that mirrors the input folder's file names, or frames named by a
printf pattern (``frames/%05d.jpg``, numbered from 1 as FFmpeg's image2 muxer does)."""

from __future__ import annotations

import os
import re
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
    """cv2.imencode + a Python file write: works for non-ASCII paths and reports failures (a full
    disk included) instead of returning False."""
    ext = path.suffix.lower()
    try:
        ok, buf = cv2.imencode(ext, img, _ENCODE_PARAMS.get(ext, []))
    except cv2.error as e:
        raise SinkError(f"cannot encode {path.name}: OpenCV cannot write {ext} files") from e
    if not ok:
        raise SinkError(f"cannot encode {path.name} as {ext}")
    try:
        if path.is_symlink():  # callers have checked --overwrite: the link is replaced, never its target
            path.unlink()
        # Python's own file, not numpy's tofile: tofile can return with a short write unreported
        # (seen on a full tmpfs: an image cut at 80 kB and no error), while a failed write or
        # close raises here
        with open(path, "wb") as f:
            f.write(buf.tobytes())
    except OSError as e:
        path.unlink(missing_ok=True)  # a half-written image (a full disk) is not left behind
        raise SinkError(f"cannot write {path}: {e.strerror or e}") from e


def _replace_only_if_allowed(path: Path, overwrite: bool) -> None:
    """Never replace a file or a symbolic link without ``overwrite`` (an unrelated file would get the
    image's bytes through a link); with it, :func:`write_image` replaces the link, not its target."""
    if path.is_symlink():
        if not overwrite:
            raise SinkError(f"{path} is a symbolic link; use --overwrite to replace the link (never what it points to)")
    elif path.exists() and not overwrite:
        raise SinkError(f"output exists: {path} (use --overwrite to replace it)")


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


#: the first number a frame pattern is given (FFmpeg's image2 ``start_number`` default)
PATTERN_START = 1


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """The file names a pattern such as ``%05d.jpg`` produces."""
    head, _, tail = re.split(r"(%0?\d*d)", pattern, maxsplit=1)
    return re.compile(re.escape(head) + r"\d+" + re.escape(tail) + "$")


class ImageFolderSink:
    """One image per frame. Input names are kept (same file names as the input folder), unless a pattern
    names the frames.

    A folder that already holds files (or, for a pattern, files the pattern would write) is not
    written into without ``overwrite``: thousands of frames mixed into someone's folder cannot be
    told apart afterwards.
    """

    def __init__(self, folder: str, *, default_ext: str = ".png", pattern: str | None = None,
                 overwrite: bool = False) -> None:
        self.target = pattern or folder
        self._overwrite = overwrite
        self._root = Path(folder)
        self._ext = default_ext
        self._pattern = Path(pattern).name if pattern else None
        self._report = SinkReport(target=self.target, state="nothing written")
        if self._root.is_dir() and not overwrite:
            names = os.listdir(self._root)
            if self._pattern:
                match = _pattern_regex(self._pattern)
                taken = [n for n in names if match.match(n)]
                if taken:
                    raise SinkError(f"{self.target}: {len(taken)} file(s) of this pattern exist already in "
                                    f"{folder} (such as {sorted(taken)[0]}); use --overwrite to replace them")
            elif names:
                raise SinkError(f"output folder {folder} is not empty ({len(names)} entries); give an empty or "
                                "new folder, or --overwrite to write into it")
        try:
            self._root.mkdir(exist_ok=True)
        except OSError as e:
            raise SinkError(f"cannot create output folder {folder}: {e.strerror}") from e

    def write(self, packet: FramePacket) -> None:
        if self._pattern:
            name = self._pattern % (self._report.frames + PATTERN_START)
        else:
            name = packet.name or f"frame_{packet.index:06d}{self._ext}"
        path = self._root / name
        root = os.path.normpath(os.path.abspath(self._root))
        if os.path.commonpath([root, os.path.normpath(os.path.abspath(path))]) != root:
            raise SinkError(f"{name} would be written outside the output folder {self._root} "
                            "(an input name with '..' in it)")
        if path.parent != self._root:
            path.parent.mkdir(parents=True, exist_ok=True)
        _replace_only_if_allowed(path, self._overwrite)
        write_image(path, packet.image)
        self._report.frames += 1
        self._report.state = "finalized"

    def write_passthrough(self, packet: PassthroughPacket) -> None:
        pass

    def close(self, *, failed: bool = False) -> SinkReport:
        return self._report
