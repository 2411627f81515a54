"""Stages written by the user: a plain function on a frame, or a small class that keeps state.

A researcher trying an idea should not have to learn planes, backends or the dispatcher. So a
user's stage sees the frame the way they would load it themselves (a BGR ``uint8`` HxWx3 array by
default, RGB with ``frame="rgb"``, or the pipeline's own :class:`~realtime.planes.Planes` with
``frame="planes"``), and :class:`FunctionStage` does the rest: it converts the planes to that form
with the frame's own matrix and range, checks what comes back (one line naming the stage when it
is not an image of the same size), and converts back to the input's chroma layout, so encoders
downstream see what they would have seen without it. User stages run on the host; on a device
backend the pipeline downloads the frame in front of one (and uploads it again after).

Example:
    >>> import numpy as np
    >>> def invert(bgr):
    ...     return 255 - bgr
    >>> stage = FunctionStage("invert", invert)
    >>> from realtime.planes import Planes
    >>> out = stage.apply_planes(Planes.from_bgr(np.zeros((4, 6, 3), np.uint8)))
    >>> int(out.to_bgr()[0, 0, 0]), out.size
    (255, (4, 6))
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from realtime.errors import ConfigError, StageError
from realtime.planes import Planes


class FrameFormat(enum.Enum):
    """What a user stage is handed and must hand back."""

    BGR = "bgr"  # uint8 HxWx3, OpenCV's order
    RGB = "rgb"  # uint8 HxWx3, the order of matplotlib, PIL and scikit-image
    PLANES = "planes"  # the pipeline's own Y'CbCr planes (realtime.planes.Planes), host arrays

    @classmethod
    def parse(cls, value: FrameFormat | str) -> FrameFormat:
        try:
            return value if isinstance(value, FrameFormat) else cls(value)
        except ValueError as e:
            raise ConfigError(f"frame must be one of {', '.join(f.value for f in cls)}, not {value!r}") from e


def keyword_parameters(target: Callable[..., Any], *, skip_first: bool) -> tuple[str, ...] | None:
    """Names a config table may set on ``target`` (keyword parameters), or None for ``**kwargs``."""
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if skip_first and params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                    inspect.Parameter.POSITIONAL_OR_KEYWORD):
        params = params[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                      inspect.Parameter.KEYWORD_ONLY))


def check_parameters(name: str, allowed: tuple[str, ...] | None, params: Mapping[str, Any]) -> None:
    if allowed is None:
        return
    for key in params:
        if key not in allowed:
            valid = ", ".join(allowed) or "none"
            raise ConfigError(f"unknown {name} parameter {key!r}; valid keys: {valid}")


class FunctionStage:
    """A callable on one frame, run as a pipeline stage (see the module docstring).

    ``fn`` is called with the frame and returns the new frame; it may be a function (``params``
    are then passed as keyword arguments on every call) or an object with ``__call__`` and,
    optionally, ``reset()`` for temporal state (made by the registry from a class and its params).
    """

    array_types: tuple[type, ...] = (np.ndarray,)

    def __init__(self, name: str, fn: Callable[..., Any], *, frame: FrameFormat | str = FrameFormat.BGR,
                 params: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.frame = FrameFormat.parse(frame)
        self.params = dict(params or {})
        self._fn = functools.partial(fn, **self.params) if self.params else fn
        self._reset = getattr(fn, "reset", None)

    def reset(self) -> None:
        if callable(self._reset):
            self._reset()

    def apply_planes(self, planes: Planes) -> Planes:
        if self.frame is FrameFormat.PLANES:
            out = self._call(planes)
            if not isinstance(out, Planes) or out.size != planes.size:
                raise StageError(f"stage {self.name!r} must return Planes of the size it was given "
                                 f"({planes.size[1]}x{planes.size[0]}), got {_describe(out)}")
            return out
        image = planes.to_bgr()
        if self.frame is FrameFormat.RGB:
            image = np.ascontiguousarray(image[..., ::-1])
        out = self._call(image)
        if (not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != image.shape):
            raise StageError(f"stage {self.name!r} must return a uint8 image shaped like its input "
                             f"{image.shape}, got {_describe(out)}")
        if self.frame is FrameFormat.RGB:
            out = out[..., ::-1]
        back = Planes.from_bgr(np.ascontiguousarray(out), planes.color)
        if back.chroma_size != planes.chroma_size:  # back to 4:2:0 / 4:2:2 as the frame came
            h, w = planes.chroma_size
            back = back.replace(cb=cv2.resize(back.cb, (w, h), interpolation=cv2.INTER_AREA),
                                cr=cv2.resize(back.cr, (w, h), interpolation=cv2.INTER_AREA))
        return back

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        """The stage on one BGR image, like the built-in stages' BGR entry point."""
        return self.apply_planes(Planes.from_bgr(bgr)).to_bgr()

    def _call(self, frame: Any) -> Any:
        try:
            return self._fn(frame)
        except Exception as e:
            raise StageError(f"stage {self.name!r} failed: {type(e).__name__}: {e}") from e

    def __repr__(self) -> str:
        return f"FunctionStage({self.name!r}, frame={self.frame.value!r}, params={self.params!r})"


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    if isinstance(value, Planes):
        return f"Planes of {value.size[1]}x{value.size[0]}"
    return type(value).__name__
