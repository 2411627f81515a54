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
from typing import Any

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.batching.manifest import Manifest, Record, Status, checksum, options_hash
from realtime.batching.plan import BatchItem, plan
from realtime.batching.worker import BatchWorker, input_identity, remove_quietly
from realtime.errors import ConfigError, RealtimeError
from realtime.job import EnhanceOptions, check_options
from realtime.targets import InputKind, parse_output

#: CPUs a worker asks Ray for by default: the runner's two pipeline threads
DEFAULT_CPUS_PER_WORKER = 2.0
#: how often the driver asks the workers how many frames they have written (the live fps)
POLL_S = 0.5
#: seconds to wait for a cluster address to accept a connection
CONNECT_TIMEOUT_S = 5.0
#: seconds a new worker may take to start and answer (it imports OpenCV, PyAV, ONNX Runtime and
#: loads the refiner; on a busy cluster Ray may also wait for room)
START_TIMEOUT_S = 300.0
#: a CPU count divided by CPUs per worker is rounded down after this much slack (0.3 / 0.1)
_EPSILON = 1e-9
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
    """A config or model file by its content (None: not a file, a dict config say)."""
    try:
        return checksum(path)
    except (OSError, TypeError):
        return None


#: options that do not change an output's bytes: where it goes, and how many bad frames fail a file
_NOT_IN_THE_BYTES = frozenset({"output", "overwrite", "max_bad_frames"})


def batch_hash(spec: PipelineSpec, enhance: EnhanceOptions, ext: str | None, pipeline: str) -> str:
    """Everything that decides an output's bytes, as resolved values (no preset and ``lowlight``,
    ``audio=True`` and ``"copy"`` are the same): the pipeline as built (its stages, backend and
    refiner runtime), a config or model file by its content, the encoder and its options, the
    extension, and this version of realtime."""
    from realtime import __version__
    from realtime.refiner import default_model
    from realtime.sinks import AudioMode

    model = spec.refiner_model or (default_model() if spec.refiner != "off" else None)
    config = spec.config if isinstance(spec.config, dict) else _file_digest(spec.config) or spec.config
    chosen = {k: v for k, v in dataclasses.asdict(enhance).items() if k not in _NOT_IN_THE_BYTES}
    chosen["audio"] = AudioMode.of(enhance.audio).value
    facts = {"preset": spec.preset or "lowlight", "pipeline": pipeline, "config": config,
             "model": _file_digest(model) if model else None, "options": chosen, "ext": ext,
             "version": __version__}
    return options_hash(facts)


def _check(spec: PipelineSpec, options: BatchOptions, notify: Callable[[str], None]) -> str:
    """What would fail every file fails once, here, before Ray starts; returns what the pipeline
    is, as built here (a GPU pipeline is built by the GPU workers only: this machine may have none)."""
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
    if gpu_work:
        return f"{spec!r}"
    return build_pipeline(spec, notify=notify).describe()  # a bad preset, stage, config or model: one line, now


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
    notes: list[str] = []
    pipeline = _check(spec, options, notes.append)
    for note in notes:
        say(note)
    digest = batch_hash(spec, options.enhance, options.ext, pipeline)
    manifest = Manifest(outdir)
    records: list[Record] = []
    todo = _todo(items, manifest, digest, options, records)
    for record in records:
        manifest.append(record)
    for item in todo:
        for partial in item.partials():
            remove_quietly(partial)  # left by a killed batch
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
                # "local": a Ray of our own, never one that $RAY_ADDRESS or an earlier `ray start` names
                ray.init(address=options.address or "local", include_dashboard=False,
                         logging_level=logging.ERROR, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            where = options.address or "a local Ray"
            raise ConfigError(f"cannot start or reach {where}: {_first_line(e).rstrip(':')}") from e
    try:
        _Pool(ray, spec, options, digest, manifest, report, say, on_record, notes).run(todo)
    finally:
        if started:
            ray.shutdown()
    report.elapsed_s = time.monotonic() - t_start
    return report


def _todo(items: list[BatchItem], manifest: Manifest, digest: str, options: BatchOptions,
          skipped: list[Record]) -> list[BatchItem]:
    """The files left to do.

    Without --resume an existing output is an error (unless --overwrite). With it, a file done
    with the same input and options whose output is unchanged is skipped, and an output the
    manifest has no finished line for (a batch killed between a file's rename and its line) is
    done again; one made with other options or changed since is an error unless --overwrite.
    """
    known = manifest.load() if options.resume else {}
    todo: list[BatchItem] = []
    clash: list[str] = []
    for item in items:
        record = known.get(item.output)
        if record is not None and Manifest.still_done(record, digest, item.input, input_identity(item.input)):
            skipped.append(dataclasses.replace(record, status=Status.SKIPPED, finished_at=time.time()))
            continue
        ours = options.resume and (record is None or record.status is Status.FAILED)
        if os.path.exists(item.output) and not options.enhance.overwrite and not ours:
            clash.append(item.output)
        todo.append(item)
    if clash:
        why = ("exists but was made from another input or with other options, or changed since"
               if options.resume else "exists already")
        hint = "--overwrite redoes it" if options.resume else \
            "--resume skips files done with the same options, --overwrite redoes them"
        more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
        raise ConfigError(f"{clash[0]}{more} {why}: {hint}")
    return todo


def _workers_that_fit(ray, per_cpu: float, per_gpu: float) -> int:
    """Workers the cluster can place, node by node: a worker cannot straddle two machines."""
    fit = 0
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        have = node.get("Resources", {})
        n = math.floor(have.get("CPU", 0.0) / per_cpu + _EPSILON)
        if per_gpu:
            n = min(n, math.floor(have.get("GPU", 0.0) / per_gpu + _EPSILON))
        fit += n
    return fit


class _Pool:
    """The workers, the files handed to them and what comes back."""

    def __init__(self, ray, spec: PipelineSpec, options: BatchOptions, digest: str, manifest: Manifest,
                 report: BatchReport, say: Callable[[str], None], on_record: Callable[[Record], None] | None,
                 notes: list[str]) -> None:
        from realtime import __version__

        self.ray, self.options, self.digest, self.manifest, self.report = ray, options, digest, manifest, report
        self.say, self.on_record, self.notes = say, on_record, notes
        self.remote = ray.remote(num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
                                 max_concurrency=2, max_restarts=0)(BatchWorker)
        self._args = (spec, dataclasses.replace(options.enhance, output=None),
                      max(1, math.floor(options.cpus_per_worker)), __version__)
        self.actors: list[Any] = []
        self.bar = None
        self.live = _LiveFps()
        self.failures = 0

    # -- workers --------------------------------------------------------------------------------
    def _size(self, files: int) -> int:
        o = self.options
        fit = _workers_that_fit(self.ray, o.cpus_per_worker, o.gpus_per_worker)
        need = f"{o.cpus_per_worker:g} CPUs" + (f" and {o.gpus_per_worker:g} GPUs" if o.gpus_per_worker else "")
        if fit < 1:
            raise ConfigError(f"no machine of the cluster has room for a worker of {need} "
                              "(--cpus-per-worker, --gpus-per-worker)")
        if o.workers is not None and o.workers > fit:
            raise ConfigError(f"--workers {o.workers} of {need} each: the cluster's machines have room for {fit}")
        return min(o.workers or fit, files)

    def _start(self, n: int) -> tuple[list[Any], list[dict]]:
        """``n`` workers, started together and answering; ConfigError with the workers' own error
        if they cannot (those started are killed: none is left running unused)."""
        actors = [self.remote.remote(*self._args) for _ in range(n)]
        try:
            return actors, self.ray.get([a.describe.remote() for a in actors], timeout=START_TIMEOUT_S)
        except (self.ray.exceptions.GetTimeoutError, self.ray.exceptions.RayError) as e:
            for actor in actors:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor)
            if isinstance(e, self.ray.exceptions.GetTimeoutError):
                raise ConfigError(f"batch workers did not start in {START_TIMEOUT_S:.0f} s (is the cluster "
                                  "busy with other work?)") from e
            raise ConfigError(f"batch workers could not start: {_reason(e)}") from e

    def _replace(self, slot: int) -> bool:
        """A fresh worker in this slot after its worker died; False when none would start."""
        with contextlib.suppress(Exception):
            self.ray.kill(self.actors[slot])  # presumed dead: make sure, before its file is retried
        self.live.forget(slot)
        try:
            self.actors[slot] = self._start(1)[0][0]
            return True
        except ConfigError as e:
            self._tell(f"worker {slot + 1} could not be replaced: {e}")
            return False

    # -- the loop -------------------------------------------------------------------------------
    def run(self, todo: list[BatchItem]) -> None:
        report, ray = self.report, self.ray
        workers = self._size(len(todo))
        self.actors, described = self._start(workers)
        o = self.options
        self.say(f"{workers} workers of {o.cpus_per_worker:g} CPUs"
                 + (f" and {o.gpus_per_worker:g} GPUs" if o.gpus_per_worker else "")
                 + f" on {len({d['host'] for d in described})} machine(s); {described[0]['pipeline']}")
        for note in dict.fromkeys(n for d in described for n in d["notes"]):
            if note not in self.notes:  # what the workers chose differently from this machine
                self.say(note)
        self.bar = _bar(len(todo), o.progress)
        t0 = time.monotonic()
        try:
            self._loop(deque((item, 1) for item in todo), list(range(workers)))
        finally:
            report.processing_s = time.monotonic() - t0
            if self.bar is not None:
                self.bar.set_postfix_str(f"{report.frames} frames", refresh=True)
                self.bar.close()
            for actor in self.actors:  # also after an error: no worker goes on writing unrecorded
                with contextlib.suppress(Exception):
                    ray.kill(actor)
        report.workers = _per_worker(report.records)

    def _loop(self, queue: deque[tuple[BatchItem, int]], idle: list[int]) -> None:
        ray, report, o = self.ray, self.report, self.options
        in_flight: dict[Any, _Task] = {}
        stopping = False
        last_poll = 0.0
        with _Interrupts() as interrupts:
            while queue or in_flight:
                if interrupts.count >= 2:
                    report.cancelled = self._cancel(in_flight)
                    break
                if interrupts.count == 1 and not stopping:
                    stopping = True
                    self._tell(f"stopping: finishing the {len(in_flight)} files in progress "
                               "(Ctrl-C again to cancel them)")
                while idle and queue and not stopping:
                    item, attempt = queue.popleft()
                    slot = idle.pop()
                    in_flight[self.actors[slot].process.remote(item, self.digest, attempt)] = _Task(item, slot, attempt)
                if not in_flight:
                    break
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    task = in_flight.pop(ref)
                    record = self._result(ref, task, queue, idle)
                    if record is None:
                        continue
                    self._record(record, task)
                    if (record.status is Status.FAILED and o.max_failures and self.failures >= o.max_failures
                            and not stopping):
                        stopping = True
                        self._tell(f"stopping after {self.failures} failures (--max-failures {o.max_failures}): "
                                   f"finishing the {len(in_flight)} files in progress")
                now = time.monotonic()
                if now - last_poll >= POLL_S:
                    last_poll = now
                    self._poll()
            report.not_started = len(queue)
            report.interrupted = interrupts.count > 0 and bool(report.not_started or report.cancelled)

    def _result(self, ref, task: _Task, queue: deque, idle: list[int]) -> Record | None:
        """The file's record, its worker back among the idle ones; None when the file goes back in
        the queue (its worker died, the first time)."""
        ray = self.ray
        try:
            record = ray.get(ref)
            idle.append(task.worker)
            return record
        except ray.exceptions.RayActorError as e:
            replaced = self._replace(task.worker)  # the dead one killed for sure first, then
            remove_quietly(task.item.partial(task.attempt))  # what it was writing
            if replaced:
                idle.append(task.worker)
            if task.attempt == 1 and (replaced or idle):
                self._tell(f"{task.item.rel}: its worker died ({_reason(e)}); trying it once more")
                queue.appendleft((task.item, 2))
                return None
            why = "its worker died twice on this file (killed, or out of memory)" if task.attempt == 2 else \
                f"its worker died and no worker is left to try it again ({_reason(e)})"
            return self._failed(task, why, "worker")
        except ray.exceptions.RayError as e:  # the task itself failed in Ray (out of memory, lost object)
            idle.append(task.worker)
            return self._failed(task, f"Ray could not run it: {_reason(e)}", "worker")

    def _failed(self, task: _Task, error: str, kind: str) -> Record:
        remove_quietly(task.item.partial(task.attempt))
        return Record(input=task.item.input, output=task.item.output, status=Status.FAILED, error=error,
                      exit_code=70, error_kind=kind, attempts=task.attempt, options_hash=self.digest)

    def _record(self, record: Record, task: _Task) -> None:
        self.manifest.append(record)
        self.report.records.append(record)
        if self.on_record is not None:
            self.on_record(record)
        if record.status is Status.FAILED:
            self.failures += 1
            self._tell(f"{task.item.rel}: failed: {record.error}")
        if self.bar is not None:
            self.bar.update(1)

    def _cancel(self, in_flight: dict[Any, _Task]) -> int:
        """Second Ctrl-C: the workers still busy are killed and their temporary outputs removed."""
        for task in in_flight.values():
            with contextlib.suppress(Exception):
                self.ray.kill(self.actors[task.worker])
            remove_quietly(task.item.partial(task.attempt))
        return len(in_flight)

    def _poll(self) -> None:
        """Each worker's frame count, asked of all at once and waited for together (a busy or
        dying worker answers next time)."""
        ray = self.ray
        refs = {a.progress.remote(): i for i, a in enumerate(self.actors)}
        ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=POLL_S)
        for ref in ready:
            with contextlib.suppress(Exception):
                self.live.update(refs[ref], ray.get(ref))
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.live.total} frames, {self.live.fps(time.monotonic()):.1f} fps",
                                     refresh=False)
            self.bar.refresh()

    def _tell(self, line: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        self.say(line)
        if self.bar is not None:
            self.bar.refresh()


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


def _reason(error: BaseException) -> str:
    """The one line that says why, from a Ray error: the worker's own error when it raised one
    (Ray wraps it, with its traceback, in a task error inside an actor error)."""
    inner: BaseException = error
    for _ in range(5):
        cause = getattr(inner, "cause", None)
        if not isinstance(cause, BaseException) or cause is inner:
            break
        inner = cause
    if isinstance(inner, RealtimeError):
        return " ".join(str(inner).split())
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    for line in reversed(lines):  # a traceback's last line: "module.ErrorName: message"
        head, _, rest = line.partition(": ")
        if rest and head.rsplit(".", 1)[-1].endswith(("Error", "Exception")):
            return rest
    return lines[0] if lines else type(error).__name__


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
