"""Shared fixtures: every clip is written by the test itself with PyAV into tmp_path."""

from __future__ import annotations

import pytest

from tests.media import Clip, write_clip


@pytest.fixture
def clip(tmp_path) -> Clip:
    return write_clip(tmp_path / "in.mp4", frames=24)


@pytest.fixture
def clip_audio(tmp_path) -> Clip:
    return write_clip(tmp_path / "in_audio.mp4", frames=30, audio=True)
