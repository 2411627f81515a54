"""The bench report as a terminal table and as JSON (every field always present, null if n/a)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from realtime.bench.machine import one_line
from realtime.errors import SinkError


def _ms(p: dict[str, float] | None) -> str:
    return "-" if not p else f"{p['median']:.1f}/{p['p95']:.1f}/{p['p99']:.1f}"


def print_report(report: dict) -> None:
    s = report["settings"]
    print(f"\nmachine: {one_line(report['machine'])}")
    print(f"runs: {s['repeat']} per method, interleaved; first {s['warmup_frames']} frames of each run not timed")
    for res in report["results"]:
        kind = "live" if res["live"] else "file -> null sink, decode included"
        print(f"\n== {res['input']} ({res['size']}{' ' + res['codec'] if res['codec'] else ''}; {kind})")
        pipelines = {m["pipeline"] for m in res["methods"] if m["pipeline"]}
        for p in sorted(pipelines):
            print(f"   pipeline: {p}")
        print(f"{'method':<56} {'fps':>7} {'min':>7} {'max':>7} {'vs ffmpeg':>9} {'cpu %':>6} "
              f"{'rss MB':>11} {'latency ms med/p95/p99':>23} {'drop':>5}")
        for m in res["methods"]:
            f = m["fps"]
            ratio = f"{m['ratio_vs_ffmpeg']:.2f}x" if m["ratio_vs_ffmpeg"] else "-"
            rss = f"{m['rss_mb']['start']:.0f}->{m['rss_mb']['end']:.0f}"
            print(f"{m['label']:<56} {f['median']:7.1f} {f['min']:7.1f} {f['max']:7.1f} {ratio:>9} "
                  f"{m['cpu_percent']:6.0f} {rss:>11} {_ms(m['latency_ms']):>23} {m['dropped']:>5}")
        for m in res["methods"]:
            if m["stage_ms"]:
                stages = ", ".join(f"{k} {_ms(v)}" for k, v in m["stage_ms"].items())
                print(f"   {m['label']}: stage ms med/p95/p99: {stages}; queue high water {m['queue_high_water']}")
        for skip in res["skipped"]:
            print(f"   skipped {skip['method']}: {skip['why']}")
    print("\nstage times are wall time on the stage's thread while decode and the other threads share the cores")


def _clean(value):
    """JSON has no NaN: a statistic of no samples is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(report: dict, path: str) -> None:
    try:
        Path(path).write_text(json.dumps(_clean(report), indent=2))
    except OSError as e:
        raise SinkError(f"cannot write {path}: {e.strerror or e}") from e
