"""One batch worker: a Ray actor that builds the pipeline once (the refiner loaded once) and then
enhances whole files end to end, each exactly as ``realtime enhance IN -o OUT`` does it (every
frame, timestamps kept, audio copied). Files are never cut into pieces: tools that split files at
arbitrary frames lost frames and audio sync.

This module does not import Ray: the driver wraps :class:`BatchWorker` with ``ray.remote``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time

import av

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.batching.manifest import Record, Status, checksum
from realtime.batching.plan import BatchItem
from realtime.cores import CORES_ENV
from realtime.errors import BackendError, ConfigError, ModelError, RealtimeError, SinkError, SourceError, StageError
from realtime.job import EnhanceJob, EnhanceOptions

#: what kind of failure an exit code's error is, for the manifest
_KINDS = ((SourceError, "input"), (SinkError, "output"), (ConfigError, "options"), (BackendError, "options"),
          (ModelError, "refiner"), (StageError, "stage"))


def error_kind(error: BaseException) -> str:
    return next((kind for cls, kind in _KINDS if isinstance(error, cls)), "internal")


def remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


class BatchWorker:
    """Args:
        spec, options: the pipeline and the enhance options (without an output), the same for
            every file of the batch.
        cores: the CPUs Ray gave this worker: OpenCV, the decoder and ONNX Runtime size their
            threads to them instead of to the whole machine.
        version: the driver's realtime version; a cluster node with another one refuses to start.
    """

    def __init__(self, spec: PipelineSpec, options: EnhanceOptions, cores: int, version: str) -> None:
        from realtime import __version__

        if version != __version__:
            raise ConfigError(f"this node has realtime {__version__}, the batch was started with {version}: "
                              "install the same version on every node")
        os.environ[CORES_ENV] = str(max(1, cores))
        self.spec, self.options = spec, options
        self.notes: list[str] = []
        self.pipeline = build_pipeline(spec, notify=self.notes.append)
        self.host = socket.gethostname()
        self.name = f"{self.host}:{os.getpid()}"
        self._frames = 0
        self._lock = threading.Lock()

    def describe(self) -> dict:
        return {"name": self.name, "host": self.host, "pid": os.getpid(), "notes": self.notes,
                "pipeline": self.pipeline.describe()}

    def progress(self) -> int:
        """Frames written so far by this worker (all files). Ray runs this alongside :meth:`process`
        (the actor has two threads), so the driver sees the live fps."""
        return self._frames

    def _written(self, packet, stats) -> None:
        self._frames += 1

    def process(self, item: BatchItem, digest: str, attempt: int = 1) -> Record:
        """Enhance one file to its temporary name, then rename it to the real one. A failure leaves
        no new output: the temporary file is removed, whatever state the run left it in."""
        with self._lock:  # one file at a time per worker, whatever Ray schedules
            record = Record(input=item.input, output=item.output, status=Status.FAILED, worker=self.name,
                            host=self.host, attempts=attempt, options_hash=digest, **input_identity(item.input))
            partial = item.partial(attempt)
            t0 = time.monotonic()
            try:
                self._process(item, partial, record)
            except RealtimeError as e:
                record.error = _without_partial(str(e), partial).replace(partial, item.output)
                record.exit_code, record.error_kind = e.exit_code, error_kind(e)
            except OSError as e:  # making the folder, the rename, reading the output back
                record.error = f"cannot write {item.output}: {e.strerror or e}; no new output was kept"
                record.exit_code, record.error_kind = SinkError.exit_code, "output"
            except Exception as e:  # noqa: BLE001 - a bug: reported as this file's failure, the batch goes on
                record.error = f"internal error: {e!r}; no new output was kept"
                record.exit_code, record.error_kind = 70, "internal"
            if record.status is not Status.DONE:
                remove_quietly(partial)
            record.elapsed_s = record.elapsed_s or time.monotonic() - t0
            return record

    def _process(self, item: BatchItem, partial: str, record: Record) -> None:
        os.makedirs(os.path.dirname(partial) or ".", exist_ok=True)
        remove_quietly(partial)  # left by a killed worker
        options = dataclasses.replace(self.options, output=partial, overwrite=True)
        with EnhanceJob(item.input, self.spec, options, pipeline=self.pipeline, on_written=self._written) as job:
            report = job.run()
            record.notes = list(job.notes)
        size, digest = os.path.getsize(partial), checksum(partial)
        os.replace(partial, item.output)
        record.status = Status.DONE
        record.frames_in, record.frames_out = report.frames_read, report.frames_written
        record.audio_packets = sum(s.passthrough_packets for s in report.sinks)
        record.notes += [n for s in report.sinks for n in s.notes]
        record.elapsed_s, record.fps = report.elapsed_s, report.fps
        record.size, record.checksum = size, digest
        record.duration_s = _duration(item.output)


def input_identity(path: str) -> dict:
    """What tells a local input apart from another file of the same name later (its size and
    modification time); a URL has no such thing."""
    try:
        st = os.stat(path)
    except OSError:
        return {}
    return {"input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns}


def _without_partial(message: str, partial: str) -> str:
    """The error without what the run said about its (temporary) output, which is removed: the
    batch keeps finished outputs only."""
    first, *rest = " ".join(message.split()).split("; ")
    return "; ".join([first, *(part for part in rest if partial not in part), "no new output was kept"])


def _duration(path: str) -> float | None:
    try:
        with av.open(path) as c:
            return c.duration / av.time_base if c.duration else None
    except (av.error.FFmpegError, OSError):
        return None
