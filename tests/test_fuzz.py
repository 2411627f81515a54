"""A seeded subset of the fuzz corpus (``tools/fuzz.py``) through the real command line: every
file ends in a correct result or a clean error. The full corpus (300+ files) is a benchmark; its
table is in the README."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("fuzz", Path(__file__).parents[1] / "tools" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fuzz", fuzz)
_spec.loader.exec_module(fuzz)


@pytest.mark.timeout(300)
def test_a_seeded_corpus_gives_no_traceback_hang_crash_blowup_or_silent_result(tmp_path):
    cases = fuzz.generate(tmp_path / "corpus", count=32, seed=3)
    assert len(cases) == 32 and len({c.mutation for c in cases}) >= 8  # bases, specials and mutations
    again = fuzz.generate(tmp_path / "again", count=32, seed=3)
    assert [c.path.read_bytes() for c in again] == [c.path.read_bytes() for c in cases]  # seeded
    results = fuzz.run(cases, jobs=2, timeout=90, memory_gib=3.0)
    bad = [(r.outcome, r.file, r.message) for r in results if r.outcome not in ("ok", "clean error")]
    assert not bad, bad
    counts = Counter(r.outcome for r in results)
    assert counts["ok"] >= 10 and counts["clean error"] >= 8, counts  # both kinds were exercised
