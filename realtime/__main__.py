"""``python -m realtime`` behaves exactly like the ``realtime`` command."""

from realtime.cli import entry

entry()
