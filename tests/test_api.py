"""The public Python API: Enhancer (photos, video, trace), enhance_file, and photos processed as photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import realtime
from realtime.cli import main
from tests.media import audio_packets, read_video, scene, write_clip


def photo(seed: int, width: int = 192, height: int = 128) -> np.ndarray:
    """A dark, noisy photo whose content depends on the seed (a square in a different place)."""
    return scene(seed * 11, width, height)


@pytest.fixture(scope="module")
def enhancer() -> realtime.Enhancer:
    return realtime.Enhancer()


def test_the_package_has_a_public_face():
    names = dir(realtime)
    for name in ("Enhancer", "enhance_file", "register_stage", "stage", "RealtimeError", "Trace"):
        assert name in names and name in realtime.__all__
    with pytest.raises(AttributeError):
        realtime.no_such_thing  # noqa: B018


def test_enhance_is_stateless(enhancer):
    a, b = photo(1), photo(2)
    first = enhancer.enhance(a)
    enhancer.enhance(b)  # another photo in between leaves nothing behind
    for _ in range(3):
        enhancer.process(b)  # nor does a video streamed before
    assert np.array_equal(enhancer.enhance(a), first)
    assert first.mean() > a.mean() + 20  # it did enhance


def test_a_photo_alone_equals_the_same_photo_inside_a_folder(tmp_path, enhancer, capsys):
    folder = tmp_path / "shots"
    folder.mkdir()
    photos = [photo(1), photo(2, 160, 120), photo(3)]  # mixed sizes are fine for photos
    for i, img in enumerate(photos):
        cv2.imwrite(str(folder / f"{i}.png"), img)
    assert main(["enhance", str(folder), "-o", str(tmp_path / "out") + "/", "-q"]) == 0
    for i, img in enumerate(photos):
        alone = tmp_path / f"alone{i}.png"
        assert main(["enhance", str(folder / f"{i}.png"), "-o", str(alone), "-q"]) == 0
        in_folder = cv2.imread(str(tmp_path / "out" / f"{i}.png"))
        assert np.array_equal(in_folder, cv2.imread(str(alone))), i
        assert np.array_equal(in_folder, enhancer.enhance(img)), i


def test_a_folder_written_to_a_video_is_a_sequence_and_needs_one_size(tmp_path, capsys):
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:02d}.png"), photo(1))  # the same frame four times
    assert main(["enhance", str(folder), "-o", str(tmp_path / "v.mkv"), "--fps", "10", "-q"]) == 0
    times, frames, _ = read_video(tmp_path / "v.mkv")
    assert len(frames) == 4 and times[1] - times[0] == pytest.approx(0.1)
    cv2.imwrite(str(folder / "99.png"), photo(2, 96, 64))
    code = main(["enhance", str(folder), "-o", str(tmp_path / "w.mkv")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 4 and len(err) == 1 and "one frame size" in err[0] and "99.png is 96x64" in err[0]
    assert not (tmp_path / "w.mkv").exists()  # said before anything was written


def test_a_stream_keeps_temporal_state_and_reset_forgets_it(enhancer):
    rng = np.random.default_rng(9)
    still = photo(4)  # one shot, its noise fresh in every frame
    frames = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8) for _ in range(4)]
    out = list(enhancer.stream(frames))
    assert np.array_equal(out[0], enhancer.enhance(frames[0]))  # the first frame knows no past
    alone = enhancer.enhance(frames[3])
    # later ones do: the temporal denoiser averages the noise away
    assert np.abs(out[3].astype(int) - alone).mean() > 0.5
    enhancer.reset()
    assert np.array_equal(enhancer.process(frames[0]), out[0])


def test_trace_returns_every_stage_in_order_and_ends_at_enhance(enhancer):
    img = photo(5)
    trace = enhancer.trace(img)
    assert trace.names == ["input", *enhancer.stages] == ["input", "contrast", "denoise", "sharpen", "refiner"]
    assert np.array_equal(trace["input"].image, img)
    assert np.array_equal(trace.output, enhancer.enhance(img))
    assert all(s.ms > 0 for s in trace.steps[1:]) and trace.steps[0].ms == 0
    assert not np.array_equal(trace["contrast"].image, trace["input"].image)
    decision = trace.refiner
    assert decision is not None and decision.runtime.startswith("onnxruntime")
    assert decision.tone_curve.shape == (256,) and np.all(np.diff(decision.tone_curve) >= -1e-4)
    assert decision.tone_curve[128] > 128  # a dark photo: mid-tones lifted
    assert decision.gain.shape == (16, 16) and decision.gain.min() > 0
    assert decision.gain_map(*img.shape[:2]).shape == img.shape[:2]
    assert decision.chroma_matrix.shape == (2, 2)
    classical = realtime.Enhancer(refiner="off").trace(img)
    assert classical.refiner is None and classical.names[-1] == "sharpen"


def test_channel_orders_grayscale_and_alpha(enhancer):
    bgr = photo(6)
    out = enhancer.enhance(bgr)
    assert np.array_equal(enhancer.enhance(bgr[..., ::-1], rgb=True), out[..., ::-1])
    assert np.array_equal(enhancer.enhance(bgr[..., ::-1], order="rgb"), out[..., ::-1])
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert enhancer.enhance(grey).shape == grey.shape and enhancer.enhance(grey[..., None]).shape == (128, 192, 1)
    alpha = np.dstack([bgr, np.full(bgr.shape[:2], 77, np.uint8)])
    with_alpha = enhancer.enhance(alpha)
    assert with_alpha.shape == alpha.shape and (with_alpha[..., 3] == 77).all()
    assert np.array_equal(with_alpha[..., :3], out)


@pytest.mark.parametrize("bad, fragment", [
    (np.zeros((8, 8, 3), np.float32), "must be uint8"),
    (np.zeros((8, 8, 2), np.uint8), "HxWx3"),
    ([[1, 2]], "NumPy array"),
])
def test_bad_images_are_frame_errors(enhancer, bad, fragment):
    with pytest.raises(realtime.FrameError, match=fragment):
        enhancer.enhance(bad)
    with pytest.raises(realtime.FrameError, match="contradicts"):
        enhancer.enhance(photo(1), rgb=True, order="bgr")


def test_enhance_file_is_what_the_command_does(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=12, width=160, height=96, audio=True)
    seen: list[int] = []
    report = realtime.enhance_file(clip.path, tmp_path / "out.mp4", on_frame=seen.append)
    assert report.frames_written == clip.frames and seen[-1] == clip.frames
    assert report.sinks[0].passthrough_packets == len(audio_packets(clip.path)) > 0
    times, _, _ = read_video(tmp_path / "out.mp4")
    assert times == [p * clip.time_base for p in clip.pts]
    with pytest.raises(realtime.ConfigError, match="--fps"):
        realtime.enhance_file("synthetic:64x48@10", tmp_path / "again.mp4", fps=30)
    with pytest.raises(realtime.SinkError, match="exists"):
        realtime.enhance_file(clip.path, tmp_path / "out.mp4")
