"""OUTDIR/manifest.jsonl: one JSON line per file, appended as each finishes, so a killed batch
knows what it had finished and ``--resume`` does not redo it.

A line is only trusted for a resume when its options' hash is this run's and the output it names
still exists with the checksum it was written with.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime.errors import SinkError

MANIFEST_NAME = "manifest.jsonl"
_CHUNK = 1 << 20


class Status(enum.Enum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # done by an earlier run with the same options (--resume)


@dataclass(slots=True)
class Record:
    input: str
    output: str
    status: Status
    #: the input's size and modification time when it was read (local files): a file of the same
    #: name recorded again later is not the one that was done
    input_size: int | None = None
    input_mtime_ns: int | None = None
    error: str | None = None  # the one-line error of a failed file
    exit_code: int | None = None  # what `realtime enhance` would have exited with
    error_kind: str | None = None  # input, output, options, refiner, stage, worker, internal
    frames_in: int = 0
    frames_out: int = 0
    audio_packets: int = 0
    duration_s: float | None = None  # of the media written (last frame's time, from the run)
    elapsed_s: float = 0.0  # processing time
    fps: float = 0.0
    worker: str | None = None
    host: str | None = None
    attempts: int = 1
    options_hash: str = ""
    size: int | None = None
    checksum: str | None = None
    finished_at: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Record:
        data = json.loads(line)
        data["status"] = Status(data["status"])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def options_hash(facts: dict[str, Any]) -> str:
    """A short hash of everything that decides an output's bytes (pipeline, encoder, version)."""
    canonical = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def checksum(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


class Manifest:
    """Appends records (each line flushed and synced: a kill loses at most the line being written)
    and reads back the last record of each output."""

    def __init__(self, outdir: str | os.PathLike[str]) -> None:
        self.path = Path(outdir) / MANIFEST_NAME

    def load(self) -> dict[str, Record]:
        last: dict[str, Record] = {}
        if not self.path.exists():
            return last
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise SinkError(f"cannot read {self.path}: {getattr(e, 'strerror', None) or e}") from e
        for line in lines:
            try:
                record = Record.from_json(line)
            except (ValueError, TypeError, KeyError):
                continue  # a line cut by a kill mid-write: that file is simply not known as done
            last[record.output] = record
        return last

    def append(self, record: Record) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(record.to_json() + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise SinkError(f"cannot append to {self.path}: {e.strerror or e}") from e

    @staticmethod
    def still_done(record: Record, digest: str, input: str | None = None, identity: dict | None = None) -> bool:
        """Whether a done (or skipped) record can be trusted now: the same input (path, and size and
        time for a local file), the same options, and the output unchanged."""
        if record.status is Status.FAILED or record.options_hash != digest or not record.checksum:
            return False
        if input is not None and record.input != input:
            return False
        if identity and (record.input_size, record.input_mtime_ns) != (identity.get("input_size"),
                                                                       identity.get("input_mtime_ns")):
            return False
        try:
            return os.path.getsize(record.output) == record.size and checksum(record.output) == record.checksum
        except OSError:
            return False
