"""notebooks/realtime_tour.ipynb runs end to end on a kernel in this environment, so it cannot rot."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook needs the test extra (nbformat, nbclient)")
nbclient = pytest.importorskip("nbclient", reason="the notebook needs the test extra (nbformat, nbclient)")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "realtime_tour.ipynb"
MAX_OUTPUT_MB = 4.0


def test_the_colab_badge_and_the_install_cell_name_the_same_repository():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    badge = re.search(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/main/notebooks/realtime_tour\.ipynb",
                      nb.cells[0].source)
    repo = re.search(r'REPO_URL = "https://github\.com/([^"]+)"', nb.cells[1].source)
    assert badge and repo and badge[1] == repo[1]


@pytest.mark.timeout(240)
def test_the_tour_runs_clean(tmp_path):
    """Every cell runs without an error, in a copy of the notebook (outputs go to tmp_path)."""
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on the first failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 9  # photo, 3 sheets, the decision, crops, the clip, the timeline, the bench plot
    size_mb = len(json.dumps(nbformat.writes(nb))) / 1e6
    assert size_mb < MAX_OUTPUT_MB, f"the executed notebook is {size_mb:.1f} MB"
    assert (tmp_path / "tour_out" / "enhanced.mp4").stat().st_size > 100_000
