"""What travels between threads: frame packets, passthrough packets, failures and end of stream."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from realtime.planes import Planes


class FramePacket:
    """One video frame and everything needed to put it back in time.

    The pixels are held either as :class:`~realtime.planes.Planes` (video decoders give planar
    Y'CbCr; the pipeline and encoders keep it that way) or as a BGR uint8 array (images, cameras,
    the refiner). ``image`` always answers with BGR, converting once and caching, so consumers that
    need BGR get it and those that do not never pay for it. ``pts``/``time_base`` come from the
    source untouched so the writer reproduces the input's timing exactly, variable frame rate
    included. ``timings`` collects per-stage milliseconds for the HUD and the benchmark.
    """

    __slots__ = ("_image", "index", "name", "original", "planes", "pts", "reset_state", "t_capture_ns",
                 "time_base", "timings")
    droppable = True  # a LATEST queue may discard a stale frame

    def __init__(
        self,
        image: np.ndarray | None = None,
        index: int = 0,
        pts: int | None = None,
        time_base: Fraction | None = None,
        t_capture_ns: int | None = None,
        timings: dict[str, float] | None = None,
        original: np.ndarray | Planes | None = None,
        name: str | None = None,
        planes: Planes | None = None,
        reset_state: bool = False,
    ) -> None:
        if image is None and planes is None:
            raise ValueError("a FramePacket needs an image or planes")
        self._image = image
        self.planes = planes
        self.index = index
        self.pts = pts
        self.time_base = time_base
        self.t_capture_ns = time.perf_counter_ns() if t_capture_ns is None else t_capture_ns
        self.timings = {} if timings is None else timings
        self.original = original  # the frame as read, for before/after views
        self.name = name  # file name for image sources, so folder outputs keep input names
        #: this frame owes nothing to the ones before it (an unrelated photo): stages forget their
        #: temporal state before processing it
        self.reset_state = reset_state

    @property
    def image(self) -> np.ndarray:
        """BGR uint8 HxWx3 (converted from planes on first use)."""
        if self._image is None:
            self._image = self.planes.to_bgr()
        return self._image

    @image.setter
    def image(self, value: np.ndarray) -> None:
        self._image = value
        self.planes = None

    def set_planes(self, planes: Planes) -> None:
        """Replace the pixels with new planes; any cached BGR is stale and dropped."""
        self.planes = planes
        self._image = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        if self.planes is not None:
            return self.planes.size
        return self._image.shape[0], self._image.shape[1]

    def original_bgr(self) -> np.ndarray | None:
        if self.original is None or isinstance(self.original, np.ndarray):
            return self.original
        return self.original.to_bgr()

    def __repr__(self) -> str:
        form = "planes" if self.planes is not None else "bgr"
        return f"FramePacket(index={self.index}, pts={self.pts}, {form} {self.size[1]}x{self.size[0]})"


@dataclass(slots=True)
class PassthroughPacket:
    """A compressed packet (audio) copied bit-exact from input to output; never dropped."""

    packet: Any  # av.Packet
    stream_index: int

    droppable = False


@dataclass(slots=True)
class WorkerFailure:
    """A worker's exception, carried downstream so the consumer re-raises it with its cause."""

    error: BaseException
    worker: str

    droppable = False


class _EndOfStream:
    """Unique end-of-stream marker: never None, never confused with a frame."""

    _instance: _EndOfStream | None = None
    droppable = False

    def __new__(cls) -> _EndOfStream:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "END_OF_STREAM"


END_OF_STREAM = _EndOfStream()
