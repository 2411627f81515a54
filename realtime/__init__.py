"""realtime: enhance live camera feeds and video files in real time."""

__version__ = "0.1.0"
