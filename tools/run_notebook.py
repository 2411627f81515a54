"""Execute a notebook in place with nbclient, so its saved outputs are those of the current code.

    python tools/run_notebook.py notebooks/realtime_tour.ipynb

The kernel is this interpreter's (``python3`` from ipykernel), the working folder the notebook's
own, as on Colab and in the test that runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=int, default=300, help="seconds a cell may take (default 300)")
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(args.notebook.parent)}}).execute()
    nbformat.write(nb, args.notebook)
    size = args.notebook.stat().st_size / 1e6
    print(f"{args.notebook}: ran in {time.perf_counter() - t0:.0f} s, {size:.1f} MB with outputs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
