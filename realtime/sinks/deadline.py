"""A watchdog outside the interpreter, for FFmpeg calls that block on a network peer while holding
Python's GIL.

PyAV opens an output's connection (an RTMP handshake and publish, an RTSP announce) and writes its
trailer with the GIL held (PyAV issues #2400 and #1053). A peer that accepts the connection and
then stops answering or reading freezes every thread of the process there: no signal handler, no
watch thread, no timer can run, and FFmpeg has no timeout of its own for these protocols. Only
something outside the interpreter can end such a run, so network outputs arm a small child process
around these calls: if the call has not returned in time, the child prints the one-line error and
kills the frozen process (exit status 137). Disarmed in time, it does nothing; it exits when the
process does (its standard input closes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

# The child: reads "ARM <seconds> <message>" / "DISARM" lines; on expiry says the message and kills.
_CHILD = r"""
import os, select, signal, sys, time
parent, deadline, message, pending = int(sys.argv[1]), None, "", b""
while True:
    wait = None if deadline is None else max(0.0, deadline - time.monotonic())
    if select.select([0], [], [], wait)[0]:
        data = os.read(0, 65536)  # unbuffered: a DISARM right behind an ARM is never left unread
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.startswith(b"ARM "):
                _, seconds, text = line.decode().split(" ", 2)
                deadline, message = time.monotonic() + float(seconds), text
            else:
                deadline = None
    elif deadline is not None:
        os.write(2, f"realtime: error: {message}\n".encode())
        os.kill(parent, signal.SIGKILL)
        break
"""


class Deadline:
    """One watchdog child per process, started on first use."""

    _lock = threading.Lock()
    _child: subprocess.Popen | None = None

    @classmethod
    def _send(cls, line: str) -> None:
        with cls._lock:
            if cls._child is None or cls._child.poll() is not None:
                # its own session: the Ctrl-C sent to the terminal's process group does not end it
                cls._child = subprocess.Popen([sys.executable, "-I", "-S", "-c", _CHILD, str(os.getpid())],
                                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                              start_new_session=True)
            assert cls._child.stdin is not None
            cls._child.stdin.write(line + "\n")
            cls._child.stdin.flush()

    @classmethod
    def arm(cls, seconds: float, message: str) -> None:
        cls._send(f"ARM {seconds:.3f} {' '.join(message.split())}")

    @classmethod
    def disarm(cls) -> None:
        if cls._child is not None:
            cls._send("DISARM")
