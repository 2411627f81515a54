"""``python -m realtime`` behaves exactly like the ``realtime`` command."""

import sys

from realtime.cli import main

sys.exit(main())
