"""Type-keyed kernel registry for the stage functions, after torchvision.transforms.v2.

A stage function is declared once, with its signature and docstring, and each backend registers
its own kernel for the array type it owns. Dispatching on the array's type (rather than on a
``backend=`` flag) keeps the frame's location the single source of truth: a ``cv2.UMat`` can only
reach the OpenCL kernel, so host/device copies can never sneak in between stages.

Functions of a whole frame take :class:`~realtime.planes.Planes` and are declared with
``@dispatched(planes=True)``: they dispatch on the type of the planes (all three must share it), so
one registry maps ``np.ndarray``, ``cv2.UMat`` and ``cv2.cuda.GpuMat`` frames to their kernels.

Example:
    >>> import numpy as np
    >>> from realtime.planes import Planes
    >>> @dispatched
    ... def invert(img, *, offset: int = 0):
    ...     '''Invert an image.'''
    >>> @invert.kernel(np.ndarray)
    ... def _invert_numpy(img, *, offset=0):
    ...     return 255 - img + offset
    >>> int(invert(np.zeros((1, 1), np.uint8))[0, 0])
    255
    >>> @dispatched(planes=True)
    ... def luma_mean(planes):
    ...     '''Mean luma of a frame.'''
    >>> @luma_mean.kernel(np.ndarray)
    ... def _luma_mean_numpy(planes):
    ...     return float(planes.y.mean())
    >>> grey = np.full((2, 2), 9, np.uint8)
    >>> luma_mean(Planes(grey, grey[:1, :1], grey[:1, :1]))
    9.0
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from realtime.backends import ARRAY_TYPES, GpuMat, umat_size
from realtime.planes import Planes

__all__ = ["ARRAY_TYPES", "Dispatcher", "GpuMat", "Workspace", "dispatched", "thread_workspace", "umat_size"]

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

def type_name(t: type) -> str:
    """Name a type as users spell it (``numpy.ndarray``, ``cv2.UMat``, ``cv2.cuda.GpuMat``)."""
    return f"{t.__module__}.{t.__qualname__}"


def planes_type(planes: Any, function: str = "function") -> type:
    """The array type of a frame's planes, checked to be one :class:`Planes` on one backend.

    Raises:
        TypeError: ``planes`` is not a ``Planes``, or its planes live on different backends (a
            half-uploaded frame would otherwise fail deep inside OpenCV).
    """
    if not isinstance(planes, Planes):
        raise TypeError(f"{function}() takes {type_name(Planes)}; got {type_name(type(planes))}")
    kind = type(planes.y)
    if type(planes.cb) is not kind or type(planes.cr) is not kind:
        found = ", ".join(f"{n} {type_name(type(getattr(planes, n)))}" for n in ("y", "cb", "cr"))
        raise TypeError(f"{function}() needs all planes on one backend; got {found}")
    return kind


class Dispatcher(Generic[P, R]):
    """A function whose body is chosen by the type of its first argument.

    The wrapped function only provides the name, signature and docstring; calling it runs the kernel
    registered for ``type(first_argument)`` (or the nearest registered base class). With
    ``planes=True`` the first argument must be a :class:`Planes`, and the type of its planes is used.
    """

    def __init__(self, declaration: Callable[P, R], *, planes: bool = False) -> None:
        functools.update_wrapper(self, declaration)
        self._name = declaration.__name__
        self._planes = planes
        self._kernels: dict[type, Callable[..., R]] = {}

    def kernel(self, *types: type | None) -> Callable[[F], F]:
        """Register the decorated function as the kernel for ``types``.

        ``None`` entries are skipped, so ``@fn.kernel(GpuMat)`` is a no-op on builds without
        ``cv2.cuda``; the decorated function is returned unchanged either way.
        """

        def register(fn: F) -> F:
            for t in types:
                if t is None:
                    continue
                if t in self._kernels:
                    raise RuntimeError(f"{self._name}() already has a kernel for {type_name(t)}")
                self._kernels[t] = fn
            return fn

        return register

    @property
    def supported_types(self) -> tuple[type, ...]:
        """Array types with a registered kernel, in registration order."""
        return tuple(self._kernels)

    def kernel_for(self, t: type) -> Callable[..., R]:
        """The kernel that a value of type ``t`` dispatches to; TypeError naming the supported types."""
        kernel = self._kernels.get(t)
        if kernel is None:
            for base in t.__mro__[1:]:
                kernel = self._kernels.get(base)
                if kernel is not None:
                    break
        if kernel is None:
            supported = ", ".join(type_name(k) for k in self._kernels)
            what = "planes of " if self._planes else ""
            raise TypeError(f"{self._name}() supports {what}{supported}; got {what}{type_name(t)}")
        return kernel

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if not args:
            what = "planes" if self._planes else "image"
            raise TypeError(f"{self._name}() needs the {what} as its first positional argument")
        kind = planes_type(args[0], self._name) if self._planes else type(args[0])
        return self.kernel_for(kind)(*args, **kwargs)

    def __repr__(self) -> str:
        what = "planes of " if self._planes else ""
        return f"<dispatched {self._name}: {what}{', '.join(type_name(k) for k in self._kernels)}>"


@overload
def dispatched(declaration: Callable[P, R], *, planes: bool = False) -> Dispatcher[P, R]: ...


@overload
def dispatched(*, planes: bool = False) -> Callable[[Callable[P, R]], Dispatcher[P, R]]: ...


def dispatched(declaration: Callable[P, R] | None = None, *, planes: bool = False) -> Any:
    """Turn a declaration (signature + docstring, body unused) into a type-dispatched function.

    Bare (``@dispatched``) it dispatches on the type of the first argument, an image;
    ``@dispatched(planes=True)`` on the type of the planes of a :class:`Planes` first argument.
    """
    if declaration is None:
        return lambda decl: Dispatcher(decl, planes=planes)
    return Dispatcher(declaration, planes=planes)


class Workspace:
    """Cache of the stateful OpenCV helpers a kernel needs (CLAHE, CUDA filters and tables).

    Why it exists: ``cv2.CLAHE`` and the ``cv2.cuda`` filter objects keep scratch buffers, so one
    object must never be used by two threads at once, yet building one per frame wastes time. A
    stage instance owns a workspace (pipelines call a stage from one thread at a time); the pure
    functions fall back to a per-thread one. The cache is a small LRU so that a caller sweeping
    parameters does not grow it without bound.
    """

    def __init__(self, max_items: int = 16) -> None:
        self._items: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self._max_items = max_items

    def get(self, key: Hashable, factory: Callable[[], T]) -> T:
        """The object cached under ``key``, built by ``factory`` on first use."""
        try:
            self._items.move_to_end(key)
            return self._items[key]
        except KeyError:
            obj = factory()
            self._items[key] = obj
            if len(self._items) > self._max_items:
                self._items.popitem(last=False)
            return obj

    def clear(self) -> None:
        """Forget every cached object."""
        self._items.clear()


_thread_local = threading.local()


def thread_workspace() -> Workspace:
    """The calling thread's own workspace, for pure-function calls that pass none."""
    ws = getattr(_thread_local, "workspace", None)
    if ws is None:
        ws = _thread_local.workspace = Workspace()
    return ws
