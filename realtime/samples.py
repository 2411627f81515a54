"""The sample media that ships in the package: for the demo, the notebook and a first try of the API."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _data(name: str) -> Path:
    # the package is installed as files (never zipped), so its data has a real path
    return Path(str(resources.files("realtime").joinpath("data", name)))


def demo_clip() -> Path:
    """An 8-second dark, noisy 720p clip with audio (see ``realtime/data/README.md``)."""
    return _data("demo_lowlight.mp4")


def sample_photo() -> Path:
    """A dark, noisy photo (scikit-image's public-domain ``chelsea``, darkened)."""
    return _data("lowlight_photo.jpg")
