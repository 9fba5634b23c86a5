"""Fixed-size observation features for the learned optimizer (:mod:`.learned`), one sample each.

A learned update step sees three things: a summary of the observations, the current parameters
and the gradient of the data term. The gradient already says how the current estimate
disagrees with the observations; the summary tells the network *what* was observed, so it can
recognise the pose the observations belong to (this is how the network learns the pose space
and replaces a hand-written prior). Kinds:

- ``"none"``: no summary (0 features): the network sees parameters and gradient only (toy
  problems, or a pure "learned preconditioner").
- ``"keypoints"`` (``data.keypoints`` (K, 2), ``data.keypoint_conf`` (K,)): as the public LGD
  code does, the keypoints are normalised by the bounding box of the confident ones (centre
  subtracted, divided by its larger side, plus 0.5, so coordinates lie in [0, 1]); missing
  keypoints (confidence 0) are set to 0.5. We add the confidences (K) and where the box lies
  in the camera (3 numbers, see below), because unlike LGD's fixed camera our translation is
  optimised too: 3K + 3 features.
- ``"dense"`` (``data.dense_targets`` (V or K, 2), ``data.dense_weights``, optional
  ``data.dense_ids``): thousands of visible vertices, a different number in every frame, are
  summarised per body part (the 24 parts of the skinning weights' arg-max): the weighted mean
  target of the part's visible vertices in the same box-normalised coordinates (0.5 when none
  is visible) and the fraction of the part's vertices that are visible. The part means are
  dense, occlusion-aware "soft keypoints" (one per SMPL joint, so the summary has LGD's form),
  the fractions say which side of the body is seen; both are cheap (one segment sum over the
  visible vertices) and need no evaluation of the current estimate, whose disagreement with
  the targets the gradient already carries. 3 * 24 + 3 features.

Placement (3 numbers, both kinds): ``log(box side / fx)`` (person size, i.e. inverse depth)
and the box centre relative to the principal point divided by the focal length (viewing ray).

The dense kind needs the body model's skinning weights for the part of each vertex; it finds
them on the objective (``objective.model.lbs_weights``, looking through wrappers that keep the
wrapped objective in ``inner``, as the fit engine's partial objective does).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

FEATURE_KINDS = ("none", "keypoints", "dense", "dense+keypoints")
# a kind whose summary is another kind's followed by more features: {kind: the shorter kind}
EXTENDS = {"dense+keypoints": "dense"}
_MISSING = 0.5  # normalised coordinate of a missing keypoint / unseen part (LGD's choice)
_BIG = 1e9


def normalise_box(points: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Bounding box of the points with weight > 0.

    Args:
      points: (N, 2) pixels. weights: (N,).

    Returns:
      (centre (2,), side ()) with side the larger box side, at least 1 pixel.
    """
    m = (weights > 0)[:, None]
    lo = jnp.min(jnp.where(m, points, _BIG), 0)
    hi = jnp.max(jnp.where(m, points, -_BIG), 0)
    any_seen = jnp.any(weights > 0)
    centre = jnp.where(any_seen, 0.5 * (lo + hi), 0.0)
    side = jnp.where(any_seen, jnp.maximum(jnp.max(hi - lo), 1.0), 1.0)
    return centre, side


def _placement(camera, centre: jax.Array, side: jax.Array) -> jax.Array:
    """(3,) [log(side / fx), (cx_box - cx) / fx, (cy_box - cy) / fy]."""
    return jnp.stack(
        [
            jnp.log(side / camera.fx),
            (centre[0] - camera.cx) / camera.fx,
            (centre[1] - camera.cy) / camera.fy,
        ]
    )


def keypoint_features(keypoints: jax.Array, conf: jax.Array, camera) -> jax.Array:
    """Box-normalised keypoints, confidences and placement (see the module docstring).

    Args:
      keypoints: (K, 2) pixels. conf: (K,) confidences (0 = missing). camera: one Camera.

    Returns:
      (3K + 3,) features.
    """
    centre, side = normalise_box(keypoints, conf)
    norm = (keypoints - centre[None]) / side + 0.5
    norm = jnp.where((conf > 0)[:, None], norm, _MISSING)
    return jnp.concatenate([norm.reshape(-1), conf, _placement(camera, centre, side)])


def vertex_parts(lbs_weights: jax.Array) -> jax.Array:
    """(V,) int32 body part of each vertex: the joint with its largest skinning weight."""
    return jnp.argmax(lbs_weights, axis=-1).astype(jnp.int32)


def dense_features(
    targets: jax.Array,
    weights: jax.Array,
    parts: jax.Array,
    part_sizes: jax.Array,
    camera,
) -> jax.Array:
    """Per-part mean targets, visible fractions and placement (see the module docstring).

    Args:
      targets: (N, 2) target pixels of N vertices (all V, or a compacted subset).
      weights: (N,) per-vertex weights (0 = not visible).
      parts: (N,) int32 part of each of the N vertices.
      part_sizes: (P,) number of vertices of each part in the whole mesh.
      camera: one Camera.

    Returns:
      (3P + 3,) features.
    """
    num_parts = part_sizes.shape[0]
    centre, side = normalise_box(targets, weights)
    norm = (targets - centre[None]) / side + 0.5
    w = jnp.maximum(weights, 0.0)
    wsum = jax.ops.segment_sum(w, parts, num_parts)
    mean = (
        jax.ops.segment_sum(w[:, None] * norm, parts, num_parts) / jnp.maximum(wsum, 1e-9)[:, None]
    )
    mean = jnp.where((wsum > 0)[:, None], mean, _MISSING)
    seen = jax.ops.segment_sum((weights > 0).astype(targets.dtype), parts, num_parts)
    frac = seen / jnp.maximum(part_sizes, 1).astype(targets.dtype)
    return jnp.concatenate([mean.reshape(-1), frac, _placement(camera, centre, side)])


def _body_model(objective: Any):
    obj = objective
    while not hasattr(obj, "model") and hasattr(obj, "inner"):
        obj = obj.inner
    model = getattr(obj, "model", None)
    if model is None or not hasattr(model, "lbs_weights"):
        raise ValueError(
            f"dense LGD features need the body model's skinning weights on the objective "
            f"(objective.model.lbs_weights); {type(objective).__name__} has none"
        )
    return model


def observation_features(kind: str, objective: Any, data: Any) -> jax.Array:
    """The observation summary of one sample, shape (D,) (D = 0 for ``"none"``)."""
    if kind == "none":
        return jnp.zeros((0,), jnp.float32)
    if kind == "keypoints":
        return _keypoint_summary(data)
    if kind == "dense":
        return _dense_summary(objective, data)
    if kind == "dense+keypoints":
        return jnp.concatenate([_dense_summary(objective, data), _keypoint_summary(data)])
    raise ValueError(f"unknown LGD feature kind {kind!r}; choose from {FEATURE_KINDS}")


def _keypoint_summary(data: Any) -> jax.Array:
    if getattr(data, "keypoints", None) is None:
        raise ValueError("keypoint LGD features need data.keypoints (K, 2) and keypoint_conf")
    return keypoint_features(data.keypoints, data.keypoint_conf, data.camera)


def _dense_summary(objective: Any, data: Any) -> jax.Array:
    if getattr(data, "dense_targets", None) is None:
        raise ValueError("dense LGD features need data.dense_targets and dense_weights")
    lbs = _body_model(objective).lbs_weights
    all_parts = vertex_parts(lbs)
    sizes = jnp.bincount(all_parts, length=lbs.shape[-1])
    ids = getattr(data, "dense_ids", None)
    parts = all_parts if ids is None else all_parts[ids]
    return dense_features(data.dense_targets, data.dense_weights, parts, sizes, data.camera)
