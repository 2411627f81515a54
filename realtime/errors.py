"""Typed errors. Each also derives from the built-in a caller would naturally catch.

The CLI maps every :class:`RealtimeError` to one line on stderr and its ``exit_code``; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class RealtimeError(Exception):
    """Base of every error the tool reports to the user as a one-line message."""

    exit_code = 1


class ConfigError(RealtimeError, ValueError):
    """Bad preset, stage name, option value or config file. Usage errors exit with 2 like argparse."""

    exit_code = 2


class SourceError(RealtimeError, OSError):
    """The input cannot be opened or read (missing, not media, truncated, camera absent)."""

    exit_code = 3


class SourceLost(SourceError):
    """A live source that was working has gone away (camera unplugged, stream peer gone).

    Distinct from failing to open: a reconnecting wrapper retries this one and gives up on the
    rest.
    """


class BadFramesError(SourceError):
    """More undecodable frames than the ``--max-bad-frames`` budget allows."""


class SinkError(RealtimeError, OSError):
    """The output cannot be created or written (missing directory, read-only, codec/format mismatch)."""

    exit_code = 4


class ModelError(RealtimeError, RuntimeError):
    """The learned refiner cannot be loaded or run."""

    exit_code = 5


class BackendError(RealtimeError, RuntimeError):
    """A requested compute backend (OpenCL, CUDA) is not available in this OpenCV build or machine."""

    exit_code = 2


class StageError(RealtimeError, RuntimeError):
    """A user-defined stage failed, or returned something that is not a frame like the one it got."""

    exit_code = 1


class FrameError(RealtimeError, ValueError):
    """An image handed to the Python API is not one it can enhance (dtype, shape, channel order)."""

    exit_code = 2
