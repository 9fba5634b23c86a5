"""Readers of what users hand jaxrefine: images and videos, initial estimates in the formats
regressors write, 2D keypoint files, camera intrinsics.

Every reader checks its input before any work starts and raises :class:`InputError` naming the
file, the key and what was expected.
"""

from jaxrefine.inputs.errors import InputError
from jaxrefine.inputs.estimates import Estimates, read_estimates
from jaxrefine.inputs.images import ImageSequence, read_images
from jaxrefine.inputs.intrinsics import read_intrinsics
from jaxrefine.inputs.keypoint_files import Keypoints2D, read_keypoints

__all__ = [
    "Estimates",
    "ImageSequence",
    "InputError",
    "Keypoints2D",
    "read_estimates",
    "read_images",
    "read_intrinsics",
    "read_keypoints",
]
