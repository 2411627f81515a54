"""The learned refiner's slot in the pipeline.

No refiner model is shipped yet (that is the next piece of work), so ``auto`` resolves to none
and the pipeline runs the classical stages alone, saying so once. Asking for a specific runtime
fails clearly instead of silently running without it.
"""

from __future__ import annotations

from realtime.errors import ModelError
from realtime.refiner.base import Refiner

__all__ = ["REFINER_CHOICES", "Refiner", "load_refiner"]

REFINER_CHOICES = ("auto", "onnxruntime", "tensorrt", "keras", "off")


def load_refiner(choice: str) -> Refiner | None:
    """The refiner for ``--refiner``; None means classical stages only."""
    if choice not in REFINER_CHOICES:
        raise ModelError(f"unknown refiner {choice!r}; choose from {', '.join(REFINER_CHOICES)}")
    if choice in ("auto", "off"):
        return None
    raise ModelError(f"the {choice} refiner is not available: no refiner model is shipped in this version")
