"""Make the built-in low-light photo, ``realtime/data/lowlight_photo.jpg``, for the README and the notebook.

scikit-image's ``chelsea`` (CC0, see ``realtime/data/README.md``) degraded by the camera model the
refiner is trained and evaluated with (``realtime_train/degrade.py``): under-exposed about
ten-fold, with shot and read noise, a colour cast and JPEG compression, drawn from ``--seed``.

    python tools/make_sample_photo.py [--out realtime/data/lowlight_photo.jpg] [--seed 11]

Needs the ``demo`` extra (scikit-image).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import cv2
import numpy as np

from realtime_train import degrade


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="realtime/data/lowlight_photo.jpg")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    try:
        from skimage import data
    except ImportError as e:
        raise SystemExit('scikit-image is needed: pip install -e ".[demo]"') from e
    clean = cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR)
    settings = degrade.sample(np.random.default_rng(args.seed))
    settings = dataclasses.replace(settings, exposure=0.09)  # dark, whatever the draw said
    dark = degrade.apply(clean, settings, np.random.default_rng(args.seed + 1))
    if not cv2.imwrite(args.out, dark, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise SystemExit(f"cannot write {args.out}")
    print(f"{args.out}: {dark.shape[1]}x{dark.shape[0]}, mean luma {cv2.cvtColor(dark, cv2.COLOR_BGR2GRAY).mean():.1f}"
          f" ({settings})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
