"""``realtime bench``: complete JSON on tiny inputs, the plot, live runs, and backends it must skip."""

from __future__ import annotations

import json
import math
import time

import cv2
import pytest

from realtime.backends import Backend, available_backends
from realtime.bench.measure import ResourceMonitor, rss_mb
from realtime.cli import main
from realtime.stats import Percentiles

METHOD_KEYS = {"method", "backend", "label", "pipeline", "refiner", "frames_per_run", "fps", "ratio_vs_ffmpeg",
               "stage_ms", "latency_ms", "dropped", "queue_high_water", "cpu_percent", "rss_mb"}
MACHINE_KEYS = {"cpu", "cores", "gpus", "gpu_driver", "platform", "python", "numpy", "opencv", "pyav", "onnxruntime"}


def _bench(tmp_path, *args: str) -> dict:
    out = tmp_path / "bench.json"
    assert main(["bench", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_synthetic_file_bench_writes_every_field(tmp_path, capsys):
    plot = tmp_path / "bench.png"
    report = _bench(tmp_path, "--synthetic", "96x64,128x72", "--frames", "6", "--warmup", "2", "--repeat", "2",
                    "--backend", "numpy", "--plot", str(plot))
    assert set(report) == {"machine", "settings", "results"}
    assert set(report["machine"]) == MACHINE_KEYS and report["machine"]["cores"] >= 1
    assert report["settings"]["warmup_frames"] == 2 and report["settings"]["repeat"] == 2
    assert [r["size"] for r in report["results"]] == ["96x64", "128x72"]
    for res in report["results"]:
        assert res["live"] is False and res["codec"] == "h264"
        names = [m["method"] for m in res["methods"]]
        assert names == ["decode", "ffmpeg", "classical", "full"]
        for m in res["methods"]:
            assert set(m) == METHOD_KEYS
            assert len(m["fps"]["runs"]) == 2 and m["fps"]["min"] <= m["fps"]["median"] <= m["fps"]["max"]
            assert m["fps"]["median"] > 0 and m["frames_per_run"] == 8  # 6 timed + 2 warm-up
            assert m["cpu_percent"] > 0 and 0 < m["rss_mb"]["start"] <= m["rss_mb"]["peak"]
            assert m["dropped"] == 0
            assert m["latency_ms"] is None  # only meaningful for live sources
        by = {m["method"]: m for m in res["methods"]}
        assert by["ffmpeg"]["ratio_vs_ffmpeg"] == pytest.approx(1.0)
        ratio = by["full"]["fps"]["median"] / by["ffmpeg"]["fps"]["median"]
        assert by["full"]["ratio_vs_ffmpeg"] == pytest.approx(ratio)
        assert set(by["classical"]["stage_ms"]) == {"contrast", "clahe", "denoise", "sharpen"}
        assert set(by["full"]["stage_ms"]) == {"contrast", "denoise", "sharpen", "refiner"}
        assert by["full"]["refiner"].startswith("onnxruntime") and by["classical"]["refiner"] is None
        for stats in by["full"]["stage_ms"].values():
            assert 0 <= stats["median"] <= stats["p95"] <= stats["p99"]
        assert by["classical"]["queue_high_water"] and by["decode"]["queue_high_water"] == []
    image = cv2.imread(str(plot))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 400
    out = capsys.readouterr().out
    assert "realtime full pipeline [numpy]" in out and "vs ffmpeg" in out and "machine:" in out


def test_live_bench_measures_latency_and_drops(tmp_path):
    report = _bench(tmp_path, "synthetic:96x64@60", "--frames", "12", "--warmup", "3", "--repeat", "1",
                    "--refiner", "off", "--backend", "numpy")
    (res,) = report["results"]
    assert res["live"] is True and res["size"] == "96x64"
    assert [m["method"] for m in res["methods"]] == ["classical"]  # no replayable baseline, refiner off
    assert res["skipped"] and "live source" in res["skipped"][0]["why"]
    (m,) = res["methods"]
    assert m["latency_ms"]["median"] > 0 and m["latency_ms"]["p99"] >= m["latency_ms"]["median"]
    assert m["frames_per_run"] == 15 and m["dropped"] >= 0


@pytest.mark.parametrize("backend", [Backend.OPENCL, Backend.CUDA])
def test_gpu_backends_skip_cleanly_where_missing(tmp_path, capsys, backend):
    if backend in available_backends():
        pytest.skip(f"{backend.value} is available here: nothing to skip")
    report = _bench(tmp_path, "--synthetic", "64x48", "--frames", "3", "--warmup", "0", "--repeat", "1",
                    "--backend", f"numpy,{backend.value}", "--no-baseline", "--refiner", "off")
    (res,) = report["results"]
    assert [(m["method"], m["backend"]) for m in res["methods"]] == [("decode", None), ("classical", "numpy")]
    (skip,) = res["skipped"]
    assert backend.value in skip["method"] and "not available" in skip["why"]
    assert f"backend {backend.value} skipped" in capsys.readouterr().err


def test_bad_bench_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["bench"]) == 2
    assert main(["bench", "--synthetic", "12x12"]) == 2
    assert main(["bench", str(tmp_path / "missing.mp4")]) == 3
    assert main(["bench", "--synthetic", "64x48", "--backend", "magic"]) == 2
    assert main(["bench", "--synthetic", "64x48", "--methods", "full,magic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("realtime: error:") for line in err)


def test_methods_filter_and_memory_timeline(tmp_path):
    report = _bench(tmp_path, "synthetic:64x48@20", "--frames", "30", "--warmup", "2", "--repeat", "1",
                    "--backend", "numpy", "--methods", "full")
    (res,) = report["results"]
    (m,) = res["methods"]
    assert m["method"] == "full" and report["settings"]["methods"] == ["full"]
    timeline = m["rss_mb"]["timeline_last_run"]  # one sample a second over a 1.6 s run
    assert len(timeline) >= 1 and all(t > 0 and mb > 0 for t, mb in timeline)


def test_percentiles_and_resource_monitor():
    p = Percentiles.of([float(i) for i in range(1, 101)])
    assert p.median == pytest.approx(50.5) and p.p95 == pytest.approx(95.05) and p.p99 == pytest.approx(99.01)
    assert Percentiles.of([4.0]) == Percentiles(4.0, 4.0, 4.0)
    assert math.isnan(Percentiles.of([]).median)
    import mmap

    with ResourceMonitor(interval_s=0.01) as mon:
        # fresh pages of our own, touched so they are resident: a bytearray could reuse memory that
        # earlier tests freed and malloc kept (keep_freed_memory), and then RSS would not grow
        block = mmap.mmap(-1, 64 * 2**20)
        for offset in range(0, len(block), mmap.PAGESIZE):
            block[offset] = 1
        time.sleep(0.05)
    assert mon.result.rss_peak_mb >= mon.result.rss_start_mb + 48
    assert mon.result.cpu_percent > 0 and rss_mb() > 0
    block.close()
