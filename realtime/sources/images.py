"""Still images: one file, a folder, or a glob. Each image is one frame and keeps its file name.

Photos of a folder are unrelated pictures, not a film: by default every one is marked
``reset_state`` so no stage carries temporal state (denoising history, smoothed levels, the
refiner's smoothed answer) from one photo into the next, and each comes out exactly as it would
alone. A run that writes the folder into one video makes it a sequence instead
(``independent=False``), and asks :meth:`ImageSource.check_one_size` first: a video has one frame
size, and finding out at the second image would leave a half-written file.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import SinkError, SourceError
from realtime.frames import FramePacket
from realtime.sources.base import SourceInfo, SourceStats
from realtime.targets import IMAGE_EXTENSIONS, is_image_path

_PIL_LIMIT = threading.Lock()


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header without decoding its pixels (Pillow reads headers
    lazily); None when Pillow does not know the format or the header is unreadable.

    Pillow's own decompression-bomb limit is lifted while the header is read: our budget
    (:data:`MAX_PIXELS`) decides, with its own message.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with _PIL_LIMIT:
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(path) as img:
                    return img.size
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


#: Default pixel budget of one image (64 megapixels: a 50 MP camera photo fits, an 8K x 8K frame
#: just does). Decoding is refused above it, from the header, before any pixel is decoded: a valid
#: PNG of 20000x20000 is a few hundred kB and drove the process past 10 GiB.
MAX_PIXELS = 64_000_000
MAX_PIXELS_ENV = "REALTIME_MAX_PIXELS"
#: The fewest pixels an image may have. A photo is converted to 4:4:4, so its chroma planes are
#: as large as the image; with four samples or fewer OpenCV's arithmetic takes a plane for a
#: scalar (see realtime.sources.media.MIN_SIDE). 2x2 and 4000x4 work.
MIN_PIXELS = 4


def max_pixels() -> int:
    """The pixel budget: ``$REALTIME_MAX_PIXELS`` when set (a whole number), else :data:`MAX_PIXELS`."""
    value = os.environ.get(MAX_PIXELS_ENV)
    if value is None:
        return MAX_PIXELS
    try:
        budget = int(value)
    except ValueError:
        raise SourceError(f"${MAX_PIXELS_ENV} must be a whole number of pixels, not {value!r}") from None
    if budget <= 0:
        raise SourceError(f"${MAX_PIXELS_ENV} must be positive, not {budget}")
    return budget


def _check_size(path: Path, width: int, height: int) -> None:
    budget = max_pixels()
    if width * height > budget:
        raise SourceError(f"{path} is {width}x{height}, {width * height / 1e6:.0f} megapixels: over the limit of "
                          f"{budget / 1e6:g} megapixels (set ${MAX_PIXELS_ENV} to allow more)")
    if width * height < MIN_PIXELS:
        raise SourceError(f"cannot enhance {path}: it is {width}x{height}; the stages need at least "
                          f"{MIN_PIXELS} pixels")


def read_image(path: Path) -> np.ndarray:
    """Read any image OpenCV understands as BGR uint8; np.fromfile keeps non-ASCII paths working.

    The size is checked from the header first (:data:`MAX_PIXELS`), so a decompression bomb is
    refused before OpenCV allocates it."""
    size = image_size(path)
    if size is not None and size[0] * size[1] > 0:
        _check_size(path, *size)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from e
    try:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as e:  # a header OpenCV refuses (more pixels than CV_IO_MAX_IMAGE_PIXELS, say)
        raise SourceError(f"cannot decode image {path}: OpenCV refuses its header ({e.err})") from e
    if img is None:
        raise SourceError(f"cannot decode image {path}: not an image OpenCV understands, or damaged")
    if size is None:  # no header Pillow could read: the decoded size must pass the same checks
        _check_size(path, img.shape[1], img.shape[0])
    if img.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the top 8 bits
        img = cv2.convertScaleAbs(img, alpha=255.0 / np.iinfo(img.dtype).max)
    return img


def list_images(spec: str) -> tuple[list[Path], Path]:
    """Images named by a folder or a glob, sorted by name, and the folder names are relative to."""
    if os.path.isdir(spec):
        root = Path(spec)
        paths = sorted(p for p in root.iterdir() if p.is_file() and is_image_path(p))
        if not paths:
            raise SourceError(f"no images in folder {spec} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        return paths, root
    # normalised ('in/*/../x.png' names in/x.png once, not once per folder the wildcard matched), so
    # the names relative to their common folder never climb out of it, nor out of an output folder
    paths = sorted({Path(os.path.normpath(p)) for p in glob.glob(spec, recursive=True)
                    if is_image_path(p) and os.path.isfile(p)})
    if not paths:
        raise SourceError(f"no images match {spec}")
    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return paths, root


class ImageSource:
    """Frames from still images; unreadable images count against the bad-frame budget."""

    def __init__(self, spec: str, *, fps: Fraction = Fraction(25), max_bad_frames: int = 25,
                 independent: bool = True) -> None:
        single = os.path.isfile(spec)
        if single:
            self._paths, self._root = [Path(spec)], Path(spec).parent
            first = read_image(self._paths[0])
        else:
            self._paths, self._root = list_images(spec)
            first = self._first_readable()
        self.max_bad_frames = max_bad_frames
        self.independent = independent
        self.stats = SourceStats()
        h, w = first.shape[:2]
        self.info = SourceInfo(
            name=spec,
            width=w,
            height=h,
            live=False,
            fps=fps,
            time_base=1 / fps,
            frame_count=len(self._paths),
            kind="image" if single else "images",
        )

    def _first_readable(self) -> np.ndarray:
        for path in self._paths:
            try:
                return read_image(path)
            except SourceError:
                continue
        raise SourceError(f"none of the {len(self._paths)} images could be decoded")

    def check_one_size(self) -> None:
        """SinkError naming two images of different sizes, from their headers, before any is decoded."""
        first: tuple[Path, tuple[int, int]] | None = None
        for path in self._paths:
            size = image_size(path)
            if size is None:
                try:
                    img = read_image(path)
                except SourceError:
                    continue  # counted against the bad-frame budget when it is read
                size = (img.shape[1], img.shape[0])
            if first is None:
                first = (path, size)
            elif size != first[1]:
                raise SinkError(
                    f"a video needs one frame size, but {first[0].name} is {first[1][0]}x{first[1][1]} and "
                    f"{path.name} is {size[0]}x{size[1]}; write the images to a folder/ instead, or resize them")

    def __iter__(self) -> Iterator[FramePacket]:
        for path in self._paths:
            try:
                img = read_image(path)
            except SourceError as e:
                self.stats.count_bad(e, self.max_bad_frames, "unreadable images")
                continue
            index = self.stats.frames
            self.stats.frames += 1
            yield FramePacket(
                image=img,
                index=index,
                pts=index,
                time_base=self.info.time_base,
                name=str(path.relative_to(self._root)),
                reset_state=self.independent,
            )

    def close(self) -> None:
        pass
