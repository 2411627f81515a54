"""Hostile media for ``realtime enhance``: a seeded generator of mutated files and a runner that
classifies what the command line does with each one.

    python tools/fuzz.py generate --out fuzz/ --count 300 --seed 1
    python tools/fuzz.py run fuzz/ --jobs 2 --json fuzz.json

``generate`` writes small valid base files with PyAV and OpenCV (H.264 in MP4, fragmented MP4,
Matroska, MPEG-TS and FLV, with and without audio; audio only; a raw H.264 elementary stream;
2x2, 1x1 and 10-bit video; PNG and JPEG photos), then mutates copies of them: byte flips,
truncation, zeroed ranges, corrupted MP4 boxes and Matroska elements, bogus codec ids, non-UTF-8
metadata, huge and tiny declared image sizes, a decompression bomb. The same seed writes the
same corpus. Every file is named ``<base>.<mutation>.<n>.<ext>``.

``run`` enhances each file in its own process (``python -m realtime enhance FILE -o OUT``) with a
wall-clock limit and an address-space limit, and sorts the outcome into:

- ``ok``: exit 0 and, for video, frames out == the frames PyAV can decode from the input;
- ``clean error``: a documented exit code (2-5), one ``realtime: error:`` line, no traceback,
  and no output file left unless the message names it;
- ``traceback``, ``hang`` (the limit ran out), ``crash`` (a signal), ``memory`` (the address
  limit or a resident size past ``--memory-gib``), ``silent partial`` (exit 0 with fewer frames
  out than decodable frames in, or no output at all), ``other`` (anything else: an exit code not
  in the table, several error lines, a stray file).

The seeded subset in ``tests/test_fuzz.py`` runs the same code on a few tens of files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np

VIDEO_EXTS = {".mp4", ".mkv", ".ts", ".flv", ".h264", ".m4a", ".mov"}
IMAGE_EXTS = {".png", ".jpg"}
CLEAN_EXIT = {2, 3, 4, 5}
OUTCOMES = ("ok", "clean error", "traceback", "hang", "crash", "memory", "silent partial", "other")


# ------------------------------------------------------------------------------------ base files


def _frame(i: int, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    y = np.linspace(20, 70, h, dtype=np.float32)[:, None] + np.linspace(0, 30, w, dtype=np.float32)[None, :]
    img = np.repeat(y[..., None], 3, axis=2) + rng.normal(0, 5, (h, w, 3))
    s = max(1, min(w, h) // 5)
    x0 = (i * 5) % max(1, w - s)
    img[h // 3:h // 3 + s, x0:x0 + s] += 100
    return np.clip(img, 0, 255).astype(np.uint8)


def write_video(path: Path, *, fmt: str | None = None, frames: int = 24, size: tuple[int, int] = (96, 64),
                codec: str = "libx264", pix_fmt: str = "yuv420p", audio: str | None = None,
                video: bool = True, options: dict[str, str] | None = None,
                metadata: dict[str, str] | None = None) -> None:
    """A small clip with PyAV: ``frames`` video frames at 24 fps and, with ``audio``, a second of tone."""
    import av

    # bitexact: no random Matroska segment UID or muxer version string, so a seed gives the same bytes
    with av.open(str(path), "w", format=fmt, options={"fflags": "+bitexact", **(options or {})}) as out:
        if metadata:
            out.metadata.update(metadata)
        vs = None
        if video:
            vs = out.add_stream(codec, rate=24)
            vs.width, vs.height = size
            vs.pix_fmt = pix_fmt
            if codec == "libx264":
                vs.options = {"preset": "ultrafast", "g": "12"}
        aus = None
        if audio:
            aus = out.add_stream(audio, rate=44100 if audio != "mp2" else 48000)
            aus.layout = "mono" if audio != "mp2" else "stereo"
        if vs is not None:
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(_frame(i, *size), format="bgr24").reformat(format=pix_fmt)
                frame.pts = i
                frame.time_base = Fraction(1, 24)
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
        if aus is not None:
            rate = aus.rate
            n = aus.codec_context.frame_size or 1024
            fmt_name = aus.codec_context.format.name
            channels = aus.codec_context.layout.nb_channels
            t = 0
            while t < rate:
                tone = (0.2 * np.sin(2 * np.pi * 440 * (np.arange(t, t + n) / rate))).astype(np.float32)
                planar = fmt_name.endswith("p")
                if fmt_name.startswith("s16"):
                    tone = (tone * 32767).astype(np.int16)
                data = np.tile(tone, (channels, 1)) if planar else np.tile(tone[:, None], (1, channels)).reshape(1, -1)
                af = av.AudioFrame.from_ndarray(data, format=fmt_name, layout=aus.codec_context.layout.name)
                af.sample_rate = rate
                af.pts = t
                out.mux(aus.encode(af))
                t += n
            out.mux(aus.encode(None))


def write_png(path: Path, size: tuple[int, int] = (96, 64)) -> None:
    import cv2

    cv2.imwrite(str(path), _frame(3, *size))


def write_jpeg(path: Path, size: tuple[int, int] = (96, 64)) -> None:
    import cv2

    cv2.imwrite(str(path), _frame(4, *size), [cv2.IMWRITE_JPEG_QUALITY, 80])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(path: Path, side: int = 20000) -> None:
    """A valid grey PNG of ``side`` x ``side`` pixels, all black, deflated to a few hundred kB."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))


def png_with_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose header declares another size (CRC fixed, so only the size is a lie)."""
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    return data[:8] + _png_chunk(b"IHDR", bytes(ihdr)) + data[33:]


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose SOF0/SOF2 frame header declares another size."""
    out = bytearray(data)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = out.find(marker)
        if i >= 0:
            out[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(out)
    return bytes(out)


BASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "mp4": (".mp4", lambda p: write_video(p, audio="aac")),
    "mp4-noaudio": (".mp4", lambda p: write_video(p)),
    "fmp4": (".mp4", lambda p: write_video(p, audio="aac", options={"movflags": "frag_keyframe+empty_moov"})),
    "mkv": (".mkv", lambda p: write_video(p, audio="aac", metadata={"title": "FUZZTITLEFUZZTITLE"})),
    "ts": (".ts", lambda p: write_video(p, audio="mp2")),
    "flv": (".flv", lambda p: write_video(p, audio="aac")),
    "h264": (".h264", lambda p: write_video(p, fmt="h264", frames=48)),
    "audio": (".m4a", lambda p: write_video(p, audio="aac", video=False)),
    "tiny2": (".mp4", lambda p: write_video(p, size=(2, 2))),
    "tiny1": (".mkv", lambda p: write_video(p, size=(1, 1), codec="ffv1", pix_fmt="yuv420p")),
    "tenbit": (".mkv", lambda p: write_video(p, codec="ffv1", pix_fmt="yuv420p10le")),
    "odd": (".mkv", lambda p: write_video(p, size=(97, 63), codec="ffv1", pix_fmt="yuv444p")),
    "png": (".png", write_png),
    "jpg": (".jpg", write_jpeg),
}


# ------------------------------------------------------------------------------------- mutations


def _flip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(min(64, len(out) - 1), len(out)))
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(len(data) * rng.uniform(0.02, 0.98))]


def _zero(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    n = int(rng.integers(16, max(17, len(out) // 8)))
    i = int(rng.integers(0, max(1, len(out) - n)))
    out[i:i + n] = bytes(n)
    return bytes(out)


_MP4_BOXES = (b"moov", b"trak", b"mdia", b"stbl", b"stsz", b"stco", b"stts", b"mdat", b"moof", b"traf", b"trun",
              b"avcC", b"esds")
_MKV_IDS = (b"\x18\x53\x80\x67", b"\x16\x54\xae\x6b", b"\x1f\x43\xb6\x75", b"\xae", b"\xa3", b"\x1c\x53\xbb\x6b")


def _structure(data: bytes, rng: np.random.Generator) -> bytes:
    """Corrupt the size field of an MP4 box or the bytes after a Matroska element id, or flip
    bytes in an MPEG-TS/FLV header region."""
    out = bytearray(data)
    if out[4:8] == b"ftyp" or b"moov" in out[:4096] or b"moof" in out:
        boxes = [b for b in _MP4_BOXES if b in out]
        box = boxes[int(rng.integers(len(boxes)))] if boxes else b"mdat"
        hits = [m.start() for m in re.finditer(re.escape(box), bytes(out))] or [8]
        i = hits[int(rng.integers(len(hits)))]
        choice = int(rng.integers(3))
        if choice == 0:
            out[i - 4:i] = struct.pack(">I", int(rng.integers(0, 2**32)))
        elif choice == 1:
            out[i - 4:i] = bytes(4)
        else:
            out[i + 4:i + 20] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    elif out[:4] == b"\x1a\x45\xdf\xa3":
        ids = [e for e in _MKV_IDS if e in out]
        e = ids[int(rng.integers(len(ids)))]
        hits = [m.start() for m in re.finditer(re.escape(e), bytes(out))]
        i = hits[int(rng.integers(len(hits)))] + len(e)
        out[i:i + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
    else:
        for _ in range(4):
            i = int(rng.integers(0, min(len(out), 2048)))
            out[i] ^= 0xFF
    return bytes(out)


def _codec(data: bytes, rng: np.random.Generator) -> bytes:
    """A codec id this FFmpeg build does not have: MP4 sample entry fourcc, Matroska CodecID, FLV codec."""
    out = bytes(data)
    bogus = bytes(rng.choice(list(b"qwxzjk"), 4).tolist())
    for old in (b"avc1", b"mp4a"):
        if old in out and rng.random() < 0.7:
            out = out.replace(old, bogus, 1)
    for old in (b"V_MPEG4/ISO/AVC", b"A_AAC", b"V_FFV1"):
        if old in out:
            out = out.replace(old, (b"V_BOGUS" + bogus + b"XXXXXXXX")[: len(old)], 1)
    return out


def _metadata(data: bytes, rng: np.random.Generator) -> bytes:
    """Latin-1 bytes in a title tag (same length, so the container stays valid)."""
    marker = b"FUZZTITLEFUZZTITLE"
    latin = "TÍTULO ÑANDÚ ÉTÉ".encode("latin-1").ljust(len(marker), b"\xe9")[: len(marker)]
    return data.replace(marker, latin)


MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "flip": _flip, "truncate": _truncate, "zero": _zero, "structure": _structure, "codec": _codec,
}


@dataclasses.dataclass(frozen=True)
class Case:
    path: Path
    base: str
    mutation: str


def generate(out: Path, count: int, seed: int) -> list[Case]:
    """Write ``count`` files under ``out`` (bases first, then mutations drawn from ``seed``)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bases: dict[str, Path] = {}
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (ext, make) in BASES.items():
            path = Path(tmp) / f"{name}{ext}"
            make(path)
            bases[name] = path
            final = out / f"{name}.valid.0{ext}"
            final.write_bytes(path.read_bytes())
            cases.append(Case(final, name, "valid"))
        specials: list[tuple[str, str, bytes]] = []
        png, jpg = bases["png"].read_bytes(), bases["jpg"].read_bytes()
        specials += [("png", "huge-header", png_with_size(png, 200000, 200000)),
                     ("png", "zero-size", png_with_size(png, 0, 0)),
                     ("jpg", "huge-header", jpeg_with_size(jpg, 65500, 65500)),
                     ("jpg", "zero-size", jpeg_with_size(jpg, 0, 0)),
                     ("mkv", "latin1-title", _metadata(bases["mkv"].read_bytes(), rng))]
        for base, mutation, data in specials:
            ext = BASES[base][0]
            final = out / f"{base}.{mutation}.0{ext}"
            final.write_bytes(data)
            cases.append(Case(final, base, mutation))
        bomb = out / "png.bomb.0.png"
        png_bomb(bomb)
        cases.append(Case(bomb, "png", "bomb"))
        names, kinds = list(BASES), list(MUTATIONS)
        n = 0
        while len(cases) < count:
            base = names[int(rng.integers(len(names)))]
            mutation = kinds[int(rng.integers(len(kinds)))]
            data = MUTATIONS[mutation](bases[base].read_bytes(), rng)
            final = out / f"{base}.{mutation}.{n}{BASES[base][0]}"
            final.write_bytes(data)
            cases.append(Case(final, base, mutation))
            n += 1
    return cases


def corpus(folder: Path) -> Iterator[Case]:
    for path in sorted(folder.iterdir()):
        parts = path.name.split(".")
        if len(parts) >= 4 and path.suffix in VIDEO_EXTS | IMAGE_EXTS:
            yield Case(path, parts[0], parts[1])


# ---------------------------------------------------------------------------------------- runner


@dataclasses.dataclass
class Result:
    file: str
    base: str
    mutation: str
    outcome: str
    exit_code: int | None
    seconds: float
    peak_mib: float
    frames_in: int | None
    frames_out: int | None
    message: str


def decodable_frames(path: Path) -> int | None:
    """Frames PyAV can decode from the first video stream, skipping what it cannot (None: no video)."""
    return video_timing(path)[0]


def video_timing(path: Path) -> tuple[int | None, float | None, float | None]:
    """(decodable frames, seconds from the first frame's time to the last's, the stream's frame
    rate) of the first video stream; (None, None, None) without video. Times are the frames'
    own (pts x time base); a stream without them gives None for the span."""
    import av

    try:
        with av.open(str(path), metadata_errors="replace") as c:
            if not c.streams.video:
                return None, None, None
            stream = c.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            times: list[float] = []
            n = 0
            for packet in c.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                n += len(frames)
                times += [float(f.pts * f.time_base) for f in frames if f.pts is not None and f.time_base]
            span = max(times) - min(times) if len(times) == n and n >= 1 else None
            steps = np.diff(times) if span is not None else np.array([])
            if steps.size and (steps <= 0).any():  # times that jump back are damage: their spacing counts
                good = steps[steps > 0]
                span = float(np.median(good)) * (n - 1) if good.size else None
            return n, span, float(rate) if rate else None
    except (av.error.FFmpegError, UnicodeDecodeError, OSError, ValueError):
        return 0, None, None


def _limit_memory(gib: float) -> Callable[[], None]:
    def apply() -> None:
        limit = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()

    return apply


def run_one(case: Case, work: Path, timeout: float, memory_gib: float) -> Result:
    is_image = case.path.suffix in IMAGE_EXTS
    out = work / (case.path.stem + (".png" if is_image else ".mp4"))
    # the child reports its own peak resident size on the way out (absent if it was killed)
    wrapper = ("import atexit, resource, runpy, sys; atexit.register(lambda: sys.stderr.write("
               "f'\\nFUZZ-PEAK-KIB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')); "
               "sys.argv = ['realtime', *sys.argv[1:]]; runpy.run_module('realtime', run_name='__main__')")
    cmd = [sys.executable, "-c", wrapper, "enhance", str(case.path), "-o", str(out), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", preexec_fn=_limit_memory(memory_gib * 4))
    hung = False
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    rc = proc.returncode
    peaks = re.findall(r"^FUZZ-PEAK-KIB (\d+)$", err, flags=re.M)
    peak = int(peaks[-1]) / 1024.0 if peaks else float("nan")
    err = re.sub(r"\n?FUZZ-PEAK-KIB \d+\n?", "", err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("realtime: error")]
    message = errors[0] if errors else (lines[-1] if lines else "")
    frames_in = frames_out = None
    if hung:
        outcome = "hang"
    elif "Traceback (most recent call last)" in err:
        outcome = "traceback"
        message = lines[-1] if lines else ""
    elif "MemoryError" in err or "bad_alloc" in err or peak > memory_gib * 1024 or (
            "Cannot allocate memory" in err and rc not in CLEAN_EXIT):
        outcome = "memory"  # (FFmpeg refusing a damaged header's impossible size, in one clean line, is not)
    elif rc is not None and rc < 0:
        outcome = "crash"
        message = f"signal {-rc}"
    elif rc == 0:
        if not out.exists():
            outcome = "silent partial"
            message = "exit 0 and no output"
        elif is_image:
            outcome = "ok"
        else:
            frames_in, span_in, rate_in = video_timing(case.path)
            frames_out, span_out, rate_out = video_timing(out)
            outcome = "ok" if frames_out is not None and frames_in is not None and frames_out >= frames_in \
                else "silent partial"
            # timestamps within a frame: the input's own span, or frames / rate where it has none
            want = span_in if span_in is not None else (
                (frames_in - 1) / rate_in if frames_in and rate_in else None)
            frame = 1 / (rate_in or rate_out or 25)
            if outcome == "ok" and frames_in > 1 and want is not None and (
                    span_out is None or abs(span_out - want) > 1.5 * frame):
                outcome = "silent partial"
                message = f"timestamps: output spans {span_out} s, input {want:.3f} s"
    elif rc in CLEAN_EXIT and len(errors) == 1:
        told = out.exists() and str(out) in message
        outcome = "clean error" if (not out.exists() or told or "partial" in message or "finalized" in message) \
            else "other"
        if outcome == "other":
            message = f"left {out.name} without saying so: {message}"
    else:
        outcome = "other"
    out.unlink(missing_ok=True)
    return Result(str(case.path.name), case.base, case.mutation, outcome, rc, round(seconds, 2), round(peak, 1),
                  frames_in, frames_out, message[:300])


def run(cases: list[Case], *, jobs: int = 2, timeout: float = 60.0, memory_gib: float = 3.0) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=jobs) as pool:
        work = Path(tmp)
        return list(pool.map(lambda c: run_one(c, work, timeout, memory_gib), cases))


def table(results: list[Result]) -> str:
    counts = Counter(r.outcome for r in results)
    lines = ["| outcome | files |", "|---|---|"] + [f"| {o} | {counts.get(o, 0)} |" for o in OUTCOMES]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write a seeded corpus of mutated media")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--count", type=int, default=300)
    g.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("run", help="enhance every file of a corpus and classify the outcomes")
    r.add_argument("folder", type=Path)
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--timeout", type=float, default=60.0, help="seconds a run may take (default 60)")
    r.add_argument("--memory-gib", type=float, default=3.0,
                   help="resident memory that counts as a blow-up (the address-space limit is 4x this)")
    r.add_argument("--json", type=Path, help="also write every result as JSON")
    args = ap.parse_args(argv)
    if args.command == "generate":
        cases = generate(args.out, args.count, args.seed)
        print(f"wrote {len(cases)} files to {args.out}")
        return 0
    cases = list(corpus(args.folder))
    if not cases:
        print(f"no corpus files in {args.folder}", file=sys.stderr)
        return 2
    results = run(cases, jobs=args.jobs, timeout=args.timeout, memory_gib=args.memory_gib)
    for res in results:
        if res.outcome not in ("ok", "clean error"):
            print(f"{res.outcome:15s} {res.file}: {res.message}")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(x) for x in results], indent=1))
    return 0 if all(x.outcome in ("ok", "clean error") for x in results) else 1


if __name__ == "__main__":
    sys.exit(main())
