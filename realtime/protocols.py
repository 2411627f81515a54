"""Which network protocols this PyAV build's FFmpeg has, asked of FFmpeg itself.

The PyPI PyAV wheels are built without SRT (and without RIST and ZeroMQ), so ``srt://`` fails with
FFmpeg's bare "Protocol not found" after the input is already open. FFmpeg has no public list of
its protocols that PyAV exposes, but opening ``scheme://127.0.0.1:0`` for reading answers the
question at once: a missing protocol raises ``ProtocolNotFoundError``, a present one fails on the
address (connection refused, invalid argument) or times out after a tenth of a second (UDP, RTP).
"""

from __future__ import annotations

import functools

import av

from realtime.errors import SinkError, SourceError

#: the protocols ``realtime doctor`` asks about, in the order it lists them
NETWORK_PROTOCOLS = ("udp", "tcp", "rtp", "rtsp", "rtmp", "rtmps", "srt", "rist", "http", "https", "ftp", "tls")
_PROBE_TIMEOUT_S = 0.1
# What to use instead of a protocol this build lacks.
_INSTEAD = {
    "srt": "use udp:// or rtmp:// instead (e.g. -o udp://HOST:PORT), or a PyAV built against an FFmpeg with "
           "libsrt (conda-forge's av has it)",
    "rist": "use udp:// or srt:// instead, or a PyAV built against an FFmpeg with librist",
}


@functools.cache
def has_protocol(scheme: str) -> bool:
    """True when FFmpeg (as PyAV loads it) can open ``scheme://`` URLs."""
    try:
        container = av.open(f"{scheme}://127.0.0.1:0", "r", timeout=_PROBE_TIMEOUT_S)
    except av.error.ProtocolNotFoundError:
        return False
    except (av.error.FFmpegError, OSError, ValueError):
        return True  # it tried, so it is there
    container.close()
    return True


def require_protocol(url: str, role: str) -> None:
    """One line before anything is read when ``url``'s protocol is missing from this build."""
    scheme = url.split("://", 1)[0].lower()
    if has_protocol(scheme):
        return
    instead = _INSTEAD.get(scheme, "see `realtime doctor` for the protocols this build has")
    error = SinkError if role == "output" else SourceError
    raise error(f"{url}: this PyAV build's FFmpeg has no {scheme}:// protocol (the PyPI wheels are built "
                f"without it); {instead}")
