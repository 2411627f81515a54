"""The batch driver: plans the files, starts Ray (an embedded local cluster by default, or an
existing one by address), hands whole files to a pool of :class:`~realtime.batching.worker.BatchWorker`
actors, appends each result to the manifest, and says what happened.

Failures are isolated: a file that fails is recorded with its one-line error and the batch goes on
(``max_failures`` stops it early); a worker that dies is replaced and its file tried once more.
The first Ctrl-C lets the files in progress finish and starts no more; a second cancels them (their
temporary outputs are removed). Outputs are written under a temporary name and renamed when
finalized, so no half-written file is ever left under its real name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.batching.manifest import Manifest, Record, Status, options_hash
from realtime.batching.plan import BatchItem, plan
from realtime.batching.worker import BatchWorker, remove_quietly
from realtime.errors import ConfigError, RealtimeError
from realtime.job import EnhanceOptions, check_options
from realtime.targets import InputKind, parse_output

#: CPUs a worker asks Ray for by default: the runner's two pipeline threads
DEFAULT_CPUS_PER_WORKER = 2.0
#: how often the driver asks the workers how many frames they have written (the live fps)
POLL_S = 0.5
#: seconds to wait for a cluster address to accept a connection
CONNECT_TIMEOUT_S = 5.0
#: the window the cluster's live fps is measured over
FPS_WINDOW_S = 3.0
_INSTALL = "realtime batch runs on Ray, which is not installed: pip install 'realtime-enhance[batch]'"


class BatchError(RealtimeError):
    """Some files of a batch failed (each one's error is in the manifest and the summary)."""

    exit_code = 6


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How a batch runs. ``enhance`` holds the options of ``realtime enhance`` applied to every file
    (its ``output`` is set per file); ``address`` is None for a local Ray started here, ``"auto"``
    or ``"ray://host:10001"`` for an existing cluster."""

    enhance: EnhanceOptions = field(default_factory=EnhanceOptions)
    pattern: str | None = None
    from_list: str | None = None
    ext: str | None = None
    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = DEFAULT_CPUS_PER_WORKER
    gpus_per_worker: float = 0.0
    resume: bool = False
    max_failures: int | None = None
    progress: bool = True


@dataclass(slots=True)
class WorkerSummary:
    name: str
    files: int = 0
    frames: int = 0
    busy_s: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.busy_s if self.busy_s > 0 else 0.0


@dataclass(slots=True)
class BatchReport:
    records: list[Record]
    elapsed_s: float
    manifest: str
    #: from the first file handed to a worker to the last one back (Ray's start-up left out)
    processing_s: float = 0.0
    interrupted: bool = False
    cancelled: int = 0  # files in progress when a second Ctrl-C cancelled them
    not_started: int = 0
    workers: list[WorkerSummary] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.records if r.status is status)

    @property
    def done(self) -> int:
        return self.count(Status.DONE)

    @property
    def failed(self) -> int:
        return self.count(Status.FAILED)

    @property
    def skipped(self) -> int:
        return self.count(Status.SKIPPED)

    @property
    def frames(self) -> int:
        return sum(r.frames_out for r in self.records if r.status is Status.DONE)

    @property
    def fps(self) -> float:
        """Frames written per second while files were being processed, over the whole cluster."""
        return self.frames / self.processing_s if self.processing_s > 0 else 0.0


def _file_digest(path: Any) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except (OSError, TypeError):
        return None


#: options that do not change an output's bytes
_NOT_IN_THE_BYTES = frozenset({"output", "overwrite"})


def batch_hash(spec: PipelineSpec, enhance: EnhanceOptions, ext: str | None) -> str:
    """Everything that decides an output's bytes: the pipeline (a config or model file by its
    content), the encoder and its options, the extension, and this version of realtime."""
    from realtime import __version__
    from realtime.refiner import default_model

    model = spec.refiner_model or (default_model() if spec.refiner != "off" else None)
    config = spec.config if isinstance(spec.config, dict) else _file_digest(spec.config) or spec.config
    facts = {"preset": spec.preset, "stages": [str(s) for s in spec.stages or ()], "config": config,
             "refiner": spec.refiner, "model": _file_digest(model) if model else None, "backend": str(spec.backend),
             "options": {k: v for k, v in dataclasses.asdict(enhance).items() if k not in _NOT_IN_THE_BYTES},
             "ext": ext,
             "version": __version__}
    return options_hash(facts)


def _check(spec: PipelineSpec, options: BatchOptions, notify: Callable[[str], None]) -> None:
    """What would fail every file fails once, here, before Ray starts."""
    e = options.enhance
    for flag, bad in (("--show", e.show), ("--compare", e.compare), ("-o", e.output), ("--live", e.live),
                      ("--pace", e.pace), ("--format", e.format)):
        if bad not in (None, False):
            raise ConfigError(f"{flag} does not apply to a batch (each file goes to OUTDIR as a file)")
    if options.workers is not None and options.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if options.cpus_per_worker <= 0 or options.gpus_per_worker < 0:
        raise ConfigError("--cpus-per-worker must be above 0 and --gpus-per-worker at least 0")
    if options.max_failures is not None and options.max_failures < 1:
        raise ConfigError("--max-failures must be at least 1")
    gpu_work = str(spec.backend) == "cuda" or spec.refiner == "tensorrt" or e.decoder == "nvdec"
    if options.gpus_per_worker and not gpu_work:
        raise ConfigError("--gpus-per-worker gives workers a GPU, and nothing would use it: choose --backend cuda, "
                          "--refiner tensorrt or --decoder nvdec")
    check_options(e, InputKind.VIDEO, parse_output(f"x{options.ext or '.mp4'}"))
    build_pipeline(spec, notify=notify)  # a bad preset, stage, config or model: one line, now


def _reachable(address: str | None) -> None:
    """A cluster address that answers nothing fails in one line here: Ray itself would retry for
    minutes, logging from its C++ core."""
    if address in (None, "auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address}: give auto, host:port (the head's GCS, usually 6379) or "
                          "ray://host:10001")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {getattr(e, 'strerror', None) or e}") from e


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise ConfigError(_INSTALL) from e
    return ray


class _Interrupts:
    """Ctrl-C and SIGTERM counted by a handler (when called from the main thread), read by the loop."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)


@dataclass(slots=True)
class _Task:
    item: BatchItem
    worker: int
    attempt: int


class _LiveFps:
    """Frames per second over the cluster, from each worker's running count (a replaced worker
    starts again from 0, so only increases are added)."""

    def __init__(self) -> None:
        self.total = 0
        self._last: dict[int, int] = {}
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, worker: int, frames: int) -> None:
        before = self._last.get(worker, 0)
        if frames > before:
            self.total += frames - before
        self._last[worker] = frames

    def forget(self, worker: int) -> None:
        self._last.pop(worker, None)

    def fps(self, now: float) -> float:
        self._samples.append((now, self.total))
        while self._samples and now - self._samples[0][0] > FPS_WINDOW_S:
            self._samples.popleft()
        t0, f0 = self._samples[0]
        return (self.total - f0) / (now - t0) if now > t0 else 0.0


def run_batch(inputs: Sequence[str], outdir: str | os.PathLike[str], spec: PipelineSpec | None = None,
              options: BatchOptions | None = None, *, notify: Callable[[str], None] | None = None,
              on_record: Callable[[Record], None] | None = None) -> BatchReport:
    """Enhance every file of INPUTS into OUTDIR on Ray; see the module docstring."""
    spec = spec or PipelineSpec()
    options = options or BatchOptions()
    say = notify or (lambda line: None)
    t_start = time.monotonic()
    items = plan(inputs, outdir, pattern=options.pattern, from_list=options.from_list, ext=options.ext)
    items = [dataclasses.replace(i, input=i.input if "://" in i.input else os.path.abspath(i.input),
                                 output=os.path.abspath(i.output)) for i in items]
    ray = _import_ray()
    _check(spec, options, say)
    digest = batch_hash(spec, options.enhance, options.ext)
    manifest = Manifest(outdir)
    records: list[Record] = []
    todo = _todo(items, manifest, digest, options, records)
    for record in records:
        manifest.append(record)
    for item in todo:
        remove_quietly(item.partial)  # left by a killed batch
    if records:
        say(f"resume: {len(records)} files done already with these options, skipped")
    report = BatchReport(records=records, elapsed_s=0.0, manifest=str(manifest.path))
    if not todo:
        report.elapsed_s = time.monotonic() - t_start
        return report
    started = not ray.is_initialized()
    if started:
        _reachable(options.address)
        try:
            with warnings.catch_warnings():  # Ray's own warnings (a client timeout) would be a second line
                warnings.simplefilter("ignore")
                ray.init(address=options.address, include_dashboard=False, logging_level=logging.ERROR,
                         log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            where = options.address or "a local Ray"
            raise ConfigError(f"cannot start or reach {where}: {_first_line(e).rstrip(':')}") from e
    try:
        _run(ray, todo, spec, options, digest, manifest, report, say, on_record)
    finally:
        if started:
            ray.shutdown()
    report.elapsed_s = time.monotonic() - t_start
    return report


def _todo(items: list[BatchItem], manifest: Manifest, digest: str, options: BatchOptions,
          skipped: list[Record]) -> list[BatchItem]:
    """The files left to do. Without --resume an existing output is an error (unless --overwrite);
    with it, a file done with the same options whose output is unchanged is skipped."""
    known = manifest.load() if options.resume else {}
    todo: list[BatchItem] = []
    clash: list[str] = []
    for item in items:
        record = known.get(item.output)
        if record is not None and Manifest.still_done(record, digest):
            skipped.append(dataclasses.replace(record, status=Status.SKIPPED, finished_at=time.time(),
                                               input=item.input))
            continue
        if os.path.exists(item.output) and not options.enhance.overwrite:
            clash.append(item.output)
        todo.append(item)
    if clash:
        why = ("exists but was not made by a finished run with these options" if options.resume
               else "exists already")
        hint = "--overwrite redoes it" if options.resume else \
            "--resume skips files done with the same options, --overwrite redoes them"
        more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
        raise ConfigError(f"{clash[0]}{more} {why}: {hint}")
    return todo


def _run(ray, todo: list[BatchItem], spec: PipelineSpec, options: BatchOptions, digest: str, manifest: Manifest,
         report: BatchReport, say: Callable[[str], None], on_record: Callable[[Record], None] | None) -> None:
    from realtime import __version__

    cpus = ray.cluster_resources().get("CPU", 0.0)
    gpus = ray.cluster_resources().get("GPU", 0.0)
    per_cpu, per_gpu = options.cpus_per_worker, options.gpus_per_worker
    fit = int(cpus // per_cpu) if per_cpu else len(todo)
    if per_gpu:
        fit = min(fit, int(gpus // per_gpu))
    if fit < 1:
        need = f"{per_cpu:g} CPUs" + (f" and {per_gpu:g} GPUs" if per_gpu else "")
        raise ConfigError(f"a worker needs {need} and the cluster has {cpus:g} CPUs and {gpus:g} GPUs "
                          "(--cpus-per-worker, --gpus-per-worker)")
    workers = min(options.workers or fit, len(todo))
    if workers > fit:
        raise ConfigError(f"--workers {workers} need {workers * per_cpu:g} CPUs"
                          + (f" and {workers * per_gpu:g} GPUs" if per_gpu else "")
                          + f"; the cluster has {cpus:g} CPUs and {gpus:g} GPUs")
    remote = ray.remote(num_cpus=per_cpu, num_gpus=per_gpu, max_concurrency=2, max_restarts=0)(BatchWorker)
    cores = max(1, math.floor(per_cpu))

    def start_worker():
        return remote.remote(spec, dataclasses.replace(options.enhance, output=None), cores, __version__)

    actors = [start_worker() for _ in range(workers)]
    try:
        described = ray.get([a.describe.remote() for a in actors])
    except ray.exceptions.RayError as e:
        raise ConfigError(f"the batch workers could not start: {_first_line(e)}") from e
    say(f"{workers} workers of {per_cpu:g} CPUs{f' and {per_gpu:g} GPUs' if per_gpu else ''} on "
        f"{len({d['host'] for d in described})} machine(s); {described[0]['pipeline']}")
    for note in described[0]["notes"]:
        say(note)
    bar = _bar(len(todo), options.progress)
    queue = deque((item, 1) for item in todo)
    idle = list(range(workers))
    in_flight: dict[Any, _Task] = {}
    live = _LiveFps()
    failures = 0
    stopping: str | None = None
    last_poll = 0.0
    t0 = time.monotonic()
    with _Interrupts() as interrupts:
        while queue or in_flight:
            if interrupts.count >= 2:
                report.cancelled = _cancel(ray, actors, in_flight)
                break
            if interrupts.count == 1 and stopping is None:
                stopping = "interrupted"
                _write_above(bar, say, f"stopping: finishing the {len(in_flight)} files in progress "
                             "(Ctrl-C again to cancel them)")
            while idle and queue and stopping is None:
                item, attempt = queue.popleft()
                w = idle.pop()
                in_flight[actors[w].process.remote(item, digest, attempt)] = _Task(item, w, attempt)
            if not in_flight:
                break
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    live.forget(task.worker)
                    actors[task.worker] = start_worker()  # a fresh process for the next file
                    if task.attempt == 1:
                        _write_above(bar, say, f"{task.item.rel}: its worker died ({_first_line(e)}); "
                                     "trying it once more")
                        queue.appendleft((task.item, 2))
                        idle.append(task.worker)
                        continue
                    record = Record(input=task.item.input, output=task.item.output, status=Status.FAILED,
                                    error="its worker died twice on this file (killed, or out of memory)",
                                    exit_code=70, error_kind="worker", attempts=2, options_hash=digest)
                    remove_quietly(task.item.partial)
                idle.append(task.worker)
                manifest.append(record)
                report.records.append(record)
                if on_record is not None:
                    on_record(record)
                if record.status is Status.FAILED:
                    failures += 1
                    _write_above(bar, say, f"{task.item.rel}: failed: {record.error}")
                    if options.max_failures and failures >= options.max_failures and stopping is None:
                        stopping = "failures"
                        _write_above(bar, say, f"stopping after {failures} failures (--max-failures "
                                     f"{options.max_failures}): finishing the {len(in_flight)} files in progress")
                if bar is not None:
                    bar.update(1)
            now = time.monotonic()
            if now - last_poll >= POLL_S:
                last_poll = now
                _poll(ray, actors, live)
                if bar is not None:
                    bar.set_postfix_str(f"{live.total} frames, {live.fps(now):.1f} fps", refresh=False)
                    bar.refresh()
        report.not_started = len(queue)
        # a Ctrl-C after the last file had started changes nothing: the batch finished
        report.interrupted = interrupts.count > 0 and bool(report.not_started or report.cancelled)
    report.processing_s = time.monotonic() - t0
    if bar is not None:
        bar.set_postfix_str(f"{sum(r.frames_out for r in report.records)} frames", refresh=True)
        bar.close()
    with contextlib.suppress(Exception):
        for actor in actors:
            ray.kill(actor)
    report.workers = _per_worker(report.records)


def _cancel(ray, actors: list, in_flight: dict[Any, _Task]) -> int:
    """Second Ctrl-C: the workers still busy are killed and their temporary outputs removed."""
    for task in in_flight.values():
        with contextlib.suppress(Exception):
            ray.kill(actors[task.worker])
        remove_quietly(task.item.partial)
    return len(in_flight)


def _poll(ray, actors: list, live: _LiveFps) -> None:
    refs = {i: a.progress.remote() for i, a in enumerate(actors)}
    for i, ref in refs.items():
        try:
            frames, _current = ray.get(ref, timeout=POLL_S)
        except Exception:  # noqa: BLE001 - a worker dying or busy: its count is read next time
            continue
        live.update(i, frames)


def _per_worker(records: list[Record]) -> list[WorkerSummary]:
    by: dict[str, WorkerSummary] = {}
    for r in records:
        if r.status is Status.SKIPPED or r.worker is None:
            continue
        w = by.setdefault(r.worker, WorkerSummary(r.worker))
        w.files += 1
        w.frames += r.frames_out
        w.busy_s += r.elapsed_s
    return sorted(by.values(), key=lambda w: w.name)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="file", desc="batch", file=sys.stderr, dynamic_ncols=True)


def _write_above(bar, say: Callable[[str], None], line: str) -> None:
    if bar is not None:
        bar.clear()
    say(line)
    if bar is not None:
        bar.refresh()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
