"""jaxrefine: dense-correspondence refinement of 3D human pose and shape in JAX.

Entry points: :func:`load_body_model`, :func:`body_model.forward`, :func:`smplify`
(SMPLify on keypoints or dense targets), :func:`jaxrefine.refine.refine` (learned refinement
with the network of :func:`jaxrefine.network.load_pretrained`; the README's "Using it" shows
both), :mod:`metrics`, :mod:`render` (rasterizer), :mod:`oracle` (the paper's Table 2 analog),
:mod:`io` (result files).
"""

from jaxrefine import body_model, camera, geometry, keypoints, metrics
from jaxrefine.body_model import BodyModel, BodyOutput, forward
from jaxrefine.camera import Camera
from jaxrefine.keypoints import joint_names
from jaxrefine.smpl_io import ModelFileError, convert, load_body_model
from jaxrefine.smplify import smplify

__version__ = "0.1.0"

__all__ = [
    "BodyModel",
    "BodyOutput",
    "Camera",
    "ModelFileError",
    "body_model",
    "camera",
    "convert",
    "forward",
    "geometry",
    "joint_names",
    "keypoints",
    "load_body_model",
    "metrics",
    "smplify",
]
