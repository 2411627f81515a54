"""What travels between threads: frame packets, passthrough packets, failures and end of stream."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass(slots=True)
class FramePacket:
    """One video frame and everything needed to put it back in time.

    ``image`` is BGR uint8 (the pipeline's contract at its edges). ``pts``/``time_base`` come from
    the source untouched so the writer can reproduce the input's timing exactly, variable frame
    rate included. ``timings`` collects per-stage milliseconds for the HUD and the benchmark.
    """

    image: np.ndarray
    index: int
    pts: int | None = None
    time_base: Fraction | None = None
    t_capture_ns: int = field(default_factory=time.perf_counter_ns)
    timings: dict[str, float] = field(default_factory=dict)
    original: np.ndarray | None = None
    name: str | None = None  # file name for image sources, so folder outputs keep input names

    droppable = True  # a LATEST queue may discard a stale frame


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
