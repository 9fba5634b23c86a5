"""Person detection on photos with BlazePose (optional extra ``jaxrefine[detect]``).

- :mod:`jaxrefine.detect.models`: the MediaPipe 0.10.21 ``.tflite`` files (fetched from the
  package registry, checked by sha256, cached), ``jaxrefine fetch-models``.
- :mod:`jaxrefine.detect.blazepose`: :func:`detect_people` -> boxes, 33 landmarks, world
  points, a mask per person.
- :mod:`jaxrefine.detect.initialize` (imports the fitting layers; not imported here): an
  initial body estimate from the landmarks, without a regressor.
- :mod:`jaxrefine.detect.evaluate_real`: PCK / silhouette IoU on an annotated COCO photo.
- :mod:`jaxrefine.detect.track`: a video's detected people linked into tracks (box IoU).

Importing this package needs neither the runtime nor the model files; running a model does,
and says which extra and command are missing.
"""

from jaxrefine.detect.blazepose import (
    BlazePose,
    ImageReadError,
    NoPersonError,
    PersonDetection,
    detect_people,
    read_image,
)
from jaxrefine.detect.models import ModelsUnavailableError, ensure_models

__all__ = [
    "BlazePose",
    "ImageReadError",
    "ModelsUnavailableError",
    "NoPersonError",
    "PersonDetection",
    "detect_people",
    "ensure_models",
    "read_image",
]
