"""The Python API: enhance a photo, a video's frames or a file from a script or a notebook.

:class:`Enhancer` holds one pipeline, built by the same assembly function as the command line
(:func:`realtime.assembly.build_pipeline`), so a preset, a config or a stage list means the same
thing here as in ``realtime enhance``. Images are NumPy ``uint8`` arrays: BGR by default (OpenCV's
order), RGB with ``rgb=True`` (matplotlib, PIL, scikit-image), grayscale ``HxW``, or with an alpha
channel, which is kept as it was; what comes back has the shape and order that went in.

Example:
    >>> import numpy as np
    >>> import realtime
    >>> enhancer = realtime.Enhancer("lowlight")
    >>> dark = np.random.default_rng(0).integers(5, 60, (120, 160, 3), dtype=np.uint8)
    >>> bright = enhancer.enhance(dark)
    >>> bright.shape, bright.dtype, bool(bright.mean() > dark.mean())
    ((120, 160, 3), dtype('uint8'), True)
    >>> np.array_equal(enhancer.enhance(dark), bright)  # photos are stateless
    True
    >>> [step.name for step in enhancer.trace(dark).steps]
    ['input', 'contrast', 'denoise', 'sharpen', 'refiner']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime.assembly import PipelineSpec, build_pipeline
from realtime.config import ConfigLike
from realtime.errors import FrameError
from realtime.frames import FramePacket
from realtime.stats import RunReport
from realtime.trace import RefinerDecision, Step, Trace, trace_packet

__all__ = ["Enhancer", "RefinerDecision", "Step", "Trace", "batch", "enhance_file"]

ORDERS = ("bgr", "rgb")


class _Frame:
    """The caller's image as the BGR frame the pipeline takes, and the way back to the caller's form."""

    def __init__(self, image: Any, order: str) -> None:
        if not isinstance(image, np.ndarray):
            raise FrameError(f"an image must be a NumPy array, not {type(image).__name__}")
        if image.dtype != np.uint8:
            hint = " (scale it to 0..255 and use .astype(np.uint8))" if image.dtype.kind in "fiu" else ""
            raise FrameError(f"an image must be uint8, got {image.dtype}{hint}")
        channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
        if channels not in (1, 3, 4) or min(image.shape[:2]) < 1:
            raise FrameError(f"an image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")
        self.shape, self.order, self.channels = image.shape, order, channels
        self.alpha = image[..., 3].copy() if channels == 4 else None
        if channels == 1:
            bgr = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
        else:
            colour = image[..., :3]
            bgr = colour[..., ::-1] if order == "rgb" else colour
        self.bgr = np.ascontiguousarray(bgr)

    def back(self, bgr: np.ndarray) -> np.ndarray:
        """An output BGR frame in the shape, order and channels the input had."""
        if self.channels == 1:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).reshape(self.shape)
        out = bgr[..., ::-1] if self.order == "rgb" else bgr
        if self.alpha is not None:
            out = np.dstack([out, self.alpha])
        return np.ascontiguousarray(out)


def _order(rgb: bool, order: str | None) -> str:
    if order is None:
        return "rgb" if rgb else "bgr"
    if order not in ORDERS:
        raise FrameError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if rgb and order != "rgb":
        raise FrameError(f"rgb=True contradicts order={order!r}")
    return order


class Enhancer:
    """A pipeline to enhance photos and video frames with, built once (the refiner loaded once).

    Args:
        preset: ``lowlight`` (default), ``haze``, ``detail`` or ``off``.
        stages: the stages in order, overriding the preset's: built-in names, registered names,
            ``"module:function"`` paths, or functions and classes (see :func:`realtime.register_stage`).
        config: a TOML file, or a dict of the same shape (``{"sharpen": {"amount": 0.8}}``).
        refiner: ``auto`` (default), ``onnxruntime``, ``tensorrt``, ``keras`` or ``off``.
        backend: ``auto`` (default), ``numpy``, ``opencl`` or ``cuda``.
        refiner_model: a refiner ONNX file other than the shipped one.

    Raises:
        ConfigError, BackendError, ModelError: whatever cannot be built, at once.
    """

    def __init__(self, preset: str = "lowlight", *, stages: Sequence[Any] | None = None,
                 config: ConfigLike | None = None, refiner: str = "auto", backend: str = "auto",
                 refiner_model: str | Path | None = None) -> None:
        self.spec = PipelineSpec(preset=preset, stages=tuple(stages) if stages is not None else None,
                                 config=config, refiner=refiner, refiner_model=refiner_model, backend=backend)
        #: lines about choices made on the caller's behalf (a runtime skipped, say)
        self.notes: list[str] = []
        self.pipeline = build_pipeline(self.spec, notify=self.notes.append)
        self._index = 0

    @property
    def stages(self) -> list[str]:
        """The stages' names in order (the refiner, when it runs, is the last one)."""
        return self.pipeline.names

    def describe(self) -> str:
        return self.pipeline.describe()

    def __repr__(self) -> str:
        return f"Enhancer({self.describe()})"

    # -- photos ---------------------------------------------------------------------------------
    def enhance(self, image: np.ndarray, *, rgb: bool = False, order: str | None = None) -> np.ndarray:
        """One photo, on its own: the same photo gives the same output whatever came before.

        Temporal state is cleared before and after, so do not interleave this with a video
        streamed through the same enhancer (use a second one).
        """
        frame = _Frame(image, _order(rgb, order))
        self.pipeline.reset()
        try:
            out = self.pipeline.process(FramePacket(image=frame.bgr)).image
        finally:
            self.pipeline.reset()
        return frame.back(out)

    def trace(self, image: np.ndarray, *, rgb: bool = False, order: str | None = None,
              video: bool = False) -> Trace:
        """One frame, keeping every intermediate: the input, the frame after each stage with its
        time, and what the refiner decided (draw it with :func:`realtime.inspection.draw_sheet`).

        A photo (the default) is traced on its own, and the last image equals :meth:`enhance`'s
        output. With ``video=True`` the frame is the next one of a video instead, as in
        :meth:`process`: temporal state carries over, so frame 150 of a clip is traced as a run
        would see it. A photo's trace clears temporal state as :meth:`enhance` does, so do not
        interleave photos with a video traced or streamed through the same enhancer.
        """
        frame = _Frame(image, _order(rgb, order))
        if video:
            return trace_packet(self.pipeline, self._next_packet(frame), back=frame.back)
        self.pipeline.reset()
        try:
            return trace_packet(self.pipeline, FramePacket(image=frame.bgr), back=frame.back, photo=True)
        finally:
            self.pipeline.reset()

    # -- video ----------------------------------------------------------------------------------
    def process(self, frame: np.ndarray, *, rgb: bool = False, order: str | None = None) -> np.ndarray:
        """The next frame of a video: temporal state (denoising history, smoothed levels, the
        refiner's smoothing) carries over from the frame before. Call :meth:`reset` at a cut."""
        f = _Frame(frame, _order(rgb, order))
        return f.back(self.pipeline.process(self._next_packet(f)).image)

    def _next_packet(self, frame: _Frame) -> FramePacket:
        """The video's next frame, numbered after the ones before it."""
        packet = FramePacket(image=frame.bgr, index=self._index)
        self._index += 1
        return packet

    def stream(self, frames: Iterable[np.ndarray], *, rgb: bool = False,
               order: str | None = None) -> Iterator[np.ndarray]:
        """Enhance a video's frames one after another (see :meth:`process`), starting afresh."""
        self.reset()
        for frame in frames:
            yield self.process(frame, rgb=rgb, order=order)

    def reset(self) -> None:
        """Forget temporal state: the next frame starts a new shot."""
        self.pipeline.reset()
        self._index = 0


def enhance_file(src: str | Path, dst: str | Path | None, *, preset: str = "lowlight",
                 stages: Sequence[Any] | None = None, config: ConfigLike | None = None, refiner: str = "auto",
                 backend: str = "auto", refiner_model: str | Path | None = None, codec: str | None = None,
                 crf: int | None = None, encoder_preset: str | None = None, audio: bool | str = True,
                 overwrite: bool = False, max_bad_frames: int = 25, frames: int | None = None,
                 fps: Any = None, decoder: str = "software", compare: str | Path | None = None,
                 progress: bool = False, on_frame: Callable[[int], None] | None = None,
                 pace: bool | None = None, live: bool | None = None, format: str | None = None,
                 bitrate: int | None = None, maxrate: int | None = None, bufsize: int | None = None,
                 gop: int | None = None) -> RunReport:
    """Do what ``realtime enhance SRC -o DST`` does and return the run's report.

    Every frame of a file is kept with its timestamp, audio is copied untouched, and a folder of
    photos written to a folder is processed photo by photo. Options mean what the command line's
    do, and one that cannot act on this input and output is a ``ConfigError``. ``progress`` shows a
    tqdm bar (in a notebook, its widget); ``on_frame`` is called with the count of frames written.
    Interrupted (Ctrl-C, a notebook's stop button), the output is finalized with the frames
    already read, then ``KeyboardInterrupt`` is raised. ``audio`` is True (copy), False (none) or
    ``"silent"``; ``dst`` may be a stream URL, ``"-"`` or ``"virtualcam:"`` as on the command line,
    with ``pace``, ``bitrate`` (bits/s), ``maxrate``, ``bufsize`` and ``gop`` (frames) as there.
    """
    from fractions import Fraction

    from realtime.job import EnhanceJob, EnhanceOptions

    options = EnhanceOptions(output=str(dst) if dst is not None else None, max_bad_frames=max_bad_frames,
                             frames=frames, fps=Fraction(fps) if fps is not None else None, decoder=decoder,
                             codec=codec, crf=crf, encoder_preset=encoder_preset, audio=audio,
                             overwrite=overwrite, compare=str(compare) if compare is not None else None,
                             pace=pace, live=live, format=format, bitrate=bitrate, maxrate=maxrate,
                             bufsize=bufsize, gop=gop)
    spec = PipelineSpec(preset=preset, stages=tuple(stages) if stages is not None else None, config=config,
                        refiner=refiner, refiner_model=refiner_model, backend=backend)
    with EnhanceJob(str(src), spec, options) as job:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=job.total, unit="frame", desc=Path(str(src)).name)

        def written(packet: FramePacket, stats: Any) -> None:
            if bar is not None:
                bar.update(1)
            if on_frame is not None:
                on_frame(stats.frames_written)

        job.on_written = written
        try:
            return job.run()
        finally:
            if bar is not None:
                bar.close()


def batch(inputs: str | Path | Sequence[str | Path], outdir: str | Path, *, preset: str = "lowlight",
          stages: Sequence[Any] | None = None, config: ConfigLike | None = None, refiner: str = "auto",
          backend: str = "auto", refiner_model: str | Path | None = None, codec: str | None = None,
          crf: int | None = None, encoder_preset: str | None = None, audio: bool | str = True,
          overwrite: bool = False, max_bad_frames: int = 25, fps: Any = None, decoder: str = "software",
          start: float | None = None, duration: float | None = None, scale: tuple[int, int] | None = None,
          bitrate: int | None = None, maxrate: int | None = None, bufsize: int | None = None,
          gop: int | None = None, pattern: str | None = None, from_list: str | Path | None = None,
          ext: str | None = None, address: str | None = None, workers: int | None = None,
          cpus_per_worker: float = 2.0, gpus_per_worker: float = 0.0, resume: bool = False,
          max_failures: int | None = None, progress: bool = False,
          on_file: Callable[[Any], None] | None = None) -> Any:
    """Do what ``realtime batch INPUTS -o OUTDIR`` does, on Ray, and return its
    :class:`~realtime.batching.BatchReport` (each file's :class:`~realtime.batching.Record`, per-worker
    throughput, the manifest's path). A file that fails does not raise: it is a failed record, as
    in the manifest. Ray is started locally unless it is running already (then that one is used)
    or ``address`` names a cluster; ``on_file`` is called with each record as its file finishes.
    Options mean what :func:`enhance_file`'s and the command line's do.
    """
    from fractions import Fraction

    from realtime.batching import BatchOptions, run_batch
    from realtime.job import EnhanceOptions

    names = [str(inputs)] if isinstance(inputs, str | Path) else [str(i) for i in inputs]
    enhance = EnhanceOptions(codec=codec, crf=crf, encoder_preset=encoder_preset, audio=audio, overwrite=overwrite,
                             max_bad_frames=max_bad_frames, fps=Fraction(fps) if fps is not None else None,
                             decoder=decoder, start=start, duration=duration, scale=scale, bitrate=bitrate,
                             maxrate=maxrate, bufsize=bufsize, gop=gop)
    options = BatchOptions(enhance=enhance, pattern=pattern, from_list=str(from_list) if from_list else None,
                           ext=ext, address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                           gpus_per_worker=gpus_per_worker, resume=resume, max_failures=max_failures,
                           progress=progress)
    spec = PipelineSpec(preset=preset, stages=tuple(stages) if stages is not None else None, config=config,
                        refiner=refiner, refiner_model=refiner_model, backend=backend)
    return run_batch(names, outdir, spec, options, on_record=on_file)
