"""Diagnostic (session 17): `jaxrefine eval-real ...` (through the CLI, so with its XLA flags)
where every used BlazePose landmark gets confidence 1 (as LGD's keypoint training data have)
instead of its visibility (0.5-1). Usage: python conf1_diag.py eval-real ARGS..."""
import sys

import numpy as np

import jaxrefine.photo as photo

_orig = photo.landmark_keypoints


def conf_one(landmarks, set_name="body25"):
    kp = _orig(landmarks, set_name)
    kp[..., 2] = (kp[..., 2] > 0).astype(np.float32)
    return kp


photo.landmark_keypoints = conf_one
from jaxrefine.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
