"""Which files a batch enhances and where each one's output goes: the output tree mirrors the
input tree under OUTDIR. Pure path work, decided before Ray or any file is touched, so a typo or
a clash is one line and nothing has run."""

from __future__ import annotations

import glob
import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from realtime.errors import ConfigError, SourceError
from realtime.targets import CONTAINERS, is_url

#: a folder's files taken without --pattern: the containers FFmpeg reads that we also write
VIDEO_EXTENSIONS = frozenset(CONTAINERS) | {".m2ts", ".mts", ".mpg", ".mpeg", ".wmv", ".3gp", ".ogv", ".mxf"}
#: the temporary name of an output being written; renamed to the real one once finalized
PARTIAL_TAG = ".partial"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class BatchItem:
    input: str  # a path or URL, as the worker opens it
    output: str  # the finalized output's path
    rel: str  # where it sits under OUTDIR (what the table and bar show)

    def partial(self, attempt: int = 1) -> str:
        """The name written to until the output is finalized: hidden, with the real extension (the
        muxer is chosen by it), in the output's folder so the final rename is atomic. Each attempt
        has its own, so a worker presumed dead can never rename a retry's half-written file."""
        out = Path(self.output)
        tag = PARTIAL_TAG if attempt == 1 else f"{PARTIAL_TAG}{attempt}"
        return str(out.with_name(f".{out.stem}{tag}{out.suffix}"))

    def partials(self) -> list[str]:
        """Every temporary name a run of this item can leave (a killed batch's, say)."""
        return [self.partial(attempt) for attempt in (1, 2)]


def _is_glob(spec: str) -> bool:
    return any(c in spec for c in _GLOB_CHARS)


def _glob_root(spec: str) -> Path:
    """The folder part of a glob before its first wildcard: matches mirror their path below it."""
    parts = []
    for part in Path(spec).parts:
        if _is_glob(part):
            break
        parts.append(part)
    root = Path(*parts) if parts else Path(".")
    return root if root.is_dir() else root.parent


def _walk(folder: Path, pattern: str | None, skip: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        # never the output tree (OUTDIR inside an input folder) and never hidden folders
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() != skip)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if pattern is not None and not fnmatch(name, pattern):
                continue
            if pattern is None and Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            found.append(here / name)
    return found


def _url_name(url: str) -> str:
    name = Path(urllib.parse.urlsplit(url).path).name
    return name or "stream.mkv"


def read_list(path: str) -> list[str]:
    """A text file of paths or URLs, one per line; blank lines and ``#`` comments are skipped.
    Relative paths are relative to the list's own folder."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise SourceError(f"list not found: {path}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SourceError(f"cannot read the list {path}: {getattr(e, 'strerror', None) or e}") from e
    base = Path(path).parent
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entries.append(line if is_url(line) or os.path.isabs(line) else str(base / line))
    return entries


def plan(inputs: Sequence[str], outdir: str | os.PathLike[str], *, pattern: str | None = None,
         from_list: str | None = None, ext: str | None = None) -> list[BatchItem]:
    """The batch's items, in a stable order. A path given on the command line that does not exist is
    an error at once (a typo); an entry of a list that does not exist fails as that file, later."""
    out_root = Path(outdir)
    if out_root.exists() and not out_root.is_dir():
        raise ConfigError(f"-o {outdir} is a file; a batch writes a folder tree (give a folder)")
    skip = out_root.resolve()
    if ext is not None:
        ext = ext if ext.startswith(".") else f".{ext}"
        if ext.lower() not in CONTAINERS:
            raise ConfigError(f"--ext {ext}: not a video container; use one of {', '.join(sorted(CONTAINERS))}")
    found: list[tuple[str, str]] = []  # (input, path under OUTDIR)
    for spec in inputs:
        if is_url(spec):
            found.append((spec, _url_name(spec)))
        elif Path(spec).is_dir():
            files = _walk(Path(spec), pattern, skip)
            if not files:
                what = f"matching {pattern!r}" if pattern else "with a video extension"
                raise SourceError(f"no file {what} in {spec}")
            found += [(str(f), str(f.relative_to(spec))) for f in files]
        elif Path(spec).is_file():  # before globs: 'Movie [1080p].mkv' is a name, not a pattern
            found.append((spec, Path(spec).name))
        elif _is_glob(spec):
            root = _glob_root(spec)
            # '..' after a wildcard names one file by several paths: each is taken once, by its plain path
            files = sorted({Path(os.path.normpath(f)) for f in glob.glob(spec, recursive=True) if Path(f).is_file()})
            files = [f for f in files if pattern is None or fnmatch(f.name, pattern)]
            files = [f for f in files if skip not in f.resolve().parents]
            if not files:
                raise SourceError(f"no file matches {spec}")
            for f in files:
                rel = os.path.relpath(f, root)
                # a glob such as 'in/*/../../x.mp4' reaches above its root: flattened to its name
                found.append((str(f), rel if not rel.startswith("..") else f.name))
        else:
            raise SourceError(f"input not found: {spec}")
    if from_list is not None:
        for entry in read_list(from_list):
            found.append((entry, _url_name(entry) if is_url(entry) else Path(entry).name))
    if not found:
        raise ConfigError("give INPUTS (files, folders, globs or URLs) or --from-list FILE")
    items: list[BatchItem] = []
    seen: dict[str, str] = {}
    for src, rel in found:
        rel_path = Path(rel)
        if ext is not None:
            rel_path = rel_path.with_suffix(ext)
        elif rel_path.suffix.lower() not in CONTAINERS:
            rel_path = rel_path.with_suffix(".mkv")  # .mpg, .wmv ...: a container we write
        output = str(out_root / rel_path)
        if output in seen:
            if os.path.realpath(seen[output]) == os.path.realpath(src):
                continue  # the same file named twice (a folder and a glob over it)
            raise ConfigError(f"{seen[output]} and {src} would both be written to {output}; "
                              "give their folders instead of the files, so the tree keeps them apart")
        if not is_url(src) and Path(src).resolve() == Path(output).resolve():
            raise ConfigError(f"{src} would be overwritten by its own output: give another OUTDIR")
        seen[output] = src
        items.append(BatchItem(input=src, output=output, rel=str(rel_path)))
    return items
